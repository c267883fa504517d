//! # strongroom-redis
//!
//! A shared [`SecretCache`](strongroom_core::SecretCache) on Redis and Redis Cluster that makes
//! a fleet of processes behave like one client: one backend read per fleet for a cold key,
//! invalidations in milliseconds, hits at memory speed with the near cache.
//!
//! * Entries — the value, its metadata, and the scope, name and variant they belong to — are
//!   sealed with core's AES-256-GCM [`KeyRing`](strongroom_core::seal::KeyRing) (HKDF-derived
//!   keys) before they leave the process, bound to their Redis key. Redis key names are keyed
//!   digests: reading Redis does not reveal which secrets exist.
//! * A write removes exactly the secret's cached variants (no `SCAN`), and a read that started
//!   before the write cannot store its old answer afterwards.
//! * Fleet-wide single-flight: a miss takes a short lease; the fleet waits for the holder's
//!   entry instead of calling the backend ([`RedisConfig::lease`]).
//! * Near cache ([`RedisConfig::near`]) invalidated fleet-wide through pub/sub (sharded on a
//!   cluster); no near copy is served while the subscription is down.
//! * Every round trip is bounded (default 250 ms); a dead Redis costs latency, not
//!   availability.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use strongroom_core::{CachePolicy, MemoryStore, SecretStoreExt};
//! use strongroom_core::seal::SealKey;
//! use strongroom_redis::RedisCacheBuilder;
//! # async fn demo() -> strongroom_core::Result<()> {
//! let cache = RedisCacheBuilder::new("redis://127.0.0.1:6379")
//!     .with_key(SealKey::from_base64(&std::env::var("STRONGROOM_REDIS_KEY").unwrap())?)
//!     .with_prefix("billing:")
//!     .with_near(true)
//!     .build()
//!     .await?;
//! let store = MemoryStore::new().with_cache(
//!     Arc::new(cache),
//!     CachePolicy::new("billing").ttl(Duration::from_secs(60)),
//! );
//! # let _ = store; Ok(()) }
//! ```
//!
//! See `docs/caching.md` for how the cache layer and this cache behave, and what each fleet
//! guarantee rests on.

#![warn(missing_docs)]

mod cache;
mod config;
mod conn;
mod error;
mod names;
mod pubsub;
mod scripts;
mod seal;
mod state;

pub use cache::RedisCache;
pub use config::{
    DEFAULT_HEARTBEAT, DEFAULT_LEASE_TTL, DEFAULT_LEASE_WAIT, DEFAULT_NEAR_CAPACITY,
    DEFAULT_PREFIX, DEFAULT_TIMEOUT, RedisCacheBuilder, RedisConfig,
};
pub use names::NameTag;
pub use state::{FleetEvent, FleetStats};

/// The sealing key (core's [`SealKey`](strongroom_core::seal::SealKey)), under the name
/// earlier versions of this crate used.
pub type EncryptionKey = strongroom_core::seal::SealKey;
