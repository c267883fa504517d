//! Secret caches: the [`SecretCache`] trait, its keys, and the in-process [`MemoryCache`].
//!
//! A key is a [`CacheScope`] (a digest of the backend address and of the identity asking), the
//! full backend name, and the read variant (version, stage, JSON field). The manager is not
//! part of the key: two managers over the same backend object, asking as the same identity,
//! share one entry, so a write through either drops it for both.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::error::Result;
use crate::name::SecretName;
use crate::secret::{Secret, SecretKind};
use crate::store::{Identity, ReadOptions};
use crate::value::SecretValue;

/// Which backend object space and which caller an entry belongs to: SHA-256 (128 bits) of the
/// store's address and identity. The same store gives the same scope in every process sharing
/// a cache.
///
/// ```
/// use strongroom_core::{CacheScope, Identity};
/// let a = CacheScope::of("https://vault|mount=secret", &Identity::of(&[b"role-a"]));
/// let b = CacheScope::of("https://vault|mount=secret", &Identity::of(&[b"role-b"]));
/// assert_ne!(a, b);
/// assert_eq!(a.to_string().len(), 32);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CacheScope([u8; 16]);

impl CacheScope {
    /// The scope of a store at `address` asking as `identity`.
    pub fn of(address: &str, identity: &Identity) -> CacheScope {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"strongroom cache scope v1\0");
        h.update((address.len() as u64).to_be_bytes());
        h.update(address.as_bytes());
        h.update(identity.as_bytes());
        let digest = h.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        CacheScope(out)
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// A scope from its digest bytes (as stored by a shared cache).
    pub fn from_bytes(bytes: [u8; 16]) -> CacheScope {
        CacheScope(bytes)
    }

    /// Parses the hex form ([`fmt::Display`]).
    pub fn from_hex(text: &str) -> Option<CacheScope> {
        if text.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(CacheScope(out))
    }
}

impl fmt::Display for CacheScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CacheScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheScope({self})")
    }
}

impl serde::Serialize for CacheScope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The read variant of a key: version, stage, field (all `None` for a plain read).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Variant {
    /// `ReadOptions::version`.
    pub version: Option<Box<str>>,
    /// `ReadOptions::stage`.
    pub stage: Option<Box<str>>,
    /// `ReadOptions::field`.
    pub field: Option<Box<str>>,
}

impl Variant {
    fn of(opts: &ReadOptions) -> Option<Arc<Variant>> {
        if opts.version.is_none() && opts.stage.is_none() && opts.field.is_none() {
            return None;
        }
        Some(Arc::new(Variant {
            version: opts.version.as_deref().map(Into::into),
            stage: opts.stage.as_deref().map(Into::into),
            field: opts.field.as_deref().map(Into::into),
        }))
    }
}

/// Hashes the parts of a key so the owned [`CacheKey`] and the borrowed [`KeyRef`] agree: the
/// name is written as the byte stream `prefix ++ name` (the standard library's SipHash is
/// streaming, so a split name hashes as the whole one; a test pins this).
fn hash_parts<H: Hasher>(
    state: &mut H,
    scope: &CacheScope,
    prefix: &str,
    name: &str,
    version: Option<&str>,
    stage: Option<&str>,
    field: Option<&str>,
) {
    state.write(&scope.0);
    state.write(prefix.as_bytes());
    state.write(name.as_bytes());
    state.write_u8(0xff);
    for part in [version, stage, field] {
        match part {
            None => state.write_u8(0),
            Some(p) => {
                state.write_u8(1);
                state.write(p.as_bytes());
                state.write_u8(0xff);
            }
        }
    }
}

/// A cache key: scope, full backend name, read variant.
///
/// ```
/// use strongroom_core::{CacheKey, CacheScope, Identity, ReadOptions, SecretName};
/// let scope = CacheScope::of("vault", &Identity::anonymous());
/// let name = SecretName::new("db/pass").unwrap();
/// let k = CacheKey::new(scope, &name, &ReadOptions::new().field("user"));
/// assert_eq!(k.display_name(), "db/pass#user");
/// assert_ne!(k, CacheKey::new(scope, &name, &ReadOptions::new()));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CacheKey {
    scope: CacheScope,
    name: SecretName,
    variant: Option<Arc<Variant>>,
}

