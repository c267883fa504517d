//! # strongroom-akeyless
//!
//! The [Akeyless](https://www.akeyless.io) provider for Strongroom: static, dynamic and rotated
//! secrets behind the one [`strongroom_core::SecretStore`] contract.
//!
//! * Settings: one [`AkeylessConfig`] (TOML keys, exact `AKEYLESS_*` variables, builder
//!   setters), validated by `build()`.
//! * Log-in: `access_key`, `jwt` (JWT read from an environment variable at each log-in),
//!   `saml` (the Akeyless CLI's cached credentials, re-read when the CLI refreshes them) and,
//!   with the cargo feature `aws-iam`, `aws_iam` (a SigV4-signed STS request built with the
//!   AWS crates and the default credential chain). Tokens live in the core `TokenCache`:
//!   refreshed `token_refresh_buffer` before they expire, one refresh at a time; a 401 logs in
//!   once more and retries once.
//! * Every call goes through the core HTTP path: redirects refused, bodies capped, lists
//!   bounded, only idempotent calls retried.
//! * Names are absolute Akeyless paths: the name `team/db` is the item `/team/db`.
//! * Caching is done by the core cache layer (`store.with_cache(..)`); a dynamic secret's cache
//!   entry never outlives its lease.
//!
//! ```no_run
//! use std::sync::Arc;
//! use strongroom_akeyless::{AccessType, AkeylessBuilder};
//! use strongroom_core::{CachePolicy, MemoryCache, ReadOptions, SecretName, SecretStore, SecretStoreExt};
//! # async fn demo() -> strongroom_core::Result<()> {
//! let store = AkeylessBuilder::new()
//!     .with_access_id("p-abc123")
//!     .with_access_type(AccessType::Jwt)
//!     .with_jwt_env_key("CI_JOB_JWT")
//!     .with_auto_guess_type(true)
//!     .build()?
//!     .with_cache(Arc::new(MemoryCache::default()), CachePolicy::new("akeyless"));
//! let name = SecretName::new("prod/db")?;
//! let fresh = store.read(&name, &ReadOptions::new().refresh(true)).await?;
//! # let _ = fresh; Ok(()) }
//! ```

#![warn(missing_docs)]

mod api;
mod auth;
mod config;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod store;

pub use config::{
    AccessType, AkeylessBuilder, AkeylessConfig, DEFAULT_API_HOST, DEFAULT_AUTH_TOKEN_TTL,
    DEFAULT_TOKEN_REFRESH_BUFFER,
};
pub use store::AkeylessStore;
/// The shared HTTP setters of the builder (`with_timeout`, `with_proxy`, `with_ca_pem`, …).
pub use strongroom_core::HttpSetters;

#[cfg(feature = "aws-iam")]
pub use auth::aws_iam_cloud_id;
