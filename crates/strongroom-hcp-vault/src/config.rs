//! [`HcpVaultConfig`], the one settings struct (TOML `settings`, the environment, builder
//! setters), its validation in `build()`, and the thin [`HcpVaultBuilder`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use serde::Deserialize;
use strongroom_core::config::FieldKind::{Address, Credential, Plain};
use strongroom_core::config::parse::{self, de};
use strongroom_core::config::{
    Field, HttpConfig, HttpPart, ProviderConfig, StoreConfig, warn_once,
};
use strongroom_core::provider::http::HttpClient;
use strongroom_core::{Capabilities, Clock, Result, SecretValue, StoreInfo};

use crate::api::{Api, Paths};
use crate::auth::{Auth, Credentials};
use crate::error::PROVIDER;
use crate::store::HcpVaultStore;

/// The default Vault address (the Vault CLI's and LiteLLM's default).
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:8200";
/// The default KV v2 mount.
pub const DEFAULT_MOUNT: &str = "secret";
/// The default field of the KV v2 data map that holds the value (`{"key": "<value>"}`).
pub const DEFAULT_VALUE_FIELD: &str = "key";
/// The default AppRole mount path.
pub const DEFAULT_APPROLE_MOUNT: &str = "approle";
/// The default TLS certificate auth mount path.
pub const DEFAULT_CERT_MOUNT: &str = "cert";
/// The default cache TTL suggested by this provider (`refresh_interval`): one day.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(86_400);
/// What `refresh_interval = 0` means: ten minutes, as in LiteLLM, whose `InMemoryCache` turns
/// a `default_ttl` of 0 into 600 s (`self.default_ttl = default_ttl or 600`).
pub const ZERO_REFRESH_INTERVAL: Duration = Duration::from_secs(600);

/// How the namespace reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NamespaceMode {
    /// `X-Vault-Namespace: <ns>` on every request (the default).
    #[default]
    Header,
    /// The namespace as a path prefix: `/v1/<ns>/<mount>/data/<name>` (what LiteLLM does for
    /// secret calls).
    PathPrefix,
}

