// Privacy requests (GDPR/CCPA): a data subject's export (a summary per
// kind of data and the JSON to download) and erasure (confirmed, with the
// reason kept in the audit chain), and the retention windows in force.
// Admins act within their tenant; admins of the platform may name one.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, fill, facts, table } from "../ui/layout.js";
import { input, onSubmit, submit, compact } from "../ui/fields.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import { track } from "../telemetry.js";

export async function render({ main, signal }) {
  const result = h("div", { id: "privacy-result", "aria-live": "polite" });
  const retention = h("div");
  const form = requestForm(result);
  mount(main, header(t("privacy.title")), card(t("privacy.request"), h("p", { class: "muted", text: t("privacy.request_hint") }), form), result, retention);
  await fill(retention, () => api.get("/api/privacy/retention", {}, { signal }), retentionCard, { signal });
}

function requestForm(result) {
  const form = h(
    "form",
    { id: "privacy-form", novalidate: true },
    h(
      "div",
      { class: "form-grid cols-2" },
      input({ name: "email", label: t("privacy.email"), type: "email", required: true, attrs: { autocomplete: "off" } }),
      session.isGlobal() ? input({ name: "tenant_id", label: t("privacy.tenant"), hint: t("privacy.tenant_hint"), attrs: { autocomplete: "off", pattern: "[a-z0-9_-]{1,64}" } }) : null,
    ),
    input({ name: "reason", label: t("privacy.reason"), hint: t("privacy.reason_hint"), attrs: { maxlength: "200", autocomplete: "off" } }),
    h(
      "div",
      { class: "card-actions" },
      submit(t("privacy.export")),
      h("button", { type: "button", class: "danger", id: "privacy-erase", on: { click: () => erase(form, result) } }, t("privacy.erase")),
    ),
  );
  return onSubmit(form, async (v) => {
    const data = await api.get("/api/privacy/export", compact({ email: v.email, tenant_id: v.tenant_id }));
    track("privacy.export");
    mount(result, exportCard(data));
  });
}

function exportCard(data) {
  const rows = Object.entries(data.sections).map(([name, list]) => h("tr", {}, h("td", {}, h("code", { text: name })), h("td", { class: "num", text: fmt.number(list.length) })));
  const download = h("button", { type: "button", class: "secondary", id: "privacy-download", on: { click: () => save(data) } }, t("privacy.download"));
  return card(
    t("privacy.export_title", { email: data.subject.email }),
    h("div", { class: "meta" }, facts([[t("privacy.rows"), fmt.number(data.rows)], [t("privacy.tenant"), data.tenant || t("privacy.all_tenants")], [t("privacy.generated"), fmt.dateTime(data.generated_at)]])),
    table(t("privacy.sections"), [t("privacy.section"), { text: t("privacy.rows"), class: "num" }], rows),
    data.truncated.length ? h("p", { class: "muted", text: t("privacy.truncated", { sections: data.truncated.join(", ") }) }) : null,
    h("div", { class: "card-actions" }, download),
  );
}

function save(data) {
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const link = h("a", { href: URL.createObjectURL(blob), download: `privacy-export-${data.subject.pseudonym.slice(7, 19)}.json`, class: "visually-hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 30000);
}

async function erase(form, result) {
  const email = form.elements.email.value.trim();
  if (!form.elements.email.checkValidity() || !email) {
    form.elements.email.focus();
    form.reportValidity();
    return;
  }
  if (!(await confirmDialog({ title: t("privacy.erase"), body: t("privacy.erase_confirm", { email }), confirmLabel: t("privacy.erase"), danger: true }))) return;
  try {
    const body = compact({ email, reason: form.elements.reason.value.trim() });
    const tenant = form.elements.tenant_id?.value.trim();
    const r = await api.post("/api/privacy/delete", body, tenant ? { query: { tenant_id: tenant } } : {});
    track("privacy.erase");
    toast(t("privacy.erased"));
    const counts = Object.entries(r.erased).map(([k, n]) => [k, fmt.number(n)]);
    mount(result, card(t("privacy.erased_title"), h("div", { class: "meta" }, facts([[t("privacy.audit_seq"), fmt.number(r.audit_seq)], ...counts]))));
  } catch (err) {
    toast(err.message, "bad");
  }
}

function retentionCard(data) {
  const items = data.rules.map((r) =>
    h("li", { class: "record" }, h("div", { class: "title" }, h("code", { text: r.kind })), h("div", { class: "meta" }, facts([[t("privacy.days"), fmt.number(r.days)], [t("privacy.action"), r.action]]))),
  );
  const last = data.last_run;
  return card(
    t("privacy.retention"),
    h("ul", { class: "records", id: "privacy-retention" }, items),
    h("p", { class: "muted", text: last ? t("privacy.last_run", { when: fmt.dateTime(last.started_at), summary: last.summary || last.error || last.status }) : t("privacy.never_run") }),
  );
}
