//! Faithful fakes of the backends that have no local server, following `protocols.md`.
//! Each runs on the [`crate::fake`] harness, so every fault kind is available to each.
//!
//! Each fake module offers `standalone()`, used by the `strongroom-fake` binary so the
//! vendors' own Python SDKs can be pointed at the fake (`cargo xtask` runs those checks).

// Axum handlers return `Response` as their error: that is the idiom, not a smell.
#![allow(clippy::result_large_err)]

pub mod akeyless;
pub mod azure;
pub mod conjur;
pub mod gcp;

/// A fake started for an out-of-process client: keep `keep_alive` alive while it serves;
/// `env` holds what the client needs (URL, credentials, CA file), as environment variables.
pub struct Standalone {
    /// Whatever keeps the server running.
    pub keep_alive: Box<dyn std::any::Any + Send>,
    /// `FAKE_URL` and friends.
    pub env: Vec<(String, String)>,
}

impl std::fmt::Debug for Standalone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Standalone")
            .field("env", &self.env)
            .finish()
    }
}
