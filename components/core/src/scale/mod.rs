//! Autoscaling the worker: how many "workers" (units of the worker's
//! concurrency) the queue is drained with. A worker tick keeps up to
//! workers × `worker_concurrency` jobs in flight
//! ([`state::effective_concurrency`], read once per tick by
//! [`crate::ai::worker::drain`]), so applying a change is visible in the
//! drain rate at the next tick, on every replica.
//!
//! - [`settings`]: `scale_min`, `scale_max`, `scale_cooldown_min`,
//!   `scale_dry_run`, `scale_forecast_minutes`, and the seed's thresholds.
//! - [`signals`]: p95 request latency and arrivals over 10 minutes, the
//!   queue depth, per-minute arrivals of the last hour.
//! - [`forecast`]: least-squares trend of those arrivals, extrapolated.
//! - [`decision`]: the rules, min/max, cooldown, deploy gate (pure).
//! - [`state`]: `scale_changes`, the workers in force.
//! - [`status`], [`apply`], [`api`]: the decision served, applied, routed.
//! - [`JOB`]: `cron-autoscale`, every 10 minutes: decide, and apply unless
//!   `scale_dry_run` is true.

pub mod api;
pub mod apply;
pub mod decision;
pub mod forecast;
pub mod settings;
pub mod signals;
pub mod state;
pub mod status;

pub use apply::{apply, Applied, ApplyRequest};
pub use decision::{Action, Block, Decision, Reason};
pub use settings::Settings;
pub use state::{current_workers, effective_concurrency};
pub use status::{status, Status};

use crate::error::Result;
use crate::ports::Env;
use crate::scheduler::{self, Job, JobFn, RunContext};

/// The autoscaling job: every 10 minutes (the cooldown's length).
pub const JOB: Job = Job {
    name: "autoscale",
    component: "cron-autoscale",
    schedule: "0 */10 * * * *",
    period_secs: 600,
    lease_secs: 300,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Sync(autoscale),
};

scheduler::cron_http_app!("cron-autoscale", "/api/internal/cron/autoscale", JOB);

/// One run (the job's body): decide, apply unless `scale_dry_run`, prune
/// changes older than 30 days, and say what was done.
pub fn autoscale(env: &Env, run: &RunContext) -> Result<String> {
    let applied = apply(
        env,
        &ApplyRequest::default(),
        &crate::audit::Who::scheduler(),
    )?;
    let pruned = state::prune(env, run.now_ms)?;
    let mut summary = applied.summary();
    if pruned > 0 {
        summary.push_str(&format!("; {pruned} old change(s) pruned"));
    }
    Ok(summary)
}
