//! The downgrade policy: when a model's daily cap is reached, which
//! cheaper model may do its work instead, and how well that model must
//! have been doing.
//!
//! - `cost_downgrade` (default `gpt-4o=gpt-4o-mini`): comma-separated
//!   `requested=cheaper` pairs, by model family; one step (the cheaper
//!   model is not downgraded again); `none` turns downgrades off.
//! - `cost_downgrade_min_pass_rate` (default 0.75): the cheaper model's
//!   QA pass rate as a work model over the last [`PASS_RATE_DAYS`] UTC
//!   days (today included) must be at least this.
//!
//! **No evidence is allowed.** With fewer than [`MIN_GRADED`] graded
//! outputs the rate says nothing, and the downgrade goes ahead: a cheaper
//! model that has never done work would otherwise never be allowed to
//! start, and every output it makes is still graded (and retried or
//! failed) against the same pass mark, so quality is guarded per output
//! while the evidence builds up. Once it has [`MIN_GRADED`] graded
//! outputs, the floor applies.

use super::caps::model_name;
use super::spend::PassRate;
use crate::ai::models::family;
use crate::config;
use crate::error::{Error, Result};
use crate::ports::Config;
use serde::Serialize;
use std::collections::BTreeMap;

/// `cost_downgrade` when unset.
pub const DEFAULT_DOWNGRADE: &str = "gpt-4o=gpt-4o-mini";
/// `cost_downgrade_min_pass_rate` when unset.
pub const DEFAULT_MIN_PASS_RATE: f64 = 0.75;
/// Below this many graded outputs, a pass rate is no evidence.
pub const MIN_GRADED: i64 = 20;
/// The pass rate looks back this many UTC days, today included.
pub const PASS_RATE_DAYS: i64 = 7;

/// What the cheaper model's record says about a downgrade.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Quality {
    /// Fewer than [`MIN_GRADED`] graded outputs: allowed.
    NoEvidence {
        /// Outputs graded in the window.
        graded: i64,
    },
    /// At or above the floor: allowed.
    AtOrAboveFloor {
        /// The pass rate, 0-1.
        pass_rate: f64,
    },
    /// Under the floor: refused.
    BelowFloor {
        /// The pass rate, 0-1.
        pass_rate: f64,
    },
}

impl Quality {
    /// Whether the downgrade may go ahead.
    pub fn allows(&self) -> bool {
        !matches!(self, Quality::BelowFloor { .. })
    }
}

/// The policy in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Requested family → cheaper family.
    pub routes: BTreeMap<String, String>,
    /// The floor of the cheaper model's pass rate, 0-1.
    pub min_pass_rate: f64,
}

fn invalid(why: impl std::fmt::Display) -> Error {
    Error::unavailable(
        "invalid_configuration",
        format!("variable `cost_downgrade` must be `none` or comma-separated `model=cheaper-model` pairs: {why}"),
    )
}

impl Policy {
    /// Read from variables.
    pub fn load(c: &dyn Config) -> Result<Policy> {
        Ok(Policy {
            routes: Policy::parse_routes(&config::text_or(
                c,
                "cost_downgrade",
                DEFAULT_DOWNGRADE,
            )?)?,
            min_pass_rate: config::float(
                c,
                "cost_downgrade_min_pass_rate",
                DEFAULT_MIN_PASS_RATE,
                0.0,
                1.0,
            )?,
        })
    }

    /// Parse `a=b, c=d` (or `none`).
    pub fn parse_routes(spec: &str) -> Result<BTreeMap<String, String>> {
        let mut routes = BTreeMap::new();
        if spec.trim().eq_ignore_ascii_case("none") {
            return Ok(routes);
        }
        for pair in spec.split(',') {
            let (from, to) = pair
                .split_once('=')
                .ok_or_else(|| invalid(format!("`{}` has no `=`", pair.trim())))?;
            let from = model_name(from).map_err(|e| invalid(e.message))?;
            let to = model_name(to).map_err(|e| invalid(e.message))?;
            if from == to {
                return Err(invalid(format!("`{from}` downgrades to itself")));
            }
            if routes.insert(from.clone(), to).is_some() {
                return Err(invalid(format!("`{from}` is listed twice")));
            }
        }
        Ok(routes)
    }

    /// The cheaper model for `model`'s family, if the policy has one.
    pub fn cheaper(&self, model: &str) -> Option<&str> {
        self.routes.get(family(model)).map(String::as_str)
    }

    /// What `record` (the cheaper model's verdicts in the window) says.
    pub fn judge(&self, record: PassRate) -> Quality {
        match record.rate() {
            Some(rate) if record.graded() >= MIN_GRADED => {
                if rate >= self.min_pass_rate {
                    Quality::AtOrAboveFloor { pass_rate: rate }
                } else {
                    Quality::BelowFloor { pass_rate: rate }
                }
            }
            _ => Quality::NoEvidence {
                graded: record.graded(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::MapConfig;

    #[test]
    fn routes_parse_by_family_and_refuse_nonsense() {
        let p = Policy::load(&MapConfig::new(&[])).unwrap();
        assert_eq!(p.cheaper("gpt-4o-2024-08-06"), Some("gpt-4o-mini"));
        assert_eq!(p.cheaper("gpt-4o-mini"), None, "one step only");
        assert_eq!(p.min_pass_rate, 0.75);
        let routes = Policy::parse_routes(" gpt-4o = gpt-4o-mini , gpt-5=gpt-5-mini").unwrap();
        assert_eq!(routes.len(), 2);
        assert!(Policy::parse_routes("NONE").unwrap().is_empty());
        for bad in ["gpt-4o", "gpt-4o=gpt-4o", "a=b,a=c", "a=", "a b=c"] {
            let e = Policy::parse_routes(bad).unwrap_err();
            assert_eq!(e.code, "invalid_configuration", "{bad}");
        }
        assert!(Policy::load(&MapConfig::new(&[("cost_downgrade_min_pass_rate", "1.5")])).is_err());
    }

    #[test]
    fn the_floor_applies_from_twenty_graded_outputs() {
        let p = Policy::load(&MapConfig::new(&[])).unwrap();
        let rec = |passed, failed| PassRate { passed, failed };
        assert_eq!(p.judge(rec(0, 19)), Quality::NoEvidence { graded: 19 });
        assert!(p.judge(rec(0, 19)).allows());
        assert_eq!(
            p.judge(rec(15, 5)),
            Quality::AtOrAboveFloor { pass_rate: 0.75 }
        );
        assert_eq!(p.judge(rec(14, 6)), Quality::BelowFloor { pass_rate: 0.7 });
        assert!(!p.judge(rec(14, 6)).allows());
    }
}
