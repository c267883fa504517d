//! Wire behaviour against the fake Conjur: encodings, the token header, token refresh and
//! expiry, batch reads, versions, policy loads, faults.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::{builder, count, fake, name, store};
use futures_util::StreamExt;
use strongroom_core::{
    DeleteOptions, ErrorKind, ManualClock, ReadOptions, SecretStore, SecretValue, WriteOptions,
};
use strongroom_testkit::fake::Fault;
use strongroom_testkit::fakes::conjur::{FakeConjur, FakeConjurConfig, TokenAlphabet};
use strongroom_testkit::{logs, sentinel};

fn text(s: &Option<strongroom_core::Secret>) -> Option<String> {
    s.as_ref()
        .map(|s| s.value.expose_str().unwrap().to_string())
}

#[tokio::test]
async fn host_login_is_encoded_and_the_token_header_is_quoted_base64() {
    let fake = fake().await;
    fake.add_user("host/app", "host-key-1");
    fake.set_value("litellm/db password", b"pw");
    let store = builder(&fake)
        .with_login("host/app")
        .with_api_key("host-key-1")
        .build()
        .unwrap();
    let got = store
        .read(&name("litellm/db password"), &ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(text(&got).as_deref(), Some("pw"));
    let reqs = fake.requests();
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].uri, "/authn/default/host%2Fapp/authenticate");
    assert_eq!(reqs[0].body_len, "host-key-1".len());
    assert!(reqs[0].authorization.is_none());
    assert_eq!(
        reqs[1].uri,
        "/secrets/default/variable/litellm%2Fdb%20password"
    );
    let auth = reqs[1].authorization.as_deref().unwrap();
    let inner = auth
        .strip_prefix("Token token=\"")
        .and_then(|r| r.strip_suffix('"'))
        .expect("quoted token header");
    assert!(!inner.contains('\n'));
    let json = base64::engine::general_purpose::STANDARD
        .decode(inner)
        .unwrap();
    let token: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert!(token["payload"].is_string() && token["signature"].is_string());
}

