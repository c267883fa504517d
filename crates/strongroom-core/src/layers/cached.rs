use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::cache::{CacheEntry, CacheKey, CacheScope, Fill, KeyRef, NameRef, SecretCache};
use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::name::SecretName;
use crate::secret::Secret;
use crate::stats::{CacheStats, Counters};
use crate::store::{
    DeleteOptions, ReadManyResult, ReadOptions, SecretStore, StoreLayer, WriteOptions,
    WriteOutcome, dedupe,
};
use crate::value::SecretValue;
use crate::watch::{SecretWatch, WatchOptions, Watches};

/// TTL used when neither the policy nor the provider sets one.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// How a [`Cached`] layer caches.
///
/// ```
/// use std::time::Duration;
/// use strongroom_core::CachePolicy;
/// let p = CachePolicy::new("vault")
///     .ttl(Duration::from_secs(60))
///     .stale_if_error(Duration::from_secs(600))
///     .refresh_ahead(0.8);
/// assert_eq!(p.namespace, "vault");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CachePolicy {
    /// The manager name, for logs and statistics. Cache keys do not carry it: managers over
    /// the same backend object, asking as the same identity, share entries.
    pub namespace: String,
    /// How long a value is fresh. `None` = the provider's default, else [`DEFAULT_CACHE_TTL`].
    /// A secret's own `expires_at` always wins when it is sooner.
    pub ttl: Option<Duration>,
    /// When set, a read whose backend call fails with a temporary error is answered from the
    /// last good value for at most this long past its freshness (never past its own expiry).
    pub stale_if_error: Option<Duration>,
    /// When set (a fraction of the TTL, e.g. `0.8`), a hit in the last part of the TTL is
    /// answered at once and starts one background refresh, so no reader of a hot key waits
    /// for the backend when the TTL runs out.
    pub refresh_ahead: Option<f64>,
}

impl CachePolicy {
    /// A policy for the manager `namespace` with default TTL, no stale-if-error and no
    /// refresh-ahead.
    pub fn new(namespace: impl Into<String>) -> Self {
        CachePolicy {
            namespace: namespace.into(),
            ttl: None,
            stale_if_error: None,
            refresh_ahead: None,
        }
    }
    /// Sets the TTL.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
    /// Sets the stale-if-error window.
    pub fn stale_if_error(mut self, window: Duration) -> Self {
        self.stale_if_error = Some(window);
        self
    }
    /// Refreshes in the background once this fraction of the TTL has passed (clamped to
    /// 0.1–0.99).
    pub fn refresh_ahead(mut self, fraction: f64) -> Self {
        self.refresh_ahead = Some(if fraction.is_finite() {
            fraction.clamp(0.1, 0.99)
        } else {
            0.8
        });
        self
    }
}

type SharedRead = Shared<BoxFuture<'static, Result<Option<Secret>>>>;

/// Stripes of [`Core::landed`].
const LANDED_STRIPES: usize = 64;

fn landed_stripe(key: &CacheKey) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % LANDED_STRIPES as u64) as usize
}

/// What a cache layer shares with its background tasks (single-flight reads, refreshes,
/// watches): everything but the layer's own fields.
pub(crate) struct Core<S: ?Sized> {
    pub(crate) inner: Arc<S>,
    pub(crate) cache: Arc<dyn SecretCache>,
    pub(crate) scope: CacheScope,
    /// The backend object's address: layers over it under other identities are siblings.
    address: String,
    pub(crate) ttl: Duration,
    pub(crate) stale_if_error: Option<Duration>,
    pub(crate) refresh_ahead: Option<f64>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) flights: Mutex<HashMap<CacheKey, SharedRead>>,
    /// Moves (striped by key) each time a flight ends, before it leaves `flights`: a miss
    /// whose lookup began before a flight of its key ended looks once more instead of
    /// starting another backend read. Its lookup may have been answered before that flight's
    /// entry landed and its task run only after the flight was gone (a busy machine, a
    /// shared cache's round trip).
    landed: Box<[std::sync::atomic::AtomicU64]>,
    pub(crate) counters: Counters,
    pub(crate) watches: Watches,
}

