//! Settings: [`ConjurConfig`] (filled from TOML, the `CYBERARK_*` environment or the builder)
//! and [`ConjurBuilder`], a thin wrapper over it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use strongroom_core::config::parse::{self, de};
use strongroom_core::config::{
    Field, FieldKind, HttpConfig, HttpPart, ProviderConfig, StoreConfig,
};
use strongroom_core::provider::PageBudget;
use strongroom_core::provider::http::HttpClient;
use strongroom_core::{Clock, Result, SecretValue, SystemClock};

use crate::api::Api;
use crate::auth::Auth;
use crate::error::PROVIDER;
use crate::policy;
use crate::store::{ConjurStore, Parts};

/// The default Conjur URL (LiteLLM's).
pub const DEFAULT_API_BASE: &str = "http://127.0.0.1:8080";
/// The default account.
pub const DEFAULT_ACCOUNT: &str = "default";
/// The default login.
pub const DEFAULT_USERNAME: &str = "admin";
/// The default token refresh interval.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(300);
/// The root policy branch.
pub const DEFAULT_POLICY_BRANCH: &str = "root";

/// Every setting of the Conjur provider. TOML keys are the field names; the environment
/// variables are the ones LiteLLM's CyberArk manager reads ([`ConjurConfig::fields`]).
/// Unknown keys are refused. [`StoreConfig::build`] validates everything and builds the store.
///
/// ```
/// use strongroom_conjur::ConjurConfig;
/// use strongroom_core::config::ProviderConfig;
/// let vars = [("CYBERARK_API_BASE", "https://conjur.example"), ("CYBERARK_API_KEY", "k")];
/// let config = ConjurConfig::from_lookup(|k| {
///     vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
/// })
/// .unwrap();
/// assert_eq!(config.api_base.as_deref(), Some("https://conjur.example"));
/// assert_eq!(config.username, "admin");
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConjurConfig {
    /// The Conjur URL, http or https; a path prefix is kept (default `http://127.0.0.1:8080`).
    /// Plaintext to a host that is not this machine needs `allow_insecure_transport`.
    pub api_base: Option<String>,
    /// The Conjur account; may not contain `:` (default `default`).
    pub account: String,
    /// The login: a user, or a host as `host/<id>` (default `admin`).
    pub username: String,
    /// The API key of the standard `authn` authenticator; required unless `authn-cert` is used
    /// (default none).
    pub api_key: Option<SecretValue>,
    /// Log in again once a token is this old (default 300 s).
    #[serde(deserialize_with = "de::duration")]
    pub refresh_interval: Duration,
    /// The policy branch writes declare variables in (default `root`). Names stay full
    /// variable ids: only names under `<branch>/` can be written when it is not `root`.
    pub policy_branch: String,
    /// Log in with the `authn-cert` authenticator of this service id, with the client
    /// certificate alone (default none: API key).
    pub authn_cert_service_id: Option<String>,
    /// With `authn-cert`: put the login in the path (default true); false lets the server
    /// take the host from the certificate's SPIFFE id.
    #[serde(deserialize_with = "de::bool")]
    pub authn_cert_host_in_path: bool,
    /// How often a write retries a 409 `policy_conflict` (default 5).
    #[serde(deserialize_with = "de::number")]
    pub policy_conflict_retries: u64,
    /// The longest single wait a write accepts from a conflict's `Retry-After` (default 10 s).
    #[serde(deserialize_with = "de::duration")]
    pub policy_conflict_max_wait: Duration,
    /// Names per batch request of `read_many` (default 50).
    #[serde(deserialize_with = "de::number")]
    pub batch_size: u64,
    /// Whether `list(prefix)` passes the prefix's whole segments as `search` (default true;
    /// results are filtered by the exact prefix anyway).
    #[serde(deserialize_with = "de::bool")]
    pub list_search: bool,
    /// Resources per page of `list` (default 1000).
    #[serde(deserialize_with = "de::number")]
    pub list_page_size: u64,
    /// Timeouts, proxy, CA, client certificate and transport limits (keys flat in TOML).
    pub http: HttpConfig,
}

