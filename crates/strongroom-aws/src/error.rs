//! AWS SDK errors → [`strongroom_core::Error`].
//!
//! Classification uses the AWS error **code** only (`ResourceNotFoundException`,
//! `ThrottlingException`, …) — never the HTTP status (moto answers `ResourceNotFoundException`
//! with 404, AWS with 400) and never the message text.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use strongroom_core::{Error, ErrorKind};

use crate::transport::Refused;

/// The provider label used in errors and logs.
pub(crate) const PROVIDER: &str = "aws";

/// Longest server message we copy into an error.
const MAX_SERVER_TEXT: usize = 300;

/// What an AWS error code means to Strongroom: its kind and, where useful, a hint.
pub(crate) fn kind_for_code(code: &str) -> (ErrorKind, Option<&'static str>) {
    match code {
        "ResourceNotFoundException" => (ErrorKind::NotFound, None),
        "ResourceExistsException" => (ErrorKind::Conflict, None),
        "InvalidRequestException" => (ErrorKind::Conflict, None),
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "ProvisionedThroughputExceededException"
        | "SlowDown" => (ErrorKind::RateLimited { retry_after: None }, None),
        // A quota (too many secrets, versions, …): waiting does not help.
        "LimitExceededException" => (
            ErrorKind::Conflict,
            Some(
                "a Secrets Manager quota was reached; remove unused secrets or versions, or raise the quota",
            ),
        ),
        "AccessDeniedException" | "AccessDenied" => (ErrorKind::Forbidden, None),
        "DecryptionFailure" | "EncryptionFailure" => (
            ErrorKind::Forbidden,
            Some("check that the caller may use the secret's KMS key"),
        ),
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "RequestExpired" => (
            ErrorKind::Unauthorized,
            Some("check the AWS credentials (access key, session token, role) and the clock"),
        ),
        "InvalidParameterException" | "ValidationException" | "InvalidParameterValue" => (
            ErrorKind::Config,
            Some("the request was refused as invalid (version id, stage, name or option)"),
        ),
        "MalformedPolicyDocumentException" => (ErrorKind::Config, None),
        "PreconditionNotMetException" => (ErrorKind::Conflict, None),
        "InvalidNextTokenException" => (ErrorKind::Protocol, None),
        "InternalServiceError"
        | "InternalFailure"
        | "InternalError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException" => (ErrorKind::Unavailable, None),
        _ => (ErrorKind::Protocol, None),
    }
}

/// An error for a service error `code` with the server's `message` (which never holds a value).
pub(crate) fn from_code(code: &str, message: Option<&str>) -> Error {
    let (kind, hint) = kind_for_code(code);
    let text = match message.map(short) {
        Some(m) if !m.is_empty() => format!("{code}: {m}"),
        _ => code.to_owned(),
    };
    let err = Error::new(kind, text);
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

/// Maps any SDK error to a Strongroom error (without context; callers add it). A refusal of
/// the transport ([`Refused`]) or of the credential chain is found in the error's source
/// chain first, whatever the SDK wrapped it in.
pub(crate) fn from_sdk<E, R>(err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
{
    if let Some(found) = from_chain(&err) {
        return found;
    }
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match e.code() {
                Some(code) => from_code(code, e.message()),
                // No code at all (a proxy or load balancer answered): the SDK has already
                // retried what it could.
                None => Error::new(
                    ErrorKind::Unavailable,
                    "the service answered with an error that has no AWS error code",
                ),
            }
        }
        SdkError::TimeoutError(_) => Error::new(ErrorKind::Timeout, "the request timed out"),
        SdkError::DispatchFailure(d) => {
            let text = short(&DisplayErrorContext(&err).to_string()).to_owned();
            if d.is_timeout() {
                Error::new(ErrorKind::Timeout, text)
            } else if d.is_user() {
                Error::new(ErrorKind::Config, text)
            } else {
                Error::new(ErrorKind::Unavailable, text)
            }
        }
        SdkError::ConstructionFailure(_) => Error::new(
            ErrorKind::Config,
            short(&DisplayErrorContext(&err).to_string()).to_owned(),
        ),
        SdkError::ResponseError(_) => Error::protocol(format!(
            "the service's answer could not be read: {}",
            short(&DisplayErrorContext(&err).to_string())
        )),
        _ => Error::new(
            ErrorKind::Unavailable,
            short(&DisplayErrorContext(&err).to_string()).to_owned(),
        ),
    }
}

/// A transport refusal or a credential-chain failure somewhere in `err`'s sources.
fn from_chain(err: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused.to_error());
        }
        if let Some(creds) = e.downcast_ref::<CredentialsError>() {
            return Some(from_credentials(creds));
        }
        next = e.source();
    }
    None
}

/// The credential chain could not give credentials.
fn from_credentials(err: &CredentialsError) -> Error {
    // Inside may be a transport refusal (an STS or metadata call redirected, say).
    if let Some(inner) = std::error::Error::source(err).and_then(from_chain) {
        return inner;
    }
    let text = short(&DisplayErrorContext(err).to_string()).to_owned();
    let hint = "check the AWS credentials: access_key_id/secret_access_key, the profile, the web identity token, the role, or the instance's role";
    match err {
        CredentialsError::ProviderTimedOut(_) => Error::new(ErrorKind::Timeout, text),
        CredentialsError::CredentialsNotLoaded(_) | CredentialsError::InvalidConfiguration(_) => {
            Error::new(ErrorKind::Config, text).with_hint(hint)
        }
        CredentialsError::ProviderError(_) => {
            Error::new(ErrorKind::Unauthorized, text).with_hint(hint)
        }
        _ => Error::new(ErrorKind::Unavailable, text),
    }
}

/// The error code of a service error, if the error is one.
pub(crate) fn code_of<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code())
}

fn short(text: &str) -> &str {
    let text = text.trim();
    if text.len() <= MAX_SERVER_TEXT {
        return text;
    }
    let mut end = MAX_SERVER_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_is_by_code() {
        assert_eq!(
            kind_for_code("ResourceNotFoundException").0,
            ErrorKind::NotFound
        );
        let throttled = from_code("ThrottlingException", Some("Rate exceeded"));
        assert_eq!(
            throttled.kind(),
            &ErrorKind::RateLimited { retry_after: None }
        );
        assert!(throttled.is_temporary());
        let quota = from_code("LimitExceededException", Some("too many secrets"));
        assert!(!quota.is_temporary(), "a quota error is not temporary");
        assert!(quota.hint().is_some());
        assert_eq!(
            from_code("AccessDeniedException", None).kind(),
            &ErrorKind::Forbidden
        );
        assert_eq!(
            from_code("UnrecognizedClientException", None).kind(),
            &ErrorKind::Unauthorized
        );
        assert!(from_code("InternalServiceError", None).is_temporary());
        assert!(!from_code("InvalidRequestException", None).is_temporary());
        assert_eq!(from_code("SomethingNew", None).kind(), &ErrorKind::Protocol);
    }

    #[test]
    fn long_server_text_is_cut() {
        let long = "é".repeat(400);
        let err = from_code("InvalidParameterException", Some(&long));
        assert!(err.message().len() < 400);
    }
}
