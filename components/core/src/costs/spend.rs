//! What was spent, read from what the worker records: today's spend per
//! model from `llm_usage_days` (one primary-key range), the work models' QA
//! pass rates over a few days (the same table), and the cost per passing
//! output over a window of `job_attempts` (its `started_at` index).
//!
//! Providers answer with the snapshot they served (`gpt-4o-2024-08-06`),
//! so figures are kept per model *family* ([`family`], in `ai::models`): a snapshot counts
//! against its family's cap and pass rate.

use crate::ai::models::family;
use crate::error::Result;
use crate::params;
use crate::ports::{Db, DbExt};
use serde::Serialize;
use std::collections::BTreeMap;

// `llm_usage_days.day` is the UTC day number.
pub use crate::time::{day_of, DAY_MS};

/// One day's spend, micro-dollars, per model family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spend {
    /// Family → spend (work and grading calls).
    pub by_model: BTreeMap<String, i64>,
    /// Every model together.
    pub total: i64,
}

impl Spend {
    /// What `model`'s family spent.
    pub fn of(&self, model: &str) -> i64 {
        self.by_model.get(family(model)).copied().unwrap_or(0)
    }

    /// Count `micros` more spent on `model`.
    pub fn add(&mut self, model: &str, micros: i64) {
        *self.by_model.entry(family(model).to_string()).or_default() += micros;
        self.total += micros;
    }
}

/// The spend of UTC day `day`: one range read of `llm_usage_days`'s
/// primary key (rows = models used that day × 2 roles).
pub fn on_day(db: &dyn Db, day: i64) -> Result<Spend> {
    let rows = db.exec(
        "SELECT model, SUM(cost_micros) FROM llm_usage_days WHERE day = ?1 GROUP BY model",
        params![day],
    )?;
    let mut spend = Spend::default();
    for r in &rows.rows {
        spend.add(&r.text(0)?, r.i64(1)?);
    }
    Ok(spend)
}

/// One model call's usage, as `llm_usage_days` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage<'a> {
    /// The model that answered and billed.
    pub model: &'a str,
    /// `work` or `qa`.
    pub role: &'a str,
    /// Prompt tokens.
    pub tokens_in: i64,
    /// Completion tokens.
    pub tokens_out: i64,
    /// What it cost, micro-dollars.
    pub cost_micros: i64,
    /// A work call's QA verdict, when its output was graded.
    pub passed: Option<bool>,
}

/// Count one call in `llm_usage_days` for the UTC day of `now`: the table
/// the caps ([`on_day`]), pass rates and reports read. Every AI call that
/// bills (job rounds, workflow AI Task steps) goes through here, so the
/// daily caps see all of it.
pub fn record(db: &dyn Db, now: i64, u: &Usage<'_>) -> Result<()> {
    db.exec(
        "INSERT INTO llm_usage_days (day, model, role, calls, tokens_in, tokens_out, cost_micros, qa_passed, qa_failed)
         VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (day, model, role) DO UPDATE SET calls = calls + 1,
           tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out,
           cost_micros = cost_micros + excluded.cost_micros,
           qa_passed = qa_passed + excluded.qa_passed, qa_failed = qa_failed + excluded.qa_failed",
        params![
            day_of(now),
            u.model,
            u.role,
            u.tokens_in,
            u.tokens_out,
            u.cost_micros,
            u.passed == Some(true),
            u.passed == Some(false)
        ],
    )?;
    Ok(())
}

/// How a work model's outputs fared with the grader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PassRate {
    /// Outputs that passed QA.
    pub passed: i64,
    /// Outputs that failed QA.
    pub failed: i64,
}

impl PassRate {
    /// Outputs graded.
    pub fn graded(&self) -> i64 {
        self.passed + self.failed
    }

    /// `passed / graded`, or `None` when nothing was graded.
    pub fn rate(&self) -> Option<f64> {
        (self.graded() > 0).then(|| self.passed as f64 / self.graded() as f64)
    }
}

/// Each work model family's QA verdicts over UTC days `from_day..=to_day`
/// (a primary-key range of `llm_usage_days`).
pub fn pass_rates(db: &dyn Db, from_day: i64, to_day: i64) -> Result<BTreeMap<String, PassRate>> {
    let rows = db.exec(
        "SELECT model, SUM(qa_passed), SUM(qa_failed) FROM llm_usage_days
         WHERE day BETWEEN ?1 AND ?2 AND role = 'work' GROUP BY model",
        params![from_day, to_day],
    )?;
    let mut rates: BTreeMap<String, PassRate> = BTreeMap::new();
    for r in &rows.rows {
        let rate = rates.entry(family(&r.text(0)?).to_string()).or_default();
        rate.passed += r.i64(1)?;
        rate.failed += r.i64(2)?;
    }
    Ok(rates)
}

/// What a work model's finished attempts cost over a window, and how many
/// outputs passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputCost {
    /// Finished attempts (every round, retries included).
    pub attempts: i64,
    /// Attempts whose output was graded.
    pub graded: i64,
    /// Attempts whose output passed QA.
    pub passed: i64,
    /// Work plus grading cost of those attempts, micro-dollars.
    pub cost_micros: i64,
}

impl OutputCost {
    /// Cost per passing output, micro-dollars (rounded up), or `None` when
    /// nothing passed.
    pub fn per_passing_output(&self) -> Option<i64> {
        (self.passed > 0).then(|| (self.cost_micros + self.passed - 1) / self.passed)
    }

    /// `passed / graded`, or `None` when nothing was graded.
    pub fn pass_rate(&self) -> Option<f64> {
        PassRate {
            passed: self.passed,
            failed: self.graded - self.passed,
        }
        .rate()
    }
}

/// Per work model family: every attempt finished since `since_ms` (work
/// and grading cost, failed rounds and retries included) against the
/// outputs that passed.
pub fn output_costs(db: &dyn Db, since_ms: i64) -> Result<BTreeMap<String, OutputCost>> {
    let rows = db.exec(
        "SELECT model, COUNT(*), COUNT(qa_passed), COALESCE(SUM(qa_passed), 0),
                SUM(cost_micros + qa_cost_micros)
         FROM job_attempts
         WHERE started_at >= ?1 AND model IS NOT NULL AND status <> 'running'
         GROUP BY model",
        params![since_ms],
    )?;
    let mut costs: BTreeMap<String, OutputCost> = BTreeMap::new();
    for r in &rows.rows {
        let c = costs.entry(family(&r.text(0)?).to_string()).or_default();
        c.attempts += r.i64(1)?;
        c.graded += r.i64(2)?;
        c.passed += r.i64(3)?;
        c.cost_micros += r.i64(4)?;
    }
    Ok(costs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_costs_per_output() {
        let r = PassRate {
            passed: 3,
            failed: 1,
        };
        assert_eq!((r.graded(), r.rate()), (4, Some(0.75)));
        assert_eq!(PassRate::default().rate(), None);
        let c = OutputCost {
            attempts: 3,
            graded: 3,
            passed: 2,
            cost_micros: 1001,
        };
        assert_eq!(c.per_passing_output(), Some(501), "rounded up");
        assert_eq!(OutputCost::default().per_passing_output(), None);
    }
}