impl std::str::FromStr for NamespaceMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "header" => Ok(NamespaceMode::Header),
            "path" | "path_prefix" | "path-prefix" | "prefix" => Ok(NamespaceMode::PathPrefix),
            _ => Err("expected `header` or `path`".to_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for NamespaceMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The settings of a HashiCorp Vault / OpenBao KV v2 store.
///
/// Filled from a manager's TOML `settings` (keys = these field names), from the environment
/// ([`ProviderConfig::from_env`]: the variables of [`HcpVaultConfig::FIELDS`] and the
/// `HCP_VAULT_`-prefixed HTTP settings), or through [`HcpVaultBuilder`]; validated by
/// [`StoreConfig::build`].
///
/// Credentials, in priority order: AppRole (role id + secret id) > TLS client certificate
/// (`client_cert` + `client_key`) > token. The first complete set wins; half a set is an error.
///
/// ```
/// use strongroom_core::config::{ProviderConfig, StoreConfig};
/// use strongroom_hcp_vault::HcpVaultConfig;
/// let env = [("VAULT_ADDR", "https://vault.example:8200"), ("HCP_VAULT_TOKEN", "s.example"),
///            ("HCP_VAULT_REFRESH_INTERVAL", "10m"), ("NAMESPACE", "ignored")];
/// let config = HcpVaultConfig::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
/// assert_eq!(config.addr.as_deref(), Some("https://vault.example:8200"));
/// assert_eq!(config.namespace, None);
/// let store = config.build().unwrap();
/// assert_eq!(strongroom_core::SecretStore::info(&store).default_ttl, Some(std::time::Duration::from_secs(600)));
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct HcpVaultConfig {
    /// The Vault address (default `http://127.0.0.1:8200`, with a warning). `http://` is
    /// refused for a host other than this machine unless `allow_insecure_transport`.
    pub addr: Option<String>,
    /// A static token, used as given (default none).
    pub token: Option<SecretValue>,
    /// The namespace of log-in and secret calls, `a/b` for nested ones (default none: root).
    pub namespace: Option<String>,
    /// The namespace of log-in calls (default: `namespace`; `/` = the root namespace).
    pub login_namespace: Option<String>,
    /// The namespace of secret calls (default: `namespace`; `/` = the root namespace).
    pub secret_namespace: Option<String>,
    /// `header` (`X-Vault-Namespace`, the default) or `path` (`/v1/<ns>/…`).
    pub namespace_mode: NamespaceMode,
    /// The AppRole role id (default none).
    pub approle_role_id: Option<SecretValue>,
    /// The AppRole secret id (default none).
    pub approle_secret_id: Option<SecretValue>,
    /// The AppRole auth mount path (default `approle`).
    pub approle_mount_path: String,
    /// The certificate role to log in as (default none: Vault tries every role).
    pub cert_role: Option<String>,
    /// The TLS certificate auth mount path (default `cert`).
    pub cert_mount_path: String,
    /// The KV v2 mount (default `secret`).
    pub mount_name: String,
    /// A path inside the mount every name lives under (default none).
    pub path_prefix: Option<String>,
    /// The field of the KV v2 data map that holds the value (default `key`).
    pub value_field: String,
    /// The cache TTL this store suggests (default 24 h; `0` means 10 minutes, as in LiteLLM).
    #[serde(deserialize_with = "de::duration")]
    pub refresh_interval: Duration,
    /// Timeouts, proxy, CA, client certificate (the certificate log-in's identity), limits.
    pub http: HttpConfig,
    /// The clock of the token cache and of the retry budget (builder only; tests).
    #[serde(skip)]
    pub clock: Option<Arc<dyn Clock>>,
}

impl Default for HcpVaultConfig {
    fn default() -> Self {
        HcpVaultConfig {
            addr: None,
            token: None,
            namespace: None,
            login_namespace: None,
            secret_namespace: None,
            namespace_mode: NamespaceMode::Header,
            approle_role_id: None,
            approle_secret_id: None,
            approle_mount_path: DEFAULT_APPROLE_MOUNT.to_owned(),
            cert_role: None,
            cert_mount_path: DEFAULT_CERT_MOUNT.to_owned(),
            mount_name: DEFAULT_MOUNT.to_owned(),
            path_prefix: None,
            value_field: DEFAULT_VALUE_FIELD.to_owned(),
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            http: HttpConfig::default(),
            clock: None,
        }
    }
}

impl ProviderConfig for HcpVaultConfig {
    const PROVIDER: &'static str = PROVIDER;
    // One row per setting: TOML key, variables in priority order, kind, documented default.
    #[rustfmt::skip]
    const FIELDS: &'static [Field] = &[
        Field::new("addr", &["HCP_VAULT_ADDR", "VAULT_ADDR"], Address, DEFAULT_ADDR),
        Field::new("token", &["HCP_VAULT_TOKEN", "VAULT_TOKEN"], Credential, ""),
        Field::new("namespace", &["HCP_VAULT_NAMESPACE", "VAULT_NAMESPACE"], Plain, ""),
        Field::new("login_namespace", &["HCP_VAULT_LOGIN_NAMESPACE"], Plain, ""),
        Field::new("secret_namespace", &["HCP_VAULT_SECRET_NAMESPACE"], Plain, ""),
        Field::new("namespace_mode", &["HCP_VAULT_NAMESPACE_MODE"], Plain, "header"),
        Field::new("approle_role_id", &["HCP_VAULT_APPROLE_ROLE_ID"], Credential, ""),
        Field::new("approle_secret_id", &["HCP_VAULT_APPROLE_SECRET_ID"], Credential, ""),
        Field::new("approle_mount_path", &["HCP_VAULT_APPROLE_MOUNT_PATH"], Plain, DEFAULT_APPROLE_MOUNT),
        Field::new("cert_role", &["HCP_VAULT_CERT_ROLE"], Plain, ""),
        Field::new("cert_mount_path", &["HCP_VAULT_CERT_MOUNT_PATH"], Plain, DEFAULT_CERT_MOUNT),
        Field::new("mount_name", &["HCP_VAULT_MOUNT_NAME"], Plain, DEFAULT_MOUNT),
        Field::new("path_prefix", &["HCP_VAULT_PATH_PREFIX"], Plain, ""),
        Field::new("value_field", &["HCP_VAULT_VALUE_FIELD"], Plain, DEFAULT_VALUE_FIELD),
        Field::new("refresh_interval", &["HCP_VAULT_REFRESH_INTERVAL"], Plain, "24h"),
    ];
    const HTTP: Option<HttpPart> = Some(HttpPart {
        env_prefix: "HCP_VAULT_",
        aliases: &[("ca_file", &["HCP_VAULT_CACERT", "VAULT_CACERT"])],
        without: &[],
    });
}

