//! A cache for a provider's log-in token: refresh before expiry, one refresh at a time.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::clock::{Clock, SystemClock};
use crate::error::Result;

/// A token with its expiry, as a log-in returns it.
#[derive(Clone)]
pub struct TemporaryToken<T> {
    /// The token.
    pub token: T,
    /// When it expires (`None` = never, e.g. a static token).
    pub expiry: Option<Instant>,
}

impl<T> fmt::Debug for TemporaryToken<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporaryToken")
            .field("token", &"[REDACTED]")
            .field("expiry", &self.expiry)
            .finish()
    }
}

/// A token handed out by [`TokenCache::get_or_refresh`]; pass its `generation` to
/// [`TokenCache::invalidate`] after a 401 so only the first caller that saw the failure makes
/// the cache log in again.
#[derive(Clone)]
pub struct TokenLease<T> {
    /// The token.
    pub token: T,
    /// Which log-in produced it.
    pub generation: u64,
}

impl<T> fmt::Debug for TokenLease<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenLease")
            .field("token", &"[REDACTED]")
            .field("generation", &self.generation)
            .finish()
    }
}

struct Slot<T> {
    token: TemporaryToken<T>,
    fetched_at: Instant,
    generation: u64,
}

struct State<T> {
    slot: Option<Slot<T>>,
    generation: u64,
}

/// Holds one auth token. Refreshes it `refresh_buffer` before its expiry or once it is older
/// than `max_age`, whichever comes first. Concurrent callers share one refresh: the lock is held
/// across the log-in, so 1,000 callers at an expiry make exactly one log-in.
///
/// ```
/// use std::time::Duration;
/// use strongroom_core::{TemporaryToken, TokenCache};
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let cache = TokenCache::<String>::new().with_refresh_buffer(Duration::from_secs(60));
/// let lease = cache
///     .get_or_refresh(|_previous| async { Ok(TemporaryToken { token: "t-1".to_string(), expiry: None }) })
///     .await
///     .unwrap();
/// assert_eq!(lease.token, "t-1");
/// cache.invalidate(lease.generation).await;
/// # });
/// ```
pub struct TokenCache<T> {
    state: Mutex<State<T>>,
    refresh_buffer: Duration,
    max_age: Option<Duration>,
    clock: Arc<dyn Clock>,
}

impl<T> fmt::Debug for TokenCache<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("refresh_buffer", &self.refresh_buffer)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send> Default for TokenCache<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Send> TokenCache<T> {
    /// Refresh buffer 5 minutes, no maximum age, real clock.
    pub fn new() -> Self {
        TokenCache {
            state: Mutex::new(State {
                slot: None,
                generation: 0,
            }),
            refresh_buffer: Duration::from_secs(300),
            max_age: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Refresh this long before the token's expiry.
    pub fn with_refresh_buffer(mut self, buffer: Duration) -> Self {
        self.refresh_buffer = buffer;
        self
    }

    /// Refresh once the token is this old, whatever its expiry says.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Uses `clock` (tests pass a [`ManualClock`](crate::ManualClock)).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The clock in use.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn usable(&self, slot: &Slot<T>, now: Instant) -> bool {
        if let Some(max_age) = self.max_age
            && now.duration_since(slot.fetched_at) >= max_age
        {
            return false;
        }
        match slot.token.expiry {
            Some(expiry) => {
                expiry.checked_duration_since(now).unwrap_or_default() > self.refresh_buffer
            }
            None => true,
        }
    }

    /// Returns the cached token, or runs `login` (given the previous token, for renew-style
    /// refreshes) when there is none or it is due for refresh. A failed log-in leaves the cache
    /// empty and goes to its caller; the next caller in line tries the log-in again.
    pub async fn get_or_refresh<F, Fut>(&self, login: F) -> Result<TokenLease<T>>
    where
        F: FnOnce(Option<T>) -> Fut,
        Fut: Future<Output = Result<TemporaryToken<T>>>,
    {
        let mut state = self.state.lock().await;
        let now = self.clock.now();
        if let Some(slot) = &state.slot
            && self.usable(slot, now)
        {
            return Ok(TokenLease {
                token: slot.token.token.clone(),
                generation: slot.generation,
            });
        }
        let previous = state.slot.take().map(|s| s.token.token);
        let fresh = login(previous).await?;
        state.generation += 1;
        let generation = state.generation;
        let token = fresh.token.clone();
        state.slot = Some(Slot {
            token: fresh,
            fetched_at: self.clock.now(),
            generation,
        });
        Ok(TokenLease { token, generation })
    }

    /// Calls `call` with the current token; when `rejected` says the backend refused that token
    /// (Conjur and Akeyless 401, Vault 403 with a log-in token, Azure 401 with a fresh
    /// challenge), forgets it, logs in once more and calls once more. At most one extra log-in
    /// and one retry per call, and concurrent callers that saw the same rejection share that
    /// one log-in.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use strongroom_core::{Error, ErrorKind, TemporaryToken, TokenCache};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let cache = TokenCache::<u32>::new();
    /// let logins = AtomicU32::new(0);
    /// let login = |_| async { Ok(TemporaryToken { token: logins.fetch_add(1, Ordering::SeqCst), expiry: None }) };
    /// // The first token is refused, the second accepted.
    /// let out = cache
    ///     .call_with_relogin(login, |t| async move { Ok::<_, Error>(t) }, |r| matches!(r, Ok(0)))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(out, 1);
    /// assert_eq!(logins.load(Ordering::SeqCst), 2);
    /// # });
    /// ```
    pub async fn call_with_relogin<R, L, LFut, C, CFut>(
        &self,
        login: L,
        call: C,
        rejected: impl Fn(&Result<R>) -> bool,
    ) -> Result<R>
    where
        L: Fn(Option<T>) -> LFut,
        LFut: Future<Output = Result<TemporaryToken<T>>>,
        C: Fn(T) -> CFut,
        CFut: Future<Output = Result<R>>,
    {
        let lease = self.get_or_refresh(&login).await?;
        let first = call(lease.token).await;
        if !rejected(&first) {
            return first;
        }
        drop(first);
        self.invalidate(lease.generation).await;
        let lease = self.get_or_refresh(&login).await?;
        call(lease.token).await
    }

    /// Forgets the token if it is still the one from `generation` (after the backend rejected
    /// it), so the next call logs in again. Later generations are kept: another caller already
    /// replaced it.
    pub async fn invalidate(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if state
            .slot
            .as_ref()
            .is_some_and(|s| s.generation == generation)
        {
            state.slot = None;
        }
    }

    /// Forgets whatever token is cached.
    pub async fn clear(&self) {
        self.state.lock().await.slot = None;
    }

    /// How many log-ins this cache has made.
    pub async fn logins(&self) -> u64 {
        self.state.lock().await.generation
    }
}
