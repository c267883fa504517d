//! Akeyless wire errors → the core [`Error`].
//!
//! Every operation's error answer is `{"error": "<message>"}` (openapi `JSONError`). The HTTP
//! status decides the kind (401 Unauthorized, 403 Forbidden, 404 NotFound, 409 Conflict,
//! 429 RateLimited, 5xx Unavailable, other 4xx Protocol) and the server's `error` text is the
//! reason shown (sanitized: trimmed, bounded, control characters removed). A body of any other
//! shape is never echoed: it could hold a value.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use strongroom_core::provider::http::status_error;
use strongroom_core::{Error, ErrorKind};

/// The provider label used in errors and logs.
pub(crate) const PROVIDER: &str = "akeyless";

#[derive(Deserialize)]
struct JsonError {
    error: Option<String>,
}

/// The server's reason from a `{"error": "..."}` body (empty for any other body).
pub(crate) fn server_reason(body: &[u8]) -> String {
    serde_json::from_slice::<JsonError>(body)
        .ok()
        .and_then(|e| e.error)
        .unwrap_or_default()
}

/// The error for a non-2xx answer, with the server's reason.
pub(crate) fn from_answer(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Error {
    status_error(status, retry_after, &server_reason(body))
}

/// A 2xx answer to `op` that is not the shape the API documents.
pub(crate) fn malformed(op: &str) -> Error {
    Error::protocol(format!(
        "the answer to `{op}` is not what the Akeyless API returns"
    ))
}

/// `delete-item` refused (HTTP 400) an item whose delete protection is on: a refusal because
/// of the item's state, with the server's reason and what to do.
pub(crate) fn delete_protected(path: &str, refusal: &Error) -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!(
            "Akeyless refused to delete `{path}`: the item has delete protection on ({})",
            refusal.message()
        ),
    )
    .with_hint(format!(
        "turn delete protection off first (update-item with delete_protection=false, e.g. \
         `akeyless update-item --name {path} --delete_protection false`), then delete again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_statuses_and_keeps_server_text() {
        let e = from_answer(
            StatusCode::UNAUTHORIZED,
            None,
            br#"{"error":"token expired"}"#,
        );
        assert_eq!(e.kind(), &ErrorKind::Unauthorized);
        assert!(e.to_string().contains("token expired"));
        for (status, kind) in [
            (StatusCode::FORBIDDEN, ErrorKind::Forbidden),
            (StatusCode::NOT_FOUND, ErrorKind::NotFound),
            (StatusCode::CONFLICT, ErrorKind::Conflict),
            (StatusCode::BAD_REQUEST, ErrorKind::Protocol),
        ] {
            assert_eq!(from_answer(status, None, b"{}").kind(), &kind);
        }
        let e = from_answer(StatusCode::SERVICE_UNAVAILABLE, None, b"");
        assert!(e.is_temporary());
        let e = from_answer(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(2)),
            b"",
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_400_says_what_the_server_said_not_malformed() {
        let e = from_answer(
            StatusCode::BAD_REQUEST,
            None,
            br#"{"error":"item is protected"}"#,
        );
        assert!(e.to_string().contains("item is protected"), "{e}");
        assert!(!e.to_string().contains("malformed"), "{e}");
        let p = delete_protected("/db", &e);
        assert_eq!(p.kind(), &ErrorKind::Conflict);
        assert!(p.to_string().contains("delete protection") && p.to_string().contains("/db"));
        assert!(p.hint().unwrap().contains("delete_protection false"));
    }

    #[test]
    fn a_body_that_is_not_an_error_object_is_not_echoed() {
        let e = from_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            b"secret-looking body",
        );
        assert!(!e.to_string().contains("secret-looking"));
    }
}
