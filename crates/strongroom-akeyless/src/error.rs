//! Akeyless wire errors → the core [`Error`].
//!
//! Every operation's error answer is `{"error": "<message>"}` (openapi `JSONError`). The HTTP
//! status decides the kind (401 Unauthorized, 403 Forbidden, 404 NotFound, 409 Conflict,
//! 429 RateLimited, 5xx Unavailable, other 4xx Protocol); the server's `error` text is kept
//! (trimmed, control characters removed). A body that is not that shape is never echoed.

use std::time::Duration;

use serde::Deserialize;
use strongroom_core::http::status_error;
use strongroom_core::{Error, ErrorKind};

/// The provider label used in errors and logs.
pub(crate) const PROVIDER: &str = "akeyless";

#[derive(Deserialize)]
struct JsonError {
    error: Option<String>,
}

/// The error for a non-2xx answer.
pub(crate) fn from_reply(
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Error {
    let detail = serde_json::from_slice::<JsonError>(body)
        .ok()
        .and_then(|e| e.error)
        .unwrap_or_default();
    let mut err = status_error(status, retry_after, &detail);
    if status == reqwest::StatusCode::BAD_REQUEST {
        err = Error::new(ErrorKind::Protocol, err.message().to_string())
            .with_hint("the server refused the request as malformed (HTTP 400)");
    }
    err
}

/// A malformed (not JSON / wrong shape) answer to `op`.
pub(crate) fn malformed(op: &str) -> Error {
    Error::protocol(format!(
        "the answer to `{op}` is not what the Akeyless API returns"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn maps_statuses_and_keeps_server_text() {
        let e = from_reply(
            StatusCode::UNAUTHORIZED,
            None,
            br#"{"error":"token expired"}"#,
        );
        assert_eq!(e.kind(), &ErrorKind::Unauthorized);
        assert!(e.to_string().contains("token expired"));
        assert_eq!(
            from_reply(StatusCode::FORBIDDEN, None, b"{}").kind(),
            &ErrorKind::Forbidden
        );
        assert_eq!(
            from_reply(StatusCode::NOT_FOUND, None, b"").kind(),
            &ErrorKind::NotFound
        );
        assert_eq!(
            from_reply(StatusCode::CONFLICT, None, b"").kind(),
            &ErrorKind::Conflict
        );
        assert_eq!(
            from_reply(StatusCode::BAD_REQUEST, None, b"").kind(),
            &ErrorKind::Protocol
        );
        let e = from_reply(StatusCode::SERVICE_UNAVAILABLE, None, b"");
        assert!(e.is_temporary());
        let e = from_reply(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(2)),
            b"",
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_body_that_is_not_an_error_object_is_not_echoed() {
        let e = from_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            b"secret-looking body",
        );
        assert!(!e.to_string().contains("secret-looking"));
    }
}
