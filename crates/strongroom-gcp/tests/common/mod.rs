//! Shared set-up: a fake Secret Manager and stores pointed at it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;
use strongroom_gcp::HttpSetters as _;

use strongroom_core::config::HttpConfig;
use strongroom_core::{RetryPolicy, SecretName};
use strongroom_gcp::{GcpBuilder, GcpStore};
use strongroom_testkit::fakes::gcp::FakeGcp;

pub fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(2)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(5))
}

/// Writes a JSON credentials file into `dir`.
pub fn write_json(dir: &tempfile::TempDir, file: &str, v: &serde_json::Value) -> PathBuf {
    let p = dir.path().join(file);
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

/// A builder against `fake` with its service-account key (in `dir`).
pub fn builder(fake: &FakeGcp, dir: &tempfile::TempDir) -> GcpBuilder {
    let key = write_json(dir, "key.json", &fake.service_account_json());
    let mut http = HttpConfig::default();
    http.retry = Some(fast_retry());
    GcpBuilder::new()
        .with_endpoint(fake.url())
        .with_credentials_file(key)
        .with_http(http)
}

pub fn store(fake: &FakeGcp, dir: &tempfile::TempDir) -> GcpStore {
    builder(fake, dir).build().unwrap()
}

/// Requests with this method whose path contains `part`.
pub fn count(fake: &FakeGcp, method: &str, part: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == method && r.path.contains(part))
        .count()
}
