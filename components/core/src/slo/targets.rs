//! SLO targets, from variables with the seed's defaults.

use crate::config;
use crate::error::Result;
use crate::ports::Config;
use serde::Serialize;

/// What the platform promises.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Targets {
    /// Share of requests answered without a 5xx, percent (`slo_availability_pct`).
    pub availability_pct: f64,
    /// The error budget per day, percent of requests (100 − availability).
    pub daily_error_budget_pct: f64,
    /// 95th percentile latency target, ms (`slo_p95_ms`).
    pub p95_ms: f64,
    /// 99th percentile latency target, ms (`slo_p99_ms`).
    pub p99_ms: f64,
    /// Share of graded outputs that pass QA, percent (`slo_quality_pct`).
    pub quality_pct: f64,
    /// Share of job rounds not failed by the provider, percent (`slo_job_success_pct`).
    pub job_success_pct: f64,
    /// 95th percentile of a job round (work plus grading), ms (`slo_job_p95_ms`).
    pub job_p95_ms: f64,
    /// Share of webhook deliveries to the app answered 2xx (`slo_webhook_success_pct`).
    pub webhook_success_pct: f64,
    /// A window with fewer events than this never alerts (`slo_min_events`).
    pub min_events: i64,
}

impl Targets {
    /// Read the `slo_*` variables.
    pub fn load(c: &dyn Config) -> Result<Targets> {
        let availability_pct = config::float(c, "slo_availability_pct", 99.0, 50.0, 99.999)?;
        Ok(Targets {
            availability_pct,
            daily_error_budget_pct: round4(100.0 - availability_pct),
            p95_ms: config::float(c, "slo_p95_ms", 800.0, 1.0, 600_000.0)?,
            p99_ms: config::float(c, "slo_p99_ms", 1200.0, 1.0, 600_000.0)?,
            quality_pct: config::float(c, "slo_quality_pct", 90.0, 1.0, 99.999)?,
            job_success_pct: config::float(c, "slo_job_success_pct", 99.0, 50.0, 99.999)?,
            job_p95_ms: config::float(c, "slo_job_p95_ms", 30_000.0, 1.0, 3_600_000.0)?,
            webhook_success_pct: config::float(c, "slo_webhook_success_pct", 99.0, 50.0, 99.999)?,
            min_events: config::int(c, "slo_min_events", 100, 1, 1_000_000)?,
        })
    }

    /// The availability error budget as a fraction of requests.
    pub fn error_budget(&self) -> f64 {
        (100.0 - self.availability_pct) / 100.0
    }

    /// The job error budget as a fraction of job rounds.
    pub fn job_budget(&self) -> f64 {
        (100.0 - self.job_success_pct) / 100.0
    }

    /// The quality error budget as a fraction of graded outputs.
    pub fn quality_budget(&self) -> f64 {
        (100.0 - self.quality_pct) / 100.0
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}
