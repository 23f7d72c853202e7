// The inbox: images whose patient could not be identified (unmatched or conflicting), with what the
// machine sent, and "Assign to patient" (search a patient, then PUT /images/{id}/patient).

import { ApiError } from "./api.js";
import { byId, el, emptyRow, row, showMessage } from "./dom.js";
import { altText, formatDateTime, formatDay, imageKind, personName } from "./format.js";
import { clearErrors, showProblem } from "./forms.js";
import { rendition, showImage } from "./images.js";
import * as viewer from "./viewer.js";

const PAGE_SIZE = 20;
const SEARCH_SIZE = 10;
const MATCH = { unmatched: "No match", conflict: "Conflict" };

let ctx = null;
let page = 1;
let lastPage = 1;
let total = 0;
let items = [];
let details = new Map();
let generation = 0;
let assigning = null;
let opener = null;

function fetchPage() {
  return ctx.api.get("/images/unmatched", { page, page_size: PAGE_SIZE });
}

/** The DICOM patient fields are only in the image's own metadata: one request per image of the page. */
async function fetchDetails(list) {
  const entries = await Promise.all(
    list.map((image) =>
      ctx.api
        .get(`/images/${encodeURIComponent(image.id)}`)
        .then(({ data }) => [image.id, data])
        .catch((failure) => {
          if (!(failure instanceof ApiError)) throw failure;
          return [image.id, null];
        }),
    ),
  );
  return new Map(entries);
}

function thumbButton(image, index) {
  const thumb = rendition(image, "thumbnail");
  const img = el("img", { alt: altText(image), loading: "lazy", width: "64", height: "64" });
  const button = el(
    "button",
    { type: "button", class: "thumb thumb-small", dataset: { imageId: image.id }, title: "Open in the viewer" },
    img,
  );
  if (thumb) {
    showImage(img, thumb.url, {
      async freshUrl() {
        const { data } = await ctx.api.get(`/images/${encodeURIComponent(image.id)}`);
        return rendition(data, "thumbnail")?.url || null;
      },
      onFail: () => button.classList.add("broken"),
    });
  }
  button.addEventListener("click", () =>
    viewer.open(ctx, {
      items,
      index,
      offset: (page - 1) * PAGE_SIZE,
      total,
      onClose(shown) {
        const again = shown && byId("inbox-rows").querySelector(`button[data-image-id="${CSS.escape(shown.id)}"]`);
        (again || byId("inbox-title")).focus();
      },
    }),
  );
  return button;
}

function sentAs(detail) {
  if (!detail) return el("span", { class: "muted" }, "Details unavailable");
  const name = personName(detail.dicom_patient_name);
  return el(
    "div",
    { class: "sent-as" },
    el("span", { class: "dicom-name" }, name || "No name sent"),
    el("span", { class: "muted" }, "ID ", el("span", { class: "mono dicom-id" }, detail.dicom_patient_id || "none")),
  );
}

function render() {
  byId("inbox-rows").replaceChildren(
    ...(items.length
      ? items.map((image, index) => {
          const detail = details.get(image.id);
          const assign = el(
            "button",
            { type: "button", class: "button-primary", "aria-label": `Assign ${altText(image)} to a patient` },
            "Assign to patient",
          );
          assign.addEventListener("click", () => openAssign(image, assign));
          return row(
            [
              ["Image", el("div", { class: "inbox-image" }, thumbButton(image, index), el("span", {}, imageKind(image.image_type)))],
              ["Sent as", sentAs(detail)],
              ["Taken", formatDateTime(image.acquired_at) || "Unknown"],
              [
                "Why",
                el(
                  "div",
                  { class: "why" },
                  el("span", { class: `state state-${image.match_status}` }, MATCH[image.match_status] || image.match_status),
                  el("span", { class: "match-note" }, image.match_note || ""),
                ),
              ],
              ["", assign],
            ],
            { dataset: { imageId: image.id } },
          );
        })
      : [emptyRow(5, "Nothing waiting: every image is filed to its patient.")]),
  );
  byId("inbox-summary").textContent = total > PAGE_SIZE ? `Page ${page} of ${lastPage} · ${total} images` : total === 1 ? "1 image" : `${total} images`;
  byId("inbox-prev").disabled = page <= 1;
  byId("inbox-next").disabled = page >= lastPage;
  byId("inbox-prev").hidden = byId("inbox-next").hidden = lastPage <= 1;
}

async function load() {
  const mine = ++generation;
  const error = byId("inbox-error");
  const tbody = byId("inbox-rows");
  tbody.setAttribute("aria-busy", "true");
  try {
    const { data, pagination } = await fetchPage();
    if (mine !== generation) return;
    const list = data || [];
    const found = await fetchDetails(list);
    if (mine !== generation) return;
    items = list;
    details = found;
    total = pagination ? pagination.total : items.length;
    lastPage = pagination && pagination.total_pages ? pagination.total_pages : 1;
    if (page > lastPage && total) {
      page = lastPage;
      await load();
      return;
    }
    showMessage(error, "");
    render();
    ctx.refreshInboxCount();
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    if (mine === generation && failure.status !== 401) showMessage(error, failure.detail);
  } finally {
    if (mine === generation) tbody.removeAttribute("aria-busy");
  }
}

