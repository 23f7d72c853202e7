// One patient: their record, a paginated grid of image thumbnails (lazy-loaded, filtered by type) that
// opens the viewer, and the upload panel.

import { ApiError } from "./api.js";
import { byId, el, showMessage } from "./dom.js";
import { IMAGE_TYPES, altText, formatDate, formatDay, plural } from "./format.js";
import { rendition, showImage } from "./images.js";
import { SEX } from "./patients.js";
import { createUploader } from "./upload.js";
import * as viewer from "./viewer.js";

const PAGE_SIZE = 24;

let ctx = null;
let patient = null;
let patientId = null;
let page = 1;
let lastPage = 1;
let total = 0;
let imageType = "";
let items = [];
let generation = 0;
let refreshing = null;
let uploader = null;

function query(pageNumber) {
  return { page: pageNumber, page_size: PAGE_SIZE, image_type: imageType };
}

function fetchPage(pageNumber) {
  return ctx.api.get(`/patients/${encodeURIComponent(patientId)}/images`, query(pageNumber));
}

/** New links for the thumbnails of this page (once for all the thumbnails that failed together). */
function freshThumbnail(id) {
  if (refreshing === null) {
    const mine = generation;
    refreshing = fetchPage(page)
      .then(({ data }) => {
        if (mine === generation) items = data || items;
        return new Map((data || []).map((image) => [image.id, rendition(image, "thumbnail")?.url]));
      })
      .finally(() => setTimeout(() => (refreshing = null), 5_000));
  }
  return refreshing.then((urls) => urls.get(id) || null);
}

function thumbnail(image, index) {
  const thumb = rendition(image, "thumbnail");
  const img = el("img", {
    alt: altText(image),
    loading: "lazy",
    decoding: "async",
    width: thumb ? String(thumb.width) : "150",
    height: thumb ? String(thumb.height) : "200",
  });
  const button = el(
    "button",
    { type: "button", class: "thumb", dataset: { imageId: image.id }, "aria-describedby": `thumb-caption-${image.id}` },
    img,
  );
  if (thumb) {
    showImage(img, thumb.url, {
      freshUrl: () => freshThumbnail(image.id),
      onFail: () => button.classList.add("broken"),
    });
  } else {
    button.classList.add("broken");
  }
  button.addEventListener("click", () => openViewer(index));
  const teeth = (image.teeth || []).join(" ");
  return el(
    "li",
    {},
    button,
    el(
      "p",
      { class: "thumb-caption", id: `thumb-caption-${image.id}` },
      el("span", { class: "thumb-type" }, IMAGE_TYPES[image.image_type] || image.image_type),
      el("span", { class: "thumb-date" }, formatDate(image.acquired_at) || "Date unknown"),
      teeth ? el("span", { class: "thumb-teeth" }, `Teeth ${teeth}`) : null,
    ),
  );
}

function focusThumbnail(id) {
  const button = byId("image-grid").querySelector(`button[data-image-id="${CSS.escape(id)}"]`);
  if (button) button.focus();
  return Boolean(button);
}

function openViewer(index) {
  viewer.open(ctx, {
    items,
    index,
    offset: (page - 1) * PAGE_SIZE,
    total,
    async onEdge(delta) {
      const next = page + delta;
      if (next < 1 || next > lastPage) return null;
      page = next;
      await loadImages();
      return { items, offset: (page - 1) * PAGE_SIZE, total };
    },
    onClose(image) {
      if (!image || !focusThumbnail(image.id)) byId("patient-images-title").focus();
    },
  });
}

function renderPatient(locations) {
  const names = new Map(locations.map((l) => [l.id, l.name]));
  byId("patient-title").textContent = `${patient.family_name}, ${patient.given_name}`;
  ctx.title(`${patient.given_name} ${patient.family_name}`);
  const facts = [
    ["Chart", el("span", { class: "mono" }, patient.chart_number)],
    ["Born", patient.birth_date ? formatDay(patient.birth_date) : "Unknown"],
    ["Sex", SEX[patient.sex] || patient.sex],
    ["Location", names.get(patient.primary_location_id) || "None"],
  ];
  byId("patient-facts").replaceChildren(
    ...facts.map(([label, value]) => el("span", { class: "fact" }, el("span", { class: "fact-label" }, label), value)),
  );
}

