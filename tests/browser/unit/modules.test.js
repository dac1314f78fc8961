// The dashboard's pure modules: search, routes, charts' scales, the daily
// series, the console's argument specs and the telemetry catalogue.

import { test } from "node:test";
import assert from "node:assert/strict";
import { load } from "./static.js";

const search = await load("js/search.js");
const routes = await load("js/routes.js");
const charts = await load("js/charts.js");
const daily = await load("js/daily.js");
const consoleView = await load("js/views/console.js");
const telemetry = await load("js/telemetry.js");

test("search: words, prefixes, accents; best only when clear", () => {
  const items = [{ label: "Incidents" }, { label: "Audit chain", keywords: ["audit"] }, { label: "Operations", keywords: ["Incidents, SLOs"] }, { label: "Configuración" }];
  assert.deepEqual(search.rank("inc", items).map((i) => i.label), ["Incidents", "Operations"]);
  assert.equal(search.best("incidents", items).label, "Incidents");
  assert.equal(search.rank("configuracion", items)[0].label, "Configuración");
  assert.deepEqual(search.rank("audit nothing", items), []);
  assert.deepEqual(search.rank("audit nothing", items, { every: false }).map((i) => i.label), ["Audit chain"]);
  assert.equal(search.best("zzz", items), null);
  assert.equal(search.rank("", items).length, items.length);
});

test("routes: patterns, params, unknown paths and links", () => {
  assert.equal(routes.match("/jobs").view.id, "jobs");
  assert.deepEqual(routes.match("/jobs/job_1%2F2").params, { id: "job_1/2" });
  assert.equal(routes.match("/jobs/a/b"), null);
  assert.equal(routes.match("/nope"), null);
  assert.equal(routes.href("/jobs", { status: "dead", empty: "", none: undefined }), "#/jobs?status=dead");
});

test("routes: every view id is a view the analytics API accepts", () => {
  for (const v of [...routes.VIEWS, routes.NOT_FOUND]) assert.ok(telemetry.VIEWS.has(v.id), v.id);
  for (const a of routes.ACTIONS) assert.ok(routes.match(a.path), a.path);
});

test("routes: minimum roles mirror the API's permission table", () => {
  const role = Object.fromEntries(routes.VIEWS.map((v) => [v.id, v.minRole]));
  assert.equal(role.prompts, "analyst");
  assert.equal(role.costs, "analyst");
  assert.equal(role.logs, "operator");
  for (const id of ["console", "backups", "users", "partners", "tenants", "audit"]) assert.equal(role[id], "admin", id);
  for (const id of ["incidents", "slo", "costs", "scale", "reports", "backups", "console"]) assert.ok(routes.VIEWS.find((v) => v.id === id).platform, `${id} is platform-wide`);
  // Money (access::POLICY): the ledger for operators, the portal for any
  // signed-in customer, figures for analysts; all within the tenant.
  assert.deepEqual(["payments", "portal", "finops", "billing", "referrals"].map((id) => [role[id], Boolean(routes.VIEWS.find((v) => v.id === id).platform)]), [["operator", false], ["viewer", false], ["analyst", false], ["analyst", false], ["analyst", false]]);
});

test("charts: axes of four nice steps, whole for counts", () => {
  assert.equal(charts.axisMax(0), 1);
  assert.equal(charts.axisMax(0, { whole: true }), 4);
  assert.equal(charts.axisMax(2, { whole: true }), 4);
  assert.equal(charts.axisMax(5, { whole: true }), 8);
  assert.equal(charts.axisMax(9, { whole: true }), 12);
  assert.equal(charts.axisMax(37, { whole: true }), 40);
  assert.equal(charts.axisMax(120), 200);
  assert.equal(charts.axisMax(0.0023), 0.004);
  for (const v of [1, 3, 7, 11, 19, 99, 1234]) {
    const top = charts.axisMax(v, { whole: true });
    assert.ok(top >= v && Number.isInteger(top / 4), `${v} → ${top}`);
  }
});

test("daily: the last days, p95 and series from job records", () => {
  const now = Date.UTC(2026, 2, 10, 15);
  assert.deepEqual(daily.lastDays(3, now), ["2026-03-08", "2026-03-09", "2026-03-10"]);
  assert.equal(daily.p95([]), null);
  assert.equal(daily.p95([5]), 5);
  assert.equal(daily.p95(Array.from({ length: 100 }, (_, i) => i + 1)), 95);
  const days = ["2026-03-09", "2026-03-10"];
  const jobs = [
    { created_at: "2026-03-10T01:00:00Z", finished_at: "2026-03-10T01:00:05Z", status: "completed", qa: { passed: true }, latency_ms: 100, model: "gpt-4o", cost: { micros: 500 }, qa_model: "gpt-4o-mini", qa_cost: { micros: 20 } },
    { created_at: "2026-03-10T02:00:00Z", finished_at: "2026-03-10T02:00:05Z", status: "failed", qa: { passed: false }, latency_ms: 300, model: "gpt-4o", cost: { micros: 700 } },
    { created_at: "2026-03-09T02:00:00Z", finished_at: null, status: "queued", qa: { passed: null } },
  ];
  const s = daily.fromJobs(days, jobs);
  assert.deepEqual(s.byStatus.completed, [0, 1]);
  assert.deepEqual(s.byStatus.queued, [1, 0]);
  assert.deepEqual(s.passRate, [null, 50]);
  assert.deepEqual(s.costByModel, { "gpt-4o": [0, 1200], "gpt-4o-mini": [0, 20] });
  assert.deepEqual(s.p95Latency, [null, 300]);
});

test("daily: every status has its own chart colour", () => {
  assert.deepEqual(Object.keys(daily.STATUS_COLOURS).sort(), [...daily.STATUSES].sort());
  assert.deepEqual(Object.values(daily.STATUS_COLOURS).sort(), [1, 2, 3, 4, 5, 6]);
});

test("console: argument specs become fields", () => {
  assert.deepEqual(consoleView.parseArgs("none"), []);
  assert.deepEqual(consoleView.parseArgs("reason?: string"), [{ name: "reason", optional: true, numeric: false, hint: "string" }]);
  const tail = consoleView.parseArgs("level?: debug|info|warn|error, component?: string, limit?: 1..200");
  assert.deepEqual(tail.map((a) => [a.name, a.numeric]), [["level", false], ["component", false], ["limit", true]]);
  assert.deepEqual(consoleView.parseArgs("date?: YYYY-MM-DD (yesterday)")[0].hint, "YYYY-MM-DD (yesterday)");
});

test("telemetry: the event catalogue of the analytics contract", () => {
  assert.equal(telemetry.EVENTS.size, 25);
  assert.equal(telemetry.VIEWS.size, 33);
  assert.ok(telemetry.EVENTS.has("page.view") && telemetry.EVENTS.has("demo.banner_dismiss"));
});
