// The audit chain: its verification (every link recomputed, anchors
// checked) and the entries, newest first, filtered by action or actor.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import { header, card, fill, facts } from "../ui/layout.js";
import { statusPill } from "../ui/states.js";
import { pagedList } from "../ui/paged.js";
import { input, submit, compact } from "../ui/fields.js";

const PAGE = 50;

export async function render({ main, query, signal, replaceQuery }) {
  const verify = h("div");
  const list = h("ol", { class: "records", id: "audit-entries" });
  const more = h("div", { class: "pager" });
  const form = h(
    "form",
    { class: "filters", role: "search" },
    input({ name: "action", label: t("audit.action"), value: query.action || "", attrs: { autocomplete: "off" } }),
    input({ name: "actor", label: t("audit.actor"), value: query.actor || "", attrs: { autocomplete: "off" } }),
    h("div", { class: "filter-actions" }, submit(t("filter.apply"))),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const filters = compact(Object.fromEntries(new FormData(form)));
    replaceQuery(filters);
    load(list, more, filters, signal);
  });
  const check = () => fill(verify, () => api.get("/api/audit/verify", {}, { signal }), verdict, { signal });
  mount(
    main,
    header(t("audit.title"), h("button", { type: "button", id: "verify-audit", class: "secondary", on: { click: check } }, t("audit.verify"))),
    card(t("audit.verification"), verify),
    h("section", { class: "stack", "aria-labelledby": "audit-entries-title" }, h("h2", { id: "audit-entries-title", text: t("audit.entries") }), form, list, more),
  );
  await Promise.all([check(), load(list, more, compact({ action: query.action, actor: query.actor }), signal)]);
}

function verdict(v) {
  return h(
    "div",
    { id: "audit-verdict" },
    facts([
      [t("audit.result"), statusPill(v.valid ? "valid" : "invalid")],
      [t("audit.entry_count"), fmt.number(v.entries)],
      v.first_broken ? [t("audit.first_broken"), `#${v.first_broken.seq}: ${v.first_broken.reason}`] : null,
    ]),
  );
}

function load(list, more, filters, signal) {
  return pagedList({
    list,
    more,
    signal,
    item: entryItem,
    emptyText: t("audit.none"),
    fetchPage: async (cursor) => {
      const data = await api.get("/api/audit/chain", { ...filters, limit: PAGE, cursor }, { signal });
      return { items: data.entries, next: data.next_cursor };
    },
  });
}

function entryItem(e) {
  return h(
    "li",
    { class: "record" },
    h("div", { class: "title mono", text: e.action }),
    h("span", { class: "muted", text: `#${e.seq}` }),
    h(
      "div",
      { class: "meta" },
      h("span", { text: e.actor }),
      e.target ? h("span", { text: e.target }) : null,
      h("span", { text: e.tenant_id }),
      h("span", {}, h("time", { datetime: e.ts, text: fmt.dateTime(e.ts) })),
      h("span", {}, h("code", { text: e.hash.slice(0, 12) })),
    ),
  );
}
