// The image viewer: a modal <dialog> showing the preview at once and the full rendition on demand, with
// the image's details, compression figures, deliveries and the DICOM download. Esc closes it, the arrow
// keys move between the images of the list it was opened from. A volume (CBCT) also gets a slice slider:
// any slice is rendered on demand by DICOMweb (…/frames/{n}/rendered, the session cookie authenticates it),
// with ↑/↓ for the next slice and PageUp/PageDown for ten.

import { ApiError } from "./api.js";
import { byId, el, showMessage } from "./dom.js";
import {
  altText,
  formatBytes,
  formatDateTime,
  imageKind,
  laterality,
  plural,
  ratio,
  transferSyntax,
} from "./format.js";
import { preload, rendition, showImage } from "./images.js";

const DELIVERY_STATES = {
  pending: "Waiting",
  sending: "Sending",
  retrying: "Retrying",
  delivered: "Delivered",
  dead: "Failed",
  cancelled: "Cancelled",
};
/** Wait this long after the slider last moved before asking for the slice (dragging fetches no backlog). */
const SLICE_DEBOUNCE_MS = 150;
const SLICE_PAGE = 10;

let ctx = null;
let state = null;
let generation = 0;
let targetNames = null;

function dialog() {
  return byId("viewer");
}

/** The image list's caller-facing state: items of the current page and how to reach the neighbours. */
function current() {
  return state.items[state.index];
}

async function fetchImage(id) {
  const { data } = await ctx.api.get(`/images/${encodeURIComponent(id)}`);
  return data;
}

/** Fresh metadata (and links) of the shown image; used when a link has expired. */
async function refreshDetail(mine) {
  const data = await fetchImage(current().id);
  if (mine !== generation) return null;
  state.detail = data;
  renderDownload();
  return data;
}

function setStatus(text) {
  byId("viewer-status").textContent = text;
}

function position() {
  const { offset = 0, total = state.items.length } = state;
  return `Image ${offset + state.index + 1} of ${total}`;
}

function canMove(delta) {
  const target = state.offset + state.index + delta;
  return target >= 0 && target < state.total;
}

function renderHead(image) {
  byId("viewer-title").textContent = altText(image);
  byId("viewer-position").textContent = state.total > 1 ? position() : "";
  byId("viewer-prev").disabled = !canMove(-1);
  byId("viewer-next").disabled = !canMove(1);
}

function term(name, value) {
  if (value === undefined || value === null || value === "") return [];
  return [el("dt", {}, name), el("dd", {}, value)];
}

function renderMeta(image) {
  const teeth = (image.teeth || []).join(", ");
  const size = `${image.columns} × ${image.rows} px${image.frames > 1 ? ` × ${image.frames} frames` : ""}`;
  byId("viewer-meta").replaceChildren(
    ...term("Type", `${imageKind(image.image_type)} (${image.modality})`),
    ...term("Teeth", teeth || "Not recorded"),
    ...term("Laterality", laterality(image.laterality) || "Not recorded"),
    ...term("Acquired", formatDateTime(image.acquired_at) || "Unknown"),
    ...term("Size", `${size}, ${image.bits_stored}-bit`),
    ...term("Patient match", image.match_note || image.match_status),
    ...term("Version", image.version > 1 ? String(image.version) : ""),
  );
  const full = rendition(image, "full");
  const preview = rendition(image, "preview");
  const thumbnail = rendition(image, "thumbnail");
  const figure = (bytes, note) => [formatBytes(bytes), note ? el("span", { class: "muted" }, ` · ${note}`) : null];
  const dd = (...parts) => el("dd", {}, ...parts.flat());
  byId("viewer-compression").replaceChildren(
    el("dt", {}, "Original"),
    dd(figure(image.original_bytes, transferSyntax(image.original_transfer_syntax))),
    el("dt", {}, "Archive"),
    dd(
      figure(image.archive_bytes, transferSyntax(image.archive_transfer_syntax)),
      el("span", { class: "ratio", title: "original ÷ archive" }, ratio(image.original_bytes, image.archive_bytes)),
    ),
    ...(full
      ? [
          el("dt", {}, "Full rendition"),
          dd(
            figure(full.bytes, `JPEG ${full.width} × ${full.height}`),
            el("span", { class: "ratio", title: "pixel data ÷ full rendition" }, ratio(image.pixel_bytes, full.bytes)),
          ),
        ]
      : []),
    ...(preview ? [el("dt", {}, "Preview"), dd(figure(preview.bytes, `${preview.width} × ${preview.height}`))] : []),
    ...(thumbnail
      ? [el("dt", {}, "Thumbnail"), dd(figure(thumbnail.bytes, `${thumbnail.width} × ${thumbnail.height}`))]
      : []),
    el("dt", {}, "Pixel data"),
    dd(figure(image.pixel_bytes, `${image.bits_stored}-bit, uncompressed`)),
  );
}

