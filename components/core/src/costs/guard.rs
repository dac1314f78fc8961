//! The worker's cost guard: before each work call, which model does the
//! work, or whether the job waits; before each grading call, whether the
//! grading may be spent.
//!
//! Before a work call, in order:
//! 1. **Global cap reached**: a non-critical job waits.
//! 2. **The requested model's cap reached**: the work moves to the cheaper
//!    model of the downgrade policy when there is one, its own cap is not
//!    reached (the model that bills is the one whose cap counts), and its
//!    QA pass rate is not under the floor (see [`super::policy`]).
//!    Otherwise a non-critical job waits.
//! 3. **The grading model's cap reached**: a non-critical job waits before
//!    anything is spent (its output could not be graded). The grader is
//!    never swapped: a cheaper judge would change what the pass mark means.
//!
//! **Critical jobs never wait.** They take the cheaper model when the
//! downgrade is allowed (as above), else the requested model, and are
//! graded by the configured grading model: their spend can go past a cap.
//!
//! **Waiting** is [`crate::jobs::queue::Finish::Snooze`]: back to the
//! queue without spending an attempt, due again after [`RECHECK_MS`] (or
//! at the next UTC midnight, when the caps start again, if that is
//! sooner), so a cap raised through the API takes effect within 15
//! minutes, and a throttled backlog costs one claim per job per 15 minutes.
//!
//! **Reads.** The guard reads the caps and the policy once per tick. Each
//! decision re-reads today's spend: one range read of `llm_usage_days`'s
//! primary key (a few rows: models used today × 2 roles) that sees what
//! every replica and process spent up to now and moves to the new day by
//! itself, so there is no in-memory tally to drift. A downgrade decision
//! adds one more range read (the cheaper model's week of verdicts). Spend
//! of calls still in flight is not seen, so a cap can be passed by at most
//! the calls in flight when it is reached.
//!
//! **Incidents.** The first decision of a tick that meets a reached cap
//! raises its CRITICAL (`daily cost cap reached: <cap>`); later ticks
//! count as repeats of it instead of paging again (see [`super::alerts`]).

use super::alerts;
use super::caps::Caps;
use super::policy::{Policy, Quality, PASS_RATE_DAYS};
use super::spend::{self, day_of, Spend, DAY_MS};
use super::status::CapUsage;
use crate::error::Result;
use crate::jobs::model::Priority;
use crate::jobs::Job;
use crate::params;
use crate::ports::{DbExt, Env};
use std::cell::RefCell;
use std::collections::BTreeSet;

/// A job waiting on a cap is due again after this long at most.
pub const RECHECK_MS: i64 = 15 * 60_000;

/// Work moved to a cheaper model.
#[derive(Debug, Clone, PartialEq)]
pub struct Downgrade {
    /// The model the settings ask for.
    pub requested: String,
    /// The model that does (and bills) the work.
    pub model: String,
    /// Why, for people.
    pub reason: String,
}

/// Which model does the work.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The model to call.
    pub model: String,
    /// Set when it is not the requested one.
    pub downgrade: Option<Downgrade>,
}

/// Not now: due again at `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// When to try again, Unix ms.
    pub until: i64,
    /// `cost cap reached: gpt-4o daily cap $15.00`, and why no downgrade.
    pub reason: String,
}

/// The guard's answer before a work call.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Call `plan.model`.
    Go(Plan),
    /// Snooze the job.
    Wait(Wait),
}

/// How the requested model's cap decides the work model.
enum Choice {
    /// Its cap has room (or it has none).
    Requested,
    /// Its cap is reached and the cheaper model may do the work.
    Cheaper(Downgrade),
    /// Its cap is reached and no downgrade is allowed.
    Refused { usage: CapUsage, why: String },
}

/// One tick's guard: the caps and the policy in force, and the caps whose
/// incident this tick has raised.
pub struct Guard {
    caps: Caps,
    policy: Policy,
    alerted: RefCell<BTreeSet<String>>,
}

