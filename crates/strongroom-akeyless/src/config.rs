//! [`AkeylessConfig`], the one configuration struct, and its thin builder.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use strongroom_core::config::parse::de;
use strongroom_core::config::{
    Field, FieldKind, HttpConfig, HttpPart, ProviderConfig, StoreConfig,
};
use strongroom_core::provider::http::HttpClient;
use strongroom_core::{Clock, Error, Result, SecretValue, SystemClock};

use crate::api::Api;
use crate::auth::{AuthSettings, Method, SamlCreds};
use crate::error::PROVIDER;
use crate::store::{AkeylessStore, StoreSettings};

/// The default API endpoint.
pub const DEFAULT_API_HOST: &str = "https://api.akeyless.io";
/// Default token lifetime when `/auth` does not say (Akeyless tokens live one hour).
pub const DEFAULT_AUTH_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Default time before expiry at which the token is refreshed.
pub const DEFAULT_TOKEN_REFRESH_BUFFER: Duration = Duration::from_secs(300);
/// The longest `auth_token_ttl` accepted (clearskies' bound).
const MAX_AUTH_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

/// How the store logs in to Akeyless (`access_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccessType {
    /// `access_id` + `access_key` (API key).
    AccessKey,
    /// A JWT read from the environment variable named by `jwt_env_key` at each log-in.
    Jwt,
    /// The Akeyless CLI's cached SAML credentials for `profile`.
    Saml,
    /// AWS IAM: a signed STS GetCallerIdentity request (cargo feature `aws-iam`).
    AwsIam,
}

impl AccessType {
    /// The wire name (`access_key`, `jwt`, `saml`, `aws_iam`).
    pub fn as_str(&self) -> &'static str {
        match self {
            AccessType::AccessKey => "access_key",
            AccessType::Jwt => "jwt",
            AccessType::Saml => "saml",
            AccessType::AwsIam => "aws_iam",
        }
    }
}

impl fmt::Display for AccessType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AccessType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "access_key" => Ok(AccessType::AccessKey),
            "jwt" => Ok(AccessType::Jwt),
            "saml" => Ok(AccessType::Saml),
            "aws_iam" => Ok(AccessType::AwsIam),
            other => Err(AkeylessConfig::field_error(
                "access_type",
                format!("`{other}` is not one of access_key, jwt, saml, aws_iam"),
            )),
        }
    }
}

/// Where environment variables (the JWT variable) are read from.
pub(crate) type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The settings of an Akeyless store: TOML `settings` keys, `AKEYLESS_*` variables and builder
/// setters all land here; [`StoreConfig::build`] validates them (errors name the setting) and
/// builds the store. The HTTP part's keys (`timeout`, `ca_file`, `max_pages`, …) sit next to
/// these in TOML and read `AKEYLESS_TIMEOUT`, `AKEYLESS_CA_FILE`, … from the environment.
///
/// ```
/// use strongroom_akeyless::AkeylessConfig;
/// use strongroom_core::config::{ProviderConfig, StoreConfig};
/// let config = AkeylessConfig::from_lookup(|k| match k {
///     "AKEYLESS_ACCESS_ID" => Some("p-abc123".into()),
///     "AKEYLESS_ACCESS_KEY" => Some("key".into()),
///     "AKEYLESS_TIMEOUT" => Some("10s".into()),
///     _ => None,
/// })
/// .unwrap();
/// assert_eq!(config.http.timeout, std::time::Duration::from_secs(10));
/// let store = config.build().unwrap();
/// # let _ = store;
/// assert!(AkeylessConfig::from_lookup(|k| (k == "AKEYLESS_AUTO_GUESS_TYPE").then(|| "maybe".into())).is_err());
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AkeylessConfig {
    /// The access id, `p-` and letters or digits. Required.
    pub access_id: Option<String>,
    /// How to log in: `access_key`, `jwt`, `saml` or `aws_iam` (default `access_key`).
    pub access_type: Option<AccessType>,
    /// The access key, for `access_key` (no default).
    pub access_key: Option<SecretValue>,
    /// For `jwt`: the NAME of the environment variable holding the JWT, read at each log-in
    /// (no default; required for `jwt`).
    pub jwt_env_key: Option<String>,
    /// The API or gateway URL (default `https://api.akeyless.io`; a gateway such as
    /// `https://gw:8000/api/v2` works too).
    pub api_host: Option<String>,
    /// For `saml`: the Akeyless CLI profile, letters, digits, `-` and `_` (default `default`).
    pub profile: Option<String>,
    /// Look each item's type up once (`describe-item`) and read dynamic and rotated secrets
    /// with their own calls (default false).
    #[serde(deserialize_with = "de::bool")]
    pub auto_guess_type: bool,
    /// The token lifetime when `/auth` does not give one, and the longest ever trusted
    /// (default 1 h; at most 12 h).
    #[serde(deserialize_with = "de::duration")]
    pub auth_token_ttl: Duration,
    /// Log in again this long before the token expires (default 5 min; shorter than
    /// `auth_token_ttl`).
    #[serde(deserialize_with = "de::duration")]
    pub token_refresh_buffer: Duration,
    /// For `saml`: where the Akeyless CLI keeps its credentials (default
    /// `~/.akeyless/.tmp_creds`).
    pub saml_creds_dir: Option<PathBuf>,
    /// Timeouts, TLS, proxy and transport limits.
    pub http: HttpConfig,
    /// The clock for token expiry and leases (builder only; tests pass a `ManualClock`).
    #[serde(skip)]
    clock: Option<Arc<dyn Clock>>,
    /// Where the JWT variable is read (builder only; default the process environment).
    #[serde(skip)]
    env: Option<EnvLookup>,
    /// Static AWS credentials for `aws_iam` (builder only; default the AWS default chain).
    #[cfg(feature = "aws-iam")]
    #[serde(skip)]
    aws_credentials: Option<aws_credential_types::Credentials>,
}

