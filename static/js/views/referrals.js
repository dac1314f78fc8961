// Referrals: the leaderboard by revenue and the figures per campaign over
// a period, creating a referral code (operators), and the payout CSV of
// what referrers are owed (admins; an audited export). Amounts stay per
// currency; a USD figure is shown beside them only when every currency
// had a rate.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, fill, kpis, table } from "../ui/layout.js";
import { empty } from "../ui/states.js";
import { input, select, onSubmit, submit, compact } from "../ui/fields.js";
import { toast } from "../ui/toast.js";
import { amount } from "../ui/money.js";
import { download } from "../ui/download.js";

export const PERIODS = [30, 90, 365];

/** Totals per currency ({"EUR": 2500}) side by side, never summed. */
export function totals(byCurrency) {
  const codes = Object.keys(byCurrency || {}).sort();
  return codes.length ? codes.map((c) => fmt.minor(byCurrency[c], c)).join(" · ") : fmt.minor(0, "USD");
}

/** A money view ({by_currency, usd, missing_rates}): per currency, and in USD when it converts and differs. */
function money(m) {
  const codes = Object.keys(m?.by_currency || {});
  const usd = m?.usd && (codes.length > 1 || (codes.length === 1 && codes[0] !== "USD")) ? ` (≈ ${amount(m.usd)})` : "";
  return totals(m?.by_currency) + usd;
}

export async function render({ main, query, signal, replaceQuery }) {
  const days = PERIODS.includes(Number(query.days)) ? Number(query.days) : 30;
  const filters = { days, campaign: query.campaign || "" };
  const box = h("div", { class: "stack", id: "referrals" });
  const createBox = h("div");
  const load = () => fill(box, () => api.get("/api/growth/referrals", compact(filters), { signal }), view, { signal });
  const form = h(
    "form",
    { class: "filters", id: "referral-filters", role: "search" },
    select({ name: "days", label: t("finops.period"), options: PERIODS.map((d) => [d, t("finops.last_days", { days: fmt.number(d) })]), value: days }),
    input({ name: "campaign", label: t("referrals.campaign"), value: filters.campaign, attrs: { autocomplete: "off" } }),
    h("div", { class: "filter-actions" }, submit(t("filter.apply"))),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    filters.days = Number(form.elements.days.value);
    filters.campaign = form.elements.campaign.value.trim();
    replaceQuery(compact(filters));
    load();
  });
  mount(
    main,
    header(
      t("referrals.title"),
      session.atLeast("operator") ? h("button", { type: "button", id: "new-referral", on: { click: () => createForm(createBox, load) } }, t("referrals.create")) : null,
      session.atLeast("admin") ? h("button", { type: "button", class: "secondary", id: "payouts-csv", on: { click: (e) => payouts(e.currentTarget) } }, t("referrals.payouts_csv")) : null,
    ),
    createBox,
    card(t("referrals.filters"), form),
    box,
  );
  if (query.do === "create" && session.atLeast("operator")) createForm(createBox, load);
  await load();
}