impl Guard {
    /// The caps and policy in force now.
    pub fn load(env: &Env) -> Result<Guard> {
        Ok(Guard::new(
            Caps::load(env)?,
            Policy::load(env.config.as_ref())?,
        ))
    }

    /// A guard for these caps and this policy.
    pub fn new(caps: Caps, policy: Policy) -> Guard {
        Guard {
            caps,
            policy,
            alerted: RefCell::new(BTreeSet::new()),
        }
    }

    /// Before a work call of a job of `priority` asking for `requested`,
    /// graded by `grader`.
    pub fn before_work(
        &self,
        env: &Env,
        priority: Priority,
        requested: &str,
        grader: &str,
    ) -> Result<Verdict> {
        let now = env.clock.now_ms();
        let day = day_of(now);
        let spend = spend::on_day(env.db.as_ref(), day)?;
        let critical = priority == Priority::Critical;
        if let Some(wait) = self.global_wait(env, &spend, now, critical) {
            return Ok(Verdict::Wait(wait));
        }
        let plan = match self.work_model(env, &spend, day, requested)? {
            Choice::Requested => Plan {
                model: requested.to_string(),
                downgrade: None,
            },
            Choice::Cheaper(d) => Plan {
                model: d.model.clone(),
                downgrade: Some(d),
            },
            Choice::Refused { usage, why } if !critical => {
                return Ok(Verdict::Wait(wait(now, &usage, Some(&why))))
            }
            Choice::Refused { .. } => Plan {
                model: requested.to_string(),
                downgrade: None,
            },
        };
        if let Some(wait) = self.grader_wait(env, &spend, now, critical, grader) {
            return Ok(Verdict::Wait(wait));
        }
        Ok(Verdict::Go(plan))
    }

    /// Before a grading call by `grader` for a job of `priority`, whose
    /// work call just cost `work_micros` on `work_model` (not recorded yet:
    /// the attempt records it when it ends): `Some` when the job must wait.
    pub fn before_grading(
        &self,
        env: &Env,
        priority: Priority,
        grader: &str,
        (work_model, work_micros): (&str, i64),
    ) -> Result<Option<Wait>> {
        let now = env.clock.now_ms();
        let mut spend = spend::on_day(env.db.as_ref(), day_of(now))?;
        spend.add(work_model, work_micros);
        let critical = priority == Priority::Critical;
        Ok(self
            .global_wait(env, &spend, now, critical)
            .or_else(|| self.grader_wait(env, &spend, now, critical, grader)))
    }

    fn global_wait(&self, env: &Env, spend: &Spend, now: i64, critical: bool) -> Option<Wait> {
        let global = CapUsage::global(&self.caps, spend);
        if !global.reached() {
            return None;
        }
        self.alert(env, &global, day_of(now));
        (!critical).then(|| wait(now, &global, None))
    }

    fn grader_wait(
        &self,
        env: &Env,
        spend: &Spend,
        now: i64,
        critical: bool,
        grader: &str,
    ) -> Option<Wait> {
        let usage = self.reached(spend, grader)?;
        self.alert(env, &usage, day_of(now));
        (!critical).then(|| wait(now, &usage, Some("the grading model is never swapped")))
    }

    /// `model`'s cap usage when it is reached.
    fn reached(&self, spend: &Spend, model: &str) -> Option<CapUsage> {
        CapUsage::of_model(&self.caps, spend, model).filter(CapUsage::reached)
    }

