//! Settings: [`ConjurBuilder`] (builder + [`ConjurBuilder::from_env`]) and the typed settings
//! the store runs on.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use strongroom_core::settings::{parse_bool, parse_duration};
use strongroom_core::{Clock, Error, HttpOptions, Result, RetryPolicy, SecretValue, SystemClock};

use crate::policy;
use crate::store::ConjurStore;

/// `CYBERARK_API_BASE`: the Conjur URL (default `http://127.0.0.1:8080`).
pub const ENV_API_BASE: &str = "CYBERARK_API_BASE";
/// `CYBERARK_ACCOUNT`: the Conjur account (default `default`).
pub const ENV_ACCOUNT: &str = "CYBERARK_ACCOUNT";
/// `CYBERARK_USERNAME`: the login — a user (`admin`) or a host (`host/app`) (default `admin`).
pub const ENV_USERNAME: &str = "CYBERARK_USERNAME";
/// `CYBERARK_API_KEY`: the API key for the standard `authn` authenticator.
pub const ENV_API_KEY: &str = "CYBERARK_API_KEY";
/// `CYBERARK_CLIENT_CERT`: PEM file of the client certificate (mutual TLS).
pub const ENV_CLIENT_CERT: &str = "CYBERARK_CLIENT_CERT";
/// `CYBERARK_CLIENT_KEY`: PEM file of the client certificate's private key.
pub const ENV_CLIENT_KEY: &str = "CYBERARK_CLIENT_KEY";
/// `CYBERARK_SSL_VERIFY`: `true` (default) / `false`, or the path of a CA bundle to verify with.
pub const ENV_SSL_VERIFY: &str = "CYBERARK_SSL_VERIFY";
/// `CYBERARK_REFRESH_INTERVAL`: log in again after this many seconds (default 300; `5m` works).
pub const ENV_REFRESH_INTERVAL: &str = "CYBERARK_REFRESH_INTERVAL";
/// `CYBERARK_CA_CERT`: an extra CA bundle (PEM file) to trust.
pub const ENV_CA_CERT: &str = "CYBERARK_CA_CERT";
/// `CYBERARK_POLICY_BRANCH`: the policy branch new variables are declared in (default `root`).
pub const ENV_POLICY_BRANCH: &str = "CYBERARK_POLICY_BRANCH";
/// `CYBERARK_AUTHN_CERT_SERVICE_ID`: log in with the `authn-cert` authenticator of this
/// service id (client certificate only, no API key).
pub const ENV_AUTHN_CERT_SERVICE_ID: &str = "CYBERARK_AUTHN_CERT_SERVICE_ID";

/// Default `CYBERARK_API_BASE`.
pub const DEFAULT_API_BASE: &str = "http://127.0.0.1:8080";
/// Default `CYBERARK_ACCOUNT`.
pub const DEFAULT_ACCOUNT: &str = "default";
/// Default `CYBERARK_USERNAME`.
pub const DEFAULT_USERNAME: &str = "admin";
/// Default `CYBERARK_REFRESH_INTERVAL`.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(300);
/// Default policy branch.
pub const DEFAULT_POLICY_BRANCH: &str = "root";

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

#[derive(Clone)]
enum CertSource {
    Files { cert: PathBuf, key: PathBuf },
    Pem { cert: Vec<u8>, key: SecretValue },
}

