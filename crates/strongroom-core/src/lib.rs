//! # strongroom-core
//!
//! The contract every Strongroom secrets backend implements, and everything the backends share.
//!
//! * [`SecretName`], [`SecretValue`] (zeroized, redacted), [`Secret`] (value + metadata).
//! * [`SecretStore`]: `info` ([`StoreInfo`]) / `read` / `read_many` / `write` / `delete` /
//!   `list` / `watch`. A missing secret is `Ok(None)`.
//! * [`Error`] with an [`ErrorKind`] and [`Error::is_temporary`].
//! * Layers: [`AccessControlled`] ([`AccessMode`]), [`Prefixed`], [`Cached`] over any
//!   [`SecretCache`] ([`MemoryCache`] here, Redis in `strongroom-redis`); write your own with
//!   [`layer::StoreLayer`]. Watches ([`SecretWatch`]), refresh-ahead, statistics
//!   ([`CacheStats`]), rotation ([`SecretStoreExt::rotate`]).
//! * [`config`]: one configuration mechanism for every provider; [`provider`]: the kit
//!   provider crates are built from (HTTP path, token cache, batches, paging bounds);
//!   [`seal`]: values sealed at rest.
//! * [`Template`]: `${secret:<manager>/<name>[#field]}` placeholders, failing closed.
//! * Built-in stores: [`MemoryStore`], [`EnvStore`], [`FileStore`].
//!
//! ```
//! use std::sync::Arc;
//! use strongroom_core::*;
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = MemoryStore::new()
//!     .with_cache(Arc::new(MemoryCache::default()), CachePolicy::new("dev"))
//!     .with_prefix("litellm/")
//!     .with_access_mode(AccessMode::ReadAndWrite);
//! let name = SecretName::new("api-key").unwrap();
//! store.write(&name, "sk-123".into(), &WriteOptions::new()).await.unwrap();
//! let secret = store.read(&name, &ReadOptions::new()).await.unwrap().unwrap();
//! assert_eq!(secret.value.expose_str().unwrap(), "sk-123");
//! # });
//! ```

#![warn(missing_docs)]

mod cache;
mod clock;
pub mod config;
mod error;
mod layers;
mod name;
mod placeholder;
pub mod provider;
mod retry;
mod rotate;
pub mod seal;
mod secret;
mod stats;
mod store;
mod stores;
mod token;
mod util;
mod value;
mod watch;

pub use cache::{
    CacheEntry, CacheEntryInfo, CacheKey, CacheScope, Fill, KeyRef, MemoryCache, NameRef,
    SecretCache, Variant,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::HttpSetters;
pub use error::{Error, ErrorKind, Operation, Result};
/// Writing a layer: [`StoreLayer`](layer::StoreLayer) forwards every method a layer does not
/// override. Kept out of the prelude so its method names never clash with [`SecretStore`]'s.
pub mod layer {
    pub use crate::store::StoreLayer;
}
pub use layers::{
    AccessControlled, AccessMode, CachePolicy, Cached, DEFAULT_CACHE_TTL, Prefixed, SecretStoreExt,
};
pub use name::{MAX_NAME_LEN, SecretName, is_forbidden_char};
pub use placeholder::{Placeholder, PlaceholderResolver, Template, validate_manager_name};
pub use retry::RetryPolicy;
pub use rotate::{RotateStep, Rotation};
pub use secret::{Secret, SecretKind};
pub use stats::CacheStats;
pub use store::{
    Capabilities, DEFAULT_READ_MANY_CONCURRENCY, DeleteOptions, Identity, ReadManyResult,
    ReadOptions, SecretStore, StoreInfo, WriteOptions, WriteOutcome, dedupe,
};
pub use stores::{
    EnvStore, FILE_KEY_ENV, FileStore, MemoryStore, load_or_create_key_file, user_config_dir,
};
pub use token::{TemporaryToken, TokenCache, TokenLease};
pub use value::{SecretValue, WipedJson, wipe_json};
pub use watch::{SecretWatch, WatchOptions, WatchStatus};

/// Re-exported so downstream crates implement [`SecretStore`] with the same macro.
pub use async_trait::async_trait;
