//! Claiming slots, running job bodies and recording the outcome.

use super::{Job, JobFn, RunContext, Trigger, JOB_NAMES};
use crate::app::Ctx;
use crate::error::{Error, Result};
use crate::http::{Request, Response};
use crate::params;
use crate::ports::{ids, DbExt, Env};
use serde::Serialize;

/// How long finished runs are kept.
const KEEP_RUNS_MS: i64 = 30 * 86_400_000;

/// What happened to a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// This call ran the job and it succeeded.
    Ran {
        /// The job's summary.
        summary: String,
    },
    /// This call ran the job and it failed.
    Failed {
        /// Why.
        error: String,
    },
    /// The slot already succeeded (another replica or caller ran it).
    AlreadyDone,
    /// Another run holds this slot under a live lease.
    InProgress,
    /// Another slot of this job is still running (overlap guard).
    Overlap,
    /// The slot failed `max_attempts` times; it will not run again.
    GaveUp,
}

/// A run's report (the HTTP trigger returns it as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The job.
    pub job: &'static str,
    /// The slot.
    pub slot: i64,
    /// When the slot starts.
    pub slot_start: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Attempt number at this slot (when this call ran it).
    pub attempt: Option<i64>,
    /// Slots missed since the last success (when this call ran it).
    pub missed_slots: Option<i64>,
    /// How long the body took, ms.
    pub duration_ms: Option<f64>,
}

/// Run `job` for the slot containing `at_ms`, if nobody else has.
pub async fn run(env: &Env, job: &Job, trigger: Trigger, at_ms: i64) -> Result<Report> {
    // Scheduled runs keep the schema current (request paths only migrate on
    // meeting a missing table: see `db`).
    crate::db::migrate::ensure_current(env.db.as_ref())?;
    let period_ms = job.period_secs * 1000;
    let slot = at_ms.div_euclid(period_ms);
    let now = env.clock.now_ms();
    let owner = ids::new_id("run_", now, env.ids.as_ref())?;
    let mut report = Report {
        job: job.name,
        slot,
        slot_start: crate::time::rfc3339(slot * period_ms),
        outcome: Outcome::AlreadyDone,
        attempt: None,
        missed_slots: None,
        duration_ms: None,
    };

    let claimed = env.db.query_opt(
        "INSERT INTO scheduler_runs (job, slot, status, owner, trigger, attempts, lease_expires_at, started_at)
         SELECT ?1, ?2, 'running', ?3, ?4, 1, ?5, ?6
         WHERE ?8 = 0 OR NOT EXISTS (
             SELECT 1 FROM scheduler_runs
             WHERE job = ?1 AND status = 'running' AND lease_expires_at > ?6 AND slot <> ?2)
         ON CONFLICT (job, slot) DO UPDATE SET
             status = 'running', owner = excluded.owner, trigger = excluded.trigger,
             attempts = scheduler_runs.attempts + 1,
             lease_expires_at = excluded.lease_expires_at, started_at = excluded.started_at,
             finished_at = NULL, summary = NULL, error = NULL
         WHERE (scheduler_runs.status = 'failed' AND scheduler_runs.attempts < ?7)
            OR (scheduler_runs.status = 'running' AND scheduler_runs.lease_expires_at <= ?6)
         RETURNING attempts",
        params![
            job.name,
            slot,
            owner.as_str(),
            trigger.as_str(),
            now + job.lease_secs * 1000,
            now,
            job.max_attempts,
            job.exclusive
        ],
    )?;
    let Some(claimed) = claimed else {
        report.outcome = why_not(env, job, slot, now)?;
        return Ok(report);
    };
    let attempt = claimed.i64(0)?;

    let last_success_slot = env
        .db
        .query_one(
            "SELECT MAX(slot) FROM scheduler_runs WHERE job = ?1 AND status = 'succeeded' AND slot < ?2",
            params![job.name, slot],
        )?
        .opt_i64(0)?;
    let ctx = RunContext {
        slot,
        slot_start_ms: slot * period_ms,
        now_ms: now,
        trigger,
        attempt,
        last_success_slot,
        missed_slots: last_success_slot
            .map(|s| (slot - s - 1).max(0))
            .unwrap_or(0),
    };

    let started = env.clock.monotonic_ms();
    let result = match job.body {
        JobFn::Sync(f) => f(env, &ctx),
        JobFn::Async(f) => f(env, &ctx).await,
    };
    let duration = env.clock.monotonic_ms() - started;
    let finished = env.clock.now_ms();
    let (status, summary, error) = match &result {
        Ok(s) => ("succeeded", Some(s.clone()), None),
        Err(e) => ("failed", None, Some(e.to_string())),
    };
    let kept = env.db.query_opt(
        "UPDATE scheduler_runs SET status = ?1, finished_at = ?2, summary = ?3, error = ?4
         WHERE job = ?5 AND slot = ?6 AND owner = ?7 RETURNING slot",
        params![
            status,
            finished,
            summary,
            error,
            job.name,
            slot,
            owner.as_str()
        ],
    )?;
    if kept.is_none() {
        crate::log::warn(
            "scheduler",
            &format!(
                "{} slot {slot}: the lease expired during the run and another owner took it",
                job.name
            ),
        );
    }
    env.db.exec(
        "DELETE FROM scheduler_runs WHERE job = ?1 AND started_at < ?2 AND status <> 'running'",
        params![job.name, finished - KEEP_RUNS_MS],
    )?;

    report.attempt = Some(attempt);
    report.missed_slots = Some(ctx.missed_slots);
    report.duration_ms = Some((duration * 1000.0).round() / 1000.0);
    report.outcome = match result {
        Ok(summary) => Outcome::Ran { summary },
        Err(e) => Outcome::Failed {
            error: e.to_string(),
        },
    };
    Ok(report)
}

