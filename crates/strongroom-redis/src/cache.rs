//! [`RedisCache`]: `impl SecretCache` on Redis / Redis Cluster, with fleet-wide single-flight
//! (fill leases) and an optional near cache invalidated through pub/sub.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use strongroom_core::seal::KeyRing;
use strongroom_core::{
    CacheEntry, CacheEntryInfo, CacheKey, CacheScope, Fill, KeyRef, Result, SecretCache, SecretName,
};
use tokio::sync::{broadcast, watch};

use crate::config::{Built, RedisConfig};
use crate::conn::{Conn, Target, glob_escape};
use crate::error::timed;
use crate::names::{NameTag, Namespace, Tags, hex, is_entry_key};
use crate::pubsub::{self, Message};
use crate::scripts;
use crate::seal::{self, NONCE_AT, fill_id};
use crate::state::{FleetEvent, FleetStats, State, incr};

/// How many keys one UNLINK removes.
const UNLINK_BATCH: usize = 500;
/// How many `GET`s `entries()` keeps in flight.
const ENTRIES_CONCURRENCY: usize = 64;
/// How many times one `get` looks, while this process keeps taking new fills of the key
/// during its looks.
const LATE_LOOKS: usize = 3;

/// A shared [`SecretCache`] on Redis or Redis Cluster, for fleets of processes.
///
/// * **Sealed.** Each entry — value, metadata, and the scope, name and variant it belongs to
///   — is sealed with core's AES-256-GCM [`KeyRing`] before it leaves the process, bound to
///   its Redis key. A wrong key, a tampered entry or one copied to another key is a miss and a
///   warning, never garbage.
/// * **Names hidden.** Redis keys are `prefix + scope digest + name digest + variant digest`
///   (keyed HMAC), so reading Redis does not reveal which secrets exist.
/// * **Invalidation without scans.** Each secret keeps the set of its variant keys; a write
///   removes exactly those, atomically, and moves the secret's generation so a read that
///   started before the write cannot store its (old) answer.
/// * **Fleet-wide single-flight** (`lease`, on by default). A miss takes a short lease on the
///   key; the other processes wait for the holder's entry (woken by pub/sub, with a bounded
///   poll as fallback), a dead holder's lease expires after `lease_ttl`, and a waiter past
///   `lease_wait` reads the backend itself.
/// * **Near cache** (`near`). Hits answered in process at memory speed; every write, delete
///   and new value anywhere drops the copies fleet-wide through pub/sub (sharded on a
///   cluster), and while the subscription is down no near copy is served.
/// * Every Redis round trip is bounded by `timeout`; errors are
///   [`ErrorKind::Cache`](strongroom_core::ErrorKind::Cache), which the `Cached` layer logs
///   and answers from the backend.
///
/// Cheap to clone (clones share connections and state); background tasks stop when the last
/// clone is dropped.
///
/// ```no_run
/// use std::sync::Arc;
/// use strongroom_core::{CachePolicy, MemoryStore, SecretStoreExt};
/// use strongroom_redis::RedisCacheBuilder;
/// # async fn demo() -> strongroom_core::Result<()> {
/// // STRONGROOM_REDIS_URL, STRONGROOM_REDIS_KEY, ... from the environment.
/// let cache = RedisCacheBuilder::from_env()?.build().await?;
/// let store = MemoryStore::new().with_cache(Arc::new(cache), CachePolicy::new("dev"));
/// # let _ = store; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCache {
    inner: Arc<Inner>,
}

struct LeaseSettings {
    ttl: Duration,
    wait: Duration,
    poll: Duration,
}

struct Held {
    tags: Tags,
    lease_key: Vec<u8>,
    token: String,
    renew: tokio::task::AbortHandle,
}

struct Inner {
    conn: Conn,
    ring: KeyRing,
    /// One namespace per ring key; `[0]` is the current key's.
    spaces: Vec<Namespace>,
    prefix: Arc<str>,
    timeout: Duration,
    endpoint: String,
    cluster: bool,
    channels: Vec<Vec<u8>>,
    lease: Option<LeaseSettings>,
    state: Arc<State>,
    leases: Mutex<HashMap<u64, Held>>,
    next_lease: AtomicU64,
    /// Lease renewals hold a weak reference: a dropped cache stops renewing, like a dead
    /// process.
    alive: Arc<()>,
    /// Dropped with the cache: the subscriber task sees it and stops.
    _stop: Option<watch::Sender<()>>,
}