impl<S: SecretStore + ?Sized + 'static> Core<S> {
    /// Fresh lifetime and storage lifetime of `secret` read at `now` (never past its expiry).
    fn entry(&self, secret: &Secret, now: SystemTime) -> (CacheEntry, Duration) {
        let until_expiry = secret
            .expires_at
            .map(|exp| exp.duration_since(now).unwrap_or(Duration::ZERO));
        let fresh = until_expiry.map_or(self.ttl, |left| self.ttl.min(left));
        let keep = fresh + self.stale_if_error.unwrap_or(Duration::ZERO);
        let keep = until_expiry.map_or(keep, |left| keep.min(left));
        (
            CacheEntry {
                secret: secret.clone(),
                stored_at: now,
                fresh_until: now + fresh,
                keep_until: now + keep,
            },
            keep,
        )
    }

    /// Stores what a backend read returned, unless the name was invalidated since
    /// `generation` was taken (a write landed meanwhile).
    async fn store(&self, key: &CacheKey, got: &Option<Secret>, generation: u64) {
        if self.cache.generation(self.scope, key.name()) != generation {
            return;
        }
        let outcome = match got {
            Some(secret) => {
                let (entry, keep) = self.entry(secret, self.clock.system_now());
                if keep.is_zero() {
                    return;
                }
                self.cache.set(key, entry, keep).await
            }
            None => self.cache.invalidate(self.scope, key.name()).await,
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "cache store failed; the value is served uncached");
        }
    }

    /// One backend read that stores its answer — unless a shared cache says another process
    /// is reading it and hands over that process's entry (fleet-wide single-flight).
    pub(crate) async fn load(&self, key: &CacheKey, opts: &ReadOptions) -> Result<Option<Secret>> {
        let generation = self.cache.generation(self.scope, key.name());
        let lease = match self.cache.begin_fill(key).await {
            Fill::Ready(entry) => return Ok(Some(entry.secret)),
            Fill::Lead(lease) => Some(lease),
            Fill::Alone => None,
        };
        self.counters.backend_reads.incr();
        let got = self.inner.read(key.name(), opts).await;
        match &got {
            Ok(found) => self.store(key, found, generation).await,
            Err(_) => self.counters.backend_errors.incr(),
        }
        if let Some(lease) = lease {
            self.cache.end_fill(key, lease).await;
        }
        got
    }

    /// Where [`Core::landed`] stands for `key`.
    fn landed(&self, key: &CacheKey) -> u64 {
        self.landed[landed_stripe(key)].load(std::sync::atomic::Ordering::Acquire)
    }

    /// The miss path's shared read: joins a running flight of `key`; `None` when a flight of
    /// `key` ended since `landed` was read (before the miss's lookup): its answer is in the
    /// cache, look again.
    fn flight_after(
        self: &Arc<Self>,
        key: CacheKey,
        opts: ReadOptions,
        landed: u64,
    ) -> Option<SharedRead> {
        let flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if !flights.contains_key(&key) && self.landed(&key) != landed {
            return None;
        }
        Some(self.flight_locked(flights, key, opts))
    }

    /// The shared backend read of `key`: the first caller starts it, the others join.
    pub(crate) fn flight(self: &Arc<Self>, key: CacheKey, opts: ReadOptions) -> SharedRead {
        let flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        self.flight_locked(flights, key, opts)
    }

    fn flight_locked(
        self: &Arc<Self>,
        mut flights: std::sync::MutexGuard<'_, HashMap<CacheKey, SharedRead>>,
        key: CacheKey,
        opts: ReadOptions,
    ) -> SharedRead {
        if let Some(running) = flights.get(&key) {
            self.counters.joins.incr();
            return running.clone();
        }
        let core = Arc::clone(self);
        let leader_key = key.clone();
        let fut = async move {
            let result = core.load(&leader_key, &opts).await;
            let mut flights = core.flights.lock().unwrap_or_else(|e| e.into_inner());
            core.landed[landed_stripe(&leader_key)]
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            flights.remove(&leader_key);
            result
        }
        .boxed()
        .shared();
        flights.insert(key, fut.clone());
        fut
    }

    fn serve_stale(&self, stale: Option<CacheEntry>, now: SystemTime) -> Option<Secret> {
        let window = self.stale_if_error?;
        let entry = stale?;
        let fresh_end = entry.fresh_until.min(entry.stored_at + self.ttl);
        (now < entry.keep_until && now < fresh_end + window && !entry.secret.is_expired(now))
            .then_some(entry.secret)
    }

    async fn lookup(&self, key: &CacheKey) -> Option<CacheEntry> {
        match self.cache.get(key).await {
            Ok(entry) => entry,
            Err(e) => {
                tracing::warn!(error = %e, "cache lookup failed; reading from the backend");
                None
            }
        }
    }

    async fn invalidate_name(&self, name: &SecretName) {
        self.flights
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| k.name() != name);
        if let Err(e) = self.cache.invalidate(self.scope, name).await {
            tracing::warn!(error = %e, secret = %name, "cache invalidation failed");
        }
        for (cache, scope) in siblings(&self.address, &self.cache, self.scope) {
            if let Err(e) = cache.invalidate(scope, name).await {
                tracing::warn!(error = %e, secret = %name, "cache invalidation failed");
            }
        }
    }

    /// Wakes the watches of `name` in every scope over this layer's backend object.
    fn poke_watches(&self, name: &SecretName) {
        self.watches.poke(self.scope, name);
        for (_, scope) in siblings(&self.address, &self.cache, self.scope) {
            self.watches.poke(scope, name);
        }
    }

    /// Starts one background refresh of the key when a hit falls in the refresh-ahead window
    /// (`key` builds the owned key only then).
    fn maybe_refresh_ahead(
        self: &Arc<Self>,
        key: impl FnOnce() -> Option<CacheKey>,
        entry: &CacheEntry,
        now: SystemTime,
    ) {
        let Some(fraction) = self.refresh_ahead else {
            return;
        };
        let fresh_end = entry.fresh_until.min(entry.stored_at + self.ttl);
        let span = fresh_end
            .duration_since(entry.stored_at)
            .unwrap_or_default();
        if now < entry.stored_at + span.mul_f64(fraction) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Some(key) = key() else { return };
        if self
            .flights
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&key)
        {
            return;
        }
        self.counters.refreshes.incr();
        let opts = key.read_options();
        let flight = self.flight(key, opts);
        handle.spawn(async move {
            let _ = flight.await;
        });
    }
}

