//! The [`SecretStore`] contract every backend implements.

use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Debug};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;

use crate::cache::NameRef;
use crate::error::Result;
use crate::name::SecretName;
use crate::secret::Secret;
use crate::value::SecretValue;
use crate::watch::{SecretWatch, WatchOptions};

/// How many reads the default [`SecretStore::read_many`] runs at once.
pub const DEFAULT_READ_MANY_CONCURRENCY: usize = 16;

/// Options for a read.
///
/// ```
/// use strongroom_core::ReadOptions;
/// let opts = ReadOptions::new().version("3").field("password").refresh(true);
/// assert_eq!(opts.version.as_deref(), Some("3"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ReadOptions {
    /// A specific version (backend-specific identifier). `None` = latest.
    pub version: Option<String>,
    /// A version label (AWS version stage such as `AWSPREVIOUS`). `None` = current.
    pub stage: Option<String>,
    /// Return only this field of a JSON-object secret.
    pub field: Option<String>,
    /// Bypass caches and repopulate them from the backend.
    pub refresh: bool,
    /// The name prefix this read may not step outside of (set by the prefix layer), so a
    /// provider that maps a name onto another object (AWS's last-segment JSON field) never
    /// addresses an object above the manager's prefix.
    pub within: Option<Arc<str>>,
}

impl ReadOptions {
    /// Latest version, whole value, cache allowed.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks for a version.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }
    /// Asks for a version stage / label.
    pub fn stage(mut self, stage: impl Into<String>) -> Self {
        self.stage = Some(stage.into());
        self
    }
    /// Asks for one JSON field.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    /// Bypasses the cache.
    pub fn refresh(mut self, refresh: bool) -> Self {
        self.refresh = refresh;
        self
    }
    /// Keeps the read inside names starting with `prefix`.
    pub fn within(mut self, prefix: impl Into<Arc<str>>) -> Self {
        self.within = Some(prefix.into());
        self
    }
}

/// Options for a write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Check-and-set: write only if the current version equals this (`Some(0)` = create only).
    /// Backends without CAS return [`crate::ErrorKind::Unsupported`] when it is set.
    pub cas: Option<u64>,
    /// A description, where the backend stores one.
    pub description: Option<String>,
    /// A content type, where the backend stores one.
    pub content_type: Option<String>,
    /// Tags, where the backend stores them.
    pub tags: BTreeMap<String, String>,
}

impl WriteOptions {
    /// Plain overwrite.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets check-and-set.
    pub fn cas(mut self, version: u64) -> Self {
        self.cas = Some(version);
        self
    }
    /// Sets a description.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
    /// Sets a content type.
    pub fn content_type(mut self, c: impl Into<String>) -> Self {
        self.content_type = Some(c.into());
        self
    }
    /// Adds a tag.
    pub fn tag(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.tags.insert(k.into(), v.into());
        self
    }
}

/// Options for a delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteOptions {
    /// Remove for good where the backend otherwise keeps a recoverable copy (AWS force delete,
    /// Vault metadata delete, Azure purge, Akeyless immediate deletion).
    pub force: bool,
    /// A recovery window in days where the backend has one (AWS: 7–30).
    pub recovery_window_days: Option<u32>,
}

impl DeleteOptions {
    /// The backend's default, recoverable where it can be.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks for permanent deletion.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
    /// Sets a recovery window.
    pub fn recovery_window_days(mut self, days: u32) -> Self {
        self.recovery_window_days = Some(days);
        self
    }
}

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOutcome {
    /// The version the backend assigned, when it says.
    pub version: Option<String>,
}

impl WriteOutcome {
    /// An outcome with an optional version.
    pub fn new(version: Option<String>) -> Self {
        WriteOutcome { version }
    }
}

