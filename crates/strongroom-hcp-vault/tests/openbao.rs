//! Integration tests against a real OpenBao dev server (started per test on free ports).
//!
//! Run: `STRONGROOM_REQUIRE_SERVERS=1 cargo test -p strongroom-hcp-vault`. The `bao` binary is
//! found through `STRONGROOM_BAO_BIN`, `target/strongroom-venv/bin` or `PATH`; a missing binary
//! fails the tests (it never skips them).

use std::sync::Arc;
use std::time::Duration;
use strongroom_core::HttpSetters as _;

use serde_json::json;
use strongroom_core::config::{HttpConfig, ProviderConfig, StoreConfig};
use strongroom_core::{
    DeleteOptions, ErrorKind, ManualClock, Operation, ReadOptions, RetryPolicy, SecretName,
    SecretStore, SecretValue, WriteOptions,
};
use strongroom_hcp_vault::{HcpVaultBuilder, HcpVaultConfig, HcpVaultStore, NamespaceMode};
use strongroom_testkit::fake::TestCa;
use strongroom_testkit::servers::openbao::OpenBao;
use strongroom_testkit::{conformance, logs, sentinel};

fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

fn token_builder(bao: &OpenBao) -> HcpVaultBuilder {
    HcpVaultBuilder::new()
        .with_addr(bao.url())
        .with_token(bao.root_token())
}

fn token_store(bao: &OpenBao) -> HcpVaultStore {
    token_builder(bao).build().unwrap()
}

async fn put(store: &HcpVaultStore, n: &str, v: &str) -> Option<String> {
    store
        .write(&name(n), v.into(), &WriteOptions::new())
        .await
        .unwrap_or_else(|e| panic!("write {n}: {e}"))
        .version
}

