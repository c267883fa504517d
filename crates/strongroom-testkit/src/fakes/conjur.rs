//! A faithful fake of CyberArk Conjur (OSS / Secrets Manager self-hosted), following
//! `protocols.md` §1, §7 and §8.
//!
//! What it serves:
//! * `POST /authn/{account}/{login}/authenticate` (raw API key body; `Accept-Encoding: base64`
//!   answers the token already base64-encoded); an unencoded slash in the login routes to a
//!   4-segment path that answers 401, as on the real server.
//! * `POST /authn-cert/{service_id}/{account}[/{host_id}]/authenticate` (empty body, client
//!   certificate in the TLS handshake; only on [`FakeConjur::start_mtls`]).
//! * `GET|POST /secrets/{account}/{kind}/{*identifier}` (`?version=N`, last 20 versions kept,
//!   404 for a variable without a value, 422 for a blank value).
//! * `GET /secrets?variable_ids=a:variable:x,a:variable:y` (all-or-nothing, duplicates and empty
//!   elements 422, `Accept-Encoding: base64` answers base64 values with line breaks and
//!   `Content-Encoding: base64`, binary values without it 406).
//! * `POST|PUT|PATCH /policies/{account}/policy/{*identifier}` into an existing branch (`root`
//!   always exists; others are declared by `!policy` records or [`FakeConjur::declare_policy`];
//!   an unknown branch is 404). Each body is parsed as YAML (tags preserved); `!variable` and
//!   `!policy` records are accepted (with `annotations`, a policy with `body`), anything else is
//!   422 `policy_invalid`; every record seen is kept for tests ([`FakeConjur::policy_records`]).
//!   Ids are relative to the branch the policy is loaded into (`x/y` loaded into `app` is
//!   `app/x/y`), a leading `/` makes one absolute, `$namespace` is substituted
//!   (`conjur-policy-parser` `resolver.rb`). As on the server (`loader/orchestrate.rb`), a POST
//!   adds only: a record already owned by another branch is dropped, and on an existing
//!   variable only new annotation names are added — a changed value is silently kept; PATCH
//!   updates annotations; PUT replaces what the branch owns.
//!   A load while another one runs answers 409 `policy_conflict` with `Retry-After`
//!   ([`FakeConjur::force_policy_conflicts`] forces N of them, [`FakeConjur::collide_policy_loads`]
//!   makes loads collide deterministically).
//! * `GET /resources/{account}[/{kind}]` with `search` (ids and annotation values), `limit`,
//!   `offset`, `count`; `GET /resources/{account}/{kind}/{*identifier}` shows one resource,
//!   with its owning `policy` and its `annotations`. [`FakeConjur::set_endless_resources`]
//!   makes every list page full, for paging bounds.
//! * Reads answer the `conjur/mime_type` annotation as `Content-Type`.
//!
//! Every call but authenticate needs `Authorization: Token token="<base64 token>"` — quoted;
//! an unquoted header is "Authorization missing" (401). Tokens live 8 minutes unless
//! configured otherwise (`token_ttl`, [`FakeConjur::set_token_ttl`]), and
//! [`FakeConjur::expire_tokens`] ends every issued token at once. Token times come from the
//! configured clock, so a test can share a `ManualClock` with the client.
//! Fault injection (latency, 5xx, dropped connections, malformed bodies) comes from the
//! [`crate::fake`] harness through [`FakeConjur::faults`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use strongroom_core::{Clock, SystemClock};
use tokio::sync::Notify;

use crate::fake::{FakeServer, Faults, TestCa};

/// How many versions of a variable the fake keeps (Conjur keeps the last 20).
pub const KEPT_VERSIONS: usize = 20;

/// Which base64 alphabet the fake uses for the token's `protected` and `payload` parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAlphabet {
    /// URL-safe, no padding (what the server's signing library emits).
    UrlSafeNoPad,
    /// Standard, padded.
    Standard,
}

/// Settings of a fake Conjur.
#[derive(Debug, Clone)]
pub struct FakeConjurConfig {
    /// The account (`default`).
    pub account: String,
    /// The first user's login (`admin`).
    pub login: String,
    /// The first user's API key (random).
    pub api_key: String,
    /// Token lifetime (8 minutes).
    pub token_ttl: Duration,
    /// Alphabet of the token parts.
    pub token_alphabet: TokenAlphabet,
    /// `Retry-After` range (seconds, inclusive) for 409 policy conflicts (1–8 like the server).
    pub policy_retry_after: (u64, u64),
    /// How long each policy load holds the policy lock (makes concurrent loads collide).
    pub policy_load_time: Duration,
    /// The `authn-cert` service id served by [`FakeConjur::start_mtls`].
    pub authn_cert_service_id: String,
    /// The clock token lifetimes and creation times are measured with (the system clock).
    pub clock: Arc<dyn Clock>,
}

