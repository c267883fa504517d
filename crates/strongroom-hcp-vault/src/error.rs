//! Vault answers → the core [`Error`].
//!
//! Vault's error body is `{"errors": ["msg", ...]}` for every status ≥ 400. Classification is
//! by status only (never by message text), except where the shape of the body is the signal:
//! a 404 is "no such secret" when the body is empty, has an empty `errors` list, or carries the
//! `data` block of a soft-deleted / destroyed version; a 404 with error messages means a route
//! or namespace the server does not know (a wrong mount or namespace), which is a
//! configuration error and must not look like a missing secret.

use std::borrow::Cow;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use strongroom_core::provider::http::{sanitize, status_error};
use strongroom_core::{Error, ErrorKind};

/// The provider label.
pub(crate) const PROVIDER: &str = "hcp-vault";

#[derive(Deserialize, Default)]
struct ErrorBody<'a> {
    #[serde(default, borrow)]
    errors: Vec<Cow<'a, str>>,
    #[serde(default)]
    data: Option<serde::de::IgnoredAny>,
}

fn parse(body: &[u8]) -> Option<ErrorBody<'_>> {
    serde_json::from_slice(body).ok()
}

/// The server's error messages joined. Vault's messages name paths and reasons, never stored
/// values; they are sanitized where they are shown.
fn server_text(body: &[u8]) -> String {
    parse(body).map(|b| b.errors.join("; ")).unwrap_or_default()
}

/// Whether a 404 answer means "this secret does not exist (or has no live version)".
pub(crate) fn is_missing(body: &[u8]) -> bool {
    if body.iter().all(u8::is_ascii_whitespace) {
        return true;
    }
    match parse(body) {
        Some(b) => b.data.is_some() || b.errors.is_empty(),
        // A 404 with a body we cannot read (a proxy's HTML page): treat as missing.
        None => true,
    }
}

/// Maps a non-success answer to an error.
pub(crate) fn api_error(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Error {
    let text = server_text(body);
    if status == StatusCode::NOT_FOUND {
        // Not a missing secret (callers check `is_missing` first): unknown route or namespace.
        return Error::new(ErrorKind::Config, format!("HTTP 404: {}", sanitize(&text)))
            .with_hint("check the KV mount (mount_name) and the namespace");
    }
    status_error(status, retry_after, &text)
}

/// A log-in refused by the server: bad role/secret id, no or unknown client certificate.
/// Vault answers 400 for these; they all mean our credentials were rejected.
pub(crate) fn login_error(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Error {
    match status.as_u16() {
        400 | 401 | 403 => Error::new(
            ErrorKind::Unauthorized,
            format!(
                "log-in refused: HTTP {}: {}",
                status.as_u16(),
                sanitize(&server_text(body))
            ),
        ),
        _ => api_error(status, retry_after, body),
    }
}

/// A CAS mismatch (400 to a write that carried `options.cas`).
pub(crate) fn cas_conflict(body: &[u8]) -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!("check-and-set failed: {}", sanitize(&server_text(body))),
    )
}

/// A transport failure, with a hint naming the address.
pub(crate) fn unreachable(e: Error, addr: &str) -> Error {
    if matches!(e.kind(), ErrorKind::Unavailable) && e.hint().is_none() {
        e.with_hint(format!("is Vault running and reachable at {addr}?"))
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_shapes() {
        assert!(is_missing(b""));
        assert!(is_missing(br#"{"errors":[]}"#));
        assert!(is_missing(
            br#"{"data":{"data":null,"metadata":{"deletion_time":"2026-01-01T00:00:00Z","version":2}}}"#
        ));
        assert!(!is_missing(br#"{"errors":["namespace not found"]}"#));
        assert!(!is_missing(
            br#"{"errors":["no handler for route \"x/data/y\""]}"#
        ));
    }

    #[test]
    fn classification() {
        let s = |c| StatusCode::from_u16(c).unwrap();
        let forbidden = br#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#;
        let e = api_error(s(403), None, forbidden);
        assert_eq!(e.kind(), &ErrorKind::Forbidden);
        assert!(!e.to_string().contains('\n'));
        assert_eq!(
            api_error(s(503), None, br#"{"errors":["Vault is sealed"]}"#).kind(),
            &ErrorKind::Unavailable
        );
        assert!(matches!(
            api_error(s(429), None, b"").kind(),
            ErrorKind::RateLimited { .. }
        ));
        assert_eq!(
            api_error(s(404), None, br#"{"errors":["namespace not found"]}"#).kind(),
            &ErrorKind::Config
        );
        let e = login_error(s(400), None, br#"{"errors":["invalid role or secret ID"]}"#);
        assert_eq!(e.kind(), &ErrorKind::Unauthorized);
        assert!(e.to_string().contains("HTTP 400: invalid role"), "{e}");
        assert_eq!(
            cas_conflict(
                br#"{"errors":["check-and-set parameter did not match the current version"]}"#
            )
            .kind(),
            &ErrorKind::Conflict
        );
    }
}
