//! Log-in methods feeding the core [`TokenCache`].
//!
//! * API key: `POST /authn/{account}/{login}/authenticate`, raw key as body (a configured
//!   client certificate rides along in the TLS handshake).
//! * `authn-cert`: `POST /authn-cert/{service_id}/{account}[/{login}]/authenticate`, empty body,
//!   identity proved by the client certificate.
//!
//! The answer is the JSON access token; it is base64-encoded here (standard alphabet, no line
//! breaks) into the value of `Authorization: Token token="…"`. A compact JWT answer is used
//! as-is. The token is refreshed after the refresh interval or one minute before the expiry in
//! its payload, whichever comes first. The token cache is the token's only home: it never
//! shares a namespace with secret values.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use reqwest::StatusCode;
use strongroom_core::{
    Clock, Error, ErrorKind, Operation, Result, SecretValue, TemporaryToken, TokenCache, TokenLease,
};
use zeroize::Zeroizing;

use crate::api::{Api, Call};
use crate::config::AuthMode;
use crate::error::{PROVIDER, reply_error};

/// Classic Conjur tokens live 8 minutes (`conjur-api-ruby` `lib/conjur/base.rb`); used when a
/// token's payload names no expiry.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(8 * 60);

/// Refresh this long before the token's own expiry.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// The log-in side of a store.
pub(crate) struct Auth {
    mode: AuthMode,
    login: String,
    api_key: Option<SecretValue>,
    tokens: TokenCache<SecretValue>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("mode", &self.mode)
            .field("login", &self.login)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub(crate) fn new(
        mode: AuthMode,
        login: String,
        api_key: Option<SecretValue>,
        refresh_interval: Duration,
        clock: Arc<dyn Clock>,
    ) -> Auth {
        Auth {
            mode,
            login,
            api_key,
            tokens: TokenCache::new()
                .with_refresh_buffer(REFRESH_BEFORE_EXPIRY)
                .with_max_age(refresh_interval)
                .with_clock(Arc::clone(&clock)),
            clock,
        }
    }

    pub(crate) fn mode(&self) -> &AuthMode {
        &self.mode
    }

    /// The current token (the header value, already base64), logging in when needed.
    pub(crate) async fn token(&self, api: &Api) -> Result<TokenLease<SecretValue>> {
        self.tokens
            .get_or_refresh(|_previous| self.login(api))
            .await
    }

    /// Forgets the token of `generation` after the server rejected it.
    pub(crate) async fn invalidate(&self, generation: u64) {
        self.tokens.invalidate(generation).await;
    }

    /// How many log-ins were made.
    pub(crate) async fn logins(&self) -> u64 {
        self.tokens.logins().await
    }

    async fn login(&self, api: &Api) -> Result<TemporaryToken<SecretValue>> {
        let call = match &self.mode {
            AuthMode::ApiKey => {
                let key = self.api_key.clone().ok_or_else(|| {
                    Error::config(crate::config::ENV_API_KEY, "no API key configured")
                })?;
                Call::post(api.authn_url(&self.login), "text/plain", key)
            }
            AuthMode::AuthnCert {
                service_id,
                host_in_path,
            } => {
                let host = host_in_path.then_some(self.login.as_str());
                Call::post(
                    api.authn_cert_url(service_id, host),
                    "text/plain",
                    SecretValue::from_bytes(Vec::new()),
                )
            }
        };
        let reply = api
            .exchange(&call, None)
            .await
            .map_err(|e| e.context(PROVIDER, Operation::Auth, None))?;
        if reply.status != StatusCode::OK {
            let mut err = reply_error(&reply);
            if reply.status == StatusCode::NOT_FOUND {
                err = err.with_hint(
                    "the authenticator, account or login does not exist (is CYBERARK_ACCOUNT right?)",
                );
            }
            return Err(err.context(PROVIDER, Operation::Auth, None));
        }
        let (header_value, expires) = token_from_answer(&reply.body)
            .map_err(|e| e.context(PROVIDER, Operation::Auth, None))?;
        let expires = expires.unwrap_or_else(|| self.clock.system_now() + DEFAULT_TOKEN_LIFETIME);
        tracing::debug!(login = %self.login, "logged in to conjur");
        Ok(TemporaryToken {
            token: header_value,
            expiry: Some(self.clock.instant_at(expires)),
        })
    }
}