/// Builds a [`ConjurStore`].
///
/// Settings and defaults match the environment variables users of the LiteLLM Conjur manager
/// already have (`CYBERARK_*`); every bad setting fails at [`ConjurBuilder::build`] with an
/// error naming it.
///
/// ```no_run
/// use strongroom_conjur::ConjurBuilder;
/// use strongroom_core::{ReadOptions, SecretName, SecretStore};
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = ConjurBuilder::from_env()          // CYBERARK_API_BASE, CYBERARK_API_KEY, …
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
#[derive(Clone)]
pub struct ConjurBuilder {
    api_base: String,
    account: String,
    login: String,
    api_key: Option<SecretValue>,
    client_cert: Option<CertSource>,
    half_cert: Option<&'static str>,
    ssl_verify: bool,
    ca_files: Vec<(&'static str, PathBuf)>,
    ca_pems: Vec<Vec<u8>>,
    refresh_interval: Duration,
    policy_branch: String,
    authn_cert_service_id: Option<String>,
    authn_cert_host_in_path: bool,
    connect_timeout: Duration,
    request_timeout: Duration,
    proxy: Option<String>,
    retry: RetryPolicy,
    policy_conflict_retries: usize,
    policy_conflict_max_wait: Duration,
    batch_size: usize,
    list_search: bool,
    list_page_size: usize,
    clock: Arc<dyn Clock>,
    /// Problems found while reading the environment, reported by `build()`.
    pending: Vec<Error>,
}

impl fmt::Debug for ConjurBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConjurBuilder")
            .field("api_base", &self.api_base)
            .field("account", &self.account)
            .field("login", &self.login)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("client_cert", &self.client_cert.is_some())
            .field("ssl_verify", &self.ssl_verify)
            .field("refresh_interval", &self.refresh_interval)
            .field("policy_branch", &self.policy_branch)
            .field("authn_cert_service_id", &self.authn_cert_service_id)
            .finish_non_exhaustive()
    }
}

impl Default for ConjurBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ConjurBuilder {
    /// Defaults only: `http://127.0.0.1:8080`, account `default`, login `admin`, no key,
    /// TLS verification on, refresh every 300 s, policy branch `root`.
    pub fn new() -> Self {
        ConjurBuilder {
            api_base: DEFAULT_API_BASE.to_string(),
            account: DEFAULT_ACCOUNT.to_string(),
            login: DEFAULT_USERNAME.to_string(),
            api_key: None,
            client_cert: None,
            half_cert: None,
            ssl_verify: true,
            ca_files: Vec::new(),
            ca_pems: Vec::new(),
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            policy_branch: DEFAULT_POLICY_BRANCH.to_string(),
            authn_cert_service_id: None,
            authn_cert_host_in_path: true,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            proxy: None,
            retry: RetryPolicy::default(),
            policy_conflict_retries: 5,
            policy_conflict_max_wait: Duration::from_secs(10),
            batch_size: 50,
            list_search: true,
            list_page_size: 1000,
            clock: Arc::new(SystemClock),
            pending: Vec::new(),
        }
    }