impl Default for FakeConjurConfig {
    fn default() -> Self {
        FakeConjurConfig {
            account: "default".to_string(),
            login: "admin".to_string(),
            api_key: format!("{:032x}", rand::random::<u128>()),
            token_ttl: Duration::from_secs(8 * 60),
            token_alphabet: TokenAlphabet::UrlSafeNoPad,
            policy_retry_after: (1, 8),
            policy_load_time: Duration::ZERO,
            authn_cert_service_id: "certs".to_string(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// One record of a policy document as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    /// HTTP method of the load (`POST`, `PUT`, `PATCH`).
    pub method: String,
    /// The policy branch it was loaded into.
    pub branch: String,
    /// The record's tag without `!` (`variable`, `permit`, …), or `""` for an untagged node.
    pub tag: String,
    /// The record's id as written (before resolution), when it has one.
    pub id: Option<String>,
    /// The resolved id relative to the account, for `!variable` and `!policy`.
    pub resolved: Option<String>,
    /// The record's annotations, in document order.
    pub annotations: Vec<(String, String)>,
}

/// One request as the fake received it (before routing).
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path and query exactly as sent (still percent-encoded).
    pub uri: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `Accept-Encoding` header, if any.
    pub accept_encoding: Option<String>,
    /// Body length in bytes.
    pub body_len: usize,
}

#[derive(Debug, Default)]
struct Variable {
    /// Oldest first; at most [`KEPT_VERSIONS`]. Each entry: (version number, value).
    versions: Vec<(u64, Vec<u8>)>,
    next_version: u64,
    created_at: u64,
    /// The branch that declared it.
    policy: String,
    annotations: BTreeMap<String, String>,
}

#[derive(Debug)]
struct Token {
    login: String,
    expires: SystemTime,
}

#[derive(Debug)]
struct Inner {
    cfg: Mutex<FakeConjurConfig>,
    users: Mutex<HashMap<String, String>>,
    tokens: Mutex<HashMap<String, Token>>,
    variables: Mutex<BTreeMap<String, Variable>>,
    /// Policy branch → the branch that declared it (`root` → `""`).
    policies: Mutex<BTreeMap<String, String>>,
    records: Mutex<Vec<PolicyRecord>>,
    requests: Mutex<Vec<RecordedRequest>>,
    policy_gate: PolicyGate,
    forced_conflicts: AtomicUsize,
    policy_conflicts: AtomicUsize,
    endless_resources: AtomicBool,
    policy_version: AtomicU64,
    authn_calls: AtomicUsize,
    authn_cert_calls: AtomicUsize,
    authn_with_client_cert: AtomicUsize,
    /// Client certificates (DER) the fake issued, and the host each one identifies.
    client_certs: Mutex<HashMap<Vec<u8>, String>>,
}

/// The identity a client certificate proved in the TLS handshake (mTLS servers only).
#[derive(Debug, Clone, Default)]
struct PeerCert(Option<Vec<u8>>);

/// A running fake Conjur. Stops when dropped.
#[derive(Debug)]
pub struct FakeConjur {
    server: Option<FakeServer>,
    mtls: Option<MtlsServer>,
    inner: Arc<Inner>,
}

impl FakeConjur {
    /// Starts a fake over plain HTTP with default settings.
    pub async fn start() -> FakeConjur {
        Self::start_with(FakeConjurConfig::default()).await
    }

    /// Starts a fake over plain HTTP.
    pub async fn start_with(cfg: FakeConjurConfig) -> FakeConjur {
        let inner = Inner::new(cfg);
        let server = FakeServer::start(router(Arc::clone(&inner))).await;
        FakeConjur {
            server: Some(server),
            mtls: None,
            inner,
        }
    }

    /// Starts a fake over HTTPS (a fresh test CA; no client certificates asked for).
    pub async fn start_tls(cfg: FakeConjurConfig) -> FakeConjur {
        let inner = Inner::new(cfg);
        let server = FakeServer::start_tls(router(Arc::clone(&inner))).await;
        FakeConjur {
            server: Some(server),
            mtls: None,
            inner,
        }
    }

    /// Starts a fake over HTTPS that asks for a client certificate in the handshake (mutual
    /// TLS) and serves `authn-cert`. Issue certificates with [`FakeConjur::issue_client_cert`].
    /// This server has no fault queue.
    pub async fn start_mtls(cfg: FakeConjurConfig) -> FakeConjur {
        let inner = Inner::new(cfg);
        let mtls = MtlsServer::start(router(Arc::clone(&inner))).await;
        FakeConjur {
            server: None,
            mtls: Some(mtls),
            inner,
        }
    }

    /// `http(s)://127.0.0.1:<port>` (`https://localhost:<port>` for mTLS servers).
    pub fn url(&self) -> String {
        match (&self.server, &self.mtls) {
            (Some(s), _) => s.url(),
            (None, Some(m)) => format!("https://localhost:{}", m.port),
            _ => unreachable!(),
        }
    }

    /// The test CA for HTTPS servers (trust its `ca_pem`).
    pub fn ca(&self) -> Option<&TestCa> {
        match (&self.server, &self.mtls) {
            (Some(s), _) => s.ca(),
            (None, Some(m)) => Some(&m.ca),
            _ => None,
        }
    }

    /// Issues a client certificate (PEM cert, PEM key) that `authn-cert` accepts for `host`
    /// (mTLS servers only).
    pub fn issue_client_cert(&self, host: &str) -> (String, String) {
        let ca = self.ca().expect("an HTTPS fake");
        let (cert, key) = ca.client_cert(host);
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let der = CertificateDer::from_pem_slice(cert.as_bytes()).expect("PEM");
        self.inner
            .client_certs
            .lock()
            .unwrap()
            .insert(der.to_vec(), host.to_string());
        (cert, key)
    }

    /// The fault queue (plain and `start_tls` servers).
    pub fn faults(&self) -> &Faults {
        self.server
            .as_ref()
            .expect("fault injection is available on start/start_tls servers")
            .faults()
    }

    /// The account.
    pub fn account(&self) -> String {
        self.inner.cfg().account
    }
    /// The first user's login.
    pub fn login(&self) -> String {
        self.inner.cfg().login
    }
    /// The first user's API key.
    pub fn api_key(&self) -> String {
        self.inner.cfg().api_key
    }

    /// Adds a user or host (`host/app`) with an API key.
    pub fn add_user(&self, login: &str, api_key: &str) {
        self.inner
            .users
            .lock()
            .unwrap()
            .insert(login.to_string(), api_key.to_string());
    }

    /// Sets the lifetime of tokens issued from now on.
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.inner.cfg.lock().unwrap().token_ttl = ttl;
    }

    /// Ends every token issued so far (their next use answers 401).
    pub fn expire_tokens(&self) {
        let past = self.inner.now() - Duration::from_secs(1);
        for t in self.inner.tokens.lock().unwrap().values_mut() {
            t.expires = past;
        }
    }

    /// Makes the next `n` policy loads answer 409 `policy_conflict`.
    pub fn force_policy_conflicts(&self, n: usize) {
        self.inner.forced_conflicts.store(n, Ordering::SeqCst);
    }

    /// Sets the `Retry-After` range (seconds) of policy conflicts.
    pub fn set_policy_retry_after(&self, min: u64, max: u64) {
        self.inner.cfg.lock().unwrap().policy_retry_after = (min, max.max(min));
    }

    /// Sets how long each policy load holds the policy lock.
    pub fn set_policy_load_time(&self, d: Duration) {
        self.inner.cfg.lock().unwrap().policy_load_time = d;
    }

    /// Every policy record the fake saw, accepted or not, in order.
    pub fn policy_records(&self) -> Vec<PolicyRecord> {
        self.inner.records.lock().unwrap().clone()
    }

    /// Every request so far (faulted ones excluded: the harness answers those first).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Clears the request log.
    pub fn clear_requests(&self) {
        self.inner.requests.lock().unwrap().clear();
    }

    /// Successful `authn` log-ins so far.
    pub fn authn_count(&self) -> usize {
        self.inner.authn_calls.load(Ordering::SeqCst)
    }

    /// Successful `authn-cert` log-ins so far.
    pub fn authn_cert_count(&self) -> usize {
        self.inner.authn_cert_calls.load(Ordering::SeqCst)
    }

    /// `authn` log-ins that arrived over a connection with a verified client certificate.
    pub fn authn_with_client_cert_count(&self) -> usize {
        self.inner.authn_with_client_cert.load(Ordering::SeqCst)
    }

    /// Declares a variable (as a policy load into the branch it lies under would), without a
    /// value.
    pub fn declare_variable(&self, id: &str) {
        self.inner.declare_in(id, &self.inner.owner_of(id));
    }

    /// Declares a variable if needed and adds a value version.
    pub fn set_value(&self, id: &str, value: &[u8]) {
        self.declare_variable(id);
        self.inner.push_value(id, value.to_vec());
    }

    /// Declares a policy branch (as `- !policy <id>` loaded into its parent branch would).
    pub fn declare_policy(&self, id: &str) {
        let owner = self.inner.owner_of(id);
        self.inner
            .policies
            .lock()
            .unwrap()
            .entry(id.to_string())
            .or_insert(owner);
    }

    /// The declared policy branches (`root` included).
    pub fn policies(&self) -> Vec<String> {
        self.inner
            .policies
            .lock()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    /// The branch that owns a variable.
    pub fn variable_policy(&self, id: &str) -> Option<String> {
        self.inner
            .variables
            .lock()
            .unwrap()
            .get(id)
            .map(|v| v.policy.clone())
    }

    /// The annotations of a variable.
    pub fn annotations(&self, id: &str) -> BTreeMap<String, String> {
        self.inner
            .variables
            .lock()
            .unwrap()
            .get(id)
            .map(|v| v.annotations.clone())
            .unwrap_or_default()
    }

    /// The value of the latest version of a variable.
    pub fn value(&self, id: &str) -> Option<Vec<u8>> {
        self.inner
            .variables
            .lock()
            .unwrap()
            .get(id)
            .and_then(|v| v.versions.last().map(|(_, b)| b.clone()))
    }

    /// Makes every resource list page full (synthetic variables `endless/<n>`), the way a
    /// broken or hostile server that never runs out of pages would answer.
    pub fn set_endless_resources(&self, on: bool) {
        self.inner.endless_resources.store(on, Ordering::SeqCst);
    }

    /// Makes the next `n` policy loads that take the policy lock hold it until another load
    /// has arrived and been refused with 409 — so concurrent writers collide for certain,
    /// without timing. Every 409 is answered only once the load holding the lock has finished,
    /// so a refused client's next try never meets the same load again.
    pub fn collide_policy_loads(&self, n: usize) {
        self.inner.policy_gate.state.lock().unwrap().collide = n;
    }

    /// Policy loads answered 409 `policy_conflict` so far (forced ones included).
    pub fn policy_conflicts(&self) -> usize {
        self.inner.policy_conflicts.load(Ordering::SeqCst)
    }

    /// The declared variable ids.
    pub fn variables(&self) -> Vec<String> {
        self.inner
            .variables
            .lock()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    /// The versions a variable holds (oldest first).
    pub fn versions(&self, id: &str) -> Vec<u64> {
        self.inner
            .variables
            .lock()
            .unwrap()
            .get(id)
            .map(|v| v.versions.iter().map(|(n, _)| *n).collect())
            .unwrap_or_default()
    }
}

/// Starts the fake for an out-of-process client (the `strongroom-fake conjur` binary).
///
/// Environment it hands out: `FAKE_URL`, `CONJUR_APPLIANCE_URL`, `CONJUR_ACCOUNT`,
/// `CONJUR_AUTHN_LOGIN`, `CONJUR_AUTHN_API_KEY`, and the same as `CYBERARK_API_BASE`,
/// `CYBERARK_ACCOUNT`, `CYBERARK_USERNAME`, `CYBERARK_API_KEY`.
pub async fn standalone() -> super::Standalone {
    let fake = FakeConjur::start().await;
    let env = vec![
        ("FAKE_URL".to_string(), fake.url()),
        ("CONJUR_APPLIANCE_URL".to_string(), fake.url()),
        ("CONJUR_ACCOUNT".to_string(), fake.account()),
        ("CONJUR_AUTHN_LOGIN".to_string(), fake.login()),
        ("CONJUR_AUTHN_API_KEY".to_string(), fake.api_key()),
        ("CYBERARK_API_BASE".to_string(), fake.url()),
        ("CYBERARK_ACCOUNT".to_string(), fake.account()),
        ("CYBERARK_USERNAME".to_string(), fake.login()),
        ("CYBERARK_API_KEY".to_string(), fake.api_key()),
    ];
    super::Standalone {
        keep_alive: Box::new(fake),
        env,
    }
}

// ---------------------------------------------------------------------------------------------
// state

impl Inner {
    fn new(cfg: FakeConjurConfig) -> Arc<Inner> {
        let mut users = HashMap::new();
        users.insert(cfg.login.clone(), cfg.api_key.clone());
        Arc::new(Inner {
            cfg: Mutex::new(cfg),
            users: Mutex::new(users),
            tokens: Mutex::new(HashMap::new()),
            variables: Mutex::new(BTreeMap::new()),
            policies: Mutex::new(BTreeMap::from([("root".to_string(), String::new())])),
            records: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            policy_gate: PolicyGate::default(),
            forced_conflicts: AtomicUsize::new(0),
            policy_conflicts: AtomicUsize::new(0),
            endless_resources: AtomicBool::new(false),
            policy_version: AtomicU64::new(1),
            authn_calls: AtomicUsize::new(0),
            authn_cert_calls: AtomicUsize::new(0),
            authn_with_client_cert: AtomicUsize::new(0),
            client_certs: Mutex::new(HashMap::new()),
        })
    }

    fn cfg(&self) -> FakeConjurConfig {
        self.cfg.lock().unwrap().clone()
    }

    fn now(&self) -> SystemTime {
        self.cfg.lock().unwrap().clock.system_now()
    }

    /// Declares `id` (owned by `policy`) unless it exists.
    fn declare_in(&self, id: &str, policy: &str) {
        let created_at = secs(self.now());
        self.variables
            .lock()
            .unwrap()
            .entry(id.to_string())
            .or_insert_with(|| Variable {
                versions: Vec::new(),
                next_version: 1,
                created_at,
                policy: policy.to_string(),
                annotations: BTreeMap::new(),
            });
    }

    /// The longest declared branch that `id` lies under (`root` when none).
    fn owner_of(&self, id: &str) -> String {
        let policies = self.policies.lock().unwrap();
        let mut best = "root".to_string();
        for p in policies.keys() {
            if id.starts_with(&format!("{p}/")) && p.len() > best.len() {
                best = p.clone();
            }
        }
        best
    }

    /// Adds a version; false when the variable is not declared.
    fn push_value(&self, id: &str, value: Vec<u8>) -> bool {
        let mut vars = self.variables.lock().unwrap();
        let Some(var) = vars.get_mut(id) else {
            return false;
        };
        let n = var.next_version;
        var.next_version += 1;
        var.versions.push((n, value));
        if var.versions.len() > KEPT_VERSIONS {
            let extra = var.versions.len() - KEPT_VERSIONS;
            var.versions.drain(..extra);
        }
        true
    }

    fn issue_token(&self, login: &str) -> Vec<u8> {
        let cfg = self.cfg();
        let now = cfg.clock.system_now();
        let expires = now + cfg.token_ttl;
        let enc = |bytes: &[u8]| match cfg.token_alphabet {
            TokenAlphabet::UrlSafeNoPad => URL_SAFE_NO_PAD.encode(bytes),
            TokenAlphabet::Standard => STANDARD.encode(bytes),
        };
        let protected = enc(br#"{"alg":"conjur.org/slosilo/v2","kid":"fake"}"#);
        let payload = enc(json!({
            "sub": login,
            "iat": secs(now),
            "exp": secs(expires),
        })
        .to_string()
        .as_bytes());
        let mut sig = [0u8; 32];
        for b in sig.iter_mut() {
            *b = rand::random();
        }
        let signature = URL_SAFE_NO_PAD.encode(sig);
        self.tokens.lock().unwrap().insert(
            signature.clone(),
            Token {
                login: login.to_string(),
                expires,
            },
        );
        json!({"protected": protected, "payload": payload, "signature": signature})
            .to_string()
            .into_bytes()
    }

    /// Checks `Authorization: Token token="<base64>"`; the caller's login on success.
    fn check_token(&self, headers: &HeaderMap) -> Result<String, Response> {
        let Some(header) = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Err(unauthorized("Authorization missing"));
        };
        // Rack's pattern: ^Token token="(.*)"
        let Some(inner) = header
            .strip_prefix("Token token=\"")
            .and_then(|rest| rest.strip_suffix('"'))
        else {
            return Err(unauthorized("Authorization missing"));
        };
        let json_bytes = if inner.contains('.') {
            // Compact JWTs are used as-is; the fake issues none, so none verifies.
            return Err(unauthorized("Token verification failed"));
        } else {
            match STANDARD.decode(inner) {
                Ok(b) => b,
                Err(_) => return Err(unauthorized("Token verification failed")),
            }
        };
        let Ok(token) = serde_json::from_slice::<serde_json::Value>(&json_bytes) else {
            return Err(unauthorized("Token verification failed"));
        };
        let Some(sig) = token.get("signature").and_then(|s| s.as_str()) else {
            return Err(unauthorized("Token verification failed"));
        };
        let tokens = self.tokens.lock().unwrap();
        match tokens.get(sig) {
            Some(t) if t.expires > self.now() => Ok(t.login.clone()),
            Some(_) => Err(unauthorized("Token has expired")),
            None => Err(unauthorized("Token verification failed")),
        }
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

// ---------------------------------------------------------------------------------------------
// responses (application_controller.rb shapes)

fn unauthorized(text: &'static str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [("content-type", "text/plain")],
        text,
    )
        .into_response()
}

fn json_error(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn not_found(kind: &str, id: &str) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        json!({"error": {
            "code": "not_found",
            "message": format!("{kind} '{id}' not found"),
            "target": kind,
            "details": {"code": "not_found", "target": "id", "message": id}
        }}),
    )
}

fn unprocessable(code: &str, message: &str) -> Response {
    json_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"error": {"code": code, "message": message}}),
    )
}

