// Incidents: the last day's summary, the list (filter by status and
// severity; acknowledge and resolve), each incident's deliveries, raising
// one, silences (create with comment and duration, end early) and the
// alert outbox.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, fill, kpis, table } from "../ui/layout.js";
import { empty, statusPill } from "../ui/states.js";
import { pagedList } from "../ui/paged.js";
import { input, textarea, select, enumOptions, onSubmit, submit, compact } from "../ui/fields.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import { track } from "../telemetry.js";
import { who } from "../nav.js";

const STATUSES = ["open", "acknowledged", "resolved"];
const SEVERITIES = ["CRITICAL", "WARNING", "INFO"];
const PAGE = 20;

export async function render({ main, query, signal, replaceQuery }) {
  const operator = session.atLeast("operator");
  const summary = h("div");
  const list = h("ul", { class: "records", id: "incident-list", "aria-live": "polite" });
  const more = h("div", { class: "pager" });
  const silences = h("div");
  const deliveries = h("div");
  const forms = h("div", { class: "stack" });
  const filters = { status: query.status || "", severity: query.severity || "" };
  const reload = () => loadList(list, more, compact(filters), signal, operator);
  const filterForm = h(
    "form",
    { class: "filters", role: "search", id: "incident-filters" },
    select({ name: "status", label: t("incidents.status"), options: enumOptions(STATUSES, "status", { any: true }), value: filters.status }),
    select({ name: "severity", label: t("incidents.severity"), options: enumOptions(SEVERITIES, "status", { any: true }), value: filters.severity }),
    h("div", { class: "filter-actions" }, submit(t("filter.apply"))),
  );
  filterForm.addEventListener("submit", (e) => {
    e.preventDefault();
    Object.assign(filters, Object.fromEntries(new FormData(filterForm)));
    replaceQuery(compact(filters));
    reload();
  });
  mount(
    main,
    header(
      t("incidents.title"),
      operator ? h("button", { type: "button", id: "raise-incident", class: "secondary", on: { click: () => raiseForm(forms, reload) } }, t("incidents.raise")) : null,
      operator ? h("button", { type: "button", id: "new-silence", class: "secondary", on: { click: () => silenceForm(forms, silences, signal) } }, t("incidents.silence")) : null,
    ),
    forms,
    card(t("incidents.summary"), summary),
    h("section", { class: "stack", "aria-labelledby": "incident-list-title" }, h("h2", { id: "incident-list-title", text: t("incidents.list") }), filterForm, list, more),
    card(t("incidents.silences"), silences),
    operator ? card(t("incidents.deliveries"), deliveries) : null,
  );
  if (operator && query.do === "raise") raiseForm(forms, reload);
  if (operator && query.do === "silence") silenceForm(forms, silences, signal);
  await Promise.all([
    fill(summary, () => api.post("/api/incidents/summary", { hours: 24 }, { signal }), ({ summary: s }) => summaryView(s), { signal }),
    reload(),
    loadSilences(silences, signal, operator),
    operator ? fill(deliveries, () => api.get("/api/incidents/deliveries", { limit: 20 }, { signal }), deliveryTable, { signal }) : null,
  ]);
}

function summaryView(s) {
  return kpis([
    [t("incidents.total"), fmt.number(s.total_incidents), t("incidents.window", { hours: fmt.number(s.window_hours) })],
    [t("incidents.open_count"), fmt.number(s.open_count)],
    [t("status.CRITICAL"), fmt.number(s.by_severity?.CRITICAL)],
    [t("status.WARNING"), fmt.number(s.by_severity?.WARNING)],
    [t("incidents.raises"), fmt.number(s.total_raises)],
    [t("incidents.silenced"), fmt.number(s.silenced)],
  ]);
}