impl Default for ConjurConfig {
    fn default() -> Self {
        ConjurConfig {
            api_base: None,
            account: DEFAULT_ACCOUNT.to_owned(),
            username: DEFAULT_USERNAME.to_owned(),
            api_key: None,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            policy_branch: DEFAULT_POLICY_BRANCH.to_owned(),
            authn_cert_service_id: None,
            authn_cert_host_in_path: true,
            policy_conflict_retries: 5,
            policy_conflict_max_wait: Duration::from_secs(10),
            batch_size: 50,
            list_search: true,
            list_page_size: 1000,
            http: HttpConfig::default(),
        }
    }
}

impl ProviderConfig for ConjurConfig {
    const PROVIDER: &'static str = PROVIDER;
    const FIELDS: &'static [Field] = &[
        Field::new(
            "api_base",
            &["CYBERARK_API_BASE"],
            FieldKind::Address,
            DEFAULT_API_BASE,
        ),
        Field::new(
            "account",
            &["CYBERARK_ACCOUNT"],
            FieldKind::Plain,
            DEFAULT_ACCOUNT,
        ),
        Field::new(
            "username",
            &["CYBERARK_USERNAME"],
            FieldKind::Plain,
            DEFAULT_USERNAME,
        ),
        Field::new("api_key", &["CYBERARK_API_KEY"], FieldKind::Credential, ""),
        Field::new(
            "refresh_interval",
            &["CYBERARK_REFRESH_INTERVAL"],
            FieldKind::Plain,
            "300s",
        ),
        Field::new(
            "policy_branch",
            &["CYBERARK_POLICY_BRANCH"],
            FieldKind::Plain,
            DEFAULT_POLICY_BRANCH,
        ),
        Field::new(
            "authn_cert_service_id",
            &["CYBERARK_AUTHN_CERT_SERVICE_ID"],
            FieldKind::Plain,
            "",
        ),
        Field::new("authn_cert_host_in_path", &[], FieldKind::Plain, "true"),
        Field::new("policy_conflict_retries", &[], FieldKind::Plain, "5"),
        Field::new("policy_conflict_max_wait", &[], FieldKind::Plain, "10s"),
        Field::new("batch_size", &[], FieldKind::Plain, "50"),
        Field::new("list_search", &[], FieldKind::Plain, "true"),
        Field::new("list_page_size", &[], FieldKind::Plain, "1000"),
    ];
    const HTTP: Option<HttpPart> = Some(HttpPart {
        env_prefix: "CYBERARK_",
        aliases: &[
            (
                "tls_verify",
                &["CYBERARK_SSL_VERIFY", "CYBERARK_TLS_VERIFY"],
            ),
            ("ca_file", &["CYBERARK_CA_CERT", "CYBERARK_CA_FILE"]),
        ],
        without: &[],
    });
}

/// How the store logs in.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// `POST /authn/{account}/{login}/authenticate` with the API key as body (a configured
    /// client certificate is presented in the TLS handshake too).
    ApiKey,
    /// `POST /authn-cert/{service_id}/{account}[/{login}]/authenticate` with an empty body; the
    /// client certificate proves the identity.
    AuthnCert {
        /// The authenticator's service id.
        service_id: String,
        /// Whether the login goes into the path ("request mode"); `false` lets the server
        /// derive the host from the certificate (SPIFFE mode).
        host_in_path: bool,
    },
}

impl fmt::Debug for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMode::ApiKey => f.write_str("ApiKey"),
            AuthMode::AuthnCert {
                service_id,
                host_in_path,
            } => f
                .debug_struct("AuthnCert")
                .field("service_id", service_id)
                .field("host_in_path", host_in_path)
                .finish(),
        }
    }
}

impl StoreConfig for ConjurConfig {
    type Store = ConjurStore;

    fn build(self) -> Result<ConjurStore> {
        self.build_with_clock(Arc::new(SystemClock))
    }
}

