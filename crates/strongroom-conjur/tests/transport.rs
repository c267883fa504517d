//! The core HTTP path's rules, seen through the Conjur store: redirects are refused and their
//! target gets nothing (not even the log-in's API key), answers are capped, list paging is
//! bounded.

mod common;

use common::{builder, count, fake, fast_retry, name};
use strongroom_core::HttpSetters as _;
use strongroom_core::config::HttpConfig;
use strongroom_core::{ErrorKind, Operation, ReadOptions, SecretStore};
use strongroom_testkit::fake::Fault;
use strongroom_testkit::fakes::conjur::FakeConjur;

/// Another server (a second fake Conjur on the same harness: it counts every request).
async fn elsewhere() -> FakeConjur {
    FakeConjur::start().await
}

fn http(edit: impl FnOnce(&mut HttpConfig)) -> HttpConfig {
    let mut http = HttpConfig::default();
    http.retry = Some(fast_retry());
    edit(&mut http);
    http
}

#[tokio::test]
async fn redirects_of_a_read_are_refused_and_the_target_sees_nothing() {
    let fake = fake().await;
    fake.set_value("r/x", b"v");
    let target = elsewhere().await;
    let store = builder(&fake).build().unwrap();
    store.read(&name("r/x"), &ReadOptions::new()).await.unwrap();
    for status in [307, 308] {
        let location = format!(
            "{}/secrets/default/variable/r%2Fx",
            target.url().replace("127.0.0.1", "localhost")
        );
        fake.faults().push(Fault::Redirect(status, location));
        let err = store
            .read(&name("r/x"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Redirected, "{status}: {err}");
        assert!(
            err.to_string().contains("`localhost`"),
            "names the target: {err}"
        );
        assert_eq!(err.operation(), Some(Operation::Read));
        assert_eq!(err.name(), Some("r/x"));
    }
    assert_eq!(
        target.faults().requests(),
        0,
        "the redirect target got nothing"
    );
    assert_eq!(
        fake.faults().requests(),
        2 + 2,
        "log-in, read, then one request per redirect: no retry"
    );
}

#[tokio::test]
async fn redirects_of_the_log_in_never_carry_the_api_key_away() {
    let fake = fake().await;
    let target = elsewhere().await;
    for status in [307, 308] {
        // A fresh store: its first request is the log-in, whose body is the API key.
        let store = builder(&fake).build().unwrap();
        let location = format!("{}/authn/default/admin/authenticate", target.url());
        fake.faults().push(Fault::Redirect(status, location));
        let err = store
            .read(&name("r/x"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Redirected, "{status}: {err}");
        assert_eq!(err.operation(), Some(Operation::Auth));
        assert!(!format!("{err} {err:?}").contains(&fake.api_key()));
    }
    assert_eq!(
        target.faults().requests(),
        0,
        "the API key never left for the target"
    );
    assert_eq!(fake.authn_count(), 0);
}

#[tokio::test]
async fn an_answer_over_max_response_bytes_is_a_limit_error() {
    let fake = fake().await;
    fake.set_value("big/x", b"v");
    let store = builder(&fake)
        .with_http(http(|h| h.max_response_bytes = 64 * 1024))
        .build()
        .unwrap();
    store
        .read(&name("big/x"), &ReadOptions::new())
        .await
        .unwrap();
    for with_length in [true, false] {
        fake.faults()
            .push(Fault::Oversized(8 * 1024 * 1024, with_length));
        let err = store
            .read(&name("big/x"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
        assert_eq!(err.name(), Some("big/x"));
    }
    // A batch answer too.
    fake.faults().push(Fault::Oversized(8 * 1024 * 1024, false));
    let err = store
        .read_many(&[name("big/x"), name("big/y")], &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
}

#[tokio::test]
async fn a_server_that_always_has_another_page_ends_in_a_limit_error() {
    let fake = fake().await;
    fake.set_endless_resources(true);
    let store = builder(&fake)
        .with_http(http(|h| h.max_pages = 3))
        .with_list_page_size(5)
        .build()
        .unwrap();
    let err = store.list(None).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    assert!(err.to_string().contains("max_pages"), "{err}");
    assert_eq!(err.operation(), Some(Operation::List));
    assert_eq!(
        count(&fake, "GET", "/resources/"),
        3 + 1,
        "stopped at the page past max_pages"
    );

    // The item bound: 12 names at most, pages of 5.
    fake.clear_requests();
    let store = builder(&fake)
        .with_http(http(|h| h.max_list_items = 12))
        .with_list_page_size(5)
        .build()
        .unwrap();
    let err = store.list(Some("endless/")).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    assert!(err.to_string().contains("max_list_items"), "{err}");
    assert_eq!(count(&fake, "GET", "/resources/"), 3);
}
