//! # strongroom-conjur
//!
//! CyberArk Conjur (OSS / Secrets Manager self-hosted) provider for Strongroom: read, write and
//! list Conjur variables with token caching, batch reads and safe policy loading.
//!
//! * Settings: [`ConjurConfig`] — TOML keys (`api_base`, `account`, `username`, `api_key`, …),
//!   the `CYBERARK_*` variables users of the LiteLLM Conjur manager already have, or
//!   [`ConjurBuilder`] setters; one `build()` validates them.
//! * Log-in: API key (`/authn`, optionally with a client certificate in the TLS handshake) or
//!   the `authn-cert` authenticator; the token lives in the core `TokenCache`, is renewed before
//!   it expires (at 80 % of its life when it is short) and is sent as
//!   `Authorization: Token token="<base64>"` (quoted).
//! * [`ConjurStore`] implements [`strongroom_core::SecretStore`]. Names are full variable ids
//!   everywhere; a write declares the variable in the configured policy branch (as the id
//!   relative to the branch) with an add-only, injection-proof policy load ([`policy`]) that
//!   also carries the write's description and tags as annotations, then sets the value;
//!   `delete` is unsupported (Conjur removes variables through a policy update).
//! * Every request goes through the core HTTP path: no redirects, capped answers, bounded
//!   retries and list paging.
//!
//! ```no_run
//! use strongroom_conjur::ConjurBuilder;
//! use strongroom_core::{ReadOptions, SecretName, SecretStore};
//! # async fn demo() -> strongroom_core::Result<()> {
//! let store = ConjurBuilder::from_env()?.build()?;
//! let name = SecretName::new("litellm/openai-api-key")?;
//! let secret = store.read(&name, &ReadOptions::new()).await?;
//! # let _ = secret;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod api;
mod auth;
mod config;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod policy;
mod store;

pub use auth::{DEFAULT_TOKEN_LIFETIME, REFRESH_BEFORE_EXPIRY, renew_after};
pub use config::{
    AuthMode, ConjurBuilder, ConjurConfig, DEFAULT_ACCOUNT, DEFAULT_API_BASE,
    DEFAULT_POLICY_BRANCH, DEFAULT_REFRESH_INTERVAL, DEFAULT_USERNAME,
};
pub use error::PROVIDER;
pub use store::ConjurStore;
/// The shared HTTP setters of the builder (`with_timeout`, `with_proxy`, `with_ca_pem`, …).
pub use strongroom_core::HttpSetters;
