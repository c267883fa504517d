//! How the store gets its Microsoft Entra ID tokens, caches them, and gets a new one when Key
//! Vault refuses one early.
//!
//! The SDK's bearer policy answers Key Vault's 401 challenge (learning the tenant and the scope
//! `https://vault.azure.net/.default`) and asks a credential for a token. The credential it
//! asks is a [`Session`]: one token cache (core's `TokenCache`) in front of the configured
//! source:
//!
//! * [`AzureCredential::ClientSecret`]: tenant id, client id, client secret
//!   (`azure_identity::ClientSecretCredential`).
//! * [`AzureCredential::Implicit`]: the ambient chain ([`ImplicitCredential`]): environment
//!   client secret, workload identity, managed identity (App Service or IMDS), then the
//!   developer tools (Azure CLI, Azure Developer CLI) — the first that yields a token is used
//!   from then on.
//! * [`AzureCredential::Custom`]: any `TokenCredential` (e.g. [`StaticTokenCredential`]).
//!
//! **One new token, one retry.** Key Vault can refuse a token before its expiry (revoked,
//! clock skew, continuous access evaluation); it answers 401 with a fresh challenge. The SDK
//! then asks for a token once more and retries the request once — but `azure_identity`'s
//! credentials keep their own cache and would hand back the refused token. So the vault's
//! pipeline carries a [`RefusedTokenPolicy`] that tells the session which token was refused;
//! the session forgets it (only if it is still the current one, so concurrent refusals share
//! one log-in) and logs in with a fresh credential object, whose cache is empty. The session
//! builds a fresh `azure_identity` credential for every log-in for the same reason.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::headers::{AUTHORIZATION, WWW_AUTHENTICATE};
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{ClientOptions, Context, Request, StatusCode};
use azure_core::time::OffsetDateTime;
use azure_identity::{
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use strongroom_core::provider::{TemporaryToken, TokenCache};
use strongroom_core::{Clock, SecretValue, SystemClock};

use crate::api::refuse;
use crate::error::map;

/// Which credential the store uses.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum AzureCredential {
    /// The ambient chain: environment, workload identity, managed identity, Azure CLI.
    #[default]
    Implicit,
    /// A service principal with a client secret.
    ClientSecret {
        /// Directory (tenant) id.
        tenant_id: String,
        /// Application (client) id.
        client_id: String,
        /// The client secret.
        client_secret: SecretValue,
    },
    /// Any credential.
    Custom(Arc<dyn TokenCredential>),
}

impl fmt::Debug for AzureCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AzureCredential::Implicit => f.write_str("Implicit"),
            AzureCredential::ClientSecret {
                tenant_id,
                client_id,
                ..
            } => f
                .debug_struct("ClientSecret")
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .field("client_secret", &"[REDACTED]")
                .finish(),
            AzureCredential::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// A credential that always returns one bearer token (obtained elsewhere, or for tests).
///
/// ```
/// use std::time::Duration;
/// use strongroom_azure::StaticTokenCredential;
/// let cred = StaticTokenCredential::new("eyJ0eXAi...", Duration::from_secs(3600));
/// assert!(!format!("{cred:?}").contains("eyJ0"));
/// ```
#[derive(Clone)]
pub struct StaticTokenCredential {
    token: SecretValue,
    lifetime: Duration,
}

impl StaticTokenCredential {
    /// A credential handing out `token`, reported as valid for `lifetime` from each request.
    pub fn new(token: impl Into<SecretValue>, lifetime: Duration) -> Self {
        StaticTokenCredential {
            token: token.into(),
            lifetime,
        }
    }
}

impl fmt::Debug for StaticTokenCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokenCredential")
            .field("token", &"[REDACTED]")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

#[async_trait::async_trait]
impl TokenCredential for StaticTokenCredential {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let text = self.token.expose_str().map_err(|_| {
            azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "the static token is not UTF-8 text",
            )
        })?;
        Ok(AccessToken {
            token: Secret::new(text.to_string()),
            expires_on: OffsetDateTime::now_utc()
                + azure_core::time::Duration::seconds(self.lifetime.as_secs() as i64),
        })
    }
}

