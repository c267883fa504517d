//! Log-in methods feeding the core [`strongroom_core::TokenCache`].
//!
//! * `access_key`, `jwt`, `aws_iam`: `POST /auth`; the token's expiry is `creds.expiry` when the
//!   answer has it (Unix seconds, or milliseconds when the number is too large to be seconds;
//!   never further away than `auth_token_ttl`), else `auth_token_ttl`.
//! * `saml`: the Akeyless CLI's cached credentials file `{dir}/{profile}-{access_id}`
//!   (`{"token": "...", "expiry": <unix seconds>}`); when missing or expired the error says which
//!   CLI command logs in again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use strongroom_core::{Clock, Error, ErrorKind, Operation, Result, SecretValue, TemporaryToken};
use zeroize::Zeroizing;

use crate::api::{Api, AuthOutput, Body, Reply};
use crate::config::{AccessType, EnvLookup, Method, Settings};
use crate::error::PROVIDER;

/// Numbers above this are milliseconds, not seconds (1e11 s is the year 5138).
const MILLIS_THRESHOLD: f64 = 1e11;

/// Logs in with the configured method.
pub(crate) struct Authenticator {
    access_id: String,
    access_type: AccessType,
    method: Method,
    profile: String,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    env: EnvLookup,
    api: Api,
    #[cfg(feature = "aws-iam")]
    aws_provider: tokio::sync::OnceCell<aws_credential_types::provider::SharedCredentialsProvider>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("access_id", &self.access_id)
            .field("access_type", &self.access_type)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub(crate) fn new(s: &Settings, api: Api) -> Self {
        Authenticator {
            access_id: s.access_id.clone(),
            access_type: s.access_type,
            method: s.method.clone(),
            profile: s.profile.clone(),
            ttl: s.auth_token_ttl,
            clock: Arc::clone(&s.clock),
            env: Arc::clone(&s.env),
            api,
            #[cfg(feature = "aws-iam")]
            aws_provider: tokio::sync::OnceCell::new(),
        }
    }

    /// One log-in.
    pub(crate) async fn login(&self) -> Result<TemporaryToken<SecretValue>> {
        let out = match &self.method {
            Method::AccessKey(key) => {
                let body = Body::new().set("access-key", key.expose_str()?);
                self.auth(body).await
            }
            Method::Jwt(var) => {
                let jwt = Zeroizing::new((self.env)(var).unwrap_or_default());
                if jwt.trim().is_empty() {
                    return Err(Error::config(
                        "jwt_env_key",
                        format!(
                            "the environment variable `{var}` holding the JWT is not set or empty"
                        ),
                    )
                    .context(PROVIDER, Operation::Auth, None));
                }
                self.auth(Body::new().set("jwt", jwt.trim())).await
            }
            Method::Saml(dir) => self.saml(dir),
            #[cfg(feature = "aws-iam")]
            Method::AwsIam(creds) => {
                let creds = match creds {
                    Some(c) => c.clone(),
                    None => self.default_chain_credentials().await?,
                };
                let cloud_id = aws::cloud_id(&creds, self.clock.system_now())?;
                self.auth(Body::new().set("cloud-id", cloud_id.expose_str()?))
                    .await
            }
        };
        out.map_err(|e| e.context(PROVIDER, Operation::Auth, None))
    }

    async fn auth(&self, mut body: Body) -> Result<TemporaryToken<SecretValue>> {
        body.put("access-id", self.access_id.as_str());
        body.put("access-type", self.access_type.as_str());
        let bytes = body.to_bytes();
        drop(body);
        let reply = self.api.post("auth", &bytes, true).await?;
        if !reply.is_success() {
            let err = reply.error();
            return Err(if err.kind() == &ErrorKind::Unauthorized {
                err.with_hint(format!(
                    "Akeyless refused the {} log-in of access id `{}`: check the credentials and the auth method",
                    self.access_type, self.access_id
                ))
            } else {
                err
            });
        }
        token_from_reply(&reply, self.ttl, &*self.clock)
    }