/// Which operations a store supports.
///
/// ```
/// use strongroom_core::Capabilities;
/// let caps = Capabilities::all();
/// assert!(caps.read && caps.write && caps.delete && caps.list);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Capabilities {
    /// `read`.
    pub read: bool,
    /// `write`.
    pub write: bool,
    /// `delete`.
    pub delete: bool,
    /// `list`.
    pub list: bool,
    /// `read_many` is a native batch call rather than the default fan-out.
    pub batch_read: bool,
    /// Reads accept `ReadOptions::version`.
    pub versions: bool,
    /// Writes accept `WriteOptions::cas`.
    pub cas: bool,
    /// Values may be arbitrary bytes (not only UTF-8 text).
    pub binary: bool,
}

impl Capabilities {
    /// Everything but batch reads, versions, CAS and binary.
    pub fn all() -> Self {
        Capabilities {
            read: true,
            write: true,
            delete: true,
            list: true,
            batch_read: false,
            versions: false,
            cas: false,
            binary: false,
        }
    }
    /// Read and list only.
    pub fn read_only() -> Self {
        Capabilities {
            write: false,
            delete: false,
            ..Capabilities::all()
        }
    }
    /// Sets `batch_read`.
    pub fn with_batch_read(mut self, v: bool) -> Self {
        self.batch_read = v;
        self
    }
    /// Sets `versions`.
    pub fn with_versions(mut self, v: bool) -> Self {
        self.versions = v;
        self
    }
    /// Sets `cas`.
    pub fn with_cas(mut self, v: bool) -> Self {
        self.cas = v;
        self
    }
    /// Sets `binary`.
    pub fn with_binary(mut self, v: bool) -> Self {
        self.binary = v;
        self
    }
    /// Sets `delete`.
    pub fn with_delete(mut self, v: bool) -> Self {
        self.delete = v;
        self
    }
    /// Sets `write`.
    pub fn with_write(mut self, v: bool) -> Self {
        self.write = v;
        self
    }
    /// Sets `list`.
    pub fn with_list(mut self, v: bool) -> Self {
        self.list = v;
        self
    }
}

/// The result of [`SecretStore::read_many`]: each distinct name once, in first-asked order,
/// with `None` where the secret does not exist.
pub type ReadManyResult = Vec<(SecretName, Option<Secret>)>;

/// Who is asking a backend: a digest of the credential's identity (Vault token accessor or
/// AppRole role id, AWS access key id or role, Azure tenant + client id, Conjur login, Akeyless
/// access id). Cache keys carry it, so two callers with different permissions never share an
/// entry. Only the digest is kept; `Debug` shows nothing of it.
///
/// ```
/// use strongroom_core::Identity;
/// let a = Identity::of(&[b"approle", b"role-a"]);
/// assert_ne!(a, Identity::of(&[b"approle", b"role-b"]));
/// assert_eq!(format!("{a:?}"), "Identity(..)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Identity([u8; 16]);

impl Identity {
    /// The identity made of `parts` (each length-prefixed, then SHA-256, 128 bits kept).
    pub fn of(parts: &[&[u8]]) -> Identity {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        let digest = h.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        Identity(out)
    }

    /// No credential (built-in stores).
    pub fn anonymous() -> Identity {
        Identity::default()
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Identity(..)")
    }
}

/// What a store is: its provider, capabilities, the backend object space it addresses and
/// who it asks as. Layers pass it through, changing only what they change (the access layer
/// narrows the capabilities).
///
/// ```
/// use std::time::Duration;
/// use strongroom_core::{Capabilities, StoreInfo};
/// let info = StoreInfo::new("hcp-vault", Capabilities::all())
///     .with_address("https://vault:8200|ns=|mount=secret")
///     .with_identity(&[b"token", b"s.123"])
///     .with_default_ttl(Duration::from_secs(86_400));
/// assert_eq!(info.provider, "hcp-vault");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreInfo {
    /// A short label for errors and logs (`"conjur"`, `"hcp-vault"`, `"memory"`, …).
    pub provider: &'static str,
    /// What the store can do.
    pub capabilities: Capabilities,
    /// Everything that makes one name a different object: address, namespace, mount, path
    /// prefix, value field. Cache keys carry a digest of it.
    pub address: Arc<str>,
    /// Who the store asks as (see [`Identity`]).
    pub identity: Identity,
    /// A cache TTL the provider's own settings suggest (Vault's `refresh_interval`), used when
    /// a cache policy sets none.
    pub default_ttl: Option<Duration>,
}

