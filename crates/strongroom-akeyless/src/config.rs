//! The builder: typed settings, `from_env()`, validation at `build()`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use strongroom_core::settings::{parse_bool, parse_duration};
use strongroom_core::{Clock, Error, HttpOptions, Result, RetryPolicy, SecretValue, SystemClock};

use crate::store::AkeylessStore;

/// The default API endpoint.
pub const DEFAULT_API_HOST: &str = "https://api.akeyless.io";
/// Default token lifetime when `/auth` does not say (Akeyless tokens live one hour).
pub const DEFAULT_AUTH_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Default time before expiry at which the token is refreshed.
pub const DEFAULT_TOKEN_REFRESH_BUFFER: Duration = Duration::from_secs(300);

/// How the store logs in to Akeyless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
            other => Err(Error::config(
                "access_type",
                format!("`{other}` is not one of access_key, jwt, saml, aws_iam"),
            )),
        }
    }
}

/// Where environment variables are read from.
pub(crate) type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

fn process_env() -> EnvLookup {
    Arc::new(|name: &str| std::env::var(name).ok())
}

/// Builds an [`AkeylessStore`].
///
/// Settings (and their `from_env()` variables): `access_id` (`AKEYLESS_ACCESS_ID`, must match
/// `p-[0-9a-zA-Z]+`), `access_type` (`AKEYLESS_ACCESS_TYPE`: `access_key`, `jwt`, `saml`,
/// `aws_iam`; default `access_key`), `access_key` (`AKEYLESS_ACCESS_KEY`), `jwt_env_key`
/// (`AKEYLESS_JWT_ENV_KEY`, required for `jwt`), `api_host` (`AKEYLESS_API_HOST`, default
/// `https://api.akeyless.io`; a gateway base URL such as `https://gw:8000/api/v2` works too),
/// `profile` (`AKEYLESS_PROFILE`, SAML, `[0-9a-zA-Z-]+`, default `default`), `auto_guess_type`
/// (`AKEYLESS_AUTO_GUESS_TYPE`), `auth_token_ttl` (`AKEYLESS_AUTH_TOKEN_TTL`, seconds or a
/// duration such as `1h`, default 3600 s) and `token_refresh_buffer`
/// (`AKEYLESS_TOKEN_REFRESH_BUFFER`, default 300 s). Invalid settings fail at
/// [`AkeylessBuilder::build`] with a `Config` error naming the setting.
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
#[derive(Clone)]
pub struct AkeylessBuilder {
    pub(crate) access_id: Option<String>,
    pub(crate) access_type: Option<String>,
    pub(crate) access_key: Option<SecretValue>,
    pub(crate) jwt_env_key: Option<String>,
    pub(crate) api_host: Option<String>,
    pub(crate) profile: Option<String>,
    pub(crate) auto_guess_type: bool,
    pub(crate) auth_token_ttl: Duration,
    pub(crate) token_refresh_buffer: Duration,
    pub(crate) saml_creds_dir: Option<PathBuf>,
    pub(crate) http: HttpOptions,
    pub(crate) retry: RetryPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) env: EnvLookup,
    /// Problems found while reading the environment, reported by `build()`.
    pub(crate) deferred: Vec<Error>,
    #[cfg(feature = "aws-iam")]
    pub(crate) aws_credentials: Option<aws_credential_types::Credentials>,
}

impl fmt::Debug for AkeylessBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AkeylessBuilder")
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

impl Default for AkeylessBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl AkeylessBuilder {
    /// An empty builder (defaults everywhere; `access_id` is required).
    pub fn new() -> Self {
        AkeylessBuilder {
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
            http: HttpOptions::default(),
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            env: process_env(),
            deferred: Vec::new(),
            #[cfg(feature = "aws-iam")]
            aws_credentials: None,
        }
    }

