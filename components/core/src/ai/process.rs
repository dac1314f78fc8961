//! Processing one claimed job: work, grade, retry with feedback on the
//! failed criteria, record every round as an attempt, and finish the claim.
//! The cost guard ([`crate::costs::guard`]) is asked before every work call
//! (which model, or snooze) and before every grading (go, or snooze).

use super::grader::{self, Grades, GRADER_VERSION};
use super::prompts::Template;
use super::provider::{self, AiError, Call, Completion, Message};
use super::settings::{AiSettings, WorkerSettings};
use crate::costs::guard::{self, Guard, Verdict, Wait};
use crate::costs::spend::{self, Usage};
use crate::error::Result;
use crate::jobs::queue::{self, Finish};
use crate::jobs::{Job, JobType};
use crate::params;
use crate::ports::{Db, DbExt, Env};
use crate::telemetry::histogram;
use crate::{build_info, log};

/// How processing a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Passed QA: `completed`.
    Completed,
    /// Never passed QA within the retries: `failed`.
    QaFailed,
    /// A transient failure: requeued with backoff.
    Retried,
    /// A transient failure on the last attempt: `dead`.
    Dead,
    /// A permanent failure: `failed`.
    Failed,
    /// Rate limited or held back by a cost cap: requeued later without
    /// spending an attempt.
    Snoozed,
    /// The claim was lost (cancelled, or the lease expired) before the end.
    Lost,
}

/// A grading and what it cost.
struct Graded {
    grades: Grades,
    /// The grading model that answered (and bills).
    model: String,
    tokens_in: i64,
    tokens_out: i64,
    cost: i64,
    latency_ms: f64,
}

enum GradeFailure {
    Ai(AiError, i64),
    Malformed(String, i64),
}

/// Totals over the rounds of this claim.
#[derive(Default)]
struct Totals {
    tokens_in: i64,
    tokens_out: i64,
    qa_tokens_in: i64,
    qa_tokens_out: i64,
    cost: i64,
    qa_cost: i64,
}

async fn grade(
    env: &Env,
    s: &AiSettings,
    brief: &str,
    output: &str,
) -> std::result::Result<Graded, GradeFailure> {
    let mut messages = grader::messages(brief, output);
    let mut spent = (0i64, 0i64, 0i64, 0.0f64);
    for ask in 0..2 {
        let call = Call {
            model: &s.qa_model,
            messages: &messages,
            json: true,
            timeout_ms: s.qa_timeout_ms,
            temperature: 0.0,
        };
        let answer = provider::complete(env, s, &call)
            .await
            .map_err(|e| GradeFailure::Ai(e, spent.2))?;
        let cost = s
            .prices
            .cost(&answer.model, answer.tokens_in, answer.tokens_out);
        spent = (
            spent.0 + answer.tokens_in,
            spent.1 + answer.tokens_out,
            spent.2 + cost,
            spent.3 + answer.latency_ms,
        );
        match grader::parse(&answer.text) {
            Ok(grades) => {
                return Ok(Graded {
                    grades,
                    model: answer.model,
                    tokens_in: spent.0,
                    tokens_out: spent.1,
                    cost: spent.2,
                    latency_ms: spent.3,
                })
            }
            Err(why) if ask == 0 => {
                log::warn(
                    "worker",
                    &format!("grader answer malformed ({why}); asking again"),
                );
                messages.push(Message::assistant(answer.text));
                messages.push(grader::reask());
            }
            Err(why) => return Err(GradeFailure::Malformed(why, spent.2)),
        }
    }
    Err(GradeFailure::Malformed("no answer".into(), spent.2))
}