function renderDownload() {
  const link = byId("viewer-download");
  const url = state.detail && state.detail.download_url;
  link.hidden = !url;
  if (url) {
    link.href = url;
    link.setAttribute("download", `${imageKind(state.detail.image_type).replace(/\W+/g, "-")}-${state.detail.id}.dcm`);
  } else {
    link.removeAttribute("href");
  }
}

async function targets() {
  if (targetNames === null) {
    const { data } = await ctx.api.get("/targets", { page_size: 100 });
    targetNames = new Map((data || []).map((t) => [t.id, t.name]));
  }
  return targetNames;
}

async function renderDeliveries(image, mine) {
  const box = byId("viewer-deliveries");
  box.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  try {
    const [{ data }, names] = await Promise.all([
      ctx.api.get("/deliveries", { image_id: image.id, page_size: 100 }),
      targets(),
    ]);
    if (mine !== generation) return;
    const deliveries = data || [];
    if (!deliveries.length) {
      box.replaceChildren(el("p", { class: "muted" }, "Not sent to any archive or VNA."));
      return;
    }
    box.replaceChildren(
      el(
        "ul",
        { class: "deliveries" },
        ...deliveries.map((d) =>
          el(
            "li",
            {},
            el("span", { class: "delivery-target" }, names.get(d.target_id) || "Removed target"),
            el("span", { class: `state state-${d.state}` }, DELIVERY_STATES[d.state] || d.state),
            el(
              "span",
              { class: "delivery-note" },
              d.state === "delivered"
                ? formatDateTime(d.delivered_at)
                : [d.role === "backup" ? "backup" : "", d.attempts ? plural(d.attempts, "attempt") : "", d.last_error || ""]
                    .filter(Boolean)
                    .join(" · "),
            ),
          ),
        ),
      ),
    );
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    if (mine === generation) box.replaceChildren(el("p", { class: "muted" }, `Deliveries unavailable: ${failure.detail}`));
  }
}

function setZoom(actual) {
  const stage = byId("viewer-stage");
  stage.dataset.zoom = actual ? "actual" : "fit";
  const button = byId("viewer-zoom");
  button.setAttribute("aria-pressed", String(actual));
  button.textContent = actual ? "Fit to window" : "Actual size";
}

function renderFullButton() {
  const button = byId("viewer-full");
  const loaded = state.shown === "full";
  const disabled = loaded || state.loadingFull || !rendition(state.detail, "full");
  // A disabled button drops the focus to the page: keep it in the dialog.
  if (disabled && document.activeElement === button) byId("viewer-zoom").focus();
  button.disabled = disabled;
  button.textContent = loaded ? "Full resolution shown" : state.loadingFull ? "Loading full resolution…" : "Full resolution";
}

/**
 * Show rendition `name` of the current image once it is ready; keeps what is shown until then, and keeps
 * it for good when `wanted()` says by then that the user has asked for something else.
 */
async function showRendition(name, mine, wanted = () => true) {
  const img = byId("viewer-image");
  const link = rendition(state.detail, name);
  if (!link) return false;
  const fresh = async () => {
    const data = await refreshDetail(mine);
    return data ? rendition(data, name)?.url : null;
  };
  const url = await preload(link.url, fresh);
  if (mine !== generation || !wanted()) return false;
  if (!url) {
    showMessage(byId("viewer-error"), `The ${name} image could not be loaded. Close the viewer and try again.`);
    return false;
  }
  const ok = await showImage(img, url, { freshUrl: fresh });
  if (mine !== generation || !ok) return false;
  img.hidden = false;
  img.classList.remove("placeholder");
  img.dataset.rendition = name;
  delete img.dataset.frame;
  state.slice = null;
  // The full rendition of a volume is its middle slice: the slider says so.
  if (name === "full" && sliceCount()) setSliceValue(Math.floor(sliceCount() / 2) + 1);
  img.width = link.width;
  img.height = link.height;
  state.shown = name;
  return true;
}

async function loadFull() {
  if (!state || state.shown === "full" || state.loadingFull || !state.detail) return;
  if (state.previewPending) {
    // Both would load into the one <img>, and the later load event would answer both: `load` shows the
    // full rendition once the preview is in.
    state.fullWanted = true;
    state.sliceWanted = null;
    return;
  }
  const mine = generation;
  // The latest ask wins: a slice asked for before is not shown over this, one asked for after replaces it.
  const slices = newSliceRequest();
  state.loadingFull = true;
  renderFullButton();
  setStatus("Loading full resolution…");
  const ok = await showRendition("full", mine, () => state.sliceRequest === slices);
  if (mine !== generation) return;
  state.loadingFull = false;
  renderFullButton();
  if (state.sliceRequest !== slices) return;
  const full = rendition(state.detail, "full");
  setStatus(ok ? `Full resolution, ${full.width} × ${full.height} px` : "");
}