impl StoreConfig for HcpVaultConfig {
    type Store = HcpVaultStore;

    /// Validates every setting (errors name the setting and its variables) and builds the
    /// store. No I/O but reading the configured CA and client certificate files.
    fn build(self) -> Result<HcpVaultStore> {
        let mut c = self;
        let url = c.http.address(
            PROVIDER,
            "addr",
            c.addr.as_deref().unwrap_or(DEFAULT_ADDR),
            c.addr.is_none(),
        )?;
        let addr = url.as_str().trim_end_matches('/').to_owned();
        let path = |key: &str, text: Option<&str>| -> Result<Option<String>> {
            match text {
                Some(t) => parse::server_path(t).map_err(|p| Self::field_error(key, p)),
                None => Ok(None),
            }
        };
        let required = |key: &str, text: &str| -> Result<String> {
            path(key, Some(text))?.ok_or_else(|| Self::field_error(key, "may not be empty"))
        };
        let namespace = path("namespace", c.namespace.as_deref())?;
        let login_namespace = match c.login_namespace.as_deref() {
            Some(ns) => path("login_namespace", Some(ns))?,
            None => namespace.clone(),
        };
        let secret_namespace = match c.secret_namespace.as_deref() {
            Some(ns) => path("secret_namespace", Some(ns))?,
            None => namespace,
        };
        let mount = required("mount_name", &c.mount_name)?;
        let path_prefix = path("path_prefix", c.path_prefix.as_deref())?;
        let approle_mount = required("approle_mount_path", &c.approle_mount_path)?;
        let cert_mount = required("cert_mount_path", &c.cert_mount_path)?;
        if c.value_field.is_empty() {
            return Err(Self::field_error("value_field", "may not be empty"));
        }
        let refresh_interval = if c.refresh_interval.is_zero() {
            warn_once(
                "hcp-vault:refresh_interval=0",
                "hcp-vault: refresh_interval = 0 means 10 minutes, as in LiteLLM",
            );
            ZERO_REFRESH_INTERVAL
        } else {
            c.refresh_interval
        };
        let ns_header = |key: &str, ns: &Option<String>| -> Result<Option<HeaderValue>> {
            match (c.namespace_mode, ns) {
                // HTTP header values are ASCII; other bytes are obsolete and servers differ.
                (NamespaceMode::Header, Some(ns)) => ns
                    .is_ascii()
                    .then(|| HeaderValue::from_str(ns).ok())
                    .flatten()
                    .map(Some)
                    .ok_or_else(|| {
                        Self::field_error(
                            key,
                            "cannot be sent as an HTTP header: use ASCII, or namespace_mode = path",
                        )
                    }),
                _ => Ok(None),
            }
        };
        let secret_ns_header = ns_header("secret_namespace", &secret_namespace)?;
        let login_ns_header = ns_header("login_namespace", &login_namespace)?;

        // Reads and checks the CA and client certificate files; everything else is checked above.
        let mut client = HttpClient::new(PROVIDER, &c.http)?;
        if let Some(clock) = &c.clock {
            client = client.with_clock(Arc::clone(clock));
        }
        let credentials = c.credentials(approle_mount, cert_mount)?;

        let address = format!(
            "{PROVIDER}|{addr}|ns={}|mount={mount}|prefix={}|field={}",
            secret_namespace.as_deref().unwrap_or(""),
            path_prefix.as_deref().unwrap_or(""),
            c.value_field
        );
        let identity = credentials.identity();
        let identity: Vec<&[u8]> = identity.iter().map(Vec::as_slice).collect();
        let info = StoreInfo::new(
            PROVIDER,
            Capabilities::all().with_versions(true).with_cas(true),
        )
        .with_address(address)
        .with_identity(&identity)
        .with_default_ttl(refresh_interval);
        let api = Api::new(
            client,
            &Paths {
                addr: &addr,
                mode: c.namespace_mode,
                secret_namespace: secret_namespace.as_deref(),
                login_namespace: login_namespace.as_deref(),
                mount: &mount,
                path_prefix: path_prefix.as_deref(),
            },
            secret_ns_header,
            login_ns_header,
        );
        let auth = Auth::new(credentials, c.clock);
        Ok(HcpVaultStore::new(
            api,
            auth,
            info,
            c.value_field,
            (c.http.max_pages, c.http.max_list_items),
        ))
    }
}

