//! Watches and refresh-ahead, on a manual clock: no sleeps, backend reads counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use strongroom_core::layer::StoreLayer;
use strongroom_core::{
    CachePolicy, Cached, Clock, Error, ErrorKind, ManualClock, MemoryCache, MemoryStore,
    ReadOptions, Result, Secret, SecretName, SecretStore, SecretStoreExt, WatchOptions,
    WriteOptions, async_trait,
};

/// A memory store whose reads are counted and can be made to fail.
#[derive(Debug, Default)]
struct Backend {
    store: MemoryStore,
    reads: AtomicUsize,
    down: AtomicBool,
}

#[async_trait]
impl StoreLayer for Backend {
    type Inner = MemoryStore;
    fn inner(&self) -> &MemoryStore {
        &self.store
    }
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Unavailable, "backend down"));
        }
        self.store.read(name, opts).await
    }
}

const TTL: Duration = Duration::from_secs(100);

fn setup(policy: CachePolicy) -> (Arc<Backend>, Arc<ManualClock>, Cached<Arc<Backend>>) {
    let backend = Arc::new(Backend::default());
    let clock = Arc::new(ManualClock::new());
    let cached = Arc::clone(&backend)
        .with_cache(Arc::new(MemoryCache::default()), policy.ttl(TTL))
        .with_clock(clock.clone());
    (backend, clock, cached)
}

fn name() -> SecretName {
    SecretName::new("db/password").unwrap()
}

async fn put(backend: &Backend, v: &str) {
    // Straight to the backend, as another process rotating the secret would.
    backend
        .store
        .write(&name(), v.into(), &WriteOptions::new())
        .await
        .unwrap();
}

/// Lets the spawned refresher run until it waits again.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

fn text(watch: &strongroom_core::SecretWatch) -> Option<String> {
    watch
        .current()
        .map(|s| s.value.expose_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_watch_sees_a_rotation_within_one_refresh_period() {
    let (backend, clock, store) = setup(CachePolicy::new("w"));
    put(&backend, "v1").await;
    let mut watch = store
        .watch(&name(), &WatchOptions::new().jitter(0.0))
        .await
        .unwrap();
    assert_eq!(text(&watch).as_deref(), Some("v1"));
    assert_eq!(backend.reads.load(Ordering::SeqCst), 1);
    put(&backend, "v2").await;
    clock.advance(TTL.mul_f64(0.79));
    settle().await;
    assert_eq!(
        text(&watch).as_deref(),
        Some("v1"),
        "not refreshed before 80 % of the TTL"
    );
    assert_eq!(backend.reads.load(Ordering::SeqCst), 1);
    clock.advance(TTL.mul_f64(0.02));
    watch.changed().await.unwrap();
    assert_eq!(text(&watch).as_deref(), Some("v2"));
    assert_eq!(backend.reads.load(Ordering::SeqCst), 2);
    assert_eq!(watch.status().changes, 1);
    // A refresh that finds the same value does not signal a change.
    clock.advance(TTL);
    settle().await;
    assert_eq!(backend.reads.load(Ordering::SeqCst), 3);
    assert!(futures_util::FutureExt::now_or_never(watch.changed()).is_none());
}

#[tokio::test]
async fn an_outage_keeps_the_last_value_within_the_stale_window() {
    let window = Duration::from_secs(300);
    let (backend, clock, store) = setup(CachePolicy::new("w").stale_if_error(window));
    put(&backend, "v1").await;
    let mut watch = store
        .watch(&name(), &WatchOptions::new().jitter(0.0))
        .await
        .unwrap();
    backend.down.store(true, Ordering::SeqCst);
    clock.advance(TTL);
    settle().await;
    assert_eq!(
        text(&watch).as_deref(),
        Some("v1"),
        "served within the window"
    );
    let status = watch.status();
    assert!(status.serving_stale);
    assert_eq!(status.last_error.unwrap().kind(), &ErrorKind::Unavailable);
    // Retries back off while failing; past TTL + window the value is withdrawn.
    for _ in 0..20 {
        clock.advance(Duration::from_secs(60));
        settle().await;
    }
    assert_eq!(text(&watch), None, "not served past the stale window");
    assert!(watch.status().last_error.is_some());
    // The withdrawal was a change too.
    watch.changed().await.unwrap();
    // The backend comes back: the next refresh brings the value back and says so.
    backend.down.store(false, Ordering::SeqCst);
    clock.advance(TTL);
    let _ = watch.changed().await;
    assert_eq!(text(&watch).as_deref(), Some("v1"));
    assert!(watch.status().last_error.is_none());
}

#[tokio::test]
async fn one_refresher_per_key_and_it_stops_with_the_last_watch() {
    let (backend, clock, store) = setup(CachePolicy::new("w"));
    put(&backend, "v1").await;
    let first = store
        .watch(&name(), &WatchOptions::new().jitter(0.0))
        .await
        .unwrap();
    let others: Vec<_> = futures_join(&store, 9).await;
    assert_eq!(
        backend.reads.load(Ordering::SeqCst),
        1,
        "ten watches, one read"
    );
    clock.advance(TTL);
    settle().await;
    assert_eq!(
        backend.reads.load(Ordering::SeqCst),
        2,
        "ten watches, one refresher"
    );
    drop(first);
    drop(others);
    settle().await;
    let before = backend.reads.load(Ordering::SeqCst);
    for _ in 0..5 {
        clock.advance(TTL);
        settle().await;
    }
    assert_eq!(
        backend.reads.load(Ordering::SeqCst),
        before,
        "no backend read after the last watch is dropped"
    );
}

async fn futures_join(store: &impl SecretStore, n: usize) -> Vec<strongroom_core::SecretWatch> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(
            store
                .watch(&name(), &WatchOptions::new().jitter(0.0))
                .await
                .unwrap(),
        );
    }
    out
}

