//! [`AzureBuilder`]: settings, `from_env()`, and `build()`.

use std::sync::Arc;
use std::time::Duration;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use strongroom_core::{Error, HttpOptions, Result, RetryPolicy, SecretValue};

use crate::api::Api;
use crate::auth::{AzureCredential, ImplicitCredential, client_secret_credential};
use crate::store::{AzureStore, Settings};

/// `AZURE_KEY_VAULT_URI`: the vault URL, `https://<vault>.vault.azure.net` (LiteLLM's name).
pub const ENV_VAULT_URI: &str = "AZURE_KEY_VAULT_URI";
/// `AZURE_TENANT_ID`: directory (tenant) id for the client-secret login.
pub const ENV_TENANT_ID: &str = "AZURE_TENANT_ID";
/// `AZURE_CLIENT_ID`: application (client) id for the client-secret login.
pub const ENV_CLIENT_ID: &str = "AZURE_CLIENT_ID";
/// `AZURE_CLIENT_SECRET`: the client secret; when set, the client-secret login is used.
pub const ENV_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
/// `AZURE_KEY_VAULT_API_VERSION`: the REST api-version to send (default: the SDK's).
pub const ENV_API_VERSION: &str = "AZURE_KEY_VAULT_API_VERSION";
/// `AZURE_AUTHORITY_HOST`: the Entra ID authority (sovereign clouds, tests).
pub const ENV_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";

/// Builds an [`AzureStore`].
///
/// ```no_run
/// use strongroom_azure::AzureBuilder;
/// # fn demo() -> strongroom_core::Result<()> {
/// // From AZURE_KEY_VAULT_URI, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET:
/// let store = AzureBuilder::from_env().build()?;
/// // Or explicitly, with the ambient credential chain (managed identity, Azure CLI, …):
/// let store = AzureBuilder::new()
///     .with_vault_url("https://my-vault.vault.azure.net")
///     .with_api_version("7.5")
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AzureBuilder {
    vault_url: Option<String>,
    api_version: Option<String>,
    credential: Option<AzureCredential>,
    tenant_id: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretValue>,
    authority_host: Option<String>,
    http: HttpOptions,
    retry: RetryPolicy,
    verify_challenge_resource: bool,
    recover_deleted_on_write: bool,
    poll_interval: Duration,
    poll_attempts: u32,
    default_cache_ttl: Option<Duration>,
}

impl Default for AzureBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl AzureBuilder {
    /// Empty settings: implicit credential, SDK default api-version, recover on write.
    pub fn new() -> Self {
        AzureBuilder {
            vault_url: None,
            api_version: None,
            credential: None,
            tenant_id: None,
            client_id: None,
            client_secret: None,
            authority_host: None,
            http: HttpOptions::default(),
            retry: RetryPolicy::default(),
            verify_challenge_resource: true,
            recover_deleted_on_write: true,
            poll_interval: Duration::from_secs(1),
            poll_attempts: 30,
            default_cache_ttl: None,
        }
    }

