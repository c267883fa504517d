//! Bounded retries with exponential backoff and jitter.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::error::Result;

/// When and how often to try again.
///
/// Only temporary errors ([`Error::is_temporary`](crate::Error::is_temporary)) of idempotent
/// operations are retried; the count and the total time are both bounded; a server's
/// `Retry-After` is honoured (capped by the total time).
///
/// ```
/// use std::time::Duration;
/// use strongroom_core::{Error, ErrorKind, RetryPolicy};
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let policy = RetryPolicy::default().max_retries(2).initial_backoff(Duration::from_millis(1));
/// let mut calls = 0;
/// let out: Result<(), Error> = policy
///     .run(true, |_| { calls += 1; async { Err(Error::new(ErrorKind::Unavailable, "down")) } })
///     .await;
/// assert!(out.is_err());
/// assert_eq!(calls, 3);
/// # });
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// First backoff.
    pub initial_backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
    /// Backoff growth factor.
    pub base: f64,
    /// No retry starts after this much time since the first attempt.
    pub retry_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
            retry_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Default::default()
        }
    }
    /// Sets `max_retries`.
    pub fn max_retries(mut self, n: usize) -> Self {
        self.max_retries = n;
        self
    }
    /// Sets `initial_backoff`.
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }
    /// Sets `max_backoff`.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }
    /// Sets `retry_timeout`.
    pub fn retry_timeout(mut self, d: Duration) -> Self {
        self.retry_timeout = d;
        self
    }

    /// The backoff before retry number `retry` (0-based), with full jitter.
    pub fn backoff(&self, retry: usize) -> Duration {
        let exp = self.base.powi(retry.min(30) as i32);
        let ceiling = self
            .initial_backoff
            .mul_f64(exp)
            .min(self.max_backoff)
            .max(Duration::from_millis(1));
        let jitter: f64 = rand::rng().random_range(0.5..=1.0);
        ceiling.mul_f64(jitter)
    }

    /// Runs `attempt` (given the attempt number, from 0) until it succeeds, fails with an error
    /// that is not worth retrying, or the budget is spent. `idempotent = false` never retries.
    pub async fn run<T, F, Fut>(&self, idempotent: bool, mut attempt: F) -> Result<T>
    where
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        // Tokio's clock, so tests with paused time control the budget too.
        let started = tokio::time::Instant::now();
        let mut retries = 0;
        loop {
            match attempt(retries).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let Some(delay) = self.next_delay(idempotent, &e, retries, started.elapsed())
                    else {
                        return Err(e);
                    };
                    tracing::debug!(error = %e, retry = retries + 1, delay_ms = delay.as_millis() as u64, "retrying");
                    tokio::time::sleep(delay).await;
                    retries += 1;
                }
            }
        }
    }

    /// The delay before the next try, or `None` when the error should be returned;
    /// `elapsed` is the time since the first attempt.
    pub fn next_delay(
        &self,
        idempotent: bool,
        err: &crate::Error,
        retries: usize,
        elapsed: Duration,
    ) -> Option<Duration> {
        if !idempotent || !err.is_temporary() || retries >= self.max_retries {
            return None;
        }
        let delay = err.retry_after().unwrap_or_else(|| self.backoff(retries));
        if elapsed + delay > self.retry_timeout {
            return None;
        }
        Some(delay)
    }
}
