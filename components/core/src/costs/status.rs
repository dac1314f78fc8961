//! The cost status: today's spend (UTC day) against every cap, the alert
//! level and the action, the downgrade policy's state, and the cost per
//! passing output per work model over the last week.
//!
//! Levels compare integers (no rounding at the thresholds): WARNING at
//! `spent × 100 ≥ cap × 90`, CRITICAL at `spent ≥ cap`; the status's level
//! is the worst over the global cap and every model cap, and its action is
//! THROTTLE when any cap is reached.

use super::caps::{usd, Cap, Caps, Source};
use super::policy::{Policy, Quality, PASS_RATE_DAYS};
use super::spend::{self, day_of, Spend, DAY_MS};
use crate::error::Result;
use crate::ports::Env;
use crate::time::{date, rfc3339};
use serde::Serialize;
use std::collections::BTreeMap;

/// A cap warns from this share of it, in percent.
pub const WARNING_PCT: i64 = 90;
/// Cost per passing output looks back this many days.
pub const OUTPUT_COST_DAYS: i64 = 7;

/// How close spend is to a cap, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Under 90 %.
    Ok,
    /// 90 % or more.
    Warning,
    /// 100 % or more: the cap is reached.
    Critical,
}

impl Level {
    /// As served: `OK`, `WARNING`, `CRITICAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
        }
    }
}

/// What the worker does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    /// Nothing: every cap has room.
    None,
    /// A cap is reached: non-critical work waits or moves to a cheaper model.
    Throttle,
}

/// Spend against one cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapUsage {
    /// `None` for the global cap, else the model family.
    pub model: Option<String>,
    /// The cap.
    pub cap: Cap,
    /// Spent today, micro-dollars.
    pub spent: i64,
}

impl CapUsage {
    /// The global cap's usage.
    pub fn global(caps: &Caps, spend: &Spend) -> CapUsage {
        CapUsage {
            model: None,
            cap: caps.global,
            spent: spend.total,
        }
    }

    /// `model`'s family's usage, if it has a cap.
    pub fn of_model(caps: &Caps, spend: &Spend, model: &str) -> Option<CapUsage> {
        caps.model(model).map(|cap| CapUsage {
            model: Some(crate::ai::models::family(model).to_string()),
            cap,
            spent: spend.of(model),
        })
    }

    /// Whether nothing more may be spent under it (a zero cap always is).
    pub fn reached(&self) -> bool {
        self.spent >= self.cap.micros
    }

    /// Its level.
    pub fn level(&self) -> Level {
        if self.reached() {
            Level::Critical
        } else if self.spent as i128 * 100 >= self.cap.micros as i128 * WARNING_PCT as i128 {
            Level::Warning
        } else {
            Level::Ok
        }
    }

    /// Percent used, rounded down to 0.01 (100 for a zero cap).
    pub fn utilization_pct(&self) -> f64 {
        if self.cap.micros == 0 {
            return 100.0;
        }
        (self.spent as i128 * 10_000 / self.cap.micros as i128) as f64 / 100.0
    }

    /// `global` or the model.
    pub fn name(&self) -> &str {
        self.model.as_deref().unwrap_or("global")
    }

    /// `gpt-4o daily cap $15.00`.
    pub fn describe(&self) -> String {
        format!(
            "{} daily cap {}",
            self.name(),
            super::caps::usd_text(self.cap.micros)
        )
    }

    /// The figures, as incidents link them.
    pub fn links(&self, day: i64) -> serde_json::Value {
        serde_json::json!({
            "cap": self.name(),
            "model": self.model,
            "day": date(day * DAY_MS),
            "spent_micros": self.spent,
            "cap_micros": self.cap.micros,
            "spent_usd": usd(self.spent),
            "cap_usd": usd(self.cap.micros),
            "utilization_pct": self.utilization_pct(),
            "alert_level": self.level(),
        })
    }
}

/// The global cap, then every model cap (models without spend included).
pub fn usages(caps: &Caps, spend: &Spend) -> Vec<CapUsage> {
    std::iter::once(CapUsage::global(caps, spend))
        .chain(
            caps.models
                .keys()
                .filter_map(|m| CapUsage::of_model(caps, spend, m)),
        )
        .collect()
}