impl HcpVaultConfig {
    /// The credentials, in priority order: AppRole > TLS client certificate > token. Half a
    /// set is an error; empty values count as unset.
    fn credentials(&mut self, approle_mount: String, cert_mount: String) -> Result<Credentials> {
        let present = |v: Option<SecretValue>| v.filter(|v| !v.is_empty());
        let has_cert = self.http.client_cert.is_some() || self.http.client_identity_pem.is_some();
        match (
            present(self.approle_role_id.take()),
            present(self.approle_secret_id.take()),
            present(self.token.take()),
        ) {
            (Some(role_id), Some(secret_id), _) => {
                for (key, v) in [
                    ("approle_role_id", &role_id),
                    ("approle_secret_id", &secret_id),
                ] {
                    if v.expose_str().is_err() {
                        return Err(Self::field_error(key, "must be UTF-8 text"));
                    }
                }
                Ok(Credentials::AppRole {
                    mount: approle_mount,
                    role_id,
                    secret_id,
                })
            }
            (Some(_), None, _) => Err(Self::field_error(
                "approle_secret_id",
                "approle_role_id is set but the secret id is missing",
            )),
            (None, Some(_), _) => Err(Self::field_error(
                "approle_role_id",
                "approle_secret_id is set but the role id is missing",
            )),
            (None, None, _) if has_cert => Ok(Credentials::Cert {
                mount: cert_mount,
                role: self.cert_role.take().filter(|r| !r.is_empty()),
                certificate: client_certificate(&self.http)?,
            }),
            (None, None, Some(token)) => {
                let mut header = HeaderValue::from_bytes(token.expose_secret()).map_err(|_| {
                    Self::field_error(
                        "token",
                        "contains characters that cannot be sent in an HTTP header",
                    )
                })?;
                header.set_sensitive(true);
                Ok(Credentials::Token(header))
            }
            (None, None, None) => Err(Self::field_error(
                "token",
                "no credentials: set approle_role_id + approle_secret_id, client_cert + client_key, or token",
            )),
        }
    }
}

/// The client certificate (PEM), which tells certificate log-ins apart in cache keys.
fn client_certificate(http: &HttpConfig) -> Result<Vec<u8>> {
    if let Some((cert, _)) = &http.client_identity_pem {
        return Ok(cert.clone());
    }
    match &http.client_cert {
        Some(path) => std::fs::read(path).map_err(|e| {
            HcpVaultConfig::field_error(
                "client_cert",
                format!("cannot read `{}`: {e}", path.display()),
            )
        }),
        None => Ok(Vec::new()),
    }
}

/// Builds an [`HcpVaultStore`]: setters over an [`HcpVaultConfig`], validated at
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
/// assert_eq!(store.auth_method(), "approle");
/// ```
#[derive(Debug, Clone, Default)]
pub struct HcpVaultBuilder {
    config: HcpVaultConfig,
}

impl HcpVaultBuilder {
    /// The defaults of [`HcpVaultConfig`]; no credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts from a configuration read elsewhere (TOML, environment).
    pub fn from_config(config: HcpVaultConfig) -> Self {
        HcpVaultBuilder { config }
    }

    /// Reads the configuration from the environment (`HCP_VAULT_*` and the documented
    /// `VAULT_*` aliases; see `docs/configuration.md`).
    pub fn from_env() -> Result<Self> {
        HcpVaultConfig::from_env().map(Self::from_config)
    }

    /// The configuration so far.
    pub fn config(&self) -> &HcpVaultConfig {
        &self.config
    }

    /// The Vault address, e.g. `https://vault.example.com:8200`.
    pub fn with_addr(mut self, addr: impl Into<String>) -> Self {
        self.config.addr = Some(addr.into());
        self
    }

