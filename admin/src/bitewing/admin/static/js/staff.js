// Staff (owners): the list with activate/deactivate, and the add form.

import { ApiError } from "./api.js";
import { byId, el, emptyRow, row, showMessage } from "./dom.js";
import { busy, clearErrors, formBody, showProblem } from "./forms.js";

const PAGE_SIZE = 100;
const ROLES = { owner: "Owner", dentist: "Dentist", hygienist: "Hygienist", front_desk: "Front desk" };

async function setActive(ctx, member, active, button) {
  button.disabled = true;
  try {
    await ctx.api.patch(`/users/${encodeURIComponent(member.id)}`, { active });
    ctx.flash(`${member.full_name} is now ${active ? "active" : "deactivated"}.`);
    await load(ctx);
    // The list was redrawn: keep the keyboard where it was, on this member's (new) button.
    byId("staff-rows").querySelector(`button[data-member-id="${CSS.escape(member.id)}"]`)?.focus();
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    button.disabled = false;
    if (failure.status !== 401) showMessage(byId("staff-error"), failure.detail);
  }
}

async function load(ctx) {
  const error = byId("staff-error");
  try {
    const { data } = await ctx.api.get("/users", { page_size: PAGE_SIZE });
    showMessage(error, "");
    const me = ctx.user();
    const members = data || [];
    byId("staff-rows").replaceChildren(
      ...(members.length
        ? members.map((member) => {
            let action = "";
            if (!me || member.id !== me.id) {
              const label = member.active ? "Deactivate" : "Activate";
              const button = el(
                "button",
                {
                  type: "button",
                  class: "button-quiet",
                  "aria-label": `${label} ${member.full_name}`,
                  dataset: { memberId: member.id },
                },
                label,
              );
              button.addEventListener("click", () => setActive(ctx, member, !member.active, button));
              action = button;
            }
            return row(
              [
                ["Name", member.full_name],
                ["E-mail", member.email],
                ["Role", ROLES[member.role] || member.role],
                ["Status", member.active ? "Active" : "Deactivated"],
                ["", action],
              ],
              member.active ? {} : { class: "inactive" },
            );
          })
        : [emptyRow(5, "No staff yet.")]),
    );
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    if (failure.status !== 401) showMessage(error, failure.detail);
  }
}

async function add(ctx, event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  await busy(form, async () => {
    try {
      const { data } = await ctx.api.post("/users", formBody(form));
      form.reset();
      ctx.flash(`Added ${data.full_name} (${ROLES[data.role] || data.role}).`);
      await load(ctx);
    } catch (failure) {
      if (!(failure instanceof ApiError)) throw failure;
      if (failure.status !== 401) showProblem(form, failure);
    }
  });
}

export function init(ctx) {
  byId("staff-form").addEventListener("submit", (event) => add(ctx, event));
}

export function show(ctx) {
  return load(ctx);
}

export function reset() {
  byId("staff-rows").replaceChildren();
  byId("staff-form").reset();
  clearErrors(byId("staff-form"));
}
