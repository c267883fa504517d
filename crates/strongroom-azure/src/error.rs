//! Mapping Azure SDK errors (Key Vault `KeyVaultError` bodies, credential and transport
//! failures, and this crate's own transport refusals) to the core [`Error`].
//!
//! Classification uses the HTTP status and the service's error codes (`error.code`,
//! `error.innererror.code`). The one exception is purge protection: the service answers a
//! refused purge with `403 Forbidden`, no inner code, and the message `Operation "purge" is
//! not allowed because purge protection is enabled for this vault…`, so for a purge that
//! message is what tells it apart from a missing permission (which carries an inner code such
//! as `ForbiddenByRbac`). Messages carry the status, the codes and the service's own message
//! (which never echoes a secret value); bodies of successful calls are never quoted.

use std::time::Duration;

use azure_core::error::ErrorKind as AzKind;
use azure_core::http::StatusCode;
use strongroom_core::provider::http::sanitize;
use strongroom_core::{Error, ErrorKind};

/// The provider label used in errors and logs.
pub(crate) const PROVIDER: &str = "azure";

/// What a Key Vault error answer said.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServiceError {
    pub status: u16,
    pub code: Option<String>,
    pub inner_code: Option<String>,
    pub message: Option<String>,
    pub retry_after: Option<Duration>,
}

impl ServiceError {
    /// A refused purge in a vault with purge protection (see the module docs).
    fn is_purge_protection(&self) -> bool {
        self.status == 403
            && self.inner_code.is_none()
            && self
                .message
                .as_deref()
                .is_some_and(|m| m.to_ascii_lowercase().contains("purge protection"))
    }
}

/// Reads status, codes and `Retry-After` out of an SDK error, when it is an HTTP answer.
pub(crate) fn service_error(e: &azure_core::Error) -> Option<ServiceError> {
    let AzKind::HttpResponse {
        status,
        error_code,
        raw_response,
    } = e.kind()
    else {
        return None;
    };
    let mut out = ServiceError {
        status: u16::from(*status),
        code: error_code.clone(),
        ..Default::default()
    };
    if let Some(raw) = raw_response {
        if let Ok(body) = serde_json::from_slice::<serde_json::Value>(raw.body()) {
            let err = &body["error"];
            if out.code.is_none() {
                out.code = err["code"].as_str().map(str::to_string);
            }
            out.inner_code = err["innererror"]["code"].as_str().map(str::to_string);
            out.message = err["message"].as_str().map(str::to_string);
        }
        out.retry_after = raw
            .headers()
            .get_optional_str(&azure_core::http::headers::RETRY_AFTER)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
    }
    Some(out)
}

/// Whether the SDK error is an HTTP answer with this status.
pub(crate) fn has_status(e: &azure_core::Error, status: StatusCode) -> bool {
    e.http_status() == Some(status)
}

/// The innermost service error code (`innererror.code`, else `code`).
pub(crate) fn inner_code(e: &azure_core::Error) -> Option<String> {
    service_error(e).and_then(|s| s.inner_code.or(s.code))
}

/// A 409 that says a delete or a recovery of this name has not finished yet.
pub(crate) fn is_in_progress(e: &azure_core::Error) -> bool {
    has_status(e, StatusCode::Conflict)
        && matches!(
            inner_code(e).as_deref(),
            Some("ObjectIsBeingDeleted" | "ObjectIsBeingRecovered")
        )
}

/// A 409 on a write to a name that is soft-deleted.
pub(crate) fn is_deleted_but_recoverable(e: &azure_core::Error) -> bool {
    has_status(e, StatusCode::Conflict)
        && inner_code(e).as_deref() == Some("ObjectIsDeletedButRecoverable")
}

/// The error for a purge that purge protection forbids.
pub(crate) fn purge_protected() -> Error {
    Error::new(
        ErrorKind::Forbidden,
        "the vault has purge protection: the secret is deleted but stays recoverable until Key Vault purges it at the end of the retention period; it cannot be purged before",
    )
    .with_hint(
        "recover it (`az keyvault secret recover`) to use the name again; purge protection cannot be turned off for a vault",
    )
}

/// Maps the error of a purge: purge protection is said plainly, the rest as [`map`].
pub(crate) fn map_purge(e: azure_core::Error) -> Error {
    match service_error(&e) {
        Some(s) if s.is_purge_protection() => purge_protected(),
        _ => map(e),
    }
}

/// A core error this crate put into the SDK pipeline (a redirect, an oversized answer, a link
/// to another host), found anywhere in the SDK error's chain.
fn own_error(e: &azure_core::Error) -> Option<Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(own) = err.downcast_ref::<Error>() {
            return Some(own.clone());
        }
        cur = err.source();
    }
    None
}

