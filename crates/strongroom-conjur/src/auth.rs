//! Credentials, log-in methods and the token cache.
//!
//! * API key: `POST /authn/{account}/{login}/authenticate`, raw key as body (a configured
//!   client certificate rides along in the TLS handshake).
//! * `authn-cert`: `POST /authn-cert/{service_id}/{account}[/{login}]/authenticate`, empty body,
//!   identity proved by the client certificate.
//!
//! The token lives in the core [`TokenCache`] (never next to secret values). It is renewed
//! once it is older than the refresh interval, or when the renewal point of its own lifetime
//! is reached ([`renew_after`]): one minute before expiry for ordinary tokens, after 80 % of
//! the lifetime for tokens that live less than five minutes — so a short-lived token is reused
//! too instead of being renewed before every call. A call whose token is refused (401) makes
//! one new log-in and one retry ([`TokenCache::call_with_relogin`]).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use strongroom_core::{Clock, Error, Result, SecretValue, TemporaryToken, TokenCache};

use crate::api::{Api, Credential, TokenTimes};
use crate::config::AuthMode;

/// Classic Conjur tokens live 8 minutes (`conjur-api-ruby` `lib/conjur/base.rb`); assumed when a
/// token's payload names no expiry.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(8 * 60);

/// Renew this long before a token's expiry (at most; see [`renew_after`]).
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// How long a token of `lifetime` is used before it is renewed: `lifetime` minus
/// [`REFRESH_BEFORE_EXPIRY`], or minus a fifth of it when that is less (tokens shorter than
/// five minutes are renewed after 80 % of their life).
///
/// ```
/// use std::time::Duration;
/// use strongroom_conjur::renew_after;
/// assert_eq!(renew_after(Duration::from_secs(480)), Duration::from_secs(420));
/// assert_eq!(renew_after(Duration::from_secs(30)), Duration::from_secs(24));
/// ```
pub fn renew_after(lifetime: Duration) -> Duration {
    strongroom_core::provider::renew_after(lifetime, REFRESH_BEFORE_EXPIRY)
}

/// A token's lifetime from its times: `exp - iat` when both are known (both from the server's
/// clock, so a skewed local clock does not shorten it), else `exp -` now, else 8 minutes.
pub(crate) fn lifetime(times: TokenTimes, now: SystemTime) -> Duration {
    match (times.issued, times.expires) {
        (Some(iat), Some(exp)) => exp.duration_since(iat).unwrap_or_default(),
        (None, Some(exp)) => exp.duration_since(now).unwrap_or_default(),
        _ => DEFAULT_TOKEN_LIFETIME,
    }
}

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
            // The renewal point is folded into each token's expiry (see `login`).
            tokens: TokenCache::new()
                .with_refresh_buffer(Duration::ZERO)
                .with_max_age(refresh_interval)
                .with_clock(Arc::clone(&clock)),
            clock,
        }
    }

    pub(crate) fn mode(&self) -> &AuthMode {
        &self.mode
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
        let credential = match &self.mode {
            AuthMode::ApiKey => Credential::ApiKey(
                self.api_key
                    .as_ref()
                    .ok_or_else(|| Error::config("api_key", "no API key configured"))?,
            ),
            AuthMode::AuthnCert {
                service_id,
                host_in_path,
            } => Credential::Cert {
                service_id,
                host: host_in_path.then_some(self.login.as_str()),
            },
        };
        let sent_at = self.clock.now();
        let (token, times) = api.authenticate(&self.login, credential).await?;
        let life = lifetime(times, self.clock.system_now());
        tracing::debug!(login = %self.login, lifetime_s = life.as_secs(), "logged in to conjur");
        Ok(TemporaryToken {
            token,
            expiry: Some(sent_at + renew_after(life)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn short_tokens_are_renewed_at_a_fraction_of_their_life() {
        let s = Duration::from_secs;
        assert_eq!(renew_after(s(480)), s(420));
        assert_eq!(renew_after(s(300)), s(240));
        assert_eq!(renew_after(s(60)), s(48));
        assert_eq!(renew_after(s(1)), Duration::from_millis(800));
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn lifetime_prefers_the_servers_own_clock() {
        let at = |secs| Some(UNIX_EPOCH + Duration::from_secs(secs));
        // Local clock 10 minutes ahead of the server: exp is "in the past" here.
        let now = UNIX_EPOCH + Duration::from_secs(1_000 + 600);
        let both = TokenTimes {
            issued: at(1_000),
            expires: at(1_480),
        };
        assert_eq!(lifetime(both, now), Duration::from_secs(480));
        let exp_only = TokenTimes {
            issued: None,
            expires: at(1_700),
        };
        assert_eq!(lifetime(exp_only, now), Duration::from_secs(100));
        assert_eq!(lifetime(TokenTimes::default(), now), DEFAULT_TOKEN_LIFETIME);
    }
}