async fn get(store: &HcpVaultStore, n: &str) -> Option<String> {
    store
        .read(&name(n), &ReadOptions::new())
        .await
        .unwrap_or_else(|e| panic!("read {n}: {e}"))
        .map(|s| s.value.expose_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_a_static_token() {
    let bao = OpenBao::start().await;
    conformance::run(Arc::new(token_store(&bao)), conformance::Options::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_approle_in_a_namespace_with_its_own_mount() {
    let bao = OpenBao::start().await;
    let ns = Some("team-a");
    bao.create_namespace("team-a").await;
    bao.mount_kv2(ns, "kv-team").await;
    bao.write_policy(ns, "kv-team-rw", &OpenBao::kv_policy("kv-team"))
        .await;
    let (role_id, secret_id) = bao.approle(ns, "app", &["kv-team-rw"], "1h", "2h").await;
    let store = HcpVaultBuilder::new()
        .with_addr(bao.url())
        .with_namespace("team-a")
        .with_mount("kv-team")
        .with_approle(role_id, secret_id)
        .build()
        .unwrap();
    assert_eq!(store.auth_method(), "approle");
    let store = Arc::new(store);
    conformance::run(store.clone(), conformance::Options::new().prefix("conf")).await;

    // The values really are in team-a/kv-team, not in the root namespace.
    let n = "placed/here";
    put(&store, n, "in-namespace").await;
    let (status, body) = bao.api("GET", ns, "kv-team/data/placed/here", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["data"]["key"], "in-namespace");
    let (status, _) = bao.api("GET", None, "kv-team/data/placed/here", None).await;
    assert_eq!(status, 404, "nothing in the root namespace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_by_header_and_by_path_prefix_reach_the_same_secrets() {
    let bao = OpenBao::start().await;
    bao.create_namespace("org").await;
    bao.create_namespace("org/team").await;
    bao.mount_kv2(Some("org/team"), "secret").await;
    let by_header = token_builder(&bao)
        .with_namespace("org/team")
        .build()
        .unwrap();
    let by_path = token_builder(&bao)
        .with_namespace("org/team")
        .with_namespace_mode(NamespaceMode::PathPrefix)
        .build()
        .unwrap();
    put(&by_header, "shared/one", "via-header").await;
    assert_eq!(
        get(&by_path, "shared/one").await.as_deref(),
        Some("via-header")
    );
    put(&by_path, "shared/two", "via-path").await;
    assert_eq!(
        get(&by_header, "shared/two").await.as_deref(),
        Some("via-path")
    );
    let listed = by_path.list(Some("shared/")).await.unwrap();
    assert_eq!(listed, vec![name("shared/one"), name("shared/two")]);
    assert_ne!(
        by_header.info().address.to_string(),
        token_store(&bao).info().address.to_string()
    );

    // Separate login / secret namespaces: log in at the root, read in org/team.
    // (A policy in the parent namespace reaches into the child by path.)
    bao.write_policy(
        None,
        "child-read",
        "path \"org/team/secret/data/*\" { capabilities = [\"read\"] }",
    )
    .await;
    let (role_id, secret_id) = bao
        .approle(None, "root-app", &["child-read"], "1h", "1h")
        .await;
    let split = HcpVaultBuilder::new()
        .with_addr(bao.url())
        .with_login_namespace("")
        .with_secret_namespace("org/team")
        .with_approle(role_id, secret_id)
        .build()
        .unwrap();
    assert_eq!(
        get(&split, "shared/one").await.as_deref(),
        Some("via-header")
    );

    // An unknown namespace is a configuration error, never a silent "missing".
    let wrong = token_builder(&bao).with_namespace("nope").build().unwrap();
    let err = wrong
        .read(&name("shared/one"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn value_format_fields_versions_and_metadata() {
    let bao = OpenBao::start().await;
    bao.mount_kv2(None, "apps").await;
    let store = token_builder(&bao)
        .with_mount("apps")
        .with_path_prefix("litellm")
        .build()
        .unwrap();

    // Stored as {"key": "<value>"} under the path prefix.
    let before = std::time::SystemTime::now() - Duration::from_secs(5);
    assert_eq!(put(&store, "db/password", "v1").await.as_deref(), Some("1"));
    let (_, raw) = bao
        .api("GET", None, "apps/data/litellm/db/password", None)
        .await;
    assert_eq!(raw["data"]["data"], json!({"key": "v1"}));
    assert_eq!(put(&store, "db/password", "v2").await.as_deref(), Some("2"));
    let s = store
        .read(&name("db/password"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.value.expose_str().unwrap(), "v2");
    assert_eq!(s.version.as_deref(), Some("2"));
    assert!(
        s.created_at.unwrap() > before,
        "created_at from metadata.created_time"
    );

    // Versions.
    let v1 = store
        .read(&name("db/password"), &ReadOptions::new().version("1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (v1.value.expose_str().unwrap(), v1.version.as_deref()),
        ("v1", Some("1"))
    );
    assert!(
        store
            .read(&name("db/password"), &ReadOptions::new().version("9"))
            .await
            .unwrap()
            .is_none()
    );
    let err = store
        .read(&name("db/password"), &ReadOptions::new().version("latest"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);

    // A multi-field secret written by someone else: fields and the whole map.
    let (status, _) = bao
        .api(
            "POST",
            None,
            "apps/data/litellm/db/creds",
            Some(json!({"data": {"username": "app", "password": "pw", "port": 5432}})),
        )
        .await;
    assert_eq!(status, 200);
    let field = |f: &str| {
        let store = &store;
        let f = f.to_owned();
        async move {
            store
                .read(&name("db/creds"), &ReadOptions::new().field(f))
                .await
                .unwrap()
                .map(|s| s.value.expose_str().unwrap().to_owned())
        }
    };
    assert_eq!(field("username").await.as_deref(), Some("app"));
    assert_eq!(field("port").await.as_deref(), Some("5432"));
    assert_eq!(field("absent").await, None);
    let whole = get(&store, "db/creds").await.unwrap();
    let whole: serde_json::Value = serde_json::from_str(&whole).unwrap();
    assert_eq!(
        whole,
        json!({"username": "app", "password": "pw", "port": 5432})
    );

    // A JSON value written through the store: `#field` selects inside it.
    put(&store, "db/json", r#"{"user":"u1","pass":"p1"}"#).await;
    let s = store
        .read(&name("db/json"), &ReadOptions::new().field("pass"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.value.expose_str().unwrap(), "p1");
    // `field = key` is the raw value.
    let s = store
        .read(&name("db/json"), &ReadOptions::new().field("key"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.value.expose_str().unwrap(),
        r#"{"user":"u1","pass":"p1"}"#
    );

    // Description and tags land in custom_metadata and come back as tags.
    store
        .write(
            &name("db/tagged"),
            "t".into(),
            &WriteOptions::new()
                .description("the db")
                .tag("team", "core"),
        )
        .await
        .unwrap();
    let s = store
        .read(&name("db/tagged"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.tags.get("team").map(String::as_str), Some("core"));
    assert_eq!(
        s.tags.get("description").map(String::as_str),
        Some("the db")
    );

    // Binary values are refused before any call.
    let err = store
        .write(
            &name("db/bin"),
            SecretValue::from(vec![0xff, 0xfe]),
            &WriteOptions::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);

    // A custom value field.
    let custom = token_builder(&bao)
        .with_mount("apps")
        .with_value_field("value")
        .build()
        .unwrap();
    put(&custom, "cf", "x").await;
    let (_, raw) = bao.api("GET", None, "apps/data/cf", None).await;
    assert_eq!(raw["data"]["data"], json!({"value": "x"}));
}

/// The secret's metadata as the server keeps it: `(current_version, custom_metadata)`.
async fn metadata(bao: &OpenBao, path: &str) -> (u64, serde_json::Value) {
    let (status, body) = bao
        .api("GET", None, &format!("secret/metadata/{path}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    (
        body["data"]["current_version"].as_u64().unwrap(),
        body["data"]["custom_metadata"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_metadata_lands_in_custom_metadata_or_the_write_says_why_not() {
    let bao = OpenBao::start().await;
    let store = token_store(&bao);
    let n = name("meta/key");
    let tagged = WriteOptions::new()
        .description("the OpenAI key")
        .tag("team", "core")
        .tag("owner", "litellm");
    let out = store.write(&n, "v1".into(), &tagged).await.unwrap();
    assert_eq!(out.version.as_deref(), Some("1"));
    assert_eq!(
        metadata(&bao, "meta/key").await,
        (
            1,
            json!({"description": "the OpenAI key", "team": "core", "owner": "litellm"})
        )
    );
    let s = store.read(&n, &ReadOptions::new()).await.unwrap().unwrap();
    assert_eq!(
        s.tags.get("description").map(String::as_str),
        Some("the OpenAI key")
    );

    // A write without metadata leaves it as it is; one with metadata replaces it.
    put(&store, "meta/key", "v2").await;
    assert_eq!(metadata(&bao, "meta/key").await.1["team"], "core");
    store
        .write(&n, "v3".into(), &WriteOptions::new().tag("team", "infra"))
        .await
        .unwrap();
    assert_eq!(
        metadata(&bao, "meta/key").await,
        (3, json!({"team": "infra"}))
    );

    // What Vault cannot store is refused before anything is written.
    let refused = [
        WriteOptions::new().content_type("application/json"),
        WriteOptions::new()
            .description("d")
            .tag("description", "other"),
        WriteOptions::new().tag("team", "x".repeat(513)),
        WriteOptions::new().tag("k".repeat(129), "v"),
        WriteOptions::new().tag("team", ""),
        (0..65).fold(WriteOptions::new(), |o, i| o.tag(format!("k{i}"), "v")),
    ];
    for opts in refused {
        let err = store.write(&n, "v4".into(), &opts).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unsupported, "{opts:?}: {err}");
        assert_eq!(err.operation(), Some(Operation::Write));
        assert!(!err.to_string().contains("v4"));
    }
    assert_eq!(
        metadata(&bao, "meta/key").await,
        (3, json!({"team": "infra"}))
    );
    assert_eq!(get(&store, "meta/key").await.as_deref(), Some("v3"));
    // At Vault's limits it is stored.
    let at_limits = (0..63)
        .fold(WriteOptions::new(), |o, i| o.tag(format!("k{i}"), "v"))
        .description("d".repeat(512));
    store.write(&n, "v4".into(), &at_limits).await.unwrap();
    let (version, custom) = metadata(&bao, "meta/key").await;
    assert_eq!((version, custom.as_object().unwrap().len()), (4, 64));

    // A token that may write values but not metadata: the value is written and the error
    // says the metadata was not.
    bao.write_policy(
        None,
        "data-only",
        "path \"secret/data/*\" { capabilities = [\"create\", \"read\", \"update\"] }",
    )
    .await;
    let data_only = token_builder(&bao)
        .with_token(bao.create_token(None, &["data-only"], None).await.as_str())
        .build()
        .unwrap();
    let err = data_only
        .write(&n, "v5".into(), &WriteOptions::new().tag("team", "ops"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Forbidden, "{err}");
    assert!(
        err.hint()
            .unwrap()
            .contains("value was written (version 5)"),
        "{err}"
    );
    assert_eq!(get(&store, "meta/key").await.as_deref(), Some("v5"));
    assert_eq!(
        metadata(&bao, "meta/key")
            .await
            .1
            .as_object()
            .unwrap()
            .len(),
        64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_soft_deleted_and_destroyed_all_read_as_none() {
    let bao = OpenBao::start().await;
    let store = token_store(&bao);
    assert_eq!(
        get(&store, "never/written").await,
        None,
        "404 {{\"errors\":[]}}"
    );

    put(&store, "soft", "a").await;
    put(&store, "soft", "b").await;
    store
        .delete(&name("soft"), &DeleteOptions::new())
        .await
        .unwrap();
    let (status, body) = bao.api("GET", None, "secret/data/soft", None).await;
    assert_eq!(status, 404);
    assert!(
        body["data"]["metadata"]["deletion_time"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(get(&store, "soft").await, None, "404 with a body = None");
    // Soft delete removed only the latest version.
    let v1 = store
        .read(&name("soft"), &ReadOptions::new().version("1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v1.value.expose_str().unwrap(), "a");
    assert_eq!(
        store.list(Some("soft")).await.unwrap(),
        vec![name("soft")],
        "metadata remains"
    );

    // Force: all versions and metadata.
    store
        .delete(&name("soft"), &DeleteOptions::new().force(true))
        .await
        .unwrap();
    assert!(
        store
            .read(&name("soft"), &ReadOptions::new().version("1"))
            .await
            .unwrap()
            .is_none()
    );
    let (status, body) = bao.api("GET", None, "secret/metadata/soft", None).await;
    assert_eq!(status, 404, "{body}");
    assert!(store.list(Some("soft")).await.unwrap().is_empty());

    // Deleting what is not there succeeds, both ways.
    store
        .delete(&name("not/there"), &DeleteOptions::new())
        .await
        .unwrap();
    store
        .delete(&name("not/there"), &DeleteOptions::new().force(true))
        .await
        .unwrap();

    // A mount that does not exist is an error, not a missing secret.
    let wrong = token_builder(&bao)
        .with_mount("no-such-mount")
        .build()
        .unwrap();
    let err = wrong
        .read(&name("x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
    assert!(err.hint().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_set() {
    let bao = OpenBao::start().await;
    let store = token_store(&bao);
    let n = name("cas/item");
    let out = store
        .write(&n, "first".into(), &WriteOptions::new().cas(0))
        .await
        .unwrap();
    assert_eq!(out.version.as_deref(), Some("1"));
    let err = store
        .write(&n, "again".into(), &WriteOptions::new().cas(0))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Conflict, "{err}");
    assert!(!err.is_temporary());
    assert!(!err.to_string().contains("again"));
    let err = store
        .write(&n, "stale".into(), &WriteOptions::new().cas(7))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Conflict, "{err}");
    let out = store
        .write(&n, "second".into(), &WriteOptions::new().cas(1))
        .await
        .unwrap();
    assert_eq!(out.version.as_deref(), Some("2"));
    assert_eq!(get(&store, "cas/item").await.as_deref(), Some("second"));
    assert!(store.capabilities().cas && store.capabilities().versions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_is_403_and_static_tokens_are_not_replaced() {
    let bao = OpenBao::start().await;
    let root = token_store(&bao);
    put(&root, "private/x", "p").await;
    bao.write_policy(
        None,
        "only-public",
        "path \"secret/data/public/*\" { capabilities = [\"read\", \"create\", \"update\"] }",
    )
    .await;
    let limited_token = bao.create_token(None, &["only-public"], None).await;
    let limited = token_builder(&bao)
        .with_token(limited_token.as_str())
        .build()
        .unwrap();
    put(&limited, "public/y", "q").await;
    let err = limited
        .read(&name("private/x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Forbidden, "{err}");
    assert!(!err.to_string().contains(&limited_token));
    assert!(!format!("{err:?}").contains(&limited_token));
    assert!(!format!("{limited:?}").contains(&limited_token));
    let err = limited
        .delete(&name("private/x"), &DeleteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Forbidden);
    let err = limited.list(None).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Forbidden);

    let bogus = token_builder(&bao)
        .with_token("s.not-a-real-token")
        .build()
        .unwrap();
    let err = bogus
        .read(&name("public/y"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Forbidden, "{err}");
    assert_eq!(
        bogus.token_refreshes().await,
        0,
        "static tokens are never replaced"
    );
}

/// Tokens the server holds (each log-in adds one; revoking removes them).
async fn live_tokens(bao: &OpenBao) -> usize {
    let (status, body) = bao.api("LIST", None, "auth/token/accessors", None).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["keys"].as_array().expect("keys").len()
}

fn approle_store(
    bao: &OpenBao,
    role_id: String,
    secret_id: String,
    clock: &Arc<ManualClock>,
) -> HcpVaultStore {
    HcpVaultBuilder::new()
        .with_addr(bao.url())
        .with_approle(role_id, secret_id)
        .with_approle_mount("approle")
        .with_clock(clock.clone())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approle_tokens_are_renewed_at_two_thirds_and_replaced_when_renewal_fails() {
    let bao = OpenBao::start().await;
    bao.write_policy(None, "kv", &OpenBao::kv_policy("secret"))
        .await;
    let (role_id, secret_id) = bao.approle(None, "renew", &["kv"], "1h", "4h").await;
    let clock = Arc::new(ManualClock::new());
    let store = approle_store(&bao, role_id, secret_id, &clock);
    let minutes = |m: u64| Duration::from_secs(60 * m);

    put(&store, "renew/x", "v").await;
    let tokens = live_tokens(&bao).await;
    assert_eq!(
        (store.token_refreshes().await, store.token_renewals()),
        (1, 0)
    );

    // Before two thirds of the lease: the cached token is used as it is.
    clock.advance(minutes(39));
    assert_eq!(get(&store, "renew/x").await.as_deref(), Some("v"));
    assert_eq!(
        (store.token_refreshes().await, store.token_renewals()),
        (1, 0)
    );

    // Past two thirds (40 min): renew-self, no new token on the server.
    clock.advance(minutes(2));
    assert_eq!(get(&store, "renew/x").await.as_deref(), Some("v"));
    assert_eq!(
        (store.token_refreshes().await, store.token_renewals()),
        (2, 1)
    );
    assert_eq!(live_tokens(&bao).await, tokens, "renewed, not replaced");

    // Past two thirds of the renewed lease, but the server revoked the token: renewal fails,
    // one new log-in.
    bao.revoke_prefix(None, "auth/approle/login").await;
    clock.advance(minutes(41));
    assert_eq!(get(&store, "renew/x").await.as_deref(), Some("v"));
    assert_eq!(
        (store.token_refreshes().await, store.token_renewals()),
        (3, 1)
    );
    assert_eq!(
        live_tokens(&bao).await,
        tokens,
        "one new token for the revoked one"
    );

    // Past the whole lease by the store's clock: not renewed (it may be dead), a new log-in.
    clock.advance(minutes(61));
    assert_eq!(get(&store, "renew/x").await.as_deref(), Some("v"));
    assert_eq!(
        (store.token_refreshes().await, store.token_renewals()),
        (4, 1)
    );
    assert_eq!(live_tokens(&bao).await, tokens + 1);

    // A wrong secret id is Unauthorized at log-in.
    let bad = HcpVaultBuilder::new()
        .with_addr(bao.url())
        .with_approle("nope", "wrong-secret-id")
        .build()
        .unwrap();
    let err = bad
        .read(&name("renew/x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    assert_eq!(err.operation(), Some(Operation::Auth));
    assert!(!err.to_string().contains("wrong-secret-id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_to_a_log_in_token_means_one_new_log_in_and_one_retry() {
    let bao = OpenBao::start().await;
    bao.write_policy(None, "kv", &OpenBao::kv_policy("secret"))
        .await;
    let (role_id, secret_id) = bao.approle(None, "expiring", &["kv"], "1h", "1h").await;
    // A frozen clock: the store never refreshes on its own, so the server's 403 is the only
    // reason to log in again.
    let clock = Arc::new(ManualClock::new());
    let store = approle_store(&bao, role_id, secret_id, &clock);
    put(&store, "exp/x", "v").await;
    assert_eq!(store.token_refreshes().await, 1);
    let tokens = live_tokens(&bao).await;

    // Revoked behind the store's back: 403, one new log-in, the call is retried and succeeds.
    bao.revoke_prefix(None, "auth/approle/login").await;
    assert_eq!(live_tokens(&bao).await, tokens - 1);
    assert_eq!(get(&store, "exp/x").await.as_deref(), Some("v"));
    assert_eq!(store.token_refreshes().await, 2, "exactly one new log-in");
    assert_eq!(live_tokens(&bao).await, tokens, "exactly one new token");
    assert_eq!(store.token_renewals(), 0);

    // A 403 a new token cannot cure (the policy has nothing on this mount): one new log-in,
    // one retry, then Forbidden.
    bao.mount_kv2(None, "other").await;
    let (role_id, secret_id) = bao.approle(None, "expiring", &["kv"], "1h", "1h").await;
    let denied = HcpVaultBuilder::new()
        .with_addr(bao.url())
        .with_mount("other")
        .with_approle(role_id, secret_id)
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let tokens = live_tokens(&bao).await;
    let err = denied
        .read(&name("exp/x"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Forbidden, "{err}");
    assert_eq!(
        live_tokens(&bao).await,
        tokens + 2,
        "two log-ins on the server"
    );
    assert_eq!(
        denied.token_refreshes().await,
        2,
        "one log-in, one new log-in, no loop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_auth_over_tls() {
    let bao = OpenBao::start_tls().await;
    bao.write_policy(None, "kv", &OpenBao::kv_policy("secret"))
        .await;
    let client_ca = TestCa::new();
    bao.cert_role("web", &client_ca.ca_pem, &["kv"], "1h").await;
    let (cert, key) = client_ca.client_cert("app.example");
    let dir = bao.dir().to_path_buf();
    std::fs::write(dir.join("client.pem"), &cert).unwrap();
    std::fs::write(dir.join("client.key"), &key).unwrap();

    // From the environment, the way an operator configures it.
    let env = [
        ("HCP_VAULT_ADDR", bao.url()),
        (
            "VAULT_CACERT",
            bao.ca_pem_path().unwrap().display().to_string(),
        ),
        (
            "HCP_VAULT_CLIENT_CERT",
            dir.join("client.pem").display().to_string(),
        ),
        (
            "HCP_VAULT_CLIENT_KEY",
            dir.join("client.key").display().to_string(),
        ),
        ("HCP_VAULT_CERT_ROLE", "web".to_owned()),
        ("HCP_VAULT_TOKEN", "s.lower-priority-than-cert".to_owned()),
    ];
    let store = HcpVaultConfig::from_lookup(|k| {
        env.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap()
    .build()
    .unwrap();
    assert_eq!(store.auth_method(), "cert");
    put(&store, "tls/secret", "over-mtls").await;
    assert_eq!(
        get(&store, "tls/secret").await.as_deref(),
        Some("over-mtls")
    );
    assert_eq!(store.token_refreshes().await, 1);

    // A certificate from another CA is refused at log-in.
    let (other_cert, other_key) = TestCa::new().client_cert("intruder");
    let intruder = HcpVaultBuilder::new()
        .with_addr(bao.url())
        .with_ca_file(bao.ca_pem_path().unwrap())
        .with_client_cert_pem(other_cert, other_key)
        .with_retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = intruder
        .read(&name("tls/secret"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");

    // Without the server's CA the TLS handshake fails.
    let untrusting = token_builder(&bao)
        .with_retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = untrusting
        .read(&name("tls/secret"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_is_unavailable_then_recovers_without_a_new_client() {
    let bao = OpenBao::start().await;
    let store = token_builder(&bao)
        .with_retry_policy(
            RetryPolicy::default()
                .max_retries(1)
                .initial_backoff(Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    put(&store, "restart/a", "before").await;
    assert_eq!(get(&store, "restart/a").await.as_deref(), Some("before"));

    bao.stop();
    let err = store
        .read(&name("restart/a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
    assert!(
        err.to_string().contains(&bao.url()),
        "the error names the address: {err}"
    );
    let err = store
        .write(&name("restart/a"), "x".into(), &WriteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");

    bao.start_again().await;
    // Dev mode starts empty: the old secret is gone, the same client works again.
    assert_eq!(get(&store, "restart/a").await, None);
    put(&store, "restart/a", "after").await;
    assert_eq!(get(&store, "restart/a").await.as_deref(), Some("after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_is_recursive_and_names_only() {
    let bao = OpenBao::start().await;
    let store = token_builder(&bao).with_path_prefix("app").build().unwrap();
    for n in [
        "l/a",
        "l/b/c",
        "l/b/d/e",
        "l/item-1",
        "l/item-2",
        "other/z",
        "l with space/ü",
    ] {
        put(&store, n, "v").await;
    }
    let all = store.list(None).await.unwrap();
    assert_eq!(all.len(), 7, "{all:?}");
    assert_eq!(
        store.list(Some("l/")).await.unwrap(),
        ["l/a", "l/b/c", "l/b/d/e", "l/item-1", "l/item-2"]
            .map(name)
            .to_vec()
    );
    assert_eq!(
        store.list(Some("l/item")).await.unwrap(),
        ["l/item-1", "l/item-2"].map(name).to_vec()
    );
    assert_eq!(
        store.list(Some("l/b")).await.unwrap(),
        ["l/b/c", "l/b/d/e"].map(name).to_vec()
    );
    assert_eq!(
        store.list(Some("l with")).await.unwrap(),
        vec![name("l with space/ü")]
    );
    assert!(store.list(Some("nothing/")).await.unwrap().is_empty());
    // Names are relative to the path prefix.
    let (status, _) = bao.api("GET", None, "secret/data/app/l/b/d/e", None).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_stays_within_max_pages_and_max_list_items() {
    let bao = OpenBao::start().await;
    let store = token_store(&bao);
    // Six folders deep: the walk from `d1/` needs six LIST calls (d1/ … d1/…/d6/).
    put(&store, "d1/d2/d3/d4/d5/d6/leaf", "v").await;
    for i in 0..5 {
        put(&store, &format!("flat/n{i}"), "v").await;
    }
    let bounded = |configure: fn(&mut HttpConfig)| {
        let mut http = HttpConfig::default();
        configure(&mut http);
        token_builder(&bao).with_http(http).build().unwrap()
    };
    let six = bounded(|h| h.max_pages = 6);
    assert_eq!(
        six.list(Some("d1/")).await.unwrap(),
        vec![name("d1/d2/d3/d4/d5/d6/leaf")]
    );
    let err = bounded(|h| h.max_pages = 5)
        .list(Some("d1/"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
    assert_eq!(err.operation(), Some(Operation::List));
    assert_eq!(
        bounded(|h| h.max_list_items = 5)
            .list(Some("flat/"))
            .await
            .unwrap()
            .len(),
        5
    );
    let err = bounded(|h| h.max_list_items = 4)
        .list(Some("flat/"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LimitExceeded, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_vault_refuses_are_invalid_before_any_call() {
    // Nothing listens on this port: any request would be Unavailable.
    let store = HcpVaultBuilder::new()
        .with_addr(format!(
            "http://127.0.0.1:{}",
            strongroom_testkit::servers::free_port()
        ))
        .with_token("t")
        .with_retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = store
        .read(&name("ends/with."), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidName, "{err}");
    let err = store
        .write(&name("dot."), "v".into(), &WriteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidName, "{err}");
    let err = store
        .read(&name("fine"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_token_or_credential_reaches_the_logs() {
    logs::install();
    let bao = OpenBao::start().await;
    bao.write_policy(None, "kv", &OpenBao::kv_policy("secret"))
        .await;
    let (role_id, secret_id) = bao.approle(None, "leak", &["kv"], "1h", "4h").await;
    let clock = Arc::new(ManualClock::new());
    let store = approle_store(&bao, role_id, secret_id.clone(), &clock);
    let value = sentinel("vault-value");
    put(&store, "leak/check", &value).await;
    assert_eq!(
        get(&store, "leak/check").await.as_deref(),
        Some(value.as_str())
    );
    // Past the renewal point: renew-self runs (and is logged about).
    clock.advance(Duration::from_secs(41 * 60));
    assert_eq!(
        get(&store, "leak/check").await.as_deref(),
        Some(value.as_str())
    );
    assert_eq!(store.token_renewals(), 1);
    // The value is not JSON, so asking for a field of it fails: the error must not show it.
    let err = store
        .read(&name("leak/check"), &ReadOptions::new().field("x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Protocol, "{err}");
    assert!(!format!("{err} {err:?}").contains(&value));
    // Log-in tokens are unknown to the test: look for anything shaped like an OpenBao
    // service token (`s.` + 24 alphanumerics) in the captured logs.
    let captured = logs::captured();
    assert!(
        looks_like_token_in("x s.m6t58USt4ykixC6taujbgzri y"),
        "the scan works"
    );
    assert!(
        !looks_like_token_in(&captured),
        "a Vault token reached the logs"
    );
    let needles = vec![value.as_str(), secret_id.as_str(), bao.root_token()];
    logs::assert_absent(&needles);
    let debug = format!("{store:?}");
    for n in &needles {
        assert!(!debug.contains(n));
    }
}

fn looks_like_token_in(text: &str) -> bool {
    text.match_indices("s.").any(|(i, _)| {
        let rest = &text.as_bytes()[i + 2..];
        rest.len() >= 24
            && rest[..24].iter().all(u8::is_ascii_alphanumeric)
            && rest.get(24).is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}
