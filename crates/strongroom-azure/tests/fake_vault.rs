//! The Azure store against the faithful Key Vault fake (HTTPS with a test CA, 401 challenge,
//! soft delete, paging, throttling, faults). No Key Vault runs locally, so the fake stands in;
//! `sdk-checks/azure.py` shows Microsoft's own Python SDK accepts the same fake. Waits for
//! deletes and recoveries move a `ManualClock` instead of sleeping; assertions count requests
//! at the fake.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};
use strongroom_core::HttpSetters as _;

use common::{FixedToken, builder, ca_file, get, name, put, sp_builder, store};
use strongroom_azure::{AzureBuilder, AzureConfig};
use strongroom_core::config::{HttpConfig, ProviderConfig, Settings, StoreConfig};
use strongroom_core::{
    CachePolicy, Clock, DeleteOptions, ErrorKind, ManualClock, MemoryCache, ReadOptions,
    RetryPolicy, SecretStore, SecretStoreExt, SecretValue, WriteOptions,
};
use strongroom_testkit::fake::Fault;
use strongroom_testkit::fakes::azure::{FakeAzure, RecoveryLevel, SeenRequest};
use strongroom_testkit::{CountingStore, conformance, logs, sentinel};

fn since(fake: &FakeAzure, before: usize) -> Vec<SeenRequest> {
    fake.requests()[before..].to_vec()
}

