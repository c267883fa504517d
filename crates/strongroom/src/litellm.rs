//! Set-up the way LiteLLM users configure secret managers: by environment
//! ([`Registry::from_litellm_env`]) or from the proxy's `config.yaml`
//! ([`LiteLlmConfig`], feature `litellm-config`).
//!
//! * `KEY_MANAGEMENT_SYSTEM` (or `STRONGROOM_KEY_MANAGEMENT_SYSTEM`; in `config.yaml`
//!   `general_settings.key_management_system`): `cyberark`, `hashicorp_vault`, `akeyless`,
//!   `aws_secret_manager`, `azure_key_vault`, `google_secret_manager` or `local`.
//! * `KEY_MANAGEMENT_SETTINGS` (`general_settings.key_management_settings`): every key of
//!   LiteLLM's `KeyManagementSettings` ([`KeyManagementSettings`]); a key LiteLLM does not know
//!   is an error.
//! * The provider reads its documented variables by their exact names (`HCP_VAULT_ADDR`,
//!   `CYBERARK_API_BASE`, …) through its `XxxConfig::from_env()`; nothing else in the
//!   environment is looked at.
//!
//! Two managers come out of it: one named after the system (`hashicorp-vault`: plain names, for
//! `os.environ/…` reads) and `virtual-keys` (names under `prefix_for_stored_virtual_keys`). The
//! access mode of each is the mode asked for, minus writes on `virtual-keys` when
//! `store_virtual_keys` is off. Unlike LiteLLM, the mode is enforced for writes and deletes too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use strongroom_core::config::warn_once;
use strongroom_core::{
    AccessMode, Error, MemoryCache, Result, SecretCache, SecretStore, SecretStoreExt, SecretValue,
};

use crate::config::default_cache_policy as default_policy;
pub use crate::layers::{HostedKeys, PrimarySecret, WriteDefaults};
use crate::providers::{BuildContext, PROVIDERS, Provider};
use crate::registry::{Manager, ManagerLayers, Registry};

/// The name of the manager for stored virtual keys.
pub const VIRTUAL_KEYS_MANAGER: &str = "virtual-keys";

/// Every key of LiteLLM's `KeyManagementSettings` (`litellm/types/secret_managers/main.py`).
pub const LITELLM_SETTINGS_KEYS: &[&str] = &[
    "hosted_keys",
    "store_virtual_keys",
    "prefix_for_stored_virtual_keys",
    "access_mode",
    "primary_secret_name",
    "description",
    "tags",
    "custom_secret_manager",
    "aws_region_name",
    "aws_role_name",
    "aws_session_name",
    "aws_external_id",
    "aws_profile_name",
    "aws_web_identity_token",
    "aws_sts_endpoint",
    "replica_regions",
    "kms_key_id",
];

/// LiteLLM's `key_management_settings`.
///
/// ```
/// use strongroom::litellm::KeyManagementSettings;
/// let s = KeyManagementSettings::from_json(r#"{"access_mode":"read_and_write","tags":{"team":"ml"}}"#).unwrap();
/// assert!(s.access_mode.allows_write());
/// let err = KeyManagementSettings::from_json(r#"{"acces_mode":"read_only"}"#).unwrap_err();
/// assert!(err.to_string().contains("did you mean `access_mode`"));
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct KeyManagementSettings {
    /// Reads and writes allowed (enforced for both).
    #[serde(default, deserialize_with = "nullable")]
    pub access_mode: AccessMode,
    /// Whether virtual keys are written to the manager.
    #[serde(default, deserialize_with = "nullable")]
    pub store_virtual_keys: bool,
    /// Prefix of stored virtual keys (default `litellm/`).
    #[serde(default = "default_prefix")]
    pub prefix_for_stored_virtual_keys: String,
    /// When set, only these names are read from the manager.
    #[serde(default)]
    pub hosted_keys: Option<Vec<String>>,
    /// Reads return this field of this JSON secret (honoured on AWS, as in LiteLLM).
    #[serde(default)]
    pub primary_secret_name: Option<String>,
    /// Description attached to writes.
    #[serde(default)]
    pub description: Option<String>,
    /// Tags attached to writes.
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    /// LiteLLM's custom manager class (no equivalent: warned about).
    #[serde(default)]
    pub custom_secret_manager: Option<String>,
    /// AWS region (the AWS provider's `region`).
    #[serde(default)]
    pub aws_region_name: Option<String>,
    /// Role to assume (the AWS provider's `role_arn`).
    #[serde(default)]
    pub aws_role_name: Option<String>,
    /// Session name of the assumed role.
    #[serde(default)]
    pub aws_session_name: Option<String>,
    /// External id of the assumed role.
    #[serde(default)]
    pub aws_external_id: Option<String>,
    /// AWS profile.
    #[serde(default)]
    pub aws_profile_name: Option<String>,
    /// Web identity token (a credential).
    #[serde(default)]
    pub aws_web_identity_token: Option<SecretValue>,
    /// STS endpoint.
    #[serde(default)]
    pub aws_sts_endpoint: Option<String>,
    /// Regions to replicate writes to (no equivalent: warned about).
    #[serde(default)]
    pub replica_regions: Option<Vec<String>>,
    /// KMS key of created secrets (the AWS provider's `kms_key_id`).
    #[serde(default)]
    pub kms_key_id: Option<String>,
}

