//! The Akeyless store against the faithful fake in strongroom-testkit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use strongroom_core::HttpSetters as _;

use serde_json::json;
use strongroom_akeyless::{AccessType, AkeylessBuilder, AkeylessStore};
use strongroom_core::{
    CachePolicy, DeleteOptions, ErrorKind, ManualClock, MemoryCache, ReadOptions, RetryPolicy,
    SecretCache, SecretKind, SecretName, SecretStore, SecretStoreExt, SecretValue, WriteOptions,
};
use strongroom_testkit::fake::Fault;
use strongroom_testkit::fakes::akeyless::{ExpiryField, FakeAkeyless};
use strongroom_testkit::{conformance, logs, sentinel};

fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(3)
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
}

fn builder(fake: &FakeAkeyless) -> AkeylessBuilder {
    AkeylessBuilder::new()
        .with_api_host(fake.url())
        .with_access_id(fake.access_id())
        .with_access_key(fake.access_key())
        .with_retry_policy(fast_retry())
}

fn store(fake: &FakeAkeyless) -> AkeylessStore {
    builder(fake).build().unwrap()
}

async fn read_str(store: &AkeylessStore, n: &str) -> Option<String> {
    store
        .read(&name(n), &ReadOptions::new())
        .await
        .unwrap()
        .map(|s| s.value.expose_str().unwrap().to_string())
}

// ---------------------------------------------------------------- conformance

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conforms() {
    let fake = FakeAkeyless::start().await;
    conformance::run(Arc::new(store(&fake)), conformance::Options::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conforms_through_a_gateway_url_with_auto_guess_type() {
    let fake = FakeAkeyless::start().await;
    let store = builder(&fake)
        .with_api_host(format!("{}/", fake.gateway_url()))
        .with_auto_guess_type(true)
        .build()
        .unwrap();
    assert!(store.api_host().ends_with("/api/v2"));
    conformance::run(Arc::new(store), conformance::Options::new()).await;
}

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn token_is_refreshed_refresh_buffer_before_expiry() {
    let fake = FakeAkeyless::start().await; // 1-hour tokens, creds.expiry in Unix seconds
    fake.seed_static("/a", "1");
    let clock = Arc::new(ManualClock::new());
    let store = builder(&fake).with_clock(clock.clone()).build().unwrap();
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("1"));
    assert_eq!(store.logins().await, 1);
    clock.advance(Duration::from_secs(54 * 60)); // 6 min left > 5 min buffer
    read_str(&store, "a").await;
    assert_eq!(store.logins().await, 1, "still outside the refresh buffer");
    clock.advance(Duration::from_secs(2 * 60)); // 4 min left: inside the buffer
    read_str(&store, "a").await;
    assert_eq!(store.logins().await, 2, "refreshed inside the buffer");
    assert_eq!(fake.calls("auth"), 2);
}

#[tokio::test]
async fn expiry_in_milliseconds_is_understood() {
    let fake = FakeAkeyless::start().await;
    fake.set_token_ttl(Duration::from_secs(600));
    fake.set_expiry_field(ExpiryField::UnixMillis);
    fake.seed_static("/a", "1");
    let clock = Arc::new(ManualClock::new());
    let store = builder(&fake)
        .with_clock(clock.clone())
        .with_token_refresh_buffer(Duration::from_secs(60))
        .build()
        .unwrap();
    read_str(&store, "a").await;
    clock.advance(Duration::from_secs(8 * 60)); // 2 min left
    read_str(&store, "a").await;
    assert_eq!(store.logins().await, 1);
    clock.advance(Duration::from_secs(90)); // 30 s left
    read_str(&store, "a").await;
    assert_eq!(
        store.logins().await,
        2,
        "a millisecond expiry is not read as the year 50000"
    );
}

#[tokio::test]
async fn expiry_further_than_auth_token_ttl_is_not_trusted() {
    let fake = FakeAkeyless::start().await;
    let in_a_week = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 7 * 86_400;
    fake.set_expiry_field(ExpiryField::Fixed(in_a_week as i64));
    fake.seed_static("/a", "1");
    let clock = Arc::new(ManualClock::new());
    let store = builder(&fake)
        .with_clock(clock.clone())
        .with_auth_token_ttl(Duration::from_secs(1200))
        .with_token_refresh_buffer(Duration::from_secs(60))
        .build()
        .unwrap();
    read_str(&store, "a").await;
    clock.advance(Duration::from_secs(18 * 60));
    read_str(&store, "a").await;
    assert_eq!(store.logins().await, 1);
    clock.advance(Duration::from_secs(150)); // 19.5 min of a 20-min cap
    read_str(&store, "a").await;
    assert_eq!(store.logins().await, 2, "capped at auth_token_ttl");
}

#[tokio::test]
async fn without_creds_expiry_the_ttl_applies() {
    let fake = FakeAkeyless::start().await;
    fake.set_expiry_field(ExpiryField::Absent);
    fake.seed_static("/a", "1");
    let clock = Arc::new(ManualClock::new());
    let store = builder(&fake)
        .with_clock(clock.clone())
        .with_auth_token_ttl(Duration::from_secs(900))
        .with_token_refresh_buffer(Duration::from_secs(300))
        .build()
        .unwrap();
    read_str(&store, "a").await;
    clock.advance(Duration::from_secs(9 * 60));
    read_str(&store, "a").await;
    assert_eq!(store.logins().await, 1);
    clock.advance(Duration::from_secs(2 * 60)); // 4 min left of 15
    read_str(&store, "a").await;
    assert_eq!(store.logins().await, 2);
}

#[tokio::test]
async fn a_401_logs_in_once_and_retries_once() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/a", "v");
    let store = store(&fake);
    read_str(&store, "a").await;
    fake.expire_all_tokens(); // the server forgets the token before its announced expiry
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("v"));
    assert_eq!(store.logins().await, 2);
    assert_eq!(fake.calls("get-secret-value"), 3);

    // A server that keeps answering 401: one new log-in, one retry, then Unauthorized.
    fake.faults().push(Fault::Status(401)); // the data call
    fake.faults().push(Fault::Delay(Duration::ZERO)); // the new log-in goes through
    fake.faults().push(Fault::Status(401)); // the one retry
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    assert_eq!(store.logins().await, 3, "exactly one more log-in, no loop");
}

