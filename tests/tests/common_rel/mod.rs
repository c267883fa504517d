//! Shared helpers of the reliability tests: one handle over the three fakes (Conjur, Akeyless,
//! Azure Key Vault), builders for every provider's store with short timeouts and fast,
//! bounded retries, and timing helpers.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use strongroom_core::HttpSetters as _;

use strongroom_akeyless::AkeylessBuilder;
use strongroom_aws::AwsBuilder;
use strongroom_azure::AzureBuilder;
use strongroom_conjur::ConjurBuilder;
use strongroom_core::{RetryPolicy, SecretName, SecretStore};
use strongroom_hcp_vault::HcpVaultBuilder;
use strongroom_testkit::fake::Faults;
use strongroom_testkit::fakes::akeyless::FakeAkeyless;
use strongroom_testkit::fakes::azure::FakeAzure;
use strongroom_testkit::fakes::conjur::{FakeConjur, FakeConjurConfig};
use strongroom_testkit::proxy::FaultProxy;
use strongroom_testkit::servers::moto::{self, Moto};
use strongroom_testkit::servers::openbao::OpenBao;

pub fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

/// Timeouts and retries a store is built with.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Whole-request timeout (the connect timeout is the same).
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: usize,
    /// Longest backoff between attempts.
    pub max_backoff: Duration,
    /// Talk to this base URL instead of the server's own (a fault proxy in front of it).
    pub base_url: Option<String>,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            timeout: Duration::from_secs(2),
            retries: 3,
            max_backoff: Duration::from_millis(50),
            base_url: None,
        }
    }
}

impl Tuning {
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }
    pub fn retries(mut self, n: usize) -> Self {
        self.retries = n;
        self
    }
    pub fn via(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::default()
            .max_retries(self.retries)
            .initial_backoff(Duration::from_millis(10))
            .max_backoff(self.max_backoff)
            .retry_timeout(Duration::from_secs(60))
    }
    /// The longest a call may take: every attempt times out, plus every backoff, plus
    /// `margin`. `retry_after` is the longest server-requested wait that will be honoured.
    pub fn bound(&self, retry_after: Duration, margin: Duration) -> Duration {
        let attempts = self.retries as u32 + 1;
        self.timeout * attempts + (self.max_backoff.max(retry_after)) * self.retries as u32 + margin
    }
}

/// Which fake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeKind {
    Conjur,
    Akeyless,
    Azure,
}

pub const FAKES: [FakeKind; 3] = [FakeKind::Conjur, FakeKind::Akeyless, FakeKind::Azure];

/// One of the three fakes.
pub enum Fake {
    Conjur(FakeConjur),
    Akeyless(FakeAkeyless),
    Azure(FakeAzure),
}

impl Fake {
    pub async fn start(kind: FakeKind) -> Fake {
        match kind {
            FakeKind::Conjur => Fake::Conjur(
                FakeConjur::start_with(FakeConjurConfig {
                    policy_retry_after: (0, 0),
                    ..FakeConjurConfig::default()
                })
                .await,
            ),
            FakeKind::Akeyless => Fake::Akeyless(FakeAkeyless::start().await),
            FakeKind::Azure => Fake::Azure(FakeAzure::start().await),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Fake::Conjur(_) => "conjur",
            Fake::Akeyless(_) => "akeyless",
            Fake::Azure(_) => "azure",
        }
    }

    pub fn faults(&self) -> &Faults {
        match self {
            Fake::Conjur(f) => f.faults(),
            Fake::Akeyless(f) => f.faults(),
            Fake::Azure(f) => f.faults(),
        }
    }

