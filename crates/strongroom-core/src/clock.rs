//! Time sources, so token expiry can be tested without waiting.

use std::fmt::Debug;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// Monotonic now.
    fn now(&self) -> Instant;
    /// Wall-clock now.
    fn system_now(&self) -> SystemTime;

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
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// Starts at the real current time.
    pub fn new() -> Self {
        ManualClock {
            base: Instant::now(),
            system_base: SystemTime::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
    fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
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
}
