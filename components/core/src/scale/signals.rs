//! What the autoscaler measures, each from a table kept for the purpose, so
//! a decision never scans a large table:
//!
//! - **p95**: request latency over the last 10 minutes from the SLO minute
//!   totals (`slo_minutes.b0..b11`, health checks excluded; pending request
//!   samples folded first). This, not the job round latency
//!   (`jb0..jb11`), drives the rules: a job round is one or two LLM calls,
//!   seconds long whatever the concurrency, so it would hold the seed's
//!   1000 ms threshold permanently crossed; request latency is what the
//!   seed's thresholds were set for, and it rises when the database and
//!   the components are saturated. The job round p95 is reported beside it.
//! - **arrival rate**: jobs created in the last 10 minutes, per minute.
//! - **forecast**: jobs created in each of the 60 whole minutes before the
//!   current one, fitted by least squares (see [`super::forecast`]).
//!   Both read a range of the `jobs_by_created` index.
//! - **queue depth**: queued jobs, from the `job_counts` counters.

use super::forecast::{forecast, Forecast};
use super::settings::{Settings, FORECAST_WINDOW_MINUTES, WINDOW_MINUTES};
use crate::error::Result;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::slo::budget::histogram_at;
use crate::telemetry::histogram::BUCKETS;
use serde::Serialize;

/// The measurements, as served under `metrics`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Queued jobs.
    pub queue_depth: i64,
    /// Request latency p95 over the window, ms (`null`: no requests).
    pub p95_latency_ms: Option<f64>,
    /// Jobs created per minute over the window.
    pub arrival_rate_per_min: f64,
    /// The forecast arrival rate at the horizon.
    pub forecast_arrival_rate_per_min: f64,
    /// Requests the p95 is taken over.
    pub requests_10m: i64,
    /// Job round (work plus grading) p95 over the window, ms; shown, not
    /// used by the rules.
    pub job_round_p95_ms: Option<f64>,
}

/// Everything the decision needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Signals {
    /// The measurements.
    pub metrics: Metrics,
    /// The forecast in full.
    pub forecast: Forecast,
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Request and job round p95 over the minutes `from_min..=to_min`, and the
/// request count.
fn latencies(env: &Env, from_min: i64, to_min: i64) -> Result<(Option<f64>, i64, Option<f64>)> {
    let cols = (0..BUCKETS)
        .map(|i| format!("COALESCE(SUM(b{i}), 0)"))
        .chain((0..BUCKETS).map(|i| format!("COALESCE(SUM(jb{i}), 0)")))
        .collect::<Vec<_>>()
        .join(", ");
    let row = env.db.query_one(
        &format!("SELECT {cols} FROM slo_minutes WHERE minute >= ?1 AND minute <= ?2"),
        params![from_min, to_min],
    )?;
    let requests = histogram_at(&row, 0)?;
    let rounds = histogram_at(&row, BUCKETS)?;
    Ok((
        requests.quantile_ms(0.95).map(round3),
        requests.count,
        rounds.quantile_ms(0.95).map(round3),
    ))
}

/// Jobs created in `(from_ms, to_ms]`.
pub fn arrivals(env: &Env, from_ms: i64, to_ms: i64) -> Result<i64> {
    env.db
        .query_one(
            "SELECT COUNT(*) FROM jobs WHERE created_at > ?1 AND created_at <= ?2",
            params![from_ms, to_ms],
        )?
        .i64(0)
}

/// Jobs created in each of the `minutes` whole minutes before `now_min`,
/// oldest first (minutes without any count 0).
pub fn arrivals_per_minute(env: &Env, now_min: i64, minutes: i64) -> Result<Vec<i64>> {
    let first = now_min - minutes;
    let rows = env.db.exec(
        "SELECT created_at / 60000, COUNT(*) FROM jobs
         WHERE created_at >= ?1 AND created_at < ?2 GROUP BY 1",
        params![first * 60_000, now_min * 60_000],
    )?;
    let mut series = vec![0; minutes as usize];
    for r in &rows.rows {
        let slot = (r.i64(0)? - first) as usize;
        if let Some(n) = series.get_mut(slot) {
            *n = r.i64(1)?;
        }
    }
    Ok(series)
}

fn queue_depth(env: &Env) -> Result<i64> {
    env.db
        .query_one(
            "SELECT COALESCE(SUM(n), 0) FROM job_counts WHERE status = 'queued'",
            params![],
        )?
        .i64(0)
}

/// Measure everything at the clock's now.
pub fn gather(env: &Env, s: &Settings) -> Result<Signals> {
    crate::telemetry::compact(env)?;
    let now = env.clock.now_ms();
    let now_min = now.div_euclid(60_000);
    let (p95, requests, job_p95) = latencies(env, now_min - WINDOW_MINUTES + 1, now_min)?;
    let window_ms = WINDOW_MINUTES * 60_000;
    let rate = arrivals(env, now - window_ms, now)? as f64 / WINDOW_MINUTES as f64;
    let series = arrivals_per_minute(env, now_min, FORECAST_WINDOW_MINUTES)?;
    let forecast = forecast(&series, s.forecast_minutes);
    Ok(Signals {
        metrics: Metrics {
            queue_depth: queue_depth(env)?,
            p95_latency_ms: p95,
            arrival_rate_per_min: round3(rate),
            forecast_arrival_rate_per_min: forecast.arrival_rate_per_min,
            requests_10m: requests,
            job_round_p95_ms: job_p95,
        },
        forecast,
    })
}
