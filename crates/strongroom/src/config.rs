//! The TOML configuration of a [`Registry`](crate::Registry), and the core configuration
//! mechanism every provider uses ([`ProviderConfig`], [`StoreConfig`], [`Settings`]).
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
//! allowed_groups = ["ops", "ml"]   # omit to allow every caller
//! cache = { ttl = "5m", stale_if_error = "1h", refresh_ahead = 0.8 }
//! settings = { addr = "https://vault.example:8200", token = "${env:VAULT_TOKEN}" }
//! ```
//!
//! Every table refuses keys it does not know, naming the key, the closest valid key and all of
//! them. `${env:NAME}` is taken in credential settings only, unless the manager opts in for a
//! key with `allow_env_in = ["key"]`.
//!
//! ```
//! let err = strongroom::config::Config::from_toml("[managers.v]\nprovider = \"memory\"\nacess_mode = \"read_only\"\n")
//!     .unwrap_err().to_string();
//! assert!(err.contains("did you mean `access_mode`"), "{err}");
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use strongroom_core::config::parse::de;
use strongroom_core::{AccessMode, CachePolicy, Error, Result};

pub use strongroom_core::config::{
    Field, FieldInfo, FieldKind, HttpConfig, HttpPart, Origin, ProviderConfig, Settings,
    StoreConfig, checked_address, did_you_mean, parse, warn_once,
};

use crate::providers::provider;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
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
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheConfig {
    /// memory, redis or none.
    #[serde(default)]
    pub kind: CacheKind,
    /// Bound of the memory cache (default 100,000 entries).
    #[serde(default, deserialize_with = "de::opt_number")]
    pub max_entries: Option<u64>,
    /// Settings of the Redis cache (`strongroom_redis::RedisConfig`: `url`, `key`, `prefix`, …).
    #[serde(default)]
    pub settings: toml::Table,
}

/// `[managers.<name>]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ManagerConfig {
    /// `conjur`, `hcp-vault`, `akeyless`, `aws`, `azure`, `file`, `env` or `memory`.
    pub provider: String,
    /// What the manager may do (default `read_only`). Enforced for every operation.
    #[serde(default)]
    pub access_mode: AccessMode,
    /// Put in front of every name (a `/` is added when missing).
    #[serde(default)]
    pub prefix: String,
    /// Caller groups allowed to use this manager; omitted = every caller.
    #[serde(default)]
    pub allowed_groups: Option<Vec<String>>,
    /// Cache policy of this manager.
    #[serde(default)]
    pub cache: ManagerCache,
    /// Provider settings: exactly the keys of the provider's config struct.
    #[serde(default)]
    pub settings: toml::Table,
    /// Settings (other than credentials) that may hold `${env:NAME}` references.
    #[serde(default)]
    pub allow_env_in: Vec<String>,
    /// LiteLLM `hosted_keys`: only these names are read from the manager; any other name is
    /// read from the environment, and only when [`ManagerConfig::env_fallback`] lists it.
    #[serde(default)]
    pub hosted_keys: Option<Vec<String>>,
    /// The environment variables a name outside `hosted_keys` may be read from.
    #[serde(default)]
    pub env_fallback: Vec<String>,
    /// LiteLLM `primary_secret_name` (AWS only, as in LiteLLM): a read of `NAME` returns the
    /// field `NAME` of this JSON secret.
    #[serde(default)]
    pub primary_secret_name: Option<String>,
    /// A description given to every write that sets none (LiteLLM `description`).
    #[serde(default)]
    pub description: Option<String>,
    /// Tags given to every write (LiteLLM `tags`); a write's own tags win.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// `[managers.<name>.cache]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ManagerCache {
    /// Whether reads are cached (default true).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub enabled: bool,
    /// Freshness, e.g. `"5m"` or `300` (default: the provider's, else 5 minutes).
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub ttl: Option<Duration>,
    /// Serve the last good value this long past its freshness while the backend fails.
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub stale_if_error: Option<Duration>,
    /// Refresh-ahead: a hit once this fraction of the TTL has passed is answered at once and
    /// starts one background refresh, so no reader of a hot key waits for the backend when
    /// the TTL runs out. A fraction from 0.1 to 0.99, `true` (= 0.8) or `false` (off).
    /// Default: on, at [`DEFAULT_REFRESH_AHEAD`] (`None` here = off).
    #[serde(
        default = "default_refresh_ahead",
        deserialize_with = "refresh_ahead_fraction"
    )]
    pub refresh_ahead: Option<f64>,
}

