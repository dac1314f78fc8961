// Billing: usage per tenant for a month priced by its plan, the usage
// invoices (draft a closed month, send a draft through Stripe:
// operators), and the tenant's billing settings (whether jobs run before
// they are paid, where invoices go: admins change them, confirmed first).

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, fill, table, facts } from "../ui/layout.js";
import { empty, statusPill, errorMessage } from "../ui/states.js";
import { input, select, enumOptions, onSubmit, submit } from "../ui/fields.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import { amount } from "../ui/money.js";

export const UNPAID = ["run", "hold"];

/** `YYYY-MM` of the month `offset` months from now (UTC). */
export function month(offset = 0, now = new Date()) {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  return d.toISOString().slice(0, 7);
}

export async function render({ main, query, signal, replaceQuery }) {
  const period = /^\d{4}-\d{2}$/.test(query.period || "") ? query.period : month();
  const usageBox = h("div", { id: "billing-usage" });
  const invoiceBox = h("div", { id: "billing-invoices" });
  const settingsBox = h("div", { id: "billing-settings" });
  const loadUsage = (p) => fill(usageBox, () => api.get("/api/billing/usage", { period: p }, { signal }), usage, { signal });
  const loadSettings = () => fill(settingsBox, () => api.get("/api/billing/settings", {}, { signal }), (s) => settings(s, loadSettings), { signal });
  // Sending an invoice may create the tenant's Stripe customer: both reload.
  const loadInvoices = () => fill(invoiceBox, () => api.get("/api/billing/invoices", {}, { signal }), (d) => invoices(d, () => Promise.all([loadInvoices(), loadSettings()])), { signal });
  const periodField = input({ name: "period", label: t("billing.period"), type: "month", value: period, attrs: { max: month() } });
  periodField.querySelector("input").addEventListener("change", (e) => {
    if (!/^\d{4}-\d{2}$/.test(e.target.value)) return;
    replaceQuery({ period: e.target.value });
    loadUsage(e.target.value);
  });
  mount(
    main,
    header(t("billing.title")),
    card(t("billing.usage"), h("div", { class: "form-grid cols-2" }, periodField), usageBox),
    card(t("billing.invoices"), session.atLeast("operator") ? draftForm(loadInvoices) : null, invoiceBox),
    card(t("billing.settings"), settingsBox),
  );
  await Promise.all([loadUsage(period), loadInvoices(), loadSettings()]);
}

function usage(data) {
  if (!data.tenants.length) return empty(t("billing.no_usage"));
  return h(
    "div",
    { class: "stack" },
    table(
      t("billing.usage_of", { period: data.period }),
      [t("finops.tenant"), t("finops.plan"), { text: t("billing.completed"), class: "num" }, { text: t("billing.included"), class: "num" }, { text: t("billing.billable"), class: "num" }, { text: t("billing.paid_at_checkout"), class: "num" }, { text: t("billing.total"), class: "num" }],
      data.tenants.map((u) =>
        h(
          "tr",
          {},
          h("th", { scope: "row", text: u.tenant_id }),
          h("td", { text: t(`plan.${u.plan}`) }),
          h("td", { class: "num", text: fmt.number(u.jobs_completed) }),
          h("td", { class: "num", text: fmt.number(u.included_jobs) }),
          h("td", { class: "num", text: fmt.number(u.billable_jobs) }),
          h("td", { class: "num", text: fmt.number(u.paid_at_checkout) }),
          h("td", { class: "num", text: amount(u.total) }),
        ),
      ),
    ),
    data.tenants.some((u) => u.open) ? h("p", { class: "muted small", text: t("billing.open_period") }) : null,
  );
}

function draftForm(reload) {
  const form = onSubmit(
    h(
      "form",
      { id: "draft-invoice-form", novalidate: true },
      h("div", { class: "form-grid cols-2" }, input({ name: "period", label: t("billing.draft_period"), type: "month", value: month(-1), required: true, hint: t("billing.draft_hint"), attrs: { max: month(-1) } })),
      h("div", { class: "card-actions" }, submit(t("billing.draft"))),
    ),
    async (v) => {
      const invoice = await api.post("/api/billing/invoices", { period: v.period });
      toast(t("billing.drafted", { period: invoice.period }));
      await reload();
    },
  );
  return form;
}

