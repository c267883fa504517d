//! The one HTTP path of the HTTP providers (Conjur, Vault, Akeyless, …): a client built from
//! [`HttpConfig`] that never follows redirects, a send loop with bounded retries, and a
//! [`Reply`] whose body is capped and wiped on drop. Enabled by the `http` feature.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use zeroize::Zeroizing;

use crate::clock::{Clock, SystemClock};
use crate::config::HttpConfig;
use crate::error::{Error, ErrorKind, Operation, Result};
use crate::retry::RetryPolicy;

/// The User-Agent every provider sends.
pub const USER_AGENT: &str = concat!("strongroom/", env!("CARGO_PKG_VERSION"));

/// What a request is for: the operation and secret name that errors will carry, and whether
/// repeating it is harmless (only idempotent calls are retried).
///
/// ```
/// use strongroom_core::Operation;
/// use strongroom_core::provider::http::Call;
/// let call = Call::new(Operation::Write, Some("db/pw")).idempotent(false);
/// assert!(!call.is_idempotent());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    op: Operation,
    name: Option<&'a str>,
    idempotent: bool,
}

impl<'a> Call<'a> {
    /// A call for `op` on `name`; idempotent unless `op` is a write.
    pub fn new(op: Operation, name: Option<&'a str>) -> Call<'a> {
        Call {
            op,
            name,
            idempotent: op != Operation::Write,
        }
    }
    /// A log-in call (idempotent).
    pub fn auth() -> Call<'static> {
        Call::new(Operation::Auth, None)
    }
    /// Says whether repeating the call is harmless.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }
    /// Whether the call may be retried.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }
    /// The operation.
    pub fn op(&self) -> Operation {
        self.op
    }
    /// Fills the error's provider, operation and name where it has none.
    pub fn context(&self, provider: &'static str, err: Error) -> Error {
        err.context(provider, self.op, self.name)
    }
}

