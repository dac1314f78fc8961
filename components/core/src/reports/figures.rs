//! The daily report's figures for one UTC day, each read from counters or
//! an index range (never a table scan): jobs created that day by status,
//! QA results and LLM spend by model from `llm_usage_days`, incidents by
//! severity, and the day before for comparison.

use crate::error::Result;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::time::DAY_MS;
use serde::Serialize;
use std::collections::BTreeMap;

/// One day's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Jobs created that day.
    pub jobs_created: i64,
    /// Those jobs by their status now.
    pub jobs_by_status: BTreeMap<String, i64>,
    /// Graded outputs that passed / failed QA.
    pub qa_passed: i64,
    /// Failed QA.
    pub qa_failed: i64,
    /// Passed over graded, percent (`None` without gradings).
    pub qa_pass_rate_pct: Option<f64>,
    /// LLM spend by model family, micro-dollars.
    pub spend_by_model_micros: BTreeMap<String, i64>,
    /// Total LLM spend, micro-dollars.
    pub spend_total_micros: i64,
    /// Incidents first raised that day, by severity.
    pub incidents_by_severity: BTreeMap<String, i64>,
}

/// The figures of UTC day number `day` (Unix ms / 86,400,000).
pub fn for_day(env: &Env, day: i64) -> Result<Figures> {
    let (from, to) = (day * DAY_MS, (day + 1) * DAY_MS);
    let mut f = Figures {
        date: crate::time::date(from),
        ..Default::default()
    };
    // jobs_by_created covers created_at.
    let rows = env.db.exec(
        "SELECT status, COUNT(*) FROM jobs WHERE created_at >= ?1 AND created_at < ?2 GROUP BY status",
        params![from, to],
    )?;
    for r in &rows.rows {
        let n = r.i64(1)?;
        f.jobs_created += n;
        f.jobs_by_status.insert(r.text(0)?, n);
    }
    let rows = env.db.exec(
        "SELECT model, role, cost_micros, qa_passed, qa_failed FROM llm_usage_days WHERE day = ?1",
        params![day],
    )?;
    for r in &rows.rows {
        let cost = r.i64(2)?;
        let family = crate::ai::models::family(&r.text(0)?).to_string();
        *f.spend_by_model_micros.entry(family).or_default() += cost;
        f.spend_total_micros += cost;
        if r.text(1)? == "work" {
            f.qa_passed += r.i64(3)?;
            f.qa_failed += r.i64(4)?;
        }
    }
    let graded = f.qa_passed + f.qa_failed;
    f.qa_pass_rate_pct =
        (graded > 0).then(|| (1000.0 * f.qa_passed as f64 / graded as f64).round() / 10.0);
    // Incidents are seen again at or after creation: the last_seen_at index
    // bounds the range.
    let rows = env.db.exec(
        "SELECT severity, COUNT(*) FROM incidents
         WHERE last_seen_at >= ?1 AND created_at >= ?1 AND created_at < ?2 GROUP BY severity",
        params![from, to],
    )?;
    for r in &rows.rows {
        f.incidents_by_severity.insert(r.text(0)?, r.i64(1)?);
    }
    Ok(f)
}

/// `now - before` for every number two days share, as the report's
/// comparison with the day before.
pub fn compare(now: &Figures, before: &Figures) -> serde_json::Value {
    let map_delta = |a: &BTreeMap<String, i64>, b: &BTreeMap<String, i64>| {
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        keys.into_iter()
            .map(|k| {
                let d = a.get(k).copied().unwrap_or(0) - b.get(k).copied().unwrap_or(0);
                (k.clone(), serde_json::json!(d))
            })
            .collect::<serde_json::Map<_, _>>()
    };
    serde_json::json!({
        "jobs_created": now.jobs_created - before.jobs_created,
        "jobs_by_status": map_delta(&now.jobs_by_status, &before.jobs_by_status),
        "qa_pass_rate_pct": match (now.qa_pass_rate_pct, before.qa_pass_rate_pct) {
            (Some(a), Some(b)) => serde_json::json!(((a - b) * 10.0).round() / 10.0),
            _ => serde_json::Value::Null,
        },
        "spend_total_micros": now.spend_total_micros - before.spend_total_micros,
        "spend_by_model_micros": map_delta(&now.spend_by_model_micros, &before.spend_by_model_micros),
        "incidents_by_severity": map_delta(&now.incidents_by_severity, &before.incidents_by_severity),
    })
}
