// The building blocks of a view: its header, titled cards, and `fill`,
// which runs a loader into a container through the loading, empty and
// error states.

import { h, mount, uid } from "../dom.js";
import { loading, failure } from "./states.js";

/** The view's header: its h1 and optional action buttons. */
export function header(title, ...actions) {
  return h("div", { class: "view-header" }, h("h1", { text: title }), actions.length ? h("div", { class: "actions" }, actions) : null);
}

/** A titled card (a labelled region). */
export function card(title, ...children) {
  const id = uid("card");
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id, text: title }), children);
}

/** A definition list of [label, value] pairs. */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(Boolean).map(([label, value]) => h("div", {}, h("dt", { text: label }), h("dd", {}, value ?? "—"))),
  );
}

/** Key figures: [label, value, note?] triples. */
export function kpis(items, { wide = false } = {}) {
  return h(
    "dl",
    { class: `kpis${wide ? " wide" : ""}` },
    items.filter(Boolean).map(([label, value, note]) => h("div", { class: "kpi" }, h("dt", { text: label }), h("dd", {}, value, note ? h("small", {}, note) : null))),
  );
}

/**
 * A labelled gauge of a percentage (clamped to 0-100) with its figure in
 * words beside the label, so an empty bar still reads as "0 %", not as a
 * missing one. Green below `low`, amber to `high`, red above.
 */
export function gauge({ id, label, pct, detail, low = 90, high = 99.9 }) {
  const value = Math.max(0, Math.min(100, Number(pct) || 0));
  return h(
    "div",
    { class: "gauge" },
    h("div", { class: "gauge-label" }, h("label", { for: id, text: label }), detail ? h("span", { class: "gauge-figure", text: detail }) : null),
    h("meter", { id, min: 0, max: 100, low, high, optimum: 0, value }),
  );
}

/**
 * Load into `container`: a loading state, then `render(data)`'s node, or
 * the error state with a retry. Answers that arrive after `signal` fired
 * (the reader left) are dropped. Resolves to the data (or undefined).
 */
export async function fill(container, loader, render, { signal } = {}) {
  mount(container, loading());
  try {
    const data = await loader();
    if (signal?.aborted) return undefined;
    mount(container, render(data));
    return data;
  } catch (err) {
    if (signal?.aborted || err?.name === "AbortError") return undefined;
    mount(container, failure(err, () => fill(container, loader, render, { signal })));
    return undefined;
  }
}

/** A horizontally scrollable table (focusable, so keyboards can scroll it). */
export function table(label, headers, rows) {
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden", text: label }),
      h("thead", {}, h("tr", {}, headers.map((c) => (typeof c === "string" ? h("th", { scope: "col", text: c }) : h("th", { scope: "col", class: c.class, text: c.text }))))),
      h("tbody", {}, rows),
    ),
  );
}
