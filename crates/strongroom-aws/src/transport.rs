//! The SDK's HTTP client with Strongroom's transport rules.
//!
//! The SDK's hyper 1 + rustls client is wrapped so that, for every request the SDK makes
//! (Secrets Manager, and STS, SSO and instance-metadata calls of the credential chain):
//!
//! * a redirect (3xx) is a [`Refused::Redirect`] error naming the target host; hyper never
//!   follows one, so nothing is sent there;
//! * the answer body is read here, up to `max_response_bytes`: a larger `Content-Length` is
//!   refused before reading, a longer body is refused when it passes the cap, and in both
//!   cases the connection is dropped ([`Refused::TooLarge`]). Both refusals are
//!   connector errors the SDK does not retry;
//! * `proxy` (except for the link-local metadata endpoints) and the extra CAs of `ca_file`
//!   apply.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use aws_smithy_http_client::Connector;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;
use strongroom_core::config::{HttpConfig, ProviderConfig};
use strongroom_core::{Error, ErrorKind, Result};

use crate::config::AwsConfig;

/// The instance-metadata and container-credential endpoints: link-local, never proxied (a
/// proxy cannot reach them, and their tokens have no business passing through one).
const NO_PROXY: &str = "169.254.169.254,169.254.170.2,fd00:ec2::254,fd00:ec2::23";

/// Why the transport refused an answer. Found again in the SDK's error chain by
/// [`crate::error::from_sdk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// A 3xx answer; the target host when the `Location` names one.
    Redirect { status: u16, target: Option<String> },
    /// The body is longer than the cap.
    TooLarge { limit: u64 },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Redirect { status, target } => write!(
                f,
                "the server answered HTTP {status} redirecting to `{}`; redirects are not followed, so credentials go only to the configured host",
                target.as_deref().unwrap_or("an unnamed location")
            ),
            Refused::TooLarge { limit } => write!(
                f,
                "the answer is larger than max_response_bytes ({limit} bytes); it was not read"
            ),
        }
    }
}

impl std::error::Error for Refused {}

impl Refused {
    /// The Strongroom error for this refusal.
    pub(crate) fn to_error(&self) -> Error {
        match self {
            Refused::Redirect { .. } => Error::new(ErrorKind::Redirected, self.to_string())
                .with_hint("configure the address the server redirects to, if you trust it"),
            Refused::TooLarge { .. } => Error::new(ErrorKind::LimitExceeded, self.to_string())
                .with_hint("raise max_response_bytes if the server is trusted to send this much"),
        }
    }
}

/// The HTTP client for the SDK, from the HTTP part of the configuration. Checks the proxy
/// URL and the CA bundle here, so a bad one fails `build()`, not the first call.
pub(crate) fn http_client(http: &HttpConfig) -> Result<SharedHttpClient> {
    let proxy = match &http.proxy {
        Some(url) => {
            let proxy = ProxyConfig::all(url.as_str()).map_err(|_| {
                AwsConfig::field_error("proxy", "not a proxy URL the AWS SDK can use")
            })?;
            Some(proxy.no_proxy(NO_PROXY))
        }
        None => None,
    };
    let mut trust = TrustStore::default();
    for pem in &http.ca_pems {
        check_pem(pem)?;
        trust = trust.with_pem_certificate(pem.clone());
    }
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|_| AwsConfig::field_error("ca_file", "cannot be used as a trust store"))?;
    Ok(SharedHttpClient::new(GuardedClient {
        proxy,
        tls,
        max_body: http.max_response_bytes,
        connectors: Mutex::new(Vec::new()),
    }))
}

/// The SDK's TLS layer panics on a certificate it cannot parse: check them all first.
fn check_pem(pem: &[u8]) -> Result<()> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let bad = || AwsConfig::field_error("ca_file", "not a valid PEM certificate bundle");
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| bad())?;
    if certs.is_empty() {
        return Err(bad());
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|_| bad())?;
    }
    Ok(())
}

type ConnectorKey = (Option<Duration>, Option<Duration>);

/// Builds (once per timeout setting, so connections are pooled) the SDK's connector with the
/// proxy and trust store, wrapped in [`Guarded`].
struct GuardedClient {
    proxy: Option<ProxyConfig>,
    tls: TlsContext,
    max_body: u64,
    connectors: Mutex<Vec<(ConnectorKey, SharedHttpConnector)>>,
}