fn policy_invalid(message: &str, line: usize, column: usize) -> Response {
    json_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"error": {
            "code": "policy_invalid",
            "message": message,
            "innererror": {"code": "policy_invalid", "filename": "policy", "line": line, "column": column}
        }}),
    )
}

// ---------------------------------------------------------------------------------------------
// routes

fn router(inner: Arc<Inner>) -> Router {
    let recorder = Arc::clone(&inner);
    Router::new()
        .route("/authn/{account}/{login}/authenticate", post(authenticate))
        // An unencoded `/` in the login reaches the service-id route: 401, not 404.
        .route(
            "/authn/{service}/{account}/{login}/authenticate",
            post(|| async { unauthorized("Authentication failed") }),
        )
        .route(
            "/authn-cert/{service}/{account}/{host}/authenticate",
            post(authn_cert_host),
        )
        .route(
            "/authn-cert/{service}/{account}/authenticate",
            post(authn_cert_derived),
        )
        .route("/secrets", get(batch))
        .route(
            "/secrets/{account}/{kind}/{*identifier}",
            get(get_secret).post(set_secret),
        )
        .route(
            "/policies/{account}/policy/{*identifier}",
            post(load_policy).put(load_policy).patch(load_policy),
        )
        .route("/resources/{account}", get(list_resources_all))
        .route("/resources/{account}/{kind}", get(list_resources_kind))
        .route(
            "/resources/{account}/{kind}/{*identifier}",
            get(show_resource),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "") })
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let inner = Arc::clone(&recorder);
                async move {
                    let h = req.headers();
                    let get = |n: http::HeaderName| {
                        h.get(n).and_then(|v| v.to_str().ok()).map(str::to_string)
                    };
                    let rec = RecordedRequest {
                        method: req.method().to_string(),
                        uri: req
                            .uri()
                            .path_and_query()
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_default(),
                        authorization: get(http::header::AUTHORIZATION),
                        content_type: get(http::header::CONTENT_TYPE),
                        accept_encoding: get(http::header::ACCEPT_ENCODING),
                        body_len: h
                            .get(http::header::CONTENT_LENGTH)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0),
                    };
                    inner.requests.lock().unwrap().push(rec);
                    next.run(req).await
                }
            },
        ))
        .with_state(inner)
}

