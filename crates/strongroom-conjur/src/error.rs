//! Conjur's error answers mapped to the core [`Error`].
//!
//! Shapes (`application_controller.rb`, `protocols.md` §1.7): 401 is empty or a short
//! `text/plain` line from the Rack middleware; 403/404/409/422 carry
//! `{"error":{"code":…,"message":…}}`. Only the `code` and `message` fields (or a short plain
//! text line) are ever quoted in an error, sanitized by the core: Conjur's messages name ids,
//! never values.

use std::time::Duration;

use strongroom_core::provider::http::{Reply, status_error};
use strongroom_core::{Error, ErrorKind};

/// The provider label in errors and logs.
pub const PROVIDER: &str = "conjur";

/// `error.code` of a Conjur JSON error body (`policy_conflict`, `not_found`, …).
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v["error"]["code"].as_str().map(str::to_owned)
}

/// The server's own words for an error answer, safe to quote once sanitized.
fn server_text(content_type: Option<&str>, body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let err = &v["error"];
        match (err["code"].as_str(), err["message"].as_str()) {
            (Some(c), Some(m)) => return format!("{c}: {m}"),
            (Some(t), None) | (None, Some(t)) => return t.to_owned(),
            (None, None) => {}
        }
    }
    let plain = content_type.is_some_and(|ct| ct.starts_with("text/plain"));
    if plain && body.len() <= 200 {
        String::from_utf8_lossy(body).into_owned()
    } else {
        String::new()
    }
}

/// The error for a non-success answer given by its parts.
pub(crate) fn answer_error(
    status: u16,
    content_type: Option<&str>,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Error {
    let status =
        reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::INTERNAL_SERVER_ERROR);
    let mut err = status_error(status, retry_after, &server_text(content_type, body));
    match status.as_u16() {
        409 if error_code(body).as_deref() == Some("policy_conflict") => {
            // Another policy load is running; trying again after Retry-After helps.
            err = Error::new(ErrorKind::Conflict, err.message().to_owned())
                .with_temporary(true)
                .with_retry_after(retry_after.unwrap_or(Duration::from_secs(1)));
        }
        401 => {
            err = err.with_hint(
                "check the username / api_key (CYBERARK_USERNAME / CYBERARK_API_KEY; a host login \
                 is `host/<id>`), or the client certificate for authn-cert",
            );
        }
        403 => {
            err = err.with_hint(
                "the Conjur role lacks the privilege (read/execute/update/create) on this resource",
            );
        }
        _ => {}
    }
    err
}

/// The error for a non-success reply, with the call's context.
pub(crate) fn reply_error(reply: &Reply) -> Error {
    reply.context(answer_error(
        reply.status().as_u16(),
        reply.header("content-type"),
        reply.retry_after(),
        reply.body(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_map_to_kinds() {
        let conflict = br#"{"error":{"code":"policy_conflict","message":"busy"}}"#;
        let e = answer_error(409, Some("application/json"), None, conflict);
        assert_eq!(e.kind(), &ErrorKind::Conflict);
        assert!(e.is_temporary());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
        let e = answer_error(401, Some("text/plain"), None, b"Authorization missing");
        assert_eq!(e.kind(), &ErrorKind::Unauthorized);
        assert!(e.to_string().contains("Authorization missing"), "{e}");
        assert!(e.hint().is_some());
        let e = answer_error(
            404,
            None,
            None,
            br#"{"error":{"message":"variable 'x' not found"}}"#,
        );
        assert_eq!(e.kind(), &ErrorKind::NotFound);
        // A long or non-plain body is never quoted.
        let e = answer_error(500, Some("text/html"), None, b"<html>secret-ish</html>");
        assert!(!e.to_string().contains("secret-ish"), "{e}");
    }
}
