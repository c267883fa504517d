//! The TOML configuration of a [`Registry`](crate::Registry).
//!
//! ```toml
//! default_manager = "vault"
//!
//! [cache]
//! kind = "memory"          # memory | redis | none
//! max_entries = 100000
//!
//! [managers.vault]
//! provider = "hcp-vault"
//! access_mode = "read_only"        # read_only | write_only | read_and_write
//! prefix = "litellm/"
//! allowed_groups = ["ops", "ml"]   # omit to allow everyone
//! cache = { ttl = "5m", stale_if_error = "1h" }
//! settings = { addr = "https://vault.example:8200", token = "${env:VAULT_TOKEN}" }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use strongroom_core::{AccessMode, Error, Result};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The manager used when a command names none (else the only one, if there is one).
    #[serde(default)]
    pub default_manager: Option<String>,
    /// The cache shared by the managers.
    #[serde(default)]
    pub cache: CacheConfig,
    /// Named managers; TOML itself refuses a name given twice.
    #[serde(default)]
    pub managers: BTreeMap<String, ManagerConfig>,
}

/// Which cache the managers share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheKind {
    /// In-process `MemoryCache` (default).
    #[default]
    Memory,
    /// `RedisCache` (feature `redis`).
    Redis,
    /// No cache at all.
    None,
}

/// `[cache]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// memory, redis or none.
    #[serde(default)]
    pub kind: CacheKind,
    /// Bound of the memory cache (default 100,000 entries).
    #[serde(default)]
    pub max_entries: Option<u64>,
    /// Settings of the Redis cache (`url`, `key`, `previous_keys`, `prefix`, `timeout`, …).
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Value>,
}

/// `[managers.<name>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerConfig {
    /// `conjur`, `hcp-vault`, `akeyless`, `aws`, `azure`, `file`, `env` or `memory`.
    pub provider: String,
    /// What the manager may do (default `read_only`). Enforced for every operation.
    #[serde(default)]
    pub access_mode: AccessMode,
    /// Put in front of every name (a `/` is added when missing).
    #[serde(default)]
    pub prefix: String,
    /// Caller groups allowed to use this manager; omitted = everyone.
    #[serde(default)]
    pub allowed_groups: Option<Vec<String>>,
    /// Cache policy of this manager.
    #[serde(default)]
    pub cache: ManagerCache,
    /// Provider settings. Values may contain `${env:NAME}` so keys need not sit in the file.
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Value>,
    /// LiteLLM `hosted_keys`: when set, names not listed are read from the environment.
    #[serde(default)]
    pub hosted_keys: Option<Vec<String>>,
}

/// `[managers.<name>.cache]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerCache {
    /// Whether reads are cached (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Freshness, e.g. `"5m"` (default: the provider's, else 5 minutes).
    #[serde(default)]
    pub ttl: Option<String>,
    /// Serve the last good value this long past its freshness while the backend fails.
    #[serde(default)]
    pub stale_if_error: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for ManagerCache {
    fn default() -> Self {
        ManagerCache {
            enabled: true,
            ttl: None,
            stale_if_error: None,
        }
    }
}

impl Config {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| {
            Error::config("config file", e.message().to_string()).with_hint(match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].lines().count().max(1);
                    format!("see line {line}")
                }
                None => "check the TOML syntax".to_string(),
            })
        })
    }
}

/// Parses a duration setting such as `"90s"`, `"5m"` or `"1h 30m"`.
pub fn parse_duration(setting: &str, text: &str) -> Result<Duration> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        Error::config(
            setting,
            format!("`{text}` is not a duration ({e}); use e.g. \"300s\" or \"5m\""),
        )
    })
}

