//! The shared conformance suite against the fake Conjur (plain HTTP and HTTPS).

mod common;

use std::sync::Arc;
use strongroom_conjur::HttpSetters as _;

use strongroom_testkit::conformance;
use strongroom_testkit::fakes::conjur::{FakeConjur, FakeConjurConfig};

/// Conjur writes need the policy allowlist, so names with spaces or non-ASCII letters are
/// `InvalidName` for writes.
fn options() -> conformance::Options {
    conformance::Options::new()
        .names_with_spaces(false)
        .names_with_unicode(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conjur_store_conforms() {
    let fake = common::fake().await;
    conformance::run(Arc::new(common::store(&fake)), options()).await;
    // Every write declared its variable with exactly one !variable record.
    let records = fake.policy_records();
    assert!(!records.is_empty());
    assert!(
        records
            .iter()
            .all(|r| r.tag == "variable" && r.method == "POST")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conjur_store_conforms_over_https() {
    let fake = FakeConjur::start_tls(FakeConjurConfig {
        policy_retry_after: (0, 0),
        ..FakeConjurConfig::default()
    })
    .await;
    let ca = fake.ca().unwrap().ca_pem.clone();
    let store = common::builder(&fake).with_ca_pem(ca).build().unwrap();
    conformance::run(Arc::new(store), options()).await;
}
