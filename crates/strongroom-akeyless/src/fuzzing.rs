//! Entry points for the fuzz targets in `crates/strongroom-fuzz`. Not part of the API (hidden,
//! no semver promise): each hands bytes as they came off the wire to the parser the store uses.

use std::time::Duration;

use reqwest::StatusCode;
use strongroom_core::{Result, SecretName, SecretValue, SystemClock};
use zeroize::Zeroizing;

use crate::api::Reply;

fn reply(code: u16, body: &[u8]) -> Reply {
    Reply {
        status: StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        retry_after: None,
        body: Zeroizing::new(body.to_vec()),
    }
}

/// A `get-secret-value` answer: the values by absolute path (`None` on 404).
pub fn get_secret_value_answer(
    code: u16,
    body: &[u8],
) -> Result<Option<Vec<(String, SecretValue)>>> {
    crate::store::values_answer(&reply(code, body)).map(|m| m.map(|m| m.into_iter().collect()))
}

/// A `describe-item` answer: the item type as the store classifies it (`None` on 404).
pub fn describe_item_answer(code: u16, body: &[u8]) -> Result<Option<String>> {
    crate::store::describe_answer(&reply(code, body)).map(|k| k.map(|k| format!("{k:?}")))
}

/// One `list-items` page: the names the store keeps, the folders and the next page token.
pub type ListPage = (Vec<SecretName>, Vec<String>, Option<String>);

/// A `list-items` answer (`None` on 404).
pub fn list_items_answer(code: u16, body: &[u8]) -> Result<Option<ListPage>> {
    let Some(out) = crate::store::list_answer(&reply(code, body))? else {
        return Ok(None);
    };
    let names = out
        .items
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| i.item_name.as_deref().and_then(crate::store::from_path))
        .collect();
    Ok(Some((
        names,
        out.folders.unwrap_or_default(),
        out.next_page,
    )))
}

/// An `/auth` answer (a non-2xx one is mapped like the store does): the token.
pub fn auth_answer(code: u16, body: &[u8]) -> Result<SecretValue> {
    let r = reply(code, body);
    if !r.is_success() {
        return Err(r.error());
    }
    crate::auth::token_from_reply(&r, Duration::from_secs(3600), &SystemClock).map(|t| t.token)
}
