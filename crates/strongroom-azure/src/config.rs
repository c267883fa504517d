//! [`AzureConfig`], the one configuration struct, and its thin builder [`AzureBuilder`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::policies::Policy;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use serde::Deserialize;
use strongroom_core::config::parse::{self, de};
use strongroom_core::config::{
    Field, FieldKind, HttpConfig, HttpPart, ProviderConfig, StoreConfig,
};
use strongroom_core::provider::http::HttpClient;
use strongroom_core::{Capabilities, ManualClock, Result, RetryPolicy, SecretValue, StoreInfo};

use crate::api::{Api, GuardedTransport};
use crate::auth::{
    AmbientParts, AzureCredential, ImplicitCredential, RefusedTokenPolicy, Session,
    client_secret_factory,
};
use crate::error::PROVIDER;
use crate::store::{AzureStore, Waits};

/// `AZURE_KEY_VAULT_URI`: the vault URL, `https://<vault>.vault.azure.net` (LiteLLM's name).
pub const ENV_VAULT_URI: &str = "AZURE_KEY_VAULT_URI";
/// `AZURE_TENANT_ID`: directory (tenant) id.
pub const ENV_TENANT_ID: &str = "AZURE_TENANT_ID";
/// `AZURE_CLIENT_ID`: application (client) id, or the user-assigned managed identity.
pub const ENV_CLIENT_ID: &str = "AZURE_CLIENT_ID";
/// `AZURE_CLIENT_SECRET`: the client secret; when set, the client-secret login is used.
pub const ENV_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
/// `AZURE_KEY_VAULT_API_VERSION`: the REST api-version to send.
pub const ENV_API_VERSION: &str = "AZURE_KEY_VAULT_API_VERSION";
/// `AZURE_AUTHORITY_HOST`: the Entra ID authority (sovereign clouds, tests).
pub const ENV_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";

