//! Row 7: RSS growth with 100,000 cached 64-byte secrets, measured in a child process (this
//! binary with `--memory-child`) so nothing else in the run hides in or inflates its RSS.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use strongroom_core::{CacheEntry, CacheKey, MemoryCache, ReadOptions, Secret, SecretCache};

use crate::stats::{fmt_mib, thousands};
use crate::{Cfg, Line, RowResult};

/// A typical backend address in a cache key.
const ADDRESS: &str = "aws:us-east-1|http://127.0.0.1:4566";

/// Resident set size of this process, bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn value(i: usize) -> String {
    // 64 bytes, different for every entry.
    format!("{i:08}-0123456789abcdef0123456789abcdef0123456789abcdef012345")
}

/// In the child: fill a cache with `count` entries, print `rss_growth_bytes`.
pub fn child(what: &str, count: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let before;
    let after;
    match what {
        "moka" => {
            let cache: moka::sync::Cache<String, Vec<u8>> =
                moka::sync::Cache::new(count as u64 * 2);
            before = rss();
            for i in 0..count {
                cache.insert(format!("bench/secret-{i:06}"), value(i).into_bytes());
            }
            cache.run_pending_tasks();
            after = rss();
            assert_eq!(cache.entry_count(), count as u64);
        }
        "moka-entry" | "moka-entry-expiry" | "moka-entry-expiry-closures" => {
            // MemoryCache's own layout rebuilt step by step, to see what each part costs.
            #[derive(Clone)]
            struct Stored {
                _entry: Arc<CacheEntry>,
                ttl: Duration,
            }
            struct Expiry;
            impl moka::Expiry<String, Stored> for Expiry {
                fn expire_after_create(
                    &self,
                    _k: &String,
                    v: &Stored,
                    _now: std::time::Instant,
                ) -> Option<Duration> {
                    Some(v.ttl)
                }
            }
            let mut b = moka::sync::Cache::builder().max_capacity(count as u64 * 2);
            if what != "moka-entry" {
                b = b.expire_after(Expiry);
            }
            if what == "moka-entry-expiry-closures" {
                b = b.support_invalidation_closures();
            }
            let cache: moka::sync::Cache<String, Stored> = b.build();
            let opts = ReadOptions::new();
            let fresh = SystemTime::now() + Duration::from_secs(3600);
            before = rss();
            for i in 0..count {
                let key = CacheKey::new(
                    "bench",
                    &CacheKey::address_digest(ADDRESS, &strongroom_core::Identity::anonymous()),
                    &format!("bench/secret-{i:06}"),
                    &opts,
                );
                let entry = CacheEntry {
                    secret: Secret::new(value(i)).with_version("1"),
                    fresh_until: fresh,
                };
                cache.insert(
                    key.as_str().to_owned(),
                    Stored {
                        _entry: Arc::new(entry),
                        ttl: Duration::from_secs(3600),
                    },
                );
            }
            cache.run_pending_tasks();
            after = rss();
            assert_eq!(cache.entry_count(), count as u64);
        }
        "compact" => {
            // What a compact stored form would take: the value and version in one boxed
            // struct, the rest of the metadata boxed only when present (here: absent).
            #[allow(dead_code)]
            struct Compact {
                value: Box<[u8]>,
                version: Option<Box<str>>,
                fresh_until: SystemTime,
                meta: Option<Box<Secret>>,
            }
            #[derive(Clone)]
            struct Stored {
                _entry: Arc<Compact>,
                ttl: Duration,
            }
            struct Expiry;
            impl moka::Expiry<String, Stored> for Expiry {
                fn expire_after_create(
                    &self,
                    _k: &String,
                    v: &Stored,
                    _now: std::time::Instant,
                ) -> Option<Duration> {
                    Some(v.ttl)
                }
            }
            let cache: moka::sync::Cache<String, Stored> = moka::sync::Cache::builder()
                .max_capacity(count as u64 * 2)
                .expire_after(Expiry)
                .build();
            let opts = ReadOptions::new();
            let fresh = SystemTime::now() + Duration::from_secs(3600);
            before = rss();
            for i in 0..count {
                let key = CacheKey::new(
                    "bench",
                    &CacheKey::address_digest(ADDRESS, &strongroom_core::Identity::anonymous()),
                    &format!("bench/secret-{i:06}"),
                    &opts,
                );
                let entry = Compact {
                    value: value(i).into_bytes().into_boxed_slice(),
                    version: Some("1".into()),
                    fresh_until: fresh,
                    meta: None,
                };
                cache.insert(
                    key.as_str().to_owned(),
                    Stored {
                        _entry: Arc::new(entry),
                        ttl: Duration::from_secs(3600),
                    },
                );
            }
            cache.run_pending_tasks();
            after = rss();
            assert_eq!(cache.entry_count(), count as u64);
        }
        _ => {
            let cache = MemoryCache::new(count as u64 * 2);
            let opts = ReadOptions::new();
            let fresh = SystemTime::now() + Duration::from_secs(3600);
            before = rss();
            rt.block_on(async {
                for i in 0..count {
                    let key = CacheKey::new(
                        "bench",
                        &CacheKey::address_digest(ADDRESS, &strongroom_core::Identity::anonymous()),
                        &format!("bench/secret-{i:06}"),
                        &opts,
                    );
                    let entry = CacheEntry {
                        secret: Secret::new(value(i)).with_version("1"),
                        fresh_until: fresh,
                    };
                    cache
                        .set(&key, entry, Duration::from_secs(3600))
                        .await
                        .unwrap();
                }
            });
            after = rss();
            assert_eq!(cache.len(), count as u64);
        }
    }
    println!("rss_growth_bytes {}", after.saturating_sub(before));
}

