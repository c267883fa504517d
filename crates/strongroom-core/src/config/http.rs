//! The HTTP part every HTTP provider's config carries.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::parse::de;
use super::{FieldInfo, FieldKind};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::value::SecretValue;

/// Default cap on a response body: secrets are small; 4 MiB leaves room for large lists.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;
/// Default bound on the pages one list call follows.
pub const DEFAULT_MAX_PAGES: u64 = 1_000;
/// Default bound on the names one list call returns.
pub const DEFAULT_MAX_LIST_ITEMS: u64 = 100_000;

/// One shared HTTP setting: its key, the suffix of its variable after the provider's
/// environment prefix, its kind and default.
#[derive(Debug, Clone, Copy)]
pub struct HttpField {
    /// The TOML key.
    pub key: &'static str,
    /// `TIMEOUT` → `HCP_VAULT_TIMEOUT` for the prefix `HCP_VAULT_`.
    pub env_suffix: &'static str,
    /// What the value is.
    pub kind: FieldKind,
    /// The default, as documented.
    pub default: &'static str,
}

/// The shared HTTP settings.
pub const HTTP_FIELDS: &[HttpField] = &[
    HttpField {
        key: "timeout",
        env_suffix: "TIMEOUT",
        kind: FieldKind::Plain,
        default: "30s",
    },
    HttpField {
        key: "connect_timeout",
        env_suffix: "CONNECT_TIMEOUT",
        kind: FieldKind::Plain,
        default: "5s",
    },
    HttpField {
        key: "proxy",
        env_suffix: "PROXY",
        kind: FieldKind::Address,
        default: "",
    },
    HttpField {
        key: "ca_file",
        env_suffix: "CA_FILE",
        kind: FieldKind::Path,
        default: "",
    },
    HttpField {
        key: "tls_verify",
        env_suffix: "TLS_VERIFY",
        kind: FieldKind::Plain,
        default: "true",
    },
    HttpField {
        key: "client_cert",
        env_suffix: "CLIENT_CERT",
        kind: FieldKind::Path,
        default: "",
    },
    HttpField {
        key: "client_key",
        env_suffix: "CLIENT_KEY",
        kind: FieldKind::Path,
        default: "",
    },
    HttpField {
        key: "allow_insecure_transport",
        env_suffix: "ALLOW_INSECURE_TRANSPORT",
        kind: FieldKind::Plain,
        default: "false",
    },
    HttpField {
        key: "max_response_bytes",
        env_suffix: "MAX_RESPONSE_BYTES",
        kind: FieldKind::Plain,
        default: "4194304",
    },
    HttpField {
        key: "max_pages",
        env_suffix: "MAX_PAGES",
        kind: FieldKind::Plain,
        default: "1000",
    },
    HttpField {
        key: "max_list_items",
        env_suffix: "MAX_LIST_ITEMS",
        kind: FieldKind::Plain,
        default: "100000",
    },
    HttpField {
        key: "max_retries",
        env_suffix: "MAX_RETRIES",
        kind: FieldKind::Plain,
        default: "3",
    },
];

/// How a provider takes the HTTP part: its environment prefix (the prefixed variable is read
/// first), extra variable names for some keys (the names users already have, e.g.
/// `VAULT_CACERT`, read after it), and the keys it leaves out
/// (an SDK that cannot honour them).
#[derive(Debug, Clone, Copy)]
pub struct HttpPart {
    /// `HCP_VAULT_` → `HCP_VAULT_TIMEOUT`, `HCP_VAULT_CA_FILE`, …
    pub env_prefix: &'static str,
    /// Variables read after the prefixed one, per key (the names users already have).
    pub aliases: &'static [(&'static str, &'static [&'static str])],
    /// Keys this provider does not accept.
    pub without: &'static [&'static str],
}

impl HttpPart {
    /// Every key with the prefixed name and the aliases.
    pub const fn new(env_prefix: &'static str) -> HttpPart {
        HttpPart {
            env_prefix,
            aliases: &[],
            without: &[],
        }
    }

    /// The HTTP fields this provider accepts, with their variable names.
    pub fn fields(self) -> impl Iterator<Item = FieldInfo> {
        HTTP_FIELDS
            .iter()
            .filter(move |f| !self.without.contains(&f.key))
            .map(move |f| {
                let mut env: Vec<String> = self
                    .aliases
                    .iter()
                    .filter(|(k, _)| *k == f.key)
                    .flat_map(|(_, names)| names.iter().map(|n| (*n).to_owned()))
                    .collect();
                let own = format!("{}{}", self.env_prefix, f.env_suffix);
                if !env.contains(&own) {
                    env.insert(0, own);
                }
                FieldInfo {
                    key: f.key,
                    env,
                    kind: f.kind,
                    default: f.default,
                    http: true,
                }
            })
    }
}