impl RedisCache {
    pub(crate) fn new(config: RedisConfig, built: Built, ring: KeyRing) -> Result<RedisCache> {
        let conn = Conn::open(&built.target, &built.settings)?;
        let prefix: Arc<str> = config.prefix.as_str().into();
        let cluster = matches!(built.target, Target::Cluster(_));
        let channels = pubsub::channels(&prefix, cluster);
        let subscribed = config.near || config.lease;
        let state = Arc::new(State::new(
            rand::random(),
            config.near.then_some(config.near_capacity),
            subscribed,
        ));
        let stop = subscribed.then(|| {
            let (tx, rx) = watch::channel(());
            tokio::spawn(pubsub::run(
                Arc::clone(&state),
                built.target.clone(),
                Arc::clone(&built.settings),
                channels.clone(),
                config.heartbeat,
                rx,
            ));
            tx
        });
        let spaces = built
            .keys
            .iter()
            .map(|k| Namespace::new(k.clone(), Arc::clone(&prefix)))
            .collect();
        Ok(RedisCache {
            inner: Arc::new(Inner {
                conn,
                ring,
                spaces,
                prefix,
                timeout: config.timeout,
                endpoint: built.endpoint,
                cluster,
                channels,
                lease: config.lease.then(|| LeaseSettings {
                    ttl: config.lease_ttl,
                    wait: config.lease_wait,
                    poll: (config.lease_ttl / 4)
                        .clamp(Duration::from_millis(10), Duration::from_millis(500)),
                }),
                state,
                leases: Mutex::default(),
                next_lease: AtomicU64::new(1),
                alive: Arc::new(()),
                _stop: stop,
            }),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Whether this cache talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.cluster
    }

    /// Whether fleet-wide single-flight is on.
    pub fn has_lease(&self) -> bool {
        self.inner.lease.is_some()
    }

    /// Whether the near cache is on.
    pub fn has_near(&self) -> bool {
        self.inner.state.near.is_some()
    }

    /// Whether the invalidation subscription is up right now (near copies are served only
    /// then).
    pub fn subscription_live(&self) -> bool {
        self.inner.state.is_live()
    }

    /// What the fleet machinery has done so far.
    pub fn fleet_stats(&self) -> FleetStats {
        self.inner.state.stats()
    }

    /// Follows the fleet machinery: subscription up/down, invalidations that reached this
    /// process. A receiver that falls more than 1024 events behind skips ahead.
    pub fn events(&self) -> broadcast::Receiver<FleetEvent> {
        self.inner.state.events()
    }

    /// The digest a secret is known by in Redis keys and fleet messages (current key).
    pub fn name_tag(&self, scope: CacheScope, name: &SecretName) -> NameTag {
        self.inner.spaces[0].name_tag(scope, name.as_str())
    }

    /// The Redis key the entry of `key` is stored under (current key's namespace): the
    /// prefix and digests only.
    pub fn redis_key(&self, key: &CacheKey) -> Vec<u8> {
        let ns = self.current();
        ns.entry_key(&ns.tags(key))
    }

    /// Sends `PING` (within the timeout): whether Redis answers right now.
    pub async fn ping(&self) -> Result<()> {
        let _: String = timed(
            "ping",
            self.inner.timeout,
            self.inner.conn.query(&redis::cmd("PING")),
        )
        .await?;
        Ok(())
    }

    fn current(&self) -> &Namespace {
        &self.inner.spaces[0]
    }

    /// Sends `SPUBLISH` on a cluster (on a single server the scripts publish themselves).
    async fn spublish(&self, tag: &NameTag, message: Message<'_>) {
        if !self.inner.cluster || !self.inner.state.subscribed {
            return;
        }
        let mut cmd = redis::cmd("SPUBLISH");
        cmd.arg(pubsub::channel_for(&self.inner.channels, tag))
            .arg(message.encode(self.inner.state.origin));
        if let Err(e) =
            timed::<i64, _>("spublish", self.inner.timeout, self.inner.conn.query(&cmd)).await
        {
            tracing::warn!(error = %e, "redis cache: publishing a fleet message failed; other processes fall back to their TTL and polls");
        }
    }

    /// The channel and message a script publishes on a single server (`""` on a cluster).
    fn in_script(&self, tag: &NameTag, message: Message<'_>) -> (Vec<u8>, Vec<u8>) {
        if self.inner.cluster || !self.inner.state.subscribed {
            return (Vec::new(), Vec::new());
        }
        (
            pubsub::channel_for(&self.inner.channels, tag).to_vec(),
            message.encode(self.inner.state.origin),
        )
    }

    async fn unlink_matching(&self, pattern: Vec<u8>) -> Result<()> {
        let keys = self.inner.conn.scan(&pattern, self.inner.timeout).await?;
        for chunk in keys.chunks(UNLINK_BATCH) {
            let mut cmd = redis::cmd("UNLINK");
            for k in chunk {
                cmd.arg(k);
            }
            let _: i64 = timed("unlink", self.inner.timeout, self.inner.conn.query(&cmd)).await?;
        }
        Ok(())
    }

    /// Opens what Redis holds at `redis_key`; a value that does not open is a warning and a
    /// miss.
    fn open(&self, redis_key: &[u8], value: &[u8], key: &CacheKey) -> Option<CacheEntry> {
        match seal::open(&self.inner.ring, redis_key, value) {
            Ok(opened) if opened.is_for(key) => Some(opened.entry),
            Ok(_) => {
                tracing::warn!(entry = %key.display_name(), "redis cache entry belongs to another key; treating it as a miss");
                None
            }
            Err(why) => {
                tracing::warn!(entry = %key.display_name(), reason = %why, "redis cache entry did not open; treating it as a miss");
                None
            }
        }
    }

    /// One look in Redis: the current key's namespace, then older keys' (the entry found is
    /// kept near when nothing moved meanwhile).
    async fn look(&self, key: &CacheKey, tags: &Tags) -> Result<Option<CacheEntry>> {
        let state = &self.inner.state;
        let before = state.snapshot(&tags.name);
        for (i, ns) in self.inner.spaces.iter().enumerate() {
            let ns_tags = if i == 0 { *tags } else { ns.tags(key) };
            let rk = ns.entry_key(&ns_tags);
            let mut cmd = redis::cmd("GET");
            cmd.arg(&rk);
            let got: Option<Vec<u8>> =
                timed("get", self.inner.timeout, self.inner.conn.query(&cmd))
                    .await
                    .map_err(|e| e.with_name(key.display_name()))?;
            let Some(value) = got else { continue };
            let value = zeroize::Zeroizing::new(value);
            let Some(entry) = self.open(&rk, &value, key) else {
                return Ok(None);
            };
            if i == 0
                && let Some(fill) = fill_id(&value)
            {
                state.saw(tags.id(), fill);
            }
            state.near_put(key, tags, &entry, before).await;
            return Ok(Some(entry));
        }
        Ok(None)
    }

    /// Renews the lease taken at `taken` every third of its time while the holder reads.
    fn start_renewal(
        &self,
        lease_key: Vec<u8>,
        token: String,
        taken: tokio::time::Instant,
    ) -> tokio::task::AbortHandle {
        let lease = self.inner.lease.as_ref().expect("lease on");
        let (conn, ttl, wait, timeout) = (
            self.inner.conn.clone(),
            lease.ttl,
            lease.wait,
            self.inner.timeout,
        );
        let alive = Arc::downgrade(&self.inner.alive);
        tokio::spawn(async move {
            // Counted from when the lease was taken, not from this task's first poll: a
            // renewal that starts late renews at once.
            let mut every = tokio::time::interval_at(taken + ttl / 3, ttl / 3);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Renew while the holder reads, but never past the wait bound: by then the
            // others read alone anyway, and a holder whose future was dropped must not keep
            // the lease forever.
            while taken.elapsed() < wait {
                every.tick().await;
                if alive.strong_count() == 0 {
                    return;
                }
                let mut inv = scripts::RENEW.key(&lease_key);
                inv.arg(&token).arg(ttl.as_millis() as u64);
                // 0: the lease is no longer ours (expired and taken over): stop.
                if let Ok(0) = timed::<i64, _>("renew", timeout, conn.script(&inv)).await {
                    return;
                }
            }
        })
        .abort_handle()
    }
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("endpoint", &self.inner.endpoint)
            .field("cluster", &self.inner.cluster)
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .field("keys", &self.inner.spaces.len())
            .field("lease", &self.inner.lease.is_some())
            .field("near", &self.inner.state.near.is_some())
            .finish_non_exhaustive()
    }
}

/// Whether an entry found at fill time may answer the miss: fresh, and stored recently (within
/// `recent`) — a fill that just happened, not an old entry this process never looked at (a
/// forced refresh must not be answered by one).
fn usable_fill(entry: &CacheEntry, recent: Duration) -> bool {
    let now = SystemTime::now();
    now < entry.fresh_until && !entry.secret.is_expired(now) && now < entry.stored_at + recent
}

#[async_trait]
impl SecretCache for RedisCache {
    fn try_get_local(&self, key: &KeyRef<'_>) -> Option<Option<CacheEntry>> {
        self.inner.state.near_get(key).map(Some)
    }

