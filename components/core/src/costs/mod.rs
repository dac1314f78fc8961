//! Cost guardrails: daily spend per model against a global cap and
//! per-model caps, and what happens as the caps fill up.
//!
//! - [`spend`]: today's spend per model family, pass rates and the cost
//!   per passing output, from what the worker records per attempt.
//! - [`caps`]: the caps (variables, overridden through the API) and
//!   `set-cap`.
//! - [`policy`]: which cheaper model may take over a capped model's work,
//!   and the QA pass-rate floor it must keep.
//! - [`status`]: levels (OK < 90 % ≤ WARNING < 100 % ≤ CRITICAL), the
//!   action (NONE or THROTTLE) and `GET /api/costs/status`'s answer.
//! - [`guard`]: the worker's decision before each work and grading call:
//!   go, go on the cheaper model, or snooze.
//! - [`alerts`]: the WARNING and CRITICAL incidents.
//! - [`api`]: the HTTP handlers and their [`api::ROUTES`] (in `api-ops`).
//! - [`JOB`]: the hourly `cron-costs` check that raises the incidents.
//!
//! Money is integer micro-dollars; the USD floats in the status are for
//! people. Days are UTC days. Caps are platform-wide (all tenants).

pub mod alerts;
pub mod api;
pub mod caps;
pub mod guard;
pub mod policy;
pub mod spend;
pub mod status;

pub use guard::{Guard, Verdict};
pub use status::{compute as status, Status};

use crate::error::Result;
use crate::ports::Env;
use crate::scheduler::{self, Job, JobFn, RunContext};

/// The hourly cost check (`cron-costs`): every cap at 90 % or more raises
/// its incident (WARNING, or CRITICAL once reached), one per cap, level
/// and day (see [`alerts`]).
pub const JOB: Job = Job {
    name: "costs",
    component: "cron-costs",
    schedule: "0 0 * * * *",
    period_secs: 3600,
    lease_secs: 300,
    max_attempts: 3,
    exclusive: true,
    body: JobFn::Sync(check),
};

scheduler::cron_http_app!("cron-costs", "/api/internal/cron/costs", JOB);

/// Compare today's spend with every cap and raise what is due.
pub fn check(env: &Env, _run: &RunContext) -> Result<String> {
    let day = spend::day_of(env.clock.now_ms());
    let caps = caps::Caps::load(env)?;
    let spent = spend::on_day(env.db.as_ref(), day)?;
    let mut lines = Vec::new();
    for usage in status::usages(&caps, &spent) {
        let alert = alerts::raise(env, &usage, day)?;
        lines.push(format!(
            "{} {:.2}% {}{}",
            usage.name(),
            usage.utilization_pct(),
            usage.level().as_str(),
            alert.describe()
        ));
    }
    Ok(lines.join("; "))
}
