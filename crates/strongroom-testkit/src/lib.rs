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
