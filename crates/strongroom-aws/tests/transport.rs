//! The transport rules in the SDK's HTTP client (issue 15): redirects are refused and nothing
//! reaches their target, bodies are capped with the connection dropped, the CA file and the
//! proxy of the HTTP settings apply. Loopback fakes stand in for the server here (a
//! misbehaving one); the reads themselves are checked against moto elsewhere.

mod common;

use std::time::Duration;
use strongroom_core::HttpSetters as _;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use common::{Recorder, Stack};
use strongroom_aws::AwsBuilder;
use strongroom_core::config::HttpConfig;
use strongroom_core::{ErrorKind, ReadOptions, SecretName, SecretStore, WriteOptions};
use strongroom_testkit::fake::{FakeServer, Fault};
use strongroom_testkit::servers::moto;

/// What `GetSecretValue` answers (the AWS JSON 1.1 shape).
const ANSWER: &str = r#"{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:tls/secret-AbCdEf","Name":"tls/secret","SecretString":"over-tls","VersionId":"00000000-0000-0000-0000-000000000001","VersionStages":["AWSCURRENT"],"CreatedDate":1700000000}"#;

/// A server that answers every request like `GetSecretValue` of `tls/secret`.
fn answering() -> Router {
    Router::new().fallback(|| async { ([(CONTENT_TYPE, "application/x-amz-json-1.1")], ANSWER) })
}

fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

fn store_at(url: &str, http: HttpConfig) -> strongroom_aws::AwsStore {
    AwsBuilder::new()
        .with_region(moto::REGION)
        .with_endpoint_url(url)
        .with_access_key("AKIDTRANSPORT", "transport-secret", None)
        .with_http(http)
        .build()
        .unwrap()
}

fn http() -> HttpConfig {
    let mut http = HttpConfig::default();
    http.timeout = Duration::from_secs(20);
    http
}

