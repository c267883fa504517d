//! # strongroom-hcp-vault
//!
//! HashiCorp Vault / OpenBao KV v2 provider for Strongroom: token, AppRole and
//! TLS-certificate auth, namespaces (header or path prefix), check-and-set, soft and hard
//! delete, versions and recursive listing.
//!
//! * [`HcpVaultConfig`]: the settings (TOML `settings`, `HCP_VAULT_*` / `VAULT_*` variables),
//!   validated by `build()` ([`StoreConfig`](strongroom_core::config::StoreConfig)).
//! * [`HcpVaultBuilder`]: setters over that config.
//! * [`HcpVaultStore`]: the [`SecretStore`](strongroom_core::SecretStore).
//!
//! Values live in the KV v2 data map under one field (`{"key": "<value>"}` by default). A
//! missing, soft-deleted or destroyed secret reads as `Ok(None)`. Log-in tokens (AppRole, TLS
//! certificate) are renewed at two thirds of their lease and replaced when renewal fails or a
//! call is refused with 403; static tokens are used as given.
//!
//! ```
//! use strongroom_core::SecretStore;
//! use strongroom_hcp_vault::HcpVaultBuilder;
//! let store = HcpVaultBuilder::new()
//!     .with_addr("http://127.0.0.1:8200")
//!     .with_token("s.dev-token")
//!     .build()
//!     .unwrap();
//! assert_eq!(store.provider(), "hcp-vault");
//! assert_eq!(store.info().default_ttl, Some(std::time::Duration::from_secs(86_400)));
//! ```
//!
//! See `docs/hcp-vault.md` in the workspace for the settings, the auth priority, namespaces,
//! the value format and delete semantics.

mod api;
mod auth;
mod config;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod store;

pub use config::{
    DEFAULT_ADDR, DEFAULT_APPROLE_MOUNT, DEFAULT_CERT_MOUNT, DEFAULT_MOUNT,
    DEFAULT_REFRESH_INTERVAL, DEFAULT_VALUE_FIELD, HcpVaultBuilder, HcpVaultConfig, NamespaceMode,
    ZERO_REFRESH_INTERVAL,
};
pub use store::HcpVaultStore;
/// The shared HTTP setters of the builder (`with_timeout`, `with_proxy`, `with_ca_pem`, …).
pub use strongroom_core::HttpSetters;
