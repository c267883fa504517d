//! Wire-level helpers: AWS name rules, idempotency tokens, request payloads and answer → `Secret`.

use std::time::SystemTime;

use aws_smithy_types::{Blob, DateTime};
use strongroom_core::{Error, Result, Secret, SecretName, SecretValue};

/// `BatchGetSecretValue` takes at most this many ids per call.
pub(crate) const BATCH_SIZE: usize = 20;
/// Page size for `ListSecrets` (the API maximum).
pub(crate) const LIST_PAGE_SIZE: i32 = 100;
/// Content type that forces `SecretBinary` for a value that happens to be valid UTF-8.
pub(crate) const BINARY_CONTENT_TYPE: &str = "application/octet-stream";

/// AWS Secrets Manager names: `[A-Za-z0-9/_+=.@-]`, 1–512 characters. Checked before any call.
pub(crate) fn validate_name(name: &SecretName) -> Result<()> {
    let text = name.as_str();
    if let Some(c) = text.chars().find(|c| !is_name_char(*c)) {
        let what = if c == ' ' {
            "a space".to_owned()
        } else if c.is_ascii() {
            format!("`{c}`")
        } else {
            format!("the non-ASCII character {}", c.escape_unicode())
        };
        return Err(Error::invalid_name(
            text,
            format!(
                "AWS Secrets Manager names may only contain A-Z a-z 0-9 / _ + = . @ -, not {what}"
            ),
        ));
    }
    if text.len() > 512 {
        return Err(Error::invalid_name(
            text,
            "AWS Secrets Manager names are at most 512 characters",
        ));
    }
    Ok(())
}

pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '=' | '.' | '@' | '-')
}

/// A fresh `ClientRequestToken` (32 hex digits; AWS wants 32–64 characters). One token is used
/// for every call of one write, so a retried call is not applied twice.
pub(crate) fn request_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The value as AWS wants it: `SecretString` for UTF-8 text, `SecretBinary` for other bytes
/// (or when the content type is `application/octet-stream`).
///
/// The SDK takes the payload by value and does not wipe it after sending; that copy is outside
/// our control.
pub(crate) enum Payload {
    Text(String),
    Binary(Blob),
}

impl Payload {
    pub(crate) fn new(value: &SecretValue, content_type: Option<&str>) -> Payload {
        let bytes = value.expose_secret();
        let force_binary =
            content_type.is_some_and(|c| c.eq_ignore_ascii_case(BINARY_CONTENT_TYPE));
        match std::str::from_utf8(bytes) {
            Ok(text) if !force_binary => Payload::Text(text.to_owned()),
            _ => Payload::Binary(Blob::new(bytes.to_vec())),
        }
    }

    pub(crate) fn into_parts(self) -> (Option<String>, Option<Blob>) {
        match self {
            Payload::Text(s) => (Some(s), None),
            Payload::Binary(b) => (None, Some(b)),
        }
    }
}

/// Builds a [`Secret`] from the value fields of a `GetSecretValue` / `BatchGetSecretValue` answer.
pub(crate) fn to_secret(
    secret_string: Option<String>,
    secret_binary: Option<Blob>,
    version_id: Option<String>,
    created: Option<DateTime>,
) -> Result<Secret> {
    let value = match (secret_string, secret_binary) {
        (Some(s), _) => SecretValue::from(s),
        (None, Some(b)) => SecretValue::from_bytes(b.into_inner()),
        (None, None) => {
            return Err(Error::protocol(
                "the answer has neither SecretString nor SecretBinary",
            ));
        }
    };
    let mut secret = Secret::new(value);
    if let Some(v) = version_id {
        secret = secret.with_version(v);
    }
    if let Some(t) = created.and_then(|d| SystemTime::try_from(d).ok()) {
        secret = secret.with_created_at(t).with_updated_at(t);
    }
    Ok(secret)
}

/// Whether `prefix` can only match names AWS would refuse (so listing can skip the call).
pub(crate) fn prefix_is_impossible(prefix: &str) -> bool {
    !prefix.chars().all(is_name_char)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_core::ErrorKind;

    #[test]
    fn aws_name_rules() {
        for ok in ["a", "prod/db-password", "a_b+c=d.e@f-g", "A/B/C"] {
            assert!(validate_name(&SecretName::new(ok).unwrap()).is_ok(), "{ok}");
        }
        for bad in ["with space", "ünïcødé", "a:b", "a#b", "a*b", "a%20b"] {
            let err = validate_name(&SecretName::new(bad).unwrap()).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::InvalidName, "{bad}");
        }
    }

    #[test]
    fn tokens_have_the_length_aws_wants() {
        let a = request_token();
        assert_eq!(a.len(), 32);
        assert_ne!(a, request_token());
    }

    #[test]
    fn payload_kinds() {
        assert!(matches!(
            Payload::new(&"text".into(), None),
            Payload::Text(_)
        ));
        assert!(matches!(
            Payload::new(&SecretValue::from_bytes(vec![0xff, 0x00]), None),
            Payload::Binary(_)
        ));
        assert!(matches!(
            Payload::new(&"text".into(), Some("application/octet-stream")),
            Payload::Binary(_)
        ));
    }
}