impl Default for AkeylessConfig {
    fn default() -> Self {
        AkeylessConfig {
            access_id: None,
            access_type: None,
            access_key: None,
            jwt_env_key: None,
            api_host: None,
            profile: None,
            auto_guess_type: false,
            auth_token_ttl: DEFAULT_AUTH_TOKEN_TTL,
            token_refresh_buffer: DEFAULT_TOKEN_REFRESH_BUFFER,
            saml_creds_dir: None,
            http: HttpConfig::default(),
            clock: None,
            env: None,
            #[cfg(feature = "aws-iam")]
            aws_credentials: None,
        }
    }
}

impl fmt::Debug for AkeylessConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AkeylessConfig")
            .field("access_id", &self.access_id)
            .field("access_type", &self.access_type)
            .field(
                "access_key",
                &self.access_key.as_ref().map(|_| "[REDACTED]"),
            )
            .field("jwt_env_key", &self.jwt_env_key)
            .field("api_host", &self.api_host)
            .field("profile", &self.profile)
            .field("auto_guess_type", &self.auto_guess_type)
            .field("auth_token_ttl", &self.auth_token_ttl)
            .field("token_refresh_buffer", &self.token_refresh_buffer)
            .field("saml_creds_dir", &self.saml_creds_dir)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl ProviderConfig for AkeylessConfig {
    const PROVIDER: &'static str = PROVIDER;
    const FIELDS: &'static [Field] = &[
        Field::new("access_id", &["AKEYLESS_ACCESS_ID"], FieldKind::Plain, ""),
        Field::new(
            "access_type",
            &["AKEYLESS_ACCESS_TYPE"],
            FieldKind::Plain,
            "access_key",
        ),
        Field::new(
            "access_key",
            &["AKEYLESS_ACCESS_KEY"],
            FieldKind::Credential,
            "",
        ),
        Field::new(
            "jwt_env_key",
            &["AKEYLESS_JWT_ENV_KEY"],
            FieldKind::Plain,
            "",
        ),
        Field::new(
            "api_host",
            &["AKEYLESS_API_HOST"],
            FieldKind::Address,
            DEFAULT_API_HOST,
        ),
        Field::new(
            "profile",
            &["AKEYLESS_PROFILE"],
            FieldKind::Plain,
            "default",
        ),
        Field::new(
            "auto_guess_type",
            &["AKEYLESS_AUTO_GUESS_TYPE"],
            FieldKind::Plain,
            "false",
        ),
        Field::new(
            "auth_token_ttl",
            &["AKEYLESS_AUTH_TOKEN_TTL"],
            FieldKind::Plain,
            "1h",
        ),
        Field::new(
            "token_refresh_buffer",
            &["AKEYLESS_TOKEN_REFRESH_BUFFER"],
            FieldKind::Plain,
            "5m",
        ),
        Field::new(
            "saml_creds_dir",
            &["AKEYLESS_SAML_CREDS_DIR"],
            FieldKind::Path,
            "~/.akeyless/.tmp_creds",
        ),
    ];
    const HTTP: Option<HttpPart> = Some(HttpPart::new("AKEYLESS_"));
}