fn nullable<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn default_prefix() -> String {
    "litellm/".into()
}

impl Default for KeyManagementSettings {
    fn default() -> Self {
        serde_json::from_str("{}").expect("all keys have defaults")
    }
}

impl fmt::Debug for KeyManagementSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyManagementSettings")
            .field("access_mode", &self.access_mode)
            .field("store_virtual_keys", &self.store_virtual_keys)
            .field(
                "prefix_for_stored_virtual_keys",
                &self.prefix_for_stored_virtual_keys,
            )
            .field("hosted_keys", &self.hosted_keys)
            .field("primary_secret_name", &self.primary_secret_name)
            .field("description", &self.description)
            .field("tags", &self.tags)
            .field("aws_web_identity_token", &self.aws_web_identity_token)
            .finish_non_exhaustive()
    }
}

/// AWS keys of `KeyManagementSettings` and the AWS provider settings that may take them.
const AWS_EQUIVALENTS: &[(&str, &[&str])] = &[
    ("aws_region_name", &["region"]),
    (
        "aws_role_name",
        &["role_arn", "assume_role_arn", "role_name"],
    ),
    ("aws_session_name", &["role_session_name", "session_name"]),
    ("aws_external_id", &["external_id"]),
    ("aws_profile_name", &["profile"]),
    ("aws_web_identity_token", &["web_identity_token"]),
    ("aws_sts_endpoint", &["sts_endpoint"]),
];

impl KeyManagementSettings {
    /// Reads the JSON object of `KEY_MANAGEMENT_SETTINGS`. A key LiteLLM does not know is an
    /// error naming it (with a suggestion and the list of keys).
    pub fn from_json(json: &str) -> Result<KeyManagementSettings> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            Error::config("KEY_MANAGEMENT_SETTINGS", format!("not a JSON object: {e}"))
        })?;
        Self::from_value("KEY_MANAGEMENT_SETTINGS", value)
    }

    /// Reads the settings from a parsed object; `setting` names where they came from.
    pub fn from_value(setting: &str, value: serde_json::Value) -> Result<KeyManagementSettings> {
        let serde_json::Value::Object(map) = &value else {
            if value.is_null() {
                return Ok(KeyManagementSettings::default());
            }
            return Err(Error::config(setting, "must be an object"));
        };
        for key in map.keys() {
            if !LITELLM_SETTINGS_KEYS.contains(&key.as_str()) {
                let mut msg = format!("`{key}` is not a key of LiteLLM's key_management_settings");
                if let Some(s) = strongroom_core::config::did_you_mean(
                    key,
                    LITELLM_SETTINGS_KEYS.iter().copied(),
                ) {
                    msg.push_str(&format!("; did you mean `{s}`?"));
                }
                return Err(Error::config(setting, msg).with_hint(format!(
                    "the keys are: {}",
                    LITELLM_SETTINGS_KEYS.join(", ")
                )));
            }
        }
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            Error::config(&format!("{setting}.{path}"), e.into_inner())
        })
    }

    /// The keys that are set (not null).
    fn set_keys(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut set = |on: bool, key: &'static str| {
            if on {
                out.push(key);
            }
        };
        set(
            self.custom_secret_manager.is_some(),
            "custom_secret_manager",
        );
        set(self.aws_region_name.is_some(), "aws_region_name");
        set(self.aws_role_name.is_some(), "aws_role_name");
        set(self.aws_session_name.is_some(), "aws_session_name");
        set(self.aws_external_id.is_some(), "aws_external_id");
        set(self.aws_profile_name.is_some(), "aws_profile_name");
        set(
            self.aws_web_identity_token.is_some(),
            "aws_web_identity_token",
        );
        set(self.aws_sts_endpoint.is_some(), "aws_sts_endpoint");
        set(self.replica_regions.is_some(), "replica_regions");
        set(self.kms_key_id.is_some(), "kms_key_id");
        out
    }

    fn aws_value(&self, key: &str) -> Option<String> {
        match key {
            "aws_region_name" => self.aws_region_name.clone(),
            "aws_role_name" => self.aws_role_name.clone(),
            "aws_session_name" => self.aws_session_name.clone(),
            "aws_external_id" => self.aws_external_id.clone(),
            "aws_profile_name" => self.aws_profile_name.clone(),
            "aws_web_identity_token" => self
                .aws_web_identity_token
                .as_ref()
                .and_then(|v| v.expose_str().ok().map(str::to_owned)),
            "aws_sts_endpoint" => self.aws_sts_endpoint.clone(),
            "kms_key_id" => self.kms_key_id.clone(),
            _ => None,
        }
    }
}