#[allow(clippy::too_many_arguments)]
fn start_attempt(
    env: &Env,
    job: &Job,
    round: i64,
    owner: &str,
    s: &AiSettings,
    model: &str,
    t: &Template,
    feedback: &str,
) -> Result<i64> {
    env.db
        .query_one(
            "INSERT INTO job_attempts (job_id, tenant_id, claim, round, worker, status, provider, model, qa_model,
                simulated, prompt_template_id, prompt_version, grader_version, price_version, feedback, build_sha, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
             RETURNING id",
            params![
                job.id.as_str(),
                job.tenant_id.as_str(),
                job.attempts,
                round,
                owner,
                s.provider.name(),
                model,
                s.qa_model.as_str(),
                s.provider.name() == "simulated",
                t.id.as_str(),
                t.version,
                GRADER_VERSION,
                s.prices.version.as_str(),
                (!feedback.is_empty()).then_some(feedback),
                build_info::GIT_SHA,
                env.clock.now_ms()
            ],
        )?
        .i64(0)
}

/// What one round recorded.
struct RoundRecord<'a> {
    status: &'a str,
    work: Option<&'a Completion>,
    work_cost: i64,
    graded: Option<&'a Graded>,
    qa_cost: i64,
    score: Option<f64>,
    passed: Option<bool>,
    error: Option<String>,
}

fn finish_attempt(env: &Env, s: &AiSettings, id: i64, r: &RoundRecord<'_>) -> Result<()> {
    crate::db::transaction(env.db.as_ref(), |db| {
        write_attempt(db, env.clock.now_ms(), id, r)?;
        record_usage(db, env.clock.now_ms(), s, r)
    })
}

fn write_attempt(db: &dyn Db, now: i64, id: i64, r: &RoundRecord<'_>) -> Result<()> {
    db.exec(
        "UPDATE job_attempts SET status = ?2, model = COALESCE(?3, model), tokens_in = ?4, tokens_out = ?5,
            qa_tokens_in = ?6, qa_tokens_out = ?7, cost_micros = ?8, qa_cost_micros = ?9, latency_ms = ?10,
            qa_latency_ms = ?11, qa_score = ?12, qa_passed = ?13, qa_scores = ?14, output = ?15, error = ?16,
            simulated = COALESCE(?17, simulated), finished_at = ?18
         WHERE id = ?1",
        params![
            id,
            r.status,
            r.work.map(|w| w.model.as_str()),
            r.work.map(|w| w.tokens_in).unwrap_or(0),
            r.work.map(|w| w.tokens_out).unwrap_or(0),
            r.graded.map(|g| g.tokens_in).unwrap_or(0),
            r.graded.map(|g| g.tokens_out).unwrap_or(0),
            r.work_cost,
            r.qa_cost,
            r.work.map(|w| w.latency_ms.round() as i64),
            r.graded.map(|g| g.latency_ms.round() as i64),
            r.score,
            r.passed,
            r.graded.map(|g| g.grades.to_json().to_string()),
            r.work.map(|w| w.text.as_str()),
            r.error.as_deref(),
            r.work.map(|w| w.simulated),
            now
        ],
    )?;
    Ok(())
}

/// Add a finished round to `slo_minutes`: one job round (an error when the
/// provider failed it; snoozes and cancellations are not outcomes), its QA
/// verdict, and its latency (work plus grading) when a call answered.
fn record_slo(db: &dyn Db, now: i64, r: &RoundRecord<'_>) -> Result<()> {
    if matches!(r.status, "snoozed" | "cancelled") {
        return Ok(());
    }
    let latency_ms = r
        .work
        .map(|w| w.latency_ms + r.graded.map(|g| g.latency_ms).unwrap_or(0.0));
    let bucket = latency_ms.map(|ms| {
        format!(
            "jb{}",
            histogram::bucket_index((ms * 1000.0).round() as i64)
        )
    });
    let (col, update) = match &bucket {
        Some(b) => (format!(", {b}"), format!(", {b} = {b} + 1")),
        None => (String::new(), String::new()),
    };
    let one = if bucket.is_some() { ", 1" } else { "" };
    db.exec(
        &format!(
            "INSERT INTO slo_minutes (minute, jobs, job_errors, qa_passed, qa_failed{col})
             VALUES (?1, 1, ?2, ?3, ?4{one})
             ON CONFLICT (minute) DO UPDATE SET jobs = jobs + 1,
               job_errors = job_errors + excluded.job_errors,
               qa_passed = qa_passed + excluded.qa_passed,
               qa_failed = qa_failed + excluded.qa_failed{update}"
        ),
        params![
            now.div_euclid(60_000),
            r.status == "failed",
            r.passed == Some(true),
            r.passed == Some(false)
        ],
    )?;
    Ok(())
}

