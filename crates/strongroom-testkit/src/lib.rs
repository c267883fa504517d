//! Test support for Strongroom (not published).
//!
//! * [`conformance`]: the behaviours every store must show; one entry point,
//!   [`conformance::run`].
//! * [`CountingStore`]: counts the calls that reach a store (single-flight and access-policy
//!   tests assert on it).
//! * [`logs`]: a global TRACE subscriber that captures every log line, for leak checks.
//! * [`fake`]: the HTTP(S) harness the fake servers run on, with fault injection.
//! * [`fakes`]: faithful fakes of Conjur, Akeyless and Azure Key Vault.
//! * [`proxy`]: a fault-injecting TCP proxy to put in front of real servers.
//! * [`servers`]: launchers for the real local servers (OpenBao, moto, Redis).

pub mod conformance;
mod counting;
pub mod fake;
pub mod fakes;
pub mod logs;
pub mod proxy;
pub mod servers;

pub use counting::{CallCounts, CountingStore};

/// A random string that is easy to search for in captured output.
pub fn sentinel(label: &str) -> String {
    format!("sr-{label}-{:016x}", rand::random::<u64>())
}

/// This process's resident set size and its peak, in KiB (Linux `/proc/self/status`; zeros
/// elsewhere). Tests that bound memory compare the peak before and after.
pub fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
