//! The worker job: each tick recovers expired leases, then claims and
//! processes jobs with up to workers × `worker_concurrency` in flight at
//! once (workers: the autoscaler's count, [`crate::scale`]), until the
//! queue is empty or the tick's time budget is spent. Throughput is bounded
//! by the model's latency times the concurrency, not by one call at a time.

use super::process::{self, Outcome};
use super::prompts;
use super::settings::{AiSettings, WorkerSettings};
use crate::error::Result;
use crate::jobs::queue::{self, ClaimPolicy};
use crate::ports::{ids, Env};
use crate::scheduler::{self, Job, JobFn, RunContext};
use futures::future::LocalBoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;

/// The worker: every 5 seconds. Not exclusive: a tick that is still
/// finishing slow jobs does not stop the next one from claiming more (each
/// job has its own lease, so no job runs twice).
pub const JOB: Job = Job {
    name: "worker",
    component: "cron-worker",
    schedule: "*/5 * * * * *",
    period_secs: 5,
    lease_secs: 900,
    max_attempts: 1,
    exclusive: false,
    body: JobFn::Async(tick),
};

scheduler::cron_http_app!("cron-worker", "/api/internal/cron/worker", JOB);

fn tick<'a>(env: &'a Env, _run: &'a RunContext) -> LocalBoxFuture<'a, Result<String>> {
    Box::pin(async move { Ok(drain(env).await?.summary()) })
}

/// What a tick did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TickReport {
    /// Leases recovered from dead workers.
    pub reaped: usize,
    /// Jobs claimed.
    pub claimed: usize,
    /// Completed (passed QA).
    pub completed: usize,
    /// Failed QA on every round.
    pub qa_failed: usize,
    /// Requeued after a transient failure.
    pub retried: usize,
    /// Out of attempts.
    pub dead: usize,
    /// Permanent failures.
    pub failed: usize,
    /// Snoozed (rate limits, cost caps).
    pub snoozed: usize,
    /// Lost their claim (cancelled meanwhile).
    pub lost: usize,
    /// Jobs whose processing hit a storage error (their lease will expire
    /// and they will be retried).
    pub errors: usize,
    /// Most jobs in flight at once.
    pub peak_in_flight: usize,
    /// The queue was paused by an operator: nothing was claimed.
    pub paused: bool,
    /// Workflow steps drained after the jobs ([`crate::workflows::engine`]).
    pub steps: crate::workflows::engine::DrainReport,
    /// Finished jobs filed to Google Drive ([`crate::jobs::filing`]).
    pub filings: crate::jobs::filing::DeliveryReport,
}

impl TickReport {
    /// One line for the scheduler's run record.
    pub fn summary(&self) -> String {
        if self.paused {
            return format!("queue paused; reaped {}", self.reaped);
        }
        let (st, fi) = (&self.steps, &self.filings);
        format!(
            "claimed {}, completed {}, qa_failed {}, retried {}, dead {}, failed {}, snoozed {}, lost {}, errors {}, reaped {}, peak in flight {}; \
             workflow steps: claimed {}, succeeded {}, error branch {}, retried {}, failed {}, dropped {}, errors {}, reaped {}; \
             drive filings: filed {}, retried {}, failed {}",
            self.claimed, self.completed, self.qa_failed, self.retried, self.dead, self.failed, self.snoozed,
            self.lost, self.errors, self.reaped, self.peak_in_flight,
            st.claimed, st.succeeded, st.error_branch, st.retried, st.failed, st.dropped, st.errors, st.reaped,
            fi.filed, fi.retried, fi.failed
        )
    }

    fn count(&mut self, r: Result<Outcome>) {
        match r {
            Ok(Outcome::Completed) => self.completed += 1,
            Ok(Outcome::QaFailed) => self.qa_failed += 1,
            Ok(Outcome::Retried) => self.retried += 1,
            Ok(Outcome::Dead) => self.dead += 1,
            Ok(Outcome::Failed) => self.failed += 1,
            Ok(Outcome::Snoozed) => self.snoozed += 1,
            Ok(Outcome::Lost) => self.lost += 1,
            Err(e) => {
                crate::log::error("worker", &format!("processing failed: {e}"));
                self.errors += 1;
            }
        }
    }
}