// --- Slices of a volume -------------------------------------------------------------------------------

function sliceCount() {
  const detail = state && state.detail;
  if (!detail || !(detail.frames > 1)) return 0;
  if (!detail.study_instance_uid || !detail.series_instance_uid || !detail.sop_instance_uid) return 0;
  return detail.frames;
}

function sliceText(number, count) {
  return `Slice ${number} of ${count}`;
}

function hideSlices() {
  clearTimeout(state?.sliceTimer);
  byId("viewer-slices").hidden = true;
}

/** Show the slider for a volume, at the middle slice (the one the full rendition shows). */
function renderSlices() {
  const count = sliceCount();
  const box = byId("viewer-slices");
  box.hidden = !count;
  if (!count) return;
  const slider = byId("viewer-slice");
  slider.max = String(count);
  setSliceValue(Math.floor(count / 2) + 1);
}

function setSliceValue(number) {
  const count = sliceCount();
  const slider = byId("viewer-slice");
  slider.value = String(number);
  const text = sliceText(number, count);
  byId("viewer-slice-label").textContent = text;
  slider.setAttribute("aria-valuetext", text);
}

/** The rendered-frame URL of slice `number`, fitted to the stage (or full size at actual size). */
function sliceUrl(number) {
  const { study_instance_uid: study, series_instance_uid: series, sop_instance_uid: sop } = state.detail;
  const path = [
    "/dicomweb/studies",
    encodeURIComponent(study),
    "series",
    encodeURIComponent(series),
    "instances",
    encodeURIComponent(sop),
    "frames",
    String(number),
    "rendered",
  ].join("/");
  if (byId("viewer-stage").dataset.zoom === "actual") return path;
  const stage = byId("viewer-stage");
  const scale = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(stage.clientWidth * scale));
  const height = Math.max(1, Math.round(stage.clientHeight * scale));
  return `${path}?viewport=${width},${height}`;
}

/** Follow the slider: the label at once, the picture once it rests for SLICE_DEBOUNCE_MS. */
function sliceMoved() {
  if (!state || !sliceCount()) return;
  const number = Number(byId("viewer-slice").value);
  setSliceValue(number);
  clearTimeout(state.sliceTimer);
  state.sliceTimer = setTimeout(() => showSlice(number), SLICE_DEBOUNCE_MS);
}

function stepSlice(delta) {
  const count = sliceCount();
  if (!count) return false;
  const slider = byId("viewer-slice");
  const next = Math.min(count, Math.max(1, Number(slider.value) + delta));
  if (String(next) !== slider.value) {
    slider.value = String(next);
    sliceMoved();
  }
  return true;
}

function newSliceRequest() {
  state.sliceRequest = (state.sliceRequest || 0) + 1;
  return state.sliceRequest;
}

/** Load slice `number` off-screen, then show it (unless the viewer moved on meanwhile). */
async function showSlice(number) {
  if (!state || !sliceCount()) return;
  if (state.previewPending) {
    // As for the full rendition: one picture loads into the <img> at a time, and the preview must not
    // arrive over the slice the user chose. `load` shows the slice once the preview is in.
    state.sliceWanted = number;
    state.fullWanted = false;
    return;
  }
  const mine = generation;
  const request = newSliceRequest();
  const count = sliceCount();
  const img = byId("viewer-image");
  setStatus(`Loading slice ${number}…`);
  const url = await preload(sliceUrl(number));
  if (mine !== generation || request !== state.sliceRequest) return;
  if (!url) {
    setStatus("");
    showMessage(byId("viewer-error"), `Slice ${number} could not be loaded. Try again, or close the viewer.`);
    return;
  }
  const ok = await showImage(img, url);
  if (mine !== generation || request !== state.sliceRequest || !ok) return;
  showMessage(byId("viewer-error"), "");
  img.hidden = false;
  img.classList.remove("placeholder");
  img.dataset.rendition = "slice";
  img.dataset.frame = String(number);
  img.width = state.detail.columns;
  img.height = state.detail.rows;
  state.shown = "slice";
  state.slice = number;
  renderFullButton();
  setStatus(`${sliceText(number, count)}, ${img.naturalWidth} × ${img.naturalHeight} px`);
}

