//! # strongroom
//!
//! One contract for secrets in CyberArk Conjur, HashiCorp Vault (KV v2), Akeyless, AWS Secrets
//! Manager and Azure Key Vault, plus built-in memory, environment and JSON-file stores.
//!
//! * Everything from [`strongroom_core`] is re-exported: [`SecretStore`], [`SecretName`],
//!   [`SecretValue`], the layers, caches and errors.
//! * Each provider crate is re-exported under its feature: [`conjur`] (`conjur`),
//!   [`hcp_vault`] (`hcp-vault`), [`akeyless`] (`akeyless`; its `aws_iam` log-in with
//!   `akeyless-aws-iam`), [`aws`] (`aws`), [`azure`] (`azure`), [`gcp`] (`gcp`), [`redis`]
//!   (`redis`). No provider is on by default; `full` turns on all.
//! * [`Registry`]: named managers from a TOML file ([`config`]) or from LiteLLM-style
//!   environment variables ([`litellm`]), placeholders resolved for a caller's groups.
//! * [`blocking::Client`] (feature `blocking`) for synchronous callers.
//! * Watches ([`Registry::watch`]), refresh-ahead (on by default for configured managers) and
//!   per-manager statistics ([`Registry::stats`]); with the feature `metrics`, the same
//!   statistics through the `metrics` crate ([`Registry::record_metrics`]).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("secrets.json");
//! let registry = strongroom::Registry::from_toml_str(&format!(r#"
//!     [managers.local]
//!     provider = "file"
//!     access_mode = "read_and_write"
//!     settings = {{ path = "{}" }}
//! "#, path.display())).await.unwrap();
//! let local = registry.manager("local", &[]).unwrap().store();
//! let name = strongroom::SecretName::new("db/password").unwrap();
//! local.write(&name, "pw".into(), &Default::default()).await.unwrap();
//! let text = registry.render("postgres://app:${secret:local/db/password}@db", &[]).await.unwrap();
//! assert_eq!(text.expose_str().unwrap(), "postgres://app:pw@db");
//! # });
//! ```

#![warn(missing_docs)]

pub mod builtin;
mod cache;
pub mod config;
mod layers;
pub mod litellm;
#[cfg(feature = "litellm-config")]
mod litellm_config;
pub mod providers;
mod registry;
pub mod trust;

#[cfg(feature = "blocking")]
pub mod blocking;

#[cfg(feature = "metrics")]
pub mod metrics;

pub use cache::build_cache;
pub use registry::{CacheView, GroupResolver, Manager, Registry};
pub use strongroom_core::*;

#[cfg(feature = "akeyless")]
pub use strongroom_akeyless as akeyless;
#[cfg(feature = "aws")]
pub use strongroom_aws as aws;
#[cfg(feature = "azure")]
pub use strongroom_azure as azure;
#[cfg(feature = "conjur")]
pub use strongroom_conjur as conjur;
#[cfg(feature = "gcp")]
pub use strongroom_gcp as gcp;
#[cfg(feature = "hcp-vault")]
pub use strongroom_hcp_vault as hcp_vault;
#[cfg(feature = "redis")]
pub use strongroom_redis as redis;