/// Turns an authenticate answer into the header value and the token's expiry.
///
/// * JSON token `{"protected","payload","signature"}` → base64 (standard, padded, one line) of
///   the bytes as received; expiry = `exp` of the payload (or `iat` + 8 minutes).
/// * Compact JWT (`a.b.c`) → used as-is; expiry = `exp` of its middle part.
/// * An already base64-encoded JSON token (`Accept-Encoding: base64` answer) → used as-is
///   (line breaks removed).
pub(crate) fn token_from_answer(body: &[u8]) -> Result<(SecretValue, Option<SystemTime>)> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(Error::protocol("the authenticate answer is empty"));
    }
    if trimmed.starts_with(b"{") {
        let token: serde_json::Value = serde_json::from_slice(trimmed)
            .map_err(|_| Error::protocol("the authenticate answer is not a JSON access token"))?;
        if token.get("signature").and_then(|s| s.as_str()).is_none() {
            return Err(Error::protocol(
                "the authenticate answer is JSON but not an access token (no signature)",
            ));
        }
        let exp = token
            .get("payload")
            .and_then(|p| p.as_str())
            .and_then(payload_expiry);
        let b64 = base64::engine::general_purpose::STANDARD.encode(trimmed);
        return Ok((SecretValue::from(b64), exp));
    }
    let text = std::str::from_utf8(trimmed)
        .map_err(|_| Error::protocol("the authenticate answer is neither JSON nor text"))?;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let parts: Vec<&str> = compact.split('.').collect();
    if parts.len() == 3 && parts.iter().all(|p| !p.is_empty()) {
        let exp = payload_expiry(parts[1]);
        return Ok((SecretValue::from(compact), exp));
    }
    if let Some(inner) = decode_any_base64(&compact)
        && inner.trim_ascii().starts_with(b"{")
    {
        let (_, exp) = token_from_answer(&inner)?;
        return Ok((SecretValue::from(compact), exp));
    }
    Err(Error::new(
        ErrorKind::Protocol,
        "the authenticate answer is not an access token",
    ))
}

/// `exp` (or `iat` + 8 minutes) of a base64 token payload, either alphabet, padded or not.
pub(crate) fn payload_expiry(payload_b64: &str) -> Option<SystemTime> {
    let bytes = decode_any_base64(payload_b64)?;
    let payload: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let at = |k: &str| {
        let v = payload.get(k)?;
        v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64))
    };
    if let Some(exp) = at("exp") {
        return Some(UNIX_EPOCH + Duration::from_secs(exp));
    }
    at("iat").map(|iat| UNIX_EPOCH + Duration::from_secs(iat) + DEFAULT_TOKEN_LIFETIME)
}

/// Decodes standard or URL-safe base64, padded or not, ignoring white space.
pub(crate) fn decode_any_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let cfg = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let cleaned: Zeroizing<String> = Zeroizing::new(
        text.chars()
            .filter(|c| !c.is_ascii_whitespace())
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect(),
    );
    GeneralPurpose::new(&alphabet::STANDARD, cfg)
        .decode(cleaned.as_bytes())
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

    fn payload(exp: u64) -> Vec<u8> {
        // `?>` and `~~` force the characters that differ between the two alphabets.
        format!(r#"{{"sub":"host/app?>","exp":{exp},"x":"~~~?"}}"#).into_bytes()
    }

    #[test]
    fn expiry_from_every_base64_flavour() {
        let p = payload(2_000_000_000);
        for enc in [
            STANDARD.encode(&p),
            STANDARD_NO_PAD.encode(&p),
            URL_SAFE.encode(&p),
            URL_SAFE_NO_PAD.encode(&p),
        ] {
            assert_eq!(
                payload_expiry(&enc),
                Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000)),
                "{enc}"
            );
        }
        let iat = URL_SAFE_NO_PAD.encode(br#"{"iat":1000}"#);
        assert_eq!(
            payload_expiry(&iat),
            Some(UNIX_EPOCH + Duration::from_secs(1000 + 480))
        );
        assert_eq!(payload_expiry("!!!"), None);
    }

    #[test]
    fn json_token_is_base64_encoded_on_one_line() {
        let p = URL_SAFE_NO_PAD.encode(payload(2_000_000_000));
        let body = format!(r#"{{"protected":"eyJh","payload":"{p}","signature":"c2ln"}}"#);
        // Long enough that a line-wrapping encoder would break it.
        let body = format!("{body}{}", " ".repeat(0));
        let (v, exp) = token_from_answer(body.as_bytes()).unwrap();
        let text = v.expose_str().unwrap();
        assert!(!text.contains('\n') && !text.contains('\r'));
        assert_eq!(STANDARD.decode(text).unwrap(), body.as_bytes());
        assert!(exp.is_some());
    }

    #[test]
    fn jwt_and_prencoded_tokens_are_used_as_is() {
        let p = URL_SAFE_NO_PAD.encode(payload(2_000_000_000));
        let jwt = format!("eyJhbGciOiJub25lIn0.{p}.c2ln");
        let (v, exp) = token_from_answer(jwt.as_bytes()).unwrap();
        assert_eq!(v.expose_str().unwrap(), jwt);
        assert!(exp.is_some());
        let json = format!(r#"{{"protected":"eyJh","payload":"{p}","signature":"c2ln"}}"#);
        let pre = STANDARD.encode(json.as_bytes());
        let wrapped = format!("{}\n{}\n", &pre[..20], &pre[20..]);
        let (v, exp) = token_from_answer(wrapped.as_bytes()).unwrap();
        assert_eq!(v.expose_str().unwrap(), pre);
        assert!(exp.is_some());
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        for bad in [&b""[..], b"{\"this is\": not json", b"{\"a\":1}", b"<html>"] {
            let err = token_from_answer(bad).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::Protocol);
        }
    }
}
