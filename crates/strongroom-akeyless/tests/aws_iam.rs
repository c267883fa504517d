//! `aws_iam` log-in against the fake, which decodes the `cloud-id` and checks the signed STS
//! request's shape (protocols.md §2.2). Run with `--features aws-iam`.
#![cfg(feature = "aws-iam")]

mod common;

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use common::{builder, name, read_str};
use serde_json::{Value, json};
use strongroom_akeyless::{AccessType, aws_iam_cloud_id};
use strongroom_core::{ErrorKind, ReadOptions, SecretStore};
use strongroom_testkit::fakes::akeyless::FakeAkeyless;

fn creds() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(
        "AKIDTEST",
        "sr-aws-secret",
        Some("sr-session".into()),
        None,
        "static",
    )
}

#[tokio::test]
async fn aws_iam_logs_in_with_a_signed_sts_cloud_id() {
    let fake = FakeAkeyless::start().await;
    fake.seed_static("/a", "v");
    let store = builder(&fake)
        .with_access_type(AccessType::AwsIam)
        .with_aws_credentials(creds())
        .build()
        .unwrap();
    assert_eq!(read_str(&store, "a").await.as_deref(), Some("v"));
    assert_eq!(fake.calls("auth"), 1);
    let sent = &fake.requests("auth")[0];
    assert_eq!(sent["access-type"], "aws_iam");
    assert_eq!(sent["access-id"], fake.access_id());
    let ids = fake.cloud_ids();
    assert_eq!(ids.len(), 1, "the fake accepted the cloud id's shape");
    assert_eq!(ids[0]["url"], "https://sts.amazonaws.com/");
    assert_eq!(
        ids[0]["body"],
        "Action=GetCallerIdentity&Version=2011-06-15"
    );
    let auth = ids[0]["headers"]["Authorization"][0].as_str().unwrap();
    assert!(auth.contains("Credential=AKIDTEST/") && auth.contains("/us-east-1/sts/aws4_request"));
    assert_eq!(ids[0]["headers"]["X-Amz-Security-Token"][0], "sr-session");
    assert!(!ids[0].to_string().contains("sr-aws-secret"));
}

#[tokio::test]
async fn aws_iam_with_an_unknown_access_id_is_unauthorized() {
    let fake = FakeAkeyless::start().await;
    let store = builder(&fake)
        .with_access_id("p-someoneelse")
        .with_access_type(AccessType::AwsIam)
        .with_aws_credentials(creds())
        .build()
        .unwrap();
    let err = store
        .read(&name("a"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
    assert!(err.hint().unwrap().contains("aws_iam"));
}

/// The fake's side of §2.2: the SDK-v2 shape (no `sts_request_body`) is accepted; another
/// region is refused; what is not a cloud id at all is a 400.
#[tokio::test]
async fn the_fake_checks_the_sts_request_shape() {
    let fake = FakeAkeyless::start().await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let id = aws_iam_cloud_id(&creds(), UNIX_EPOCH + Duration::from_secs(1_700_000_000)).unwrap();
    let outer: Value = serde_json::from_slice(&b64.decode(id.expose_secret()).unwrap()).unwrap();
    let encode = |v: &Value| b64.encode(serde_json::to_vec(v).unwrap());

    let mut no_body = outer.clone();
    no_body.as_object_mut().unwrap().remove("sts_request_body");
    let mut other_region = outer.clone();
    let headers = b64
        .decode(outer["sts_request_headers"].as_str().unwrap())
        .unwrap();
    let headers = String::from_utf8(headers)
        .unwrap()
        .replace("/us-east-1/", "/eu-west-1/");
    other_region["sts_request_headers"] = json!(b64.encode(headers));

    let client = reqwest::Client::new();
    let post = |cloud_id: String| {
        client
            .post(format!("{}/auth", fake.url()))
            .json(&json!({
                "access-id": fake.access_id(),
                "access-type": "aws_iam",
                "cloud-id": cloud_id,
            }))
            .send()
    };
    for (cloud_id, status) in [
        (encode(&outer), 200),
        (encode(&no_body), 200),
        (encode(&other_region), 401),
        (b64.encode("not json"), 400),
    ] {
        let resp = post(cloud_id).await.unwrap();
        assert_eq!(resp.status().as_u16(), status);
    }
    assert_eq!(fake.cloud_ids().len(), 2);
}
