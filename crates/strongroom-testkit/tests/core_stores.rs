//! The built-in stores pass the conformance suite, and the core acceptance behaviours hold.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use strongroom_core::{
    AccessMode, CachePolicy, Clock, Error, ErrorKind, FileStore, ManualClock, MemoryCache,
    MemoryStore, ReadOptions, Secret, SecretName, SecretStore, SecretStoreExt, SecretValue,
    StoreInfo, TemporaryToken, TokenCache, WriteOptions,
};
use strongroom_testkit::{CountingStore, conformance, logs, sentinel};

fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    conformance::run(Arc::new(MemoryStore::new()), conformance::Options::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run(
        Arc::new(FileStore::new(dir.path().join("secrets.json"))),
        conformance::Options::new(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layered_stack_conforms() {
    let store = MemoryStore::new()
        .with_cache(Arc::new(MemoryCache::default()), CachePolicy::new("stack"))
        .with_prefix("litellm")
        .with_access_mode(AccessMode::ReadAndWrite);
    conformance::run(Arc::new(store), conformance::Options::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_cold_reads_make_one_backend_read() {
    let backend = MemoryStore::new();
    backend
        .write(&name("hot"), "v".into(), &WriteOptions::new())
        .await
        .unwrap();
    let counting = CountingStore::new(backend).with_read_delay(Duration::from_millis(100));
    let counts = counting.counts();
    let cached =
        Arc::new(counting.with_cache(Arc::new(MemoryCache::default()), CachePolicy::new("m")));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let cached = Arc::clone(&cached);
            tokio::spawn(async move { cached.read(&name("hot"), &ReadOptions::new()).await })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().unwrap().is_some());
    }
    assert_eq!(counts.reads(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_callers_across_a_token_expiry_make_one_login() {
    let clock = Arc::new(strongroom_core::ManualClock::new());
    let cache = Arc::new(
        TokenCache::<String>::new()
            .with_refresh_buffer(Duration::from_secs(60))
            .with_clock(clock.clone()),
    );
    let logins = Arc::new(AtomicUsize::new(0));
    let login = |logins: Arc<AtomicUsize>, clock: Arc<strongroom_core::ManualClock>| {
        move |_prev: Option<String>| async move {
            let n = logins.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(TemporaryToken {
                token: format!("token-{n}"),
                expiry: Some(strongroom_core::Clock::now(&*clock) + Duration::from_secs(480)),
            })
        }
    };
    cache
        .get_or_refresh(login(logins.clone(), clock.clone()))
        .await
        .unwrap();
    assert_eq!(logins.load(Ordering::SeqCst), 1);
    // Move into the refresh window: the token is about to expire.
    clock.advance(Duration::from_secs(430));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let cache = Arc::clone(&cache);
            let f = login(logins.clone(), clock.clone());
            tokio::spawn(async move { cache.get_or_refresh(f).await.unwrap().token })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), "token-1");
    }
    assert_eq!(logins.load(Ordering::SeqCst), 2, "exactly one new log-in");
    // A 401 seen by many callers invalidates once.
    let lease = cache
        .get_or_refresh(login(logins.clone(), clock.clone()))
        .await
        .unwrap();
    for _ in 0..10 {
        cache.invalidate(lease.generation).await;
    }
    let after = cache
        .get_or_refresh(login(logins.clone(), clock.clone()))
        .await
        .unwrap();
    assert_eq!(after.token, "token-2");
    cache.invalidate(lease.generation).await; // stale generation: no effect
    let again = cache
        .get_or_refresh(login(logins.clone(), clock.clone()))
        .await
        .unwrap();
    assert_eq!(again.token, "token-2");
    assert_eq!(logins.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn every_disallowed_operation_is_refused_with_zero_backend_calls() {
    let counting = CountingStore::new(Arc::new(MemoryStore::new()));
    let counts = counting.counts();
    let n = name("x");
    let ro = counting.clone().with_access_mode(AccessMode::ReadOnly);
    let wo = counting.clone().with_access_mode(AccessMode::WriteOnly);
    let results = vec![
        ro.write(&n, "v".into(), &WriteOptions::new())
            .await
            .map(|_| ()),
        ro.delete(&n, &Default::default()).await,
        wo.read(&n, &ReadOptions::new()).await.map(|_| ()),
        wo.read_many(std::slice::from_ref(&n), &ReadOptions::new())
            .await
            .map(|_| ()),
        wo.list(None).await.map(|_| ()),
    ];
    for r in results {
        assert_eq!(r.unwrap_err().kind(), &ErrorKind::AccessDenied);
    }
    assert_eq!(counts.total(), 0);
    // The allowed ones go through.
    let rw = counting.with_access_mode(AccessMode::ReadAndWrite);
    rw.write(&n, "v".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert!(rw.read(&n, &ReadOptions::new()).await.unwrap().is_some());
    assert_eq!(counts.total(), 2);
}

#[tokio::test]
async fn no_secret_in_debug_errors_or_trace_logs() {
    logs::install();
    let value = sentinel("leak");
    let store = MemoryStore::new()
        .with_cache(Arc::new(MemoryCache::default()), CachePolicy::new("leak"))
        .with_access_mode(AccessMode::ReadAndWrite);
    let n = name("leak/check");
    store
        .write(&n, value.as_str().into(), &WriteOptions::new())
        .await
        .unwrap();
    let secret = store.read(&n, &ReadOptions::new()).await.unwrap().unwrap();
    let err = store
        .read(&n, &ReadOptions::new().field("f"))
        .await
        .unwrap_err();
    let texts = [
        format!("{secret:?}"),
        format!("{:?}", secret.value),
        format!("{store:?}"),
        format!("{err} {err:?}"),
    ];
    for t in texts {
        assert!(!t.contains(&value), "leak in: {t}");
    }
    tracing::trace!(secret = ?secret, "a trace line with the secret's Debug");
    assert!(logs::captured().contains("[REDACTED]"), "capture works");
    logs::assert_absent(&[&value]);
}

/// A read-only store for cache tests: `read` answers `v<n>` (n counts the reads), with an
/// expiry `expires_in` after the clock's now, or fails while `down` is set.
#[derive(Debug)]
struct Scripted {
    reads: AtomicUsize,
    down: std::sync::atomic::AtomicBool,
    expires_in: Option<Duration>,
    clock: Arc<ManualClock>,
    info: StoreInfo,
}

impl Scripted {
    fn new(clock: &Arc<ManualClock>, expires_in: Option<Duration>) -> Arc<Scripted> {
        Arc::new(Scripted {
            reads: AtomicUsize::new(0),
            down: Default::default(),
            expires_in,
            clock: Arc::clone(clock),
            info: StoreInfo::new("scripted", strongroom_core::Capabilities::read_only()),
        })
    }
}

#[strongroom_core::async_trait]
impl SecretStore for Scripted {
    fn info(&self) -> &StoreInfo {
        &self.info
    }
    async fn read(
        &self,
        _: &SecretName,
        _: &ReadOptions,
    ) -> strongroom_core::Result<Option<Secret>> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Unavailable, "backend down"));
        }
        let n = self.reads.fetch_add(1, Ordering::SeqCst);
        let mut secret = Secret::new(SecretValue::from(format!("v{n}")));
        if let Some(d) = self.expires_in {
            secret = secret.with_expires_at(self.clock.system_now() + d);
        }
        Ok(Some(secret))
    }
    async fn write(
        &self,
        _: &SecretName,
        _: SecretValue,
        _: &WriteOptions,
    ) -> strongroom_core::Result<strongroom_core::WriteOutcome> {
        unreachable!()
    }
    async fn delete(
        &self,
        _: &SecretName,
        _: &strongroom_core::DeleteOptions,
    ) -> strongroom_core::Result<()> {
        unreachable!()
    }
    async fn list(&self, _: Option<&str>) -> strongroom_core::Result<Vec<SecretName>> {
        Ok(vec![])
    }
}

fn value_of(s: Secret) -> String {
    s.value.expose_str().unwrap().to_owned()
}

#[tokio::test]
async fn ttl_follows_the_secrets_own_expiry() {
    let clock = Arc::new(ManualClock::new());
    let store = Scripted::new(&clock, Some(Duration::from_secs(150)));
    let cached = Arc::clone(&store)
        .with_cache(
            Arc::new(MemoryCache::default()),
            CachePolicy::new("e").ttl(Duration::from_secs(3600)),
        )
        .with_clock(clock.clone());
    let x = name("x");
    let read = |opts: ReadOptions| {
        let cached = &cached;
        let x = x.clone();
        async move { value_of(cached.read(&x, &opts).await.unwrap().unwrap()) }
    };
    assert_eq!(read(ReadOptions::new()).await, "v0");
    clock.advance(Duration::from_secs(149));
    assert_eq!(read(ReadOptions::new()).await, "v0", "cached while valid");
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        read(ReadOptions::new()).await,
        "v1",
        "not served past its own expiry"
    );
    assert_eq!(
        read(ReadOptions::new().refresh(true)).await,
        "v2",
        "refresh bypasses the cache"
    );
    assert_eq!(store.reads.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn stale_if_error_serves_last_good_value_for_the_window_then_fails() {
    let clock = Arc::new(ManualClock::new());
    let store = Scripted::new(&clock, None);
    let cached = Arc::clone(&store)
        .with_cache(
            Arc::new(MemoryCache::default()),
            CachePolicy::new("s")
                .ttl(Duration::from_secs(100))
                .stale_if_error(Duration::from_secs(400)),
        )
        .with_clock(clock.clone());
    let n = name("x");
    assert_eq!(
        value_of(cached.read(&n, &ReadOptions::new()).await.unwrap().unwrap()),
        "v0"
    );
    store.down.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(200)); // past the TTL, inside the window
    let got = cached.read(&n, &ReadOptions::new()).await.unwrap().unwrap();
    assert_eq!(
        value_of(got),
        "v0",
        "the last good value, while the backend fails"
    );
    clock.advance(Duration::from_secs(301)); // past the window
    let err = cached.read(&n, &ReadOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable);
    // Without stale-if-error, the error shows at once after the TTL.
    store.down.store(false, Ordering::SeqCst);
    let strict = Arc::clone(&store)
        .with_cache(
            Arc::new(MemoryCache::default()),
            CachePolicy::new("t").ttl(Duration::from_secs(50)),
        )
        .with_clock(clock.clone());
    strict.read(&n, &ReadOptions::new()).await.unwrap();
    store.down.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(51));
    assert_eq!(
        strict
            .read(&n, &ReadOptions::new())
            .await
            .unwrap_err()
            .kind(),
        &ErrorKind::Unavailable
    );
}

/// One shared backend object space seen as a given caller (what two managers with different
/// credentials over one Vault are).
#[derive(Debug)]
struct AsCaller {
    backend: Arc<MemoryStore>,
    info: StoreInfo,
}

impl AsCaller {
    fn new(backend: &Arc<MemoryStore>, caller: &str) -> AsCaller {
        AsCaller {
            backend: Arc::clone(backend),
            info: StoreInfo::new("memory", strongroom_core::Capabilities::all())
                .with_address("memory://shared-object-space")
                .with_identity(&[caller.as_bytes()]),
        }
    }
}

#[strongroom_core::async_trait]
impl strongroom_core::layer::StoreLayer for AsCaller {
    type Inner = MemoryStore;
    fn inner(&self) -> &MemoryStore {
        &self.backend
    }
    fn info(&self) -> &StoreInfo {
        &self.info
    }
}

#[tokio::test]
async fn a_write_as_one_caller_invalidates_every_callers_entry_of_that_object() {
    let backend = Arc::new(MemoryStore::new());
    let n = name("db/password");
    backend
        .write(&n, "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let cache: Arc<MemoryCache> = Arc::new(MemoryCache::default());
    let alice = CountingStore::new(AsCaller::new(&backend, "alice"));
    let alice_reads = alice.counts();
    let alice = alice.with_cache(cache.clone(), CachePolicy::new("a"));
    let bob = CountingStore::new(AsCaller::new(&backend, "bob"));
    let bob_reads = bob.counts();
    let bob = bob.with_cache(cache.clone(), CachePolicy::new("b"));
    // Carol caches in a cache of her own: her entry must go too.
    let carol = CountingStore::new(AsCaller::new(&backend, "carol"));
    let carol_reads = carol.counts();
    let carol = carol.with_cache(Arc::new(MemoryCache::default()), CachePolicy::new("c"));
    assert_ne!(alice.scope(), bob.scope(), "callers never share an entry");
    for store in [&alice, &bob, &carol] {
        assert_eq!(
            value_of(store.read(&n, &ReadOptions::new()).await.unwrap().unwrap()),
            "v1"
        );
        assert_eq!(
            value_of(store.read(&n, &ReadOptions::new()).await.unwrap().unwrap()),
            "v1"
        );
    }
    assert_eq!(
        [alice_reads.reads(), bob_reads.reads(), carol_reads.reads()],
        [1, 1, 1],
        "each caller read once, then hit its own entry"
    );

    alice
        .write(&n, "v2".into(), &WriteOptions::new())
        .await
        .unwrap();
    for store in [&alice, &bob, &carol] {
        assert_eq!(
            value_of(store.read(&n, &ReadOptions::new()).await.unwrap().unwrap()),
            "v2"
        );
    }
    assert_eq!(
        [alice_reads.reads(), bob_reads.reads(), carol_reads.reads()],
        [2, 2, 2],
        "every caller's entry was dropped by the write, so each read the new value once"
    );

    // A store over another object space keeps its entry.
    let elsewhere_backend = Arc::new(MemoryStore::new());
    elsewhere_backend
        .write(&n, "other".into(), &WriteOptions::new())
        .await
        .unwrap();
    let elsewhere = CountingStore::new(elsewhere_backend);
    let elsewhere_reads = elsewhere.counts();
    let elsewhere = elsewhere.with_cache(cache.clone(), CachePolicy::new("e"));
    elsewhere.read(&n, &ReadOptions::new()).await.unwrap();
    bob.delete(&n, &strongroom_core::DeleteOptions::new())
        .await
        .unwrap();
    assert!(alice.read(&n, &ReadOptions::new()).await.unwrap().is_none());
    assert_eq!(
        value_of(
            elsewhere
                .read(&n, &ReadOptions::new())
                .await
                .unwrap()
                .unwrap()
        ),
        "other"
    );
    assert_eq!(
        elsewhere_reads.reads(),
        1,
        "another address is not a sibling"
    );
}