    async fn get(&self, key: &CacheKey) -> Result<Option<CacheEntry>> {
        let state = &self.inner.state;
        if let Some(entry) = state.near_get_key(key) {
            return Ok(Some(entry));
        }
        let tags = self.current().tags(key);
        let id = tags.id();
        for _ in 0..LATE_LOOKS {
            let seen = state.seen(&id);
            let found = self.look(key, &tags).await?;
            // A miss answered before a fill this process has taken since is stale: on a busy
            // machine the task that sent the GET may run only after another task's flight of
            // this key has ended with that fill. Returned as a miss, it would start a new
            // flight, whose lease request skips the fill this process has already seen: a
            // second backend read for the fleet. Look again.
            if found.is_some() || state.seen(&id) == seen {
                return Ok(found);
            }
        }
        Ok(None)
    }

    async fn set(&self, key: &CacheKey, entry: CacheEntry, ttl: Duration) -> Result<()> {
        let state = &self.inner.state;
        let ns = self.current();
        let tags = ns.tags(key);
        let rk = ns.entry_key(&tags);
        if ttl.is_zero() {
            let mut cmd = redis::cmd("UNLINK");
            cmd.arg(&rk);
            let _: i64 = timed("unlink", self.inner.timeout, self.inner.conn.query(&cmd))
                .await
                .map_err(|e| e.with_name(key.display_name()))?;
            return Ok(());
        }
        let value = seal::seal(&self.inner.ring, &rk, key, &entry);
        let expected = state
            .expected(&tags.id())
            .map_or_else(|| b"*".to_vec(), |g| g.into_vec());
        let (channel, message) = self.in_script(&tags.name, Message::Stored(&tags));
        let before = state.snapshot(&tags.name);
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut inv = scripts::STORE.key(&rk);
        inv.key(ns.generation_key(&tags))
            .key(ns.index_key(&tags))
            .arg(&value)
            .arg(millis)
            .arg(expected)
            .arg(hex(&tags.variant))
            .arg(channel)
            .arg(message);
        let stored: i64 = timed("set", self.inner.timeout, self.inner.conn.script(&inv))
            .await
            .map_err(|e| e.with_name(key.display_name()))?;
        if stored == 1 {
            if let Some(fill) = fill_id(&value) {
                state.saw(tags.id(), fill);
            }
            state.near_put(key, &tags, &entry, before).await;
            state.mark_filled(tags.id());
            state.wake(&tags.id());
            self.spublish(&tags.name, Message::Stored(&tags)).await;
        } else {
            incr(&state.counters.refused);
            tracing::debug!(entry = %key.display_name(), "not cached: the secret was invalidated while it was read");
        }
        Ok(())
    }

