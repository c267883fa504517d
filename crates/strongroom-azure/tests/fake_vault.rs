//! The Azure store against the faithful Key Vault fake (HTTPS with a test CA, 401 challenge,
//! soft delete, paging, throttling, faults). No Key Vault runs locally, so the fake stands in;
//! `sdk-checks/azure.py` shows Microsoft's own Python SDK accepts the same fake.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use strongroom_azure::sdk::azure_core;
use strongroom_azure::{AzureBuilder, AzureStore};
use strongroom_core::{
    CachePolicy, DeleteOptions, ErrorKind, MemoryCache, ReadOptions, RetryPolicy, SecretName,
    SecretStore, SecretStoreExt, SecretValue, WriteOptions,
};
use strongroom_testkit::fake::Fault;
use strongroom_testkit::fakes::azure::FakeAzure;
use strongroom_testkit::{CountingStore, conformance, logs, sentinel};

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};

/// A test credential: returns one fixed token and records the scopes it was asked for.
#[derive(Debug)]
struct FixedToken {
    token: String,
    scopes: Mutex<Vec<String>>,
}

impl FixedToken {
    fn new() -> Arc<Self> {
        Arc::new(FixedToken {
            token: sentinel("token"),
            scopes: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait::async_trait]
impl TokenCredential for FixedToken {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.scopes.lock().unwrap().push(scopes.join(" "));
        Ok(AccessToken {
            token: Secret::new(self.token.clone()),
            expires_on: azure_core::time::OffsetDateTime::now_utc()
                + azure_core::time::Duration::hours(1),
        })
    }
}

fn builder(fake: &FakeAzure, cred: Arc<FixedToken>) -> AzureBuilder {
    AzureBuilder::new()
        .with_vault_url(fake.url())
        .with_ca_pem(fake.ca_pem())
        .with_credential(cred)
        .with_verify_challenge_resource(false)
        .with_poll(Duration::from_millis(10), 50)
        .with_retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(10))
                .max_backoff(Duration::from_millis(50)),
        )
}

async fn store(fake: &FakeAzure) -> AzureStore {
    builder(fake, FixedToken::new()).build().expect("build")
}

fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

async fn put(store: &AzureStore, n: &str, v: &str) -> Option<String> {
    store
        .write(&name(n), SecretValue::from(v), &WriteOptions::new())
        .await
        .unwrap_or_else(|e| panic!("write {n}: {e}"))
        .version
}

async fn get(store: &AzureStore, n: &str) -> Option<String> {
    store
        .read(&name(n), &ReadOptions::new())
        .await
        .unwrap_or_else(|e| panic!("read {n}: {e}"))
        .map(|s| s.value.expose_str().unwrap().to_string())
}

#[tokio::test]
async fn conformance_suite_passes_against_the_fake() {
    let fake = FakeAzure::start().await;
    let store = store(&fake).await;
    conformance::run(
        Arc::new(store),
        conformance::Options::new()
            .names_with_spaces(false)
            .names_with_unicode(false),
    )
    .await;
}