impl StoreInfo {
    /// A store of `provider` with `capabilities`, no address, anonymous, no TTL suggestion.
    pub fn new(provider: &'static str, capabilities: Capabilities) -> StoreInfo {
        StoreInfo {
            provider,
            capabilities,
            address: Arc::from(""),
            identity: Identity::anonymous(),
            default_ttl: None,
        }
    }
    /// Sets the address.
    pub fn with_address(mut self, address: impl Into<Arc<str>>) -> Self {
        self.address = address.into();
        self
    }
    /// Sets the identity from its parts (see [`Identity::of`]).
    pub fn with_identity(mut self, parts: &[&[u8]]) -> Self {
        self.identity = Identity::of(parts);
        self
    }
    /// Sets the suggested cache TTL.
    pub fn with_default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }
    /// Sets the capabilities.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }
}

/// A secrets backend.
///
/// Object-safe and `Send + Sync`; used as `Arc<dyn SecretStore>`. A missing secret is
/// `Ok(None)` on read — never an error and never an empty string. A provider implements
/// [`SecretStore::info`], `read`, `write`, `delete`, `list`, and `read_many` when it has a
/// batch call; a layer implements [`StoreLayer`](crate::layer::StoreLayer) instead and overrides only what it changes.
///
/// ```
/// use strongroom_core::{MemoryStore, ReadOptions, SecretName, SecretStore, WriteOptions};
/// # tokio_test_block(async {
/// let store = MemoryStore::new();
/// let name = SecretName::new("app/token").unwrap();
/// store.write(&name, "t0p".into(), &WriteOptions::new()).await.unwrap();
/// let got = store.read(&name, &ReadOptions::new()).await.unwrap().unwrap();
/// assert_eq!(got.value.expose_str().unwrap(), "t0p");
/// assert!(store.read(&SecretName::new("nope").unwrap(), &ReadOptions::new()).await.unwrap().is_none());
/// # });
/// # fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[async_trait]
pub trait SecretStore: Send + Sync + Debug {
    /// What this store is (provider, capabilities, address, identity, TTL suggestion).
    fn info(&self) -> &StoreInfo;

    /// The provider label (`info().provider`).
    fn provider(&self) -> &'static str {
        self.info().provider
    }

    /// What the store can do (`info().capabilities`).
    fn capabilities(&self) -> Capabilities {
        self.info().capabilities
    }

    /// Answers a read from an in-process cache without I/O, when a layer below has a fresh
    /// entry; `None` means "call [`SecretStore::read`]". Lets a cache hit through a whole stack
    /// cost one future instead of one per layer.
    fn try_read_local(&self, _name: NameRef<'_>, _opts: &ReadOptions) -> Option<Secret> {
        None
    }

    /// Reads a secret. `Ok(None)` when it does not exist.
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>>;

    /// Reads several secrets. The default removes duplicates and runs single reads with bounded
    /// concurrency ([`read_each`]); providers with a batch call override it.
    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        read_each(self, names, opts, DEFAULT_READ_MANY_CONCURRENCY).await
    }

    /// Creates or replaces a secret's value.
    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome>;

    /// Deletes a secret. Deleting a missing secret succeeds.
    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()>;

    /// Lists the names that start with `prefix` (all names for `None`). Names only, never values.
    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>>;

    /// Watches a secret (see [`SecretWatch`]). A store needs a cache layer to be watched.
    async fn watch(&self, name: &SecretName, _opts: &WatchOptions) -> Result<SecretWatch> {
        Err(crate::Error::unsupported(
            "watching needs a cache layer",
            "wrap the store with `with_cache(...)`",
        )
        .context(self.provider(), crate::Operation::Read, Some(name.as_str())))
    }
}

