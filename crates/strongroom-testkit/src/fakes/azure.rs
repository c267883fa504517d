//! Fake azure (being written).

/// Starts the fake for an out-of-process client.
pub async fn standalone() -> super::Standalone {
    unimplemented!("the azure fake is not written yet")
}