    async fn invalidate(&self, scope: CacheScope, name: &SecretName) -> Result<()> {
        let state = &self.inner.state;
        let tags: Vec<NameTag> = self
            .inner
            .spaces
            .iter()
            .map(|ns| ns.name_tag(scope, name.as_str()))
            .collect();
        state.invalidated(&tags[..1]).await;
        let mut failure = None;
        for (i, ns) in self.inner.spaces.iter().enumerate() {
            let base = ns.base(&ns.scope_tag(scope), tags[i]);
            let (channel, message) = if i == 0 {
                self.in_script(&tags[0], Message::Invalidated(&tags))
            } else {
                (Vec::new(), Vec::new())
            };
            let mut index = base.clone();
            index.push(b'i');
            let mut generation = base.clone();
            generation.push(b'g');
            let mut inv = scripts::INVALIDATE.key(index);
            inv.key(generation)
                .arg(hex(&rand::random::<[u8; 16]>()))
                .arg(&base)
                .arg(channel)
                .arg(message);
            if let Err(e) = timed::<i64, _>(
                "invalidate",
                self.inner.timeout,
                self.inner.conn.script(&inv),
            )
            .await
            {
                failure = Some(e.with_name(
                    CacheKey::new(scope, name, &strongroom_core::ReadOptions::new()).display_name(),
                ));
            }
        }
        self.spublish(&tags[0], Message::Invalidated(&tags)).await;
        state.bump(&tags[0]);
        failure.map_or(Ok(()), Err)
    }

