//! RedisCache against real Redis servers: the shared one on 127.0.0.1:6379 (or
//! `STRONGROOM_REDIS_URL`, with a unique prefix per test) and `redis-server` processes these
//! tests start themselves (restart, pause, password, TLS, a 3-node cluster).
//!
//! Several caches in one test process stand for several processes of a fleet: each has its
//! own connections, its own subscription and its own near cache. The fleet tests with real
//! processes and real backends are in `tests/fleet.rs`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use strongroom_core::seal::SealKey;
use strongroom_core::{
    CacheEntry, CacheKey, CachePolicy, CacheScope, Cached, ErrorKind, Fill, Identity, MemoryStore,
    ReadOptions, Secret, SecretCache, SecretKind, SecretName, SecretStore, SecretStoreExt,
    WriteOptions,
};
use strongroom_redis::{FleetEvent, RedisCache, RedisCacheBuilder};
use strongroom_testkit::proxy::{FaultProxy, ProxyMode};
use strongroom_testkit::servers::redis::{RedisCluster, RedisServer, shared_url};
use strongroom_testkit::servers::{free_port, wait_until};
use strongroom_testkit::{CountingStore, conformance, logs};
use tokio::sync::broadcast;

fn unique_prefix(label: &str) -> String {
    format!("srtest-{label}-{:08x}:", rand::random::<u32>())
}

fn scope() -> CacheScope {
    CacheScope::of("memory", &Identity::anonymous())
}

fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

fn ck(n: &str) -> CacheKey {
    CacheKey::new(scope(), &name(n), &ReadOptions::new())
}

fn entry(value: &str) -> CacheEntry {
    let now = SystemTime::now();
    CacheEntry {
        secret: Secret::new(value),
        stored_at: now,
        fresh_until: now + Duration::from_secs(60),
        keep_until: now + Duration::from_secs(60),
    }
}

fn builder(url: &str, key: &SealKey, prefix: &str) -> RedisCacheBuilder {
    RedisCacheBuilder::new(url)
        .with_key(key.clone())
        .with_prefix(prefix)
}

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Every key under `prefix` on a single server.
async fn keys_under(url: &str, prefix: &str) -> Vec<Vec<u8>> {
    let mut conn = raw(url).await;
    let mut out = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        out.extend(batch);
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

/// A string value (`None` for a missing key or another type, such as an index set).
async fn raw_get(url: &str, key: &[u8]) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(key)
        .query_async::<Option<Vec<u8>>>(&mut raw(url).await)
        .await
        .ok()
        .flatten()
}

async fn raw_set(url: &str, key: &[u8], value: &[u8]) {
    let () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .arg("PX")
        .arg(60_000)
        .query_async(&mut raw(url).await)
        .await
        .unwrap();
}

/// Waits for the first event that matches (the subscriber task emits them).
async fn next_event(
    rx: &mut broadcast::Receiver<FleetEvent>,
    what: &str,
    want: impl Fn(&FleetEvent) -> bool,
) {
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match rx.recv().await {
                Ok(e) if want(&e) => return,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("event stream closed"),
            }
        }
    })
    .await;
    assert!(found.is_ok(), "no {what} event");
}

async fn until_live(cache: &RedisCache) {
    wait_until("the subscription", Duration::from_secs(30), || async {
        cache.subscription_live()
    })
    .await;
}

/// One member of an in-process fleet: its own cache over a backend shared by all members
/// (so the backend read count is the fleet's).
struct Member {
    cache: RedisCache,
    store: Cached<CountingStore<Arc<MemoryStore>>>,
}

async fn member(
    b: RedisCacheBuilder,
    backend: &CountingStore<Arc<MemoryStore>>,
    ttl: Duration,
) -> Member {
    let cache = b.build().await.expect("build");
    let store = backend
        .clone()
        .with_cache(Arc::new(cache.clone()), CachePolicy::new("fleet").ttl(ttl));
    Member { cache, store }
}

async fn value_of(store: &impl SecretStore, n: &str) -> String {
    store
        .read(&name(n), &ReadOptions::new())
        .await
        .expect("read")
        .expect("present")
        .value
        .expose_str()
        .unwrap()
        .to_owned()
}

