//! # strongroom-aws
//!
//! AWS Secrets Manager provider for Strongroom on the official AWS SDK (`aws-config` +
//! `aws-sdk-secretsmanager`, rustls, tokio): batch reads, JSON fields, restore-on-recreate,
//! recovery windows.
//!
//! * [`AwsBuilder`]: region, endpoint override (VPC endpoints, moto), credentials from the
//!   default chain or an explicit access key, an optional role to assume, KMS key, default
//!   recovery window, the last-segment JSON key fallback, retries and timeouts.
//! * [`AwsStore`]: the [`SecretStore`](strongroom_core::SecretStore).
//!
//! Names must match `[A-Za-z0-9/_+=.@-]{1,512}`; anything else is
//! [`ErrorKind::InvalidName`](strongroom_core::ErrorKind::InvalidName) before any call.
//!
//! Multi-value secrets: a JSON-object secret `prod/db` = `{"user":…,"password":…}` can be read
//! whole, by field (`ReadOptions::field("password")`), or — the form CloverDX users write — as
//! `prod/db/password`: when that name does not exist, the store reads `prod/db` and returns its
//! key `password` ([`AwsBuilder::with_json_key_fallback`], on by default).
//!
//! ```no_run
//! use strongroom_aws::AwsBuilder;
//! use strongroom_core::{DeleteOptions, ReadOptions, SecretName, SecretStore, WriteOptions};
//! # async fn demo() -> strongroom_core::Result<()> {
//! let store = AwsBuilder::from_env().build()?;
//! let name = SecretName::new("litellm/openai-key")?;
//! store.write(&name, "sk-…".into(), &WriteOptions::new()).await?;
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
pub mod config;
mod error;
mod store;

pub use config::{AwsBuilder, DEFAULT_RECOVERY_WINDOW_DAYS};
pub use store::AwsStore;
