//! The decision, as pure functions of the inputs: the seed's rules, the
//! forecast, min and max, the cooldown and the deploy gate.
//!
//! Rules, first match wins (thresholds in [`super::settings`]):
//! 1. p95 > 1000 ms: one more worker (`high_latency`);
//! 2. arrivals > 10/min: one more (`high_arrival_rate`);
//! 3. forecast arrivals > 10/min: one more (`forecast_arrival_rate`), so
//!    workers are added before a rising load arrives;
//! 4. p95 < 300 ms (or no requests) and arrivals < 2/min and the forecast
//!    < 2/min: one fewer (`low_utilization`); the forecast condition keeps
//!    a quiet but rising load from being scaled down just before it grows;
//! 5. otherwise no change (`steady`).
//!
//! The result is clamped to `min..=max`. Then: no increase while the deploy
//! gate is up (decreases are allowed: they only take load off), and no
//! automatic change within the cooldown of the last applied one.

use super::settings::{
    Settings, DOWN_ARRIVALS_PER_MIN, DOWN_P95_MS, UP_ARRIVALS_PER_MIN, UP_P95_MS,
};
use crate::error::{Error, Result};
use serde::Serialize;
use std::cmp::Ordering;

/// What the rules looked at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inputs {
    /// Request latency p95 over the window, ms (`None`: no requests).
    pub p95_ms: Option<f64>,
    /// Jobs created per minute over the window.
    pub arrival_rate: f64,
    /// The forecast arrival rate at the horizon.
    pub forecast_rate: f64,
}

/// Where things stand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Situation {
    /// Workers now (already within min..=max).
    pub current: i64,
    /// When the last change was applied, Unix ms.
    pub last_change_at: Option<i64>,
    /// The deploy gate is up.
    pub gate_up: bool,
    /// Now, Unix ms.
    pub now_ms: i64,
}

/// Why the rules want what they want.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// p95 over 1000 ms.
    HighLatency,
    /// More than 10 arrivals a minute.
    HighArrivalRate,
    /// More than 10 arrivals a minute forecast.
    ForecastArrivalRate,
    /// Fast, quiet, and not about to get busier.
    LowUtilization,
    /// Between the thresholds.
    Steady,
    /// An operator asked for a number.
    Operator,
}

impl Reason {
    /// As stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::HighLatency => "high_latency",
            Reason::HighArrivalRate => "high_arrival_rate",
            Reason::ForecastArrivalRate => "forecast_arrival_rate",
            Reason::LowUtilization => "low_utilization",
            Reason::Steady => "steady",
            Reason::Operator => "operator",
        }
    }
}

/// Which way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// More workers.
    ScaleUp,
    /// Fewer workers.
    ScaleDown,
    /// As they are.
    Hold,
}

/// What stops a wanted change now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    /// The last change was less than the cooldown ago.
    Cooldown,
    /// The deploy gate is up: no scaling up.
    DeployGate,
}

impl Block {
    /// As served.
    pub fn as_str(self) -> &'static str {
        match self {
            Block::Cooldown => "cooldown",
            Block::DeployGate => "deploy_gate",
        }
    }
}

/// A decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Workers now.
    pub current: i64,
    /// What the rules want, within min..=max.
    pub desired: i64,
    /// Why.
    pub reason: Reason,
    /// Which way `desired` lies.
    pub action: Action,
    /// What stops the change now, if anything.
    pub blocked_by: Option<Block>,
    /// Seconds until the cooldown allows an automatic change (0: it does).
    pub cooldown_remaining_sec: i64,
}

impl Decision {
    /// The workers an apply sets: `desired`, or `current` when blocked.
    pub fn target(&self) -> i64 {
        if self.blocked_by.is_some() {
            self.current
        } else {
            self.desired
        }
    }

    /// Whether an apply would change anything.
    pub fn changes(&self) -> bool {
        self.target() != self.current
    }
}

