//! Row 1: a cache hit through the full layer stack (access mode → prefix → `Cached<MemoryCache>`
//! → `AwsStore` on moto), on 1 and 2 threads, beside a bare `moka::sync::Cache::get` and an
//! `aws_secretsmanager_caching` hit on the same secret.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use aws_secretsmanager_caching::SecretsManagerCachingClient;
use strongroom_aws::{AwsBuilder, AwsStore};
use strongroom_core::{
    AccessMode, CachePolicy, MemoryCache, ReadOptions, SecretName, SecretStore, SecretStoreExt,
    SecretValue, WatchOptions, WriteOptions,
};
use strongroom_testkit::servers::moto::{self, Moto};

use crate::stats::{fmt_ns, fmt_ratio, median, ns};
use crate::{Cfg, Line, RowResult};

/// A 64-byte value.
pub const VALUE: &str = "sk-0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab";

/// Our AWS store on moto.
pub fn aws_store(moto: &Moto) -> AwsStore {
    AwsBuilder::new()
        .with_region(moto::REGION)
        .with_endpoint_url(moto.endpoint())
        .with_access_key(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
        .build()
        .expect("AwsStore on moto")
}

/// The AWS caching crate, its SDK client pointed at moto.
pub fn aws_caching_client(moto: &Moto, ttl: Duration) -> SecretsManagerCachingClient {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Builder, Credentials, Region};
    let builder = Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(moto::REGION))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new(
            moto::ACCESS_KEY_ID,
            moto::SECRET_ACCESS_KEY,
            None,
            None,
            "strongroom-bench",
        ));
    // `from_builder` is async only to look like the others; it does no I/O.
    futures_util::FutureExt::now_or_never(SecretsManagerCachingClient::from_builder(
        builder,
        NonZeroUsize::new(100_000).unwrap(),
        ttl,
        false,
    ))
    .expect("from_builder does no I/O")
    .expect("aws_secretsmanager_caching client")
}

/// Runs `per_thread` iterations of `op` on each of `threads` threads (each with its own
/// current-thread runtime), started together; returns the nanoseconds per operation as one
/// thread sees them (the slowest thread's wall time / `per_thread`).
fn per_op<F, Fut>(threads: usize, per_thread: u64, op: F) -> f64
where
    F: Fn() -> Fut + Sync,
    Fut: std::future::Future<Output = ()>,
{
    let barrier = Barrier::new(threads);
    let times: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    barrier.wait();
                    let t = Instant::now();
                    rt.block_on(async {
                        for _ in 0..per_thread {
                            op().await;
                        }
                    });
                    t.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let slowest = times.into_iter().max().unwrap_or_default();
    ns(slowest) / per_thread as f64
}

