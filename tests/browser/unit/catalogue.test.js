// Every dashboard string exists in every language: the "ui" section of
// static/i18n/{en,es,ur}.json has the same keys, with the same {placeholders},
// and every key the markup and the modules use is in it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { files, read } from "./static.js";

const LANGS = ["en", "es", "ur"];
const ui = Object.fromEntries(LANGS.map((l) => [l, JSON.parse(read(`/i18n/${l}.json`)).ui]));
const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

/** Keys built at run time from a prefix and a value, with every value. */
const DYNAMIC = {
  "status.": ["queued", "processing", "running", "succeeded", "completed", "failed", "dead", "cancelled", "passed", "ok", "degraded", "down", "never", "stale", "open", "acknowledged", "resolved", "active", "disabled", "revoked", "valid", "invalid", "pending", "sent", "skipped", "breached", "consistent", "noisy", "no_data", "CRITICAL", "WARNING", "INFO", "WATCH", "OK", "paid", "draft", "refunded", "partially_refunded", "disputed"],
  "job_type.": ["ai_task", "report_gen", "data_sync"],
  "priority.": ["critical", "high", "normal", "low"],
  "source.": ["api", "partner", "notion", "workflow", "operator"],
  "role.": ["viewer", "partner", "analyst", "operator", "admin"],
  "criterion.": ["clarity", "accuracy", "completeness", "professional_tone"],
  "settings.theme.": ["system", "light", "dark"],
  "nav.group.": ["work", "operations", "money", "admin"],
  "logs.level.": ["debug", "info", "warn", "error"],
  "slo.objective.": ["availability", "jobs", "quality"],
  "costs.source.": ["variable", "override"],
  "costs.action.": ["NONE", "THROTTLE"],
  "scale.action.": ["scale_up", "scale_down", "hold"],
  "scale.reason.": ["high_latency", "high_arrival_rate", "forecast_arrival_rate", "low_utilization", "steady", "operator"],
  "scale.block.": ["cooldown", "deploy_gate"],
  "costs.quality.": ["no_evidence", "at_or_above_floor", "below_floor"],
  "plan.": ["free", "pro", "business", "enterprise"],
  "workflow.type.": ["trigger", "ai_task", "condition", "action", "notification", "delay"],
  "workflow.kind.": ["trigger.manual", "trigger.schedule", "trigger.webhook", "trigger.notion_page", "action.http", "action.create_job", "action.notion_update", "action.drive_upload", "notification.telegram", "notification.email", "delay.duration", "delay.until"],
  "workflow.port.": ["next", "true", "false", "error"],
  "workflow.step.": ["queued", "processing", "succeeded", "failed", "skipped", "cancelled"],
  "workflow.connect_refused.": ["unknown", "self", "into_trigger", "duplicate", "cycle"],
  "payment_status.": ["succeeded", "pending", "failed"],
  "refund_reason.": ["requested_by_customer", "duplicate", "fraudulent"],
  "billing.unpaid.": ["run", "hold"],
  "finops.granularity.": ["daily", "monthly"],
  "finops.pnl.": ["net_revenue", "ai_cost", "infrastructure_cost", "profit"],
  "finops.method.": ["holt_winters_additive_weekly", "linear_trend", "flat"],
  "hub.": ["overview", "jobs", "queue", "prompts", "workflows", "operations", "incidents", "slo", "costs", "scale", "reports", "logs", "backups", "security", "payments", "console", "admin", "users", "partners", "tenants", "audit", "privacy", "portal", "finops", "billing", "referrals"],
  "security.check.": ["secret_too_short", "secret_default", "dashboard_key_unset", "stripe_live_key_outside_production", "cors_wildcard", "outbound_host_too_wide", "telemetry_off", "backups_not_shipped", "secret_rotation_due"],
  "security.severity.": ["high", "medium", "low"],
  "compliance.severity_": ["low", "medium", "high", "critical"],
};

function usedKeys() {
  const keys = new Set();
  for (const path of files()) {
    const text = read(path);
    if (path.endsWith(".js")) {
      for (const m of text.matchAll(/\btn?\(\s*"([a-z0-9_.]+)"/g)) keys.add(m[1]);
      // t(condition ? "a.key" : "b.key")
      for (const m of text.matchAll(/\?\s*"([a-z_]+\.[a-z0-9_.]+)"\s*:\s*"([a-z_]+\.[a-z0-9_.]+)"/g)) keys.add(m[1]).add(m[2]);
      for (const m of text.matchAll(/\b(?:title|label): "([a-z0-9_]+\.[a-z0-9_.]+)"/g)) keys.add(m[1]);
    } else if (path.endsWith(".html")) {
      for (const m of text.matchAll(/data-i18n="([^"]+)"/g)) keys.add(m[1]);
      for (const m of text.matchAll(/data-i18n-attr="([^"]+)"/g)) for (const pair of m[1].split(";")) keys.add(pair.split(":")[1].trim());
    }
  }
  for (const [prefix, values] of Object.entries(DYNAMIC)) for (const v of values) keys.add(prefix + v);
  return keys;
}

test("every language has exactly the English keys", () => {
  const english = Object.keys(ui.en).sort();
  for (const lang of LANGS) {
    const keys = Object.keys(ui[lang]).sort();
    assert.deepEqual(english.filter((k) => !keys.includes(k)), [], `missing in ${lang}`);
    assert.deepEqual(keys.filter((k) => !english.includes(k)), [], `only in ${lang}`);
  }
});

test("translations keep their placeholders and are not empty", () => {
  for (const lang of LANGS) {
    for (const [key, text] of Object.entries(ui[lang])) {
      assert.ok(text.trim().length > 0, `${lang} ${key} is empty`);
      assert.deepEqual(placeholders(text), placeholders(ui.en[key]), `${lang} ${key}`);
    }
  }
});

test("every key the dashboard uses is in the catalogue", () => {
  const missing = [...usedKeys()].filter((k) => !(k in ui.en)).sort();
  assert.deepEqual(missing, []);
});

test("the dynamic key lists cover the catalogue's families", () => {
  const used = usedKeys();
  const unused = Object.keys(ui.en).filter((k) => !used.has(k));
  assert.deepEqual(unused, [], "keys no markup or module uses");
});

test("Urdu is written in Urdu (Arabic script) and Spanish is not English", () => {
  const arabic = /[\u0600-\u06FF]/;
  const latinOnly = Object.entries(ui.ur).filter(([k, v]) => !arabic.test(v) && !/^[\s\p{P}\p{N}A-Z0-9{}.·→]*$/u.test(v) && !["backups.sha", "nav.slo", "reports.slo", "source.api", "source.notion", "jobs.qa_score"].includes(k));
  assert.deepEqual(latinOnly.map(([k]) => k), []);
  const same = Object.keys(ui.en).filter((k) => ui.es[k] === ui.en[k] && ui.en[k].split(" ").length > 2);
  assert.deepEqual(same, [], "untranslated Spanish sentences");
});