/// The api-version sent by default (the SDK's).
pub const DEFAULT_API_VERSION: &str = "2025-07-01";
/// The Entra ID authority of the public cloud.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The first wait for a delete or recovery to complete; later waits double.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The longest a delete or recovery is waited for in total.
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the ambient credential chain reads `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
/// `AZURE_CLIENT_SECRET`, `AZURE_FEDERATED_TOKEN_FILE` when the configuration does not set them.
pub type AmbientEnv = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The settings of an Azure Key Vault store: TOML `settings` keys, environment variables and
/// builder setters all land here; [`StoreConfig::build`] validates them (errors name the
/// setting) and builds the store. The HTTP part's keys (`timeout`, `proxy`, `ca_file`,
/// `max_response_bytes`, `max_pages`, …) sit next to these in TOML and read
/// `AZURE_KEY_VAULT_TIMEOUT`, `AZURE_KEY_VAULT_CA_FILE`, … from the environment;
/// `allow_insecure_transport` is not taken (Key Vault and Entra ID are HTTPS only).
///
/// Credentials: a `client_secret` (with `tenant_id` and `client_id`) logs in as that service
/// principal; otherwise the ambient chain is used ([`crate::ImplicitCredential`]): the
/// environment's client secret, workload identity (`federated_token_file`), managed identity,
/// the Azure CLI. Values the chain needs that are not configured come from the process
/// environment (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`,
/// `AZURE_FEDERATED_TOKEN_FILE`; the SDK itself reads `IDENTITY_ENDPOINT` / `IDENTITY_HEADER`).
///
/// ```
/// use strongroom_azure::AzureConfig;
/// use strongroom_core::config::{ProviderConfig, StoreConfig};
/// let config = AzureConfig::from_lookup(|k| match k {
///     "AZURE_KEY_VAULT_URI" => Some("https://my-vault.vault.azure.net".into()),
///     "AZURE_TENANT_ID" => Some("00000000-0000-0000-0000-000000000001".into()),
///     "AZURE_CLIENT_ID" => Some("app".into()),
///     "AZURE_CLIENT_SECRET" => Some("s3cr3t".into()),
///     "AZURE_KEY_VAULT_TIMEOUT" => Some("10s".into()),
///     _ => None,
/// })
/// .unwrap();
/// assert_eq!(config.http.timeout, std::time::Duration::from_secs(10));
/// assert!(!format!("{config:?}").contains("s3cr3t"));
/// let store = config.build().unwrap();
/// assert_eq!(store.vault_url(), "https://my-vault.vault.azure.net");
/// // Credentials in the URL are refused when the store is built, not at the first call.
/// let mut bad = AzureConfig::default();
/// bad.uri = Some("https://user:pw@my-vault.vault.azure.net".into());
/// assert!(bad.build().unwrap_err().to_string().contains("uri"));
/// ```
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AzureConfig {
    /// The vault URL, `https://<vault>.vault.azure.net` (required; https only, no
    /// `user:password@`).
    pub uri: Option<String>,
    /// The REST api-version (`7.5`, `7.6`, `2025-07-01`, …; default `2025-07-01`).
    pub api_version: Option<String>,
    /// Directory (tenant) id, for the client-secret login and workload identity (no default).
    pub tenant_id: Option<String>,
    /// Application (client) id, or the client id of a user-assigned managed identity (no
    /// default).
    pub client_id: Option<String>,
    /// The client secret; when set, the store logs in as `client_id` in `tenant_id` (no
    /// default).
    pub client_secret: Option<SecretValue>,
    /// The Entra ID authority host (default `https://login.microsoftonline.com`; sovereign
    /// clouds and test servers differ).
    pub authority_host: Option<String>,
    /// Workload identity: the file holding the federated (Kubernetes service-account) token,
    /// read at each log-in (no default).
    pub federated_token_file: Option<PathBuf>,
    /// Where managed identity calls the instance metadata service instead of
    /// `http://169.254.169.254` (the variable other Azure SDKs honour for AAD Pod Identity;
    /// https, or http to this machine or a link-local address; no default).
    pub imds_host: Option<String>,
    /// Whether the challenge's resource must match the vault's domain (default true; turn it
    /// off only for private endpoints or test servers on other host names).
    #[serde(deserialize_with = "de::bool")]
    pub verify_challenge_resource: bool,
    /// Writing a soft-deleted name recovers it first, then sets the new value (default true);
    /// false fails with a `Conflict` that says so.
    #[serde(deserialize_with = "de::bool")]
    pub recover_deleted_on_write: bool,
    /// The first wait for a delete or a recovery to complete; each later wait doubles, up to
    /// eight times this (default 1 s).
    #[serde(deserialize_with = "de::duration")]
    pub poll_interval: Duration,
    /// The longest a delete or recovery is waited for in all; past it the operation fails
    /// with a timeout (default 60 s).
    #[serde(deserialize_with = "de::duration")]
    pub poll_timeout: Duration,
    /// The cache TTL suggested to cache layers that set none (default none).
    #[serde(deserialize_with = "de::opt_duration")]
    pub default_cache_ttl: Option<Duration>,
    /// Timeouts, proxy, CA, transport limits and retries.
    pub http: HttpConfig,
    /// The credential, when not chosen by the settings above (builder only).
    #[serde(skip)]
    credential: Option<AzureCredential>,
    /// Where the ambient chain reads its variables (builder only; default the process
    /// environment).
    #[serde(skip)]
    ambient_env: Option<AmbientEnv>,
    /// A clock that waits move instead of sleeping and that judges token expiry (builder
    /// only; tests).
    #[serde(skip)]
    clock: Option<Arc<ManualClock>>,
}

impl Default for AzureConfig {
    fn default() -> Self {
        AzureConfig {
            uri: None,
            api_version: None,
            tenant_id: None,
            client_id: None,
            client_secret: None,
            authority_host: None,
            federated_token_file: None,
            imds_host: None,
            verify_challenge_resource: true,
            recover_deleted_on_write: true,
            poll_interval: DEFAULT_POLL_INTERVAL,
            poll_timeout: DEFAULT_POLL_TIMEOUT,
            default_cache_ttl: None,
            http: HttpConfig::default(),
            credential: None,
            ambient_env: None,
            clock: None,
        }
    }
}