/// Reads `names` one by one (duplicates once), `concurrency` at a time, in first-asked order.
pub async fn read_each<S: SecretStore + ?Sized>(
    store: &S,
    names: &[SecretName],
    opts: &ReadOptions,
    concurrency: usize,
) -> Result<ReadManyResult> {
    let unique = dedupe(names);
    let results: Vec<Result<(SecretName, Option<Secret>)>> =
        futures_util::stream::iter(unique.into_iter().map(|name| async move {
            let secret = store.read(&name, opts).await?;
            Ok((name, secret))
        }))
        .buffered(concurrency.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

/// Removes duplicate names, keeping first-asked order.
pub fn dedupe(names: &[SecretName]) -> Vec<SecretName> {
    let mut seen = HashSet::with_capacity(names.len());
    names
        .iter()
        .filter(|n| seen.insert((*n).clone()))
        .cloned()
        .collect()
}

/// A layer over a store: every method forwards to [`StoreLayer::inner`] unless the layer
/// overrides it, so a layer writes only what it changes and can never forget a method
/// (as OpenDAL's `LayeredAccess`). Every `StoreLayer` is a [`SecretStore`].
///
/// ```
/// use strongroom_core::{MemoryStore, ReadOptions, Result, Secret, SecretName, SecretStore, async_trait};
/// use strongroom_core::layer::StoreLayer;
/// #[derive(Debug)]
/// struct Shout<S>(S);
/// #[async_trait]
/// impl<S: SecretStore> StoreLayer for Shout<S> {
///     type Inner = S;
///     fn inner(&self) -> &S { &self.0 }
///     async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
///         let got = self.0.read(name, opts).await?;
///         Ok(got.map(|s| Secret::new(s.value.expose_str().unwrap().to_uppercase())))
///     }
/// }
/// let store = Shout(MemoryStore::new());
/// assert_eq!(SecretStore::info(&store).provider, "memory");
/// ```
#[async_trait]
pub trait StoreLayer: Send + Sync + Debug {
    /// The wrapped store.
    type Inner: SecretStore + ?Sized;
    /// The wrapped store.
    fn inner(&self) -> &Self::Inner;

    /// See [`SecretStore::info`].
    fn info(&self) -> &StoreInfo {
        self.inner().info()
    }
    /// See [`SecretStore::try_read_local`].
    fn try_read_local(&self, name: NameRef<'_>, opts: &ReadOptions) -> Option<Secret> {
        self.inner().try_read_local(name, opts)
    }
    /// See [`SecretStore::read`].
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        self.inner().read(name, opts).await
    }
    /// See [`SecretStore::read_many`].
    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        self.inner().read_many(names, opts).await
    }
    /// See [`SecretStore::write`].
    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        self.inner().write(name, value, opts).await
    }
    /// See [`SecretStore::delete`].
    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        self.inner().delete(name, opts).await
    }
    /// See [`SecretStore::list`].
    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        self.inner().list(prefix).await
    }
    /// See [`SecretStore::watch`].
    async fn watch(&self, name: &SecretName, opts: &WatchOptions) -> Result<SecretWatch> {
        self.inner().watch(name, opts).await
    }
}

type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

