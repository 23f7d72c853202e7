// The console's shell: session state, hash routing between the screens, sign-in and sign-out.

import { Api, ApiError } from "./api.js";
import { byId, showMessage } from "./dom.js";
import { busy, clearErrors, formBody, showProblem } from "./forms.js";
import * as inbox from "./inbox.js";
import * as ingestErrors from "./ingesterrors.js";
import * as locations from "./locations.js";
import * as patient from "./patient.js";
import * as patients from "./patients.js";
import * as staff from "./staff.js";
import * as upload from "./upload.js";
import * as viewer from "./viewer.js";

const SCREENS = { patients, patient, upload, inbox, "ingest-errors": ingestErrors, locations, staff };
const TITLES = {
  patients: "Patients",
  patient: "Patient",
  upload: "Upload X-rays",
  inbox: "Inbox",
  "ingest-errors": "Ingest errors",
  locations: "Locations",
  staff: "Staff",
  notfound: "Not found",
};
const VIEWS = ["signin", ...Object.keys(SCREENS), "notfound"];
/** The nav link that stays highlighted on a screen without its own link. */
const NAV_OF = { patient: "patients" };
const LOCATION_PAGE_SIZE = 100;

const api = new Api(document.body.dataset.api);
let user = null;
let locationCache = null;

const ctx = {
  api,
  user: () => user,
  isOwner: () => user !== null && user.role === "owner",
  flash,
  /** Set the document title of the current screen (e.g. the patient's name). */
  title(text) {
    document.title = `${text} · Bitewing staff console`;
  },
  /** Refresh the count of images waiting in the inbox, shown beside its link. */
  refreshInboxCount,
  /** Locations of the tenant (cached until a location is added). */
  async locations({ refresh = false } = {}) {
    if (refresh || locationCache === null) {
      const { data } = await api.get("/locations", { page_size: LOCATION_PAGE_SIZE });
      locationCache = data || [];
    }
    return locationCache;
  },
};

function flash(message) {
  showMessage(byId("flash"), message);
}

function showView(name) {
  byId("loading").hidden = true;
  for (const view of VIEWS) byId(`view-${view}`).hidden = view !== name;
  document.title = `${name === "signin" ? "Sign in" : TITLES[name]} · Bitewing staff console`;
}

/** The screen and its parameters of the current address: "#/patients/<id>" is the patient screen. */
function currentRoute() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("?")[0].split("/").filter(Boolean);
  const name = parts[0] || "patients";
  if (name === "patients" && parts.length === 2) return { name: "patient", params: { id: decodeURIComponent(parts[1]) } };
  if (parts.length > 1) return { name: "notfound", params: {} };
  return { name, params: {} };
}

let inboxGeneration = 0;

async function refreshInboxCount() {
  const mine = ++inboxGeneration;
  const badge = byId("inbox-count");
  try {
    const { data, pagination } = await api.get("/images/unmatched", { page_size: 1 });
    if (mine !== inboxGeneration) return;
    const total = pagination ? pagination.total : (data || []).length;
    badge.textContent = total ? String(total) : "";
    badge.hidden = !total;
    badge.setAttribute("aria-label", `${total} waiting`);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    badge.hidden = true;
  }
}

function applyUser() {
  byId("nav").hidden = user === null;
  byId("account").hidden = user === null;
  byId("account-name").textContent = user ? user.full_name : "";
  byId("account-role").textContent = user ? user.role.replace("_", " ") : "";
  for (const node of document.querySelectorAll("[data-owner-only]")) node.hidden = !ctx.isOwner();
}

async function route() {
  if (user === null) {
    showView("signin");
    return;
  }
  const { name, params } = currentRoute();
  const screen = SCREENS[name];
  viewer.close();
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.route === (NAV_OF[name] || name)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!screen || (name === "staff" && !ctx.isOwner())) {
    showView("notfound");
    return;
  }
  showView(name);
  await screen.show(ctx, params);
}

function signedIn(session) {
  user = session.user;
  api.csrfToken = session.csrf_token;
  locationCache = null;
  applyUser();
  refreshInboxCount();
  if (!window.location.hash) window.location.hash = "#/patients";
  else route();
}

function signedOut(message = "") {
  user = null;
  api.csrfToken = null;
  locationCache = null;
  applyUser();
  viewer.close();
  viewer.reset();
  byId("inbox-count").hidden = true;
  for (const screen of Object.values(SCREENS)) screen.reset?.();
  flash(message);
  showView("signin");
  byId("signin-email").focus();
}

async function signIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  flash("");
  await busy(form, async () => {
    try {
      const { data } = await api.post("/session/login", formBody(form), { quietUnauthenticated: true });
      form.reset();
      signedIn(data);
      byId("main").focus();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showProblem(form, error);
      byId("signin-password").value = "";
    }
  });
}

async function signOut() {
  try {
    await api.delete("/session");
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
  }
  signedOut("You have signed out.");
}

async function start() {
  api.onUnauthenticated = () => signedOut("Your session has ended. Please sign in again.");
  byId("signin-form").addEventListener("submit", signIn);
  byId("sign-out").addEventListener("click", signOut);
  viewer.init(ctx);
  for (const screen of Object.values(SCREENS)) screen.init(ctx);
  window.addEventListener("hashchange", () => {
    flash("");
    route();
  });
  if (document.body.dataset.maybeSignedIn !== "yes") {
    signedOut();
    return;
  }
  try {
    const { data } = await api.get("/session", undefined, { quietUnauthenticated: true });
    if (data && data.user) signedIn(data);
    else signedOut();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    signedOut(error.status === 401 ? "" : error.detail);
  }
}

start();