/// The seed's rules and the forecast: the wanted workers and why.
pub fn rule(i: &Inputs, current: i64, s: &Settings) -> (i64, Reason) {
    let up = (current + 1).min(s.max);
    let down = (current - 1).max(s.min);
    if i.p95_ms.is_some_and(|p| p > UP_P95_MS) {
        (up, Reason::HighLatency)
    } else if i.arrival_rate > UP_ARRIVALS_PER_MIN {
        (up, Reason::HighArrivalRate)
    } else if i.forecast_rate > UP_ARRIVALS_PER_MIN {
        (up, Reason::ForecastArrivalRate)
    } else if i.p95_ms.is_none_or(|p| p < DOWN_P95_MS)
        && i.arrival_rate < DOWN_ARRIVALS_PER_MIN
        && i.forecast_rate < DOWN_ARRIVALS_PER_MIN
    {
        (down, Reason::LowUtilization)
    } else {
        (current, Reason::Steady)
    }
}

fn action(current: i64, desired: i64) -> Action {
    match desired.cmp(&current) {
        Ordering::Greater => Action::ScaleUp,
        Ordering::Less => Action::ScaleDown,
        Ordering::Equal => Action::Hold,
    }
}

/// Seconds left of the cooldown (rounded up; 0 when over).
pub fn cooldown_remaining_sec(s: &Settings, at: &Situation) -> i64 {
    let left = at
        .last_change_at
        .map(|t| t + s.cooldown_ms() - at.now_ms)
        .unwrap_or(0);
    (left.max(0) + 999) / 1000
}

/// The automatic decision.
pub fn decide(i: &Inputs, s: &Settings, at: &Situation) -> Decision {
    let current = s.clamp(at.current);
    let (desired, reason) = rule(i, current, s);
    let remaining = cooldown_remaining_sec(s, at);
    let blocked_by = if desired > current && at.gate_up {
        Some(Block::DeployGate)
    } else if desired != current && remaining > 0 {
        Some(Block::Cooldown)
    } else {
        None
    };
    Decision {
        current,
        desired,
        reason,
        action: action(current, desired),
        blocked_by,
        cooldown_remaining_sec: remaining,
    }
}

/// 422 `workers_out_of_range` unless `requested` is within
/// `scale_min..=scale_max`.
pub fn within_bounds(requested: i64, s: &Settings) -> Result<()> {
    if (s.min..=s.max).contains(&requested) {
        Ok(())
    } else {
        Err(Error::unprocessable(
            "workers_out_of_range",
            format!(
                "`workers` must be from {} to {} (scale_min..scale_max)",
                s.min, s.max
            ),
        ))
    }
}

