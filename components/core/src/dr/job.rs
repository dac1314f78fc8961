//! cron-dr: every minute it runs a drill asked for from the console, and
//! the weekly drill when it is due (Sundays 01:00 UTC; a week the app was
//! down at that hour is caught up on the next tick). A week the database
//! did not live through (installed after that Sunday 01:00) has no drill
//! due: a new install is not paged for lacking backups it could not have.

use super::runs;
use crate::error::Result;
use crate::params;
use crate::ports::{DbExt, Env};
use crate::scheduler::{self, Job, JobFn, RunContext};
use futures::future::LocalBoxFuture;

/// The DR job.
pub const JOB: Job = Job {
    name: "dr",
    component: "cron-dr",
    schedule: "15 * * * * *",
    period_secs: 60,
    lease_secs: 900,
    max_attempts: 1,
    exclusive: true,
    body: JobFn::Async(tick),
};

scheduler::cron_http_app!("cron-dr", "/api/internal/cron/dr", JOB);

fn tick<'a>(env: &'a Env, run: &'a RunContext) -> LocalBoxFuture<'a, Result<String>> {
    Box::pin(async move {
        let db = env.db.as_ref();
        if let Some(id) = runs::claim_requested(db, run.now_ms)? {
            let done = super::run_drill(env, &id).await?;
            return Ok(summary("requested drill", &done));
        }
        let due = super::weekly_due(run.now_ms);
        if runs::scheduled_drill_since(db, due)? {
            return Ok("no drill due".into());
        }
        let installed = db
            .query_one(
                "SELECT MIN(applied_at) FROM schema_migrations WHERE version = ?1",
                params![1],
            )?
            .opt_i64(0)?;
        if installed.is_none_or(|at| at > due) {
            return Ok("no drill due (installed after the last Sunday 01:00 UTC)".into());
        }
        let id = super::start(env, super::Kind::Drill, "schedule", "scheduler")?;
        let done = super::run_drill(env, &id).await?;
        Ok(summary("weekly drill", &done))
    })
}

fn summary(what: &str, run: &super::Run) -> String {
    format!(
        "{what} {}: {:?} in {} ms ({} backup {}){}",
        run.id,
        run.status,
        run.duration_ms.unwrap_or(0),
        run.source,
        run.backup_id.as_deref().unwrap_or("none"),
        run.error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    )
}