/// Connection, TLS and transport-limit settings shared by the HTTP providers.
///
/// Certificates are verified unless `tls_verify = false` (a warning is logged each time a
/// client is built). Redirects are never followed; bodies, pages and list sizes are capped.
///
/// ```
/// use std::time::Duration;
/// use strongroom_core::config::HttpConfig;
/// let http = HttpConfig::default();
/// assert_eq!(http.timeout, Duration::from_secs(30));
/// assert_eq!(http.max_response_bytes, 4 * 1024 * 1024);
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Time for a whole request, body included (default 30 s).
    #[serde(deserialize_with = "de::duration")]
    pub timeout: Duration,
    /// Time to establish a connection (default 5 s).
    #[serde(deserialize_with = "de::duration")]
    pub connect_timeout: Duration,
    /// Proxy URL for every request (default none).
    pub proxy: Option<String>,
    /// Extra trusted CA certificates, a PEM file (default: the system roots only).
    pub ca_file: Option<PathBuf>,
    /// Verify server certificates (default true).
    #[serde(deserialize_with = "de::bool")]
    pub tls_verify: bool,
    /// Client certificate (PEM file) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// Private key (PEM file) of the client certificate.
    pub client_key: Option<PathBuf>,
    /// Allow `http://` to a host other than this machine (default false).
    #[serde(deserialize_with = "de::bool")]
    pub allow_insecure_transport: bool,
    /// Largest response body read (default 4 MiB); a larger one is an error.
    #[serde(deserialize_with = "de::number")]
    pub max_response_bytes: u64,
    /// Most pages one list follows (default 1000).
    #[serde(deserialize_with = "de::number")]
    pub max_pages: u64,
    /// Most names one list returns (default 100,000).
    #[serde(deserialize_with = "de::number")]
    pub max_list_items: u64,
    /// Retries of an idempotent request after a temporary failure (default 3).
    #[serde(deserialize_with = "de::number")]
    pub max_retries: u64,
    /// Extra trusted CA certificates given as PEM (builder only).
    #[serde(skip)]
    pub ca_pems: Vec<Vec<u8>>,
    /// Client certificate and key given as PEM (builder only).
    #[serde(skip)]
    pub client_identity_pem: Option<(Vec<u8>, SecretValue)>,
    /// The retry policy (builder only; `max_retries` sets its count).
    #[serde(skip)]
    pub retry: Option<RetryPolicy>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            proxy: None,
            ca_file: None,
            tls_verify: true,
            client_cert: None,
            client_key: None,
            allow_insecure_transport: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_pages: DEFAULT_MAX_PAGES,
            max_list_items: DEFAULT_MAX_LIST_ITEMS,
            max_retries: 3,
            ca_pems: Vec::new(),
            client_identity_pem: None,
            retry: None,
        }
    }
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("proxy", &self.proxy.as_ref().map(|_| "[set]"))
            .field("ca_file", &self.ca_file)
            .field("tls_verify", &self.tls_verify)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key.as_ref().map(|_| "[set]"))
            .field("allow_insecure_transport", &self.allow_insecure_transport)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_pages", &self.max_pages)
            .field("max_list_items", &self.max_list_items)
            .field("max_retries", &self.max_retries)
            .field("ca_pems", &self.ca_pems.len())
            .field("client_identity_pem", &self.client_identity_pem.is_some())
            .finish()
    }
}

