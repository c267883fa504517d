//! LiteLLM's proxy `config.yaml`: the secret manager of `general_settings` and the
//! `os.environ/NAME` references of the whole file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use strongroom_core::config::warn_once;
use strongroom_core::{Error, ErrorKind, Operation, ReadOptions, Result, SecretName, SecretValue};

use crate::litellm::{KeyManagementSettings, LiteLlmSetup, provider_for_system};
use crate::registry::Registry;

const REFERENCE: &str = "os.environ/";

/// One `os.environ/NAME` value of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvReference {
    /// `NAME`.
    pub name: String,
    /// Where it is, e.g. `model_list[0].litellm_params.api_key`.
    pub at: String,
}

/// A LiteLLM proxy `config.yaml`, read for what Strongroom needs: `general_settings`
/// (`key_management_system`, `key_management_settings`), `environment_variables`, and every
/// `os.environ/NAME` reference.
///
/// ```
/// use strongroom::litellm::LiteLlmConfig;
/// let c = LiteLlmConfig::from_yaml(r#"
/// model_list:
///   - model_name: gpt
///     litellm_params: { model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY }
/// general_settings:
///   master_key: os.environ/LITELLM_MASTER_KEY
///   key_management_system: hashicorp_vault
///   key_management_settings: { hosted_keys: ["OPENAI_API_KEY"] }
/// environment_variables: { HCP_VAULT_ADDR: "https://vault.example:8200" }
/// "#).unwrap();
/// let names: Vec<_> = c.references().iter().map(|r| r.name.as_str()).collect();
/// assert_eq!(names, ["OPENAI_API_KEY", "LITELLM_MASTER_KEY"]);
/// assert!(LiteLlmConfig::from_yaml("general_settings: { key_management_system: google_kms }").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct LiteLlmConfig {
    setup: LiteLlmSetup,
    references: Vec<EnvReference>,
}

/// The values resolved for a child process.
#[derive(Debug, Default)]
pub struct ResolvedEnv {
    /// Variable → value, read from the manager.
    pub values: Vec<(String, SecretValue)>,
    /// Referenced names left to the child's own environment (outside `hosted_keys`, or
    /// `write_only`, or missing from the manager but set in the environment), as LiteLLM
    /// reads them.
    pub from_environment: Vec<String>,
}

fn to_json(v: &serde_yaml_ng::Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn walk(v: &serde_yaml_ng::Value, at: &str, out: &mut Vec<EnvReference>) {
    match v {
        serde_yaml_ng::Value::String(s) => {
            if let Some(name) = s.strip_prefix(REFERENCE) {
                out.push(EnvReference {
                    name: name.trim().to_owned(),
                    at: at.to_owned(),
                });
            }
        }
        serde_yaml_ng::Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{at}[{i}]"), out);
            }
        }
        serde_yaml_ng::Value::Mapping(map) => {
            for (k, item) in map {
                let key = match k {
                    serde_yaml_ng::Value::String(s) => s.clone(),
                    other => serde_yaml_ng::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                };
                let path = if at.is_empty() {
                    key
                } else {
                    format!("{at}.{key}")
                };
                walk(item, &path, out);
            }
        }
        serde_yaml_ng::Value::Tagged(t) => walk(&t.value, at, out),
        _ => {}
    }
}

impl LiteLlmConfig {
    /// Reads a `config.yaml` file (refused when group or others may write it).
    pub fn from_file(path: &Path) -> Result<LiteLlmConfig> {
        let text = crate::trust::read_config_file(path)?;
        LiteLlmConfig::from_yaml(&text).map_err(|e| crate::registry::in_file(e, path))
    }