impl StoreConfig for AkeylessConfig {
    type Store = AkeylessStore;

    /// Validates every setting (errors name it) and builds the store. No network call.
    fn build(self) -> Result<AkeylessStore> {
        let err = Self::field_error;
        let access_id = self
            .access_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| err("access_id", "is required"))?;
        let access_id = access_id.trim().to_owned();
        if !valid_access_id(&access_id) {
            return Err(err(
                "access_id",
                "must be `p-` followed by letters or digits",
            ));
        }
        let access_type = self.access_type.unwrap_or(AccessType::AccessKey);
        let profile = match self.profile.as_deref().map(str::trim) {
            None | Some("") => "default".to_owned(),
            Some(p) if valid_profile(p) => p.to_owned(),
            Some(_) => {
                return Err(err(
                    "profile",
                    "may hold only letters, digits, `-` and `_` (at most 64)",
                ));
            }
        };
        if self.auth_token_ttl < Duration::from_secs(1) || self.auth_token_ttl > MAX_AUTH_TOKEN_TTL
        {
            return Err(err(
                "auth_token_ttl",
                "must be between 1 second and 12 hours",
            ));
        }
        if self.token_refresh_buffer >= self.auth_token_ttl {
            return Err(err(
                "token_refresh_buffer",
                "must be shorter than auth_token_ttl (or every call would log in again)",
            ));
        }
        let text = self.api_host.as_deref().unwrap_or(DEFAULT_API_HOST);
        // The default is the vendor's own API over TLS, not a loopback port anyone could
        // occupy: no "default address" warning for it.
        let url = self.http.address(PROVIDER, "api_host", text, false)?;
        let api_base = url.as_str().trim_end_matches('/').to_owned();
        let method = self.method(access_type, &access_id, &profile)?;
        let http = HttpClient::new(PROVIDER, &self.http)?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let api = Api::new(http.with_clock(Arc::clone(&clock)), api_base);
        let auth = AuthSettings {
            access_id: access_id.clone(),
            access_type,
            method,
            ttl: self.auth_token_ttl,
            refresh_buffer: self.token_refresh_buffer,
            clock: Arc::clone(&clock),
            env: self
                .env
                .unwrap_or_else(|| Arc::new(|k: &str| std::env::var(k).ok())),
        };
        Ok(AkeylessStore::new(StoreSettings {
            api,
            auth,
            access_id,
            access_type,
            auto_guess_type: self.auto_guess_type,
            http: self.http,
            clock,
        }))
    }
}

impl AkeylessConfig {
    fn method(&self, access_type: AccessType, access_id: &str, profile: &str) -> Result<Method> {
        let err = Self::field_error;
        Ok(match access_type {
            AccessType::AccessKey => Method::AccessKey(
                self.access_key
                    .clone()
                    .filter(|k| !k.is_blank())
                    .ok_or_else(|| err("access_key", "is required for access_type access_key"))?,
            ),
            AccessType::Jwt => {
                let var = self
                    .jwt_env_key
                    .as_deref()
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| err("jwt_env_key", "is required for access_type jwt"))?;
                if var.contains(['=', '\0']) || var.len() > 256 {
                    return Err(err(
                        "jwt_env_key",
                        "must be the name of an environment variable (the variable holding the JWT)",
                    ));
                }
                Method::Jwt(var.to_owned())
            }
            AccessType::Saml => {
                let dir = match &self.saml_creds_dir {
                    Some(d) => d.clone(),
                    None => default_saml_dir().ok_or_else(|| {
                        err(
                            "saml_creds_dir",
                            "HOME is not set; set the directory of the Akeyless CLI's credentials",
                        )
                    })?,
                };
                Method::Saml(SamlCreds::new(dir, profile, access_id))
            }
            AccessType::AwsIam => self.aws_method()?,
        })
    }

    #[cfg(feature = "aws-iam")]
    fn aws_method(&self) -> Result<Method> {
        Ok(Method::AwsIam(self.aws_credentials.clone()))
    }

    #[cfg(not(feature = "aws-iam"))]
    fn aws_method(&self) -> Result<Method> {
        Err(Self::field_error(
            "access_type",
            "aws_iam needs the cargo feature `aws-iam` of strongroom-akeyless (`akeyless-aws-iam` of strongroom; off by default)",
        ))
    }
}