impl fmt::Debug for AzureConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureConfig")
            .field("uri", &self.uri)
            .field("api_version", &self.api_version)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .field("authority_host", &self.authority_host)
            .field("federated_token_file", &self.federated_token_file)
            .field("imds_host", &self.imds_host)
            .field("verify_challenge_resource", &self.verify_challenge_resource)
            .field("recover_deleted_on_write", &self.recover_deleted_on_write)
            .field("poll_interval", &self.poll_interval)
            .field("poll_timeout", &self.poll_timeout)
            .field("default_cache_ttl", &self.default_cache_ttl)
            .field("http", &self.http)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl ProviderConfig for AzureConfig {
    const PROVIDER: &'static str = PROVIDER;
    const FIELDS: &'static [Field] = &[
        Field::new("uri", &[ENV_VAULT_URI], FieldKind::Address, ""),
        Field::new(
            "api_version",
            &[ENV_API_VERSION],
            FieldKind::Plain,
            DEFAULT_API_VERSION,
        ),
        Field::new("tenant_id", &[ENV_TENANT_ID], FieldKind::Plain, ""),
        Field::new("client_id", &[ENV_CLIENT_ID], FieldKind::Plain, ""),
        Field::new(
            "client_secret",
            &[ENV_CLIENT_SECRET],
            FieldKind::Credential,
            "",
        ),
        Field::new(
            "authority_host",
            &[ENV_AUTHORITY_HOST],
            FieldKind::Address,
            DEFAULT_AUTHORITY_HOST,
        ),
        Field::new(
            "federated_token_file",
            &["AZURE_FEDERATED_TOKEN_FILE"],
            FieldKind::Path,
            "",
        ),
        Field::new(
            "imds_host",
            &["AZURE_POD_IDENTITY_AUTHORITY_HOST"],
            FieldKind::Address,
            "",
        ),
        Field::new(
            "verify_challenge_resource",
            &["AZURE_KEY_VAULT_VERIFY_CHALLENGE_RESOURCE"],
            FieldKind::Plain,
            "true",
        ),
        Field::new(
            "recover_deleted_on_write",
            &["AZURE_KEY_VAULT_RECOVER_DELETED_ON_WRITE"],
            FieldKind::Plain,
            "true",
        ),
        Field::new(
            "poll_interval",
            &["AZURE_KEY_VAULT_POLL_INTERVAL"],
            FieldKind::Plain,
            "1s",
        ),
        Field::new(
            "poll_timeout",
            &["AZURE_KEY_VAULT_POLL_TIMEOUT"],
            FieldKind::Plain,
            "60s",
        ),
        Field::new(
            "default_cache_ttl",
            &["AZURE_KEY_VAULT_DEFAULT_CACHE_TTL"],
            FieldKind::Plain,
            "",
        ),
    ];
    const HTTP: Option<HttpPart> = Some(HttpPart {
        env_prefix: "AZURE_KEY_VAULT_",
        aliases: &[],
        // Key Vault and Entra ID are HTTPS only; the SDK refuses bearer tokens over http.
        without: &["allow_insecure_transport"],
    });
}

/// An id as Entra ID writes them: letters, digits, `-`, `.`, `_`; 1–128 characters.
fn check_id(key: &str, value: &str) -> Result<()> {
    let ok = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(AzureConfig::field_error(
            key,
            "expected an id of letters, digits, `-`, `.` or `_` (a GUID or a domain name)",
        ))
    }
}

impl AzureConfig {
    fn vault_url(&self) -> Result<url::Url> {
        let text = self.uri.as_deref().ok_or_else(|| {
            Self::field_error(
                "uri",
                "the vault URL is required (https://<vault>.vault.azure.net)",
            )
        })?;
        parse::address(text, &["https"]).map_err(|p| {
            Self::field_error("uri", p).with_hint(
                "Key Vault tokens are only sent over https; the URL is https://<vault>.vault.azure.net",
            )
        })
    }