/// One model's line in `by_model`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelStatus {
    /// Spent today, USD.
    pub spent_usd: f64,
    /// Spent today, micro-dollars.
    pub spent_micros: i64,
    /// Its cap, USD (`null`: uncapped).
    pub cap_usd: Option<f64>,
    /// Its cap, micro-dollars.
    pub cap_micros: Option<i64>,
    /// Where the cap comes from.
    pub cap_source: Option<Source>,
    /// Percent of its cap used.
    pub utilization_pct: Option<f64>,
    /// Its level (OK when uncapped).
    pub alert_level: Level,
}

impl ModelStatus {
    fn new(spent: i64, usage: Option<&CapUsage>) -> ModelStatus {
        ModelStatus {
            spent_usd: usd(spent),
            spent_micros: spent,
            cap_usd: usage.map(|u| usd(u.cap.micros)),
            cap_micros: usage.map(|u| u.cap.micros),
            cap_source: usage.map(|u| u.cap.source),
            utilization_pct: usage.map(CapUsage::utilization_pct),
            alert_level: usage.map(CapUsage::level).unwrap_or(Level::Ok),
        }
    }
}

/// A downgrade route and whether it would be allowed now.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DowngradeStatus {
    /// The cheaper model.
    pub to: String,
    /// The floor of its pass rate.
    pub min_pass_rate: f64,
    /// Its graded outputs as a work model in the window.
    pub graded: i64,
    /// Its pass rate, 0-1 (`null`: nothing graded).
    pub pass_rate: Option<f64>,
    /// What the record says.
    pub quality: Quality,
    /// Whether its own cap is reached (then it cannot take work either).
    pub cap_reached: bool,
}

/// A work model's cost per passing output.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutputCostStatus {
    /// Finished attempts (retries included).
    pub attempts: i64,
    /// Graded outputs.
    pub graded: i64,
    /// Passing outputs.
    pub passed: i64,
    /// `passed / graded`.
    pub pass_rate: Option<f64>,
    /// Work plus grading cost of every attempt, micro-dollars.
    pub cost_micros: i64,
    /// The same, USD.
    pub cost_usd: f64,
    /// Cost per passing output, micro-dollars (rounded up).
    pub per_passing_output_micros: Option<i64>,
    /// The same, USD.
    pub per_passing_output_usd: Option<f64>,
}

/// `cost_per_passing_output`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutputCosts {
    /// The window, days back from now.
    pub window_days: i64,
    /// Per work model.
    pub by_model: BTreeMap<String, OutputCostStatus>,
}

/// `GET /api/costs/status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    /// Now, RFC 3339.
    pub ts: String,
    /// The UTC day the figures are for.
    pub day: String,
    /// The period a cap covers.
    pub period_hours: i64,
    /// When the caps start again (the next UTC midnight).
    pub resets_at: String,
    /// Spent today, USD.
    pub total_spent_usd: f64,
    /// Spent today, micro-dollars.
    pub total_spent_micros: i64,
    /// The global cap, USD.
    pub daily_cap_usd: f64,
    /// The global cap, micro-dollars.
    pub daily_cap_micros: i64,
    /// Where the global cap comes from.
    pub daily_cap_source: Source,
    /// Percent of the global cap used.
    pub global_utilization_pct: f64,
    /// Per model family: capped models and every model that spent today.
    pub by_model: BTreeMap<String, ModelStatus>,
    /// The worst level over every cap.
    pub alert_level: Level,
    /// THROTTLE when any cap is reached.
    pub action: Action,
    /// Per requested model: its downgrade route.
    pub downgrades: BTreeMap<String, DowngradeStatus>,
    /// Cost per passing output per work model.
    pub cost_per_passing_output: OutputCosts,
}

/// The worst level of `usages`, and the action it calls for.
pub fn verdict(usages: &[CapUsage]) -> (Level, Action) {
    let level = usages
        .iter()
        .map(CapUsage::level)
        .max()
        .unwrap_or(Level::Ok);
    let action = if usages.iter().any(CapUsage::reached) {
        Action::Throttle
    } else {
        Action::None
    };
    (level, action)
}