    pub fn url(&self) -> String {
        match self {
            Fake::Conjur(f) => f.url(),
            Fake::Akeyless(f) => f.url(),
            Fake::Azure(f) => f.url(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        let url = self.url();
        let hostport = url.rsplit("://").next().unwrap().trim_end_matches('/');
        hostport.parse().expect("fake address")
    }

    /// A fault proxy in front of this fake. For the Azure fake (HTTPS) it terminates TLS with
    /// the fake's own test CA, so its modes (a body cut short, lost answers) and recording
    /// work on the plaintext HTTP as they do for the plain-HTTP fakes.
    pub async fn proxy(&self) -> FaultProxy {
        match self {
            Fake::Azure(f) => {
                let ca = f.server().ca().expect("the Azure fake serves TLS");
                FaultProxy::start_tls(self.addr(), ca).await
            }
            _ => FaultProxy::start(self.addr()).await,
        }
    }

    /// The base URL to use through a proxy listening on `proxy` (same scheme as the fake).
    pub fn url_via(&self, proxy: SocketAddr) -> String {
        let scheme = if self.url().starts_with("https") {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{proxy}")
    }

    /// Puts a value directly into the fake under the wire key `name` maps to.
    pub fn seed(&self, name: &str, value: &str) {
        match self {
            Fake::Conjur(f) => f.set_value(name, value.as_bytes()),
            Fake::Akeyless(f) => f.seed_static(name, value),
            Fake::Azure(f) => {
                f.seed(&azure_key(name), value, None);
            }
        }
    }

    /// Versions stored under the wire key `name` maps to.
    pub fn versions(&self, name: &str) -> usize {
        match self {
            Fake::Conjur(f) => f.versions(name).len(),
            Fake::Akeyless(f) => f.version_count(name),
            Fake::Azure(f) => f.version_count(&azure_key(name)),
        }
    }

    /// Requests the fake saw (faulted ones included).
    pub fn requests(&self) -> u64 {
        self.faults().requests()
    }

    /// Credentials the fake hands out or accepts (for leak checks).
    pub fn credentials(&self) -> Vec<String> {
        match self {
            Fake::Conjur(f) => vec![f.api_key()],
            Fake::Akeyless(f) => {
                let mut v = vec![f.access_key().to_owned()];
                v.extend(f.issued_tokens());
                v
            }
            Fake::Azure(f) => vec![f.client_secret().to_owned()],
        }
    }

    /// A store for this fake, built with `t`.
    pub fn store(&self, t: &Tuning) -> Arc<dyn SecretStore> {
        let base = t.base_url.clone().unwrap_or_else(|| self.url());
        match self {
            Fake::Conjur(f) => Arc::new(
                ConjurBuilder::new()
                    .with_api_base(base)
                    .with_account(f.account())
                    .with_login(f.login())
                    .with_api_key(f.api_key())
                    .with_timeout(t.timeout)
                    .with_connect_timeout(t.timeout)
                    .with_retry_policy(t.retry_policy())
                    .with_policy_conflict_retries(3, Duration::from_millis(100))
                    .build()
                    .unwrap(),
            ),
            Fake::Akeyless(f) => Arc::new(
                AkeylessBuilder::new()
                    .with_api_host(base)
                    .with_access_id(f.access_id())
                    .with_access_key(f.access_key())
                    .with_timeout(t.timeout)
                    .with_connect_timeout(t.timeout)
                    .with_retry_policy(t.retry_policy())
                    .build()
                    .unwrap(),
            ),
            Fake::Azure(f) => Arc::new(
                AzureBuilder::new()
                    .with_timeout(t.timeout)
                    .with_connect_timeout(t.timeout)
                    .with_vault_url(base)
                    .with_ca_pem(f.ca_pem())
                    .with_verify_challenge_resource(false)
                    .with_authority_host(f.url())
                    .with_client_secret(f.tenant(), f.client_id(), f.client_secret())
                    .with_poll(Duration::from_millis(10), 50)
                    .with_retry_policy(t.retry_policy())
                    .build()
                    .unwrap(),
            ),
        }
    }
}

/// The Key Vault name of a Strongroom name (the documented mapping: `/` → `--`, `_` → `---`).
pub fn azure_key(name: &str) -> String {
    strongroom_azure::to_vault_name(&SecretName::new(name).unwrap()).unwrap()
}

/// A Vault store on `bao` (root token), built with `t`.
pub fn vault_store(bao: &OpenBao, t: &Tuning) -> strongroom_hcp_vault::HcpVaultStore {
    HcpVaultBuilder::new()
        .with_addr(t.base_url.clone().unwrap_or_else(|| bao.url()))
        .with_token(bao.root_token())
        .with_timeout(t.timeout)
        .with_connect_timeout(t.timeout)
        .with_retry_policy(t.retry_policy())
        .build()
        .unwrap()
}

/// An AWS store on `moto`, built with `t` (the operation timeout covers all attempts, so it
/// is `timeout × (retries + 1)`). The keys are random: moto does not check signatures.
pub fn aws_store(moto: &Moto, t: &Tuning, secret_key: &str) -> strongroom_aws::AwsStore {
    aws_store_with_session(moto, t, secret_key, None)
}

/// [`aws_store`] with a session token (temporary credentials): the SDK sends it with every
/// request as `x-amz-security-token`.
pub fn aws_store_with_session(
    moto: &Moto,
    t: &Tuning,
    secret_key: &str,
    session_token: Option<&str>,
) -> strongroom_aws::AwsStore {
    AwsBuilder::new()
        .with_region(moto::REGION)
        .with_endpoint_url(
            t.base_url
                .clone()
                .unwrap_or_else(|| moto.endpoint().to_owned()),
        )
        .with_access_key(
            "AKIDRELIABILITY",
            secret_key,
            session_token.map(strongroom_core::SecretValue::from),
        )
        .with_max_attempts(t.retries as u32 + 1)
        .with_connect_timeout(t.timeout)
        .with_timeout(t.timeout * (t.retries as u32 + 1))
        .build()
        .unwrap()
}

/// KV v2 versions of `path` in OpenBao's `secret/` mount (0 when it does not exist).
pub async fn vault_versions(bao: &OpenBao, path: &str) -> u64 {
    let (status, body) = bao
        .api("GET", None, &format!("secret/metadata/{path}"), None)
        .await;
    if status == 404 {
        return 0;
    }
    assert_eq!(status, 200, "{body}");
    body["data"]["versions"]
        .as_object()
        .map_or(0, |m| m.len() as u64)
}

/// Version ids of a secret in moto (0 when it does not exist).
pub async fn moto_versions(moto: &Moto, id: &str) -> usize {
    let resp = reqwest::Client::new()
        .post(moto.endpoint())
        .header("X-Amz-Target", "secretsmanager.ListSecretVersionIds")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00",
        )
        .body(serde_json::json!({ "SecretId": id, "IncludeDeprecated": true }).to_string())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("moto");
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if status != 200 {
        return 0;
    }
    body["Versions"].as_array().map_or(0, |v| v.len())
}

/// Runs `fut`, failing the test if it takes longer than `limit`; returns its output and the
/// time it took.
pub async fn timed<T>(what: &str, limit: Duration, fut: impl Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => (v, start.elapsed()),
        Err(_) => panic!("{what}: still running after {limit:?} (a call outlived its timeout)"),
    }
}

/// `STRONGROOM_REQUIRE_SERVERS=1` is how CI runs these; nothing here skips either way, the
/// launchers panic when a tool is missing.
pub fn require_servers() -> bool {
    std::env::var("STRONGROOM_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// Resident set size of this process in KiB, from /proc/self/status (`VmRSS`).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Appends one line to `target/reliability-report.txt` (the numbers docs/reliability.md
/// quotes) and prints it.
pub fn report(line: &str) {
    use std::io::Write;
    println!("REPORT {line}");
    let path = strongroom_testkit::servers::workspace_root().join("target/reliability-report.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}