#[tokio::test]
async fn names_are_mapped_on_the_wire_and_back_in_list() {
    let fake = FakeAzure::start().await;
    let store = store(&fake).await;
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
    let store = store(&fake).await;
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
async fn a_rejected_token_is_unauthorized() {
    let fake = FakeAzure::start().await;
    fake.restrict_tokens(Some(vec!["some-other-token".into()]));
    let store = store(&fake).await;
    let err = store
        .read(&name("x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    assert!(!err.is_temporary());
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
    let store = AzureBuilder::new()
        .with_vault_url(fake.url())
        .with_ca_pem(fake.ca_pem())
        .with_verify_challenge_resource(false)
        .with_authority_host(fake.url())
        .with_client_secret(fake.tenant(), fake.client_id(), fake.client_secret())
        .build()
        .unwrap();
    // Only tokens the endpoint issued are accepted.
    fake.restrict_tokens(Some(vec![]));
    put(&store, "via-sp", "v1").await;
    assert_eq!(get(&store, "via-sp").await.as_deref(), Some("v1"));
    let tokens = fake.token_requests();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0]["client_id"], fake.client_id());
    assert_eq!(tokens[0]["grant_type"], "client_credentials");
    assert_eq!(tokens[0]["scope"], "https://vault.azure.net/.default");

    let wrong = AzureBuilder::new()
        .with_vault_url(fake.url())
        .with_ca_pem(fake.ca_pem())
        .with_verify_challenge_resource(false)
        .with_authority_host(fake.url())
        .with_client_secret(fake.tenant(), fake.client_id(), "wrong-secret-value-1234")
        .with_retry(RetryPolicy::none())
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
    let store = store(&fake).await;
    put(&store, "app/key", "old").await;
    store
        .delete(&name("app/key"), &DeleteOptions::new())
        .await
        .unwrap();
    assert!(fake.is_soft_deleted("app--key"));
    assert!(get(&store, "app/key").await.is_none());
    put(&store, "app/key", "new").await;
    assert_eq!(get(&store, "app/key").await.as_deref(), Some("new"));
    assert!(!fake.is_soft_deleted("app--key"));
    assert_eq!(
        fake.version_count("app--key"),
        2,
        "recovered history plus the new version"
    );
    let seen = fake.requests();
    assert!(
        seen.iter()
            .any(|r| r.method == "POST" && r.path == "/deletedsecrets/app--key/recover")
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
    let store = store(&fake).await;
    put(&store, "purge/me", "v").await;
    fake.set_deletion_lag(3);
    store
        .delete(&name("purge/me"), &DeleteOptions::new().force(true))
        .await
        .unwrap();
    assert!(!fake.exists("purge--me"), "purged for good");
    let seen = fake.requests();
    let polls = seen
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/deletedsecrets/purge--me")
        .count();
    assert_eq!(polls, 4, "3 polls still deleting, then present");
    assert!(
        seen.iter()
            .any(|r| r.method == "DELETE" && r.path == "/deletedsecrets/purge--me")
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
async fn purge_protection_is_forbidden_with_a_hint() {
    let fake = FakeAzure::start().await;
    fake.set_purge_protection(true);
    let store = store(&fake).await;
    put(&store, "kept", "v").await;
    let err = store
        .delete(&name("kept"), &DeleteOptions::new().force(true))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Forbidden, "{err}");
    assert!(err.hint().unwrap().contains("purge protection"), "{err}");
}

#[tokio::test]
async fn list_follows_next_links_over_many_pages() {
    let fake = FakeAzure::start().await;
    let store = store(&fake).await;
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
async fn throttling_is_retried_after_retry_after() {
    let fake = FakeAzure::start().await;
    let store = store(&fake).await;
    put(&store, "busy", "v").await;
    fake.throttle_next(1, 1);
    let started = Instant::now();
    assert_eq!(get(&store, "busy").await.as_deref(), Some("v"));
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After: 1 was honoured"
    );
}

#[tokio::test]
async fn throttling_without_retries_is_rate_limited_with_the_delay() {
    let fake = FakeAzure::start().await;
    let store = builder(&fake, FixedToken::new())
        .with_retry(RetryPolicy::none())
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
    let store = Arc::new(store(&fake).await);
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
    let store = store(&fake).await;
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
async fn versions_fields_and_metadata() {
    let fake = FakeAzure::start().await;
    let store = store(&fake).await;
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
    // Content type and tags travel.
    store
        .write(
            &name("typed"),
            "x".into(),
            &WriteOptions::new()
                .content_type("text/plain")
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
    // Binary values and CAS are refused before any call.
    let before = fake.faults().requests();
    let err = store
        .write(
            &name("bin"),
            SecretValue::from(vec![0xff, 0xfe]),
            &WriteOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    let err = store
        .write(&name("cas"), "x".into(), &WriteOptions::new().cas(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    assert_eq!(fake.faults().requests(), before);
}

#[tokio::test]
async fn faults_map_to_temporary_and_protocol_errors() {
    let fake = FakeAzure::start().await;
    let store = store(&fake).await;
    put(&store, "f", "value-not-to-leak").await;
    // A 503 is retried by the SDK's policy.
    fake.faults().push(Fault::Status(503));
    assert_eq!(get(&store, "f").await.as_deref(), Some("value-not-to-leak"));

    let strict = builder(&fake, FixedToken::new())
        .with_retry(RetryPolicy::none())
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
async fn an_untrusted_certificate_fails_fast_without_retries() {
    let fake = FakeAzure::start().await;
    let store = AzureBuilder::new()
        .with_vault_url(fake.url())
        .with_credential(FixedToken::new())
        .with_verify_challenge_resource(false)
        .with_retry(RetryPolicy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let err = store
        .read(&name("x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn the_challenge_resource_is_verified_by_default() {
    let fake = FakeAzure::start().await;
    let store = AzureBuilder::new()
        .with_vault_url(fake.url())
        .with_ca_pem(fake.ca_pem())
        .with_credential(FixedToken::new())
        .with_retry(RetryPolicy::none())
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

    let sp = AzureBuilder::new()
        .with_vault_url(fake.url())
        .with_ca_pem(fake.ca_pem())
        .with_verify_challenge_resource(false)
        .with_authority_host(fake.url())
        .with_client_secret(fake.tenant(), fake.client_id(), fake.client_secret())
        .build()
        .unwrap();
    assert_eq!(
        get(&sp, "leak/check").await.as_deref(),
        Some(value.as_str())
    );
    assert!(!format!("{sp:?}").contains(fake.client_secret()));
    logs::assert_absent(&[value.as_str(), cred.token.as_str(), fake.client_secret()]);
}