fn valid_access_id(id: &str) -> bool {
    id.strip_prefix("p-").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 64 && rest.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

fn valid_profile(p: &str) -> bool {
    p.len() <= 64
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn default_saml_dir() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".akeyless").join(".tmp_creds"))
}

/// Builds an [`AkeylessStore`]: a thin wrapper over [`AkeylessConfig`] whose setters assign
/// its fields; everything is validated at [`AkeylessBuilder::build`].
///
/// ```
/// use strongroom_akeyless::{AccessType, AkeylessBuilder};
/// let store = AkeylessBuilder::new()
///     .with_access_id("p-abc123")
///     .with_access_type(AccessType::AccessKey)
///     .with_access_key("my-access-key")
///     .with_auto_guess_type(true)
///     .build()
///     .unwrap();
/// # let _ = store;
/// let err = AkeylessBuilder::new().with_access_id("abc").with_access_key("k").build().unwrap_err();
/// assert!(err.to_string().contains("access_id"));
/// ```
#[derive(Debug, Default, Clone)]
pub struct AkeylessBuilder {
    config: AkeylessConfig,
}

impl AkeylessBuilder {
    /// An empty builder (defaults everywhere; `access_id` is required).
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder over `config`.
    pub fn from_config(config: AkeylessConfig) -> Self {
        AkeylessBuilder { config }
    }

    /// A builder filled from the `AKEYLESS_*` variables of the process environment.
    pub fn from_env() -> Result<Self> {
        AkeylessConfig::from_env().map(Self::from_config)
    }

    /// Like [`AkeylessBuilder::from_env`], reading the variables through `lookup`; the JWT
    /// variable named by `jwt_env_key` is read through `lookup` too, at each log-in.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Self> {
        let lookup: EnvLookup = Arc::new(lookup);
        let mut config = AkeylessConfig::from_lookup(|k| lookup(k))?;
        config.env = Some(lookup);
        Ok(Self::from_config(config))
    }

    /// The configuration so far.
    pub fn config(&self) -> &AkeylessConfig {
        &self.config
    }

    /// Sets `access_id` (`p-…`).
    pub fn with_access_id(mut self, id: impl Into<String>) -> Self {
        self.config.access_id = Some(id.into());
        self
    }
    /// Sets `access_type`.
    pub fn with_access_type(mut self, t: AccessType) -> Self {
        self.config.access_type = Some(t);
        self
    }
    /// Sets `access_key` (for `access_key` log-ins).
    pub fn with_access_key(mut self, key: impl Into<SecretValue>) -> Self {
        self.config.access_key = Some(key.into());
        self
    }
    /// Sets `jwt_env_key`: the environment variable holding the JWT (read at each log-in).
    pub fn with_jwt_env_key(mut self, var: impl Into<String>) -> Self {
        self.config.jwt_env_key = Some(var.into());
        self
    }
    /// Sets `api_host` (an API URL or a gateway base URL such as `https://gw:8000/api/v2`).
    pub fn with_api_host(mut self, url: impl Into<String>) -> Self {
        self.config.api_host = Some(url.into());
        self
    }
    /// Sets the SAML `profile`.
    pub fn with_profile(mut self, profile: impl Into<String>) -> Self {
        self.config.profile = Some(profile.into());
        self
    }
    /// Sets `auto_guess_type`.
    pub fn with_auto_guess_type(mut self, yes: bool) -> Self {
        self.config.auto_guess_type = yes;
        self
    }
    /// Sets `auth_token_ttl`.
    pub fn with_auth_token_ttl(mut self, ttl: Duration) -> Self {
        self.config.auth_token_ttl = ttl;
        self
    }
    /// Sets `token_refresh_buffer`.
    pub fn with_token_refresh_buffer(mut self, buffer: Duration) -> Self {
        self.config.token_refresh_buffer = buffer;
        self
    }
    /// Sets `saml_creds_dir`.
    pub fn with_saml_creds_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.saml_creds_dir = Some(dir.into());
        self
    }
    /// The clock for token expiry and dynamic-secret leases (tests pass a `ManualClock`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.config.clock = Some(clock);
        self
    }
    /// Static AWS credentials for `aws_iam` instead of the default credential chain.
    #[cfg(feature = "aws-iam")]
    pub fn with_aws_credentials(mut self, creds: aws_credential_types::Credentials) -> Self {
        self.config.aws_credentials = Some(creds);
        self
    }

    /// Validates the settings and builds the store. No network call is made.
    pub fn build(self) -> Result<AkeylessStore> {
        self.config.build()
    }
}

