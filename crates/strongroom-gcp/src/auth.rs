//! Credentials, log-in methods and the token cache: Application Default Credentials.
//!
//! Where the token comes from, first match wins (see `docs/gcp.md`):
//! 1. a configured `access_token` (used as is),
//! 2. the credentials file (`GCS_PATH_SERVICE_ACCOUNT`, `GOOGLE_APPLICATION_CREDENTIALS`):
//!    * `service_account`: an RS256-signed JWT (`iss` = the client email, `aud` = its
//!      `token_uri`) exchanged at `token_uri` (`grant_type=…jwt-bearer`),
//!    * `authorized_user` (gcloud's ADC file): the refresh token at `token_uri`,
//!    * `external_account` (workload identity federation): a subject token from a file or a
//!      URL, exchanged at STS (`grant_type=…token-exchange`), then, when the file names a
//!      service account to impersonate, `generateAccessToken`,
//! 3. the metadata server (GCE, GKE, Cloud Run).
//!
//! Tokens live in the core [`TokenCache`] and are renewed ahead of expiry ([`renew_after`]);
//! a call whose token is refused (401) makes one new log-in and one retry.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use strongroom_core::provider::wipe_json;
use strongroom_core::{Clock, Error, ErrorKind, Result, SecretValue, TemporaryToken, TokenCache};
use zeroize::Zeroizing;

use crate::api::{Api, IssuedToken, SCOPE};

/// Google's OAuth 2.0 token endpoint (the default `token_uri`).
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Renew this long before a token's expiry at most (google-auth's refresh threshold).
pub const REFRESH_AHEAD: Duration = Duration::from_secs(225);
/// The lifetime asked of impersonated tokens when the file names none.
const DEFAULT_IMPERSONATION_LIFETIME: Duration = Duration::from_secs(3600);
/// Largest credentials or subject-token file read.
const MAX_FILE_BYTES: u64 = 64 * 1024;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// How long a token of `lifetime` is used: `lifetime` minus [`REFRESH_AHEAD`], or minus a
/// fifth of it when that is less (a metadata token handed out with five minutes left is still
/// reused, not renewed before every call).
///
/// ```
/// use std::time::Duration;
/// use strongroom_gcp::renew_after;
/// assert_eq!(renew_after(Duration::from_secs(3600)), Duration::from_secs(3375));
/// assert_eq!(renew_after(Duration::from_secs(300)), Duration::from_secs(240));
/// ```
pub fn renew_after(lifetime: Duration) -> Duration {
    strongroom_core::provider::renew_after(lifetime, REFRESH_AHEAD)
}

/// A service-account key.
pub(crate) struct ServiceAccount {
    pub(crate) email: String,
    pub(crate) key_id: Option<String>,
    pub(crate) key: RsaKeyPair,
    pub(crate) token_uri: String,
}

/// gcloud's user credentials (`gcloud auth application-default login`).
pub(crate) struct AuthorizedUser {
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretValue,
    pub(crate) refresh_token: SecretValue,
    pub(crate) token_uri: String,
}

/// Where an external account's subject token comes from.
#[derive(Debug, Clone)]
pub(crate) enum SubjectSource {
    /// A file, read at each log-in (Kubernetes rotates it).
    File {
        path: PathBuf,
        field: Option<String>,
    },
    /// `GET url` with headers (the Azure instance metadata service, …).
    Url {
        url: String,
        local: bool,
        headers: Vec<(String, String)>,
        field: Option<String>,
    },
}

/// Workload identity federation.
#[derive(Debug, Clone)]
pub(crate) struct ExternalAccount {
    pub(crate) audience: String,
    pub(crate) subject_token_type: String,
    pub(crate) token_url: String,
    pub(crate) impersonation_url: Option<String>,
    pub(crate) impersonation_lifetime: Duration,
    pub(crate) source: SubjectSource,
}

/// Where tokens come from.
pub(crate) enum Source {
    Static(SecretValue),
    ServiceAccount(ServiceAccount),
    AuthorizedUser(AuthorizedUser),
    External(ExternalAccount),
    /// The metadata server's base URL (no trailing `/`).
    Metadata(String),
}

