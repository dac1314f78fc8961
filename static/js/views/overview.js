// Overview: health and strict health, today's figures (jobs, QA pass rate,
// spend against caps, SLO burn, open incidents), the queue, four 7-day
// charts and product usage. Each card loads on its own, so one failing
// API (or one the role may not read) never blanks the page.

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import * as api from "../api.js";
import * as fmt from "../format.js";
import * as session from "../session.js";
import { header, card, facts, kpis, fill, table, gauge } from "../ui/layout.js";
import { statusPill, empty, failure, loading } from "../ui/states.js";
import { lineChart, stackedBars } from "../charts.js";
import { lastDays, jobsOfDays, fromJobs, fromReports, STATUSES, STATUS_COLOURS } from "../daily.js";
import { href } from "../routes.js";
import { spendGauge } from "./costs.js";

const settle = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));

export async function render({ main, signal }) {
  const healthBox = h("div");
  const todayBox = h("div");
  const queueBox = h("div");
  const chartsBox = h("div");
  const usageBox = h("div");
  mount(
    main,
    header(t("overview.title"), session.atLeast("operator") ? h("a", { class: "button secondary", href: href("/jobs", { do: "create" }), text: t("jobs.create") }) : null),
    h(
      "div",
      { class: "grid cols-2" },
      card(t("overview.health"), healthBox),
      card(t("overview.today"), todayBox),
      card(t("overview.queue"), queueBox),
      card(t("overview.usage"), usageBox),
    ),
    h("section", { class: "card stack", "aria-labelledby": "charts-title" }, h("h2", { id: "charts-title", text: t("overview.charts") }), chartsBox),
  );
  const opts = { signal };
  await Promise.all([
    fill(healthBox, () => health(signal), (d) => d, opts),
    fill(todayBox, () => today(signal), (d) => d, opts),
    fill(queueBox, () => api.get("/api/queue/status", {}, { signal }), queue, opts),
    session.atLeast("analyst") ? fill(usageBox, () => usageOrNothing(signal), usage, opts) : mount(usageBox, empty(t("overview.usage_role"))),
    charts(chartsBox, signal),
  ]);
}

async function health(signal) {
  const [basic, strict] = await Promise.all([api.probe("/health", { signal }), api.probe("/healthz/strict", { signal })]);
  const info = basic.body?.data;
  if (!info) throw new api.ApiError({ status: basic.status, code: basic.body?.error?.code || "unavailable", message: basic.body?.error?.message });
  const verdict = strict.body?.data;
  const reasons = verdict?.reasons || [];
  return h(
    "div",
    {},
    facts([
      [t("health.status"), statusPill(info.status)],
      [t("health.strict"), verdict ? statusPill(verdict.status) : "—"],
      info.heartbeat ? [t("health.heartbeat"), info.heartbeat.status === "ok" ? fmt.relative(info.heartbeat.last_at) : statusPill(info.heartbeat.status)] : null,
      info.store ? [t("health.store"), info.store.status === "ok" ? t("health.schema", { version: info.store.schema_version }) : statusPill("down")] : null,
      info.integrations?.ai ? [t("health.ai"), info.integrations.ai.state] : null,
      [t("health.build"), `${info.version} · ${String(info.git_sha).slice(0, 12)}${info.dirty ? ` (${t("health.dirty")})` : ""}`],
    ]),
    reasons.length
      ? h("div", {}, h("h3", { text: t("health.reasons") }), h("ul", { class: "small" }, reasons.map((r) => h("li", { text: typeof r === "string" ? r : JSON.stringify(r) }))))
      : null,
  );
}

