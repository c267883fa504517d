//! Entry points for the fuzz targets in `crates/strongroom-fuzz`. Not part of the API (hidden,
//! no semver promise): each hands bytes as they came off the wire to the parser in `api.rs`
//! that the store uses.

use reqwest::StatusCode;
use strongroom_core::{Result, SecretName, SecretValue};

use crate::api::{self, Answer};

fn answer(code: u16, body: &[u8]) -> Answer<'_> {
    Answer {
        status: StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        retry_after: None,
        body,
    }
}

/// A `get-secret-value` answer: the values by absolute path (`None` on 404).
pub fn get_secret_value_answer(
    code: u16,
    body: &[u8],
) -> Result<Option<Vec<(String, SecretValue)>>> {
    api::values_answer(&answer(code, body)).map(|m| m.map(|m| m.into_iter().collect()))
}

/// A `describe-item` answer: the item type as the store classifies it (`None` on 404).
pub fn describe_item_answer(code: u16, body: &[u8]) -> Result<Option<String>> {
    api::describe_answer(&answer(code, body)).map(|i| i.map(|i| format!("{:?}", i.kind)))
}

/// One `list-items` page: the names the store keeps, the folders and the next page token.
pub type ListPage = (Vec<SecretName>, Vec<String>, Option<String>);

/// A `list-items` answer (`None` on 404).
pub fn list_items_answer(code: u16, body: &[u8]) -> Result<Option<ListPage>> {
    let Some(page) = api::list_answer(&answer(code, body))? else {
        return Ok(None);
    };
    let names = page
        .names
        .iter()
        .filter_map(|n| crate::store::from_path(n))
        .collect();
    Ok(Some((names, page.folders, page.next_page)))
}

/// An `/auth` answer (a non-2xx one is mapped like the store does): the token.
pub fn auth_answer(code: u16, body: &[u8]) -> Result<SecretValue> {
    api::auth_answer(&answer(code, body)).map(|a| a.token)
}