fn calls(seen: &[SeenRequest]) -> Vec<String> {
    seen.iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn conformance_suite_passes_against_the_fake() {
    let fake = FakeAzure::start().await;
    conformance::run(
        Arc::new(store(&fake)),
        conformance::Options::new()
            .names_with_spaces(false)
            .names_with_unicode(false),
    )
    .await;
}

#[tokio::test]
async fn settings_from_toml_keys_build_a_working_store() {
    let fake = FakeAzure::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(&dir, &fake);
    // The keys users already write, including the two the facade used to patch in.
    let mut s = Settings::for_manager("kv");
    s.insert("uri", fake.url().into());
    s.insert("tenant_id", fake.tenant().into());
    s.insert("client_id", fake.client_id().into());
    s.insert("client_secret", fake.client_secret().into());
    s.insert("authority_host", fake.url().into());
    s.insert("ca_file", ca.display().to_string().into());
    s.insert("verify_challenge_resource", false.into());
    s.insert("poll_timeout", "30s".into());
    let store = AzureConfig::from_settings(&s).unwrap().build().unwrap();
    put(&store, "toml/one", "v1").await;
    assert_eq!(get(&store, "toml/one").await.as_deref(), Some("v1"));
    assert_eq!(fake.token_requests().len(), 1);

    // The same through the environment's exact names.
    let (url, tenant, client, secret) = (
        fake.url(),
        fake.tenant().to_owned(),
        fake.client_id().to_owned(),
        fake.client_secret().to_owned(),
    );
    let ca_text = ca.display().to_string();
    let config = AzureConfig::from_lookup(|k| match k {
        "AZURE_KEY_VAULT_URI" | "AZURE_AUTHORITY_HOST" => Some(url.clone()),
        "AZURE_TENANT_ID" => Some(tenant.clone()),
        "AZURE_CLIENT_ID" => Some(client.clone()),
        "AZURE_CLIENT_SECRET" => Some(secret.clone()),
        "AZURE_KEY_VAULT_CA_FILE" => Some(ca_text.clone()),
        "AZURE_KEY_VAULT_VERIFY_CHALLENGE_RESOURCE" => Some("false".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(
        get(&config.build().unwrap(), "toml/one").await.as_deref(),
        Some("v1")
    );

    // A CA file that does not exist fails when the store is built, naming the setting.
    s.insert("ca_file", "/nonexistent/ca.pem".into());
    let err = AzureConfig::from_settings(&s)
        .unwrap()
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("ca_file"), "{err}");
}

#[tokio::test]
async fn names_are_mapped_on_the_wire_and_back_in_list() {
    let fake = FakeAzure::start().await;
    let store = store(&fake);
    put(&store, "litellm/db_password", "v1").await;
    put(&store, "app/api-key", "v2").await;
    assert_eq!(fake.value("litellm--db---password").as_deref(), Some("v1"));
    assert_eq!(fake.value("app--api-key").as_deref(), Some("v2"));
    // A secret created by another tool with a plain Key Vault name.
    fake.seed("plain-name", "v3", None);
    // One with a run of 4 dashes has no Strongroom name and is skipped.
    fake.seed("odd----name", "v4", None);
    let listed: Vec<String> = store
        .list(None)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(listed, ["app/api-key", "litellm/db_password", "plain-name"]);
    assert_eq!(
        store.list(Some("litellm/")).await.unwrap(),
        [name("litellm/db_password")]
    );
    // Key Vault compares names case-insensitively: this is the same secret.
    assert_eq!(
        get(&store, "LITELLM/DB_PASSWORD").await.as_deref(),
        Some("v1")
    );
}

#[tokio::test]
async fn unmappable_names_fail_before_any_request() {
    let fake = FakeAzure::start().await;
    let store = store(&fake);
    let long = "a".repeat(128);
    for bad in [
        "with space",
        "dots.here",
        "ключ",
        "a--b",
        "a/_b",
        long.as_str(),
    ] {
        let n = name(bad);
        let errs = [
            store
                .read(&n, &ReadOptions::new())
                .await
                .map(|_| ())
                .unwrap_err(),
            store
                .write(&n, "x".into(), &WriteOptions::new())
                .await
                .map(|_| ())
                .unwrap_err(),
            store.delete(&n, &DeleteOptions::new()).await.unwrap_err(),
        ];
        for err in errs {
            assert_eq!(err.kind(), &ErrorKind::InvalidName, "{bad}: {err}");
            assert_eq!(err.provider(), "azure");
        }
    }
    assert_eq!(fake.faults().requests(), 0, "nothing may reach the vault");
}

#[tokio::test]
async fn challenge_flow_learns_the_scope_then_reuses_the_token() {
    let fake = FakeAzure::start().await;
    let cred = FixedToken::new();
    let store = builder(&fake, Arc::clone(&cred)).build().unwrap();
    put(&store, "first", "v1").await;
    assert_eq!(get(&store, "first").await.as_deref(), Some("v1"));
    let seen = fake.requests();
    assert_eq!(seen.len(), 3, "challenge + PUT + GET: {seen:?}");
    assert!(
        !seen[0].authorized,
        "the first request goes out without a token"
    );
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("PUT", "/secrets/first")
    );
    assert!(seen[1].authorized && seen[2].authorized);
    assert_eq!(
        seen[0].client_request_id, seen[1].client_request_id,
        "the retry after a challenge keeps its request id"
    );
    assert_eq!(
        seen[2].path, "/secrets/first/",
        "latest version is a trailing-slash GET"
    );
    assert_eq!(
        cred.scopes.lock().unwrap().as_slice(),
        ["https://vault.azure.net/.default"],
        "one token request, for the challenge's resource"
    );
    assert!(
        seen.iter()
            .all(|r| r.query.contains("api-version=2025-07-01"))
    );
}

#[tokio::test]
async fn a_token_revoked_early_gets_one_new_token_and_one_retry() {
    let fake = FakeAzure::start().await;
    let store = sp_builder(&fake).build().unwrap();
    // Only tokens the fake's token endpoint issued (and did not revoke) are accepted.
    fake.restrict_tokens(Some(vec![]));
    put(&store, "cae/one", "v1").await;
    assert_eq!(fake.token_requests().len(), 1);
    assert_eq!(fake.revoke_issued_tokens(), 1);

    let before = fake.requests().len();
    assert_eq!(get(&store, "cae/one").await.as_deref(), Some("v1"));
    let seen = since(&fake, before);
    assert_eq!(
        calls(&seen),
        ["GET /secrets/cae--one/", "GET /secrets/cae--one/"],
        "the refused call and exactly one retry"
    );
    assert!(seen.iter().all(|r| r.authorized));
    assert_eq!(fake.token_requests().len(), 2, "exactly one new token");

    // The new token is cached: no further token requests, one request per call.
    let before = fake.requests().len();
    assert_eq!(get(&store, "cae/one").await.as_deref(), Some("v1"));
    assert_eq!(since(&fake, before).len(), 1);
    assert_eq!(fake.token_requests().len(), 2);
}

#[tokio::test]
async fn a_token_refused_again_is_unauthorized_after_one_retry() {
    let fake = FakeAzure::start().await;
    let cred = FixedToken::new();
    fake.restrict_tokens(Some(vec![cred.token.clone()]));
    let store = builder(&fake, Arc::clone(&cred))
        .with_retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    put(&store, "x", "v").await;
    assert_eq!(cred.asked(), 1);
    // The vault stops accepting the token; the credential keeps handing out the same one.
    fake.restrict_tokens(Some(vec!["some-other-token".into()]));
    let before = fake.requests().len();
    let err = store
        .read(&name("x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    assert!(!err.is_temporary());
    assert_eq!(
        since(&fake, before).len(),
        2,
        "one call, one retry, no loop"
    );
    assert_eq!(cred.asked(), 2, "asked once more for the retry");
}

#[tokio::test]
async fn a_redirect_is_refused_and_the_other_host_gets_nothing() {
    let fake = FakeAzure::start().await;
    let elsewhere = FakeAzure::start().await;
    let store = store(&fake);
    put(&store, "r", "v").await; // the token is known from here on
    for (status, write) in [(307, false), (308, true)] {
        fake.faults().push(Fault::Redirect(
            status,
            format!("{}/secrets/r/", elsewhere.url()),
        ));
        let before = fake.faults().requests();
        let err = if write {
            store
                .write(&name("r"), "v2".into(), &WriteOptions::new())
                .await
                .map(|_| ())
                .unwrap_err()
        } else {
            store
                .read(&name("r"), &ReadOptions::new())
                .await
                .map(|_| ())
                .unwrap_err()
        };
        assert_eq!(err.kind(), &ErrorKind::Redirected, "{err}");
        assert!(err.to_string().contains("127.0.0.1"), "{err}");
        assert_eq!(fake.faults().requests() - before, 1, "not retried");
    }
    assert_eq!(
        elsewhere.faults().requests(),
        0,
        "the bearer token never travels"
    );
    assert_eq!(fake.value("r").as_deref(), Some("v"));
}

#[tokio::test]
async fn an_oversized_answer_is_a_typed_error_and_is_not_retried() {
    let fake = FakeAzure::start().await;
    let mut http = HttpConfig::default();
    http.max_response_bytes = 64 * 1024;
    let store = builder(&fake, FixedToken::new())
        .with_http(http)
        .with_ca_pem(fake.ca_pem())
        .build()
        .unwrap();
    put(&store, "big", "v").await;
    for with_length in [true, false] {
        fake.faults()
            .push(Fault::Oversized(4 * 1024 * 1024, with_length));
        let before = fake.faults().requests();
        let err = store
            .read(&name("big"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
        assert!(err.to_string().contains("max_response_bytes"), "{err}");
        assert_eq!(fake.faults().requests() - before, 1, "not retried");
    }
    assert_eq!(get(&store, "big").await.as_deref(), Some("v"));
}

#[tokio::test]
async fn a_server_that_always_has_another_page_is_stopped_at_max_pages() {
    let fake = FakeAzure::start().await;
    let mut http = HttpConfig::default();
    http.max_pages = 3;
    let store = builder(&fake, FixedToken::new())
        .with_http(http)
        .with_ca_pem(fake.ca_pem())
        .build()
        .unwrap();
    fake.seed("a", "v", None);
    fake.seed("b", "v", None);
    assert_eq!(store.list(None).await.unwrap().len(), 2, "a normal list");
    fake.set_endless_paging(true);
    let before = fake.requests().len();
    let err = store.list(None).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    assert!(err.to_string().contains("max_pages (3)"), "{err}");
    let pages = since(&fake, before)
        .iter()
        .filter(|r| r.path == "/secrets")
        .count();
    assert_eq!(pages, 3, "the page past the bound is never fetched");
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let fake = FakeAzure::start().await;
    let elsewhere = FakeAzure::start().await;
    let store = store(&fake);
    for i in 0..30 {
        fake.seed(&format!("item-{i:02}"), "v", None);
    }
    fake.set_next_link_base(Some(elsewhere.url()));
    let err = store.list(None).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Redirected, "{err}");
    assert!(err.to_string().contains("another host"), "{err}");
    assert_eq!(
        elsewhere.faults().requests(),
        0,
        "the bearer token never travels"
    );
}

#[tokio::test]
async fn api_version_is_selectable() {
    let fake = FakeAzure::start().await;
    let store = builder(&fake, FixedToken::new())
        .with_api_version("7.5")
        .build()
        .unwrap();
    assert_eq!(store.api_version(), "7.5");
    assert!(get(&store, "nothing").await.is_none());
    assert!(fake.requests().iter().all(|r| r.query == "api-version=7.5"));
}

#[tokio::test]
async fn client_secret_login_against_the_fake_token_endpoint() {
    let fake = FakeAzure::start().await;
    let store = sp_builder(&fake).build().unwrap();
    // Only tokens the endpoint issued are accepted.
    fake.restrict_tokens(Some(vec![]));
    put(&store, "via-sp", "v1").await;
    assert_eq!(get(&store, "via-sp").await.as_deref(), Some("v1"));
    let tokens = fake.token_requests();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0]["client_id"], fake.client_id());
    assert_eq!(tokens[0]["grant_type"], "client_credentials");
    assert_eq!(tokens[0]["scope"], "https://vault.azure.net/.default");

    let wrong = sp_builder(&fake)
        .with_client_secret(fake.tenant(), fake.client_id(), "wrong-secret-value-1234")
        .with_retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = wrong
        .read(&name("via-sp"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("wrong-secret-value-1234") && !text.contains(fake.client_secret()));
}

#[tokio::test]
async fn write_to_a_soft_deleted_name_recovers_then_sets() {
    let fake = FakeAzure::start().await;
    let store = store(&fake);
    put(&store, "app/key", "old").await;
    store
        .delete(&name("app/key"), &DeleteOptions::new())
        .await
        .unwrap();
    assert!(fake.is_soft_deleted("app--key"));
    assert!(get(&store, "app/key").await.is_none());
    let before = fake.requests().len();
    put(&store, "app/key", "new").await;
    assert_eq!(
        calls(&since(&fake, before)),
        [
            "PUT /secrets/app--key",
            "POST /deletedsecrets/app--key/recover",
            "GET /secrets/app--key/",
            "PUT /secrets/app--key",
        ]
    );
    assert_eq!(get(&store, "app/key").await.as_deref(), Some("new"));
    assert!(!fake.is_soft_deleted("app--key"));
    assert_eq!(
        fake.version_count("app--key"),
        2,
        "recovered history plus the new version"
    );
}

#[tokio::test]
async fn a_write_that_fails_after_a_recovery_deletes_the_name_again() {
    let fake = FakeAzure::start().await;
    let store = store(&fake);
    put(&store, "undo/me", "old-value").await;
    store
        .delete(&name("undo/me"), &DeleteOptions::new())
        .await
        .unwrap();
    // The first PUT meets the soft-deleted name (409); the one after the recovery fails.
    fake.fail_nth("PUT", "/secrets/undo--me", 2, 403);
    let before = fake.requests().len();
    let err = store
        .write(&name("undo/me"), "new-value".into(), &WriteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Forbidden, "{err}");
    assert!(err.hint().unwrap().contains("deleted again"), "{err}");
    assert_eq!(
        calls(&since(&fake, before)),
        [
            "PUT /secrets/undo--me",
            "POST /deletedsecrets/undo--me/recover",
            "GET /secrets/undo--me/",
            "PUT /secrets/undo--me",
            "DELETE /secrets/undo--me",
        ]
    );
    assert!(fake.is_soft_deleted("undo--me"), "back where it was");
    assert!(
        get(&store, "undo/me").await.is_none(),
        "the old value is not live"
    );
}

#[tokio::test]
async fn write_to_a_soft_deleted_name_can_refuse_instead() {
    let fake = FakeAzure::start().await;
    let store = builder(&fake, FixedToken::new())
        .with_recover_deleted_on_write(false)
        .build()
        .unwrap();
    put(&store, "gone", "old").await;
    store
        .delete(&name("gone"), &DeleteOptions::new())
        .await
        .unwrap();
    let err = store
        .write(&name("gone"), "new".into(), &WriteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Conflict, "{err}");
    assert!(
        err.to_string().contains("ObjectIsDeletedButRecoverable"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("soft-deleted"), "{err}");
    assert!(fake.is_soft_deleted("gone"), "nothing was recovered");
}

#[tokio::test]
async fn forced_delete_waits_for_the_soft_delete_then_purges() {
    let fake = FakeAzure::start().await;
    let store = store(&fake);
    put(&store, "purge/me", "v").await;
    fake.set_deletion_lag(3);
    let before = fake.requests().len();
    store
        .delete(&name("purge/me"), &DeleteOptions::new().force(true))
        .await
        .unwrap();
    assert!(!fake.exists("purge--me"), "purged for good");
    assert_eq!(
        calls(&since(&fake, before)),
        [
            "DELETE /secrets/purge--me",
            "GET /deletedsecrets/purge--me",
            "GET /deletedsecrets/purge--me",
            "GET /deletedsecrets/purge--me",
            "GET /deletedsecrets/purge--me",
            "DELETE /deletedsecrets/purge--me",
        ],
        "3 polls while deleting, one that finds it, the purge"
    );
    // The name can be reused at once, with no recovery.
    put(&store, "purge/me", "fresh").await;
    assert_eq!(fake.version_count("purge--me"), 1);
    // Deleting what does not exist succeeds, forced or not.
    store
        .delete(&name("never/was"), &DeleteOptions::new())
        .await
        .unwrap();
    store
        .delete(&name("never/was"), &DeleteOptions::new().force(true))
        .await
        .unwrap();
    // A forced delete of an already soft-deleted name purges it.
    fake.set_deletion_lag(0);
    put(&store, "soft", "v").await;
    store
        .delete(&name("soft"), &DeleteOptions::new())
        .await
        .unwrap();
    store
        .delete(&name("soft"), &DeleteOptions::new().force(true))
        .await
        .unwrap();
    assert!(!fake.exists("soft"));
}

#[tokio::test]
async fn a_vault_without_soft_delete_deletes_in_one_request() {
    let fake = FakeAzure::start().await;
    fake.set_recovery_level(RecoveryLevel::Purgeable);
    let store = store(&fake);
    put(&store, "plain", "v").await;
    let before = fake.requests().len();
    store
        .delete(&name("plain"), &DeleteOptions::new().force(true))
        .await
        .unwrap();
    assert_eq!(
        calls(&since(&fake, before)),
        ["DELETE /secrets/plain"],
        "no polling, nothing to purge"
    );
    assert!(!fake.exists("plain"));
    // The name is free at once.
    put(&store, "plain", "again").await;
    assert_eq!(fake.version_count("plain"), 1);
}

#[tokio::test]
async fn a_soft_delete_that_never_completes_is_a_timeout() {
    let fake = FakeAzure::start().await;
    let clock = Arc::new(ManualClock::new());
    // poll_interval 1 s, poll_timeout 60 s (the defaults)
    let store = builder(&fake, FixedToken::new())
        .with_manual_clock(Arc::clone(&clock))
        .build()
        .unwrap();
    put(&store, "stuck", "v").await;
    fake.set_deletion_lag(u32::MAX);
    let before = fake.requests().len();
    let started = clock.now();
    let err = store
        .delete(&name("stuck"), &DeleteOptions::new().force(true))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Timeout, "{err}");
    assert!(
        err.to_string().contains("did not complete within 60s"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("not purged"), "{err}");
    let seen = since(&fake, before);
    let polls = seen
        .iter()
        .filter(|r| r.path == "/deletedsecrets/stuck")
        .count();
    // Waits of 1, 2, 4, then 8 s (capped), ending at the 60 s bound: 10 waits, 11 polls.
    assert_eq!(polls, 11, "{:?}", calls(&seen));
    assert_eq!(seen.len(), 12, "the delete and the polls, no purge");
    assert_eq!(clock.now() - started, Duration::from_secs(60));
}

#[tokio::test]
async fn purge_protection_is_said_plainly() {
    let fake = FakeAzure::start().await;
    fake.set_purge_protection(true);
    let store = store(&fake);
    // A live secret: the delete's answer says the vault cannot purge; no purge is sent.
    put(&store, "kept", "v").await;
    let before = fake.requests().len();
    let err = store
        .delete(&name("kept"), &DeleteOptions::new().force(true))
        .await
        .unwrap_err();
    assert_eq!(calls(&since(&fake, before)), ["DELETE /secrets/kept"]);
    let check = |err: &strongroom_core::Error| {
        assert_eq!(err.kind(), &ErrorKind::Forbidden, "{err}");
        let text = err.to_string();
        assert!(text.contains("purge protection"), "{text}");
        assert!(
            !text.contains("403 403") && !text.contains("Secrets Officer"),
            "{text}"
        );
        assert!(err.hint().unwrap().contains("recover"), "{err:?}");
    };
    check(&err);
    assert!(fake.is_soft_deleted("kept"), "deleted, recoverable");
    // Already soft-deleted: the purge is tried and the service's 403 is recognised.
    let before = fake.requests().len();
    let err = store
        .delete(&name("kept"), &DeleteOptions::new().force(true))
        .await
        .unwrap_err();
    assert_eq!(
        calls(&since(&fake, before)),
        ["DELETE /secrets/kept", "DELETE /deletedsecrets/kept"]
    );
    check(&err);
}

#[tokio::test]
async fn list_follows_next_links_over_many_pages() {
    let fake = FakeAzure::start().await;
    let store = store(&fake);
    for i in 0..60 {
        fake.seed(&format!("bulk--item-{i:02}"), "v", None);
    }
    let listed = store.list(Some("bulk/")).await.unwrap();
    assert_eq!(listed.len(), 60);
    assert_eq!(listed[0].as_str(), "bulk/item-00");
    assert_eq!(listed[59].as_str(), "bulk/item-59");
    let pages: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/secrets" && r.authorized)
        .collect();
    assert_eq!(pages.len(), 3, "25 + 25 + 10: {pages:?}");
    assert!(pages[1].query.contains("%24skiptoken=") || pages[1].query.contains("$skiptoken="));
}

#[tokio::test]
async fn throttling_is_retried_within_max_retries() {
    let fake = FakeAzure::start().await;
    let store = builder(&fake, FixedToken::new())
        .with_retry_policy(
            RetryPolicy::default()
                .max_retries(2)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(2)),
        )
        .build()
        .unwrap();
    put(&store, "busy", "v").await;
    fake.throttle_next(1, 0);
    let before = fake.requests().len();
    assert_eq!(get(&store, "busy").await.as_deref(), Some("v"));
    assert_eq!(since(&fake, before).len(), 2, "throttled, then retried");
    // Throttled every time: the first try and max_retries retries, then RateLimited.
    fake.throttle_next(5, 0);
    let before = fake.requests().len();
    let err = store
        .read(&name("busy"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::RateLimited { .. }), "{err}");
    assert_eq!(since(&fake, before).len(), 3);
}

#[tokio::test]
async fn throttling_without_retries_is_rate_limited_with_the_delay() {
    let fake = FakeAzure::start().await;
    let store = builder(&fake, FixedToken::new())
        .with_retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    put(&store, "busy", "v").await;
    fake.throttle_next(1, 7);
    let err = store
        .read(&name("busy"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        },
        "{err}"
    );
    assert!(err.is_temporary());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn exp_becomes_expires_at_and_the_cache_honours_it() {
    let fake = FakeAzure::start().await;
    let store = Arc::new(store(&fake));
    let in_two_minutes = SystemTime::now() + Duration::from_secs(120);
    fake.seed("with-exp", "v", Some(in_two_minutes));
    let s = store
        .read(&name("with-exp"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    let exp = s.expires_at.expect("exp maps to expires_at");
    let diff = exp
        .duration_since(in_two_minutes)
        .unwrap_or_else(|e| e.duration());
    assert!(
        diff < Duration::from_secs(1),
        "{exp:?} vs {in_two_minutes:?}"
    );
    assert!(s.version.as_deref().is_some_and(|v| v.len() == 32));
    assert!(s.created_at.is_some() && s.updated_at.is_some());

    // A secret whose exp has passed is never served from the cache.
    fake.seed(
        "expired",
        "v",
        Some(SystemTime::now() - Duration::from_secs(5)),
    );
    let counting = CountingStore::new(Arc::clone(&store) as Arc<dyn SecretStore>);
    let counts = counting.counts();
    let cached = counting.with_cache(
        Arc::new(MemoryCache::new(100)),
        CachePolicy::new("azure-test").ttl(Duration::from_secs(300)),
    );
    for _ in 0..3 {
        cached
            .read(&name("expired"), &ReadOptions::new())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(
        counts.reads(),
        3,
        "an expired secret goes back to the vault each time"
    );
    for _ in 0..3 {
        cached
            .read(&name("with-exp"), &ReadOptions::new())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(counts.reads(), 4, "a valid secret is cached");
}

#[tokio::test]
async fn a_disabled_secret_is_forbidden_with_a_hint() {
    let fake = FakeAzure::start().await;
    let store = store(&fake);
    put(&store, "off", "v").await;
    assert!(fake.set_enabled("off", false));
    let err = store
        .read(&name("off"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Forbidden, "{err}");
    assert!(err.hint().unwrap().contains("disabled"), "{err}");
    assert!(err.to_string().contains("SecretDisabled"), "{err}");
}

#[tokio::test]
async fn versions_and_fields() {
    let fake = FakeAzure::start().await;
    let store = store(&fake);
    let v1 = put(&store, "multi", r#"{"user":"app","pass":"p1"}"#)
        .await
        .unwrap();
    let v2 = put(&store, "multi", r#"{"user":"app","pass":"p2"}"#)
        .await
        .unwrap();
    assert_ne!(v1, v2, "every write is a new version");
    let old = store
        .read(
            &name("multi"),
            &ReadOptions::new().version(&v1).field("pass"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.value.expose_str().unwrap(), "p1");
    assert_eq!(old.version.as_deref(), Some(v1.as_str()));
    assert!(
        store
            .read(&name("multi"), &ReadOptions::new().version("0".repeat(32)))
            .await
            .unwrap()
            .is_none()
    );
    let err = store
        .read(&name("multi"), &ReadOptions::new().version("../x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidName);
    let err = store
        .read(&name("multi"), &ReadOptions::new().stage("AWSPREVIOUS"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
}

#[tokio::test]
async fn write_metadata_travels_and_limits_are_checked_before_any_call() {
    let fake = FakeAzure::start().await;
    let store = store(&fake);
    store
        .write(
            &name("typed"),
            "x".into(),
            &WriteOptions::new()
                .content_type("text/plain")
                .description("the database password")
                .tag("team", "a"),
        )
        .await
        .unwrap();
    let s = store
        .read(&name("typed"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.content_type.as_deref(), Some("text/plain"));
    assert_eq!(s.tags.get("team").map(String::as_str), Some("a"));
    assert_eq!(
        s.tags.get("description").map(String::as_str),
        Some("the database password"),
        "Key Vault has no description field: it is the tag `description`"
    );
    // Refused before any call: binary values, CAS, too many tags, too large a value.
    let before = fake.faults().requests();
    let mut sixteen = WriteOptions::new();
    for i in 0..16 {
        sixteen = sixteen.tag(format!("t{i}"), "v");
    }
    let big = SecretValue::from("x".repeat(strongroom_azure::MAX_VALUE_BYTES + 1));
    for (value, opts) in [
        (SecretValue::from(vec![0xff, 0xfe]), WriteOptions::new()),
        ("x".into(), WriteOptions::new().cas(1)),
        ("x".into(), sixteen),
        (big, WriteOptions::new()),
        (
            "x".into(),
            WriteOptions::new().description("a").tag("description", "b"),
        ),
    ] {
        let err = store.write(&name("meta"), value, &opts).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unsupported, "{err}");
    }
    assert_eq!(fake.faults().requests(), before);
}

#[tokio::test]
async fn faults_map_to_temporary_and_protocol_errors() {
    let fake = FakeAzure::start().await;
    let store = store(&fake);
    put(&store, "f", "value-not-to-leak").await;
    // A 503 is retried by the SDK's policy.
    fake.faults().push(Fault::Status(503));
    assert_eq!(get(&store, "f").await.as_deref(), Some("value-not-to-leak"));

    let strict = builder(&fake, FixedToken::new())
        .with_retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    put(&strict, "g", "v").await; // learns the challenge first
    fake.faults().push(Fault::Status(503));
    let err = strict
        .read(&name("g"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
    fake.faults().push(Fault::Malformed);
    let err = strict
        .read(&name("g"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Protocol, "{err}");
    fake.faults().push(Fault::Drop);
    let err = strict
        .read(&name("g"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_temporary(), "{err}");
    fake.faults().push(Fault::Status(500));
    let err = strict.list(None).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn an_untrusted_certificate_fails_without_retries() {
    let fake = FakeAzure::start().await;
    let store = AzureBuilder::new()
        .with_vault_url(fake.url())
        .with_credential(FixedToken::new())
        .with_verify_challenge_resource(false)
        .with_retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = store
        .read(&name("x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
    assert_eq!(fake.faults().requests(), 0, "no request got through TLS");
}

#[tokio::test]
async fn the_challenge_resource_is_verified_by_default() {
    let fake = FakeAzure::start().await;
    let store = AzureBuilder::new()
        .with_vault_url(fake.url())
        .with_ca_pem(fake.ca_pem())
        .with_credential(FixedToken::new())
        .with_retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    // 127.0.0.1 is not a subdomain of vault.azure.net: the SDK refuses to send a token.
    let err = store
        .read(&name("x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert!(!err.is_temporary(), "{err}");
    assert!(fake.requests().iter().all(|r| !r.authorized));
}

#[tokio::test]
async fn no_value_token_or_client_secret_reaches_logs_or_errors() {
    logs::install();
    let fake = FakeAzure::start().await;
    let cred = FixedToken::new();
    let store = builder(&fake, Arc::clone(&cred)).build().unwrap();
    let value = sentinel("azure-value");
    put(&store, "leak/check", &value).await;
    assert_eq!(
        get(&store, "leak/check").await.as_deref(),
        Some(value.as_str())
    );
    store.list(None).await.unwrap();
    store
        .delete(&name("leak/check"), &DeleteOptions::new())
        .await
        .unwrap();
    put(&store, "leak/check", &value).await; // recover path
    let err = store
        .read(&name("leak/check"), &ReadOptions::new().field("nope"))
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?} {store:?}").contains(&value));

    let sp = sp_builder(&fake).build().unwrap();
    assert_eq!(
        get(&sp, "leak/check").await.as_deref(),
        Some(value.as_str())
    );
    // A revoked token and its replacement: neither is logged.
    fake.revoke_issued_tokens();
    assert_eq!(
        get(&sp, "leak/check").await.as_deref(),
        Some(value.as_str())
    );
    assert!(!format!("{sp:?}").contains(fake.client_secret()));
    logs::assert_absent(&[value.as_str(), cred.token.as_str(), fake.client_secret()]);
}

#[tokio::test]
async fn a_write_that_may_have_reached_the_vault_is_not_sent_again() {
    let fake = FakeAzure::start().await;
    let store = store(&fake);
    put(&store, "w", "v1").await;
    // 500 / 502 / 504 / a lost answer: the vault may have stored it; Key Vault would add a
    // version per repeat, so the SDK's retry policy must not see a retryable error.
    for fault in [
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(504),
        Fault::Drop,
    ] {
        let before = fake.faults().requests();
        fake.faults().push(fault.clone());
        let err = store
            .write(&name("w"), "v2".into(), &WriteOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unavailable, "{fault:?}: {err}");
        assert!(err.to_string().contains("may have been applied"), "{err}");
        assert_eq!(fake.faults().requests() - before, 1, "{fault:?}: sent once");
        fake.faults().clear();
    }
    // 503 and 429 say the vault did not take it: retried, stored once.
    for fault in [Fault::Status(503), Fault::RetryAfter(429, 0)] {
        let before = fake.faults().requests();
        fake.faults().push(fault.clone());
        put(&store, "w", "v3").await;
        assert_eq!(fake.faults().requests() - before, 2, "{fault:?}: one retry");
    }
    assert_eq!(
        fake.version_count("w"),
        3,
        "v1 and two v3s: no write stored twice"
    );
    // Reads are still retried after a lost answer.
    fake.faults().push(Fault::Drop);
    assert_eq!(get(&store, "w").await.as_deref(), Some("v3"));
}
