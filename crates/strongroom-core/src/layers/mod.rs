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

use std::sync::Arc;

use crate::cache::SecretCache;
use crate::store::SecretStore;

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
}

impl<S: SecretStore + ?Sized> SecretStoreExt for S {}