    fn saml_hint(&self) -> String {
        format!(
            "log in with the Akeyless CLI, e.g. `akeyless auth --access-id {id} --access-type saml --profile {p}` \
             (or any CLI command with `--profile {p}`, such as `akeyless list-items --profile {p} --path /`), then retry",
            id = self.access_id,
            p = self.profile
        )
    }

    fn saml(&self, dir: &Path) -> Result<TemporaryToken<SecretValue>> {
        let path: PathBuf = dir.join(format!("{}-{}", self.profile, self.access_id));
        let unauthorized =
            |why: String| Error::new(ErrorKind::Unauthorized, why).with_hint(self.saml_hint());
        let text = match std::fs::read(&path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(unauthorized(format!(
                    "no cached SAML credentials for profile `{}` at `{}`",
                    self.profile,
                    path.display()
                )));
            }
            Err(e) => {
                return Err(unauthorized(format!(
                    "cannot read the cached SAML credentials `{}`: {}",
                    path.display(),
                    e.kind()
                )));
            }
        };
        let doc = serde_json::from_slice::<Value>(&text)
            .ok()
            .map(crate::api::Wiped);
        let token = doc
            .as_ref()
            .and_then(|d| d.0.get("token"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(unauthorized(format!(
                "the cached SAML credentials `{}` hold no token",
                path.display()
            )));
        };
        let raw = doc.as_ref().and_then(|d| d.0.get("expiry"));
        let now = self.clock.now();
        let expiry = match raw.and_then(expiry_system_time) {
            Some(at) if at <= self.clock.system_now() => {
                return Err(unauthorized(format!(
                    "the cached SAML credentials for profile `{}` have expired",
                    self.profile
                )));
            }
            _ => token_expiry(raw, self.ttl, &*self.clock),
        };
        debug_assert!(expiry >= now);
        Ok(TemporaryToken {
            token: SecretValue::from(token.to_string()),
            expiry: Some(expiry),
        })
    }

    #[cfg(feature = "aws-iam")]
    async fn default_chain_credentials(&self) -> Result<aws_credential_types::Credentials> {
        use aws_credential_types::provider::ProvideCredentials;
        let provider = self
            .aws_provider
            .get_or_try_init(|| async {
                let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new("us-east-1"))
                    .load()
                    .await;
                conf.credentials_provider().ok_or_else(|| {
                    Error::new(
                        ErrorKind::Unauthorized,
                        "the AWS default credential chain is empty",
                    )
                })
            })
            .await?;
        provider.provide_credentials().await.map_err(|e| {
            Error::new(
                ErrorKind::Unauthorized,
                "no AWS credentials from the default chain (environment, profile, web identity, ECS, IMDS)",
            )
            .with_source(e)
        })
    }
}

/// A number (or numeric string) from `creds.expiry` as a wall-clock time: Unix seconds, or
/// milliseconds when too large to be seconds. `None` for anything else or non-positive.
fn expiry_system_time(raw: &Value) -> Option<SystemTime> {
    let n = match raw {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    let secs = if n > MILLIS_THRESHOLD { n / 1000.0 } else { n };
    if secs > 1e12 {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_secs_f64(secs))
}

/// The token of a successful `/auth` answer and when it expires.
pub(crate) fn token_from_reply(
    reply: &Reply,
    ttl: Duration,
    clock: &dyn Clock,
) -> Result<TemporaryToken<SecretValue>> {
    let mut out: AuthOutput = reply.json("auth")?;
    let token = out
        .token
        .take()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::protocol("the `/auth` answer has no token"))?;
    let raw = out.creds.as_ref().and_then(|c| c.expiry.as_ref());
    let expiry = token_expiry(raw, ttl, clock);
    Ok(TemporaryToken {
        token: SecretValue::from(token),
        expiry: Some(expiry),
    })
}

