//! The [`SecretStore`] contract every backend implements.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;

use crate::error::Result;
use crate::name::SecretName;
use crate::secret::Secret;
use crate::value::SecretValue;

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

/// A secrets backend.
///
/// Object-safe and `Send + Sync`; used as `Arc<dyn SecretStore>`. A missing secret is
/// `Ok(None)` on read — never an error and never an empty string.
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
    /// A short label for errors and logs (`"conjur"`, `"hcp-vault"`, `"memory"`, …).
    fn provider(&self) -> &'static str;

    /// What this store can do.
    fn capabilities(&self) -> Capabilities;

    /// Identifies the backend object space (address, namespace, mount …) so cache keys of
    /// different backends never collide. Layers pass it through.
    fn cache_address(&self) -> String {
        String::new()
    }

    /// Answers a read from an in-process cache without I/O, when a layer below has a fresh
    /// entry; `None` means "call [`SecretStore::read`]". Layers forward it, so a cache hit
    /// through a whole stack costs one future instead of one per layer. Stores without a local
    /// cache keep the default.
    fn try_read_local(&self, _name: &SecretName, _opts: &ReadOptions) -> Option<Secret> {
        None
    }

    /// Reads a secret. `Ok(None)` when it does not exist.
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>>;

    /// Reads several secrets. The default removes duplicates and runs single reads with bounded
    /// concurrency; providers with a batch call override it.
    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        let unique = dedupe(names);
        let results: Vec<Result<(SecretName, Option<Secret>)>> =
            futures_util::stream::iter(unique.into_iter().map(|name| async move {
                let secret = self.read(&name, opts).await?;
                Ok((name, secret))
            }))
            .buffered(DEFAULT_READ_MANY_CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect()
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

    /// Invalidates cached entries for `name` (a no-op for stores without a cache layer).
    async fn invalidate(&self, _name: Option<&SecretName>) -> Result<()> {
        Ok(())
    }

    /// A suggested cache TTL from the provider's own configuration (e.g. Vault's
    /// `HCP_VAULT_REFRESH_INTERVAL`), used when a cache policy sets none.
    fn default_cache_ttl(&self) -> Option<Duration> {
        None
    }
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

macro_rules! forward_store {
    ($ty:ty) => {
        #[async_trait]
        impl<T: SecretStore + ?Sized> SecretStore for $ty {
            fn provider(&self) -> &'static str {
                (**self).provider()
            }
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            fn cache_address(&self) -> String {
                (**self).cache_address()
            }
            fn try_read_local(&self, name: &SecretName, opts: &ReadOptions) -> Option<Secret> {
                (**self).try_read_local(name, opts)
            }
            async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
                (**self).read(name, opts).await
            }
            async fn read_many(
                &self,
                names: &[SecretName],
                opts: &ReadOptions,
            ) -> Result<ReadManyResult> {
                (**self).read_many(names, opts).await
            }
            async fn write(
                &self,
                name: &SecretName,
                value: SecretValue,
                opts: &WriteOptions,
            ) -> Result<WriteOutcome> {
                (**self).write(name, value, opts).await
            }
            async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
                (**self).delete(name, opts).await
            }
            async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
                (**self).list(prefix).await
            }
            async fn invalidate(&self, name: Option<&SecretName>) -> Result<()> {
                (**self).invalidate(name).await
            }
            fn default_cache_ttl(&self) -> Option<Duration> {
                (**self).default_cache_ttl()
            }
        }
    };
}

forward_store!(Arc<T>);
forward_store!(Box<T>);
