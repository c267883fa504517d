//! Building a store or a cache from a manager's provider name and settings.

use std::path::PathBuf;
use std::sync::Arc;

use strongroom_core::{
    EnvStore, Error, FileStore, MemoryCache, MemoryStore, Result, SecretCache, SecretStore,
};

use crate::config::{CacheConfig, CacheKind, Settings};

/// Every provider name a configuration may use, with the cargo feature it needs.
pub const PROVIDERS: &[(&str, Option<&str>)] = &[
    ("file", None),
    ("env", None),
    ("memory", None),
    ("conjur", Some("conjur")),
    ("hcp-vault", Some("hcp-vault")),
    ("akeyless", Some("akeyless")),
    ("aws", Some("aws")),
    ("azure", Some("azure")),
];

/// Normalises the provider spellings users already have (LiteLLM's names included).
pub fn canonical_provider(name: &str) -> Option<&'static str> {
    Some(
        match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "file" | "local-file" => "file",
            "env" | "environment" | "local" => "env",
            "memory" => "memory",
            "conjur" | "cyberark" => "conjur",
            "hcp-vault" | "vault" | "hashicorp-vault" | "openbao" => "hcp-vault",
            "akeyless" => "akeyless",
            "aws" | "aws-secret-manager" | "aws-secrets-manager" => "aws",
            "azure" | "azure-key-vault" => "azure",
            _ => return None,
        },
    )
}

#[allow(dead_code)]
fn feature_off(provider: &str, feature: &str) -> Error {
    Error::config(
        "provider",
        format!("provider `{provider}` is not compiled in"),
    )
    .with_hint(format!(
        "enable the `{feature}` feature of the strongroom crate (or `full`), e.g. `strongroom = {{ version = \"0.1\", features = [\"{feature}\"] }}`"
    ))
}

/// Builds the backend store of one manager.
pub async fn build_store(provider: &str, settings: &Settings) -> Result<Arc<dyn SecretStore>> {
    let canonical = canonical_provider(provider).ok_or_else(|| {
        Error::config(
            &format!("managers.{}.provider", settings.manager()),
            format!(
                "unknown provider `{provider}`; one of: {}",
                PROVIDERS
                    .iter()
                    .map(|(p, _)| *p)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    let store: Arc<dyn SecretStore> = match canonical {
        "memory" => Arc::new(MemoryStore::new()),
        "env" => Arc::new(EnvStore::with_prefix(
            settings.get("prefix").unwrap_or_default(),
        )?),
        "file" => {
            let path = settings
                .get("path")
                .map(PathBuf::from)
                .unwrap_or_else(default_file_path);
            Arc::new(FileStore::new(path))
        }
        "conjur" => {
            #[cfg(feature = "conjur")]
            {
                crate::provider_glue::conjur(settings).await?
            }
            #[cfg(not(feature = "conjur"))]
            {
                return Err(feature_off(canonical, "conjur"));
            }
        }
        "hcp-vault" => {
            #[cfg(feature = "hcp-vault")]
            {
                crate::provider_glue::hcp_vault(settings).await?
            }
            #[cfg(not(feature = "hcp-vault"))]
            {
                return Err(feature_off(canonical, "hcp-vault"));
            }
        }
        "akeyless" => {
            #[cfg(feature = "akeyless")]
            {
                crate::provider_glue::akeyless(settings).await?
            }
            #[cfg(not(feature = "akeyless"))]
            {
                return Err(feature_off(canonical, "akeyless"));
            }
        }
        "aws" => {
            #[cfg(feature = "aws")]
            {
                crate::provider_glue::aws(settings).await?
            }
            #[cfg(not(feature = "aws"))]
            {
                return Err(feature_off(canonical, "aws"));
            }
        }
        "azure" => {
            #[cfg(feature = "azure")]
            {
                crate::provider_glue::azure(settings).await?
            }
            #[cfg(not(feature = "azure"))]
            {
                return Err(feature_off(canonical, "azure"));
            }
        }
        _ => unreachable!("canonical_provider returns only listed names"),
    };
    Ok(store)
}

/// The embedded default file: `$STRONGROOM_FILE`, else `.strongroom/secrets.json` in the
/// working directory.
pub fn default_file_path() -> PathBuf {
    std::env::var_os("STRONGROOM_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".strongroom/secrets.json"))
}

/// Builds the shared cache.
pub async fn build_cache(cfg: &CacheConfig) -> Result<Option<Arc<dyn SecretCache>>> {
    match cfg.kind {
        CacheKind::None => Ok(None),
        CacheKind::Memory => Ok(Some(Arc::new(MemoryCache::new(
            cfg.max_entries.unwrap_or(100_000),
        )))),
        CacheKind::Redis => {
            #[cfg(feature = "redis")]
            {
                let settings = Settings::resolve("cache", &cfg.settings)?;
                Ok(Some(crate::provider_glue::redis(&settings).await?))
            }
            #[cfg(not(feature = "redis"))]
            {
                Err(feature_off("redis cache", "redis"))
            }
        }
    }
}