/// An HTTP client for one provider and one configured server.
///
/// * Redirects are never followed: a 3xx answer is an [`ErrorKind::Redirected`] error naming
///   the target host, so a token or a re-sent log-in body never reaches another host.
/// * Response bodies are read up to `max_response_bytes`; a larger one is an
///   [`ErrorKind::LimitExceeded`] error and the connection is dropped.
/// * Idempotent calls are retried on transport failures and retryable statuses (408, 412,
///   429, 500, 502–504) within the retry policy; `Retry-After` is honoured.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    provider: &'static str,
    retry: RetryPolicy,
    max_body: u64,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.provider)
            .field("retry", &self.retry)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds the client from the HTTP part of a provider's config: timeouts, proxy, extra
    /// CAs (the `ca_file` is read here), client certificate, no redirects. No I/O but reading
    /// the configured files.
    ///
    /// ```
    /// use strongroom_core::config::HttpConfig;
    /// use strongroom_core::provider::http::HttpClient;
    /// let client = HttpClient::new("hcp-vault", &HttpConfig::default()).unwrap();
    /// assert_eq!(client.provider(), "hcp-vault");
    /// ```
    pub fn new(provider: &'static str, http: &HttpConfig) -> Result<HttpClient> {
        http.validate(provider)?;
        let mut http = http.clone();
        http.load_files(provider)?;
        let mut b = reqwest::Client::builder()
            .connect_timeout(http.connect_timeout)
            .timeout(http.timeout)
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60));
        if !http.tls_verify {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        let mut roots = Vec::new();
        for pem in &http.ca_pems {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|_| {
                Error::config("ca_file", "not a valid PEM certificate bundle")
                    .with_provider(provider)
            })?;
            roots.extend(certs);
        }
        if !roots.is_empty() {
            b = b.tls_certs_merge(roots);
        }
        if let Some((cert, key)) = &http.client_identity_pem {
            let mut both = Zeroizing::new(Vec::with_capacity(cert.len() + key.len() + 1));
            both.extend_from_slice(key.expose_secret());
            both.push(b'\n');
            both.extend_from_slice(cert);
            let id = reqwest::Identity::from_pem(&both).map_err(|_| {
                Error::config(
                    "client_cert",
                    "the client certificate or key is not valid PEM (PKCS#8, RSA or EC key)",
                )
                .with_provider(provider)
            })?;
            b = b.identity(id);
        }
        if let Some(proxy) = &http.proxy {
            let p = reqwest::Proxy::all(proxy).map_err(|_| {
                Error::config("proxy", "not a valid proxy URL").with_provider(provider)
            })?;
            b = b.proxy(p);
        }
        let client = b.build().map_err(|e| {
            Error::config("http", "cannot build the HTTP client")
                .with_source(e)
                .with_provider(provider)
        })?;
        Ok(HttpClient {
            client,
            provider,
            retry: http.retry_policy(),
            max_body: http.max_response_bytes,
            clock: Arc::new(SystemClock),
        })
    }

    /// Uses `clock` to measure the retry budget (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The provider label errors carry.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// The underlying `reqwest` client (for building requests).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Sends a request built by `build` (called once per attempt) and reads the answer.
    /// Returns the final answer whatever its status, for the provider to interpret; a
    /// redirect, an oversized body, or a transport failure after the last attempt is an
    /// error. Errors carry the provider, the call's operation and name.
    pub async fn send<F>(&self, call: Call<'_>, build: F) -> Result<Reply>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let started = self.clock.now();
        let mut retries = 0;
        loop {
            let attempt = match build(&self.client).send().await {
                Ok(resp) if resp.status().is_redirection() => {
                    return Err(call.context(self.provider, redirect_error(&resp)));
                }
                Ok(resp) => self.read(resp).await,
                Err(e) => Err(transport_error(e)),
            };
            let err = match attempt {
                Ok(reply) if is_retryable_status(reply.status) => {
                    let err = status_error(reply.status, reply.retry_after(), "");
                    match self.delay(call, &err, retries, started) {
                        Some(delay) => {
                            drop(reply);
                            err_delay(delay).await;
                            retries += 1;
                            continue;
                        }
                        None => return Ok(reply.with_context(self.provider, call)),
                    }
                }
                Ok(reply) => return Ok(reply.with_context(self.provider, call)),
                Err(e) if e.kind() == &ErrorKind::LimitExceeded => {
                    return Err(call.context(self.provider, e));
                }
                Err(e) => e,
            };
            match self.delay(call, &err, retries, started) {
                Some(delay) => {
                    tracing::debug!(provider = self.provider, error = %err, retry = retries + 1, "retrying HTTP request");
                    err_delay(delay).await;
                    retries += 1;
                }
                None => return Err(call.context(self.provider, err)),
            }
        }
    }

    fn delay(
        &self,
        call: Call<'_>,
        err: &Error,
        retries: usize,
        started: Instant,
    ) -> Option<Duration> {
        let elapsed = self.clock.now().saturating_duration_since(started);
        self.retry
            .next_delay(call.is_idempotent(), err, retries, elapsed)
    }

    async fn read(&self, mut resp: reqwest::Response) -> Result<Reply> {
        let status = resp.status();
        let headers = std::mem::take(resp.headers_mut());
        let too_large = || {
            Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "the answer is larger than max_response_bytes ({} bytes); it was not read",
                    self.max_body
                ),
            )
            .with_hint("raise max_response_bytes if the server is trusted to send this much")
        };
        let expected = resp.content_length();
        if expected.is_some_and(|len| len > self.max_body) {
            return Err(too_large());
        }
        let mut body = Zeroizing::new(Vec::with_capacity(expected.unwrap_or(0) as usize));
        while let Some(chunk) = resp.chunk().await.map_err(body_error)? {
            let needed = body.len() + chunk.len();
            if needed as u64 > self.max_body {
                return Err(too_large());
            }
            if needed > body.capacity() {
                // Grow into a fresh buffer so the old one is wiped, not left behind by a
                // reallocation.
                let mut bigger = Zeroizing::new(Vec::with_capacity(
                    needed.max(body.capacity() * 2).min(self.max_body as usize),
                ));
                bigger.extend_from_slice(&body);
                body = bigger;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            headers,
            body,
            provider: self.provider,
            op: Operation::Read,
            name: None,
        })
    }
}

async fn err_delay(delay: Duration) {
    tokio::time::sleep(delay).await;
}