impl CacheKey {
    /// The key of a read of `name` with `opts` in `scope`.
    pub fn new(scope: CacheScope, name: &SecretName, opts: &ReadOptions) -> CacheKey {
        CacheKey {
            scope,
            name: name.clone(),
            variant: Variant::of(opts),
        }
    }

    /// The scope.
    pub fn scope(&self) -> CacheScope {
        self.scope
    }

    /// The full backend name.
    pub fn name(&self) -> &SecretName {
        &self.name
    }

    /// The variant, `None` for a plain read.
    pub fn variant(&self) -> Option<&Variant> {
        self.variant.as_deref()
    }

    /// `name[@version][@stage:stage][#field]`.
    pub fn display_name(&self) -> String {
        let mut out = crate::error::printable(self.name.as_str());
        if let Some(v) = &self.variant {
            if let Some(x) = &v.version {
                out.push('@');
                out.push_str(&crate::error::printable(x));
            }
            if let Some(x) = &v.stage {
                out.push_str("@stage:");
                out.push_str(&crate::error::printable(x));
            }
            if let Some(x) = &v.field {
                out.push('#');
                out.push_str(&crate::error::printable(x));
            }
        }
        out
    }

    /// Read options asking for this key's variant.
    pub fn read_options(&self) -> ReadOptions {
        let mut opts = ReadOptions::new();
        if let Some(v) = &self.variant {
            opts.version = v.version.as_deref().map(str::to_owned);
            opts.stage = v.stage.as_deref().map(str::to_owned);
            opts.field = v.field.as_deref().map(str::to_owned);
        }
        opts
    }

    /// The same name and scope without a variant.
    pub fn plain(&self) -> CacheKey {
        CacheKey {
            scope: self.scope,
            name: self.name.clone(),
            variant: None,
        }
    }
}

impl Hash for CacheKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let v = self.variant.as_deref();
        hash_parts(
            state,
            &self.scope,
            "",
            self.name.as_str(),
            v.and_then(|v| v.version.as_deref()),
            v.and_then(|v| v.stage.as_deref()),
            v.and_then(|v| v.field.as_deref()),
        );
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({}/{})", self.scope, self.display_name())
    }
}

/// A name as a read reaches the cache through prefix layers: `prefix ++ name` is the full
/// backend name. Lets a hit be looked up without building the full name.
#[derive(Clone, Copy, Debug)]
pub struct NameRef<'a> {
    /// Put in front of `name` by the prefix layers above.
    pub prefix: &'a str,
    /// The name as asked for.
    pub name: &'a str,
}

impl<'a> NameRef<'a> {
    /// A name without a prefix.
    pub fn new(name: &'a SecretName) -> NameRef<'a> {
        NameRef {
            prefix: "",
            name: name.as_str(),
        }
    }

    /// The full name (allocates).
    pub fn to_name(&self) -> Result<SecretName> {
        if self.prefix.is_empty() {
            SecretName::new(self.name)
        } else {
            SecretName::new(format!("{}{}", self.prefix, self.name))
        }
    }

    fn eq_str(&self, full: &str) -> bool {
        full.len() == self.prefix.len() + self.name.len()
            && full.starts_with(self.prefix)
            && full.ends_with(self.name)
    }
}

/// A borrowed cache key, for lookups that build nothing.
#[derive(Clone, Copy, Debug)]
pub struct KeyRef<'a> {
    /// The scope.
    pub scope: CacheScope,
    /// The name.
    pub name: NameRef<'a>,
    /// The read options (version, stage and field make the variant).
    pub opts: &'a ReadOptions,
}

impl KeyRef<'_> {
    /// The owned key (allocates).
    pub fn to_key(&self) -> Result<CacheKey> {
        Ok(CacheKey {
            scope: self.scope,
            name: self.name.to_name()?,
            variant: Variant::of(self.opts),
        })
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_parts(
            state,
            &self.scope,
            self.name.prefix,
            self.name.name,
            self.opts.version.as_deref(),
            self.opts.stage.as_deref(),
            self.opts.field.as_deref(),
        );
    }
}

