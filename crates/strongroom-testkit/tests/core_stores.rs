//! The built-in stores pass the conformance suite, and the core acceptance behaviours hold.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use strongroom_core::{
    AccessMode, CachePolicy, Error, ErrorKind, FileStore, MemoryCache, MemoryStore, ReadOptions,
    Secret, SecretName, SecretStore, SecretStoreExt, SecretValue, TemporaryToken, TokenCache,
    WriteOptions,
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

#[tokio::test]
async fn ttl_follows_the_secrets_own_expiry() {
    #[derive(Debug)]
    struct Expiring(AtomicUsize);
    #[strongroom_core::async_trait]
    impl SecretStore for Expiring {
        fn provider(&self) -> &'static str {
            "expiring"
        }
        fn capabilities(&self) -> strongroom_core::Capabilities {
            strongroom_core::Capabilities::read_only()
        }
        async fn read(
            &self,
            _: &SecretName,
            _: &ReadOptions,
        ) -> strongroom_core::Result<Option<Secret>> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Some(
                Secret::new(SecretValue::from(format!("v{n}")))
                    .with_expires_at(SystemTime::now() + Duration::from_millis(150)),
            ))
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
    let cached = Expiring(AtomicUsize::new(0)).with_cache(
        Arc::new(MemoryCache::default()),
        CachePolicy::new("e").ttl(Duration::from_secs(3600)),
    );
    let read = || async {
        cached
            .read(&name("x"), &ReadOptions::new())
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(read().await.value.expose_str().unwrap(), "v0");
    assert_eq!(
        read().await.value.expose_str().unwrap(),
        "v0",
        "cached while valid"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        read().await.value.expose_str().unwrap(),
        "v1",
        "not served past its own expiry"
    );
    assert_eq!(
        cached
            .read(&name("x"), &ReadOptions::new().refresh(true))
            .await
            .unwrap()
            .unwrap()
            .value
            .expose_str()
            .unwrap(),
        "v2",
        "refresh bypasses the cache"
    );
}

#[tokio::test]
async fn stale_if_error_serves_last_good_value_for_the_window_then_fails() {
    #[derive(Debug, Default)]
    struct Flaky {
        down: std::sync::atomic::AtomicBool,
    }
    #[strongroom_core::async_trait]
    impl SecretStore for Flaky {
        fn provider(&self) -> &'static str {
            "flaky"
        }
        fn capabilities(&self) -> strongroom_core::Capabilities {
            strongroom_core::Capabilities::read_only()
        }
        async fn read(
            &self,
            _: &SecretName,
            _: &ReadOptions,
        ) -> strongroom_core::Result<Option<Secret>> {
            if self.down.load(Ordering::SeqCst) {
                Err(Error::new(ErrorKind::Unavailable, "backend down"))
            } else {
                Ok(Some(Secret::new("good")))
            }
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
    let flaky = Arc::new(Flaky::default());
    let cached = Arc::clone(&flaky).with_cache(
        Arc::new(MemoryCache::default()),
        CachePolicy::new("s")
            .ttl(Duration::from_millis(100))
            .stale_if_error(Duration::from_millis(400)),
    );
    let n = name("x");
    assert!(
        cached
            .read(&n, &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
    flaky.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await; // past the TTL, inside the window
    let got = cached.read(&n, &ReadOptions::new()).await.unwrap().unwrap();
    assert_eq!(got.value.expose_str().unwrap(), "good");
    tokio::time::sleep(Duration::from_millis(400)).await; // past the window
    let err = cached.read(&n, &ReadOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable);
    // Without stale-if-error, the error shows at once after the TTL.
    flaky.down.store(false, Ordering::SeqCst);
    let strict = Arc::clone(&flaky).with_cache(
        Arc::new(MemoryCache::default()),
        CachePolicy::new("t").ttl(Duration::from_millis(50)),
    );
    strict.read(&n, &ReadOptions::new()).await.unwrap();
    flaky.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(strict.read(&n, &ReadOptions::new()).await.is_err());
}