    /// Reads the `CYBERARK_*` environment variables (unset ones keep their defaults; an empty
    /// value counts as unset). Unparsable values are reported by [`ConjurBuilder::build`].
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Like [`ConjurBuilder::from_env`], reading variables through `get` (tests, config maps).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut b = ConjurBuilder::new();
        if let Some(v) = get(ENV_API_BASE) {
            b.api_base = v;
        }
        if let Some(v) = get(ENV_ACCOUNT) {
            b.account = v;
        }
        if let Some(v) = get(ENV_USERNAME) {
            b.login = v;
        }
        if let Some(v) = get(ENV_API_KEY) {
            b.api_key = Some(SecretValue::from(v));
        }
        match (get(ENV_CLIENT_CERT), get(ENV_CLIENT_KEY)) {
            (Some(cert), Some(key)) => {
                b.client_cert = Some(CertSource::Files {
                    cert: cert.into(),
                    key: key.into(),
                })
            }
            (Some(_), None) => b.half_cert = Some(ENV_CLIENT_KEY),
            (None, Some(_)) => b.half_cert = Some(ENV_CLIENT_CERT),
            (None, None) => {}
        }
        if let Some(v) = get(ENV_SSL_VERIFY) {
            match parse_bool(&v) {
                Some(verify) => b.ssl_verify = verify,
                None if std::path::Path::new(v.trim()).is_file() => {
                    // httpx-style `verify=<CA bundle path>`.
                    b.ssl_verify = true;
                    b.ca_files.push((ENV_SSL_VERIFY, v.trim().into()));
                }
                None => b.pending.push(Error::config(
                    ENV_SSL_VERIFY,
                    "expected true/false (or the path of an existing CA bundle)",
                )),
            }
        }
        if let Some(v) = get(ENV_REFRESH_INTERVAL) {
            match parse_duration(&v) {
                Some(d) => b.refresh_interval = d,
                None => b.pending.push(Error::config(
                    ENV_REFRESH_INTERVAL,
                    "expected a number of seconds (e.g. 300) or a duration such as `5m`",
                )),
            }
        }
        if let Some(v) = get(ENV_CA_CERT) {
            b.ca_files.push((ENV_CA_CERT, v.trim().into()));
        }
        if let Some(v) = get(ENV_POLICY_BRANCH) {
            b.policy_branch = v;
        }
        if let Some(v) = get(ENV_AUTHN_CERT_SERVICE_ID) {
            b.authn_cert_service_id = Some(v);
        }
        b
    }

    /// Sets the Conjur URL (`CYBERARK_API_BASE`).
    pub fn with_api_base(mut self, url: impl Into<String>) -> Self {
        self.api_base = url.into();
        self
    }
    /// Sets the account (`CYBERARK_ACCOUNT`).
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = account.into();
        self
    }
    /// Sets the login (`CYBERARK_USERNAME`): a user name or `host/<id>`.
    pub fn with_login(mut self, login: impl Into<String>) -> Self {
        self.login = login.into();
        self
    }
    /// Sets the API key (`CYBERARK_API_KEY`).
    pub fn with_api_key(mut self, key: impl Into<SecretValue>) -> Self {
        self.api_key = Some(key.into());
        self
    }
    /// Presents this client certificate and key (PEM files) in the TLS handshake
    /// (`CYBERARK_CLIENT_CERT`, `CYBERARK_CLIENT_KEY`).
    pub fn with_client_cert_files(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_cert = Some(CertSource::Files {
            cert: cert.into(),
            key: key.into(),
        });
        self.half_cert = None;
        self
    }
    /// Presents this client certificate and key (PEM text) in the TLS handshake.
    pub fn with_client_cert_pem(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: SecretValue,
    ) -> Self {
        self.client_cert = Some(CertSource::Pem {
            cert: cert_pem.into(),
            key: key_pem,
        });
        self.half_cert = None;
        self
    }
    /// Verifies the server's TLS certificate (`CYBERARK_SSL_VERIFY`, default `true`). Turning
    /// it off logs a warning; use it only against development servers.
    pub fn with_ssl_verify(mut self, verify: bool) -> Self {
        self.ssl_verify = verify;
        self
    }
    /// Trusts the CA certificates of this PEM file too (`CYBERARK_CA_CERT`).
    pub fn with_ca_cert_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push((ENV_CA_CERT, path.into()));
        self
    }
    /// Trusts this CA certificate (PEM text) too.
    pub fn with_ca_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pems.push(pem.into());
        self
    }
    /// Logs in again once a token is this old (`CYBERARK_REFRESH_INTERVAL`, default 300 s),
    /// or one minute before the token's own expiry, whichever comes first.
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }
    /// The policy branch new variables are declared in (`CYBERARK_POLICY_BRANCH`, default
    /// `root`).
    pub fn with_policy_branch(mut self, branch: impl Into<String>) -> Self {
        self.policy_branch = branch.into();
        self
    }
    /// Logs in with the `authn-cert` authenticator of `service_id`
    /// (`CYBERARK_AUTHN_CERT_SERVICE_ID`); needs a client certificate, no API key.
    pub fn with_authn_cert(mut self, service_id: impl Into<String>) -> Self {
        self.authn_cert_service_id = Some(service_id.into());
        self
    }
    /// With `authn-cert`: put the login in the path (`true`, default) or let the server derive
    /// the host from the certificate's SPIFFE id (`false`).
    pub fn with_authn_cert_host_in_path(mut self, yes: bool) -> Self {
        self.authn_cert_host_in_path = yes;
        self
    }
    /// Connect timeout (default 5 s).
    pub fn with_connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Whole-request timeout (default 30 s).
    pub fn with_request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }
    /// Sends every request through this proxy.
    pub fn with_proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }
    /// Retries of temporary failures (transport errors, 408/429/5xx).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
    /// How often a write retries a 409 `policy_conflict` (default 5) and the longest single
    /// wait it accepts from `Retry-After` (default 10 s).
    pub fn with_policy_conflict_retries(mut self, retries: usize, max_wait: Duration) -> Self {
        self.policy_conflict_retries = retries;
        self.policy_conflict_max_wait = max_wait;
        self
    }
    /// Names per batch request of `read_many` (default 50).
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// Whether `list(prefix)` passes the prefix's whole segments as `search` (default `true`;
    /// results are always filtered by prefix here too).
    pub fn with_list_search(mut self, yes: bool) -> Self {
        self.list_search = yes;
        self
    }
    /// Resources per page of `list` (default 1000).
    pub fn with_list_page_size(mut self, n: usize) -> Self {
        self.list_page_size = n;
        self
    }
    /// The clock the token cache uses (tests pass a `ManualClock`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks every setting and builds the store. Nothing is sent until the first operation.
    pub fn build(self) -> Result<ConjurStore> {
        let settings = self.into_settings()?;
        ConjurStore::from_settings(settings)
    }

    fn into_settings(self) -> Result<Settings> {
        if let Some(e) = self.pending.into_iter().next() {
            return Err(e);
        }
        if let Some(missing) = self.half_cert {
            return Err(Error::config(
                missing,
                "a client certificate needs both CYBERARK_CLIENT_CERT and CYBERARK_CLIENT_KEY",
            ));
        }
        let api_base = parse_base(&self.api_base)?;
        check_text(ENV_ACCOUNT, &self.account)?;
        if self.account.contains(':') {
            return Err(Error::config(
                ENV_ACCOUNT,
                "may not contain `:` (it separates the parts of a Conjur resource id)",
            ));
        }
        check_text(ENV_USERNAME, &self.login)?;
        if self.refresh_interval.is_zero() {
            return Err(Error::config(
                ENV_REFRESH_INTERVAL,
                "must be more than zero",
            ));
        }
        policy::check_branch(&self.policy_branch)
            .map_err(|why| Error::config(ENV_POLICY_BRANCH, why))?;
        if self.batch_size == 0 {
            return Err(Error::config("batch_size", "must be at least 1"));
        }
        if self.list_page_size == 0 {
            return Err(Error::config("list_page_size", "must be at least 1"));
        }
        let https = api_base.starts_with("https://");
        if self.client_cert.is_some() && !https {
            return Err(Error::config(
                ENV_CLIENT_CERT,
                "a client certificate needs an https:// CYBERARK_API_BASE",
            ));
        }
        let auth = match &self.authn_cert_service_id {
            Some(service_id) => {
                check_text(ENV_AUTHN_CERT_SERVICE_ID, service_id)?;
                if self.client_cert.is_none() {
                    return Err(Error::config(
                        ENV_AUTHN_CERT_SERVICE_ID,
                        "authn-cert logs in with a client certificate: set CYBERARK_CLIENT_CERT and CYBERARK_CLIENT_KEY",
                    ));
                }
                AuthMode::AuthnCert {
                    service_id: service_id.clone(),
                    host_in_path: self.authn_cert_host_in_path,
                }
            }
            None => {
                match &self.api_key {
                    Some(k) if !k.is_blank() => {}
                    _ => {
                        return Err(Error::config(
                            ENV_API_KEY,
                            "no API key: Conjur's standard authenticator needs one even when a client \
                             certificate is presented; set CYBERARK_AUTHN_CERT_SERVICE_ID to log in with \
                             the certificate alone (authn-cert)",
                        ));
                    }
                }
                AuthMode::ApiKey
            }
        };
        let mut http = HttpOptions::default()
            .connect_timeout(self.connect_timeout)
            .request_timeout(self.request_timeout)
            .danger_accept_invalid_certs(!self.ssl_verify);
        for (setting, path) in &self.ca_files {
            http = http.add_ca_file(setting, path)?;
        }
        for pem in self.ca_pems {
            http = http.add_ca_pem(pem);
        }
        match self.client_cert {
            Some(CertSource::Files { cert, key }) => {
                http = http.client_identity_files(ENV_CLIENT_CERT, cert, ENV_CLIENT_KEY, key)?;
            }
            Some(CertSource::Pem { cert, key }) => {
                http = http.client_identity_pem(&cert, key.expose_secret());
            }
            None => {}
        }
        if let Some(p) = self.proxy {
            http = http.proxy(p);
        }
        Ok(Settings {
            api_base,
            account: self.account,
            login: self.login,
            api_key: self.api_key,
            auth,
            http,
            refresh_interval: self.refresh_interval,
            policy_branch: self.policy_branch,
            retry: self.retry,
            policy_conflict_retries: self.policy_conflict_retries,
            policy_conflict_max_wait: self.policy_conflict_max_wait,
            batch_size: self.batch_size,
            list_search: self.list_search,
            list_page_size: self.list_page_size,
            clock: self.clock,
        })
    }
}