/// The most workflow steps one tick runs.
pub const MAX_STEPS_PER_TICK: usize = 200;
/// The most Drive filings one tick delivers.
pub const MAX_FILINGS_PER_TICK: usize = 50;

/// One tick's work with the configured settings: the concurrency is
/// `worker_concurrency` times the workers the autoscaler has in force
/// (read once, here).
pub async fn drain(env: &Env) -> Result<TickReport> {
    let s = AiSettings::load(env.config.as_ref())?;
    let mut w = WorkerSettings::load(env.config.as_ref())?;
    w.concurrency = crate::scale::effective_concurrency(env, w.concurrency)?;
    drain_with(env, &s, &w).await
}

/// One tick's work with explicit settings.
pub async fn drain_with(env: &Env, s: &AiSettings, w: &WorkerSettings) -> Result<TickReport> {
    let mut report = TickReport {
        reaped: queue::reap_expired(env)?.len(),
        ..Default::default()
    };
    if queue::paused(env)?.is_some() {
        report.paused = true;
        return Ok(report);
    }
    s.prices.record(env)?;
    crate::integrations::record(
        env,
        "ai",
        s.provider.name(),
        &format!("work model {}, grading model {}", s.work_model, s.qa_model),
    )?;
    let templates = prompts::active(env)?;
    // Caps and policy once per tick; each decision re-reads today's spend.
    let costs = crate::costs::Guard::load(env)?;
    let owner = ids::new_id("wrk_", env.clock.now_ms(), env.ids.as_ref())?;
    let policy = ClaimPolicy {
        lease_ms: w.lease_ms,
        aging_ms: w.aging_ms,
    };
    let deadline = env.clock.monotonic_ms() + w.tick_budget_ms;
    let mut in_flight = FuturesUnordered::new();
    let mut queue_empty = false;
    let mut dead = Vec::new();
    loop {
        while !queue_empty && in_flight.len() < w.concurrency && env.clock.monotonic_ms() < deadline
        {
            match queue::claim(env, &owner, policy)? {
                Some(job) => {
                    report.claimed += 1;
                    let (templates, owner, costs) = (&templates, owner.as_str(), &costs);
                    in_flight.push(async move {
                        let outcome =
                            process::process(env, s, w, costs, templates, &job, owner).await;
                        (job.id, outcome)
                    });
                    report.peak_in_flight = report.peak_in_flight.max(in_flight.len());
                }
                None => queue_empty = true,
            }
        }
        match in_flight.next().await {
            Some((id, result)) => {
                if matches!(result, Ok(Outcome::Dead)) {
                    dead.push(id);
                }
                report.count(result);
                // A slot freed up: new work may have arrived meanwhile.
                queue_empty = false;
            }
            None => break,
        }
    }
    raise_dead(env, &dead);
    // Workflow steps: short units (one call each), run one after another
    // in what is left of the tick's budget.
    report.steps =
        crate::workflows::engine::drain(env, &owner, MAX_STEPS_PER_TICK, deadline).await?;
    // Then the Drive filings of completed jobs (their outbox), with what
    // is left of the budget.
    report.filings = crate::jobs::filing::deliver_due(env, MAX_FILINGS_PER_TICK, deadline).await?;
    Ok(report)
}

/// Jobs that died this tick raise one WARNING (its fingerprint does not
/// depend on which jobs, so a stream of deaths is one incident counting
/// repeats), linking the jobs. A failure to raise is logged, not fatal.
fn raise_dead(env: &Env, dead: &[String]) {
    if dead.is_empty() {
        return;
    }
    let new = crate::incidents::NewIncident {
        severity: crate::incidents::Severity::Warning,
        source: "queue".into(),
        message: "jobs died after their last attempt".into(),
        links: serde_json::json!({ "job_ids": dead, "count": dead.len() }),
    };
    if let Err(e) = crate::incidents::raise(env, new) {
        crate::log::warn(
            "worker",
            &format!("could not raise the dead-jobs incident: {e}"),
        );
    }
}
