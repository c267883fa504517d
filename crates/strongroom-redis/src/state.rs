//! What the cache shares with its subscriber task: the near cache, invalidation generations,
//! fill waiters, the fill ids this process has seen, statistics and events.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use strongroom_core::{CacheEntry, CacheKey, KeyRef, MemoryCache, SecretCache};
use tokio::sync::{Notify, broadcast};

use crate::names::{NameTag, TAG_LEN, Tags};
use crate::seal::NONCE_LEN;

/// Generation stripes (by name digest), per counter.
const STRIPES: usize = 1024;
/// Past this many fill ids remembered, the map is emptied (a forgotten id costs at most one
/// answer from an entry this process had already seen).
const MAX_SEEN: usize = 100_000;
/// Generations recorded for a pending store are dropped after this long (the read failed or
/// its answer was not stored).
const PENDING_MAX_AGE: Duration = Duration::from_secs(600);

/// Something the fleet machinery did, for applications and tests that want to follow it
/// ([`RedisCache::events`](crate::RedisCache::events)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FleetEvent {
    /// The invalidation subscription is up: near entries are served again.
    SubscriptionUp,
    /// The invalidation subscription is down: every near entry was dropped, and none is served
    /// until it is back.
    SubscriptionDown,
    /// An invalidation or a new value of the secret `tag` arrived (from this process or
    /// another) and this process's near copies of it are gone, as of `at`.
    Invalidated {
        /// The secret (see [`RedisCache::name_tag`](crate::RedisCache::name_tag)).
        tag: NameTag,
        /// When the near copies were dropped.
        at: SystemTime,
    },
}

/// What the fleet machinery of one cache has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetStats {
    /// Misses this process read from the backend holding the fleet lease.
    pub leads: u64,
    /// Misses answered by another process's fill (no backend read here).
    pub joined: u64,
    /// Misses that found the lease held by someone else and waited.
    pub waits: u64,
    /// Misses that waited past `lease_wait` (or could not reach Redis) and read the backend
    /// without coordination.
    pub alone: u64,
    /// Lookups answered by the near cache.
    pub near_hits: u64,
    /// Invalidation and fill messages received.
    pub messages: u64,
    /// Times the subscription went down.
    pub subscription_drops: u64,
    /// Stores refused because the secret was invalidated while it was read.
    pub stale_stores_refused: u64,
}

/// A counter bumped on the hot path (near hits) from many threads: each thread adds to its own
/// cache line; reading sums them.
#[derive(Default)]
pub(crate) struct Striped([Padded; 16]);

#[derive(Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

impl Striped {
    pub(crate) fn incr(&self) {
        thread_local! {
            static STRIPE: usize = {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                NEXT.fetch_add(1, Ordering::Relaxed) as usize % 16
            };
        }
        STRIPE.with(|i| self.0[*i].0.fetch_add(1, Ordering::Relaxed));
    }

    fn get(&self) -> u64 {
        self.0.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) leads: AtomicU64,
    pub(crate) joined: AtomicU64,
    pub(crate) alone: AtomicU64,
    pub(crate) waiting: AtomicU64,
    pub(crate) near_hits: Striped,
    pub(crate) messages: AtomicU64,
    pub(crate) drops: AtomicU64,
    pub(crate) refused: AtomicU64,
}

pub(crate) fn incr(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Near keys by name digest: each variant id with its cache key.
type NearIndex = HashMap<NameTag, Vec<([u8; TAG_LEN], CacheKey)>>;
/// Generations seen before backend reads, oldest first, by `T || V`.
type Pending = HashMap<[u8; 2 * TAG_LEN], VecDeque<(Box<[u8]>, Instant)>>;

/// Who waits for one fill in this process.
#[derive(Default)]
pub(crate) struct Waiter {
    pub(crate) notify: Notify,
}

/// The near cache: an in-process [`MemoryCache`] plus an index from name digest to the keys
/// held, so a message naming a digest finds them.
pub(crate) struct Near {
    pub(crate) cache: MemoryCache,
    index: Mutex<NearIndex>,
    capacity: usize,
}

/// A look at the state taken before a Redis read: the read's answer may go into the near
/// cache only if nothing moved meanwhile.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot {
    live: bool,
    epoch: u64,
    changes: u64,
}

