//! HTTP client options and the shared request/retry loop for the HTTP providers
//! (Conjur, Vault, Akeyless). Enabled by the `http` feature.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, ErrorKind, Result};
use crate::retry::RetryPolicy;
use crate::value::SecretValue;

/// Connection and TLS settings shared by the HTTP providers.
///
/// TLS certificates are verified unless [`HttpOptions::danger_accept_invalid_certs`] is set,
/// which logs a warning every time a client is built.
///
/// ```
/// use std::time::Duration;
/// use strongroom_core::HttpOptions;
/// let opts = HttpOptions::default().request_timeout(Duration::from_secs(10));
/// let client = opts.build_client().unwrap();
/// # let _ = client;
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for a whole request, body included.
    pub request_timeout: Duration,
    /// Verify server certificates (default `true`).
    pub tls_verify: bool,
    /// Extra trusted CA certificates (PEM), on top of the system roots.
    pub ca_certs_pem: Vec<Vec<u8>>,
    /// Client certificate + private key (PEM) for mutual TLS.
    pub client_identity_pem: Option<SecretValue>,
    /// Proxy URL for all requests.
    pub proxy: Option<String>,
    /// User-Agent header.
    pub user_agent: String,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            tls_verify: true,
            ca_certs_pem: Vec::new(),
            client_identity_pem: None,
            proxy: None,
            user_agent: concat!("strongroom/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("tls_verify", &self.tls_verify)
            .field("ca_certs", &self.ca_certs_pem.len())
            .field("client_identity", &self.client_identity_pem.is_some())
            .field("proxy", &self.proxy.as_ref().map(|_| "[set]"))
            .finish()
    }
}

impl HttpOptions {
    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Sets the request timeout.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }
    /// Turns certificate verification off. Only for development against self-signed servers;
    /// a warning is logged.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.tls_verify = !accept;
        self
    }
    /// Trusts an extra CA certificate (PEM).
    pub fn add_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certs_pem.push(pem.into());
        self
    }
    /// Trusts the CA certificates in a PEM file; the error names `setting`.
    pub fn add_ca_file(self, setting: &str, path: impl AsRef<Path>) -> Result<Self> {
        let pem = read_file(setting, path.as_ref())?;
        Ok(self.add_ca_pem(pem))
    }
    /// Presents a client certificate (PEM) and private key (PEM) for mutual TLS.
    pub fn client_identity_pem(mut self, cert_pem: &[u8], key_pem: &[u8]) -> Self {
        let mut both = Vec::with_capacity(cert_pem.len() + key_pem.len() + 1);
        both.extend_from_slice(key_pem);
        both.push(b'\n');
        both.extend_from_slice(cert_pem);
        self.client_identity_pem = Some(SecretValue::from_bytes(both));
        self
    }
    /// Reads a client certificate and key from PEM files; errors name the settings.
    pub fn client_identity_files(
        self,
        cert_setting: &str,
        cert: impl AsRef<Path>,
        key_setting: &str,
        key: impl AsRef<Path>,
    ) -> Result<Self> {
        let cert_pem = read_file(cert_setting, cert.as_ref())?;
        let key_pem = zeroize::Zeroizing::new(read_file(key_setting, key.as_ref())?);
        Ok(self.client_identity_pem(&cert_pem, &key_pem))
    }
    /// Sends every request through this proxy.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Builds a `reqwest` client with these options.
    pub fn build_client(&self) -> Result<reqwest::Client> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .user_agent(self.user_agent.clone())
            .pool_idle_timeout(Duration::from_secs(60));
        if !self.tls_verify {
            tracing::warn!(
                "TLS certificate verification is OFF: only use this against development servers"
            );
            b = b.tls_danger_accept_invalid_certs(true);
        }
        let mut roots = Vec::new();
        for pem in &self.ca_certs_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                Error::config("ca_cert", "not a valid PEM certificate bundle").with_source(e)
            })?;
            roots.extend(certs);
        }
        if !roots.is_empty() {
            b = b.tls_certs_merge(roots);
        }
        if let Some(identity) = &self.client_identity_pem {
            let id = reqwest::Identity::from_pem(identity.expose_secret()).map_err(|_| {
                Error::config(
                    "client_cert",
                    "the client certificate or key is not valid PEM (PKCS#8, RSA or EC key)",
                )
            })?;
            b = b.identity(id);
        }
        if let Some(proxy) = &self.proxy {
            let p = reqwest::Proxy::all(proxy)
                .map_err(|_| Error::config("proxy", "not a valid proxy URL"))?;
            b = b.proxy(p);
        }
        b.build()
            .map_err(|e| Error::config("http", "cannot build the HTTP client").with_source(e))
    }
}

