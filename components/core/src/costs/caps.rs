//! Daily caps: one global cap and one per model family, in micro-dollars.
//!
//! Defaults come from the variables `cost_cap_daily_usd` (default 25) and
//! `model_caps` (a JSON object model → USD, default
//! `{"gpt-4o":15,"gpt-4o-mini":10}`). `POST /api/costs/set-cap` stores an
//! override in `cost_caps` that wins over the variables until it is
//! removed (`cap_usd: null`). A cap of 0 is reached at once: nothing of
//! that scope may be spent.

use crate::ai::models::family;
use crate::config;
use crate::error::{Error, Result};
use crate::incidents::Actor;
use crate::params;
use crate::ports::{Config, DbExt, Env};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The global daily cap when `cost_cap_daily_usd` is not set.
pub const DEFAULT_DAILY_CAP_USD: f64 = 25.0;
/// The model caps when `model_caps` is not set.
pub const DEFAULT_MODEL_CAPS: &str = r#"{"gpt-4o":15,"gpt-4o-mini":10}"#;
/// The largest cap accepted, USD per day.
pub const MAX_CAP_USD: f64 = 1_000_000.0;
/// The longest model name accepted.
pub const MAX_MODEL_CHARS: usize = 100;

/// Micro-dollars in a dollar.
const MICROS: f64 = 1_000_000.0;

/// USD (finite, already range-checked) to micro-dollars, to the nearest.
pub fn micros_from_usd(usd: f64) -> i64 {
    (usd * MICROS).round() as i64
}

/// Micro-dollars as a USD number, for the JSON fields next to the exact
/// integer ones.
pub fn usd(micros: i64) -> f64 {
    micros as f64 / MICROS
}

/// Micro-dollars as `$15.00` (cents, rounded down), for messages.
pub fn usd_text(micros: i64) -> String {
    format!(
        "${}.{:02}",
        micros / 1_000_000,
        (micros % 1_000_000) / 10_000
    )
}

/// Where a cap comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `cost_cap_daily_usd` or `model_caps`.
    Variable,
    /// A `cost_caps` row set through the API.
    Override,
}

/// One cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    /// Micro-dollars per UTC day.
    pub micros: i64,
    /// Where it comes from.
    pub source: Source,
}

/// Every cap in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caps {
    /// All models together.
    pub global: Cap,
    /// Per model family.
    pub models: BTreeMap<String, Cap>,
}

impl Caps {
    /// The caps in force: the variables, then the overrides on top.
    pub fn load(env: &Env) -> Result<Caps> {
        let mut caps = Caps::from_variables(env.config.as_ref())?;
        let rows = env
            .db
            .exec("SELECT scope, model, cap_micros FROM cost_caps", params![])?;
        for r in &rows.rows {
            let cap = Cap {
                micros: r.i64(2)?,
                source: Source::Override,
            };
            match r.text(0)?.as_str() {
                "global" => caps.global = cap,
                _ => {
                    caps.models.insert(r.text(1)?, cap);
                }
            }
        }
        Ok(caps)
    }

    /// The caps the variables set.
    pub fn from_variables(c: &dyn Config) -> Result<Caps> {
        let global = config::float(
            c,
            "cost_cap_daily_usd",
            DEFAULT_DAILY_CAP_USD,
            0.0,
            MAX_CAP_USD,
        )?;
        let json = config::text_or(c, "model_caps", DEFAULT_MODEL_CAPS)?;
        let bad = |why: String| {
            Error::unavailable(
                "invalid_configuration",
                format!("variable `model_caps` must be a JSON object of model → USD per day (0 to {MAX_CAP_USD}): {why}"),
            )
        };
        let listed: BTreeMap<String, f64> =
            serde_json::from_str(&json).map_err(|e| bad(e.to_string()))?;
        let mut models = BTreeMap::new();
        for (model, cap) in listed {
            let model = model_name(&model).map_err(|e| bad(e.message))?;
            let micros = cap_micros(cap).map_err(|e| bad(format!("`{model}`: {}", e.message)))?;
            models.insert(
                model,
                Cap {
                    micros,
                    source: Source::Variable,
                },
            );
        }
        Ok(Caps {
            global: Cap {
                micros: micros_from_usd(global),
                source: Source::Variable,
            },
            models,
        })
    }