pub(crate) struct State {
    pub(crate) origin: u64,
    pub(crate) near: Option<Near>,
    /// Moved by every change of a secret this process makes or hears of — its invalidations,
    /// values stored by other processes, clears, a lost subscription: a near copy is kept only
    /// if its stripe stood still while it was read.
    changes: Box<[AtomicU64]>,
    /// Moved only by what can make a backend answer stale — invalidations (writes, deletes),
    /// clears, a lost subscription — never by a value stored: the generation the `Cached`
    /// layer checks before it stores an answer. A value another process stored while this one
    /// read is not a write; refusing the store for it would end a fill without an entry and
    /// send every process waiting for that fill to the backend.
    writes: Box<[AtomicU64]>,
    /// The subscription is up (set by the subscriber task).
    live: AtomicBool,
    /// Moves every time the subscription comes up.
    epoch: AtomicU64,
    /// Without a subscriber (neither near nor lease), nothing is live and nothing is needed.
    pub(crate) subscribed: bool,
    waiters: Mutex<HashMap<[u8; 2 * TAG_LEN], Arc<Waiter>>>,
    /// Stores made since a lease was taken, by `T || V` (end_fill tells waiters whether the
    /// fill produced an entry).
    filled: Mutex<HashMap<[u8; 2 * TAG_LEN], u32>>,
    seen: Mutex<HashMap<[u8; 2 * TAG_LEN], [u8; NONCE_LEN]>>,
    pending: Mutex<Pending>,
    pub(crate) counters: Counters,
    events: broadcast::Sender<FleetEvent>,
}

fn stripe(tag: &NameTag) -> usize {
    (u16::from_be_bytes([tag.0[0], tag.0[1]]) as usize) % STRIPES
}

impl State {
    pub(crate) fn new(origin: u64, near_capacity: Option<u64>, subscribed: bool) -> State {
        State {
            origin,
            near: near_capacity.map(|cap| Near {
                cache: MemoryCache::new(cap),
                index: Mutex::default(),
                capacity: usize::try_from(cap).unwrap_or(usize::MAX),
            }),
            changes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            writes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            live: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            subscribed,
            waiters: Mutex::default(),
            filled: Mutex::default(),
            seen: Mutex::default(),
            pending: Mutex::default(),
            counters: Counters::default(),
            events: broadcast::channel(1024).0,
        }
    }

    pub(crate) fn events(&self) -> broadcast::Receiver<FleetEvent> {
        self.events.subscribe()
    }

    fn emit(&self, event: FleetEvent) {
        let _ = self.events.send(event);
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    pub(crate) fn stats(&self) -> FleetStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FleetStats {
            leads: get(&c.leads),
            joined: get(&c.joined),
            waits: get(&c.waiting),
            alone: get(&c.alone),
            near_hits: c.near_hits.get(),
            messages: get(&c.messages),
            subscription_drops: get(&c.drops),
            stale_stores_refused: get(&c.refused),
        }
    }

    // ---- generations ----------------------------------------------------------------------

    /// The write generation of `tag` (see [`State::writes`]).
    pub(crate) fn generation(&self, tag: &NameTag) -> u64 {
        self.writes[stripe(tag)].load(Ordering::Acquire)
    }

    /// `tag` was invalidated (a write or a delete, here or elsewhere).
    pub(crate) fn bump(&self, tag: &NameTag) {
        self.writes[stripe(tag)].fetch_add(1, Ordering::AcqRel);
        self.changed(tag);
    }

    /// A value of `tag` was stored elsewhere: near copies must not be kept across it, but it
    /// is not a write.
    fn changed(&self, tag: &NameTag) {
        self.changes[stripe(tag)].fetch_add(1, Ordering::AcqRel);
    }

