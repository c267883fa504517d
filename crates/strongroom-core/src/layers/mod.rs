//! Layers that wrap a [`SecretStore`](crate::SecretStore): access policy, name prefix, cache.
//!
//! The usual order, outermost first: access policy → prefix → cache → backend, so a refused
//! operation costs nothing and cache keys carry the full (prefixed) name.

mod access;
pub(crate) mod cached;
mod prefix;

pub use access::{AccessControlled, AccessMode};
pub use cached::{CachePolicy, Cached, DEFAULT_CACHE_TTL};
pub use prefix::Prefixed;

use std::future::Future;
use std::sync::Arc;

use crate::cache::SecretCache;
use crate::error::Result;
use crate::name::SecretName;
use crate::rotate::Rotation;
use crate::store::{SecretStore, WriteOptions};
use crate::value::SecretValue;

/// Builder-style composition of layers.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use strongroom_core::{AccessMode, CachePolicy, MemoryCache, MemoryStore, SecretStoreExt};
/// let store = MemoryStore::new()
///     .with_cache(Arc::new(MemoryCache::new(1000)), CachePolicy::new("dev").ttl(Duration::from_secs(60)))
///     .with_prefix("litellm")
///     .with_access_mode(AccessMode::ReadOnly);
/// # let _ = store;
/// ```
pub trait SecretStoreExt: SecretStore {
    /// Refuses operations the mode does not allow, before any I/O.
    fn with_access_mode(self, mode: AccessMode) -> AccessControlled<Self>
    where
        Self: Sized,
    {
        AccessControlled::new(self, mode)
    }

    /// Puts `prefix` (plus a `/` when it lacks one) in front of every name.
    fn with_prefix(self, prefix: &str) -> Prefixed<Self>
    where
        Self: Sized,
    {
        Prefixed::new(self, prefix)
    }

    /// Read-through cache with single-flight, TTL and invalidation on writes.
    fn with_cache(self, cache: Arc<dyn SecretCache>, policy: CachePolicy) -> Cached<Self>
    where
        Self: Sized + 'static,
    {
        Cached::new(self, cache, policy)
    }

    /// Rotates `old` to `new` with `value`, as LiteLLM does, safe under failure: reads `old`
    /// (it must exist), writes `new`, reads it back past every cache, and only then deletes
    /// `old` (7-day recovery window where the backend has one). A failure at any step leaves
    /// `old` readable and the error names the step; where the backend cannot delete, `old`
    /// stays and the result says why. `new == old` is an overwrite, checked the same way.
    ///
    /// ```
    /// use strongroom_core::*;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// let (old, new) = (SecretName::new("key-1").unwrap(), SecretName::new("key-2").unwrap());
    /// store.write(&old, "v1".into(), &WriteOptions::new()).await.unwrap();
    /// let done = store.rotate(&old, &new, "v2".into(), &WriteOptions::new()).await.unwrap();
    /// assert!(done.old_deleted);
    /// assert!(store.read(&old, &ReadOptions::new()).await.unwrap().is_none());
    /// # });
    /// ```
    fn rotate<'a>(
        &'a self,
        old: &'a SecretName,
        new: &'a SecretName,
        value: SecretValue,
        opts: &'a WriteOptions,
    ) -> impl Future<Output = Result<Rotation>> + Send + 'a {
        crate::rotate::rotate(self, old, new, value, opts)
    }
}

impl<S: SecretStore + ?Sized> SecretStoreExt for S {}
