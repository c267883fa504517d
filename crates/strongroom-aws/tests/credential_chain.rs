//! The AWS default credential chain — CloverDX's default scheme (issue 18.4) — from a clean
//! environment: environment keys, shared profile files, a web identity token file against a
//! local STS, and the instance metadata service (IMDSv2) against a local IMDS, all on
//! loopback, reading secrets from moto.
//!
//! Edition 2024 makes `std::env::set_var` unsafe (and unsafe is forbidden), so each case runs
//! this test binary again as a child with exactly the environment it needs
//! (`Command::env_clear().envs(..)`): the child builds its store the way a user's process
//! does (`AwsConfig::from_env()`) and reads one secret. The parent asserts which credentials
//! signed the request (the access key id of the SigV4 header, seen by a recorder in front of
//! moto) and what the fake STS / IMDS received. Hence `harness = false`: `main` is either the
//! parent running the cases, or the child.

mod common;

use std::collections::HashMap;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::{Recorder, Stack};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use strongroom_aws::{AwsBuilder, AwsConfig};
use strongroom_core::config::{ProviderConfig, StoreConfig};
use strongroom_core::{ReadOptions, SecretName, SecretStore, WriteOptions};
use strongroom_testkit::fake::FakeServer;
use strongroom_testkit::sentinel;
use strongroom_testkit::servers::moto;

/// Set in the child's environment: run as the child.
const CHILD: &str = "STRONGROOM_AWS_CHAIN_CHILD";
/// The secret the child reads, and the value it must find.
const READ: &str = "STRONGROOM_AWS_CHAIN_READ";
const EXPECT: &str = "STRONGROOM_AWS_CHAIN_EXPECT";

type Case = fn() -> BoxFuture<'static, ()>;

const CASES: &[(&str, Case)] = &[
    ("environment_keys", || environment_keys().boxed()),
    ("shared_profile_files", || shared_profile_files().boxed()),
    ("web_identity_token_file", || {
        web_identity_token_file().boxed()
    }),
    ("instance_metadata_imdsv2", || {
        instance_metadata_imdsv2().boxed()
    }),
    ("no_credentials_is_a_config_error", || {
        no_credentials_is_a_config_error().boxed()
    }),
    ("a_profile_endpoint_is_not_used", || {
        a_profile_endpoint_is_not_used().boxed()
    }),
];

fn main() {
    if std::env::var_os(CHILD).is_some() {
        std::process::exit(child());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in CASES {
            println!("{name}: test");
        }
        return;
    }
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut passed = 0;
    for (name, case) in CASES {
        if filter.is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        rt.block_on(case());
        println!("test {name} ... ok");
        passed += 1;
    }
    println!("\ntest result: ok. {passed} passed; 0 failed");
}

/// The child: build the store from the environment, read one secret, compare. Exit 0 when
/// the value is the expected one, 2 when it differs or is missing, 3 on an error (printed;
/// errors never hold values).
fn child() -> i32 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = match AwsConfig::from_env().and_then(StoreConfig::build) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("child: configuration: {e}");
                return 3;
            }
        };
        let name = SecretName::new(std::env::var(READ).unwrap()).unwrap();
        let expected = std::env::var(EXPECT).unwrap();
        match store.read(&name, &ReadOptions::new()).await {
            Ok(Some(s)) if s.value.expose_str().ok() == Some(expected.as_str()) => 0,
            Ok(Some(_)) => {
                eprintln!("child: read a different value");
                2
            }
            Ok(None) => {
                eprintln!("child: not found");
                2
            }
            Err(e) => {
                eprintln!("child: read: {e}");
                3
            }
        }
    })
}