async function today(signal) {
  const platform = session.isPlatform();
  const [report, costs, slo, incidents] = await Promise.all([
    platform ? settle(api.get("/api/reports/daily", { date: lastDays(1)[0] }, { signal })) : { error: null },
    platform && session.atLeast("analyst") ? settle(api.get("/api/costs/status", {}, { signal })) : { error: null },
    platform ? settle(api.get("/api/slo/budget", {}, { signal })) : { error: null },
    platform ? settle(api.get("/api/incidents", { status: "open", limit: 200 }, { signal })) : { error: null },
  ]);
  if (!platform) {
    const { jobs } = await jobsOfDays(lastDays(1), signal);
    const s = fromJobs(lastDays(1), jobs);
    return kpis([
      [t("overview.jobs_today"), fmt.number(jobs.length)],
      [t("overview.pass_rate"), fmt.percent(s.passRate[0])],
    ]);
  }
  const f = report.value?.figures;
  const spend = costs.value;
  const openCount = incidents.value ? incidents.value.incidents.length : null;
  const items = [
    [t("overview.jobs_today"), f ? fmt.number(f.jobs_created) : "—"],
    [t("overview.pass_rate"), f ? fmt.percent(f.qa_pass_rate_pct) : "—"],
    spend
      ? [t("overview.spend"), fmt.money(spend.total_spent_usd), t("overview.of_cap", { cap: fmt.money(spend.daily_cap_usd), pct: fmt.percent(spend.global_utilization_pct) })]
      : null,
    slo.value ? [t("overview.slo_burn"), statusPill(slo.value.burn_alert), t("overview.budget_left", { pct: fmt.percent(slo.value.remaining_budget_pct) })] : null,
    [t("overview.open_incidents"), openCount === null ? "—" : h("a", { href: href("/incidents", { status: "open" }), text: fmt.number(openCount) + (incidents.value.next_cursor ? "+" : "") })],
  ];
  const node = h("div", {}, kpis(items));
  if (spend) node.append(spendGauge("spend-meter", spend));
  return node;
}

function queue(q) {
  return h(
    "div",
    {},
    kpis([
      [t("status.queued"), fmt.number(q.by_status.queued)],
      [t("status.processing"), fmt.number(q.by_status.processing)],
      [t("queue.oldest"), q.oldest_queued_age_seconds === null ? "—" : fmt.seconds(q.oldest_queued_age_seconds)],
    ]),
    h("p", { class: "small" }, h("a", { href: href("/queue"), text: t("overview.queue_more") })),
  );
}

/** Usage analytics, or null where this deployment has no analytics route. */
async function usageOrNothing(signal) {
  try {
    return await api.get("/api/analytics/usage", { days: 30 }, { signal });
  } catch (err) {
    if (err.status === 404 || err.status === 405) return null;
    throw err;
  }
}

function usage(u) {
  if (u === null) return empty(t("overview.usage_unavailable"));
  if (!u.mau) return empty(t("overview.usage_empty"));
  return h(
    "div",
    {},
    kpis([
      [t("usage.dau"), fmt.number(u.dau)],
      [t("usage.wau"), fmt.number(u.wau)],
      [t("usage.mau"), fmt.number(u.mau)],
      [t("usage.stickiness"), fmt.ratio(u.stickiness)],
    ]),
    u.top_events?.length
      ? table(t("usage.top_events"), [t("usage.event"), { text: t("usage.count"), class: "num" }], u.top_events.map((e) => h("tr", {}, h("td", { text: e.name }), h("td", { class: "num", text: fmt.number(e.count) }))))
      : null,
  );
}

async function charts(box, signal) {
  mount(box, loading());
  const days = lastDays(7);
  const labels = days.map(fmt.shortDay);
  try {
    const [{ jobs, truncated }, reports] = await Promise.all([
      jobsOfDays(days, signal),
      session.isPlatform() ? fromReports(days, signal) : null,
    ]);
    if (signal.aborted) return;
    const fromList = fromJobs(days, jobs);
    const s = reports || fromList;
    const statusSeries = STATUSES.map((st) => ({ name: t(`status.${st}`), values: s.byStatus[st], colour: STATUS_COLOURS[st] })).filter((x) => x.values.some(Boolean));
    const costSeries = Object.entries(s.costByModel).filter(([, values]) => values.some(Boolean)).map(([model, values]) => ({ name: model, values }));
    mount(
      box,
      h(
        "div",
        { class: "grid cols-2" },
        statusSeries.length
          ? stackedBars({ title: t("chart.jobs_by_status"), labels, series: statusSeries, format: (v) => fmt.number(v) })
          : empty(t("chart.no_jobs")),
        lineChart({ title: t("chart.pass_rate"), labels, series: [{ name: t("chart.pass_rate"), values: s.passRate }], format: (v) => fmt.percent(v, 0), max: 100 }),
        costSeries.length
          ? lineChart({ title: t("chart.cost_by_model"), labels, series: costSeries, format: (v) => fmt.micros(v) })
          : empty(t("chart.no_cost")),
        lineChart({ title: t("chart.p95_latency"), labels, series: [{ name: t("chart.p95_latency"), values: fromList.p95Latency }], format: (v) => fmt.duration(v, { narrow: true }), whole: true }),
      ),
      h("p", { class: "small muted", text: truncated ? t("chart.truncated", { count: fmt.number(jobs.length) }) : t("chart.source") }),
    );
  } catch (err) {
    if (signal.aborted || err?.name === "AbortError") return;
    mount(box, failure(err, () => charts(box, signal)));
  }
}
