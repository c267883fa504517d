//! The core HTTP path as the Akeyless store uses it: no redirects (credentials never reach
//! another host), capped bodies, bounded lists, batched reads.

mod common;

use common::{builder, name, read_str, store};
use strongroom_core::HttpSetters as _;
use strongroom_core::config::HttpConfig;
use strongroom_core::{ErrorKind, Operation, ReadOptions, SecretStore};
use strongroom_testkit::fake::Fault;
use strongroom_testkit::fakes::akeyless::FakeAkeyless;

#[tokio::test]
async fn a_redirect_on_a_read_is_refused_and_the_other_host_gets_nothing() {
    let fake = FakeAkeyless::start().await;
    let other = FakeAkeyless::start().await;
    fake.seed_static("/a", "v");
    let store = store(&fake);
    read_str(&store, "a").await; // logged in
    for status in [307, 308] {
        fake.faults().push(Fault::Redirect(
            status,
            format!("{}/get-secret-value", other.url()),
        ));
        let err = store
            .read(&name("a"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Redirected, "{err}");
        assert!(
            err.to_string().contains("127.0.0.1"),
            "names the target: {err}"
        );
        assert_eq!(err.operation(), Some(Operation::Read));
        assert_eq!(err.name(), Some("a"));
    }
    assert_eq!(
        other.faults().requests(),
        0,
        "the token never left for the other host"
    );
    // Log-in, first read, two redirected reads: nothing was retried.
    assert_eq!(fake.faults().requests(), 4, "redirects are not retried");
}

#[tokio::test]
async fn a_redirect_on_auth_never_carries_the_access_key_elsewhere() {
    let fake = FakeAkeyless::start().await;
    let other = FakeAkeyless::start().await;
    fake.seed_static("/a", "v");
    let store = store(&fake);
    for status in [307, 308] {
        fake.faults()
            .push(Fault::Redirect(status, format!("{}/auth", other.url())));
        let err = store
            .read(&name("a"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Redirected, "{err}");
        assert_eq!(err.operation(), Some(Operation::Auth));
        assert!(!format!("{err} {err:?}").contains(fake.access_key()));
    }
    assert_eq!(
        other.faults().requests(),
        0,
        "the access key never left for the other host"
    );
    assert_eq!(
        fake.faults().requests(),
        2,
        "redirected log-ins are not retried"
    );
    assert_eq!(store.logins().await, 0);
    // Nothing was left half-done: the next call logs in normally.
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("v"));
}

#[tokio::test]
async fn an_answer_over_max_response_bytes_is_limit_exceeded() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/a", "v");
    let mut http = HttpConfig::default();
    http.max_response_bytes = 64 * 1024;
    let store = builder(&fake).with_http(http).build().unwrap();
    read_str(&store, "a").await;
    for with_length in [true, false] {
        fake.faults()
            .push(Fault::Oversized(1024 * 1024, with_length));
        let err = store
            .read(&name("a"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
        assert!(err.to_string().contains("max_response_bytes"), "{err}");
    }
    // Log-in, first read, two oversized answers: nothing was retried.
    assert_eq!(
        fake.faults().requests(),
        4,
        "a too-large answer is not retried"
    );
}

#[tokio::test]
async fn a_list_that_never_stops_paging_ends_after_max_pages() {
    let fake = FakeAkeyless::start().await;
    fake.set_page_size(1);
    fake.set_endless_pages(true);
    fake.seed_static("/a", "v");
    let mut http = HttpConfig::default();
    http.max_pages = 5;
    let store = builder(&fake).with_http(http).build().unwrap();
    let err = store.list(None).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    assert!(err.to_string().contains("max_pages"), "{err}");
    assert_eq!(err.operation(), Some(Operation::List));
    // Five pages are taken; the sixth, received, is past the bound.
    assert_eq!(fake.calls("list-items"), 6);
}

#[tokio::test]
async fn a_recursive_list_longer_than_max_list_items_is_limit_exceeded() {
    let fake = FakeAkeyless::start().await;
    for i in 0..10 {
        fake.seed_static(&format!("/d{}/s{i}", i % 3), "v");
    }
    let mut http = HttpConfig::default();
    http.max_list_items = 6;
    let store = builder(&fake).with_http(http).build().unwrap();
    let err = store.list(None).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    assert!(err.to_string().contains("max_list_items"), "{err}");
    let mut http = HttpConfig::default();
    http.max_list_items = 100;
    let store = builder(&fake).with_http(http).build().unwrap();
    assert_eq!(store.list(None).await.unwrap().len(), 10);
}

#[tokio::test]
async fn read_many_is_one_call_per_hundred_names() {
    let fake = FakeAkeyless::start().await;
    let names: Vec<_> = (0..250)
        .map(|i| {
            fake.seed_static(&format!("/b/{i}"), &format!("v{i}"));
            name(&format!("b/{i}"))
        })
        .collect();
    let store = store(&fake);
    let got = store.read_many(&names, &ReadOptions::new()).await.unwrap();
    assert_eq!(got.len(), 250);
    assert_eq!(fake.calls("get-secret-value"), 3);
    for (i, (n, s)) in got.iter().enumerate() {
        assert_eq!(n.as_str(), format!("b/{i}"), "asked order");
        assert_eq!(
            s.as_ref().unwrap().value.expose_str().unwrap(),
            format!("v{i}")
        );
    }
}