    fn bump_all(&self) {
        for s in self.writes.iter().chain(self.changes.iter()) {
            s.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub(crate) fn snapshot(&self, tag: &NameTag) -> Snapshot {
        Snapshot {
            live: self.is_live(),
            epoch: self.epoch.load(Ordering::Acquire),
            changes: self.changes[stripe(tag)].load(Ordering::Acquire),
        }
    }

    // ---- near cache -----------------------------------------------------------------------

    /// A near hit, only while the subscription is up.
    pub(crate) fn near_get(&self, key: &KeyRef<'_>) -> Option<CacheEntry> {
        let near = self.near.as_ref()?;
        if !self.is_live() {
            return None;
        }
        let entry = near.cache.try_get_local(key)??;
        self.counters.near_hits.incr();
        Some(entry)
    }

    /// A near hit by owned key, only while the subscription is up.
    pub(crate) fn near_get_key(&self, key: &CacheKey) -> Option<CacheEntry> {
        let near = self.near.as_ref()?;
        if !self.is_live() {
            return None;
        }
        let entry = near.cache.get_now(key)?;
        self.counters.near_hits.incr();
        Some(entry)
    }

    /// Keeps `entry` near, if nothing moved since `before` was taken.
    pub(crate) async fn near_put(
        &self,
        key: &CacheKey,
        tags: &Tags,
        entry: &CacheEntry,
        before: Snapshot,
    ) {
        let Some(near) = &self.near else { return };
        let now = SystemTime::now();
        let Ok(left) = entry.keep_until.duration_since(now) else {
            return;
        };
        let overgrown = {
            let mut index = near.index.lock().unwrap_or_else(|e| e.into_inner());
            // Keys evicted by the cache's bound stay in the index; start over when it has
            // grown past twice the bound.
            let overgrown = index.len() > near.capacity.saturating_mul(2);
            if overgrown {
                index.clear();
            }
            let list = index.entry(tags.name).or_default();
            if !list.iter().any(|(v, _)| *v == tags.variant) {
                list.push((tags.variant, key.clone()));
            }
            overgrown
        };
        if overgrown {
            near.cache.clear(None).await.ok();
        }
        let unchanged = |s: Snapshot| {
            s.live && before.live && s.epoch == before.epoch && s.changes == before.changes
        };
        if !unchanged(self.snapshot(&tags.name)) {
            return;
        }
        near.cache.set(key, entry.clone(), left).await.ok();
        // A message may have landed between the check and the store: look once more.
        if !unchanged(self.snapshot(&tags.name)) {
            near.cache
                .set(key, placeholder(), Duration::ZERO)
                .await
                .ok();
        }
    }

    /// Drops the near copies of the secret `tag` (every variant, or one).
    pub(crate) async fn near_drop(&self, tag: &NameTag, variant: Option<&[u8; TAG_LEN]>) {
        let Some(near) = &self.near else { return };
        let keys: Vec<CacheKey> = {
            let mut index = near.index.lock().unwrap_or_else(|e| e.into_inner());
            match variant {
                None => index
                    .remove(tag)
                    .map(|l| l.into_iter().map(|(_, k)| k).collect())
                    .unwrap_or_default(),
                Some(v) => match index.get_mut(tag) {
                    Some(list) => {
                        let (gone, kept): (Vec<_>, Vec<_>) =
                            list.drain(..).partition(|(id, _)| id == v);
                        *list = kept;
                        if list.is_empty() {
                            index.remove(tag);
                        }
                        gone.into_iter().map(|(_, k)| k).collect()
                    }
                    None => Vec::new(),
                },
            }
        };
        for key in keys {
            if variant.is_some() {
                near.cache
                    .set(&key, placeholder(), Duration::ZERO)
                    .await
                    .ok();
            } else {
                near.cache.invalidate(key.scope(), key.name()).await.ok();
            }
        }
    }

    async fn near_clear(&self) {
        if let Some(near) = &self.near {
            near.index.lock().unwrap_or_else(|e| e.into_inner()).clear();
            near.cache.clear(None).await.ok();
        }
    }

    // ---- subscription ---------------------------------------------------------------------

    pub(crate) fn set_up(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.live.store(true, Ordering::Release);
        self.emit(FleetEvent::SubscriptionUp);
    }

    pub(crate) async fn set_down(&self) {
        let was = self.live.swap(false, Ordering::AcqRel);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.bump_all();
        self.near_clear().await;
        if was {
            incr(&self.counters.drops);
            self.emit(FleetEvent::SubscriptionDown);
        }
    }

    /// An invalidation of the secrets `tags` (any namespace) arrived or was made here.
    pub(crate) async fn invalidated(&self, tags: &[NameTag]) {
        for tag in tags {
            self.bump(tag);
            self.near_drop(tag, None).await;
            self.bump(tag);
            self.emit(FleetEvent::Invalidated {
                tag: *tag,
                at: SystemTime::now(),
            });
        }
    }

    /// Another process stored a new value of one variant.
    pub(crate) async fn replaced(&self, tag: &NameTag, variant: &[u8; TAG_LEN]) {
        self.changed(tag);
        self.near_drop(tag, Some(variant)).await;
        self.changed(tag);
        self.emit(FleetEvent::Invalidated {
            tag: *tag,
            at: SystemTime::now(),
        });
    }

    /// Everything (or a scope) was cleared somewhere.
    pub(crate) async fn cleared(&self) {
        self.bump_all();
        self.near_clear().await;
        self.bump_all();
    }

    // ---- fill waiters ---------------------------------------------------------------------

    /// The waiter of the fill of `id` (registered before looking, so no wake is missed).
    pub(crate) fn waiter(&self, id: [u8; 2 * TAG_LEN]) -> Arc<Waiter> {
        let mut w = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(w.entry(id).or_default())
    }

    pub(crate) fn drop_waiter(&self, id: &[u8; 2 * TAG_LEN], waiter: Arc<Waiter>) {
        let mut w = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        drop(waiter);
        if w.get(id).is_some_and(|n| Arc::strong_count(n) == 1) {
            w.remove(id);
        }
    }

    /// Wakes whoever waits for the fill of `id` in this process.
    pub(crate) fn wake(&self, id: &[u8; 2 * TAG_LEN]) {
        let w = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = w.get(id) {
            n.notify.notify_waiters();
        }
    }

    /// A store of `id` landed.
    pub(crate) fn mark_filled(&self, id: [u8; 2 * TAG_LEN]) {
        let mut f = self.filled.lock().unwrap_or_else(|e| e.into_inner());
        if f.len() > 10_000 {
            f.clear();
        }
        *f.entry(id).or_default() += 1;
    }

    /// Whether a store of `id` landed since the last call (and forgets it).
    pub(crate) fn take_filled(&self, id: &[u8; 2 * TAG_LEN]) -> bool {
        self.filled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .is_some()
    }

    // ---- fill ids seen --------------------------------------------------------------------

    pub(crate) fn saw(&self, id: [u8; 2 * TAG_LEN], fill: [u8; NONCE_LEN]) {
        let mut s = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() >= MAX_SEEN {
            s.clear();
        }
        s.insert(id, fill);
    }

    pub(crate) fn seen(&self, id: &[u8; 2 * TAG_LEN]) -> Option<[u8; NONCE_LEN]> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .copied()
    }

    // ---- generations recorded before backend reads ----------------------------------------

    /// Records the Redis generation of `id` seen before a backend read, for the store that
    /// follows it.
    pub(crate) fn expect(&self, id: [u8; 2 * TAG_LEN], generation: Box<[u8]>) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if p.len() > 10_000 {
            p.retain(|_, q| {
                q.back()
                    .is_some_and(|(_, t)| now.duration_since(*t) < PENDING_MAX_AGE)
            });
        }
        p.entry(id).or_default().push_back((generation, now));
    }

    /// The generation the store of `id` must still find (the oldest recorded), if any.
    pub(crate) fn expected(&self, id: &[u8; 2 * TAG_LEN]) -> Option<Box<[u8]>> {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let q = p.get_mut(id)?;
        let now = Instant::now();
        while q
            .front()
            .is_some_and(|(_, t)| now.duration_since(*t) >= PENDING_MAX_AGE)
        {
            q.pop_front();
        }
        let got = q.pop_front().map(|(g, _)| g);
        if q.is_empty() {
            p.remove(id);
        }
        got
    }
}

/// `MemoryCache::set` with a zero TTL removes the key; the entry itself does not matter.
fn placeholder() -> CacheEntry {
    let now = SystemTime::now();
    CacheEntry {
        secret: strongroom_core::Secret::new(""),
        stored_at: now,
        fresh_until: now,
        keep_until: now,
    }
}