function invoices(data, reload) {
  if (!data.invoices.length) return empty(t("billing.no_invoices"));
  const canSend = session.atLeast("operator");
  return h(
    "ul",
    { class: "records", id: "invoice-list" },
    data.invoices.map((inv) =>
      h(
        "li",
        { class: "record", dataset: { invoiceId: inv.id } },
        h("div", { class: "title", text: `${inv.period} · ${amount(inv.total)}` }),
        statusPill(inv.status),
        h(
          "div",
          { class: "meta" },
          h("span", { text: inv.tenant_id }),
          h("span", { text: t(`plan.${inv.plan}`) }),
          h("span", { text: t("billing.drafted_at", { when: fmt.dateTime(inv.created_at), who: inv.created_by }) }),
          inv.sent_at ? h("span", { text: t("billing.sent_at", { when: fmt.dateTime(inv.sent_at) }) }) : null,
          inv.paid_at ? h("span", { text: t("billing.paid_at", { when: fmt.dateTime(inv.paid_at) }) }) : null,
          inv.hosted_url ? h("a", { href: inv.hosted_url, target: "_blank", rel: "noopener noreferrer", text: t("billing.hosted") }) : null,
        ),
        h(
          "details",
          { class: "lines" },
          h("summary", { text: t("billing.lines", { count: fmt.number(inv.lines.length) }) }),
          h("ul", {}, inv.lines.map((l) => h("li", { text: `${l.description}: ${fmt.number(l.quantity)} × ${amount(l.unit_amount)} = ${amount(l.amount)}` }))),
        ),
        canSend && inv.status === "draft"
          ? h("div", { class: "record-actions" }, h("button", { type: "button", dataset: { action: "send" }, on: { click: () => send(inv, reload) } }, t("billing.send")))
          : null,
      ),
    ),
  );
}

async function send(inv, reload) {
  if (!(await confirmDialog({ title: t("billing.send"), body: t("billing.send_confirm", { period: inv.period, tenant: inv.tenant_id, total: amount(inv.total) }), confirmLabel: t("billing.send") }))) return;
  try {
    await api.post(`/api/billing/invoices/${encodeURIComponent(inv.id)}/send`);
    toast(t("billing.sent"));
    await reload();
  } catch (err) {
    toast(errorMessage(err), "bad");
  }
}

function settings(s, reload) {
  const shown = facts([
    [t("finops.tenant"), s.tenant_id],
    [t("billing.unpaid_jobs"), t(`billing.unpaid.${s.unpaid_jobs}`)],
    [t("billing.email"), s.billing_email || t("billing.no_email")],
    [t("billing.stripe_customer"), s.stripe_customer || "—"],
  ]);
  if (!session.atLeast("admin")) return shown;
  const form = onSubmit(
    h(
      "form",
      { id: "billing-settings-form", novalidate: true },
      h(
        "div",
        { class: "form-grid cols-2" },
        select({ name: "unpaid_jobs", label: t("billing.unpaid_jobs"), options: enumOptions(UNPAID, "billing.unpaid"), value: s.unpaid_jobs, hint: t("billing.unpaid_hint") }),
        input({ name: "billing_email", label: t("billing.email"), type: "email", value: s.billing_email || "", hint: t("billing.email_hint"), attrs: { autocomplete: "off" } }),
      ),
      submit(t("billing.save")),
    ),
    async (v) => {
      const change = {};
      if (v.unpaid_jobs !== s.unpaid_jobs) change.unpaid_jobs = v.unpaid_jobs;
      if ((v.billing_email || null) !== (s.billing_email || null)) change.billing_email = v.billing_email || null;
      if (!Object.keys(change).length) return toast(t("billing.unchanged"));
      const body = t("billing.save_confirm", { tenant: s.tenant_id, unpaid: t(`billing.unpaid.${v.unpaid_jobs}`), email: v.billing_email || t("billing.no_email") });
      if (!(await confirmDialog({ title: t("billing.settings"), body }))) return;
      await api.patch("/api/billing/settings", change);
      toast(t("billing.saved"));
      await reload();
    },
  );
  return h("div", { class: "stack" }, shown, form);
}
