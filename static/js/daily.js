// Seven-day series for the overview's charts, from the existing APIs:
// - platform principals: one GET /api/reports/daily?date= per day (exact
//   counts: jobs by status, QA pass rate, LLM spend by model);
// - everyone: the jobs of those days from GET /api/jobs (the caller's
//   tenant), which give p95 job latency, and the other series for
//   principals outside the platform tenant.

import * as api from "./api.js";

export const STATUSES = ["completed", "failed", "dead", "cancelled", "processing", "queued"];
/** Each status's chart colour (1-6, the `series-N` classes), the same whichever statuses a chart shows. */
export const STATUS_COLOURS = { completed: 2, failed: 4, dead: 6, cancelled: 5, processing: 3, queued: 1 };
const DAY_MS = 86400000;
const JOB_PAGES = 5; // at most 1,000 jobs
const PAGE = 200;

/** The last `n` UTC days, oldest first, as YYYY-MM-DD. */
export function lastDays(n, now = Date.now()) {
  const today = Math.floor(now / DAY_MS);
  return Array.from({ length: n }, (_, i) => new Date((today - n + 1 + i) * DAY_MS).toISOString().slice(0, 10));
}

/** The jobs created on `days` (newest first), and whether the list was cut short. */
export async function jobsOfDays(days, signal) {
  const jobs = [];
  let cursor = null;
  for (let page = 0; page < JOB_PAGES; page += 1) {
    const data = await api.get("/api/jobs", { created_after: `${days[0]}T00:00:00Z`, limit: PAGE, cursor }, { signal });
    jobs.push(...data.jobs);
    cursor = data.next_cursor;
    if (!cursor) return { jobs, truncated: false };
  }
  return { jobs, truncated: true };
}

/** The 95th percentile (nearest rank) of `values`, or null. */
export function p95(values) {
  const sorted = values.filter((v) => typeof v === "number").sort((a, b) => a - b);
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
}

/** Series computed from job records. */
export function fromJobs(days, jobs) {
  const index = new Map(days.map((d, i) => [d, i]));
  const byStatus = Object.fromEntries(STATUSES.map((s) => [s, days.map(() => 0)]));
  const passed = days.map(() => 0);
  const graded = days.map(() => 0);
  const latency = days.map(() => []);
  const cost = {};
  for (const job of jobs) {
    const created = index.get(String(job.created_at).slice(0, 10));
    if (created !== undefined && byStatus[job.status]) byStatus[job.status][created] += 1;
    const finished = index.get(String(job.finished_at || "").slice(0, 10));
    if (finished === undefined) continue;
    if (job.qa?.passed === true || job.qa?.passed === false) {
      graded[finished] += 1;
      if (job.qa.passed) passed[finished] += 1;
    }
    if (typeof job.latency_ms === "number") latency[finished].push(job.latency_ms);
    for (const [model, money] of [[job.model, job.cost], [job.qa_model, job.qa_cost]]) {
      if (!model || !money) continue;
      cost[model] ??= days.map(() => 0);
      cost[model][finished] += Number(money.micros) || 0;
    }
  }
  return {
    byStatus,
    passRate: days.map((_, i) => (graded[i] ? (100 * passed[i]) / graded[i] : null)),
    costByModel: cost,
    p95Latency: latency.map(p95),
  };
}

/** Series from the daily reports (platform principals). */
export async function fromReports(days, signal) {
  const reports = await Promise.all(days.map((date) => api.get("/api/reports/daily", { date }, { signal })));
  const byStatus = Object.fromEntries(STATUSES.map((s) => [s, reports.map((r) => r.figures.jobs_by_status?.[s] || 0)]));
  const models = new Set(reports.flatMap((r) => Object.keys(r.figures.spend_by_model_micros || {})));
  const costByModel = Object.fromEntries([...models].map((m) => [m, reports.map((r) => r.figures.spend_by_model_micros?.[m] || 0)]));
  return {
    byStatus,
    passRate: reports.map((r) => r.figures.qa_pass_rate_pct ?? null),
    costByModel,
    today: reports[reports.length - 1].figures,
  };
}
