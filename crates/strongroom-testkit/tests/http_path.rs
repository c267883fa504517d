//! The core HTTP path every HTTP provider sends through: no redirects, capped bodies, bounded
//! retries, context on every error.

use axum::Router;
use axum::routing::get;
use strongroom_core::config::HttpConfig;
use strongroom_core::provider::http::{Call, HttpClient};
use strongroom_core::{ErrorKind, Operation};
use strongroom_testkit::fake::{FakeServer, Fault};

fn ok_router() -> Router {
    Router::new().route("/{*path}", get(|| async { "{\"ok\":true}" }))
}

fn client(max_body: u64) -> HttpClient {
    let mut http = HttpConfig::default();
    http.max_response_bytes = max_body;
    http.retry = Some(
        strongroom_core::RetryPolicy::default()
            .max_retries(2)
            .initial_backoff(std::time::Duration::from_millis(1)),
    );
    HttpClient::new("hcp-vault", &http).unwrap()
}

#[tokio::test]
async fn redirects_are_refused_and_the_target_sees_nothing() {
    let target = FakeServer::start(ok_router()).await;
    let server = FakeServer::start(ok_router()).await;
    let http = client(1024);
    for status in [301, 302, 303, 307, 308] {
        server.faults().push(Fault::Redirect(
            status,
            format!("{}/v1/secret/data/x", target.url_with_host("localhost")),
        ));
        let url = format!("{}/v1/secret/data/x", server.url());
        let err = http
            .send(Call::new(Operation::Read, Some("x")), |c| {
                c.get(&url).header("x-vault-token", "s.token")
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Redirected, "{status}: {err}");
        assert!(err.to_string().contains("`localhost`"), "{err}");
        assert_eq!(err.provider(), "hcp-vault");
        assert_eq!(err.operation(), Some(Operation::Read));
        assert_eq!(err.name(), Some("x"));
    }
    assert_eq!(
        target.faults().requests(),
        0,
        "the redirect target got no request"
    );
    assert_eq!(
        server.faults().requests(),
        5,
        "one request per redirect, no retry"
    );
}

#[tokio::test]
async fn bodies_over_the_cap_fail_typed_with_bounded_memory() {
    let server = FakeServer::start(ok_router()).await;
    let http = client(64 * 1024);
    let url = format!("{}/big", server.url());
    let (_, peak_before) = strongroom_testkit::rss_kib();
    for with_length in [true, false] {
        server
            .faults()
            .push(Fault::Oversized(256 * 1024 * 1024, with_length));
        let err = http
            .send(Call::new(Operation::Read, Some("big")), |c| c.get(&url))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    }
    let (_, peak_after) = strongroom_testkit::rss_kib();
    assert!(
        peak_after.saturating_sub(peak_before) < 32 * 1024,
        "reading a 256 MiB answer under a 64 KiB cap grew the peak RSS by {} KiB",
        peak_after - peak_before
    );
    // Just under the cap is read whole.
    server.faults().push(Fault::Oversized(60 * 1024, false));
    let reply = http
        .send(Call::new(Operation::Read, None), |c| c.get(&url))
        .await
        .unwrap();
    assert_eq!(reply.body().len(), 60 * 1024);
}

#[tokio::test]
async fn temporary_failures_are_retried_only_when_idempotent() {
    let server = FakeServer::start(ok_router()).await;
    let http = client(1024);
    let url = format!("{}/x", server.url());
    server.faults().push(Fault::Status(503));
    let reply = http
        .send(Call::new(Operation::Read, None), |c| c.get(&url))
        .await
        .unwrap();
    assert!(reply.is_success());
    assert_eq!(server.faults().requests(), 2);
    server.faults().push(Fault::Status(503));
    let reply = http
        .send(Call::new(Operation::Write, Some("x")), |c| c.get(&url))
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 503, "a write is sent once");
    assert_eq!(server.faults().requests(), 3);
    let err = reply.error("server says no\u{1b}[31m");
    assert_eq!(err.kind(), &ErrorKind::Unavailable);
    assert!(!err.to_string().contains('\u{1b}'), "{err}");
    assert_eq!(err.operation(), Some(Operation::Write));
}

#[tokio::test]
async fn an_answer_cut_after_its_head_is_unavailable_and_retried_when_idempotent() {
    let server = FakeServer::start(ok_router()).await;
    let url = format!("{}/v1/secret/data/x", server.url());
    // The fake really sends the head: a raw client sees the status before the body fails.
    server.faults().push(Fault::Truncate);
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 200, "the head arrived");
    assert!(resp.bytes().await.is_err(), "the body did not");

    let http = client(8192); // the cut answer announces 4096 bytes
    server.faults().push(Fault::Truncate);
    let reply = http
        .send(Call::new(Operation::Read, Some("x")), |c| c.get(&url))
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "one cut answer, then a whole one");
    let before = server.faults().requests();
    for _ in 0..3 {
        server.faults().push(Fault::Truncate);
    }
    let err = http
        .send(Call::new(Operation::Read, Some("x")), |c| c.get(&url))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
    assert_eq!(server.faults().requests() - before, 3, "three attempts");
    server.faults().clear();
    server.faults().push(Fault::Truncate);
    let before = server.faults().requests();
    let err = http
        .send(Call::new(Operation::Write, Some("x")), |c| c.get(&url))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
    assert_eq!(
        server.faults().requests() - before,
        1,
        "a write is not repeated"
    );
}
