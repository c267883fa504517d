//! Policy branches: names are full variable ids everywhere; a write declares the variable in
//! the configured branch as the id relative to it (`protocols.md` §1.5).

mod common;

use common::{builder, count, fake, name};
use strongroom_core::{DeleteOptions, ErrorKind, ReadOptions, SecretStore, WriteOptions};

#[tokio::test]
async fn a_write_under_a_branch_lands_on_the_variable_it_names() {
    let fake = fake().await;
    fake.declare_policy("app");
    let store = builder(&fake).with_policy_branch("app").build().unwrap();
    store
        .write(&name("app/x/y"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(fake.variables(), ["app/x/y"]);
    assert_eq!(fake.variable_policy("app/x/y").as_deref(), Some("app"));
    assert_eq!(fake.value("app/x/y").as_deref(), Some(&b"v1"[..]));
    let got = store
        .read(&name("app/x/y"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.value.expose_str().unwrap(), "v1");
}

#[tokio::test]
async fn a_name_outside_the_branch_is_refused_before_any_request() {
    let fake = fake().await;
    fake.declare_policy("app");
    // The case: a root variable `shared/x` exists.
    fake.set_value("shared/x", b"root value");
    let store = builder(&fake).with_policy_branch("app").build().unwrap();
    for outside in ["shared/x", "x/y", "app", "application/x", "root/x"] {
        let err = store
            .write(&name(outside), "new".into(), &WriteOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidName, "{outside}: {err}");
        assert_eq!(err.name(), Some(outside));
        let text = err.to_string();
        assert!(
            text.contains("outside the policy branch `app`") && text.contains("app/"),
            "the error says why: {text}"
        );
        assert!(err.hint().unwrap().contains("policy_branch"));
    }
    assert_eq!(fake.faults().requests(), 0, "nothing was sent");
    assert_eq!(fake.value("shared/x").as_deref(), Some(&b"root value"[..]));
    assert_eq!(
        fake.variables(),
        ["shared/x"],
        "no app/shared/x was created"
    );
    // Under the root branch the same name is an ordinary write of the root variable.
    let root = builder(&fake).build().unwrap();
    root.write(&name("shared/x"), "new".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(fake.value("shared/x").as_deref(), Some(&b"new"[..]));
    assert_eq!(fake.variables(), ["shared/x"]);
}

#[tokio::test]
async fn the_declared_id_is_relative_to_the_branch_and_the_rest_stays_absolute() {
    let fake = fake().await;
    fake.declare_policy("apps");
    fake.declare_policy("apps/litellm");
    fake.set_value("shared/x", b"s");
    let store = builder(&fake)
        .with_policy_branch("/apps/litellm/")
        .build()
        .unwrap();
    store
        .write(
            &name("apps/litellm/keys/k1"),
            "v".into(),
            &WriteOptions::new(),
        )
        .await
        .unwrap();
    let records = fake.policy_records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].branch, "apps/litellm");
    assert_eq!(
        records[0].id.as_deref(),
        Some("keys/k1"),
        "declared relative"
    );
    assert_eq!(records[0].resolved.as_deref(), Some("apps/litellm/keys/k1"));
    assert_eq!(
        count(&fake, "POST", "/policies/default/policy/apps%2Flitellm"),
        1
    );
    assert_eq!(
        count(
            &fake,
            "POST",
            "/secrets/default/variable/apps%2Flitellm%2Fkeys%2Fk1"
        ),
        1
    );
    // Reads, batches and lists take full ids, inside the branch or not.
    let got = store
        .read(&name("shared/x"), &ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(got.unwrap().value.expose_str().unwrap(), "s");
    fake.clear_requests();
    let both = store
        .read_many(
            &[name("apps/litellm/keys/k1"), name("shared/x")],
            &ReadOptions::new(),
        )
        .await
        .unwrap();
    assert!(both.iter().all(|(_, s)| s.is_some()));
    assert_eq!(count(&fake, "GET", "/secrets?"), 1, "one batch");
    assert_eq!(
        store.list(Some("apps/")).await.unwrap(),
        [name("apps/litellm/keys/k1")]
    );
    assert_eq!(store.list(None).await.unwrap().len(), 2);
    // The delete hint names the branch and the relative id.
    let err = store
        .delete(&name("apps/litellm/keys/k1"), &DeleteOptions::new())
        .await
        .unwrap_err();
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("/policy/apps/litellm") && hint.contains("!variable \"keys/k1\""),
        "{hint}"
    );
}

#[tokio::test]
async fn a_branch_that_does_not_exist_is_reported_as_such() {
    let fake = fake().await;
    let store = builder(&fake).with_policy_branch("nope").build().unwrap();
    let err = store
        .write(&name("nope/x"), "v".into(), &WriteOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NotFound, "{err}");
    assert!(
        err.hint().unwrap().contains("`nope` does not exist"),
        "{err:?}"
    );
    assert_eq!(count(&fake, "POST", "/secrets/"), 0, "no value was sent");
}
