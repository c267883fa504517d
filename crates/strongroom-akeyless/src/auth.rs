//! Credentials, the log-in methods and the token cache.
//!
//! * `access_key`, `jwt`, `aws_iam`: `POST /auth`; the token's expiry is `creds.expiry` when the
//!   answer has it (Unix seconds, or milliseconds when the number is too large to be seconds;
//!   never further away than `auth_token_ttl`), else `auth_token_ttl`.
//! * `saml`: the Akeyless CLI's cached credentials file `{dir}/{profile}-{access_id}`
//!   (`{"token": "...", "expiry": <unix seconds>}`), re-read whenever it changes on disk and
//!   whenever the token it held expired or was refused. When it cannot give a live token the
//!   error names the CLI command that refreshes it.
//!
//! Every data call goes through [`Auth::call`]: the token from the core [`TokenCache`], and
//! when the server refuses it (401) one new log-in and one retry
//! ([`TokenCache::call_with_relogin`]).

use std::future::Future;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use strongroom_core::{
    Clock, Error, ErrorKind, Identity, Operation, Result, SecretValue, TemporaryToken, TokenCache,
    WipedJson,
};
use zeroize::Zeroizing;

use crate::api::{Api, AuthAnswer, Body, is_token_refused};
use crate::config::{AccessType, EnvLookup};
use crate::error::PROVIDER;

/// Numbers above this are milliseconds, not seconds (1e11 s is the year 5138).
const MILLIS_THRESHOLD: f64 = 1e11;
/// The CLI's credentials file is a small JSON document; anything larger is not it.
const MAX_CREDS_FILE: u64 = 64 * 1024;

/// The log-in method with what it needs.
pub(crate) enum Method {
    /// `access-id` + `access-key`.
    AccessKey(SecretValue),
    /// The JWT is read from this environment variable at each log-in.
    Jwt(String),
    /// The Akeyless CLI's cached SAML credentials.
    Saml(SamlCreds),
    /// A SigV4-signed STS request; static credentials or the AWS default chain.
    #[cfg(feature = "aws-iam")]
    AwsIam(Option<aws_credential_types::Credentials>),
}

/// What makes a file "changed": its modification time and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

impl Stamp {
    fn of(path: &std::path::Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
        })
    }
}

/// The Akeyless CLI's SAML credentials file for one profile and access id.
pub(crate) struct SamlCreds {
    path: PathBuf,
    profile: String,
    /// The file as it was when last read (`None` before the first read).
    read: Mutex<Option<Option<Stamp>>>,
    /// A digest of the last token the server refused, so it is not offered again.
    refused: Mutex<Option<Identity>>,
}

impl SamlCreds {
    pub(crate) fn new(dir: PathBuf, profile: &str, access_id: &str) -> SamlCreds {
        SamlCreds {
            path: dir.join(format!("{profile}-{access_id}")),
            profile: profile.to_owned(),
            read: Mutex::new(None),
            refused: Mutex::new(None),
        }
    }

    /// Whether the file changed on disk since it was last read.
    fn changed(&self) -> bool {
        let read = *self.read.lock().unwrap_or_else(|e| e.into_inner());
        read.is_some_and(|stamp| stamp != Stamp::of(&self.path))
    }