/// Codes worth showing: words, not a repeat of the status number.
fn shown_code(code: Option<&str>) -> Option<&str> {
    code.filter(|c| !c.is_empty() && !c.bytes().all(|b| b.is_ascii_digit()))
}

/// Maps an HTTP answer to a core error.
fn from_service(s: ServiceError) -> Error {
    let code = shown_code(s.code.as_deref());
    let inner = shown_code(s.inner_code.as_deref());
    let codes = match (code, inner) {
        (Some(c), Some(i)) if c != i => format!(" {c}/{i}"),
        (Some(c), _) => format!(" {c}"),
        (None, Some(i)) => format!(" {i}"),
        (None, None) => String::new(),
    };
    let detail = s.message.as_deref().map(sanitize).unwrap_or_default();
    let message = if detail.is_empty() {
        format!("HTTP {}{codes}", s.status)
    } else {
        format!("HTTP {}{codes}: {detail}", s.status)
    };
    let kind = match s.status {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::Timeout,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::RateLimited {
            retry_after: s.retry_after,
        },
        500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::Protocol,
    };
    let mut err = Error::new(kind, message);
    err = match (s.status, inner.unwrap_or("")) {
        (403, "SecretDisabled") => err.with_hint(
            "the secret is disabled in Key Vault: enable it (`az keyvault secret set-attributes --enabled true`) or read an enabled version",
        ),
        (403, _) => err.with_hint(
            "the identity lacks permission: grant a role such as `Key Vault Secrets User` (read) or `Key Vault Secrets Officer` (write/delete), or an access policy",
        ),
        (401, _) => err.with_hint(
            "the token was not accepted: check the tenant and the identity's credentials",
        ),
        (409, "ObjectIsDeletedButRecoverable") => err.with_hint(
            "the name is soft-deleted: recover it, purge it, or enable `recover_deleted_on_write`",
        ),
        _ => err,
    };
    if let Some(after) = s.retry_after {
        err = err.with_retry_after(after);
    }
    err
}

fn find_reqwest<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a reqwest::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<reqwest::Error>() {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

/// Maps any SDK error to a core error (without context; callers add it).
pub(crate) fn map(e: azure_core::Error) -> Error {
    if let Some(own) = own_error(&e) {
        return own;
    }
    if let Some(s) = service_error(&e) {
        return from_service(s);
    }
    match e.kind() {
        AzKind::Connection | AzKind::Io => {
            let timed_out = find_reqwest(&e).is_some_and(|r| r.is_timeout());
            let cause = find_reqwest(&e).map(|r| {
                let mut t = r.to_string();
                let mut src = std::error::Error::source(r);
                while let Some(s) = src {
                    t.push_str(": ");
                    t.push_str(&s.to_string());
                    src = s.source();
                }
                sanitize(&t)
            });
            let (kind, what) = if timed_out {
                (ErrorKind::Timeout, "the request timed out")
            } else {
                (ErrorKind::Unavailable, "Key Vault could not be reached")
            };
            let msg = match cause {
                Some(c) => format!("{what} ({c})"),
                None => what.to_string(),
            };
            Error::new(kind, msg)
        }
        // Never quote a decoding error: it may hold a fragment of the answer (a value).
        AzKind::DataConversion => {
            Error::protocol("Key Vault answered something that is not a valid Key Vault response")
        }
        AzKind::Credential => Error::new(
            ErrorKind::Unauthorized,
            format!("could not get an access token: {}", sanitize(&e.to_string())),
        )
        .with_hint("check the Azure credential settings (tenant id, client id, client secret, federated token file, managed identity, `az login`)"),
        _ => Error::protocol(format!("Azure SDK error: {}", sanitize(&e.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_codes_are_not_repeated_after_the_status() {
        let err = from_service(ServiceError {
            status: 403,
            code: Some("403".into()),
            message: Some("denied".into()),
            ..Default::default()
        });
        assert_eq!(err.message(), "HTTP 403: denied");
    }

    #[test]
    fn purge_protection_is_told_apart_from_a_missing_permission() {
        let protection = ServiceError {
            status: 403,
            code: Some("Forbidden".into()),
            message: Some("Operation \"purge\" is not allowed because purge protection is enabled for this vault.".into()),
            ..Default::default()
        };
        assert!(protection.is_purge_protection());
        let rbac = ServiceError {
            inner_code: Some("ForbiddenByRbac".into()),
            ..protection.clone()
        };
        assert!(!rbac.is_purge_protection());
    }
}