/// Add a round's calls to `llm_usage_days`: the work model (with the QA
/// verdict on its output) and the grading model, each under the model that
/// actually answered and billed.
fn record_usage(db: &dyn Db, now: i64, s: &AiSettings, r: &RoundRecord<'_>) -> Result<()> {
    if let Some(w) = r.work {
        spend::record(
            db,
            now,
            &Usage {
                model: &w.model,
                role: "work",
                tokens_in: w.tokens_in,
                tokens_out: w.tokens_out,
                cost_micros: r.work_cost,
                passed: r.passed,
            },
        )?;
    }
    record_slo(db, now, r)?;
    if r.graded.is_some() || r.qa_cost > 0 {
        spend::record(
            db,
            now,
            &Usage {
                model: r.graded.map(|g| g.model.as_str()).unwrap_or(&s.qa_model),
                role: "qa",
                tokens_in: r.graded.map(|g| g.tokens_in).unwrap_or(0),
                tokens_out: r.graded.map(|g| g.tokens_out).unwrap_or(0),
                cost_micros: r.qa_cost,
                passed: None,
            },
        )?;
    }
    Ok(())
}

fn random_unit(env: &Env) -> f64 {
    crate::ports::ids::random_unit(env.ids.as_ref())
}

/// Process `job`, claimed by `owner`, with the active `templates`, within
/// the cost caps `costs` keeps.
pub async fn process(
    env: &Env,
    s: &AiSettings,
    w: &WorkerSettings,
    costs: &Guard,
    templates: &[Template],
    job: &Job,
    owner: &str,
) -> Result<Outcome> {
    let started = env.clock.monotonic_ms();
    let Some(template) = templates
        .iter()
        .find(|t| t.job_type == job.job_type.as_str())
    else {
        let how = Finish::Fail {
            error: format!(
                "no active prompt template for job type {}",
                job.job_type.as_str()
            ),
            cost_micros: 0,
        };
        return finish(env, job, owner, &how, Outcome::Failed);
    };
    let mut totals = Totals::default();
    let mut feedback = String::new();
    let mut best: Option<(Completion, Graded, f64)> = None;

    for round in 0..=s.qa_max_retries {
        let plan = match costs.before_work(env, job.priority, &s.work_model, &s.qa_model)? {
            Verdict::Go(plan) => plan,
            Verdict::Wait(wait) => return throttle(env, s, job, owner, None, wait, &totals),
        };
        let attempt = start_attempt(env, job, round, owner, s, &plan.model, template, &feedback)?;
        if let Some(d) = &plan.downgrade {
            guard::record_downgrade(env, job, attempt, d)?;
        }
        let messages = [
            Message::system(template.system_prompt.clone()),
            Message::user(template.render(&job.brief, job.title.as_deref(), &feedback)),
        ];
        let call = Call {
            model: &plan.model,
            messages: &messages,
            json: job.job_type == JobType::DataSync && s.provider.name() == "openai",
            timeout_ms: s.work_timeout_ms,
            temperature: 0.4,
        };
        let work = match provider::complete(env, s, &call).await {
            Ok(c) => c,
            Err(e) => return give_up(env, s, w, job, owner, attempt, e, None, 0, &totals).await,
        };
        let work_cost = s.prices.cost(&work.model, work.tokens_in, work.tokens_out);
        totals.tokens_in += work.tokens_in;
        totals.tokens_out += work.tokens_out;
        totals.cost += work_cost;

        let unrecorded = (work.model.as_str(), work_cost);
        if let Some(wait) = costs.before_grading(env, job.priority, &s.qa_model, unrecorded)? {
            let ungraded = Ungraded {
                attempt,
                work: &work,
                work_cost,
            };
            return throttle(env, s, job, owner, Some(ungraded), wait, &totals);
        }
        let graded = match grade(env, s, &job.brief, &work.text).await {
            Ok(g) => g,
            Err(GradeFailure::Ai(e, qa_cost)) => {
                return give_up(
                    env,
                    s,
                    w,
                    job,
                    owner,
                    attempt,
                    e,
                    Some(&work),
                    qa_cost,
                    &totals,
                )
                .await
            }
            Err(GradeFailure::Malformed(why, qa_cost)) => {
                let e = AiError::Transient(format!(
                    "qa_malformed: the grader twice answered without valid grades ({why})"
                ));
                return give_up(
                    env,
                    s,
                    w,
                    job,
                    owner,
                    attempt,
                    e,
                    Some(&work),
                    qa_cost,
                    &totals,
                )
                .await;
            }
        };
        totals.qa_tokens_in += graded.tokens_in;
        totals.qa_tokens_out += graded.tokens_out;
        totals.qa_cost += graded.cost;
        let score = graded.grades.overall(&s.weights);
        let passed = score >= s.qa_threshold;

        let mut qa_cost = graded.cost;
        if s.consistency_sample > 0.0 && random_unit(env) < s.consistency_sample {
            match grade(env, s, &job.brief, &work.text).await {
                Ok(second) => {
                    qa_cost += second.cost;
                    totals.qa_tokens_in += second.tokens_in;
                    totals.qa_tokens_out += second.tokens_out;
                    totals.qa_cost += second.cost;
                    super::consistency::record(
                        env,
                        &job.id,
                        &job.tenant_id,
                        attempt,
                        &graded.grades,
                        &second.grades,
                        s.qa_threshold,
                    )?;
                }
                Err(GradeFailure::Ai(_, c)) | Err(GradeFailure::Malformed(_, c)) => {
                    qa_cost += c;
                    totals.qa_cost += c;
                }
            }
        }
        finish_attempt(
            env,
            s,
            attempt,
            &RoundRecord {
                status: if passed { "passed" } else { "qa_failed" },
                work: Some(&work),
                work_cost,
                graded: Some(&graded),
                qa_cost,
                score: Some(score),
                passed: Some(passed),
                error: None,
            },
        )?;
        feedback = graded.grades.feedback(s.qa_threshold);
        if best.as_ref().is_none_or(|(_, _, b)| score > *b) {
            best = Some((work, graded, score));
        }
        if passed {
            break;
        }
    }

    let Some((work, graded, score)) = best else {
        return finish(
            env,
            job,
            owner,
            &Finish::Fail {
                error: "no rounds ran".into(),
                cost_micros: 0,
            },
            Outcome::Failed,
        );
    };
    let passed = score >= s.qa_threshold;
    let completion = queue::Completion {
        output: work.text.clone(),
        provider: s.provider.name().to_string(),
        model: work.model.clone(),
        qa_model: s.qa_model.clone(),
        prompt_template_id: template.id.clone(),
        prompt_version: template.version,
        tokens_in: totals.tokens_in,
        tokens_out: totals.tokens_out,
        qa_tokens_in: totals.qa_tokens_in,
        qa_tokens_out: totals.qa_tokens_out,
        cost_micros: totals.cost + totals.qa_cost,
        qa_cost_micros: totals.qa_cost,
        latency_ms: (env.clock.monotonic_ms() - started).round() as i64,
        qa_score: score,
        qa_passed: passed,
        qa_scores: graded.grades.to_json().to_string(),
        simulated: work.simulated,
    };
    let outcome = if passed {
        Outcome::Completed
    } else {
        Outcome::QaFailed
    };
    finish(env, job, owner, &Finish::Done(completion), outcome)
}

