//! The latency anomaly guard: every request sample (health checks aside)
//! is compared with the mean and standard deviation of the 50 samples
//! before it, one series across all routes (the samples behind
//! `echopilot_http_request_duration_seconds`); a sample more than 3σ
//! above the mean is an anomaly, and a run that finds any raises one
//! WARNING incident (source `anomaly`, a stable message, so a lasting
//! problem is one incident counting repeats) linking the worst of them.
//!
//! Only slow points count (a fast request is no incident), only against a
//! full window of 50, and never against a flat one (σ under 1 µs). Each run
//! examines what arrived since the last (a watermark in `app_meta`), at
//! most [`scan::MAX_EXAMINED`] samples, the newest; the watermark moves
//! only after the incident is raised, so a failed run is examined again.
//!
//! - [`rolling`]: the window and the outlier test (pure).
//! - [`scan`]: the samples, the history before them, the watermark.
//! - [`JOB`]: `cron-anomaly`, every 5 minutes (samples are kept at least
//!   an hour, so nothing is pruned before it is examined).

pub mod rolling;
pub mod scan;

pub use scan::{scan, Sample, Scan};

use crate::error::Result;
use crate::incidents::{self, NewIncident, Raised, Severity};
use crate::ports::Env;
use crate::scheduler::{self, Job, JobFn, RunContext};
use rolling::Outlier;

/// The incident's stable message.
pub const MESSAGE: &str = "request latency anomaly";
/// The metric the samples feed.
pub const METRIC: &str = "echopilot_http_request_duration_seconds";
/// The most anomalies an incident links (the worst ones).
pub const MAX_LINKED: usize = 10;

/// The anomaly job: every 5 minutes.
pub const JOB: Job = Job {
    name: "anomaly",
    component: "cron-anomaly",
    schedule: "0 */5 * * * *",
    period_secs: 300,
    lease_secs: 240,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Sync(guard),
};

scheduler::cron_http_app!("cron-anomaly", "/api/internal/cron/anomaly", JOB);

fn ms(us: f64) -> f64 {
    (us / 10.0).round() / 100.0
}

fn link(s: &Sample, o: &Outlier) -> serde_json::Value {
    serde_json::json!({
        "request_id": s.request_id,
        "at": crate::time::rfc3339(s.at_ms),
        "component": s.component,
        "method": s.method,
        "route": s.route,
        "status": s.status,
        "latency_ms": ms(s.latency_us as f64),
        "mean_ms": ms(o.stats.mean),
        "std_ms": ms(o.stats.std),
        "sigmas": (o.sigmas * 100.0).round() / 100.0,
    })
}

/// The incident's links: the worst anomalies (most σ first).
pub fn links(anomalies: &[(Sample, Outlier)]) -> serde_json::Value {
    let mut worst: Vec<&(Sample, Outlier)> = anomalies.iter().collect();
    worst.sort_by(|a, b| b.1.sigmas.total_cmp(&a.1.sigmas));
    worst.truncate(MAX_LINKED);
    let first = worst.first().map(|(_, o)| o.stats);
    serde_json::json!({
        "metric": METRIC,
        "count": anomalies.len(),
        "window": scan::WINDOW,
        "sigmas": scan::SIGMAS,
        "mean_ms": first.map(|s| ms(s.mean)),
        "std_ms": first.map(|s| ms(s.std)),
        "request_ids": worst.iter().map(|(s, _)| s.request_id.as_str()).collect::<Vec<_>>(),
        "samples": worst.iter().map(|(s, o)| link(s, o)).collect::<Vec<_>>(),
    })
}

fn raise(env: &Env, anomalies: &[(Sample, Outlier)]) -> Result<Raised> {
    incidents::raise(
        env,
        NewIncident {
            severity: Severity::Warning,
            source: "anomaly".into(),
            message: MESSAGE.into(),
            links: links(anomalies),
        },
    )
}

/// One run (the job's body): scan, raise, move the watermark.
pub fn guard(env: &Env, _run: &RunContext) -> Result<String> {
    let found = scan(env)?;
    let raised = if found.anomalies.is_empty() {
        None
    } else {
        Some(raise(env, &found.anomalies)?)
    };
    scan::advance(env.db.as_ref(), found.upto)?;
    let mut summary = format!(
        "examined {} request samples ({} skipped), {} beyond {}σ",
        found.examined,
        found.skipped,
        found.anomalies.len(),
        scan::SIGMAS
    );
    if let Some(r) = raised {
        summary.push_str(&format!(
            "; incident {} ({})",
            r.incident.id,
            if r.repeat { "repeat" } else { "new" }
        ));
    }
    Ok(summary)
}
