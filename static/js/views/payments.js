// Payments: the ledger (Stripe's charges as EchoPilot keeps them, newest
// first, filtered by status and currency), a refund of a charge for admins
// (full or partial, confirmed first, the refund cap's refusal shown in the
// form), and, for the platform's operators, the reconciliation runs.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, fill, table } from "../ui/layout.js";
import { empty, statusPill, errorMessage } from "../ui/states.js";
import { pagedList } from "../ui/paged.js";
import { input, select, enumOptions, onSubmit, submit, compact } from "../ui/fields.js";
import { confirmDialog } from "../ui/confirm.js";
import { toast } from "../ui/toast.js";
import { amount, toMajor, toMinor } from "../ui/money.js";
import { href } from "../routes.js";

/** The ledger's charge statuses (Stripe's). */
export const STATUSES = ["succeeded", "pending", "failed"];
export const REASONS = ["requested_by_customer", "duplicate", "fraudulent"];
const FILTERS = ["status", "currency"];
const PAGE = 25;

export async function render({ main, query, signal, replaceQuery }) {
  const list = h("ul", { class: "records", "aria-live": "polite", id: "payment-list" });
  const more = h("div", { class: "pager" });
  const runs = h("div");
  mount(
    main,
    header(t("payments.ledger_title"), session.isPlatform() && session.atLeast("admin") ? h("a", { class: "button secondary", href: href("/console", { command: "reconcile_payments" }), text: t("payments.run") }) : null),
    card(t("payments.filters"), filterForm(query, (filters) => {
      replaceQuery(filters);
      load(list, more, filters, signal);
    })),
    h("section", { "aria-labelledby": "payment-list-title", class: "stack" }, h("h2", { id: "payment-list-title", text: t("payments.ledger") }), list, more),
    session.isPlatform() ? runs : null,
  );
  const pending = [load(list, more, pick(query), signal)];
  // The reconciliation runs are platform-wide (the API refuses other tenants).
  if (session.isPlatform()) pending.push(fill(runs, () => api.get("/api/payments/reconciliations", { limit: 20 }, { signal }), reconciliations, { signal }));
  await Promise.all(pending);
}

function pick(query) {
  return Object.fromEntries(FILTERS.filter((k) => query[k]).map((k) => [k, query[k]]));
}

function filterForm(query, apply) {
  const form = h(
    "form",
    { class: "filters", id: "payment-filters", role: "search" },
    select({ name: "status", label: t("payments.status"), options: enumOptions(STATUSES, "payment_status", { any: true }), value: query.status || "" }),
    input({ name: "currency", label: t("payments.currency"), value: (query.currency || "").toUpperCase(), attrs: { maxlength: 3, autocomplete: "off", placeholder: t("payments.currency_example") } }),
    h("div", { class: "filter-actions" }, submit(t("filter.apply")), h("button", { type: "reset", class: "secondary" }, t("filter.clear"))),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = compact(Object.fromEntries(new FormData(form)));
    if (v.currency) v.currency = v.currency.toLowerCase();
    apply(v);
  });
  form.addEventListener("reset", () => setTimeout(() => apply({}), 0));
  return form;
}

function load(list, more, filters, signal) {
  const reload = () => load(list, more, filters, signal);
  return pagedList({
    list,
    more,
    signal,
    item: (c) => chargeItem(c, reload),
    emptyText: Object.keys(filters).length ? t("payments.none_match") : t("payments.empty"),
    fetchPage: async (cursor) => {
      const data = await api.get("/api/payments", { ...filters, limit: PAGE, cursor }, { signal });
      return { items: data.payments, next: data.next_cursor };
    },
  });
}

/** A charge's state in words: refunded (in part or in full), disputed, or Stripe's status. */
function chargeState(c) {
  if (c.disputed) return "disputed";
  if (c.status === "succeeded" && c.amount_refunded?.amount > 0) return c.net.amount > 0 ? "partially_refunded" : "refunded";
  return c.status;
}