    /// The namespace of log-in and secret calls (`admin`, `team/a`).
    pub fn with_namespace(mut self, ns: impl Into<String>) -> Self {
        self.config.namespace = Some(ns.into());
        self
    }

    /// The namespace of log-in calls only (`""` or `/` = the root namespace).
    pub fn with_login_namespace(mut self, ns: impl Into<String>) -> Self {
        self.config.login_namespace = Some(ns.into());
        self
    }

    /// The namespace of secret calls only (`""` or `/` = the root namespace).
    pub fn with_secret_namespace(mut self, ns: impl Into<String>) -> Self {
        self.config.secret_namespace = Some(ns.into());
        self
    }

    /// Header (default) or path-prefix namespaces.
    pub fn with_namespace_mode(mut self, mode: NamespaceMode) -> Self {
        self.config.namespace_mode = mode;
        self
    }

    /// A static token, used as given (never renewed; a 403 is reported, not retried).
    pub fn with_token(mut self, token: impl Into<SecretValue>) -> Self {
        self.config.token = Some(token.into());
        self
    }

    /// AppRole credentials (take priority over a certificate and a token).
    pub fn with_approle(
        mut self,
        role_id: impl Into<String>,
        secret_id: impl Into<SecretValue>,
    ) -> Self {
        self.config.approle_role_id = Some(SecretValue::from(role_id.into()));
        self.config.approle_secret_id = Some(secret_id.into());
        self
    }

    /// The AppRole mount path (default `approle`).
    pub fn with_approle_mount(mut self, mount: impl Into<String>) -> Self {
        self.config.approle_mount_path = mount.into();
        self
    }

    /// The certificate role to log in as (`{"name": role}`); unset = Vault tries every role.
    pub fn with_cert_role(mut self, role: impl Into<String>) -> Self {
        self.config.cert_role = Some(role.into());
        self
    }

    /// The certificate auth mount path (default `cert`).
    pub fn with_cert_mount(mut self, mount: impl Into<String>) -> Self {
        self.config.cert_mount_path = mount.into();
        self
    }

    /// The KV v2 mount (default `secret`).
    pub fn with_mount(mut self, mount: impl Into<String>) -> Self {
        self.config.mount_name = mount.into();
        self
    }

    /// A path inside the mount every name lives under (`litellm` → `secret/data/litellm/<name>`).
    pub fn with_path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.path_prefix = Some(prefix.into());
        self
    }

    /// The field of the data map that holds the value (default `key`).
    pub fn with_value_field(mut self, field: impl Into<String>) -> Self {
        self.config.value_field = field.into();
        self
    }

    /// The cache TTL this store suggests (`StoreInfo::default_ttl`); zero means 10 minutes.
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.config.refresh_interval = interval;
        self
    }

    /// The clock of the token cache and the retry budget (tests pass a `ManualClock`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.config.clock = Some(clock);
        self
    }

    /// Validates the settings and builds the store (see [`StoreConfig::build`]).
    pub fn build(self) -> Result<HcpVaultStore> {
        self.config.build()
    }
}

/// Timeouts, proxy, CAs, client certificate, TLS verification, retries: the shared setters.
impl strongroom_core::HttpSetters for HcpVaultBuilder {
    fn http_mut(&mut self) -> &mut strongroom_core::config::HttpConfig {
        &mut self.config.http
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use strongroom_core::HttpSetters as _;

    use strongroom_core::config::Settings;
    use strongroom_core::{ErrorKind, SecretStore};

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<HcpVaultConfig> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HcpVaultConfig::from_lookup(move |k| env.get(k).cloned())
    }

    fn store(pairs: &[(&str, &str)]) -> HcpVaultStore {
        env(pairs).unwrap().build().unwrap()
    }

    fn config_err(r: Result<HcpVaultStore>) -> String {
        let e = r.expect_err("must fail");
        assert_eq!(e.kind(), &ErrorKind::Config, "{e}");
        e.to_string()
    }

