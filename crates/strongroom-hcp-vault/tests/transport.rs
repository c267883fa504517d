//! The transport rules of the core HTTP path, as this provider uses them. A `FakeServer`
//! stands in for Vault here only to answer what a real server will not: redirects, oversized
//! bodies and a LIST that never ends. Every test counts the requests each server received.

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use strongroom_core::HttpSetters as _;
use strongroom_core::config::HttpConfig;
use strongroom_core::{ErrorKind, Operation, ReadOptions, RetryPolicy, SecretName, SecretStore};
use strongroom_hcp_vault::{HcpVaultBuilder, HcpVaultStore};
use strongroom_testkit::fake::{FakeServer, Fault};
use strongroom_testkit::sentinel;

fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

fn http(configure: impl FnOnce(&mut HttpConfig)) -> HttpConfig {
    let mut h = HttpConfig::default();
    configure(&mut h);
    h
}

fn token_store(server: &FakeServer, token: &str, http: HttpConfig) -> HcpVaultStore {
    HcpVaultBuilder::new()
        .with_addr(server.url())
        .with_token(token)
        .with_http(http)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_redirected_read_fails_and_the_token_never_reaches_the_other_host() {
    let vault = FakeServer::start(Router::new()).await;
    let elsewhere = FakeServer::start(Router::new()).await;
    let token = sentinel("vault-token");
    let store = token_store(&vault, &token, HttpConfig::default());
    for (i, code) in [307u16, 308].into_iter().enumerate() {
        vault.faults().push(Fault::Redirect(
            code,
            format!("{}/v1/secret/data/x", elsewhere.url_with_host("localhost")),
        ));
        let err = store
            .read(&name("x"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Redirected, "{err}");
        assert_eq!(err.operation(), Some(Operation::Read));
        assert_eq!(err.provider(), "hcp-vault");
        let text = format!("{err} {err:?}");
        assert!(text.contains("localhost"), "names the target host: {text}");
        assert!(!text.contains(&token), "{text}");
        assert_eq!(
            vault.faults().requests(),
            i as u64 + 1,
            "sent once, not retried"
        );
    }
    assert_eq!(
        elsewhere.faults().requests(),
        0,
        "nothing reached the other host"
    );
}

#[tokio::test]
async fn a_redirected_approle_log_in_fails_and_the_secret_id_never_travels() {
    let vault = FakeServer::start(Router::new()).await;
    let elsewhere = FakeServer::start(Router::new()).await;
    let secret_id = sentinel("secret-id");
    let store = HcpVaultBuilder::new()
        .with_addr(vault.url())
        .with_approle("role-id", secret_id.as_str())
        .build()
        .unwrap();
    for code in [307u16, 308] {
        vault.faults().push(Fault::Redirect(
            code,
            format!(
                "{}/v1/auth/approle/login",
                elsewhere.url_with_host("localhost")
            ),
        ));
    }
    for i in 1..=2u64 {
        let err = store
            .read(&name("x"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Redirected, "{err}");
        assert_eq!(err.operation(), Some(Operation::Auth), "{err}");
        assert!(!format!("{err} {err:?}").contains(&secret_id));
        assert_eq!(vault.faults().requests(), i, "one log-in request per read");
    }
    assert_eq!(
        elsewhere.faults().requests(),
        0,
        "the secret id stayed home"
    );
    assert_eq!(store.token_refreshes().await, 0, "no token was obtained");
}

#[tokio::test]
async fn an_answer_over_max_response_bytes_is_a_limit_error() {
    let vault = FakeServer::start(Router::new()).await;
    let cap = 64 * 1024;
    let store = token_store(&vault, "t", http(|h| h.max_response_bytes = cap));
    // With a Content-Length (refused before reading) and chunked (refused while reading).
    for (i, with_length) in [true, false].into_iter().enumerate() {
        vault.faults().push(Fault::Oversized(16 * cap, with_length));
        let err = store
            .read(&name("big"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
        assert!(err.to_string().contains("max_response_bytes"), "{err}");
        assert_eq!(vault.faults().requests(), i as u64 + 1, "not retried");
    }
}

/// A "Vault" whose every LIST answers `{"data": {"keys": [<keys>…]}}`.
async fn endless_lister(keys: Vec<String>) -> FakeServer {
    let body = serde_json::json!({ "data": { "keys": keys } }).to_string();
    let router = Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(CONTENT_TYPE, "application/json")], body) }
    });
    FakeServer::start(router).await
}

#[tokio::test]
async fn a_list_that_always_has_a_sub_folder_stops_after_max_pages() {
    let vault = endless_lister(vec!["sub/".into()]).await;
    let store = token_store(&vault, "t", http(|h| h.max_pages = 5));
    let err = store.list(None).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    assert_eq!(err.operation(), Some(Operation::List));
    assert!(err.to_string().contains("max_pages"), "{err}");
    assert_eq!(vault.faults().requests(), 5, "exactly max_pages LIST calls");
}

#[tokio::test]
async fn a_list_longer_than_max_list_items_is_a_limit_error() {
    let mut keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
    keys.push("sub/".into());
    let vault = endless_lister(keys).await;
    let store = token_store(
        &vault,
        "t",
        http(|h| {
            h.max_list_items = 250;
            h.retry = Some(RetryPolicy::none());
        }),
    );
    let err = store.list(None).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    assert!(err.to_string().contains("max_list_items"), "{err}");
    assert_eq!(
        vault.faults().requests(),
        3,
        "101 names a page: the third passes 250"
    );
}
