//! Settings: [`GcpConfig`] (filled from TOML, the environment LiteLLM users have, or the
//! builder) and [`GcpBuilder`], a thin wrapper over it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use strongroom_core::config::parse::{self, de};
use strongroom_core::config::{
    Field, FieldKind, HttpConfig, HttpPart, ProviderConfig, StoreConfig,
};
use strongroom_core::provider::PageBudget;
use strongroom_core::provider::http::HttpClient;
use strongroom_core::{Capabilities, Clock, Result, SecretValue, StoreInfo, SystemClock};

use crate::api::{Api, Replication};
use crate::auth::{Auth, Source, load_credentials_file};
use crate::error::PROVIDER;
use crate::store::{GcpStore, Parts};

/// Secret Manager's public endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com";
/// The metadata server's host name on GCE, GKE and Cloud Run.
pub const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";
/// LiteLLM's cache TTL for Google Secret Manager reads (`GOOGLE_SECRET_MANAGER_REFRESH_INTERVAL`).
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(86_400);
/// What `refresh_interval = 0` means: ten minutes, as in LiteLLM, whose `InMemoryCache` turns
/// a `default_ttl` of 0 into 600 s.
pub const ZERO_REFRESH_INTERVAL: Duration = Duration::from_secs(600);
/// The most secrets one `ListSecrets` page may ask for.
pub const MAX_LIST_PAGE_SIZE: u64 = 25_000;

/// Every setting of the Google Cloud Secret Manager provider. TOML keys are the field names;
/// the environment variables are LiteLLM's (`GOOGLE_SECRET_MANAGER_*`, `GCS_PATH_SERVICE_ACCOUNT`)
/// and Google's (`GOOGLE_APPLICATION_CREDENTIALS`, `GOOGLE_CLOUD_PROJECT`,
/// `GCE_METADATA_HOST`), exact names only ([`GcpConfig::fields`]). Unknown keys are refused.
/// [`StoreConfig::build`] validates everything (it reads the credentials file) and builds the
/// store.
///
/// ```
/// use strongroom_gcp::GcpConfig;
/// use strongroom_core::config::{ProviderConfig, StoreConfig};
/// let config = GcpConfig::from_lookup(|k| match k {
///     "GOOGLE_SECRET_MANAGER_PROJECT_ID" => Some("my-project".into()),
///     "GOOGLE_OAUTH_ACCESS_TOKEN" => Some("ya29.example".into()),
///     _ => None,
/// })
/// .unwrap();
/// assert_eq!(config.refresh_interval.as_secs(), 86_400);
/// assert!(!format!("{config:?}").contains("ya29"));
/// let store = config.build().unwrap();
/// assert_eq!(store.project_id(), "my-project");
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcpConfig {
    /// The project the secrets live in (required unless the service-account key names one).
    pub project_id: Option<String>,
    /// A credentials file: service-account key, gcloud user credentials or a workload identity
    /// federation configuration (default: none, use the metadata server).
    pub credentials_file: Option<PathBuf>,
    /// A ready OAuth 2.0 access token, used as is (default none).
    pub access_token: Option<SecretValue>,
    /// The Secret Manager endpoint (default `https://secretmanager.googleapis.com`; tests point
    /// it at a fake: `http://` only to loopback unless `allow_insecure_transport`).
    pub endpoint: Option<String>,
    /// The metadata server, `host[:port]` or a URL (default `metadata.google.internal`).
    pub metadata_host: Option<String>,
    /// The cache TTL suggested to cache layers that set none (default 86400 s; `0` means
    /// 600 s, as in LiteLLM).
    #[serde(deserialize_with = "de::duration")]
    pub refresh_interval: Duration,
    /// Never cache reads (LiteLLM's switch; default false): the suggested cache TTL is zero.
    #[serde(deserialize_with = "de::bool")]
    pub always_read_secret_manager: bool,
    /// Where a write that creates a secret replicates it: empty = automatic (default), else
    /// these locations (user-managed replication).
    #[serde(deserialize_with = "de::list")]
    pub replication_locations: Vec<String>,
    /// Reads in flight at once in `read_many` (default 16; Secret Manager has no batch read).
    #[serde(deserialize_with = "de::number")]
    pub read_concurrency: u64,
    /// Secrets per `list` page (default 1000, at most 25000).
    #[serde(deserialize_with = "de::number")]
    pub list_page_size: u64,
    /// Timeouts, proxy, CA, client certificate and transport limits (keys flat in TOML).
    pub http: HttpConfig,
}