    async fn clear(&self, scope: Option<CacheScope>) -> Result<()> {
        let state = &self.inner.state;
        state.cleared().await;
        let patterns: Vec<Vec<u8>> = match scope {
            Some(scope) => self
                .inner
                .spaces
                .iter()
                .map(|ns| {
                    let mut p = glob_escape(&ns.scope_prefix(scope));
                    p.push(b'*');
                    p
                })
                .collect(),
            None => {
                let mut p = glob_escape(self.inner.prefix.as_bytes());
                p.push(b'*');
                vec![p]
            }
        };
        for pattern in patterns {
            self.unlink_matching(pattern).await?;
        }
        if state.subscribed {
            let mut cmd = redis::cmd(if self.inner.cluster {
                "SPUBLISH"
            } else {
                "PUBLISH"
            });
            cmd.arg(&self.inner.channels[0])
                .arg(Message::Cleared.encode(state.origin));
            if let Err(e) =
                timed::<i64, _>("publish", self.inner.timeout, self.inner.conn.query(&cmd)).await
            {
                tracing::warn!(error = %e, "redis cache: publishing a clear failed");
            }
        }
        state.cleared().await;
        Ok(())
    }

    async fn entries(&self) -> Result<Vec<CacheEntryInfo>> {
        let mut pattern = glob_escape(self.inner.prefix.as_bytes());
        pattern.push(b'*');
        let keys: Vec<Vec<u8>> = self
            .inner
            .conn
            .scan(&pattern, self.inner.timeout)
            .await?
            .into_iter()
            .filter(|k| is_entry_key(&self.inner.prefix, k))
            .collect();
        let now = SystemTime::now();
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(ENTRIES_CONCURRENCY) {
            let lookups = chunk.iter().map(|rk| async move {
                let mut cmd = redis::cmd("GET");
                cmd.arg(rk);
                let value: Option<Vec<u8>> =
                    timed("get", self.inner.timeout, self.inner.conn.query(&cmd)).await?;
                Ok::<_, strongroom_core::Error>((rk, value.map(zeroize::Zeroizing::new)))
            });
            for got in futures_util::future::join_all(lookups).await {
                let (rk, value) = got?;
                let Some(value) = value else { continue }; // expired meanwhile
                // Names come from inside the sealed entries: Redis holds only digests.
                match seal::open(&self.inner.ring, rk, &value) {
                    Ok(o) if o.entry.keep_until > now => {
                        let key = CacheKey::new(o.scope, &o.name, &o.opts);
                        out.push(CacheEntryInfo::new(&key, o.entry.fresh_until));
                    }
                    Ok(_) => {}
                    Err(why) => {
                        tracing::warn!(reason = %why, "redis cache entry did not open; not listed")
                    }
                }
            }
        }
        out.sort_by(|a, b| a.display.cmp(&b.display));
        Ok(out)
    }

    fn generation(&self, scope: CacheScope, name: &SecretName) -> u64 {
        self.inner
            .state
            .generation(&self.current().name_tag(scope, name.as_str()))
    }

