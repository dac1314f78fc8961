//! The autoscaler's variables and the seed's thresholds.

use crate::config;
use crate::error::{Error, Result};
use crate::ports::Config;
use serde::Serialize;

/// Scale up when the request p95 over the last 10 minutes is above this.
pub const UP_P95_MS: f64 = 1000.0;
/// Scale up when more jobs than this arrive per minute (now or forecast).
pub const UP_ARRIVALS_PER_MIN: f64 = 10.0;
/// Scale down only when the request p95 is below this...
pub const DOWN_P95_MS: f64 = 300.0;
/// ...and fewer jobs than this arrive per minute (now and forecast).
pub const DOWN_ARRIVALS_PER_MIN: f64 = 2.0;
/// The window of the p95 and the arrival rate, minutes.
pub const WINDOW_MINUTES: i64 = 10;
/// The per-minute arrivals the forecast is fitted to, minutes.
pub const FORECAST_WINDOW_MINUTES: i64 = 60;
/// The largest `scale_max`.
pub const MAX_WORKERS: i64 = 64;

/// The `scale_*` variables.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Settings {
    /// Fewest workers (`scale_min`, 1).
    pub min: i64,
    /// Most workers (`scale_max`, 6).
    pub max: i64,
    /// No automatic change within this many minutes of the last applied
    /// one (`scale_cooldown_min`, 10).
    pub cooldown_min: i64,
    /// Applies only report unless asked otherwise (`scale_dry_run`, true).
    pub dry_run: bool,
    /// How far ahead the arrival forecast looks, minutes
    /// (`scale_forecast_minutes`, 30).
    pub forecast_minutes: i64,
}

impl Settings {
    /// Read the variables; `scale_min` above `scale_max` is a configuration
    /// error naming both.
    pub fn load(c: &dyn Config) -> Result<Settings> {
        let min = config::int(c, "scale_min", 1, 1, MAX_WORKERS)?;
        let max = config::int(c, "scale_max", 6, 1, MAX_WORKERS)?;
        if min > max {
            return Err(Error::unavailable(
                "invalid_configuration",
                format!("variable `scale_min` ({min}) must not exceed `scale_max` ({max})"),
            ));
        }
        Ok(Settings {
            min,
            max,
            cooldown_min: config::int(c, "scale_cooldown_min", 10, 0, 1440)?,
            dry_run: config::flag(c, "scale_dry_run", true)?,
            forecast_minutes: config::int(c, "scale_forecast_minutes", 30, 1, 1440)?,
        })
    }

    /// The cooldown in milliseconds.
    pub fn cooldown_ms(&self) -> i64 {
        self.cooldown_min * 60_000
    }

    /// `workers` brought within `min..=max`.
    pub fn clamp(&self, workers: i64) -> i64 {
        workers.clamp(self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::MapConfig;

    #[test]
    fn the_seed_defaults_and_refusals() {
        let s = Settings::load(&MapConfig::new(&[])).unwrap();
        assert_eq!((s.min, s.max, s.cooldown_min), (1, 6, 10));
        assert!(s.dry_run);
        assert_eq!(s.forecast_minutes, 30);
        assert_eq!((s.clamp(0), s.clamp(9), s.clamp(3)), (1, 6, 3));
        let c = MapConfig::new(&[("scale_min", "4"), ("scale_max", "3")]);
        let e = Settings::load(&c).unwrap_err();
        assert!(e.message.contains("scale_min"), "{e}");
        for (k, v) in [
            ("scale_max", "0"),
            ("scale_max", "65"),
            ("scale_dry_run", "maybe"),
            ("scale_forecast_minutes", "0"),
            ("scale_cooldown_min", "-1"),
        ] {
            let e = Settings::load(&MapConfig::new(&[(k, v)])).unwrap_err();
            assert_eq!(e.code, "invalid_configuration", "{k}={v}");
        }
        let off = Settings::load(&MapConfig::new(&[("scale_dry_run", "false")])).unwrap();
        assert!(!off.dry_run);
    }
}
