//! The implicit (ambient) credential chain on loopback: the environment's client secret and
//! workload identity log in at the fake's Entra ID token endpoint
//! (`/<tenant>/oauth2/v2.0/token`); managed identity gets its token from the fake's App Service
//! endpoint (`IDENTITY_ENDPOINT`) or its instance metadata service. Each test asserts which
//! path was taken by counting the calls each endpoint saw, and that a secret is read with the
//! token (the vault accepts only tokens the fake's endpoints issued).
//!
//! The SDK reads `IDENTITY_ENDPOINT` / `IDENTITY_HEADER` from the process environment itself,
//! and `std::env::set_var` is `unsafe` (forbidden here): the managed identity tests run this
//! test binary again as a child with exactly the environment they need (`Command::env`), and
//! the child builds its store with `AzureConfig::from_env()`.

mod common;

use std::collections::HashMap;

use common::{ca_file, get};
use strongroom_azure::{AzureBuilder, AzureConfig};
use strongroom_core::SecretStore;
use strongroom_core::config::{ProviderConfig, StoreConfig};
use strongroom_testkit::fakes::azure::FakeAzure;
use strongroom_testkit::sentinel;

/// Set in the child process; names nothing secret.
const CHILD: &str = "STRONGROOM_AZURE_AMBIENT_CHILD";
/// The value the child must read.
const EXPECT: &str = "STRONGROOM_AZURE_AMBIENT_EXPECT";
const NAME: &str = "ambient/secret";

fn lookup(vars: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> + Send + Sync {
    let map: HashMap<&'static str, String> = vars.into_iter().collect();
    move |k| map.get(k).cloned()
}

/// A fake vault holding the secret and accepting only tokens its endpoints issue.
async fn vault() -> (FakeAzure, String) {
    let fake = FakeAzure::start().await;
    fake.restrict_tokens(Some(vec![]));
    let value = sentinel("ambient-value");
    fake.seed("ambient--secret", &value, None);
    (fake, value)
}

/// The vault part of the configuration, as environment variables.
fn vault_env(fake: &FakeAzure, ca: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_KEY_VAULT_URI", fake.url()),
        ("AZURE_KEY_VAULT_CA_FILE", ca.display().to_string()),
        ("AZURE_KEY_VAULT_VERIFY_CHALLENGE_RESOURCE", "false".into()),
        ("AZURE_KEY_VAULT_MAX_RETRIES", "0".into()),
        ("AZURE_AUTHORITY_HOST", fake.url()),
    ]
}

#[tokio::test]
async fn the_environment_client_secret_logs_in_at_the_token_endpoint() {
    let (fake, value) = vault().await;
    let mi = fake.start_managed_identity().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(&dir, &fake);
    let config = AzureConfig::from_lookup(lookup(vault_env(&fake, &ca))).unwrap();
    let store = AzureBuilder::from_config(config)
        .with_ambient_env(lookup(vec![
            ("AZURE_TENANT_ID", fake.tenant().to_owned()),
            ("AZURE_CLIENT_ID", fake.client_id().to_owned()),
            ("AZURE_CLIENT_SECRET", fake.client_secret().to_owned()),
        ]))
        .build()
        .unwrap();
    assert_eq!(get(&store, NAME).await.as_deref(), Some(value.as_str()));
    let tokens = fake.token_requests();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0]["grant_type"], "client_credentials");
    assert_eq!(tokens[0]["client_secret"], "[set]");
    assert!(!tokens[0].contains_key("client_assertion"));
    assert!(fake.identity_requests().is_empty());
    assert_eq!(mi.server().faults().requests(), 0);
}