async function loadImages() {
  const mine = ++generation;
  refreshing = null;
  const grid = byId("image-grid");
  const empty = byId("images-empty");
  grid.setAttribute("aria-busy", "true");
  try {
    const { data, pagination } = await fetchPage(page);
    if (mine !== generation) return;
    items = data || [];
    total = pagination ? pagination.total : items.length;
    lastPage = pagination && pagination.total_pages ? pagination.total_pages : 1;
    if (page > lastPage && total) {
      page = lastPage;
      await loadImages();
      return;
    }
    grid.replaceChildren(...items.map((image, index) => thumbnail(image, index)));
    empty.hidden = items.length > 0;
    const kind = imageType ? `${(IMAGE_TYPES[imageType] || imageType).toLowerCase()} ` : "";
    empty.textContent = imageType ? `No ${kind}images for this patient.` : "No images for this patient yet.";
    const count = plural(total, `${kind}image`);
    byId("images-summary").textContent = total > PAGE_SIZE ? `Page ${page} of ${lastPage} · ${count}` : count;
    byId("images-prev").disabled = page <= 1;
    byId("images-next").disabled = page >= lastPage;
    byId("images-prev").hidden = byId("images-next").hidden = lastPage <= 1;
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    if (mine === generation && failure.status !== 401) showMessage(byId("patient-error"), failure.detail);
  } finally {
    if (mine === generation) grid.removeAttribute("aria-busy");
  }
}

function openUpload(open) {
  byId("patient-upload").hidden = !open;
  byId("patient-upload-toggle").setAttribute("aria-expanded", String(open));
  byId("patient-upload-toggle").textContent = open ? "Close upload" : "Upload X-rays";
  if (open) {
    uploader.fillLocations(patient ? patient.primary_location_id : undefined);
    byId("patient-uploader").querySelector("input[type=file]").focus();
  } else {
    uploader.reset();
  }
}

export function init(context) {
  ctx = context;
  uploader = createUploader(ctx, byId("patient-uploader"), {
    prefix: "patient-upload",
    patient: () => patient,
    onFiled(images) {
      if (patient && images.some((image) => image.patient_id === patient.id)) {
        page = 1;
        loadImages();
      }
      ctx.refreshInboxCount();
    },
  });
  byId("patient-upload-toggle").addEventListener("click", () => openUpload(byId("patient-upload").hidden));
  byId("image-type").addEventListener("change", (event) => {
    imageType = event.currentTarget.value;
    page = 1;
    loadImages();
  });
  byId("images-prev").addEventListener("click", () => {
    if (page > 1) {
      page -= 1;
      loadImages();
    }
  });
  byId("images-next").addEventListener("click", () => {
    if (page < lastPage) {
      page += 1;
      loadImages();
    }
  });
}

export async function show(context, { id }) {
  ctx = context;
  const error = byId("patient-error");
  if (id !== patientId) {
    reset();
    patientId = id;
  }
  showMessage(error, "");
  try {
    const [{ data }, locations] = await Promise.all([
      ctx.api.get(`/patients/${encodeURIComponent(id)}`),
      ctx.locations().catch(() => []),
    ]);
    if (id !== patientId) return;
    patient = data;
    renderPatient(locations);
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    if (failure.status === 401) return;
    byId("patient-title").textContent = failure.status === 404 ? "Patient not found" : "Patient";
    showMessage(error, failure.status === 404 ? "There is no such patient in your practice." : failure.detail);
    byId("patient-title").focus();
    return;
  }
  byId("patient-title").focus();
  await loadImages();
}

export function reset() {
  generation += 1;
  patient = null;
  patientId = null;
  page = 1;
  lastPage = 1;
  total = 0;
  items = [];
  imageType = "";
  byId("image-type").value = "";
  byId("patient-title").textContent = "Patient";
  byId("patient-facts").replaceChildren();
  byId("image-grid").replaceChildren();
  byId("images-summary").textContent = "";
  byId("images-empty").hidden = true;
  byId("patient-upload").hidden = true;
  byId("patient-upload-toggle").setAttribute("aria-expanded", "false");
  byId("patient-upload-toggle").textContent = "Upload X-rays";
  uploader?.reset();
}
