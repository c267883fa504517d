//! # strongroom-azure
//!
//! Azure Key Vault secrets for Strongroom, on Microsoft's official SDK crates
//! (`azure_security_keyvault_secrets`, `azure_identity`, `azure_core`).
//!
//! * [`AzureConfig`]: every setting (vault URL, api-version, credentials, polling, the shared
//!   HTTP part), read from TOML, `AZURE_*` variables or the builder; `build()` validates.
//! * [`AzureBuilder`]: the thin builder over it.
//! * [`AzureStore`]: the [`strongroom_core::SecretStore`].
//! * [`to_vault_name`] / [`from_vault_name`]: the documented, reversible name mapping
//!   (`/` ↔ `--`, `_` ↔ `---`; see the [`names`] module).
//! * [`AzureCredential`], [`ImplicitCredential`], [`StaticTokenCredential`]: how tokens are got.
//!
//! ```no_run
//! use strongroom_azure::AzureBuilder;
//! use strongroom_core::{ReadOptions, SecretName, SecretStore, WriteOptions};
//! # async fn demo() -> strongroom_core::Result<()> {
//! let store = AzureBuilder::new()
//!     .with_vault_url("https://my-vault.vault.azure.net")
//!     .with_client_secret("tenant-id", "client-id", "client-secret")
//!     .build()?;
//! let name = SecretName::new("litellm/db_password")?;
//! store.write(&name, "s3cr3t".into(), &WriteOptions::new()).await?;
//! let secret = store.read(&name, &ReadOptions::new()).await?.expect("just written");
//! assert_eq!(secret.value.expose_str()?, "s3cr3t");
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod api;
mod auth;
mod config;
mod error;
pub mod names;
mod store;

pub use auth::{AzureCredential, ImplicitCredential, StaticTokenCredential};
pub use config::{
    AmbientEnv, AzureBuilder, AzureConfig, DEFAULT_API_VERSION, DEFAULT_AUTHORITY_HOST,
    DEFAULT_POLL_INTERVAL, DEFAULT_POLL_TIMEOUT, ENV_API_VERSION, ENV_AUTHORITY_HOST,
    ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_TENANT_ID, ENV_VAULT_URI,
};
pub use names::{MAX_VAULT_NAME_LEN, from_vault_name, to_vault_name};
pub use store::{AzureStore, DESCRIPTION_TAG, MAX_VALUE_BYTES};
/// The shared HTTP setters of the builder (`with_timeout`, `with_proxy`, `with_ca_pem`, …).
pub use strongroom_core::HttpSetters;

/// The Azure SDK crates this provider is built on, re-exported so callers can pass their own
/// `TokenCredential` without a version mismatch.
pub mod sdk {
    pub use azure_core;
    pub use azure_identity;
    pub use azure_security_keyvault_secrets;
}
