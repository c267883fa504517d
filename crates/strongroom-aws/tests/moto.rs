//! strongroom-aws against a real moto server (one per test, on a free port), through a
//! recording pass-through that counts the AWS calls.
//!
//! Run: `source /work/testenv.sh && cargo test -p strongroom-aws` (`moto_server` from
//! `target/strongroom-venv/bin`, `$STRONGROOM_MOTO_SERVER_BIN` or `PATH`).

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use strongroom_core::HttpSetters as _;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use common::Stack;
use strongroom_aws::{AwsBuilder, AwsStore};
use strongroom_core::config::HttpConfig;
use strongroom_core::{
    DeleteOptions, ErrorKind, ReadOptions, SecretName, SecretStore, SecretStoreExt, SecretValue,
    WriteOptions,
};
use strongroom_testkit::servers::moto::{self, Moto};
use strongroom_testkit::{conformance, logs, sentinel};

fn builder(moto: &Moto) -> AwsBuilder {
    AwsBuilder::new()
        .with_region(moto::REGION)
        .with_endpoint_url(moto.endpoint())
        .with_access_key(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
}

async fn start() -> (Moto, AwsStore) {
    let moto = Moto::start().await;
    let store = builder(&moto).build().expect("store");
    (moto, store)
}

/// moto behind a recorder, and a store that goes through it.
async fn recorded() -> (Stack, AwsStore) {
    let stack = Stack::start().await;
    let store = stack.builder().build().expect("store");
    (stack, store)
}

/// A plain SDK client on moto, to look at what the store wrote.
fn sdk(moto: &Moto) -> aws_sdk_secretsmanager::Client {
    let conf = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(moto::REGION))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(conf)
}

fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

async fn put(store: &impl SecretStore, n: &str, v: &str) -> Option<String> {
    store
        .write(&name(n), v.into(), &WriteOptions::new())
        .await
        .unwrap_or_else(|e| panic!("write {n}: {e}"))
        .version
}

async fn get(store: &impl SecretStore, n: &str, opts: &ReadOptions) -> Option<String> {
    store
        .read(&name(n), opts)
        .await
        .unwrap_or_else(|e| panic!("read {n}: {e}"))
        .map(|s| s.value.expose_str().unwrap().to_owned())
}

fn values(got: &[(SecretName, Option<strongroom_core::Secret>)]) -> Vec<Option<String>> {
    got.iter()
        .map(|(_, s)| s.as_ref().map(|s| s.value.expose_str().unwrap().to_owned()))
        .collect()
}

/// A loopback listener that counts connections and drops them (an endpoint that must not be
/// called).
fn counting_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            c.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (url, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_suite_passes_against_moto() {
    let (_moto, store) = start().await;
    conformance::run(
        Arc::new(store),
        conformance::Options::new()
            .names_with_spaces(false)
            .names_with_unicode(false)
            .delete_options(DeleteOptions::new().force(true)),
    )
    .await;
}

#[tokio::test]
async fn json_fields_and_the_last_segment_form() {
    let (stack, store) = recorded().await;
    put(
        &store,
        "app/db",
        r#"{"user":"app","password":"pw-1","port":5432}"#,
    )
    .await;

    // `#field`.
    let field = |f: &str| ReadOptions::new().field(f);
    assert_eq!(
        get(&store, "app/db", &field("user")).await.as_deref(),
        Some("app")
    );
    assert_eq!(
        get(&store, "app/db", &field("port")).await.as_deref(),
        Some("5432")
    );
    assert_eq!(get(&store, "app/db", &field("nope")).await, None);

    // The CloverDX form: the last segment is the key of the parent secret.
    let plain = ReadOptions::new();
    assert_eq!(
        get(&store, "app/db/password", &plain).await.as_deref(),
        Some("pw-1")
    );
    assert_eq!(
        get(&store, "app/db/user", &plain).await.as_deref(),
        Some("app")
    );
    assert_eq!(get(&store, "app/db/missing", &plain).await, None);
    assert_eq!(get(&store, "nothing/here", &plain).await, None);

    // The full name wins when it exists.
    put(&store, "app/db/password", "standalone").await;
    assert_eq!(
        get(&store, "app/db/password", &plain).await.as_deref(),
        Some("standalone")
    );

    // A plain (non-JSON) parent has no keys.
    put(&store, "plain", "just-text").await;
    assert_eq!(get(&store, "plain/key", &plain).await, None);

    // A field of a non-JSON secret is an error that does not show the value.
    let err = store.read(&name("plain"), &field("x")).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Protocol);
    assert!(!format!("{err} {err:?}").contains("just-text"));

    // read_many resolves the same forms, with one more batch call for the parents.
    stack.rec.clear();
    let got = store
        .read_many(
            &[
                name("app/db/user"),
                name("app/db/password"),
                name("app/db/missing"),
                name("plain"),
            ],
            &plain,
        )
        .await
        .unwrap();
    assert_eq!(
        values(&got),
        [
            Some("app".into()),
            Some("standalone".into()),
            None,
            Some("just-text".into())
        ]
    );
    assert_eq!(
        stack.rec.ops(),
        ["BatchGetSecretValue", "BatchGetSecretValue"],
        "one batch for the names, one for the parents"
    );

    // The fallback can be turned off.
    let strict = stack
        .builder()
        .with_json_key_fallback(false)
        .build()
        .unwrap();
    assert_eq!(get(&strict, "app/db/user", &plain).await, None);
    assert_ne!(
        strict.info().address.to_string(),
        store.info().address.to_string(),
        "the two answer differently"
    );
}