impl HttpConfig {
    /// The retry policy: the one set by the builder, else the default with `max_retries`.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
            .clone()
            .unwrap_or_else(|| RetryPolicy::default().max_retries(self.max_retries as usize))
    }

    /// Validates a server address of `provider` under these transport rules (see
    /// [`checked_address`](super::checked_address)).
    pub fn address(
        &self,
        provider: &'static str,
        setting: &str,
        text: &str,
        is_default: bool,
    ) -> Result<url::Url> {
        super::checked_address(
            provider,
            setting,
            text,
            &["http", "https"],
            self.allow_insecure_transport,
            is_default,
        )
    }

    /// Checks the settings that need no I/O: the limits are positive, a client certificate
    /// comes with its key, the proxy is a valid URL without credentials in it.
    pub fn validate(&self, provider: &'static str) -> Result<()> {
        let err = |k: &str, p: &str| Error::config(k, p).with_provider(provider);
        if self.max_response_bytes == 0 || self.max_pages == 0 || self.max_list_items == 0 {
            return Err(err(
                "max_response_bytes / max_pages / max_list_items",
                "must be greater than zero",
            ));
        }
        if self.timeout.is_zero() {
            return Err(err("timeout", "must be greater than zero"));
        }
        match (&self.client_cert, &self.client_key) {
            (Some(_), None) => {
                return Err(err(
                    "client_key",
                    "client_cert is set but the key is missing",
                ));
            }
            (None, Some(_)) => {
                return Err(err(
                    "client_cert",
                    "client_key is set but the certificate is missing",
                ));
            }
            _ => {}
        }
        if let Some(proxy) = &self.proxy {
            super::parse::address(proxy, &["http", "https", "socks5", "socks5h"])
                .map_err(|p| err("proxy", &p))?;
        }
        if !self.tls_verify {
            super::warn_once(
                &format!("tls_verify:{provider}"),
                &format!(
                    "{provider}: TLS certificate verification is OFF; only use this against development servers"
                ),
            );
        }
        Ok(())
    }

    /// Reads the CA file and the client certificate files into PEM (`ca_pems`,
    /// `client_identity_pem`), naming the setting when a file cannot be read.
    pub fn load_files(&mut self, provider: &'static str) -> Result<()> {
        let read = |k: &str, p: &std::path::Path| {
            std::fs::read(p).map_err(|e| {
                Error::config(k, format!("cannot read `{}`: {e}", p.display()))
                    .with_provider(provider)
            })
        };
        if let Some(ca) = self.ca_file.take() {
            let pem = read("ca_file", &ca)?;
            self.ca_pems.push(pem);
            self.ca_file = Some(ca);
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            let cert_pem = read("client_cert", cert)?;
            let key_pem = SecretValue::from_bytes(read("client_key", key)?);
            self.client_identity_pem = Some((cert_pem, key_pem));
        }
        Ok(())
    }
}

/// The shared HTTP setters for any builder that holds an [`HttpConfig`]: a provider's builder
/// implements [`HttpSetters::http_mut`] and has them all, the same everywhere.
///
/// ```
/// use std::time::Duration;
/// use strongroom_core::config::{HttpConfig, HttpSetters};
/// #[derive(Default)]
/// struct DemoBuilder { http: HttpConfig }
/// impl HttpSetters for DemoBuilder {
///     fn http_mut(&mut self) -> &mut HttpConfig { &mut self.http }
/// }
/// let b = DemoBuilder::default().with_timeout(Duration::from_secs(5)).with_tls_verify(true);
/// assert_eq!(b.http.timeout, Duration::from_secs(5));
/// ```
pub trait HttpSetters: Sized {
    /// The builder's HTTP part.
    fn http_mut(&mut self) -> &mut HttpConfig;

    /// Replaces the whole HTTP part (the setters below change one setting each).
    fn with_http(mut self, http: HttpConfig) -> Self {
        *self.http_mut() = http;
        self
    }
    /// Time for a whole request, body included.
    fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http_mut().timeout = timeout;
        self
    }
    /// Time to establish a connection.
    fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.http_mut().connect_timeout = timeout;
        self
    }
    /// Sends every request through this proxy.
    fn with_proxy(mut self, url: impl Into<String>) -> Self {
        self.http_mut().proxy = Some(url.into());
        self
    }
    /// Trusts the CA certificates in this PEM file too.
    fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.http_mut().ca_file = Some(path.into());
        self
    }
    /// Trusts this CA certificate (PEM) too.
    fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.http_mut().ca_pems.push(pem.into());
        self
    }
    /// Presents this client certificate and key (PEM files) for mutual TLS.
    fn with_client_cert_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        let http = self.http_mut();
        http.client_cert = Some(cert.into());
        http.client_key = Some(key.into());
        self
    }
    /// Presents this client certificate and key (PEM, in memory) for mutual TLS.
    fn with_client_cert_pem(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<SecretValue>,
    ) -> Self {
        self.http_mut().client_identity_pem = Some((cert_pem.into(), key_pem.into()));
        self
    }
    /// Verifies server certificates (the default); `false` is for development servers only
    /// and logs a warning.
    fn with_tls_verify(mut self, verify: bool) -> Self {
        self.http_mut().tls_verify = verify;
        self
    }
    /// Allows `http://` to a host that is not this machine.
    fn with_allow_insecure_transport(mut self, allow: bool) -> Self {
        self.http_mut().allow_insecure_transport = allow;
        self
    }
    /// The retry policy of idempotent requests.
    fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http_mut().retry = Some(retry);
        self
    }
}
