// The customer portal: receipts by customer email, each opened as its
// printable page or copied as its signed download link (valid for
// portal_link_ttl_hours, no sign-in needed). Operators look up any
// customer; a signed-in customer sees their own receipts.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, fill } from "../ui/layout.js";
import { empty, statusPill } from "../ui/states.js";
import { input, submit } from "../ui/fields.js";
import { toast } from "../ui/toast.js";
import { amount } from "../ui/money.js";
import { href } from "../routes.js";

export async function render({ main, query, signal, replaceQuery }) {
  const box = h("div", { class: "stack", id: "receipts" });
  const operator = session.atLeast("operator");
  const own = session.current()?.user?.email || null;
  const show = (email) => fill(box, () => api.get("/api/portal/receipts", { email }, { signal }), receipts, { signal });
  if (!operator) {
    // A customer: their own receipts (the API refuses anyone else's).
    mount(main, header(t("portal.own_title")), box);
    if (own) await show(own);
    else mount(box, empty(t("portal.no_email")));
    return;
  }
  mount(
    main,
    header(t("portal.title")),
    card(t("portal.lookup"), lookupForm(query.email || "", (email) => {
      replaceQuery({ email });
      show(email);
    })),
    box,
  );
  if (query.email) await show(query.email);
  else mount(box, empty(t("portal.ask")));
}

function lookupForm(value, look) {
  const form = h(
    "form",
    { id: "portal-form", class: "inline-form", role: "search", novalidate: true },
    input({ name: "email", label: t("portal.email"), type: "email", value, required: true, attrs: { autocomplete: "off", spellcheck: "false" } }),
    h("div", { class: "card-actions" }, submit(t("portal.find"))),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const email = form.elements.email.value.trim();
    if (email) look(email);
    else form.elements.email.focus();
  });
  return form;
}

function receipts(data) {
  if (!data.receipts.length) return empty(t("portal.none", { email: data.email }));
  return h(
    "section",
    { class: "stack", "aria-labelledby": "receipts-title" },
    h("h2", { id: "receipts-title", text: t("portal.receipts_for", { email: data.email }) }),
    h("p", { class: "muted small", text: t("portal.link_ttl", { hours: fmt.number(data.link_ttl_hours) }) }),
    h("ul", { class: "records", id: "receipt-list" }, data.receipts.map(receipt)),
  );
}

function receipt(r) {
  const link = new URL(r.download_url, location.origin).href;
  return h(
    "li",
    { class: "record", dataset: { receiptId: r.id } },
    h("div", { class: "title" }, amount(r.amount), r.amount_refunded?.amount > 0 ? h("span", { class: "muted", text: ` · ${t("payments.refunded_amount", { amount: amount(r.amount_refunded) })}` }) : null),
    statusPill(r.status),
    h(
      "div",
      { class: "meta" },
      h("span", { text: fmt.dateTime(r.paid_at) }),
      h("span", { text: r.description }),
      r.job_id ? h("a", { href: href(`/jobs/${encodeURIComponent(r.job_id)}`), text: t("payments.job", { id: r.job_id }) }) : null,
      h("code", { text: r.id }),
      h("span", { text: t("portal.link_expires", { when: fmt.dateTime(r.expires_iso) }) }),
    ),
    h(
      "div",
      { class: "record-actions" },
      h("a", { class: "button secondary", href: link, target: "_blank", rel: "noopener noreferrer", dataset: { action: "open" }, "aria-label": t("portal.open_receipt", { id: r.id }), text: t("portal.open") }),
      h("button", { type: "button", class: "secondary", dataset: { action: "copy" }, "aria-label": t("portal.copy_link_of", { id: r.id }), on: { click: async () => {
        try {
          await navigator.clipboard.writeText(link);
          toast(t("portal.copied"));
        } catch {
          toast(t("portal.copy_failed"), "bad");
        }
      } } }, t("portal.copy_link")),
    ),
  );
}
