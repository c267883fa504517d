//! Secret caches: the [`SecretCache`] trait and the in-process [`MemoryCache`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;

use crate::error::Result;
use crate::secret::{Secret, SecretKind};
use crate::store::ReadOptions;
use crate::value::SecretValue;

const SEP: char = '\u{1f}';
const VARIANT_SEP: char = '\u{1e}';

/// A cache key: manager, secret name, backend address and the read variant (version, stage,
/// JSON field), so two different reads never share an entry.
///
/// The encoding puts manager and name first so every variant of one secret can be dropped by
/// prefix. Secret names never contain the separators (control characters are rejected).
///
/// ```
/// use strongroom_core::{CacheKey, ReadOptions};
/// let k = CacheKey::new("vault", "http://127.0.0.1:8200|ns=team|secret", "db/pass", &ReadOptions::new().field("user"));
/// assert_eq!(k.manager(), "vault");
/// assert_eq!(k.name(), "db/pass");
/// let other = CacheKey::new("vault", "http://127.0.0.1:8200|ns=team|secret", "db/pass", &ReadOptions::new());
/// assert_ne!(k, other);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(String);

impl CacheKey {
    /// A digest of a backend address and the identity asking (SHA-256, 128 bits, hex): the
    /// same store gives the same digest in every process sharing a cache, and two stores that
    /// address different objects or ask as different callers never collide.
    ///
    /// ```
    /// use strongroom_core::{CacheKey, Identity};
    /// let a = CacheKey::address_digest("https://vault|mount=secret", &Identity::of(&[b"role-a"]));
    /// let b = CacheKey::address_digest("https://vault|mount=secret", &Identity::of(&[b"role-b"]));
    /// assert_ne!(a, b);
    /// assert_eq!(a.len(), 32);
    /// ```
    pub fn address_digest(address: &str, identity: &crate::Identity) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"strongroom cache address v1\0");
        h.update((address.len() as u64).to_be_bytes());
        h.update(address.as_bytes());
        h.update(identity.as_bytes());
        let digest = h.finalize();
        let mut out = String::with_capacity(32);
        for b in &digest[..16] {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// Builds a key. `address` is used as given (the cache layer passes
    /// [`CacheKey::address_digest`] of the store's address).
    pub fn new(manager: &str, address: &str, name: &str, opts: &ReadOptions) -> Self {
        let extra = opts.version.as_ref().map_or(0, |v| v.len() + 3)
            + opts.stage.as_ref().map_or(0, |v| v.len() + 3)
            + opts.field.as_ref().map_or(0, |v| v.len() + 3);
        let mut s = String::with_capacity(manager.len() + name.len() + address.len() + 3 + extra);
        s.push_str(manager);
        s.push(SEP);
        s.push_str(name);
        s.push(SEP);
        s.push_str(address);
        s.push(SEP);
        for (tag, v) in [
            ("v=", &opts.version),
            ("s=", &opts.stage),
            ("f=", &opts.field),
        ] {
            if let Some(v) = v {
                s.push_str(tag);
                s.push_str(v);
                s.push(VARIANT_SEP);
            }
        }
        CacheKey(s)
    }

    /// The prefix shared by every key of `name` under `manager` (any address, any variant).
    pub fn secret_prefix(manager: &str, name: &str) -> String {
        let mut s = String::with_capacity(manager.len() + name.len() + 2);
        s.push_str(manager);
        s.push(SEP);
        s.push_str(name);
        s.push(SEP);
        s
    }

    /// The prefix shared by every key of `manager`.
    pub fn manager_prefix(manager: &str) -> String {
        let mut s = String::with_capacity(manager.len() + 1);
        s.push_str(manager);
        s.push(SEP);
        s
    }

    /// Rebuilds a key from its encoded form (as stored by a shared cache).
    pub fn from_encoded(encoded: impl Into<String>) -> Self {
        CacheKey(encoded.into())
    }

    /// The encoded key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The manager part.
    pub fn manager(&self) -> &str {
        self.0.split(SEP).next().unwrap_or_default()
    }

    /// The secret-name part.
    pub fn name(&self) -> &str {
        self.0.split(SEP).nth(1).unwrap_or_default()
    }

    /// A readable rendering: `manager/name[@version][#field]`.
    pub fn display_name(&self) -> String {
        let mut parts = self.0.split(SEP);
        let manager = parts.next().unwrap_or_default();
        let name = parts.next().unwrap_or_default();
        let _address = parts.next();
        let mut out = format!("{manager}/{name}");
        for variant in parts.next().unwrap_or_default().split(VARIANT_SEP) {
            if let Some(v) = variant.strip_prefix("v=") {
                out.push('@');
                out.push_str(v);
            } else if let Some(s) = variant.strip_prefix("s=") {
                out.push_str("@stage:");
                out.push_str(s);
            } else if let Some(f) = variant.strip_prefix("f=") {
                out.push('#');
                out.push_str(f);
            }
        }
        out
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({})", self.display_name())
    }
}

