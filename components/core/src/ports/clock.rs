//! Time. Wall-clock time is Unix milliseconds (UTC); the monotonic clock only
//! measures durations.

use futures::future::LocalBoxFuture;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A source of time.
pub trait Clock {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_ms(&self) -> i64;
    /// Monotonic milliseconds since an arbitrary origin, for measuring durations.
    fn monotonic_ms(&self) -> f64;
    /// Wait `ms` milliseconds without blocking other futures of the same task
    /// (on Spin: a WASI monotonic-clock pollable).
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'_, ()>;
}

/// The real clock (works natively and under WASI).
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose monotonic origin is now.
    pub fn new() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    fn monotonic_ms(&self) -> f64 {
        self.origin.elapsed().as_secs_f64() * 1000.0
    }

    /// Natively this blocks the thread: native code runs one future at a
    /// time. The Spin adapter's clock sleeps without blocking.
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'_, ()> {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        Box::pin(async {})
    }
}
