//! The SLO report behind `GET /api/slo/budget`, `GET /healthz/strict` and
//! the `cron-slo` job: every window's counts from `slo_minutes` in one
//! pass, burn rates, alert levels, latency percentiles, the quality SLO,
//! webhook success and the deploy gate.

use super::alerts::{self, round3, Counts, Level, RuleState, WINDOWS};
use super::gate::{self, Gate};
use super::targets::Targets;
use crate::error::Result;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::telemetry::histogram::{Histogram, BUCKETS};
use crate::time::rfc3339;
use serde::Serialize;
use std::collections::BTreeMap;

/// The budget period.
pub const PERIOD_DAYS: i64 = 30;
const BASELINE_KEY: &str = "slo.baseline_ms";

/// One window's figures.
#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    /// Requests (not counting health checks).
    pub requests: i64,
    /// 5xx answers.
    pub errors: i64,
    /// Errors over requests, percent.
    pub error_rate_pct: f64,
    /// Times the budget rate.
    pub burn_rate: f64,
    /// Job rounds finished (work and grading calls).
    pub job_rounds: i64,
    /// Of which the provider failed.
    pub job_errors: i64,
    /// Graded outputs.
    pub graded: i64,
    /// Of which failed QA.
    pub qa_failed: i64,
}

/// Latency over a window.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Requests measured.
    pub requests: i64,
    /// Estimated 95th percentile, ms.
    pub p95_ms: Option<f64>,
    /// Estimated 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Over a target with enough traffic to say so.
    pub breached: bool,
}

/// One SLO's alerting state.
#[derive(Debug, Clone, Serialize)]
pub struct Alerting {
    /// The worst firing rule's level.
    pub level: Level,
    /// Every rule.
    pub rules: Vec<RuleState>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When, RFC 3339.
    pub ts: String,
    /// The budget period.
    pub period_days: i64,
    /// Data before this time is ignored (set by a rebaseline).
    pub baseline_at: Option<String>,
    /// p95 over the period, ms (seed field).
    pub p95_ms: Option<f64>,
    /// p99 over the period, ms (seed field).
    pub p99_ms: Option<f64>,
    /// Error rate over the period, percent (seed field).
    pub error_rate: f64,
    /// Budget left over the period, percent (negative: overspent).
    pub remaining_budget_pct: f64,
    /// Burn over the last day, percent of the daily budget (seed field).
    pub burn_rate_pct: f64,
    /// The availability alert level (seed field: OK, WATCH, WARNING, CRITICAL).
    pub burn_alert: Level,
    /// The targets (seed field).
    pub slo_targets: Targets,
    /// Each window.
    pub windows: BTreeMap<&'static str, WindowView>,
    /// Availability alerting.
    pub availability: Alerting,
    /// Job processing alerting (rounds the provider failed).
    pub jobs: Alerting,
    /// Job round latency over the last hour (against `slo_job_p95_ms`).
    pub job_latency_1h: Latency,
    /// Quality (QA pass rate) alerting.
    pub quality: Alerting,
    /// QA pass rate over the last day, percent.
    pub quality_pass_rate_pct: Option<f64>,
    /// Latency over the last hour.
    pub latency_1h: Latency,
    /// Webhook deliveries to the app over the last day.
    pub webhooks: serde_json::Value,
    /// The deploy gate.
    pub deploy_gate: Gate,
    /// Why `/healthz/strict` would answer 503 (empty: it answers 200).
    pub breaches: Vec<String>,
}

fn baseline(env: &Env) -> Result<Option<i64>> {
    crate::db::meta::get_i64(env.db.as_ref(), BASELINE_KEY)
}

/// The counter columns of `slo_minutes` (and `slo_baseline`).
fn counter_columns() -> Vec<String> {
    let mut c = vec!["requests".to_string(), "errors".to_string()];
    c.extend((0..BUCKETS).map(|i| format!("b{i}")));
    c.extend(["qa_passed", "qa_failed", "jobs", "job_errors"].map(String::from));
    c.extend((0..BUCKETS).map(|i| format!("jb{i}")));
    c
}

/// Ignore everything before `at_ms` from now on: windows start no earlier
/// than its minute, and that minute's counters as they stand now (pending
/// samples folded first) are kept in `slo_baseline` to be subtracted.
pub fn rebaseline(env: &Env, at_ms: i64) -> Result<()> {
    crate::telemetry::compact(env)?;
    let cols = counter_columns().join(", ");
    let minute = at_ms.div_euclid(60_000);
    crate::db::transaction(env.db.as_ref(), |db| {
        crate::db::meta::set(db, BASELINE_KEY, &at_ms.to_string())?;
        db.exec("DELETE FROM slo_baseline", params![])?;
        let zeros = vec!["0"; counter_columns().len()].join(", ");
        db.exec(
            &format!(
                "INSERT INTO slo_baseline (id, minute, {cols})
                 SELECT 1, ?1, {cols} FROM slo_minutes WHERE minute = ?1
                 UNION ALL SELECT 1, ?1, {zeros} WHERE NOT EXISTS (SELECT 1 FROM slo_minutes WHERE minute = ?1)"
            ),
            params![minute],
        )?;
        Ok(())
    })
}

