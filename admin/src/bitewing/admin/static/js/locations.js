// Locations: the list for all staff, the add form for owners.

import { ApiError } from "./api.js";
import { byId, emptyRow, row, showMessage } from "./dom.js";
import { busy, clearErrors, formBody, showProblem } from "./forms.js";

const STORAGE = { cloud: "Cloud", on_premise: "On premise" };

async function load(ctx, refresh = false) {
  const error = byId("locations-error");
  try {
    const locations = await ctx.locations({ refresh });
    showMessage(error, "");
    byId("locations-rows").replaceChildren(
      ...(locations.length
        ? locations.map((l) =>
            row([
              ["Name", l.name],
              ["City", l.city || ""],
              ["Country", l.country || ""],
              ["Time zone", l.time_zone],
              ["Image storage", STORAGE[l.storage_preference] || l.storage_preference],
            ]),
          )
        : [emptyRow(5, "No locations yet.")]),
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
  const body = formBody(form);
  if (body.country) body.country = body.country.toUpperCase();
  await busy(form, async () => {
    try {
      const { data } = await ctx.api.post("/locations", body);
      form.reset();
      ctx.flash(`Added location ${data.name}.`);
      await load(ctx, true);
    } catch (failure) {
      if (!(failure instanceof ApiError)) throw failure;
      if (failure.status !== 401) showProblem(form, failure);
    }
  });
}

export function init(ctx) {
  byId("location-form").addEventListener("submit", (event) => add(ctx, event));
}

export function show(ctx) {
  return load(ctx, true);
}

export function reset() {
  byId("locations-rows").replaceChildren();
  byId("location-form").reset();
  clearErrors(byId("location-form"));
}