/// The refresh-ahead fraction of a manager that sets none: on, at 80 % of the TTL.
///
/// On by default because it costs little and removes the one wait every cache otherwise
/// has: only a key read in the last 20 % of its TTL is refreshed (an idle key costs nothing),
/// a key read continuously costs at most 1.25 backend reads per TTL instead of 1, and no
/// reader waits for the backend when the TTL runs out. Turn it off (`refresh_ahead = false`)
/// for a backend billed or throttled per call where that extra quarter matters.
pub const DEFAULT_REFRESH_AHEAD: f64 = 0.8;

fn yes() -> bool {
    true
}

/// The cache policy of a manager whose configuration says nothing about its cache (the
/// LiteLLM-style managers, the CLI's embedded default): default TTL, refresh-ahead at
/// [`DEFAULT_REFRESH_AHEAD`], no stale-if-error.
///
/// ```
/// let policy = strongroom::config::default_cache_policy("local");
/// assert_eq!((policy.ttl, policy.refresh_ahead), (None, Some(0.8)));
/// ```
pub fn default_cache_policy(name: &str) -> CachePolicy {
    CachePolicy::new(name).refresh_ahead(DEFAULT_REFRESH_AHEAD)
}

fn default_refresh_ahead() -> Option<f64> {
    Some(DEFAULT_REFRESH_AHEAD)
}

/// What `refresh_ahead` accepts, for error messages.
const REFRESH_AHEAD_FORMS: &str =
    "a fraction of the TTL from 0.1 to 0.99 (e.g. 0.8), true (= 0.8) or false (off)";

/// `refresh_ahead`: a fraction (`0.8`, `"0.8"`), `true`/`"on"` (the default fraction),
/// `false`/`"off"`/`0` (off). A fraction outside 0.1–0.99 is refused, not clamped.
fn parse_refresh_ahead(text: &str) -> std::result::Result<Option<f64>, String> {
    if let Ok(on) = parse::bool(text)
        && text.trim() != "1"
    {
        return Ok(on.then_some(DEFAULT_REFRESH_AHEAD));
    }
    match text.trim().parse::<f64>() {
        Ok(0.0) => Ok(None),
        Ok(f) if (0.1..=0.99).contains(&f) => Ok(Some(f)),
        _ => Err(format!("expected {REFRESH_AHEAD_FORMS}")),
    }
}

fn refresh_ahead_fraction<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<f64>, D::Error> {
    struct Fraction;
    impl serde::de::Visitor<'_> for Fraction {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(REFRESH_AHEAD_FORMS)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
            parse_refresh_ahead(v).map_err(E::custom)
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<Self::Value, E> {
            Ok(v.then_some(DEFAULT_REFRESH_AHEAD))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
            parse_refresh_ahead(&v.to_string()).map_err(E::custom)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
            parse_refresh_ahead(&v.to_string()).map_err(E::custom)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
            parse_refresh_ahead(&v.to_string()).map_err(E::custom)
        }
    }
    d.deserialize_any(Fraction)
}

impl Default for ManagerCache {
    fn default() -> Self {
        ManagerCache {
            enabled: true,
            ttl: None,
            stale_if_error: None,
            refresh_ahead: default_refresh_ahead(),
        }
    }
}

impl ManagerCache {
    /// The cache policy of manager `name` (`None` when caching is off).
    ///
    /// ```
    /// use strongroom::config::ManagerCache;
    /// let policy = ManagerCache::default().policy("vault").unwrap();
    /// assert_eq!(policy.refresh_ahead, Some(0.8));
    /// ```
    pub fn policy(&self, name: &str) -> Option<CachePolicy> {
        if !self.enabled {
            return None;
        }
        let mut policy = CachePolicy::new(name);
        if let Some(ttl) = self.ttl {
            policy = policy.ttl(ttl);
        }
        if let Some(stale) = self.stale_if_error {
            policy = policy.stale_if_error(stale);
        }
        if let Some(fraction) = self.refresh_ahead {
            policy = policy.refresh_ahead(fraction);
        }
        Some(policy)
    }
}

