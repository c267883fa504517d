//! Issue 19 through the facade: `Registry::watch` (checked like every accessor), a watch
//! seeing a rotation made outside the process within one refresh period, refresh-ahead from a
//! manager's TOML, and per-manager statistics that count a known sequence of reads exactly —
//! all on a manual clock, counting the calls that reach the backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use strongroom::config::Config;
use strongroom::layer::StoreLayer;
use strongroom::{
    AccessMode, CachePolicy, CacheStats, Clock, Error, ErrorKind, Manager, ManualClock,
    MemoryCache, MemoryStore, ReadOptions, Registry, Result, Secret, SecretCache, SecretName,
    SecretStore, WatchOptions, WriteOptions, async_trait,
};
use strongroom_testkit::CountingStore;
use tokio::sync::Semaphore;

/// How long any awaited event may take before the test fails (never a pause: the waits end
/// as soon as the event happens).
const BOUND: Duration = Duration::from_secs(30);

fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

fn groups(g: &[&str]) -> Vec<String> {
    g.iter().map(|s| (*s).to_owned()).collect()
}

/// Waits (bounded) until `cond` holds, yielding to the background tasks in between.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    tokio::time::timeout(BOUND, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for: {what}"));
}

/// A backend between the cache and a counted memory store: reads can be held at a gate (so
/// concurrent readers really overlap) or fail with a temporary error.
#[derive(Debug)]
struct Backend {
    inner: CountingStore<Arc<MemoryStore>>,
    gate: Arc<Semaphore>,
    failing: Arc<AtomicBool>,
}

#[async_trait]
impl StoreLayer for Backend {
    type Inner = CountingStore<Arc<MemoryStore>>;
    fn inner(&self) -> &Self::Inner {
        &self.inner
    }
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        drop(self.gate.acquire().await.expect("gate open"));
        if self.failing.load(Ordering::SeqCst) {
            // Counted like a real call that failed.
            let _ = SecretStore::read(&self.inner, name, opts).await;
            return Err(Error::new(ErrorKind::Unavailable, "backend down (test)"));
        }
        SecretStore::read(&self.inner, name, opts).await
    }
}

struct Setup {
    registry: Registry,
    /// The backend object itself: writes here bypass the cache layer, as another process's.
    outside: Arc<MemoryStore>,
    counts: Arc<strongroom_testkit::CallCounts>,
    clock: Arc<ManualClock>,
    gate: Arc<Semaphore>,
    failing: Arc<AtomicBool>,
}

/// A registry with the cached manager `app` over [`Backend`] (TTL 10 s, stale-if-error 60 s,
/// no refresh-ahead), and `ops` (group `ops` only) over its own memory store.
fn setup() -> Setup {
    let outside = Arc::new(MemoryStore::new());
    let counting = CountingStore::new(Arc::clone(&outside));
    let counts = counting.counts();
    // One permit: a read takes it and gives it back at once; the test holds it to close the gate.
    let gate = Arc::new(Semaphore::new(1));
    let failing = Arc::new(AtomicBool::new(false));
    let backend = Backend {
        inner: counting,
        gate: Arc::clone(&gate),
        failing: Arc::clone(&failing),
    };
    let clock = Arc::new(ManualClock::new());
    let cache: Arc<dyn SecretCache> = Arc::new(MemoryCache::default());
    let mut registry = Registry::new(Some(Arc::clone(&cache)));
    let policy = CachePolicy::new("app")
        .ttl(Duration::from_secs(10))
        .stale_if_error(Duration::from_secs(60));
    registry
        .insert(
            Manager::with_clock(
                "app",
                "memory",
                Arc::new(backend),
                Some((Arc::clone(&cache), policy)),
                clock.clone() as Arc<dyn Clock>,
                "",
                AccessMode::ReadAndWrite,
                None,
            )
            .unwrap(),
        )
        .unwrap();
    registry
        .insert(
            Manager::with_clock(
                "ops",
                "memory",
                Arc::new(MemoryStore::new()),
                Some((cache, CachePolicy::new("ops"))),
                clock.clone() as Arc<dyn Clock>,
                "",
                AccessMode::ReadAndWrite,
                Some(groups(&["ops"])),
            )
            .unwrap(),
        )
        .unwrap();
    Setup {
        registry,
        outside,
        counts,
        clock,
        gate,
        failing,
    }
}