/// Every cache and scope a layer was built over, by backend address: a write through one
/// identity must not leave another identity's entry of the same object stale. Weak, so a
/// dropped cache leaves nothing behind; pruned on each registration.
type Sibling = (Weak<dyn SecretCache>, CacheScope);
static SIBLINGS: LazyLock<Mutex<HashMap<String, Vec<Sibling>>>> = LazyLock::new(Mutex::default);

fn register_sibling(address: &str, cache: &Arc<dyn SecretCache>, scope: CacheScope) {
    let mut all = SIBLINGS.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|_, list| {
        list.retain(|(c, _)| c.strong_count() > 0);
        !list.is_empty()
    });
    let list = all.entry(address.to_owned()).or_default();
    let weak = Arc::downgrade(cache);
    if !list
        .iter()
        .any(|(c, s)| *s == scope && Weak::ptr_eq(c, &weak))
    {
        list.push((weak, scope));
    }
}

/// The live caches and scopes over `address` other than (`cache`, `scope`) itself.
fn siblings(
    address: &str,
    cache: &Arc<dyn SecretCache>,
    scope: CacheScope,
) -> Vec<(Arc<dyn SecretCache>, CacheScope)> {
    let all = SIBLINGS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(list) = all.get(address) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|(c, s)| Some((c.upgrade()?, *s)))
        .filter(|(c, s)| !(*s == scope && Arc::ptr_eq(c, cache)))
        .collect()
}

/// The read-through cache layer.
///
/// * TTL = min(policy TTL, time left until the secret's own `expires_at`).
/// * Single-flight: N concurrent misses of one key make one backend read.
/// * `ReadOptions::refresh` bypasses the cache and repopulates it.
/// * Writes and deletes invalidate every cached variant of the name — for every layer in this
///   process over the same backend object, whatever identity it asks as, and wake their
///   watches (also when the backend refused the delete, e.g. Conjur). Other processes see the
///   change when their entry's TTL ends — at once over a shared Redis cache, for the
///   identities this process also asks as.
/// * Optional stale-if-error (see [`CachePolicy::stale_if_error`]) and refresh-ahead (see
///   [`CachePolicy::refresh_ahead`]); watches ([`Cached::watch`]).
/// * A failing cache never fails a read the backend can answer; it is logged and skipped.
///
/// ```
/// use std::sync::Arc;
/// use strongroom_core::{CachePolicy, Cached, MemoryCache, MemoryStore};
/// let cached = Cached::new(MemoryStore::new(), Arc::new(MemoryCache::default()), CachePolicy::new("dev"));
/// # let _ = cached;
/// ```
pub struct Cached<S> {
    core: Arc<Core<S>>,
    policy: CachePolicy,
}

