//! Watches: a secret's latest value at memory speed, refreshed ahead of expiry in the
//! background, with a signal when it actually changes (rotation).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use tokio::sync::Notify;

use crate::cache::{CacheKey, CacheScope};
use crate::error::{Error, Result};
use crate::layers::cached::Core;
use crate::name::SecretName;
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::store::{ReadOptions, SecretStore};

/// How a watch reads and when it refreshes.
///
/// ```
/// use strongroom_core::{ReadOptions, WatchOptions};
/// let opts = WatchOptions::new().read(ReadOptions::new().field("password")).refresh_at(0.75);
/// assert_eq!(opts.refresh_at, 0.75);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WatchOptions {
    /// The read to repeat (version, stage or field).
    pub read: ReadOptions,
    /// Refresh once this fraction of the TTL (or of the secret's remaining lifetime) has
    /// passed (default 0.8).
    pub refresh_at: f64,
    /// Spread each refresh time by up to this fraction either way (default 0.1), so watches
    /// started together do not refresh together.
    pub jitter: f64,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            read: ReadOptions::new(),
            refresh_at: 0.8,
            jitter: 0.1,
        }
    }
}

impl WatchOptions {
    /// Defaults: refresh at 80 % of the TTL, ±10 % jitter.
    pub fn new() -> Self {
        Self::default()
    }
    /// The read to repeat.
    pub fn read(mut self, read: ReadOptions) -> Self {
        self.read = read;
        self
    }
    /// Refresh at this fraction of the TTL (clamped to 0.1–0.99).
    pub fn refresh_at(mut self, fraction: f64) -> Self {
        self.refresh_at = if fraction.is_finite() {
            fraction.clamp(0.1, 0.99)
        } else {
            0.8
        };
        self
    }
    /// Jitter fraction (clamped to 0–0.5).
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 0.5)
        } else {
            0.1
        };
        self
    }
}

/// How a watch's refresher is doing.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WatchStatus {
    /// When the value was last confirmed with the backend (or a fresh shared cache entry).
    pub last_refresh: Option<SystemTime>,
    /// The last refresh error, cleared by the next success.
    pub last_error: Option<Error>,
    /// Whether `current()` is the last good value kept while the backend fails.
    pub serving_stale: bool,
    /// Refreshes done so far.
    pub refreshes: u64,
    /// Changes seen so far.
    pub changes: u64,
}

/// The state one refresher keeps for every watch of one key.
struct Shared {
    current: ArcSwapOption<Secret>,
    changes: tokio::sync::watch::Sender<u64>,
    status: Mutex<WatchStatus>,
    stop: Arc<Notify>,
    poke: Arc<Notify>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last watch is gone: stop the refresher (a permit is kept if it is not waiting).
        self.stop.notify_one();
    }
}

/// Every live refresher of this process, by key: one per key, however many watches.
static REFRESHERS: LazyLock<Mutex<HashMap<CacheKey, Weak<Shared>>>> = LazyLock::new(Mutex::default);

/// The live-watch count of one cache layer (for its statistics), and the wake-up of the
/// refreshers of a name after a local write.
#[derive(Debug, Default)]
pub(crate) struct Watches {
    live: Arc<AtomicU64>,
}

impl Watches {
    pub(crate) fn live(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }

    /// Wakes the refreshers of `name` in `scope` now (a write through this process).
    pub(crate) fn poke(&self, scope: CacheScope, name: &SecretName) {
        let refreshers = REFRESHERS.lock().unwrap_or_else(|e| e.into_inner());
        for (k, shared) in refreshers.iter() {
            if k.scope() == scope
                && k.name() == name
                && let Some(shared) = shared.upgrade()
            {
                shared.poke.notify_one();
            }
        }
    }
}

