// Uploading DICOM files: a drop zone / file picker, progress while sending, then one result per file
// (received, duplicate or rejected with the reason) that follows each received file until it is filed to a
// patient or waits in the inbox. Used on the patient screen and on its own screen.

import { ApiError } from "./api.js";
import { byId, el, showMessage } from "./dom.js";
import { formatBytes, imageKind, plural } from "./format.js";

/** Files go in batches so no request comes near the server's upload limit. */
const BATCH_FILES = 25;
const BATCH_BYTES = 64 * 1000 * 1000;
/** How long the results follow processing before saying "still processing". */
const FOLLOW_MS = 90_000;
const FOLLOW_EVERY_MS = 1_500;
/** Server clocks differ: look this far back for the records of this upload. */
const CLOCK_MARGIN_MS = 5 * 60_000;

const STATUS = {
  received: "Received",
  duplicate: "Already stored",
  rejected: "Rejected",
  failed: "Failed",
  queued: "Waiting",
};

function batches(files) {
  const out = [];
  let batch = [];
  let size = 0;
  for (const file of files) {
    if (batch.length && (batch.length >= BATCH_FILES || size + file.size > BATCH_BYTES)) {
      out.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(file);
    size += file.size;
  }
  if (batch.length) out.push(batch);
  return out;
}

/** The receipts of a batch where every file was refused (the API answers 422 with one error per file). */
function rejectedReceipts(batch, error) {
  const messages = error.errors || {};
  return batch.map((file, n) => {
    const text = messages[file.name] || messages[`file ${n + 1}`];
    return {
      filename: file.name,
      status: "rejected",
      reason: null,
      message: Array.isArray(text) ? text.join(" ") : text || error.detail,
    };
  });
}

/**
 * Build an uploader inside `container`. `prefix` keeps element ids unique; `patient()` returns the patient
 * whose page it is on (or null); `onFiled(images)` is called once processing filed images somewhere.
 */
export function createUploader(ctx, container, { prefix, patient = () => null, onFiled = () => {} }) {
  let files = [];
  let controller = null;
  let followGeneration = 0;
  const patientNames = new Map();

  const input = el("input", {
    id: `${prefix}-files`,
    type: "file",
    multiple: true,
    class: "file-input",
    "aria-describedby": `${prefix}-drop-hint`,
  });
  const zone = el(
    "div",
    { class: "dropzone" },
    input,
    el(
      "label",
      { for: `${prefix}-files`, class: "dropzone-label" },
      el("span", { class: "dropzone-icon", "aria-hidden": "true" }),
      el("span", { class: "dropzone-main" }, el("strong", {}, "Choose DICOM files"), " or drag them here"),
      el("span", { class: "hint", id: `${prefix}-drop-hint` }, "One or many .dcm files, e.g. from a sensor export or a CD."),
    ),
  );
  const chosen = el("ul", { class: "file-list", "aria-label": "Files to upload" });
  const locationSelect = el("select", { id: `${prefix}-location`, name: "location_id" });
  const locationField = el(
    "div",
    { class: "field location-field" },
    el("label", { for: `${prefix}-location` }, "Taken at"),
    locationSelect,
  );
  const error = el("p", { class: "form-error", role: "alert", hidden: true });
  const send = el("button", { type: "button", class: "button-primary", disabled: true }, "Upload");
  const clear = el("button", { type: "button", class: "button-quiet", hidden: true }, "Clear");
  const cancel = el("button", { type: "button", class: "button-quiet", hidden: true }, "Cancel upload");
  const bar = el("progress", { max: "100", value: "0", "aria-labelledby": `${prefix}-progress-text` });
  const barText = el("span", { id: `${prefix}-progress-text` });
  const progress = el("div", { class: "progress", hidden: true }, bar, barText);
  const resultsTitle = el("h3", { id: `${prefix}-results-title` }, "Results");
  const summary = el("p", { class: "results-summary", role: "status" });
  const list = el("ul", { class: "results", "aria-labelledby": `${prefix}-results-title` });
  const results = el("section", { class: "upload-results", hidden: true }, resultsTitle, summary, list);
  container.replaceChildren(
    zone,
    chosen,
    locationField,
    error,
    el("div", { class: "actions" }, send, clear, cancel),
    progress,
    results,
  );

  function renderChosen() {
    chosen.replaceChildren(
      ...files.map((file, index) =>
        el(
          "li",
          {},
          el("span", { class: "file-name" }, file.name),
          el("span", { class: "muted" }, formatBytes(file.size)),
          el(
            "button",
            {
              type: "button",
              class: "button-quiet button-small",
              "aria-label": `Remove ${file.name}`,
              onclick: () => {
                files.splice(index, 1);
                renderChosen();
                input.focus();
              },
            },
            "Remove",
          ),
        ),
      ),
    );
    const total = files.reduce((sum, f) => sum + f.size, 0);
    send.disabled = !files.length || controller !== null;
    send.textContent = files.length ? `Upload ${plural(files.length, "file")} (${formatBytes(total)})` : "Upload";
    clear.hidden = !files.length || controller !== null;
  }

  function add(list) {
    const known = new Set(files.map((f) => `${f.name}/${f.size}/${f.lastModified}`));
    for (const file of list) {
      const key = `${file.name}/${file.size}/${file.lastModified}`;
      if (!known.has(key) && file.size > 0) files.push(file);
      known.add(key);
    }
    showMessage(error, "");
    renderChosen();
  }

  input.addEventListener("change", () => {
    add(input.files);
    input.value = "";
  });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      if (!event.dataTransfer || !Array.from(event.dataTransfer.types).includes("Files")) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      zone.classList.add("dragging");
    });
  }
  zone.addEventListener("dragleave", (event) => {
    if (!zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
  });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer) add(event.dataTransfer.files);
  });
  clear.addEventListener("click", () => {
    files = [];
    renderChosen();
    input.focus();
  });
  cancel.addEventListener("click", () => controller && controller.abort());
  send.addEventListener("click", () => upload());

  function resultItem(receipt) {
    const status = receipt.status;
    const note = el("span", { class: "result-note" });
    if (status === "rejected") note.textContent = receipt.message || receipt.reason || "";
    else if (status === "duplicate") note.textContent = "This exact image is already stored; nothing changed.";
    else if (status === "received") note.textContent = "Processing…";
    const item = el(
      "li",
      { class: `result result-${status}`, dataset: { status } },
      el("span", { class: `state state-${status}` }, STATUS[status] || status),
      el("span", { class: "file-name" }, receipt.filename || "(no name)"),
      receipt.reason ? el("span", { class: "reason mono" }, receipt.reason) : null,
      note,
    );
    return { item, note };
  }

  function renderSummary(receipts) {
    const count = (s) => receipts.filter((r) => r.status === s).length;
    summary.textContent = [
      count("received") && `${count("received")} received`,
      count("duplicate") && `${count("duplicate")} already stored`,
      count("rejected") && `${count("rejected")} rejected`,
    ]
      .filter(Boolean)
      .join(", ");
  }

  async function patientLabel(id) {
    if (!patientNames.has(id)) {
      patientNames.set(
        id,
        ctx.api
          .get(`/patients/${encodeURIComponent(id)}`)
          .then(({ data }) => `${data.family_name}, ${data.given_name} (${data.chart_number})`)
          .catch(() => "another patient"),
      );
    }
    return patientNames.get(id);
  }

  /** Follow received files until processing files them (or fails), then say where each one went. */
  async function follow(pending, since) {
    const mine = ++followGeneration;
    const deadline = Date.now() + FOLLOW_MS;
    const filed = [];
    while (pending.size && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_EVERY_MS));
      if (mine !== followGeneration) return;
      let records;
      try {
        ({ data: records } = await ctx.api.get("/ingest", { source: "upload", since, page_size: 100 }));
      } catch (failure) {
        if (!(failure instanceof ApiError)) throw failure;
        if (failure.status === 401) return;
        continue;
      }
      for (const record of records || []) {
        const entry = pending.get(record.id);
        if (!entry || record.status === "received") continue;
        pending.delete(record.id);
        if (record.status === "processed" && record.image_id) {
          await describeFiled(entry, record.image_id, filed);
        } else if (record.status === "processed") {
          entry.note.textContent = "Already stored; nothing changed.";
        } else {
          entry.item.dataset.status = "failed";
          entry.item.querySelector(".state").className = "state state-failed";
          entry.item.querySelector(".state").textContent = STATUS.failed;
          entry.note.textContent = `Could not be processed: ${record.error_message || record.error_reason || "unknown error"}`;
        }
      }
      if (mine !== followGeneration) return;
    }
    for (const entry of pending.values()) {
      entry.note.textContent = "Still processing; it will appear on its patient's page shortly.";
    }
    if (filed.length) onFiled(filed);
  }

  async function describeFiled(entry, imageId, filed) {
    let image;
    try {
      ({ data: image } = await ctx.api.get(`/images/${encodeURIComponent(imageId)}`));
    } catch (failure) {
      if (!(failure instanceof ApiError)) throw failure;
      entry.note.textContent = "Stored.";
      return;
    }
    filed.push(image);
    entry.item.dataset.filed = image.patient_id ? "patient" : "inbox";
    const kind = imageKind(image.image_type);
    const here = patient();
    if (!image.patient_id) {
      entry.note.replaceChildren(
        `${kind} stored; waiting in the `,
        el("a", { href: "#/inbox" }, "inbox"),
        `: ${image.match_note || "no matching patient"}.`,
      );
      ctx.refreshInboxCount();
    } else if (here && image.patient_id === here.id) {
      entry.note.textContent = `${kind} added to this patient's images.`;
    } else {
      const label = await patientLabel(image.patient_id);
      entry.note.replaceChildren(
        `${kind} filed to `,
        el("a", { href: `#/patients/${encodeURIComponent(image.patient_id)}` }, label),
        ".",
      );
    }
  }

  async function upload() {
    if (!files.length || controller) return;
    const sending = files;
    const total = sending.reduce((sum, f) => sum + f.size, 0) || 1;
    const since = new Date(Date.now() - CLOCK_MARGIN_MS).toISOString();
    followGeneration += 1;
    controller = new AbortController();
    showMessage(error, "");
    renderChosen();
    input.disabled = true;
    cancel.hidden = false;
    progress.hidden = false;
    results.hidden = true;
    list.replaceChildren();
    const receipts = [];
    let done = 0;
    const location = locationSelect.value;
    try {
      for (const batch of batches(sending)) {
        const form = new FormData();
        for (const file of batch) form.append("files", file, file.name);
        if (location) form.append("location_id", location);
        const label = plural(sending.length, "file");
        const onProgress = (sent, size) => {
          const share = batch.reduce((sum, f) => sum + f.size, 0) / total;
          const percent = Math.min(100, Math.round((done / total + (sent / size) * share) * 100));
          bar.value = percent;
          barText.textContent = `Uploading ${label}… ${percent}%`;
        };
        onProgress(0, 1);
        try {
          const { data } = await ctx.api.upload("/ingest/uploads", form, { onProgress, signal: controller.signal });
          receipts.push(...(data || []));
        } catch (failure) {
          if (!(failure instanceof ApiError)) throw failure;
          if (failure.status === 422 && failure.errors && Object.keys(failure.errors).length) {
            receipts.push(...rejectedReceipts(batch, failure));
          } else {
            throw failure;
          }
        }
        done += batch.reduce((sum, f) => sum + f.size, 0);
      }
      bar.value = 100;
      barText.textContent = `Uploaded ${plural(sending.length, "file")}.`;
      files = [];
    } catch (failure) {
      if (!(failure instanceof ApiError)) throw failure;
      if (failure.status !== 401) {
        const sentNote = receipts.length ? ` The first ${plural(receipts.length, "file")} were sent; see below.` : "";
        showMessage(error, `${failure.detail}${sentNote}`);
      }
      files = sending.slice(receipts.length);
      progress.hidden = true;
    } finally {
      controller = null;
      input.disabled = false;
      cancel.hidden = true;
      renderChosen();
    }
    if (!receipts.length) return;
    const pending = new Map();
    list.replaceChildren(
      ...receipts.map((receipt) => {
        const { item, note } = resultItem(receipt);
        if (receipt.status === "received" && receipt.ingest_id) pending.set(receipt.ingest_id, { item, note });
        return item;
      }),
    );
    renderSummary(receipts);
    results.hidden = false;
    resultsTitle.tabIndex = -1;
    resultsTitle.focus();
    if (pending.size) await follow(pending, since);
  }

  /** Fill the location choice; `preferred` (an id) is selected when given. */
  async function fillLocations(preferred) {
    try {
      const locations = await ctx.locations();
      const chosenValue = preferred !== undefined ? preferred || "" : locationSelect.value;
      locationSelect.replaceChildren(
        el("option", { value: "" }, "Not specified"),
        ...locations.map((l) => el("option", { value: l.id }, l.name)),
      );
      locationSelect.value = chosenValue;
    } catch (failure) {
      if (!(failure instanceof ApiError)) throw failure;
    }
  }

  return {
    fillLocations,
    reset() {
      followGeneration += 1;
      if (controller) controller.abort();
      files = [];
      renderChosen();
      showMessage(error, "");
      progress.hidden = true;
      results.hidden = true;
      list.replaceChildren();
    },
  };
}

// The upload screen.

let screenUploader = null;

export function init(ctx) {
  screenUploader = createUploader(ctx, byId("general-uploader"), {
    prefix: "upload",
    onFiled: () => ctx.refreshInboxCount(),
  });
  // A file dropped beside the drop zone must not replace the console with the file.
  for (const name of ["dragover", "drop"]) {
    window.addEventListener(name, (event) => {
      if (event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files")) event.preventDefault();
    });
  }
}

export function show() {
  return screenUploader?.fillLocations();
}

export function reset() {
  screenUploader?.reset();
}
