//! The durable queue: atomic claims with leases, lease expiry, retries with
//! backoff, snoozes, dead letters. Safe with any number of workers and
//! replicas on one database: every state change is one conditional
//! statement (or one short transaction) that only the lease holder can make.

use super::record::{Job, JOB_COLUMNS};
use crate::db::transaction;
use crate::error::Result;
use crate::params;
use crate::ports::{DbExt, Env};

/// How a claim orders work: priority first (waiting jobs age up one level
/// per `aging_ms`), then the tenant served longest ago, then the oldest job.
#[derive(Debug, Clone, Copy)]
pub struct ClaimPolicy {
    /// How long the claimer may hold the job.
    pub lease_ms: i64,
    /// A due job gains one priority level per this much waiting.
    pub aging_ms: i64,
}

/// Claim the next due job for `owner`, or `None` when nothing is due.
///
/// One statement: the candidates are, for each tenant with queued work and
/// each priority, that tenant's oldest due job of that priority (an index
/// seek each, so the cost does not grow with the queue's depth); the best
/// candidate is taken only if it is still queued, so two claimers can never
/// take the same job.
pub fn claim(env: &Env, owner: &str, policy: ClaimPolicy) -> Result<Option<Job>> {
    let now = env.clock.now_ms();
    let row = env.db.query_opt(
        &format!(
            "WITH candidates AS (
                SELECT t.last_claim_seq AS seq, p.rank AS rank,
                    (SELECT j.id FROM jobs j
                      WHERE j.status = 'queued' AND j.tenant_id = t.tenant_id
                        AND j.priority = p.rank AND j.run_at <= ?3
                      ORDER BY j.run_at, j.id LIMIT 1) AS id
                FROM queue_tenants t,
                     (SELECT 0 AS rank UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) p
            )
            UPDATE jobs SET status = 'processing', lease_owner = ?1, lease_expires_at = ?2,
                attempts = attempts + 1, started_at = COALESCE(started_at, ?3), updated_at = ?3
            WHERE id = (
                SELECT c.id FROM candidates c JOIN jobs q ON q.id = c.id
                ORDER BY MAX(0, c.rank - (?3 - q.run_at) / ?4), c.seq, q.run_at, c.id
                LIMIT 1)
              AND status = 'queued'
            RETURNING {JOB_COLUMNS}"
        ),
        params![owner, now + policy.lease_ms, now, policy.aging_ms.max(1)],
    )?;
    row.map(|r| Job::from_row(&r)).transpose()
}

/// Requeue (or bury) jobs whose lease expired: their worker died. Each one's
/// running attempt is recorded as abandoned (created if the worker died
/// before writing it). Returns the ids recovered.
pub fn reap_expired(env: &Env) -> Result<Vec<String>> {
    let now = env.clock.now_ms();
    transaction(env.db.as_ref(), |db| {
        db.exec(
            "UPDATE job_attempts SET status = 'abandoned', finished_at = ?1,
                error = 'lease expired: the worker stopped before finishing'
             WHERE status = 'running' AND job_id IN
                (SELECT id FROM jobs WHERE status = 'processing' AND lease_expires_at < ?1)",
            params![now],
        )?;
        db.exec(
            "INSERT INTO job_attempts (job_id, tenant_id, claim, round, worker, status, error, build_sha, started_at, finished_at)
             SELECT j.id, j.tenant_id, j.attempts, 0, j.lease_owner, 'abandoned',
                    'lease expired before the worker recorded the attempt', j.build_sha, COALESCE(j.updated_at, ?1), ?1
             FROM jobs j
             WHERE j.status = 'processing' AND j.lease_expires_at < ?1
               AND NOT EXISTS (SELECT 1 FROM job_attempts a WHERE a.job_id = j.id AND a.claim = j.attempts)",
            params![now],
        )?;
        let rows = db.exec(
            "UPDATE jobs SET
                status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
                dead_reason = CASE WHEN attempts >= max_attempts
                    THEN 'lease expired on the last attempt: the worker stopped before finishing' ELSE dead_reason END,
                finished_at = CASE WHEN attempts >= max_attempts THEN ?1 ELSE finished_at END,
                sync_state = CASE WHEN attempts >= max_attempts AND external_ref IS NOT NULL THEN 'pending' ELSE sync_state END,
                last_error = 'lease expired: the worker stopped before finishing',
                lease_owner = NULL, lease_expires_at = NULL, run_at = ?1, updated_at = ?1
             WHERE status = 'processing' AND lease_expires_at < ?1
             RETURNING id",
            params![now],
        )?;
        rows.rows.iter().map(|r| r.text(0)).collect()
    })
}

