// The daily report of a chosen day (yesterday by default): figures, the
// change from the day before, SLO state, revenue and the LLM summary.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import { header, card, fill, kpis, facts } from "../ui/layout.js";
import { statusPill, empty } from "../ui/states.js";
import { input, submit } from "../ui/fields.js";
import { lastDays } from "../daily.js";

export async function render({ main, query, signal, replaceQuery }) {
  const box = h("div", { class: "stack" });
  const date = /^\d{4}-\d{2}-\d{2}$/.test(query.date || "") ? query.date : lastDays(2)[0];
  const form = h("form", { class: "filters", role: "search", id: "report-date" }, input({ name: "date", label: t("reports.date"), type: "date", value: date, attrs: { max: lastDays(1)[0] } }), h("div", { class: "filter-actions" }, submit(t("reports.show"))));
  const load = (d) => fill(box, () => api.get("/api/reports/daily", { date: d }, { signal }), view, { signal });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const d = new FormData(form).get("date");
    replaceQuery({ date: d });
    load(d);
  });
  mount(main, header(t("reports.title")), form, box);
  await load(date);
}

function delta(n, format = fmt.number) {
  if (n === null || n === undefined) return null;
  return t("reports.change", { delta: `${n > 0 ? "+" : ""}${format(n)}` });
}

function view(r) {
  const f = r.figures;
  const c = r.change || {};
  return h(
    "div",
    { class: "stack" },
    r.state === "not_generated" ? h("p", { class: "notice", text: t("reports.not_generated") }) : null,
    card(
      t("reports.figures", { date: fmt.day(r.date) }),
      kpis([
        [t("reports.jobs_created"), fmt.number(f.jobs_created), delta(c.jobs_created)],
        [t("overview.pass_rate"), fmt.percent(f.qa_pass_rate_pct), delta(c.qa_pass_rate_pct, (v) => fmt.number(v, 1))],
        [t("reports.spend"), fmt.micros(f.spend_total_micros), delta(c.spend_total_micros, fmt.micros)],
        [t("reports.qa_passed"), fmt.number(f.qa_passed)],
        [t("reports.qa_failed"), fmt.number(f.qa_failed)],
        [t("reports.incidents"), fmt.number(Object.values(f.incidents_by_severity || {}).reduce((a, b) => a + b, 0))],
      ]),
    ),
    h(
      "div",
      { class: "grid cols-2" },
      card(t("reports.by_status"), Object.keys(f.jobs_by_status || {}).length ? facts(Object.entries(f.jobs_by_status).map(([s, n]) => [t(`status.${s}`), fmt.number(n)])) : empty(t("reports.no_jobs"))),
      card(t("reports.by_model"), Object.keys(f.spend_by_model_micros || {}).length ? facts(Object.entries(f.spend_by_model_micros).map(([m, n]) => [m, fmt.micros(n)])) : empty(t("reports.no_spend"))),
      card(
        t("reports.slo"),
        facts([
          [t("slo.burn_alert"), statusPill(r.slo.burn_alert)],
          [t("slo.objective.jobs"), statusPill(r.slo.jobs_alert)],
          [t("slo.objective.quality"), statusPill(r.slo.quality_alert)],
          [t("slo.remaining"), fmt.percent(r.slo.remaining_budget_pct)],
          [t("slo.deploy_gate"), r.slo.deploy_gate ? t("slo.yes") : t("slo.no")],
        ]),
      ),
      card(t("reports.revenue"), revenue(r.revenue)),
    ),
    card(t("reports.summary"), r.summary?.text ? h("pre", { text: r.summary.text }) : empty(r.summary?.status ? t("reports.summary_pending", { status: t(`status.${r.summary.status}`) }) : t("reports.summary_none"))),
  );
}

function revenue(rev) {
  if (!rev?.available) return h("p", { class: "muted", text: rev?.reason || t("reports.no_revenue") });
  const rows = Object.entries(rev.by_currency || {});
  if (!rows.length) return empty(t("reports.no_sales"));
  return facts(
    rows.map(([currency, r]) => [
      currency.toUpperCase(),
      t("reports.revenue_value", { net: fmt.minor(r.net, currency.toUpperCase()), charges: fmt.number(r.charges), refunded: fmt.minor(r.refunded, currency.toUpperCase()) }),
    ]),
  );
}
