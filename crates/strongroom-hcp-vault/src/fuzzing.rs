//! Entry points for the fuzz targets in `crates/strongroom-fuzz`. Not part of the API (hidden,
//! no semver promise): each hands bytes as they came off the wire to the parser in `api.rs`
//! that the store uses.

use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use strongroom_core::{Result, Secret};

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A KV v2 read answer (`status` outside 100–999 is taken as 500), value field `value_field`,
/// `ReadOptions::field` = `field`.
pub fn read_answer(
    code: u16,
    body: &[u8],
    value_field: &str,
    field: Option<&str>,
) -> Result<Option<Secret>> {
    crate::api::read_answer(status(code), None, body, value_field, field)
}

/// A `LIST …/metadata/<dir>` answer: the keys.
pub fn list_answer(code: u16, body: &[u8]) -> Result<Vec<String>> {
    crate::api::list_answer(status(code), None, body)
}

/// A log-in (or, with `renewing`, a renew-self) answer: whether the token is renewable and
/// its lease in seconds.
pub fn login_answer(code: u16, body: &[u8], renewing: bool) -> Result<(bool, u64)> {
    let prev = HeaderValue::from_static("previous-token");
    crate::api::login_answer(status(code), None, body, renewing.then_some(&prev))
        .map(|a| (a.renewable, a.lease.as_secs()))
}