fn wants_base64(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("base64"))
        })
}

fn token_response(headers: &HeaderMap, token: Vec<u8>) -> Response {
    if wants_base64(headers) {
        (
            StatusCode::OK,
            [
                ("content-type", "text/plain"),
                ("content-encoding", "base64"),
            ],
            STANDARD.encode(&token),
        )
            .into_response()
    } else {
        (
            StatusCode::OK,
            [("content-type", "application/json")],
            token,
        )
            .into_response()
    }
}

async fn authenticate(
    State(inner): State<Arc<Inner>>,
    Path((account, login)): Path<(String, String)>,
    peer: Option<Extension<PeerCert>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if account != inner.cfg().account {
        return unauthorized("Authentication failed");
    }
    let ok = inner
        .users
        .lock()
        .unwrap()
        .get(&login)
        .is_some_and(|k| k.as_bytes() == &body[..] && !body.is_empty());
    if !ok {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    inner.authn_calls.fetch_add(1, Ordering::SeqCst);
    if peer.is_some_and(|Extension(p)| p.0.is_some()) {
        inner.authn_with_client_cert.fetch_add(1, Ordering::SeqCst);
    }
    token_response(&headers, inner.issue_token(&login))
}

async fn authn_cert_host(
    State(inner): State<Arc<Inner>>,
    Path((service, account, host)): Path<(String, String, String)>,
    peer: Option<Extension<PeerCert>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authn_cert(inner, service, account, Some(host), peer, headers, body)
}

async fn authn_cert_derived(
    State(inner): State<Arc<Inner>>,
    Path((service, account)): Path<(String, String)>,
    peer: Option<Extension<PeerCert>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authn_cert(inner, service, account, None, peer, headers, body)
}

fn authn_cert(
    inner: Arc<Inner>,
    service: String,
    account: String,
    host: Option<String>,
    peer: Option<Extension<PeerCert>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let cfg = inner.cfg();
    if account != cfg.account || service != cfg.authn_cert_service_id || !body.is_empty() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Some(Extension(PeerCert(Some(der)))) = peer else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(cert_host) = inner.client_certs.lock().unwrap().get(&der).cloned() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if host.as_ref().is_some_and(|h| *h != cert_host) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    inner.authn_cert_calls.fetch_add(1, Ordering::SeqCst);
    token_response(&headers, inner.issue_token(&cert_host))
}

#[derive(serde::Deserialize)]
struct VersionQuery {
    version: Option<String>,
}

async fn get_secret(
    State(inner): State<Arc<Inner>>,
    Path((account, kind, identifier)): Path<(String, String, String)>,
    axum::extract::Query(query): axum::extract::Query<VersionQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = inner.check_token(&headers) {
        return r;
    }
    let full = format!("{account}:{kind}:{identifier}");
    if account != inner.cfg().account || kind != "variable" {
        return not_found(&kind, &full);
    }
    let version = match query.version {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return unprocessable("argument_error", "version must be an integer"),
        },
    };
    let vars = inner.variables.lock().unwrap();
    let Some(var) = vars.get(&identifier) else {
        return not_found("variable", &full);
    };
    let value = match version {
        None => var.versions.last(),
        Some(n) => var.versions.iter().find(|(v, _)| *v == n),
    };
    // secrets_controller#show: the `conjur/mime_type` annotation, else octet-stream.
    let content_type = var
        .annotations
        .get("conjur/mime_type")
        .map_or("application/octet-stream", String::as_str);
    match value {
        Some((_, bytes)) => (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, content_type.to_string())],
            bytes.clone(),
        )
            .into_response(),
        None => not_found("variable", &full),
    }
}