const TOP_KEYS: &[&str] = &["default_manager", "cache", "managers"];
const CACHE_KEYS: &[&str] = &["kind", "max_entries", "settings"];
const MANAGER_KEYS: &[&str] = &[
    "provider",
    "access_mode",
    "prefix",
    "allowed_groups",
    "cache",
    "settings",
    "allow_env_in",
    "hosted_keys",
    "env_fallback",
    "primary_secret_name",
    "description",
    "tags",
];
const MANAGER_CACHE_KEYS: &[&str] = &["enabled", "ttl", "stale_if_error", "refresh_ahead"];

/// An unknown key: names where it is, the closest valid key and all of them.
fn unknown_key(path: &str, key: &str, what: &str, valid: &[&str]) -> Error {
    let mut msg = format!("`{key}` is not a key of {what}");
    if let Some(s) = did_you_mean(key, valid.iter().copied()) {
        msg.push_str(&format!("; did you mean `{s}`?"));
    }
    Error::config(&format!("{path}{key}"), msg)
        .with_hint(format!("the keys of {what} are: {}", valid.join(", ")))
}

fn check_keys(table: &toml::Table, path: &str, what: &str, valid: &[&str]) -> Result<()> {
    match table.keys().find(|k| !valid.contains(&k.as_str())) {
        Some(key) => Err(unknown_key(path, key, what, valid)),
        None => Ok(()),
    }
}

/// Checks every table of the file for unknown keys before serde reads it, so each error names
/// the table, suggests a key and lists the valid ones.
fn check_all_keys(doc: &toml::Table) -> Result<()> {
    check_keys(doc, "", "the configuration file", TOP_KEYS)?;
    if let Some(toml::Value::Table(cache)) = doc.get("cache") {
        check_keys(cache, "cache.", "[cache]", CACHE_KEYS)?;
    }
    if let Some(toml::Value::Table(managers)) = doc.get("managers") {
        for (name, m) in managers {
            if let toml::Value::Table(m) = m {
                let what = format!("manager `{name}`");
                check_keys(m, &format!("managers.{name}."), &what, MANAGER_KEYS)?;
                if let Some(toml::Value::Table(c)) = m.get("cache") {
                    check_keys(
                        c,
                        &format!("managers.{name}.cache."),
                        &format!("the cache of manager `{name}`"),
                        MANAGER_CACHE_KEYS,
                    )?;
                }
            }
        }
    }
    Ok(())
}

impl Config {
    /// Parses TOML text: every table's keys are checked, values are typed; provider settings
    /// are checked when the registry is built (they depend on the provider).
    pub fn from_toml(text: &str) -> Result<Config> {
        let doc: toml::Table = toml::from_str(text).map_err(|e| {
            Error::config("config file", e.message()).with_hint(match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].lines().count().max(1);
                    format!("see line {line}")
                }
                None => "check the TOML syntax".to_string(),
            })
        })?;
        check_all_keys(&doc)?;
        let config: Config = doc
            .try_into()
            .map_err(|e: toml::de::Error| Error::config("config file", e.message().trim()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        if self.cache.kind != CacheKind::Redis && !self.cache.settings.is_empty() {
            return Err(
                Error::config("cache.settings", "settings apply to the redis cache only")
                    .with_hint("set kind = \"redis\", or remove [cache] settings"),
            );
        }
        for (name, m) in &self.managers {
            crate::providers::provider_or_error(&format!("managers.{name}.provider"), &m.provider)?;
            if m.primary_secret_name.as_deref() == Some("") {
                return Err(Error::config(
                    &format!("managers.{name}.primary_secret_name"),
                    "must not be empty",
                ));
            }
        }
        Ok(())
    }

    /// Every environment variable this configuration uses as a credential: the credential
    /// variables of each configured provider (and of the Redis cache), and every `${env:NAME}`
    /// it references. `strongroom run` removes them from the child's environment, and
    /// environment-backed stores never return them.
    pub fn credential_variables(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for m in self.managers.values() {
            if let Some(p) = provider(&m.provider) {
                out.extend(p.credential_variables());
            }
            out.extend(env_references(&m.settings));
        }
        if self.cache.kind == CacheKind::Redis {
            out.extend(REDIS_CREDENTIALS.iter().map(|v| (*v).to_owned()));
            out.extend(
                redis_fields()
                    .into_iter()
                    .filter(|f| f.kind == FieldKind::Credential)
                    .flat_map(|f| f.env),
            );
            out.extend(env_references(&self.cache.settings));
        }
        out
    }
}

