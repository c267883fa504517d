//! Write metadata: `description`, `tags` and `content_type` become annotations on the variable
//! through the same injection-proof policy load; what Conjur cannot hold is refused, never
//! dropped.

mod common;

use std::collections::BTreeMap;

use base64::Engine;
use common::{count, fake, name, store};
use strongroom_core::{ErrorKind, ReadOptions, SecretStore, WriteOptions};
use strongroom_testkit::fakes::conjur::FakeConjur;

/// The resource view of a variable, fetched from the fake as any Conjur client would.
async fn resource(fake: &FakeConjur, id: &str) -> serde_json::Value {
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
    let url = format!(
        "{}/resources/default/variable/{}",
        fake.url(),
        id.replace('/', "%2F")
    );
    let r = http
        .get(url)
        .header("Authorization", header)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn annotations(resource: &serde_json::Value) -> BTreeMap<String, String> {
    resource["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn description_tags_and_content_type_are_read_back_as_annotations() {
    let fake = fake().await;
    let store = store(&fake);
    // Text that would break naive YAML: quotes, `: `, `#`, `*`, `&`, `!`, `{`, non-ASCII.
    let description = "LiteLLM key: \"prod\" #1 *alias &anchor !tag {x} — ünïcødé";
    let opts = WriteOptions::new()
        .description(description)
        .content_type("application/json")
        .tag("team", "ml-platform")
        .tag("owner.email", "ops@example.com");
    store
        .write(&name("meta/key"), "{\"k\":1}".into(), &opts)
        .await
        .unwrap();
    let view = resource(&fake, "meta/key").await;
    assert_eq!(
        annotations(&view),
        BTreeMap::from([
            (
                "conjur/mime_type".to_string(),
                "application/json".to_string()
            ),
            ("description".to_string(), description.to_string()),
            ("owner.email".to_string(), "ops@example.com".to_string()),
            ("team".to_string(), "ml-platform".to_string()),
        ])
    );
    assert_eq!(view["policy"], "default:policy:root");
    // One record, carrying exactly those annotations.
    let records = fake.policy_records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].tag, "variable");
    assert_eq!(records[0].annotations.len(), 4);
    // The content type comes back on reads (Conjur answers the mime_type annotation).
    let got = store
        .read(&name("meta/key"), &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    // Writing again with the same metadata works: load, check, value.
    fake.clear_requests();
    store
        .write(&name("meta/key"), "{\"k\":2}".into(), &opts)
        .await
        .unwrap();
    assert_eq!(count(&fake, "POST", "/policies/"), 1);
    assert_eq!(
        count(&fake, "GET", "/resources/default/variable/meta%2Fkey"),
        1
    );
    assert_eq!(count(&fake, "POST", "/secrets/"), 1);
    // Without metadata, no check is made.
    fake.clear_requests();
    store
        .write(&name("meta/plain"), "v".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(count(&fake, "GET", "/resources/"), 0);
}

#[tokio::test]
async fn a_changed_annotation_the_server_keeps_is_reported_and_the_value_not_written() {
    let fake = fake().await;
    let store = store(&fake);
    let n = name("meta/changed");
    store
        .write(&n, "v1".into(), &WriteOptions::new().description("first"))
        .await
        .unwrap();
    fake.clear_requests();
    // An add-only load keeps the annotation the variable has; the write says so.
    let err = store
        .write(
            &n,
            "v2".into(),
            &WriteOptions::new()
                .description("second")
                .tag("new", "added"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("`description`"), "{err}");
    assert!(
        !err.to_string().contains("`new`"),
        "the new tag was stored: {err}"
    );
    assert!(err.hint().unwrap().contains("PATCH"), "{err:?}");
    assert_eq!(
        count(&fake, "POST", "/secrets/"),
        0,
        "the value was not written"
    );
    assert_eq!(fake.value("meta/changed").as_deref(), Some(&b"v1"[..]));
    assert_eq!(fake.annotations("meta/changed")["description"], "first");
}

#[tokio::test]
async fn metadata_conjur_cannot_hold_is_refused_before_any_request() {
    let fake = fake().await;
    let store = store(&fake);
    for opts in [
        WriteOptions::new().description("line one\n- !permit {role: !user bob}"),
        WriteOptions::new().description("bidi \u{202e} override"),
        WriteOptions::new().tag("with space", "x"),
        WriteOptions::new().tag("a: b", "x"),
        WriteOptions::new().tag("k", "v\r\n- !grant {}"),
        WriteOptions::new().tag("", "x"),
        WriteOptions::new().tag("k", "x".repeat(5000)),
        WriteOptions::new().description("a").tag("description", "b"),
        WriteOptions::new()
            .content_type("text/plain")
            .tag("conjur/mime_type", "application/json"),
    ] {
        let err = store
            .write(&name("meta/refused"), "v".into(), &opts)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unsupported, "{opts:?}: {err}");
        assert!(
            err.to_string()
                .contains("cannot be stored as a Conjur annotation"),
            "{err}"
        );
        assert!(!err.to_string().contains('\n'));
    }
    assert_eq!(fake.faults().requests(), 0, "nothing was sent");
    assert!(fake.policy_records().is_empty());
}