impl<S: SecretStore + 'static> Cached<S> {
    /// Wraps `inner`. Cache keys carry the scope of the store's address and identity, so
    /// stores that address different objects, or ask as different callers, never share an
    /// entry.
    pub fn new(inner: S, cache: Arc<dyn SecretCache>, policy: CachePolicy) -> Self {
        let info = inner.info();
        let scope = CacheScope::of(&info.address, &info.identity);
        let ttl = policy.ttl.or(info.default_ttl).unwrap_or(DEFAULT_CACHE_TTL);
        register_sibling(&info.address, &cache, scope);
        let address = info.address.to_string();
        Cached {
            core: Arc::new(Core {
                inner: Arc::new(inner),
                cache,
                scope,
                address,
                ttl,
                stale_if_error: policy.stale_if_error,
                refresh_ahead: policy.refresh_ahead,
                clock: Arc::new(SystemClock),
                flights: Mutex::default(),
                landed: (0..LANDED_STRIPES)
                    .map(|_| std::sync::atomic::AtomicU64::new(0))
                    .collect(),
                counters: Counters::default(),
                watches: Watches::default(),
            }),
            policy,
        }
    }

    /// Uses `clock` for freshness, refreshes and watches (tests pass a
    /// [`ManualClock`](crate::ManualClock)). Call before sharing the layer.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        if let Some(core) = Arc::get_mut(&mut self.core) {
            core.clock = clock;
        }
        self
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<dyn SecretCache> {
        &self.core.cache
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.core.inner
    }

    /// The scope of this layer's entries (see [`CacheScope`]).
    pub fn scope(&self) -> CacheScope {
        self.core.scope
    }

    /// The effective fresh TTL.
    pub fn effective_ttl(&self) -> Duration {
        self.core.ttl
    }

    /// The policy.
    pub fn policy(&self) -> &CachePolicy {
        &self.policy
    }

    /// What this layer has done so far.
    pub fn stats(&self) -> CacheStats {
        self.core.counters.snapshot(self.core.watches.live())
    }

    /// Drops the cached entries of `name` (every variant), or every entry of this layer's
    /// scope.
    pub async fn invalidate(&self, name: Option<&SecretName>) -> Result<()> {
        match name {
            Some(n) => self.core.invalidate_name(n).await,
            None => {
                self.core
                    .flights
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                self.core.cache.clear(Some(self.core.scope)).await?;
            }
        }
        Ok(())
    }

    /// Watches `name`: see [`SecretWatch`]. One background refresher per key per process,
    /// however many watches; it stops when the last watch is dropped.
    pub async fn watch(&self, name: &SecretName, opts: &WatchOptions) -> Result<SecretWatch> {
        crate::watch::watch(&self.core, name, opts).await
    }

    async fn read_miss(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let core = &self.core;
        let key = CacheKey::new(core.scope, name, opts);
        let landed = core.landed(&key);
        let mut stale = None;
        if !opts.refresh
            && let Some(entry) = core.lookup(&key).await
        {
            let now = core.clock.system_now();
            if entry.is_fresh(core.ttl, now) {
                // A shared cache without a local copy answers here: a hit, and refresh ahead
                // from here too.
                core.counters.hits.incr();
                core.maybe_refresh_ahead(|| Some(key.clone()), &entry, now);
                return Ok(Some(entry.secret));
            }
            stale = Some(entry);
        }
        core.counters.misses.incr();
        let result = if opts.refresh {
            core.load(&key, opts).await
        } else if let Some(flight) = core.flight_after(key.clone(), opts.clone(), landed) {
            flight.await
        } else {
            // A flight of this key ended while this miss looked: take what it stored.
            match core.lookup(&key).await {
                Some(entry) if entry.is_fresh(core.ttl, core.clock.system_now()) => {
                    Ok(Some(entry.secret))
                }
                _ => core.flight(key, opts.clone()).await,
            }
        };
        match result {
            Err(e) if e.is_temporary() => match core.serve_stale(stale, core.clock.system_now()) {
                Some(secret) => {
                    core.counters.stale.incr();
                    tracing::warn!(secret = %name, error = %e, "backend failing; serving the last good value (stale-if-error)");
                    Ok(Some(secret))
                }
                None => Err(e),
            },
            other => other,
        }
    }
}