function loadList(list, more, filters, signal, operator) {
  return pagedList({
    list,
    more,
    signal,
    item: (i) => incidentItem(i, signal, operator),
    emptyText: t("incidents.none"),
    fetchPage: async (cursor) => {
      const data = await api.get("/api/incidents", { ...filters, limit: PAGE, cursor }, { signal });
      return { items: data.incidents, next: data.next_cursor };
    },
  });
}

function incidentItem(incident, signal, operator) {
  const item = h("li", { class: "record", dataset: { incidentId: incident.id } });
  const draw = (i) => {
    const detail = h("div");
    const disclosure = h("details", {}, h("summary", { text: t("incidents.details") }), detail);
    disclosure.addEventListener("toggle", () => {
      if (disclosure.open && !detail.firstChild) {
        fill(detail, () => api.get(`/api/incidents/${encodeURIComponent(i.id)}`, {}, { signal }), incidentDetail, { signal });
      }
    }, { once: false });
    mount(
      item,
      h("div", { class: "title", text: i.message }),
      h("div", {}, statusPill(i.severity), " ", statusPill(i.status)),
      h(
        "div",
        { class: "meta" },
        h("span", { text: i.source }),
        h("span", {}, h("time", { datetime: i.created_at, text: fmt.relative(i.created_at) })),
        i.repeat_count ? h("span", { text: t("incidents.repeats", { n: fmt.number(i.repeat_count) }) }) : null,
        i.silenced ? h("span", { text: t("incidents.is_silenced") }) : null,
        i.acknowledged_by ? h("span", { text: t("incidents.acked_by", { who: i.acknowledged_by }) }) : null,
      ),
      h("div", { class: "record-actions" },
        operator && i.status === "open" ? h("button", { type: "button", class: "secondary", dataset: { action: "acknowledge" }, on: { click: () => act(i, "acknowledge") } }, t("incidents.acknowledge")) : null,
        operator && i.status !== "resolved" ? h("button", { type: "button", class: "secondary", dataset: { action: "resolve" }, on: { click: () => act(i, "resolve") } }, t("incidents.resolve")) : null,
      ),
      h("div", { class: "meta" }, disclosure),
    );
  };
  const act = async (i, verb) => {
    let body;
    if (verb === "resolve") {
      const note = h("textarea", { id: "resolve-note", name: "note" });
      const ok = await confirmDialog({
        title: t("incidents.resolve"),
        body: h("div", {}, h("p", { text: i.message }), h("label", { for: "resolve-note", text: t("incidents.note") }), note),
        confirmLabel: t("incidents.resolve"),
      });
      if (!ok) return;
      body = note.value.trim() ? { note: note.value.trim() } : undefined;
    }
    try {
      const updated = await api.post(`/api/incidents/${encodeURIComponent(i.id)}/${verb}`, body);
      track(`incident.${verb}`);
      toast(t(verb === "acknowledge" ? "incidents.acknowledged" : "incidents.resolved"));
      draw(updated);
      item.querySelector("button")?.focus() || item.querySelector("summary")?.focus();
    } catch (err) {
      toast(err.message, "bad");
    }
  };
  draw(incident);
  return item;
}

function incidentDetail(i) {
  return h(
    "div",
    { class: "small" },
    h("p", {}, t("incidents.fingerprint"), " ", h("code", { text: i.fingerprint })),
    i.resolution_note ? h("p", { text: i.resolution_note }) : null,
    i.deliveries?.length ? deliveryTable({ deliveries: i.deliveries }) : h("p", { text: t("incidents.no_deliveries") }),
  );
}

function deliveryTable({ deliveries }) {
  if (!deliveries.length) return empty(t("incidents.no_deliveries"));
  return table(
    t("incidents.deliveries"),
    [t("incidents.channel"), t("incidents.status"), { text: t("incidents.attempts"), class: "num" }, t("incidents.when")],
    deliveries.map((d) =>
      h("tr", {}, h("td", { text: d.channel }), h("td", {}, statusPill(d.status)), h("td", { class: "num", text: fmt.number(d.attempts) }), h("td", { text: fmt.dateTime(d.sent_at || d.created_at) })),
    ),
  );
}

