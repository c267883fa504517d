//! The builder: typed settings, `from_env()`, validation at `build()`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use strongroom_core::settings::parse_duration;
use strongroom_core::{Clock, Error, HttpOptions, Result, RetryPolicy, SecretValue};

use crate::store::HcpVaultStore;

/// The default Vault address (the Vault CLI's and the reference system's default).
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:8200";
/// The default KV v2 mount.
pub const DEFAULT_MOUNT: &str = "secret";
/// The default field of the KV v2 data map that holds the value (`{"key": "<value>"}`).
pub const DEFAULT_VALUE_FIELD: &str = "key";
/// The default AppRole mount path.
pub const DEFAULT_APPROLE_MOUNT: &str = "approle";
/// The default TLS certificate auth mount path.
pub const DEFAULT_CERT_MOUNT: &str = "cert";
/// The default cache TTL suggested by this provider (`HCP_VAULT_REFRESH_INTERVAL`): one day.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(86_400);

/// How the namespace reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NamespaceMode {
    /// `X-Vault-Namespace: <ns>` header on every request (the default).
    #[default]
    Header,
    /// The namespace as a path prefix: `/v1/<ns>/<mount>/data/<name>` (as the reference
    /// system does for secret calls).
    PathPrefix,
}

impl std::str::FromStr for NamespaceMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "header" => Ok(NamespaceMode::Header),
            "path" | "path_prefix" | "path-prefix" | "prefix" => Ok(NamespaceMode::PathPrefix),
            _ => Err(Error::config(
                "HCP_VAULT_NAMESPACE_MODE",
                "expected `header` or `path`",
            )),
        }
    }
}

#[derive(Clone)]
enum Pem {
    Files { cert: PathBuf, key: PathBuf },
    Inline { cert: Vec<u8>, key: SecretValue },
}

/// Builds an [`HcpVaultStore`]: a HashiCorp Vault / OpenBao KV v2 store.
///
/// Credentials, in priority order: AppRole (role id + secret id) > TLS client certificate >
/// token. The first complete set wins; a half-configured method is an error at
/// [`HcpVaultBuilder::build`].
///
/// ```
/// use strongroom_hcp_vault::{HcpVaultBuilder, NamespaceMode};
/// let store = HcpVaultBuilder::new()
///     .with_addr("https://vault.example.com:8200")
///     .with_namespace("admin")
///     .with_namespace_mode(NamespaceMode::Header)
///     .with_approle("my-role-id", "my-secret-id")
///     .with_mount("kv")
///     .with_path_prefix("litellm")
///     .build()
///     .unwrap();
/// # let _ = store;
/// ```
#[derive(Clone)]
pub struct HcpVaultBuilder {
    addr: Option<String>,
    namespace: Option<String>,
    login_namespace: Option<String>,
    secret_namespace: Option<String>,
    namespace_mode: NamespaceMode,
    token: Option<SecretValue>,
    approle_role_id: Option<String>,
    approle_secret_id: Option<SecretValue>,
    approle_mount: String,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    client_pem: Option<Pem>,
    cert_role: Option<String>,
    cert_mount: String,
    ca_files: Vec<PathBuf>,
    ca_pems: Vec<Vec<u8>>,
    mount: String,
    path_prefix: String,
    value_field: String,
    refresh_interval: Duration,
    http: HttpOptions,
    retry: RetryPolicy,
    clock: Option<Arc<dyn Clock>>,
    env_error: Option<Error>,
}

