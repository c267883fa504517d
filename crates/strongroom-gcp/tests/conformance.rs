//! The shared conformance suite against the fake Secret Manager.

mod common;

use std::sync::Arc;

use strongroom_testkit::conformance;
use strongroom_testkit::fakes::gcp::FakeGcp;

/// Secret ids take `[A-Za-z0-9_-]` only (`/` is mapped), so names with spaces or non-ASCII
/// letters are `InvalidName`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcp_store_conforms() {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = common::store(&fake, &dir);
    let opts = conformance::Options::new()
        .names_with_spaces(false)
        .names_with_unicode(false);
    conformance::run(Arc::new(store), opts).await;
    // One service-account log-in served the whole suite.
    assert_eq!(fake.grants(), ["jwt-bearer"]);
}