fn value(s: &Secret) -> String {
    s.value.expose_str().unwrap().to_owned()
}

#[tokio::test]
async fn watch_is_checked_like_every_accessor() {
    let registry = Registry::from_toml_str(
        r#"
        [managers.ops]
        provider = "memory"
        access_mode = "read_and_write"
        allowed_groups = ["ops"]
        [managers.drop-box]
        provider = "memory"
        access_mode = "write_only"
        [managers.raw]
        provider = "memory"
        access_mode = "read_and_write"
        cache = { enabled = false }
        "#,
    )
    .await
    .unwrap();
    let (ops, none) = (groups(&["ops"]), groups(&[]));
    let k = name("k");
    registry
        .manager("ops", &ops)
        .unwrap()
        .store()
        .write(&k, "v".into(), &WriteOptions::new())
        .await
        .unwrap();
    let opts = WatchOptions::new();
    // Groups first: no read happens for a refused caller.
    let err = registry.watch("ops", &k, &none, &opts).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::AccessDenied, "{err}");
    assert_eq!(
        registry.stats(&ops)["ops"].backend_reads,
        0,
        "a refused watch read nothing"
    );
    let watch = registry.watch("ops", &k, &ops, &opts).await.unwrap();
    assert_eq!(value(&watch.current().unwrap()), "v");
    // The access mode: a write_only manager cannot be watched (it cannot be read).
    let err = registry
        .watch("drop-box", &k, &none, &opts)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::AccessDenied, "{err}");
    // An uncached manager says why it cannot be watched.
    let err = registry.watch("raw", &k, &none, &opts).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported, "{err}");
    assert!(
        err.to_string().contains("manager `raw` has no cache"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("enabled"), "{err:?}");
    // An unknown manager is a configuration error naming the configured ones.
    let err = registry.watch("nope", &k, &ops, &opts).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
    // Statistics are the caller's too: the cached managers the caller may use.
    let seen: Vec<String> = registry.stats(&none).into_keys().collect();
    assert_eq!(seen, ["drop-box"]);
    assert_eq!(registry.stats(&ops)["ops"].watches, 1);
    drop(watch);
    assert_eq!(registry.stats(&ops)["ops"].watches, 0);
}

#[test]
fn blocking_client_watch_checks_groups_and_sees_a_write() {
    let client = strongroom::blocking::Client::from_toml_str(
        r#"
        [managers.ops]
        provider = "memory"
        access_mode = "read_and_write"
        allowed_groups = ["ops"]
        "#,
    )
    .unwrap();
    let ops = groups(&["ops"]);
    client.put("ops", "db", "v1".into(), &ops).unwrap();
    let err = client
        .watch("ops", "db", &[], &WatchOptions::new())
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::AccessDenied);
    let mut watch = client
        .watch("ops", "db", &ops, &WatchOptions::new())
        .unwrap();
    assert_eq!(value(&watch.current().unwrap()), "v1");
    // No change yet: a bounded wait says so instead of blocking.
    assert!(!watch.wait_changed(Some(Duration::from_millis(1))).unwrap());
    client.put("ops", "db", "v2".into(), &ops).unwrap();
    assert!(
        watch.wait_changed(Some(BOUND)).unwrap(),
        "the write was seen"
    );
    assert_eq!(value(&watch.current().unwrap()), "v2");
    assert_eq!(client.stats(&ops)["ops"].watches, 1);
    assert_eq!(watch.status().changes, 1);
}

