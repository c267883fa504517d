//! Entry points for the fuzz targets in `crates/strongroom-fuzz`. Not part of the API (hidden,
//! no semver promise): each hands bytes as they came off the wire to the parser in `api.rs`
//! or `error.rs` that the store uses.

use strongroom_core::{Error, Result, Secret};

/// An `…/versions/*:access` answer: the secret, its CRC32C checked.
pub fn access_answer(body: &[u8]) -> Result<Secret> {
    crate::api::parse_access(body)
}

/// A `ListSecrets` answer: the secret ids and the next page token.
pub fn list_answer(body: &[u8]) -> Result<(Vec<String>, Option<String>)> {
    crate::api::parse_list(body).map(|page| (page.ids, page.next_page_token))
}

/// A token endpoint answer: the token's lifetime in seconds.
pub fn token_answer(body: &[u8]) -> Result<u64> {
    crate::api::parse_token(body).map(|t| t.lifetime.as_secs())
}

/// An error answer (`google.rpc.Status`) with its HTTP status.
pub fn error_answer(status: u16, body: &[u8]) -> Error {
    crate::error::answer_error(status, None, body)
}