function chargeItem(c, reload) {
  const refundBox = h("div", { class: "refund-box" });
  const refundable = session.atLeast("admin") && c.status === "succeeded" && c.net && c.net.amount > 0;
  return h(
    "li",
    { class: "record", dataset: { chargeId: c.id } },
    h("div", { class: "title" }, amount(c.amount), c.amount_refunded?.amount > 0 ? h("span", { class: "muted", text: ` · ${t("payments.refunded_amount", { amount: amount(c.amount_refunded) })}` }) : null),
    statusPill(chargeState(c)),
    h(
      "div",
      { class: "meta" },
      h("span", { text: fmt.dateTime(c.created_at) }),
      h("span", { text: c.customer ? t("payments.customer", { customer: c.customer }) : t("payments.no_customer") }),
      h("code", { text: c.id }),
      c.job_id ? h("a", { href: href(`/jobs/${encodeURIComponent(c.job_id)}`), text: t("payments.job", { id: c.job_id }) }) : null,
      c.tenant_id && session.isGlobal() ? h("span", { text: c.tenant_id }) : null,
      c.livemode ? null : h("span", { text: t("payments.test_mode") }),
      c.description ? h("span", { text: c.description }) : null,
    ),
    refundable
      ? h("div", { class: "record-actions" }, h("button", { type: "button", class: "secondary", dataset: { action: "refund" }, "aria-expanded": "false", on: { click: (e) => toggleRefund(e.currentTarget, refundBox, c, reload) } }, t("payments.refund")))
      : null,
    refundBox,
  );
}

function toggleRefund(button, box, c, reload) {
  if (box.firstChild) {
    mount(box);
    button.setAttribute("aria-expanded", "false");
    return;
  }
  button.setAttribute("aria-expanded", "true");
  mount(box, refundForm(c, reload, () => {
    mount(box);
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }));
  box.querySelector("input").focus();
}

/**
 * The refund form: an amount in the charge's currency (what is left of it
 * by default; less for a partial refund), Stripe's reason and a note. The
 * API's refusal (the refund cap, more than is left) shows in the form with
 * its specifics.
 */
function refundForm(c, reload, close) {
  const currency = c.net.currency;
  const form = h(
    "form",
    { class: "refund-form", novalidate: true },
    h(
      "div",
      { class: "form-grid cols-2" },
      input({ name: "amount", label: t("payments.refund_amount", { currency }), value: toMajor(c.net.amount, currency), hint: t("payments.refund_hint", { max: amount(c.net) }), required: true, attrs: { inputmode: "decimal", autocomplete: "off" } }),
      select({ name: "reason", label: t("payments.reason"), options: enumOptions(REASONS, "refund_reason") }),
    ),
    input({ name: "note", label: t("payments.note"), attrs: { maxlength: 500, autocomplete: "off" } }),
    h("div", { class: "card-actions" }, submit(t("payments.refund_submit")), h("button", { type: "button", class: "secondary", on: { click: close } }, t("action.cancel"))),
  );
  const errorBox = h("div", { class: "error-text", role: "alert" });
  form.append(errorBox);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errorBox.replaceChildren();
    const v = Object.fromEntries(new FormData(form));
    const minor = toMinor(v.amount, currency);
    if (minor === null || minor < 1 || minor > c.net.amount) {
      errorBox.textContent = t("payments.refund_invalid", { max: amount(c.net) });
      return;
    }
    const what = { amount: amount({ amount: minor, currency }), charge: c.id };
    const partial = minor < c.net.amount;
    if (!(await confirmDialog({ title: t("payments.refund"), body: t(partial ? "payments.refund_confirm_partial" : "payments.refund_confirm", what), confirmLabel: t("payments.refund_submit"), danger: true }))) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api.post("/api/payments/refund", compact({ charge_id: c.id, amount: minor, reason: v.reason, note: v.note.trim() }));
      toast(t("payments.refunded", what));
      await reload();
    } catch (err) {
      // The guardrail's refusal names the cap and the amount in `detail`.
      errorBox.append(h("div", { class: "notice bad" }, h("strong", { text: errorMessage(err) }), err.detail ? h("p", { class: "small", text: err.detail }) : null));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** The reconciliation runs (Stripe's charges against the ledger), newest first. */
function reconciliations(data) {
  return card(
    t("payments.title"),
    data.configured ? null : h("p", { class: "notice warn", text: t("payments.not_configured") }),
    data.reconciliations.length
      ? table(
          t("payments.title"),
          [t("payments.when"), t("payments.window"), t("payments.trigger"), { text: t("payments.fetched"), class: "num" }, { text: t("payments.added"), class: "num" }, { text: t("payments.changed"), class: "num" }, { text: t("payments.unchanged"), class: "num" }, { text: t("payments.local_only"), class: "num" }, { text: t("payments.unreadable"), class: "num" }],
          data.reconciliations.map((r) =>
            h(
              "tr",
              {},
              h("td", { text: fmt.dateTime(r.at) }),
              h("td", { text: `${fmt.day(r.from, "short")} – ${fmt.day(r.to, "short")}` }),
              h("td", { text: `${r.trigger} · ${r.actor}` }),
              ...["fetched", "added", "changed", "unchanged", "local_only", "unreadable"].map((k) => h("td", { class: "num", text: fmt.number(typeof r[k] === "object" && r[k] !== null ? r[k].count : r[k]) })),
            ),
          ),
        )
      : empty(t("payments.none")),
  );
}