/// Provider settings after `${env:NAME}` substitution, with the lookup providers use.
#[derive(Clone, Default)]
pub struct Settings {
    manager: String,
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Settings may hold keys and tokens: show names only.
        f.debug_struct("Settings")
            .field("manager", &self.manager)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Settings {
    /// Builds settings for `manager`, substituting `${env:NAME}` references.
    pub fn resolve(manager: &str, raw: &BTreeMap<String, toml::Value>) -> Result<Settings> {
        let mut values = BTreeMap::new();
        for (k, v) in raw {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(Error::config(
                        &format!("managers.{manager}.settings.{k}"),
                        format!(
                            "expected a string, number or boolean, got {}",
                            other.type_str()
                        ),
                    ));
                }
            };
            values.insert(
                k.clone(),
                substitute_env(&format!("managers.{manager}.settings.{k}"), &text)?,
            );
        }
        Ok(Settings {
            manager: manager.to_owned(),
            values,
        })
    }

    /// Settings from plain pairs (tests, the LiteLLM environment setup).
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(
        manager: &str,
        pairs: I,
    ) -> Settings {
        Settings {
            manager: manager.to_owned(),
            values: pairs.into_iter().collect(),
        }
    }

    /// The value of `key`. Keys match exactly, or case-insensitively with the provider's
    /// environment prefix removed: for `CYBERARK_API_BASE` with prefix `CYBERARK_`, both
    /// `CYBERARK_API_BASE` and `api_base` work.
    pub fn lookup(&self, key: &str, env_prefixes: &[&str]) -> Option<String> {
        if let Some(v) = self.values.get(key) {
            return Some(v.clone());
        }
        let short = env_prefixes
            .iter()
            .find_map(|p| key.strip_prefix(p))
            .unwrap_or(key)
            .to_ascii_lowercase();
        self.values
            .iter()
            .find(|(k, _)| k.to_ascii_lowercase() == short)
            .map(|(_, v)| v.clone())
    }

    /// The value of `key` (exact name).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The manager these settings belong to.
    pub fn manager(&self) -> &str {
        &self.manager
    }

    /// Setting names, for "unknown setting" checks.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// Replaces every `${env:NAME}` in `text` with the variable's value.
pub fn substitute_env(setting: &str, text: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let end = after
            .find('}')
            .ok_or_else(|| Error::config(setting, "unterminated `${env:…}` reference"))?;
        let var = &after[..end];
        let value = std::env::var(var).map_err(|_| {
            Error::config(
                setting,
                format!("references the environment variable `{var}`, which is not set"),
            )
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_managers_and_env_references() {
        // SAFETY-free: set_var is safe in edition 2024 only inside unsafe; use a var the test owns.
        let cfg = Config::from_toml(
            r#"
            default_manager = "local"
            [managers.local]
            provider = "file"
            access_mode = "read_and_write"
            settings = { path = "/tmp/x.json" }
            [managers.vault]
            provider = "hcp-vault"
            allowed_groups = ["ops"]
            cache = { ttl = "5m", stale_if_error = "1h" }
            "#,
        )
        .unwrap();
        assert_eq!(cfg.managers.len(), 2);
        assert_eq!(cfg.managers["local"].access_mode, AccessMode::ReadAndWrite);
        assert_eq!(cfg.managers["vault"].access_mode, AccessMode::ReadOnly);
        let missing = substitute_env("s", "${env:STRONGROOM_SURELY_UNSET_VAR}").unwrap_err();
        assert!(missing.to_string().contains("STRONGROOM_SURELY_UNSET_VAR"));
        let path = substitute_env("s", "a-${env:PATH}-b").unwrap();
        assert!(path.starts_with("a-") && path.ends_with("-b"));
    }

    #[test]
    fn duplicate_manager_names_are_refused() {
        let err = Config::from_toml(
            "[managers.a]\nprovider = \"env\"\n[managers.a]\nprovider = \"env\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("duplicate"), "{err}");
    }

    #[test]
    fn settings_lookup_accepts_short_names() {
        let s = Settings::from_pairs("m", [("api_base".to_string(), "http://x".to_string())]);
        assert_eq!(
            s.lookup("CYBERARK_API_BASE", &["CYBERARK_"]).as_deref(),
            Some("http://x")
        );
        assert_eq!(s.lookup("CYBERARK_ACCOUNT", &["CYBERARK_"]), None);
    }
}
