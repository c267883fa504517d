//! # strongroom-aws
//!
//! AWS Secrets Manager provider for Strongroom on the official AWS SDK (`aws-config` +
//! `aws-sdk-secretsmanager`, rustls, tokio): batch reads, JSON fields, restore-on-recreate,
//! recovery windows, description and tags on writes.
//!
//! * [`AwsConfig`]: every setting (TOML keys, exact environment names, defaults), validated by
//!   [`build`](strongroom_core::config::StoreConfig::build) before any call; [`AwsBuilder`]
//!   sets the same fields in code.
//! * [`AwsStore`]: the [`SecretStore`](strongroom_core::SecretStore).
//!
//! Every request the SDK makes goes through Strongroom's transport rules: redirects are
//! refused ([`ErrorKind::Redirected`](strongroom_core::ErrorKind::Redirected)), answers are
//! capped at `max_response_bytes`, list paging at `max_pages` / `max_list_items`
//! ([`ErrorKind::LimitExceeded`](strongroom_core::ErrorKind::LimitExceeded)).
//!
//! Names must match `[A-Za-z0-9/_+=.@-]{1,512}`; anything else is
//! [`ErrorKind::InvalidName`](strongroom_core::ErrorKind::InvalidName) before any call.
//!
//! Multi-value secrets: a JSON-object secret `prod/db` = `{"user":…,"password":…}` can be read
//! whole, by field (`ReadOptions::field("password")`), or — the form CloverDX users write — as
//! `prod/db/password`: when that name does not exist, the store reads `prod/db` and returns its
//! key `password` ([`AwsConfig::json_key_fallback`], on by default), never above a manager's
//! prefix.
//!
//! ```no_run
//! use strongroom_aws::AwsBuilder;
//! use strongroom_core::{DeleteOptions, ReadOptions, SecretName, SecretStore, WriteOptions};
//! # async fn demo() -> strongroom_core::Result<()> {
//! let store = AwsBuilder::from_env()?.build()?;
//! let name = SecretName::new("litellm/openai-key")?;
//! store.write(&name, "sk-…".into(), &WriteOptions::new().description("proxy key")).await?;
//! let previous = store.read(&name, &ReadOptions::new().stage("AWSPREVIOUS")).await?;
//! store.delete(&name, &DeleteOptions::new().recovery_window_days(14)).await?;
//! # Ok(()) }
//! ```
//!
//! Features: `sso` (default) adds IAM Identity Center profiles to the default credential chain;
//! `credentials-process` adds `credential_process` profiles.

#![warn(missing_docs)]

mod api;
mod auth;
mod config;
mod error;
mod store;
mod transport;

pub use config::{
    AwsBuilder, AwsConfig, DEFAULT_MAX_ATTEMPTS, DEFAULT_RECOVERY_WINDOW_DAYS, MAX_MAX_ATTEMPTS,
    MAX_RECOVERY_WINDOW_DAYS, MIN_RECOVERY_WINDOW_DAYS,
};
pub use store::AwsStore;
/// The shared HTTP setters of the builder (`with_timeout`, `with_proxy`, `with_ca_pem`, …).
pub use strongroom_core::HttpSetters;
