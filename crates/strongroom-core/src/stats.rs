//! Counters a user can read: per cache layer (manager) hits, misses, stale answers, refreshes,
//! backend errors, single-flight joins and watches.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

const STRIPES: usize = 16;

/// A counter bumped from many threads without them fighting over one cache line: each thread
/// adds to its own stripe; reading sums them.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    stripes: [Padded; STRIPES],
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

thread_local! {
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn my_stripe() -> usize {
    STRIPE.with(|s| {
        let v = s.get();
        if v != usize::MAX {
            return v;
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let v = NEXT.fetch_add(1, Ordering::Relaxed) as usize % STRIPES;
        s.set(v);
        v
    })
}

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.stripes[my_stripe()].0.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn incr(&self) {
        self.add(1);
    }
    pub(crate) fn get(&self) -> u64 {
        self.stripes
            .iter()
            .map(|p| p.0.load(Ordering::Relaxed))
            .sum()
    }
}

/// The live counters of one cache layer.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) hits: Counter,
    pub(crate) misses: Counter,
    pub(crate) stale: Counter,
    pub(crate) refreshes: Counter,
    pub(crate) backend_errors: Counter,
    pub(crate) joins: Counter,
    pub(crate) backend_reads: Counter,
}

impl Counters {
    pub(crate) fn snapshot(&self, watches: u64) -> CacheStats {
        CacheStats {
            hits: self.hits.get(),
            misses: self.misses.get(),
            stale_served: self.stale.get(),
            refreshes: self.refreshes.get(),
            backend_errors: self.backend_errors.get(),
            single_flight_joins: self.joins.get(),
            backend_reads: self.backend_reads.get(),
            watches,
        }
    }
}

/// What a cache layer has done since it was built.
///
/// ```
/// use std::sync::Arc;
/// use strongroom_core::{CachePolicy, MemoryCache, MemoryStore, ReadOptions, SecretName, SecretStore, SecretStoreExt, WriteOptions};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = MemoryStore::new().with_cache(Arc::new(MemoryCache::default()), CachePolicy::new("dev"));
/// let name = SecretName::new("a").unwrap();
/// store.write(&name, "v".into(), &WriteOptions::new()).await.unwrap();
/// store.read(&name, &ReadOptions::new()).await.unwrap();
/// store.read(&name, &ReadOptions::new()).await.unwrap();
/// let stats = store.stats();
/// assert_eq!((stats.misses, stats.hits, stats.backend_reads), (1, 1, 1));
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that asked the backend (or joined a read that did).
    pub misses: u64,
    /// Reads answered with the last good value while the backend failed (stale-if-error).
    pub stale_served: u64,
    /// Background refreshes (refresh-ahead and watches).
    pub refreshes: u64,
    /// Backend reads that failed.
    pub backend_errors: u64,
    /// Reads that joined a backend read already running for the same key (single-flight).
    pub single_flight_joins: u64,
    /// Reads sent to the backend.
    pub backend_reads: u64,
    /// Live watches.
    pub watches: u64,
}

impl CacheStats {
    /// The sum of two layers' counters (a manager over several caches, a registry total).
    pub fn merge(self, o: CacheStats) -> CacheStats {
        CacheStats {
            hits: self.hits + o.hits,
            misses: self.misses + o.misses,
            stale_served: self.stale_served + o.stale_served,
            refreshes: self.refreshes + o.refreshes,
            backend_errors: self.backend_errors + o.backend_errors,
            single_flight_joins: self.single_flight_joins + o.single_flight_joins,
            backend_reads: self.backend_reads + o.backend_reads,
            watches: self.watches + o.watches,
        }
    }
}
