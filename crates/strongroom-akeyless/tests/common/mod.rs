//! Helpers shared by the test files.
#![allow(dead_code)]

use std::time::Duration;
use strongroom_core::HttpSetters as _;

use strongroom_akeyless::{AkeylessBuilder, AkeylessStore};
use strongroom_core::{ReadOptions, RetryPolicy, SecretName, SecretStore};
use strongroom_testkit::fakes::akeyless::FakeAkeyless;

pub fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(3)
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
}

pub fn builder(fake: &FakeAkeyless) -> AkeylessBuilder {
    AkeylessBuilder::new()
        .with_api_host(fake.url())
        .with_access_id(fake.access_id())
        .with_access_key(fake.access_key())
        .with_retry_policy(fast_retry())
}

pub fn store(fake: &FakeAkeyless) -> AkeylessStore {
    builder(fake).build().unwrap()
}

pub async fn read_str(store: &AkeylessStore, n: &str) -> Option<String> {
    store
        .read(&name(n), &ReadOptions::new())
        .await
        .unwrap()
        .map(|s| s.value.expose_str().unwrap().to_string())
}