/// The checked settings a store runs on.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) api_base: String,
    pub(crate) account: String,
    pub(crate) login: String,
    pub(crate) api_key: Option<SecretValue>,
    pub(crate) auth: AuthMode,
    pub(crate) http: HttpOptions,
    pub(crate) refresh_interval: Duration,
    pub(crate) policy_branch: String,
    pub(crate) retry: RetryPolicy,
    pub(crate) policy_conflict_retries: usize,
    pub(crate) policy_conflict_max_wait: Duration,
    pub(crate) batch_size: usize,
    pub(crate) list_search: bool,
    pub(crate) list_page_size: usize,
    pub(crate) clock: Arc<dyn Clock>,
}

fn check_text(setting: &str, v: &str) -> Result<()> {
    if v.is_empty() {
        return Err(Error::config(setting, "may not be empty"));
    }
    if v.trim() != v || v.chars().any(strongroom_core::is_forbidden_char) {
        return Err(Error::config(
            setting,
            "may not contain control characters or surrounding white space",
        ));
    }
    Ok(())
}

fn parse_base(raw: &str) -> Result<String> {
    let raw = raw.trim();
    let url = url::Url::parse(raw)
        .map_err(|e| Error::config(ENV_API_BASE, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(
            ENV_API_BASE,
            "must start with http:// or https://",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(ENV_API_BASE, "has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(
            ENV_API_BASE,
            "may not have a query or fragment",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(
            ENV_API_BASE,
            "may not carry credentials; use CYBERARK_USERNAME and CYBERARK_API_KEY",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> ConjurBuilder {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConjurBuilder::from_lookup(move |k| map.get(k).cloned())
    }

    fn err_of(b: ConjurBuilder) -> String {
        b.into_settings().err().expect("must fail").to_string()
    }

    #[test]
    fn defaults_match_the_litellm_variables() {
        let s = from(&[(ENV_API_KEY, "k")]).into_settings().unwrap();
        assert_eq!(s.api_base, "http://127.0.0.1:8080");
        assert_eq!(s.account, "default");
        assert_eq!(s.login, "admin");
        assert_eq!(s.refresh_interval, Duration::from_secs(300));
        assert_eq!(s.policy_branch, "root");
        assert!(s.http.tls_verify);
        assert_eq!(s.auth, AuthMode::ApiKey);
    }

    #[test]
    fn env_values_are_read() {
        let s = from(&[
            (ENV_API_BASE, "https://conjur.example.com/"),
            (ENV_ACCOUNT, "myorg"),
            (ENV_USERNAME, "host/app"),
            (ENV_API_KEY, "k"),
            (ENV_SSL_VERIFY, "False"),
            (ENV_REFRESH_INTERVAL, "120"),
            (ENV_POLICY_BRANCH, "apps/litellm"),
        ])
        .into_settings()
        .unwrap();
        assert_eq!(s.api_base, "https://conjur.example.com");
        assert_eq!(s.account, "myorg");
        assert_eq!(s.login, "host/app");
        assert!(!s.http.tls_verify);
        assert_eq!(s.refresh_interval, Duration::from_secs(120));
        assert_eq!(s.policy_branch, "apps/litellm");
        let s = from(&[(ENV_API_KEY, "k"), (ENV_REFRESH_INTERVAL, "5m")])
            .into_settings()
            .unwrap();
        assert_eq!(s.refresh_interval, Duration::from_secs(300));
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let cases: Vec<(ConjurBuilder, &str)> = vec![
            (
                from(&[(ENV_API_KEY, "k"), (ENV_SSL_VERIFY, "maybe")]),
                ENV_SSL_VERIFY,
            ),
            (
                from(&[(ENV_API_KEY, "k"), (ENV_REFRESH_INTERVAL, "soon")]),
                ENV_REFRESH_INTERVAL,
            ),
            (
                from(&[(ENV_API_KEY, "k"), (ENV_REFRESH_INTERVAL, "0")]),
                ENV_REFRESH_INTERVAL,
            ),
            (
                from(&[(ENV_API_KEY, "k"), (ENV_API_BASE, "conjur:8080")]),
                ENV_API_BASE,
            ),
            (
                from(&[(ENV_API_KEY, "k"), (ENV_API_BASE, "ftp://x")]),
                ENV_API_BASE,
            ),
            (
                from(&[(ENV_API_KEY, "k"), (ENV_ACCOUNT, "a:b")]),
                ENV_ACCOUNT,
            ),
            (
                from(&[(ENV_API_KEY, "k"), (ENV_POLICY_BRANCH, "/abs")]),
                ENV_POLICY_BRANCH,
            ),
            (
                from(&[(ENV_API_KEY, "k"), (ENV_POLICY_BRANCH, "a/../b")]),
                ENV_POLICY_BRANCH,
            ),
            (
                from(&[(ENV_API_KEY, "k"), (ENV_CLIENT_CERT, "/tmp/c.pem")]),
                ENV_CLIENT_KEY,
            ),
            (
                from(&[(ENV_API_KEY, "k"), (ENV_CLIENT_KEY, "/tmp/k.pem")]),
                ENV_CLIENT_CERT,
            ),
            (from(&[]), ENV_API_KEY),
            (
                from(&[(ENV_AUTHN_CERT_SERVICE_ID, "svc")]),
                ENV_AUTHN_CERT_SERVICE_ID,
            ),
            (
                from(&[
                    (ENV_API_KEY, "k"),
                    (ENV_CLIENT_CERT, "/nonexistent/c.pem"),
                    (ENV_CLIENT_KEY, "/nonexistent/k.pem"),
                ]),
                ENV_CLIENT_CERT,
            ),
            (
                from(&[
                    (ENV_API_BASE, "https://x"),
                    (ENV_API_KEY, "k"),
                    (ENV_CLIENT_CERT, "/nonexistent/c.pem"),
                    (ENV_CLIENT_KEY, "/nonexistent/k.pem"),
                ]),
                ENV_CLIENT_CERT,
            ),
            (
                from(&[(ENV_API_KEY, "k"), (ENV_CA_CERT, "/nonexistent/ca.pem")]),
                ENV_CA_CERT,
            ),
            (
                ConjurBuilder::new().with_api_key("k").with_login(""),
                ENV_USERNAME,
            ),
            (ConjurBuilder::new().with_api_key("   "), ENV_API_KEY),
        ];
        for (b, setting) in cases {
            let text = err_of(b);
            assert!(text.contains(setting), "{text} should name {setting}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let b = ConjurBuilder::new().with_api_key("sr-very-secret-key");
        assert!(!format!("{b:?}").contains("sr-very-secret-key"));
    }
}
