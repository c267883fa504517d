//! Per-provider construction from a manager's settings (each behind its feature).
//!
//! Every provider builder has `from_lookup(fn)`, reading the same names as its `from_env()`.
//! A manager's settings answer those lookups: either the full variable name
//! (`CYBERARK_API_BASE`) or the short form without the provider's prefix (`api_base`).

use std::sync::Arc;

use strongroom_core::Result;

use crate::config::Settings;

fn lookup(
    settings: &Settings,
    prefixes: &'static [&'static str],
) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let settings = settings.clone();
    move |key: &str| settings.lookup(key, prefixes)
}

#[cfg(feature = "conjur")]
pub(crate) async fn conjur(settings: &Settings) -> Result<Arc<dyn strongroom_core::SecretStore>> {
    let store =
        strongroom_conjur::ConjurBuilder::from_lookup(lookup(settings, &["CYBERARK_"])).build()?;
    Ok(Arc::new(store))
}

#[cfg(feature = "hcp-vault")]
pub(crate) async fn hcp_vault(
    settings: &Settings,
) -> Result<Arc<dyn strongroom_core::SecretStore>> {
    let store = strongroom_hcp_vault::HcpVaultBuilder::from_lookup(lookup(
        settings,
        &["HCP_VAULT_", "VAULT_"],
    ))
    .build()?;
    Ok(Arc::new(store))
}

#[cfg(feature = "akeyless")]
pub(crate) async fn akeyless(settings: &Settings) -> Result<Arc<dyn strongroom_core::SecretStore>> {
    let from_settings = lookup(settings, &["AKEYLESS_"]);
    // The JWT variable named by `jwt_env_key` is read at each log-in: take it from the live
    // environment (tokens such as Kubernetes service-account JWTs rotate) unless the settings
    // hold it.
    let store = strongroom_akeyless::AkeylessBuilder::from_lookup(move |k| {
        from_settings(k).or_else(|| {
            if k.starts_with("AKEYLESS_") {
                None
            } else {
                std::env::var(k).ok()
            }
        })
    })
    .build()?;
    Ok(Arc::new(store))
}

#[cfg(feature = "aws")]
pub(crate) async fn aws(settings: &Settings) -> Result<Arc<dyn strongroom_core::SecretStore>> {
    let get = lookup(settings, &["STRONGROOM_AWS_", "AWS_"]);
    let mut builder = strongroom_aws::AwsBuilder::from_lookup(&get);
    if let (Some(id), Some(secret)) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
        builder = builder.with_access_key(id, secret, get("AWS_SESSION_TOKEN").map(Into::into));
    }
    Ok(Arc::new(builder.build()?))
}

#[cfg(feature = "azure")]
pub(crate) async fn azure(settings: &Settings) -> Result<Arc<dyn strongroom_core::SecretStore>> {
    let get = lookup(settings, &["AZURE_KEY_VAULT_", "AZURE_"]);
    let mut builder = strongroom_azure::AzureBuilder::from_lookup(&get);
    // `ca_file`: an extra CA (PEM file) trusted for the vault and the authority.
    if let Some(path) = get("AZURE_KEY_VAULT_CA_FILE").filter(|p| !p.trim().is_empty()) {
        let pem = std::fs::read(path.trim()).map_err(|e| {
            strongroom_core::Error::config(
                "AZURE_KEY_VAULT_CA_FILE",
                format!("cannot read `{}`: {e}", path.trim()),
            )
        })?;
        builder = builder.with_ca_pem(pem);
    }
    // `verify_challenge_resource = false`: private endpoints and test servers whose host is
    // not `*.vault.azure.net`.
    if let Some(v) = get("AZURE_KEY_VAULT_VERIFY_CHALLENGE_RESOURCE") {
        let verify = match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => {
                return Err(strongroom_core::Error::config(
                    "AZURE_KEY_VAULT_VERIFY_CHALLENGE_RESOURCE",
                    "expected true or false",
                ));
            }
        };
        builder = builder.with_verify_challenge_resource(verify);
    }
    Ok(Arc::new(builder.build()?))
}

#[cfg(feature = "redis")]
pub(crate) async fn redis(settings: &Settings) -> Result<Arc<dyn strongroom_core::SecretCache>> {
    let cache =
        strongroom_redis::RedisCacheBuilder::from_lookup(lookup(settings, &["STRONGROOM_REDIS_"]))
            .build()
            .await?;
    Ok(Arc::new(cache))
}
