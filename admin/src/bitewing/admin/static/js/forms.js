// Reading forms into JSON bodies and showing the API's validation errors next to their fields.

import { showMessage } from "./dom.js";

/** The form's values as an object; empty optional fields are left out so the API applies its defaults. */
export function formBody(form) {
  const body = {};
  for (const [name, value] of new FormData(form)) {
    const text = typeof value === "string" ? value.trim() : value;
    if (text !== "") body[name] = text;
  }
  return body;
}

export function clearErrors(form) {
  showMessage(form.querySelector("[data-form-error]"), "");
  for (const node of form.querySelectorAll("[data-error-for]")) node.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

function messagesOf(value) {
  if (Array.isArray(value)) return value.flatMap(messagesOf);
  if (value && typeof value === "object") return Object.values(value).flatMap(messagesOf);
  return [String(value)];
}

/**
 * Show an ApiError on the form: each entry of `errors` beside its field (focused first), the rest and the
 * `detail` in the form's alert.
 */
export function showProblem(form, error) {
  clearErrors(form);
  const unplaced = [];
  let first = null;
  for (const [field, value] of Object.entries(error.errors || {})) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    const input = form.elements.namedItem(field);
    const text = messagesOf(value).join(" ");
    if (slot && input) {
      slot.textContent = text;
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    } else {
      unplaced.push(`${field}: ${text}`);
    }
  }
  // A field error speaks for itself; the generic "invalid fields" detail would only repeat it.
  const lead = first ? "Please correct the fields marked below." : error.detail;
  const summary = [lead, ...unplaced].filter(Boolean).join(" ");
  showMessage(form.querySelector("[data-form-error]"), summary);
  if (first) first.focus();
}

/** Disable the form's buttons while `work` runs. */
export async function busy(form, work) {
  const buttons = form.querySelectorAll("button");
  for (const button of buttons) button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    for (const button of buttons) button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}
