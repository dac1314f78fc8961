// The audit chain: its verification (every link recomputed, anchors
// checked), an export for offline verification (tools/verify_audit_export.py),
// the entries, newest first, filtered by action or actor, and the
// compliance events received by webhook.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import { header, card, fill, facts } from "../ui/layout.js";
import { statusPill, pill } from "../ui/states.js";
import { toast } from "../ui/toast.js";
import { saveBlob } from "../ui/download.js";
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
  const compliance = h("div", { id: "compliance-events" });
  mount(
    main,
    header(t("audit.title"), h("button", { type: "button", id: "verify-audit", class: "secondary", on: { click: check } }, t("audit.verify"))),
    card(t("audit.verification"), verify),
    card(t("audit.export"), exportForm()),
    h("section", { class: "stack", "aria-labelledby": "audit-entries-title" }, h("h2", { id: "audit-entries-title", text: t("audit.entries") }), form, list, more),
    card(t("compliance.title"), compliance),
  );
  await Promise.all([
    check(),
    load(list, more, compact({ action: query.action, actor: query.actor }), signal),
    fill(compliance, () => api.get("/api/compliance/events", { limit: 20 }, { signal }), complianceList, { signal }),
  ]);
}

/** From and to (whole UTC days, both included) → the export, saved as JSON. */
function exportForm() {
  const form = h(
    "form",
    { class: "filters", id: "audit-export" },
    input({ name: "from", type: "date", label: t("audit.export_from"), attrs: { required: true } }),
    input({ name: "to", type: "date", label: t("audit.export_to"), attrs: { required: true } }),
    h("div", { class: "filter-actions" }, submit(t("audit.export_download"))),
    h("p", { class: "muted", text: t("audit.export_hint") }),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const { from, to } = Object.fromEntries(new FormData(form));
    const end = new Date(`${to}T00:00:00Z`);
    end.setUTCDate(end.getUTCDate() + 1);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const data = await api.get("/api/audit/export", { from: `${from}T00:00:00Z`, to: end.toISOString() });
      saveBlob(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }), `audit-export-${from}-${to}.json`);
      toast(t("audit.exported", { count: fmt.number(data.count) }));
    } catch (err) {
      toast(err.message, "bad");
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

const SEVERITY_TONES = { low: "neutral", medium: "info", high: "warn", critical: "bad" };

function complianceList(data) {
  if (!data.events.length) return h("p", { class: "muted", text: t("compliance.none") });
  return h(
    "ol",
    { class: "records" },
    data.events.map((e) =>
      h(
        "li",
        { class: "record" },
        h("div", { class: "title", text: e.summary }),
        pill(t(`compliance.severity_${e.severity}`), SEVERITY_TONES[e.severity] || "neutral"),
        h(
          "div",
          { class: "meta" },
          h("span", { class: "mono", text: e.type }),
          h("span", { text: e.source }),
          h("span", {}, h("time", { datetime: e.received_at, text: fmt.dateTime(e.received_at) })),
          e.forwarded ? h("span", { text: t("compliance.forwarded", { count: fmt.number(e.forwarded) }) }) : null,
        ),
      ),
    ),
  );
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