impl Default for GcpConfig {
    fn default() -> Self {
        GcpConfig {
            project_id: None,
            credentials_file: None,
            access_token: None,
            endpoint: None,
            metadata_host: None,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            always_read_secret_manager: false,
            replication_locations: Vec::new(),
            read_concurrency: 16,
            list_page_size: 1000,
            http: HttpConfig::default(),
        }
    }
}

impl ProviderConfig for GcpConfig {
    const PROVIDER: &'static str = PROVIDER;
    const FIELDS: &'static [Field] = &[
        Field::new(
            "project_id",
            &["GOOGLE_SECRET_MANAGER_PROJECT_ID", "GOOGLE_CLOUD_PROJECT"],
            FieldKind::Plain,
            "",
        ),
        Field::new(
            "credentials_file",
            &["GCS_PATH_SERVICE_ACCOUNT", "GOOGLE_APPLICATION_CREDENTIALS"],
            FieldKind::Path,
            "",
        ),
        Field::new(
            "access_token",
            &["GOOGLE_OAUTH_ACCESS_TOKEN"],
            FieldKind::Credential,
            "",
        ),
        Field::new(
            "endpoint",
            &["GOOGLE_SECRET_MANAGER_ENDPOINT"],
            FieldKind::Address,
            DEFAULT_ENDPOINT,
        ),
        Field::new(
            "metadata_host",
            &["GCE_METADATA_HOST"],
            FieldKind::Address,
            DEFAULT_METADATA_HOST,
        ),
        Field::new(
            "refresh_interval",
            &["GOOGLE_SECRET_MANAGER_REFRESH_INTERVAL"],
            FieldKind::Plain,
            "86400",
        ),
        Field::new(
            "always_read_secret_manager",
            &["GOOGLE_SECRET_MANAGER_ALWAYS_READ_SECRET_MANAGER"],
            FieldKind::Plain,
            "false",
        ),
        Field::new(
            "replication_locations",
            &["GOOGLE_SECRET_MANAGER_REPLICATION_LOCATIONS"],
            FieldKind::Plain,
            "",
        ),
        Field::new("read_concurrency", &[], FieldKind::Plain, "16"),
        Field::new("list_page_size", &[], FieldKind::Plain, "1000"),
    ];
    const HTTP: Option<HttpPart> = Some(HttpPart::new("GOOGLE_SECRET_MANAGER_"));
}

impl StoreConfig for GcpConfig {
    type Store = GcpStore;

    fn build(self) -> Result<GcpStore> {
        self.build_with_clock(Arc::new(SystemClock))
    }
}

/// A location id: lower-case letters, digits and `-` (`us-east1`, `europe-west4`).
fn check_location(l: &str) -> Result<()> {
    if l.is_empty()
        || l.len() > 64
        || !l
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(GcpConfig::field_error(
            "replication_locations",
            format!(
                "`{}` is not a location id (lower-case letters, digits and `-`, e.g. `us-east1`)",
                l.escape_default()
            ),
        ));
    }
    Ok(())
}

/// A project id (`my-project`), a legacy domain-scoped one (`example.com:my-project`) or a
/// project number.
fn check_project(p: &str) -> Result<()> {
    let ok = !p.is_empty()
        && p.len() <= 100
        && !p.starts_with('-')
        && p.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b':')
        });
    if ok {
        Ok(())
    } else {
        Err(GcpConfig::field_error(
            "project_id",
            format!(
                "`{}` is not a project id (lower-case letters, digits and `-`) or number",
                p.escape_default()
            ),
        ))
    }
}

/// Whether plaintext to this host is acceptable for the metadata server and credential
/// sources: it never leaves the machine or the VM.
fn is_local_metadata_host(url: &url::Url) -> bool {
    parse::is_loopback(url)
        || matches!(
            url.host(),
            Some(url::Host::Domain("metadata.google.internal" | "metadata"))
        )
        || matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_link_local())
}

