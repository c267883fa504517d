//! Set-up by environment only, the way LiteLLM users configure secret managers today.
//!
//! * `KEY_MANAGEMENT_SYSTEM` (or `STRONGROOM_KEY_MANAGEMENT_SYSTEM`): `cyberark`,
//!   `hashicorp_vault`, `akeyless`, `aws_secret_manager`, `azure_key_vault`, `file` or `env`.
//! * `KEY_MANAGEMENT_SETTINGS`: a JSON object with LiteLLM's `key_management_settings`:
//!   `access_mode` (default `read_only`), `store_virtual_keys` (default false),
//!   `prefix_for_stored_virtual_keys` (default `litellm/`), `hosted_keys` (a list of names).
//! * The provider itself reads its usual variables (`HCP_VAULT_ADDR`, `CYBERARK_API_BASE`, …).
//!
//! Two managers come out of it: one named after the system (plain names, for reads such as
//! `os.environ/…` lookups) and `virtual-keys` (names under the prefix), which is writable only
//! when `store_virtual_keys` is true **and** the access mode allows writes. Unlike LiteLLM,
//! the access mode is enforced for writes and deletes too.

use std::collections::HashSet;
use std::sync::Arc;

use strongroom_core::layer::StoreLayer;
use strongroom_core::{
    AccessMode, CachePolicy, EnvStore, Error, ReadOptions, Result, Secret, SecretName, SecretStore,
    StoreInfo, async_trait,
};

use crate::config::Settings;
use crate::providers::{build_store, canonical_provider};
use crate::registry::{Manager, Registry};

/// The name of the manager for stored virtual keys.
pub const VIRTUAL_KEYS_MANAGER: &str = "virtual-keys";

/// LiteLLM's `key_management_settings`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyManagementSettings {
    /// Reads and writes allowed (enforced for both).
    #[serde(default)]
    pub access_mode: AccessMode,
    /// Whether virtual keys are written to the manager.
    #[serde(default)]
    pub store_virtual_keys: bool,
    /// Prefix of stored virtual keys.
    #[serde(default = "default_prefix")]
    pub prefix_for_stored_virtual_keys: String,
    /// When set, only these names are read from the manager; others from the environment.
    #[serde(default)]
    pub hosted_keys: Option<Vec<String>>,
}

fn default_prefix() -> String {
    "litellm/".into()
}

impl Default for KeyManagementSettings {
    fn default() -> Self {
        KeyManagementSettings {
            access_mode: AccessMode::ReadOnly,
            store_virtual_keys: false,
            prefix_for_stored_virtual_keys: default_prefix(),
            hosted_keys: None,
        }
    }
}