fn read_file(setting: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Error::config(setting, format!("cannot read `{}`: {e}", path.display())))
}

/// Everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) is percent-encoded:
/// a space becomes `%20` (never `+`), `/` becomes `%2F`.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one URL path component completely (slashes included).
///
/// ```
/// assert_eq!(strongroom_core::http::encode_component("prod/db pw"), "prod%2Fdb%20pw");
/// ```
pub fn encode_component(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

/// Appends a `/`-separated path to `out`, each segment percent-encoded, the `/` kept.
///
/// ```
/// let mut url = String::from("http://h/v1/secret/data/");
/// strongroom_core::http::push_encoded_path(&mut url, "app/db pw");
/// assert_eq!(url, "http://h/v1/secret/data/app/db%20pw");
/// ```
pub fn push_encoded_path(out: &mut String, path: &str) {
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.extend(percent_encoding::utf8_percent_encode(seg, COMPONENT));
    }
}

/// Parses a `Retry-After` header (seconds or an HTTP date).
pub fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = humantime::parse_rfc3339_weak(v)
        .ok()
        .or_else(|| httpdate(v))?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

fn httpdate(v: &str) -> Option<SystemTime> {
    // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 {
        return None;
    }
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])?
        + 1;
    let text = format!("{}-{:02}-{:02}T{}Z", parts[3], month, parts[1], parts[4]);
    humantime::parse_rfc3339(&text).ok()
}

/// Maps an HTTP status to an error kind, the way every HTTP provider does unless its protocol
/// says otherwise.
pub fn kind_for_status(status: u16, retry_after: Option<Duration>) -> ErrorKind {
    match status {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::Timeout,
        409 | 412 => ErrorKind::Conflict,
        429 => ErrorKind::RateLimited { retry_after },
        500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::Protocol,
    }
}

/// An error for an HTTP answer. `detail` must be the server's error text (never a body that
/// could hold a secret).
pub fn status_error(
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    detail: &str,
) -> Error {
    let detail = detail.trim();
    let mut detail: String = detail.chars().take(300).collect();
    detail.retain(|c| !crate::name::is_forbidden_char(c) || c == ' ');
    let message = if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {detail}")
    };
    let mut err = Error::new(kind_for_status(status.as_u16(), retry_after), message);
    if status.as_u16() == 501 {
        err = err.with_temporary(false);
    }
    if let Some(after) = retry_after {
        err = err.with_retry_after(after);
    }
    err
}

/// Maps a transport error (no HTTP answer) to an error kind.
pub fn transport_error(e: reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_decode() || e.is_body() {
        ErrorKind::Protocol
    } else if e.is_builder() {
        ErrorKind::Config
    } else {
        ErrorKind::Unavailable
    };
    let what = match kind {
        ErrorKind::Timeout => "the request timed out",
        ErrorKind::Protocol => "the answer could not be read",
        ErrorKind::Config => "the request could not be built",
        _ => "the server could not be reached",
    };
    // Body-read failures of a response that already arrived are worth a retry too.
    let temporary = matches!(kind, ErrorKind::Timeout | ErrorKind::Unavailable) || e.is_body();
    Error::new(kind, what)
        .with_source(e.without_url())
        .with_temporary(temporary)
}

/// Whether an HTTP status is worth retrying.
pub fn is_retryable_status(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 412 | 429 | 500 | 502 | 503 | 504)
}

/// Sends a request built by `build` (called once per attempt), retrying transport failures
/// and retryable statuses (408, 412, 429, 500, 502–504) within `policy` when `idempotent`.
/// Returns the final response, successful or not, for the provider to interpret; a transport
/// failure after the last attempt is an error.
pub async fn send_with_retry<F>(
    policy: &RetryPolicy,
    idempotent: bool,
    mut build: F,
) -> Result<reqwest::Response>
where
    F: FnMut() -> reqwest::RequestBuilder,
{
    let started = Instant::now();
    let mut retries = 0;
    loop {
        let outcome = build().send().await;
        let (err, response) = match outcome {
            Ok(resp) if is_retryable_status(resp.status()) => {
                let after = parse_retry_after(resp.headers());
                (status_error(resp.status(), after, ""), Some(resp))
            }
            Ok(resp) => return Ok(resp),
            Err(e) => (transport_error(e), None),
        };
        match policy.next_delay(idempotent, &err, retries, started.elapsed()) {
            Some(delay) => {
                tracing::debug!(error = %err, retry = retries + 1, delay_ms = delay.as_millis() as u64, "retrying HTTP request");
                drop(response);
                tokio::time::sleep(delay).await;
                retries += 1;
            }
            None => {
                return match response {
                    Some(resp) => Ok(resp),
                    None => Err(err),
                };
            }
        }
    }
}
