//! A cache hit through `RedisCache::get` (GET + AES-256-GCM open + decode) against a raw GET
//! of the same key over the same kind of connection, in the same run. Target: the hit within
//! 1.5x of the raw GET.
//!
//! Uses the shared Redis (`STRONGROOM_REDIS_URL`, else redis://127.0.0.1:6379) under a unique
//! prefix that is cleared at the end.
//!
//! `cargo bench -p strongroom-redis --bench redis_hit -- --warm-up-time 1 --measurement-time 3`

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use strongroom_core::{
    CacheEntry, CacheKey, CacheScope, Identity, ReadOptions, Secret, SecretCache, SecretName,
};
use strongroom_redis::{EncryptionKey, RedisCacheBuilder};

static RAW_NS: AtomicU64 = AtomicU64::new(0);
static CACHE_NS: AtomicU64 = AtomicU64::new(0);
static PAIRS: AtomicU64 = AtomicU64::new(0);

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = strongroom_testkit::servers::redis::shared_url();
    let prefix = format!("srbench-{:08x}:", rand::random::<u32>());
    let (cache, key, raw_key, manager) = rt.block_on(async {
        let cache = RedisCacheBuilder::new(url.clone())
            .with_key(EncryptionKey::generate())
            .with_prefix(prefix)
            .with_timeout(Duration::from_secs(2))
            .build()
            .await
            .unwrap();
        let key = CacheKey::new(
            CacheScope::of("memory", &Identity::anonymous()),
            &SecretName::new("db/password").unwrap(),
            &ReadOptions::new(),
        );
        let entry = CacheEntry {
            secret: Secret::new("a-typical-64-byte-secret-value-0123456789abcdef0123456789abcdef")
                .with_version("3")
                .with_tag("team", "payments"),
            stored_at: SystemTime::now(),
            fresh_until: SystemTime::now() + Duration::from_secs(600),
            keep_until: SystemTime::now() + Duration::from_secs(600),
        };
        cache
            .set(&key, entry, Duration::from_secs(600))
            .await
            .unwrap();
        let raw_key = cache.redis_key(&key);
        // The same client type RedisCache uses for a single server: a ConnectionManager.
        let manager = redis::Client::open(url.as_str())
            .unwrap()
            .get_connection_manager()
            .await
            .unwrap();
        (cache, key, raw_key, manager)
    });

    // The machine is shared and noisy, so each sample runs both operations interleaved (one
    // raw GET, one RedisCache::get, repeated, alternating which goes first) and each benchmark reports its own share: the
    // two numbers come from the same moments, not from two different stretches of time.
    let raw_get = || {
        let mut m = manager.clone();
        let k = raw_key.clone();
        async move {
            let v: Option<Vec<u8>> = redis::cmd("GET").arg(&k).query_async(&mut m).await.unwrap();
            assert!(v.is_some());
        }
    };
    let cache_get = || async {
        let got = cache.get(&key).await.unwrap();
        assert!(got.is_some());
    };
    let interleaved = |iters: u64, want_cache: bool| {
        rt.block_on(async {
            let (mut raw_t, mut cache_t) = (Duration::ZERO, Duration::ZERO);
            for i in 0..iters {
                // Alternate which goes first: the second request of a pair is measurably
                // slower on a busy machine, whichever it is.
                if i % 2 == 0 {
                    let t = Instant::now();
                    raw_get().await;
                    raw_t += t.elapsed();
                    let t = Instant::now();
                    cache_get().await;
                    cache_t += t.elapsed();
                } else {
                    let t = Instant::now();
                    cache_get().await;
                    cache_t += t.elapsed();
                    let t = Instant::now();
                    raw_get().await;
                    raw_t += t.elapsed();
                }
            }
            RAW_NS.fetch_add(raw_t.as_nanos() as u64, Ordering::Relaxed);
            CACHE_NS.fetch_add(cache_t.as_nanos() as u64, Ordering::Relaxed);
            PAIRS.fetch_add(iters, Ordering::Relaxed);
            if want_cache { cache_t } else { raw_t }
        })
    };
    let mut group = c.benchmark_group("redis_hit");
    group.bench_function("raw GET", |b| {
        b.iter_custom(|iters| interleaved(iters, false))
    });
    group.bench_function("RedisCache::get (GET + open)", |b| {
        b.iter_custom(|iters| interleaved(iters, true))
    });
    group.finish();
    // The ratio over every interleaved pair of both benchmarks (same moments, same load).
    let pairs = PAIRS.load(Ordering::Relaxed).max(1);
    let raw = RAW_NS.load(Ordering::Relaxed) as f64 / pairs as f64 / 1000.0;
    let hit = CACHE_NS.load(Ordering::Relaxed) as f64 / pairs as f64 / 1000.0;
    println!(
        "redis_hit summary over {pairs} interleaved pairs: raw GET {raw:.1} µs, \
         RedisCache::get {hit:.1} µs, ratio {:.2}x (target <= 1.5x)",
        hit / raw
    );
    rt.block_on(async { cache.clear(None).await.unwrap() });
}

/// A full-stack `read()` hit answered by the near cache, beside the same hit through a plain
/// `MemoryCache`: the near cache should cost what an in-process cache costs.
fn near(c: &mut Criterion) {
    use futures_util::FutureExt;
    use strongroom_core::{
        CachePolicy, MemoryCache, MemoryStore, SecretStore, SecretStoreExt, WriteOptions,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = strongroom_testkit::servers::redis::shared_url();
    let name = SecretName::new("db/password").unwrap();
    let (cache, near, memory) = rt.block_on(async {
        let cache = RedisCacheBuilder::new(url)
            .with_key(EncryptionKey::generate())
            .with_prefix(format!("srbench-near-{:08x}:", rand::random::<u32>()))
            .with_near(true)
            .build()
            .await
            .unwrap();
        while !cache.subscription_live() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let policy = || CachePolicy::new("bench").ttl(Duration::from_secs(600));
        let near = MemoryStore::new().with_cache(std::sync::Arc::new(cache.clone()), policy());
        let memory =
            MemoryStore::new().with_cache(std::sync::Arc::new(MemoryCache::new(1_000)), policy());
        for store in [&near, &memory] {
            store
                .write(&name, "a-typical-secret".into(), &WriteOptions::new())
                .await
                .unwrap();
            store.read(&name, &ReadOptions::new()).await.unwrap();
        }
        (cache, near, memory)
    });
    let opts = ReadOptions::new();
    let mut group = c.benchmark_group("near_hit");
    group.bench_function("MemoryCache hit (read)", |b| {
        b.iter(|| {
            let got = memory.read(&name, &opts).now_or_never().expect("a hit");
            assert!(got.unwrap().is_some());
        })
    });
    group.bench_function("RedisCache near hit (read)", |b| {
        b.iter(|| {
            let got = near.read(&name, &opts).now_or_never().expect("a near hit");
            assert!(got.unwrap().is_some());
        })
    });
    group.finish();
    rt.block_on(async { cache.clear(None).await.unwrap() });
}

criterion_group!(benches, bench, near);
criterion_main!(benches);