impl equivalent::Equivalent<CacheKey> for KeyRef<'_> {
    fn equivalent(&self, key: &CacheKey) -> bool {
        if self.scope != key.scope || !self.name.eq_str(key.name.as_str()) {
            return false;
        }
        let v = key.variant.as_deref();
        self.opts.version.as_deref() == v.and_then(|v| v.version.as_deref())
            && self.opts.stage.as_deref() == v.and_then(|v| v.stage.as_deref())
            && self.opts.field.as_deref() == v.and_then(|v| v.field.as_deref())
    }
}

/// A cached secret and its timing.
#[derive(Clone, Debug)]
pub struct CacheEntry {
    /// The secret (its `Debug` is redacted).
    pub secret: Secret,
    /// When it was read from the backend. A reader whose TTL is shorter than the writer's
    /// counts freshness from here.
    pub stored_at: SystemTime,
    /// Until when the writer considers it fresh (never past the secret's own expiry).
    pub fresh_until: SystemTime,
    /// Until when it may be served by stale-if-error (the cache may drop it then).
    pub keep_until: SystemTime,
}

impl CacheEntry {
    /// Whether a reader with `ttl` may serve it at `now` without asking the backend.
    pub fn is_fresh(&self, ttl: Duration, now: SystemTime) -> bool {
        now < self.fresh_until && now < self.stored_at + ttl && !self.secret.is_expired(now)
    }
}

/// What `entries()` reports: names and timing, never values.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CacheEntryInfo {
    /// The scope (a manager knows its own, see `Cached::scope`).
    pub scope: CacheScope,
    /// The full backend name.
    pub name: String,
    /// `name[@version][#field]`, terminal control characters escaped.
    pub display: String,
    /// When the entry stops being fresh.
    #[serde(with = "crate::util::unix_seconds")]
    pub fresh_until: SystemTime,
}

impl CacheEntryInfo {
    /// The info for `key`.
    pub fn new(key: &CacheKey, fresh_until: SystemTime) -> Self {
        CacheEntryInfo {
            scope: key.scope,
            name: key.name.as_str().to_owned(),
            display: key.display_name(),
            fresh_until,
        }
    }
}

/// What a shared cache answers when a miss is about to go to the backend (fleet-wide
/// single-flight; see [`SecretCache::begin_fill`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Fill {
    /// This process reads the backend; call [`SecretCache::end_fill`] with the lease when the
    /// answer is stored (or the read failed).
    Lead(u64),
    /// Another process read the backend meanwhile: its entry.
    Ready(CacheEntry),
    /// No coordination (an in-process cache, or the wait was too long): read the backend.
    Alone,
}

/// A place to keep secrets between reads: in process ([`MemoryCache`]) or shared
/// (`strongroom-redis`). Implementations must never log or expose values; `entries()` reports
/// names and timing only.
#[async_trait]
pub trait SecretCache: Send + Sync + fmt::Debug {
    /// Answers a lookup without I/O when the cache can (in-process caches); `None` means "ask
    /// [`SecretCache::get`]".
    fn try_get_local(&self, _key: &KeyRef<'_>) -> Option<Option<CacheEntry>> {
        None
    }
    /// Looks up an entry.
    async fn get(&self, key: &CacheKey) -> Result<Option<CacheEntry>>;
    /// Stores an entry for at most `ttl`.
    async fn set(&self, key: &CacheKey, entry: CacheEntry, ttl: Duration) -> Result<()>;
    /// Drops every entry of `name` in `scope` (all variants).
    async fn invalidate(&self, scope: CacheScope, name: &SecretName) -> Result<()>;
    /// Drops every entry of `scope`, or of this cache (and only this cache's, for shared
    /// caches) for `None`.
    async fn clear(&self, scope: Option<CacheScope>) -> Result<()>;
    /// Names and timing of what is cached.
    async fn entries(&self) -> Result<Vec<CacheEntryInfo>>;
    /// A counter that moves on every invalidation of `name` in `scope` (or of anything that
    /// shares its counter): a read that started before it moved does not store what it read,
    /// so a value replaced mid-read is never cached.
    fn generation(&self, _scope: CacheScope, _name: &SecretName) -> u64 {
        0
    }
    /// Called before a miss goes to the backend. A cache shared by a fleet takes a short lease
    /// on `key` so one process reads and the others wait for its entry; caches that do not
    /// coordinate answer [`Fill::Alone`]. Never fails: a cache that cannot coordinate says
    /// `Alone`.
    async fn begin_fill(&self, _key: &CacheKey) -> Fill {
        Fill::Alone
    }
    /// Ends a [`Fill::Lead`]: the answer is stored (or the read failed); wake the waiters.
    async fn end_fill(&self, _key: &CacheKey, _lease: u64) {}
}

