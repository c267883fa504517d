//! [`Settings`]: the raw key → value map a config struct is read from, with where each value
//! came from, so errors name the TOML key or the environment variable the user wrote.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use super::{FieldInfo, FieldKind, ProviderConfig, did_you_mean};
use crate::error::{Error, Result};
use crate::value::WipedJson;

/// Where a [`Settings`] map came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// The `settings` table of a manager in a configuration file.
    Manager(String),
    /// The process environment (the provider's declared variables).
    Environment,
}

#[derive(Clone)]
struct Entry {
    value: Arc<WipedJson>,
    /// `managers.vault.settings.addr` or `HCP_VAULT_ADDR`.
    source: String,
}

type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Raw settings of one provider (or of the cache), before they are read into its config
/// struct with [`Settings::deserialize`] / [`ProviderConfig::from_settings`].
///
/// Values may hold credentials: `Debug` shows keys only, and the values are wiped on drop.
#[derive(Clone)]
pub struct Settings {
    origin: Origin,
    entries: BTreeMap<String, Entry>,
    allow_env: BTreeSet<String>,
    env: EnvLookup,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("origin", &self.origin)
            .field("keys", &self.entries.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Settings {
    /// Empty settings of the manager `manager` (a configuration file).
    pub fn for_manager(manager: &str) -> Settings {
        Settings {
            origin: Origin::Manager(manager.to_owned()),
            entries: BTreeMap::new(),
            allow_env: BTreeSet::new(),
            env: Arc::new(|k| std::env::var(k).ok()),
        }
    }

    /// Reads `C`'s declared environment variables through `lookup`: for each setting, the first
    /// of its variables that is set and not blank. Nothing else is looked at.
    pub fn from_env_lookup<C: ProviderConfig>(lookup: impl Fn(&str) -> Option<String>) -> Settings {
        let mut entries = BTreeMap::new();
        for field in C::fields() {
            let found = field.env.iter().find_map(|var| {
                lookup(var)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (var.clone(), v))
            });
            if let Some((var, value)) = found {
                entries.insert(
                    field.key.to_owned(),
                    Entry {
                        value: Arc::new(WipedJson(serde_json::Value::String(value))),
                        source: var,
                    },
                );
            }
        }
        Settings {
            origin: Origin::Environment,
            entries,
            allow_env: BTreeSet::new(),
            env: Arc::new(|k| std::env::var(k).ok()),
        }
    }

    /// Where these settings come from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Sets `key` (a TOML key of the provider) to `value`.
    pub fn insert(&mut self, key: impl Into<String>, value: serde_json::Value) {
        let key = key.into();
        let source = match &self.origin {
            Origin::Manager(m) => format!("managers.{m}.settings.{key}"),
            Origin::Environment => key.clone(),
        };
        self.entries.insert(
            key,
            Entry {
                value: Arc::new(WipedJson(value)),
                source,
            },
        );
    }

    /// Sets `key` and says where it came from (for error messages), e.g. `cache.settings.url`.
    pub fn insert_from(
        &mut self,
        key: impl Into<String>,
        value: serde_json::Value,
        source: impl Into<String>,
    ) {
        self.entries.insert(
            key.into(),
            Entry {
                value: Arc::new(WipedJson(value)),
                source: source.into(),
            },
        );
    }

    /// Lets `${env:NAME}` appear in these (non-credential) keys too — the file's explicit opt-in.
    pub fn allow_env_in(&mut self, keys: impl IntoIterator<Item = String>) {
        self.allow_env.extend(keys);
    }

    /// Resolves `${env:NAME}` through `lookup` instead of the process environment.
    pub fn with_env_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Arc::new(lookup);
        self
    }