// Assigning.

function patientLabel(p) {
  return `${p.family_name}, ${p.given_name}`;
}

async function search() {
  const form = byId("assign-form");
  const q = byId("assign-q").value.trim();
  const results = byId("assign-results");
  byId("assign-submit").disabled = true;
  clearErrors(form);
  if (!q) {
    results.replaceChildren(el("p", { class: "muted" }, "Type a name or chart number."));
    return;
  }
  results.replaceChildren(el("p", { class: "muted" }, "Searching…"));
  try {
    const { data, pagination } = await ctx.api.get("/patients", { q, page_size: SEARCH_SIZE });
    const found = data || [];
    const more = pagination && pagination.total > found.length ? pagination.total - found.length : 0;
    if (!found.length) {
      results.replaceChildren(el("p", { class: "muted" }, `No patients match “${q}”.`));
      return;
    }
    results.replaceChildren(
      ...found.map((p) =>
        el(
          "label",
          { class: "choice" },
          el("input", { type: "radio", name: "patient_id", value: p.id }),
          el(
            "span",
            { class: "choice-text" },
            el("strong", {}, patientLabel(p)),
            el(
              "span",
              { class: "muted" },
              [`Chart ${p.chart_number}`, p.birth_date ? `born ${formatDay(p.birth_date)}` : ""].filter(Boolean).join(" · "),
            ),
          ),
        ),
      ),
      more ? el("p", { class: "muted" }, `${more} more; refine the search.`) : "",
    );
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    results.replaceChildren();
    if (failure.status !== 401) showProblem(form, failure);
  }
}

function openAssign(image, button) {
  const detail = details.get(image.id);
  assigning = { image, detail };
  opener = button;
  const form = byId("assign-form");
  form.reset();
  clearErrors(form);
  const thumb = rendition(image, "thumbnail");
  const name = detail ? personName(detail.dicom_patient_name) : "";
  byId("assign-image").replaceChildren(
    thumb ? el("img", { src: thumb.url, alt: altText(image), width: "64", height: "64" }) : "",
    el(
      "dl",
      { class: "meta compact" },
      el("dt", {}, "Image"),
      el("dd", {}, altText(image)),
      el("dt", {}, "Sent as"),
      el("dd", {}, name || "No name", detail && detail.dicom_patient_id ? ` · ID ${detail.dicom_patient_id}` : ""),
      el("dt", {}, "Note"),
      el("dd", {}, image.match_note || ""),
    ),
  );
  // Start from the family name the machine sent: the usual way to find the right chart.
  const family = name.split(",")[0].trim();
  byId("assign-q").value = family;
  byId("assign-results").replaceChildren();
  byId("assign").showModal();
  byId("assign-q").focus();
  if (family) search();
}

async function assign(event) {
  event.preventDefault();
  const form = byId("assign-form");
  const chosen = form.querySelector("input[name=patient_id]:checked");
  if (!assigning || !chosen) return;
  const { image } = assigning;
  const label = chosen.closest("label").querySelector("strong").textContent;
  const submit = byId("assign-submit");
  submit.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    await ctx.api.put(`/images/${encodeURIComponent(image.id)}/patient`, { patient_id: chosen.value });
    opener = null;
    byId("assign").close();
    ctx.flash(`Assigned ${altText(image)} to ${label}.`);
    const index = items.findIndex((i) => i.id === image.id);
    await load();
    // Keep the keyboard in the list: on the row that took this one's place, else on the heading.
    const buttons = byId("inbox-rows").querySelectorAll("button.button-primary");
    (buttons[Math.min(index, buttons.length - 1)] || byId("inbox-title")).focus();
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    submit.disabled = false;
    if (failure.status !== 401) showProblem(form, failure);
  } finally {
    form.removeAttribute("aria-busy");
  }
}

export function init(context) {
  ctx = context;
  byId("inbox-prev").addEventListener("click", () => {
    if (page > 1) {
      page -= 1;
      load();
    }
  });
  byId("inbox-next").addEventListener("click", () => {
    if (page < lastPage) {
      page += 1;
      load();
    }
  });
  byId("assign-search").addEventListener("click", search);
  byId("assign-q").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      search();
    }
  });
  byId("assign-results").addEventListener("change", () => {
    byId("assign-submit").disabled = !byId("assign-form").querySelector("input[name=patient_id]:checked");
  });
  byId("assign-form").addEventListener("submit", assign);
  byId("assign-cancel").addEventListener("click", () => byId("assign").close());
  byId("assign").addEventListener("close", () => {
    assigning = null;
    if (opener && opener.isConnected) opener.focus();
    opener = null;
  });
}

export function show(context) {
  ctx = context;
  return load();
}

export function reset() {
  generation += 1;
  page = 1;
  items = [];
  details = new Map();
  byId("inbox-rows").replaceChildren();
  byId("inbox-summary").textContent = "";
  const dialog = byId("assign");
  if (dialog.open) dialog.close();
}
