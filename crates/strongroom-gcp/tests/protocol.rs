//! The store against the fake: versions and aliases, disabled versions, CRC32C, writes that
//! create secrets with replication and metadata, names, throttling, paging, log-ins.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{builder, count, name, store};
use strongroom_core::{
    DeleteOptions, ErrorKind, ManualClock, Operation, ReadOptions, SecretStore, WriteOptions,
};
use strongroom_gcp::Replication;
use strongroom_testkit::fakes::gcp::FakeGcp;

#[tokio::test]
async fn reads_latest_a_version_or_an_alias_and_say_what_a_disabled_version_is() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = store(&fake, &dir);
    fake.seed("litellm--db", b"one");
    fake.seed("litellm--db", b"two");
    fake.set_alias("litellm--db", "stable", 1);
    let got = s
        .read(&name("litellm/db"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.value.expose_secret(), got.version.as_deref()),
        (&b"two"[..], Some("2"))
    );
    for v in ["1", "stable"] {
        let got = s
            .read(&name("litellm/db"), &ReadOptions::new().version(v))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.value.expose_secret(), b"one", "{v}");
    }
    assert!(
        s.read(&name("litellm/db"), &ReadOptions::new().version("9"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.read(&name("missing"), &ReadOptions::new())
            .await
            .unwrap()
            .is_none()
    );
    fake.set_version_state("litellm--db", 2, "DISABLED");
    let err = s
        .read(&name("litellm/db"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Conflict, "{err}");
    assert!(
        err.to_string().contains("FAILED_PRECONDITION") && err.to_string().contains("DISABLED"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("not ENABLED"));
    assert_eq!(
        (err.operation(), err.name()),
        (Some(Operation::Read), Some("litellm/db"))
    );
    fake.set_version_state("litellm--db", 2, "DESTROYED");
    let err = s
        .read(&name("litellm/db"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("DESTROYED"), "{err}");
}

#[tokio::test]
async fn a_corrupted_checksum_returns_no_value() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = store(&fake, &dir);
    fake.seed("k", b"sr-corrupt-me");
    fake.corrupt_checksums(true);
    let err = s.read(&name("k"), &ReadOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Protocol);
    assert!(err.to_string().contains("CRC32C"), "{err}");
    assert!(!format!("{err} {err:?}").contains("sr-corrupt-me"));
    fake.corrupt_checksums(false);
    assert!(
        s.read(&name("k"), &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn writes_create_with_replication_and_metadata_then_add_versions() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = builder(&fake, &dir)
        .with_replication(Replication::UserManaged(vec![
            "us-east1".into(),
            "europe-west4".into(),
        ]))
        .build()
        .unwrap();
    let opts = WriteOptions::new()
        .description("Main DB")
        .tag("team", "ml")
        .tag("Owner", "Alice");
    let out = s
        .write(&name("app/db_pw"), "v1".into(), &opts)
        .await
        .unwrap();
    assert_eq!(out.version.as_deref(), Some("1"));
    // addVersion (404), create, addVersion.
    assert_eq!(count(&fake, "POST", ":addVersion"), 2);
    assert_eq!(
        fake.replication("app--db_pw").unwrap()["userManaged"]["replicas"][1]["location"],
        "europe-west4"
    );
    let (labels, annotations) = fake.metadata("app--db_pw").unwrap();
    assert_eq!(labels, serde_json::json!({"team": "ml"}));
    assert_eq!(
        annotations,
        serde_json::json!({"Owner": "Alice", "description": "Main DB"})
    );
    let out = s
        .write(
            &name("app/db_pw"),
            vec![0u8, 255, 7].into(),
            &WriteOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(out.version.as_deref(), Some("2"));
    assert_eq!(
        count(&fake, "POST", ":addVersion"),
        3,
        "an existing secret takes one call"
    );
    assert_eq!(fake.value("app--db_pw").unwrap(), [0u8, 255, 7]);
    // Automatic replication by default.
    let s = store(&fake, &dir);
    s.write(&name("auto"), "x".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(
        fake.replication("auto").unwrap(),
        serde_json::json!({"automatic": {}})
    );
}

#[tokio::test]
async fn what_cannot_be_stored_is_refused_before_any_request() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = store(&fake, &dir);
    for bad in ["a.b", "a--b", "with space"] {
        let err = s.read(&name(bad), &ReadOptions::new()).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidName, "{bad}");
        let err = s
            .write(&name(bad), "v".into(), &WriteOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidName, "{bad}");
    }
    let big = vec![b'a'; 64 * 1024 + 1];
    let err = s
        .write(&name("big"), big.into(), &WriteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    let err = s
        .write(
            &name("t"),
            "v".into(),
            &WriteOptions::new().tag("bad key", "x"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    let err = s
        .read(&name("t"), &ReadOptions::new().version("../x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported);
    assert!(
        fake.requests().is_empty(),
        "nothing was sent: {:?}",
        fake.requests()
    );
    assert!(fake.grants().is_empty(), "not even a log-in");
}

#[tokio::test]
async fn lists_page_and_filter_by_prefix() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = builder(&fake, &dir).with_list_page_size(3).build().unwrap();
    for i in 0..7 {
        fake.seed(&format!("litellm--k{i}"), b"v");
    }
    fake.seed("other", b"v");
    fake.seed("a---b", b"v"); // no Strongroom name
    let names = s.list(Some("litellm/")).await.unwrap();
    assert_eq!(names.len(), 7);
    assert!(names.iter().all(|n| n.as_str().starts_with("litellm/k")));
    let lists: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/secrets"))
        .collect();
    assert_eq!(lists.len(), 3, "7 names, pages of 3");
    assert!(
        lists
            .iter()
            .all(|r| r.query.contains("filter=name%3Alitellm")),
        "{lists:?}"
    );
    let all = s.list(None).await.unwrap();
    assert_eq!(all.len(), 8);
    s.delete(&name("other"), &DeleteOptions::new())
        .await
        .unwrap();
    s.delete(&name("other"), &DeleteOptions::new())
        .await
        .unwrap();
    assert_eq!(s.list(None).await.unwrap().len(), 7);
}

#[tokio::test]
async fn throttling_is_waited_out_with_retry_after_on_reads_only() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = store(&fake, &dir);
    fake.seed("k", b"v");
    fake.throttle_next(1, 0);
    assert!(
        s.read(&name("k"), &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(count(&fake, "GET", ":access"), 2, "one 429, one retry");
    // A write is not idempotent: the 429 goes back to the caller with its Retry-After.
    fake.throttle_next(1, 7);
    let err = s
        .write(&name("k"), "v2".into(), &WriteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert!(err.to_string().contains("RESOURCE_EXHAUSTED"), "{err}");
}

#[tokio::test]
async fn read_many_reads_each_name_once() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = builder(&fake, &dir)
        .with_read_concurrency(2)
        .build()
        .unwrap();
    for i in 0..5 {
        fake.seed(&format!("m{i}"), format!("v{i}").as_bytes());
    }
    let names: Vec<_> = ["m0", "m1", "m0", "m4", "nope", "m3"]
        .iter()
        .map(|n| name(n))
        .collect();
    let got = s.read_many(&names, &ReadOptions::new()).await.unwrap();
    assert_eq!(got.len(), 5);
    assert!(got[3].1.is_none());
    assert_eq!(got[2].1.as_ref().unwrap().value.expose_secret(), b"v4");
    assert_eq!(count(&fake, "GET", ":access"), 5);
}

#[tokio::test]
async fn a_refused_token_means_one_new_token_and_one_retry() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = store(&fake, &dir);
    fake.seed("k", b"v");
    s.read(&name("k"), &ReadOptions::new()).await.unwrap();
    assert_eq!(fake.revoke_tokens(), 1);
    s.read(&name("k"), &ReadOptions::new()).await.unwrap();
    assert_eq!(fake.grants(), ["jwt-bearer", "jwt-bearer"]);
    assert_eq!(count(&fake, "GET", ":access"), 3);
    // A token refused twice goes back as Unauthorized, no loop.
    let s = builder(&fake, &dir)
        .with_access_token("ya29.not-issued")
        .with_project_id(fake.project())
        .build()
        .unwrap();
    let err = s.read(&name("k"), &ReadOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    assert_eq!(count(&fake, "GET", ":access"), 5);
}

#[tokio::test]
async fn tokens_are_reused_and_renewed_ahead_of_expiry() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new());
    let s = builder(&fake, &dir)
        .with_clock(clock.clone())
        .build()
        .unwrap();
    fake.seed("k", b"v");
    for _ in 0..3 {
        s.read(&name("k"), &ReadOptions::new()).await.unwrap();
    }
    assert_eq!(s.logins().await, 1);
    // 3600 s tokens are renewed 225 s before they expire.
    clock.advance(Duration::from_secs(3600 - 226));
    s.read(&name("k"), &ReadOptions::new()).await.unwrap();
    assert_eq!(s.logins().await, 1);
    clock.advance(Duration::from_secs(2));
    s.read(&name("k"), &ReadOptions::new()).await.unwrap();
    assert_eq!(s.logins().await, 2);
}