#[tokio::test]
async fn a_watch_sees_an_outside_rotation_within_one_refresh_period() {
    let s = setup();
    let k = name("db/password");
    s.outside
        .write(&k, "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    // Refresh at 80 % of the 10 s TTL, no jitter: due 8 s after the first read.
    let opts = WatchOptions::new().jitter(0.0);
    let mut watch = s.registry.watch("app", &k, &[], &opts).await.unwrap();
    assert_eq!(value(&watch.current().unwrap()), "v1");
    assert_eq!(s.counts.reads(), 1, "the watch's first read");
    // Another process rotates the secret: this one is not told.
    s.outside
        .write(&k, "v2".into(), &WriteOptions::new())
        .await
        .unwrap();
    s.clock.advance(Duration::from_secs(8));
    tokio::time::timeout(BOUND, watch.changed())
        .await
        .expect("the rotation is seen within one refresh period")
        .unwrap();
    assert_eq!(value(&watch.current().unwrap()), "v2");
    let status = watch.status();
    assert_eq!((status.refreshes, status.changes), (1, 1));
    assert!(status.last_error.is_none());
    assert_eq!(s.counts.reads(), 2, "one refresh, one backend read");
    // The refresher stored what it read: a plain read of the same secret is a hit now.
    let got = s
        .registry
        .manager("app", &[])
        .unwrap()
        .store()
        .read(&k, &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(value(&got), "v2");
    let stats = s.registry.stats(&[])["app"];
    assert_eq!(
        (
            stats.refreshes,
            stats.backend_reads,
            stats.hits,
            stats.watches
        ),
        (1, 2, 1, 1)
    );
    assert_eq!(s.counts.reads(), 2);
}

#[tokio::test]
async fn stats_count_a_known_sequence_of_reads() {
    let s = setup();
    let app = s.registry.manager("app", &[]).unwrap().store();
    let (k, cold) = (name("k"), name("cold"));
    app.write(&k, "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    s.outside
        .write(&cold, "c".into(), &WriteOptions::new())
        .await
        .unwrap();
    let stats = || s.registry.stats(&[])["app"];

    // One miss that reads the backend, then four hits.
    app.read(&k, &ReadOptions::new()).await.unwrap();
    for _ in 0..4 {
        app.read(&k, &ReadOptions::new()).await.unwrap();
    }
    // A missing secret: a miss and a backend read, not cached.
    assert!(
        app.read(&name("missing"), &ReadOptions::new())
            .await
            .unwrap()
            .is_none()
    );

    // Five concurrent cold reads held at the gate: one backend read, four joins.
    let held = s.gate.acquire().await.unwrap();
    let readers: Vec<_> = (0..5)
        .map(|_| {
            let store = Arc::clone(app);
            let cold = cold.clone();
            tokio::spawn(async move { store.read(&cold, &ReadOptions::new()).await })
        })
        .collect();
    until("four readers joined the first", || {
        stats().single_flight_joins == 4
    })
    .await;
    drop(held);
    for r in readers {
        assert_eq!(value(&r.await.unwrap().unwrap().unwrap()), "c");
    }

    // Past the TTL with the backend down: the last good value, once, as a stale answer.
    s.clock.advance(Duration::from_secs(11));
    s.failing.store(true, Ordering::SeqCst);
    let got = app.read(&k, &ReadOptions::new()).await.unwrap().unwrap();
    assert_eq!(value(&got), "v1");
    // A refresh skips the cache, so there is nothing stale to serve: the error.
    let err = app
        .read(&k, &ReadOptions::new().refresh(true))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable);
    s.failing.store(false, Ordering::SeqCst);

    // Two watches of one secret: one refresher, one first read, two live watches.
    let w1 = s
        .registry
        .watch("app", &k, &[], &WatchOptions::new())
        .await
        .unwrap();
    let w2 = s
        .registry
        .watch("app", &k, &[], &WatchOptions::new())
        .await
        .unwrap();

    let got: CacheStats = stats();
    assert_eq!(got.hits, 4, "{got:?}");
    // 1 (k) + 1 (missing) + 5 (cold) + 1 (stale) + 1 (refresh)
    assert_eq!(got.misses, 9, "{got:?}");
    assert_eq!(got.single_flight_joins, 4, "{got:?}");
    assert_eq!(got.stale_served, 1, "{got:?}");
    assert_eq!(got.backend_errors, 2, "{got:?}");
    assert_eq!(got.refreshes, 0, "{got:?}");
    assert_eq!(got.watches, 2, "{got:?}");
    // k, missing, cold, the stale read's try, the refresh, the watch's first read
    assert_eq!(got.backend_reads, 6, "{got:?}");
    assert_eq!(
        got.backend_reads as usize,
        s.counts.reads(),
        "the statistics agree with the calls the backend saw"
    );
    drop((w1, w2));
    assert_eq!(stats().watches, 0);
    // `ops` is not the caller's without the group; with it, it has its own (zero) counters.
    assert!(!s.registry.stats(&[]).contains_key("ops"));
    assert_eq!(s.registry.stats(&groups(&["ops"]))["ops"].hits, 0);
}

/// A registry from TOML on a manual clock, with `cache` as the manager's cache table.
async fn toml_registry(cache: &str, clock: &Arc<ManualClock>) -> Registry {
    let text = format!(
        "[managers.app]\nprovider = \"memory\"\naccess_mode = \"read_and_write\"\ncache = {cache}\n"
    );
    Registry::from_config_with_clock(
        &Config::from_toml(&text).unwrap(),
        clock.clone() as Arc<dyn Clock>,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn refresh_ahead_from_toml_answers_at_once_and_refreshes_once() {
    let clock = Arc::new(ManualClock::new());
    let registry = toml_registry("{ ttl = \"10s\", refresh_ahead = 0.5 }", &clock).await;
    let m = registry.manager("app", &[]).unwrap();
    assert_eq!(m.cache_policy().unwrap().refresh_ahead, Some(0.5));
    let app = m.store();
    let k = name("hot");
    app.write(&k, "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    app.read(&k, &ReadOptions::new()).await.unwrap();
    assert_eq!(m.stats().unwrap().backend_reads, 1);
    // Before the refresh-ahead point: plain hits.
    clock.advance(Duration::from_secs(4));
    app.read(&k, &ReadOptions::new()).await.unwrap();
    assert_eq!(m.stats().unwrap().refreshes, 0);
    // Past half the TTL: answered from the cache at once, and one background refresh.
    clock.advance(Duration::from_secs(2));
    let got = app.read(&k, &ReadOptions::new()).await.unwrap().unwrap();
    assert_eq!(value(&got), "v1");
    until("the background refresh read the backend", || {
        m.stats().unwrap().backend_reads == 2
    })
    .await;
    // The refreshed entry is fresh again: more reads are hits that start nothing.
    for _ in 0..5 {
        app.read(&k, &ReadOptions::new()).await.unwrap();
    }
    let stats = m.stats().unwrap();
    assert_eq!(
        (
            stats.hits,
            stats.misses,
            stats.refreshes,
            stats.backend_reads
        ),
        (7, 1, 1, 2),
        "{stats:?}"
    );
}

#[tokio::test]
async fn refresh_ahead_is_on_by_default_and_can_be_turned_off() {
    let clock = Arc::new(ManualClock::new());
    let on = toml_registry("{ ttl = \"10s\" }", &clock).await;
    assert_eq!(
        on.manager("app", &[])
            .unwrap()
            .cache_policy()
            .unwrap()
            .refresh_ahead,
        Some(strongroom::config::DEFAULT_REFRESH_AHEAD)
    );
    let off = toml_registry("{ ttl = \"10s\", refresh_ahead = false }", &clock).await;
    let m = off.manager("app", &[]).unwrap();
    assert_eq!(m.cache_policy().unwrap().refresh_ahead, None);
    let app = m.store();
    let k = name("k");
    app.write(&k, "v".into(), &WriteOptions::new())
        .await
        .unwrap();
    app.read(&k, &ReadOptions::new()).await.unwrap();
    // Late in the TTL: a hit, nothing in the background.
    clock.advance(Duration::from_secs(9));
    app.read(&k, &ReadOptions::new()).await.unwrap();
    // Past the TTL: the reader waits for the backend (a miss), and no refresh ever ran.
    clock.advance(Duration::from_secs(2));
    app.read(&k, &ReadOptions::new()).await.unwrap();
    let stats = m.stats().unwrap();
    assert_eq!(
        (
            stats.hits,
            stats.misses,
            stats.refreshes,
            stats.backend_reads
        ),
        (1, 2, 0, 2),
        "{stats:?}"
    );
}