#[tokio::test]
async fn workload_identity_sends_the_federated_token_file() {
    let (fake, value) = vault().await;
    let mi = fake.start_managed_identity().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(&dir, &fake);
    let token_file = dir.path().join("azure-identity-token");
    std::fs::write(&token_file, fake.federated_assertion()).unwrap();
    let config = AzureConfig::from_lookup(lookup(vault_env(&fake, &ca))).unwrap();
    let store = AzureBuilder::from_config(config)
        .with_ambient_env(lookup(vec![
            ("AZURE_TENANT_ID", fake.tenant().to_owned()),
            ("AZURE_CLIENT_ID", fake.client_id().to_owned()),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                token_file.display().to_string(),
            ),
        ]))
        .build()
        .unwrap();
    assert_eq!(get(&store, NAME).await.as_deref(), Some(value.as_str()));
    let tokens = fake.token_requests();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0]["client_id"], fake.client_id());
    assert_eq!(tokens[0]["client_assertion"], "[set]");
    assert_eq!(
        tokens[0]["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert!(!tokens[0].contains_key("client_secret"));
    assert!(fake.identity_requests().is_empty());
    assert_eq!(mi.server().faults().requests(), 0);

    // A different token in the file is refused by the token endpoint: the file is what is sent.
    std::fs::write(&token_file, "not-the-federated-token").unwrap();
    let config = AzureConfig::from_lookup(lookup(vault_env(&fake, &ca))).unwrap();
    let store = AzureBuilder::from_config(config)
        .with_tenant_id(fake.tenant())
        .with_client_id(fake.client_id())
        .with_federated_token_file(&token_file)
        .with_ambient_env(|_| None)
        .build()
        .unwrap();
    let err = store
        .read(&common::name(NAME), &Default::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &strongroom_core::ErrorKind::Unauthorized,
        "{err}"
    );
}

/// Child side: the store from the process environment, one read.
async fn child_reads_from_env() {
    let store = AzureConfig::from_env().unwrap().build().unwrap();
    let want = std::env::var(EXPECT).unwrap();
    assert_eq!(get(&store, NAME).await.as_deref(), Some(want.as_str()));
}

/// Runs `test` of this binary in a child process whose environment is exactly `env`.
async fn run_child(test: &'static str, env: Vec<(&'static str, String)>) {
    let exe = std::env::current_exe().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env_clear()
            .env(CHILD, "1")
            .envs(env)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child run of {test} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_on_app_service_uses_identity_endpoint() {
    if std::env::var_os(CHILD).is_some() {
        return child_reads_from_env().await;
    }
    let (fake, value) = vault().await;
    let mi = fake.start_managed_identity().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(&dir, &fake);
    let mut env = vault_env(&fake, &ca);
    env.extend([
        ("IDENTITY_ENDPOINT", mi.app_service_endpoint()),
        ("IDENTITY_HEADER", mi.identity_header().to_owned()),
        (EXPECT, value),
    ]);
    run_child(
        "managed_identity_on_app_service_uses_identity_endpoint",
        env,
    )
    .await;
    let calls = fake.identity_requests();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].endpoint, "app-service");
    assert!(calls[0].header_ok, "X-IDENTITY-HEADER sent");
    assert_eq!(calls[0].query["resource"], "https://vault.azure.net");
    assert!(fake.token_requests().is_empty(), "no Entra ID login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_on_a_vm_uses_the_metadata_service() {
    if std::env::var_os(CHILD).is_some() {
        return child_reads_from_env().await;
    }
    let (fake, value) = vault().await;
    let mi = fake.start_managed_identity().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(&dir, &fake);
    let mut env = vault_env(&fake, &ca);
    env.extend([
        // The local IMDS instead of http://169.254.169.254 (`imds_host`).
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", mi.url()),
        // A user-assigned identity.
        ("AZURE_CLIENT_ID", fake.client_id().to_owned()),
        (EXPECT, value),
    ]);
    run_child("managed_identity_on_a_vm_uses_the_metadata_service", env).await;
    let calls = fake.identity_requests();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].endpoint, "imds");
    assert!(calls[0].header_ok, "Metadata: true sent");
    assert_eq!(calls[0].query["resource"], "https://vault.azure.net");
    assert_eq!(calls[0].query["client_id"], fake.client_id());
    assert!(fake.token_requests().is_empty(), "no Entra ID login");
}