async fn set_secret(
    State(inner): State<Arc<Inner>>,
    Path((account, kind, identifier)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = inner.check_token(&headers) {
        return r;
    }
    let full = format!("{account}:{kind}:{identifier}");
    if account != inner.cfg().account || kind != "variable" {
        return not_found(&kind, &full);
    }
    if query.as_deref() == Some("expirations") {
        return if inner.variables.lock().unwrap().contains_key(&identifier) {
            StatusCode::CREATED.into_response()
        } else {
            not_found("variable", &full)
        };
    }
    // secrets_controller#create checks blankness, not length.
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": {
                "code": "unprocessable_entity",
                "message": "'value' may not be empty",
                "details": [{"code": "unprocessable_entity", "target": "value", "message": "'value' may not be empty"}]
            }}),
        );
    }
    if inner.push_value(&identifier, body.to_vec()) {
        StatusCode::CREATED.into_response()
    } else {
        not_found("variable", &full)
    }
}

async fn batch(
    State(inner): State<Arc<Inner>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = inner.check_token(&headers) {
        return r;
    }
    // Rails decodes the whole parameter value, then splits on commas.
    let raw = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("variable_ids="))
        .unwrap_or("");
    let plus_decoded = raw.replace('+', " ");
    let decoded = match percent_encoding::percent_decode_str(&plus_decoded).decode_utf8() {
        Ok(d) => d.into_owned(),
        Err(_) => return unprocessable("argument_error", "variable_ids is not valid UTF-8"),
    };
    if decoded.is_empty() {
        return unprocessable("argument_error", "variable_ids must not be empty");
    }
    let ids: Vec<&str> = decoded.split(',').collect();
    if ids.iter().any(|id| id.is_empty()) {
        return unprocessable(
            "argument_error",
            "variable_ids must not contain empty elements",
        );
    }
    let mut seen = HashSet::new();
    if !ids.iter().all(|id| seen.insert(*id)) {
        return unprocessable("argument_error", "variable_ids must not contain duplicates");
    }
    let account = inner.cfg().account;
    let base64 = wants_base64(&headers);
    let vars = inner.variables.lock().unwrap();
    let mut out = serde_json::Map::new();
    for id in &ids {
        let mut parts = id.splitn(3, ':');
        let (a, k, path) = (parts.next(), parts.next(), parts.next());
        let Some(path) = path.filter(|_| a == Some(account.as_str()) && k == Some("variable"))
        else {
            return not_found("variable", id);
        };
        let Some((_, value)) = vars.get(path).and_then(|v| v.versions.last()) else {
            return not_found("variable", id);
        };
        let text = if base64 {
            // Ruby's Base64.encode64: a line break every 60 characters and at the end.
            let b = STANDARD.encode(value);
            let mut s = String::with_capacity(b.len() + b.len() / 60 + 1);
            for chunk in b.as_bytes().chunks(60) {
                s.push_str(std::str::from_utf8(chunk).unwrap());
                s.push('\n');
            }
            s
        } else {
            match String::from_utf8(value.clone()) {
                Ok(s) => s,
                Err(_) => {
                    return json_error(
                        StatusCode::NOT_ACCEPTABLE,
                        json!({"error": {"code": "not_acceptable",
                            "message": "Issue encoding secret into JSON format, try including 'Accept-Encoding: base64' header in request."}}),
                    );
                }
            }
        };
        out.insert(id.to_string(), serde_json::Value::String(text));
    }
    let body = serde_json::Value::Object(out).to_string();
    if base64 {
        (
            StatusCode::OK,
            [
                ("content-type", "application/json"),
                ("content-encoding", "base64"),
            ],
            body,
        )
            .into_response()
    } else {
        (StatusCode::OK, [("content-type", "application/json")], body).into_response()
    }
}

