// Building DOM without HTML strings: every text goes in as text, so data
// from the API can never become markup (no innerHTML anywhere).

/**
 * Create an element. `attrs` keys:
 * - `class`, `id`, `for`, `href`, any attribute (true → present, false/null → absent)
 * - `text`: text content
 * - `on`: { event: handler }
 * - `dataset`: { key: value }
 * Children: nodes, strings, numbers, arrays (flattened); null/false skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") el.textContent = String(value);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") throw new Error("inline styles are refused by the CSP: use a class");
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** An SVG element (`svg("rect", {x: 1})`). */
export function svg(tag, attrs = {}, ...children) {
  return h(`svg:${tag}`, attrs, ...children);
}

function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.append(child instanceof Node ? child : String(child));
  }
}

/** Replace `node`'s children. */
export function mount(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** `document.getElementById`. */
export const byId = (id) => document.getElementById(id);

/** A unique id for label/aria wiring. */
let nextId = 0;
export function uid(prefix = "el") {
  nextId += 1;
  return `${prefix}-${nextId}`;
}