#[async_trait]
impl<T: SecretCache + ?Sized> SecretCache for Arc<T> {
    fn try_get_local(&self, key: &KeyRef<'_>) -> Option<Option<CacheEntry>> {
        (**self).try_get_local(key)
    }
    async fn get(&self, key: &CacheKey) -> Result<Option<CacheEntry>> {
        (**self).get(key).await
    }
    async fn set(&self, key: &CacheKey, entry: CacheEntry, ttl: Duration) -> Result<()> {
        (**self).set(key, entry, ttl).await
    }
    async fn invalidate(&self, scope: CacheScope, name: &SecretName) -> Result<()> {
        (**self).invalidate(scope, name).await
    }
    async fn clear(&self, scope: Option<CacheScope>) -> Result<()> {
        (**self).clear(scope).await
    }
    async fn entries(&self) -> Result<Vec<CacheEntryInfo>> {
        (**self).entries().await
    }
    fn generation(&self, scope: CacheScope, name: &SecretName) -> u64 {
        (**self).generation(scope, name)
    }
    async fn begin_fill(&self, key: &CacheKey) -> Fill {
        (**self).begin_fill(key).await
    }
    async fn end_fill(&self, key: &CacheKey, lease: u64) {
        (**self).end_fill(key, lease).await
    }
}

/// What the memory cache keeps per entry: the value and version inline, the rest of the
/// metadata boxed only when there is any (most secrets have none).
struct Stored {
    value: SecretValue,
    version: Option<Box<str>>,
    extra: Option<Box<Extra>>,
    stored_at: SystemTime,
    fresh_until: SystemTime,
    keep_until: SystemTime,
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
    fn new(entry: CacheEntry) -> Stored {
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
            stored_at: entry.stored_at,
            fresh_until: entry.fresh_until,
            keep_until: entry.keep_until,
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
            stored_at: self.stored_at,
            fresh_until: self.fresh_until,
            keep_until: self.keep_until,
        }
    }
}

type Entries = quick_cache::sync::Cache<
    CacheKey,
    Arc<Stored>,
    quick_cache::UnitWeighter,
    std::hash::RandomState,
>;

/// The default in-process cache, on [`quick_cache`]: bounded size (least recently and least
/// frequently used entries go first), per-entry lifetime (an entry past its `keep_until` is
/// never returned, and is dropped when met or swept), evicted values dropped and so zeroized.
/// Lookups borrow the key parts, so a hit allocates no key.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use strongroom_core::{CacheEntry, CacheKey, CacheScope, Identity, MemoryCache, ReadOptions, Secret, SecretCache, SecretName};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let cache = MemoryCache::new(10_000);
/// let name = SecretName::new("a").unwrap();
/// let key = CacheKey::new(CacheScope::of("m", &Identity::anonymous()), &name, &ReadOptions::new());
/// let now = SystemTime::now();
/// let entry = CacheEntry { secret: Secret::new("v"), stored_at: now, fresh_until: now + Duration::from_secs(60), keep_until: now + Duration::from_secs(60) };
/// cache.set(&key, entry, Duration::from_secs(60)).await.unwrap();
/// assert!(cache.get(&key).await.unwrap().is_some());
/// assert_eq!(cache.entries().await.unwrap()[0].name, "a");
/// # });
/// ```
#[derive(Clone)]
pub struct MemoryCache {
    inner: Arc<MemoryInner>,
}