/// The provider name for a LiteLLM `key_management_system` value.
pub fn provider_for_system(system: &str) -> Result<&'static str> {
    let p = match system.trim() {
        "cyberark" => "conjur",
        "hashicorp_vault" => "hcp-vault",
        "akeyless" => "akeyless",
        "aws_secret_manager" => "aws",
        "azure_key_vault" => "azure",
        "file" => "file",
        "env" | "local" => "env",
        other => {
            return Err(Error::config(
                "KEY_MANAGEMENT_SYSTEM",
                format!(
                    "`{other}` is not one of cyberark, hashicorp_vault, akeyless, aws_secret_manager, azure_key_vault, file, env"
                ),
            ));
        }
    };
    Ok(canonical_provider(p).expect("listed"))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Registry {
    /// Whether the environment selects a key management system.
    pub fn litellm_env_present() -> bool {
        env("STRONGROOM_KEY_MANAGEMENT_SYSTEM").is_some() || env("KEY_MANAGEMENT_SYSTEM").is_some()
    }

    /// Builds a registry from LiteLLM-style environment variables (see the module docs).
    pub async fn from_litellm_env() -> Result<Registry> {
        let system = env("STRONGROOM_KEY_MANAGEMENT_SYSTEM")
            .or_else(|| env("KEY_MANAGEMENT_SYSTEM"))
            .ok_or_else(|| Error::config("KEY_MANAGEMENT_SYSTEM", "is not set"))?;
        let settings: KeyManagementSettings = match env("KEY_MANAGEMENT_SETTINGS") {
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                Error::config(
                    "KEY_MANAGEMENT_SETTINGS",
                    format!("not a valid settings object: {e}"),
                )
            })?,
            None => KeyManagementSettings::default(),
        };
        Registry::from_litellm(
            &system,
            &settings,
            &Settings::from_pairs(&system, std::env::vars()),
        )
        .await
    }

    /// Builds a registry from a LiteLLM `key_management_system` and its settings; provider
    /// settings come from `provider_settings` (the environment, for `from_litellm_env`).
    pub async fn from_litellm(
        system: &str,
        kms: &KeyManagementSettings,
        provider_settings: &Settings,
    ) -> Result<Registry> {
        let provider = provider_for_system(system)?;
        let mut backend = build_store(provider, provider_settings).await?;
        if let Some(hosted) = &kms.hosted_keys {
            backend = Arc::new(HostedKeys::new(backend, hosted.clone()));
        }
        let cache: Arc<dyn strongroom_core::SecretCache> =
            Arc::new(strongroom_core::MemoryCache::default());
        let mut registry = Registry::new(Some(Arc::clone(&cache)));
        let manager_name = system.replace('_', "-");
        registry.insert(Manager::new(
            &manager_name,
            provider,
            Arc::clone(&backend),
            Some((Arc::clone(&cache), CachePolicy::new(&manager_name))),
            "",
            kms.access_mode,
            None,
        )?)?;
        let vk_mode = match (kms.store_virtual_keys, kms.access_mode) {
            (true, mode) => mode,
            (false, AccessMode::WriteOnly) => AccessMode::WriteOnly,
            (false, _) => AccessMode::ReadOnly,
        };
        // With store_virtual_keys off, writes are refused whatever the access mode says.
        let vk_mode = if !kms.store_virtual_keys && vk_mode.allows_write() {
            AccessMode::ReadOnly
        } else {
            vk_mode
        };
        registry.insert(Manager::new(
            VIRTUAL_KEYS_MANAGER,
            provider,
            backend,
            Some((cache, CachePolicy::new(VIRTUAL_KEYS_MANAGER))),
            &kms.prefix_for_stored_virtual_keys,
            vk_mode,
            None,
        )?)?;
        registry.set_default(&manager_name)?;
        Ok(registry)
    }
}

/// LiteLLM's `hosted_keys`: names on the list are read from the manager, every other name
/// from the process environment. Writes, deletes and lists go to the manager.
#[derive(Debug)]
pub struct HostedKeys {
    inner: Arc<dyn SecretStore>,
    hosted: HashSet<String>,
    env: EnvStore,
    info: StoreInfo,
}

impl HostedKeys {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn SecretStore>, hosted: Vec<String>) -> Self {
        let info = inner.info().clone();
        let info = info
            .clone()
            .with_address(format!("hosted:{}", info.address));
        HostedKeys {
            inner,
            env: EnvStore::with_names(hosted.iter().cloned()),
            hosted: hosted.into_iter().collect(),
            info,
        }
    }
}

#[async_trait]
impl StoreLayer for HostedKeys {
    type Inner = dyn SecretStore;
    fn inner(&self) -> &(dyn SecretStore + 'static) {
        &*self.inner
    }
    fn info(&self) -> &StoreInfo {
        &self.info
    }
    fn try_read_local(&self, _name: &SecretName, _opts: &ReadOptions) -> Option<Secret> {
        None
    }
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        if self.hosted.contains(name.as_str()) {
            self.inner.read(name, opts).await
        } else {
            self.env.read(name, opts).await
        }
    }
}
