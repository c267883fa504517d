//! Row 7: RSS growth with 100,000 cached 64-byte secrets, measured in a child process (this
//! binary with `--memory-child`) so nothing else in the run hides in or inflates its RSS.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use strongroom_core::{
    CacheEntry, CacheKey, CacheScope, Identity, MemoryCache, ReadOptions, Secret, SecretCache,
    SecretName,
};

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
        "quick_cache" => {
            let cache: quick_cache::sync::Cache<String, Vec<u8>> =
                quick_cache::sync::Cache::new(count * 2);
            before = rss();
            for i in 0..count {
                cache.insert(format!("bench/secret-{i:06}"), value(i).into_bytes());
            }
            after = rss();
            assert_eq!(cache.len(), count);
        }
        "moka-stored" => {
            // The previous MemoryCache: moka with per-entry expiry and invalidation closures,
            // an encoded string key and a compact stored value.
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
            let cache: moka::sync::Cache<String, Stored> = moka::sync::Cache::builder()
                .max_capacity(count as u64 * 2)
                .expire_after(Expiry)
                .support_invalidation_closures()
                .build();
            let scope = CacheScope::of(ADDRESS, &Identity::anonymous());
            before = rss();
            for i in 0..count {
                let entry = entry(i);
                cache.insert(
                    format!("bench\u{1f}bench/secret-{i:06}\u{1f}{scope}\u{1f}"),
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
            let scope = CacheScope::of(ADDRESS, &Identity::anonymous());
            before = rss();
            rt.block_on(async {
                for i in 0..count {
                    let name = SecretName::new(format!("bench/secret-{i:06}")).unwrap();
                    let key = CacheKey::new(scope, &name, &opts);
                    cache
                        .set(&key, entry(i), Duration::from_secs(3600))
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

fn entry(i: usize) -> CacheEntry {
    let now = SystemTime::now();
    CacheEntry {
        secret: Secret::new(value(i)).with_version("1"),
        stored_at: now,
        fresh_until: now + Duration::from_secs(3600),
        keep_until: now + Duration::from_secs(3600),
    }
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
    let m = |what: &str| {
        crate::stats::median(&(0..runs).map(|_| measure(what, count)).collect::<Vec<_>>())
    };
    let (o, moka, quick, old) = (
        m("strongroom"),
        m("moka"),
        m("quick_cache"),
        m("moka-stored"),
    );
    let per = |b: f64| format!("{} ({:.0} B/entry)", fmt_mib(b), b / count as f64);
    let limit = 48.0 * 1024.0 * 1024.0;
    let mut r = RowResult::default();
    r.lines.push(Line {
        row: "7".into(),
        what: format!(
            "memory: RSS growth with {} cached 64-byte secrets",
            thousands(count as u64)
        ),
        ours: per(o),
        peer: format!(
            "bare moka String → Vec<u8>: {}; bare quick_cache String → Vec<u8>: {}",
            per(moka),
            per(quick)
        ),
        ratio: format!(
            "{} of bare moka; {} of bare quick_cache",
            crate::stats::fmt_ratio(o / moka),
            crate::stats::fmt_ratio(o / quick)
        ),
        target: "≤ 48 MiB".into(),
        met: Some(o <= limit),
    });
    r.notes.push(format!(
        "a fresh child process per measurement (median of {runs}): VmRSS before and after \
         `MemoryCache::set` of {} entries (key: scope digest, name, no variant; a `Secret` with \
         a 64-byte value and a version; per-entry lifetimes). The references fill bare \
         `moka::sync::Cache<String, Vec<u8>>` and `quick_cache::sync::Cache<String, Vec<u8>>` \
         with the same names and values. The previous MemoryCache design (moka with per-entry \
         expiry and invalidation closures, encoded string keys) measured {} in the same run: \
         the choice of quick_cache was made on these numbers.",
        thousands(count as u64),
        per(old)
    ));
    r
}