/// A plain text setting: not empty, no surrounding space or control characters.
fn check_text(key: &str, v: &str) -> Result<()> {
    if v.is_empty() {
        return Err(ConjurConfig::field_error(key, "may not be empty"));
    }
    if v.trim() != v || v.chars().any(strongroom_core::is_forbidden_char) {
        return Err(ConjurConfig::field_error(
            key,
            "may not contain control characters or surrounding white space",
        ));
    }
    Ok(())
}

impl ConjurConfig {
    /// Validates every setting and builds the store, with `clock` for token times.
    pub(crate) fn build_with_clock(self, clock: Arc<dyn Clock>) -> Result<ConjurStore> {
        self.http.validate(PROVIDER)?;
        let base = self
            .http
            .address(
                PROVIDER,
                // Labelled like `field_error` labels, so the message names the variable too.
                "api_base` (env `CYBERARK_API_BASE`)",
                self.api_base.as_deref().unwrap_or(DEFAULT_API_BASE),
                self.api_base.is_none(),
            )?
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        check_text("account", &self.account)?;
        if self.account.contains(':') {
            return Err(Self::field_error(
                "account",
                "may not contain `:` (it separates the parts of a Conjur resource id)",
            ));
        }
        check_text("username", &self.username)?;
        if self.refresh_interval.is_zero() {
            return Err(Self::field_error(
                "refresh_interval",
                "must be more than zero",
            ));
        }
        let branch = parse::server_path(&self.policy_branch)
            .map_err(|why| Self::field_error("policy_branch", why))?
            .filter(|b| b != DEFAULT_POLICY_BRANCH);
        if let Some(why) = branch.as_deref().and_then(policy::variable_id_problem) {
            return Err(Self::field_error("policy_branch", why));
        }
        if self.batch_size == 0 || self.list_page_size == 0 {
            let key = if self.batch_size == 0 {
                "batch_size"
            } else {
                "list_page_size"
            };
            return Err(Self::field_error(key, "must be at least 1"));
        }
        let has_cert = self.http.client_cert.is_some() || self.http.client_identity_pem.is_some();
        if has_cert && !base.starts_with("https://") {
            return Err(Self::field_error(
                "client_cert",
                "a client certificate needs an https:// api_base",
            ));
        }
        let mode = match &self.authn_cert_service_id {
            Some(service_id) => {
                check_text("authn_cert_service_id", service_id)?;
                if !has_cert {
                    return Err(Self::field_error(
                        "authn_cert_service_id",
                        "authn-cert logs in with a client certificate: set client_cert and client_key \
                         (CYBERARK_CLIENT_CERT, CYBERARK_CLIENT_KEY)",
                    ));
                }
                AuthMode::AuthnCert {
                    service_id: service_id.clone(),
                    host_in_path: self.authn_cert_host_in_path,
                }
            }
            None if self.api_key.as_ref().is_none_or(SecretValue::is_blank) => {
                return Err(Self::field_error(
                    "api_key",
                    "no API key: Conjur's standard authenticator needs one even when a client \
                     certificate is presented; set authn_cert_service_id \
                     (CYBERARK_AUTHN_CERT_SERVICE_ID) to log in with the certificate alone",
                ));
            }
            None => AuthMode::ApiKey,
        };
        let http = HttpClient::new(PROVIDER, &self.http)?.with_clock(Arc::clone(&clock));
        let api = Api::new(http, base, self.account.clone());
        let auth = Auth::new(
            mode,
            self.username.clone(),
            self.api_key,
            self.refresh_interval,
            clock,
        );
        Ok(ConjurStore::new(Parts {
            api,
            auth,
            login: self.username,
            branch,
            conflict_retries: self.policy_conflict_retries,
            conflict_max_wait: self.policy_conflict_max_wait,
            backoff: self.http.retry_policy(),
            batch_size: self.batch_size,
            list_search: self.list_search,
            list_page_size: self.list_page_size,
            pages: PageBudget::from_config(&self.http),
        }))
    }
}

