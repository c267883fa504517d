//! Conjur's error answers mapped to the core [`Error`].
//!
//! Shapes (`application_controller.rb`, `protocols.md` §1.7): 401 is empty or a short
//! `text/plain` line from the Rack middleware; 403/404/409/422 carry
//! `{"error":{"code":…,"message":…}}`. Only the `code` and `message` fields (or a short plain
//! text line) are ever quoted in an error: Conjur's messages name ids, never values.

use std::time::Duration;

use strongroom_core::http::status_error;
use strongroom_core::{Error, ErrorKind};

use crate::api::Reply;

/// The provider label in errors and logs.
pub const PROVIDER: &str = "conjur";

/// `error.code` and `error.message` of a Conjur JSON error body, when there is one.
pub(crate) fn error_fields(reply: &Reply) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&reply.body) else {
        return (None, None);
    };
    let err = &v["error"];
    (
        err["code"].as_str().map(str::to_string),
        err["message"].as_str().map(str::to_string),
    )
}

/// The server's own words for an error answer, safe to quote.
fn server_text(reply: &Reply) -> String {
    let (code, message) = error_fields(reply);
    match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        (None, Some(m)) => m,
        (None, None) => {
            let plain = reply
                .content_type()
                .is_some_and(|ct| ct.starts_with("text/plain"));
            if plain && reply.body.len() <= 200 {
                String::from_utf8_lossy(&reply.body).into_owned()
            } else {
                String::new()
            }
        }
    }
}

/// The error for a non-success answer.
pub(crate) fn reply_error(reply: &Reply) -> Error {
    let text = server_text(reply);
    let retry_after = reply.retry_after();
    let status = reply.status;
    let mut err = status_error(status, retry_after, &text);
    if status.as_u16() == 409 && error_fields(reply).0.as_deref() == Some("policy_conflict") {
        // Another policy load is running; trying again after Retry-After helps.
        err = Error::new(ErrorKind::Conflict, err.message().to_string())
            .with_temporary(true)
            .with_retry_after(retry_after.unwrap_or(Duration::from_secs(1)));
    }
    if status.as_u16() == 401 {
        err = err.with_hint(
            "check CYBERARK_USERNAME / CYBERARK_API_KEY (a host login is `host/<id>`), or the client \
             certificate for authn-cert",
        );
    }
    if status.as_u16() == 403 {
        err = err.with_hint(
            "the Conjur role lacks the privilege (read/execute/update/create) on this resource",
        );
    }
    err
}
