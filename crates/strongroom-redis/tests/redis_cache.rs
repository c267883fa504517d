//! RedisCache against real Redis servers: the shared one on 127.0.0.1:6379 (or
//! `STRONGROOM_REDIS_URL`, with a unique prefix per test) and `redis-server` processes these
//! tests start themselves (restart, pause, cluster).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use strongroom_core::{
    CacheEntry, CacheKey, CachePolicy, ErrorKind, MemoryStore, ReadOptions, Secret, SecretCache,
    SecretKind, SecretName, SecretStore, SecretStoreExt, WriteOptions,
};
use strongroom_redis::{EncryptionKey, RedisCache, RedisCacheBuilder};
use strongroom_testkit::servers::redis::{RedisCluster, RedisServer, shared_url};
use strongroom_testkit::servers::{free_port, wait_until};
use strongroom_testkit::{CountingStore, conformance, logs, sentinel};

fn unique_prefix(label: &str) -> String {
    format!("srtest-{label}-{:08x}:", rand::random::<u32>())
}

async fn shared_cache(prefix: &str, key: &EncryptionKey) -> RedisCache {
    RedisCacheBuilder::new(shared_url())
        .with_key(key.clone())
        .with_prefix(prefix)
        .build()
        .await
        .expect("build")
}

fn ck(name: &str) -> CacheKey {
    CacheKey::new("m", "memory", name, &ReadOptions::new())
}

fn entry(value: &str) -> CacheEntry {
    CacheEntry {
        secret: Secret::new(value),
        fresh_until: SystemTime::now() + Duration::from_secs(60),
    }
}

fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn raw_get(url: &str, key: &[u8]) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut raw(url).await)
        .await
        .unwrap()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_over_memory_store_with_redis_cache() {
    let cache = shared_cache(&unique_prefix("conf"), &EncryptionKey::generate()).await;
    let store = MemoryStore::new().with_cache(
        Arc::new(cache.clone()),
        CachePolicy::new("conformance-redis").ttl(Duration::from_secs(30)),
    );
    conformance::run(Arc::new(store), conformance::Options::new()).await;
    assert!(
        !cache.entries().await.unwrap().is_empty(),
        "the suite's reads went through Redis"
    );
    cache.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_over_a_redis_cluster() {
    let cluster = RedisCluster::start(3);
    let cache = RedisCacheBuilder::new("redis://unused")
        .with_cluster(cluster.urls())
        .with_key(EncryptionKey::generate())
        .with_prefix(unique_prefix("cluster-conf"))
        .build()
        .await
        .unwrap();
    assert!(cache.is_cluster());
    let store = MemoryStore::new().with_cache(Arc::new(cache.clone()), CachePolicy::new("c"));
    conformance::run(Arc::new(store), conformance::Options::new()).await;
    assert!(!cache.entries().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_spreads_keys_and_scan_clear_reach_every_node() {
    let cluster = RedisCluster::start(3);
    let prefix = unique_prefix("cluster");
    let cache = RedisCacheBuilder::new("redis://unused")
        .with_cluster(cluster.urls())
        .with_key(EncryptionKey::generate())
        .with_prefix(&prefix)
        .build()
        .await
        .unwrap();
    let values: Vec<String> = (0..60).map(|_| sentinel("cl")).collect();
    for (i, v) in values.iter().enumerate() {
        cache
            .set(&ck(&format!("s{i}")), entry(v), Duration::from_secs(60))
            .await
            .unwrap();
    }
    for (i, v) in values.iter().enumerate() {
        let got = cache
            .get(&ck(&format!("s{i}")))
            .await
            .unwrap()
            .expect("hit");
        assert_eq!(got.secret.value.expose_str().unwrap(), v);
    }
    // The keys really are spread over the nodes.
    let mut nodes_with_keys = 0;
    for node in cluster.nodes() {
        let n: usize = node.command(&["DBSIZE"]).unwrap().parse().unwrap();
        if n > 0 {
            nodes_with_keys += 1;
        }
    }
    assert!(
        nodes_with_keys >= 2,
        "60 keys should land on more than one node"
    );
    assert_eq!(cache.entries().await.unwrap().len(), 60);
    cache
        .delete_prefix(&CacheKey::secret_prefix("m", "s7"))
        .await
        .unwrap();
    assert!(cache.get(&ck("s7")).await.unwrap().is_none());
    assert!(
        cache.get(&ck("s17")).await.unwrap().is_some(),
        "s17 is not under s7\\x1f"
    );
    assert_eq!(cache.entries().await.unwrap().len(), 59);
    cache.clear().await.unwrap();
    assert!(cache.entries().await.unwrap().is_empty());
    for node in cluster.nodes() {
        assert_eq!(node.command(&["DBSIZE"]).unwrap(), "0");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_entry_round_trips_sealed() {
    let prefix = unique_prefix("meta");
    let cache = shared_cache(&prefix, &EncryptionKey::generate()).await;
    let value = sentinel("meta");
    let now = SystemTime::now();
    let e = CacheEntry {
        secret: Secret::new(value.as_str())
            .with_version("42")
            .with_created_at(now - Duration::from_secs(10))
            .with_updated_at(now)
            .with_expires_at(now + Duration::from_secs(600))
            .with_kind(SecretKind::Rotated)
            .with_content_type("text/plain")
            .with_tag("owner", "team-a"),
        fresh_until: now + Duration::from_secs(30),
    };
    let key = CacheKey::new("m", "addr", "db/pass", &ReadOptions::new().field("user"));
    cache
        .set(&key, e.clone(), Duration::from_secs(60))
        .await
        .unwrap();
    let got = cache.get(&key).await.unwrap().expect("hit");
    assert_eq!(got.secret, e.secret);
    assert_eq!(got.fresh_until, e.fresh_until);
    // What Redis holds is ciphertext: neither the value nor the metadata are readable.
    let stored = raw_get(&shared_url(), &cache.redis_key(&key))
        .await
        .expect("stored");
    for needle in [value.as_bytes(), b"team-a", b"text/plain", b"42\x00"] {
        assert!(
            !stored.windows(needle.len()).any(|w| w == needle),
            "plaintext in Redis"
        );
    }
    cache.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_is_redis_expiry() {
    let cache = shared_cache(&unique_prefix("ttl"), &EncryptionKey::generate()).await;
    cache
        .set(&ck("short"), entry("v"), Duration::from_millis(300))
        .await
        .unwrap();
    cache
        .set(&ck("long"), entry("v"), Duration::from_secs(60))
        .await
        .unwrap();
    let pttl: i64 = redis::cmd("PTTL")
        .arg(cache.redis_key(&ck("short")))
        .query_async(&mut raw(&shared_url()).await)
        .await
        .unwrap();
    assert!(pttl > 0 && pttl <= 300, "PX set from the ttl, got {pttl}");
    assert!(cache.get(&ck("short")).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(
        cache.get(&ck("short")).await.unwrap().is_none(),
        "expired by Redis"
    );
    assert!(cache.get(&ck("long")).await.unwrap().is_some());
    // A zero TTL stores nothing (and drops what was there).
    cache
        .set(&ck("long"), entry("v"), Duration::ZERO)
        .await
        .unwrap();
    assert!(cache.get(&ck("long")).await.unwrap().is_none());
    cache.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_list_names_and_freshness_never_values() {
    let cache = shared_cache(&unique_prefix("entries"), &EncryptionKey::generate()).await;
    let values: Vec<String> = (0..3).map(|_| sentinel("entry")).collect();
    let fresh = SystemTime::now() + Duration::from_secs(45);
    for (i, v) in values.iter().enumerate() {
        let e = CacheEntry {
            secret: Secret::new(v.as_str()),
            fresh_until: fresh,
        };
        cache
            .set(&ck(&format!("app/key-{i}")), e, Duration::from_secs(120))
            .await
            .unwrap();
    }
    let entries = cache.entries().await.unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].manager, "m");
    assert_eq!(entries[0].name, "app/key-0");
    assert_eq!(entries[0].display, "m/app/key-0");
    let skew = entries[0]
        .fresh_until
        .duration_since(fresh)
        .unwrap_or_else(|e| e.duration());
    assert!(
        skew < Duration::from_millis(1),
        "fresh_until comes from the entry"
    );
    let shown = format!("{entries:?} {}", serde_json::to_string(&entries).unwrap());
    for v in &values {
        assert!(
            !shown.contains(v.as_str()),
            "entries() must never contain a value"
        );
    }
    cache.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_and_delete_prefix_stay_inside_the_prefix() {
    let key = EncryptionKey::generate();
    // A prefix full of glob characters must match literally: clearing "app*[1]:" must not
    // touch "app-x[1]:" or "appZ1:".
    let tag = format!("{:08x}", rand::random::<u32>());
    let globby = shared_cache(&format!("srtest-{tag}-app*[1]?:"), &key).await;
    let other = shared_cache(&format!("srtest-{tag}-app-x[1]z:"), &key).await;
    let third = shared_cache(&format!("srtest-{tag}-appZ1z:"), &key).await;
    for c in [&globby, &other, &third] {
        c.set(&ck("a*"), entry("1"), Duration::from_secs(60))
            .await
            .unwrap();
        c.set(&ck("ab"), entry("2"), Duration::from_secs(60))
            .await
            .unwrap();
        c.set(&ck("a?"), entry("3"), Duration::from_secs(60))
            .await
            .unwrap();
    }
    // delete_prefix of the secret "a*" drops only it, not "ab" or "a?".
    globby
        .delete_prefix(&CacheKey::secret_prefix("m", "a*"))
        .await
        .unwrap();
    assert!(globby.get(&ck("a*")).await.unwrap().is_none());
    assert!(globby.get(&ck("ab")).await.unwrap().is_some());
    assert!(globby.get(&ck("a?")).await.unwrap().is_some());
    globby.clear().await.unwrap();
    assert!(globby.entries().await.unwrap().is_empty());
    for c in [&other, &third] {
        assert_eq!(
            c.entries().await.unwrap().len(),
            3,
            "{c:?} untouched by another prefix's clear()"
        );
        assert!(c.get(&ck("a*")).await.unwrap().is_some());
    }
    // The shared server's other keys are untouched too (no FLUSHDB): a key outside any prefix.
    let outside = format!("srtest-{tag}-outside").into_bytes();
    raw_set(&shared_url(), &outside, b"x").await;
    other.clear().await.unwrap();
    third.clear().await.unwrap();
    assert!(raw_get(&shared_url(), &outside).await.is_some());
    let _: i64 = redis::cmd("DEL")
        .arg(&outside)
        .query_async(&mut raw(&shared_url()).await)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_entries_are_misses_with_a_warning() {
    logs::install();
    let key = EncryptionKey::generate();
    let cache = shared_cache(&unique_prefix("tamper"), &key).await;
    let v = sentinel("tamper");
    cache
        .set(&ck("t"), entry(&v), Duration::from_secs(60))
        .await
        .unwrap();
    let rk = cache.redis_key(&ck("t"));
    let sealed = raw_get(&shared_url(), &rk).await.unwrap();
    for i in [1, 5, 15, 30, sealed.len() - 1] {
        let mut bad = sealed.clone();
        bad[i] ^= 0x20;
        raw_set(&shared_url(), &rk, &bad).await;
        assert!(
            cache.get(&ck("t")).await.unwrap().is_none(),
            "byte {i} flipped: a miss"
        );
    }
    raw_set(&shared_url(), &rk, b"not an envelope").await;
    assert!(cache.get(&ck("t")).await.unwrap().is_none());
    raw_set(&shared_url(), &rk, &sealed).await;
    assert!(
        cache.get(&ck("t")).await.unwrap().is_some(),
        "the untouched envelope opens"
    );
    assert!(
        logs::captured().contains("did not open"),
        "a warning is logged"
    );
    logs::assert_absent(&[&v, &key.to_base64()]);
    cache.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_copied_to_another_key_does_not_open() {
    let cache = shared_cache(&unique_prefix("copy"), &EncryptionKey::generate()).await;
    cache
        .set(
            &ck("admin/token"),
            entry("admin-secret"),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    cache
        .set(&ck("guest/token"), entry("guest"), Duration::from_secs(60))
        .await
        .unwrap();
    let admin = raw_get(&shared_url(), &cache.redis_key(&ck("admin/token")))
        .await
        .unwrap();
    raw_set(&shared_url(), &cache.redis_key(&ck("guest/token")), &admin).await;
    assert!(cache.get(&ck("guest/token")).await.unwrap().is_none());
    let got = cache.get(&ck("admin/token")).await.unwrap().unwrap();
    assert_eq!(got.secret.value.expose_str().unwrap(), "admin-secret");
    // Nor under the same name in another application's prefix.
    let other = shared_cache(&unique_prefix("copy-other"), &EncryptionKey::generate()).await;
    raw_set(&shared_url(), &other.redis_key(&ck("admin/token")), &admin).await;
    assert!(other.get(&ck("admin/token")).await.unwrap().is_none());
    cache.clear().await.unwrap();
    other.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_is_a_miss_and_rotation_keeps_old_entries_readable() {
    let prefix = unique_prefix("rotate");
    let old = EncryptionKey::generate();
    let new = EncryptionKey::generate();
    let before = shared_cache(&prefix, &old).await;
    before
        .set(&ck("a"), entry("old-a"), Duration::from_secs(60))
        .await
        .unwrap();

    // A process with an unrelated key sees a miss, not garbage and not an error.
    let stranger = shared_cache(&prefix, &EncryptionKey::generate()).await;
    assert!(stranger.get(&ck("a")).await.unwrap().is_none());

    // Rotation: the new key seals, the old one still opens.
    let rotated = RedisCacheBuilder::new(shared_url())
        .with_key(new.clone())
        .with_previous_key(old.clone())
        .with_prefix(&prefix)
        .build()
        .await
        .unwrap();
    let got = rotated
        .get(&ck("a"))
        .await
        .unwrap()
        .expect("old entry opens with the previous key");
    assert_eq!(got.secret.value.expose_str().unwrap(), "old-a");
    rotated
        .set(&ck("b"), entry("new-b"), Duration::from_secs(60))
        .await
        .unwrap();
    let sealed = raw_get(&shared_url(), &rotated.redis_key(&ck("b")))
        .await
        .unwrap();
    assert_eq!(sealed[1], new.id(), "new entries carry the new key's id");
    assert!(
        before.get(&ck("b")).await.unwrap().is_none(),
        "old-only processes miss new entries"
    );

    // After the rotation window the old key is dropped: its entries become misses.
    let after = shared_cache(&prefix, &new).await;
    assert!(after.get(&ck("a")).await.unwrap().is_none());
    assert!(after.get(&ck("b")).await.unwrap().is_some());
    after.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_redis_costs_latency_not_availability_and_comes_back() {
    let mut server = RedisServer::start();
    let cache = RedisCacheBuilder::new(server.url())
        .with_key(EncryptionKey::generate())
        .with_prefix(unique_prefix("restart"))
        .with_timeout(Duration::from_millis(250))
        .build()
        .await
        .unwrap();
    let backend = MemoryStore::new();
    backend
        .write(&name("db/pass"), "pw-1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let counting = CountingStore::new(backend);
    let counts = counting.counts();
    let store = counting.with_cache(
        Arc::new(cache.clone()),
        CachePolicy::new("r").ttl(Duration::from_secs(60)),
    );
    let read = || async {
        let s = store
            .read(&name("db/pass"), &ReadOptions::new())
            .await
            .expect("read works");
        s.expect("present").value.expose_str().unwrap().to_owned()
    };
    assert_eq!(read().await, "pw-1");
    assert_eq!(read().await, "pw-1");
    assert_eq!(counts.reads(), 1, "second read is a Redis hit");

    server.stop();
    for i in 0..5 {
        let started = Instant::now();
        assert_eq!(read().await, "pw-1", "read {i} while Redis is down");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bounded by the timeout"
        );
    }
    assert!(
        counts.reads() >= 6,
        "reads went to the backend while Redis was down"
    );
    let err = cache.get(&ck("x")).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Cache, "{err}");
    for e in [
        cache
            .set(&ck("x"), entry("v"), Duration::from_secs(1))
            .await
            .unwrap_err(),
        cache.delete(&ck("x")).await.unwrap_err(),
        cache.clear().await.unwrap_err(),
        cache.entries().await.map(|_| ()).unwrap_err(),
    ] {
        assert_eq!(e.kind(), &ErrorKind::Cache, "{e}");
    }

    server.start_again();
    // Same RedisCache: it reconnects by itself.
    wait_until(
        "the cache to reconnect",
        Duration::from_secs(15),
        || async { cache.ping().await.is_ok() },
    )
    .await;
    let before = counts.reads();
    assert_eq!(read().await, "pw-1"); // Redis came back empty: one backend read refills it
    assert_eq!(read().await, "pw-1");
    assert_eq!(read().await, "pw-1");
    assert_eq!(
        counts.reads(),
        before + 1,
        "the cache serves hits again after the restart"
    );
    assert_eq!(cache.entries().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_is_cut_off_by_the_timeout() {
    let server = RedisServer::start();
    let cache = RedisCacheBuilder::new(server.url())
        .with_key(EncryptionKey::generate())
        .with_prefix(unique_prefix("slow"))
        .with_timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let backend = MemoryStore::new();
    backend
        .write(&name("k"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    let counting = CountingStore::new(backend);
    let counts = counting.counts();
    let store = counting.with_cache(Arc::new(cache.clone()), CachePolicy::new("s"));
    assert!(
        store
            .read(&name("k"), &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
    server.pause();
    let started = Instant::now();
    let err = cache.get(&ck("k")).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Cache);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "cut off, not hung"
    );
    let got = store
        .read(&name("k"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.value.expose_str().unwrap(), "v1");
    assert_eq!(counts.reads(), 2, "the frozen Redis was skipped");
    server.resume();
    wait_until(
        "the cache to answer again",
        Duration::from_secs(15),
        || async { cache.ping().await.is_ok() },
    )
    .await;
    assert!(
        store
            .read(&name("k"), &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_down_at_start_up_does_not_stop_the_application() {
    let port = free_port();
    let cache = RedisCacheBuilder::new(format!("redis://127.0.0.1:{port}"))
        .with_key(EncryptionKey::generate())
        .build()
        .await
        .expect("building does not need Redis to be up");
    let backend = MemoryStore::new();
    backend
        .write(&name("k"), "v".into(), &WriteOptions::new())
        .await
        .unwrap();
    let store = backend.with_cache(Arc::new(cache.clone()), CachePolicy::new("d"));
    assert!(
        store
            .read(&name("k"), &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        cache.get(&ck("k")).await.unwrap_err().kind(),
        &ErrorKind::Cache
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_protected_redis() {
    let server = RedisServer::start_with(&["--requirepass", "pw-redis-test"]);
    let wrong = RedisCacheBuilder::new(server.url())
        .with_key(EncryptionKey::generate())
        .build()
        .await
        .unwrap();
    let err = wrong.get(&ck("k")).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Cache);
    assert!(!format!("{err} {err:?} {wrong:?}").contains("pw-redis-test"));
    let url = format!("redis://:pw-redis-test@127.0.0.1:{}", server.port());
    let cache = RedisCacheBuilder::new(url)
        .with_key(EncryptionKey::generate())
        .build()
        .await
        .unwrap();
    assert!(!format!("{cache:?}").contains("pw-redis-test"));
    cache
        .set(&ck("k"), entry("v"), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(cache.get(&ck("k")).await.unwrap().is_some());
    let with_builder = RedisCacheBuilder::new(server.url())
        .with_password("pw-redis-test")
        .with_key(EncryptionKey::generate())
        .build()
        .await
        .unwrap();
    with_builder.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca() {
    let server = RedisServer::start_tls();
    let cache = RedisCacheBuilder::new(server.tls_url())
        .with_key(EncryptionKey::generate())
        .with_ca_pem(server.ca_pem().as_bytes().to_vec())
        .with_timeout(Duration::from_secs(2))
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
        "1",
        "stored in the TLS server"
    );
    // Without the CA the server's certificate is not trusted: a cache error, not a hang.
    let untrusted = RedisCacheBuilder::new(server.tls_url())
        .with_key(EncryptionKey::generate())
        .with_timeout(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    assert_eq!(
        untrusted.get(&ck("tls")).await.unwrap_err().kind(),
        &ErrorKind::Cache
    );
}