fn finish(env: &Env, job: &Job, owner: &str, how: &Finish, outcome: Outcome) -> Result<Outcome> {
    if queue::finish(env, job, owner, how)? {
        Ok(outcome)
    } else {
        log::warn(
            "worker",
            &format!(
                "job {}: claim lost before finishing (cancelled or lease expired)",
                job.id
            ),
        );
        Ok(Outcome::Lost)
    }
}

#[allow(clippy::too_many_arguments)]
async fn give_up(
    env: &Env,
    s: &AiSettings,
    w: &WorkerSettings,
    job: &Job,
    owner: &str,
    attempt: i64,
    error: AiError,
    work: Option<&Completion>,
    qa_cost: i64,
    totals: &Totals,
) -> Result<Outcome> {
    let work_cost = work
        .map(|c| s.prices.cost(&c.model, c.tokens_in, c.tokens_out))
        .unwrap_or(0);
    let spent = totals.cost + totals.qa_cost + qa_cost;
    let status = if matches!(error, AiError::RateLimited { .. }) {
        "snoozed"
    } else {
        "failed"
    };
    finish_attempt(
        env,
        s,
        attempt,
        &RoundRecord {
            status,
            work,
            work_cost,
            graded: None,
            qa_cost,
            score: None,
            passed: None,
            error: Some(error.to_string()),
        },
    )?;
    let now = env.clock.now_ms();
    let (how, outcome) = match error {
        AiError::RateLimited { retry_after_ms } => (
            Finish::Snooze {
                until: now + retry_after_ms as i64,
                reason: format!(
                    "rate limited by the AI provider; retrying after {retry_after_ms} ms"
                ),
                cost_micros: spent,
            },
            Outcome::Snoozed,
        ),
        AiError::Permanent(m) => (
            Finish::Fail {
                error: m,
                cost_micros: spent,
            },
            Outcome::Failed,
        ),
        AiError::Transient(m) => {
            let outcome = if job.attempts >= job.max_attempts {
                Outcome::Dead
            } else {
                Outcome::Retried
            };
            let backoff = queue::backoff_ms(
                job.attempts,
                w.retry_base_ms,
                w.retry_cap_ms,
                random_unit(env),
            );
            (
                Finish::Retry {
                    error: m,
                    backoff_ms: backoff,
                    cost_micros: spent,
                },
                outcome,
            )
        }
    };
    finish(env, job, owner, &how, outcome)
}

/// A work answer whose grading a cost cap holds back.
struct Ungraded<'a> {
    attempt: i64,
    work: &'a Completion,
    work_cost: i64,
}

/// A cost cap stops the job before its next call: the open attempt (if
/// any) is recorded as snoozed with what its work cost, and the job goes
/// back to the queue until `wait.until` with the claim's costs, without
/// spending an attempt.
fn throttle(
    env: &Env,
    s: &AiSettings,
    job: &Job,
    owner: &str,
    ungraded: Option<Ungraded<'_>>,
    wait: Wait,
    totals: &Totals,
) -> Result<Outcome> {
    if let Some(u) = ungraded {
        finish_attempt(
            env,
            s,
            u.attempt,
            &RoundRecord {
                status: "snoozed",
                work: Some(u.work),
                work_cost: u.work_cost,
                graded: None,
                qa_cost: 0,
                score: None,
                passed: None,
                error: Some(wait.reason.clone()),
            },
        )?;
    }
    let how = Finish::Snooze {
        until: wait.until,
        reason: wait.reason,
        cost_micros: totals.cost + totals.qa_cost,
    };
    finish(env, job, owner, &how, Outcome::Snoozed)
}