fn measure(what: &str, count: usize) -> f64 {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .args(["--memory-child", what, &count.to_string()])
        .output()
        .expect("run the memory child");
    assert!(
        out.status.success(),
        "memory child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("rss_growth_bytes "))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .expect("the child prints rss_growth_bytes")
}

pub fn run(cfg: &Cfg) -> RowResult {
    let count = 100_000;
    let runs = cfg.pick(3, 1);
    let ours: Vec<f64> = (0..runs).map(|_| measure("strongroom", count)).collect();
    let moka: Vec<f64> = (0..runs).map(|_| measure("moka", count)).collect();
    let (o, m) = (crate::stats::median(&ours), crate::stats::median(&moka));
    // Where the bytes go: MemoryCache's layout rebuilt on bare moka, one part at a time.
    let breakdown: Vec<String> = [
        ("moka-entry", "+ our key and `Arc<CacheEntry>` value"),
        ("moka-entry-expiry", "+ per-entry expiry (`expire_after`)"),
        (
            "moka-entry-expiry-closures",
            "+ `support_invalidation_closures()` (= MemoryCache's moka settings)",
        ),
        (
            "compact",
            "a compact stored form instead (value + version in one box, metadata boxed only \
             when present, per-entry expiry, no invalidation closures)",
        ),
    ]
    .iter()
    .map(|(what, label)| {
        let b = crate::stats::median(&(0..runs).map(|_| measure(what, count)).collect::<Vec<_>>());
        format!("{label}: {} ({:.0} B/entry)", fmt_mib(b), b / count as f64)
    })
    .collect();
    let limit = 64.0 * 1024.0 * 1024.0;
    let mut r = RowResult::default();
    r.lines.push(Line {
        row: "7".into(),
        what: format!(
            "memory: RSS growth with {} cached 64-byte secrets",
            thousands(count as u64)
        ),
        ours: format!("{} ({:.0} bytes/entry)", fmt_mib(o), o / count as f64),
        peer: format!(
            "bare moka String → Vec<u8>: {} ({:.0} bytes/entry)",
            fmt_mib(m),
            m / count as f64
        ),
        ratio: format!("{} of bare moka", crate::stats::fmt_ratio(o / m)),
        target: "≤ 64 MiB".into(),
        met: Some(o <= limit),
    });
    r.notes.push(format!(
        "a fresh child process per measurement (median of {runs}): VmRSS before and after \
         `MemoryCache::set` of {} entries (cache key with manager, backend address and name; \
         a `Secret` with a 64-byte value and a version). The reference fills a bare \
         `moka::sync::Cache<String, Vec<u8>>` with the same names and values.",
        thousands(count as u64)
    ));
    r.notes.push(format!(
        "breakdown, bare moka {} ({:.0} B/entry) then: {}; MemoryCache {} ({:.0} B/entry).",
        fmt_mib(m),
        m / count as f64,
        breakdown.join("; "),
        fmt_mib(o),
        o / count as f64
    ));
    r
}