    #[test]
    fn fields_are_the_documented_names_in_order() {
        let fields = HcpVaultConfig::fields();
        let keys: Vec<&str> = fields.iter().map(|f| f.key).collect();
        assert_eq!(
            keys[..15],
            [
                "addr",
                "token",
                "namespace",
                "login_namespace",
                "secret_namespace",
                "namespace_mode",
                "approle_role_id",
                "approle_secret_id",
                "approle_mount_path",
                "cert_role",
                "cert_mount_path",
                "mount_name",
                "path_prefix",
                "value_field",
                "refresh_interval",
            ]
        );
        let env_of = |key: &str| fields.iter().find(|f| f.key == key).unwrap().env.clone();
        assert_eq!(env_of("addr"), ["HCP_VAULT_ADDR", "VAULT_ADDR"]);
        assert_eq!(
            env_of("ca_file"),
            ["HCP_VAULT_CA_FILE", "HCP_VAULT_CACERT", "VAULT_CACERT"]
        );
        assert_eq!(env_of("client_cert"), ["HCP_VAULT_CLIENT_CERT"]);
        assert_eq!(env_of("client_key"), ["HCP_VAULT_CLIENT_KEY"]);
        for f in &fields {
            assert!(
                f.env.iter().all(|e| e.contains("VAULT_")),
                "{}: {:?}",
                f.key,
                f.env
            );
        }
    }

    #[test]
    fn token_from_env_with_fallbacks() {
        let s = store(&[
            ("VAULT_ADDR", "http://127.0.0.1:9/"),
            ("VAULT_TOKEN", "s.x"),
        ]);
        assert_eq!(s.auth_method(), "token");
        assert_eq!(s.info().default_ttl, Some(DEFAULT_REFRESH_INTERVAL));
        assert!(s.info().address.contains("http://127.0.0.1:9|"));
        // HCP_VAULT_* wins over VAULT_*.
        let s = store(&[
            ("VAULT_ADDR", "http://127.0.0.1:9"),
            ("HCP_VAULT_ADDR", "http://127.0.0.1:10"),
            ("HCP_VAULT_TOKEN", "s.x"),
            ("HCP_VAULT_REFRESH_INTERVAL", "60"),
        ]);
        assert!(s.info().address.contains("127.0.0.1:10"));
        assert_eq!(s.info().default_ttl, Some(Duration::from_secs(60)));
    }

    #[test]
    fn hostile_generic_variables_change_nothing() {
        let hostile = [
            ("ADDR", "https://attacker.example"),
            ("TOKEN", "s.attacker"),
            ("NAMESPACE", "default"),
            ("API_BASE", "https://attacker.example"),
            ("ENDPOINT_URL", "https://attacker.example"),
            ("REGION", "nowhere"),
            ("addr", "https://attacker.example"),
            ("VAULT_ADDR_EXTRA", "https://attacker.example"),
        ];
        let c = env(&hostile).unwrap();
        assert!(c.addr.is_none() && c.token.is_none() && c.namespace.is_none());
        let mut with_token = hostile.to_vec();
        with_token.push(("HCP_VAULT_TOKEN", "s.mine"));
        let s = store(&with_token);
        assert!(s.info().address.contains("http://127.0.0.1:8200|ns=|"));
    }

    #[test]
    fn refresh_interval_zero_is_ten_minutes_as_in_litellm() {
        let s = store(&[
            ("HCP_VAULT_TOKEN", "t"),
            ("HCP_VAULT_REFRESH_INTERVAL", "0"),
        ]);
        assert_eq!(s.info().default_ttl, Some(ZERO_REFRESH_INTERVAL));
        assert_eq!(ZERO_REFRESH_INTERVAL, Duration::from_secs(600));
        let s = HcpVaultBuilder::new()
            .with_token("t")
            .with_refresh_interval(Duration::ZERO)
            .build()
            .unwrap();
        assert_eq!(s.info().default_ttl, Some(Duration::from_secs(600)));
        // Durations in every documented form.
        for (text, secs) in [("90", 90), ("2m", 120), ("1h 30m", 5400), ("1.5", 1)] {
            let s = store(&[
                ("HCP_VAULT_TOKEN", "t"),
                ("HCP_VAULT_REFRESH_INTERVAL", text),
            ]);
            assert_eq!(s.info().default_ttl.unwrap().as_secs(), secs, "{text}");
        }
    }