    async fn begin_fill(&self, key: &CacheKey) -> Fill {
        let Some(lease) = &self.inner.lease else {
            return Fill::Alone;
        };
        let state = &self.inner.state;
        let ns = self.current();
        let tags = ns.tags(key);
        let id = tags.id();
        let (rk, lk, gk) = (
            ns.entry_key(&tags),
            ns.lease_key(&tags),
            ns.generation_key(&tags),
        );
        let token = hex(&rand::random::<[u8; 16]>());
        let waiter = state.waiter(id);
        let deadline = tokio::time::Instant::now() + lease.wait;
        let mut seen = state.seen(&id).map(|f| f.to_vec()).unwrap_or_default();
        let mut waited = false;
        let outcome = loop {
            // Registered before looking, so a wake between the look and the wait is kept.
            let notified = waiter.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let before = state.snapshot(&tags.name);
            // A lease taken by this call runs from (at the latest) now.
            let asked = tokio::time::Instant::now();
            let mut inv = scripts::BEGIN.key(&rk);
            inv.key(&lk)
                .key(&gk)
                .arg(&token)
                .arg(lease.ttl.as_millis() as u64)
                .arg(&seen)
                .arg(NONCE_AT);
            let reply: Result<(i64, Vec<u8>, Vec<u8>)> =
                timed("lease", self.inner.timeout, self.inner.conn.script(&inv)).await;
            let (status, value, generation) = match reply {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "redis cache: cannot coordinate the fill; reading the backend");
                    incr(&state.counters.alone);
                    break Fill::Alone;
                }
            };
            match status {
                2 => {
                    let value = zeroize::Zeroizing::new(value);
                    match self.open(&rk, &value, key) {
                        Some(entry) if usable_fill(&entry, lease.wait + lease.ttl) => {
                            if let Some(fill) = fill_id(&value) {
                                state.saw(id, fill);
                            }
                            state.near_put(key, &tags, &entry, before).await;
                            incr(&state.counters.joined);
                            break Fill::Ready(entry);
                        }
                        // Not usable: look past it (take the lease or wait for a new fill).
                        _ => seen = fill_id(&value).map(|f| f.to_vec()).unwrap_or_default(),
                    }
                }
                1 => {
                    state.take_filled(&id);
                    state.expect(id, generation.into_boxed_slice());
                    let renew = self.start_renewal(lk.clone(), token.clone(), asked);
                    let lease_id = self.inner.next_lease.fetch_add(1, Ordering::Relaxed);
                    let mut leases = self.inner.leases.lock().unwrap_or_else(|e| e.into_inner());
                    if leases.len() > 10_000 {
                        leases.retain(|_, h| !h.renew.is_finished());
                    }
                    leases.insert(
                        lease_id,
                        Held {
                            tags,
                            lease_key: lk.clone(),
                            token: token.clone(),
                            renew,
                        },
                    );
                    incr(&state.counters.leads);
                    break Fill::Lead(lease_id);
                }
                3 => {
                    // The last fill ended without an entry: read for ourselves, as without a
                    // lease (a failing backend is not retried one process at a time).
                    state.expect(id, generation.into_boxed_slice());
                    incr(&state.counters.alone);
                    break Fill::Alone;
                }
                _ => {
                    if !waited {
                        waited = true;
                        incr(&state.counters.waiting);
                    }
                    if tokio::time::Instant::now() >= deadline {
                        state.expect(id, generation.into_boxed_slice());
                        incr(&state.counters.alone);
                        tracing::warn!(entry = %key.display_name(), "redis cache: waited {:?} for another process's fill; reading the backend", lease.wait);
                        break Fill::Alone;
                    }
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep(lease.poll) => {}
                        _ = tokio::time::sleep_until(deadline) => {}
                    }
                }
            }
        };
        state.drop_waiter(&id, waiter);
        if matches!(outcome, Fill::Lead(_)) {
            // A task spawned on a worker thread waits in that worker's LIFO slot, which the
            // other workers do not steal: if the holder's backend read then kept this worker
            // busy (a provider's blocking first call, a starved machine), the renewal would
            // first run after the read, past the lease time, and another process would take
            // the lease and read again. Yield once so the renewal starts (arms its timer) now.
            tokio::task::yield_now().await;
        }
        outcome
    }

    async fn end_fill(&self, _key: &CacheKey, lease: u64) {
        let held = self
            .inner
            .leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&lease);
        let Some(held) = held else { return };
        held.renew.abort();
        let state = &self.inner.state;
        let id = held.tags.id();
        let filled = state.take_filled(&id);
        let message = || {
            if filled {
                Message::Released(&held.tags)
            } else {
                Message::Failed(&held.tags)
            }
        };
        let (channel, payload) = self.in_script(&held.tags.name, message());
        let mut inv = scripts::RELEASE.key(&held.lease_key);
        let failed_ms = if filled {
            0
        } else {
            self.inner
                .lease
                .as_ref()
                .map_or(0, |l| l.ttl.as_millis() as u64)
        };
        inv.arg(&held.token)
            .arg(channel)
            .arg(payload)
            .arg(failed_ms);
        if let Err(e) =
            timed::<i64, _>("release", self.inner.timeout, self.inner.conn.script(&inv)).await
        {
            tracing::warn!(error = %e, "redis cache: releasing a fill lease failed; it expires by itself");
        }
        state.wake(&id);
        self.spublish(&held.tags.name, message()).await;
    }
}