function view(d) {
  return h(
    "div",
    { class: "stack" },
    card(
      t("referrals.totals", { days: fmt.number(d.period_days) }),
      kpis(
        [
          [t("referrals.codes"), fmt.number(d.total_referrals)],
          [t("referrals.clicks"), fmt.number(d.total_clicks)],
          [t("referrals.signups"), fmt.number(d.total_signups)],
          [t("referrals.conversions"), fmt.number(d.total_conversions)],
          [t("referrals.revenue"), money(d.total_revenue)],
          [t("referrals.commission"), money(d.total_payout)],
          [t("referrals.payable"), totals(d.payable)],
          [t("referrals.held"), totals(d.held), t("referrals.held_note")],
          [t("referrals.refused"), fmt.number(d.refused.self_referral + d.refused.duplicate_signup), t("referrals.refused_detail", { self: fmt.number(d.refused.self_referral), duplicate: fmt.number(d.refused.duplicate_signup) })],
        ],
        { wide: true },
      ),
    ),
    card(
      t("referrals.leaderboard"),
      d.referrals.length
        ? table(
            t("referrals.leaderboard"),
            [t("referrals.code"), t("referrals.referrer"), t("referrals.campaign"), { text: t("referrals.clicks"), class: "num" }, { text: t("referrals.signups"), class: "num" }, { text: t("referrals.conversions"), class: "num" }, { text: t("referrals.revenue"), class: "num" }, { text: t("referrals.commission"), class: "num" }, { text: t("referrals.payable"), class: "num" }, { text: t("referrals.paid"), class: "num" }],
            d.referrals.map((r) =>
              h(
                "tr",
                { dataset: { code: r.referral_code } },
                h("th", { scope: "row" }, h("code", { text: r.referral_code })),
                h("td", { text: r.referrer_id }),
                h("td", { text: r.campaign || "—" }),
                h("td", { class: "num", text: fmt.number(r.clicks) }),
                h("td", { class: "num", text: fmt.number(r.signups) }),
                h("td", { class: "num", text: fmt.number(r.conversions) }),
                h("td", { class: "num", text: money(r.revenue) }),
                h("td", { class: "num", text: `${money(r.commission)} · ${fmt.percent(r.commission_pct)}` }),
                h("td", { class: "num", text: totals(r.payable) }),
                h("td", { class: "num", text: totals(r.paid) }),
              ),
            ),
          )
        : empty(t("referrals.none")),
    ),
    card(
      t("referrals.campaigns"),
      d.campaigns.length
        ? table(
            t("referrals.campaigns"),
            [t("referrals.campaign"), { text: t("referrals.clicks"), class: "num" }, { text: t("referrals.signups"), class: "num" }, { text: t("referrals.conversions"), class: "num" }, { text: t("referrals.revenue"), class: "num" }, { text: t("referrals.commission"), class: "num" }],
            d.campaigns.map((c) =>
              h(
                "tr",
                {},
                h("th", { scope: "row", text: c.campaign || "—" }),
                h("td", { class: "num", text: fmt.number(c.clicks) }),
                h("td", { class: "num", text: fmt.number(c.signups) }),
                h("td", { class: "num", text: fmt.number(c.conversions) }),
                h("td", { class: "num", text: money(c.revenue) }),
                h("td", { class: "num", text: money(c.commission) }),
              ),
            ),
          )
        : empty(t("referrals.no_campaigns")),
    ),
  );
}

function createForm(box, reload) {
  if (box.firstChild) return box.querySelector("input")?.focus();
  const form = onSubmit(
    h(
      "form",
      { id: "create-referral-form", novalidate: true },
      h(
        "div",
        { class: "form-grid cols-2" },
        input({ name: "referrer_id", label: t("referrals.referrer_id"), required: true, attrs: { autocomplete: "off", maxlength: 100 } }),
        input({ name: "referrer_email", label: t("referrals.referrer_email"), type: "email", required: true, attrs: { autocomplete: "off" } }),
        input({ name: "campaign", label: t("referrals.campaign"), attrs: { autocomplete: "off", maxlength: 100 } }),
        input({ name: "commission_pct", label: t("referrals.commission_pct"), type: "number", hint: t("referrals.commission_hint"), attrs: { min: 0, max: 100, step: "0.01", inputmode: "decimal" } }),
      ),
      h("div", { class: "card-actions" }, submit(t("referrals.create_submit")), h("button", { type: "button", class: "secondary", on: { click: () => mount(box) } }, t("action.cancel"))),
    ),
    async (v) => {
      const body = compact(v);
      if (body.commission_pct !== undefined) body.commission_pct = Number(body.commission_pct);
      const code = await api.post("/api/growth/referral/create", body);
      mount(
        box,
        card(
          t(code.created ? "referrals.created" : "referrals.existing"),
          h("p", {}, t("referrals.code_is"), " ", h("code", { class: "secret", id: "new-referral-code", tabindex: "0", text: code.referral_code })),
          h("div", { class: "card-actions" }, h("button", { type: "button", class: "secondary", on: { click: () => mount(box) } }, t("partners.done"))),
        ),
      );
      box.querySelector("#new-referral-code").focus();
      await reload();
    },
  );
  mount(box, card(t("referrals.create"), form));
  form.querySelector("input").focus();
}

async function payouts(button) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const name = await download("/api/growth/payouts/export", { accept: "text/csv", fallback: "echopilot-payouts.csv" });
    toast(t("referrals.payouts_saved", { name }));
  } catch (err) {
    toast(err.message, "bad");
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
