//! Request statistics over a time window, from the minute rollups.

use super::histogram::{Histogram, BUCKETS};
use crate::error::Result;
use crate::params;
use crate::ports::{DbExt, Env};

/// Requests in a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowStats {
    /// All requests.
    pub requests: i64,
    /// Requests answered with a 5xx status (the availability SLO's errors).
    pub errors: i64,
    /// Their latencies.
    pub latency: Histogram,
}

impl WindowStats {
    /// Errors over requests (0 without traffic).
    pub fn error_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

/// Requests of the whole minutes from `from_ms` to `to_ms` (both minutes
/// included), optionally of one component. Call [`super::compact`] first
/// for up-to-date figures.
pub fn window(env: &Env, from_ms: i64, to_ms: i64, component: Option<&str>) -> Result<WindowStats> {
    let buckets = (0..BUCKETS)
        .map(|i| format!("COALESCE(SUM(b{i}), 0)"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = env.db.query_one(
        &format!(
            "SELECT COALESCE(SUM(n), 0), COALESCE(SUM(CASE WHEN status >= 500 THEN n ELSE 0 END), 0),
                    COALESCE(SUM(sum_us), 0), {buckets}
             FROM request_minutes
             WHERE minute >= ?1 AND minute <= ?2 AND (?3 IS NULL OR component = ?3)"
        ),
        params![from_ms.div_euclid(60_000), to_ms.div_euclid(60_000), component],
    )?;
    let mut latency = Histogram {
        count: row.i64(0)?,
        sum_us: row.i64(2)?,
        ..Histogram::default()
    };
    for i in 0..BUCKETS {
        latency.buckets[i] = row.i64(3 + i)?;
    }
    Ok(WindowStats {
        requests: latency.count,
        errors: row.i64(1)?,
        latency,
    })
}
