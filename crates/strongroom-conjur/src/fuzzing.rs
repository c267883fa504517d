//! Entry points for the fuzz targets in `crates/strongroom-fuzz`. Not part of the API (hidden,
//! no semver promise): each hands bytes as they came off the wire to the parser the store uses.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use strongroom_core::{Error, ReadManyResult, ReadOptions, Result, SecretName, SecretValue};
use zeroize::Zeroizing;

use crate::api::Reply;

/// An authenticate answer → the `Authorization` token value, and whether an expiry was read.
pub fn token_answer(body: &[u8]) -> Result<(SecretValue, bool)> {
    crate::auth::token_from_answer(body).map(|(token, exp)| (token, exp.is_some()))
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
    crate::store::parse_batch(
        body,
        base64,
        |id| format!("{account}:variable:{id}"),
        names,
        &opts,
    )
}

/// The error for a non-success answer (`status` outside 100–999 is taken as 500).
pub fn error_answer(
    status: u16,
    content_type: Option<&str>,
    retry_after: Option<&str>,
    body: &[u8],
) -> Error {
    let mut headers = HeaderMap::new();
    if let Some(v) = content_type.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(CONTENT_TYPE, v);
    }
    if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(RETRY_AFTER, v);
    }
    let reply = Reply {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        headers,
        body: Zeroizing::new(body.to_vec()),
    };
    crate::error::reply_error(&reply)
}