    #[test]
    fn toml_settings_use_the_field_names() {
        let mut s = Settings::for_manager("vault");
        s.insert("addr", "https://vault.example:8200".into());
        s.insert("token", "s.toml".into());
        s.insert("mount_name", "kv".into());
        s.insert("path_prefix", "litellm".into());
        s.insert("refresh_interval", 120.into());
        s.insert("namespace_mode", "path".into());
        s.insert("timeout", "5s".into());
        let c = HcpVaultConfig::from_settings(&s).unwrap();
        assert_eq!(c.namespace_mode, NamespaceMode::PathPrefix);
        assert_eq!(c.http.timeout, Duration::from_secs(5));
        let store = c.build().unwrap();
        assert!(store.info().address.contains("mount=kv|prefix=litellm|"));

        let mut s = Settings::for_manager("vault");
        s.insert("mount", "kv".into());
        let err = HcpVaultConfig::from_settings(&s).unwrap_err().to_string();
        assert!(err.contains("did you mean `mount_name`"), "{err}");
        let mut s = Settings::for_manager("vault");
        s.insert("namespace_mode", "cookie".into());
        let err = HcpVaultConfig::from_settings(&s).unwrap_err().to_string();
        assert!(
            err.contains("namespace_mode") && err.contains("`header` or `path`"),
            "{err}"
        );
    }

    #[test]
    fn addresses_follow_the_transport_rules() {
        let e = config_err(
            env(&[
                ("HCP_VAULT_ADDR", "http://10.1.2.3:8200"),
                ("HCP_VAULT_TOKEN", "t"),
            ])
            .unwrap()
            .build(),
        );
        assert!(e.contains("addr") && e.contains("in clear"), "{e}");
        let s = store(&[
            ("HCP_VAULT_ADDR", "http://10.1.2.3:8200"),
            ("HCP_VAULT_ALLOW_INSECURE_TRANSPORT", "true"),
            ("HCP_VAULT_TOKEN", "t"),
        ]);
        assert!(s.info().address.contains("http://10.1.2.3:8200|"));
        let e = config_err(
            env(&[
                ("HCP_VAULT_ADDR", "https://user:pw@vault.example"),
                ("HCP_VAULT_TOKEN", "t"),
            ])
            .unwrap()
            .build(),
        );
        assert!(e.contains("user:password@") && !e.contains("pw@"), "{e}");
        let e = config_err(
            env(&[("HCP_VAULT_ADDR", "ftp://x"), ("HCP_VAULT_TOKEN", "t")])
                .unwrap()
                .build(),
        );
        assert!(e.contains("addr"), "{e}");
    }