/// The policy lock: one load at a time, as on the server (`policies_controller.rb`
/// `concurrent_load`). A load that finds it held is answered 409 once the holder is done.
#[derive(Debug, Default)]
struct PolicyGate {
    state: Mutex<GateState>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct GateState {
    /// The load holding the lock.
    holder: Option<u64>,
    next: u64,
    /// Loads refused while the current holder held the lock.
    conflicts: usize,
    /// How many more holders wait for a refused load before finishing.
    collide: usize,
}

/// The lock, held by one load; released (and waiters woken) when dropped.
struct Held<'a> {
    gate: &'a PolicyGate,
    collide: bool,
}

impl PolicyGate {
    /// Takes the lock, or says which load holds it (and counts the refusal).
    fn acquire(&self) -> Result<Held<'_>, u64> {
        let mut st = self.state.lock().unwrap();
        if let Some(holder) = st.holder {
            st.conflicts += 1;
            drop(st);
            self.changed.notify_waiters();
            return Err(holder);
        }
        st.next += 1;
        st.holder = Some(st.next);
        st.conflicts = 0;
        let collide = st.collide > 0;
        st.collide = st.collide.saturating_sub(1);
        Ok(Held {
            gate: self,
            collide,
        })
    }

    /// Waits until `check` holds for the state (no polling: woken on every change).
    async fn wait_until(&self, check: impl Fn(&GateState) -> bool) {
        loop {
            let changed = self.changed.notified();
            if check(&self.state.lock().unwrap()) {
                return;
            }
            changed.await;
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.gate.state.lock().unwrap().holder = None;
        self.gate.changed.notify_waiters();
    }
}

fn policy_conflict(inner: &Inner) -> Response {
    inner.policy_conflicts.fetch_add(1, Ordering::SeqCst);
    let (lo, hi) = inner.cfg().policy_retry_after;
    let secs = if hi > lo {
        lo + rand::random::<u64>() % (hi - lo + 1)
    } else {
        lo
    };
    let mut r = json_error(
        StatusCode::CONFLICT,
        json!({"error": {
            "code": "policy_conflict",
            "message": "Concurrent policy load in progress, please retry"
        }}),
    );
    r.headers_mut()
        .insert("retry-after", secs.to_string().parse().unwrap());
    r
}

async fn load_policy(
    State(inner): State<Arc<Inner>>,
    method: Method,
    Path((account, identifier)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = inner.check_token(&headers) {
        return r;
    }
    let cfg = inner.cfg();
    if account != cfg.account || !inner.policies.lock().unwrap().contains_key(&identifier) {
        return not_found("policy", &format!("{account}:policy:{identifier}"));
    }
    if let Some(ct) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        let ct = ct.split(';').next().unwrap_or("").trim();
        let ok = [
            "application/x-yaml",
            "text/yaml",
            "text/x-yaml",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/octet-stream",
        ];
        if !ct.is_empty() && !ok.contains(&ct) {
            return unprocessable(
                "unsupported_media_type",
                "policy content type not supported",
            );
        }
    }
    if inner
        .forced_conflicts
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return policy_conflict(&inner);
    }
    let held = match inner.policy_gate.acquire() {
        Ok(held) => held,
        Err(holder) => {
            inner
                .policy_gate
                .wait_until(|st| st.holder != Some(holder))
                .await;
            return policy_conflict(&inner);
        }
    };
    if held.collide {
        inner.policy_gate.wait_until(|st| st.conflicts > 0).await;
    }
    if !cfg.policy_load_time.is_zero() {
        tokio::time::sleep(cfg.policy_load_time).await;
    }
    let dry_run = query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|kv| kv == "dryRun=true"));
    let text = match std::str::from_utf8(&body) {
        Ok(t) => t,
        Err(_) => return policy_invalid("policy is not UTF-8 text", 1, 1),
    };
    let decls = match parse_policy(&inner, method.as_str(), &identifier, text) {
        Ok(decls) => decls,
        Err(r) => return r,
    };
    if dry_run {
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            json!({"status": "Valid YAML", "created_roles": {}, "updated_roles": {}}).to_string(),
        )
            .into_response();
    }
    inner.apply(&method, &identifier, decls);
    drop(held);
    let version = inner.policy_version.fetch_add(1, Ordering::SeqCst) + 1;
    (
        StatusCode::CREATED,
        [("content-type", "application/json")],
        json!({"created_roles": {}, "version": version}).to_string(),
    )
        .into_response()
}

/// A record a policy document declares, resolved.
#[derive(Debug)]
struct Declaration {
    policy_record: bool,
    /// The resolved id.
    id: String,
    /// The branch that declares it.
    owner: String,
    annotations: BTreeMap<String, String>,
}

