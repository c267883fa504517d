use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::cache::{CacheEntry, CacheKey, SecretCache};
use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::name::SecretName;
use crate::secret::Secret;
use crate::store::{
    DeleteOptions, ReadManyResult, ReadOptions, SecretStore, StoreLayer, WriteOptions,
    WriteOutcome, dedupe,
};
use crate::value::SecretValue;

/// TTL used when neither the policy nor the provider sets one.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// How a [`Cached`] layer caches.
///
/// ```
/// use std::time::Duration;
/// use strongroom_core::CachePolicy;
/// let p = CachePolicy::new("vault").ttl(Duration::from_secs(60)).stale_if_error(Duration::from_secs(600));
/// assert_eq!(p.namespace, "vault");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CachePolicy {
    /// The manager name; part of every cache key, so managers sharing a cache never collide.
    pub namespace: String,
    /// How long a value is fresh. `None` = the provider's default, else [`DEFAULT_CACHE_TTL`].
    /// A secret's own `expires_at` always wins when it is sooner.
    pub ttl: Option<Duration>,
    /// When set, a read whose backend call fails with a temporary error is answered from the
    /// last good value for at most this long past its freshness (never past its own expiry).
    pub stale_if_error: Option<Duration>,
}

impl CachePolicy {
    /// A policy for the manager `namespace` with default TTL and no stale-if-error.
    pub fn new(namespace: impl Into<String>) -> Self {
        CachePolicy {
            namespace: namespace.into(),
            ttl: None,
            stale_if_error: None,
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
}

type SharedRead = Shared<BoxFuture<'static, Result<Option<Secret>>>>;

#[derive(Default)]
struct State {
    inflight: Mutex<HashMap<CacheKey, SharedRead>>,
    /// Bumped by every write and delete; a read that started before a bump does not populate
    /// the cache, so a value replaced mid-read is never cached.
    epoch: AtomicU64,
}

/// The read-through cache layer.
///
/// * TTL = min(policy TTL, time left until the secret's own `expires_at`).
/// * Single-flight: N concurrent misses of one key make one backend read.
/// * `ReadOptions::refresh` bypasses the cache and repopulates it.
/// * Writes and deletes invalidate every cached variant of the name (also when the backend
///   refused the delete, e.g. Conjur).
/// * Optional stale-if-error (see [`CachePolicy::stale_if_error`]).
/// * A failing cache never fails a read the backend can answer; it is logged and skipped.
///
/// ```
/// use std::sync::Arc;
/// use strongroom_core::{CachePolicy, Cached, MemoryCache, MemoryStore};
/// let cached = Cached::new(MemoryStore::new(), Arc::new(MemoryCache::default()), CachePolicy::new("dev"));
/// # let _ = cached;
/// ```
pub struct Cached<S> {
    inner: Arc<S>,
    cache: Arc<dyn SecretCache>,
    policy: CachePolicy,
    address: String,
    ttl: Duration,
    state: Arc<State>,
    clock: Arc<dyn Clock>,
}

impl<S: SecretStore + 'static> Cached<S> {
    /// Wraps `inner`. Cache keys carry a digest of the store's address and identity, so
    /// stores that address different objects, or ask as different callers, never share an
    /// entry.
    pub fn new(inner: S, cache: Arc<dyn SecretCache>, policy: CachePolicy) -> Self {
        let info = inner.info();
        let address = CacheKey::address_digest(&info.address, &info.identity);
        let ttl = policy.ttl.or(info.default_ttl).unwrap_or(DEFAULT_CACHE_TTL);
        Cached {
            inner: Arc::new(inner),
            cache,
            policy,
            address,
            ttl,
            state: Arc::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` for freshness (tests pass a [`ManualClock`](crate::ManualClock)).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<dyn SecretCache> {
        &self.cache
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The effective fresh TTL.
    pub fn effective_ttl(&self) -> Duration {
        self.ttl
    }

    fn key(&self, name: &SecretName, opts: &ReadOptions) -> CacheKey {
        CacheKey::new(&self.policy.namespace, &self.address, name.as_str(), opts)
    }

    async fn store_entry(&self, key: &CacheKey, secret: &Secret, epoch: u64) {
        store_entry(
            &*self.cache,
            &self.state,
            key,
            secret,
            epoch,
            lifetimes(
                self.ttl,
                self.policy.stale_if_error,
                secret,
                self.clock.system_now(),
            ),
            &*self.clock,
        )
        .await;
    }

    fn fetch(&self, key: CacheKey, name: SecretName, opts: ReadOptions) -> SharedRead {
        let mut inflight = self
            .state
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(running) = inflight.get(&key) {
            return running.clone();
        }
        let inner = Arc::clone(&self.inner);
        let cache = Arc::clone(&self.cache);
        let state = Arc::clone(&self.state);
        let ttl = self.ttl;
        let stale = self.policy.stale_if_error;
        let clock = Arc::clone(&self.clock);
        let leader_key = key.clone();
        let fut = async move {
            let epoch = state.epoch.load(Ordering::Acquire);
            let result = inner.read(&name, &opts).await;
            match &result {
                Ok(Some(secret)) => {
                    let lifetimes = lifetimes(ttl, stale, secret, clock.system_now());
                    store_entry(
                        &*cache,
                        &state,
                        &leader_key,
                        secret,
                        epoch,
                        lifetimes,
                        &*clock,
                    )
                    .await;
                }
                Ok(None) => {
                    if let Err(e) = cache.delete(&leader_key).await {
                        tracing::warn!(error = %e, "cache delete failed");
                    }
                }
                Err(_) => {}
            }
            state
                .inflight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&leader_key);
            result
        }
        .boxed()
        .shared();
        inflight.insert(key, fut.clone());
        fut
    }

    /// Drops the cached entries of `name` (every variant), or of every name of this manager.
    pub async fn invalidate(&self, name: Option<&SecretName>) -> Result<()> {
        match name {
            Some(n) => self.invalidate_name(n).await,
            None => {
                self.state.epoch.fetch_add(1, Ordering::AcqRel);
                self.cache
                    .delete_prefix(&CacheKey::manager_prefix(&self.policy.namespace))
                    .await?;
            }
        }
        Ok(())
    }

    async fn invalidate_name(&self, name: &SecretName) {
        self.state.epoch.fetch_add(1, Ordering::AcqRel);
        let prefix = CacheKey::secret_prefix(&self.policy.namespace, name.as_str());
        self.state
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| !k.as_str().starts_with(&prefix));
        if let Err(e) = self.cache.delete_prefix(&prefix).await {
            tracing::warn!(error = %e, secret = %name, "cache invalidation failed");
        }
    }

    fn serve_stale(&self, stale: Option<CacheEntry>, now: SystemTime) -> Option<Secret> {
        let window = self.policy.stale_if_error?;
        let entry = stale?;
        if now < entry.fresh_until + window && !entry.secret.is_expired(now) {
            Some(entry.secret)
        } else {
            None
        }
    }

    async fn lookup(&self, key: &CacheKey) -> Option<CacheEntry> {
        let got = match self.cache.try_get_local(key) {
            Some(local) => Ok(local),
            None => self.cache.get(key).await,
        };
        match got {
            Ok(entry) => entry,
            Err(e) => {
                tracing::warn!(error = %e, "cache lookup failed; reading from the backend");
                None
            }
        }
    }
}

/// Fresh lifetime and storage lifetime (fresh + stale window, never past the secret's expiry).
fn lifetimes(
    ttl: Duration,
    stale: Option<Duration>,
    secret: &Secret,
    now: SystemTime,
) -> (Duration, Duration) {
    let until_expiry = secret
        .expires_at
        .map(|exp| exp.duration_since(now).unwrap_or(Duration::ZERO));
    let fresh = until_expiry.map_or(ttl, |left| ttl.min(left));
    let keep = fresh + stale.unwrap_or(Duration::ZERO);
    (fresh, until_expiry.map_or(keep, |left| keep.min(left)))
}

async fn store_entry(
    cache: &dyn SecretCache,
    state: &State,
    key: &CacheKey,
    secret: &Secret,
    epoch: u64,
    (fresh, keep): (Duration, Duration),
    clock: &dyn Clock,
) {
    if keep.is_zero() || state.epoch.load(Ordering::Acquire) != epoch {
        return;
    }
    let entry = CacheEntry {
        secret: secret.clone(),
        fresh_until: clock.system_now() + fresh,
    };
    if let Err(e) = cache.set(key, entry, keep).await {
        tracing::warn!(error = %e, "cache store failed; the value is served uncached");
    }
}

impl<S> fmt::Debug for Cached<S>
where
    S: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cached")
            .field("inner", &self.inner)
            .field("cache", &self.cache)
            .field("policy", &self.policy)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl<S: SecretStore + 'static> Cached<S> {
    fn read_miss<'a>(
        &'a self,
        name: &'a SecretName,
        opts: &'a ReadOptions,
    ) -> BoxFuture<'a, Result<Option<Secret>>> {
        Box::pin(self.read_miss_inner(name, opts))
    }

    async fn read_miss_inner(
        &self,
        name: &SecretName,
        opts: &ReadOptions,
    ) -> Result<Option<Secret>> {
        let key = self.key(name, opts);
        let mut stale = None;
        if !opts.refresh
            && let Some(entry) = self.lookup(&key).await
        {
            let now = self.clock.system_now();
            if entry.fresh_until > now && !entry.secret.is_expired(now) {
                return Ok(Some(entry.secret));
            }
            stale = Some(entry);
        }
        let result = if opts.refresh {
            let epoch = self.state.epoch.load(Ordering::Acquire);
            let r = self.inner.read(name, opts).await;
            match &r {
                Ok(Some(secret)) => self.store_entry(&key, secret, epoch).await,
                Ok(None) => {
                    let _ = self.cache.delete(&key).await;
                }
                Err(_) => {}
            }
            r
        } else {
            self.fetch(key, name.clone(), opts.clone()).await
        };
        match result {
            Err(e) if e.is_temporary() => match self.serve_stale(stale, self.clock.system_now()) {
                Some(secret) => {
                    tracing::warn!(secret = %name, error = %e, "backend failing; serving the last good value (stale-if-error)");
                    Ok(Some(secret))
                }
                None => Err(e),
            },
            other => other,
        }
    }
}

#[async_trait]
impl<S: SecretStore + 'static> StoreLayer for Cached<S> {
    type Inner = S;
    fn inner(&self) -> &S {
        &self.inner
    }

    fn try_read_local(&self, name: &SecretName, opts: &ReadOptions) -> Option<Secret> {
        if opts.refresh {
            return None;
        }
        let entry = self.cache.try_get_local(&self.key(name, opts))??;
        let now = self.clock.system_now();
        (entry.fresh_until > now && !entry.secret.is_expired(now)).then_some(entry.secret)
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        // Hits are answered here, in a small future; the miss path lives in its own boxed
        // future so a hit does not build (and move) the miss path's state.
        if let Some(hit) = StoreLayer::try_read_local(self, name, opts) {
            return Ok(Some(hit));
        }
        self.read_miss(name, opts).await
    }

    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        let unique = dedupe(names);
        let mut found: HashMap<SecretName, Option<Secret>> = HashMap::with_capacity(unique.len());
        let mut misses = Vec::new();
        let mut stale = HashMap::new();
        let now = self.clock.system_now();
        for name in &unique {
            if !opts.refresh
                && let Some(entry) = self.lookup(&self.key(name, opts)).await
            {
                if entry.fresh_until > now && !entry.secret.is_expired(now) {
                    found.insert(name.clone(), Some(entry.secret));
                    continue;
                }
                stale.insert(name.clone(), entry);
            }
            misses.push(name.clone());
        }
        if !misses.is_empty() {
            let epoch = self.state.epoch.load(Ordering::Acquire);
            match self.inner.read_many(&misses, opts).await {
                Ok(got) => {
                    for (name, secret) in got {
                        let key = self.key(&name, opts);
                        match &secret {
                            Some(s) => self.store_entry(&key, s, epoch).await,
                            None => {
                                let _ = self.cache.delete(&key).await;
                            }
                        }
                        found.insert(name, secret);
                    }
                }
                Err(e) if e.is_temporary() => {
                    let now = self.clock.system_now();
                    for name in &misses {
                        match self.serve_stale(stale.remove(name), now) {
                            Some(s) => {
                                found.insert(name.clone(), Some(s));
                            }
                            None => return Err(e),
                        }
                    }
                    tracing::warn!(error = %e, "backend failing; serving the last good values (stale-if-error)");
                }
                Err(e) => return Err(e),
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
        self.invalidate_name(name).await;
        let result = self.inner.write(name, value, opts).await;
        self.invalidate_name(name).await;
        result
    }

    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        self.invalidate_name(name).await;
        let result = self.inner.delete(name, opts).await;
        self.invalidate_name(name).await;
        result
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        self.inner.list(prefix).await
    }
}