impl Source {
    /// A label for `Debug` and logs.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Source::Static(_) => "access_token",
            Source::ServiceAccount(_) => "service_account",
            Source::AuthorizedUser(_) => "authorized_user",
            Source::External(_) => "external_account",
            Source::Metadata(_) => "metadata_server",
        }
    }

    /// Who asks: the parts of the store's [`strongroom_core::Identity`].
    pub(crate) fn identity(&self) -> Vec<Vec<u8>> {
        match self {
            Source::Static(t) => vec![b"gcp-token".to_vec(), t.expose_secret().to_vec()],
            Source::ServiceAccount(sa) => vec![b"gcp-sa".to_vec(), sa.email.clone().into_bytes()],
            Source::AuthorizedUser(u) => vec![
                b"gcp-user".to_vec(),
                u.client_id.clone().into_bytes(),
                u.refresh_token.expose_secret().to_vec(),
            ],
            Source::External(e) => vec![
                b"gcp-external".to_vec(),
                e.audience.clone().into_bytes(),
                e.impersonation_url.clone().unwrap_or_default().into_bytes(),
            ],
            Source::Metadata(base) => vec![b"gcp-metadata".to_vec(), base.clone().into_bytes()],
        }
    }
}

/// Reads a file of at most [`MAX_FILE_BYTES`].
fn read_small(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let len = std::fs::metadata(path)?.len();
    if len > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "the file is {len} bytes; at most {MAX_FILE_BYTES} are read"
        )));
    }
    std::fs::read(path).map(Zeroizing::new)
}

/// Validates a credential-source URL: `(url, whether it is local)`.
pub(crate) type LocalUrlCheck<'a> = &'a dyn Fn(&str, &str) -> Result<(String, bool)>;

/// What a credentials file holds, and the project it names (service accounts).
pub(crate) struct LoadedFile {
    pub(crate) source: Source,
    pub(crate) project_id: Option<String>,
}

/// Reads and checks a credentials file. `url` validates each URL the file names (`what` is
/// the field) under the transport rules, `local_url` a credential source URL (which may be
/// plaintext to a link-local or loopback host); `problem` makes the error naming the setting.
pub(crate) fn load_credentials_file(
    path: &Path,
    url: &dyn Fn(&str, &str) -> Result<String>,
    local_url: LocalUrlCheck<'_>,
    problem: &dyn Fn(String) -> Error,
) -> Result<LoadedFile> {
    let bytes =
        read_small(path).map_err(|e| problem(format!("cannot read `{}`: {e}", path.display())))?;
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
        problem(format!(
            "`{}` is not a JSON credentials file",
            path.display()
        ))
    })?;
    let loaded = parse_credentials(&v, url, local_url, problem);
    wipe_json(&mut v);
    loaded
}