impl Inner {
    /// Applies a parsed document loaded into `branch` with `method` (`loader/orchestrate.rb`).
    fn apply(&self, method: &Method, branch: &str, decls: Vec<Declaration>) {
        let mut policies = self.policies.lock().unwrap();
        let mut vars = self.variables.lock().unwrap();
        if *method == Method::PUT {
            // Replace: what the branch owns and the new document lacks is deleted, with
            // everything the deleted branches own.
            let mut gone: Vec<String> = vec![branch.to_string()];
            let mut dropped_policies = HashSet::new();
            while let Some(owner) = gone.pop() {
                let top = owner == branch;
                let kept = |id: &String, policy: bool| {
                    top && decls
                        .iter()
                        .any(|d| d.policy_record == policy && d.id == *id)
                };
                let doomed: Vec<String> = policies
                    .iter()
                    .filter(|(id, o)| **o == owner && !kept(id, true))
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in doomed {
                    policies.remove(&id);
                    dropped_policies.insert(id.clone());
                    gone.push(id);
                }
                vars.retain(|id, v| v.policy != owner || kept(id, false));
            }
        }
        let created_at = secs(self.now());
        for d in decls {
            if d.policy_record {
                // A record owned by another branch is shadowed: dropped.
                policies.entry(d.id).or_insert(d.owner);
                continue;
            }
            match vars.get_mut(&d.id) {
                None => {
                    vars.insert(
                        d.id,
                        Variable {
                            versions: Vec::new(),
                            next_version: 1,
                            created_at,
                            policy: d.owner,
                            annotations: d.annotations,
                        },
                    );
                }
                Some(v) if v.policy != d.owner => {}
                Some(v) => match *method {
                    // Add-only: new annotation names are added, changed values dropped.
                    Method::POST => {
                        for (k, val) in d.annotations {
                            v.annotations.entry(k).or_insert(val);
                        }
                    }
                    Method::PATCH => v.annotations.extend(d.annotations),
                    _ => v.annotations = d.annotations,
                },
            }
        }
    }
}

/// Parses a policy document: a YAML sequence of `!variable` records (`- !variable id` or
/// `- !variable {id: x, annotations: {...}, mime_type: ..., kind: ...}`) and `!policy` records
/// (`{id: x, annotations: {...}, body: [...]}`). Records every record it sees; any other record
/// is `policy_invalid`. Returns the resolved declarations.
fn parse_policy(
    inner: &Inner,
    method: &str,
    branch: &str,
    text: &str,
) -> Result<Vec<Declaration>, Response> {
    use serde_yaml_ng::Value;
    let doc: Value = match serde_yaml_ng::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            return Err(policy_invalid(
                &format!("YAML syntax error: {e}"),
                line,
                column,
            ));
        }
    };
    let items = match doc {
        Value::Sequence(items) => items,
        Value::Null => Vec::new(),
        _ => {
            return Err(policy_invalid(
                "a policy must be a sequence of records",
                1,
                1,
            ));
        }
    };
    let mut parse = PolicyParse {
        method,
        seen: Vec::new(),
        error: None,
        decls: Vec::new(),
    };
    parse.records(items, branch);
    inner.records.lock().unwrap().extend(parse.seen);
    match parse.error {
        Some(msg) => Err(policy_invalid(&msg, 1, 1)),
        None => Ok(parse.decls),
    }
}

struct PolicyParse<'a> {
    method: &'a str,
    seen: Vec<PolicyRecord>,
    error: Option<String>,
    decls: Vec<Declaration>,
}

impl PolicyParse<'_> {
    fn fail(&mut self, msg: String) {
        self.error.get_or_insert(msg);
    }

    fn records(&mut self, items: Vec<serde_yaml_ng::Value>, branch: &str) {
        use serde_yaml_ng::Value;
        for (i, item) in items.into_iter().enumerate() {
            let mut rec = PolicyRecord {
                method: self.method.to_string(),
                branch: branch.to_string(),
                tag: String::new(),
                id: None,
                resolved: None,
                annotations: Vec::new(),
            };
            let tagged = match item {
                Value::Tagged(tagged) => *tagged,
                other => {
                    rec.id = other.as_str().map(str::to_string);
                    self.seen.push(rec);
                    self.fail(format!("record {} has no type tag", i + 1));
                    continue;
                }
            };
            rec.tag = tagged.tag.to_string().trim_start_matches('!').to_string();
            let policy_record = match rec.tag.as_str() {
                "variable" => false,
                "policy" => true,
                other => {
                    rec.id = match &tagged.value {
                        Value::String(s) => Some(s.clone()),
                        Value::Mapping(m) => {
                            m.get("id").and_then(|v| v.as_str()).map(str::to_string)
                        }
                        _ => None,
                    };
                    let msg = format!(
                        "record {} has type !{other}; this server accepts !variable and !policy only",
                        i + 1
                    );
                    self.seen.push(rec);
                    self.fail(msg);
                    continue;
                }
            };
            let mut body = None;
            match tagged.value {
                Value::String(s) => rec.id = Some(s),
                Value::Mapping(m) => {
                    for (k, v) in m {
                        let key = k.as_str().unwrap_or_default().to_string();
                        match (key.as_str(), v) {
                            ("id", Value::String(s)) => rec.id = Some(s),
                            ("annotations", Value::Mapping(a)) => {
                                for (name, value) in a {
                                    match (name.as_str(), scalar_text(&value)) {
                                        (Some(n), Some(v)) => {
                                            rec.annotations.push((n.to_string(), v))
                                        }
                                        _ => self.fail(format!(
                                            "record {}: annotations are name: scalar pairs",
                                            i + 1
                                        )),
                                    }
                                }
                            }
                            ("mime_type" | "kind", v) if !policy_record => match scalar_text(&v) {
                                Some(text) => rec.annotations.push((format!("conjur/{key}"), text)),
                                None => self.fail(format!("record {}: `{key}` is a scalar", i + 1)),
                            },
                            ("body", Value::Sequence(b)) if policy_record => body = Some(b),
                            _ => self.fail(format!(
                                "record {}: unexpected attribute `{key}` of !{}",
                                i + 1,
                                rec.tag
                            )),
                        }
                    }
                }
                _ => self.fail(format!("record {}: !{} needs an id", i + 1, rec.tag)),
            }
            let Some(id) = rec.id.clone() else {
                self.seen.push(rec);
                self.fail(format!(
                    "record {}: !{} needs an id",
                    i + 1,
                    if policy_record { "policy" } else { "variable" }
                ));
                continue;
            };
            let resolved = resolve_id(branch, &id);
            rec.resolved = Some(resolved.clone());
            let annotations: BTreeMap<String, String> = rec.annotations.iter().cloned().collect();
            if annotations.len() != rec.annotations.len() {
                self.fail(format!("record {}: an annotation is given twice", i + 1));
            }
            self.seen.push(rec);
            if resolved.is_empty() || resolved.split('/').any(str::is_empty) {
                self.fail(format!("record {}: empty id", i + 1));
            } else if self
                .decls
                .iter()
                .any(|d| d.id == resolved && d.policy_record == policy_record)
            {
                self.fail(format!("'{resolved}' is declared more than once"));
            } else {
                self.decls.push(Declaration {
                    policy_record,
                    id: resolved.clone(),
                    owner: branch.to_string(),
                    annotations,
                });
            }
            if let Some(body) = body {
                // Records in a policy's body are relative to that policy.
                self.records(body, &resolved);
            }
        }
    }
}