#[tokio::test]
async fn the_fake_refuses_an_unquoted_token_header() {
    let fake = fake().await;
    let http = reqwest::Client::new();
    let token = http
        .post(format!("{}/authn/default/admin/authenticate", fake.url()))
        .body(fake.api_key())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
    fake.set_value("x", b"1");
    let url = format!("{}/secrets/default/variable/x", fake.url());
    let unquoted = http
        .get(&url)
        .header("Authorization", format!("Token token={b64}"))
        .send()
        .await
        .unwrap();
    assert_eq!(unquoted.status(), 401);
    let quoted = http
        .get(&url)
        .header("Authorization", format!("Token token=\"{b64}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(quoted.status(), 200);
    // An unencoded slash in the login reaches another route and is refused with 401.
    let raw = http
        .post(format!(
            "{}/authn/default/host/app/authenticate",
            fake.url()
        ))
        .body("k")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 401);
}

#[tokio::test]
async fn missing_and_valueless_variables_read_as_none() {
    let fake = fake().await;
    fake.declare_variable("declared/no-value");
    let store = store(&fake);
    for n in ["declared/no-value", "never/declared"] {
        assert!(
            store
                .read(&name(n), &ReadOptions::new())
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn versions_are_numbers_and_the_last_twenty_are_kept() {
    let fake = fake().await;
    let store = store(&fake);
    let n = name("app/versioned");
    for i in 1..=22 {
        store
            .write(&n, SecretValue::from(format!("v{i}")), &WriteOptions::new())
            .await
            .unwrap();
    }
    let at = |v: &str| {
        let store = store.clone();
        let n = n.clone();
        let v = v.to_string();
        async move { store.read(&n, &ReadOptions::new().version(v)).await }
    };
    assert_eq!(text(&at("22").await.unwrap()).as_deref(), Some("v22"));
    assert_eq!(text(&at("3").await.unwrap()).as_deref(), Some("v3"));
    assert!(
        at("2").await.unwrap().is_none(),
        "only the last 20 versions are kept"
    );
    assert_eq!(
        at("5").await.unwrap().unwrap().version.as_deref(),
        Some("5")
    );
    let err = at("latest").await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    assert_eq!(
        text(&store.read(&n, &ReadOptions::new()).await.unwrap()).as_deref(),
        Some("v22")
    );
}

#[tokio::test]
async fn writes_declare_the_variable_with_exactly_one_record_each() {
    let fake = fake().await;
    let store = store(&fake);
    let n = name("litellm/virtual-key-1");
    store
        .write(&n, "a".into(), &WriteOptions::new())
        .await
        .unwrap();
    store
        .write(&n, "b".into(), &WriteOptions::new())
        .await
        .unwrap();
    fake.declare_variable("pre/existing");
    store
        .write(&name("pre/existing"), "c".into(), &WriteOptions::new())
        .await
        .unwrap();
    let records = fake.policy_records();
    assert_eq!(records.len(), 3, "{records:?}");
    for (r, id) in records.iter().zip([
        "litellm/virtual-key-1",
        "litellm/virtual-key-1",
        "pre/existing",
    ]) {
        assert_eq!(
            (r.tag.as_str(), r.id.as_deref(), r.branch.as_str()),
            ("variable", Some(id), "root")
        );
        assert_eq!(r.method, "POST", "add-only loads");
    }
    let policy_posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.uri.starts_with("/policies/"))
        .collect();
    assert!(
        policy_posts
            .iter()
            .all(|r| r.uri == "/policies/default/policy/root"
                && r.content_type.as_deref() == Some("application/x-yaml"))
    );
    assert_eq!(
        text(&store.read(&n, &ReadOptions::new()).await.unwrap()).as_deref(),
        Some("b")
    );
}

#[tokio::test]
async fn blank_values_are_refused_before_any_call() {
    let fake = fake().await;
    let store = store(&fake);
    for v in ["", " ", "\n\t  "] {
        let err = store
            .write(
                &name("app/blank"),
                SecretValue::from(v),
                &WriteOptions::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unsupported, "{err}");
    }
    assert_eq!(fake.requests().len(), 0);
    // The fake itself answers 422 to a blank value (a client that skipped the check).
    fake.declare_variable("app/blank");
    let http = reqwest::Client::new();
    let token = http
        .post(format!("{}/authn/default/admin/authenticate", fake.url()))
        .body(fake.api_key())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
    let r = http
        .post(format!(
            "{}/secrets/default/variable/app%2Fblank",
            fake.url()
        ))
        .header("Authorization", format!("Token token=\"{b64}\""))
        .body("   ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn delete_is_unsupported_with_a_policy_hint() {
    let fake = fake().await;
    let store = store(&fake);
    assert!(!store.capabilities().delete);
    let err = store
        .delete(&name("app/x"), &DeleteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("policy") && hint.contains("!delete") && hint.contains("PATCH"),
        "{hint}"
    );
    assert_eq!(fake.requests().len(), 0);
}

#[tokio::test]
async fn read_many_is_one_batch_call_and_a_missing_name_hides_nothing() {
    let fake = fake().await;
    let store = store(&fake);
    let names: Vec<_> = (0..5).map(|i| name(&format!("batch/item-{i}"))).collect();
    for (i, n) in names.iter().enumerate() {
        fake.set_value(n.as_str(), format!("value-{i}").as_bytes());
    }
    // A binary value travels base64-encoded.
    fake.set_value("batch/binary", &[0, 159, 146, 150, 255]);
    let mut ask = names.clone();
    ask.push(name("batch/binary"));
    ask.push(names[0].clone());
    let got = store.read_many(&ask, &ReadOptions::new()).await.unwrap();
    assert_eq!(got.len(), 6);
    for (i, (n, s)) in got.iter().take(5).enumerate() {
        assert_eq!(n, &names[i]);
        assert_eq!(text(s), Some(format!("value-{i}")));
    }
    assert_eq!(
        got[5].1.as_ref().unwrap().value.expose_secret(),
        &[0, 159, 146, 150, 255]
    );
    let batches: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.uri.starts_with("/secrets?"))
        .collect();
    assert_eq!(batches.len(), 1);
    assert!(
        batches[0]
            .uri
            .contains("default%3Avariable%3Abatch%2Fitem-0,default%3Avariable%3Abatch%2Fitem-1")
    );
    assert_eq!(batches[0].accept_encoding.as_deref(), Some("base64"));
    assert_eq!(count(&fake, "GET", "/secrets/"), 0, "no single reads");

    // One missing name: the batch 404s, single reads fill in the rest.
    fake.clear_requests();
    let mut ask = names.clone();
    ask.insert(2, name("batch/missing"));
    let got = store.read_many(&ask, &ReadOptions::new()).await.unwrap();
    assert_eq!(got.len(), 6);
    assert!(got[2].1.is_none());
    assert_eq!(text(&got[0].1).as_deref(), Some("value-0"));
    assert_eq!(text(&got[5].1).as_deref(), Some("value-4"));
    assert_eq!(count(&fake, "GET", "/secrets?"), 1);
    assert_eq!(count(&fake, "GET", "/secrets/"), 6);
}

#[tokio::test]
async fn read_many_splits_into_batches() {
    let fake = fake().await;
    let store = builder(&fake).with_batch_size(2).build().unwrap();
    let names: Vec<_> = (0..5).map(|i| name(&format!("split/{i}"))).collect();
    for n in &names {
        fake.set_value(n.as_str(), b"v");
    }
    let got = store.read_many(&names, &ReadOptions::new()).await.unwrap();
    assert!(got.iter().all(|(_, s)| text(s).as_deref() == Some("v")));
    assert_eq!(count(&fake, "GET", "/secrets?"), 3);
}

#[tokio::test]
async fn list_pages_and_filters_by_prefix() {
    let fake = fake().await;
    for i in 0..7 {
        fake.set_value(&format!("litellm/key-{i}"), b"v");
    }
    fake.set_value("other/key", b"v");
    fake.set_value("litellmx/key", b"v");
    let store = builder(&fake).with_list_page_size(3).build().unwrap();
    let listed = store.list(Some("litellm/")).await.unwrap();
    let expect: Vec<_> = (0..7).map(|i| name(&format!("litellm/key-{i}"))).collect();
    assert_eq!(listed, expect);
    let pages: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.uri.starts_with("/resources/default/variable?"))
        .map(|r| r.uri)
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(
        pages[0].contains("limit=3")
            && pages[0].contains("offset=0")
            && pages[0].contains("search=litellm")
    );
    assert!(pages[2].contains("offset=6"));
    assert_eq!(store.list(None).await.unwrap().len(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expired_under_a_burst_of_reads_costs_one_login() {
    logs::install();
    let fake = fake().await;
    let values: Vec<String> = (0..10).map(|_| sentinel("burst")).collect();
    for (i, v) in values.iter().enumerate() {
        fake.set_value(&format!("burst/{i}"), v.as_bytes());
    }
    let store = Arc::new(store(&fake));
    store
        .read(&name("burst/0"), &ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(fake.authn_count(), 1);
    // The server ends the token while the store still thinks it good: every read of the first
    // wave meets a 401, and all of them share one new log-in.
    fake.expire_tokens();
    let reads = futures_util::stream::iter((0..200).map(|i| {
        let store = Arc::clone(&store);
        async move {
            let n = name(&format!("burst/{}", i % 10));
            (i % 10, store.read(&n, &ReadOptions::new()).await)
        }
    }))
    .buffer_unordered(8)
    .collect::<Vec<_>>()
    .await;
    for (i, r) in reads {
        assert_eq!(text(&r.unwrap()).as_deref(), Some(values[i].as_str()));
    }
    let refused = count(&fake, "GET", "/secrets/") - 201;
    assert!(
        (1..=8).contains(&refused),
        "the reads in flight met the expired token once each ({refused})"
    );
    assert_eq!(
        fake.authn_count(),
        2,
        "exactly one new log-in after the expiry"
    );
    let tokens: Vec<String> = fake
        .requests()
        .into_iter()
        .filter_map(|r| r.authorization)
        .collect();
    let mut needles: Vec<&str> = values.iter().map(String::as_str).collect();
    let key = fake.api_key();
    needles.push(&key);
    for t in &tokens {
        needles.push(t.trim_start_matches("Token token=\"").trim_end_matches('"'));
    }
    logs::assert_absent(&needles);
}

#[tokio::test]
async fn tokens_refresh_after_the_interval_or_a_minute_before_expiry() {
    let fake = fake().await;
    fake.set_value("t/x", b"v");
    let clock = Arc::new(ManualClock::new());
    let n = name("t/x");
    // Refresh interval 300 s (the default); tokens live 8 minutes.
    let store = builder(&fake).with_clock(clock.clone()).build().unwrap();
    store.read(&n, &ReadOptions::new()).await.unwrap();
    clock.advance(Duration::from_secs(240));
    store.read(&n, &ReadOptions::new()).await.unwrap();
    assert_eq!(fake.authn_count(), 1, "a 4-minute-old token is reused");
    clock.advance(Duration::from_secs(61));
    store.read(&n, &ReadOptions::new()).await.unwrap();
    assert_eq!(
        fake.authn_count(),
        2,
        "older than the refresh interval: log in again"
    );

    // A long refresh interval: the token's own expiry (minus one minute) decides.
    let clock = Arc::new(ManualClock::new());
    let store = builder(&fake)
        .with_clock(clock.clone())
        .with_refresh_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    store.read(&n, &ReadOptions::new()).await.unwrap();
    assert_eq!(store.logins().await, 1);
    clock.advance(Duration::from_secs(6 * 60 + 50));
    store.read(&n, &ReadOptions::new()).await.unwrap();
    assert_eq!(
        store.logins().await,
        1,
        "70 s before expiry the token is still used"
    );
    clock.advance(Duration::from_secs(20));
    store.read(&n, &ReadOptions::new()).await.unwrap();
    assert_eq!(
        store.logins().await,
        2,
        "within a minute of expiry: refreshed first"
    );
}

#[tokio::test]
async fn standard_alphabet_tokens_work_too() {
    let fake = FakeConjur::start_with(FakeConjurConfig {
        token_alphabet: TokenAlphabet::Standard,
        ..FakeConjurConfig::default()
    })
    .await;
    fake.set_value("a", b"v");
    let clock = Arc::new(ManualClock::new());
    let store = builder(&fake)
        .with_clock(clock.clone())
        .with_refresh_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    store.read(&name("a"), &ReadOptions::new()).await.unwrap();
    clock.advance(Duration::from_secs(7 * 60 + 10));
    store.read(&name("a"), &ReadOptions::new()).await.unwrap();
    assert_eq!(
        store.logins().await,
        2,
        "the expiry was read from a standard-alphabet payload"
    );
}

/// A fake and a store on one manual clock, tokens living `ttl`.
async fn on_one_clock(
    ttl: Duration,
) -> (FakeConjur, strongroom_conjur::ConjurStore, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let fake = FakeConjur::start_with(FakeConjurConfig {
        token_ttl: ttl,
        clock: clock.clone(),
        ..FakeConjurConfig::default()
    })
    .await;
    fake.set_value("s", b"v");
    let store = builder(&fake).with_clock(clock.clone()).build().unwrap();
    (fake, store, clock)
}

#[tokio::test]
async fn short_lived_tokens_are_reused_for_most_of_their_life() {
    // 30-second tokens: renewed after 24 s (80 %), not before every call.
    let (fake, store, clock) = on_one_clock(Duration::from_secs(30)).await;
    for _ in 0..5 {
        store.read(&name("s"), &ReadOptions::new()).await.unwrap();
    }
    assert_eq!(fake.authn_count(), 1, "one log-in for five reads");
    clock.advance(Duration::from_secs(20));
    store.read(&name("s"), &ReadOptions::new()).await.unwrap();
    assert_eq!(fake.authn_count(), 1, "a 20-second-old token is reused");
    clock.advance(Duration::from_secs(5));
    store.read(&name("s"), &ReadOptions::new()).await.unwrap();
    assert_eq!(
        fake.authn_count(),
        2,
        "past 80 % of its life: renewed first"
    );
    assert_eq!(
        count(&fake, "GET", "/secrets/"),
        7,
        "never sent stale: no 401 and no retry"
    );

    // One-second tokens: renewed after 800 ms.
    let (fake, store, clock) = on_one_clock(Duration::from_secs(1)).await;
    for _ in 0..3 {
        store.read(&name("s"), &ReadOptions::new()).await.unwrap();
    }
    clock.advance(Duration::from_millis(790));
    store.read(&name("s"), &ReadOptions::new()).await.unwrap();
    assert_eq!(fake.authn_count(), 1);
    clock.advance(Duration::from_millis(20));
    store.read(&name("s"), &ReadOptions::new()).await.unwrap();
    assert_eq!(fake.authn_count(), 2);
    assert_eq!(count(&fake, "GET", "/secrets/"), 5);
}

#[tokio::test]
async fn a_token_the_server_ended_is_replaced_once() {
    // The fake's clock runs past the token's life while the store's refresh point is not
    // reached (an 8-minute token, the server expiring it early): one 401, one log-in, one retry.
    let (fake, store, _clock) = on_one_clock(Duration::from_secs(480)).await;
    store.read(&name("s"), &ReadOptions::new()).await.unwrap();
    fake.expire_tokens();
    store.read(&name("s"), &ReadOptions::new()).await.unwrap();
    assert_eq!(fake.authn_count(), 2);
    assert_eq!(count(&fake, "GET", "/secrets/"), 3);
}

#[tokio::test]
async fn bursts_of_5xx_are_retried_and_a_longer_outage_is_temporary() {
    let fake = fake().await;
    fake.set_value("x", b"v");
    let store = store(&fake);
    store.read(&name("x"), &ReadOptions::new()).await.unwrap();
    fake.faults().push(Fault::Status(503));
    fake.faults().push(Fault::Status(502));
    fake.faults().push(Fault::Status(500));
    assert_eq!(
        text(&store.read(&name("x"), &ReadOptions::new()).await.unwrap()).as_deref(),
        Some("v")
    );
    // Writes too: the policy load and the value POST each meet a 503.
    fake.faults().push(Fault::Status(503));
    store
        .write(&name("w"), "1".into(), &WriteOptions::new())
        .await
        .unwrap();
    fake.faults().push(Fault::RetryAfter(503, 0));
    fake.faults().push(Fault::RetryAfter(429, 0));
    store
        .write(&name("w"), "2".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(
        text(&store.read(&name("w"), &ReadOptions::new()).await.unwrap()).as_deref(),
        Some("2")
    );
    // More 5xx than retries: Unavailable, temporary.
    fake.faults().push_n(Fault::Status(503), 10);
    let err = store
        .read(&name("x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
    fake.faults().clear();
    // A 5xx on log-in is retried as well.
    let fresh = store_with_new_login(&fake);
    fake.faults().push(Fault::Status(500));
    assert!(
        fresh
            .read(&name("x"), &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
}

fn store_with_new_login(fake: &FakeConjur) -> strongroom_conjur::ConjurStore {
    store(fake)
}

#[tokio::test]
async fn dropped_connections_and_truncated_answers_are_retried() {
    let fake = fake().await;
    fake.set_value("x", b"v");
    let store = store(&fake);
    fake.faults().push(Fault::Drop); // the log-in
    fake.faults().push(Fault::Drop); // the read
    fake.faults().push(Fault::Truncate);
    assert_eq!(
        text(&store.read(&name("x"), &ReadOptions::new()).await.unwrap()).as_deref(),
        Some("v")
    );
    fake.faults().push(Fault::Drop);
    store
        .write(&name("y"), "1".into(), &WriteOptions::new())
        .await
        .unwrap();
    fake.faults().push(Fault::Drop);
    let got = store
        .read_many(&[name("x"), name("y")], &ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    fake.faults().push_n(Fault::Drop, 10);
    let err = store
        .read(&name("x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
    fake.faults().clear();
}

#[tokio::test]
async fn malformed_answers_are_protocol_errors() {
    let fake = fake().await;
    fake.set_value("x", b"v");
    fake.set_value("y", b"v");
    let store = store(&fake);
    store.read(&name("x"), &ReadOptions::new()).await.unwrap();
    fake.faults().push(Fault::Malformed);
    let err = store
        .read_many(&[name("x"), name("y")], &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Protocol, "{err}");
    let fresh = store_with_new_login(&fake);
    fake.faults().push(Fault::Malformed);
    let err = fresh
        .read(&name("x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Protocol, "{err}");
    assert!(!err.to_string().contains(&fake.api_key()));
}

#[tokio::test]
async fn forced_policy_conflicts_are_retried_then_reported() {
    // How long each retry waits (Retry-After, capped) is `conflict_waits_honour_retry_after_within_the_cap`.
    let fake = fake().await;
    let store = store(&fake);
    fake.force_policy_conflicts(3);
    store
        .write(&name("c/one"), "1".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(count(&fake, "POST", "/policies/"), 4);
    assert_eq!(fake.policy_conflicts(), 3);
    assert_eq!(
        fake.policy_records().len(),
        1,
        "conflicted loads record nothing"
    );
    // More conflicts than retries (5): a temporary Conflict error, and no value was set.
    fake.clear_requests();
    fake.force_policy_conflicts(100);
    let err = store
        .write(&name("c/three"), "3".into(), &WriteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Conflict, "{err}");
    assert!(err.is_temporary());
    assert_eq!(err.name(), Some("c/three"));
    assert_eq!(
        count(&fake, "POST", "/policies/"),
        6,
        "one load and five retries"
    );
    assert_eq!(count(&fake, "POST", "/secrets/"), 0);
    fake.force_policy_conflicts(0);
    assert!(
        store
            .read(&name("c/three"), &ReadOptions::new())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_collide_on_policy_loads_and_all_succeed() {
    let fake = fake().await;
    // Each of the first seven loads to take the policy lock holds it until another load has
    // been refused, and a refusal is answered only once the holder is done: the writers
    // collide for certain, and each is refused at most once per other writer (7 < 8 retries).
    fake.collide_policy_loads(7);
    let store = Arc::new(
        builder(&fake)
            .with_policy_conflict_retries(8, Duration::from_millis(50))
            .build()
            .unwrap(),
    );
    let writes = (0..8).map(|i| {
        let store = Arc::clone(&store);
        async move {
            store
                .write(
                    &name(&format!("conc/{i}")),
                    SecretValue::from(format!("v{i}")),
                    &WriteOptions::new(),
                )
                .await
        }
    });
    let all = futures_util::future::join_all(writes);
    // A hang guard only; nothing here depends on timing.
    for r in tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .unwrap()
    {
        r.unwrap();
    }
    let conflicts = fake.policy_conflicts();
    assert!(
        (7..=49).contains(&conflicts),
        "every collision holder met a refused load ({conflicts})"
    );
    assert_eq!(count(&fake, "POST", "/policies/"), 8 + conflicts);
    assert_eq!(fake.policy_records().len(), 8);
    for i in 0..8 {
        let got = store
            .read(&name(&format!("conc/{i}")), &ReadOptions::new())
            .await
            .unwrap();
        assert_eq!(text(&got), Some(format!("v{i}")));
    }
}

#[tokio::test]
async fn wrong_api_key_is_unauthorized_and_not_echoed() {
    let fake = fake().await;
    let store = builder(&fake)
        .with_api_key("sr-wrong-key-0123")
        .build()
        .unwrap();
    let err = store
        .read(&name("x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    let text = format!("{err} {err:?} {store:?}");
    assert!(!text.contains("sr-wrong-key-0123"));
    assert!(err.hint().is_some());
}

#[tokio::test]
async fn a_second_401_is_returned_not_looped() {
    let fake = fake().await;
    fake.set_value("x", b"v");
    let store = store(&fake);
    store.read(&name("x"), &ReadOptions::new()).await.unwrap();
    // data call → 401; log-in → passes; data call again → 401.
    fake.faults().push(Fault::Status(401));
    fake.faults().push(Fault::Delay(Duration::ZERO));
    fake.faults().push(Fault::Status(401));
    let err = store
        .read(&name("x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    assert_eq!(
        fake.authn_count(),
        2,
        "one new log-in, one retry, then the answer"
    );
    assert_eq!(fake.faults().requests(), 2 + 3);
    assert!(
        store
            .read(&name("x"), &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
}