#[tokio::test]
async fn batch_reads_over_twenty_names_with_a_missing_one() {
    let (stack, store) = recorded().await;
    let names: Vec<SecretName> = (0..25)
        .map(|i| name(&format!("batch/item-{i:02}")))
        .collect();
    let values: Vec<String> = (0..25).map(|i| sentinel(&format!("b{i}"))).collect();
    for (n, v) in names.iter().zip(&values) {
        store
            .write(n, v.as_str().into(), &WriteOptions::new())
            .await
            .unwrap();
    }
    let missing = name("batch/not-there");
    let mut ask = names.clone();
    ask.insert(3, missing.clone());
    ask.push(names[0].clone());

    stack.rec.clear();
    let got = store
        .read_many(&ask, &ReadOptions::new())
        .await
        .expect("read_many");
    assert_eq!(got.len(), 26, "each distinct name once");
    assert_eq!(got[3].0, missing);
    assert!(got[3].1.is_none(), "the missing name is None");
    for (n, secret) in got.iter().filter(|(n, _)| *n != missing) {
        let i = names.iter().position(|x| x == n).unwrap();
        assert_eq!(
            secret
                .as_ref()
                .expect("present")
                .value
                .expose_str()
                .unwrap(),
            values[i]
        );
    }
    // 26 ids → 2 batch calls (20 + 6), plus 1 for the missing name's parent `batch`.
    assert_eq!(
        stack.rec.ops(),
        ["BatchGetSecretValue"; 3],
        "read_many must use BatchGetSecretValue, 20 ids per call"
    );

    // Without the fallback the missing name costs nothing extra.
    let strict = stack
        .builder()
        .with_json_key_fallback(false)
        .build()
        .unwrap();
    stack.rec.clear();
    strict.read_many(&ask, &ReadOptions::new()).await.unwrap();
    assert_eq!(stack.rec.ops(), ["BatchGetSecretValue"; 2]);

    // A field applies to every batch entry.
    put(&store, "batch/json", r#"{"k":"v"}"#).await;
    let got = store
        .read_many(&[name("batch/json")], &ReadOptions::new().field("k"))
        .await
        .unwrap();
    assert_eq!(got[0].1.as_ref().unwrap().value.expose_str().unwrap(), "v");
}

/// issue 16.9: with prefix `litellm/`, the last-segment fallback never reads the secret
/// `litellm` one level above the prefix (nor anything else outside it).
#[tokio::test]
async fn the_key_fallback_never_leaves_the_prefix() {
    let (stack, store) = recorded().await;
    put(&store, "litellm", r#"{"x":"above-the-prefix","k":"no"}"#).await;
    put(&store, "litellm/db", r#"{"password":"inside"}"#).await;
    let store = Arc::new(store);
    let scoped = Arc::clone(&store).with_prefix("litellm/");

    stack.rec.clear();
    assert_eq!(get(&scoped, "x", &ReadOptions::new()).await, None);
    assert_eq!(
        stack.rec.ops(),
        ["GetSecretValue"],
        "only `litellm/x` is read, never `litellm`"
    );
    // Inside the prefix the fallback works as before.
    assert_eq!(
        get(&scoped, "db/password", &ReadOptions::new())
            .await
            .as_deref(),
        Some("inside")
    );

    // read_many: `x` finds nothing and no parent batch is sent; `db/password` still resolves.
    stack.rec.clear();
    let got = scoped
        .read_many(&[name("x"), name("k")], &ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(values(&got), [None, None]);
    assert_eq!(stack.rec.ops(), ["BatchGetSecretValue"]);
    let got = scoped
        .read_many(&[name("x"), name("db/password")], &ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(values(&got), [None, Some("inside".into())]);

    // The store itself, unscoped, still reads `litellm/x` as field `x` of `litellm`.
    assert_eq!(
        get(&*store, "litellm/x", &ReadOptions::new())
            .await
            .as_deref(),
        Some("above-the-prefix")
    );
    // And a `within` given without the trailing slash is no way out either.
    assert_eq!(
        get(&*store, "litellm/x", &ReadOptions::new().within("litellm")).await,
        None
    );
}

#[tokio::test]
async fn writing_a_name_scheduled_for_deletion_restores_then_puts() {
    let (_moto, store) = start().await;
    let n = name("litellm/virtual-key-alias");
    let v1 = put(&store, n.as_str(), "old-value").await;
    store
        .delete(&n, &DeleteOptions::new())
        .await
        .expect("delete with the default window");
    assert!(
        store.list(Some("litellm/")).await.unwrap().is_empty(),
        "hidden from list"
    );
    // Deleting it again succeeds.
    store
        .delete(&n, &DeleteOptions::new())
        .await
        .expect("second delete");

    // Re-creating the same name works: restore, then put.
    let v2 = put(&store, n.as_str(), "new-value").await;
    assert_ne!(v1, v2);
    assert_eq!(
        get(&store, n.as_str(), &ReadOptions::new())
            .await
            .as_deref(),
        Some("new-value")
    );
    assert_eq!(
        get(&store, n.as_str(), &ReadOptions::new().stage("AWSPREVIOUS"))
            .await
            .as_deref(),
        Some("old-value")
    );
    assert_eq!(store.list(Some("litellm/")).await.unwrap(), vec![n.clone()]);

    // The explicit restore call works too.
    store
        .delete(&n, &DeleteOptions::new().recovery_window_days(30))
        .await
        .unwrap();
    store.restore(&n).await.unwrap();
    assert_eq!(
        get(&store, n.as_str(), &ReadOptions::new())
            .await
            .as_deref(),
        Some("new-value")
    );
}

/// issue 17.4: a secret scheduled for deletion reads as not found (the CLI exits 1, as
/// LiteLLM returns None), and the error gives the deletion date.
#[tokio::test]
async fn a_secret_scheduled_for_deletion_reads_as_not_found_with_its_date() {
    let (stack, store) = recorded().await;
    let n = name("litellm/deleted");
    put(&store, n.as_str(), "old-value").await;
    put(&store, "litellm/json", r#"{"k":"v"}"#).await;
    store
        .delete(&n, &DeleteOptions::new().recovery_window_days(7))
        .await
        .unwrap();
    store
        .delete(&name("litellm/json"), &DeleteOptions::new())
        .await
        .unwrap();
    let described = sdk(&stack.moto)
        .describe_secret()
        .secret_id(n.as_str())
        .send()
        .await
        .unwrap();
    let date =
        std::time::SystemTime::try_from(*described.deleted_date().expect("deleted date")).unwrap();
    let date = humantime::format_rfc3339_seconds(date).to_string();

    let err = store.read(&n, &ReadOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NotFound, "{err}");
    assert!(!err.is_temporary());
    assert!(err.message().contains("scheduled for deletion"), "{err}");
    assert!(err.message().contains(&date), "{err} should give {date}");
    assert!(err.hint().unwrap().contains("restore"), "{err}");
    assert_eq!(err.name(), Some(n.as_str()));
    assert!(!format!("{err:?}").contains("old-value"));

    let err = store
        .read_many(&[name("litellm/other"), n.clone()], &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NotFound, "{err}");
    assert!(err.message().contains(&date), "{err}");

    // As the parent of the last-segment form, a deleted secret simply has no keys.
    assert_eq!(
        get(&store, "litellm/json/k", &ReadOptions::new()).await,
        None
    );
    let got = store
        .read_many(&[name("litellm/json/k")], &ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(values(&got), [None]);
}

#[tokio::test]
async fn recovery_window_and_names_are_checked_before_any_call() {
    // An endpoint that counts connections: nothing may reach it.
    let (url, connections) = counting_endpoint();
    let store = AwsBuilder::new()
        .with_region("us-east-1")
        .with_endpoint_url(&url)
        .with_access_key("testing", "testing", None)
        .with_max_attempts(1)
        .build()
        .unwrap();
    let n = name("some/secret");
    for days in [0, 6, 31, 365] {
        let err = store
            .delete(&n, &DeleteOptions::new().recovery_window_days(days))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Config, "{days}: {err}");
        assert!(err.to_string().contains("7–30"), "{err}");
    }
    let err = store
        .delete(
            &n,
            &DeleteOptions::new().force(true).recovery_window_days(7),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
    for bad in ["with space", "ünïcødé", "a:b", "a#b"] {
        let bad = name(bad);
        let err = store.read(&bad, &ReadOptions::new()).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidName, "{err}");
        let err = store
            .write(&bad, "v".into(), &WriteOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidName, "{err}");
        let err = store.delete(&bad, &DeleteOptions::new()).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidName, "{err}");
        let err = store
            .read_many(&[n.clone(), bad], &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidName, "{err}");
    }
    let err = store
        .write(&n, "v".into(), &WriteOptions::new().cas(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported, "{err}");
    assert!(store.list(Some("has space/")).await.unwrap().is_empty());
    assert_eq!(connections.load(Ordering::SeqCst), 0, "nothing may be sent");

    // The counter does see a real call: a valid delete reaches the endpoint (and fails there
    // as a temporary error).
    let err = store
        .delete(&n, &DeleteOptions::new().recovery_window_days(7))
        .await
        .unwrap_err();
    assert!(err.is_temporary(), "{err}");
    assert!(connections.load(Ordering::SeqCst) >= 1);

    // Against moto: the refused deletes send no request.
    let (stack, store) = recorded().await;
    put(&store, "kept", "v").await;
    let before = stack.rec.requests();
    for days in [6, 31] {
        store
            .delete(
                &name("kept"),
                &DeleteOptions::new().recovery_window_days(days),
            )
            .await
            .unwrap_err();
    }
    assert_eq!(
        stack.rec.requests(),
        before,
        "no request for a refused delete"
    );
    assert_eq!(
        get(&store, "kept", &ReadOptions::new()).await.as_deref(),
        Some("v")
    );
    // A store-wide default outside 7–30 is refused at build time.
    assert_eq!(
        stack
            .builder()
            .with_recovery_window_days(45)
            .build()
            .unwrap_err()
            .kind(),
        &ErrorKind::Config
    );
}

#[tokio::test]
async fn force_delete_then_recreate() {
    let (moto, store) = start().await;
    let n = name("force/me");
    put(&store, n.as_str(), "first").await;
    store
        .delete(&n, &DeleteOptions::new().force(true))
        .await
        .unwrap();
    assert_eq!(
        get(&store, n.as_str(), &ReadOptions::new()).await,
        None,
        "gone at once"
    );
    put(&store, n.as_str(), "second").await;
    assert_eq!(
        get(&store, n.as_str(), &ReadOptions::new())
            .await
            .as_deref(),
        Some("second")
    );
    assert_eq!(
        get(&store, n.as_str(), &ReadOptions::new().stage("AWSPREVIOUS")).await,
        None,
        "a re-created secret has no history"
    );
    // Deleting something missing succeeds, with or without force.
    store
        .delete(&name("never/was"), &DeleteOptions::new())
        .await
        .unwrap();
    store
        .delete(&name("never/was"), &DeleteOptions::new().force(true))
        .await
        .unwrap();
    // A forced delete of a secret scheduled for deletion removes it at once.
    store.delete(&n, &DeleteOptions::new()).await.unwrap();
    store
        .delete(&n, &DeleteOptions::new().force(true))
        .await
        .unwrap();
    assert_eq!(get(&store, n.as_str(), &ReadOptions::new()).await, None);

    // The launcher's reset forgets everything.
    put(&store, "reset/me", "v").await;
    moto.reset().await;
    assert_eq!(get(&store, "reset/me", &ReadOptions::new()).await, None);
    assert!(store.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn versions_and_stages() {
    let (_moto, store) = start().await;
    let n = "ver/secret";
    let v1 = put(&store, n, "one").await.expect("version id");
    let v2 = put(&store, n, "two").await.expect("version id");
    assert_ne!(v1, v2);

    let current = store
        .read(&name(n), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.value.expose_str().unwrap(), "two");
    assert_eq!(current.version.as_deref(), Some(v2.as_str()));
    assert!(current.created_at.is_some());

    let previous = store
        .read(&name(n), &ReadOptions::new().stage("AWSPREVIOUS"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(previous.value.expose_str().unwrap(), "one");
    assert_eq!(previous.version.as_deref(), Some(v1.as_str()));

    assert_eq!(
        get(&store, n, &ReadOptions::new().version(v1.clone()))
            .await
            .as_deref(),
        Some("one")
    );
    assert_eq!(
        get(&store, n, &ReadOptions::new().stage("AWSCURRENT"))
            .await
            .as_deref(),
        Some("two")
    );
    assert_eq!(
        get(&store, n, &ReadOptions::new().stage("AWSPENDING")).await,
        None
    );
    assert_eq!(
        get(
            &store,
            n,
            &ReadOptions::new().version("0123456789abcdef0123456789abcdef")
        )
        .await,
        None
    );

    // A third write moves the labels again.
    put(&store, n, "three").await;
    assert_eq!(
        get(&store, n, &ReadOptions::new().stage("AWSPREVIOUS"))
            .await
            .as_deref(),
        Some("two")
    );

    // read_many with a stage reads each name with that stage.
    let got = store
        .read_many(
            &[name(n), name("ver/none")],
            &ReadOptions::new().stage("AWSPREVIOUS"),
        )
        .await
        .unwrap();
    assert_eq!(
        got[0].1.as_ref().unwrap().value.expose_str().unwrap(),
        "two"
    );
    assert!(got[1].1.is_none());
    assert!(store.capabilities().versions && store.capabilities().batch_read);
}

#[tokio::test]
async fn binary_values_round_trip() {
    let (_moto, store) = start().await;
    let bytes: Vec<u8> = vec![0x00, 0x9f, 0x92, 0x96, 0xff, 0xfe, b'\n', 0x80];
    let n = name("bin/blob");
    store
        .write(
            &n,
            SecretValue::from_bytes(bytes.clone()),
            &WriteOptions::new(),
        )
        .await
        .unwrap();
    let got = store.read(&n, &ReadOptions::new()).await.unwrap().unwrap();
    assert_eq!(got.value.expose_secret(), bytes.as_slice());
    assert!(got.value.expose_str().is_err(), "not text");

    // Text forced to SecretBinary by its content type still reads back byte for byte.
    let t = name("bin/text");
    store
        .write(
            &t,
            "plain text".into(),
            &WriteOptions::new().content_type("application/octet-stream"),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .read(&t, &ReadOptions::new())
            .await
            .unwrap()
            .unwrap()
            .value
            .expose_secret(),
        b"plain text"
    );

    // Overwriting binary with text and back.
    put(&store, n.as_str(), "now text").await;
    assert_eq!(
        get(&store, n.as_str(), &ReadOptions::new())
            .await
            .as_deref(),
        Some("now text")
    );
    let prev = store
        .read(&n, &ReadOptions::new().stage("AWSPREVIOUS"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(prev.value.expose_secret(), bytes.as_slice());

    let got = store
        .read_many(&[n.clone(), t.clone()], &ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(
        got[1].1.as_ref().unwrap().value.expose_secret(),
        b"plain text"
    );
    assert!(store.capabilities().binary);
}

#[tokio::test]
async fn list_pages_and_filters_exactly() {
    let (stack, store) = recorded().await;
    let store = Arc::new(store);
    let writes = (0..105).map(|i| {
        let store = Arc::clone(&store);
        async move { put(&*store, &format!("many/item-{i:03}"), "v").await }
    });
    futures_util::future::join_all(writes).await;
    put(&*store, "Many/upper", "v").await;
    put(&*store, "other/x", "v").await;

    stack.rec.clear();
    let listed = store.list(Some("many/")).await.unwrap();
    assert_eq!(
        listed.len(),
        105,
        "all pages, and only the exact (case-sensitive) prefix"
    );
    assert!(listed.iter().all(|n| n.as_str().starts_with("many/")));
    assert_eq!(stack.rec.ops(), ["ListSecrets"; 2], "100 per page");
    assert_eq!(store.list(None).await.unwrap().len(), 107);
    assert!(store.list(Some("nomatch/")).await.unwrap().is_empty());
}

/// Paging is bounded by `max_pages` and `max_list_items` (issue 15): past either, the list
/// ends with a `LimitExceeded` error instead of following the server.
#[tokio::test]
async fn list_paging_is_bounded() {
    let (stack, store) = recorded().await;
    let store = Arc::new(store);
    futures_util::future::join_all((0..101).map(|i| {
        let store = Arc::clone(&store);
        async move { put(&*store, &format!("paged/item-{i:03}"), "v").await }
    }))
    .await;
    let bounded = |pages: u64, items: u64| {
        let mut http = HttpConfig::default();
        http.max_pages = pages;
        http.max_list_items = items;
        stack.builder().with_http(http).build().unwrap()
    };

    let one_page = bounded(1, 100_000);
    stack.rec.clear();
    let err = one_page.list(Some("paged/")).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    assert!(err.to_string().contains("max_pages"), "{err}");
    assert_eq!(err.provider(), "aws");
    assert_eq!(
        stack.rec.ops(),
        ["ListSecrets"; 2],
        "stops at the second page"
    );

    let few_items = bounded(1_000, 50);
    stack.rec.clear();
    let err = few_items.list(Some("paged/")).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    assert!(err.to_string().contains("max_list_items"), "{err}");
    assert_eq!(stack.rec.ops(), ["ListSecrets"], "stops at the first page");

    assert_eq!(
        bounded(2, 101).list(Some("paged/")).await.unwrap().len(),
        101
    );
}

/// issue 18.5: description and tags are stored natively — with `CreateSecret` for a new
/// secret; `UpdateSecret` (value and description in one call) and `TagResource` for an
/// existing one, or one that is restored.
#[tokio::test]
async fn description_and_tags_on_create_update_and_restore() {
    let (stack, store) = recorded().await;
    let aws = sdk(&stack.moto);
    let described = |id: &'static str| {
        let aws = aws.clone();
        async move {
            let out = aws.describe_secret().secret_id(id).send().await.unwrap();
            let tags: HashMap<String, String> = out
                .tags()
                .iter()
                .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
                .collect();
            (out.description().map(str::to_owned), tags)
        }
    };
    let tags = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let n = name("meta/secret");

    let opts = WriteOptions::new()
        .description("for the proxy")
        .tag("team", "ml");
    stack.rec.clear();
    store.write(&n, "v1".into(), &opts).await.unwrap();
    assert_eq!(
        stack.rec.ops(),
        ["CreateSecret"],
        "one call for a new secret"
    );
    assert_eq!(
        described("meta/secret").await,
        (Some("for the proxy".into()), tags(&[("team", "ml")]))
    );

    stack.rec.clear();
    let opts = WriteOptions::new()
        .description("rotated")
        .tag("env", "prod");
    store.write(&n, "v2".into(), &opts).await.unwrap();
    assert_eq!(
        stack.rec.ops(),
        [
            "CreateSecret",
            "DescribeSecret",
            "UpdateSecret",
            "TagResource"
        ]
    );
    assert_eq!(
        described("meta/secret").await,
        (
            Some("rotated".into()),
            tags(&[("team", "ml"), ("env", "prod")])
        ),
        "tags are added to the existing ones"
    );
    assert_eq!(
        get(&store, n.as_str(), &ReadOptions::new())
            .await
            .as_deref(),
        Some("v2")
    );
    assert_eq!(
        get(&store, n.as_str(), &ReadOptions::new().stage("AWSPREVIOUS"))
            .await
            .as_deref(),
        Some("v1")
    );

    // Without metadata: a plain new version, the metadata kept.
    stack.rec.clear();
    store
        .write(&n, "v3".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(
        stack.rec.ops(),
        ["CreateSecret", "DescribeSecret", "PutSecretValue"]
    );
    assert_eq!(described("meta/secret").await.0.as_deref(), Some("rotated"));

    // A name scheduled for deletion: restored, then the value, description and tags.
    store.delete(&n, &DeleteOptions::new()).await.unwrap();
    stack.rec.clear();
    let opts = WriteOptions::new().description("back").tag("team", "infra");
    store.write(&n, "v4".into(), &opts).await.unwrap();
    assert_eq!(
        stack.rec.ops(),
        [
            "CreateSecret",
            "DescribeSecret",
            "RestoreSecret",
            "UpdateSecret",
            "TagResource"
        ]
    );
    assert_eq!(
        described("meta/secret").await,
        (
            Some("back".into()),
            tags(&[("team", "infra"), ("env", "prod")])
        )
    );
    assert_eq!(
        get(&store, n.as_str(), &ReadOptions::new())
            .await
            .as_deref(),
        Some("v4")
    );
}

#[tokio::test]
async fn assume_role_through_sts() {
    let moto = Moto::start().await;
    let role = builder(&moto)
        .with_assume_role("arn:aws:iam::111111111111:role/strongroom-test")
        .with_role_session_name("strongroom-test")
        .with_sts_endpoint_url(moto.endpoint())
        .build()
        .unwrap();
    let plain = builder(&moto).build().unwrap();
    put(&role, "role/secret", "from-role").await;
    assert_eq!(
        get(&role, "role/secret", &ReadOptions::new())
            .await
            .as_deref(),
        Some("from-role")
    );
    // moto keeps accounts apart: the role's account is not the base credentials' account.
    assert_eq!(get(&plain, "role/secret", &ReadOptions::new()).await, None);
    assert_ne!(
        role.info().address.to_string(),
        plain.info().address.to_string()
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_a_temporary_error() {
    let port = strongroom_testkit::servers::free_port();
    let store = AwsBuilder::new()
        .with_region("us-east-1")
        .with_endpoint_url(format!("http://127.0.0.1:{port}"))
        .with_access_key("testing", "testing", None)
        .with_max_attempts(1)
        .build()
        .unwrap();
    let err = store
        .read(&name("x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
    assert_eq!(err.provider(), "aws");
    assert_eq!(err.name(), Some("x"));
}

#[tokio::test]
async fn nothing_secret_reaches_logs_or_errors() {
    logs::install();
    let moto = Moto::start().await;
    let secret_key = sentinel("aws-secret-key");
    let session_token = sentinel("aws-session-token");
    let store = AwsBuilder::new()
        .with_region(moto::REGION)
        .with_endpoint_url(moto.endpoint())
        .with_access_key(
            "AKIDSTRONGROOMTEST",
            secret_key.as_str(),
            Some(SecretValue::from(session_token.as_str())),
        )
        .build()
        .unwrap();
    let v1 = sentinel("value-1");
    let v2 = sentinel("value-2");
    let json = format!(r#"{{"password":"{v2}"}}"#);
    put(&store, "leak/a", &v1).await;
    put(&store, "leak/a", &v2).await;
    put(&store, "leak/json", &json).await;
    store
        .delete(&name("leak/a"), &DeleteOptions::new())
        .await
        .unwrap();
    let err = store
        .read(&name("leak/a"), &ReadOptions::new())
        .await
        .unwrap_err();
    put(&store, "leak/a", &v1).await; // restore path
    get(&store, "leak/json/password", &ReadOptions::new())
        .await
        .unwrap();
    store
        .read_many(
            &[name("leak/a"), name("leak/json/password")],
            &ReadOptions::new(),
        )
        .await
        .unwrap();
    let field_err = store
        .read(&name("leak/a"), &ReadOptions::new().field("x"))
        .await
        .unwrap_err();
    let texts = format!("{err} {err:?} {field_err} {field_err:?} {store:?}");
    for needle in [&v1, &v2, &secret_key, &session_token] {
        assert!(
            !texts.contains(needle.as_str()),
            "a secret leaked into an error or Debug"
        );
    }
    logs::assert_absent(&[&v1, &v2, &secret_key, &session_token]);
}