struct MemoryInner {
    entries: Entries,
    /// Keys with a non-plain variant, per (scope, name), so an invalidation finds them
    /// without a scan. Bounded: past the cap it is dropped and invalidations scan.
    variants: Mutex<Variants>,
    /// Invalidation counters, striped by (scope, name).
    generations: Box<[AtomicU64]>,
    sets: AtomicU64,
}

const GENERATION_STRIPES: usize = 1024;

fn stripe(scope: CacheScope, name: &str) -> usize {
    let mut h = std::hash::DefaultHasher::new();
    h.write(&scope.0);
    h.write(name.as_bytes());
    (h.finish() as usize) % GENERATION_STRIPES
}

#[derive(Default)]
struct Variants {
    by_name: HashMap<(CacheScope, SecretName), Vec<CacheKey>>,
    overflowed: bool,
    count: usize,
}

/// Sweep expired entries every this many stores.
const SWEEP_EVERY: u64 = 4096;

impl MemoryCache {
    /// A cache holding at most `max_entries` entries.
    pub fn new(max_entries: u64) -> Self {
        let max = max_entries.max(1);
        MemoryCache {
            inner: Arc::new(MemoryInner {
                entries: Entries::with(
                    max as usize,
                    max,
                    quick_cache::UnitWeighter,
                    std::hash::RandomState::new(),
                    Default::default(),
                ),
                variants: Mutex::default(),
                generations: (0..GENERATION_STRIPES).map(|_| AtomicU64::new(0)).collect(),
                sets: AtomicU64::new(0),
            }),
        }
    }

    /// Synchronous lookup.
    pub fn get_now(&self, key: &CacheKey) -> Option<CacheEntry> {
        self.inner.entries.get(key).map(|s| s.entry())
    }