    /// A builder filled from the `AKEYLESS_*` environment variables.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`AkeylessBuilder::from_env`], reading variables through `lookup` instead of the
    /// process environment. The JWT variable (`jwt_env_key`) is read through `lookup` too, at
    /// each log-in.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        let env: EnvLookup = Arc::new(lookup);
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut b = AkeylessBuilder::new();
        b.access_id = get("AKEYLESS_ACCESS_ID");
        b.access_type = get("AKEYLESS_ACCESS_TYPE");
        b.access_key = get("AKEYLESS_ACCESS_KEY").map(SecretValue::from);
        b.jwt_env_key = get("AKEYLESS_JWT_ENV_KEY");
        b.api_host = get("AKEYLESS_API_HOST");
        b.profile = get("AKEYLESS_PROFILE");
        if let Some(v) = get("AKEYLESS_AUTO_GUESS_TYPE") {
            match parse_bool(&v) {
                Some(x) => b.auto_guess_type = x,
                None => b.deferred.push(Error::config(
                    "auto_guess_type",
                    format!("AKEYLESS_AUTO_GUESS_TYPE=`{v}` is not a boolean (true/false)"),
                )),
            }
        }
        for (var, setting) in [
            ("AKEYLESS_AUTH_TOKEN_TTL", "auth_token_ttl"),
            ("AKEYLESS_TOKEN_REFRESH_BUFFER", "token_refresh_buffer"),
        ] {
            if let Some(v) = get(var) {
                match parse_duration(&v) {
                    Some(d) if setting == "auth_token_ttl" => b.auth_token_ttl = d,
                    Some(d) => b.token_refresh_buffer = d,
                    None => b.deferred.push(Error::config(
                        setting,
                        format!("{var}=`{v}` is not a number of seconds or a duration like `5m`"),
                    )),
                }
            }
        }
        b.env = env;
        b
    }

    /// Sets `access_id` (`p-…`).
    pub fn with_access_id(mut self, id: impl Into<String>) -> Self {
        self.access_id = Some(id.into());
        self
    }
    /// Sets `access_type`.
    pub fn with_access_type(mut self, t: AccessType) -> Self {
        self.access_type = Some(t.as_str().to_string());
        self
    }
    /// Sets `access_key` (for `access_key` log-ins).
    pub fn with_access_key(mut self, key: impl Into<SecretValue>) -> Self {
        self.access_key = Some(key.into());
        self
    }
    /// Sets `jwt_env_key`: the environment variable holding the JWT (read at each log-in).
    pub fn with_jwt_env_key(mut self, var: impl Into<String>) -> Self {
        self.jwt_env_key = Some(var.into());
        self
    }
    /// Sets `api_host` (an API URL or a gateway base URL such as `https://gw:8000/api/v2`).
    pub fn with_api_host(mut self, url: impl Into<String>) -> Self {
        self.api_host = Some(url.into());
        self
    }
    /// Sets the SAML `profile`.
    pub fn with_profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }
    /// Sets `auto_guess_type`: look up each item's type once (`describe-item`) and read
    /// dynamic and rotated secrets with their own calls.
    pub fn with_auto_guess_type(mut self, yes: bool) -> Self {
        self.auto_guess_type = yes;
        self
    }
    /// Sets `auth_token_ttl`: the token lifetime when `/auth` does not give one, and the
    /// longest lifetime ever trusted.
    pub fn with_auth_token_ttl(mut self, ttl: Duration) -> Self {
        self.auth_token_ttl = ttl;
        self
    }
    /// Sets `token_refresh_buffer`: log in again this long before the token expires.
    pub fn with_token_refresh_buffer(mut self, buffer: Duration) -> Self {
        self.token_refresh_buffer = buffer;
        self
    }
    /// Where the Akeyless CLI keeps SAML credentials (default `~/.akeyless/.tmp_creds`).
    pub fn with_saml_creds_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.saml_creds_dir = Some(dir.into());
        self
    }
    /// HTTP options (timeouts, TLS, proxy).
    pub fn with_http_options(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }
    /// Retry policy for temporary failures of idempotent calls.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
    /// The clock for token expiry and dynamic-secret leases (tests pass a `ManualClock`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// Static AWS credentials for `aws_iam` instead of the default credential chain.
    #[cfg(feature = "aws-iam")]
    pub fn with_aws_credentials(mut self, creds: aws_credential_types::Credentials) -> Self {
        self.aws_credentials = Some(creds);
        self
    }

    /// Validates the settings and builds the store. No network call is made.
    pub fn build(self) -> Result<AkeylessStore> {
        let settings = self.validate()?;
        AkeylessStore::from_settings(settings)
    }

    fn validate(mut self) -> Result<Settings> {
        if let Some(err) = self.deferred.drain(..).next() {
            return Err(err);
        }
        let access_id = self
            .access_id
            .clone()
            .ok_or_else(|| Error::config("access_id", "is required (AKEYLESS_ACCESS_ID)"))?;
        if !valid_access_id(&access_id) {
            return Err(Error::config("access_id", "must match `p-[0-9a-zA-Z]+`"));
        }
        let access_type = match &self.access_type {
            Some(t) => t.parse::<AccessType>()?,
            None => AccessType::AccessKey,
        };
        let method = match access_type {
            AccessType::AccessKey => {
                let key = self
                    .access_key
                    .clone()
                    .filter(|k| !k.is_blank())
                    .ok_or_else(|| {
                        Error::config("access_key", "is required for access_type access_key")
                    })?;
                Method::AccessKey(key)
            }
            AccessType::Jwt => {
                let var = self
                    .jwt_env_key
                    .clone()
                    .filter(|v| !v.trim().is_empty())
                    .ok_or_else(|| {
                        Error::config("jwt_env_key", "is required for access_type jwt")
                    })?;
                Method::Jwt(var)
            }
            AccessType::Saml => {
                let dir = match &self.saml_creds_dir {
                    Some(d) => d.clone(),
                    None => default_saml_dir().ok_or_else(|| {
                        Error::config(
                            "saml_creds_dir",
                            "HOME is not set; set the directory of the Akeyless CLI's credentials",
                        )
                    })?,
                };
                Method::Saml(dir)
            }
            AccessType::AwsIam => aws_method(&self)?,
        };
        let profile = self
            .profile
            .clone()
            .unwrap_or_else(|| "default".to_string());
        if profile.is_empty()
            || !profile
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Error::config("profile", "must match `[0-9a-zA-Z-]+`"));
        }
        let api_base = parse_api_host(self.api_host.as_deref().unwrap_or(DEFAULT_API_HOST))?;
        if self.auth_token_ttl < Duration::from_secs(1) {
            return Err(Error::config("auth_token_ttl", "must be at least 1 second"));
        }
        if self.token_refresh_buffer >= self.auth_token_ttl {
            return Err(Error::config(
                "token_refresh_buffer",
                "must be shorter than auth_token_ttl (or every call would log in again)",
            ));
        }
        Ok(Settings {
            access_id,
            access_type,
            method,
            profile,
            api_base,
            auto_guess_type: self.auto_guess_type,
            auth_token_ttl: self.auth_token_ttl,
            token_refresh_buffer: self.token_refresh_buffer,
            http: self.http,
            retry: self.retry,
            clock: self.clock,
            env: self.env,
        })
    }
}