#[tokio::test]
async fn wrong_access_key_is_unauthorized_with_a_hint() {
    let fake = FakeAkeyless::start().await;
    let store = builder(&fake)
        .with_access_key("not-the-key")
        .build()
        .unwrap();
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    assert!(err.hint().unwrap().contains(fake.access_id()));
    assert!(!err.to_string().contains("not-the-key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_calls_share_one_login() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/a", "v");
    fake.faults().set_latency(Some(Duration::from_millis(20)));
    let store = Arc::new(store(&fake));
    let reads = (0..40).map(|_| {
        let store = Arc::clone(&store);
        async move { store.read(&name("a"), &ReadOptions::new()).await.unwrap() }
    });
    futures_util::future::join_all(reads).await;
    assert_eq!(fake.calls("auth"), 1);
}

#[tokio::test]
async fn jwt_is_read_from_the_environment_at_each_login() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/a", "v");
    fake.accept_jwt("jwt-one");
    let env = Arc::new(Mutex::new(HashMap::from([
        (
            "AKEYLESS_ACCESS_ID".to_string(),
            fake.access_id().to_string(),
        ),
        ("AKEYLESS_ACCESS_TYPE".to_string(), "jwt".to_string()),
        ("AKEYLESS_JWT_ENV_KEY".to_string(), "CI_JWT".to_string()),
        ("AKEYLESS_API_HOST".to_string(), fake.url()),
        ("CI_JWT".to_string(), "jwt-one".to_string()),
    ])));
    let lookup = Arc::clone(&env);
    let store = AkeylessBuilder::from_lookup(move |k| lookup.lock().unwrap().get(k).cloned())
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("v"));
    assert_eq!(fake.requests("auth")[0]["access-type"], "jwt");

    // The variable now holds a JWT the server does not know: the next log-in uses it.
    env.lock()
        .unwrap()
        .insert("CI_JWT".into(), "jwt-two".into());
    fake.expire_all_tokens();
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    fake.accept_jwt("jwt-two");
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("v"));

    env.lock().unwrap().remove("CI_JWT");
    fake.expire_all_tokens();
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("jwt_env_key") && err.to_string().contains("CI_JWT"));
}