    /// Settings from the environment: [`ENV_VAULT_URI`], [`ENV_TENANT_ID`], [`ENV_CLIENT_ID`],
    /// [`ENV_CLIENT_SECRET`], [`ENV_API_VERSION`], [`ENV_AUTHORITY_HOST`]. With a client secret
    /// the client-secret login is used, otherwise the implicit chain.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Like [`from_env`](Self::from_env), reading the same names through `get` (a config map,
    /// tests) instead of the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut b = AzureBuilder::new();
        b.vault_url = var(ENV_VAULT_URI);
        b.api_version = var(ENV_API_VERSION);
        b.tenant_id = var(ENV_TENANT_ID);
        b.client_id = var(ENV_CLIENT_ID);
        b.client_secret = var(ENV_CLIENT_SECRET).map(SecretValue::from);
        b.authority_host = var(ENV_AUTHORITY_HOST);
        b
    }

    /// The vault URL, `https://<vault>.vault.azure.net`.
    pub fn with_vault_url(mut self, url: impl Into<String>) -> Self {
        self.vault_url = Some(url.into());
        self
    }
    /// The REST api-version (`7.5`, `7.6`, `2025-07-01`, …). Default: the SDK's (`2025-07-01`).
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }
    /// Logs in as a service principal with a client secret.
    pub fn with_client_secret(
        mut self,
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<SecretValue>,
    ) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self.client_id = Some(client_id.into());
        self.client_secret = Some(client_secret.into());
        self.credential = None;
        self
    }
    /// Uses the ambient credential chain even when a client secret is configured.
    pub fn with_implicit_credential(mut self) -> Self {
        self.credential = Some(AzureCredential::Implicit);
        self
    }
    /// Uses any `TokenCredential` (workload identity with options, a static token, …).
    pub fn with_credential(mut self, credential: Arc<dyn TokenCredential>) -> Self {
        self.credential = Some(AzureCredential::Custom(credential));
        self
    }
    /// The Entra ID authority host (`https://login.microsoftonline.us`, a test server …).
    pub fn with_authority_host(mut self, url: impl Into<String>) -> Self {
        self.authority_host = Some(url.into());
        self
    }
    /// Connection, timeout and TLS settings (extra CA, proxy, client certificate).
    pub fn with_http_options(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }
    /// Trusts an extra CA certificate (PEM) for the vault and the authority.
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.http = self.http.add_ca_pem(pem);
        self
    }
    /// Retries of temporary failures (transport errors, 408, 429, 5xx; `Retry-After` honoured),
    /// carried out by the SDK's retry policy. [`RetryPolicy::none`] turns retries off.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
    /// Whether the challenge's resource must match the vault's domain (default `true`; turn it
    /// off only for private endpoints or test servers on other host names).
    pub fn with_verify_challenge_resource(mut self, verify: bool) -> Self {
        self.verify_challenge_resource = verify;
        self
    }
    /// Writing a soft-deleted name: recover it first, then set the new value (`true`, the
    /// default), or fail with a `Conflict` that says so (`false`).
    pub fn with_recover_deleted_on_write(mut self, recover: bool) -> Self {
        self.recover_deleted_on_write = recover;
        self
    }
    /// How long to wait between polls for a delete or a recovery to complete, and how many
    /// polls to make (default 1 s × 30).
    pub fn with_poll(mut self, interval: Duration, attempts: u32) -> Self {
        self.poll_interval = interval;
        self.poll_attempts = attempts;
        self
    }
    /// The cache TTL suggested to cache layers that set none.
    pub fn with_default_cache_ttl(mut self, ttl: Duration) -> Self {
        self.default_cache_ttl = Some(ttl);
        self
    }

    /// Checks the settings and builds the store. Fails with a `Config` error naming the setting.
    pub fn build(self) -> Result<AzureStore> {
        let raw_url = self
            .vault_url
            .as_deref()
            .ok_or_else(|| Error::config(ENV_VAULT_URI, "the vault URL is required"))?;
        let url = url::Url::parse(raw_url.trim())
            .map_err(|e| Error::config(ENV_VAULT_URI, format!("not a URL: {e}")))?;
        if url.scheme() != "https" {
            return Err(Error::config(
                ENV_VAULT_URI,
                "must use https (Key Vault tokens are never sent over plain http)",
            ));
        }
        if url.host_str().is_none_or(str::is_empty)
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(Error::config(
                ENV_VAULT_URI,
                "expected https://<vault>.vault.azure.net with no query or fragment",
            ));
        }
        let vault_url = url.as_str().trim_end_matches('/').to_string();

        let mut options = SecretClientOptions::default();
        if let Some(v) = &self.api_version {
            let v = v.trim();
            if v.is_empty()
                || v.len() > 32
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(Error::config(
                    ENV_API_VERSION,
                    "expected a Key Vault api-version such as `7.5` or `2025-07-01`",
                ));
            }
            options.api_version = v.to_string();
        }
        let api_version = options.api_version.clone();

        let mut client_options = ClientOptions {
            transport: Some(Transport::new(Arc::new(self.http.build_client()?))),
            retry: retry_options(&self.retry),
            ..Default::default()
        };
        if let Some(host) = &self.authority_host {
            let parsed = url::Url::parse(host)
                .map_err(|e| Error::config(ENV_AUTHORITY_HOST, format!("not a URL: {e}")))?;
            if parsed.scheme() != "https" {
                return Err(Error::config(ENV_AUTHORITY_HOST, "must use https"));
            }
            let mut custom = CustomConfiguration::default();
            custom.authority_host = host.clone();
            client_options.cloud = Some(Arc::new(CloudConfiguration::Custom(custom)));
        }

        // Who asks: tenant + client id where known; a custom credential gets its own identity
        // per store (it cannot be compared).
        let identity = match (&self.credential, &self.tenant_id, &self.client_id) {
            (
                Some(AzureCredential::ClientSecret {
                    tenant_id,
                    client_id,
                    ..
                }),
                _,
                _,
            ) => {
                format!("client:{tenant_id}:{client_id}")
            }
            (Some(AzureCredential::Custom(_)), _, _) => {
                format!("custom:{:016x}", rand::random::<u64>())
            }
            (_, t, c) => format!(
                "ambient:{}:{}",
                t.as_deref().unwrap_or(""),
                c.as_deref().unwrap_or("")
            ),
        };
        let credential: Arc<dyn TokenCredential> = match self.credential.clone() {
            Some(AzureCredential::Custom(c)) => c,
            Some(AzureCredential::ClientSecret {
                tenant_id,
                client_id,
                client_secret,
            }) => {
                client_secret_credential(&tenant_id, &client_id, &client_secret, &client_options)?
            }
            Some(AzureCredential::Implicit) => {
                Arc::new(ImplicitCredential::from_env(&client_options)?)
            }
            None => match &self.client_secret {
                Some(secret) => {
                    let tenant = self.tenant_id.as_deref().ok_or_else(|| {
                        Error::config(ENV_TENANT_ID, "required with a client secret")
                    })?;
                    let client = self.client_id.as_deref().ok_or_else(|| {
                        Error::config(ENV_CLIENT_ID, "required with a client secret")
                    })?;
                    client_secret_credential(tenant, client, secret, &client_options)?
                }
                None => Arc::new(ImplicitCredential::from_env(&client_options)?),
            },
        };

        options.client_options = client_options;
        options.verify_challenge_resource = Some(self.verify_challenge_resource);
        let client = SecretClient::new(&vault_url, credential, Some(options))
            .map_err(|e| Error::config(ENV_VAULT_URI, e.to_string()))?;
        Ok(AzureStore::new(
            Api::new(client),
            Settings {
                vault_url,
                api_version,
                recover_deleted_on_write: self.recover_deleted_on_write,
                poll_interval: self.poll_interval,
                poll_attempts: self.poll_attempts,
                default_cache_ttl: self.default_cache_ttl,
                identity,
            },
        ))
    }
}