/// When a token from `/auth` expires: `creds.expiry` when usable, never later than
/// `now + ttl`; `now + ttl` when absent, unreadable or already past (a unit we don't know).
pub(crate) fn token_expiry(raw: Option<&Value>, ttl: Duration, clock: &dyn Clock) -> Instant {
    let now = clock.now();
    let Some(at) = raw.and_then(expiry_system_time) else {
        return now + ttl;
    };
    match at.duration_since(clock.system_now()) {
        Ok(ahead) if !ahead.is_zero() => now + ahead.min(ttl),
        _ => {
            tracing::debug!("ignoring a creds.expiry that is already past; using auth_token_ttl");
            now + ttl
        }
    }
}

/// Builds the AWS IAM `cloud-id` (base64 JSON of a SigV4-signed, unsent STS
/// `GetCallerIdentity` request for us-east-1) from `credentials`, signed at `at`. The result
/// is a credential: keep it secret.
#[cfg(feature = "aws-iam")]
pub fn aws_iam_cloud_id(
    credentials: &aws_credential_types::Credentials,
    at: SystemTime,
) -> Result<SecretValue> {
    aws::cloud_id(credentials, at)
}

/// AWS IAM `cloud-id`: a SigV4-signed (never sent) STS `GetCallerIdentity` request.
#[cfg(feature = "aws-iam")]
pub(crate) mod aws {
    use std::collections::BTreeMap;
    use std::time::SystemTime;

    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    use aws_smithy_runtime_api::client::identity::Identity;
    use base64::Engine as _;
    use strongroom_core::{Error, ErrorKind, Result, SecretValue};
    use zeroize::Zeroizing;

    /// The global STS endpoint Akeyless expects (region us-east-1).
    pub(crate) const STS_URL: &str = "https://sts.amazonaws.com/";
    /// The GetCallerIdentity form body.
    pub(crate) const STS_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
    const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