    fn api_version(&self) -> Result<String> {
        let Some(v) = self.api_version.as_deref().map(str::trim) else {
            return Ok(DEFAULT_API_VERSION.to_owned());
        };
        if v.is_empty()
            || v.len() > 32
            || !v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return Err(Self::field_error(
                "api_version",
                "expected a Key Vault api-version such as `7.5` or `2025-07-01`",
            ));
        }
        Ok(v.to_owned())
    }

    fn imds_host(&self) -> Result<Option<url::Url>> {
        let Some(text) = &self.imds_host else {
            return Ok(None);
        };
        let url = parse::address(text, &["http", "https"])
            .map_err(|p| Self::field_error("imds_host", p))?;
        let link_local = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_link_local());
        if parse::is_plaintext(&url) && !parse::is_loopback(&url) && !link_local {
            return Err(Self::field_error(
                "imds_host",
                "plain http only to this machine or a link-local address",
            ));
        }
        Ok(Some(url))
    }

    /// The credential options: the guarded transport, retries, and always an explicit
    /// authority (the SDK would otherwise read `AZURE_AUTHORITY_HOST` itself).
    fn credential_options(
        &self,
        base: &ClientOptions,
        client: &reqwest::Client,
    ) -> Result<ClientOptions> {
        let host = self
            .authority_host
            .as_deref()
            .unwrap_or(DEFAULT_AUTHORITY_HOST);
        let authority =
            parse::address(host, &["https"]).map_err(|p| Self::field_error("authority_host", p))?;
        let mut custom = CustomConfiguration::default();
        custom.authority_host = authority.as_str().trim_end_matches('/').to_owned();
        let transport = GuardedTransport::credentials(
            client.clone(),
            self.http.max_response_bytes,
            self.imds_host()?,
        );
        Ok(ClientOptions {
            transport: Some(Transport::new(Arc::new(transport))),
            cloud: Some(Arc::new(CloudConfiguration::Custom(custom))),
            ..base.clone()
        })
    }

    /// The session (credential + token cache) and the identity label of who asks.
    fn session(&self, options: &ClientOptions) -> Result<(Session, String)> {
        if let Some(id) = &self.tenant_id {
            check_id("tenant_id", id)?;
        }
        if let Some(id) = &self.client_id {
            check_id("client_id", id)?;
        }
        match &self.credential {
            Some(AzureCredential::Custom(c)) => {
                let label = format!("custom:{:016x}", rand::random::<u64>());
                return Ok((Session::given(Arc::clone(c)), label));
            }
            Some(AzureCredential::ClientSecret {
                tenant_id,
                client_id,
                client_secret,
            }) => {
                check_id("tenant_id", tenant_id)?;
                check_id("client_id", client_id)?;
                let make = client_secret_factory(tenant_id, client_id, client_secret, options)?;
                return Ok((
                    Session::fresh(make),
                    format!("client:{tenant_id}:{client_id}"),
                ));
            }
            Some(AzureCredential::Implicit) | None => {}
        }
        if let (Some(secret), None) = (&self.client_secret, &self.credential) {
            let tenant = self
                .tenant_id
                .as_deref()
                .ok_or_else(|| Self::field_error("tenant_id", "required with a client secret"))?;
            let client = self
                .client_id
                .as_deref()
                .ok_or_else(|| Self::field_error("client_id", "required with a client secret"))?;
            let make = client_secret_factory(tenant, client, secret, options)?;
            return Ok((Session::fresh(make), format!("client:{tenant}:{client}")));
        }
        let process_env = |k: &str| std::env::var(k).ok();
        let lookup: &dyn Fn(&str) -> Option<String> = match &self.ambient_env {
            Some(f) => f.as_ref(),
            None => &process_env,
        };
        let parts = AmbientParts {
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            federated_token_file: self.federated_token_file.clone(),
        }
        .or_from(lookup);
        if self.federated_token_file.is_some() {
            if parts.tenant_id.is_none() {
                return Err(Self::field_error(
                    "tenant_id",
                    "required for workload identity (federated_token_file)",
                ));
            }
            if parts.client_id.is_none() {
                return Err(Self::field_error(
                    "client_id",
                    "required for workload identity (federated_token_file)",
                ));
            }
        }
        let label = format!(
            "ambient:{}:{}",
            parts.tenant_id.as_deref().unwrap_or(""),
            parts.client_id.as_deref().unwrap_or("")
        );
        let chain = ImplicitCredential::new(parts, options)?;
        Ok((Session::chain(chain), label))
    }
}

