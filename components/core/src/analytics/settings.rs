//! The analytics variables, typed (a malformed value is an error naming
//! the variable, never a silent default).

use crate::config;
use crate::error::Result;
use crate::ports::Env;

/// How much one caller may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Batches per minute from one visitor (`analytics_visitor_per_minute`).
    pub visitor_per_minute: i64,
    /// Batches per minute from one client address, for callers without a
    /// credential (`analytics_anonymous_per_minute`).
    pub anonymous_per_minute: i64,
    /// Events per tenant and UTC day (`analytics_daily_events_max`).
    pub daily_events_max: i64,
}

impl Limits {
    /// From the variables, with their documented defaults.
    pub fn read(env: &Env) -> Result<Limits> {
        let c = env.config.as_ref();
        Ok(Limits {
            visitor_per_minute: config::int(c, "analytics_visitor_per_minute", 30, 1, 10_000)?,
            anonymous_per_minute: config::int(c, "analytics_anonymous_per_minute", 10, 1, 10_000)?,
            daily_events_max: config::int(
                c,
                "analytics_daily_events_max",
                100_000,
                1,
                100_000_000,
            )?,
        })
    }
}