fn why_not(env: &Env, job: &Job, slot: i64, now: i64) -> Result<Outcome> {
    let row = env.db.query_opt(
        "SELECT status, attempts, lease_expires_at FROM scheduler_runs WHERE job = ?1 AND slot = ?2",
        params![job.name, slot],
    )?;
    Ok(match row {
        None => Outcome::Overlap,
        Some(r) => match r.text(0)?.as_str() {
            "succeeded" => Outcome::AlreadyDone,
            "failed" if r.i64(1)? >= job.max_attempts => Outcome::GaveUp,
            "running" if r.i64(2)? > now => Outcome::InProgress,
            // The row changed between the claim and this look: someone else won.
            _ => Outcome::InProgress,
        },
    })
}

/// [`run`], then the report in the event log (and stderr) as an event of
/// the job's component: info, or error when the run failed. Every trigger
/// goes through here, so `GET /api/logs` shows runs whoever started them.
pub async fn run_and_log(env: &Env, job: &Job, trigger: Trigger, at_ms: i64) -> Result<Report> {
    use crate::events::{emit, Event, Level};
    let report = run(env, job, trigger, at_ms).await;
    let (level, line) = match &report {
        Ok(r) => match r.outcome {
            Outcome::Failed { .. } => (Level::Error, serde_json::to_string(r).unwrap_or_default()),
            _ => (Level::Info, serde_json::to_string(r).unwrap_or_default()),
        },
        Err(e) => (Level::Error, e.to_string()),
    };
    emit(env, &Event::new(level, job.component, job.name, &line));
    report
}

/// `POST /api/internal/cron/{job}` for `job`: run it now, answer the report.
/// A failed run answers 503 `job_failed` so an external scheduler retries.
pub async fn run_via_http(job: &Job, ctx: &Ctx<'_>, _req: &Request) -> Result<Response> {
    let at = ctx.env.clock.now_ms();
    let report = run_and_log(ctx.env, job, Trigger::Http, at).await?;
    if let Outcome::Failed { error } = &report.outcome {
        return Err(Error::unavailable(
            "job_failed",
            format!("{} failed: {error}", job.name),
        ));
    }
    Ok(Response::ok(&report))
}

/// `POST /api/internal/cron/{job}` for a name no cron component serves.
pub fn unknown_job(ctx: &Ctx, _req: &Request) -> Result<Response> {
    let name = ctx.params.require("job")?;
    if JOB_NAMES.contains(&name) {
        return Err(Error::unavailable(
            "job_not_routed",
            format!(
                "job `{name}` exists but its cron component is not routed here; check spin.toml"
            ),
        ));
    }
    Err(Error::new(
        crate::error::Kind::NotFound,
        "unknown_job",
        format!(
            "no scheduled job named `{name}`; known jobs: {}",
            JOB_NAMES.join(", ")
        ),
    ))
}
