//! Hostile names can never produce a second policy record.
//!
//! Three layers are shown separately: names the core refuses, names the Conjur write allowlist
//! refuses (both before any request), and — bypassing the allowlist — the emitted policy text
//! for every hostile string, loaded into the fake's real YAML parser, which sees exactly one
//! `!variable` record whose id is the string itself.

mod common;

use base64::Engine;
use common::{fake, name, store};
use strongroom_conjur::ConjurStore;
use strongroom_conjur::policy;
use strongroom_core::{ErrorKind, ReadOptions, SecretName, SecretStore, WriteOptions};

const HOSTILE: &[&str] = &[
    "x\n- !permit\n  role: !user bob\n  privileges: [read, execute]\n  resource: !variable x",
    "x\r\n- !grant {role: !group admins, member: !user bob}",
    "!tags",
    "x !user bob",
    "*alias",
    "&anchor x",
    "&a x\n- *a",
    "/absolute/var",
    "$namespace/x",
    "ns/$namespace",
    "x\u{85}- !permit {}",
    "x\u{2028}- !permit {}",
    "x\u{2029}- !deny {}",
    "x\" \n- !delete {record: !variable y}",
    "{flow: map}",
    "[flow, seq]",
    "x: y",
    "x #comment",
    "a/../b",
    "a..b",
    "with space",
    "ключ",
    "a:b",
    "'quoted'",
    "\"dq\"",
    "a\\b",
    "- !variable y",
    "%YAML 1.2",
];

#[tokio::test]
async fn hostile_names_never_reach_the_server() {
    let fake = fake().await;
    let store = store(&fake);
    let mut refused_by_core = 0;
    for h in HOSTILE {
        match SecretName::new(h) {
            Err(e) => {
                assert_eq!(e.kind(), &ErrorKind::InvalidName, "{h:?}");
                refused_by_core += 1;
            }
            Ok(n) => {
                let err = store
                    .write(&n, "v".into(), &WriteOptions::new())
                    .await
                    .expect_err("a hostile name must be refused");
                assert_eq!(err.kind(), &ErrorKind::InvalidName, "{h:?}: {err}");
                assert!(!err.to_string().contains('\n'));
                assert!(ConjurStore::check_writable_name(&n).is_err());
            }
        }
    }
    assert!(
        refused_by_core >= 5,
        "control characters and leading `/` stop at the core"
    );
    assert_eq!(
        fake.requests().len(),
        0,
        "nothing was sent for any hostile name"
    );
    assert!(fake.policy_records().is_empty());
}

#[tokio::test]
async fn even_without_the_allowlist_the_policy_text_is_one_record() {
    let fake = fake().await;
    // A token, to talk to the fake directly.
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
    let header = format!(
        "Token token=\"{}\"",
        base64::engine::general_purpose::STANDARD.encode(&token)
    );
    for h in HOSTILE {
        let doc = policy::variable_record(h).unwrap();
        let before = fake.policy_records().len();
        let r = http
            .post(format!("{}/policies/default/policy/root", fake.url()))
            .header("Authorization", &header)
            .header("Content-Type", "application/x-yaml")
            .body(doc.clone())
            .send()
            .await
            .unwrap();
        let records = fake.policy_records();
        let new = &records[before..];
        assert_eq!(new.len(), 1, "{h:?} -> {doc:?} gave {new:?}");
        assert_eq!(new[0].tag, "variable");
        assert_eq!(
            new[0].id.as_deref(),
            Some(*h),
            "the id is the whole string, verbatim"
        );
        // The fake still refuses what Conjur would (e.g. an empty id); but never a 2nd record.
        assert!(
            r.status() == 201 || r.status() == 422,
            "{h:?}: {}",
            r.status()
        );
    }
    // The same fake does see a second record when policy text is built by string formatting.
    let naive = format!("- !variable {}\n", HOSTILE[0]);
    let before = fake.policy_records().len();
    let r = http
        .post(format!("{}/policies/default/policy/root", fake.url()))
        .header("Authorization", &header)
        .body(naive)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "non-variable records are policy_invalid");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "policy_invalid");
    let new = &fake.policy_records()[before..];
    assert_eq!(new.len(), 2, "the fake's parser is not fooled: {new:?}");
    assert_eq!(new[1].tag, "permit");
}

#[tokio::test]
async fn names_refused_for_writes_can_still_be_read() {
    let fake = fake().await;
    fake.set_value("legacy/db password", b"pw");
    fake.set_value("ünïcødé/ключ", b"u");
    let store = store(&fake);
    let got = store
        .read(&name("legacy/db password"), &ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(got.unwrap().value.expose_str().unwrap(), "pw");
    let got = store
        .read(&name("ünïcødé/ключ"), &ReadOptions::new())
        .await
        .unwrap();
    assert_eq!(got.unwrap().value.expose_str().unwrap(), "u");
    let got = store
        .read_many(
            &[name("legacy/db password"), name("ünïcødé/ключ")],
            &ReadOptions::new(),
        )
        .await
        .unwrap();
    assert!(got.iter().all(|(_, s)| s.is_some()));
}