/// Builds a credential object; called for every log-in so no stale cache sits in between.
type Factory = Arc<dyn Fn() -> azure_core::Result<Arc<dyn TokenCredential>> + Send + Sync>;

/// Where a log-in gets its token.
#[derive(Clone)]
enum Source {
    /// A fresh `azure_identity` credential per log-in.
    Fresh(Factory),
    /// A credential given by the caller, used as it is.
    Given(Arc<dyn TokenCredential>),
}

impl Source {
    fn credential(&self) -> azure_core::Result<Arc<dyn TokenCredential>> {
        match self {
            Source::Fresh(make) => make(),
            Source::Given(c) => Ok(Arc::clone(c)),
        }
    }
}

/// The ambient credential chain: tries each source in order and keeps using the first one that
/// returns a token (like `DefaultAzureCredential` in the other Azure SDKs, which the Rust 1.0
/// crates do not have). It does not cache tokens itself: the store's session does.
///
/// Sources, when configured: environment client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
/// `AZURE_CLIENT_SECRET`); workload identity (`AZURE_FEDERATED_TOKEN_FILE` with the tenant and
/// client ids); managed identity (user-assigned when a client id is set; App Service when
/// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are in the process environment, which the SDK
/// reads itself, else IMDS); Azure CLI / Azure Developer CLI.
///
/// ```
/// use strongroom_azure::ImplicitCredential;
/// use strongroom_azure::sdk::azure_core::http::ClientOptions;
/// let vars = |k: &str| match k {
///     "AZURE_TENANT_ID" => Some("00000000-0000-0000-0000-000000000001".to_string()),
///     "AZURE_CLIENT_ID" => Some("app".to_string()),
///     "AZURE_CLIENT_SECRET" => Some("s3cr3t".to_string()),
///     _ => None,
/// };
/// let chain = ImplicitCredential::from_lookup(vars, &ClientOptions::default()).unwrap();
/// assert_eq!(chain.source_names()[0], "environment (client secret)");
/// ```
pub struct ImplicitCredential {
    sources: Vec<(&'static str, Source)>,
    chosen: AtomicUsize,
}

impl fmt::Debug for ImplicitCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImplicitCredential")
            .field("sources", &self.source_names())
            .finish()
    }
}

/// What the ambient chain is built from (configured values, else the ambient variables).
#[derive(Default)]
pub(crate) struct AmbientParts {
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretValue>,
    pub federated_token_file: Option<PathBuf>,
}

impl AmbientParts {
    /// Fills what is not configured from `lookup` (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
    /// `AZURE_CLIENT_SECRET`, `AZURE_FEDERATED_TOKEN_FILE`); blank values count as unset.
    pub(crate) fn or_from(mut self, lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        self.tenant_id = self.tenant_id.or_else(|| var("AZURE_TENANT_ID"));
        self.client_id = self.client_id.or_else(|| var("AZURE_CLIENT_ID"));
        self.client_secret = self
            .client_secret
            .or_else(|| var("AZURE_CLIENT_SECRET").map(SecretValue::from));
        self.federated_token_file = self
            .federated_token_file
            .or_else(|| var("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from));
        self
    }
}

impl ImplicitCredential {
    /// A chain over explicit sources (label, credential), tried in order.
    pub fn from_sources(sources: Vec<(&'static str, Arc<dyn TokenCredential>)>) -> Self {
        ImplicitCredential {
            sources: sources
                .into_iter()
                .map(|(label, c)| (label, Source::Given(c)))
                .collect(),
            chosen: AtomicUsize::new(usize::MAX),
        }
    }

    /// The chain built from the process environment, with `client_options` (transport, retry,
    /// cloud) for the sources that make HTTP calls.
    pub fn from_env(client_options: &ClientOptions) -> strongroom_core::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok(), client_options)
    }

    /// Like [`from_env`](Self::from_env), reading the variables through `lookup`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        client_options: &ClientOptions,
    ) -> strongroom_core::Result<Self> {
        Self::new(AmbientParts::default().or_from(&lookup), client_options)
    }