impl StoreConfig for AzureConfig {
    type Store = AzureStore;

    /// Validates every setting (the vault URL, the credential configuration, the HTTP part)
    /// and builds the store; nothing is sent.
    fn build(self) -> Result<AzureStore> {
        let vault = self.vault_url()?;
        let vault_url = vault.as_str().trim_end_matches('/').to_owned();
        let api_version = self.api_version()?;
        if self.poll_interval.is_zero() {
            return Err(Self::field_error(
                "poll_interval",
                "must be greater than zero",
            ));
        }
        if self.poll_timeout < self.poll_interval {
            return Err(Self::field_error(
                "poll_timeout",
                "must be at least poll_interval",
            ));
        }
        let http = HttpClient::new(PROVIDER, &self.http)?;
        let base = ClientOptions {
            retry: retry_options(&self.http.retry_policy()),
            ..Default::default()
        };
        let credential_options = self.credential_options(&base, http.client())?;
        let (mut session, identity) = self.session(&credential_options)?;
        if let Some(clock) = &self.clock {
            session = session.with_clock(Arc::clone(clock) as Arc<dyn strongroom_core::Clock>);
        }
        let session = Arc::new(session);
        let refusals: Arc<dyn Policy> = Arc::new(RefusedTokenPolicy::new(Arc::clone(&session)));
        let transport =
            GuardedTransport::vault(http.client().clone(), self.http.max_response_bytes, &vault);
        let options = SecretClientOptions {
            api_version: api_version.clone(),
            client_options: ClientOptions {
                transport: Some(Transport::new(Arc::new(transport))),
                per_try_policies: vec![refusals],
                ..base
            },
            verify_challenge_resource: Some(self.verify_challenge_resource),
        };
        let credential: Arc<dyn TokenCredential> = session;
        let client = SecretClient::new(&vault_url, credential, Some(options))
            .map_err(|e| Self::field_error("uri", crate::error::map(e).message()))?;
        let mut info = StoreInfo::new(PROVIDER, Capabilities::all().with_versions(true))
            .with_address(format!("azure:{}", vault_url.to_ascii_lowercase()))
            .with_identity(&[b"azure", identity.as_bytes()]);
        if let Some(ttl) = self.default_cache_ttl {
            info = info.with_default_ttl(ttl);
        }
        Ok(AzureStore::new(
            Api::new(client, self.http.max_pages, self.http.max_list_items),
            info,
            vault_url,
            api_version,
            self.recover_deleted_on_write,
            Waits::new(self.poll_interval, self.poll_timeout, self.clock.clone()),
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

/// Builds an [`AzureStore`]: a thin wrapper over [`AzureConfig`] whose setters assign its
/// fields; [`AzureBuilder::build`] validates.
///
/// ```
/// use strongroom_azure::AzureBuilder;
/// # fn demo() -> strongroom_core::Result<()> {
/// let store = AzureBuilder::new()
///     .with_vault_url("https://my-vault.vault.azure.net")
///     .with_api_version("7.5")
///     .with_client_secret("00000000-0000-0000-0000-000000000001", "app", "s3cr3t")
///     .build()?;
/// assert_eq!(store.api_version(), "7.5");
/// # Ok(()) }
/// # demo().unwrap();
/// ```
#[derive(Debug, Default)]
pub struct AzureBuilder {
    config: AzureConfig,
}

impl AzureBuilder {
    /// Empty settings: ambient credential, SDK default api-version, recover on write.
    pub fn new() -> Self {
        Self::default()
    }
    /// Starts from a configuration.
    pub fn from_config(config: AzureConfig) -> Self {
        AzureBuilder { config }
    }
    /// Settings from the process environment (the variables in [`AzureConfig::FIELDS`] and
    /// the HTTP part's `AZURE_KEY_VAULT_*`).
    pub fn from_env() -> Result<Self> {
        AzureConfig::from_env().map(Self::from_config)
    }
    /// The configuration so far.
    pub fn config(&self) -> &AzureConfig {
        &self.config
    }

    /// The vault URL, `https://<vault>.vault.azure.net` (`uri`).
    pub fn with_vault_url(mut self, url: impl Into<String>) -> Self {
        self.config.uri = Some(url.into());
        self
    }
    /// The REST api-version (`7.5`, `7.6`, `2025-07-01`, …).
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.config.api_version = Some(version.into());
        self
    }
    /// Logs in as a service principal with a client secret.
    pub fn with_client_secret(
        mut self,
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<SecretValue>,
    ) -> Self {
        self.config.tenant_id = Some(tenant_id.into());
        self.config.client_id = Some(client_id.into());
        self.config.client_secret = Some(client_secret.into());
        self.config.credential = None;
        self
    }
    /// The tenant id (workload identity, or with a client secret).
    pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.config.tenant_id = Some(tenant_id.into());
        self
    }
    /// The client id (workload identity, a user-assigned managed identity).
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.config.client_id = Some(client_id.into());
        self
    }
    /// Workload identity: the federated token file.
    pub fn with_federated_token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.federated_token_file = Some(path.into());
        self
    }
    /// Where managed identity reaches the instance metadata service (`imds_host`).
    pub fn with_imds_host(mut self, url: impl Into<String>) -> Self {
        self.config.imds_host = Some(url.into());
        self
    }
    /// Uses the ambient credential chain even when a client secret is configured.
    pub fn with_implicit_credential(mut self) -> Self {
        self.config.credential = Some(AzureCredential::Implicit);
        self
    }
    /// Uses any `TokenCredential` (a static token, a credential with special options, …).
    pub fn with_credential(mut self, credential: Arc<dyn TokenCredential>) -> Self {
        self.config.credential = Some(AzureCredential::Custom(credential));
        self
    }
    /// Reads the ambient chain's variables through `lookup` instead of the process
    /// environment (tests, embedding).
    pub fn with_ambient_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.config.ambient_env = Some(Arc::new(lookup));
        self
    }
    /// The Entra ID authority host (`https://login.microsoftonline.us`, a test server …).
    pub fn with_authority_host(mut self, url: impl Into<String>) -> Self {
        self.config.authority_host = Some(url.into());
        self
    }
    /// Whether the challenge's resource must match the vault's domain (default `true`).
    pub fn with_verify_challenge_resource(mut self, verify: bool) -> Self {
        self.config.verify_challenge_resource = verify;
        self
    }
    /// Writing a soft-deleted name: recover it first (`true`, the default), or fail with a
    /// `Conflict` that says so (`false`).
    pub fn with_recover_deleted_on_write(mut self, recover: bool) -> Self {
        self.config.recover_deleted_on_write = recover;
        self
    }
    /// The first wait for a delete or recovery, and the total wait as `interval × attempts`.
    pub fn with_poll(mut self, interval: Duration, attempts: u32) -> Self {
        self.config.poll_interval = interval;
        self.config.poll_timeout = interval.saturating_mul(attempts.max(1));
        self
    }
    /// The longest a delete or recovery is waited for in all.
    pub fn with_poll_timeout(mut self, timeout: Duration) -> Self {
        self.config.poll_timeout = timeout;
        self
    }
    /// Tests: waits for deletes and recoveries move `clock` instead of sleeping, and token
    /// expiry is judged by it.
    pub fn with_manual_clock(mut self, clock: Arc<ManualClock>) -> Self {
        self.config.clock = Some(clock);
        self
    }
    /// The cache TTL suggested to cache layers that set none.
    pub fn with_default_cache_ttl(mut self, ttl: Duration) -> Self {
        self.config.default_cache_ttl = Some(ttl);
        self
    }
    /// Validates the settings and builds the store ([`StoreConfig::build`]).
    pub fn build(self) -> Result<AzureStore> {
        self.config.build()
    }
}