    fn work_model(&self, env: &Env, spend: &Spend, day: i64, requested: &str) -> Result<Choice> {
        let Some(usage) = self.reached(spend, requested) else {
            return Ok(Choice::Requested);
        };
        self.alert(env, &usage, day);
        let Some(cheaper) = self.policy.cheaper(requested) else {
            return Ok(Choice::Refused {
                usage,
                why: "no cheaper model is configured".into(),
            });
        };
        if let Some(theirs) = self.reached(spend, cheaper) {
            self.alert(env, &theirs, day);
            return Ok(Choice::Refused {
                usage,
                why: format!("no downgrade: {} is reached too", theirs.describe()),
            });
        }
        let rates = spend::pass_rates(env.db.as_ref(), day - (PASS_RATE_DAYS - 1), day)?;
        let quality = self
            .policy
            .judge(rates.get(cheaper).copied().unwrap_or_default());
        let record = match quality {
            Quality::BelowFloor { pass_rate } => {
                return Ok(Choice::Refused {
                    usage,
                    why: format!(
                        "no downgrade: {cheaper} passes QA {:.1}% over {PASS_RATE_DAYS} days, under the {:.1}% floor",
                        pass_rate * 100.0,
                        self.policy.min_pass_rate * 100.0
                    ),
                })
            }
            Quality::AtOrAboveFloor { pass_rate } => format!(
                "passes QA {:.1}% (floor {:.1}%)",
                pass_rate * 100.0,
                self.policy.min_pass_rate * 100.0
            ),
            Quality::NoEvidence { graded } => {
                format!("has {graded} graded outputs in {PASS_RATE_DAYS} days: no evidence yet, allowed")
            }
        };
        Ok(Choice::Cheaper(Downgrade {
            requested: requested.to_string(),
            model: cheaper.to_string(),
            reason: format!(
                "cost cap reached: {}; downgraded to {cheaper}, which {record}",
                usage.describe()
            ),
        }))
    }

    /// Raise `usage`'s incident, once per tick; a failure is logged, not
    /// fatal (the decision stands).
    fn alert(&self, env: &Env, usage: &CapUsage, day: i64) {
        if !self.alerted.borrow_mut().insert(usage.name().to_string()) {
            return;
        }
        if let Err(e) = alerts::raise(env, usage, day) {
            crate::log::warn(
                "costs",
                &format!(
                    "could not raise the cost incident for {}: {e}",
                    usage.name()
                ),
            );
        }
    }
}

/// Wait on `usage` until the recheck (or midnight, if sooner).
fn wait(now: i64, usage: &CapUsage, why: Option<&str>) -> Wait {
    let midnight = (day_of(now) + 1) * DAY_MS;
    Wait {
        until: (now + RECHECK_MS).min(midnight),
        reason: match why {
            Some(why) => format!("cost cap reached: {}; {why}", usage.describe()),
            None => format!("cost cap reached: {}", usage.describe()),
        },
    }
}

/// Record that `attempt` of `job` runs on a cheaper model, and why.
pub fn record_downgrade(env: &Env, job: &Job, attempt: i64, d: &Downgrade) -> Result<()> {
    env.db.exec(
        "INSERT OR IGNORE INTO cost_downgrades (attempt_id, job_id, tenant_id, requested_model, model, reason, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            attempt,
            job.id.as_str(),
            job.tenant_id.as_str(),
            d.requested.as_str(),
            d.model.as_str(),
            d.reason.as_str(),
            env.clock.now_ms()
        ],
    )?;
    crate::log::info(
        "costs",
        &format!("job {} attempt {attempt}: {}", job.id, d.reason),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::caps::{Cap, Source};

    #[test]
    fn a_wait_ends_at_the_recheck_or_at_midnight() {
        let usage = CapUsage {
            model: None,
            cap: Cap {
                micros: 25_000_000,
                source: Source::Variable,
            },
            spent: 25_000_000,
        };
        let noon = 20_000 * DAY_MS + DAY_MS / 2;
        let w = wait(noon, &usage, None);
        assert_eq!(w.until, noon + RECHECK_MS);
        assert_eq!(w.reason, "cost cap reached: global daily cap $25.00");
        let late = 20_001 * DAY_MS - 60_000;
        assert_eq!(wait(late, &usage, Some("x")).until, 20_001 * DAY_MS);
    }
}