pub async fn run(cfg: &Cfg) -> RowResult {
    let moto = Moto::start().await;
    let name = SecretName::new("bench/hit").unwrap();
    let opts = ReadOptions::new();
    let stack = Arc::new(
        aws_store(&moto)
            .with_cache(
                Arc::new(MemoryCache::new(10_000)),
                CachePolicy::new("bench").ttl(Duration::from_secs(3600)),
            )
            .with_prefix("app")
            .with_access_mode(AccessMode::ReadAndWrite),
    );
    stack
        .write(&name, VALUE.into(), &WriteOptions::new())
        .await
        .expect("write to moto");
    let got = stack.read(&name, &opts).await.unwrap().expect("the secret");
    assert_eq!(got.value.expose_secret(), VALUE.as_bytes());

    let aws = Arc::new(aws_caching_client(&moto, Duration::from_secs(3600)));
    let aws_out = aws
        .get_secret_value("app/bench/hit", None, None, false)
        .await
        .expect("aws_secretsmanager_caching reads moto");
    assert_eq!(aws_out.secret_string.as_deref(), Some(VALUE));

    let moka: moka::sync::Cache<String, SecretValue> = moka::sync::Cache::new(10_000);
    let key = "app/bench/hit".to_owned();
    moka.insert(key.clone(), VALUE.into());

    let n: u64 = cfg.pick(200_000, 2_000);
    let rounds = cfg.rounds;
    // Run everything off the async runtime: each variant gets its own threads.
    let result = tokio::task::block_in_place(|| {
        let mut out = Vec::new();
        for threads in [1usize, 2] {
            let (mut ours, mut bare, mut peer) = (Vec::new(), Vec::new(), Vec::new());
            let (mut r_moka, mut r_aws) = (Vec::new(), Vec::new());
            // warm-up
            per_op(threads, n / 10 + 1, || async {
                black_box(stack.read(&name, &opts).await.unwrap());
            });
            for round in 0..rounds {
                let mut t = [0.0f64; 3];
                for k in 0..3 {
                    let which = (k + round) % 3;
                    t[which] = match which {
                        0 => per_op(threads, n, || async {
                            black_box(stack.read(black_box(&name), &opts).await.unwrap());
                        }),
                        1 => per_op(threads, n, || async {
                            black_box(moka.get(black_box(&key)));
                        }),
                        _ => per_op(threads, n, || async {
                            black_box(
                                aws.get_secret_value(black_box("app/bench/hit"), None, None, false)
                                    .await
                                    .is_ok(),
                            );
                        }),
                    };
                }
                ours.push(t[0]);
                bare.push(t[1]);
                peer.push(t[2]);
                r_moka.push(t[0] / t[1]);
                r_aws.push(t[0] / t[2]);
            }
            out.push((
                threads,
                median(&ours),
                median(&bare),
                median(&peer),
                median(&r_moka),
                median(&r_aws),
            ));
        }
        out
    });
    // Where the time goes (1 thread): each layer added in turn over the same cache.
    let cache = Arc::new(MemoryCache::new(10_000));
    let policy = CachePolicy::new("bench").ttl(Duration::from_secs(3600));
    let cached = Arc::new(aws_store(&moto).with_cache(cache.clone(), policy.clone()));
    let full_name = SecretName::new("app/bench/hit").unwrap();
    cached
        .read(&full_name, &opts)
        .await
        .unwrap()
        .expect("secret");
    let prefixed = Arc::new(
        aws_store(&moto)
            .with_cache(cache.clone(), policy)
            .with_prefix("app"),
    );
    let key = strongroom_core::CacheKey::new(cached.scope(), &full_name, &opts);
    assert!(cache.get_now(&key).is_some(), "the breakdown key must hit");
    let breakdown = tokio::task::block_in_place(|| {
        let mut t: [Vec<f64>; 5] = Default::default();
        for _ in 0..rounds {
            t[0].push(per_op(1, n, || async {
                black_box(moka.get(black_box(&"app/bench/hit".to_owned())));
            }));
            t[1].push(per_op(1, n, || async {
                black_box(cache.get_now(black_box(&key)));
            }));
            t[2].push(per_op(1, n, || async {
                black_box(cached.read(black_box(&full_name), &opts).await.unwrap());
            }));
            t[3].push(per_op(1, n, || async {
                black_box(prefixed.read(black_box(&name), &opts).await.unwrap());
            }));
            t[4].push(per_op(1, n, || async {
                black_box(stack.read(black_box(&name), &opts).await.unwrap());
            }));
        }
        t.map(|v| fmt_ns(median(&v)))
    });
    let mut r = RowResult::default();
    r.notes.push(format!(
        "where the time goes (1 thread, medians): bare moka get incl. building its key {}; `MemoryCache::get_now` with a ready key (quick_cache get + `CacheEntry` built) {}; `Cached<AwsStore>::read` (+ borrowed-key lookup, freshness check, statistics) {}; `+ with_prefix` (prefix passed as a key part, nothing built) {}; `+ with_access_mode` (the full stack) {}.",
        breakdown[0], breakdown[1], breakdown[2], breakdown[3], breakdown[4]
    ));
    for (threads, ours, bare, peer, r_moka, r_aws) in result {
        let letter = if threads == 1 { "a" } else { "b" };
        r.lines.push(Line {
            row: format!("1{letter}"),
            what: format!(
                "cache hit through the full layer stack, {threads} thread{}",
                if threads == 1 { "" } else { "s" }
            ),
            ours: format!("{} /read", fmt_ns(ours)),
            peer: format!(
                "bare moka get {}; aws_secretsmanager_caching hit {}",
                fmt_ns(bare),
                fmt_ns(peer)
            ),
            ratio: format!(
                "{} of moka; {} of the AWS crate",
                fmt_ratio(r_moka),
                fmt_ratio(r_aws)
            ),
            target: "< 1.00x the AWS crate".into(),
            met: Some(r_aws < 1.0),
        });
    }
    r.notes.push(format!(
        "{n} reads per thread per variant per round, {rounds} rounds, variants interleaved \
         with a rotating order; per-read time = slowest thread's wall time / reads. Stack: \
         `AwsStore` (moto) `.with_cache(MemoryCache)` `.with_prefix(\"app\")` \
         `.with_access_mode(ReadAndWrite)`; bare moka is `moka::sync::Cache<String, \
         SecretValue>::get` (value cloned out; `MemoryCache` is built on quick_cache); the AWS \
         crate is `SecretsManagerCachingClient::get_secret_value` on the same moto secret. \
         With 2 threads each thread runs its own current-thread runtime."
    ));
    // 1c: a watch's current value (an `Arc` load, no I/O), beside the AWS crate's hit.
    let watch = stack
        .watch(&name, &WatchOptions::new())
        .await
        .expect("watch the bench secret");
    assert!(watch.current().is_some());
    let (t_watch, t_aws, r_watch) = tokio::task::block_in_place(|| {
        let (mut w, mut a, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let mut t = [0.0f64; 2];
            for k in 0..2 {
                let which = (k + round) % 2;
                t[which] = if which == 0 {
                    per_op(1, n, || async {
                        black_box(watch.current());
                    })
                } else {
                    per_op(1, n, || async {
                        black_box(
                            aws.get_secret_value(black_box("app/bench/hit"), None, None, false)
                                .await
                                .is_ok(),
                        );
                    })
                };
            }
            w.push(t[0]);
            a.push(t[1]);
            ratio.push(t[0] / t[1]);
        }
        (median(&w), median(&a), median(&ratio))
    });
    r.lines.push(Line {
        row: "1c".into(),
        what: "`SecretWatch::current()` of the same secret, 1 thread".into(),
        ours: format!("{} /call", fmt_ns(t_watch)),
        peer: format!("aws_secretsmanager_caching hit {}", fmt_ns(t_aws)),
        ratio: format!("{} of the AWS crate", fmt_ratio(r_watch)),
        target: "≤ 0.15x the AWS crate".into(),
        met: Some(r_watch <= 0.15),
    });
    drop(watch);
    drop(moto);
    r
}