/// A redirect, whatever its status, is a `Redirected` error naming the target; the SDK does
/// not retry it and nothing reaches the target, so neither the request nor its signature does.
#[tokio::test]
async fn redirects_are_refused_and_their_target_gets_nothing() {
    let endpoint = FakeServer::start(answering()).await;
    let target = FakeServer::start(answering()).await;
    let store = store_at(&endpoint.url(), http());
    for (i, status) in [301u16, 302, 303, 307, 308].into_iter().enumerate() {
        endpoint.faults().push(Fault::Redirect(
            status,
            format!("{}/stolen", target.url_with_host("localhost")),
        ));
        let err = store
            .read(&name("tls/secret"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Redirected, "{status}: {err}");
        assert!(err.message().contains("`localhost`"), "{err}");
        assert!(err.message().contains(&status.to_string()), "{err}");
        assert_eq!(err.name(), Some("tls/secret"));
        assert_eq!(endpoint.faults().requests(), i as u64 + 1, "not retried");
    }
    // A write (not idempotent by nature) is refused the same way.
    endpoint.faults().push(Fault::Redirect(307, target.url()));
    let err = store
        .write(&name("tls/secret"), "v".into(), &WriteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Redirected, "{err}");
    assert_eq!(
        target.faults().requests(),
        0,
        "the target never heard of us"
    );

    // Without a fault the same store reads normally: the refusals were the redirects.
    let secret = store
        .read(&name("tls/secret"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secret.value.expose_str().unwrap(), "over-tls");
}

/// The credential chain's calls go through the same client: an STS endpoint that redirects
/// (role assumption) fails the read as `Redirected`, and the target gets nothing.
#[tokio::test]
async fn a_redirecting_sts_endpoint_is_refused_too() {
    let stack = Stack::start().await;
    let sts = FakeServer::start(answering()).await;
    let target = FakeServer::start(answering()).await;
    sts.faults()
        .push_n(Fault::Redirect(307, target.url_with_host("localhost")), 5);
    let store = stack
        .builder()
        .with_assume_role("arn:aws:iam::111111111111:role/redirected")
        .with_sts_endpoint_url(sts.url())
        .build()
        .unwrap();
    let err = store
        .read(&name("any/secret"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Redirected, "{err}");
    assert!(err.message().contains("`localhost`"), "{err}");
    assert!(sts.faults().requests() >= 1);
    assert_eq!(target.faults().requests(), 0);
    assert_eq!(
        stack.rec.requests(),
        0,
        "no Secrets Manager call without credentials"
    );
}

/// A body over `max_response_bytes` is a `LimitExceeded` error after one request (not
/// retried), with or without a `Content-Length`; under the cap it is read.
#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let server = FakeServer::start(answering()).await;
    let mut capped = http();
    capped.max_response_bytes = 64 * 1024;
    let store = store_at(&server.url(), capped);
    let mut expected_requests = 0;
    for with_length in [true, false] {
        server
            .faults()
            .push(Fault::Oversized(10 * 1024 * 1024, with_length));
        let err = store
            .read(&name("big/secret"), &ReadOptions::new())
            .await
            .unwrap_err();
        expected_requests += 1;
        assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
        assert!(err.message().contains("65536"), "{err}");
        assert_eq!(err.name(), Some("big/secret"));
        assert_eq!(server.faults().requests(), expected_requests, "not retried");
    }
    // A body under the cap is read (this one is not a GetSecretValue answer).
    server.faults().push(Fault::Oversized(1024, false));
    let err = store
        .read(&name("big/secret"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Protocol, "{err}");
    // And a normal answer still works.
    assert!(
        store
            .read(&name("tls/secret"), &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
}

/// Memory stays bounded: a 512 MiB chunked answer against the default 4 MiB cap.
#[tokio::test]
async fn an_endless_body_does_not_grow_memory() {
    let server = FakeServer::start(answering()).await;
    let store = store_at(&server.url(), http());
    let (_, peak_before) = strongroom_testkit::rss_kib();
    server
        .faults()
        .push(Fault::Oversized(512 * 1024 * 1024, false));
    let err = store
        .read(&name("huge/secret"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    let (_, peak_after) = strongroom_testkit::rss_kib();
    let grown_mib = peak_after.saturating_sub(peak_before) / 1024;
    assert!(grown_mib < 64, "peak RSS grew by {grown_mib} MiB");
}

/// `ca_file` adds a trusted CA for the endpoint; without it the same server is refused
/// before any HTTP request.
#[tokio::test]
async fn the_ca_file_is_trusted() {
    let server = FakeServer::start_tls(answering()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &server.ca().unwrap().ca_pem).unwrap();
    let url = server.url_with_host("localhost");

    let untrusted = store_at(&url, http());
    let err = untrusted
        .read(&name("tls/secret"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
    assert_eq!(server.faults().requests(), 0);

    let mut with_ca = http();
    with_ca.ca_file = Some(ca);
    let trusted = store_at(&url, with_ca);
    let secret = trusted
        .read(&name("tls/secret"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secret.value.expose_str().unwrap(), "over-tls");
    assert_eq!(server.faults().requests(), 1);
}

/// `proxy` sends every request through the proxy (here: a recorder in front of moto).
#[tokio::test]
async fn the_proxy_is_used() {
    let stack = Stack::start().await;
    let proxy = Recorder::start(stack.moto.endpoint()).await;
    let mut via_proxy = http();
    via_proxy.proxy = Some(proxy.url());
    let store = AwsBuilder::new()
        .with_region(moto::REGION)
        .with_endpoint_url(stack.moto.endpoint())
        .with_access_key("AKIDVIAPROXY", "proxy-secret", None)
        .with_http(via_proxy)
        .build()
        .unwrap();
    store
        .write(&name("proxied/secret"), "v".into(), &WriteOptions::new())
        .await
        .unwrap();
    let got = store
        .read(&name("proxied/secret"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.value.expose_str().unwrap(), "v");
    assert_eq!(proxy.ops(), ["CreateSecret", "GetSecretValue"]);
    assert_eq!(proxy.key_ids(), ["AKIDVIAPROXY"]);
}