/// The status now.
pub fn compute(env: &Env) -> Result<Status> {
    let now = env.clock.now_ms();
    let day = day_of(now);
    let caps = Caps::load(env)?;
    let policy = Policy::load(env.config.as_ref())?;
    let spend = spend::on_day(env.db.as_ref(), day)?;
    let usages = usages(&caps, &spend);
    let (alert_level, action) = verdict(&usages);
    let global = &usages[0];
    let mut by_model: BTreeMap<String, ModelStatus> = spend
        .by_model
        .iter()
        .map(|(m, spent)| (m.clone(), ModelStatus::new(*spent, None)))
        .collect();
    for u in &usages[1..] {
        by_model.insert(u.name().to_string(), ModelStatus::new(u.spent, Some(u)));
    }
    Ok(Status {
        ts: rfc3339(now),
        day: date(now),
        period_hours: 24,
        resets_at: rfc3339((day + 1) * DAY_MS),
        total_spent_usd: usd(spend.total),
        total_spent_micros: spend.total,
        daily_cap_usd: usd(global.cap.micros),
        daily_cap_micros: global.cap.micros,
        daily_cap_source: global.cap.source,
        global_utilization_pct: global.utilization_pct(),
        by_model,
        alert_level,
        action,
        downgrades: downgrades(env, &policy, &caps, &spend, day)?,
        cost_per_passing_output: output_costs(env, now)?,
    })
}

fn downgrades(
    env: &Env,
    policy: &Policy,
    caps: &Caps,
    spend: &Spend,
    day: i64,
) -> Result<BTreeMap<String, DowngradeStatus>> {
    let rates = spend::pass_rates(env.db.as_ref(), day - (PASS_RATE_DAYS - 1), day)?;
    Ok(policy
        .routes
        .iter()
        .map(|(from, to)| {
            let record = rates.get(to).copied().unwrap_or_default();
            let status = DowngradeStatus {
                to: to.clone(),
                min_pass_rate: policy.min_pass_rate,
                graded: record.graded(),
                pass_rate: record.rate(),
                quality: policy.judge(record),
                cap_reached: CapUsage::of_model(caps, spend, to).is_some_and(|u| u.reached()),
            };
            (from.clone(), status)
        })
        .collect())
}

fn output_costs(env: &Env, now: i64) -> Result<OutputCosts> {
    let costs = spend::output_costs(env.db.as_ref(), now - OUTPUT_COST_DAYS * DAY_MS)?;
    Ok(OutputCosts {
        window_days: OUTPUT_COST_DAYS,
        by_model: costs
            .into_iter()
            .map(|(model, c)| {
                let per = c.per_passing_output();
                let status = OutputCostStatus {
                    attempts: c.attempts,
                    graded: c.graded,
                    passed: c.passed,
                    pass_rate: c.pass_rate(),
                    cost_micros: c.cost_micros,
                    cost_usd: usd(c.cost_micros),
                    per_passing_output_micros: per,
                    per_passing_output_usd: per.map(usd),
                };
                (model, status)
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(spent: i64, cap: i64) -> CapUsage {
        CapUsage {
            model: Some("gpt-4o".into()),
            cap: Cap {
                micros: cap,
                source: Source::Variable,
            },
            spent,
        }
    }

    #[test]
    fn levels_switch_exactly_at_90_and_100_percent() {
        let cap = 15_000_000;
        assert_eq!(usage(13_499_999, cap).level(), Level::Ok);
        assert_eq!(usage(13_499_999, cap).utilization_pct(), 89.99);
        assert_eq!(usage(13_500_000, cap).level(), Level::Warning);
        assert_eq!(usage(14_999_999, cap).level(), Level::Warning);
        assert_eq!(usage(15_000_000, cap).level(), Level::Critical);
        assert_eq!(usage(15_000_000, cap).utilization_pct(), 100.0);
        assert_eq!(
            usage(0, 0).level(),
            Level::Critical,
            "a zero cap is reached"
        );
        assert_eq!(usage(0, 0).utilization_pct(), 100.0);
        assert_eq!(
            verdict(&[usage(1, 10), usage(9, 10)]),
            (Level::Warning, Action::None)
        );
        assert_eq!(
            verdict(&[usage(1, 10), usage(10, 10)]),
            (Level::Critical, Action::Throttle)
        );
        assert_eq!(usage(1, 10).describe(), "gpt-4o daily cap $0.00");
    }
}