impl fmt::Debug for HcpVaultBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HcpVaultBuilder")
            .field("addr", &self.addr)
            .field("namespace", &self.namespace)
            .field("login_namespace", &self.login_namespace)
            .field("secret_namespace", &self.secret_namespace)
            .field("namespace_mode", &self.namespace_mode)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("approle", &self.approle_role_id.as_ref().map(|_| "[set]"))
            .field("approle_mount", &self.approle_mount)
            .field(
                "client_cert",
                &(self.client_cert.is_some() || self.client_pem.is_some()),
            )
            .field("cert_role", &self.cert_role)
            .field("mount", &self.mount)
            .field("path_prefix", &self.path_prefix)
            .field("value_field", &self.value_field)
            .field("refresh_interval", &self.refresh_interval)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl Default for HcpVaultBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl HcpVaultBuilder {
    /// Defaults: address `http://127.0.0.1:8200`, mount `secret`, value field `key`, no
    /// namespace, namespace by header, refresh interval one day, no credentials.
    pub fn new() -> Self {
        HcpVaultBuilder {
            addr: None,
            namespace: None,
            login_namespace: None,
            secret_namespace: None,
            namespace_mode: NamespaceMode::Header,
            token: None,
            approle_role_id: None,
            approle_secret_id: None,
            approle_mount: DEFAULT_APPROLE_MOUNT.to_owned(),
            client_cert: None,
            client_key: None,
            client_pem: None,
            cert_role: None,
            cert_mount: DEFAULT_CERT_MOUNT.to_owned(),
            ca_files: Vec::new(),
            ca_pems: Vec::new(),
            mount: DEFAULT_MOUNT.to_owned(),
            path_prefix: String::new(),
            value_field: DEFAULT_VALUE_FIELD.to_owned(),
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            http: HttpOptions::default(),
            retry: RetryPolicy::default(),
            clock: None,
            env_error: None,
        }
    }

    /// Reads the settings from the process environment (see [`HcpVaultBuilder::from_lookup`]).
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the settings through `lookup` (a variable name → its value). Empty values count
    /// as unset. `HCP_VAULT_*` wins over the Vault CLI's `VAULT_*` fallbacks.
    ///
    /// | setting | variables |
    /// |---|---|
    /// | address | `HCP_VAULT_ADDR`, `VAULT_ADDR` |
    /// | namespace (login and secrets) | `HCP_VAULT_NAMESPACE`, `VAULT_NAMESPACE` |
    /// | login / secrets namespace | `HCP_VAULT_LOGIN_NAMESPACE` / `HCP_VAULT_SECRET_NAMESPACE` |
    /// | namespace mode | `HCP_VAULT_NAMESPACE_MODE` (`header` or `path`) |
    /// | token | `HCP_VAULT_TOKEN`, `VAULT_TOKEN` |
    /// | AppRole | `HCP_VAULT_APPROLE_ROLE_ID`, `HCP_VAULT_APPROLE_SECRET_ID`, `HCP_VAULT_APPROLE_MOUNT_PATH` |
    /// | TLS certificate | `HCP_VAULT_CLIENT_CERT`, `HCP_VAULT_CLIENT_KEY` (PEM files), `HCP_VAULT_CERT_ROLE`, `HCP_VAULT_CERT_MOUNT_PATH` |
    /// | CA bundle | `HCP_VAULT_CACERT`, `VAULT_CACERT` (PEM file) |
    /// | KV mount / path prefix / value field | `HCP_VAULT_MOUNT_NAME`, `HCP_VAULT_PATH_PREFIX`, `HCP_VAULT_VALUE_FIELD` |
    /// | cache TTL | `HCP_VAULT_REFRESH_INTERVAL` (seconds, or `1h`-style) |
    ///
    /// A value that cannot be parsed is reported by [`HcpVaultBuilder::build`], naming the
    /// variable.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use strongroom_hcp_vault::HcpVaultBuilder;
    /// let env: HashMap<&str, &str> = [
    ///     ("VAULT_ADDR", "http://127.0.0.1:8200"),
    ///     ("HCP_VAULT_TOKEN", "s.example"),
    ///     ("HCP_VAULT_REFRESH_INTERVAL", "600"),
    /// ].into();
    /// let store = HcpVaultBuilder::from_lookup(|k| env.get(k).map(|v| v.to_string()))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(strongroom_core::SecretStore::info(&store).default_ttl, Some(std::time::Duration::from_secs(600)));
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let first = |keys: &[&str]| keys.iter().find_map(|k| get(k));
        let mut b = HcpVaultBuilder::new();
        if let Some(v) = first(&["HCP_VAULT_ADDR", "VAULT_ADDR"]) {
            b = b.with_addr(v);
        }
        if let Some(v) = first(&["HCP_VAULT_NAMESPACE", "VAULT_NAMESPACE"]) {
            b = b.with_namespace(v);
        }
        if let Some(v) = get("HCP_VAULT_LOGIN_NAMESPACE") {
            b = b.with_login_namespace(v);
        }
        if let Some(v) = get("HCP_VAULT_SECRET_NAMESPACE") {
            b = b.with_secret_namespace(v);
        }
        if let Some(v) = get("HCP_VAULT_NAMESPACE_MODE") {
            match v.parse() {
                Ok(mode) => b = b.with_namespace_mode(mode),
                Err(e) => b.env_error = b.env_error.or(Some(e)),
            }
        }
        if let Some(v) = first(&["HCP_VAULT_TOKEN", "VAULT_TOKEN"]) {
            b = b.with_token(v);
        }
        let role_id = get("HCP_VAULT_APPROLE_ROLE_ID");
        let secret_id = get("HCP_VAULT_APPROLE_SECRET_ID");
        b.approle_role_id = role_id;
        b.approle_secret_id = secret_id.map(SecretValue::from);
        if let Some(v) = get("HCP_VAULT_APPROLE_MOUNT_PATH") {
            b = b.with_approle_mount(v);
        }
        b.client_cert = get("HCP_VAULT_CLIENT_CERT").map(PathBuf::from);
        b.client_key = get("HCP_VAULT_CLIENT_KEY").map(PathBuf::from);
        if let Some(v) = get("HCP_VAULT_CERT_ROLE") {
            b = b.with_cert_role(v);
        }
        if let Some(v) = get("HCP_VAULT_CERT_MOUNT_PATH") {
            b = b.with_cert_mount(v);
        }
        if let Some(v) = first(&["HCP_VAULT_CACERT", "VAULT_CACERT"]) {
            b = b.with_ca_file(v);
        }
        if let Some(v) = get("HCP_VAULT_MOUNT_NAME") {
            b = b.with_mount(v);
        }
        if let Some(v) = get("HCP_VAULT_PATH_PREFIX") {
            b = b.with_path_prefix(v);
        }
        if let Some(v) = get("HCP_VAULT_VALUE_FIELD") {
            b = b.with_value_field(v);
        }
        if let Some(v) = get("HCP_VAULT_REFRESH_INTERVAL") {
            match parse_duration(&v) {
                Some(d) => b = b.with_refresh_interval(d),
                None => {
                    b.env_error = b.env_error.or(Some(Error::config(
                        "HCP_VAULT_REFRESH_INTERVAL",
                        "expected a number of seconds (e.g. `86400`) or a duration (e.g. `24h`)",
                    )))
                }
            }
        }
        b
    }

    /// The Vault address, e.g. `https://vault.example.com:8200`.
    pub fn with_addr(mut self, addr: impl Into<String>) -> Self {
        self.addr = Some(addr.into());
        self
    }

    /// The namespace for both log-in and secret calls (`admin`, `team/a`).
    pub fn with_namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = Some(ns.into());
        self
    }

    /// The namespace for log-in calls only (overrides [`HcpVaultBuilder::with_namespace`]).
    pub fn with_login_namespace(mut self, ns: impl Into<String>) -> Self {
        self.login_namespace = Some(ns.into());
        self
    }

    /// The namespace for secret calls only (overrides [`HcpVaultBuilder::with_namespace`]).
    pub fn with_secret_namespace(mut self, ns: impl Into<String>) -> Self {
        self.secret_namespace = Some(ns.into());
        self
    }

    /// Header (default) or path-prefix namespaces.
    pub fn with_namespace_mode(mut self, mode: NamespaceMode) -> Self {
        self.namespace_mode = mode;
        self
    }

    /// A static token, used as given (never renewed; a 403 is reported, not retried).
    pub fn with_token(mut self, token: impl Into<SecretValue>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// AppRole credentials (takes priority over certificate and token).
    pub fn with_approle(
        mut self,
        role_id: impl Into<String>,
        secret_id: impl Into<SecretValue>,
    ) -> Self {
        self.approle_role_id = Some(role_id.into());
        self.approle_secret_id = Some(secret_id.into());
        self
    }

    /// The AppRole mount path (default `approle`).
    pub fn with_approle_mount(mut self, mount: impl Into<String>) -> Self {
        self.approle_mount = mount.into();
        self
    }

    /// TLS certificate log-in with a client certificate and key from PEM files (takes
    /// priority over a token). The certificate is presented on every connection.
    pub fn with_client_cert_files(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_pem = Some(Pem::Files {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// TLS certificate log-in with an in-memory client certificate and key (PEM).
    pub fn with_client_cert_pem(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<SecretValue>,
    ) -> Self {
        self.client_pem = Some(Pem::Inline {
            cert: cert_pem.into(),
            key: key_pem.into(),
        });
        self
    }

    /// The certificate role to log in as (`{"name": role}`); unset = let Vault try all roles.
    pub fn with_cert_role(mut self, role: impl Into<String>) -> Self {
        self.cert_role = Some(role.into());
        self
    }

    /// The cert auth mount path (default `cert`).
    pub fn with_cert_mount(mut self, mount: impl Into<String>) -> Self {
        self.cert_mount = mount.into();
        self
    }

    /// Trusts the CA certificates in a PEM file (on top of the system roots).
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Trusts an in-memory CA certificate (PEM).
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pems.push(pem.into());
        self
    }

    /// The KV v2 mount (default `secret`).
    pub fn with_mount(mut self, mount: impl Into<String>) -> Self {
        self.mount = mount.into();
        self
    }

    /// A path inside the mount that every name lives under (`litellm` → `secret/data/litellm/<name>`).
    pub fn with_path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = prefix.into();
        self
    }

    /// The field of the data map that holds the value (default `key`).
    pub fn with_value_field(mut self, field: impl Into<String>) -> Self {
        self.value_field = field.into();
        self
    }

    /// The cache TTL this store suggests (`StoreInfo::default_ttl`).
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// HTTP options (timeouts, proxy, extra CAs). The client identity is replaced by the
    /// certificate log-in settings when those are given.
    pub fn with_http_options(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }

    /// Retry policy for idempotent requests (reads, deletes, lists). Writes are not retried: each
    /// KV v2 write adds a version, so a repeated write could be stored twice.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The clock the log-in token cache uses (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Validates the settings and builds the store. Errors name the setting at fault.
    pub fn build(self) -> Result<HcpVaultStore> {
        if let Some(e) = self.env_error {
            return Err(e);
        }
        let addr = normalize_addr(self.addr.as_deref().unwrap_or(DEFAULT_ADDR))?;
        let namespace = clean_path("HCP_VAULT_NAMESPACE", self.namespace.as_deref())?;
        let login_namespace = match self.login_namespace.as_deref() {
            Some(ns) => clean_path("HCP_VAULT_LOGIN_NAMESPACE", Some(ns))?,
            None => namespace.clone(),
        };
        let secret_namespace = match self.secret_namespace.as_deref() {
            Some(ns) => clean_path("HCP_VAULT_SECRET_NAMESPACE", Some(ns))?,
            None => namespace,
        };
        let mount = clean_path("HCP_VAULT_MOUNT_NAME", Some(&self.mount))?
            .ok_or_else(|| Error::config("HCP_VAULT_MOUNT_NAME", "may not be empty"))?;
        let path_prefix = clean_path("HCP_VAULT_PATH_PREFIX", Some(&self.path_prefix))?;
        let approle_mount = clean_path("HCP_VAULT_APPROLE_MOUNT_PATH", Some(&self.approle_mount))?
            .ok_or_else(|| Error::config("HCP_VAULT_APPROLE_MOUNT_PATH", "may not be empty"))?;
        let cert_mount = clean_path("HCP_VAULT_CERT_MOUNT_PATH", Some(&self.cert_mount))?
            .ok_or_else(|| Error::config("HCP_VAULT_CERT_MOUNT_PATH", "may not be empty"))?;
        if self.value_field.is_empty() {
            return Err(Error::config("HCP_VAULT_VALUE_FIELD", "may not be empty"));
        }
        if self.refresh_interval.is_zero() {
            return Err(Error::config(
                "HCP_VAULT_REFRESH_INTERVAL",
                "must be greater than zero",
            ));
        }

        let mut http = self.http;
        for file in &self.ca_files {
            http = http.add_ca_file("HCP_VAULT_CACERT", file)?;
        }
        for pem in self.ca_pems {
            http = http.add_ca_pem(pem);
        }

        // Client certificate: from the env pair, or set through the builder.
        let client_pem = match (self.client_pem, self.client_cert, self.client_key) {
            (Some(p), _, _) => Some(p),
            (None, Some(cert), Some(key)) => Some(Pem::Files { cert, key }),
            (None, Some(_), None) => {
                return Err(Error::config(
                    "HCP_VAULT_CLIENT_KEY",
                    "HCP_VAULT_CLIENT_CERT is set but the key is missing",
                ));
            }
            (None, None, Some(_)) => {
                return Err(Error::config(
                    "HCP_VAULT_CLIENT_CERT",
                    "HCP_VAULT_CLIENT_KEY is set but the certificate is missing",
                ));
            }
            (None, None, None) => None,
        };
        if let Some(pem) = &client_pem {
            http = match pem {
                Pem::Files { cert, key } => http.client_identity_files(
                    "HCP_VAULT_CLIENT_CERT",
                    cert,
                    "HCP_VAULT_CLIENT_KEY",
                    key,
                )?,
                Pem::Inline { cert, key } => http.client_identity_pem(cert, key.expose_secret()),
            };
        }

        let method = match (
            self.approle_role_id,
            self.approle_secret_id,
            client_pem.is_some(),
            self.token,
        ) {
            (Some(role_id), Some(secret_id), _, _) => AuthMethod::AppRole {
                mount: approle_mount,
                role_id,
                secret_id,
            },
            (Some(_), None, _, _) => {
                return Err(Error::config(
                    "HCP_VAULT_APPROLE_SECRET_ID",
                    "HCP_VAULT_APPROLE_ROLE_ID is set but the secret id is missing",
                ));
            }
            (None, Some(_), _, _) => {
                return Err(Error::config(
                    "HCP_VAULT_APPROLE_ROLE_ID",
                    "HCP_VAULT_APPROLE_SECRET_ID is set but the role id is missing",
                ));
            }
            (None, None, true, _) => AuthMethod::Cert {
                mount: cert_mount,
                role: self.cert_role,
            },
            (None, None, false, Some(token)) => AuthMethod::Token(token),
            (None, None, false, None) => {
                return Err(Error::config(
                    "HCP_VAULT_TOKEN",
                    "no credentials: set HCP_VAULT_APPROLE_ROLE_ID + HCP_VAULT_APPROLE_SECRET_ID, \
                     HCP_VAULT_CLIENT_CERT + HCP_VAULT_CLIENT_KEY, or HCP_VAULT_TOKEN",
                ));
            }
        };
        if let AuthMethod::Token(t) = &method
            && reqwest::header::HeaderValue::from_bytes(t.expose_secret()).is_err()
        {
            return Err(Error::config(
                "HCP_VAULT_TOKEN",
                "the token contains characters that cannot be sent in an HTTP header",
            ));
        }

        let client = http.build_client()?;
        HcpVaultStore::from_settings(Settings {
            addr,
            login_namespace,
            secret_namespace,
            namespace_mode: self.namespace_mode,
            method,
            mount,
            path_prefix,
            value_field: self.value_field,
            refresh_interval: self.refresh_interval,
            client,
            retry: self.retry,
            clock: self.clock,
        })
    }
}

/// The credentials the store logs in with.
pub(crate) enum AuthMethod {
    Token(SecretValue),
    AppRole {
        mount: String,
        role_id: String,
        secret_id: SecretValue,
    },
    Cert {
        mount: String,
        role: Option<String>,
    },
}

/// Validated settings.
pub(crate) struct Settings {
    pub(crate) addr: String,
    pub(crate) login_namespace: Option<String>,
    pub(crate) secret_namespace: Option<String>,
    pub(crate) namespace_mode: NamespaceMode,
    pub(crate) method: AuthMethod,
    pub(crate) mount: String,
    pub(crate) path_prefix: Option<String>,
    pub(crate) value_field: String,
    pub(crate) refresh_interval: Duration,
    pub(crate) client: reqwest::Client,
    pub(crate) retry: RetryPolicy,
    pub(crate) clock: Option<Arc<dyn Clock>>,
}

fn normalize_addr(addr: &str) -> Result<String> {
    let trimmed = addr.trim().trim_end_matches('/');
    let url =
        url::Url::parse(trimmed).map_err(|_| Error::config("HCP_VAULT_ADDR", "not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(
            "HCP_VAULT_ADDR",
            "the scheme must be http or https",
        ));
    }
    if url.host_str().is_none() {
        return Err(Error::config("HCP_VAULT_ADDR", "the URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(Error::config(
            "HCP_VAULT_ADDR",
            "the URL may not carry a query, fragment or user name",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Trims `/` from both ends; `None` when nothing is left. Rejects empty, `.` and `..`
/// segments and characters that would change the URL's meaning.
fn clean_path(setting: &str, value: Option<&str>) -> Result<Option<String>> {
    let Some(v) = value else { return Ok(None) };
    let v = v.trim().trim_matches('/');
    if v.is_empty() {
        return Ok(None);
    }
    for seg in v.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(Error::config(
                setting,
                "empty, `.` and `..` path segments are not allowed",
            ));
        }
    }
    if v.chars()
        .any(|c| strongroom_core::is_forbidden_char(c) || matches!(c, '?' | '#' | '%' | '\\' | ' '))
    {
        return Err(Error::config(
            setting,
            "may not contain control characters, spaces, `?`, `#`, `%` or `\\`",
        ));
    }
    Ok(Some(v.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use strongroom_core::{ErrorKind, SecretStore};

    use super::*;

    fn from(pairs: &[(&str, &str)]) -> HcpVaultBuilder {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HcpVaultBuilder::from_lookup(move |k| env.get(k).cloned())
    }

    fn config_err(b: HcpVaultBuilder) -> String {
        let e = b.build().expect_err("must fail");
        assert_eq!(e.kind(), &ErrorKind::Config, "{e}");
        e.to_string()
    }

    #[test]
    fn token_from_env_with_fallbacks() {
        let s = from(&[
            ("VAULT_ADDR", "http://127.0.0.1:9/"),
            ("VAULT_TOKEN", "s.x"),
        ])
        .build()
        .unwrap();
        assert_eq!(s.auth_method(), "token");
        assert_eq!(s.info().default_ttl, Some(DEFAULT_REFRESH_INTERVAL));
        assert!(s.info().address.to_string().contains("http://127.0.0.1:9|"));
        // HCP_VAULT_* wins over VAULT_*.
        let s = from(&[
            ("VAULT_ADDR", "http://127.0.0.1:9"),
            ("HCP_VAULT_ADDR", "http://127.0.0.1:10"),
            ("HCP_VAULT_TOKEN", "s.x"),
            ("HCP_VAULT_REFRESH_INTERVAL", "60"),
        ])
        .build()
        .unwrap();
        assert!(s.info().address.to_string().contains("127.0.0.1:10"));
        assert_eq!(s.info().default_ttl, Some(Duration::from_secs(60)));
    }

    #[test]
    fn auth_priority_is_approle_then_cert_then_token() {
        let s = from(&[
            ("HCP_VAULT_TOKEN", "s.x"),
            ("HCP_VAULT_APPROLE_ROLE_ID", "r"),
            ("HCP_VAULT_APPROLE_SECRET_ID", "s"),
        ])
        .build()
        .unwrap();
        assert_eq!(s.auth_method(), "approle");
        let ca = strongroom_testkit::fake::TestCa::new();
        let (cert, key) = ca.client_cert("app");
        let s = HcpVaultBuilder::new()
            .with_token("s.x")
            .with_client_cert_pem(cert.clone(), key.clone())
            .build()
            .unwrap();
        assert_eq!(s.auth_method(), "cert");
        let s = HcpVaultBuilder::new()
            .with_token("s.x")
            .with_client_cert_pem(cert, key)
            .with_approle("r", "s")
            .build()
            .unwrap();
        assert_eq!(s.auth_method(), "approle");
    }

    #[test]
    fn bad_settings_name_the_setting() {
        assert!(config_err(from(&[])).contains("HCP_VAULT_TOKEN"));
        assert!(
            config_err(from(&[
                ("HCP_VAULT_TOKEN", "t"),
                ("HCP_VAULT_REFRESH_INTERVAL", "soon")
            ]))
            .contains("HCP_VAULT_REFRESH_INTERVAL")
        );
        assert!(
            config_err(from(&[
                ("HCP_VAULT_TOKEN", "t"),
                ("HCP_VAULT_ADDR", "ftp://x")
            ]))
            .contains("HCP_VAULT_ADDR")
        );
        assert!(
            config_err(from(&[("HCP_VAULT_APPROLE_ROLE_ID", "r")]))
                .contains("HCP_VAULT_APPROLE_SECRET_ID")
        );
        assert!(
            config_err(from(&[("HCP_VAULT_CLIENT_CERT", "/nonexistent.pem")]))
                .contains("HCP_VAULT_CLIENT_KEY")
        );
        assert!(
            config_err(from(&[
                ("HCP_VAULT_CLIENT_CERT", "/nonexistent.pem"),
                ("HCP_VAULT_CLIENT_KEY", "/nonexistent.key")
            ]))
            .contains("HCP_VAULT_CLIENT_CERT")
        );
        assert!(
            config_err(from(&[
                ("HCP_VAULT_TOKEN", "t"),
                ("HCP_VAULT_MOUNT_NAME", "a/../b")
            ]))
            .contains("HCP_VAULT_MOUNT_NAME")
        );
        assert!(
            config_err(from(&[
                ("HCP_VAULT_TOKEN", "t"),
                ("HCP_VAULT_NAMESPACE_MODE", "cookie")
            ]))
            .contains("HCP_VAULT_NAMESPACE_MODE")
        );
        assert!(
            config_err(from(&[
                ("HCP_VAULT_TOKEN", "t"),
                ("HCP_VAULT_CACERT", "/nonexistent-ca.pem")
            ]))
            .contains("HCP_VAULT_CACERT")
        );
        let e = config_err(HcpVaultBuilder::new().with_token("bad\ntoken"));
        assert!(e.contains("HCP_VAULT_TOKEN") && !e.contains("bad"));
    }

    #[test]
    fn namespaces_mounts_and_prefixes_are_normalised() {
        let s = from(&[
            ("HCP_VAULT_TOKEN", "t"),
            ("HCP_VAULT_NAMESPACE", "/admin/"),
            ("HCP_VAULT_SECRET_NAMESPACE", "admin/team"),
            ("HCP_VAULT_MOUNT_NAME", "/kv/"),
            ("HCP_VAULT_PATH_PREFIX", "litellm/"),
            ("HCP_VAULT_VALUE_FIELD", "value"),
        ])
        .build()
        .unwrap();
        let addr = s.info().address.to_string();
        assert!(addr.contains("ns=admin/team"), "{addr}");
        assert!(addr.contains("mount=kv|"), "{addr}");
        assert!(addr.contains("prefix=litellm|"), "{addr}");
        assert!(addr.contains("field=value"), "{addr}");
        let debug = format!("{s:?}");
        assert!(!debug.contains("\"t\""), "{debug}");
    }

    #[test]
    fn builder_debug_hides_credentials() {
        let b = HcpVaultBuilder::new()
            .with_token("sentinel-token-123")
            .with_approle("role-sentinel", "secret-sentinel");
        let d = format!("{b:?}");
        for needle in ["sentinel-token-123", "role-sentinel", "secret-sentinel"] {
            assert!(!d.contains(needle), "{d}");
        }
    }
}
