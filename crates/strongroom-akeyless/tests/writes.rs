//! Writes carry their metadata natively (or say they cannot), and deletes refused by delete
//! protection say so.

mod common;

use std::time::Duration;

use common::{name, store};
use serde_json::json;
use strongroom_core::{DeleteOptions, ErrorKind, SecretStore, WriteOptions};
use strongroom_testkit::fake::Fault;
use strongroom_testkit::fakes::akeyless::FakeAkeyless;

#[tokio::test]
async fn description_and_tags_are_stored_on_create_and_on_update() {
    let fake = FakeAkeyless::start().await;
    let store = store(&fake);
    let n = name("app/db");
    let first = WriteOptions::new()
        .description("db password")
        .tag("env", "prod")
        .tag("team", "core")
        .tag("pii", "");
    store.write(&n, "v1".into(), &first).await.unwrap();
    assert_eq!(fake.description("/app/db").as_deref(), Some("db password"));
    assert_eq!(fake.tags("/app/db"), ["env=prod", "pii", "team=core"]);
    assert_eq!(fake.calls("create-secret"), 1);
    assert_eq!(fake.calls("update-item"), 0, "create-secret carries both");

    // The item exists: update-secret-val carries only the value; update-item the rest, with
    // the old value of a re-valued tag removed and the other tags kept.
    let second = WriteOptions::new().description("rotated").tag("env", "dev");
    store.write(&n, "v2".into(), &second).await.unwrap();
    assert_eq!(fake.value("/app/db").as_deref(), Some("v2"));
    assert_eq!(fake.description("/app/db").as_deref(), Some("rotated"));
    assert_eq!(fake.tags("/app/db"), ["pii", "team=core", "env=dev"]);
    assert_eq!(fake.calls("update-secret-val"), 1);
    assert_eq!(fake.calls("update-item"), 1);
    let sent = &fake.requests("update-item")[0];
    assert_eq!(sent["name"], "/app/db");
    assert_eq!(sent["description"], "rotated");
    assert_eq!(sent["add-tag"], json!(["env=dev"]));
    assert_eq!(sent["rm-tag"], json!(["env=prod"]));

    // No metadata asked: no metadata call.
    store
        .write(&n, "v3".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(fake.calls("update-item"), 1);
    assert_eq!(fake.calls("describe-item"), 1);
    assert_eq!(fake.description("/app/db").as_deref(), Some("rotated"));
}

#[tokio::test]
async fn what_akeyless_cannot_store_is_refused_before_any_request() {
    let fake = FakeAkeyless::start().await;
    let store = store(&fake);
    let before = fake.faults().requests();
    let err = store
        .write(
            &name("x"),
            "v".into(),
            &WriteOptions::new().content_type("application/json"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("content type"), "{err}");
    for bad in ["a=b", ""] {
        let err = store
            .write(&name("x"), "v".into(), &WriteOptions::new().tag(bad, "v"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unsupported, "{err}");
        assert!(err.hint().unwrap().contains("key=value"));
    }
    assert_eq!(fake.faults().requests(), before, "nothing was sent");
    assert!(!fake.exists("/x"));
}

#[tokio::test]
async fn a_failed_metadata_update_says_the_value_was_stored() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/m", "old");
    let store = store(&fake);
    store
        .write(&name("warm"), "v".into(), &WriteOptions::new())
        .await
        .unwrap(); // logged in
    // create-secret (409), update-secret-val, describe-item go through; update-item is refused.
    fake.faults().push_n(Fault::Delay(Duration::ZERO), 3);
    fake.faults().push(Fault::Status(403));
    let err = store
        .write(
            &name("m"),
            "new".into(),
            &WriteOptions::new().tag("env", "prod"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Forbidden, "{err}");
    assert!(err.to_string().contains("new value was stored"), "{err}");
    assert_eq!(err.name(), Some("m"));
    assert_eq!(fake.value("/m").as_deref(), Some("new"));
}

#[tokio::test]
async fn delete_protection_is_reported_as_a_refusal_with_its_reason() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/keep", "v");
    fake.set_delete_protection("/keep", true);
    let store = store(&fake);
    let err = store
        .delete(&name("keep"), &DeleteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Conflict, "{err}");
    let text = err.to_string();
    assert!(text.contains("delete protection"), "{text}");
    assert!(!text.contains("malformed"), "{text}");
    // The server's own reason is quoted.
    assert!(text.contains("failed to delete item"), "{text}");
    assert!(
        err.hint().unwrap().contains("--delete_protection false"),
        "{:?}",
        err.hint()
    );
    assert_eq!(err.name(), Some("keep"));
    assert!(fake.exists("/keep"));
    assert_eq!(fake.calls("delete-item"), 1);
    assert_eq!(
        fake.calls("describe-item"),
        1,
        "one look at the item to say why"
    );

    // Protection off: the delete goes through.
    fake.set_delete_protection("/keep", false);
    store
        .delete(&name("keep"), &DeleteOptions::new())
        .await
        .unwrap();
    assert!(!fake.exists("/keep"));
}

#[tokio::test]
async fn another_400_on_delete_reports_the_servers_reason() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/d", "v");
    let store = store(&fake);
    store
        .write(&name("warm"), "v".into(), &WriteOptions::new())
        .await
        .unwrap();
    fake.faults().push(Fault::Status(400));
    let err = store
        .delete(&name("d"), &DeleteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Protocol, "{err}");
    let text = err.to_string();
    assert!(text.contains("injected fault 400"), "{text}");
    assert!(
        !text.contains("delete protection") && !text.contains("malformed"),
        "{text}"
    );
    assert!(fake.exists("/d"));
}
