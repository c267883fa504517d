//! Configuration, once for every provider.
//!
//! Each provider has one serde struct (`HcpVaultConfig`, `AwsConfig`, …) that is the single
//! source of truth for its settings. Three sources fill it, and one `build()` validates it:
//!
//! * a manager's TOML `settings` (keys are the struct's field names, nothing else),
//! * the environment, through the provider's declared table of exact variable names
//!   ([`Field::env`]) — never by suffix, prefix-stripping or case-insensitive matching,
//! * builder setters, which set the same fields.
//!
//! Unknown keys are errors that name the key, suggest the closest valid one and list them all.
//! `${env:NAME}` references are taken only in credential fields ([`FieldKind::Credential`])
//! unless the manager opts in for a field. The HTTP part ([`HttpConfig`]: timeouts, proxy, CA,
//! client certificate, transport limits) is shared by every HTTP provider: its keys sit next to
//! the provider's own keys in TOML and carry the provider's environment prefix.
//!
//! What a provider writes: the struct (serde, `deny_unknown_fields`, `default`), its
//! [`Field`] table, and `build()` ([`StoreConfig`]). See `docs/architecture.md`.
//!
//! ```
//! use serde::Deserialize;
//! use strongroom_core::config::{Field, FieldKind, ProviderConfig, Settings};
//!
//! #[derive(Debug, Default, Deserialize)]
//! #[serde(deny_unknown_fields, default)]
//! struct DemoConfig {
//!     addr: Option<String>,
//!     token: Option<strongroom_core::SecretValue>,
//! }
//! impl ProviderConfig for DemoConfig {
//!     const PROVIDER: &'static str = "demo";
//!     const FIELDS: &'static [Field] = &[
//!         Field::new("addr", &["DEMO_ADDR"], FieldKind::Address, "http://127.0.0.1:1"),
//!         Field::new("token", &["DEMO_TOKEN"], FieldKind::Credential, ""),
//!     ];
//! }
//! let from_env = DemoConfig::from_lookup(|k| (k == "DEMO_ADDR").then(|| "https://h".to_string())).unwrap();
//! assert_eq!(from_env.addr.as_deref(), Some("https://h"));
//!
//! let mut s = Settings::for_manager("demo");
//! s.insert("adr", "https://h".into());
//! let err = DemoConfig::from_settings(&s).unwrap_err().to_string();
//! assert!(err.contains("did you mean `addr`"), "{err}");
//! ```

mod http;
pub mod parse;
mod settings;

use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};

pub use http::{HTTP_FIELDS, HttpConfig, HttpPart, HttpSetters};
pub use settings::{Origin, Settings};

use crate::error::{Error, Result};

/// What kind of value a setting holds; decides where `${env:…}` may appear and how values
/// are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// A token, key, secret or password: redacted everywhere; `${env:NAME}` allowed.
    Credential,
    /// A server address, endpoint or proxy URL.
    Address,
    /// A file path.
    Path,
    /// Anything else (names, numbers, durations, switches).
    Plain,
}

impl FieldKind {
    /// Lower-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Credential => "credential",
            FieldKind::Address => "address",
            FieldKind::Path => "path",
            FieldKind::Plain => "plain",
        }
    }
}

/// One setting of a provider: its TOML key (the struct field), its environment variables in
/// priority order, its kind and its default as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The TOML key and struct field name.
    pub key: &'static str,
    /// Environment variables, first set one wins (e.g. `HCP_VAULT_ADDR`, then `VAULT_ADDR`).
    pub env: &'static [&'static str],
    /// What the value is.
    pub kind: FieldKind,
    /// The default, as `docs/configuration.md` shows it (empty = none).
    pub default: &'static str,
}

impl Field {
    /// A field.
    pub const fn new(
        key: &'static str,
        env: &'static [&'static str],
        kind: FieldKind,
        default: &'static str,
    ) -> Field {
        Field {
            key,
            env,
            kind,
            default,
        }
    }
}

/// A field with its environment variables worked out (the HTTP part's names depend on the
/// provider's prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// The TOML key.
    pub key: &'static str,
    /// The environment variables, in priority order.
    pub env: Vec<String>,
    /// What the value is.
    pub kind: FieldKind,
    /// The default, as documented.
    pub default: &'static str,
    /// Whether the field belongs to the shared HTTP part.
    pub http: bool,
}