/// Timeouts, proxy, CAs, client certificate, TLS verification, retries: the shared setters.
impl strongroom_core::HttpSetters for AkeylessBuilder {
    fn http_mut(&mut self) -> &mut strongroom_core::config::HttpConfig {
        &mut self.config.http
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use strongroom_core::ErrorKind;
    use strongroom_core::HttpSetters as _;
    use strongroom_core::config::Settings;

    fn env(pairs: &[(&str, &str)]) -> Result<AkeylessConfig> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AkeylessConfig::from_lookup(move |k| map.get(k).cloned())
    }

    fn config_err(r: Result<AkeylessStore>) -> String {
        let err = r.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
        err.to_string()
    }

    #[test]
    fn from_env_reads_every_variable_by_its_exact_name() {
        let c = env(&[
            ("AKEYLESS_ACCESS_ID", "p-abc123"),
            ("AKEYLESS_ACCESS_TYPE", "jwt"),
            ("AKEYLESS_JWT_ENV_KEY", "MY_JWT"),
            ("AKEYLESS_API_HOST", "https://gw.example:8000/api/v2/"),
            ("AKEYLESS_PROFILE", "team-a"),
            ("AKEYLESS_AUTO_GUESS_TYPE", "yes"),
            ("AKEYLESS_AUTH_TOKEN_TTL", "1800"),
            ("AKEYLESS_TOKEN_REFRESH_BUFFER", "2m"),
            ("AKEYLESS_SAML_CREDS_DIR", "/creds"),
            ("AKEYLESS_TIMEOUT", "7"),
            ("AKEYLESS_MAX_PAGES", "9"),
        ])
        .unwrap();
        assert_eq!(c.access_id.as_deref(), Some("p-abc123"));
        assert_eq!(c.access_type, Some(AccessType::Jwt));
        assert_eq!(c.jwt_env_key.as_deref(), Some("MY_JWT"));
        assert_eq!(c.profile.as_deref(), Some("team-a"));
        assert!(c.auto_guess_type);
        assert_eq!(c.auth_token_ttl, Duration::from_secs(1800));
        assert_eq!(c.token_refresh_buffer, Duration::from_secs(120));
        assert_eq!(
            c.saml_creds_dir.as_deref(),
            Some(std::path::Path::new("/creds"))
        );
        assert_eq!(c.http.timeout, Duration::from_secs(7));
        assert_eq!(c.http.max_pages, 9);
        let store = c.build().unwrap();
        assert_eq!(store.api_host(), "https://gw.example:8000/api/v2");
    }

    #[test]
    fn hostile_generic_names_change_nothing() {
        let c = env(&[
            ("ACCESS_ID", "p-evil"),
            ("ACCESS_KEY", "evil"),
            ("API_HOST", "https://evil"),
            ("TOKEN", "evil"),
            ("ADDR", "https://evil"),
            ("NAMESPACE", "evil"),
            ("ENDPOINT_URL", "https://evil"),
            ("REGION", "evil"),
            ("API_BASE", "https://evil"),
            ("akeyless_access_id", "p-evil"),
        ])
        .unwrap();
        assert!(c.access_id.is_none() && c.access_key.is_none() && c.api_host.is_none());
    }

    #[test]
    fn defaults() {
        let c = AkeylessConfig::default();
        assert_eq!(c.auth_token_ttl, DEFAULT_AUTH_TOKEN_TTL);
        assert_eq!(c.token_refresh_buffer, DEFAULT_TOKEN_REFRESH_BUFFER);
        assert!(!c.auto_guess_type);
        let store = AkeylessBuilder::new()
            .with_access_id("p-x1")
            .with_access_key("k")
            .build()
            .unwrap();
        assert_eq!(store.api_host(), DEFAULT_API_HOST);
    }

