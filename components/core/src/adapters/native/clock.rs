use crate::ports::Clock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A clock tests move by hand. Clones share the time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(now_ms)))
    }
    /// Set the time.
    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
    /// Move the time forward.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
    fn monotonic_ms(&self) -> f64 {
        self.now_ms() as f64
    }
    /// Sleeping moves the manual clock: tests never wait.
    fn sleep(&self, ms: u64) -> futures::future::LocalBoxFuture<'_, ()> {
        self.advance(ms as i64);
        Box::pin(async {})
    }
}
