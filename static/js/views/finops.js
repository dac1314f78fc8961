// FinOps: revenue, AI and infrastructure cost, profit, margin and ROI over
// a period; the same per tenant; profit and loss by day or month; and the
// forecast of load and revenue with its prediction intervals and backtest
// error. Money stays in its currency: a total in the report currency is
// shown only when every currency had a rate (and names the rates used).

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import { header, card, fill, kpis, table } from "../ui/layout.js";
import { empty } from "../ui/states.js";
import { select } from "../ui/fields.js";
import { lineChart } from "../charts.js";
import { amount, perCurrency, conversionNote } from "../ui/money.js";

export const PERIODS = [7, 30, 90];
export const GRANULARITIES = ["monthly", "daily"];
const FORECAST_DAYS = 14;

export async function render({ main, query, signal, replaceQuery }) {
  const days = PERIODS.includes(Number(query.days)) ? Number(query.days) : 30;
  const granularity = GRANULARITIES.includes(query.granularity) ? query.granularity : "monthly";
  const summaryBox = h("div", { id: "finops-summary" });
  const tenantsBox = h("div", { id: "finops-tenants" });
  const pnlBox = h("div", { id: "finops-pnl" });
  const forecastBox = h("div", { id: "finops-forecast" });
  const state = { days, granularity };
  const loadPeriod = () =>
    Promise.all([
      fill(summaryBox, () => api.get("/api/finops/summary", { days: state.days }, { signal }), summary, { signal }),
      fill(tenantsBox, () => api.get("/api/finops/tenants", { days: state.days }, { signal }), tenants, { signal }),
    ]);
  const loadPnl = () => fill(pnlBox, () => api.get("/api/finance/pnl", { granularity: state.granularity }, { signal }), pnl, { signal });
  const period = select({ name: "days", id: "finops-days", label: t("finops.period"), options: PERIODS.map((d) => [d, t("finops.last_days", { days: fmt.number(d) })]), value: days });
  period.querySelector("select").addEventListener("change", (e) => {
    state.days = Number(e.target.value);
    replaceQuery(state);
    loadPeriod();
  });
  const grain = select({ name: "granularity", id: "finops-granularity", label: t("finops.granularity"), options: GRANULARITIES.map((g) => [g, t(`finops.granularity.${g}`)]), value: granularity });
  grain.querySelector("select").addEventListener("change", (e) => {
    state.granularity = e.target.value;
    replaceQuery(state);
    loadPnl();
  });
  mount(
    main,
    header(t("finops.title")),
    h("div", { class: "filters" }, period),
    card(t("finops.summary"), summaryBox),
    card(t("finops.tenants"), tenantsBox),
    card(t("finops.pnl"), h("div", { class: "filters" }, grain), pnlBox),
    card(t("finops.forecast"), forecastBox),
  );
  await Promise.all([loadPeriod(), loadPnl(), fill(forecastBox, () => api.get("/api/forecast", { days: FORECAST_DAYS }, { signal }), forecast, { signal })]);
}

const REVENUE_COLUMNS = () => [["payments", t("finops.payments"), true], ["gross", t("finops.gross")], ["refunded", t("finops.refunded")], ["net", t("finops.net")]];

function summary(s) {
  const p = s.profitability;
  // Without a rate for every currency there is no total: "—", and why.
  const or = (figure, text) => (figure === null ? ["—", t("finops.unavailable")] : [text(figure)]);
  return h(
    "div",
    { class: "stack" },
    h("p", { class: "muted small", text: t("finops.window", { from: fmt.dateTime(s.from), to: fmt.dateTime(s.to), currency: s.currency }) }),
    kpis(
      [
        [t("finops.revenue"), ...or(p.total_revenue, amount)],
        [t("finops.ai_cost"), amount(s.costs.ai.total_cost), t("finops.jobs", { count: fmt.number(s.costs.ai.job_count) })],
        [t("finops.infrastructure"), amount(s.costs.infrastructure.total_cost)],
        [t("finops.total_costs"), amount(p.total_costs)],
        [t("finops.profit"), ...or(p.profit, amount)],
        [t("finops.margin"), ...or(p.margin_pct, fmt.percent)],
        [t("finops.roi"), ...or(p.roi, fmt.percent)],
      ],
      { wide: true },
    ),
    conversionNote(s.revenue, s.currency),
    conversionNote({ conversions: s.costs.conversions }, s.currency),
    Object.keys(s.revenue.by_currency).length ? perCurrency(t("finops.revenue_by_currency"), s.revenue.by_currency, REVENUE_COLUMNS()) : empty(t("finops.no_revenue")),
  );
}

function tenants(data) {
  if (!data.tenants.length) return empty(t("finops.no_tenants"));
  return h(
    "div",
    { class: "stack" },
    table(
      t("finops.tenants"),
      [t("finops.tenant"), t("finops.plan"), { text: t("finops.jobs_created"), class: "num" }, { text: t("finops.ai_cost"), class: "num" }, { text: t("finops.infrastructure"), class: "num" }, { text: t("finops.revenue"), class: "num" }, { text: t("finops.profit"), class: "num" }],
      data.tenants.map((row) =>
        h(
          "tr",
          {},
          h("th", { scope: "row", text: row.tenant_id }),
          h("td", { text: row.plan ? t(`plan.${row.plan}`) : "—" }),
          h("td", { class: "num", text: fmt.number(row.jobs_created) }),
          h("td", { class: "num", text: amount(row.ai_cost) }),
          h("td", { class: "num", text: amount(row.infrastructure_cost) }),
          h("td", { class: "num" }, row.revenue ? amount(row.revenue) : byCurrencyText(row.revenue_by_currency, "net")),
          h("td", { class: "num", text: row.profit ? amount(row.profit) : "—" }),
        ),
      ),
    ),
    data.tenants.some((row) => row.missing_rates?.length) ? h("p", { class: "muted small", text: t("finops.tenant_currencies", { currency: data.currency }) }) : null,
  );
}