    /// The keys that are set.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.entries.get(key).map(|e| &e.value.0)
    }

    /// Removes `key`, returning its raw value (the facade takes out keys of its own, such as
    /// LiteLLM's, before handing the rest to a provider).
    pub fn remove(&mut self, key: &str) -> Option<serde_json::Value> {
        self.entries.remove(key).map(|e| {
            Arc::try_unwrap(e.value)
                .map_or_else(|shared| shared.0.clone(), |mut w| std::mem::take(&mut w.0))
        })
    }

    fn manager_label(&self) -> String {
        match &self.origin {
            Origin::Manager(m) => format!("manager `{m}`"),
            Origin::Environment => "the environment".to_owned(),
        }
    }

    fn unknown_key(&self, provider: &'static str, key: &str, fields: &[FieldInfo]) -> Error {
        let source = &self.entries[key].source;
        let by_env = fields
            .iter()
            .find(|f| f.env.iter().any(|e| e.eq_ignore_ascii_case(key)));
        let suggestion = match by_env {
            Some(f) => Some(f.key),
            None => did_you_mean(key, fields.iter().map(|f| f.key)),
        };
        let mut msg = format!(
            "{}: `{key}` is not a setting of the {provider} provider",
            self.manager_label()
        );
        if let Some(s) = suggestion {
            msg.push_str(&format!("; did you mean `{s}`?"));
        }
        let valid: Vec<&str> = fields.iter().map(|f| f.key).collect();
        Error::config(source, msg)
            .with_provider(provider)
            .with_hint(format!(
                "the settings of {provider} are: {}",
                valid.join(", ")
            ))
    }

    /// Substitutes `${env:NAME}` in a string value, when the field may hold references.
    fn expand(&self, field: &FieldInfo, source: &str, text: &str) -> Result<Option<String>> {
        if !text.contains("${env:") || self.origin == Origin::Environment {
            return Ok(None);
        }
        if field.kind != FieldKind::Credential && !self.allow_env.contains(field.key) {
            return Err(Error::config(
                source,
                format!(
                    "`${{env:…}}` is only taken in credential settings; `{}` is a {} setting",
                    field.key,
                    field.kind.as_str()
                ),
            )
            .with_hint(format!(
                "write the value itself, or opt in with `allow_env_in = [\"{}\"]` on the manager",
                field.key
            )));
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${env:") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 6..];
            let end = after
                .find('}')
                .ok_or_else(|| Error::config(source, "unterminated `${env:…}` reference"))?;
            let var = &after[..end];
            let value = (self.env)(var).ok_or_else(|| {
                Error::config(
                    source,
                    format!("references the environment variable `{var}`, which is not set"),
                )
            })?;
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(Some(out))
    }

    /// Reads these settings into `C`: unknown keys are refused (with a suggestion),
    /// `${env:…}` is resolved where allowed, and a value of the wrong form is an error naming
    /// the key (or the variable) it came from.
    pub fn deserialize<C: ProviderConfig>(&self) -> Result<C> {
        let fields = C::fields();
        for key in self.entries.keys() {
            if !fields.iter().any(|f| f.key == key) {
                return Err(self.unknown_key(C::PROVIDER, key, &fields));
            }
        }
        for key in &self.allow_env {
            if !fields.iter().any(|f| f.key == key) {
                return Err(Error::config(
                    "allow_env_in",
                    format!("`{key}` is not a setting of the {} provider", C::PROVIDER),
                ));
            }
        }
        let mut own = serde_json::Map::new();
        let mut http = serde_json::Map::new();
        for (key, entry) in &self.entries {
            let field = fields.iter().find(|f| f.key == key).expect("checked above");
            let value = match &entry.value.0 {
                serde_json::Value::String(s) => match self.expand(field, &entry.source, s)? {
                    Some(expanded) => serde_json::Value::String(expanded),
                    None => entry.value.0.clone(),
                },
                other => other.clone(),
            };
            if field.http {
                http.insert(key.clone(), value);
            } else {
                own.insert(key.clone(), value);
            }
        }
        if !http.is_empty() {
            own.insert("http".to_owned(), serde_json::Value::Object(http));
        }
        let doc = WipedJson(serde_json::Value::Object(own));
        serde_path_to_error::deserialize::<_, C>(&doc.0).map_err(|e| {
            let key = e
                .path()
                .iter()
                .filter_map(|seg| match seg {
                    serde_path_to_error::Segment::Map { key } if key != "http" => Some(key.clone()),
                    _ => None,
                })
                .next()
                .unwrap_or_default();
            let source = self
                .entries
                .get(&key)
                .map_or_else(|| key.clone(), |e| e.source.clone());
            // serde's message names the expected form, never the value (our adapters do not
            // echo input), except for plain strings given where a number is wanted.
            Error::config(&source, e.into_inner().to_string()).with_provider(C::PROVIDER)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Field, HttpConfig, HttpPart};
    use serde::Deserialize;
    use std::time::Duration;

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Demo {
        http: HttpConfig,
        addr: Option<String>,
        token: Option<crate::SecretValue>,
        #[serde(deserialize_with = "crate::config::parse::de::opt_duration")]
        refresh_interval: Option<Duration>,
    }
    impl ProviderConfig for Demo {
        const PROVIDER: &'static str = "hcp-vault";
        const FIELDS: &'static [Field] = &[
            Field::new(
                "addr",
                &["HCP_VAULT_ADDR", "VAULT_ADDR"],
                FieldKind::Address,
                "",
            ),
            Field::new("token", &["HCP_VAULT_TOKEN"], FieldKind::Credential, ""),
            Field::new(
                "refresh_interval",
                &["HCP_VAULT_REFRESH_INTERVAL"],
                FieldKind::Plain,
                "24h",
            ),
        ];
        const HTTP: Option<HttpPart> = Some(HttpPart {
            env_prefix: "HCP_VAULT_",
            aliases: &[("ca_file", &["VAULT_CACERT"])],
            without: &[],
        });
    }

    #[test]
    fn environment_uses_exact_names_only() {
        let env = |k: &str| -> Option<String> {
            match k {
                "ADDR" | "TOKEN" | "addr" => Some("https://evil".into()),
                "VAULT_ADDR" => Some("https://vault".into()),
                "HCP_VAULT_TIMEOUT" => Some("7".into()),
                "VAULT_CACERT" => Some("/ca.pem".into()),
                _ => None,
            }
        };
        let c = Demo::from_lookup(env).unwrap();
        assert_eq!(c.addr.as_deref(), Some("https://vault"));
        assert!(c.token.is_none());
        assert_eq!(c.http.timeout, Duration::from_secs(7));
        assert_eq!(
            c.http.ca_file.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
    }

    #[test]
    fn bad_values_name_their_source() {
        let err = Demo::from_lookup(|k| (k == "HCP_VAULT_REFRESH_INTERVAL").then(|| "soon".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("HCP_VAULT_REFRESH_INTERVAL") && err.contains("seconds"),
            "{err}"
        );
        let mut s = Settings::for_manager("v");
        s.insert("timeout", "forever".into());
        let err = Demo::from_settings(&s).unwrap_err().to_string();
        assert!(err.contains("managers.v.settings.timeout"), "{err}");
    }

    #[test]
    fn unknown_keys_suggest() {
        let mut s = Settings::for_manager("v");
        s.insert("HCP_VAULT_ADDR", "https://x".into());
        let err = Demo::from_settings(&s).unwrap_err();
        assert!(err.to_string().contains("did you mean `addr`"), "{err}");
        assert!(err.hint().unwrap().contains("refresh_interval"));
        let mut s = Settings::for_manager("v");
        s.insert("refresh_intervall", "1".into());
        assert!(
            Demo::from_settings(&s)
                .unwrap_err()
                .to_string()
                .contains("`refresh_interval`")
        );
        let mut s = Settings::for_manager("v");
        s.insert("http", serde_json::json!({"timeout": 1}));
        assert!(Demo::from_settings(&s).is_err());
    }

    #[test]
    fn env_references_only_in_credentials() {
        let lookup = |k: &str| (k == "SECRET_TOKEN").then(|| "s.1".to_string());
        let mut s = Settings::for_manager("v").with_env_lookup(lookup);
        s.insert("token", "${env:SECRET_TOKEN}".into());
        let c = Demo::from_settings(&s).unwrap();
        assert_eq!(c.token.unwrap().expose_str().unwrap(), "s.1");
        s.insert("addr", "${env:SECRET_TOKEN}".into());
        let err = Demo::from_settings(&s).unwrap_err().to_string();
        assert!(err.contains("only taken in credential settings"), "{err}");
        s.allow_env_in(["addr".to_string()]);
        assert_eq!(
            Demo::from_settings(&s).unwrap().addr.as_deref(),
            Some("s.1")
        );
        let mut s = Settings::for_manager("v").with_env_lookup(|_| None);
        s.insert("token", "${env:MISSING}".into());
        assert!(
            Demo::from_settings(&s)
                .unwrap_err()
                .to_string()
                .contains("MISSING")
        );
    }

    #[test]
    fn native_toml_types_and_text_both_work() {
        let mut s = Settings::for_manager("v");
        s.insert("timeout", 30.into());
        s.insert("tls_verify", "no".into());
        s.insert("refresh_interval", "1h".into());
        let c = Demo::from_settings(&s).unwrap();
        assert_eq!(c.http.timeout, Duration::from_secs(30));
        assert!(!c.http.tls_verify);
        assert_eq!(c.refresh_interval, Some(Duration::from_secs(3600)));
    }
}
