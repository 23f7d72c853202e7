// Small DOM helpers. Text always goes in through textContent, never as HTML.

/** Create an element: el("td", {class: "x", dataset: {label: "Name"}}, "text", childNode). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}

/** Show `message` in `node` (hidden when empty). */
export function showMessage(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

/** A table row whose cells carry their column name, for the stacked phone layout. */
export function row(cells, attributes = {}) {
  return el(
    "tr",
    attributes,
    ...cells.map(([label, content]) => el("td", { dataset: { label } }, content ?? "")),
  );
}

/** A single full-width row saying the table is empty. */
export function emptyRow(columns, message) {
  return el("tr", { class: "empty" }, el("td", { colspan: String(columns) }, message));
}
