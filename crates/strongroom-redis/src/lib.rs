//! # strongroom-redis
//!
//! A shared [`SecretCache`](strongroom_core::SecretCache) on Redis and Redis Cluster, for
//! fleets of processes that should share one cache instead of each asking the backend.
//!
//! * Entries — the value *and* its metadata (version, timestamps, `expires_at`, kind, content
//!   type, tags, `fresh_until`) — are sealed with AES-256-GCM before they leave the process.
//!   Each envelope is bound to its Redis key (associated data), so a value copied to another
//!   key does not open. A wrong key or a tampered entry is a cache miss plus a warning.
//! * Key rotation: one current key seals; previous keys still open (a key id byte in the
//!   envelope picks the key).
//! * TTL is Redis' own expiry (`SET … PX`); a key prefix separates applications; `clear()` and
//!   `delete_prefix()` use `SCAN` + `UNLINK` under that prefix only.
//! * Every round trip is bounded (default 250 ms). Errors are `ErrorKind::Cache`; the core
//!   `Cached` layer logs them and reads the backend, so a dead Redis costs latency, not
//!   availability. The connection reconnects by itself.
//! * `redis://` and `rediss://` (TLS), user name and password, Redis Cluster.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use strongroom_core::{CachePolicy, MemoryStore, SecretStoreExt};
//! use strongroom_redis::{EncryptionKey, RedisCacheBuilder};
//! # async fn demo() -> strongroom_core::Result<()> {
//! let cache = RedisCacheBuilder::new("redis://127.0.0.1:6379")
//!     .with_key(EncryptionKey::from_base64(&std::env::var("STRONGROOM_REDIS_KEY").unwrap())?)
//!     .with_prefix("billing:")
//!     .build()
//!     .await?;
//! let store = MemoryStore::new().with_cache(
//!     Arc::new(cache),
//!     CachePolicy::new("billing").ttl(Duration::from_secs(60)),
//! );
//! # let _ = store; Ok(()) }
//! ```
//!
//! See `docs/caching.md` in the repository for how the cache layer and this cache behave.

#![warn(missing_docs)]

mod cache;
mod config;
mod conn;
mod error;
mod seal;

pub use cache::RedisCache;
pub use config::{DEFAULT_PREFIX, DEFAULT_TIMEOUT, RedisCacheBuilder};
pub use seal::EncryptionKey;
