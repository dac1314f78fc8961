// A cursor-paged list: the first page replaces the list (loading, then
// the items or the empty state), "Load more" appends the next page, and a
// failure shows the error state with a retry in the pager.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import { loading, empty, failure } from "./states.js";

/**
 * Fill `list` (a <ul>/<ol>) through `fetchPage(cursor)` → `{items, next}`;
 * `item(record)` makes an <li>; `emptyText` shows when the first page is
 * empty; `more` is the pager's container.
 */
export async function pagedList({ list, more, fetchPage, item, emptyText, signal, cursor = null }) {
  if (!cursor) mount(list, h("li", {}, loading()));
  list.setAttribute("aria-busy", "true");
  mount(more);
  try {
    const { items, next } = await fetchPage(cursor);
    if (signal.aborted) return;
    if (!cursor) mount(list, items.length ? [] : h("li", {}, empty(emptyText)));
    list.append(...items.map(item));
    if (next) {
      const again = () => pagedList({ list, more, fetchPage, item, emptyText, signal, cursor: next });
      mount(more, h("button", { type: "button", class: "secondary", on: { click: again } }, t("list.more")));
    }
  } catch (err) {
    if (signal.aborted || err?.name === "AbortError") return;
    mount(more, failure(err, () => pagedList({ list, more, fetchPage, item, emptyText, signal, cursor })));
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}