// ---- the SecretCache contract -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_near_and_lease_on_a_single_redis() {
    let cache = builder(&shared_url(), &SealKey::generate(), &unique_prefix("conf"))
        .with_near(true)
        .build()
        .await
        .unwrap();
    let store = MemoryStore::new().with_cache(
        Arc::new(cache.clone()),
        CachePolicy::new("conformance-redis").ttl(Duration::from_secs(30)),
    );
    conformance::run(Arc::new(store), conformance::Options::new()).await;
    cache.clear(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_a_redis_cluster() {
    let cluster = RedisCluster::start(3);
    let cache = RedisCacheBuilder::default()
        .with_cluster(cluster.urls())
        .with_key(SealKey::generate())
        .with_near(true)
        .with_timeout(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    assert!(cache.is_cluster());
    let store = MemoryStore::new().with_cache(
        Arc::new(cache.clone()),
        CachePolicy::new("conformance-cluster").ttl(Duration::from_secs(30)),
    );
    conformance::run(Arc::new(store), conformance::Options::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_only_digests_and_sealed_bytes_and_entries_reads_names_inside() {
    let url = shared_url();
    let prefix = unique_prefix("names");
    let cache = builder(&url, &SealKey::generate(), &prefix)
        .build()
        .await
        .unwrap();
    let now = SystemTime::now();
    let e = CacheEntry {
        secret: Secret::new("s3cr3t-value-x")
            .with_version("7")
            .with_expires_at(now + Duration::from_secs(3600))
            .with_kind(SecretKind::Dynamic)
            .with_content_type("application/json")
            .with_tag("team", "payments"),
        stored_at: now,
        fresh_until: now + Duration::from_secs(60),
        keep_until: now + Duration::from_secs(90),
    };
    let field = CacheKey::new(
        scope(),
        &name("billing/db-password"),
        &ReadOptions::new().field("user"),
    );
    cache
        .set(
            &ck("billing/db-password"),
            e.clone(),
            Duration::from_secs(90),
        )
        .await
        .unwrap();
    cache
        .set(&field, entry("u"), Duration::from_secs(90))
        .await
        .unwrap();
    let got = cache
        .get(&ck("billing/db-password"))
        .await
        .unwrap()
        .expect("hit");
    assert_eq!(got.secret, e.secret);
    assert_eq!(got.fresh_until, e.fresh_until);
    assert_eq!(got.keep_until, e.keep_until);

    let keys = keys_under(&url, &prefix).await;
    assert_eq!(
        keys.len(),
        3,
        "two entries and the secret's index: {keys:?}"
    );
    for k in &keys {
        let text = String::from_utf8_lossy(k);
        assert!(
            !text.contains("billing") && !text.contains("password") && !text.contains("user"),
            "{text}"
        );
        let Some(v) = raw_get(&url, k).await else {
            continue;
        };
        assert!(!v.windows(14).any(|w| w == b"s3cr3t-value-x"));
        assert!(!v.windows(7).any(|w| w == b"billing"));
        assert!(!v.windows(8).any(|w| w == b"payments"));
    }
    // The names come from inside the sealed entries.
    let listed = cache.entries().await.unwrap();
    let shown: Vec<&str> = listed.iter().map(|i| i.display.as_str()).collect();
    assert_eq!(shown, ["billing/db-password", "billing/db-password#user"]);
    assert_eq!(listed[0].scope, scope());
    assert_eq!(listed[0].fresh_until, e.fresh_until);
    cache.clear(None).await.unwrap();
    assert!(keys_under(&url, &prefix).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_is_redis_expiry() {
    let url = shared_url();
    let prefix = unique_prefix("ttl");
    let cache = builder(&url, &SealKey::generate(), &prefix)
        .build()
        .await
        .unwrap();
    cache
        .set(&ck("t"), entry("v"), Duration::from_millis(4_500))
        .await
        .unwrap();
    let keys = keys_under(&url, &prefix).await;
    let mut conn = raw(&url).await;
    let mut ttls = Vec::new();
    for k in &keys {
        let ms: i64 = redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
        ttls.push(ms);
    }
    // The entry and its index expire with the entry; nothing is kept forever.
    assert!(ttls.iter().all(|ms| *ms > 0 && *ms <= 4_500), "{ttls:?}");
    cache.clear(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidate_removes_exactly_one_secrets_keys_without_a_scan() {
    let server = RedisServer::start();
    let url = server.url();
    let cache = builder(&url, &SealKey::generate(), "inv:")
        .build()
        .await
        .unwrap();
    let db = name("db");
    for opts in [
        ReadOptions::new(),
        ReadOptions::new().field("f"),
        ReadOptions::new().version("2"),
    ] {
        cache
            .set(
                &CacheKey::new(scope(), &db, &opts),
                entry("v"),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
    }
    cache
        .set(&ck("db2"), entry("other"), Duration::from_secs(60))
        .await
        .unwrap();
    let other_scope = CacheKey::new(
        CacheScope::of("elsewhere", &Identity::anonymous()),
        &db,
        &ReadOptions::new(),
    );
    cache
        .set(&other_scope, entry("other scope"), Duration::from_secs(60))
        .await
        .unwrap();
    server.command(&["CONFIG", "RESETSTAT"]).unwrap();
    let g = cache.generation(scope(), &db);
    cache.invalidate(scope(), &db).await.unwrap();
    assert!(
        cache.generation(scope(), &db) > g,
        "the in-process generation moved"
    );
    let stats = server.command(&["INFO", "commandstats"]).unwrap();
    assert!(!stats.contains("cmdstat_scan"), "no SCAN: {stats}");
    assert!(!stats.contains("cmdstat_keys"), "no KEYS: {stats}");
    for opts in [
        ReadOptions::new(),
        ReadOptions::new().field("f"),
        ReadOptions::new().version("2"),
    ] {
        assert!(
            cache
                .get(&CacheKey::new(scope(), &db, &opts))
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(
        cache.get(&ck("db2")).await.unwrap().is_some(),
        "another secret stays"
    );
    assert!(
        cache.get(&other_scope).await.unwrap().is_some(),
        "another scope stays"
    );
    let listed = cache.entries().await.unwrap();
    assert_eq!(listed.len(), 2);
    // clear(scope) takes only that scope; clear(None) the rest.
    cache.clear(Some(scope())).await.unwrap();
    assert!(cache.get(&ck("db2")).await.unwrap().is_none());
    assert!(cache.get(&other_scope).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_stays_inside_the_prefix() {
    let url = shared_url();
    let key = SealKey::generate();
    let (p1, p2) = (unique_prefix("c1"), unique_prefix("c2"));
    let a = builder(&url, &key, &p1).build().await.unwrap();
    let b = builder(&url, &key, &p2).build().await.unwrap();
    a.set(&ck("x"), entry("a"), Duration::from_secs(30))
        .await
        .unwrap();
    b.set(&ck("x"), entry("b"), Duration::from_secs(30))
        .await
        .unwrap();
    a.clear(None).await.unwrap();
    assert!(a.get(&ck("x")).await.unwrap().is_none());
    assert!(
        b.get(&ck("x")).await.unwrap().is_some(),
        "another prefix is untouched"
    );
    // A prefix with glob characters matches literally.
    let glob = format!("{}*?[x]\\:", unique_prefix("g"));
    let g = builder(&url, &key, &glob).build().await.unwrap();
    g.set(&ck("y"), entry("g"), Duration::from_secs(30))
        .await
        .unwrap();
    g.clear(None).await.unwrap();
    assert!(b.get(&ck("x")).await.unwrap().is_some());
    b.clear(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_moved_or_foreign_entries_are_misses_with_a_warning() {
    logs::install();
    let url = shared_url();
    let prefix = unique_prefix("tamper");
    let key = SealKey::generate();
    let cache = builder(&url, &key, &prefix).build().await.unwrap();
    cache
        .set(&ck("a"), entry("value-a"), Duration::from_secs(30))
        .await
        .unwrap();
    cache
        .set(&ck("b"), entry("value-b"), Duration::from_secs(30))
        .await
        .unwrap();
    let entry_keys: Vec<Vec<u8>> = keys_under(&url, &prefix)
        .await
        .into_iter()
        .filter(|k| k.windows(3).any(|w| w == b"}:v"))
        .collect();
    assert_eq!(entry_keys.len(), 2);
    // Copy b's envelope over a's key: bound to b's key, it does not open at a's.
    let b_value = raw_get(&url, &entry_keys[1]).await.unwrap();
    let a_value = raw_get(&url, &entry_keys[0]).await.unwrap();
    raw_set(&url, &entry_keys[0], &b_value).await;
    let (ga, gb) = (
        cache.get(&ck("a")).await.unwrap(),
        cache.get(&ck("b")).await.unwrap(),
    );
    assert!(
        ga.is_none() || gb.is_none(),
        "a moved envelope does not open"
    );
    // Flip a byte of the ciphertext.
    let mut t = a_value.clone();
    let last = t.len() - 1;
    t[last] ^= 1;
    raw_set(&url, &entry_keys[0], &t).await;
    raw_set(&url, &entry_keys[1], &t).await;
    assert!(cache.get(&ck("a")).await.unwrap().is_none());
    assert!(cache.get(&ck("b")).await.unwrap().is_none());
    // Garbage and another key's entries.
    raw_set(&url, &entry_keys[0], b"not an envelope").await;
    assert!(cache.get(&ck("a")).await.unwrap().is_none());
    let stranger = builder(&url, &SealKey::generate(), &prefix)
        .build()
        .await
        .unwrap();
    cache
        .set(&ck("c"), entry("value-c"), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        stranger.get(&ck("c")).await.unwrap().is_none(),
        "another key finds nothing"
    );
    assert!(logs::captured().contains("did not open"));
    logs::assert_absent(&["value-a", "value-b", "value-c"]);
    cache.clear(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_reads_the_old_namespace_and_invalidates_both() {
    let url = shared_url();
    let prefix = unique_prefix("rot");
    let (old, new) = (SealKey::generate(), SealKey::generate());
    let before = builder(&url, &old, &prefix).build().await.unwrap();
    before
        .set(&ck("k"), entry("sealed-with-old"), Duration::from_secs(30))
        .await
        .unwrap();
    // Step 2 of a rotation: the new key is current, the old one previous.
    let during = builder(&url, &new, &prefix)
        .with_previous_key(old.clone())
        .build()
        .await
        .unwrap();
    let got = during
        .get(&ck("k"))
        .await
        .unwrap()
        .expect("found in the old key's namespace");
    assert_eq!(got.secret.value.expose_str().unwrap(), "sealed-with-old");
    during
        .set(&ck("k2"), entry("sealed-with-new"), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        before.get(&ck("k2")).await.unwrap().is_none(),
        "old-only processes miss new entries"
    );
    // A write through a rotated process drops the entry in both namespaces.
    during.invalidate(scope(), &name("k")).await.unwrap();
    assert!(before.get(&ck("k")).await.unwrap().is_none());
    during.clear(None).await.unwrap();
}

// ---- failures -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_redis_costs_backend_reads_not_errors_and_serves_again() {
    let mut server = RedisServer::start();
    let backend = CountingStore::new(Arc::new(MemoryStore::new()));
    let counts = backend.counts();
    backend
        .write(&name("db/pass"), "pw-1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let m = member(
        builder(&server.url(), &SealKey::generate(), "restart:"),
        &backend,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(value_of(&m.store, "db/pass").await, "pw-1");
    assert_eq!(value_of(&m.store, "db/pass").await, "pw-1");
    let reads = counts.reads();
    server.stop();
    for _ in 0..3 {
        assert_eq!(
            value_of(&m.store, "db/pass").await,
            "pw-1",
            "answered from the backend"
        );
    }
    assert!(counts.reads() >= reads + 3);
    for e in [
        m.cache.get(&ck("x")).await.unwrap_err(),
        m.cache
            .set(&ck("x"), entry("v"), Duration::from_secs(1))
            .await
            .unwrap_err(),
        m.cache.invalidate(scope(), &name("x")).await.unwrap_err(),
        m.cache.clear(None).await.unwrap_err(),
        m.cache.entries().await.map(|_| ()).unwrap_err(),
    ] {
        assert_eq!(e.kind(), &ErrorKind::Cache, "{e}");
    }
    assert!(
        matches!(m.cache.begin_fill(&ck("x")).await, Fill::Alone),
        "no coordination without Redis"
    );
    server.start_again();
    wait_until(
        "the cache to reconnect",
        Duration::from_secs(15),
        || async { m.cache.ping().await.is_ok() },
    )
    .await;
    let reads = counts.reads();
    for _ in 0..3 {
        assert_eq!(value_of(&m.store, "db/pass").await, "pw-1");
    }
    assert_eq!(counts.reads(), reads + 1, "one refill, then hits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_is_cut_off_by_the_timeout() {
    let server = RedisServer::start();
    let backend = CountingStore::new(Arc::new(MemoryStore::new()));
    let counts = backend.counts();
    backend
        .write(&name("k"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let m = member(
        builder(&server.url(), &SealKey::generate(), "slow:")
            .with_timeout(Duration::from_millis(200)),
        &backend,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(value_of(&m.store, "k").await, "v1");
    server.pause();
    // A hang would fail the test (the guard is far above the 200 ms bound).
    let got = tokio::time::timeout(Duration::from_secs(20), value_of(&m.store, "k")).await;
    assert_eq!(got.expect("cut off, not hung"), "v1");
    assert_eq!(counts.reads(), 2, "the frozen Redis was skipped");
    server.resume();
    wait_until(
        "the cache to answer again",
        Duration::from_secs(15),
        || async { m.cache.ping().await.is_ok() },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_down_at_start_up_does_not_stop_the_application() {
    let backend = CountingStore::new(Arc::new(MemoryStore::new()));
    backend
        .write(&name("k"), "v".into(), &WriteOptions::new())
        .await
        .unwrap();
    let m = member(
        builder(
            &format!("redis://127.0.0.1:{}", free_port()),
            &SealKey::generate(),
            "down:",
        )
        .with_near(true),
        &backend,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(value_of(&m.store, "k").await, "v");
    assert_eq!(
        m.cache.get(&ck("k")).await.unwrap_err().kind(),
        &ErrorKind::Cache
    );
    assert!(!m.cache.subscription_live());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_protected_redis() {
    let server = RedisServer::start_with(&["--requirepass", "pw-redis-test"]);
    let wrong = builder(&server.url(), &SealKey::generate(), "pw:")
        .build()
        .await
        .unwrap();
    let err = wrong.get(&ck("k")).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Cache);
    assert!(!format!("{err} {err:?} {wrong:?}").contains("pw-redis-test"));
    let cache = builder(&server.url(), &SealKey::generate(), "pw:")
        .with_password("pw-redis-test")
        .with_near(true)
        .build()
        .await
        .unwrap();
    assert!(!format!("{cache:?}").contains("pw-redis-test"));
    cache
        .set(&ck("k"), entry("v"), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(cache.get(&ck("k")).await.unwrap().is_some());
    until_live(&cache).await; // the subscription authenticates too
    // A password in the URL is refused before anything connects.
    let e = builder(
        &format!("redis://:pw-redis-test@127.0.0.1:{}", server.port()),
        &SealKey::generate(),
        "pw:",
    )
    .build()
    .await
    .unwrap_err();
    assert!(!e.to_string().contains("pw-redis-test"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca_for_commands_and_the_subscription() {
    let server = RedisServer::start_tls();
    let cache = builder(&server.tls_url(), &SealKey::generate(), "tls:")
        .with_ca_pem(server.ca_pem().as_bytes().to_vec())
        .with_timeout(Duration::from_secs(2))
        .with_near(true)
        .build()
        .await
        .unwrap();
    cache
        .set(&ck("tls"), entry("over-tls"), Duration::from_secs(30))
        .await
        .unwrap();
    let got = cache.get(&ck("tls")).await.unwrap().expect("hit over TLS");
    assert_eq!(got.secret.value.expose_str().unwrap(), "over-tls");
    assert_eq!(
        server.command(&["DBSIZE"]).unwrap(),
        "2",
        "entry and index stored in the TLS server"
    );
    until_live(&cache).await;
    // Without the CA the server's certificate is not trusted: a cache error, not a hang.
    let untrusted = builder(&server.tls_url(), &SealKey::generate(), "tls:")
        .with_timeout(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    assert_eq!(
        untrusted.get(&ck("tls")).await.unwrap_err().kind(),
        &ErrorKind::Cache
    );
}

// ---- fleet: leases, generations, near cache ------------------------------------------------

async fn single_flight_across_members(urls: Urls, label: &str) {
    let backend = CountingStore::new(Arc::new(MemoryStore::new()))
        .with_read_delay(Duration::from_millis(200));
    let counts = backend.counts();
    backend
        .write(&name("hot"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let key = SealKey::generate();
    let prefix = unique_prefix(label);
    let mut members = Vec::new();
    for _ in 0..8 {
        members.push(
            member(
                urls.builder(&key, &prefix),
                &backend,
                Duration::from_secs(60),
            )
            .await,
        );
    }
    let reads = members
        .iter()
        .flat_map(|m| (0..10).map(move |_| value_of(&m.store, "hot")));
    let got = futures_util::future::join_all(reads).await;
    assert!(got.iter().all(|v| v == "v1"));
    assert_eq!(counts.reads(), 1, "one backend read for the whole fleet");
    let stats: Vec<_> = members.iter().map(|m| m.cache.fleet_stats()).collect();
    assert_eq!(stats.iter().map(|s| s.leads).sum::<u64>(), 1, "{stats:?}");
    assert_eq!(stats.iter().map(|s| s.alone).sum::<u64>(), 0, "{stats:?}");
    members[0].cache.clear(None).await.unwrap();
}

enum Urls {
    Single(String),
    Cluster(Vec<String>),
}

impl Urls {
    fn builder(&self, key: &SealKey, prefix: &str) -> RedisCacheBuilder {
        match self {
            Urls::Single(url) => builder(url, key, prefix),
            Urls::Cluster(urls) => RedisCacheBuilder::default()
                .with_cluster(urls.clone())
                .with_key(key.clone())
                .with_prefix(prefix)
                .with_timeout(Duration::from_secs(1)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_caches_reads_a_cold_key_once_on_a_single_redis() {
    single_flight_across_members(Urls::Single(shared_url()), "sf").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_caches_reads_a_cold_key_once_on_a_cluster() {
    let cluster = RedisCluster::start(3);
    single_flight_across_members(Urls::Cluster(cluster.urls()), "sfc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_lease_every_member_reads_the_backend() {
    let backend = CountingStore::new(Arc::new(MemoryStore::new()))
        .with_read_delay(Duration::from_millis(100));
    let counts = backend.counts();
    backend
        .write(&name("hot"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let (key, prefix) = (SealKey::generate(), unique_prefix("nolease"));
    let mut members = Vec::new();
    for _ in 0..4 {
        members.push(
            member(
                builder(&shared_url(), &key, &prefix).with_lease(false),
                &backend,
                Duration::from_secs(60),
            )
            .await,
        );
    }
    futures_util::future::join_all(members.iter().map(|m| value_of(&m.store, "hot"))).await;
    assert_eq!(
        counts.reads(),
        4,
        "one per process (single-flight stops at the process)"
    );
    members[0].cache.clear(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_holder_is_replaced_when_its_lease_expires_and_waiters_past_the_bound_read_alone()
{
    let url = shared_url();
    let (key, prefix) = (SealKey::generate(), unique_prefix("lease"));
    let holder = builder(&url, &key, &prefix)
        .with_lease_ttl(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    assert!(matches!(holder.begin_fill(&ck("k")).await, Fill::Lead(_)));
    // A waiter with a short bound gives up and reads alone.
    let impatient = builder(&url, &key, &prefix)
        .with_lease_wait(Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    assert!(matches!(impatient.begin_fill(&ck("k")).await, Fill::Alone));
    assert_eq!(impatient.fleet_stats().alone, 1);
    // The holder goes away without ending its fill (its renewals stop): the next one takes
    // over once the lease expires — well before its own wait bound.
    drop(holder);
    let next = builder(&url, &key, &prefix)
        .with_lease_wait(Duration::from_secs(30))
        .build()
        .await
        .unwrap();
    let Fill::Lead(lease) = next.begin_fill(&ck("k")).await else {
        panic!("the expired lease was not taken over");
    };
    assert_eq!(next.fleet_stats().waits, 1);
    // It fills; a late waiter gets that entry (Ready) without a backend read.
    next.set(&ck("k"), entry("filled"), Duration::from_secs(30))
        .await
        .unwrap();
    next.end_fill(&ck("k"), lease).await;
    let late = builder(&url, &key, &prefix).build().await.unwrap();
    match late.begin_fill(&ck("k")).await {
        Fill::Ready(e) => assert_eq!(e.secret.value.expose_str().unwrap(), "filled"),
        other => panic!("expected the fresh fill, got {other:?}"),
    }
    // An entry this process already saw (and judged stale) is not handed back as a fill.
    let seen = late.get(&ck("k")).await.unwrap();
    assert!(seen.is_some());
    assert!(matches!(late.begin_fill(&ck("k")).await, Fill::Lead(_)));
    late.clear(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_holder_keeps_its_lease_past_the_lease_ttl() {
    let url = shared_url();
    let (key, prefix) = (SealKey::generate(), unique_prefix("renew"));
    let holder = builder(&url, &key, &prefix)
        .with_lease_ttl(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let Fill::Lead(lease) = holder.begin_fill(&ck("k")).await else {
        panic!("lead")
    };
    // Waiting five lease times: the holder renews, so the waiter never gets the lease.
    let waiter = builder(&url, &key, &prefix)
        .with_lease_ttl(Duration::from_millis(200))
        .with_lease_wait(Duration::from_millis(1_000))
        .build()
        .await
        .unwrap();
    assert!(matches!(waiter.begin_fill(&ck("k")).await, Fill::Alone));
    holder
        .set(&ck("k"), entry("filled"), Duration::from_secs(30))
        .await
        .unwrap();
    holder.end_fill(&ck("k"), lease).await;
    assert!(
        matches!(waiter.begin_fill(&ck("k")).await, Fill::Ready(_)),
        "the holder's fill"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_that_ends_without_an_entry_sends_the_waiters_to_the_backend() {
    let url = shared_url();
    let (key, prefix) = (SealKey::generate(), unique_prefix("failed"));
    let holder = builder(&url, &key, &prefix).build().await.unwrap();
    let waiter = builder(&url, &key, &prefix)
        .with_lease_wait(Duration::from_secs(60))
        .build()
        .await
        .unwrap();
    until_live(&waiter).await;
    let Fill::Lead(lease) = holder.begin_fill(&ck("k")).await else {
        panic!("lead")
    };
    let waiting = {
        let waiter = waiter.clone();
        tokio::spawn(async move { waiter.begin_fill(&ck("k")).await })
    };
    wait_until("the waiter to wait", Duration::from_secs(30), || async {
        waiter.fleet_stats().waits == 1
    })
    .await;
    // The holder's backend read failed: no store, then end_fill.
    holder.end_fill(&ck("k"), lease).await;
    // Not the next in a queue of serial attempts (Lead), and not after the 60 s bound: alone.
    assert!(matches!(waiting.await.unwrap(), Fill::Alone));
    assert_eq!(waiter.fleet_stats().alone, 1);
    assert_eq!(waiter.fleet_stats().leads, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_entry_is_not_handed_out_as_a_fill() {
    let url = shared_url();
    let (key, prefix) = (SealKey::generate(), unique_prefix("oldfill"));
    let writer = builder(&url, &key, &prefix).build().await.unwrap();
    let now = SystemTime::now();
    let old = CacheEntry {
        secret: Secret::new("stored an hour ago"),
        stored_at: now - Duration::from_secs(3600),
        fresh_until: now + Duration::from_secs(3600),
        keep_until: now + Duration::from_secs(3600),
    };
    writer
        .set(&ck("k"), old, Duration::from_secs(60))
        .await
        .unwrap();
    // A process that never looked at it (a forced refresh, say) reads the backend.
    let other = builder(&url, &key, &prefix).build().await.unwrap();
    assert!(matches!(other.begin_fill(&ck("k")).await, Fill::Lead(_)));
    writer.clear(None).await.unwrap();
}

/// A look whose `GET` Redis answered before another process's fill landed, but which this
/// process only gets to after its own flight has taken that fill (a task scheduled late on a
/// busy machine), is a hit. As a miss it would start a second flight, whose lease request
/// skips the fill this process has already seen: a second backend read for the fleet.
async fn a_late_look_at_a_key_this_process_just_filled_is_a_hit(urls: Urls, label: &str) {
    let (key, prefix) = (SealKey::generate(), unique_prefix(label));
    let holder = urls.builder(&key, &prefix).build().await.unwrap();
    let late = urls.builder(&key, &prefix).build().await.unwrap();
    late.ping().await.unwrap();
    // Connected, one poll sends the GET (on a fast machine its answer may even be back within
    // that poll: then look again).
    let k = ck("k");
    let mut look = late.get(&k);
    let mut tries = 0;
    while let Some(answer) = (&mut look).now_or_never() {
        assert!(answer.unwrap().is_none());
        tries += 1;
        assert!(tries < 1000, "every GET was answered within its first poll");
        look = late.get(&k);
    }
    // A second GET of the same key (same connection, same slot) is answered after the first,
    // so once it is back, Redis has answered the first: a miss.
    assert!(late.get(&ck("k")).await.unwrap().is_none());
    // Another process fills the key; this process's flight takes that fill.
    let Fill::Lead(lease) = holder.begin_fill(&ck("k")).await else {
        panic!("lead")
    };
    holder
        .set(&ck("k"), entry("filled"), Duration::from_secs(30))
        .await
        .unwrap();
    holder.end_fill(&ck("k"), lease).await;
    assert!(matches!(late.begin_fill(&ck("k")).await, Fill::Ready(_)));
    // Now the task that sent the first GET runs.
    let got = look
        .await
        .unwrap()
        .expect("the fill this process took, not a miss");
    assert_eq!(got.secret.value.expose_str().unwrap(), "filled");
    assert_eq!(late.fleet_stats().leads, 0);
    holder.clear(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_look_at_a_key_this_process_just_filled_is_a_hit_on_a_single_redis() {
    a_late_look_at_a_key_this_process_just_filled_is_a_hit(Urls::Single(shared_url()), "late")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_look_at_a_key_this_process_just_filled_is_a_hit_on_a_cluster() {
    let cluster = RedisCluster::start(3);
    a_late_look_at_a_key_this_process_just_filled_is_a_hit(Urls::Cluster(cluster.urls()), "latec")
        .await;
}

/// A backend whose reads wait at a gate the test opens: a read that stays "at the backend"
/// for exactly as long as the test needs.
#[derive(Debug)]
struct Gated<S> {
    inner: S,
    gate: Arc<tokio::sync::Semaphore>,
}

#[strongroom_core::async_trait]
impl<S: SecretStore> strongroom_core::layer::StoreLayer for Gated<S> {
    type Inner = S;
    fn inner(&self) -> &S {
        &self.inner
    }
    async fn read(
        &self,
        name: &SecretName,
        opts: &ReadOptions,
    ) -> strongroom_core::Result<Option<Secret>> {
        self.gate.acquire().await.expect("gate").forget();
        self.inner.read(name, opts).await
    }
}

/// A value another process stores while this one reads the backend (here: another variant of
/// the secret) is not a write: this process's fill is stored. Were it refused, its lease would
/// end as a failed fill, and every process waiting for it would read the backend alone.
async fn a_value_stored_elsewhere_meanwhile_does_not_refuse_a_fill(urls: Urls, label: &str) {
    let backend = Arc::new(MemoryStore::new());
    for v in ["v1", "v2"] {
        backend
            .write(&name("db"), v.into(), &WriteOptions::new())
            .await
            .unwrap();
    }
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let slow = CountingStore::new(Gated {
        inner: Arc::clone(&backend),
        gate: Arc::clone(&gate),
    });
    let slow_reads = slow.counts();
    let (key, prefix) = (SealKey::generate(), unique_prefix(label));
    let policy = CachePolicy::new("fleet").ttl(Duration::from_secs(60));
    let mut caches = Vec::new();
    for _ in 0..3 {
        let cache = urls.builder(&key, &prefix).build().await.unwrap();
        until_live(&cache).await;
        caches.push(cache);
    }
    let [filler, other, next] = [0, 1, 2].map(|i| Arc::new(caches[i].clone()));
    let filler = slow.with_cache(filler, policy.clone());
    let scope = filler.scope();
    let mut heard = caches[0].events();
    let tag = caches[0].name_tag(scope, &name("db"));
    // The filler misses `db` and leads its fill; its backend read waits at the gate.
    let reading = tokio::spawn(async move { value_of(&filler, "db").await });
    wait_until(
        "the filler at the backend",
        Duration::from_secs(30),
        || async { slow_reads.reads() == 1 },
    )
    .await;
    // Meanwhile another process reads version 1 of the same secret and stores it; the
    // filler hears of that store.
    let other = CountingStore::new(Arc::clone(&backend)).with_cache(other, policy.clone());
    let v1 = other
        .read(&name("db"), &ReadOptions::new().version("1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v1.value.expose_str().unwrap(), "v1");
    next_event(
        &mut heard,
        "the other process's store",
        |e| matches!(e, FleetEvent::Invalidated { tag: t, .. } if *t == tag),
    )
    .await;
    gate.add_permits(1);
    assert_eq!(reading.await.unwrap(), "v2");
    // The fill landed: the fleet's next reader takes it without a backend read.
    let next_backend = CountingStore::new(Arc::clone(&backend));
    let next_reads = next_backend.counts();
    let next_store = next_backend.with_cache(next, policy);
    assert_eq!(value_of(&next_store, "db").await, "v2");
    assert_eq!(next_reads.reads(), 0, "the filler's entry answered");
    assert_eq!(caches[2].fleet_stats().alone, 0);
    caches[0].clear(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_stored_elsewhere_meanwhile_does_not_refuse_a_fill_on_a_single_redis() {
    a_value_stored_elsewhere_meanwhile_does_not_refuse_a_fill(Urls::Single(shared_url()), "other")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_stored_elsewhere_meanwhile_does_not_refuse_a_fill_on_a_cluster() {
    let cluster = RedisCluster::start(3);
    a_value_stored_elsewhere_meanwhile_does_not_refuse_a_fill(
        Urls::Cluster(cluster.urls()),
        "otherc",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_started_before_a_write_does_not_store_its_old_answer() {
    let url = shared_url();
    let (key, prefix) = (SealKey::generate(), unique_prefix("gen"));
    let reader = builder(&url, &key, &prefix).build().await.unwrap();
    let writer = builder(&url, &key, &prefix).build().await.unwrap();
    let Fill::Lead(lease) = reader.begin_fill(&ck("k")).await else {
        panic!("lead")
    };
    // Another process writes (and invalidates) while the reader is at the backend.
    writer.invalidate(scope(), &name("k")).await.unwrap();
    reader
        .set(&ck("k"), entry("old answer"), Duration::from_secs(30))
        .await
        .unwrap();
    reader.end_fill(&ck("k"), lease).await;
    assert_eq!(reader.fleet_stats().stale_stores_refused, 1);
    assert!(
        writer.get(&ck("k")).await.unwrap().is_none(),
        "the old answer was not stored"
    );
    // That fill ended without an entry: for a moment the next miss reads alone (no queue
    // behind a fill that failed) — and without a write in between, its store lands.
    assert!(matches!(reader.begin_fill(&ck("k")).await, Fill::Alone));
    reader
        .set(&ck("k"), entry("new answer"), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(writer.get(&ck("k")).await.unwrap().is_some());
    reader.clear(None).await.unwrap();
}

async fn write_in_one_member_is_seen_by_another(urls: Urls, label: &str) {
    let backend = CountingStore::new(Arc::new(MemoryStore::new()));
    let counts = backend.counts();
    backend
        .write(&name("db"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let (key, prefix) = (SealKey::generate(), unique_prefix(label));
    let a = member(
        urls.builder(&key, &prefix).with_near(true),
        &backend,
        Duration::from_secs(300),
    )
    .await;
    let b = member(
        urls.builder(&key, &prefix).with_near(true),
        &backend,
        Duration::from_secs(300),
    )
    .await;
    until_live(&a.cache).await;
    until_live(&b.cache).await;
    assert_eq!(value_of(&a.store, "db").await, "v1");
    assert_eq!(value_of(&b.store, "db").await, "v1");
    let hits = b.cache.fleet_stats().near_hits;
    assert_eq!(value_of(&b.store, "db").await, "v1");
    assert_eq!(
        b.cache.fleet_stats().near_hits,
        hits + 1,
        "answered near, at memory speed"
    );
    assert_eq!(counts.reads(), 1);
    let tag = b.cache.name_tag(b.store.scope(), &name("db"));
    let mut events = b.cache.events();
    a.store
        .write(&name("db"), "v2".into(), &WriteOptions::new())
        .await
        .unwrap();
    // Two invalidations per write (before and after the backend write): wait for the second.
    for _ in 0..2 {
        next_event(
            &mut events,
            "invalidation",
            |e| matches!(e, FleetEvent::Invalidated { tag: t, .. } if *t == tag),
        )
        .await;
    }
    assert_eq!(value_of(&b.store, "db").await, "v2", "B sees A's write");
    a.cache.clear(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_in_one_process_drops_the_near_copies_of_another_on_a_single_redis() {
    write_in_one_member_is_seen_by_another(Urls::Single(shared_url()), "near").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_in_one_process_drops_the_near_copies_of_another_on_a_cluster() {
    let cluster = RedisCluster::start(3);
    write_in_one_member_is_seen_by_another(Urls::Cluster(cluster.urls()), "nearc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_subscription_stops_near_answers_until_it_is_back() {
    let server = RedisServer::start();
    let backend = CountingStore::new(Arc::new(MemoryStore::new()));
    backend
        .write(&name("db"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let key = SealKey::generate();
    let b = member(
        builder(&server.url(), &key, "cut:").with_near(true),
        &backend,
        Duration::from_secs(300),
    )
    .await;
    until_live(&b.cache).await;
    assert_eq!(value_of(&b.store, "db").await, "v1");
    let hits = b.cache.fleet_stats().near_hits;
    let mut events = b.cache.events();
    // Cut the subscription (the server closes every pub/sub connection).
    server
        .command(&["CLIENT", "KILL", "TYPE", "pubsub"])
        .unwrap();
    next_event(&mut events, "subscription down", |e| {
        *e == FleetEvent::SubscriptionDown
    })
    .await;
    // Change the value behind the fleet's back (no message can reach B now).
    backend
        .write(&name("db"), "v2".into(), &WriteOptions::new())
        .await
        .unwrap();
    let raw_invalidated = builder(&server.url(), &key, "cut:").build().await.unwrap();
    raw_invalidated
        .invalidate(b.store.scope(), &name("db"))
        .await
        .unwrap();
    // Whatever happened while it was down, B answers from Redis or the backend, not near.
    assert_eq!(value_of(&b.store, "db").await, "v2");
    next_event(&mut events, "subscription up", |e| {
        *e == FleetEvent::SubscriptionUp
    })
    .await;
    assert!(b.cache.fleet_stats().subscription_drops >= 1);
    assert_eq!(value_of(&b.store, "db").await, "v2");
    assert_eq!(value_of(&b.store, "db").await, "v2");
    assert!(
        b.cache.fleet_stats().near_hits > hits,
        "near answers again once it is back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silently_stalled_subscription_is_detected_by_the_heartbeat() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr().parse().unwrap()).await;
    let backend = CountingStore::new(Arc::new(MemoryStore::new()));
    backend
        .write(&name("db"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let b = member(
        builder(
            &format!("redis://{}", proxy.addr()),
            &SealKey::generate(),
            "stall:",
        )
        .with_near(true)
        .with_heartbeat(Duration::from_millis(200))
        .with_timeout(Duration::from_millis(200)),
        &backend,
        Duration::from_secs(300),
    )
    .await;
    until_live(&b.cache).await;
    assert_eq!(value_of(&b.store, "db").await, "v1");
    let mut events = b.cache.events();
    // No reset, no FIN: the connection just stops answering.
    proxy.set_mode(ProxyMode::Latency(Duration::from_secs(3600)));
    next_event(&mut events, "subscription down", |e| {
        *e == FleetEvent::SubscriptionDown
    })
    .await;
    assert!(!b.cache.subscription_live());
    proxy.set_mode(ProxyMode::Pass);
    next_event(&mut events, "subscription up", |e| {
        *e == FleetEvent::SubscriptionUp
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_redis_never_lets_a_near_copy_outlive_a_write() {
    let mut server = RedisServer::start();
    let backend = CountingStore::new(Arc::new(MemoryStore::new()));
    backend
        .write(&name("db"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let key = SealKey::generate();
    let a = member(
        builder(&server.url(), &key, "rs:").with_near(true),
        &backend,
        Duration::from_secs(300),
    )
    .await;
    let b = member(
        builder(&server.url(), &key, "rs:").with_near(true),
        &backend,
        Duration::from_secs(300),
    )
    .await;
    until_live(&b.cache).await;
    assert_eq!(value_of(&b.store, "db").await, "v1");
    let mut events = b.cache.events();
    server.stop();
    next_event(&mut events, "subscription down", |e| {
        *e == FleetEvent::SubscriptionDown
    })
    .await;
    // A writes while Redis is down: its invalidation is lost.
    a.store
        .write(&name("db"), "v2".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(
        value_of(&b.store, "db").await,
        "v2",
        "no near copy while the subscription is down"
    );
    server.start_again();
    next_event(&mut events, "subscription up", |e| {
        *e == FleetEvent::SubscriptionUp
    })
    .await;
    assert_eq!(
        value_of(&b.store, "db").await,
        "v2",
        "nor after it came back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_is_done_once_per_fleet_and_the_others_take_its_value() {
    let url = shared_url();
    let backend =
        CountingStore::new(Arc::new(MemoryStore::new())).with_read_delay(Duration::from_millis(50));
    let counts = backend.counts();
    backend
        .write(&name("hot"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let (key, prefix) = (SealKey::generate(), unique_prefix("ahead"));
    let ttl = Duration::from_secs(2);
    let mut members = Vec::new();
    for _ in 0..4 {
        let cache = builder(&url, &key, &prefix)
            .with_near(true)
            .build()
            .await
            .unwrap();
        until_live(&cache).await;
        let store = backend.clone().with_cache(
            Arc::new(cache.clone()),
            CachePolicy::new("ahead").ttl(ttl).refresh_ahead(0.5),
        );
        members.push(Member { cache, store });
    }
    for m in &members {
        assert_eq!(value_of(&m.store, "hot").await, "v1");
    }
    assert_eq!(counts.reads(), 1);
    // The value changes in the backend; every member keeps reading through the refresh
    // window until each has picked the new value up.
    backend
        .write(&name("hot"), "v2".into(), &WriteOptions::new())
        .await
        .unwrap();
    for m in &members {
        wait_until("the refreshed value", Duration::from_secs(20), || async {
            value_of(&m.store, "hot").await == "v2"
        })
        .await;
    }
    // One refresh for the fleet (the first refresh window); a second period may have
    // started meanwhile on a slow machine, never one per member.
    let reads = counts.reads() - 1;
    assert!(
        (1..=2).contains(&reads),
        "{reads} refresh reads for 4 members"
    );
    let leads: u64 = members.iter().map(|m| m.cache.fleet_stats().leads).sum();
    assert_eq!(leads as usize, counts.reads());
    members[0].cache.clear(None).await.unwrap();
}

// ---- who is asking (issue 16.5) -------------------------------------------------------------

/// Service A and service B share a Redis and a key, but B's Vault policy denies a path: B must
/// get Vault's refusal, never A's cached copy (the identity is part of every key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_identity_never_reads_an_entry_cached_for_someone_else() {
    use strongroom_core::config::StoreConfig;
    use strongroom_testkit::servers::openbao::OpenBao;
    let bao = OpenBao::start().await;
    bao.write_policy(
        None,
        "team-b",
        "path \"secret/data/team-b/*\" { capabilities = [\"read\"] }\n",
    )
    .await;
    let token_b = bao.create_token(None, &["team-b"], None).await;
    let vault = |token: &str| {
        let mut c = strongroom_hcp_vault::HcpVaultConfig::default();
        c.addr = Some(bao.url());
        c.token = Some(token.into());
        c.build().unwrap()
    };
    let plain = vault(bao.root_token());
    plain
        .write(
            &name("team-a/db"),
            "a-only-value".into(),
            &WriteOptions::new(),
        )
        .await
        .unwrap();
    let (key, prefix) = (SealKey::generate(), unique_prefix("ident"));
    let cache_a = builder(&shared_url(), &key, &prefix).build().await.unwrap();
    let cache_b = builder(&shared_url(), &key, &prefix)
        .with_near(true)
        .build()
        .await
        .unwrap();
    let a = vault(bao.root_token()).with_cache(Arc::new(cache_a.clone()), CachePolicy::new("a"));
    let b = vault(&token_b).with_cache(Arc::new(cache_b), CachePolicy::new("b"));
    assert_eq!(value_of(&a, "team-a/db").await, "a-only-value");
    assert_eq!(
        cache_a.entries().await.unwrap().len(),
        1,
        "A's copy is in Redis"
    );
    let err = b
        .read(&name("team-a/db"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AccessDenied | ErrorKind::Forbidden),
        "B gets Vault's answer, not A's copy: {err}"
    );
    assert_ne!(a.scope(), b.scope());
    cache_a.clear(None).await.unwrap();
}