fn parse_credentials(
    v: &serde_json::Value,
    url: &dyn Fn(&str, &str) -> Result<String>,
    local_url: LocalUrlCheck<'_>,
    problem: &dyn Fn(String) -> Error,
) -> Result<LoadedFile> {
    let text = |k: &str| v[k].as_str().map(str::to_owned).filter(|s| !s.is_empty());
    let need =
        |k: &str| text(k).ok_or_else(|| problem(format!("the credentials file has no `{k}`")));
    match v["type"].as_str() {
        Some("service_account") => {
            let pem = need("private_key")?;
            let key = rsa_key(pem.as_bytes()).map_err(problem)?;
            let token_uri = text("token_uri").unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
            Ok(LoadedFile {
                source: Source::ServiceAccount(ServiceAccount {
                    email: need("client_email")?,
                    key_id: text("private_key_id"),
                    key,
                    token_uri: url("token_uri", &token_uri)?,
                }),
                project_id: text("project_id"),
            })
        }
        Some("authorized_user") => {
            let token_uri = text("token_uri").unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
            Ok(LoadedFile {
                source: Source::AuthorizedUser(AuthorizedUser {
                    client_id: need("client_id")?,
                    client_secret: SecretValue::from(need("client_secret")?),
                    refresh_token: SecretValue::from(need("refresh_token")?),
                    token_uri: url("token_uri", &token_uri)?,
                }),
                project_id: text("quota_project_id"),
            })
        }
        Some("external_account") => {
            let cs = &v["credential_source"];
            let format_field = match cs["format"]["type"].as_str() {
                None | Some("text") => None,
                Some("json") => Some(
                    cs["format"]["subject_token_field_name"]
                        .as_str()
                        .filter(|f| !f.is_empty())
                        .ok_or_else(|| {
                            problem("`credential_source.format` is json but names no `subject_token_field_name`".into())
                        })?
                        .to_owned(),
                ),
                Some(other) => {
                    return Err(problem(format!(
                        "`credential_source.format.type` `{}` is neither text nor json",
                        strongroom_core::provider::http::sanitize(other)
                    )));
                }
            };
            let source = if let Some(file) = cs["file"].as_str() {
                SubjectSource::File {
                    path: PathBuf::from(file),
                    field: format_field,
                }
            } else if let Some(u) = cs["url"].as_str() {
                let (u, local) = local_url("credential_source.url", u)?;
                let headers = cs["headers"]
                    .as_object()
                    .map(|h| {
                        h.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                            .collect()
                    })
                    .unwrap_or_default();
                SubjectSource::Url {
                    url: u,
                    local,
                    headers,
                    field: format_field,
                }
            } else if cs.get("executable").is_some() || cs.get("environment_id").is_some() {
                return Err(Error::unsupported(
                    "this external account takes its subject token from an executable or from AWS, which Strongroom does not run",
                    "use a file- or URL-sourced credential configuration (gcloud iam workload-identity-pools create-cred-config --credential-source-file / --credential-source-url)",
                )
                .with_provider(crate::error::PROVIDER));
            } else {
                return Err(problem(
                    "the external account's `credential_source` has neither `file` nor `url`"
                        .into(),
                ));
            };
            let lifetime = v["service_account_impersonation"]["token_lifetime_seconds"]
                .as_u64()
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_IMPERSONATION_LIFETIME);
            let impersonation_url = match text("service_account_impersonation_url") {
                Some(u) => Some(url("service_account_impersonation_url", &u)?),
                None => None,
            };
            Ok(LoadedFile {
                source: Source::External(ExternalAccount {
                    audience: need("audience")?,
                    subject_token_type: need("subject_token_type")?,
                    token_url: url("token_url", &need("token_url")?)?,
                    impersonation_url,
                    impersonation_lifetime: lifetime,
                    source,
                }),
                project_id: None,
            })
        }
        Some(other) => Err(problem(format!(
            "credentials of type `{}` are not supported (service_account, authorized_user and external_account are)",
            strongroom_core::provider::http::sanitize(other)
        ))),
        None => Err(problem("the credentials file has no `type`".into())),
    }
}

/// An RSA private key from PEM (PKCS#8, as Google issues them, or PKCS#1).
fn rsa_key(pem: &[u8]) -> std::result::Result<RsaKeyPair, String> {
    let der = PrivateKeyDer::from_pem_slice(pem)
        .map_err(|_| "the `private_key` is not a PEM private key".to_owned())?;
    let key = match &der {
        PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
        _ => return Err("the `private_key` is not an RSA key".to_owned()),
    };
    key.map_err(|_| "the `private_key` is not a usable RSA key".to_owned())
}

/// The signed JWT a service account exchanges for a token (RFC 7523): header
/// `{"alg":"RS256","typ":"JWT","kid":…}`, claims `iss`, `scope`, `aud` (the token URI), `iat`,
/// `exp` (one hour later).
pub(crate) fn assertion(sa: &ServiceAccount, now_unix: u64) -> Result<Zeroizing<String>> {
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = &sa.key_id {
        header["kid"] = serde_json::json!(kid);
    }
    let claims = serde_json::json!({
        "iss": sa.email,
        "scope": SCOPE,
        "aud": sa.token_uri,
        "iat": now_unix,
        "exp": now_unix + 3600,
    });
    let mut out = Zeroizing::new(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    ));
    let mut sig = vec![0u8; sa.key.public_modulus_len()];
    sa.key
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            out.as_bytes(),
            &mut sig,
        )
        .map_err(|_| Error::new(ErrorKind::Config, "signing the service-account JWT failed"))?;
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(sig));
    Ok(out)
}

/// The log-in side of a store.
pub(crate) struct Auth {
    source: Source,
    tokens: TokenCache<SecretValue>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Auth");
        d.field("source", &self.source.kind());
        if let Source::ServiceAccount(sa) = &self.source {
            d.field("client_email", &sa.email);
        }
        d.finish_non_exhaustive()
    }
}

