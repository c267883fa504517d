//! Log-in methods (AppRole, TLS certificate, static token) feeding the core [`TokenCache`].
//!
//! Log-in tokens are cached with their lease: the cache hands a token out until two thirds of
//! its lease have passed; then the next caller renews it (`auth/token/renew-self`) when it is
//! renewable and still valid, or logs in again when renewal fails or would be cut short by the
//! token's maximum TTL. A 403 to a call made with a log-in token invalidates it; the store then
//! logs in once and retries the call once. Static tokens are used as given.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;
use strongroom_core::{
    Clock, Error, ErrorKind, Operation, Result, SecretValue, TemporaryToken, TokenCache, TokenLease,
};
use zeroize::Zeroizing;

use crate::api::{self, Api, AppRoleLogin, AuthResponse, CertLogin, RenewSelf};
use crate::config::AuthMethod;
use crate::error::{PROVIDER, login_error};

/// A Vault token ready to send (a sensitive header value) with its lease.
#[derive(Clone)]
pub(crate) struct VaultToken {
    pub(crate) header: HeaderValue,
    renewable: bool,
    /// The lease granted at log-in (what renewals ask for again).
    lease: Duration,
    /// When the token itself stops working (`None` = no expiry).
    expires_at: Option<Instant>,
}

impl fmt::Debug for VaultToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultToken")
            .field("token", &"[REDACTED]")
            .field("renewable", &self.renewable)
            .field("lease", &self.lease)
            .finish()
    }
}

fn header_value(token: &[u8]) -> Result<HeaderValue> {
    let mut h = HeaderValue::from_bytes(token).map_err(|_| {
        Error::protocol("the server issued a token that cannot be sent in an HTTP header")
    })?;
    h.set_sensitive(true);
    Ok(h)
}

/// Interprets a log-in or renew-self answer: the token header to send (`prev` when a renewal
/// answers without a token), the lease granted and whether the token is renewable.
pub(crate) fn login_answer(
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    bytes: &[u8],
    prev: Option<&HeaderValue>,
) -> Result<(HeaderValue, Duration, bool)> {
    if !status.is_success() {
        return Err(login_error(status, retry_after, bytes));
    }
    let parsed: AuthResponse = serde_json::from_slice(bytes)
        .map_err(|_| Error::protocol("the log-in answer is not the expected JSON"))?;
    let auth = parsed
        .auth
        .ok_or_else(|| Error::protocol("the log-in answer has no `auth` block"))?;
    let header = match prev {
        // renew-self answers with the same token.
        Some(p) if auth.client_token.is_empty() => p.clone(),
        _ if auth.client_token.is_empty() => {
            return Err(Error::new(
                ErrorKind::Protocol,
                "the log-in answer has no client token",
            ));
        }
        _ => header_value(auth.client_token.as_bytes())?,
    };
    Ok((
        header,
        Duration::from_secs(auth.lease_duration),
        auth.renewable,
    ))
}

enum Login {
    Static(TokenLease<VaultToken>),
    AppRole {
        mount: String,
        role_id: String,
        secret_id: SecretValue,
    },
    Cert {
        mount: String,
        role: Option<String>,
    },
}

/// The store's credentials and its token cache.
pub(crate) struct Auth {
    login: Login,
    cache: TokenCache<VaultToken>,
    renewals: AtomicU64,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Auth {
    pub(crate) fn new(method: AuthMethod, clock: Option<Arc<dyn Clock>>) -> Result<Auth> {
        let login = match method {
            AuthMethod::Token(t) => Login::Static(TokenLease {
                token: VaultToken {
                    header: header_value(t.expose_secret()).map_err(|_| {
                        Error::config("HCP_VAULT_TOKEN", "not a valid header value")
                    })?,
                    renewable: false,
                    lease: Duration::ZERO,
                    expires_at: None,
                },
                generation: 0,
            }),
            AuthMethod::AppRole {
                mount,
                role_id,
                secret_id,
            } => Login::AppRole {
                mount,
                role_id,
                secret_id,
            },
            AuthMethod::Cert { mount, role } => Login::Cert { mount, role },
        };
        // The expiry handed to the cache is already the renewal point (2/3 of the lease).
        let mut cache = TokenCache::new().with_refresh_buffer(Duration::ZERO);
        if let Some(clock) = clock {
            cache = cache.with_clock(clock);
        }
        Ok(Auth {
            login,
            cache,
            renewals: AtomicU64::new(0),
        })
    }

    pub(crate) fn label(&self) -> &'static str {
        match self.login {
            Login::Static(_) => "token",
            Login::AppRole { .. } => "approle",
            Login::Cert { .. } => "cert",
        }
    }

    /// Whether a 403 may be cured by logging in again.
    pub(crate) fn can_relogin(&self) -> bool {
        !matches!(self.login, Login::Static(_))
    }