    fn signing_error(_: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorKind::Config,
            "could not sign the STS GetCallerIdentity request",
        )
    }

    /// `base64(JSON{sts_request_method, sts_request_url: b64, sts_request_body: b64,
    /// sts_request_headers: b64(JSON{header: [values]})})`, signed at `at` with `creds`.
    pub(crate) fn cloud_id(
        creds: &aws_credential_types::Credentials,
        at: SystemTime,
    ) -> Result<SecretValue> {
        let identity: Identity = creds.clone().into();
        let base = [
            ("Content-Type", CONTENT_TYPE),
            ("Host", "sts.amazonaws.com"),
        ];
        let signable = SignableRequest::new(
            "POST",
            STS_URL,
            base.iter().copied(),
            SignableBody::Bytes(STS_BODY.as_bytes()),
        )
        .map_err(signing_error)?;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("sts")
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .map_err(signing_error)?
            .into();
        let (instructions, _signature) =
            sign(signable, &params).map_err(signing_error)?.into_parts();
        // Go's http.Header shape (canonical names → list of values); Host travels in the URL.
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        headers.insert("Content-Type".into(), vec![CONTENT_TYPE.into()]);
        for (name, value) in instructions.headers() {
            headers.insert(canonical(name), vec![value.to_string()]);
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let headers_json = Zeroizing::new(serde_json::to_vec(&headers).unwrap_or_default());
        for v in headers.values_mut().flatten() {
            zeroize::Zeroize::zeroize(v);
        }
        let doc = serde_json::json!({
            "sts_request_method": "POST",
            "sts_request_url": b64.encode(STS_URL),
            "sts_request_body": b64.encode(STS_BODY),
            "sts_request_headers": b64.encode(&*headers_json),
        });
        let doc = crate::api::Wiped(doc);
        let json = Zeroizing::new(serde_json::to_vec(&doc.0).unwrap_or_default());
        Ok(SecretValue::from(b64.encode(&*json)))
    }

    /// `x-amz-date` → `X-Amz-Date`.
    fn canonical(name: &str) -> String {
        name.split('-')
            .map(|part| {
                let mut c = part.chars();
                match c.next() {
                    Some(f) => {
                        f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase()
                    }
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join("-")
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use serde_json::Value;
        use std::time::{Duration, UNIX_EPOCH};

        #[test]
        fn cloud_id_decodes_to_a_signed_sts_request() {
            let creds = aws_credential_types::Credentials::new(
                "AKIDEXAMPLE",
                "sr-aws-secret-key-do-not-leak",
                Some("sr-session-token".into()),
                None,
                "static",
            );
            let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023-11-14T22:13:20Z
            let id = cloud_id(&creds, at).unwrap();
            let b64 = base64::engine::general_purpose::STANDARD;
            let outer: Value =
                serde_json::from_slice(&b64.decode(id.expose_secret()).unwrap()).unwrap();
            assert_eq!(outer["sts_request_method"], "POST");
            let url = b64
                .decode(outer["sts_request_url"].as_str().unwrap())
                .unwrap();
            assert_eq!(url, b"https://sts.amazonaws.com/");
            let body = b64
                .decode(outer["sts_request_body"].as_str().unwrap())
                .unwrap();
            assert_eq!(body, b"Action=GetCallerIdentity&Version=2011-06-15");
            let headers: Value = serde_json::from_slice(
                &b64.decode(outer["sts_request_headers"].as_str().unwrap())
                    .unwrap(),
            )
            .unwrap();
            let auth = headers["Authorization"][0].as_str().unwrap();
            assert!(
                auth.starts_with(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/sts/aws4_request"
                ),
                "{auth}"
            );
            assert!(
                auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"),
                "{auth}"
            );
            assert!(auth.contains("Signature="));
            assert_eq!(headers["X-Amz-Date"][0], "20231114T221320Z");
            assert_eq!(headers["X-Amz-Security-Token"][0], "sr-session-token");
            assert_eq!(headers["Content-Type"][0], CONTENT_TYPE);
            let all = String::from_utf8(b64.decode(id.expose_secret()).unwrap()).unwrap();
            assert!(!all.contains("sr-aws-secret-key-do-not-leak"));
            assert!(
                !String::from_utf8_lossy(
                    &b64.decode(outer["sts_request_headers"].as_str().unwrap())
                        .unwrap()
                )
                .contains("sr-aws-secret-key-do-not-leak")
            );
        }

        #[test]
        fn signing_is_deterministic_for_a_given_time() {
            let creds =
                aws_credential_types::Credentials::new("AKID", "secret", None, None, "static");
            let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            assert_eq!(cloud_id(&creds, at).unwrap(), cloud_id(&creds, at).unwrap());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use strongroom_core::ManualClock;

    fn secs(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn expiry_in_seconds_millis_capped_and_fallbacks() {
        let clock = ManualClock::new();
        let ttl = Duration::from_secs(3600);
        let now = clock.now();
        let now_s = secs(clock.system_now());
        // Seconds, 10 minutes out.
        let e = token_expiry(Some(&json!(now_s + 600)), ttl, &clock);
        assert!((e - now).as_secs().abs_diff(600) <= 1);
        // Milliseconds, 10 minutes out.
        let e = token_expiry(Some(&json!((now_s + 600) * 1000)), ttl, &clock);
        assert!((e - now).as_secs().abs_diff(600) <= 1);
        // A numeric string.
        let e = token_expiry(Some(&json!((now_s + 600).to_string())), ttl, &clock);
        assert!((e - now).as_secs().abs_diff(600) <= 1);
        // Further away than the TTL: capped.
        let e = token_expiry(Some(&json!(now_s + 86_400)), ttl, &clock);
        assert_eq!(e - now, ttl);
        // Absent, garbage, past, zero: the TTL.
        for raw in [
            None,
            Some(json!("soon")),
            Some(json!(3600)),
            Some(json!(0)),
            Some(json!(-5)),
        ] {
            assert_eq!(
                token_expiry(raw.as_ref(), ttl, &clock) - now,
                ttl,
                "{raw:?}"
            );
        }
    }
}
