//! [`RedisCache`]: `impl SecretCache` on Redis / Redis Cluster.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use strongroom_core::{CacheEntry, CacheEntryInfo, CacheKey, Result, SecretCache};

use crate::conn::{Conn, glob_escape};
use crate::error::timed;
use crate::seal::{FRESH_RANGE, Keyring, fresh_until_from_range};

/// How many keys one UNLINK removes.
const UNLINK_BATCH: usize = 500;
/// How many `GETRANGE`s `entries()` keeps in flight.
const ENTRIES_CONCURRENCY: usize = 64;

/// A shared [`SecretCache`] on Redis or Redis Cluster.
///
/// * Entries (value and metadata) are sealed with AES-256-GCM before they leave the process,
///   bound to their Redis key; a wrong key, a tampered entry or an entry copied to another key
///   is a miss and a warning, never garbage.
/// * The TTL is Redis' own expiry (`SET … PX`).
/// * Every key starts with the configured prefix; `clear()` and `delete_prefix()` remove only
///   keys under it (`SCAN` + `UNLINK`, never `FLUSHDB`).
/// * Every Redis round trip is bounded by the timeout (default 250 ms); errors are
///   [`ErrorKind::Cache`](strongroom_core::ErrorKind::Cache), which the `Cached` layer logs and
///   answers from the backend.
///
/// Cheap to clone (clones share the connection).
///
/// ```no_run
/// use std::sync::Arc;
/// use strongroom_core::{CachePolicy, MemoryStore, SecretStoreExt};
/// use strongroom_redis::RedisCacheBuilder;
/// # async fn demo() -> strongroom_core::Result<()> {
/// // STRONGROOM_REDIS_URL, STRONGROOM_REDIS_KEY, ... from the environment.
/// let cache = RedisCacheBuilder::from_env().build().await?;
/// let store = MemoryStore::new().with_cache(Arc::new(cache), CachePolicy::new("dev"));
/// # let _ = store; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCache {
    conn: Conn,
    keys: Arc<Keyring>,
    prefix: Arc<str>,
    timeout: Duration,
    endpoint: Arc<str>,
}

impl RedisCache {
    pub(crate) fn new(
        conn: Conn,
        keys: Keyring,
        prefix: String,
        timeout: Duration,
        endpoint: String,
    ) -> Self {
        RedisCache {
            conn,
            keys: Arc::new(keys),
            prefix: prefix.into(),
            timeout,
            endpoint: endpoint.into(),
        }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether this cache talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// The Redis key an entry is stored under: prefix + the encoded [`CacheKey`].
    pub fn redis_key(&self, key: &CacheKey) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + key.as_str().len());
        k.extend_from_slice(self.prefix.as_bytes());
        k.extend_from_slice(key.as_str().as_bytes());
        k
    }

    /// Sends `PING` (within the timeout): whether Redis answers right now.
    pub async fn ping(&self) -> Result<()> {
        let _: String = timed("ping", self.timeout, self.conn.query(&redis::cmd("PING"))).await?;
        Ok(())
    }

    async fn unlink_matching(&self, rest: &str) -> Result<()> {
        let mut full = Vec::with_capacity(self.prefix.len() + rest.len());
        full.extend_from_slice(self.prefix.as_bytes());
        full.extend_from_slice(rest.as_bytes());
        let mut pattern = glob_escape(&full);
        pattern.push(b'*');
        let keys = self.conn.scan(&pattern, self.timeout).await?;
        let keys: Vec<Vec<u8>> = keys.into_iter().filter(|k| k.starts_with(&full)).collect();
        for chunk in keys.chunks(UNLINK_BATCH) {
            let mut cmd = redis::cmd("UNLINK");
            for k in chunk {
                cmd.arg(k);
            }
            let _: i64 = timed("unlink", self.timeout, self.conn.query(&cmd)).await?;
        }
        Ok(())
    }
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("endpoint", &self.endpoint)
            .field("cluster", &self.conn.is_cluster())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SecretCache for RedisCache {
    async fn get(&self, key: &CacheKey) -> Result<Option<CacheEntry>> {
        let rk = self.redis_key(key);
        let mut cmd = redis::cmd("GET");
        cmd.arg(&rk);
        let got: Option<Vec<u8>> = timed("get", self.timeout, self.conn.query(&cmd))
            .await
            .map_err(|e| e.with_name(key.display_name()))?;
        let Some(envelope) = got else {
            return Ok(None);
        };
        match self.keys.open(&rk, envelope) {
            Ok(entry) => Ok(Some(entry)),
            Err(why) => {
                tracing::warn!(
                    entry = %key.display_name(),
                    reason = %why,
                    "redis cache entry did not open; treating it as a miss"
                );
                Ok(None)
            }
        }
    }

    async fn set(&self, key: &CacheKey, entry: CacheEntry, ttl: Duration) -> Result<()> {
        if ttl.is_zero() {
            return self.delete(key).await;
        }
        let rk = self.redis_key(key);
        let sealed = self
            .keys
            .seal(&rk, &entry)
            .map_err(|e| e.with_name(key.display_name()))?;
        drop(entry);
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&rk).arg(sealed).arg("PX").arg(millis);
        let _: () = timed("set", self.timeout, self.conn.query(&cmd))
            .await
            .map_err(|e| e.with_name(key.display_name()))?;
        Ok(())
    }

    async fn delete(&self, key: &CacheKey) -> Result<()> {
        let mut cmd = redis::cmd("UNLINK");
        cmd.arg(self.redis_key(key));
        let _: i64 = timed("unlink", self.timeout, self.conn.query(&cmd))
            .await
            .map_err(|e| e.with_name(key.display_name()))?;
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        self.unlink_matching(prefix).await
    }

    async fn clear(&self) -> Result<()> {
        self.unlink_matching("").await
    }

    async fn entries(&self) -> Result<Vec<CacheEntryInfo>> {
        let mut pattern = glob_escape(self.prefix.as_bytes());
        pattern.push(b'*');
        let keys = self.conn.scan(&pattern, self.timeout).await?;
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(ENTRIES_CONCURRENCY) {
            // Only the clear-text fresh_until bytes of the envelope header leave Redis.
            let lookups = chunk.iter().map(|rk| async move {
                let mut cmd = redis::cmd("GETRANGE");
                cmd.arg(rk).arg(FRESH_RANGE.0).arg(FRESH_RANGE.1);
                let bytes: Vec<u8> = timed("getrange", self.timeout, self.conn.query(&cmd)).await?;
                Ok::<_, strongroom_core::Error>((rk, bytes))
            });
            for got in futures_util::future::join_all(lookups).await {
                let (rk, bytes) = got?;
                let Some(encoded) = rk.strip_prefix(self.prefix.as_bytes()) else {
                    continue;
                };
                let (Ok(encoded), Some(fresh_until)) =
                    (std::str::from_utf8(encoded), fresh_until_from_range(&bytes))
                else {
                    continue; // expired meanwhile, or not ours
                };
                out.push(CacheEntryInfo::new(
                    &CacheKey::from_encoded(encoded),
                    fresh_until,
                ));
            }
        }
        out.sort_by(|a, b| a.display.cmp(&b.display));
        Ok(out)
    }
}
