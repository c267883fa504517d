//! Row 4: a Redis cache hit including the AEAD open (`RedisCache::get`, and a read through
//! `Cached<RedisCache>`), against a raw GET of the same key with the same client type, in the
//! same run (interleaved).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use strongroom_core::{
    CacheEntry, CacheKey, CachePolicy, CacheScope, Identity, MemoryStore, ReadOptions, Secret,
    SecretCache, SecretName, SecretStore, SecretStoreExt, WriteOptions,
};
use strongroom_redis::{EncryptionKey, RedisCacheBuilder};

use crate::hit::VALUE;
use crate::stats::{fmt_ns, fmt_ratio, median, ns, percentile};
use crate::{Cfg, Line, RowResult};

pub async fn run(cfg: &Cfg) -> RowResult {
    let url = strongroom_testkit::servers::redis::shared_url();
    let prefix = format!("srbench-{:08x}:", rand::random::<u32>());
    let cache = Arc::new(
        RedisCacheBuilder::new(url.clone())
            .with_key(EncryptionKey::generate())
            .with_prefix(prefix)
            .with_timeout(Duration::from_secs(2))
            .build()
            .await
            .expect("RedisCache on the shared Redis"),
    );
    let key = CacheKey::new(
        CacheScope::of("memory", &Identity::anonymous()),
        &SecretName::new("db/password").unwrap(),
        &ReadOptions::new(),
    );
    let entry = CacheEntry {
        secret: Secret::new(VALUE).with_version("3"),
        stored_at: SystemTime::now(),
        fresh_until: SystemTime::now() + Duration::from_secs(600),
        keep_until: SystemTime::now() + Duration::from_secs(600),
    };
    cache
        .set(&key, entry, Duration::from_secs(600))
        .await
        .expect("set");
    let raw_key = cache.redis_key(&key);
    // The client type RedisCache uses for a single server: a ConnectionManager.
    let manager = redis::Client::open(url.as_str())
        .expect("redis URL")
        .get_connection_manager()
        .await
        .expect("redis connection");

    // The full stack: a store behind Cached<RedisCache> (a hit never reaches the store).
    let name = SecretName::new("db/password").unwrap();
    let stack = MemoryStore::new().with_cache(
        cache.clone() as Arc<dyn SecretCache>,
        CachePolicy::new("bench-stack").ttl(Duration::from_secs(600)),
    );
    stack
        .write(&name, VALUE.into(), &WriteOptions::new())
        .await
        .expect("write");
    stack.read(&name, &ReadOptions::new()).await.unwrap();

    let raw = || {
        let mut m = manager.clone();
        let k = raw_key.clone();
        async move {
            let v: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&k)
                .query_async(&mut m)
                .await
                .expect("GET");
            assert!(v.is_some());
        }
    };
    let hit = || async {
        let got = cache.get(&key).await.expect("get");
        assert!(got.is_some_and(|e| e.secret.value.expose_secret() == VALUE.as_bytes()));
    };
    let through = || async {
        let got = stack.read(&name, &ReadOptions::new()).await.expect("read");
        assert!(got.is_some());
    };

    let per_round = cfg.pick(1_000, 20);
    let mut lat: [Vec<f64>; 3] = Default::default();
    let (mut r_hit, mut r_stack) = (Vec::new(), Vec::new());
    for _ in 0..per_round / 10 {
        raw().await;
        hit().await;
        through().await;
    }
    for _round in 0..cfg.rounds {
        let mut this: [Vec<f64>; 3] = Default::default();
        for i in 0..per_round {
            // Rotate which goes first: the first request of a burst is measurably different.
            for k in 0..3 {
                let which = (k + i) % 3;
                let t = Instant::now();
                match which {
                    0 => raw().await,
                    1 => hit().await,
                    _ => through().await,
                }
                this[which].push(ns(t.elapsed()));
            }
        }
        let p50: Vec<f64> = this.iter().map(|l| percentile(l, 50.0)).collect();
        r_hit.push(p50[1] / p50[0]);
        r_stack.push(p50[2] / p50[0]);
        for (all, l) in lat.iter_mut().zip(this) {
            all.extend(l);
        }
    }
    cache.clear(None).await.expect("clear the bench prefix");

    let (rh, rs) = (median(&r_hit), median(&r_stack));
    let mut r = RowResult::default();
    r.lines.push(Line {
        row: "4".into(),
        what: "Redis cache hit including the AEAD open, sequential".into(),
        ours: format!(
            "RedisCache::get p50 {} (p99 {}); through Cached<RedisCache> p50 {}",
            fmt_ns(percentile(&lat[1], 50.0)),
            fmt_ns(percentile(&lat[1], 99.0)),
            fmt_ns(percentile(&lat[2], 50.0))
        ),
        peer: format!(
            "raw GET, same client type: p50 {} (p99 {})",
            fmt_ns(percentile(&lat[0], 50.0)),
            fmt_ns(percentile(&lat[0], 99.0))
        ),
        ratio: format!(
            "get {} of the raw GET; through the layer {}",
            fmt_ratio(rh),
            fmt_ratio(rs)
        ),
        target: "≤ 1.50x the raw GET".into(),
        met: Some(rh <= 1.5 && rs <= 1.5),
    });
    r.notes.push(format!(
        "the shared Redis (`STRONGROOM_REDIS_URL`, else 127.0.0.1:6379) under a unique key \
         prefix, cleared afterwards; {per_round} triples per round (raw GET, \
         `RedisCache::get` = GET + AES-256-GCM open + decode, `Cached<RedisCache>` read), \
         order rotating inside each triple; {} rounds; ratio = median over rounds of the \
         per-round p50 ratio. The raw GET uses a `redis::aio::ConnectionManager`, the client \
         `RedisCache` uses for one server.",
        cfg.rounds
    ));
    r
}