/// The `${env:NAME}` names referenced in `table` (any depth).
fn env_references(table: &toml::Table) -> Vec<String> {
    fn walk(v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::String(s) => {
                let mut rest = s.as_str();
                while let Some(start) = rest.find("${env:") {
                    let after = &rest[start + 6..];
                    let Some(end) = after.find('}') else { break };
                    out.push(after[..end].to_owned());
                    rest = &after[end + 1..];
                }
            }
            toml::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            toml::Value::Table(t) => t.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    table.values().for_each(|v| walk(v, &mut out));
    out
}

pub(crate) fn to_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Value::from(*f),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        toml::Value::Table(t) => {
            serde_json::Value::Object(t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

/// The [`Settings`] of manager `manager` from its TOML `settings` table, with its
/// `allow_env_in` opt-ins.
pub fn manager_settings(manager: &str, table: &toml::Table, allow_env_in: &[String]) -> Settings {
    let mut s = Settings::for_manager(manager);
    for (k, v) in table {
        s.insert(k.clone(), to_json(v));
    }
    s.allow_env_in(allow_env_in.iter().cloned());
    s
}

/// The settings of the Redis cache, when it is compiled in.
fn redis_fields() -> Vec<FieldInfo> {
    #[cfg(feature = "redis")]
    {
        strongroom_redis::RedisConfig::fields()
    }
    #[cfg(not(feature = "redis"))]
    {
        Vec::new()
    }
}

/// The Redis cache's credential variables (known even when it is not compiled in).
const REDIS_CREDENTIALS: &[&str] = &[
    "STRONGROOM_REDIS_KEY",
    "STRONGROOM_REDIS_OLD_KEYS",
    "STRONGROOM_REDIS_PASSWORD",
];

/// Settings shown by `Debug`: credentials (and anything whose kind is not known) redacted.
struct Redacted<'a> {
    table: &'a toml::Table,
    kind: &'a dyn Fn(&str) -> Option<FieldKind>,
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.table {
            match (self.kind)(k) {
                Some(FieldKind::Credential) | None => m.entry(k, &format_args!("[REDACTED]")),
                Some(_) => m.entry(k, v),
            };
        }
        m.finish()
    }
}

impl fmt::Debug for ManagerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = provider(&self.provider);
        let kind = |k: &str| p.and_then(|p| p.field_kind(k));
        f.debug_struct("ManagerConfig")
            .field("provider", &self.provider)
            .field("access_mode", &self.access_mode)
            .field("prefix", &self.prefix)
            .field("allowed_groups", &self.allowed_groups)
            .field("cache", &self.cache)
            .field(
                "settings",
                &Redacted {
                    table: &self.settings,
                    kind: &kind,
                },
            )
            .field("allow_env_in", &self.allow_env_in)
            .field("hosted_keys", &self.hosted_keys)
            .field("env_fallback", &self.env_fallback)
            .field("primary_secret_name", &self.primary_secret_name)
            .field("description", &self.description)
            .field("tags", &self.tags)
            .finish()
    }
}