    #[test]
    fn toml_settings_take_native_types_and_refuse_unknown_keys() {
        let mut s = Settings::for_manager("ak");
        s.insert("access_id", "p-abc".into());
        s.insert("access_key", "k".into());
        s.insert("auto_guess_type", true.into());
        s.insert("auth_token_ttl", 600.into());
        s.insert("timeout", "3s".into());
        let c = AkeylessConfig::from_settings(&s).unwrap();
        assert!(c.auto_guess_type);
        assert_eq!(c.auth_token_ttl, Duration::from_secs(600));
        assert_eq!(c.http.timeout, Duration::from_secs(3));
        s.insert("acess_key", "k".into());
        let err = AkeylessConfig::from_settings(&s).unwrap_err().to_string();
        assert!(err.contains("did you mean `access_key`"), "{err}");
        let mut s = Settings::for_manager("ak");
        s.insert("access_type", "password".into());
        let err = AkeylessConfig::from_settings(&s).unwrap_err().to_string();
        assert!(err.contains("access_type"), "{err}");
    }

    #[test]
    fn invalid_settings_name_the_field() {
        let ok = || {
            AkeylessBuilder::new()
                .with_access_id("p-abc")
                .with_access_key("k")
        };
        for (b, field) in [
            (AkeylessBuilder::new().with_access_key("k"), "access_id"),
            (ok().with_access_id("abc"), "access_id"),
            (ok().with_access_id("p-"), "access_id"),
            (ok().with_access_id("p-a_b"), "access_id"),
            (AkeylessBuilder::new().with_access_id("p-abc"), "access_key"),
            (ok().with_access_type(AccessType::Jwt), "jwt_env_key"),
            (
                ok().with_access_type(AccessType::Jwt)
                    .with_jwt_env_key("A=B"),
                "jwt_env_key",
            ),
            (ok().with_profile("bad profile"), "profile"),
            (ok().with_profile("a/../b"), "profile"),
            (ok().with_api_host("not a url"), "api_host"),
            (ok().with_api_host("ftp://host"), "api_host"),
            (ok().with_api_host("https://host/?x=1"), "api_host"),
            (ok().with_api_host("https://u:pw@host"), "api_host"),
            (ok().with_api_host("http://10.1.2.3:8000"), "api_host"),
            (ok().with_auth_token_ttl(Duration::ZERO), "auth_token_ttl"),
            (
                ok().with_auth_token_ttl(Duration::from_secs(86_400)),
                "auth_token_ttl",
            ),
            (
                ok().with_token_refresh_buffer(Duration::from_secs(3600)),
                "token_refresh_buffer",
            ),
        ] {
            let text = config_err(b.build());
            assert!(text.contains(field), "{text} should name {field}");
        }
        for (var, value) in [
            ("AKEYLESS_AUTO_GUESS_TYPE", "maybe"),
            ("AKEYLESS_AUTH_TOKEN_TTL", "soon"),
            ("AKEYLESS_TOKEN_REFRESH_BUFFER", "-1"),
            ("AKEYLESS_ACCESS_TYPE", "password"),
            ("AKEYLESS_MAX_PAGES", "many"),
        ] {
            let err = env(&[(var, value)]).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
            assert!(err.to_string().contains(var), "{err} should name {var}");
        }
    }

    #[test]
    fn plaintext_to_a_remote_host_needs_the_opt_in() {
        let mut http = HttpConfig::default();
        http.allow_insecure_transport = true;
        AkeylessBuilder::new()
            .with_access_id("p-abc")
            .with_access_key("k")
            .with_api_host("http://10.1.2.3:8000")
            .with_http(http)
            .build()
            .unwrap();
    }

    #[cfg(not(feature = "aws-iam"))]
    #[test]
    fn aws_iam_without_the_feature_names_it() {
        let text = config_err(
            AkeylessBuilder::new()
                .with_access_id("p-abc")
                .with_access_type(AccessType::AwsIam)
                .build(),
        );
        assert!(text.contains("aws-iam"), "{text}");
        assert!(text.contains("access_type"), "{text}");
    }

    #[test]
    fn debug_hides_the_access_key() {
        let b = AkeylessBuilder::new()
            .with_access_id("p-abc")
            .with_access_key("sr-super-secret-key");
        assert!(!format!("{b:?}").contains("sr-super-secret-key"));
    }

    #[test]
    fn the_field_table_matches_the_struct() {
        let fields = AkeylessConfig::fields();
        let keys: Vec<&str> = fields.iter().map(|f| f.key).collect();
        assert_eq!(keys[..3], ["access_id", "access_type", "access_key"]);
        assert!(keys.contains(&"timeout") && keys.contains(&"max_list_items"));
        for f in &fields {
            assert!(f.env.iter().all(|e| e.starts_with("AKEYLESS_")), "{f:?}");
        }
    }
}