impl GcpConfig {
    /// Validates every setting and builds the store, with `clock` for token times and retries.
    pub(crate) fn build_with_clock(self, clock: Arc<dyn Clock>) -> Result<GcpStore> {
        self.http.validate(PROVIDER)?;
        let endpoint = self
            .http
            .address(
                PROVIDER,
                "endpoint` (env `GOOGLE_SECRET_MANAGER_ENDPOINT`)",
                self.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT),
                false,
            )?
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let allow_insecure = self.http.allow_insecure_transport;
        // Addresses a credential source may hand tokens to: https, or plaintext to loopback /
        // the metadata server (link-local) — or anywhere with allow_insecure_transport.
        let local_url = |what: &str, text: &str| -> Result<(String, bool)> {
            let url = parse::address(text, &["http", "https"])
                .map_err(|p| Self::field_error("credentials_file", format!("`{what}`: {p}")))?;
            let local = is_local_metadata_host(&url);
            if parse::is_plaintext(&url) && !local && !allow_insecure {
                return Err(Self::field_error(
                    "credentials_file",
                    format!(
                        "`{what}` sends credentials in clear to a host that is not this machine"
                    ),
                ));
            }
            Ok((url.as_str().trim_end_matches('/').to_owned(), local))
        };
        let metadata_text = self
            .metadata_host
            .clone()
            .unwrap_or_else(|| DEFAULT_METADATA_HOST.to_owned());
        let metadata_text = if metadata_text.contains("://") {
            metadata_text
        } else {
            format!("http://{metadata_text}")
        };
        let metadata = local_url("metadata_host", &metadata_text)
            .map_err(|_| {
                Self::field_error(
                    "metadata_host",
                    "must be `host[:port]` or a URL; plaintext only to this machine or the link-local metadata server",
                )
            })?
            .0;
        let http = &self.http;
        let url = |what: &str, text: &str| -> Result<String> {
            Ok(http
                .address(
                    PROVIDER,
                    &format!("credentials_file` (`{what}`)"),
                    text,
                    false,
                )?
                .as_str()
                .to_owned())
        };
        let problem = |p: String| Self::field_error("credentials_file", p);
        let (source, file_project) = match (&self.access_token, &self.credentials_file) {
            (Some(t), _) if t.is_blank() => {
                return Err(Self::field_error("access_token", "is empty"));
            }
            (Some(t), _) => (Source::Static(t.clone()), None),
            (None, Some(path)) => {
                let loaded = load_credentials_file(path, &url, &local_url, &problem)?;
                (loaded.source, loaded.project_id)
            }
            (None, None) => (Source::Metadata(metadata), None),
        };
        let project = self
            .project_id
            .clone()
            .or(file_project)
            .ok_or_else(|| {
                Self::field_error(
                    "project_id",
                    "no project: set GOOGLE_SECRET_MANAGER_PROJECT_ID (LiteLLM's name) or GOOGLE_CLOUD_PROJECT",
                )
            })?;
        check_project(&project)?;
        for l in &self.replication_locations {
            check_location(l)?;
        }
        let replication = if self.replication_locations.is_empty() {
            Replication::Automatic
        } else {
            Replication::UserManaged(self.replication_locations.clone())
        };
        if self.read_concurrency == 0 {
            return Err(Self::field_error("read_concurrency", "must be at least 1"));
        }
        if !(1..=MAX_LIST_PAGE_SIZE).contains(&self.list_page_size) {
            return Err(Self::field_error(
                "list_page_size",
                format!("must be 1 to {MAX_LIST_PAGE_SIZE}"),
            ));
        }
        let ttl = if self.always_read_secret_manager {
            Duration::ZERO
        } else if self.refresh_interval.is_zero() {
            strongroom_core::config::warn_once(
                "gcp:refresh_interval=0",
                "gcp: refresh_interval = 0 means 10 minutes, as in LiteLLM",
            );
            ZERO_REFRESH_INTERVAL
        } else {
            self.refresh_interval
        };
        let api_http = HttpClient::new(PROVIDER, &self.http)?.with_clock(Arc::clone(&clock));
        // The metadata server and link-local credential sources are reached directly.
        let mut local = self.http.clone();
        local.proxy = None;
        let local_http = HttpClient::new(PROVIDER, &local)?.with_clock(Arc::clone(&clock));
        let identity = source.identity();
        let identity: Vec<&[u8]> = identity.iter().map(Vec::as_slice).collect();
        let info = StoreInfo::new(
            PROVIDER,
            Capabilities::all().with_versions(true).with_binary(true),
        )
        .with_address(format!("gcp:{endpoint}|projects/{project}"))
        .with_identity(&identity)
        .with_default_ttl(ttl);
        Ok(GcpStore::new(Parts {
            info,
            api: Api::new(api_http, local_http, endpoint, project),
            auth: Auth::new(source, clock),
            replication,
            read_concurrency: self.read_concurrency as usize,
            list_page_size: self.list_page_size,
            pages: PageBudget::from_config(&self.http),
        }))
    }
}

