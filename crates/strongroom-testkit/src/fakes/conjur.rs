//! Fake conjur (being written).

/// Starts the fake for an out-of-process client.
pub async fn standalone() -> super::Standalone {
    unimplemented!("the conjur fake is not written yet")
}