/// The SDK retry options equivalent to a core [`RetryPolicy`].
fn retry_options(p: &RetryPolicy) -> RetryOptions {
    if p.max_retries == 0 {
        return RetryOptions::none();
    }
    let d = |d: Duration| {
        azure_core::time::Duration::milliseconds(d.as_millis().min(i64::MAX as u128) as i64)
    };
    RetryOptions::exponential(ExponentialRetryOptions {
        initial_delay: d(p.initial_backoff),
        max_retries: p.max_retries.min(u32::MAX as usize) as u32,
        max_total_elapsed: d(p.retry_timeout),
        max_delay: d(p.max_backoff),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_core::ErrorKind;

    fn config_err(b: AzureBuilder) -> String {
        let err = b.build().unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
        err.to_string()
    }

    #[test]
    fn bad_settings_name_the_setting() {
        assert!(config_err(AzureBuilder::new()).contains(ENV_VAULT_URI));
        assert!(
            config_err(AzureBuilder::new().with_vault_url("http://v.vault.azure.net"))
                .contains("https")
        );
        assert!(
            config_err(AzureBuilder::new().with_vault_url("not a url")).contains(ENV_VAULT_URI)
        );
        let b = AzureBuilder::new().with_vault_url("https://v.vault.azure.net");
        assert!(config_err(b.clone().with_api_version("7.5&x=1")).contains(ENV_API_VERSION));
        let mut no_tenant = b.clone();
        no_tenant.client_secret = Some(SecretValue::from("s3cr3t-value"));
        no_tenant.client_id = Some("c".into());
        let text = config_err(no_tenant);
        assert!(
            text.contains(ENV_TENANT_ID) && !text.contains("s3cr3t"),
            "{text}"
        );
        assert!(
            config_err(b.with_authority_host("http://login.example")).contains(ENV_AUTHORITY_HOST)
        );
    }

    #[test]
    fn retry_none_maps_to_sdk_none() {
        assert!(format!("{:?}", retry_options(&RetryPolicy::none())).contains("None"));
        assert!(format!("{:?}", retry_options(&RetryPolicy::default())).contains("Exponential"));
    }
}