// Hand-expanded so a layer's future is returned as is, not boxed a second time.
impl<L: StoreLayer> SecretStore for L {
    fn info(&self) -> &StoreInfo {
        StoreLayer::info(self)
    }
    fn try_read_local(&self, name: NameRef<'_>, opts: &ReadOptions) -> Option<Secret> {
        StoreLayer::try_read_local(self, name, opts)
    }
    fn read<'s, 'n, 'o, 'f>(
        &'s self,
        name: &'n SecretName,
        opts: &'o ReadOptions,
    ) -> Fut<'f, Option<Secret>>
    where
        's: 'f,
        'n: 'f,
        'o: 'f,
        Self: 'f,
    {
        StoreLayer::read(self, name, opts)
    }
    fn read_many<'s, 'n, 'o, 'f>(
        &'s self,
        names: &'n [SecretName],
        opts: &'o ReadOptions,
    ) -> Fut<'f, ReadManyResult>
    where
        's: 'f,
        'n: 'f,
        'o: 'f,
        Self: 'f,
    {
        StoreLayer::read_many(self, names, opts)
    }
    fn write<'s, 'n, 'o, 'f>(
        &'s self,
        name: &'n SecretName,
        value: SecretValue,
        opts: &'o WriteOptions,
    ) -> Fut<'f, WriteOutcome>
    where
        's: 'f,
        'n: 'f,
        'o: 'f,
        Self: 'f,
    {
        StoreLayer::write(self, name, value, opts)
    }
    fn delete<'s, 'n, 'o, 'f>(
        &'s self,
        name: &'n SecretName,
        opts: &'o DeleteOptions,
    ) -> Fut<'f, ()>
    where
        's: 'f,
        'n: 'f,
        'o: 'f,
        Self: 'f,
    {
        StoreLayer::delete(self, name, opts)
    }
    fn list<'s, 'p, 'f>(&'s self, prefix: Option<&'p str>) -> Fut<'f, Vec<SecretName>>
    where
        's: 'f,
        'p: 'f,
        Self: 'f,
    {
        StoreLayer::list(self, prefix)
    }
    fn watch<'s, 'n, 'o, 'f>(
        &'s self,
        name: &'n SecretName,
        opts: &'o WatchOptions,
    ) -> Fut<'f, SecretWatch>
    where
        's: 'f,
        'n: 'f,
        'o: 'f,
        Self: 'f,
    {
        StoreLayer::watch(self, name, opts)
    }
}

// `Arc<dyn SecretStore>` forwards directly (not as a `StoreLayer`), so calling a method on it
// is never ambiguous, whatever traits are in scope.
impl<T: SecretStore + ?Sized> SecretStore for Arc<T> {
    fn info(&self) -> &StoreInfo {
        (**self).info()
    }
    fn try_read_local(&self, name: NameRef<'_>, opts: &ReadOptions) -> Option<Secret> {
        (**self).try_read_local(name, opts)
    }
    fn read<'s, 'n, 'o, 'f>(
        &'s self,
        name: &'n SecretName,
        opts: &'o ReadOptions,
    ) -> Fut<'f, Option<Secret>>
    where
        's: 'f,
        'n: 'f,
        'o: 'f,
        Self: 'f,
    {
        (**self).read(name, opts)
    }
    fn read_many<'s, 'n, 'o, 'f>(
        &'s self,
        names: &'n [SecretName],
        opts: &'o ReadOptions,
    ) -> Fut<'f, ReadManyResult>
    where
        's: 'f,
        'n: 'f,
        'o: 'f,
        Self: 'f,
    {
        (**self).read_many(names, opts)
    }
    fn write<'s, 'n, 'o, 'f>(
        &'s self,
        name: &'n SecretName,
        value: SecretValue,
        opts: &'o WriteOptions,
    ) -> Fut<'f, WriteOutcome>
    where
        's: 'f,
        'n: 'f,
        'o: 'f,
        Self: 'f,
    {
        (**self).write(name, value, opts)
    }
    fn delete<'s, 'n, 'o, 'f>(
        &'s self,
        name: &'n SecretName,
        opts: &'o DeleteOptions,
    ) -> Fut<'f, ()>
    where
        's: 'f,
        'n: 'f,
        'o: 'f,
        Self: 'f,
    {
        (**self).delete(name, opts)
    }
    fn list<'s, 'p, 'f>(&'s self, prefix: Option<&'p str>) -> Fut<'f, Vec<SecretName>>
    where
        's: 'f,
        'p: 'f,
        Self: 'f,
    {
        (**self).list(prefix)
    }
    fn watch<'s, 'n, 'o, 'f>(
        &'s self,
        name: &'n SecretName,
        opts: &'o WatchOptions,
    ) -> Fut<'f, SecretWatch>
    where
        's: 'f,
        'n: 'f,
        'o: 'f,
        Self: 'f,
    {
        (**self).watch(name, opts)
    }
}