#[cfg(feature = "aws-iam")]
fn aws_method(b: &AkeylessBuilder) -> Result<Method> {
    Ok(Method::AwsIam(b.aws_credentials.clone()))
}

#[cfg(not(feature = "aws-iam"))]
fn aws_method(_: &AkeylessBuilder) -> Result<Method> {
    Err(Error::config(
        "access_type",
        "aws_iam needs the `aws-iam` cargo feature of strongroom-akeyless (off by default)",
    ))
}

/// The log-in method with what it needs.
#[derive(Clone)]
pub(crate) enum Method {
    AccessKey(SecretValue),
    Jwt(String),
    Saml(PathBuf),
    #[cfg(feature = "aws-iam")]
    AwsIam(Option<aws_credential_types::Credentials>),
}

/// Validated settings.
pub(crate) struct Settings {
    pub(crate) access_id: String,
    pub(crate) access_type: AccessType,
    pub(crate) method: Method,
    pub(crate) profile: String,
    pub(crate) api_base: String,
    pub(crate) auto_guess_type: bool,
    pub(crate) auth_token_ttl: Duration,
    pub(crate) token_refresh_buffer: Duration,
    pub(crate) http: HttpOptions,
    pub(crate) retry: RetryPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) env: EnvLookup,
}

fn valid_access_id(id: &str) -> bool {
    id.strip_prefix("p-")
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn default_saml_dir() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".akeyless").join(".tmp_creds"))
}