/// A watched secret: its latest value without I/O, and a signal when it changes.
///
/// Refreshers are per key per process: two cache layers over the same backend object asking
/// as the same identity (two managers over one backend) share one, built by the first watch —
/// its clock, TTL and cache — and a write through either layer wakes it.
///
/// * [`SecretWatch::current`] is a lock-free load of the latest value; a refresh never holds
///   it up.
/// * [`SecretWatch::changed`] resolves when the value or version actually changed.
/// * A background refresher per key (shared by all watches of the key in this process)
///   refreshes ahead of expiry — at [`WatchOptions::refresh_at`] of the TTL, or of the
///   secret's own remaining lifetime, with jitter — keeps the last good value within the
///   stale-if-error window while the backend fails, and stops when the last watch is dropped.
///
/// ```
/// use std::sync::Arc;
/// use strongroom_core::*;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = MemoryStore::new().with_cache(Arc::new(MemoryCache::default()), CachePolicy::new("dev"));
/// let name = SecretName::new("db/password").unwrap();
/// store.write(&name, "v1".into(), &WriteOptions::new()).await.unwrap();
/// let mut watch = store.watch(&name, &WatchOptions::new()).await.unwrap();
/// assert_eq!(watch.current().unwrap().value.expose_str().unwrap(), "v1");
/// store.write(&name, "v2".into(), &WriteOptions::new()).await.unwrap(); // wakes the refresher
/// watch.changed().await.unwrap();
/// assert_eq!(watch.current().unwrap().value.expose_str().unwrap(), "v2");
/// # });
/// ```
pub struct SecretWatch {
    shared: Arc<Shared>,
    changes: tokio::sync::watch::Receiver<u64>,
    live: Arc<AtomicU64>,
}

impl fmt::Debug for SecretWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretWatch")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl SecretWatch {
    /// The latest value; `None` when the secret does not exist (any more), or when the
    /// backend has failed for longer than the stale-if-error window allows.
    pub fn current(&self) -> Option<Arc<Secret>> {
        self.shared.current.load_full()
    }

    /// Waits until the value or version changes (a change before this call that this watch
    /// has not seen yet resolves at once).
    pub async fn changed(&mut self) -> Result<()> {
        self.changes
            .changed()
            .await
            .map_err(|_| Error::new(crate::ErrorKind::Unavailable, "the refresher stopped"))
    }

    /// When the value was last refreshed, and the last error.
    pub fn status(&self) -> WatchStatus {
        self.shared
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Clone for SecretWatch {
    fn clone(&self) -> Self {
        self.live.fetch_add(1, Ordering::Relaxed);
        SecretWatch {
            shared: Arc::clone(&self.shared),
            changes: self.changes.clone(),
            live: Arc::clone(&self.live),
        }
    }
}

impl Drop for SecretWatch {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

fn same(a: &Option<Arc<Secret>>, b: &Option<Secret>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.version == b.version && a.value == b.value,
        _ => false,
    }
}

/// Starts (or joins) the watch of `name` on a cache layer.
pub(crate) async fn watch<S: SecretStore + ?Sized + 'static>(
    core: &Arc<Core<S>>,
    name: &SecretName,
    opts: &WatchOptions,
) -> Result<SecretWatch> {
    let key = CacheKey::new(core.scope, name, &opts.read);
    let join = |shared: Arc<Shared>| {
        core.watches.live.fetch_add(1, Ordering::Relaxed);
        let mut changes = shared.changes.subscribe();
        changes.mark_unchanged();
        SecretWatch {
            shared,
            changes,
            live: Arc::clone(&core.watches.live),
        }
    };
    if let Some(shared) = REFRESHERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .and_then(Weak::upgrade)
    {
        return Ok(join(shared));
    }
    // The first watch of this key: read it (from the cache when fresh), then start the
    // refresher. Another watch may have started meanwhile; the registry decides.
    let now = core.clock.system_now();
    let first = match core.cache.get(&key).await {
        Ok(Some(entry)) if entry.is_fresh(core.ttl, now) => Some(entry.secret),
        _ => core.flight(key.clone(), opts.read.clone()).await?,
    };
    let shared = Arc::new(Shared {
        current: ArcSwapOption::new(first.map(Arc::new)),
        changes: tokio::sync::watch::Sender::new(0),
        status: Mutex::new(WatchStatus {
            last_refresh: Some(core.clock.system_now()),
            ..WatchStatus::default()
        }),
        stop: Arc::new(Notify::new()),
        poke: Arc::new(Notify::new()),
    });
    {
        let mut refreshers = REFRESHERS.lock().unwrap_or_else(|e| e.into_inner());
        refreshers.retain(|_, w| w.strong_count() > 0);
        if let Some(existing) = refreshers.get(&key).and_then(Weak::upgrade) {
            return Ok(join(existing));
        }
        refreshers.insert(key.clone(), Arc::downgrade(&shared));
    }
    let now = core.clock.system_now();
    let first_at = now + period(core.ttl, shared.current.load().as_deref(), now, opts);
    tokio::spawn(refresher(
        Arc::clone(core),
        key,
        opts.clone(),
        Arc::downgrade(&shared),
        Arc::clone(&shared.stop),
        Arc::clone(&shared.poke),
        first_at,
    ));
    Ok(join(shared))
}