/// A cached secret and when it stops being fresh.
#[derive(Clone, Debug)]
pub struct CacheEntry {
    /// The secret (its `Debug` is redacted).
    pub secret: Secret,
    /// Until when the entry may be served without asking the backend. After this it is only
    /// served by stale-if-error.
    pub fresh_until: SystemTime,
}

/// What `entries()` reports: names and expiry, never values.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CacheEntryInfo {
    /// The manager the entry belongs to.
    pub manager: String,
    /// The secret name.
    pub name: String,
    /// `manager/name[@version][#field]`.
    pub display: String,
    /// When the entry stops being fresh.
    #[serde(with = "crate::util::unix_seconds")]
    pub fresh_until: SystemTime,
}

impl CacheEntryInfo {
    /// Builds the info for `key`.
    pub fn new(key: &CacheKey, fresh_until: SystemTime) -> Self {
        CacheEntryInfo {
            manager: key.manager().to_owned(),
            name: key.name().to_owned(),
            display: key.display_name(),
            fresh_until,
        }
    }
}

/// A place to keep secrets between reads: in process ([`MemoryCache`]) or shared
/// (`strongroom-redis`). Implementations must never log or expose values; `entries()` reports
/// names and expiry only.
#[async_trait]
pub trait SecretCache: Send + Sync + fmt::Debug {
    /// Answers a lookup without I/O when the cache can (in-process caches); `None` means "ask
    /// [`SecretCache::get`]". Lets the hit path skip a boxed future.
    fn try_get_local(&self, _key: &CacheKey) -> Option<Option<CacheEntry>> {
        None
    }
    /// Looks up an entry. Expired entries are not returned.
    async fn get(&self, key: &CacheKey) -> Result<Option<CacheEntry>>;
    /// Stores an entry for at most `ttl`.
    async fn set(&self, key: &CacheKey, entry: CacheEntry, ttl: Duration) -> Result<()>;
    /// Drops one entry.
    async fn delete(&self, key: &CacheKey) -> Result<()>;
    /// Drops every entry whose encoded key starts with `prefix` (see [`CacheKey::secret_prefix`]).
    async fn delete_prefix(&self, prefix: &str) -> Result<()>;
    /// Drops every entry of this cache (and only this cache's, for shared caches).
    async fn clear(&self) -> Result<()>;
    /// Names and expiry of what is cached.
    async fn entries(&self) -> Result<Vec<CacheEntryInfo>>;
}

#[async_trait]
impl<T: SecretCache + ?Sized> SecretCache for Arc<T> {
    fn try_get_local(&self, key: &CacheKey) -> Option<Option<CacheEntry>> {
        (**self).try_get_local(key)
    }
    async fn get(&self, key: &CacheKey) -> Result<Option<CacheEntry>> {
        (**self).get(key).await
    }
    async fn set(&self, key: &CacheKey, entry: CacheEntry, ttl: Duration) -> Result<()> {
        (**self).set(key, entry, ttl).await
    }
    async fn delete(&self, key: &CacheKey) -> Result<()> {
        (**self).delete(key).await
    }
    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        (**self).delete_prefix(prefix).await
    }
    async fn clear(&self) -> Result<()> {
        (**self).clear().await
    }
    async fn entries(&self) -> Result<Vec<CacheEntryInfo>> {
        (**self).entries().await
    }
}

/// What the memory cache keeps per entry: the value and version inline, the rest of the
/// metadata boxed only when there is any (most secrets have none), so 100,000 cached secrets
/// stay small.
struct Stored {
    value: SecretValue,
    version: Option<Box<str>>,
    extra: Option<Box<Extra>>,
    fresh_until: SystemTime,
    ttl: Duration,
}

struct Extra {
    created_at: Option<SystemTime>,
    updated_at: Option<SystemTime>,
    expires_at: Option<SystemTime>,
    kind: SecretKind,
    content_type: Option<String>,
    tags: BTreeMap<String, String>,
}

impl Stored {
    fn new(entry: CacheEntry, ttl: Duration) -> Stored {
        let s = entry.secret;
        let has_extra = s.created_at.is_some()
            || s.updated_at.is_some()
            || s.expires_at.is_some()
            || s.kind != SecretKind::Static
            || s.content_type.is_some()
            || !s.tags.is_empty();
        Stored {
            value: s.value,
            version: s.version.map(String::into_boxed_str),
            extra: has_extra.then(|| {
                Box::new(Extra {
                    created_at: s.created_at,
                    updated_at: s.updated_at,
                    expires_at: s.expires_at,
                    kind: s.kind,
                    content_type: s.content_type,
                    tags: s.tags,
                })
            }),
            fresh_until: entry.fresh_until,
            ttl,
        }
    }

