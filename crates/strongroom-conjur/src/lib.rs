//! # strongroom-conjur
//!
//! CyberArk Conjur (OSS / Secrets Manager self-hosted) provider for Strongroom: read, write and
//! list Conjur variables with token caching, batch reads and safe policy loading.
//!
//! * Settings: [`ConjurBuilder`] with [`ConjurBuilder::from_env`] reading the `CYBERARK_*`
//!   variables users of the LiteLLM Conjur manager already have.
//! * Log-in: API key (`/authn`, optionally with a client certificate in the TLS handshake) or
//!   the `authn-cert` authenticator; the token lives in the core `TokenCache` and is sent as
//!   `Authorization: Token token="<base64>"` (quoted).
//! * [`ConjurStore`] implements [`strongroom_core::SecretStore`]: `read` (404 → `Ok(None)`,
//!   versions), `read_many` (one batch call, falling back to single reads when the
//!   all-or-nothing batch refuses), `write` (declares the variable with an add-only policy
//!   load, then sets the value), `list`; `delete` is unsupported (Conjur removes variables
//!   through a policy update).
//! * Policy text is built so a name can never add a second record: see
//!   [`policy`] — an allowlist, a double-quoted YAML scalar, and a parse-back
//!   check.
//!
//! ```no_run
//! use strongroom_conjur::ConjurBuilder;
//! use strongroom_core::{ReadOptions, SecretName, SecretStore};
//! # async fn demo() -> strongroom_core::Result<()> {
//! let store = ConjurBuilder::from_env().build()?;
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

pub use auth::{DEFAULT_TOKEN_LIFETIME, REFRESH_BEFORE_EXPIRY};
pub use config::{
    AuthMode, ConjurBuilder, DEFAULT_ACCOUNT, DEFAULT_API_BASE, DEFAULT_POLICY_BRANCH,
    DEFAULT_REFRESH_INTERVAL, DEFAULT_USERNAME, ENV_ACCOUNT, ENV_API_BASE, ENV_API_KEY,
    ENV_AUTHN_CERT_SERVICE_ID, ENV_CA_CERT, ENV_CLIENT_CERT, ENV_CLIENT_KEY, ENV_POLICY_BRANCH,
    ENV_REFRESH_INTERVAL, ENV_SSL_VERIFY, ENV_USERNAME,
};
pub use error::PROVIDER;
pub use store::ConjurStore;