    fn note_refused(&self, token: &SecretValue) {
        *self.refused.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Identity::of(&[token.expose_secret()]));
    }

    /// The exact command that makes the CLI log in again and rewrite the file. When the file
    /// holds a dead token it is removed first, so the CLI cannot reuse it.
    fn refresh_command(&self, remove_first: bool) -> String {
        let list = format!("akeyless list-items --profile {} --path /", self.profile);
        if remove_first {
            format!("rm -f '{}' && {list}", self.path.display())
        } else {
            list
        }
    }

    fn unauthorized(&self, why: String, remove_first: bool) -> Error {
        Error::new(ErrorKind::Unauthorized, why).with_hint(format!(
            "refresh the Akeyless CLI's SAML log-in with `{}` (it opens your browser and rewrites `{}`); \
             the next call picks the new token up",
            self.refresh_command(remove_first),
            self.path.display()
        ))
    }

    /// Reads the file: its token and the expiry it states.
    fn load(&self, ttl: Duration, clock: &dyn Clock) -> Result<TemporaryToken<SecretValue>> {
        let stamp = Stamp::of(&self.path);
        *self.read.lock().unwrap_or_else(|e| e.into_inner()) = Some(stamp);
        let text = match read_capped(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.unauthorized(
                    format!(
                        "no cached SAML credentials for profile `{}` at `{}`",
                        self.profile,
                        self.path.display()
                    ),
                    false,
                ));
            }
            Err(e) => {
                return Err(self.unauthorized(
                    format!(
                        "cannot read the cached SAML credentials `{}`: {}",
                        self.path.display(),
                        e.kind()
                    ),
                    false,
                ));
            }
        };
        let doc = serde_json::from_slice::<WipedJson>(&text).ok();
        let token = doc
            .as_ref()
            .and_then(|d| d.0.get("token"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(self.unauthorized(
                format!(
                    "the cached SAML credentials `{}` hold no token",
                    self.path.display()
                ),
                true,
            ));
        };
        let refused = *self.refused.lock().unwrap_or_else(|e| e.into_inner());
        if refused == Some(Identity::of(&[token.as_bytes()])) {
            return Err(self.unauthorized(
                format!(
                    "Akeyless refused the SAML token the CLI cached for profile `{}` (expired or revoked), \
                     and `{}` still holds it",
                    self.profile,
                    self.path.display()
                ),
                true,
            ));
        }
        let raw = doc.as_ref().and_then(|d| d.0.get("expiry"));
        if let Some(at) = raw.and_then(expiry_system_time)
            && at <= clock.system_now()
        {
            return Err(self.unauthorized(
                format!(
                    "the SAML token the Akeyless CLI cached for profile `{}` expired at {}",
                    self.profile,
                    humantime::format_rfc3339_seconds(at)
                ),
                true,
            ));
        }
        Ok(TemporaryToken {
            token: SecretValue::from(token),
            expiry: Some(token_expiry(raw, ttl, clock)),
        })
    }
}

fn read_capped(path: &std::path::Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let mut buf = Zeroizing::new(Vec::new());
    file.take(MAX_CREDS_FILE + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_CREDS_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "larger than a credentials file",
        ));
    }
    Ok(buf)
}

/// Logs in with the configured method and keeps the token.
pub(crate) struct Auth {
    access_id: String,
    access_type: AccessType,
    method: Method,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    env: EnvLookup,
    api: Api,
    tokens: TokenCache<SecretValue>,
    #[cfg(feature = "aws-iam")]
    aws_provider: tokio::sync::OnceCell<aws_credential_types::provider::SharedCredentialsProvider>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("access_id", &self.access_id)
            .field("access_type", &self.access_type)
            .finish_non_exhaustive()
    }
}

/// What [`Auth::new`] needs.
pub(crate) struct AuthSettings {
    pub(crate) access_id: String,
    pub(crate) access_type: AccessType,
    pub(crate) method: Method,
    pub(crate) ttl: Duration,
    pub(crate) refresh_buffer: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) env: EnvLookup,
}

impl Auth {
    pub(crate) fn new(s: AuthSettings, api: Api) -> Auth {
        let tokens = TokenCache::new()
            .with_refresh_buffer(s.refresh_buffer)
            .with_clock(Arc::clone(&s.clock));
        Auth {
            access_id: s.access_id,
            access_type: s.access_type,
            method: s.method,
            ttl: s.ttl,
            clock: s.clock,
            env: s.env,
            api,
            tokens,
            #[cfg(feature = "aws-iam")]
            aws_provider: tokio::sync::OnceCell::new(),
        }
    }

    /// How many log-ins (or SAML file reads that produced a token) so far.
    pub(crate) async fn logins(&self) -> u64 {
        self.tokens.logins().await
    }