#[tokio::test]
async fn saml_uses_the_cli_credentials_and_says_what_to_run() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/a", "v");
    let dir = tempfile::tempdir().unwrap();
    let store = builder(&fake)
        .with_access_type(AccessType::Saml)
        .with_profile("team-a")
        .with_saml_creds_dir(dir.path())
        .build()
        .unwrap();
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("akeyless") && hint.contains("--profile team-a"),
        "{hint}"
    );

    let file = dir.path().join(format!("team-a-{}", fake.access_id()));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expired = json!({ "token": fake.issue_token(), "expiry": now - 60 });
    std::fs::write(&file, expired.to_string()).unwrap();
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    assert!(err.hint().unwrap().contains("--profile team-a"));

    let token = fake.issue_token();
    std::fs::write(
        &file,
        json!({ "token": token, "expiry": now + 3600 }).to_string(),
    )
    .unwrap();
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("v"));
    assert_eq!(fake.calls("auth"), 0, "SAML never calls /auth");
    assert!(!format!("{err} {err:?}").contains(&token));
}

// ---------------------------------------------------------------- operations

#[tokio::test]
async fn names_are_absolute_paths_on_the_wire() {
    let fake = FakeAkeyless::start().await;
    let store = store(&fake);
    store
        .write(&name("team/db"), "pw".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(fake.value("/team/db").as_deref(), Some("pw"));
    assert_eq!(fake.requests("create-secret")[0]["name"], "/team/db");
    read_str(&store, "team/db").await;
    assert_eq!(
        fake.requests("get-secret-value")[0]["names"],
        json!(["/team/db"])
    );
}

#[tokio::test]
async fn refresh_sends_ignore_cache() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/a", "v");
    let store = store(&fake);
    store.read(&name("a"), &ReadOptions::new()).await.unwrap();
    store
        .read(&name("a"), &ReadOptions::new().refresh(true))
        .await
        .unwrap();
    let sent = fake.requests("get-secret-value");
    assert_eq!(sent[0]["ignore-cache"], "false");
    assert_eq!(sent[1]["ignore-cache"], "true");
    assert!(
        sent[0].get("token").is_some(),
        "the token travels in the body"
    );
}