/// Timeouts, proxy, CAs, client certificate, TLS verification, retries: the shared setters.
impl strongroom_core::HttpSetters for AzureBuilder {
    fn http_mut(&mut self) -> &mut strongroom_core::config::HttpConfig {
        &mut self.config.http
    }
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

    const TENANT: &str = "00000000-0000-0000-0000-000000000001";

    #[test]
    fn bad_settings_name_the_setting_when_built() {
        assert!(config_err(AzureBuilder::new()).contains("uri"));
        for bad in [
            "http://v.vault.azure.net",
            "not a url",
            "https://user:pw@v.vault.azure.net",
            "https://v.vault.azure.net?x=1",
        ] {
            let text = config_err(AzureBuilder::new().with_vault_url(bad));
            assert!(
                text.contains("uri") && !text.contains("pw@"),
                "{bad}: {text}"
            );
        }
        let b = || AzureBuilder::new().with_vault_url("https://v.vault.azure.net");
        assert!(config_err(b().with_api_version("7.5&x=1")).contains("api_version"));
        let mut no_tenant = b().config;
        no_tenant.client_secret = Some(SecretValue::from("s3cr3t-value"));
        no_tenant.client_id = Some("c".into());
        let text = config_err(AzureBuilder::from_config(no_tenant));
        assert!(
            text.contains("tenant_id") && !text.contains("s3cr3t"),
            "{text}"
        );
        let text = config_err(b().with_client_secret("bad tenant!", "c", "s3cr3t-value"));
        assert!(
            text.contains("tenant_id") && !text.contains("s3cr3t"),
            "{text}"
        );
        assert!(
            config_err(b().with_authority_host("http://login.example")).contains("authority_host")
        );
        assert!(config_err(b().with_imds_host("http://10.1.2.3")).contains("imds_host"));
        assert!(config_err(b().with_poll(Duration::ZERO, 3)).contains("poll_interval"));
        // Workload identity needs its ids and a readable token file.
        let wi = b()
            .with_ambient_env(|_| None)
            .with_federated_token_file("/nonexistent/strongroom/token");
        assert!(config_err(wi).contains("tenant_id"));
        let wi = b()
            .with_ambient_env(|_| None)
            .with_tenant_id(TENANT)
            .with_client_id("app")
            .with_federated_token_file("/nonexistent/strongroom/token");
        assert!(config_err(wi).contains("federated_token_file"));
    }