/// Builds a [`GcpStore`]: setters over a [`GcpConfig`], validated by [`GcpBuilder::build`].
///
/// ```no_run
/// use strongroom_gcp::GcpBuilder;
/// use strongroom_core::{ReadOptions, SecretName, SecretStore};
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = GcpBuilder::from_env()?          // GOOGLE_SECRET_MANAGER_PROJECT_ID, ADC, …
///     .with_project_id("my-project")
///     .with_credentials_file("/etc/gcp/key.json")
///     .build()?;
/// let name = SecretName::new("OPENAI_API_KEY")?;
/// if let Some(secret) = store.read(&name, &ReadOptions::new()).await? {
///     let _value = secret.value.expose_str()?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct GcpBuilder {
    config: GcpConfig,
    clock: Option<Arc<dyn Clock>>,
}

impl GcpBuilder {
    /// Defaults only (see [`GcpConfig`]).
    pub fn new() -> Self {
        Self::default()
    }
    /// Starts from a config.
    pub fn from_config(config: GcpConfig) -> Self {
        GcpBuilder {
            config,
            clock: None,
        }
    }
    /// Reads the declared environment variables ([`GcpConfig::fields`]); an empty variable
    /// counts as unset, a malformed one is an error naming it.
    pub fn from_env() -> Result<Self> {
        GcpConfig::from_env().map(Self::from_config)
    }
    /// Like [`GcpBuilder::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        GcpConfig::from_lookup(lookup).map(Self::from_config)
    }
    /// The config so far.
    pub fn config(&self) -> &GcpConfig {
        &self.config
    }
    /// Sets `project_id`.
    pub fn with_project_id(mut self, project: impl Into<String>) -> Self {
        self.config.project_id = Some(project.into());
        self
    }
    /// Sets `credentials_file`.
    pub fn with_credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.credentials_file = Some(path.into());
        self
    }
    /// Sets `access_token`.
    pub fn with_access_token(mut self, token: impl Into<SecretValue>) -> Self {
        self.config.access_token = Some(token.into());
        self
    }
    /// Sets `endpoint`.
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.config.endpoint = Some(url.into());
        self
    }
    /// Sets `metadata_host`.
    pub fn with_metadata_host(mut self, host: impl Into<String>) -> Self {
        self.config.metadata_host = Some(host.into());
        self
    }
    /// Sets `refresh_interval` (the suggested cache TTL).
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.config.refresh_interval = interval;
        self
    }
    /// Sets `always_read_secret_manager`.
    pub fn with_always_read_secret_manager(mut self, yes: bool) -> Self {
        self.config.always_read_secret_manager = yes;
        self
    }
    /// How a write that creates a secret replicates it.
    pub fn with_replication(mut self, replication: Replication) -> Self {
        self.config.replication_locations = match replication {
            Replication::Automatic => Vec::new(),
            Replication::UserManaged(l) => l,
        };
        self
    }
    /// Sets `read_concurrency`.
    pub fn with_read_concurrency(mut self, n: usize) -> Self {
        self.config.read_concurrency = n as u64;
        self
    }
    /// Sets `list_page_size`.
    pub fn with_list_page_size(mut self, n: usize) -> Self {
        self.config.list_page_size = n as u64;
        self
    }
    /// The clock token times and the retry budget are measured with (tests pass a
    /// `ManualClock`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
    /// Checks every setting (reading the credentials file) and builds the store. Nothing is
    /// sent until the first operation.
    pub fn build(self) -> Result<GcpStore> {
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        self.config.build_with_clock(clock)
    }
}

