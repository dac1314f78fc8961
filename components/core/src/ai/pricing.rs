//! What tokens cost: a versioned per-model price table in integer
//! micro-dollars per million tokens. Every attempt stores the version it was
//! costed with, and each version's rows are kept in `model_prices`, so any
//! cost can be recomputed later.

use crate::error::{Error, Result};
use crate::params;
use crate::ports::{DbExt, Env};
use serde::Deserialize;

/// Input and output prices of one model, micro-dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million input (prompt) tokens.
    pub input: i64,
    /// Per million output (completion) tokens.
    pub output: i64,
}

/// A price table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    /// Its version, stored on every attempt.
    pub version: String,
    /// Model name → price.
    pub models: Vec<(String, Price)>,
}

/// The built-in version: OpenAI's published list prices (USD).
pub const DEFAULT_VERSION: &str = "openai-2025-08";

const DEFAULTS: &[(&str, i64, i64)] = &[
    ("gpt-4o", 2_500_000, 10_000_000),
    ("gpt-4o-mini", 150_000, 600_000),
    ("gpt-4.1", 2_000_000, 8_000_000),
    ("gpt-4.1-mini", 400_000, 1_600_000),
    ("gpt-4.1-nano", 100_000, 400_000),
    ("o4-mini", 1_100_000, 4_400_000),
    ("gpt-5", 1_250_000, 10_000_000),
    ("gpt-5-mini", 250_000, 2_000_000),
    ("gpt-5-nano", 50_000, 400_000),
    ("simulated", 0, 0),
];

/// Models the table does not list are costed at this model's price, so an
/// unknown model is over- rather than under-estimated.
pub const FALLBACK_MODEL: &str = "gpt-4o";

impl PriceTable {
    /// The built-in table.
    pub fn builtin() -> Self {
        PriceTable {
            version: DEFAULT_VERSION.to_string(),
            models: DEFAULTS
                .iter()
                .map(|(m, i, o)| {
                    (
                        m.to_string(),
                        Price {
                            input: *i,
                            output: *o,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The `price_table` variable: `{"version": "...", "models": {"gpt-4o":
    /// {"input": 2500000, "output": 10000000}, ...}}`; the listed models
    /// replace or extend the built-in ones under the new version.
    pub fn with_override(json: Option<&str>) -> Result<Self> {
        let mut table = Self::builtin();
        let Some(json) = json else { return Ok(table) };
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Override {
            version: String,
            models: std::collections::BTreeMap<String, Price>,
        }
        let o: Override = serde_json::from_str(json).map_err(|e| {
            Error::unavailable(
                "invalid_configuration",
                format!("variable `price_table` is not a valid price table: {e}"),
            )
        })?;
        if o.version.is_empty() || o.version == DEFAULT_VERSION || o.version.len() > 64 {
            return Err(Error::unavailable(
                "invalid_configuration",
                "variable `price_table` needs its own non-empty `version` (up to 64 characters)",
            ));
        }
        for (model, price) in o.models {
            if price.input < 0 || price.output < 0 {
                return Err(Error::unavailable(
                    "invalid_configuration",
                    format!("negative price for `{model}`"),
                ));
            }
            match table.models.iter_mut().find(|(m, _)| *m == model) {
                Some(entry) => entry.1 = price,
                None => table.models.push((model, price)),
            }
        }
        table.version = o.version;
        Ok(table)
    }

    /// The price of `model`: its own row, else its family's (a dated
    /// snapshot such as `gpt-4o-mini-2024-07-18` bills as `gpt-4o-mini`),
    /// else free for platform-hosted models (nothing per token), else the
    /// fallback model's.
    pub fn price(&self, model: &str) -> Price {
        let find = |m: &str| {
            self.models
                .iter()
                .find(|(name, _)| name == m)
                .map(|(_, p)| *p)
        };
        find(model)
            .or_else(|| find(super::models::family(model)))
            .or_else(|| {
                model.starts_with("spin:").then_some(Price {
                    input: 0,
                    output: 0,
                })
            })
            .or_else(|| find(FALLBACK_MODEL))
            .unwrap_or(Price {
                input: 0,
                output: 0,
            })
    }

    /// The cost of a call, micro-dollars, rounded up.
    pub fn cost(&self, model: &str, tokens_in: i64, tokens_out: i64) -> i64 {
        let p = self.price(model);
        let total = tokens_in.max(0) as i128 * p.input as i128
            + tokens_out.max(0) as i128 * p.output as i128;
        ((total + 999_999) / 1_000_000) as i64
    }

    /// Store this version's rows (once per version; cheap to call per run).
    pub fn record(&self, env: &Env) -> Result<()> {
        let known = env
            .db
            .query_one(
                "SELECT COUNT(*) FROM model_prices WHERE version = ?1",
                params![self.version.as_str()],
            )?
            .i64(0)?;
        if known as usize == self.models.len() {
            return Ok(());
        }
        for (model, p) in &self.models {
            env.db.exec(
                "INSERT OR IGNORE INTO model_prices (version, model, input_per_mtok_micros, output_per_mtok_micros)
                 VALUES (?1, ?2, ?3, ?4)",
                params![self.version.as_str(), model.as_str(), p.input, p.output],
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_priced_as_their_family() {
        let t = PriceTable::builtin();
        assert_eq!(t.price("gpt-4o-mini-2024-07-18"), t.price("gpt-4o-mini"));
        assert_ne!(t.price("gpt-4o-mini-2024-07-18"), t.price("gpt-4o"));
    }

    #[test]
    fn costs_are_exact_micro_dollars_rounded_up() {
        let t = PriceTable::builtin();
        // 1,000 in + 500 out on gpt-4o: 1000*2.5 + 500*10 = 7,500 micro-dollars.
        assert_eq!(t.cost("gpt-4o", 1000, 500), 7_500);
        // gpt-4o-mini: 1000*0.15 + 500*0.6 = 450.
        assert_eq!(t.cost("gpt-4o-mini", 1000, 500), 450);
        assert_eq!(t.cost("gpt-4o-mini", 1, 0), 1, "rounded up");
        assert_eq!(t.cost("simulated", 10_000, 10_000), 0);
        assert_eq!(
            t.cost("some-new-model", 1000, 500),
            7_500,
            "unknown models cost like the fallback"
        );
        assert_eq!(t.cost("spin:llama2-chat", 1000, 500), 0);
    }

    #[test]
    fn overrides_need_a_version_and_replace_prices() {
        let t = PriceTable::with_override(Some(r#"{"version":"acme-1","models":{"gpt-4o":{"input":1000000,"output":2000000},"local":{"input":0,"output":0}}}"#)).unwrap();
        assert_eq!(t.version, "acme-1");
        assert_eq!(t.cost("gpt-4o", 1_000_000, 0), 1_000_000);
        assert_eq!(t.cost("local", 5, 5), 0);
        assert!(PriceTable::with_override(Some(r#"{"models":{}}"#)).is_err());
        assert!(PriceTable::with_override(Some(
            r#"{"version":"x","models":{"m":{"input":-1,"output":0}}}"#
        ))
        .is_err());
        assert!(PriceTable::with_override(Some("nope")).is_err());
    }
}
