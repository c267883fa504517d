//! Helpers shared by the Azure test binaries.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use strongroom_core::HttpSetters as _;

use strongroom_azure::sdk::azure_core;
use strongroom_azure::{AzureBuilder, AzureStore};
use strongroom_core::{
    ManualClock, ReadOptions, RetryPolicy, SecretName, SecretStore, SecretValue, WriteOptions,
};
use strongroom_testkit::fakes::azure::FakeAzure;
use strongroom_testkit::sentinel;

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};

/// A test credential: returns one fixed token and records the scopes it was asked for.
#[derive(Debug)]
pub struct FixedToken {
    pub token: String,
    pub scopes: Mutex<Vec<String>>,
    pub asked: AtomicUsize,
}

impl FixedToken {
    pub fn new() -> Arc<Self> {
        Arc::new(FixedToken {
            token: sentinel("token"),
            scopes: Mutex::new(Vec::new()),
            asked: AtomicUsize::new(0),
        })
    }
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl TokenCredential for FixedToken {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.scopes.lock().unwrap().push(scopes.join(" "));
        Ok(AccessToken {
            token: Secret::new(self.token.clone()),
            expires_on: azure_core::time::OffsetDateTime::now_utc()
                + azure_core::time::Duration::hours(1),
        })
    }
}

/// A builder for the fake with a fixed-token credential (fast retries; waits for deletes
/// and recoveries move a manual clock instead of sleeping).
pub fn builder(fake: &FakeAzure, cred: Arc<FixedToken>) -> AzureBuilder {
    AzureBuilder::new()
        .with_manual_clock(Arc::new(ManualClock::new()))
        .with_vault_url(fake.url())
        .with_ca_pem(fake.ca_pem())
        .with_credential(cred)
        .with_verify_challenge_resource(false)
        .with_retry_policy(
            RetryPolicy::default()
                .initial_backoff(std::time::Duration::from_millis(10))
                .max_backoff(std::time::Duration::from_millis(50)),
        )
}

/// A builder logging in with the fake's service principal at its token endpoint.
pub fn sp_builder(fake: &FakeAzure) -> AzureBuilder {
    AzureBuilder::new()
        .with_vault_url(fake.url())
        .with_ca_pem(fake.ca_pem())
        .with_verify_challenge_resource(false)
        .with_authority_host(fake.url())
        .with_client_secret(fake.tenant(), fake.client_id(), fake.client_secret())
}

pub fn store(fake: &FakeAzure) -> AzureStore {
    builder(fake, FixedToken::new()).build().expect("build")
}

pub fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

pub async fn put(store: &AzureStore, n: &str, v: &str) -> Option<String> {
    store
        .write(&name(n), SecretValue::from(v), &WriteOptions::new())
        .await
        .unwrap_or_else(|e| panic!("write {n}: {e}"))
        .version
}

pub async fn get(store: &AzureStore, n: &str) -> Option<String> {
    store
        .read(&name(n), &ReadOptions::new())
        .await
        .unwrap_or_else(|e| panic!("read {n}: {e}"))
        .map(|s| s.value.expose_str().unwrap().to_string())
}

/// Writes the fake's CA to a file in `dir` (a CA certificate is not a secret).
pub fn ca_file(dir: &tempfile::TempDir, fake: &FakeAzure) -> PathBuf {
    let path = dir.path().join("azure-ca.pem");
    std::fs::write(&path, fake.ca_pem()).unwrap();
    path
}