/// An HTTP answer: status, headers and the whole body, which is wiped when the reply is
/// dropped. Errors made from it carry the call's context.
pub struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Zeroizing<Vec<u8>>,
    provider: &'static str,
    op: Operation,
    name: Option<Box<str>>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Reply {
    fn with_context(mut self, provider: &'static str, call: Call<'_>) -> Reply {
        self.provider = provider;
        self.op = call.op;
        self.name = call.name.map(Into::into);
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// All headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `Retry-After` the server asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(&self.headers)
    }

    /// The body. Keep borrows short: it may hold a secret.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Takes the body out (still wiped on drop).
    pub fn into_body(mut self) -> Zeroizing<Vec<u8>> {
        std::mem::take(&mut self.body)
    }

    /// Parses the body as JSON. A body that does not parse is a [`ErrorKind::Protocol`] error
    /// that shows nothing of the body.
    pub fn json<'a, T: serde::Deserialize<'a>>(&'a self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|_| {
            self.context(Error::protocol(format!(
                "the answer (HTTP {}) is not the JSON this client expects",
                self.status.as_u16()
            )))
        })
    }

    /// An error for this answer's status, with `detail` (the server's error text, never a body
    /// that could hold a secret) sanitized.
    pub fn error(&self, detail: &str) -> Error {
        self.context(status_error(self.status, self.retry_after(), detail))
    }

    /// Fills the error's provider, operation and name from the call.
    pub fn context(&self, err: Error) -> Error {
        err.context(self.provider, self.op, self.name.as_deref())
    }
}

/// The server's error text, made safe to show: trimmed, at most 300 characters, control and
/// invisible characters removed (so a hostile server cannot forge log lines).
///
/// ```
/// use strongroom_core::provider::http::sanitize;
/// assert_eq!(sanitize("  permission\ndenied\u{202e} "), "permissiondenied");
/// ```
pub fn sanitize(detail: &str) -> String {
    let mut out: String = detail.trim().chars().take(300).collect();
    out.retain(|c| !crate::name::is_forbidden_char(c) || c == ' ');
    out
}

fn redirect_error(resp: &reqwest::Response) -> Error {
    let target = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| resp.url().join(loc).ok())
        .and_then(|u| u.host_str().map(sanitize))
        .unwrap_or_else(|| "an unnamed location".to_owned());
    Error::new(
        ErrorKind::Redirected,
        format!(
            "the server answered HTTP {} redirecting to `{target}`; redirects are not followed, so credentials go only to the configured host",
            resp.status().as_u16()
        ),
    )
    .with_hint("configure the address the server redirects to, if you trust it")
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
/// assert_eq!(strongroom_core::provider::http::encode_component("prod/db pw"), "prod%2Fdb%20pw");
/// ```
pub fn encode_component(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

/// Appends a `/`-separated path to `out`, each segment percent-encoded, the `/` kept.
///
/// ```
/// let mut url = String::from("http://h/v1/secret/data/");
/// strongroom_core::provider::http::push_encoded_path(&mut url, "app/db pw");
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
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
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

/// An error for an HTTP answer; `detail` is sanitized.
pub fn status_error(status: StatusCode, retry_after: Option<Duration>, detail: &str) -> Error {
    let detail = sanitize(detail);
    let message = if detail.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {detail}", status.as_u16())
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
    let temporary = matches!(kind, ErrorKind::Timeout | ErrorKind::Unavailable);
    Error::new(kind, what)
        .with_source(e.without_url())
        .with_temporary(temporary)
}

/// Maps a failure while reading an answer's body: the connection closed or stalled after the
/// head arrived. reqwest reports a cut body as a decode error, but nothing was decoded wrong —
/// the answer is incomplete, so it is `Unavailable` (or `Timeout`) and worth a retry of an
/// idempotent call, like a dropped connection.
fn body_error(e: reqwest::Error) -> Error {
    let (kind, what) = if e.is_timeout() {
        (
            ErrorKind::Timeout,
            "the answer stalled before it was complete",
        )
    } else {
        (
            ErrorKind::Unavailable,
            "the connection closed before the whole answer arrived",
        )
    };
    Error::new(kind, what)
        .with_source(e.without_url())
        .with_temporary(true)
}

/// Whether an HTTP status is worth retrying.
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 412 | 429 | 500 | 502 | 503 | 504)
}