/// Counts of every window, and the histograms of the last hour and the
/// period, in one pass over at most 30 days of minute rows.
struct Pass {
    /// Per window: requests, QA verdicts, job rounds.
    counts: BTreeMap<&'static str, [Counts; 3]>,
    period: (Counts, Histogram),
    hour: Histogram,
    job_hour: Histogram,
}

pub(crate) fn histogram_at(row: &crate::ports::Row, at: usize) -> Result<Histogram> {
    let mut h = Histogram::default();
    for b in 0..BUCKETS {
        h.buckets[b] = row.i64(at + b)?;
    }
    h.count = h.buckets.iter().sum();
    Ok(h)
}

fn pass(env: &Env, now_min: i64, floor_min: i64) -> Result<Pass> {
    let start = |minutes: i64| (now_min - minutes + 1).max(floor_min);
    let mut cols = Vec::new();
    for w in WINDOWS {
        let s = start(w.minutes);
        for col in [
            "requests",
            "errors",
            "qa_passed + qa_failed",
            "qa_failed",
            "jobs",
            "job_errors",
        ] {
            cols.push(format!(
                "COALESCE(SUM(CASE WHEN minute >= {s} THEN {col} END), 0)"
            ));
        }
    }
    let hour = start(60);
    for i in 0..BUCKETS {
        cols.push(format!(
            "COALESCE(SUM(CASE WHEN minute >= {hour} THEN b{i} END), 0)"
        ));
    }
    for i in 0..BUCKETS {
        cols.push(format!(
            "COALESCE(SUM(CASE WHEN minute >= {hour} THEN jb{i} END), 0)"
        ));
    }
    for i in 0..BUCKETS {
        cols.push(format!("COALESCE(SUM(b{i}), 0)"));
    }
    cols.push("COALESCE(SUM(requests), 0)".into());
    cols.push("COALESCE(SUM(errors), 0)".into());
    // The baseline minute's counters at the rebaseline, negated, so every
    // window that includes that minute subtracts them.
    let counters = counter_columns();
    let negated = counters
        .iter()
        .map(|c| format!("-{c} AS {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let plain = counters.join(", ");
    let row = env.db.query_one(
        &format!(
            "SELECT {} FROM (
               SELECT minute, {plain} FROM slo_minutes WHERE minute >= ?1 AND minute <= ?2
               UNION ALL SELECT minute, {negated} FROM slo_baseline WHERE minute >= ?1 AND minute <= ?2
             )",
            cols.join(", ")
        ),
        params![start(PERIOD_DAYS * 1440), now_min],
    )?;
    let mut counts = BTreeMap::new();
    let mut i = 0;
    for w in WINDOWS {
        let pair = |k: usize| -> Result<Counts> {
            Ok(Counts {
                events: row.i64(i + k)?,
                failures: row.i64(i + k + 1)?,
            })
        };
        counts.insert(w.name, [pair(0)?, pair(2)?, pair(4)?]);
        i += 6;
    }
    let hour = histogram_at(&row, i)?;
    let job_hour = histogram_at(&row, i + BUCKETS)?;
    let period_h = histogram_at(&row, i + 2 * BUCKETS)?;
    i += 3 * BUCKETS;
    let period = Counts {
        events: row.i64(i)?,
        failures: row.i64(i + 1)?,
    };
    Ok(Pass {
        counts,
        period: (period, period_h),
        hour,
        job_hour,
    })
}

fn webhooks(env: &Env, t: &Targets, now_min: i64, floor_min: i64) -> Result<serde_json::Value> {
    let row = env.db.query_one(
        "SELECT COALESCE(SUM(n), 0), COALESCE(SUM(CASE WHEN status < 200 OR status >= 300 THEN n ELSE 0 END), 0)
         FROM request_minutes WHERE minute >= ?1 AND route LIKE '%webhook%'",
        params![(now_min - 1439).max(floor_min)],
    )?;
    let (n, failed) = (row.i64(0)?, row.i64(1)?);
    let success = (n > 0).then(|| round3(100.0 * (n - failed) as f64 / n as f64));
    Ok(serde_json::json!({
        "target_pct": t.webhook_success_pct,
        "deliveries_1d": n,
        "failed_1d": failed,
        "success_pct": success,
        "breached": n >= t.min_events && success.is_some_and(|s| s < t.webhook_success_pct),
    }))
}

fn pct(v: f64) -> f64 {
    round3(v * 100.0)
}

/// Compute the report at the clock's now (folds pending request samples
/// first).
pub fn report(env: &Env) -> Result<Report> {
    crate::telemetry::compact(env)?;
    let t = Targets::load(env.config.as_ref())?;
    let now = env.clock.now_ms();
    let now_min = now.div_euclid(60_000);
    let base = baseline(env)?;
    let floor_min = base.map(|b| b.div_euclid(60_000)).unwrap_or(i64::MIN);
    let p = pass(env, now_min, floor_min)?;
    let req = |w: &str| p.counts.get(w).map(|c| c[0]).unwrap_or_default();
    let qa = |w: &str| p.counts.get(w).map(|c| c[1]).unwrap_or_default();
    let jobs = |w: &str| p.counts.get(w).map(|c| c[2]).unwrap_or_default();
    let (level, rules) = alerts::evaluate(req, t.error_budget(), t.min_events);
    let (q_level, q_rules) = alerts::evaluate(qa, t.quality_budget(), t.min_events);
    let (j_level, j_rules) = alerts::evaluate(jobs, t.job_budget(), t.min_events);

    let windows = WINDOWS
        .iter()
        .map(|w| {
            let (r, q, j) = (req(w.name), qa(w.name), jobs(w.name));
            (
                w.name,
                WindowView {
                    requests: r.events,
                    errors: r.failures,
                    error_rate_pct: pct(r.ratio()),
                    burn_rate: round3(r.burn(t.error_budget())),
                    job_rounds: j.events,
                    job_errors: j.failures,
                    graded: q.events,
                    qa_failed: q.failures,
                },
            )
        })
        .collect();
    let hour_n = p.hour.count;
    let (h95, h99) = (p.hour.quantile_ms(0.95), p.hour.quantile_ms(0.99));
    let latency_1h = Latency {
        requests: hour_n,
        p95_ms: h95.map(round3),
        p99_ms: h99.map(round3),
        breached: hour_n >= t.min_events
            && (h95.is_some_and(|v| v > t.p95_ms) || h99.is_some_and(|v| v > t.p99_ms)),
    };
    let job_n = p.job_hour.count;
    let j95 = p.job_hour.quantile_ms(0.95);
    let job_latency_1h = Latency {
        requests: job_n,
        p95_ms: j95.map(round3),
        p99_ms: p.job_hour.quantile_ms(0.99).map(round3),
        breached: job_n >= t.min_events && j95.is_some_and(|v| v > t.job_p95_ms),
    };
    let (period, period_h) = p.period;
    let allowed = t.error_budget() * period.events as f64;
    let remaining = if period.events == 0 || allowed <= 0.0 {
        100.0
    } else {
        round3(100.0 * (1.0 - period.failures as f64 / allowed))
    };
    let day = req("1d");
    let q_day = qa("1d");
    let deploy_gate = gate::state(env.db.as_ref())?;
    let webhooks = webhooks(env, &t, now_min, floor_min)?;

    let mut breaches = Vec::new();
    if level >= Level::Warning {
        breaches.push(format!("availability burn is {}", level.as_str()));
    }
    if j_level >= Level::Warning {
        breaches.push(format!("job processing burn is {}", j_level.as_str()));
    }
    if job_latency_1h.breached {
        breaches.push(format!(
            "job rounds slower than target in the last hour (p95 {} ms; target {} ms)",
            job_latency_1h.p95_ms.unwrap_or_default(),
            t.job_p95_ms
        ));
    }
    if q_level >= Level::Warning {
        breaches.push(format!("quality burn is {}", q_level.as_str()));
    }
    if latency_1h.breached {
        breaches.push(format!(
            "latency over target in the last hour (p95 {} ms, p99 {} ms; targets {} / {} ms)",
            latency_1h.p95_ms.unwrap_or_default(),
            latency_1h.p99_ms.unwrap_or_default(),
            t.p95_ms,
            t.p99_ms
        ));
    }
    if webhooks["breached"] == true {
        breaches.push("webhook success under target over the last day".into());
    }
    if deploy_gate.up {
        breaches.push(format!(
            "the deploy gate is up: {}",
            deploy_gate.reason.clone().unwrap_or_default()
        ));
    }
    Ok(Report {
        ts: rfc3339(now),
        period_days: PERIOD_DAYS,
        baseline_at: base.map(rfc3339),
        p95_ms: period_h.quantile_ms(0.95).map(round3),
        p99_ms: period_h.quantile_ms(0.99).map(round3),
        error_rate: pct(period.ratio()),
        remaining_budget_pct: remaining,
        burn_rate_pct: pct(day.burn(t.error_budget())),
        burn_alert: level,
        slo_targets: t,
        windows,
        availability: Alerting { level, rules },
        jobs: Alerting {
            level: j_level,
            rules: j_rules,
        },
        job_latency_1h,
        quality: Alerting {
            level: q_level,
            rules: q_rules,
        },
        quality_pass_rate_pct: (q_day.events > 0).then(|| pct(1.0 - q_day.ratio())),
        latency_1h,
        webhooks,
        deploy_gate,
        breaches,
    })
}