    /// The cap of `model`'s family, if it has one.
    pub fn model(&self, model: &str) -> Option<Cap> {
        self.models.get(family(model)).copied()
    }
}

/// A model name as caps and policies key it: its family, 1 to 100 of
/// letters, digits and `-._:/@`. 422 `invalid_model` otherwise.
pub fn model_name(s: &str) -> Result<String> {
    let t = s.trim();
    let ok = !t.is_empty()
        && t.chars().count() <= MAX_MODEL_CHARS
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:/@".contains(&b));
    if ok {
        Ok(family(t).to_string())
    } else {
        Err(Error::unprocessable(
            "invalid_model",
            format!("a model name is 1 to {MAX_MODEL_CHARS} letters, digits or -._:/@"),
        ))
    }
}

/// A cap in USD, checked (finite, 0 to [`MAX_CAP_USD`]), in micro-dollars.
pub fn cap_micros(usd: f64) -> Result<i64> {
    if usd.is_finite() && (0.0..=MAX_CAP_USD).contains(&usd) {
        Ok(micros_from_usd(usd))
    } else {
        Err(Error::unprocessable(
            "invalid_cap",
            format!("a cap is a number of USD per day from 0 to {MAX_CAP_USD}"),
        ))
    }
}

/// `POST /api/costs/set-cap`, as sent. Every field is optional here so
/// that a missing one is a 422 naming it; unknown fields are a 400.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetCap {
    /// `global` or `model`.
    pub scope: Option<String>,
    /// The model, for `scope: model` only.
    pub model: Option<String>,
    /// USD per day; `null` removes the override (the variable applies
    /// again). `None` when absent.
    #[serde(default, deserialize_with = "present")]
    pub cap_usd: Option<Option<f64>>,
}

/// A present field, `null` included, as `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Option<f64>>, D::Error> {
    Option::<f64>::deserialize(d).map(Some)
}

/// Which cap a change is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The global cap.
    Global,
    /// One model family's cap.
    Model(String),
}

impl Target {
    fn key(&self) -> (&'static str, &str) {
        match self {
            Target::Global => ("global", ""),
            Target::Model(m) => ("model", m),
        }
    }

    /// `global` or the model, as messages name it.
    pub fn name(&self) -> &str {
        match self {
            Target::Global => "global",
            Target::Model(m) => m,
        }
    }

    fn in_force(&self, caps: &Caps) -> Option<Cap> {
        match self {
            Target::Global => Some(caps.global),
            Target::Model(m) => caps.model(m),
        }
    }
}

/// A validated change: set a cap, or remove its override (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Which cap.
    pub target: Target,
    /// The new cap, micro-dollars; `None` removes the override.
    pub cap_micros: Option<i64>,
}

impl SetCap {
    /// Checked: scope `global` (no model) or `model` (with one), and a cap
    /// in range or `null`. 422 with the field's code otherwise.
    pub fn validated(&self) -> Result<Change> {
        let target = match (self.scope.as_deref(), &self.model) {
            (Some("global"), None) => Target::Global,
            (Some("global"), Some(_)) => {
                return Err(Error::unprocessable(
                    "invalid_model",
                    "`model` is only for `scope: model`",
                ))
            }
            (Some("model"), Some(m)) => Target::Model(model_name(m)?),
            (Some("model"), None) => {
                return Err(Error::unprocessable(
                    "invalid_model",
                    "`scope: model` needs `model`",
                ))
            }
            _ => {
                return Err(Error::unprocessable(
                    "invalid_scope",
                    "`scope` is required: global or model",
                ))
            }
        };
        let cap_micros = match self.cap_usd {
            None => {
                return Err(Error::unprocessable(
                    "invalid_cap",
                    "`cap_usd` is required: USD per day, or null to remove the override",
                ))
            }
            Some(None) => None,
            Some(Some(usd)) => Some(cap_micros(usd)?),
        };
        Ok(Change { target, cap_micros })
    }
}