/// A clean environment for the child: a home of its own (no `~/.aws`), no profile files
/// unless a case writes them, the secret to read.
struct ChildEnv {
    home: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl ChildEnv {
    fn new(secret: &str, value: &str) -> ChildEnv {
        let home = tempfile::tempdir().unwrap();
        let mut env = ChildEnv {
            vars: Vec::new(),
            home,
        };
        let h = env.home.path().to_owned();
        env.set("HOME", h.to_str().unwrap());
        env.set("AWS_CONFIG_FILE", h.join("config").to_str().unwrap());
        env.set(
            "AWS_SHARED_CREDENTIALS_FILE",
            h.join("credentials").to_str().unwrap(),
        );
        env.set(CHILD, "1");
        env.set(READ, secret);
        env.set(EXPECT, value);
        env
    }

    fn set(&mut self, k: &str, v: &str) -> &mut Self {
        self.vars.push((k.to_owned(), v.to_owned()));
        self
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Runs the child and asserts it read the expected value.
    async fn read_ok(&self) {
        let out = self.run().await;
        assert!(
            out.status.success(),
            "the child failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn run(&self) -> Output {
        let exe = std::env::current_exe().unwrap();
        let vars = self.vars.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(exe)
                .env_clear()
                .envs(vars)
                .output()
                .expect("run the child")
        })
        .await
        .unwrap()
    }
}

/// moto behind a recorder, with `secret` = `value` written in `region`.
async fn stack_with(secret: &str, value: &str, regions: &[&str]) -> Stack {
    let stack = Stack::start().await;
    for region in regions {
        AwsBuilder::new()
            .with_region(*region)
            .with_endpoint_url(stack.moto.endpoint())
            .with_access_key(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
            .build()
            .unwrap()
            .write(
                &SecretName::new(secret).unwrap(),
                value.into(),
                &WriteOptions::new(),
            )
            .await
            .unwrap();
    }
    stack
}

/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` sign the requests.
async fn environment_keys() {
    let value = sentinel("env-chain");
    let stack = stack_with("chain/env", &value, &[moto::REGION]).await;
    let mut env = ChildEnv::new("chain/env", &value);
    env.set("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT")
        .set("AWS_SECRET_ACCESS_KEY", "env-secret-key")
        .set("AWS_SESSION_TOKEN", "env-session-token")
        .set("AWS_REGION", moto::REGION)
        .set("AWS_EC2_METADATA_DISABLED", "true")
        .set("AWS_ENDPOINT_URL_SECRETS_MANAGER", &stack.rec.url());
    env.read_ok().await;
    assert_eq!(stack.rec.ops(), ["GetSecretValue"]);
    assert_eq!(stack.rec.key_ids(), ["AKIDFROMENVIRONMENT"]);
    assert!(
        stack.rec.seen()[0].session_token,
        "the session token came along"
    );
}

/// `AWS_PROFILE` picks a profile of the shared credentials file, and its region comes from
/// the shared config file; without it, the `default` profile and its region are used.
async fn shared_profile_files() {
    let value = sentinel("profile-chain");
    let stack = stack_with("chain/profile", &value, &[moto::REGION, "eu-west-3"]).await;
    let mut env = ChildEnv::new("chain/profile", &value);
    env.file(
        "config",
        "[default]\nregion = eu-west-3\n\n[profile team]\nregion = us-east-1\n",
    );
    env.file(
        "credentials",
        "[default]\naws_access_key_id = AKIDDEFAULTPROFILE\naws_secret_access_key = default-secret\n\n\
         [team]\naws_access_key_id = AKIDTEAMPROFILE\naws_secret_access_key = team-secret\n",
    );
    env.set("AWS_EC2_METADATA_DISABLED", "true")
        .set("AWS_ENDPOINT_URL_SECRETS_MANAGER", &stack.rec.url());
    env.read_ok().await;
    assert_eq!(stack.rec.key_ids(), ["AKIDDEFAULTPROFILE"]);
    assert_eq!(
        stack.rec.regions(),
        ["eu-west-3"],
        "region of the default profile"
    );

    stack.rec.clear();
    env.set("AWS_PROFILE", "team");
    env.read_ok().await;
    assert_eq!(stack.rec.key_ids(), ["AKIDTEAMPROFILE"]);
    assert_eq!(
        stack.rec.regions(),
        [moto::REGION],
        "region of the team profile"
    );
    assert!(!stack.rec.seen()[0].session_token);
}

/// What a fake STS or IMDS saw.
#[derive(Default)]
struct Calls {
    seen: Mutex<Vec<String>>,
}

impl Calls {
    fn push(&self, s: String) {
        self.seen.lock().unwrap().push(s);
    }
    fn all(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

const STS_KEY_ID: &str = "ASIAFROMWEBIDENTITY";

/// A local STS that answers `AssumeRoleWithWebIdentity` (awsQuery form in, XML out) when the
/// token is `token` and the role `role`, recording each call.
async fn fake_sts(token: String, role: &'static str) -> (FakeServer, Arc<Calls>) {
    let calls = Arc::new(Calls::default());
    let state = (Arc::clone(&calls), token);
    let router = Router::new()
        .fallback(
            move |State((calls, token)): State<(Arc<Calls>, String)>, body: Bytes| async move {
                let form: HashMap<String, String> = url::form_urlencoded::parse(&body)
                    .into_owned()
                    .collect();
                let action = form.get("Action").cloned().unwrap_or_default();
                let ok = action == "AssumeRoleWithWebIdentity"
                    && form.get("WebIdentityToken") == Some(&token)
                    && form.get("RoleArn").map(String::as_str) == Some(role)
                    && form.get("RoleSessionName").map(String::as_str) == Some("chain-test");
                calls.push(format!("{action} ok={ok}"));
                if !ok {
                    return (StatusCode::FORBIDDEN, "<ErrorResponse/>").into_response();
                }
                let xml = format!(
                    r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:app:app</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/web/chain-test</Arn>
      <AssumedRoleId>AROAEXAMPLE:chain-test</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{STS_KEY_ID}</AccessKeyId>
      <SecretAccessKey>sts-secret-key</SecretAccessKey>
      <SessionToken>sts-session-token</SessionToken>
      <Expiration>2100-01-01T00:00:00Z</Expiration>
    </Credentials>
    <Audience>sts.amazonaws.com</Audience>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#
                );
                ([("content-type", "text/xml")], xml).into_response()
            },
        )
        .with_state(state);
    (FakeServer::start(router).await, calls)
}

/// `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (EKS service accounts): the token file is
/// traded for role credentials at the STS endpoint, which then sign the read.
async fn web_identity_token_file() {
    let value = sentinel("web-identity-chain");
    let stack = stack_with("chain/web", &value, &[moto::REGION]).await;
    let token = sentinel("web-identity-jwt");
    let role = "arn:aws:iam::123456789012:role/web";
    let (sts, calls) = fake_sts(token.clone(), role).await;
    let mut env = ChildEnv::new("chain/web", &value);
    let token_file = env.file("token", &token);
    env.set("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
        .set("AWS_ROLE_ARN", role)
        .set("AWS_ROLE_SESSION_NAME", "chain-test")
        .set("AWS_ENDPOINT_URL_STS", &sts.url())
        .set("AWS_REGION", moto::REGION)
        .set("AWS_EC2_METADATA_DISABLED", "true")
        .set("AWS_ENDPOINT_URL_SECRETS_MANAGER", &stack.rec.url());
    env.read_ok().await;
    assert_eq!(calls.all(), ["AssumeRoleWithWebIdentity ok=true"]);
    assert_eq!(sts.faults().requests(), 1);
    assert_eq!(stack.rec.key_ids(), [STS_KEY_ID]);
    assert!(stack.rec.seen()[0].session_token);
}

const IMDS_KEY_ID: &str = "ASIAFROMINSTANCEMETADATA";
const IMDS_TOKEN: &str = "imds-session-token-for-tests";

/// A local IMDSv2: a session token from `PUT /latest/api/token`, then the role name, the
/// role's credentials and the region, each only with that token.
async fn fake_imds() -> (FakeServer, Arc<Calls>) {
    let calls = Arc::new(Calls::default());
    let router = Router::new()
        .fallback(
            |State(calls): State<Arc<Calls>>, method: Method, uri: Uri, headers: HeaderMap| async move {
                let path = uri.path().to_owned();
                let has_token = headers
                    .get("x-aws-ec2-metadata-token")
                    .is_some_and(|v| v == IMDS_TOKEN);
                calls.push(format!("{method} {path} token={has_token}"));
                let text = |body: String| -> Response {
                    ([("content-type", "text/plain")], body).into_response()
                };
                match (method.as_str(), path.as_str()) {
                    ("PUT", "/latest/api/token")
                        if headers.contains_key("x-aws-ec2-metadata-token-ttl-seconds") =>
                    {
                        (
                            [("x-aws-ec2-metadata-token-ttl-seconds", "21600")],
                            IMDS_TOKEN,
                        )
                            .into_response()
                    }
                    _ if !has_token => StatusCode::UNAUTHORIZED.into_response(),
                    ("GET", "/latest/meta-data/iam/security-credentials/") => {
                        text("strongroom-instance-role".into())
                    }
                    ("GET", "/latest/meta-data/iam/security-credentials/strongroom-instance-role") => {
                        text(format!(
                            r#"{{"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"{IMDS_KEY_ID}","SecretAccessKey":"imds-secret-key","Token":"imds-session","Expiration":"2100-01-01T00:00:00Z"}}"#
                        ))
                    }
                    ("GET", "/latest/meta-data/placement/region") => text(moto::REGION.into()),
                    _ => StatusCode::NOT_FOUND.into_response(),
                }
            },
        )
        .with_state(Arc::clone(&calls));
    (FakeServer::start(router).await, calls)
}

/// On an instance (CloverDX on EC2): no keys, no profile, no token file — credentials and the
/// region come from the instance metadata service, through an IMDSv2 session token.
async fn instance_metadata_imdsv2() {
    let value = sentinel("imds-chain");
    let stack = stack_with("chain/imds", &value, &[moto::REGION]).await;
    let (imds, calls) = fake_imds().await;
    let mut env = ChildEnv::new("chain/imds", &value);
    env.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url())
        .set("AWS_ENDPOINT_URL_SECRETS_MANAGER", &stack.rec.url());
    env.read_ok().await;
    assert_eq!(stack.rec.key_ids(), [IMDS_KEY_ID]);
    assert_eq!(stack.rec.regions(), [moto::REGION], "the region from IMDS");
    let calls = calls.all();
    assert!(
        calls.contains(&"PUT /latest/api/token token=false".to_owned()),
        "{calls:?}"
    );
    for wanted in [
        "GET /latest/meta-data/iam/security-credentials/ token=true",
        "GET /latest/meta-data/iam/security-credentials/strongroom-instance-role token=true",
        "GET /latest/meta-data/placement/region token=true",
    ] {
        assert!(calls.contains(&wanted.to_owned()), "{wanted} in {calls:?}");
    }
    assert!(
        calls
            .iter()
            .all(|c| c.starts_with("PUT") || c.ends_with("token=true")),
        "every metadata read carries the session token: {calls:?}"
    );
}

/// Nothing in the chain: the read fails as a configuration error naming what to check, and
/// nothing is sent.
async fn no_credentials_is_a_config_error() {
    let stack = stack_with("chain/none", "v", &[moto::REGION]).await;
    let mut env = ChildEnv::new("chain/none", "v");
    env.set("AWS_REGION", moto::REGION)
        .set("AWS_EC2_METADATA_DISABLED", "true")
        .set("AWS_ENDPOINT_URL_SECRETS_MANAGER", &stack.rec.url());
    let out = env.run().await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("config:"), "{stderr}");
    assert!(stderr.contains("credentials"), "{stderr}");
    assert_eq!(stack.rec.requests(), 0);
}

/// The endpoint setting is the one source of the endpoint: one the SDK would find in a
/// profile (`endpoint_url`, and a `services` section, which the SDK would even prefer to
/// `AWS_ENDPOINT_URL`) gets nothing.
async fn a_profile_endpoint_is_not_used() {
    let value = sentinel("profile-endpoint");
    let stack = stack_with("chain/endpoint", &value, &[moto::REGION]).await;
    let unvalidated = Recorder::start(stack.moto.endpoint()).await;
    let mut env = ChildEnv::new("chain/endpoint", &value);
    env.file(
        "config",
        &format!(
            "[default]\nregion = us-east-1\nendpoint_url = {u}\nservices = local\n\n\
             [services local]\nsecrets_manager =\n  endpoint_url = {u}\n",
            u = unvalidated.url()
        ),
    );
    env.set("AWS_ACCESS_KEY_ID", "AKIDENDPOINTTEST")
        .set("AWS_SECRET_ACCESS_KEY", "endpoint-secret")
        .set("AWS_EC2_METADATA_DISABLED", "true")
        .set("AWS_ENDPOINT_URL", &stack.rec.url());
    env.read_ok().await;
    assert_eq!(stack.rec.ops(), ["GetSecretValue"]);
    assert_eq!(unvalidated.requests(), 0);
}
