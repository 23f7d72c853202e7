// The console's shell: session state, hash routing between the screens, sign-in and sign-out.

import { Api, ApiError } from "./api.js";
import { byId, showMessage } from "./dom.js";
import { busy, clearErrors, formBody, showProblem } from "./forms.js";
import * as locations from "./locations.js";
import * as patients from "./patients.js";
import * as staff from "./staff.js";

const SCREENS = { patients, locations, staff };
const TITLES = { patients: "Patients", locations: "Locations", staff: "Staff", notfound: "Not found" };
const VIEWS = ["signin", "patients", "locations", "staff", "notfound"];
const LOCATION_PAGE_SIZE = 100;

const api = new Api(document.body.dataset.api);
let user = null;
let locationCache = null;

const ctx = {
  api,
  user: () => user,
  isOwner: () => user !== null && user.role === "owner",
  flash,
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

function currentRoute() {
  return window.location.hash.replace(/^#\/?/, "").split(/[/?]/)[0] || "patients";
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
  const name = currentRoute();
  const screen = SCREENS[name];
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.route === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!screen || (name === "staff" && !ctx.isOwner())) {
    showView("notfound");
    return;
  }
  showView(name);
  await screen.show(ctx);
}

function signedIn(session) {
  user = session.user;
  api.csrfToken = session.csrf_token;
  locationCache = null;
  applyUser();
  if (!window.location.hash) window.location.hash = "#/patients";
  else route();
}

function signedOut(message = "") {
  user = null;
  api.csrfToken = null;
  locationCache = null;
  applyUser();
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