    fn entry(&self) -> CacheEntry {
        let mut secret = Secret::new(self.value.clone());
        secret.version = self.version.as_deref().map(str::to_owned);
        if let Some(x) = &self.extra {
            secret.created_at = x.created_at;
            secret.updated_at = x.updated_at;
            secret.expires_at = x.expires_at;
            secret.kind = x.kind;
            secret.content_type = x.content_type.clone();
            secret.tags = x.tags.clone();
        }
        CacheEntry {
            secret,
            fresh_until: self.fresh_until,
        }
    }
}

struct StoredExpiry;

impl moka::Expiry<CacheKey, Arc<Stored>> for StoredExpiry {
    fn expire_after_create(
        &self,
        _k: &CacheKey,
        v: &Arc<Stored>,
        _now: Instant,
    ) -> Option<Duration> {
        Some(v.ttl)
    }
    fn expire_after_update(
        &self,
        _k: &CacheKey,
        v: &Arc<Stored>,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.ttl)
    }
}

/// The default in-process cache, on [`moka`]: bounded size, per-entry TTL, evicted values
/// dropped (and so zeroized).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use strongroom_core::{CacheEntry, CacheKey, MemoryCache, ReadOptions, Secret, SecretCache};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let cache = MemoryCache::new(10_000);
/// let key = CacheKey::new("m", "", "a", &ReadOptions::new());
/// let entry = CacheEntry { secret: Secret::new("v"), fresh_until: SystemTime::now() + Duration::from_secs(60) };
/// cache.set(&key, entry, Duration::from_secs(60)).await.unwrap();
/// assert!(cache.get(&key).await.unwrap().is_some());
/// assert_eq!(cache.entries().await.unwrap()[0].name, "a");
/// # });
/// ```
#[derive(Clone)]
pub struct MemoryCache {
    inner: moka::sync::Cache<CacheKey, Arc<Stored>>,
}

impl MemoryCache {
    /// A cache holding at most `max_entries` entries.
    pub fn new(max_entries: u64) -> Self {
        MemoryCache {
            inner: moka::sync::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(StoredExpiry)
                .build(),
        }
    }

    /// Synchronous lookup (the async trait method calls this).
    pub fn get_now(&self, key: &CacheKey) -> Option<CacheEntry> {
        self.inner.get(key).map(|s| s.entry())
    }

    /// Approximate number of entries.
    pub fn len(&self) -> u64 {
        self.inner.run_pending_tasks();
        self.inner.entry_count()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        MemoryCache::new(100_000)
    }
}

impl fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.inner.entry_count())
            .finish()
    }
}

#[async_trait]
impl SecretCache for MemoryCache {
    fn try_get_local(&self, key: &CacheKey) -> Option<Option<CacheEntry>> {
        Some(self.get_now(key))
    }
    async fn get(&self, key: &CacheKey) -> Result<Option<CacheEntry>> {
        Ok(self.get_now(key))
    }
    async fn set(&self, key: &CacheKey, entry: CacheEntry, ttl: Duration) -> Result<()> {
        if ttl.is_zero() {
            self.inner.invalidate(key);
            return Ok(());
        }
        self.inner
            .insert(key.clone(), Arc::new(Stored::new(entry, ttl)));
        Ok(())
    }
    async fn delete(&self, key: &CacheKey) -> Result<()> {
        self.inner.invalidate(key);
        Ok(())
    }
    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        let prefix = prefix.to_owned();
        // Invalidation closures are lazy in moka; also drop matching keys eagerly so a
        // following read cannot see them.
        let keys: Vec<CacheKey> = self
            .inner
            .iter()
            .filter(|(k, _)| k.as_str().starts_with(&prefix))
            .map(|(k, _)| (*k).clone())
            .collect();
        for k in keys {
            self.inner.invalidate(&k);
        }
        Ok(())
    }
    async fn clear(&self) -> Result<()> {
        self.inner.invalidate_all();
        self.inner.run_pending_tasks();
        Ok(())
    }
    async fn entries(&self) -> Result<Vec<CacheEntryInfo>> {
        let mut out: Vec<CacheEntryInfo> = self
            .inner
            .iter()
            .map(|(k, v)| CacheEntryInfo::new(&k, v.fresh_until))
            .collect();
        out.sort_by(|a, b| a.display.cmp(&b.display));
        Ok(out)
    }
}