#[tokio::test]
async fn refresh_ahead_answers_at_once_and_refreshes_once_in_the_background() {
    let (backend, clock, store) = setup(CachePolicy::new("r").refresh_ahead(0.8));
    put(&backend, "v1").await;
    let read = || async {
        SecretStore::read(&store, &name(), &ReadOptions::new())
            .await
            .unwrap()
            .unwrap()
            .value
            .expose_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(read().await, "v1");
    assert_eq!(backend.reads.load(Ordering::SeqCst), 1);
    put(&backend, "v2").await;
    clock.advance(TTL.mul_f64(0.85));
    // Every reader in the window is answered from the cache at once; one refresh starts.
    for _ in 0..64 {
        assert_eq!(read().await, "v1");
    }
    settle().await;
    assert_eq!(
        backend.reads.load(Ordering::SeqCst),
        2,
        "exactly one background refresh"
    );
    assert_eq!(read().await, "v2", "the refreshed value is served next");
    assert_eq!(backend.reads.load(Ordering::SeqCst), 2);
    // Its TTL starts again from the refresh: no read until the next window.
    clock.advance(TTL.mul_f64(0.5));
    assert_eq!(read().await, "v2");
    settle().await;
    assert_eq!(backend.reads.load(Ordering::SeqCst), 2);
    let stats = store.stats();
    assert_eq!((stats.backend_reads, stats.refreshes), (2, 1));
    assert!(stats.hits >= 66, "{stats:?}");
}

#[tokio::test]
async fn a_secret_that_expires_is_refreshed_ahead_of_its_own_expiry() {
    #[derive(Debug, Default)]
    struct Leased {
        reads: AtomicUsize,
        clock: std::sync::OnceLock<Arc<ManualClock>>,
        info: std::sync::OnceLock<strongroom_core::StoreInfo>,
    }
    #[async_trait]
    impl SecretStore for Leased {
        fn info(&self) -> &strongroom_core::StoreInfo {
            self.info.get_or_init(|| {
                strongroom_core::StoreInfo::new(
                    "leased",
                    strongroom_core::Capabilities::read_only(),
                )
            })
        }
        async fn read(&self, _: &SecretName, _: &ReadOptions) -> Result<Option<Secret>> {
            let n = self.reads.fetch_add(1, Ordering::SeqCst);
            let now = self.clock.get().unwrap().system_now();
            Ok(Some(
                Secret::new(format!("lease-{n}")).with_expires_at(now + Duration::from_secs(10)),
            ))
        }
        async fn write(
            &self,
            _: &SecretName,
            _: strongroom_core::SecretValue,
            _: &WriteOptions,
        ) -> Result<strongroom_core::WriteOutcome> {
            unreachable!()
        }
        async fn delete(&self, _: &SecretName, _: &strongroom_core::DeleteOptions) -> Result<()> {
            unreachable!()
        }
        async fn list(&self, _: Option<&str>) -> Result<Vec<SecretName>> {
            Ok(vec![])
        }
    }
    let clock = Arc::new(ManualClock::new());
    let leased = Arc::new(Leased::default());
    leased.clock.set(clock.clone()).unwrap();
    let store = Arc::clone(&leased)
        .with_cache(
            Arc::new(MemoryCache::default()),
            CachePolicy::new("l").ttl(TTL),
        )
        .with_clock(clock.clone());
    let mut watch = store
        .watch(&name(), &WatchOptions::new().jitter(0.0))
        .await
        .unwrap();
    assert_eq!(text(&watch).as_deref(), Some("lease-0"));
    // 80 % of the 10 s lease, not of the 100 s TTL.
    clock.advance(Duration::from_secs(8));
    watch.changed().await.unwrap();
    assert_eq!(text(&watch).as_deref(), Some("lease-1"));
}

/// The shared backend seen as one caller (two managers with different credentials).
#[derive(Debug)]
struct Caller {
    backend: Arc<Backend>,
    info: strongroom_core::StoreInfo,
}

#[async_trait]
impl StoreLayer for Caller {
    type Inner = Backend;
    fn inner(&self) -> &Backend {
        &self.backend
    }
    fn info(&self) -> &strongroom_core::StoreInfo {
        &self.info
    }
}

#[tokio::test]
async fn a_write_as_another_caller_wakes_the_watch_at_once() {
    let backend = Arc::new(Backend::default());
    let clock = Arc::new(ManualClock::new());
    let as_caller = |who: &str| {
        let info = strongroom_core::StoreInfo::new("memory", strongroom_core::Capabilities::all())
            .with_address("memory://watched-space")
            .with_identity(&[who.as_bytes()]);
        Caller {
            backend: Arc::clone(&backend),
            info,
        }
        .with_cache(
            Arc::new(MemoryCache::default()),
            CachePolicy::new("w").ttl(TTL),
        )
        .with_clock(clock.clone())
    };
    let (writer, watcher) = (as_caller("writer"), as_caller("watcher"));
    put(&backend, "v1").await;
    let mut watch = watcher
        .watch(&name(), &WatchOptions::new().jitter(0.0))
        .await
        .unwrap();
    assert_eq!(text(&watch).as_deref(), Some("v1"));
    SecretStore::write(&writer, &name(), "v2".into(), &WriteOptions::new())
        .await
        .unwrap();
    watch.changed().await.unwrap();
    assert_eq!(
        text(&watch).as_deref(),
        Some("v2"),
        "no clock advance needed"
    );
    assert_eq!(backend.reads.load(Ordering::SeqCst), 2);
}
