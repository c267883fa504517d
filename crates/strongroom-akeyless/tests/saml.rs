//! SAML: the Akeyless CLI's credentials file is re-read when it changes and when the token it
//! held expired or was refused; errors name the command that refreshes it.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{builder, name, read_str};
use serde_json::json;
use strongroom_akeyless::AccessType;
use strongroom_core::{Clock, ErrorKind, ManualClock, ReadOptions, SecretStore};
use strongroom_testkit::fakes::akeyless::FakeAkeyless;

/// Writes the CLI's file as the CLI would, with a distinct modification time per `serial`.
fn write_creds(file: &Path, token: &str, expiry: SystemTime, serial: u64) {
    let secs = expiry.duration_since(UNIX_EPOCH).unwrap().as_secs();
    std::fs::write(file, json!({ "token": token, "expiry": secs }).to_string()).unwrap();
    std::fs::File::options()
        .write(true)
        .open(file)
        .unwrap()
        .set_modified(UNIX_EPOCH + Duration::from_secs(1_000_000 + serial))
        .unwrap();
}

#[tokio::test]
async fn the_cli_file_is_reread_when_it_changes_and_errors_name_the_command() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/a", "v");
    let clock = Arc::new(ManualClock::new());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("team-a-{}", fake.access_id()));
    write_creds(
        &file,
        &fake.issue_token(),
        clock.system_now() + Duration::from_secs(3600),
        1,
    );
    let store = builder(&fake)
        .with_access_type(AccessType::Saml)
        .with_profile("team-a")
        .with_saml_creds_dir(dir.path())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("v"));
    assert_eq!(fake.calls("get-secret-value"), 1);

    // 1. The cached token expired and nobody re-ran the CLI: no request, an error that says
    //    exactly what to run.
    clock.advance(Duration::from_secs(3601));
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
    let hint = err.hint().unwrap();
    let command = format!(
        "rm -f '{}' && akeyless list-items --profile team-a --path /",
        file.display()
    );
    assert!(hint.contains(&command), "{hint}");
    assert_eq!(
        fake.calls("get-secret-value"),
        1,
        "a dead token is not sent"
    );

    // 2. The CLI logged in again: the next call picks the new file up, no restart needed.
    write_creds(
        &file,
        &fake.issue_token(),
        clock.system_now() + Duration::from_secs(3600),
        2,
    );
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("v"));
    assert_eq!(fake.calls("get-secret-value"), 2);

    // 3. The file changes while the cached token is still valid (the CLI logged in again, the
    //    old token was revoked): the new token is used at once, not after a refused call.
    fake.expire_all_tokens();
    write_creds(
        &file,
        &fake.issue_token(),
        clock.system_now() + Duration::from_secs(3600),
        3,
    );
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("v"));
    assert_eq!(fake.calls("get-secret-value"), 3, "no 401 round trip");

    // 4. The server refuses the token and the file still holds it: one request, then the
    //    error with the command; the refused token is not sent again.
    fake.expire_all_tokens();
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(err.hint().unwrap().contains(&command), "{:?}", err.hint());
    assert_eq!(fake.calls("get-secret-value"), 4);
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    assert_eq!(
        fake.calls("get-secret-value"),
        4,
        "the refused token is not sent again"
    );

    // 5. Re-running the CLI fixes it.
    let token = fake.issue_token();
    write_creds(
        &file,
        &token,
        clock.system_now() + Duration::from_secs(3600),
        4,
    );
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("v"));
    assert_eq!(fake.calls("auth"), 0, "SAML never calls /auth");
    assert!(!format!("{err} {err:?} {store:?}").contains(&token));
}

#[tokio::test]
async fn a_missing_file_names_the_plain_cli_command() {
    let fake = FakeAkeyless::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = builder(&fake)
        .with_access_type(AccessType::Saml)
        .with_profile("ops")
        .with_saml_creds_dir(dir.path())
        .build()
        .unwrap();
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    assert!(
        err.hint()
            .unwrap()
            .contains("`akeyless list-items --profile ops --path /`"),
        "{:?}",
        err.hint()
    );
    assert_eq!(fake.faults().requests(), 0);
}
