use crate::ports::{Clock, SystemClock};
use futures::future::LocalBoxFuture;
use spin_executor::CancelOnDropToken;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use wasi::clocks::monotonic_clock;

/// The WASI clocks; `sleep` waits on a monotonic-clock pollable, so other
/// futures (outbound requests in flight) keep running meanwhile.
#[derive(Default)]
pub struct SpinClock(SystemClock);

/// A future that completes at a monotonic deadline.
pub struct Deadline {
    at: monotonic_clock::Instant,
    token: Option<CancelOnDropToken>,
}

impl Deadline {
    /// Completes `ms` milliseconds from now.
    pub fn after_ms(ms: u64) -> Self {
        Deadline {
            at: monotonic_clock::now().saturating_add(ms.saturating_mul(1_000_000)),
            token: None,
        }
    }
}

impl Future for Deadline {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if monotonic_clock::now() >= self.at {
            return Poll::Ready(());
        }
        let pollable = monotonic_clock::subscribe_instant(self.at);
        self.token =
            Some(spin_executor::push_waker_and_get_token(pollable, cx.waker().clone()).into());
        Poll::Pending
    }
}

impl Clock for SpinClock {
    fn now_ms(&self) -> i64 {
        self.0.now_ms()
    }
    fn monotonic_ms(&self) -> f64 {
        self.0.monotonic_ms()
    }
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'_, ()> {
        Box::pin(Deadline::after_ms(ms))
    }
}