/// What a finished job records.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    /// The accepted output.
    pub output: String,
    /// Provider name.
    pub provider: String,
    /// The model that did the work.
    pub model: String,
    /// The grading model.
    pub qa_model: String,
    /// Template id and version used.
    pub prompt_template_id: String,
    /// Template version.
    pub prompt_version: i64,
    /// Token and cost totals over every attempt of this claim.
    pub tokens_in: i64,
    /// Output tokens.
    pub tokens_out: i64,
    /// Grading input tokens.
    pub qa_tokens_in: i64,
    /// Grading output tokens.
    pub qa_tokens_out: i64,
    /// Total cost (work and grading), micro-dollars.
    pub cost_micros: i64,
    /// Grading part of the cost.
    pub qa_cost_micros: i64,
    /// Wall time from claim to result.
    pub latency_ms: i64,
    /// Overall QA score.
    pub qa_score: f64,
    /// Whether it passed QA.
    pub qa_passed: bool,
    /// Per-criterion scores and reasons (JSON).
    pub qa_scores: String,
    /// Produced by the simulated provider.
    pub simulated: bool,
}

/// How a claim ends.
#[derive(Debug, Clone)]
pub enum Finish {
    /// Done: `completed` (QA passed) or `failed` (QA never passed).
    Done(Completion),
    /// A transient failure: retry after `backoff_ms`, or `dead` when the
    /// attempts are spent.
    Retry {
        /// Why.
        error: String,
        /// Wait before the next attempt.
        backoff_ms: i64,
        /// Costs spent on the failed attempt.
        cost_micros: i64,
    },
    /// A permanent failure (the request can never succeed): `failed`.
    Fail {
        /// Why.
        error: String,
        /// Costs spent.
        cost_micros: i64,
    },
    /// Not now (rate limit, cost cap): back to the queue at `until` without
    /// spending an attempt.
    Snooze {
        /// When to try again (Unix ms).
        until: i64,
        /// Why.
        reason: String,
        /// Costs this claim spent before it stopped.
        cost_micros: i64,
    },
}