impl Auth {
    pub(crate) fn new(source: Source, clock: Arc<dyn Clock>) -> Auth {
        Auth {
            source,
            // The renewal point is folded into each token's expiry (see `login`).
            tokens: TokenCache::new()
                .with_refresh_buffer(Duration::ZERO)
                .with_clock(Arc::clone(&clock)),
            clock,
        }
    }

    pub(crate) fn source(&self) -> &Source {
        &self.source
    }

    /// Runs `call` with the current token (logging in when needed); a 401 answer makes one
    /// new log-in and one retry, a second 401 goes back to the caller.
    pub(crate) async fn call<R, F, Fut>(&self, api: &Api, call: F) -> Result<R>
    where
        F: Fn(SecretValue) -> Fut,
        Fut: Future<Output = Result<R>>,
    {
        self.tokens
            .call_with_relogin(
                |_previous| self.login(api),
                call,
                strongroom_core::provider::refused,
            )
            .await
    }

    /// How many log-ins were made.
    pub(crate) async fn logins(&self) -> u64 {
        self.tokens.logins().await
    }

    async fn login(&self, api: &Api) -> Result<TemporaryToken<SecretValue>> {
        let sent_at = self.clock.now();
        let issued = match &self.source {
            Source::Static(token) => {
                return Ok(TemporaryToken {
                    token: token.clone(),
                    expiry: None,
                });
            }
            Source::ServiceAccount(sa) => {
                // The server checks iat/exp against its wall clock, not ours to fake.
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                let jwt = assertion(sa, now)?;
                api.token_form(
                    &sa.token_uri,
                    &[
                        ("grant_type", JWT_BEARER.as_bytes()),
                        ("assertion", jwt.as_bytes()),
                    ],
                )
                .await?
            }
            Source::AuthorizedUser(u) => {
                api.token_form(
                    &u.token_uri,
                    &[
                        ("grant_type", b"refresh_token"),
                        ("client_id", u.client_id.as_bytes()),
                        ("client_secret", u.client_secret.expose_secret()),
                        ("refresh_token", u.refresh_token.expose_secret()),
                    ],
                )
                .await?
            }
            Source::External(ext) => self.external_login(api, ext).await?,
            Source::Metadata(base) => api.metadata_token(base).await?,
        };
        tracing::debug!(
            source = self.source.kind(),
            lifetime_s = issued.lifetime.as_secs(),
            "got a google access token"
        );
        Ok(TemporaryToken {
            token: issued.token,
            expiry: Some(sent_at + renew_after(issued.lifetime)),
        })
    }

    async fn external_login(&self, api: &Api, ext: &ExternalAccount) -> Result<IssuedToken> {
        let subject = match &ext.source {
            SubjectSource::File { path, field } => {
                let bytes = read_small(path).map_err(|e| {
                    Error::new(
                        ErrorKind::Unauthorized,
                        format!("cannot read the subject token file `{}`: {e}", path.display()),
                    )
                    .with_hint("the workload identity credential file names this file as the source of its token")
                })?;
                crate::api::subject_token(&bytes, field.as_deref())?
            }
            SubjectSource::Url {
                url,
                local,
                headers,
                field,
            } => {
                api.subject_token_from_url(url, *local, headers, field.as_deref())
                    .await?
            }
        };
        let sts = api
            .token_form(
                &ext.token_url,
                &[
                    ("grant_type", TOKEN_EXCHANGE.as_bytes()),
                    ("audience", ext.audience.as_bytes()),
                    ("scope", SCOPE.as_bytes()),
                    ("requested_token_type", ACCESS_TOKEN_TYPE.as_bytes()),
                    ("subject_token", subject.expose_secret()),
                    ("subject_token_type", ext.subject_token_type.as_bytes()),
                ],
            )
            .await?;
        match &ext.impersonation_url {
            None => Ok(sts),
            Some(url) => {
                api.impersonate(
                    url,
                    &sts.token,
                    ext.impersonation_lifetime,
                    self.clock.system_now(),
                )
                .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_are_renewed_at_a_fraction_of_their_life() {
        let s = Duration::from_secs;
        assert_eq!(renew_after(s(3600)), s(3375));
        assert_eq!(renew_after(s(1000)), s(800));
        assert_eq!(renew_after(s(60)), s(48));
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(rsa_key(b"not pem").unwrap_err().contains("not a PEM"));
        let junk = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(rsa_key(junk).is_err());
    }
}