/// `https://api.akeyless.io` → itself; `https://gw:8000/api/v2/` → `https://gw:8000/api/v2`.
fn parse_api_host(raw: &str) -> Result<String> {
    let url = url::Url::parse(raw.trim())
        .map_err(|e| Error::config("api_host", format!("not a valid URL: {e}")))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(Error::config(
            "api_host",
            "must be an http:// or https:// URL",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config("api_host", "has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(
            "api_host",
            "must not have a query or fragment",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config("api_host", "must not carry credentials"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use strongroom_core::ErrorKind;

    fn env(pairs: &[(&str, &str)]) -> AkeylessBuilder {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AkeylessBuilder::from_lookup(move |k| map.get(k).cloned())
    }

    fn config_err(b: AkeylessBuilder) -> String {
        let err = b.build().unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
        err.to_string()
    }

    #[test]
    fn from_env_reads_every_variable() {
        let b = env(&[
            ("AKEYLESS_ACCESS_ID", "p-abc123"),
            ("AKEYLESS_ACCESS_TYPE", "jwt"),
            ("AKEYLESS_JWT_ENV_KEY", "MY_JWT"),
            ("AKEYLESS_API_HOST", "https://gw.example:8000/api/v2/"),
            ("AKEYLESS_PROFILE", "team-a"),
            ("AKEYLESS_AUTO_GUESS_TYPE", "true"),
            ("AKEYLESS_AUTH_TOKEN_TTL", "1800"),
            ("AKEYLESS_TOKEN_REFRESH_BUFFER", "2m"),
        ]);
        let s = b.validate().unwrap();
        assert_eq!(s.access_id, "p-abc123");
        assert_eq!(s.access_type, AccessType::Jwt);
        assert_eq!(s.api_base, "https://gw.example:8000/api/v2");
        assert_eq!(s.profile, "team-a");
        assert!(s.auto_guess_type);
        assert_eq!(s.auth_token_ttl, Duration::from_secs(1800));
        assert_eq!(s.token_refresh_buffer, Duration::from_secs(120));
        assert!(matches!(s.method, Method::Jwt(ref v) if v == "MY_JWT"));
    }

    #[test]
    fn defaults() {
        let s = env(&[("AKEYLESS_ACCESS_ID", "p-x1"), ("AKEYLESS_ACCESS_KEY", "k")])
            .validate()
            .unwrap();
        assert_eq!(s.access_type, AccessType::AccessKey);
        assert_eq!(s.api_base, DEFAULT_API_HOST);
        assert_eq!(s.profile, "default");
        assert!(!s.auto_guess_type);
        assert_eq!(s.auth_token_ttl, Duration::from_secs(3600));
        assert_eq!(s.token_refresh_buffer, Duration::from_secs(300));
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
            (ok().with_profile("bad profile"), "profile"),
            (ok().with_profile("a/b"), "profile"),
            (ok().with_api_host("not a url"), "api_host"),
            (ok().with_api_host("ftp://host"), "api_host"),
            (ok().with_api_host("https://host/?x=1"), "api_host"),
            (ok().with_auth_token_ttl(Duration::ZERO), "auth_token_ttl"),
            (
                ok().with_token_refresh_buffer(Duration::from_secs(3600)),
                "token_refresh_buffer",
            ),
            (
                env(&[
                    ("AKEYLESS_ACCESS_ID", "p-a"),
                    ("AKEYLESS_ACCESS_TYPE", "password"),
                ]),
                "access_type",
            ),
            (
                env(&[
                    ("AKEYLESS_ACCESS_ID", "p-a"),
                    ("AKEYLESS_ACCESS_KEY", "k"),
                    ("AKEYLESS_AUTO_GUESS_TYPE", "maybe"),
                ]),
                "auto_guess_type",
            ),
            (
                env(&[
                    ("AKEYLESS_ACCESS_ID", "p-a"),
                    ("AKEYLESS_ACCESS_KEY", "k"),
                    ("AKEYLESS_AUTH_TOKEN_TTL", "soon"),
                ]),
                "auth_token_ttl",
            ),
            (
                env(&[
                    ("AKEYLESS_ACCESS_ID", "p-a"),
                    ("AKEYLESS_ACCESS_KEY", "k"),
                    ("AKEYLESS_TOKEN_REFRESH_BUFFER", "-1"),
                ]),
                "token_refresh_buffer",
            ),
        ] {
            let text = config_err(b);
            assert!(
                text.contains(&format!("`{field}`")),
                "{text} should name {field}"
            );
        }
    }

    #[cfg(not(feature = "aws-iam"))]
    #[test]
    fn aws_iam_without_the_feature_names_it() {
        let text = config_err(
            AkeylessBuilder::new()
                .with_access_id("p-abc")
                .with_access_type(AccessType::AwsIam),
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
}
