//! Multiwindow, multi-burn-rate alerting (the SRE workbook, "Alerting on
//! SLOs"): an alert fires only when both a long and a short window burn the
//! error budget faster than the rule's factor, so it starts quickly, stops
//! quickly once the errors stop, and ignores short blips. A window with
//! fewer events than the minimum never fires (three requests an hour cannot
//! page anyone).

use serde::Serialize;

/// How bad the burn is, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Within budget.
    Ok,
    /// Burning the budget at least as fast as it accrues over days (ticket).
    Watch,
    /// Fast burn: 6x over 6 h and 30 min (page).
    Warning,
    /// Very fast burn: 14.4x over 1 h and 5 min (page at once).
    Critical,
}

impl Level {
    /// As served.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Watch => "WATCH",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
        }
    }
}

/// A named window, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Its name (`5m`, `1h`, `3d`...).
    pub name: &'static str,
    /// Its length.
    pub minutes: i64,
}

/// The windows the rules read.
pub const WINDOWS: [Window; 6] = [
    Window {
        name: "5m",
        minutes: 5,
    },
    Window {
        name: "30m",
        minutes: 30,
    },
    Window {
        name: "1h",
        minutes: 60,
    },
    Window {
        name: "6h",
        minutes: 360,
    },
    Window {
        name: "1d",
        minutes: 1440,
    },
    Window {
        name: "3d",
        minutes: 4320,
    },
];

/// One rule: both windows at or above `factor` times the budget rate.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// What it raises.
    pub level: Level,
    /// The long window's name.
    pub long: &'static str,
    /// The short window's name.
    pub short: &'static str,
    /// The burn-rate factor.
    pub factor: f64,
}

/// The workbook's three rules: 2% of a 30-day budget in 1 h, 5% in 6 h,
/// 10% in 3 days.
pub const RULES: [Rule; 3] = [
    Rule {
        level: Level::Critical,
        long: "1h",
        short: "5m",
        factor: 14.4,
    },
    Rule {
        level: Level::Warning,
        long: "6h",
        short: "30m",
        factor: 6.0,
    },
    Rule {
        level: Level::Watch,
        long: "3d",
        short: "6h",
        factor: 1.0,
    },
];

/// Events and failures in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Events (requests, graded outputs).
    pub events: i64,
    /// Failures among them.
    pub failures: i64,
}

impl Counts {
    /// Failures over events (0 without events).
    pub fn ratio(&self) -> f64 {
        if self.events == 0 {
            0.0
        } else {
            self.failures as f64 / self.events as f64
        }
    }

    /// How many times faster than the budget allows failures happen.
    pub fn burn(&self, budget: f64) -> f64 {
        if budget <= 0.0 {
            0.0
        } else {
            self.ratio() / budget
        }
    }
}

/// A rule as evaluated.
#[derive(Debug, Clone, Serialize)]
pub struct RuleState {
    /// What it raises.
    pub level: Level,
    /// Long window.
    pub long: &'static str,
    /// Short window.
    pub short: &'static str,
    /// Factor.
    pub factor: f64,
    /// Burn of the long window.
    pub long_burn: f64,
    /// Burn of the short window.
    pub short_burn: f64,
    /// Events in the long window.
    pub long_events: i64,
    /// Too little traffic to judge: never fires.
    pub guarded: bool,
    /// Both windows at or over the factor, with enough traffic.
    pub firing: bool,
}

/// The level and every rule's state, given each window's counts.
pub fn evaluate(
    counts: impl Fn(&str) -> Counts,
    budget: f64,
    min_events: i64,
) -> (Level, Vec<RuleState>) {
    let mut level = Level::Ok;
    let states = RULES
        .iter()
        .map(|r| {
            let (long, short) = (counts(r.long), counts(r.short));
            let (long_burn, short_burn) = (long.burn(budget), short.burn(budget));
            let guarded = long.events < min_events;
            let firing = !guarded && long_burn >= r.factor && short_burn >= r.factor;
            if firing && r.level > level {
                level = r.level;
            }
            RuleState {
                level: r.level,
                long: r.long,
                short: r.short,
                factor: r.factor,
                long_burn: round3(long_burn),
                short_burn: round3(short_burn),
                long_events: long.events,
                guarded,
                firing,
            }
        })
        .collect();
    (level, states)
}

/// Three decimals, for reports.
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts<'a>(map: &'a [(&'a str, i64, i64)]) -> impl Fn(&str) -> Counts + 'a {
        move |w| {
            map.iter()
                .find(|(n, _, _)| *n == w)
                .map(|(_, e, f)| Counts {
                    events: *e,
                    failures: *f,
                })
                .unwrap_or_default()
        }
    }

    #[test]
    fn a_fast_burn_in_both_windows_is_critical() {
        // 1% budget; 20% errors in the last hour and the last 5 min: 20x.
        let c = counts(&[
            ("1h", 1000, 200),
            ("5m", 100, 20),
            ("6h", 6000, 200),
            ("30m", 500, 100),
            ("3d", 70000, 200),
        ]);
        let (level, rules) = evaluate(c, 0.01, 100);
        assert_eq!(level, Level::Critical);
        assert!(rules[0].firing);
        assert_eq!(rules[0].long_burn, 20.0);
    }

    #[test]
    fn a_burst_that_stopped_does_not_fire() {
        // The hour burned at 20x, but the last 5 minutes are clean.
        let c = counts(&[("1h", 1000, 200), ("5m", 100, 0)]);
        let (level, rules) = evaluate(c, 0.01, 100);
        assert_eq!(level, Level::Ok);
        assert!(!rules[0].firing && !rules[0].guarded);
    }

    #[test]
    fn little_traffic_never_pages() {
        // Three requests in an hour, two failed.
        let c = counts(&[
            ("1h", 3, 2),
            ("5m", 3, 2),
            ("6h", 3, 2),
            ("30m", 3, 2),
            ("3d", 3, 2),
        ]);
        let (level, rules) = evaluate(c, 0.01, 100);
        assert_eq!(level, Level::Ok);
        assert!(rules.iter().all(|r| r.guarded && !r.firing));
    }

    #[test]
    fn a_slow_steady_burn_is_a_watch() {
        // 1.5% errors everywhere: over 1x, under 6x.
        let c = counts(&[
            ("1h", 1000, 15),
            ("5m", 100, 2),
            ("6h", 6000, 90),
            ("30m", 500, 8),
            ("3d", 70000, 1050),
        ]);
        assert_eq!(evaluate(c, 0.01, 100).0, Level::Watch);
    }

    #[test]
    fn a_6x_burn_is_a_warning() {
        let c = counts(&[
            ("1h", 1000, 80),
            ("5m", 100, 8),
            ("6h", 6000, 480),
            ("30m", 500, 40),
            ("3d", 70000, 600),
        ]);
        assert_eq!(evaluate(c, 0.01, 100).0, Level::Warning);
    }
}