    /// Runs `f` with a token; when the server refuses it, one new log-in and one retry.
    pub(crate) async fn call<R, F, Fut>(&self, f: F) -> Result<R>
    where
        F: Fn(SecretValue) -> Fut,
        Fut: Future<Output = Result<R>>,
    {
        let saml = match &self.method {
            Method::Saml(s) => Some(s),
            _ => None,
        };
        if saml.is_some_and(SamlCreds::changed) {
            // The CLI logged in again (or the file went away): drop the cached token now
            // rather than after a refused call.
            self.tokens.clear().await;
        }
        self.tokens
            .call_with_relogin(
                |_previous| self.login(),
                |token: SecretValue| {
                    let fut = f(token.clone());
                    async move {
                        let out = fut.await;
                        if let Some(s) = saml
                            && is_token_refused(&out)
                        {
                            s.note_refused(&token);
                        }
                        out
                    }
                },
                is_token_refused,
            )
            .await
    }

    /// One log-in.
    async fn login(&self) -> Result<TemporaryToken<SecretValue>> {
        let out = match &self.method {
            Method::AccessKey(key) => {
                self.auth(Body::new().set("access-key", key.expose_str()?))
                    .await
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
            Method::Saml(creds) => creds.load(self.ttl, &*self.clock),
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

    async fn auth(&self, body: Body) -> Result<TemporaryToken<SecretValue>> {
        let body = body
            .set("access-id", self.access_id.as_str())
            .set("access-type", self.access_type.as_str());
        let AuthAnswer { token, expiry } = self.api.auth(body).await.map_err(|err| {
            if err.kind() == &ErrorKind::Unauthorized {
                err.with_hint(format!(
                    "Akeyless refused the {} log-in of access id `{}`: check the credentials and the auth method",
                    self.access_type, self.access_id
                ))
            } else {
                err
            }
        })?;
        Ok(TemporaryToken {
            token,
            expiry: Some(token_expiry(expiry.as_ref(), self.ttl, &*self.clock)),
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

/// When a token expires: `raw` (`creds.expiry`) when usable, never later than `now + ttl`;
/// `now + ttl` when absent, unreadable or already past (a unit we don't know).
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
mod aws {
    use std::collections::BTreeMap;
    use std::time::SystemTime;

    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    use aws_smithy_runtime_api::client::identity::Identity;
    use base64::Engine as _;
    use strongroom_core::{Error, ErrorKind, Result, SecretValue, WipedJson};
    use zeroize::Zeroizing;

    /// The global STS endpoint Akeyless expects (region us-east-1).
    const STS_URL: &str = "https://sts.amazonaws.com/";
    /// The GetCallerIdentity form body.
    const STS_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
    const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

    fn signing_error(_: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorKind::Config,
            "could not sign the STS GetCallerIdentity request",
        )
    }

    /// `base64(JSON{sts_request_method, sts_request_url: b64, sts_request_body: b64,
    /// sts_request_headers: b64(JSON{header: [values]})})`, signed at `at` with `creds`.
    pub(super) fn cloud_id(
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
        let doc = WipedJson(serde_json::json!({
            "sts_request_method": "POST",
            "sts_request_url": b64.encode(STS_URL),
            "sts_request_body": b64.encode(STS_BODY),
            "sts_request_headers": b64.encode(&*headers_json),
        }));
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

    #[test]
    fn saml_refresh_command_names_the_profile_and_file() {
        let creds = SamlCreds::new(
            PathBuf::from("/home/u/.akeyless/.tmp_creds"),
            "team-a",
            "p-1",
        );
        assert_eq!(
            creds.refresh_command(false),
            "akeyless list-items --profile team-a --path /"
        );
        assert_eq!(
            creds.refresh_command(true),
            "rm -f '/home/u/.akeyless/.tmp_creds/team-a-p-1' && akeyless list-items --profile team-a --path /"
        );
    }
}