impl fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = redis_fields();
        let kind = |k: &str| fields.iter().find(|f| f.key == k).map(|f| f.kind);
        f.debug_struct("CacheConfig")
            .field("kind", &self.kind)
            .field("max_entries", &self.max_entries)
            .field(
                "settings",
                &Redacted {
                    table: &self.settings,
                    kind: &kind,
                },
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_managers() {
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
            cache = { ttl = "5m", stale_if_error = 3600 }
            "#,
        )
        .unwrap();
        assert_eq!(cfg.managers.len(), 2);
        assert_eq!(cfg.managers["local"].access_mode, AccessMode::ReadAndWrite);
        assert_eq!(cfg.managers["vault"].access_mode, AccessMode::ReadOnly);
        assert_eq!(
            cfg.managers["vault"].cache.ttl,
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            cfg.managers["vault"].cache.stale_if_error,
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn refresh_ahead_forms() {
        let cache = |v: &str| {
            Config::from_toml(&format!(
                "[managers.v]\nprovider = \"memory\"\ncache = {{ refresh_ahead = {v} }}\n"
            ))
            .map(|c| c.managers["v"].cache.refresh_ahead)
        };
        assert_eq!(cache("0.75").unwrap(), Some(0.75));
        assert_eq!(cache("\"0.9\"").unwrap(), Some(0.9));
        assert_eq!(cache("true").unwrap(), Some(DEFAULT_REFRESH_AHEAD));
        assert_eq!(cache("\"on\"").unwrap(), Some(DEFAULT_REFRESH_AHEAD));
        assert_eq!(cache("false").unwrap(), None);
        assert_eq!(cache("\"off\"").unwrap(), None);
        assert_eq!(cache("0").unwrap(), None);
        for bad in ["1", "1.5", "0.05", "-0.5", "\"soon\"", "\"nan\""] {
            let err = cache(bad).unwrap_err().to_string();
            assert!(err.contains("fraction of the TTL"), "{bad}: {err}");
        }
        // Unset: on, at the default fraction.
        let cfg = Config::from_toml("[managers.v]\nprovider = \"memory\"\n").unwrap();
        assert_eq!(
            cfg.managers["v"].cache.refresh_ahead,
            Some(DEFAULT_REFRESH_AHEAD)
        );
        let cfg = Config::from_toml("[managers.v]\nprovider = \"memory\"\ncache = { ttl = 60 }\n")
            .unwrap();
        let policy = cfg.managers["v"].cache.policy("v").unwrap();
        assert_eq!(policy.refresh_ahead, Some(DEFAULT_REFRESH_AHEAD));
        assert_eq!(policy.ttl, Some(Duration::from_secs(60)));
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
    fn unknown_keys_everywhere_suggest_and_list() {
        for (toml, path, suggestion) in [
            (
                "default_manger = \"a\"",
                "default_manger",
                "default_manager",
            ),
            ("[cache]\nknd = \"memory\"", "cache.knd", "kind"),
            (
                "[managers.v]\nprovider = \"memory\"\nallowed_group = [\"a\"]",
                "managers.v.allowed_group",
                "allowed_groups",
            ),
            (
                "[managers.v]\nprovider = \"memory\"\ncache = { ttls = \"5m\" }",
                "managers.v.cache.ttls",
                "ttl",
            ),
        ] {
            let err = Config::from_toml(toml).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(path), "{text}");
            assert!(
                text.contains(&format!("did you mean `{suggestion}`")),
                "{text}"
            );
            assert!(err.hint().unwrap().contains(suggestion), "{text}");
        }
    }

    #[test]
    fn debug_redacts_credentials() {
        let cfg = Config::from_toml(
            r#"
            [cache]
            kind = "redis"
            settings = { url = "redis://127.0.0.1", key = "a2V5LWtleS1rZXkta2V5", password = "redis-pw-1" }
            [managers.v]
            provider = "file"
            settings = { path = "/tmp/p.json", unknown_thing = "maybe-secret-2" }
            "#,
        )
        .unwrap();
        let text = format!("{cfg:?}");
        for secret in ["a2V5LWtleS1rZXkta2V5", "redis-pw-1", "maybe-secret-2"] {
            assert!(!text.contains(secret), "{text}");
        }
        // What is known not to be a credential stays readable (the Redis cache's kinds are
        // known when it is compiled in; else everything of it is redacted).
        assert!(text.contains("/tmp/p.json"), "{text}");
        assert_eq!(
            text.contains("redis://127.0.0.1"),
            cfg!(feature = "redis"),
            "{text}"
        );
    }

    #[test]
    fn credential_variables_cover_references() {
        let cfg = Config::from_toml(
            "[managers.v]\nprovider = \"memory\"\nsettings = { token = \"${env:MY_TOKEN}x${env:OTHER}\" }\n",
        )
        .unwrap();
        let vars = cfg.credential_variables();
        assert!(
            vars.contains("MY_TOKEN") && vars.contains("OTHER"),
            "{vars:?}"
        );
    }
}
