//! How the store gets its Microsoft Entra ID tokens.
//!
//! The official SDK does the token work: `SecretClient`'s bearer policy answers Key Vault's
//! 401 challenge (learning the tenant and the scope `https://vault.azure.net/.default`),
//! asks the credential for a token, caches it and refreshes it before expiry. So this crate does
//! not use the core `TokenCache`; it only chooses the credential:
//!
//! * [`AzureCredential::ClientSecret`]: tenant id, client id, client secret
//!   (`azure_identity::ClientSecretCredential`).
//! * [`AzureCredential::Implicit`]: the ambient chain ([`ImplicitCredential`]): environment
//!   client secret, workload identity, managed identity, then the developer tools (Azure CLI,
//!   Azure Developer CLI) — the first that yields a token is used from then on.
//! * [`AzureCredential::Custom`]: any `TokenCredential` (e.g. [`StaticTokenCredential`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::ClientOptions;
use azure_core::time::OffsetDateTime;
use azure_identity::{
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use strongroom_core::{Error, Result, SecretValue};

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

/// The ambient credential chain: tries each source in order and keeps using the first one that
/// returns a token (like `DefaultAzureCredential` in the other Azure SDKs, which the Rust 1.0
/// crate does not have).
///
/// Sources, when configured: environment client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
/// `AZURE_CLIENT_SECRET`); workload identity (`AZURE_FEDERATED_TOKEN_FILE`); managed identity
/// (user-assigned when `AZURE_CLIENT_ID` is set); Azure CLI / Azure Developer CLI.
pub struct ImplicitCredential {
    sources: Vec<(&'static str, Arc<dyn TokenCredential>)>,
    chosen: AtomicUsize,
}

impl fmt::Debug for ImplicitCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.sources.iter().map(|(n, _)| *n).collect();
        f.debug_struct("ImplicitCredential")
            .field("sources", &names)
            .finish()
    }
}

impl ImplicitCredential {
    /// A chain over explicit sources (label, credential), tried in order.
    pub fn from_sources(sources: Vec<(&'static str, Arc<dyn TokenCredential>)>) -> Self {
        ImplicitCredential {
            sources,
            chosen: AtomicUsize::new(usize::MAX),
        }
    }

    /// The chain built from the environment, with `client_options` (transport, retry, cloud)
    /// for the sources that make HTTP calls.
    pub fn from_env(client_options: &ClientOptions) -> Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut sources: Vec<(&'static str, Arc<dyn TokenCredential>)> = Vec::new();
        if let (Some(tenant), Some(client), Some(secret)) = (
            var("AZURE_TENANT_ID"),
            var("AZURE_CLIENT_ID"),
            var("AZURE_CLIENT_SECRET"),
        ) {
            let cred = client_secret_credential(
                &tenant,
                &client,
                &SecretValue::from(secret),
                client_options,
            )?;
            sources.push(("environment", cred));
        }
        if var("AZURE_FEDERATED_TOKEN_FILE").is_some() {
            match WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions {
                    client_options: client_options.clone(),
                },
                ..Default::default()
            })) {
                Ok(c) => sources.push(("workload identity", c)),
                Err(e) => tracing::debug!(error = %e, "workload identity is not configured"),
            }
        }
        match ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
            user_assigned_id: var("AZURE_CLIENT_ID").map(UserAssignedId::ClientId),
            client_options: client_options.clone(),
        })) {
            Ok(c) => sources.push(("managed identity", c)),
            Err(e) => tracing::debug!(error = %e, "managed identity is not available"),
        }
        match DeveloperToolsCredential::new(None) {
            Ok(c) => sources.push(("developer tools (Azure CLI)", c)),
            Err(e) => tracing::debug!(error = %e, "developer tools credential is not available"),
        }
        Ok(ImplicitCredential::from_sources(sources))
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
            return source.get_token(scopes, options).await;
        }
        let mut failures = Vec::new();
        for (i, (label, source)) in self.sources.iter().enumerate() {
            match source.get_token(scopes, options.clone()).await {
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

pub(crate) fn client_secret_credential(
    tenant_id: &str,
    client_id: &str,
    secret: &SecretValue,
    client_options: &ClientOptions,
) -> Result<Arc<dyn TokenCredential>> {
    let secret = secret
        .expose_str()
        .map_err(|_| Error::config("AZURE_CLIENT_SECRET", "must be UTF-8 text"))?;
    let cred = ClientSecretCredential::new(
        tenant_id,
        client_id.to_string(),
        Secret::new(secret.to_string()),
        Some(ClientSecretCredentialOptions {
            client_options: client_options.clone(),
        }),
    )
    .map_err(|e| {
        // The SDK's message names the problem (tenant id format, empty id); never the secret.
        Error::config("AZURE_TENANT_ID/AZURE_CLIENT_ID", e.to_string())
    })?;
    Ok(cred)
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