/// Apply `change` for `by` and append it to the audit chain (with the cap
/// in force before and after). Returns the caps now in force.
pub fn set(env: &Env, change: &Change, by: &Actor) -> Result<Caps> {
    let before = Caps::load(env)?;
    let (scope, model) = change.target.key();
    match change.cap_micros {
        Some(micros) => env.db.exec(
            "INSERT INTO cost_caps (scope, model, cap_micros, set_by, set_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (scope, model) DO UPDATE SET cap_micros = excluded.cap_micros,
                 set_by = excluded.set_by, set_at = excluded.set_at",
            params![scope, model, micros, by.actor.as_str(), env.clock.now_ms()],
        )?,
        None => env.db.exec(
            "DELETE FROM cost_caps WHERE scope = ?1 AND model = ?2",
            params![scope, model],
        )?,
    };
    let after = Caps::load(env)?;
    let view = |cap: Option<Cap>| {
        serde_json::json!({
            "cap_micros": cap.map(|c| c.micros),
            "source": cap.map(|c| c.source),
        })
    };
    crate::audit::append(
        env,
        &by.event("costs.set_cap")
            .target(&format!("{scope}:{}", change.target.name()))
            .detail(serde_json::json!({
                "scope": scope,
                "model": (scope == "model").then_some(model),
                "removed_override": change.cap_micros.is_none(),
                "before": view(change.target.in_force(&before)),
                "after": view(change.target.in_force(&after)),
            })),
    )?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::MapConfig;

    #[test]
    fn variables_give_the_defaults_and_refuse_nonsense() {
        let caps = Caps::from_variables(&MapConfig::new(&[])).unwrap();
        assert_eq!(caps.global.micros, 25_000_000);
        assert_eq!(caps.model("gpt-4o").unwrap().micros, 15_000_000);
        assert_eq!(
            caps.model("gpt-4o-mini-2024-07-18").unwrap().micros,
            10_000_000
        );
        assert_eq!(caps.model("gpt-5"), None);
        let caps = Caps::from_variables(&MapConfig::new(&[
            ("cost_cap_daily_usd", "2.5"),
            ("model_caps", r#"{"gpt-4.1": 0.000001}"#),
        ]))
        .unwrap();
        assert_eq!(
            (caps.global.micros, caps.model("gpt-4.1").unwrap().micros),
            (2_500_000, 1)
        );
        for bad in [
            r#"{"gpt-4o": -1}"#,
            r#"{"gpt-4o": "15"}"#,
            "[15]",
            r#"{"": 1}"#,
            r#"{"gpt-4o": 2e6}"#,
        ] {
            let e = Caps::from_variables(&MapConfig::new(&[("model_caps", bad)])).unwrap_err();
            assert_eq!(e.code, "invalid_configuration", "{bad}");
        }
        assert!(Caps::from_variables(&MapConfig::new(&[("cost_cap_daily_usd", "-1")])).is_err());
    }

    #[test]
    fn money_is_shown_in_cents() {
        assert_eq!(usd_text(15_000_000), "$15.00");
        assert_eq!(usd_text(18_509_999), "$18.50");
        assert_eq!(usd(18_500_000), 18.5);
        assert_eq!(micros_from_usd(0.1 + 0.2), 300_000);
    }

    #[test]
    fn set_cap_bodies_are_checked() {
        let body = |j: &str| serde_json::from_str::<SetCap>(j).unwrap().validated();
        assert_eq!(
            body(r#"{"scope":"model","model":"gpt-4o","cap_usd":12.5}"#).unwrap(),
            Change {
                target: Target::Model("gpt-4o".into()),
                cap_micros: Some(12_500_000)
            }
        );
        assert_eq!(
            body(r#"{"scope":"global","cap_usd":null}"#).unwrap(),
            Change {
                target: Target::Global,
                cap_micros: None
            }
        );
        for (bad, code) in [
            (r#"{"scope":"global"}"#, "invalid_cap"),
            (r#"{"scope":"global","cap_usd":-1}"#, "invalid_cap"),
            (r#"{"scope":"global","cap_usd":1000001}"#, "invalid_cap"),
            (r#"{"scope":"model","cap_usd":1}"#, "invalid_model"),
            (
                r#"{"scope":"global","model":"gpt-4o","cap_usd":1}"#,
                "invalid_model",
            ),
            (
                r#"{"scope":"model","model":"a b","cap_usd":1}"#,
                "invalid_model",
            ),
            (r#"{"scope":"tenant","cap_usd":1}"#, "invalid_scope"),
            (r#"{"cap_usd":1}"#, "invalid_scope"),
        ] {
            let e = body(bad).unwrap_err();
            assert_eq!((e.status(), e.code), (422, code), "{bad}");
        }
        assert!(serde_json::from_str::<SetCap>(r#"{"scope":"global","cap":1}"#).is_err());
    }
}
