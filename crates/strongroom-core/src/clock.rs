//! Time sources, so token expiry can be tested without waiting.

use std::fmt::Debug;
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::BoxFuture;

/// A source of the current time, and of waiting for it to pass.
pub trait Clock: Send + Sync + Debug {
    /// Monotonic now.
    fn now(&self) -> Instant;
    /// Wall-clock now.
    fn system_now(&self) -> SystemTime;

    /// Waits until `d` has passed on this clock (background refreshers sleep through it, so
    /// a manual clock drives them in tests).
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }

    /// Converts a wall-clock deadline (e.g. a token's `exp`) to a monotonic one.
    fn instant_at(&self, at: SystemTime) -> Instant {
        let now = self.now();
        match at.duration_since(self.system_now()) {
            Ok(ahead) => now + ahead,
            Err(behind) => now.checked_sub(behind.duration()).unwrap_or(now),
        }
    }
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn system_now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to (tests).
///
/// ```
/// use std::time::Duration;
/// use strongroom_core::{Clock, ManualClock};
/// let clock = ManualClock::new();
/// let t0 = clock.now();
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.now() - t0, Duration::from_secs(3600));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    system_base: SystemTime,
    offset: tokio::sync::watch::Sender<Duration>,
}

impl ManualClock {
    /// Starts at the real current time.
    pub fn new() -> Self {
        ManualClock {
            base: Instant::now(),
            system_base: SystemTime::now(),
            offset: tokio::sync::watch::Sender::new(Duration::ZERO),
        }
    }
    /// Moves the clock forward, waking whatever sleeps on it until then.
    pub fn advance(&self, by: Duration) {
        self.offset.send_modify(|o| *o += by);
    }
    fn offset(&self) -> Duration {
        *self.offset.borrow()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + self.offset()
    }
    fn system_now(&self) -> SystemTime {
        self.system_base + self.offset()
    }
    /// Resolves once [`ManualClock::advance`] has moved the clock past `d` from now.
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        let mut rx = self.offset.subscribe();
        let until = self.offset() + d;
        Box::pin(async move {
            // The sender lives as long as the clock; if it is gone, nothing will wake us.
            let _ = rx.wait_for(|o| *o >= until).await;
        })
    }
}
