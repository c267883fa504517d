//! Fake akeyless (being written).

/// Starts the fake for an out-of-process client.
pub async fn standalone() -> super::Standalone {
    unimplemented!("the akeyless fake is not written yet")
}