/// Builds a [`ConjurStore`]: setters over a [`ConjurConfig`], validated by
/// [`ConjurBuilder::build`].
///
/// ```no_run
/// use strongroom_conjur::ConjurBuilder;
/// use strongroom_core::{ReadOptions, SecretName, SecretStore};
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = ConjurBuilder::from_env()?          // CYBERARK_API_BASE, CYBERARK_API_KEY, …
///     .with_api_base("https://conjur.example.com")
///     .with_account("myorg")
///     .with_login("host/litellm")
///     .with_api_key("3x4mpl3-k3y")
///     .build()?;
/// let name = SecretName::new("litellm/openai-api-key")?;
/// if let Some(secret) = store.read(&name, &ReadOptions::new()).await? {
///     let _value = secret.value.expose_str()?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct ConjurBuilder {
    config: ConjurConfig,
    clock: Option<Arc<dyn Clock>>,
}

impl ConjurBuilder {
    /// Defaults only (see [`ConjurConfig`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts from a config.
    pub fn from_config(config: ConjurConfig) -> Self {
        ConjurBuilder {
            config,
            clock: None,
        }
    }

    /// Reads the `CYBERARK_*` environment variables ([`ConjurConfig::fields`]); an empty
    /// variable counts as unset, a malformed one is an error naming it.
    pub fn from_env() -> Result<Self> {
        ConjurConfig::from_env().map(Self::from_config)
    }

    /// Like [`ConjurBuilder::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        ConjurConfig::from_lookup(lookup).map(Self::from_config)
    }

    /// The config so far.
    pub fn config(&self) -> &ConjurConfig {
        &self.config
    }

    /// Sets `api_base`.
    pub fn with_api_base(mut self, url: impl Into<String>) -> Self {
        self.config.api_base = Some(url.into());
        self
    }
    /// Sets `account`.
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.config.account = account.into();
        self
    }
    /// Sets `username`: a user name or `host/<id>`.
    pub fn with_login(mut self, login: impl Into<String>) -> Self {
        self.config.username = login.into();
        self
    }
    /// Sets `api_key`.
    pub fn with_api_key(mut self, key: impl Into<SecretValue>) -> Self {
        self.config.api_key = Some(key.into());
        self
    }
    /// Sets `refresh_interval`: log in again once a token is this old.
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.config.refresh_interval = interval;
        self
    }
    /// Sets `policy_branch`.
    pub fn with_policy_branch(mut self, branch: impl Into<String>) -> Self {
        self.config.policy_branch = branch.into();
        self
    }
    /// Sets `authn_cert_service_id`: log in with `authn-cert` (client certificate, no key).
    pub fn with_authn_cert(mut self, service_id: impl Into<String>) -> Self {
        self.config.authn_cert_service_id = Some(service_id.into());
        self
    }
    /// Sets `authn_cert_host_in_path`.
    pub fn with_authn_cert_host_in_path(mut self, yes: bool) -> Self {
        self.config.authn_cert_host_in_path = yes;
        self
    }
    /// Sets `policy_conflict_retries` and `policy_conflict_max_wait`.
    pub fn with_policy_conflict_retries(mut self, retries: usize, max_wait: Duration) -> Self {
        self.config.policy_conflict_retries = retries as u64;
        self.config.policy_conflict_max_wait = max_wait;
        self
    }
    /// Sets `batch_size`.
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.config.batch_size = n as u64;
        self
    }
    /// Sets `list_search`.
    pub fn with_list_search(mut self, yes: bool) -> Self {
        self.config.list_search = yes;
        self
    }
    /// Sets `list_page_size`.
    pub fn with_list_page_size(mut self, n: usize) -> Self {
        self.config.list_page_size = n as u64;
        self
    }
    /// The clock token times and the retry budget are measured with (tests pass a
    /// `ManualClock`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Checks every setting and builds the store. Nothing is sent until the first operation.
    pub fn build(self) -> Result<ConjurStore> {
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        self.config.build_with_clock(clock)
    }
}