/// A YAML scalar as the text Conjur stores.
fn scalar_text(v: &serde_yaml_ng::Value) -> Option<String> {
    use serde_yaml_ng::Value;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Ids are relative to the branch (`root` = none), a leading `/` makes one absolute,
/// `$namespace` is substituted (conjur-policy-parser resolver.rb).
fn resolve_id(branch: &str, id: &str) -> String {
    let namespace = if branch == "root" { "" } else { branch };
    let id = id.replace("$namespace", namespace);
    if let Some(abs) = id.strip_prefix('/') {
        abs.to_string()
    } else if namespace.is_empty() {
        id
    } else {
        format!("{namespace}/{id}")
    }
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    /// `kind` as a query parameter (`/resources/{account}?kind=variable`), as Rails merges
    /// query parameters into `params[:kind]`.
    kind: Option<String>,
    search: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
    count: Option<String>,
}

async fn list_resources_all(
    State(inner): State<Arc<Inner>>,
    Path(account): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let kind = query.kind.clone();
    list_resources(inner, account, kind, query, headers)
}

async fn list_resources_kind(
    State(inner): State<Arc<Inner>>,
    Path((account, kind)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    list_resources(inner, account, Some(kind), query, headers)
}

async fn show_resource(
    State(inner): State<Arc<Inner>>,
    Path((account, kind, identifier)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let login = match inner.check_token(&headers) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let full = format!("{account}:{kind}:{identifier}");
    if account != inner.cfg().account {
        return not_found(&kind, &full);
    }
    let found = inner
        .resources(&login, Some(&kind))
        .into_iter()
        .find(|r| r["id"] == full.as_str());
    match found {
        Some(r) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            r.to_string(),
        )
            .into_response(),
        None => not_found(&kind, &full),
    }
}

impl Inner {
    /// Every resource of `kind` (all kinds when `None`) as the resources API shows it.
    fn resources(&self, login: &str, kind: Option<&str>) -> Vec<serde_json::Value> {
        let cfg = self.cfg();
        let account = &cfg.account;
        let owner = format!("{account}:user:{login}");
        let policy = |p: &str| format!("{account}:policy:{p}");
        let mut all = Vec::new();
        if kind.is_none_or(|k| k == "policy") {
            for (id, parent) in self.policies.lock().unwrap().iter() {
                let mut r = json!({
                    "id": policy(id),
                    "owner": owner,
                    "created_at": rfc3339(0),
                    "permissions": [],
                    "annotations": [],
                    "policy_versions": [],
                });
                if !parent.is_empty() {
                    r["policy"] = policy(parent).into();
                }
                all.push(r);
            }
        }
        if kind.is_none_or(|k| k == "variable") {
            for (id, var) in self.variables.lock().unwrap().iter() {
                let secrets: Vec<_> = var
                    .versions
                    .iter()
                    .map(|(n, _)| json!({"version": n, "expires_at": null}))
                    .collect();
                let annotations: Vec<_> = var
                    .annotations
                    .iter()
                    .map(|(name, value)| json!({"name": name, "value": value, "policy": policy(&var.policy)}))
                    .collect();
                all.push(json!({
                    "id": format!("{account}:variable:{id}"),
                    "owner": owner,
                    "policy": policy(&var.policy),
                    "created_at": rfc3339(var.created_at),
                    "permissions": [],
                    "annotations": annotations,
                    "secrets": secrets,
                }));
            }
        }
        all
    }
}

fn list_resources(
    inner: Arc<Inner>,
    account: String,
    kind: Option<String>,
    q: ListQuery,
    headers: HeaderMap,
) -> Response {
    let login = match inner.check_token(&headers) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let offset = q.offset.unwrap_or(0);
    let limit = match (q.limit, q.offset) {
        (Some(l), _) => Some(l),
        (None, Some(_)) => Some(10),
        (None, None) => None,
    };
    let json_ok = |body: serde_json::Value| {
        (
            StatusCode::OK,
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response()
    };
    if inner.endless_resources.load(Ordering::SeqCst) {
        let page: Vec<_> = (offset..offset + limit.unwrap_or(10))
            .map(|n| json!({"id": format!("{account}:variable:endless/{n}"), "annotations": []}))
            .collect();
        return json_ok(serde_json::Value::Array(page));
    }
    let mut all = if account == inner.cfg().account {
        inner.resources(&login, kind.as_deref())
    } else {
        Vec::new()
    };
    if let Some(search) = q.search.as_deref().filter(|s| !s.is_empty()) {
        let needle = search.to_lowercase();
        let hit = |t: &str| t.to_lowercase().contains(&needle);
        all.retain(|r| {
            let id = r["id"].as_str().and_then(|id| id.splitn(3, ':').nth(2));
            let annotated = r["annotations"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["value"].as_str().is_some_and(hit)));
            id.is_some_and(hit) || annotated
        });
    }
    if q.count.as_deref() == Some("true") {
        return json_ok(json!({"count": all.len()}));
    }
    let page: Vec<_> = all
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    json_ok(serde_json::Value::Array(page))
}

// ---------------------------------------------------------------------------------------------
// mutual TLS listener (the harness's TLS server asks for no client certificate)

#[derive(Debug)]
struct MtlsServer {
    port: u16,
    ca: TestCa,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MtlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MtlsServer {
    async fn start(app: Router) -> MtlsServer {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let ca = TestCa::new();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca.ca_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .unwrap();
        let certs = CertificateDer::pem_slice_iter(ca.server_cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(ca.server_key_pem.as_bytes()).unwrap();
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .unwrap();
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let app = app.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let peer = PeerCert(
                        tls.get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .map(|c| c.to_vec()),
                    );
                    let app = app.layer(Extension(peer));
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let builder = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    );
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        MtlsServer { port, ca, task }
    }
}
