// The event log: search by request id (which also shows the request
// itself), component, level and time; newest first, cursor-paged.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import { header, card, table } from "../ui/layout.js";
import { pill } from "../ui/states.js";
import { pagedList } from "../ui/paged.js";
import { input, select, submit, compact } from "../ui/fields.js";

const LEVELS = ["debug", "info", "warn", "error"];
const PAGE = 50;

export async function render({ main, query, signal, replaceQuery }) {
  const requests = h("div");
  const list = h("ol", { class: "records", id: "log-events", "aria-live": "polite" });
  const more = h("div", { class: "pager" });
  const form = h(
    "form",
    { class: "filters", role: "search", id: "log-filters" },
    input({ name: "request_id", label: t("logs.request_id"), value: query.request_id || "", attrs: { autocomplete: "off", maxlength: 128, spellcheck: "false" } }),
    input({ name: "component", label: t("logs.component"), value: query.component || "", attrs: { autocomplete: "off" } }),
    select({ name: "level", label: t("logs.level"), options: [["", t("filter.any")], ...LEVELS.map((l) => [l, t(`logs.level.${l}`)])], value: query.level || "" }),
    h("div", { class: "filter-actions" }, submit(t("logs.search"))),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const filters = compact(Object.fromEntries(new FormData(form)));
    replaceQuery(filters);
    load(list, more, requests, filters, signal);
  });
  mount(main, header(t("logs.title")), card(t("logs.filters"), form), requests, list, more);
  if (query.do === "search") form.querySelector("input").focus();
  const filters = compact({ request_id: query.request_id, component: query.component, level: query.level });
  await load(list, more, requests, filters, signal);
}

function load(list, more, requests, filters, signal) {
  mount(requests);
  return pagedList({
    list,
    more,
    signal,
    item: eventItem,
    emptyText: t("logs.none"),
    fetchPage: async (cursor) => {
      const data = await api.get("/api/logs", { ...filters, limit: PAGE, cursor }, { signal });
      if (!cursor && data.requests?.length && !signal.aborted) mount(requests, card(t("logs.requests"), requestTable(data.requests)));
      return { items: data.events, next: data.next_cursor };
    },
  });
}

function requestTable(rows) {
  return table(
    t("logs.requests"),
    [t("logs.route"), { text: t("logs.status"), class: "num" }, { text: t("logs.latency"), class: "num" }, t("logs.when")],
    rows.map((r) => h("tr", {}, h("td", { text: `${r.method || ""} ${r.route || r.path || ""}` }), h("td", { class: "num", text: String(r.status ?? "—") }), h("td", { class: "num", text: fmt.duration(r.latency_ms ?? r.duration_ms) }), h("td", { text: fmt.dateTime(r.ts || r.at) }))),
  );
}

const LEVEL_TONE = { error: "bad", warn: "warn", info: "info", debug: "neutral" };

function eventItem(e) {
  return h(
    "li",
    { class: "record" },
    h("div", { class: "title mono", text: e.message }),
    pill(LEVEL_TONE[e.level] ? t(`logs.level.${e.level}`) : e.level, LEVEL_TONE[e.level]),
    h(
      "div",
      { class: "meta" },
      h("span", { text: e.component }),
      e.area ? h("span", { text: e.area }) : null,
      h("span", {}, h("time", { datetime: e.ts, text: fmt.dateTime(e.ts) })),
      e.request_id ? h("span", {}, h("code", { text: e.request_id })) : null,
      e.tenant_id ? h("span", { text: e.tenant_id }) : null,
    ),
  );
}
