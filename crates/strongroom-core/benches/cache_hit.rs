//! Cache-hit path through the whole layer stack (access policy → prefix → `Cached<MemoryCache>`
//! → store) beside a bare moka future get, a bare moka sync get and a bare `RwLock<HashMap>`
//! lookup, in the same run. Compare the ratios, not the absolute times (shared, noisy machines).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, RwLock};

use criterion::{Criterion, criterion_group, criterion_main};
use strongroom_core::{
    AccessMode, CachePolicy, MemoryCache, MemoryStore, ReadOptions, SecretName, SecretStore,
    SecretStoreExt, SecretValue, WriteOptions,
};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let name = SecretName::new("openai-api-key").unwrap();
    let value = "sk-0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab";

    let stack = MemoryStore::new()
        .with_cache(
            Arc::new(MemoryCache::new(10_000)),
            CachePolicy::new("bench"),
        )
        .with_prefix("litellm")
        .with_access_mode(AccessMode::ReadAndWrite);
    let opts = ReadOptions::new();
    rt.block_on(async {
        stack
            .write(&name, value.into(), &WriteOptions::new())
            .await
            .unwrap();
        stack.read(&name, &opts).await.unwrap().unwrap();
    });

    let moka_future: moka::future::Cache<String, SecretValue> = moka::future::Cache::new(10_000);
    let moka_sync: moka::sync::Cache<String, SecretValue> = moka::sync::Cache::new(10_000);
    let map: RwLock<HashMap<String, SecretValue>> = RwLock::new(HashMap::new());
    let key = "litellm/openai-api-key".to_string();
    rt.block_on(moka_future.insert(key.clone(), value.into()));
    moka_sync.insert(key.clone(), value.into());
    map.write().unwrap().insert(key.clone(), value.into());

    let mut g = c.benchmark_group("cache_hit");
    g.bench_function("strongroom_full_stack", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(stack.read(black_box(&name), &opts).await.unwrap()) })
    });
    g.bench_function("bare_moka_future_get", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(moka_future.get(black_box(&key)).await) })
    });
    g.bench_function("bare_moka_sync_get", |b| {
        b.iter(|| black_box(moka_sync.get(black_box(&key))))
    });
    g.bench_function("bare_rwlock_hashmap", |b| {
        b.iter(|| black_box(map.read().unwrap().get(black_box(&key)).cloned()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