/// A provider's (or the Redis cache's) configuration struct.
///
/// Implementors derive `serde::Deserialize` with `#[serde(deny_unknown_fields, default)]`,
/// declare [`ProviderConfig::FIELDS`] and, for HTTP providers, [`ProviderConfig::HTTP`] plus a
/// field `http: HttpConfig`. Everything else is provided.
pub trait ProviderConfig:
    serde::de::DeserializeOwned + Default + fmt::Debug + Send + 'static
{
    /// The provider label (`"hcp-vault"`).
    const PROVIDER: &'static str;
    /// The provider's own settings.
    const FIELDS: &'static [Field];
    /// The shared HTTP part, when the provider has one.
    const HTTP: Option<HttpPart> = None;

    /// Every setting: the provider's own, then the HTTP part's.
    fn fields() -> Vec<FieldInfo> {
        let own = Self::FIELDS.iter().map(|f| FieldInfo {
            key: f.key,
            env: f.env.iter().map(|e| (*e).to_owned()).collect(),
            kind: f.kind,
            default: f.default,
            http: false,
        });
        let http = Self::HTTP.into_iter().flat_map(|part| part.fields());
        own.chain(http).collect()
    }

    /// Reads the settings from the process environment (the declared variables only).
    fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the settings through `lookup` (variable name → value); empty values count as unset.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        Settings::from_env_lookup::<Self>(lookup).deserialize::<Self>()
    }

    /// Reads the settings of a manager (TOML) or of the environment ([`Settings`]).
    fn from_settings(settings: &Settings) -> Result<Self> {
        settings.deserialize::<Self>()
    }

    /// A configuration error naming the setting and its environment variables.
    fn field_error(key: &str, problem: impl fmt::Display) -> Error {
        let env = Self::fields()
            .into_iter()
            .find(|f| f.key == key)
            .map(|f| f.env)
            .unwrap_or_default();
        let label = if env.is_empty() {
            key.to_owned()
        } else {
            format!("{key}` (env `{}`)", env.join("`, `"))
        };
        Error::config(&label, problem).with_provider(Self::PROVIDER)
    }
}

/// A [`ProviderConfig`] that builds a [`SecretStore`](crate::SecretStore).
pub trait StoreConfig: ProviderConfig {
    /// The store it builds.
    type Store: crate::SecretStore + 'static;
    /// Validates every setting (errors name the setting) and builds the store. No I/O.
    fn build(self) -> Result<Self::Store>;
}

/// Logs `message` at WARN the first time `key` is seen in this process.
pub fn warn_once(key: &str, message: &str) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Mutex::default);
    if seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.to_owned())
    {
        tracing::warn!("{message}");
    }
}

/// Validates a server address setting of a provider: [`parse::address`], then the transport
/// rule: plaintext (`http://`, `redis://`) only to loopback unless `allow_insecure` (which logs
/// a warning once). When `is_default`, a warning says the default address is in use, since
/// whatever listens on that local port receives the credentials.
///
/// ```
/// use strongroom_core::config::checked_address;
/// assert!(checked_address("hcp-vault", "addr", "http://10.0.0.5:8200", &["http", "https"], false, false).is_err());
/// assert!(checked_address("hcp-vault", "addr", "http://10.0.0.5:8200", &["http", "https"], true, false).is_ok());
/// assert!(checked_address("hcp-vault", "addr", "http://127.0.0.1:8200", &["http", "https"], false, true).is_ok());
/// ```
pub fn checked_address(
    provider: &'static str,
    setting: &str,
    text: &str,
    schemes: &[&str],
    allow_insecure: bool,
    is_default: bool,
) -> Result<url::Url> {
    let url = parse::address(text, schemes)
        .map_err(|p| Error::config(setting, p).with_provider(provider))?;
    if parse::is_plaintext(&url) && !parse::is_loopback(&url) {
        if !allow_insecure {
            return Err(Error::config(
                setting,
                format!(
                    "`{}://{}` sends credentials in clear to a host that is not this machine",
                    url.scheme(),
                    url.host_str().unwrap_or_default()
                ),
            )
            .with_provider(provider)
            .with_hint("use https:// (rediss:// for Redis), or set allow_insecure_transport = true if you accept the risk"));
        }
        warn_once(
            &format!("insecure:{provider}:{url}"),
            &format!(
                "{provider}: `{setting}` sends credentials in clear to {} (allow_insecure_transport is on)",
                url.host_str().unwrap_or_default()
            ),
        );
    }
    if is_default {
        warn_once(
            &format!("default:{provider}:{url}"),
            &format!(
                "{provider}: no `{setting}` configured; using the default {url} — whatever listens there receives the credentials"
            ),
        );
    }
    Ok(url)
}

/// The closest of `candidates` to `key`, when one is close enough to be a likely typo.
///
/// ```
/// use strongroom_core::config::did_you_mean;
/// assert_eq!(did_you_mean("tll", ["ttl", "stale_if_error"]), Some("ttl"));
/// assert_eq!(did_you_mean("adress", ["addr", "token"]), Some("addr"));
/// assert_eq!(did_you_mean("zzz", ["addr", "token"]), None);
/// ```
pub fn did_you_mean<'a>(
    key: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let key = key.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let c_low = c.to_ascii_lowercase();
            // Jaro-Winkler likes shared prefixes; one edit (a transposition included) catches
            // short keys it misses (`tll` for `ttl`).
            let near = strsim::damerau_levenshtein(&key, &c_low) <= 1;
            let score = strsim::jaro_winkler(&key, &c_low).max(if near { 0.9 } else { 0.0 });
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