/// The supported `key_management_system` values.
fn supported_systems() -> Vec<&'static str> {
    PROVIDERS.iter().filter_map(|p| p.litellm).collect()
}

/// The provider for a LiteLLM `key_management_system` value.
pub fn provider_for_system(setting: &str, system: &str) -> Result<&'static Provider> {
    let wanted = system.trim();
    PROVIDERS
        .iter()
        .find(|p| p.litellm == Some(wanted) || p.name == wanted)
        .ok_or_else(|| {
            Error::config(
                setting,
                format!(
                    "`{wanted}` is not a supported key_management_system; supported: {}",
                    supported_systems().join(", ")
                ),
            )
        })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Everything a LiteLLM set-up consists of.
#[derive(Debug, Clone)]
pub struct LiteLlmSetup {
    /// `key_management_system`.
    pub system: String,
    /// `key_management_settings`.
    pub settings: KeyManagementSettings,
    /// Environment variables the provider settings may come from besides the process
    /// environment (a `config.yaml`'s `environment_variables`; the process environment wins,
    /// as in LiteLLM).
    pub environment_variables: BTreeMap<String, String>,
    /// Variables a name outside `hosted_keys` may be read from.
    pub env_fallback: Vec<String>,
}

impl LiteLlmSetup {
    /// A set-up of `system` with `settings`.
    pub fn new(system: impl Into<String>, settings: KeyManagementSettings) -> LiteLlmSetup {
        LiteLlmSetup {
            system: system.into(),
            settings,
            environment_variables: BTreeMap::new(),
            env_fallback: Vec::new(),
        }
    }

    /// The name of the manager for plain names (`hashicorp-vault`).
    pub fn manager_name(&self) -> String {
        self.system.trim().replace('_', "-")
    }

