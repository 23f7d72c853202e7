// Patients: search with pagination, and the new-patient form. A patient's name opens their record.

import { ApiError } from "./api.js";
import { byId, el, emptyRow, row, showMessage } from "./dom.js";
import { formatDay as formatDate } from "./format.js";
import { busy, clearErrors, formBody, showProblem } from "./forms.js";

const PAGE_SIZE = 20;
export const SEX = { F: "Female", M: "Male", O: "Other", U: "Unknown" };

let query = "";
let page = 1;
let lastPage = 1;
let generation = 0;

async function load(ctx) {
  const mine = ++generation;
  const error = byId("patients-error");
  const tbody = byId("patients-rows");
  tbody.setAttribute("aria-busy", "true");
  try {
    const [{ data, pagination }, locations] = await Promise.all([
      ctx.api.get("/patients", { q: query, page, page_size: PAGE_SIZE }),
      ctx.locations(),
    ]);
    if (mine !== generation) return;
    showMessage(error, "");
    const names = new Map(locations.map((location) => [location.id, location.name]));
    const items = data || [];
    const total = pagination ? pagination.total : items.length;
    lastPage = pagination && pagination.total_pages ? pagination.total_pages : 1;
    tbody.replaceChildren(
      ...(items.length
        ? items.map((p) =>
            row(
              [
                ["Chart", el("span", { class: "mono" }, p.chart_number)],
                ["Name", el("a", { href: `#/patients/${encodeURIComponent(p.id)}` }, `${p.family_name}, ${p.given_name}`)],
              ["Birth date", formatDate(p.birth_date)],
              ["Sex", SEX[p.sex] || p.sex],
                ["Location", names.get(p.primary_location_id) || ""],
              ],
              { class: "linked" },
            ),
          )
        : [emptyRow(5, query ? `No patients match “${query}”.` : "No patients yet.")]),
    );
    const count = `${total} patient${total === 1 ? "" : "s"}`;
    byId("patients-summary").textContent = total ? `Page ${page} of ${lastPage} · ${count}` : count;
    byId("patients-prev").disabled = page <= 1;
    byId("patients-next").disabled = page >= lastPage;
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    if (mine === generation && failure.status !== 401) showMessage(error, failure.detail);
  } finally {
    if (mine === generation) tbody.removeAttribute("aria-busy");
  }
}

function openForm(ctx, open) {
  const panel = byId("patient-new");
  const toggle = byId("patient-new-toggle");
  panel.hidden = !open;
  toggle.setAttribute("aria-expanded", String(open));
  const form = byId("patient-form");
  if (!open) {
    form.reset();
    clearErrors(form);
    toggle.focus();
    return;
  }
  fillLocations(ctx);
  byId("p-chart").focus();
}

async function fillLocations(ctx) {
  const select = byId("p-location");
  try {
    const locations = await ctx.locations();
    const chosen = select.value;
    select.replaceChildren(
      el("option", { value: "" }, "None"),
      ...locations.map((location) => el("option", { value: location.id }, location.name)),
    );
    select.value = chosen;
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
  }
}

async function create(ctx, event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  await busy(form, async () => {
    try {
      const { data } = await ctx.api.post("/patients", formBody(form));
      openForm(ctx, false);
      ctx.flash(`Created patient ${data.given_name} ${data.family_name} (chart ${data.chart_number}).`);
      query = data.chart_number;
      byId("patient-q").value = query;
      page = 1;
      await load(ctx);
    } catch (failure) {
      if (!(failure instanceof ApiError)) throw failure;
      if (failure.status !== 401) showProblem(form, failure);
    }
  });
}

export function init(ctx) {
  // A click anywhere on a row opens the patient (the name is the link for keyboards and screen readers).
  byId("patients-rows").addEventListener("click", (event) => {
    if (event.target.closest("a, button") || window.getSelection().toString()) return;
    const link = event.target.closest("tr")?.querySelector("a[href]");
    if (link) window.location.hash = link.getAttribute("href");
  });
  byId("patient-search").addEventListener("submit", (event) => {
    event.preventDefault();
    query = byId("patient-q").value.trim();
    page = 1;
    ctx.flash("");
    load(ctx);
  });
  byId("patients-prev").addEventListener("click", () => {
    if (page > 1) {
      page -= 1;
      load(ctx);
    }
  });
  byId("patients-next").addEventListener("click", () => {
    if (page < lastPage) {
      page += 1;
      load(ctx);
    }
  });
  byId("patient-new-toggle").addEventListener("click", () => openForm(ctx, byId("patient-new").hidden));
  byId("patient-new-cancel").addEventListener("click", () => openForm(ctx, false));
  byId("patient-form").addEventListener("submit", (event) => create(ctx, event));
}

export function show(ctx) {
  return load(ctx);
}

export function reset() {
  query = "";
  page = 1;
  generation += 1;
  byId("patient-q").value = "";
  byId("patients-rows").replaceChildren();
  byId("patients-summary").textContent = "";
  byId("patient-new").hidden = true;
  byId("patient-new-toggle").setAttribute("aria-expanded", "false");
  byId("patient-form").reset();
  clearErrors(byId("patient-form"));
}