/// Timeouts, proxy, CAs, client certificate, TLS verification, retries: the shared setters.
impl strongroom_core::HttpSetters for GcpBuilder {
    fn http_mut(&mut self) -> &mut strongroom_core::config::HttpConfig {
        &mut self.config.http
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use strongroom_core::config::Settings;
    use strongroom_core::{ErrorKind, SecretStore};

    fn from(vars: &[(&str, &str)]) -> Result<GcpConfig> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        GcpConfig::from_lookup(move |k| map.get(k).cloned())
    }

    fn build_err(vars: &[(&str, &str)]) -> String {
        match from(vars) {
            Err(e) => e.to_string(),
            Ok(c) => match c.build() {
                Ok(s) => panic!("{vars:?} must fail: {s:?}"),
                Err(e) => e.to_string(),
            },
        }
    }

    const P: (&str, &str) = ("GOOGLE_SECRET_MANAGER_PROJECT_ID", "my-proj");

    #[test]
    fn litellm_variables_and_defaults() {
        let c = from(&[P]).unwrap();
        assert_eq!(c.refresh_interval, Duration::from_secs(86_400));
        assert!(!c.always_read_secret_manager);
        let s = c.build().unwrap();
        assert_eq!(s.info().default_ttl, Some(DEFAULT_REFRESH_INTERVAL));
        assert_eq!(s.endpoint(), DEFAULT_ENDPOINT);
        assert_eq!(s.credential_kind(), "metadata_server");
        let s = from(&[
            P,
            ("GOOGLE_SECRET_MANAGER_ALWAYS_READ_SECRET_MANAGER", "TRUE"),
        ])
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(s.info().default_ttl, Some(Duration::ZERO));
        let s = from(&[P, ("GOOGLE_SECRET_MANAGER_REFRESH_INTERVAL", "0")])
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(s.info().default_ttl, Some(ZERO_REFRESH_INTERVAL));
        let s = from(&[P, ("GOOGLE_SECRET_MANAGER_REFRESH_INTERVAL", "3600")])
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(s.info().default_ttl, Some(Duration::from_secs(3600)));
        // Google's own project variable is the fallback; generic names are never read.
        let c = from(&[
            ("GOOGLE_CLOUD_PROJECT", "other-proj"),
            ("PROJECT_ID", "evil"),
            ("ENDPOINT_URL", "https://evil"),
            ("TOKEN", "evil"),
        ])
        .unwrap();
        assert_eq!(c.project_id.as_deref(), Some("other-proj"));
        assert_eq!(c.endpoint, None);
        assert!(c.access_token.is_none());
    }