    /// Builds the registry, reading provider settings through `lookup` (exact variable names).
    pub async fn build_with(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Registry> {
        let provider = provider_for_system("KEY_MANAGEMENT_SYSTEM", &self.system)?;
        let kms = &self.settings;
        let credentials: BTreeSet<String> = provider.credential_variables().into_iter().collect();
        let ctx = BuildContext {
            denied_env: credentials.clone(),
        };

        // Keys of LiteLLM's settings that map onto one of the provider's own settings go in
        // through that setting's variable; the others are named once in a warning.
        let mut overlay: BTreeMap<String, String> = BTreeMap::new();
        let fields = provider.fields().unwrap_or_default();
        for key in kms.set_keys() {
            let target = AWS_EQUIVALENTS
                .iter()
                .find(|(k, _)| *k == key)
                .filter(|_| provider.name == "aws")
                .and_then(|(_, candidates)| {
                    fields
                        .iter()
                        .find(|f| candidates.contains(&f.key) && !f.env.is_empty())
                });
            match (target, kms.aws_value(key)) {
                (Some(field), Some(value)) => {
                    for var in &field.env {
                        overlay.insert(var.clone(), value.clone());
                    }
                }
                _ => warn_once(
                    &format!("litellm-key:{key}"),
                    &format!(
                        "key_management_settings: `{key}` has no equivalent for the {} provider and is ignored",
                        provider.name
                    ),
                ),
            }
        }
        let from = |k: &str| -> Option<String> {
            overlay
                .get(k)
                .cloned()
                .or_else(|| lookup(k))
                .or_else(|| self.environment_variables.get(k).cloned())
        };
        let backend: Arc<dyn SecretStore> = provider.build_from_lookup(&from, &ctx)?;

        let primary = match &kms.primary_secret_name {
            Some(p) if provider.name == "aws" => Some(p.clone()),
            Some(_) => {
                warn_once(
                    "litellm-key:primary_secret_name",
                    &format!(
                        "key_management_settings: LiteLLM honours `primary_secret_name` on AWS Secrets Manager only; reads from {} ignore it, as LiteLLM's do",
                        provider.name
                    ),
                );
                None
            }
            None => None,
        };
        let write_defaults = ManagerLayers {
            description: kms.description.clone(),
            tags: kms.tags.clone().unwrap_or_default(),
            ..ManagerLayers::default()
        };
        let plain = ManagerLayers {
            hosted_keys: kms.hosted_keys.clone(),
            env_fallback: self.env_fallback.clone(),
            primary_secret_name: primary,
            ..write_defaults.clone()
        };

        let cache: Arc<dyn SecretCache> = Arc::new(MemoryCache::default());
        let mut registry = Registry::new(Some(Arc::clone(&cache)));
        registry.add_credential_variables(credentials);
        let manager_name = self.manager_name();
        registry.insert(Manager::new(
            &manager_name,
            provider.name,
            plain.wrap("key_management_settings", Arc::clone(&backend), &ctx)?,
            Some((Arc::clone(&cache), default_policy(&manager_name))),
            "",
            kms.access_mode,
            None,
        )?)?;

        // `virtual-keys`: the mode asked for, minus writes unless store_virtual_keys.
        let vk_backend = write_defaults.wrap("key_management_settings", backend, &ctx)?;
        let (vk_backend, vk_mode): (Arc<dyn SecretStore>, AccessMode) =
            match (kms.access_mode, kms.store_virtual_keys) {
                (mode, true) => (vk_backend, mode),
                (AccessMode::WriteOnly, false) => (
                    // Nothing is left: writes off (inner layer) and reads off (outer layer).
                    Arc::new(vk_backend.with_access_mode(AccessMode::ReadOnly)),
                    AccessMode::WriteOnly,
                ),
                (_, false) => (vk_backend, AccessMode::ReadOnly),
            };
        registry.insert(Manager::new(
            VIRTUAL_KEYS_MANAGER,
            provider.name,
            vk_backend,
            Some((cache, default_policy(VIRTUAL_KEYS_MANAGER))),
            &kms.prefix_for_stored_virtual_keys,
            vk_mode,
            None,
        )?)?;
        registry.set_default(&manager_name)?;
        Ok(registry)
    }
}

impl Registry {
    /// Whether the environment selects a key management system.
    pub fn litellm_env_present() -> bool {
        env("STRONGROOM_KEY_MANAGEMENT_SYSTEM").is_some() || env("KEY_MANAGEMENT_SYSTEM").is_some()
    }

    /// The LiteLLM set-up the environment describes (see the module docs).
    /// `STRONGROOM_ENV_FALLBACK` (comma-separated) lists the variables a name outside
    /// `hosted_keys` may be read from.
    pub fn litellm_env_setup() -> Result<LiteLlmSetup> {
        let system = env("STRONGROOM_KEY_MANAGEMENT_SYSTEM")
            .or_else(|| env("KEY_MANAGEMENT_SYSTEM"))
            .ok_or_else(|| Error::config("KEY_MANAGEMENT_SYSTEM", "is not set"))?;
        let settings = match env("KEY_MANAGEMENT_SETTINGS") {
            Some(json) => KeyManagementSettings::from_json(&json)?,
            None => KeyManagementSettings::default(),
        };
        let mut setup = LiteLlmSetup::new(system, settings);
        setup.env_fallback = env("STRONGROOM_ENV_FALLBACK")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(setup)
    }

    /// Builds a registry from LiteLLM-style environment variables (see the module docs): the
    /// provider is built with its `XxxConfig::from_env()` (exact variable names only).
    pub async fn from_litellm_env() -> Result<Registry> {
        Registry::litellm_env_setup()?
            .build_with(&|k| std::env::var(k).ok())
            .await
    }

    /// Builds a registry from a LiteLLM `key_management_system` and its settings, reading the
    /// provider's variables through `lookup`.
    pub async fn from_litellm(
        system: &str,
        settings: &KeyManagementSettings,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Registry> {
        LiteLlmSetup::new(system, settings.clone())
            .build_with(lookup)
            .await
    }
}

#[cfg(feature = "litellm-config")]
pub use crate::litellm_config::{EnvReference, LiteLlmConfig, ResolvedEnv};
