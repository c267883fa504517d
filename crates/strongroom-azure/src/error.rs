//! Mapping Azure SDK errors (Key Vault `KeyVaultError` bodies, credential and transport
//! failures) to the core [`Error`].
//!
//! Classification uses the HTTP status and the service's error codes (`error.code`,
//! `error.innererror.code`), never message text. Messages carry the status, the codes and the
//! service's own message (which never echoes a secret value); response bodies of successful
//! calls are never quoted.

use std::time::Duration;

use azure_core::error::ErrorKind as AzKind;
use azure_core::http::StatusCode;
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

fn clean(text: &str) -> String {
    let mut t: String = text.trim().chars().take(300).collect();
    t.retain(|c| !strongroom_core::is_forbidden_char(c));
    t
}

/// Maps an HTTP answer to a core error.
fn from_service(s: ServiceError) -> Error {
    let codes = match (&s.code, &s.inner_code) {
        (Some(c), Some(i)) if c != i => format!(" {c}/{i}"),
        (Some(c), _) => format!(" {c}"),
        (None, Some(i)) => format!(" {i}"),
        (None, None) => String::new(),
    };
    let detail = s.message.as_deref().map(clean).unwrap_or_default();
    let message = if detail.is_empty() {
        format!("HTTP {}{codes}", s.status)
    } else {
        format!("HTTP {}{codes}: {detail}", s.status)
    };
    let inner = s.inner_code.as_deref().unwrap_or("");
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
    err = match (s.status, inner) {
        (403, "SecretDisabled") => err.with_hint(
            "the secret is disabled in Key Vault: enable it (`az keyvault secret set-attributes --enabled true`) or read an enabled version",
        ),
        (403, "PurgeProtectionEnabled") => err.with_hint(
            "the vault has purge protection: a deleted secret can only be recovered, or purged by Key Vault after its retention period",
        ),
        (403, _) => err.with_hint(
            "the identity lacks permission: grant a role such as `Key Vault Secrets User` (read) or `Key Vault Secrets Officer` (write/delete), or an access policy",
        ),
        (401, _) => err.with_hint("the token was not accepted: check the tenant and the identity's credentials"),
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
                clean(&t)
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
            format!("could not get an access token: {}", clean(&e.to_string())),
        )
        .with_hint("check the Azure credential settings (tenant id, client id, client secret, managed identity, `az login`)"),
        _ => Error::protocol(format!("Azure SDK error: {}", clean(&e.to_string()))),
    }
}
