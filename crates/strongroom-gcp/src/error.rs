//! Google's error answers mapped to the core [`Error`].
//!
//! Secret Manager answers errors with a `google.rpc.Status` in JSON
//! (`{"error":{"code":404,"message":"…","status":"NOT_FOUND","details":[…]}}`); the `status`
//! string decides the kind, the HTTP code is the fallback. The OAuth token endpoint and STS
//! answer RFC 6749 errors (`{"error":"invalid_grant","error_description":"…"}`). Only the
//! status, the code and the server's message (which names resources, never values) are ever
//! quoted, sanitized by the core.

use std::time::Duration;

use strongroom_core::provider::http::{Reply, kind_for_status, sanitize};
use strongroom_core::{Error, ErrorKind};

/// The provider label in errors and logs.
pub const PROVIDER: &str = "gcp";

/// What an error answer said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Status {
    /// `google.rpc.Code` name (`NOT_FOUND`) or the OAuth error code (`invalid_grant`).
    pub(crate) status: Option<String>,
    /// The server's message.
    pub(crate) message: Option<String>,
}

/// Reads a `google.rpc.Status` or an OAuth error body; empty when it is neither.
pub(crate) fn parse_status(body: &[u8]) -> Status {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Status::default();
    };
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    match &v["error"] {
        serde_json::Value::Object(_) => Status {
            status: text(&v["error"]["status"]),
            message: text(&v["error"]["message"]),
        },
        serde_json::Value::String(code) => Status {
            status: Some(code.clone()),
            message: text(&v["error_description"]),
        },
        _ => Status::default(),
    }
}

/// The error for a non-success answer given by its parts.
pub(crate) fn answer_error(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Error {
    let parsed = parse_status(body);
    let code = parsed.status.as_deref().unwrap_or("");
    let kind = match code {
        "NOT_FOUND" => ErrorKind::NotFound,
        "PERMISSION_DENIED" => ErrorKind::Forbidden,
        "UNAUTHENTICATED" => ErrorKind::Unauthorized,
        "ALREADY_EXISTS" | "ABORTED" | "FAILED_PRECONDITION" => ErrorKind::Conflict,
        "RESOURCE_EXHAUSTED" => ErrorKind::RateLimited { retry_after },
        "UNAVAILABLE" | "INTERNAL" | "UNKNOWN" => ErrorKind::Unavailable,
        "DEADLINE_EXCEEDED" => ErrorKind::Timeout,
        "UNIMPLEMENTED" => ErrorKind::Unsupported,
        "INVALID_ARGUMENT" | "OUT_OF_RANGE" => ErrorKind::Protocol,
        // OAuth token endpoint / STS: a refused credential.
        "invalid_grant" | "invalid_client" | "unauthorized_client" | "access_denied" => {
            ErrorKind::Unauthorized
        }
        _ => kind_for_status(status, retry_after),
    };
    let detail = match (&parsed.status, &parsed.message) {
        (Some(s), Some(m)) => format!("{s}: {m}"),
        (Some(s), None) => s.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => String::new(),
    };
    let detail = sanitize(&detail);
    let message = if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {detail}")
    };
    let mut err = Error::new(kind.clone(), message);
    match code {
        // Another request changed the object meanwhile: trying again may succeed.
        "ABORTED" => err = err.with_temporary(true),
        "FAILED_PRECONDITION" => {
            err = err.with_hint(
                "the secret version is not ENABLED (DISABLED or DESTROYED): enable it, or read another version",
            );
        }
        "PERMISSION_DENIED" => {
            err = err.with_hint(
                "the credential lacks the Secret Manager role for this (roles/secretmanager.secretAccessor to read, secretVersionAdder / admin to write)",
            );
        }
        _ => {}
    }
    if kind == ErrorKind::Unauthorized {
        err = err.with_hint(
            "check the credentials (GOOGLE_APPLICATION_CREDENTIALS, the metadata server, or the access token)",
        );
    }
    if let Some(after) = retry_after {
        err = err.with_retry_after(after);
    }
    err
}

/// The error for a non-success reply, with the call's context.
pub(crate) fn reply_error(reply: &Reply) -> Error {
    reply.context(answer_error(
        reply.status().as_u16(),
        reply.retry_after(),
        reply.body(),
    ))
}

/// Whether an error answer is `NOT_FOUND`.
pub(crate) fn is_not_found(reply: &Reply) -> bool {
    reply.status().as_u16() == 404
        && parse_status(reply.body())
            .status
            .is_none_or(|s| s == "NOT_FOUND")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, status: &str, message: &str) -> Vec<u8> {
        serde_json::json!({"error": {"code": code, "status": status, "message": message, "details": []}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn rpc_status_decides_the_kind() {
        let e = answer_error(
            400,
            None,
            &status(
                400,
                "FAILED_PRECONDITION",
                "Secret Version [projects/1/secrets/a/versions/2] is in DISABLED state.",
            ),
        );
        assert_eq!(e.kind(), &ErrorKind::Conflict);
        assert!(e.to_string().contains("DISABLED state"), "{e}");
        assert!(e.hint().unwrap().contains("not ENABLED"));
        assert!(!e.is_temporary());
        let e = answer_error(
            429,
            Some(Duration::from_secs(7)),
            &status(429, "RESOURCE_EXHAUSTED", "Quota exceeded"),
        );
        assert_eq!(
            e.kind(),
            &ErrorKind::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(e.is_temporary());
        let e = answer_error(403, None, &status(403, "PERMISSION_DENIED", "denied"));
        assert_eq!(e.kind(), &ErrorKind::Forbidden);
        let e = answer_error(503, None, &status(503, "UNAVAILABLE", "try later"));
        assert_eq!(e.kind(), &ErrorKind::Unavailable);
        assert!(e.is_temporary());
        let e = answer_error(404, None, &status(404, "NOT_FOUND", "Secret [x] not found"));
        assert_eq!(e.kind(), &ErrorKind::NotFound);
        let e = answer_error(409, None, &status(409, "ABORTED", "concurrent"));
        assert!(e.is_temporary());
    }

    #[test]
    fn oauth_errors_and_bare_statuses() {
        let e = answer_error(
            400,
            None,
            br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
        );
        assert_eq!(e.kind(), &ErrorKind::Unauthorized);
        assert!(
            e.to_string()
                .contains("invalid_grant: Invalid JWT Signature."),
            "{e}"
        );
        let e = answer_error(502, None, b"<html>bad gateway secret-ish</html>");
        assert_eq!(e.kind(), &ErrorKind::Unavailable);
        assert!(!e.to_string().contains("secret-ish"), "{e}");
        assert_eq!(parse_status(b"[]"), Status::default());
    }
}