/// Timeouts, proxy, CAs, client certificate, TLS verification, retries: the shared setters.
impl strongroom_core::HttpSetters for ConjurBuilder {
    fn http_mut(&mut self) -> &mut strongroom_core::config::HttpConfig {
        &mut self.config.http
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::PathBuf;
    use strongroom_core::ErrorKind;
    use strongroom_core::config::Settings;

    fn from(vars: &[(&str, &str)]) -> Result<ConjurConfig> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConjurConfig::from_lookup(move |k| map.get(k).cloned())
    }

    fn build_err(vars: &[(&str, &str)]) -> String {
        match from(vars) {
            Err(e) => e.to_string(),
            Ok(c) => c.build().expect_err("must fail").to_string(),
        }
    }

    #[test]
    fn defaults_match_the_litellm_variables() {
        let c = from(&[("CYBERARK_API_KEY", "k")]).unwrap();
        assert_eq!(c.api_base, None);
        assert_eq!(c.account, "default");
        assert_eq!(c.username, "admin");
        assert_eq!(c.refresh_interval, Duration::from_secs(300));
        assert_eq!(c.policy_branch, "root");
        assert!(c.http.tls_verify);
        let store = c.build().unwrap();
        assert_eq!(store.api_base(), "http://127.0.0.1:8080");
    }

