//! A miss whose lookup was answered before a flight of its key ended, but whose task runs
//! only after that flight is gone, takes the flight's entry: one backend read, not two.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use strongroom_core::layer::StoreLayer;
use strongroom_core::{
    CacheEntry, CacheEntryInfo, CacheKey, CachePolicy, CacheScope, Cached, KeyRef, MemoryCache,
    MemoryStore, ReadOptions, Result, Secret, SecretCache, SecretName, SecretStore, WriteOptions,
    async_trait,
};
use tokio::sync::Semaphore;

#[derive(Debug)]
struct Counting {
    inner: MemoryStore,
    reads: Arc<AtomicUsize>,
}

#[async_trait]
impl StoreLayer for Counting {
    type Inner = MemoryStore;
    fn inner(&self) -> &MemoryStore {
        &self.inner
    }
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read(name, opts).await
    }
}

/// A cache whose first lookup answers "miss" and then holds its caller until the test lets
/// it go: the task of a lookup answered early but run late.
#[derive(Debug)]
struct LateFirstLook {
    inner: MemoryCache,
    looks: AtomicUsize,
    gate: Semaphore,
    held: Semaphore,
}

#[async_trait]
impl SecretCache for LateFirstLook {
    fn try_get_local(&self, _key: &KeyRef<'_>) -> Option<Option<CacheEntry>> {
        None
    }
    async fn get(&self, key: &CacheKey) -> Result<Option<CacheEntry>> {
        let got = self.inner.get(key).await;
        if self.looks.fetch_add(1, Ordering::SeqCst) == 0 {
            self.held.add_permits(1);
            self.gate.acquire().await.unwrap().forget();
        }
        got
    }
    async fn set(&self, key: &CacheKey, entry: CacheEntry, ttl: Duration) -> Result<()> {
        self.inner.set(key, entry, ttl).await
    }
    async fn invalidate(&self, scope: CacheScope, name: &SecretName) -> Result<()> {
        self.inner.invalidate(scope, name).await
    }
    async fn clear(&self, scope: Option<CacheScope>) -> Result<()> {
        self.inner.clear(scope).await
    }
    async fn entries(&self) -> Result<Vec<CacheEntryInfo>> {
        self.inner.entries().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_miss_takes_the_entry_of_the_flight_that_ended_meanwhile() {
    let backend = MemoryStore::new();
    let name = SecretName::new("k").unwrap();
    backend
        .write(&name, "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let reads = Arc::new(AtomicUsize::new(0));
    let cache = Arc::new(LateFirstLook {
        inner: MemoryCache::default(),
        looks: AtomicUsize::new(0),
        gate: Semaphore::new(0),
        held: Semaphore::new(0),
    });
    let store = Arc::new(Cached::new(
        Counting {
            inner: backend,
            reads: Arc::clone(&reads),
        },
        cache.clone(),
        CachePolicy::new("late"),
    ));
    // The late reader's lookup misses; its task is held.
    let late = {
        let (store, name) = (Arc::clone(&store), name.clone());
        tokio::spawn(async move { store.read(&name, &ReadOptions::new()).await })
    };
    cache.held.acquire().await.unwrap().forget();
    // Another reader misses, reads the backend, stores; its flight ends.
    let first = store
        .read(&name, &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.value.expose_str().unwrap(), "v1");
    // Now the late reader runs on.
    cache.gate.add_permits(1);
    let got = late.await.unwrap().unwrap().unwrap();
    assert_eq!(got.value.expose_str().unwrap(), "v1");
    assert_eq!(reads.load(Ordering::SeqCst), 1, "one backend read");
}