#[tokio::test]
async fn versions_and_fields() {
    let fake = FakeAkeyless::start().await;
    let store = store(&fake);
    let n = name("cfg");
    store
        .write(&n, r#"{"user":"a"}"#.into(), &WriteOptions::new())
        .await
        .unwrap();
    store
        .write(&n, r#"{"user":"b"}"#.into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(
        fake.calls("update-secret-val"),
        1,
        "the 409 answer turned the write into an update"
    );
    assert_eq!(fake.version_count("/cfg"), 2);
    let v1 = store
        .read(&n, &ReadOptions::new().version("1").field("user"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v1.value.expose_str().unwrap(), "a");
    assert_eq!(v1.version.as_deref(), Some("1"));
    let latest = store
        .read(&n, &ReadOptions::new().field("user"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.value.expose_str().unwrap(), "b");
    assert!(
        store
            .read(&n, &ReadOptions::new().field("nope"))
            .await
            .unwrap()
            .is_none()
    );
    let err = store
        .read(&n, &ReadOptions::new().version("x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    let err = store
        .read(&n, &ReadOptions::new().stage("AWSPREVIOUS"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    let err = store
        .write(&n, "x".into(), &WriteOptions::new().cas(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    let err = store
        .write(
            &n,
            SecretValue::from_bytes(vec![0xff, 0xfe]),
            &WriteOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
}

#[tokio::test]
async fn write_sends_description_and_tags_on_create() {
    let fake = FakeAkeyless::start().await;
    let store = store(&fake);
    let opts = WriteOptions::new()
        .description("db password")
        .tag("env", "prod")
        .tag("team", "");
    store.write(&name("d"), "v".into(), &opts).await.unwrap();
    let sent = &fake.requests("create-secret")[0];
    assert_eq!(sent["description"], "db password");
    assert_eq!(sent["tags"], json!(["env=prod", "team"]));
}

#[tokio::test]
async fn read_many_is_one_batch_and_a_missing_name_hides_nothing() {
    let fake = FakeAkeyless::start().await;
    for i in 0..5 {
        fake.seed_static(&format!("/m/{i}"), &format!("v{i}"));
    }
    let store = store(&fake);
    let names: Vec<_> = (0..5).map(|i| name(&format!("m/{i}"))).collect();
    let got = store.read_many(&names, &ReadOptions::new()).await.unwrap();
    assert_eq!(got.len(), 5);
    assert_eq!(fake.calls("get-secret-value"), 1, "one native batch call");
    assert_eq!(
        fake.requests("get-secret-value")[0]["names"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    let mut ask = names.clone();
    ask.insert(2, name("m/missing"));
    ask.push(name("m/0"));
    let got = store.read_many(&ask, &ReadOptions::new()).await.unwrap();
    assert_eq!(got.len(), 6);
    for (n, s) in &got {
        if n.as_str() == "m/missing" {
            assert!(s.is_none());
        } else {
            let i = n.basename();
            assert_eq!(
                s.as_ref().unwrap().value.expose_str().unwrap(),
                format!("v{i}")
            );
        }
    }
    assert_eq!(got[2].0.as_str(), "m/missing", "first-asked order");
}

#[tokio::test]
async fn forbidden_is_an_error_not_a_missing_secret() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/locked", "v");
    fake.deny("/locked");
    for guess in [false, true] {
        let store = builder(&fake).with_auto_guess_type(guess).build().unwrap();
        let err = store
            .read(&name("locked"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Forbidden, "{err}");
        assert_eq!(err.name(), Some("locked"));
        let err = store
            .read_many(&[name("locked")], &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Forbidden, "{err}");
    }
}

#[tokio::test]
async fn delete_keeps_recovery_days_unless_forced() {
    let fake = FakeAkeyless::start().await;
    let store = store(&fake);
    for n in ["soft", "hard", "window"] {
        store
            .write(&name(n), "v".into(), &WriteOptions::new())
            .await
            .unwrap();
    }
    store
        .delete(&name("soft"), &DeleteOptions::new())
        .await
        .unwrap();
    store
        .delete(&name("hard"), &DeleteOptions::new().force(true))
        .await
        .unwrap();
    store
        .delete(
            &name("window"),
            &DeleteOptions::new().recovery_window_days(14),
        )
        .await
        .unwrap();
    store
        .delete(&name("never-existed"), &DeleteOptions::new())
        .await
        .unwrap();
    let sent = fake.requests("delete-item");
    assert!(
        sent[0].get("delete-in-days").is_none(),
        "Akeyless' default recovery days"
    );
    assert_eq!(sent[0]["version"], -1);
    assert_eq!(sent[1]["delete-immediately"], true);
    assert_eq!(sent[1]["delete-in-days"], -1);
    assert_eq!(sent[2]["delete-in-days"], 14);
    let deleted = fake.deleted();
    assert_eq!(deleted.len(), 3);
    assert!(!deleted[0].immediate && deleted[0].delete_in_days == 7);
    assert!(deleted[1].immediate);
    assert!(read_str(&store, "soft").await.is_none());
}

#[tokio::test]
async fn list_follows_pages_and_folders() {
    let fake = FakeAkeyless::start().await;
    fake.set_page_size(2);
    let all = [
        "app/a",
        "app/b",
        "app/c",
        "app/d",
        "app/x/1",
        "app/x/y/2",
        "apple",
        "other/z",
    ];
    for n in all {
        fake.seed_static(n, "v");
    }
    fake.seed_dynamic("/app/dyn", json!({"user": "u"}), None);
    let store = store(&fake);
    let listed = store.list(Some("app/")).await.unwrap();
    let listed: Vec<&str> = listed.iter().map(SecretName::as_str).collect();
    assert_eq!(
        listed,
        [
            "app/a",
            "app/b",
            "app/c",
            "app/d",
            "app/dyn",
            "app/x/1",
            "app/x/y/2"
        ]
    );
    let pages = fake.requests("list-items");
    assert!(
        pages.iter().any(|p| p.get("pagination-token").is_some()),
        "followed next_page"
    );
    assert!(
        pages.iter().all(|p| p["path"] != "/other/"),
        "did not descend into unrelated folders"
    );

    let everything = store.list(None).await.unwrap();
    assert_eq!(everything.len(), all.len() + 1);
    let app_prefix = store.list(Some("app")).await.unwrap();
    assert_eq!(
        app_prefix.len(),
        8,
        "a non-folder prefix matches `apple` too"
    );
    assert!(store.list(Some("nothing/")).await.unwrap().is_empty());
}

// ---------------------------------------------------------------- dynamic & rotated

#[tokio::test]
async fn dynamic_secret_has_a_lease_and_the_cache_follows_it() {
    let fake = FakeAkeyless::start().await;
    fake.seed_dynamic(
        "/db/dyn",
        json!({"user": "tmp-1", "password": "pw"}),
        Some(Duration::from_secs(120)),
    );
    let store = builder(&fake).with_auto_guess_type(true).build().unwrap();
    let before = SystemTime::now();
    let s = store
        .read(&name("db/dyn"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.kind, SecretKind::Dynamic);
    let lease = s.expires_at.unwrap().duration_since(before).unwrap();
    assert!(
        lease > Duration::from_secs(110) && lease <= Duration::from_secs(125),
        "{lease:?}"
    );
    let v: serde_json::Value = serde_json::from_str(s.value.expose_str().unwrap()).unwrap();
    assert_eq!(v["user"], "tmp-1");
    let pw = store
        .read(&name("db/dyn"), &ReadOptions::new().field("password"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pw.value.expose_str().unwrap(), "pw");
    assert_eq!(
        fake.calls("describe-item"),
        1,
        "the type is looked up once per name"
    );
    assert_eq!(fake.calls("get-dynamic-secret-value"), 2);
    assert_eq!(fake.calls("get-secret-value"), 0);

    // Through the core cache with a 1-hour TTL: the entry is fresh only as long as the lease.
    let cache: Arc<dyn SecretCache> = Arc::new(MemoryCache::default());
    let cached = store.clone().with_cache(
        Arc::clone(&cache),
        CachePolicy::new("ak").ttl(Duration::from_secs(3600)),
    );
    cached
        .read(&name("db/dyn"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    let entries = cache.entries().await.unwrap();
    assert_eq!(entries.len(), 1);
    let fresh = entries[0]
        .fresh_until
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(
        fresh <= Duration::from_secs(125),
        "cache TTL follows the lease, got {fresh:?}"
    );
}

#[tokio::test]
async fn rotated_secret_sends_names_as_a_string_and_is_unwrapped() {
    let fake = FakeAkeyless::start().await;
    fake.seed_rotated("/rot/payload", json!({"payload": "p4ss"}));
    fake.seed_rotated(
        "/rot/target",
        json!({"target_value": {"username": "u", "password": "p"}}),
    );
    fake.seed_rotated("/rot/plain", json!({"username": "u2"}));
    let store = builder(&fake).with_auto_guess_type(true).build().unwrap();
    let s = store
        .read(&name("rot/payload"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.kind, SecretKind::Rotated);
    assert_eq!(s.value.expose_str().unwrap(), "p4ss");
    let t = store
        .read(&name("rot/target"), &ReadOptions::new().field("password"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.value.expose_str().unwrap(), "p");
    let p = store
        .read(&name("rot/plain"), &ReadOptions::new().field("username"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.value.expose_str().unwrap(), "u2");
    let sent = fake.requests("get-rotated-secret-value");
    assert_eq!(
        sent[0]["names"], "/rot/payload",
        "names is ONE string for rotated secrets"
    );
    // Missing with auto-guess: describe-item 404 → None.
    assert!(
        store
            .read(&name("rot/none"), &ReadOptions::new())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn auto_guess_forgets_a_type_when_the_item_goes_away() {
    let fake = FakeAkeyless::start().await;
    let store = builder(&fake).with_auto_guess_type(true).build().unwrap();
    store
        .write(&name("s"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(read_str(&store, "s").await.as_deref(), Some("v1"));
    store
        .delete(&name("s"), &DeleteOptions::new())
        .await
        .unwrap();
    fake.seed_rotated("/s", json!({"payload": "rotated-now"}));
    assert_eq!(read_str(&store, "s").await.as_deref(), Some("rotated-now"));
    assert_eq!(fake.calls("describe-item"), 2);
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn temporary_faults_are_retried_for_idempotent_calls_only() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/a", "v");
    let store = store(&fake);
    read_str(&store, "a").await; // log in first
    fake.faults().push(Fault::Status(503));
    fake.faults().push(Fault::RetryAfter(429, 0));
    fake.faults().push(Fault::Drop);
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("v"));
    fake.faults().push(Fault::Truncate);
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("v"));

    fake.faults().push(Fault::Status(503));
    let err = store
        .write(&name("b"), "v".into(), &WriteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
    assert!(!fake.exists("/b"), "create-secret is not retried blindly");

    fake.faults().push(Fault::Malformed);
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Protocol, "{err}");

    fake.faults().push_n(Fault::Status(500), 4);
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::Unavailable,
        "bounded retries, then the error"
    );
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    let port = strongroom_testkit::servers::free_port();
    let store = AkeylessBuilder::new()
        .with_api_host(format!("http://127.0.0.1:{port}"))
        .with_access_id("p-abc")
        .with_access_key("k")
        .with_retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
}

// ---------------------------------------------------------------- leaks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_value_token_or_key_reaches_logs_errors_or_debug() {
    logs::install();
    let fake = FakeAkeyless::start().await;
    let store = store(&fake);
    let value = sentinel("akeyless-value");
    let dynamic_pw = sentinel("akeyless-dyn");
    fake.seed_dynamic(
        "/dyn",
        json!({"password": dynamic_pw}),
        Some(Duration::from_secs(60)),
    );
    store
        .write(&name("leak"), value.as_str().into(), &WriteOptions::new())
        .await
        .unwrap();
    store
        .write(&name("leak"), value.as_str().into(), &WriteOptions::new())
        .await
        .unwrap();
    let got = store
        .read(&name("leak"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    let guess = builder(&fake).with_auto_guess_type(true).build().unwrap();
    let dynamic = guess
        .read(&name("dyn"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    fake.expire_all_tokens();
    store
        .read_many(&[name("leak"), name("nope")], &ReadOptions::new())
        .await
        .unwrap();
    let err = store
        .read(&name("leak"), &ReadOptions::new().field("x"))
        .await
        .unwrap_err();
    fake.faults().push(Fault::Status(401));
    fake.faults().push(Fault::Status(401));
    let err2 = store
        .read(&name("leak"), &ReadOptions::new())
        .await
        .unwrap_err();
    let tokens = fake.issued_tokens();
    let text = format!("{err} {err:?} {err2} {err2:?} {got:?} {dynamic:?} {store:?} {guess:?}");
    let mut needles: Vec<&str> = vec![&value, &dynamic_pw, fake.access_key()];
    needles.extend(tokens.iter().map(String::as_str));
    for n in &needles {
        assert!(
            !text.contains(n),
            "a secret reached an error or Debug output"
        );
    }
    logs::assert_absent(&needles);
}