    #[test]
    fn fields_read_from_toml_keys_and_exact_variables() {
        let env = |k: &str| match k {
            "AZURE_KEY_VAULT_URI" => Some("https://v.vault.azure.net/".to_string()),
            "AZURE_KEY_VAULT_VERIFY_CHALLENGE_RESOURCE" => Some("no".to_string()),
            "AZURE_KEY_VAULT_POLL_TIMEOUT" => Some("2m".to_string()),
            "AZURE_KEY_VAULT_CA_FILE" => Some("/tmp/ca.pem".to_string()),
            "AZURE_KEY_VAULT_MAX_PAGES" => Some("7".to_string()),
            // Generic names are never looked at.
            "URI" | "TENANT_ID" | "CLIENT_SECRET" => Some("hostile".to_string()),
            _ => None,
        };
        let c = AzureConfig::from_lookup(env).unwrap();
        assert_eq!(c.uri.as_deref(), Some("https://v.vault.azure.net/"));
        assert!(!c.verify_challenge_resource);
        assert_eq!(c.poll_timeout, Duration::from_secs(120));
        assert_eq!(
            c.http.ca_file.as_deref(),
            Some(std::path::Path::new("/tmp/ca.pem"))
        );
        assert_eq!(c.http.max_pages, 7);
        assert!(c.tenant_id.is_none() && c.client_secret.is_none());
        let keys: Vec<&str> = AzureConfig::fields().iter().map(|f| f.key).collect();
        assert!(!keys.contains(&"allow_insecure_transport"), "{keys:?}");
        let mut s = strongroom_core::config::Settings::for_manager("kv");
        s.insert("url", "https://v.vault.azure.net".into());
        let err = AzureConfig::from_settings(&s).unwrap_err().to_string();
        assert!(err.contains("did you mean `uri`"), "{err}");
    }

    #[test]
    fn retry_none_maps_to_sdk_none() {
        assert!(format!("{:?}", retry_options(&RetryPolicy::none())).contains("None"));
        assert!(format!("{:?}", retry_options(&RetryPolicy::default())).contains("Exponential"));
    }
}