    /// The chain from `parts`. A workload identity whose token file cannot be read is an
    /// error (it is configured, but broken); a managed identity kind the SDK does not support
    /// is left out.
    pub(crate) fn new(
        parts: AmbientParts,
        client_options: &ClientOptions,
    ) -> strongroom_core::Result<Self> {
        let mut sources: Vec<(&'static str, Source)> = Vec::new();
        if let (Some(tenant), Some(client), Some(secret)) =
            (&parts.tenant_id, &parts.client_id, &parts.client_secret)
        {
            sources.push((
                "environment (client secret)",
                Source::Fresh(client_secret_factory(
                    tenant,
                    client,
                    secret,
                    client_options,
                )?),
            ));
        }
        if let (Some(file), Some(tenant), Some(client)) = (
            &parts.federated_token_file,
            &parts.tenant_id,
            &parts.client_id,
        ) {
            let (file, tenant, client) = (file.clone(), tenant.clone(), client.clone());
            let options = client_options.clone();
            let make: Factory = Arc::new(move || {
                let c: Arc<dyn TokenCredential> =
                    WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                        credential_options: ClientAssertionCredentialOptions {
                            client_options: options.clone(),
                        },
                        client_id: Some(client.clone()),
                        tenant_id: Some(tenant.clone()),
                        token_file_path: Some(file.clone()),
                    }))?;
                Ok(c)
            });
            make().map_err(|e| {
                strongroom_core::Error::config(
                    "federated_token_file",
                    format!("workload identity cannot start: {}", map(e).message()),
                )
            })?;
            sources.push(("workload identity", Source::Fresh(make)));
        }
        let user_assigned = parts.client_id.clone();
        let options = client_options.clone();
        let managed: Factory = Arc::new(move || {
            let c: Arc<dyn TokenCredential> =
                ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: user_assigned.clone().map(UserAssignedId::ClientId),
                    client_options: options.clone(),
                }))?;
            Ok(c)
        });
        match managed() {
            Ok(_) => sources.push(("managed identity", Source::Fresh(managed))),
            Err(e) => tracing::debug!(error = %e, "managed identity is not available"),
        }
        let tools: Factory = Arc::new(|| {
            let c: Arc<dyn TokenCredential> = DeveloperToolsCredential::new(None)?;
            Ok(c)
        });
        match tools() {
            Ok(_) => sources.push(("developer tools (Azure CLI)", Source::Fresh(tools))),
            Err(e) => tracing::debug!(error = %e, "developer tools credential is not available"),
        }
        Ok(ImplicitCredential {
            sources,
            chosen: AtomicUsize::new(usize::MAX),
        })
    }

    /// The labels of the sources, in order.
    pub fn source_names(&self) -> Vec<&'static str> {
        self.sources.iter().map(|(n, _)| *n).collect()
    }
}

#[async_trait::async_trait]
impl TokenCredential for ImplicitCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let chosen = self.chosen.load(Ordering::Relaxed);
        if let Some((_, source)) = self.sources.get(chosen) {
            return source.credential()?.get_token(scopes, options).await;
        }
        let mut failures = Vec::new();
        for (i, (label, source)) in self.sources.iter().enumerate() {
            let attempt = match source.credential() {
                Ok(c) => c.get_token(scopes, options.clone()).await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(token) => {
                    tracing::debug!(source = label, "implicit Azure credential chose a source");
                    self.chosen.store(i, Ordering::Relaxed);
                    return Ok(token);
                }
                Err(e) => failures.push(format!("{label}: {e}")),
            }
        }
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            if failures.is_empty() {
                "no implicit credential source is configured".to_string()
            } else {
                format!(
                    "no implicit credential source gave a token ({})",
                    failures.join("; ")
                )
            },
        ))
    }
}

