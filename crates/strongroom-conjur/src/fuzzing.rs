//! Entry points for the fuzz targets in `crates/strongroom-fuzz`. Not part of the API (hidden,
//! no semver promise): each hands bytes as they came off the wire to the parser the store uses
//! (all in `api.rs`, error answers in `error.rs`).

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use strongroom_core::provider::http::parse_retry_after;
use strongroom_core::{Error, ReadManyResult, ReadOptions, Result, SecretName, SecretValue};

/// An authenticate answer → the `Authorization` token value, and whether an expiry was read.
pub fn token_answer(body: &[u8]) -> Result<(SecretValue, bool)> {
    crate::api::token_from_answer(body).map(|(token, times)| (token, times.expires.is_some()))
}

/// A `200` batch answer for `names` in `account` (values base64-encoded when `base64`), with
/// `ReadOptions::field` = `field`: the values found and the names missing from the answer.
pub fn batch_answer(
    body: &[u8],
    base64: bool,
    account: &str,
    names: &[SecretName],
    field: Option<&str>,
) -> Result<(ReadManyResult, Vec<SecretName>)> {
    let mut opts = ReadOptions::new();
    if let Some(f) = field {
        opts = opts.field(f);
    }
    crate::api::parse_batch(body, base64, account, names, &opts)
}

/// A resources page (list) → how many resources it holds and the variable ids in `account`.
pub fn resources_answer(body: &[u8], account: &str) -> Result<(usize, Vec<String>)> {
    crate::api::parse_resource_ids(body, account)
}

/// The error for a non-success answer (`status` outside 100–999 is taken as 500).
pub fn error_answer(
    status: u16,
    content_type: Option<&str>,
    retry_after: Option<&str>,
    body: &[u8],
) -> Error {
    let mut headers = HeaderMap::new();
    if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(RETRY_AFTER, v);
    }
    crate::error::answer_error(status, content_type, parse_retry_after(&headers), body)
}
