//! Application Default Credentials against the fake: metadata server, gcloud user
//! credentials, workload identity federation (with and without impersonation), counted per
//! grant.

mod common;

use common::{name, write_json};
use strongroom_core::{ErrorKind, ReadOptions, SecretStore};
use strongroom_gcp::GcpBuilder;
use strongroom_testkit::fakes::gcp::FakeGcp;

fn base(fake: &FakeGcp) -> GcpBuilder {
    GcpBuilder::new()
        .with_endpoint(fake.url())
        .with_project_id(fake.project())
}

#[tokio::test]
async fn the_metadata_server_when_nothing_else_is_configured() {
    let fake = FakeGcp::start().await;
    fake.seed("k", b"v");
    let s = base(&fake)
        .with_metadata_host(fake.metadata_host())
        .build()
        .unwrap();
    assert_eq!(s.credential_kind(), "metadata_server");
    for _ in 0..2 {
        assert!(
            s.read(&name("k"), &ReadOptions::new())
                .await
                .unwrap()
                .is_some()
        );
    }
    assert_eq!(fake.grants(), ["metadata"]);
}

#[tokio::test]
async fn gcloud_user_credentials_use_the_refresh_token() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.seed("k", b"v");
    let file = write_json(&dir, "adc.json", &fake.authorized_user_json());
    let s = base(&fake).with_credentials_file(&file).build().unwrap();
    assert_eq!(s.credential_kind(), "authorized_user");
    assert!(
        s.read(&name("k"), &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(fake.grants(), ["refresh_token"]);
    // A wrong refresh token is Unauthorized, and says nothing of the token.
    let mut bad = fake.authorized_user_json();
    bad["refresh_token"] = serde_json::json!("1//sr-wrong-refresh");
    let file = write_json(&dir, "bad.json", &bad);
    let s = base(&fake).with_credentials_file(&file).build().unwrap();
    let err = s.read(&name("k"), &ReadOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    assert!(!format!("{err} {err:?} {s:?}").contains("sr-wrong-refresh"));
}

#[tokio::test]
async fn workload_identity_federation_exchanges_the_file_token_at_sts() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.seed("k", b"v");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, fake.subject_token()).unwrap();
    let token_file = token_file.display().to_string();
    let plain = write_json(
        &dir,
        "wif.json",
        &fake.external_account_json(&token_file, false),
    );
    let s = base(&fake).with_credentials_file(&plain).build().unwrap();
    assert_eq!(s.credential_kind(), "external_account");
    assert!(
        s.read(&name("k"), &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(fake.grants(), ["token-exchange"]);
    let imp = write_json(
        &dir,
        "wif-imp.json",
        &fake.external_account_json(&token_file, true),
    );
    let s = base(&fake).with_credentials_file(&imp).build().unwrap();
    assert!(
        s.read(&name("k"), &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        fake.grants(),
        ["token-exchange", "token-exchange", "impersonation"]
    );
    // The file is read at each log-in: a rotated (here: wrong) token is what gets sent.
    std::fs::write(&token_file, "sr-stale-subject-token").unwrap();
    fake.revoke_tokens();
    let err = s.read(&name("k"), &ReadOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    assert!(!format!("{err:?}").contains("sr-stale-subject-token"));
}