async function load() {
  const mine = ++generation;
  const summary = current();
  const img = byId("viewer-image");
  state.detail = null;
  state.shown = null;
  state.loadingFull = false;
  state.previewPending = false;
  state.fullWanted = false;
  state.sliceWanted = null;
  state.slice = null;
  hideSlices();
  showMessage(byId("viewer-error"), "");
  renderHead(summary);
  setZoom(false);
  byId("viewer-meta").replaceChildren();
  byId("viewer-compression").replaceChildren();
  byId("viewer-deliveries").replaceChildren();
  byId("viewer-download").hidden = true;
  renderFullButton();
  // The thumbnail is already in the browser's cache: show it blurred while the preview arrives.
  const thumbnail = rendition(summary, "thumbnail");
  img.alt = altText(summary);
  img.dataset.rendition = "";
  delete img.dataset.frame;
  if (thumbnail) {
    img.classList.add("placeholder");
    img.src = thumbnail.url;
    img.hidden = false;
  } else {
    img.hidden = true;
  }
  setStatus("Loading preview…");
  try {
    state.detail = await fetchImage(summary.id);
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    if (mine === generation) {
      setStatus("");
      showMessage(byId("viewer-error"), failure.detail);
    }
    return;
  }
  if (mine !== generation) return;
  img.alt = altText(state.detail);
  renderMeta(state.detail);
  renderDownload();
  renderFullButton();
  renderSlices();
  renderDeliveries(state.detail, mine);
  state.previewPending = true;
  const ok = await showRendition("preview", mine);
  if (mine !== generation) return;
  state.previewPending = false;
  if (ok) {
    const preview = rendition(state.detail, "preview");
    setStatus(`Preview, ${preview.width} × ${preview.height} px`);
  } else {
    setStatus("");
  }
  renderFullButton();
  const slice = state.sliceWanted;
  state.sliceWanted = null;
  if (slice) showSlice(slice);
  else if (state.fullWanted || byId("viewer-stage").dataset.zoom === "actual") loadFull();
}

async function move(delta) {
  if (!state || !canMove(delta)) return;
  const next = state.index + delta;
  if (next >= 0 && next < state.items.length) {
    state.index = next;
  } else if (state.onEdge) {
    const page = await state.onEdge(delta);
    if (!page || !page.items.length) return;
    state.items = page.items;
    state.offset = page.offset;
    state.total = page.total;
    state.index = delta > 0 ? 0 : page.items.length - 1;
  } else {
    return;
  }
  state.onMove?.(current());
  load();
}

/** Wire up the dialog (once per page). */
export function init(context) {
  ctx = context;
  const box = dialog();
  byId("viewer-close").addEventListener("click", () => close());
  byId("viewer-prev").addEventListener("click", () => move(-1));
  byId("viewer-next").addEventListener("click", () => move(1));
  byId("viewer-full").addEventListener("click", () => loadFull());
  byId("viewer-zoom").addEventListener("click", () => {
    const actual = byId("viewer-stage").dataset.zoom !== "actual";
    setZoom(actual);
    if (state && state.shown === "slice") showSlice(state.slice);
    else if (actual) loadFull();
  });
  byId("viewer-slice").addEventListener("input", sliceMoved);
  byId("viewer-image").addEventListener("dblclick", () => byId("viewer-zoom").click());
  // On the document, not the dialog: keys still work when the focus is on nothing in particular.
  document.addEventListener("keydown", (event) => {
    if (!box.open || event.defaultPrevented) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    // The slider handles its own keys (and sends "input").
    if (event.target === byId("viewer-slice")) return;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      event.preventDefault();
      move(event.key === "ArrowLeft" ? -1 : 1);
    }
    const steps = { ArrowUp: 1, ArrowDown: -1, PageUp: SLICE_PAGE, PageDown: -SLICE_PAGE };
    if (event.key in steps && stepSlice(steps[event.key])) event.preventDefault();
  });
  // Esc closes the dialog natively ("cancel"); either way focus goes back to where it was opened from.
  box.addEventListener("close", () => {
    generation += 1;
    if (state) hideSlices();
    const done = state;
    state = null;
    byId("viewer-image").removeAttribute("src");
    if (done && done.onClose) done.onClose(done.items[done.index]);
  });
}

/**
 * Open the viewer on `items[index]` (image summaries as the list endpoints return them).
 * `offset`/`total` place the page in the whole list; `onEdge(delta)` fetches the neighbouring page
 * ({items, offset, total} or null); `onMove(image)` follows the shown image; `onClose(image)` gets the
 * image shown last, to return focus to it.
 */
export function open(context, { items, index, offset = 0, total = items.length, onEdge, onMove, onClose }) {
  ctx = context;
  state = { items, index, offset, total, onEdge, onMove, onClose, detail: null, shown: null };
  const box = dialog();
  if (!box.open) box.showModal();
  byId("viewer-close").focus();
  load();
}

export function close() {
  const box = dialog();
  if (box && box.open) box.close();
}

/** Forget cached lookups (sign-out). */
export function reset() {
  targetNames = null;
}