    #[test]
    fn toml_settings_and_unknown_keys() {
        let mut s = Settings::for_manager("gcp");
        s.insert("project_id", "p-1".into());
        s.insert("replication_locations", "us-east1, europe-west4".into());
        s.insert("list_page_size", 50.into());
        s.insert("timeout", "7s".into());
        let c = GcpConfig::from_settings(&s).unwrap();
        assert_eq!(c.replication_locations, ["us-east1", "europe-west4"]);
        assert_eq!(c.list_page_size, 50);
        assert_eq!(c.http.timeout, Duration::from_secs(7));
        let mut s = Settings::for_manager("gcp");
        s.insert("projct_id", "x".into());
        let err = GcpConfig::from_settings(&s).unwrap_err().to_string();
        assert!(err.contains("did you mean `project_id`"), "{err}");
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "GOOGLE_SECRET_MANAGER_PROJECT_ID"),
            (
                &[("GOOGLE_SECRET_MANAGER_PROJECT_ID", "Bad Project")],
                "project_id",
            ),
            (
                &[P, ("GOOGLE_SECRET_MANAGER_ENDPOINT", "http://10.1.2.3")],
                "GOOGLE_SECRET_MANAGER_ENDPOINT",
            ),
            (
                &[P, ("GOOGLE_SECRET_MANAGER_ENDPOINT", "https://u:p@h")],
                "GOOGLE_SECRET_MANAGER_ENDPOINT",
            ),
            (
                &[P, ("GCE_METADATA_HOST", "evil.example:80")],
                "metadata_host",
            ),
            (
                &[
                    P,
                    ("GOOGLE_SECRET_MANAGER_REPLICATION_LOCATIONS", "US East"),
                ],
                "replication_locations",
            ),
            (
                &[P, ("GOOGLE_SECRET_MANAGER_REFRESH_INTERVAL", "soon")],
                "GOOGLE_SECRET_MANAGER_REFRESH_INTERVAL",
            ),
            (
                &[
                    P,
                    ("GOOGLE_SECRET_MANAGER_ALWAYS_READ_SECRET_MANAGER", "maybe"),
                ],
                "GOOGLE_SECRET_MANAGER_ALWAYS_READ_SECRET_MANAGER",
            ),
            (
                &[
                    P,
                    ("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json"),
                ],
                "GOOGLE_APPLICATION_CREDENTIALS",
            ),
        ];
        for (vars, setting) in cases {
            let text = build_err(vars);
            assert!(
                text.contains(setting),
                "{vars:?}: {text} should name {setting}"
            );
        }
        let err = GcpBuilder::new()
            .with_project_id("p-1")
            .with_list_page_size(0)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Config);
        let err = GcpBuilder::new()
            .with_project_id("p-1")
            .with_access_token("  ")
            .build()
            .unwrap_err();
        assert!(
            err.to_string().contains("GOOGLE_OAUTH_ACCESS_TOKEN"),
            "{err}"
        );
    }

    #[test]
    fn metadata_hosts() {
        for ok in [
            "metadata.google.internal",
            "169.254.169.254",
            "127.0.0.1:8080",
            "http://localhost:1",
        ] {
            assert!(
                from(&[P, ("GCE_METADATA_HOST", ok)])
                    .unwrap()
                    .build()
                    .is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn credentials_files_are_checked_when_built() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: serde_json::Value| {
            let p = dir.path().join(name);
            std::fs::write(&p, body.to_string()).unwrap();
            p.display().to_string()
        };
        let cases = [
            (
                serde_json::json!({"type": "service_account", "client_email": "a@b", "private_key": "nope"}),
                "PEM",
            ),
            (
                serde_json::json!({"type": "impersonated_service_account"}),
                "not supported",
            ),
            (serde_json::json!({"no": "type"}), "no `type`"),
            (
                serde_json::json!({"type": "authorized_user", "client_id": "c"}),
                "client_secret",
            ),
            (
                serde_json::json!({"type": "external_account", "audience": "a", "subject_token_type": "t",
                    "token_url": "http://sts.example/v1/token", "credential_source": {"file": "/x"}}),
                "in clear",
            ),
            (
                serde_json::json!({"type": "external_account", "audience": "a", "subject_token_type": "t",
                    "token_url": "https://sts.googleapis.com/v1/token", "credential_source": {"executable": {"command": "x"}}}),
                "executable",
            ),
        ];
        for (i, (body, why)) in cases.into_iter().enumerate() {
            let path = write(&format!("c{i}.json"), body);
            let text = build_err(&[P, ("GOOGLE_APPLICATION_CREDENTIALS", &path)]);
            assert!(text.contains(why), "case {i}: {text}");
        }
        // A file-sourced external account builds; the subject token file is read at log-in.
        let path = write(
            "wif.json",
            serde_json::json!({"type": "external_account", "audience": "//iam.googleapis.com/x",
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "token_url": "https://sts.googleapis.com/v1/token",
                "credential_source": {"file": "/var/run/token", "format": {"type": "text"}}}),
        );
        let s = from(&[P, ("GOOGLE_APPLICATION_CREDENTIALS", &path)])
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(s.credential_kind(), "external_account");
    }

    #[test]
    fn debug_hides_the_token() {
        let b = GcpBuilder::new().with_access_token("ya29.very-secret");
        assert!(!format!("{b:?}").contains("very-secret"));
        let s = b.with_project_id("p-1").build().unwrap();
        assert!(!format!("{s:?}").contains("very-secret"));
    }
}