    #[test]
    fn auth_priority_is_approle_then_cert_then_token() {
        let s = store(&[
            ("HCP_VAULT_TOKEN", "s.x"),
            ("HCP_VAULT_APPROLE_ROLE_ID", "r"),
            ("HCP_VAULT_APPROLE_SECRET_ID", "s"),
        ]);
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
    fn identities_tell_credentials_apart() {
        let id = |b: HcpVaultBuilder| b.build().unwrap().info().identity;
        assert_ne!(
            id(HcpVaultBuilder::new().with_token("a")),
            id(HcpVaultBuilder::new().with_token("b"))
        );
        assert_ne!(
            id(HcpVaultBuilder::new().with_approle("r1", "s")),
            id(HcpVaultBuilder::new().with_approle("r2", "s"))
        );
        let ca = strongroom_testkit::fake::TestCa::new();
        let (c1, k1) = ca.client_cert("one");
        let (c2, k2) = ca.client_cert("two");
        assert_ne!(
            id(HcpVaultBuilder::new().with_client_cert_pem(c1, k1)),
            id(HcpVaultBuilder::new().with_client_cert_pem(c2, k2))
        );
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let build = |pairs: &[(&str, &str)]| env(pairs).and_then(HcpVaultConfig::build);
        let e = config_err(build(&[]));
        assert!(e.contains("token") && e.contains("HCP_VAULT_TOKEN"), "{e}");
        let e = config_err(build(&[
            ("HCP_VAULT_TOKEN", "t"),
            ("HCP_VAULT_REFRESH_INTERVAL", "soon"),
        ]));
        assert!(e.contains("HCP_VAULT_REFRESH_INTERVAL"), "{e}");
        let e = config_err(build(&[("HCP_VAULT_APPROLE_ROLE_ID", "r")]));
        assert!(e.contains("HCP_VAULT_APPROLE_SECRET_ID"), "{e}");
        let e = config_err(build(&[("HCP_VAULT_APPROLE_SECRET_ID", "s")]));
        assert!(
            e.contains("HCP_VAULT_APPROLE_ROLE_ID") && !e.contains("`s`"),
            "{e}"
        );
        let e = config_err(build(&[("HCP_VAULT_CLIENT_CERT", "/nonexistent.pem")]));
        assert!(e.contains("client_key"), "{e}");
        let e = config_err(build(&[
            ("HCP_VAULT_CLIENT_CERT", "/nonexistent.pem"),
            ("HCP_VAULT_CLIENT_KEY", "/nonexistent.key"),
        ]));
        assert!(e.contains("client_cert"), "{e}");
        let e = config_err(build(&[
            ("HCP_VAULT_TOKEN", "t"),
            ("HCP_VAULT_MOUNT_NAME", "a/../b"),
        ]));
        assert!(e.contains("HCP_VAULT_MOUNT_NAME"), "{e}");
        let e = config_err(build(&[
            ("HCP_VAULT_TOKEN", "t"),
            ("HCP_VAULT_MOUNT_NAME", "/"),
        ]));
        assert!(e.contains("mount_name") && e.contains("empty"), "{e}");
        let e = config_err(build(&[
            ("HCP_VAULT_TOKEN", "t"),
            ("HCP_VAULT_NAMESPACE_MODE", "cookie"),
        ]));
        assert!(e.contains("HCP_VAULT_NAMESPACE_MODE"), "{e}");
        let e = config_err(build(&[
            ("HCP_VAULT_TOKEN", "t"),
            ("VAULT_CACERT", "/nonexistent-ca.pem"),
        ]));
        assert!(
            e.contains("ca_file") && e.contains("nonexistent-ca.pem"),
            "{e}"
        );
        let e = config_err(build(&[
            ("HCP_VAULT_TOKEN", "t"),
            ("HCP_VAULT_NAMESPACE", "équipe"),
        ]));
        assert!(e.contains("namespace") && e.contains("ASCII"), "{e}");
        let e = config_err(HcpVaultBuilder::new().with_token("bad\ntoken").build());
        assert!(e.contains("token") && !e.contains("bad"), "{e}");
        let e = config_err(
            HcpVaultBuilder::new()
                .with_token("t")
                .with_value_field("")
                .build(),
        );
        assert!(e.contains("value_field"), "{e}");
    }

    #[test]
    fn namespaces_mounts_and_prefixes_are_normalised() {
        let s = store(&[
            ("HCP_VAULT_TOKEN", "t"),
            ("HCP_VAULT_NAMESPACE", "/admin/"),
            ("HCP_VAULT_SECRET_NAMESPACE", "admin/team"),
            ("HCP_VAULT_MOUNT_NAME", "/kv/"),
            ("HCP_VAULT_PATH_PREFIX", "litellm/"),
            ("HCP_VAULT_VALUE_FIELD", "value"),
        ]);
        let addr = s.info().address.to_string();
        assert!(addr.contains("ns=admin/team"), "{addr}");
        assert!(addr.contains("mount=kv|"), "{addr}");
        assert!(addr.contains("prefix=litellm|"), "{addr}");
        assert!(addr.contains("field=value"), "{addr}");
        let debug = format!("{s:?}");
        assert!(!debug.contains("\"t\""), "{debug}");
    }

    #[test]
    fn debug_hides_credentials() {
        let b = HcpVaultBuilder::new()
            .with_token("sentinel-token-123")
            .with_approle("role-sentinel", "secret-sentinel");
        let d = format!("{b:?}");
        for needle in ["sentinel-token-123", "role-sentinel", "secret-sentinel"] {
            assert!(!d.contains(needle), "{d}");
        }
        let s = b.build().unwrap();
        let d = format!("{s:?}");
        for needle in ["sentinel-token-123", "role-sentinel", "secret-sentinel"] {
            assert!(!d.contains(needle), "{d}");
        }
    }
}