impl<S> fmt::Debug for Cached<S>
where
    S: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cached")
            .field("inner", &self.core.inner)
            .field("cache", &self.core.cache)
            .field("policy", &self.policy)
            .field("ttl", &self.core.ttl)
            .finish()
    }
}

#[async_trait]
impl<S: SecretStore + 'static> StoreLayer for Cached<S> {
    type Inner = S;
    fn inner(&self) -> &S {
        &self.core.inner
    }

    fn try_read_local(&self, name: NameRef<'_>, opts: &ReadOptions) -> Option<Secret> {
        if opts.refresh {
            return None;
        }
        let core = &self.core;
        let key = KeyRef {
            scope: core.scope,
            name,
            opts,
        };
        let entry = core.cache.try_get_local(&key)??;
        let now = core.clock.system_now();
        if !entry.is_fresh(core.ttl, now) {
            return None;
        }
        core.counters.hits.incr();
        if core.refresh_ahead.is_some() {
            core.maybe_refresh_ahead(|| key.to_key().ok(), &entry, now);
        }
        Some(entry.secret)
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        // Hits are answered here, in a small future; the miss path lives in its own boxed
        // future so a hit does not build (and move) the miss path's state.
        if let Some(hit) = StoreLayer::try_read_local(self, NameRef::new(name), opts) {
            return Ok(Some(hit));
        }
        let miss: BoxFuture<'_, _> = Box::pin(self.read_miss(name, opts));
        miss.await
    }

    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        let core = &self.core;
        let unique = dedupe(names);
        let mut found: HashMap<SecretName, Option<Secret>> = HashMap::with_capacity(unique.len());
        let mut misses = Vec::new();
        let mut stale = HashMap::new();
        let now = core.clock.system_now();
        for name in &unique {
            if !opts.refresh
                && let Some(entry) = core.lookup(&CacheKey::new(core.scope, name, opts)).await
            {
                if entry.is_fresh(core.ttl, now) {
                    core.counters.hits.incr();
                    found.insert(name.clone(), Some(entry.secret));
                    continue;
                }
                stale.insert(name.clone(), entry);
            }
            misses.push(name.clone());
        }
        if !misses.is_empty() {
            core.counters.misses.add(misses.len() as u64);
            let generations: Vec<u64> = misses
                .iter()
                .map(|n| core.cache.generation(core.scope, n))
                .collect();
            core.counters.backend_reads.incr();
            match core.inner.read_many(&misses, opts).await {
                Ok(got) => {
                    for (name, secret) in got {
                        let key = CacheKey::new(core.scope, &name, opts);
                        let generation = misses
                            .iter()
                            .position(|m| *m == name)
                            .map_or(u64::MAX, |i| generations[i]);
                        core.store(&key, &secret, generation).await;
                        found.insert(name, secret);
                    }
                }
                Err(e) if e.is_temporary() => {
                    core.counters.backend_errors.incr();
                    let now = core.clock.system_now();
                    for name in &misses {
                        match core.serve_stale(stale.remove(name), now) {
                            Some(s) => {
                                core.counters.stale.incr();
                                found.insert(name.clone(), Some(s));
                            }
                            None => return Err(e),
                        }
                    }
                    tracing::warn!(error = %e, "backend failing; serving the last good values (stale-if-error)");
                }
                Err(e) => {
                    core.counters.backend_errors.incr();
                    return Err(e);
                }
            }
        }
        Ok(unique
            .into_iter()
            .map(|n| {
                let s = found.remove(&n).flatten();
                (n, s)
            })
            .collect())
    }

    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        // Invalidate before and after: before, so no reader is served the old value once the
        // write may have landed; after, to drop anything a racing read stored meanwhile.
        self.core.invalidate_name(name).await;
        let result = self.core.inner.write(name, value, opts).await;
        self.core.invalidate_name(name).await;
        self.core.poke_watches(name);
        result
    }

    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        self.core.invalidate_name(name).await;
        let result = self.core.inner.delete(name, opts).await;
        self.core.invalidate_name(name).await;
        self.core.poke_watches(name);
        result
    }

    async fn watch(&self, name: &SecretName, opts: &WatchOptions) -> Result<SecretWatch> {
        Cached::watch(self, name, opts).await
    }
}
