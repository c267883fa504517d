//! # strongroom-gcp
//!
//! Google Cloud Secret Manager for Strongroom, over its REST v1 API and the core HTTP path (no
//! redirects, capped answers, bounded retries and list paging).
//!
//! * [`GcpConfig`]: every setting — LiteLLM's `GOOGLE_SECRET_MANAGER_*` variables and
//!   defaults, Google's `GOOGLE_APPLICATION_CREDENTIALS`, `GOOGLE_CLOUD_PROJECT`,
//!   `GCE_METADATA_HOST` — from TOML, the environment or [`GcpBuilder`]; one `build()`
//!   validates them.
//! * Log-in: Application Default Credentials — a service-account key (signed JWT exchanged for
//!   a token), gcloud user credentials, workload identity federation (external account: a file
//!   or URL subject token exchanged at STS, optionally impersonating a service account), or
//!   the metadata server; tokens cached and renewed ahead of expiry ([`renew_after`]), one new
//!   token and one retry when a call is answered 401.
//! * [`GcpStore`] implements [`strongroom_core::SecretStore`]; payloads carry and are checked
//!   against their CRC32C; names map reversibly onto secret ids ([`to_secret_id`],
//!   [`from_secret_id`]).
//!
//! ```no_run
//! use strongroom_gcp::GcpBuilder;
//! use strongroom_core::{ReadOptions, SecretName, SecretStore};
//! # async fn demo() -> strongroom_core::Result<()> {
//! let store = GcpBuilder::from_env()?.build()?;
//! let name = SecretName::new("OPENAI_API_KEY")?;
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
pub mod names;
mod store;

pub use api::Replication;
pub use auth::{DEFAULT_TOKEN_URI, REFRESH_AHEAD, renew_after};
pub use config::{
    DEFAULT_ENDPOINT, DEFAULT_METADATA_HOST, DEFAULT_REFRESH_INTERVAL, GcpBuilder, GcpConfig,
    MAX_LIST_PAGE_SIZE, ZERO_REFRESH_INTERVAL,
};
pub use error::PROVIDER;
pub use names::{MAX_SECRET_ID_LEN, from_secret_id, to_secret_id};
pub use store::{CONTENT_TYPE_ANNOTATION, DESCRIPTION_ANNOTATION, GcpStore, MAX_VALUE_BYTES};
/// The shared HTTP setters of the builder (`with_timeout`, `with_proxy`, `with_ca_pem`, …).
pub use strongroom_core::HttpSetters;
