#![allow(dead_code)]

use std::time::Duration;
use strongroom_core::HttpSetters as _;

use strongroom_conjur::{ConjurBuilder, ConjurStore};
use strongroom_core::{RetryPolicy, SecretName};
use strongroom_testkit::fakes::conjur::{FakeConjur, FakeConjurConfig};

pub fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

/// Fast retries so fault tests stay short.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(3)
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(50))
}

pub fn builder(fake: &FakeConjur) -> ConjurBuilder {
    ConjurBuilder::new()
        .with_api_base(fake.url())
        .with_account(fake.account())
        .with_login(fake.login())
        .with_api_key(fake.api_key())
        .with_retry_policy(fast_retry())
        .with_policy_conflict_retries(5, Duration::from_secs(2))
}

pub fn store(fake: &FakeConjur) -> ConjurStore {
    builder(fake).build().unwrap()
}

/// A fake whose policy conflicts ask for no wait.
pub async fn fake() -> FakeConjur {
    FakeConjur::start_with(FakeConjurConfig {
        policy_retry_after: (0, 0),
        ..FakeConjurConfig::default()
    })
    .await
}

/// Requests whose path starts with `prefix`.
pub fn count(fake: &FakeConjur, method: &str, prefix: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == method && r.uri.starts_with(prefix))
        .count()
}
