//! Request telemetry: every HTTP request of every component is recorded
//! (component, route template, method, status, latency, tenant, request id)
//! and rolled up into per-minute latency histograms.
//!
//! Recording is one `INSERT` of a row into `request_samples`, made by the
//! Spin adapter *after* the response has been sent, so the client never
//! waits for it; nothing is read or counted per request. [`compact`] folds
//! new samples into `request_minutes` (per minute, route, method, status
//! and tenant; kept 30 days) and `request_totals` (since start, for
//! Prometheus counters), then prunes raw samples older than an hour. It is
//! incremental (a watermark in `app_meta`), runs in one write transaction
//! so replicas never fold a sample twice, and runs before every read of the
//! rollups (`/metrics`, SLO windows) and from the operations cron jobs.

mod compact;
pub mod histogram;
pub mod metrics;
pub mod prometheus;
mod window;

pub use compact::{compact, Compacted, MINUTES_KEPT_DAYS, SAMPLES_KEPT_MS};
pub use histogram::Histogram;
pub use window::{window, WindowStats};

use crate::config;
use crate::error::Result;
use crate::http::Method;
use crate::params;
use crate::ports::{DbExt, Env};

/// The route recorded for a request that matched no route (404/405).
pub const UNMATCHED: &str = "(unmatched)";
/// The tenant recorded for a request without one.
pub const NO_TENANT: &str = "-";

/// What is known of a request when its response is ready.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The component that served it.
    pub component: &'static str,
    /// The route template (never the raw path: ids stay out of labels).
    pub route: &'static str,
    /// The method.
    pub method: Method,
    /// The response status.
    pub status: u16,
    /// The tenant it acted in, or [`NO_TENANT`].
    pub tenant: String,
    /// Its `X-Request-ID`.
    pub request_id: String,
}

/// Whether requests are recorded (`request_telemetry`, on by default; off
/// is for measuring what recording costs).
pub fn enabled(env: &Env) -> bool {
    config::text_or(env.config.as_ref(), "request_telemetry", "on")
        .map(|v| v != "off")
        .unwrap_or(true)
}

/// Record one served request that took `latency_us`.
pub fn record(env: &Env, s: &Sample, latency_us: i64) -> Result<()> {
    env.db.exec(
        "INSERT INTO request_samples (at_ms, component, route, method, status, latency_us, tenant_id, request_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            env.clock.now_ms(),
            s.component,
            s.route,
            s.method.as_str(),
            s.status as i64,
            latency_us.max(0),
            s.tenant.as_str(),
            s.request_id.as_str()
        ],
    )?;
    Ok(())
}
