//! Service level objectives: availability (5xx answers), latency (p95 and
//! p99), job processing (rounds the LLM provider failed, and their
//! latency), quality (the QA pass rate) and webhook success, each against
//! targets from variables, with the SRE workbook's multiwindow burn-rate
//! alerts, the deploy gate, and `GET /healthz/strict` for load balancers
//! and deploy pipelines.
//!
//! - [`targets`]: the `slo_*` variables.
//! - [`alerts`]: windows, rules (1 h & 5 min at 14.4x, 6 h & 30 min at 6x,
//!   3 d & 6 h at 1x) and the minimum-traffic guard.
//! - [`budget`]: the report, from `slo_minutes` (platform-wide minute totals
//!   folded by telemetry compaction, QA verdicts added by the worker).
//! - [`gate`]: the deploy gate (CRITICAL for 2 h raises it; recovery or an
//!   operator clears it).
//! - [`api`]: the routes; [`JOB`]: `cron-slo`, every 15 minutes.

pub mod alerts;
pub mod api;
pub mod budget;
pub mod gate;
pub mod targets;

pub use alerts::Level;
pub use budget::{report, Report};
pub use targets::Targets;

use crate::error::Result;
use crate::incidents::{self, NewIncident, Severity};
use crate::ports::Env;
use crate::scheduler::{self, Job, JobFn, RunContext};

/// Routes whose status is a health verdict, not a failure: a 503 from
/// `/healthz/strict` reports a breach and must not deepen it.
pub const EXCLUDED_ROUTES: &[&str] = &["/health", "/healthz/strict"];

/// The SLO job: every 15 minutes, evaluate, move the deploy gate, and
/// raise incidents for burns and breaches (deduplicated by fingerprint,
/// so a lasting burn is one incident counting repeats).
pub const JOB: Job = Job {
    name: "slo",
    component: "cron-slo",
    schedule: "0 */15 * * * *",
    period_secs: 900,
    lease_secs: 600,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Sync(evaluate),
};

scheduler::cron_http_app!("cron-slo", "/api/internal/cron/slo", JOB);

fn raise(env: &Env, severity: Severity, message: &str, r: &Report) -> Result<()> {
    let links = serde_json::json!({
        "metrics": ["echopilot_http_requests_total", "echopilot_http_request_duration_seconds"],
        "windows": r.windows,
        "burn_alert": r.burn_alert,
        "quality_alert": r.quality.level,
        "jobs_alert": r.jobs.level,
        "job_latency_1h": r.job_latency_1h,
        "latency_1h": r.latency_1h,
        "report": "/api/slo/budget",
    });
    incidents::raise(
        env,
        NewIncident {
            severity,
            source: "slo".into(),
            message: message.into(),
            links,
        },
    )?;
    Ok(())
}

fn page_level(level: Level) -> Option<Severity> {
    match level {
        Level::Critical => Some(Severity::Critical),
        Level::Warning => Some(Severity::Warning),
        _ => None,
    }
}

/// One evaluation (the job's body).
pub fn evaluate(env: &Env, run: &RunContext) -> Result<String> {
    let r = report(env)?;
    let change = gate::observe(env, r.burn_alert, run.now_ms)?;
    if let Some(sev) = page_level(r.burn_alert) {
        let msg = format!(
            "availability error budget burning: {}",
            r.burn_alert.as_str()
        );
        raise(env, sev, &msg, &r)?;
    }
    if let Some(sev) = page_level(r.jobs.level) {
        let msg = format!(
            "job processing error budget burning: {}",
            r.jobs.level.as_str()
        );
        raise(env, sev, &msg, &r)?;
    }
    if r.job_latency_1h.breached {
        raise(
            env,
            Severity::Warning,
            "job rounds slower than their SLO target",
            &r,
        )?;
    }
    if let Some(sev) = page_level(r.quality.level) {
        let msg = format!("QA quality budget burning: {}", r.quality.level.as_str());
        raise(env, sev, &msg, &r)?;
    }
    if r.latency_1h.breached {
        raise(
            env,
            Severity::Warning,
            "latency over its SLO target in the last hour",
            &r,
        )?;
    }
    match change {
        gate::Change::Raised => raise(env, Severity::Critical, "deploy gate raised", &r)?,
        gate::Change::Recovered => {
            raise(env, Severity::Info, "deploy gate cleared by recovery", &r)?
        }
        gate::Change::None => {}
    }
    Ok(format!(
        "availability {}, jobs {}, quality {}, burn {}% of the daily budget, {} breach(es), gate {}",
        r.burn_alert.as_str(),
        r.jobs.level.as_str(),
        r.quality.level.as_str(),
        r.burn_rate_pct,
        r.breaches.len(),
        if r.deploy_gate.up || change == gate::Change::Raised {
            "up"
        } else {
            "down"
        }
    ))
}