    /// How many log-ins and renewals the token cache has made.
    pub(crate) async fn refreshes(&self) -> u64 {
        self.cache.logins().await
    }

    /// How many of those were renewals (`renew-self`) rather than log-ins.
    pub(crate) fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }

    /// Forgets the token of `generation` after the server refused it.
    pub(crate) async fn invalidate(&self, generation: u64) {
        if self.can_relogin() {
            tracing::debug!(provider = PROVIDER, "token refused; logging in again");
            self.cache.invalidate(generation).await;
        }
    }

    /// The token to send: the static one, or the cached log-in token (logging in or renewing
    /// when due).
    pub(crate) async fn token(&self, api: &Api) -> Result<TokenLease<VaultToken>> {
        if let Login::Static(lease) = &self.login {
            return Ok(lease.clone());
        }
        let clock = Arc::clone(self.cache.clock());
        self.cache
            .get_or_refresh(|previous| async move {
                if let Some(prev) = previous {
                    let alive = prev.expires_at.is_some_and(|t| t > clock.now());
                    if prev.renewable && alive {
                        match self.renew(api, &prev, clock.as_ref()).await {
                            Ok(Some(renewed)) => return Ok(renewed),
                            Ok(None) => {
                                tracing::debug!(provider = PROVIDER, "token near its maximum TTL; logging in again")
                            }
                            Err(e) => {
                                tracing::debug!(provider = PROVIDER, error = %e, "token renewal failed; logging in again")
                            }
                        }
                    }
                }
                self.login(api, clock.as_ref()).await
            })
            .await
            .map_err(|e| e.context(PROVIDER, Operation::Auth, None))
    }

    async fn login(&self, api: &Api, clock: &dyn Clock) -> Result<TemporaryToken<VaultToken>> {
        let (url, body) = match &self.login {
            Login::Static(_) => unreachable!("static tokens never log in"),
            Login::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                let secret = secret_id.expose_str().map_err(|_| {
                    Error::config("HCP_VAULT_APPROLE_SECRET_ID", "must be UTF-8 text")
                })?;
                let body = serde_json::to_vec(&AppRoleLogin {
                    role_id,
                    secret_id: secret,
                })
                .map_err(|_| Error::protocol("cannot encode the log-in request"))?;
                (
                    api.auth_url(&format!("{mount}/login")),
                    Zeroizing::new(body),
                )
            }
            Login::Cert { mount, role } => {
                let body = serde_json::to_vec(&CertLogin {
                    name: role.as_deref(),
                })
                .map_err(|_| Error::protocol("cannot encode the log-in request"))?;
                (
                    api.auth_url(&format!("{mount}/login")),
                    Zeroizing::new(body),
                )
            }
        };
        let resp = api
            .send_auth(None, |c| {
                c.post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_vec())
            })
            .await?;
        let (token, _) = self.token_from(resp, None, clock).await?;
        tracing::debug!(
            provider = PROVIDER,
            method = self.label(),
            lease_secs = token.token.lease.as_secs(),
            "logged in"
        );
        Ok(token)
    }

    /// Renews `prev`; `Ok(None)` when the server grants less than the original lease (the
    /// token is near its maximum TTL: better to log in again).
    async fn renew(
        &self,
        api: &Api,
        prev: &VaultToken,
        clock: &dyn Clock,
    ) -> Result<Option<TemporaryToken<VaultToken>>> {
        let url = api.auth_url("token/renew-self");
        let body = serde_json::to_vec(&RenewSelf {
            increment: format!("{}s", prev.lease.as_secs()),
        })
        .map_err(|_| Error::protocol("cannot encode the renewal request"))?;
        let resp = api
            .send_auth(Some(&prev.header), |c| {
                c.post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        let (renewed, granted) = self.token_from(resp, Some(prev), clock).await?;
        if granted < prev.lease {
            return Ok(None);
        }
        self.renewals.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            provider = PROVIDER,
            lease_secs = granted.as_secs(),
            "token renewed"
        );
        Ok(Some(renewed))
    }

    async fn token_from(
        &self,
        resp: reqwest::Response,
        prev: Option<&VaultToken>,
        clock: &dyn Clock,
    ) -> Result<(TemporaryToken<VaultToken>, Duration)> {
        let status = resp.status();
        let retry_after = strongroom_core::http::parse_retry_after(resp.headers());
        let bytes = api::body(resp).await?;
        let (header, lease, renewable) =
            login_answer(status, retry_after, &bytes, prev.map(|p| &p.header))?;
        let now = clock.now();
        let (expires_at, refresh_at) = if lease.is_zero() {
            (None, None)
        } else {
            (Some(now + lease), Some(now + lease * 2 / 3))
        };
        let token = TemporaryToken {
            token: VaultToken {
                header,
                renewable,
                lease: prev.map_or(lease, |p| p.lease),
                expires_at,
            },
            expiry: refresh_at,
        };
        Ok((token, lease))
    }
}