/// An operator's explicit count: 422 `workers_out_of_range` outside
/// `min..=max`, 409 `deploy_gate_up` for an increase while the gate is up.
/// The cooldown does not apply (the operator decides), and the change
/// itself starts a new cooldown for the automatic decisions.
pub fn operator(requested: i64, s: &Settings, at: &Situation) -> Result<Decision> {
    within_bounds(requested, s)?;
    let current = s.clamp(at.current);
    if requested > current && at.gate_up {
        return Err(Error::conflict(
            "deploy_gate_up",
            "the deploy gate is up: workers can only be reduced until it clears",
        ));
    }
    Ok(Decision {
        current,
        desired: requested,
        reason: Reason::Operator,
        action: action(current, requested),
        blocked_by: None,
        cooldown_remaining_sec: cooldown_remaining_sec(s, at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Settings = Settings {
        min: 1,
        max: 6,
        cooldown_min: 10,
        dry_run: true,
        forecast_minutes: 30,
    };

    fn inputs(p95: Option<f64>, rate: f64, forecast: f64) -> Inputs {
        Inputs {
            p95_ms: p95,
            arrival_rate: rate,
            forecast_rate: forecast,
        }
    }

    fn at(current: i64) -> Situation {
        Situation {
            current,
            last_change_at: None,
            gate_up: false,
            now_ms: 1_000_000_000,
        }
    }

    #[test]
    fn the_seed_rules_in_order() {
        let cases = [
            (inputs(Some(1250.5), 8.5, 8.5), 2, Reason::HighLatency),
            (inputs(Some(1250.5), 30.0, 0.0), 2, Reason::HighLatency),
            (inputs(Some(500.0), 10.5, 0.0), 2, Reason::HighArrivalRate),
            (
                inputs(Some(500.0), 5.0, 12.0),
                2,
                Reason::ForecastArrivalRate,
            ),
            (inputs(Some(100.0), 1.0, 1.0), 1, Reason::LowUtilization),
            (inputs(None, 0.0, 0.0), 1, Reason::LowUtilization),
            (inputs(Some(500.0), 5.0, 5.0), 1, Reason::Steady),
            (inputs(Some(1000.0), 10.0, 10.0), 1, Reason::Steady),
        ];
        for (i, want, reason) in cases {
            let d = decide(&i, &S, &at(1));
            assert_eq!((d.desired, d.reason), (want, reason), "{i:?}");
        }
        let d = decide(&inputs(Some(100.0), 1.0, 1.0), &S, &at(3));
        assert_eq!((d.desired, d.action), (2, Action::ScaleDown));
    }

    #[test]
    fn a_rising_forecast_holds_a_quiet_system_at_its_size() {
        let d = decide(&inputs(Some(100.0), 1.0, 3.0), &S, &at(3));
        assert_eq!((d.desired, d.reason), (3, Reason::Steady));
    }

    #[test]
    fn min_and_max_clamp() {
        let d = decide(&inputs(Some(5000.0), 0.0, 0.0), &S, &at(6));
        assert_eq!((d.desired, d.action, d.changes()), (6, Action::Hold, false));
        let d = decide(&inputs(Some(10.0), 0.0, 0.0), &S, &at(1));
        assert_eq!((d.desired, d.reason), (1, Reason::LowUtilization));
        // A stored count outside new bounds is read within them.
        let d = decide(&inputs(Some(500.0), 5.0, 5.0), &S, &at(9));
        assert_eq!((d.current, d.desired), (6, 6));
    }

    #[test]
    fn the_cooldown_blocks_changes_and_counts_down() {
        let mut a = at(2);
        a.last_change_at = Some(a.now_ms - 4 * 60_000 - 30_500);
        let d = decide(&inputs(Some(5000.0), 0.0, 0.0), &S, &a);
        assert_eq!(d.blocked_by, Some(Block::Cooldown));
        assert_eq!(d.cooldown_remaining_sec, 330, "5 min 29.5 s, rounded up");
        assert_eq!((d.desired, d.target()), (3, 2));
        a.last_change_at = Some(a.now_ms - 10 * 60_000);
        let d = decide(&inputs(Some(5000.0), 0.0, 0.0), &S, &a);
        assert_eq!(
            (d.blocked_by, d.cooldown_remaining_sec, d.target()),
            (None, 0, 3)
        );
    }

    #[test]
    fn the_gate_blocks_increases_only() {
        let mut a = at(2);
        a.gate_up = true;
        let up = decide(&inputs(Some(5000.0), 0.0, 0.0), &S, &a);
        assert_eq!((up.blocked_by, up.target()), (Some(Block::DeployGate), 2));
        let down = decide(&inputs(Some(10.0), 0.0, 0.0), &S, &a);
        assert_eq!((down.blocked_by, down.target()), (None, 1));
    }

    #[test]
    fn operators_bypass_the_cooldown_but_not_the_gate_or_the_bounds() {
        let mut a = at(2);
        a.last_change_at = Some(a.now_ms - 60_000);
        let d = operator(5, &S, &a).unwrap();
        assert_eq!(
            (d.target(), d.reason, d.blocked_by),
            (5, Reason::Operator, None)
        );
        for bad in [0, 7, -1] {
            assert_eq!(
                operator(bad, &S, &a).unwrap_err().code,
                "workers_out_of_range"
            );
        }
        a.gate_up = true;
        let e = operator(3, &S, &a).unwrap_err();
        assert_eq!((e.status(), e.code), (409, "deploy_gate_up"));
        assert_eq!(operator(1, &S, &a).unwrap().target(), 1);
    }
}