/** Amounts per currency side by side ("€25.00 · $6,049.00"), never summed. */
function byCurrencyText(byCurrency, key) {
  const codes = Object.keys(byCurrency || {}).sort();
  return codes.length ? codes.map((c) => fmt.minor(byCurrency[c][key], c.toUpperCase())).join(" · ") : "—";
}

const PNL_FIELDS = ["net_revenue", "ai_cost", "infrastructure_cost", "profit"];

/** P&L: one row per period and currency, then the period's converted total when every currency had a rate. */
function pnl(data) {
  const periods = data.periods.filter((p) => Object.keys(p.by_currency).length).reverse();
  if (!periods.length) return empty(t("finops.no_pnl"));
  const rows = [];
  for (const p of [...periods, { ...data.total, period: t("finops.total") }]) {
    const codes = Object.keys(p.by_currency).sort();
    codes.forEach((code, i) => {
      rows.push(
        h(
          "tr",
          {},
          i === 0 ? h("th", { scope: "rowgroup", class: "nowrap", rowspan: codes.length + (p.converted && !p.converted.unavailable && codes.length > 1 ? 1 : 0), text: p.period }) : null,
          h("td", { text: code }),
          PNL_FIELDS.map((f) => h("td", { class: "num", text: p.by_currency[code][f] === undefined ? "—" : fmt.minor(p.by_currency[code][f], code) })),
        ),
      );
    });
    if (p.converted && !p.converted.unavailable && codes.length > 1) {
      rows.push(h("tr", { class: "converted" }, h("td", { text: t("finops.in_currency", { currency: p.converted.currency }) }), PNL_FIELDS.map((f) => h("td", { class: "num", text: fmt.minor(p.converted[f], p.converted.currency) }))));
    }
  }
  return h(
    "div",
    { class: "stack" },
    table(t("finops.pnl"), [t("finops.period_col"), t("money.currency"), ...PNL_FIELDS.map((f) => ({ text: t(`finops.pnl.${f}`), class: "num" }))], rows),
    data.total.converted?.unavailable ? conversionNote(data.total.converted, data.total.converted.currency) : null,
  );
}

/**
 * The forecast of load and revenue: each a chart with its 80 % and 95 %
 * intervals and its backtest (revenue only when every currency converts).
 */
function forecast(f) {
  const labels = f.load.points.map((p) => fmt.shortDay(p.date));
  const chart = (part, title, format) =>
    lineChart({
      title,
      labels,
      format,
      maxLabels: 5,
      series: [{ name: t("finops.predicted"), values: part.points.map((p) => p.value), colour: 1 }],
      bands: [
        { name: t("finops.interval_95"), lower: { name: t("finops.lower_95"), values: part.points.map((p) => p.lower_95) }, upper: { name: t("finops.upper_95"), values: part.points.map((p) => p.upper_95) }, colour: 3 },
        { name: t("finops.interval_80"), lower: { name: t("finops.lower_80"), values: part.points.map((p) => p.lower_80) }, upper: { name: t("finops.upper_80"), values: part.points.map((p) => p.upper_80) }, colour: 2 },
      ],
    });
  const revenueFormat = (v) => fmt.minor(Math.round(v), f.revenue.currency);
  return h(
    "div",
    { class: "stack" },
    h("p", { class: "muted small", text: t("finops.forecast_method", { days: fmt.number(f.history.days) }) }),
    h(
      "div",
      { class: "grid cols-2" },
      h("div", {}, chart(f.load, t("finops.load_forecast"), (v) => fmt.number(v, 1)), backtest(f.load, (v) => fmt.number(v, 1))),
      f.revenue.unavailable
        ? h("div", {}, h("p", { class: "notice warn", text: t("finops.revenue_forecast_unavailable", { currencies: f.revenue.missing_rates.join(", "), currency: f.revenue.currency }) }))
        : h("div", {}, chart(f.revenue, t("finops.revenue_forecast", { currency: f.revenue.currency }), revenueFormat), backtest(f.revenue, revenueFormat)),
    ),
  );
}

function backtest(part, format) {
  const b = part.backtest;
  const method = h("p", { class: "muted small", text: t("finops.method_is", { method: t(`finops.method.${part.method}`) }) });
  if (!b) return h("div", {}, method, h("p", { class: "muted small", text: t("finops.no_backtest", { days: fmt.number(part.history_days) }) }));
  return h("div", {}, method, kpis([
    [t("finops.mae"), format(b.mae)],
    [t("finops.rmse"), format(b.rmse)],
    [t("finops.mape"), b.mape_pct === null ? "—" : fmt.percent(b.mape_pct)],
    [t("finops.coverage"), fmt.ratio(b.coverage_95), t("finops.holdout", { days: fmt.number(b.holdout_days) })],
  ]));
}
