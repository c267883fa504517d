//! The core HTTP path's rules through the GCP store: redirects refused (the target gets
//! nothing, not even the signed JWT), answers capped, list paging bounded.

mod common;

use common::{builder, fast_retry, name, store};
use strongroom_core::config::HttpConfig;
use strongroom_core::{ErrorKind, Operation, ReadOptions, SecretStore};
use strongroom_gcp::HttpSetters as _;
use strongroom_testkit::fake::Fault;
use strongroom_testkit::fakes::gcp::FakeGcp;

fn http(edit: impl FnOnce(&mut HttpConfig)) -> HttpConfig {
    let mut http = HttpConfig::default();
    http.retry = Some(fast_retry());
    edit(&mut http);
    http
}

#[tokio::test]
async fn redirects_are_refused_and_the_target_sees_nothing() {
    let fake = FakeGcp::start().await;
    let target = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.seed("k", b"v");
    // The first request is the token exchange: its signed assertion must not travel.
    let s = store(&fake, &dir);
    fake.faults().push(Fault::Redirect(
        307,
        format!("{}/token", target.url().replace("127.0.0.1", "localhost")),
    ));
    let err = s.read(&name("k"), &ReadOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Redirected, "{err}");
    assert_eq!(err.operation(), Some(Operation::Auth));
    assert!(err.to_string().contains("`localhost`"), "{err}");
    // Then a read, with a bearer token.
    s.read(&name("k"), &ReadOptions::new()).await.unwrap();
    fake.faults().push(Fault::Redirect(
        308,
        format!(
            "{}/v1/projects/x/secrets/k/versions/latest:access",
            target.url()
        ),
    ));
    let err = s.read(&name("k"), &ReadOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Redirected, "{err}");
    assert_eq!(err.name(), Some("k"));
    assert_eq!(
        target.faults().requests(),
        0,
        "the redirect target got nothing"
    );
}

#[tokio::test]
async fn an_answer_over_max_response_bytes_is_a_limit_error() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.seed("k", b"v");
    let s = builder(&fake, &dir)
        .with_http(http(|h| h.max_response_bytes = 64 * 1024))
        .build()
        .unwrap();
    s.read(&name("k"), &ReadOptions::new()).await.unwrap();
    for with_length in [true, false] {
        fake.faults()
            .push(Fault::Oversized(8 * 1024 * 1024, with_length));
        let err = s.read(&name("k"), &ReadOptions::new()).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
        assert_eq!(err.name(), Some("k"));
    }
}

#[tokio::test]
async fn a_server_that_always_has_another_page_ends_in_a_limit_error() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.seed("a", b"v");
    fake.set_endless_paging(true);
    let s = builder(&fake, &dir)
        .with_http(http(|h| h.max_pages = 3))
        .build()
        .unwrap();
    let err = s.list(None).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    assert!(err.to_string().contains("max_pages"), "{err}");
    assert_eq!(err.operation(), Some(Operation::List));
    let lists = fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/secrets"))
        .count();
    assert_eq!(lists, 4, "stopped at the page past max_pages");
}