    #[test]
    fn env_values_are_read_by_their_exact_names() {
        let c = from(&[
            ("CYBERARK_API_BASE", "https://conjur.example.com/"),
            ("CYBERARK_ACCOUNT", "myorg"),
            ("CYBERARK_USERNAME", "host/app"),
            ("CYBERARK_API_KEY", "k"),
            ("CYBERARK_SSL_VERIFY", "False"),
            ("CYBERARK_REFRESH_INTERVAL", "5m"),
            ("CYBERARK_POLICY_BRANCH", "apps/litellm"),
            ("CYBERARK_CA_CERT", "/etc/ca.pem"),
            ("CYBERARK_TIMEOUT", "7"),
            // Generic names are never looked at.
            ("API_BASE", "https://evil"),
            ("ACCOUNT", "evil"),
        ])
        .unwrap();
        assert_eq!(c.api_base.as_deref(), Some("https://conjur.example.com/"));
        assert_eq!(c.account, "myorg");
        assert_eq!(c.username, "host/app");
        assert!(!c.http.tls_verify);
        assert_eq!(c.refresh_interval, Duration::from_secs(300));
        assert_eq!(c.policy_branch, "apps/litellm");
        assert_eq!(c.http.ca_file, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(c.http.timeout, Duration::from_secs(7));
        let store = c.build_with_clock(Arc::new(SystemClock));
        // The CA file does not exist: refused when the client is built, naming the setting.
        assert!(store.unwrap_err().to_string().contains("ca_file"));
    }

    #[test]
    fn toml_settings_take_native_types_and_refuse_unknown_keys() {
        let mut s = Settings::for_manager("conjur");
        s.insert("api_base", "https://conjur.example".into());
        s.insert("api_key", "k".into());
        s.insert("batch_size", 20.into());
        s.insert("list_search", false.into());
        s.insert("policy_conflict_max_wait", "2s".into());
        s.insert("max_pages", 3.into());
        let c = ConjurConfig::from_settings(&s).unwrap();
        assert_eq!((c.batch_size, c.list_search), (20, false));
        assert_eq!(c.policy_conflict_max_wait, Duration::from_secs(2));
        assert_eq!(c.http.max_pages, 3);
        let mut s = Settings::for_manager("conjur");
        s.insert("api_bse", "https://x".into());
        let err = ConjurConfig::from_settings(&s).unwrap_err().to_string();
        assert!(err.contains("did you mean `api_base`"), "{err}");
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let k = ("CYBERARK_API_KEY", "k");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[k, ("CYBERARK_SSL_VERIFY", "maybe")],
                "CYBERARK_SSL_VERIFY",
            ),
            (
                &[k, ("CYBERARK_REFRESH_INTERVAL", "soon")],
                "CYBERARK_REFRESH_INTERVAL",
            ),
            (
                &[k, ("CYBERARK_REFRESH_INTERVAL", "0")],
                "CYBERARK_REFRESH_INTERVAL",
            ),
            (
                &[k, ("CYBERARK_API_BASE", "conjur:8080")],
                "CYBERARK_API_BASE",
            ),
            (&[k, ("CYBERARK_API_BASE", "ftp://x")], "CYBERARK_API_BASE"),
            (
                &[k, ("CYBERARK_API_BASE", "https://u:pw@conjur.example")],
                "CYBERARK_API_BASE",
            ),
            (
                &[k, ("CYBERARK_API_BASE", "http://conjur.example")],
                "CYBERARK_API_BASE",
            ),
            (&[k, ("CYBERARK_ACCOUNT", "a:b")], "CYBERARK_ACCOUNT"),
            (
                &[k, ("CYBERARK_POLICY_BRANCH", "a/../b")],
                "CYBERARK_POLICY_BRANCH",
            ),
            (
                &[k, ("CYBERARK_POLICY_BRANCH", "a$b")],
                "CYBERARK_POLICY_BRANCH",
            ),
            (&[k, ("CYBERARK_CLIENT_CERT", "/tmp/c.pem")], "client_key"),
            (&[k, ("CYBERARK_CLIENT_KEY", "/tmp/k.pem")], "client_cert"),
            (&[], "CYBERARK_API_KEY"),
            (&[("CYBERARK_API_KEY", "   ")], "CYBERARK_API_KEY"),
            (
                &[("CYBERARK_AUTHN_CERT_SERVICE_ID", "svc")],
                "CYBERARK_AUTHN_CERT_SERVICE_ID",
            ),
            (
                &[
                    k,
                    ("CYBERARK_CLIENT_CERT", "/nonexistent/c.pem"),
                    ("CYBERARK_CLIENT_KEY", "/nonexistent/k.pem"),
                ],
                "client_cert",
            ),
            (&[k, ("CYBERARK_CA_CERT", "/nonexistent/ca.pem")], "ca_file"),
        ];
        for (vars, setting) in cases {
            let text = build_err(vars);
            assert!(
                text.contains(setting),
                "{vars:?}: {text} should name {setting}"
            );
        }
        let err = ConjurBuilder::new()
            .with_api_key("k")
            .with_login("")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Config);
        assert!(err.to_string().contains("username"), "{err}");
    }

    #[test]
    fn plaintext_to_another_host_needs_the_opt_in() {
        let c = from(&[
            ("CYBERARK_API_KEY", "k"),
            ("CYBERARK_API_BASE", "http://conjur.internal:8080"),
            ("CYBERARK_ALLOW_INSECURE_TRANSPORT", "true"),
        ])
        .unwrap();
        assert!(c.build().is_ok());
    }

    #[test]
    fn branch_is_normalised() {
        for (raw, want) in [
            ("root", None),
            ("/", None),
            ("/apps/litellm/", Some("apps/litellm")),
        ] {
            let store = ConjurBuilder::new()
                .with_api_key("k")
                .with_policy_branch(raw)
                .build()
                .unwrap();
            assert_eq!(store.policy_branch(), want, "{raw}");
        }
    }

    #[test]
    fn fields_list_every_key_with_exact_names() {
        let fields = ConjurConfig::fields();
        let env = |key: &str| fields.iter().find(|f| f.key == key).unwrap().env.clone();
        assert_eq!(env("api_base"), ["CYBERARK_API_BASE"]);
        assert_eq!(
            env("tls_verify"),
            ["CYBERARK_SSL_VERIFY", "CYBERARK_TLS_VERIFY"]
        );
        assert_eq!(env("ca_file"), ["CYBERARK_CA_CERT", "CYBERARK_CA_FILE"]);
        assert_eq!(env("client_cert"), ["CYBERARK_CLIENT_CERT"]);
        assert!(env("batch_size").is_empty());
        for f in &fields {
            assert!(f.env.iter().all(|e| e.starts_with("CYBERARK_")), "{f:?}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let b = ConjurStore::builder().with_api_key("sr-very-secret-key");
        assert!(!format!("{b:?}").contains("sr-very-secret-key"));
    }
}