    /// Parses the text of a `config.yaml`.
    pub fn from_yaml(text: &str) -> Result<LiteLlmConfig> {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
            .map_err(|e| Error::config("config.yaml", format!("not valid YAML: {e}")))?;
        let general = doc.get("general_settings");
        let system = general
            .and_then(|g| g.get("key_management_system"))
            .and_then(|s| s.as_str())
            .ok_or_else(|| {
                Error::config(
                    "general_settings.key_management_system",
                    "is not set; Strongroom needs to know which secret manager the proxy uses",
                )
            })?;
        provider_for_system("general_settings.key_management_system", system)?;
        let settings = match general.and_then(|g| g.get("key_management_settings")) {
            Some(v) => KeyManagementSettings::from_value(
                "general_settings.key_management_settings",
                to_json(v),
            )?,
            None => KeyManagementSettings::default(),
        };
        let mut environment_variables = BTreeMap::new();
        if let Some(serde_yaml_ng::Value::Mapping(vars)) = doc.get("environment_variables") {
            for (k, v) in vars {
                let (Some(k), Some(v)) = (k.as_str(), scalar(v)) else {
                    return Err(Error::config(
                        "environment_variables",
                        "every entry must be NAME: value",
                    ));
                };
                environment_variables.insert(k.to_owned(), v);
            }
        }
        let mut references = Vec::new();
        if let serde_yaml_ng::Value::Mapping(map) = &doc {
            for (k, v) in map {
                // `environment_variables` values are set as they are (LiteLLM does not resolve
                // them); every other section is read through its references.
                if k.as_str() != Some("environment_variables") {
                    walk(v, k.as_str().unwrap_or_default(), &mut references);
                }
            }
        }
        let mut setup = LiteLlmSetup::new(system, settings);
        setup.environment_variables = environment_variables;
        setup.env_fallback = references
            .iter()
            .map(|r| r.name.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(LiteLlmConfig { setup, references })
    }

    /// The set-up of `general_settings`.
    pub fn setup(&self) -> &LiteLlmSetup {
        &self.setup
    }

    /// Every `os.environ/NAME` reference, in file order.
    pub fn references(&self) -> &[EnvReference] {
        &self.references
    }

    /// Builds the managers (provider settings from the process environment, then the file's
    /// `environment_variables`, as LiteLLM does).
    pub async fn registry(&self) -> Result<Registry> {
        self.setup.build_with(&|k| std::env::var(k).ok()).await
    }

    /// Resolves the file's references the way LiteLLM's `get_secret` does: `os.environ/` is
    /// stripped; with `access_mode = write_only` nothing is read from the manager; with
    /// `hosted_keys`, only the listed names are; `oidc/…` references are LiteLLM's own. The
    /// names of the manager are read with one `read_many`. A name the manager does not have is
    /// left to the environment when it is set there (LiteLLM falls back to it), else an error.
    pub async fn resolve(&self, registry: &Registry, groups: &[String]) -> Result<ResolvedEnv> {
        let kms = &self.setup.settings;
        let mut out = ResolvedEnv::default();
        let mut wanted: Vec<SecretName> = Vec::new();
        let mut where_of: BTreeMap<String, &str> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for r in &self.references {
            if !seen.insert(r.name.clone()) || r.name.starts_with("oidc/") {
                continue;
            }
            valid_variable(&r.name, &r.at)?;
            let hosted = kms.hosted_keys.as_ref().is_none_or(|h| h.contains(&r.name));
            if !kms.access_mode.allows_read() || !hosted {
                out.from_environment.push(r.name.clone());
                continue;
            }
            let name = SecretName::new(&r.name).map_err(|e| {
                Error::config(&format!("{} (os.environ/{})", r.at, r.name), e.message())
            })?;
            where_of.insert(r.name.clone(), &r.at);
            wanted.push(name);
        }
        if wanted.is_empty() {
            return Ok(out);
        }
        let manager = registry.default_manager(groups)?;
        let got = manager
            .store()
            .read_many(&wanted, &ReadOptions::new())
            .await?;
        let credentials = registry.credential_variables();
        for (name, secret) in got {
            let var = name.as_str().to_owned();
            let secret = match secret {
                Some(s) => Some(s),
                None => manager.store().read(&name, &ReadOptions::new()).await?,
            };
            match secret {
                Some(s) => {
                    if s.value.expose_str().is_err() {
                        return Err(Error::config(
                            &format!("os.environ/{var}"),
                            "the secret is binary data, which cannot be an environment value",
                        ));
                    }
                    out.values.push((var, s.value));
                }
                None if std::env::var_os(&var).is_some() && !credentials.contains(&var) => {
                    warn_once(
                        &format!("litellm-ref:{var}"),
                        &format!(
                            "os.environ/{var} is not in manager `{}`; the child reads it from its environment, as LiteLLM does",
                            manager.name()
                        ),
                    );
                    out.from_environment.push(var);
                }
                None => {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!(
                            "os.environ/{var} (at {}) is not in manager `{}` and not set in the environment",
                            where_of.get(&var).copied().unwrap_or("?"),
                            manager.name()
                        ),
                    )
                    .with_operation(Operation::Render)
                    .with_hint("store it, or remove the reference from config.yaml"));
                }
            }
        }
        Ok(out)
    }
}

fn scalar(v: &serde_yaml_ng::Value) -> Option<String> {
    match v {
        serde_yaml_ng::Value::String(s) => Some(s.clone()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn valid_variable(name: &str, at: &str) -> Result<()> {
    if name.is_empty() || name.contains('=') || name.chars().any(|c| c.is_control()) {
        return Err(Error::config(
            at,
            "an os.environ/ reference must name an environment variable (no `=`, no control characters)",
        ));
    }
    Ok(())
}

impl Registry {
    /// Builds the managers a LiteLLM proxy `config.yaml` describes (see [`LiteLlmConfig`]).
    pub async fn from_litellm_config(path: impl AsRef<Path>) -> Result<Registry> {
        LiteLlmConfig::from_file(path.as_ref())?.registry().await
    }
}