/// Record how `job`'s claim by `owner` ended. Returns `false`, changing
/// nothing, when the claim is no longer valid (the job was cancelled, or the
/// lease expired and another worker took it over).
pub fn finish(env: &Env, job: &Job, owner: &str, how: &Finish) -> Result<bool> {
    let now = env.clock.now_ms();
    let guard = "WHERE id = ?1 AND status = 'processing' AND lease_owner = ?2 RETURNING id";
    let done = |status: &str| {
        format!(
            "UPDATE jobs SET status = '{status}', lease_owner = NULL, lease_expires_at = NULL,
                finished_at = ?3, updated_at = ?3,
                sync_state = CASE WHEN external_ref IS NOT NULL THEN 'pending' ELSE sync_state END"
        )
    };
    let row = match how {
        Finish::Done(c) => {
            let status = if c.qa_passed { "completed" } else { "failed" };
            env.db.query_opt(
                &format!(
                    "{}, output = ?4, provider = ?5, model = ?6, qa_model = ?7, prompt_template_id = ?8,
                        prompt_version = ?9, tokens_in = tokens_in + ?10, tokens_out = tokens_out + ?11,
                        qa_tokens_in = qa_tokens_in + ?12, qa_tokens_out = qa_tokens_out + ?13,
                        cost_micros = cost_micros + ?14, qa_cost_micros = qa_cost_micros + ?15,
                        latency_ms = ?16, qa_score = ?17, qa_passed = ?18, qa_scores = ?19, simulated = ?20,
                        last_error = ?21
                     {guard}",
                    done(status)
                ),
                params![
                    job.id.as_str(),
                    owner,
                    now,
                    c.output.as_str(),
                    c.provider.as_str(),
                    c.model.as_str(),
                    c.qa_model.as_str(),
                    c.prompt_template_id.as_str(),
                    c.prompt_version,
                    c.tokens_in,
                    c.tokens_out,
                    c.qa_tokens_in,
                    c.qa_tokens_out,
                    c.cost_micros,
                    c.qa_cost_micros,
                    c.latency_ms,
                    c.qa_score,
                    c.qa_passed,
                    c.qa_scores.as_str(),
                    c.simulated,
                    (!c.qa_passed).then_some("qa_failed: the output never reached the QA threshold")
                ],
            )?
        }
        Finish::Retry {
            error,
            backoff_ms,
            cost_micros,
        } => env.db.query_opt(
            &format!(
                "UPDATE jobs SET
                    status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
                    dead_reason = CASE WHEN attempts >= max_attempts THEN ?4 ELSE NULL END,
                    finished_at = CASE WHEN attempts >= max_attempts THEN ?3 ELSE NULL END,
                    sync_state = CASE WHEN attempts >= max_attempts AND external_ref IS NOT NULL
                        THEN 'pending' ELSE sync_state END,
                    run_at = ?3 + ?5, last_error = ?4, cost_micros = cost_micros + ?6,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = ?3
                 {guard}"
            ),
            params![
                job.id.as_str(),
                owner,
                now,
                error.as_str(),
                *backoff_ms,
                *cost_micros
            ],
        )?,
        Finish::Fail { error, cost_micros } => env.db.query_opt(
            &format!(
                "{}, last_error = ?4, cost_micros = cost_micros + ?5 {guard}",
                done("failed")
            ),
            params![job.id.as_str(), owner, now, error.as_str(), *cost_micros],
        )?,
        Finish::Snooze {
            until,
            reason,
            cost_micros,
        } => env.db.query_opt(
            &format!(
                "UPDATE jobs SET status = 'queued', attempts = MAX(attempts - 1, 0), run_at = ?4,
                    last_error = ?5, cost_micros = cost_micros + ?6, lease_owner = NULL,
                    lease_expires_at = NULL, updated_at = ?3
                 {guard}"
            ),
            params![
                job.id.as_str(),
                owner,
                now,
                *until,
                reason.as_str(),
                *cost_micros
            ],
        )?,
    };
    Ok(row.is_some())
}

/// Exponential backoff with jitter after failed attempt `attempt` (1-based):
/// `min(cap, base * 2^(attempt-1))`, then a random point in its upper half
/// ("equal jitter"), so retries of many jobs spread out.
pub fn backoff_ms(attempt: i64, base_ms: i64, cap_ms: i64, random_unit: f64) -> i64 {
    let exp = (attempt - 1).clamp(0, 30) as u32;
    let full = base_ms.saturating_mul(1i64 << exp).min(cap_ms).max(0);
    let half = full / 2;
    half + (half as f64 * random_unit.clamp(0.0, 1.0)) as i64
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_in_the_upper_half() {
        assert_eq!(backoff_ms(1, 1000, 60_000, 0.0), 500);
        assert_eq!(backoff_ms(1, 1000, 60_000, 1.0), 1000);
        assert_eq!(backoff_ms(3, 1000, 60_000, 1.0), 4000);
        assert_eq!(backoff_ms(3, 1000, 60_000, 0.0), 2000);
        assert_eq!(backoff_ms(20, 1000, 60_000, 1.0), 60_000);
        assert_eq!(backoff_ms(200, 1000, 60_000, 0.5), 45_000);
    }
}

const PAUSE_KEY: &str = "queue.paused";

/// Why and since when the queue is paused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pause {
    /// Who paused it.
    pub by: String,
    /// When, RFC 3339.
    pub at: String,
    /// Why.
    pub reason: Option<String>,
}

/// The pause in force, if any: while paused, workers claim nothing (jobs
/// keep arriving and wait; leases of dead workers are still recovered).
pub fn paused(env: &Env) -> Result<Option<Pause>> {
    Ok(crate::db::meta::get(env.db.as_ref(), PAUSE_KEY)?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

/// Pause the queue (`Some`) or resume it (`None`).
pub fn set_paused(env: &Env, pause: Option<&Pause>) -> Result<()> {
    match pause {
        Some(p) => crate::db::meta::set(env.db.as_ref(), PAUSE_KEY, &serde_json::to_string(p)?),
        None => crate::db::meta::remove(env.db.as_ref(), PAUSE_KEY),
    }
}
