//! Load: reads paced at 10,000 a second through the cache layer, against a fake (Conjur) and
//! against a real OpenBao, for `STRONGROOM_LOAD_SECS` seconds (default 5, so CI stays fast; the numbers
//! in docs/reliability.md come from a 60 s run). Asserted: no errors, every answer right,
//! memory flat (RSS growth after warm-up under 64 MiB). Throughput and latency are reported,
//! not asserted.
//!
//! Run: `STRONGROOM_REQUIRE_SERVERS=1 STRONGROOM_LOAD_SECS=60 cargo test -p strongroom-tests
//! --test reliability_load -- --nocapture` (numbers go to stdout and
//! `target/reliability-report.txt`).

mod common_rel;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common_rel::*;
use strongroom_core::{
    CachePolicy, MemoryCache, ReadOptions, SecretStore, SecretStoreExt, WriteOptions,
};
use strongroom_testkit::servers::openbao::OpenBao;

const RATE: u64 = 10_000;
const WORKERS: u64 = 10;
const KEYS: usize = 100;

fn load_secs() -> u64 {
    std::env::var("STRONGROOM_LOAD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(5)
}

struct Outcome {
    reads: u64,
    errors: u64,
    wrong: u64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
    rss_start: u64,
    rss_end: u64,
    rss_max: u64,
    elapsed: Duration,
}

/// Paces `WORKERS` tasks at `RATE / WORKERS` reads per second each for `secs` seconds.
async fn drive(store: Arc<dyn SecretStore>, secs: u64) -> Outcome {
    let reads = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let wrong = Arc::new(AtomicU64::new(0));
    let rss_start = rss_kib();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let store = Arc::clone(&store);
        let (reads, errors, wrong) = (Arc::clone(&reads), Arc::clone(&errors), Arc::clone(&wrong));
        tasks.push(tokio::spawn(async move {
            // 10 reads every 10 ms per worker: 1,000 reads/s per worker.
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let per_tick = RATE / WORKERS / 100;
            // Latency histogram in µs (1 µs buckets up to 1 s): fixed size, so the
            // harness itself does not grow memory while it measures.
            let mut lat = vec![0u32; 1_000_001];
            let mut i = w as usize;
            while Instant::now() < deadline {
                tick.tick().await;
                for _ in 0..per_tick {
                    let k = i % KEYS;
                    i += 7;
                    let t0 = Instant::now();
                    let r = store
                        .read(&name(&format!("load/k{k}")), &ReadOptions::new())
                        .await;
                    lat[(t0.elapsed().as_micros() as usize).min(1_000_000)] += 1;
                    match r {
                        Ok(Some(s)) if s.value.expose_secret() == format!("v{k}").as_bytes() => {}
                        Ok(_) => {
                            wrong.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                                eprintln!("load read failed: {e}");
                            }
                        }
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        }));
    }
    // Sample RSS once a second.
    let mut rss_max = rss_start;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        rss_max = rss_max.max(rss_kib());
    }
    let mut hists = Vec::new();
    for t in tasks {
        hists.push(
            tokio::time::timeout(Duration::from_secs(60), t)
                .await
                .expect("a load worker hung")
                .unwrap(),
        );
    }
    let elapsed = start.elapsed();
    let rss_end = rss_kib();
    let mut hist = vec![0u64; 1_000_001];
    for h in &hists {
        for (i, n) in h.iter().enumerate() {
            hist[i] += u64::from(*n);
        }
    }
    let total: u64 = hist.iter().sum();
    let pct = |p: f64| {
        let want = ((total as f64) * p).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (us, n) in hist.iter().enumerate() {
            seen += n;
            if seen >= want {
                return us as u64;
            }
        }
        0
    };
    let max_us = hist.iter().rposition(|n| *n > 0).unwrap_or(0) as u64;
    Outcome {
        reads: reads.load(Ordering::SeqCst),
        errors: errors.load(Ordering::SeqCst),
        wrong: wrong.load(Ordering::SeqCst),
        p50_us: pct(0.5),
        p99_us: pct(0.99),
        max_us,
        rss_start,
        rss_end,
        rss_max: rss_max.max(rss_end),
        elapsed,
    }
}

fn check(label: &str, o: &Outcome, backend_reads: u64) {
    let rate = o.reads as f64 / o.elapsed.as_secs_f64();
    report(&format!(
        "load backend={label} secs={:.1} reads={} rate_per_s={rate:.0} errors={} wrong={} backend_reads={backend_reads} p50_us={} p99_us={} max_us={} rss_start_kib={} rss_end_kib={} rss_max_kib={}",
        o.elapsed.as_secs_f64(),
        o.reads,
        o.errors,
        o.wrong,
        o.p50_us,
        o.p99_us,
        o.max_us,
        o.rss_start,
        o.rss_end,
        o.rss_max
    ));
    assert_eq!(o.errors, 0, "{label}: errors under load");
    assert_eq!(o.wrong, 0, "{label}: wrong answers under load");
    assert!(o.reads > 0);
    assert!(
        o.rss_end <= o.rss_start + 64 * 1024,
        "{label}: memory grew from {} KiB to {} KiB",
        o.rss_start,
        o.rss_end
    );
}

async fn seed_and_warm(raw: &Arc<dyn SecretStore>, cached: &Arc<dyn SecretStore>) {
    for k in 0..KEYS {
        raw.write(
            &name(&format!("load/k{k}")),
            format!("v{k}").into(),
            &WriteOptions::new(),
        )
        .await
        .unwrap();
    }
    // Warm-up: fill the cache and let allocations settle before measuring RSS.
    for _ in 0..3 {
        for k in 0..KEYS {
            cached
                .read(&name(&format!("load/k{k}")), &ReadOptions::new())
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_paced_at_ten_thousand_a_second_stay_right_with_flat_memory() {
    let secs = load_secs();
    // A 1 s TTL so the backend is really read during the run (about KEYS reads a second).
    let policy = |ns: &str| CachePolicy::new(ns).ttl(Duration::from_secs(1));

    // The Conjur fake.
    let fake = Fake::start(FakeKind::Conjur).await;
    let raw = fake.store(&Tuning::default());
    let counting = strongroom_testkit::CountingStore::new(Arc::clone(&raw));
    let counts = counting.counts();
    let cached: Arc<dyn SecretStore> =
        Arc::new(counting.with_cache(Arc::new(MemoryCache::default()), policy("load-fake")));
    seed_and_warm(&raw, &cached).await;
    let before = counts.reads() as u64;
    let o = drive(Arc::clone(&cached), secs).await;
    check("conjur-fake", &o, counts.reads() as u64 - before);
    drop((cached, raw, fake));

    // OpenBao.
    let bao = OpenBao::start().await;
    let raw: Arc<dyn SecretStore> = Arc::new(vault_store(&bao, &Tuning::default()));
    let counting = strongroom_testkit::CountingStore::new(Arc::clone(&raw));
    let counts = counting.counts();
    let cached: Arc<dyn SecretStore> =
        Arc::new(counting.with_cache(Arc::new(MemoryCache::default()), policy("load-bao")));
    seed_and_warm(&raw, &cached).await;
    let before = counts.reads() as u64;
    let o = drive(Arc::clone(&cached), secs).await;
    check("openbao", &o, counts.reads() as u64 - before);
}