function loadSilences(box, signal, operator) {
  return fill(box, () => api.get("/api/incidents/silences", {}, { signal }), ({ silences }) => {
    if (!silences.length) return empty(t("incidents.no_silences"));
    return h(
      "ul",
      { class: "records" },
      silences.map((s) =>
        h(
          "li",
          { class: "record" },
          h("div", { class: "title", text: s.source || s.fingerprint }),
          statusPill(s.active ? "active" : "cancelled"),
          h("div", { class: "meta" }, h("span", { text: s.comment }), h("span", { text: s.author }), h("span", { text: t("incidents.until", { when: fmt.dateTime(s.expires_at) }) })),
          operator && s.active
            ? h("div", { class: "record-actions" }, h("button", { type: "button", class: "secondary", on: { click: async () => {
                try {
                  await api.del(`/api/incidents/silences/${encodeURIComponent(s.id)}`);
                  toast(t("incidents.silence_ended"));
                  loadSilences(box, signal, operator);
                } catch (err) {
                  toast(err.message, "bad");
                }
              } } }, t("incidents.end_silence")))
            : null,
        ),
      ),
    );
  }, { signal });
}

function raiseForm(box, reload) {
  if (box.querySelector("#raise-form")) return box.querySelector("#raise-form select").focus();
  const wrapper = h("div");
  const form = onSubmit(
    h(
      "form",
      { id: "raise-form", novalidate: true },
      select({ name: "severity", label: t("incidents.severity"), options: enumOptions(SEVERITIES, "status"), value: "WARNING" }),
      input({ name: "source", label: t("incidents.source"), required: true, value: "dashboard", attrs: { maxlength: 100 } }),
      textarea({ name: "message", label: t("incidents.message"), required: true }),
      h("div", { class: "card-actions" }, submit(t("incidents.raise_submit")), h("button", { type: "button", class: "secondary", on: { click: () => wrapper.remove() } }, t("action.cancel"))),
    ),
    async (v) => {
      await api.post("/api/incidents/raise", v);
      toast(t("incidents.raised"));
      wrapper.remove();
      await reload();
    },
  );
  mount(wrapper, card(t("incidents.raise"), form));
  box.append(wrapper);
  form.querySelector("select").focus();
}

function silenceForm(box, silences, signal) {
  if (box.querySelector("#silence-form")) return box.querySelector("#silence-form input").focus();
  const wrapper = h("div");
  const form = onSubmit(
    h(
      "form",
      { id: "silence-form", novalidate: true },
      h("p", { class: "small muted", text: t("incidents.silence_hint") }),
      h("div", { class: "form-grid cols-2" },
        input({ name: "source", label: t("incidents.source") }),
        input({ name: "fingerprint", label: t("incidents.fingerprint"), attrs: { pattern: "[0-9a-f]{12}" } }),
      ),
      textarea({ name: "comment", label: t("incidents.comment"), required: true }),
      h("div", { class: "form-grid cols-2" },
        input({ name: "author", label: t("incidents.author"), required: true, value: session.current() ? who(session.current()) : "" }),
        input({ name: "duration_minutes", label: t("incidents.duration"), type: "number", required: true, value: "60", attrs: { min: 1, inputmode: "numeric" } }),
      ),
      h("div", { class: "card-actions" }, submit(t("incidents.silence_submit")), h("button", { type: "button", class: "secondary", on: { click: () => wrapper.remove() } }, t("action.cancel"))),
    ),
    async (v) => {
      const body = compact({ ...v, duration_minutes: Number(v.duration_minutes) });
      await api.post("/api/incidents/silences", body);
      track("silence.create");
      toast(t("incidents.silenced_ok"));
      wrapper.remove();
      await loadSilences(silences, signal, true);
    },
  );
  mount(wrapper, card(t("incidents.silence"), form));
  box.append(wrapper);
  form.querySelector("input").focus();
}
