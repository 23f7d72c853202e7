// Ingest errors: the files refused at the door (not DICOM, truncated, no pixel data…), newest first.

import { ApiError } from "./api.js";
import { byId, el, emptyRow, row, showMessage } from "./dom.js";
import { formatBytes, formatDateTime } from "./format.js";

const PAGE_SIZE = 25;
const SOURCES = { cstore: "X-ray machine", stow: "DICOMweb", upload: "Upload", import: "Import", orthanc: "Orthanc" };

let ctx = null;
let page = 1;
let lastPage = 1;
let generation = 0;

async function load() {
  const mine = ++generation;
  const error = byId("ingest-errors-error");
  const tbody = byId("ingest-errors-rows");
  tbody.setAttribute("aria-busy", "true");
  try {
    const { data, pagination } = await ctx.api.get("/ingest", { status: "rejected", page, page_size: PAGE_SIZE });
    if (mine !== generation) return;
    showMessage(error, "");
    const records = data || [];
    const total = pagination ? pagination.total : records.length;
    lastPage = pagination && pagination.total_pages ? pagination.total_pages : 1;
    tbody.replaceChildren(
      ...(records.length
        ? records.map((r) =>
            row([
              ["Received", formatDateTime(r.received_at)],
              ["File", el("span", { class: "file-name" }, r.filename || (r.calling_ae ? `from ${r.calling_ae}` : "(no name)"))],
              ["Source", SOURCES[r.source] || r.source],
              [
                "Reason",
                el(
                  "div",
                  { class: "why" },
                  el("span", { class: "reason mono" }, r.error_reason || "rejected"),
                  el("span", { class: "error-message" }, r.error_message || ""),
                ),
              ],
              ["Size", formatBytes(r.size)],
            ]),
          )
        : [emptyRow(5, "No ingest errors: every file received so far was a usable image.")]),
    );
    const count = `${total} rejected file${total === 1 ? "" : "s"}`;
    byId("ingest-errors-summary").textContent = lastPage > 1 ? `Page ${page} of ${lastPage} · ${count}` : count;
    byId("ingest-errors-prev").disabled = page <= 1;
    byId("ingest-errors-next").disabled = page >= lastPage;
    byId("ingest-errors-prev").hidden = byId("ingest-errors-next").hidden = lastPage <= 1;
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    if (mine === generation && failure.status !== 401) showMessage(error, failure.detail);
  } finally {
    if (mine === generation) tbody.removeAttribute("aria-busy");
  }
}

export function init(context) {
  ctx = context;
  byId("ingest-errors-refresh").addEventListener("click", () => load());
  byId("ingest-errors-prev").addEventListener("click", () => {
    if (page > 1) {
      page -= 1;
      load();
    }
  });
  byId("ingest-errors-next").addEventListener("click", () => {
    if (page < lastPage) {
      page += 1;
      load();
    }
  });
}

export function show(context) {
  ctx = context;
  return load();
}

export function reset() {
  generation += 1;
  page = 1;
  byId("ingest-errors-rows").replaceChildren();
  byId("ingest-errors-summary").textContent = "";
}