/// A client-secret credential factory; checks the ids once (the SDK validates the tenant id).
pub(crate) fn client_secret_factory(
    tenant_id: &str,
    client_id: &str,
    secret: &SecretValue,
    client_options: &ClientOptions,
) -> strongroom_core::Result<Factory> {
    secret
        .expose_str()
        .map_err(|_| strongroom_core::Error::config("client_secret", "must be UTF-8 text"))?;
    let (tenant, client, secret) = (tenant_id.to_owned(), client_id.to_owned(), secret.clone());
    let options = client_options.clone();
    let make: Factory = Arc::new(move || {
        let text = secret.expose_str().unwrap_or_default();
        let c: Arc<dyn TokenCredential> = ClientSecretCredential::new(
            &tenant,
            client.clone(),
            Secret::new(text.to_owned()),
            Some(ClientSecretCredentialOptions {
                client_options: options.clone(),
            }),
        )?;
        Ok(c)
    });
    // The SDK's message names the problem (tenant id format, empty id); never the secret.
    make()
        .map_err(|e| strongroom_core::Error::config("tenant_id / client_id", map(e).message()))?;
    Ok(make)
}

/// A token as cached, with the scopes it was asked for.
struct Held {
    scopes: Vec<String>,
    token: AccessToken,
}

/// The credential the vault's SDK client asks: one cached token, a fresh log-in when it is
/// due or was refused (see the module docs).
pub(crate) struct Session {
    source: Source,
    cache: TokenCache<Arc<Held>>,
    current: Mutex<Option<(u64, Arc<Held>)>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl Session {
    /// A session over the configured credential (`choice`), or the client-secret / ambient
    /// source the configuration names.
    pub(crate) fn given(credential: Arc<dyn TokenCredential>) -> Session {
        Session::new(Source::Given(credential))
    }

    /// A session logging in through `make` (a fresh credential object per log-in).
    pub(crate) fn fresh(make: Factory) -> Session {
        Session::new(Source::Fresh(make))
    }

    /// A session over an ambient chain.
    pub(crate) fn chain(chain: ImplicitCredential) -> Session {
        Session::new(Source::Given(Arc::new(chain)))
    }

    fn new(source: Source) -> Session {
        Session {
            source,
            cache: Self::cache(Arc::new(SystemClock)),
            current: Mutex::new(None),
        }
    }

    fn cache(clock: Arc<dyn Clock>) -> TokenCache<Arc<Held>> {
        // The SDK's bearer policy asks again 5 minutes before expiry: refresh then too.
        TokenCache::new()
            .with_refresh_buffer(Duration::from_secs(300))
            .with_clock(clock)
    }

    /// Judges token expiry by `clock` (tests pass a `ManualClock`).
    pub(crate) fn with_clock(mut self, clock: Arc<dyn Clock>) -> Session {
        self.cache = Self::cache(clock);
        self
    }

    /// Key Vault refused `bearer`: forget it if it is still the current token, so the SDK's
    /// one retry gets a new one.
    pub(crate) async fn refused(&self, bearer: &str) {
        let generation = {
            let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            match &*current {
                Some((generation, held)) if held.token.token.secret() == bearer => *generation,
                _ => return,
            }
        };
        tracing::info!(
            provider = crate::error::PROVIDER,
            "Key Vault refused the access token before its expiry; getting a new one"
        );
        self.cache.invalidate(generation).await;
    }

    async fn lease(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> strongroom_core::Result<(u64, Arc<Held>)> {
        let clock = Arc::clone(self.cache.clock());
        let lease = self
            .cache
            .get_or_refresh(|_| async {
                let credential = self.source.credential().map_err(map)?;
                let token = credential.get_token(scopes, options).await.map_err(map)?;
                let expiry = u64::try_from(token.expires_on.unix_timestamp())
                    .ok()
                    .map(|s| clock.instant_at(UNIX_EPOCH + Duration::from_secs(s)));
                Ok(TemporaryToken {
                    token: Arc::new(Held {
                        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                        token,
                    }),
                    expiry,
                })
            })
            .await?;
        Ok((lease.generation, lease.token))
    }
}

#[async_trait::async_trait]
impl TokenCredential for Session {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let mut lease = self.lease(scopes, options.clone()).await.map_err(refuse)?;
        if lease
            .1
            .scopes
            .iter()
            .map(String::as_str)
            .ne(scopes.iter().copied())
        {
            // A token for other scopes: log in for these.
            self.cache.invalidate(lease.0).await;
            lease = self.lease(scopes, options).await.map_err(refuse)?;
        }
        let token = lease.1.token.clone();
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(lease);
        Ok(token)
    }
}

/// Sits between the SDK's bearer policy and the transport of the vault's pipeline: a 401 with a
/// challenge on a request that carried a token tells the [`Session`] which token was refused.
#[derive(Debug)]
pub(crate) struct RefusedTokenPolicy {
    session: Arc<Session>,
}

impl RefusedTokenPolicy {
    pub(crate) fn new(session: Arc<Session>) -> Self {
        RefusedTokenPolicy { session }
    }
}

// The trait is written with an elided `Context` lifetime; naming it breaks `async_trait`.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl Policy for RefusedTokenPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let response = next[0].send(ctx, request, &next[1..]).await?;
        if response.status() == StatusCode::Unauthorized
            && response
                .headers()
                .get_optional_str(&WWW_AUTHENTICATE)
                .is_some()
            && let Some(bearer) = request
                .headers()
                .get_optional_str(&AUTHORIZATION)
                .and_then(|h| h.strip_prefix("Bearer "))
        {
            self.session.refused(bearer).await;
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Failing;

    #[async_trait::async_trait]
    impl TokenCredential for Failing {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "not here",
            ))
        }
    }

    #[tokio::test]
    async fn chain_uses_the_first_source_that_works_and_sticks_to_it() {
        let good: Arc<dyn TokenCredential> =
            Arc::new(StaticTokenCredential::new("tok-1", Duration::from_secs(60)));
        let chain = ImplicitCredential::from_sources(vec![
            ("failing", Arc::new(Failing)),
            ("static", good),
        ]);
        let t = chain.get_token(&["s/.default"], None).await.unwrap();
        assert_eq!(t.token.secret(), "tok-1");
        assert_eq!(chain.chosen.load(Ordering::Relaxed), 1);
        let empty = ImplicitCredential::from_sources(vec![("failing", Arc::new(Failing))]);
        let err = empty.get_token(&["s/.default"], None).await.unwrap_err();
        assert!(err.to_string().contains("failing: "), "{err}");
    }

    /// Hands out `tok-1`, `tok-2`, … and counts how often it was asked.
    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    #[async_trait::async_trait]
    impl TokenCredential for Counting {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(AccessToken {
                token: Secret::new(format!("tok-{n}")),
                expires_on: OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
            })
        }
    }

    #[tokio::test]
    async fn a_refused_token_is_replaced_once_however_many_callers_saw_it() {
        let counting = Arc::new(Counting::default());
        let session = Session::given(Arc::clone(&counting) as Arc<dyn TokenCredential>);
        let scope = ["https://vault.azure.net/.default"];
        let t1 = session.get_token(&scope, None).await.unwrap();
        assert_eq!(
            session
                .get_token(&scope, None)
                .await
                .unwrap()
                .token
                .secret(),
            "tok-1"
        );
        assert_eq!(counting.0.load(Ordering::SeqCst), 1, "cached");
        // Three callers report the same refused token: one new log-in.
        for _ in 0..3 {
            session.refused(t1.token.secret()).await;
        }
        assert_eq!(
            session
                .get_token(&scope, None)
                .await
                .unwrap()
                .token
                .secret(),
            "tok-2"
        );
        // A stale report (tok-1 again) does not throw tok-2 away.
        session.refused(t1.token.secret()).await;
        assert_eq!(
            session
                .get_token(&scope, None)
                .await
                .unwrap()
                .token
                .secret(),
            "tok-2"
        );
        assert_eq!(counting.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn debug_never_shows_the_client_secret() {
        let c = AzureCredential::ClientSecret {
            tenant_id: "t".into(),
            client_id: "c".into(),
            client_secret: SecretValue::from("hunter2-very-secret"),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
