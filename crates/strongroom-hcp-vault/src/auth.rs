//! Credentials, log-in methods (AppRole, TLS certificate) and the token cache.
//!
//! Log-in tokens are cached with their lease: the cache hands a token out until two thirds of
//! its lease have passed; then the next caller renews it (`auth/token/renew-self`) when it is
//! renewable and still valid, or logs in again when renewal fails or is cut short by the
//! token's maximum TTL. A call answered 403 with a log-in token gets one new log-in and one
//! retry ([`TokenCache::call_with_relogin`]). Static tokens are used as given.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;
use strongroom_core::{Clock, ErrorKind, Result, SecretValue, TemporaryToken, TokenCache};

use crate::api::{Api, LoginAnswer};
use crate::error::PROVIDER;

/// The credentials a store logs in with.
pub(crate) enum Credentials {
    /// A static token (already a valid header value).
    Token(HeaderValue),
    /// AppRole role id and secret id (checked to be UTF-8).
    AppRole {
        mount: String,
        role_id: SecretValue,
        secret_id: SecretValue,
    },
    /// The TLS client certificate presented in the handshake, and the role to log in as.
    Cert {
        mount: String,
        role: Option<String>,
        certificate: Vec<u8>,
    },
}

impl Credentials {
    /// The parts that name who asks, for `StoreInfo::identity`.
    pub(crate) fn identity(&self) -> Vec<Vec<u8>> {
        match self {
            Credentials::Token(t) => vec![b"token".to_vec(), t.as_bytes().to_vec()],
            Credentials::AppRole { mount, role_id, .. } => vec![
                b"approle".to_vec(),
                mount.as_bytes().to_vec(),
                role_id.expose_secret().to_vec(),
            ],
            Credentials::Cert {
                mount,
                role,
                certificate,
            } => vec![
                b"cert".to_vec(),
                mount.as_bytes().to_vec(),
                role.as_deref().unwrap_or("").as_bytes().to_vec(),
                certificate.clone(),
            ],
        }
    }
}

/// A Vault token ready to send (a sensitive header value) with its lease.
#[derive(Clone)]
pub(crate) struct VaultToken {
    header: HeaderValue,
    renewable: bool,
    /// The lease granted at log-in (what renewals ask for again).
    lease: Duration,
    /// When the token itself stops working (`None` = no expiry).
    expires_at: Option<Instant>,
}

/// Whether a renewal that granted `granted` is worth keeping: a shorter lease than the one
/// asked for means the token is near its maximum TTL, and a fresh log-in serves longer.
pub(crate) fn renewal_is_enough(granted: Duration, asked: Duration) -> bool {
    granted >= asked
}

/// The store's credentials and its token cache.
pub(crate) struct Auth {
    credentials: Credentials,
    cache: TokenCache<VaultToken>,
    renewals: AtomicU64,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Auth {
    pub(crate) fn new(credentials: Credentials, clock: Option<Arc<dyn Clock>>) -> Auth {
        // The expiry handed to the cache is already the renewal point (2/3 of the lease).
        let mut cache = TokenCache::new().with_refresh_buffer(Duration::ZERO);
        if let Some(clock) = clock {
            cache = cache.with_clock(clock);
        }
        Auth {
            credentials,
            cache,
            renewals: AtomicU64::new(0),
        }
    }

    pub(crate) fn label(&self) -> &'static str {
        match self.credentials {
            Credentials::Token(_) => "token",
            Credentials::AppRole { .. } => "approle",
            Credentials::Cert { .. } => "cert",
        }
    }

    /// How many log-ins and renewals the token cache has made.
    pub(crate) async fn refreshes(&self) -> u64 {
        self.cache.logins().await
    }

    /// How many of those were renewals (`renew-self`) rather than log-ins.
    pub(crate) fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }

    /// Runs `call` with the token to send: the static one as given; a log-in token from the
    /// cache (logging in or renewing when due), and once more with a new log-in when the
    /// server answers 403 (an expired or revoked token).
    pub(crate) async fn call<R, F, Fut>(&self, api: &Api, call: F) -> Result<R>
    where
        F: Fn(HeaderValue) -> Fut,
        Fut: Future<Output = Result<R>>,
    {
        if let Credentials::Token(header) = &self.credentials {
            return call(header.clone()).await;
        }
        self.cache
            .call_with_relogin(
                |previous| self.refresh(api, previous),
                |token| call(token.header),
                |outcome| matches!(outcome, Err(e) if e.kind() == &ErrorKind::Forbidden),
            )
            .await
    }

    /// A fresh token: `previous` renewed when it is renewable and alive, else a new log-in.
    async fn refresh(
        &self,
        api: &Api,
        previous: Option<VaultToken>,
    ) -> Result<TemporaryToken<VaultToken>> {
        let now = self.cache.clock().now();
        if let Some(prev) =
            previous.filter(|p| p.renewable && p.expires_at.is_some_and(|t| t > now))
        {
            match api.renew_self(&prev.header, prev.lease).await {
                Ok(answer) if renewal_is_enough(answer.lease, prev.lease) => {
                    self.renewals.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(
                        provider = PROVIDER,
                        lease_secs = answer.lease.as_secs(),
                        "token renewed"
                    );
                    return Ok(self.lease(answer, prev.lease));
                }
                Ok(_) => tracing::debug!(
                    provider = PROVIDER,
                    "token near its maximum TTL; logging in again"
                ),
                Err(e) => tracing::debug!(
                    provider = PROVIDER,
                    error = %e,
                    "token renewal failed; logging in again"
                ),
            }
        }
        let answer = match &self.credentials {
            Credentials::Token(_) => unreachable!("static tokens never log in"),
            Credentials::AppRole {
                mount,
                role_id,
                secret_id,
            } => api.login_approle(mount, role_id, secret_id).await?,
            Credentials::Cert { mount, role, .. } => api.login_cert(mount, role.as_deref()).await?,
        };
        tracing::debug!(
            provider = PROVIDER,
            method = self.label(),
            lease_secs = answer.lease.as_secs(),
            "logged in"
        );
        let lease = answer.lease;
        Ok(self.lease(answer, lease))
    }

    /// The cache entry for `answer`: handed out until two thirds of its lease.
    fn lease(&self, answer: LoginAnswer, asked: Duration) -> TemporaryToken<VaultToken> {
        let now = self.cache.clock().now();
        let (expires_at, refresh_at) = if answer.lease.is_zero() {
            (None, None)
        } else {
            (Some(now + answer.lease), Some(now + answer.lease * 2 / 3))
        };
        TemporaryToken {
            token: VaultToken {
                header: answer.header,
                renewable: answer.renewable,
                lease: asked,
                expires_at,
            },
            expiry: refresh_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shorter_renewal_means_a_new_log_in() {
        let hour = Duration::from_secs(3600);
        assert!(renewal_is_enough(hour, hour));
        assert!(renewal_is_enough(hour * 2, hour));
        assert!(!renewal_is_enough(hour - Duration::from_secs(1), hour));
    }
}