    /// Number of entries (expired ones not yet swept included).
    pub fn len(&self) -> u64 {
        self.inner.entries.len() as u64
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn bump(&self, scope: CacheScope, name: &str) {
        self.inner.generations[stripe(scope, name)].fetch_add(1, Ordering::AcqRel);
    }

    fn bump_all(&self) {
        for g in self.inner.generations.iter() {
            g.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn sweep(&self) {
        let now = SystemTime::now();
        self.inner.entries.retain(|_, v| v.keep_until > now);
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
            .field("entries", &self.inner.entries.len())
            .finish()
    }
}

/// The most non-plain keys the variant index keeps before falling back to scans.
const MAX_VARIANT_INDEX: usize = 100_000;

#[async_trait]
impl SecretCache for MemoryCache {
    fn try_get_local(&self, key: &KeyRef<'_>) -> Option<Option<CacheEntry>> {
        Some(self.inner.entries.get(key).map(|s| s.entry()))
    }
    async fn get(&self, key: &CacheKey) -> Result<Option<CacheEntry>> {
        Ok(self.get_now(key))
    }
    async fn set(&self, key: &CacheKey, entry: CacheEntry, ttl: Duration) -> Result<()> {
        if ttl.is_zero() {
            self.inner.entries.remove(key);
            return Ok(());
        }
        if key.variant.is_some() {
            let mut v = self
                .inner
                .variants
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if !v.overflowed {
                let list = v.by_name.entry((key.scope, key.name.clone())).or_default();
                if !list.contains(key) {
                    list.push(key.clone());
                    v.count += 1;
                }
                if v.count > MAX_VARIANT_INDEX {
                    *v = Variants {
                        overflowed: true,
                        ..Variants::default()
                    };
                }
            }
        }
        self.inner
            .entries
            .insert(key.clone(), Arc::new(Stored::new(entry)));
        if self.inner.sets.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        Ok(())
    }
    async fn invalidate(&self, scope: CacheScope, name: &SecretName) -> Result<()> {
        self.bump(scope, name.as_str());
        self.inner.entries.remove(&KeyRef {
            scope,
            name: NameRef::new(name),
            opts: &ReadOptions::new(),
        });
        let mut v = self
            .inner
            .variants
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if v.overflowed {
            drop(v);
            self.inner
                .entries
                .retain(|k, _| !(k.scope == scope && k.name == *name));
        } else if let Some(keys) = v.by_name.remove(&(scope, name.clone())) {
            v.count -= keys.len();
            drop(v);
            for k in keys {
                self.inner.entries.remove(&k);
            }
        }
        self.bump(scope, name.as_str());
        Ok(())
    }
    async fn clear(&self, scope: Option<CacheScope>) -> Result<()> {
        self.bump_all();
        match scope {
            None => {
                self.inner.entries.clear();
                *self
                    .inner
                    .variants
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Variants::default();
            }
            Some(scope) => {
                self.inner.entries.retain(|k, _| k.scope != scope);
                let mut v = self
                    .inner
                    .variants
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let before = v.by_name.len();
                v.by_name.retain(|(s, _), _| *s != scope);
                if before != v.by_name.len() {
                    v.count = v.by_name.values().map(Vec::len).sum();
                }
            }
        }
        self.bump_all();
        Ok(())
    }
    async fn entries(&self) -> Result<Vec<CacheEntryInfo>> {
        let now = SystemTime::now();
        let mut out: Vec<CacheEntryInfo> = self
            .inner
            .entries
            .iter()
            .filter(|(_, v)| v.keep_until > now)
            .map(|(k, v)| CacheEntryInfo::new(&k, v.fresh_until))
            .collect();
        out.sort_by(|a, b| a.display.cmp(&b.display));
        Ok(out)
    }
    fn generation(&self, scope: CacheScope, name: &SecretName) -> u64 {
        self.inner.generations[stripe(scope, name.as_str())].load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn borrowed_and_owned_keys_hash_and_compare_alike() {
        let scope = CacheScope::of("a", &Identity::anonymous());
        let state = std::hash::RandomState::new();
        for (prefix, name, opts) in [
            ("", "db/pw", ReadOptions::new()),
            ("litellm/", "k", ReadOptions::new()),
            ("a/b/", "c d", ReadOptions::new().field("user").version("3")),
            ("x", "yz", ReadOptions::new().stage("AWSPREVIOUS")),
        ] {
            let full = SecretName::new(format!("{prefix}{name}")).unwrap();
            let owned = CacheKey::new(scope, &full, &opts);
            let borrowed = KeyRef {
                scope,
                name: NameRef { prefix, name },
                opts: &opts,
            };
            assert_eq!(state.hash_one(&owned), state.hash_one(borrowed));
            assert!(equivalent::Equivalent::equivalent(&borrowed, &owned));
            assert_eq!(borrowed.to_key().unwrap(), owned);
        }
        let opts = ReadOptions::new();
        let other = KeyRef {
            scope,
            name: NameRef {
                prefix: "ab",
                name: "c",
            },
            opts: &opts,
        };
        let key = CacheKey::new(scope, &SecretName::new("a/bc").unwrap(), &opts);
        assert!(!equivalent::Equivalent::equivalent(&other, &key));
    }

    #[tokio::test]
    async fn invalidate_drops_every_variant_and_moves_the_generation() {
        let cache = MemoryCache::new(100);
        let scope = CacheScope::of("a", &Identity::anonymous());
        let name = SecretName::new("db").unwrap();
        let now = SystemTime::now();
        let entry = || CacheEntry {
            secret: Secret::new("v"),
            stored_at: now,
            fresh_until: now + Duration::from_secs(60),
            keep_until: now + Duration::from_secs(60),
        };
        for opts in [
            ReadOptions::new(),
            ReadOptions::new().field("f"),
            ReadOptions::new().version("2"),
        ] {
            cache
                .set(
                    &CacheKey::new(scope, &name, &opts),
                    entry(),
                    Duration::from_secs(60),
                )
                .await
                .unwrap();
        }
        let other = SecretName::new("db2").unwrap();
        cache
            .set(
                &CacheKey::new(scope, &other, &ReadOptions::new()),
                entry(),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        let g = cache.generation(scope, &name);
        cache.invalidate(scope, &name).await.unwrap();
        assert!(cache.generation(scope, &name) > g);
        let left = cache.entries().await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].name, "db2");
    }
}