/// How long until the next refresh of `current`.
fn period(
    ttl: Duration,
    current: Option<&Secret>,
    now: SystemTime,
    opts: &WatchOptions,
) -> Duration {
    let mut life = ttl;
    if let Some(left) = current
        .and_then(|s| s.expires_at)
        .map(|exp| exp.duration_since(now).unwrap_or(Duration::ZERO))
    {
        life = life.min(left);
    }
    let spread: f64 = if opts.jitter > 0.0 {
        rand::random_range(1.0 - opts.jitter..=1.0 + opts.jitter)
    } else {
        1.0
    };
    life.mul_f64(opts.refresh_at * spread)
        .max(Duration::from_millis(10))
}

async fn refresher<S: SecretStore + ?Sized + 'static>(
    core: Arc<Core<S>>,
    key: CacheKey,
    opts: WatchOptions,
    shared: Weak<Shared>,
    stop: Arc<Notify>,
    poke: Arc<Notify>,
    mut next_at: SystemTime,
) {
    let backoff = RetryPolicy::default()
        .initial_backoff(Duration::from_secs(1))
        .max_backoff(Duration::from_secs(60));
    let mut failures = 0usize;
    let mut last_good = core.clock.system_now();
    let read = opts.read.clone().refresh(true);
    loop {
        // The schedule is kept as a point in time, so a refresher that starts (or wakes) late
        // still refreshes when it was due.
        let wait = next_at
            .duration_since(core.clock.system_now())
            .unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = stop.notified() => return,
            _ = poke.notified() => {}
            _ = core.clock.sleep(wait) => {}
        }
        let Some(s) = shared.upgrade() else { return };
        core.counters.refreshes.incr();
        let since = s
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_refresh
            .unwrap_or(std::time::UNIX_EPOCH);
        let outcome = core.load_for_watch(&key, &read, since).await;
        let now = core.clock.system_now();
        let mut status = s.status.lock().unwrap_or_else(|e| e.into_inner());
        status.refreshes += 1;
        match outcome {
            Ok(got) => {
                failures = 0;
                last_good = now;
                next_at = now + period(core.ttl, got.as_ref(), now, &opts);
                status.last_refresh = Some(now);
                status.last_error = None;
                status.serving_stale = false;
                let current = s.current.load_full();
                if !same(&current, &got) {
                    s.current.store(got.map(Arc::new));
                    status.changes += 1;
                    s.changes.send_modify(|v| *v += 1);
                }
            }
            Err(e) => {
                failures += 1;
                let current = s.current.load_full();
                next_at = now
                    + backoff.backoff(failures - 1).min(period(
                        core.ttl,
                        current.as_deref(),
                        now,
                        &opts,
                    ));
                status.last_error = Some(e.clone());
                let window = if e.is_temporary() {
                    core.stale_if_error.unwrap_or(Duration::ZERO)
                } else {
                    Duration::ZERO
                };
                let expired = s.current.load().as_ref().is_some_and(|c| c.is_expired(now));
                if expired || now >= last_good + core.ttl + window {
                    if s.current.load().is_some() {
                        s.current.store(None);
                        status.changes += 1;
                        s.changes.send_modify(|v| *v += 1);
                    }
                    status.serving_stale = false;
                } else {
                    status.serving_stale = s.current.load().is_some();
                }
                tracing::warn!(secret = %key.display_name(), error = %e, "watch refresh failed");
            }
        }
    }
}

impl<S: SecretStore + ?Sized + 'static> Core<S> {
    /// A watch refresh: takes a fresh entry that someone else (another process sharing the
    /// cache, another manager) stored after `since`, our last refresh; else reads the backend
    /// and stores the answer.
    async fn load_for_watch(
        &self,
        key: &CacheKey,
        opts: &ReadOptions,
        since: SystemTime,
    ) -> Result<Option<Secret>> {
        let now = self.clock.system_now();
        if let Ok(Some(entry)) = self.cache.get(key).await
            && entry.stored_at > since
            && entry.is_fresh(self.ttl, now)
        {
            return Ok(Some(entry.secret));
        }
        self.load(key, opts).await
    }
}