impl fmt::Debug for GuardedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedClient")
            .field("proxy", &self.proxy.is_some())
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl HttpClient for GuardedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, c)) = connectors.iter().find(|(k, _)| *k == key) {
            return c.clone();
        }
        let mut builder = Connector::builder().connector_settings(settings.clone());
        builder.set_sleep_impl(components.sleep_impl());
        builder.set_proxy_config(self.proxy.clone());
        let inner = builder
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(self.tls.clone())
            .build();
        let connector = SharedHttpConnector::new(Guarded {
            inner,
            max_body: self.max_body,
        });
        connectors.push((key, connector.clone()));
        connector
    }
}

/// A connector that refuses redirects and reads the body under the cap.
#[derive(Debug)]
struct Guarded {
    inner: Connector,
    max_body: u64,
}

impl HttpConnector for Guarded {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let uri = request.uri().to_owned();
        let sent = self.inner.call(request);
        let limit = self.max_body;
        HttpConnectorFuture::new(async move {
            let mut response = sent.await?;
            let status = response.status().as_u16();
            if (300..400).contains(&status) {
                let target = response
                    .headers()
                    .get("location")
                    .and_then(|loc| redirect_host(&uri, loc));
                return Err(refuse(Refused::Redirect { status, target }));
            }
            let declared = response
                .headers()
                .get("content-length")
                .and_then(|v| v.trim().parse::<u64>().ok());
            if declared.is_some_and(|len| len > limit) {
                return Err(refuse(Refused::TooLarge { limit }));
            }
            let body = read_capped(response.take_body(), limit, declared).await?;
            // A streaming body, not `SdkBody::from(bytes)`: the SDK logs the answer it gets
            // from the connector at TRACE with the body's `Debug`, which shows in-memory
            // bytes (secret values) but not a stream's.
            let body = http_body_util::Full::new(bytes::Bytes::from(body));
            *response.body_mut() = SdkBody::from_body_1_x(body);
            Ok(response)
        })
    }
}

fn refuse(why: Refused) -> ConnectorError {
    ConnectorError::other(Box::new(why), None)
}

/// The host a `Location` points at, resolved against the request URL (punycode / IP form,
/// so it prints safely).
fn redirect_host(request_uri: &str, location: &str) -> Option<String> {
    let base = url::Url::parse(request_uri).ok()?;
    let target = base.join(location).ok()?;
    target.host_str().map(str::to_owned)
}

/// Reads `body` whole, failing as soon as it passes `limit` bytes (the rest is never read;
/// dropping the body closes the connection).
async fn read_capped(
    mut body: SdkBody,
    limit: u64,
    declared: Option<u64>,
) -> std::result::Result<Vec<u8>, ConnectorError> {
    // `declared` is at most `limit` here; never trust it for more than that.
    let mut out = Vec::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ConnectorError::io)?;
        if let Ok(data) = frame.into_data() {
            if (out.len() + data.len()) as u64 > limit {
                return Err(refuse(Refused::TooLarge { limit }));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_targets_are_resolved_and_named() {
        assert_eq!(
            redirect_host("http://127.0.0.1:1/", "https://evil.example:8443/x").as_deref(),
            Some("evil.example")
        );
        assert_eq!(
            redirect_host("http://127.0.0.1:1/", "/elsewhere").as_deref(),
            Some("127.0.0.1")
        );
        let err = Refused::Redirect {
            status: 307,
            target: Some("evil.example".into()),
        }
        .to_error();
        assert_eq!(err.kind(), &ErrorKind::Redirected);
        assert!(err.message().contains("evil.example"));
    }

    #[test]
    fn a_bad_ca_bundle_is_a_config_error() {
        let mut http = HttpConfig::default();
        http.ca_pems.push(b"not a certificate".to_vec());
        let err = http_client(&http).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Config);
        assert!(err.to_string().contains("ca_file"), "{err}");
        let mut http = HttpConfig::default();
        http.ca_pems
            .push(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec());
        assert!(http_client(&http).is_err());
    }
}
