//! A faithful fake of Google Cloud Secret Manager's REST v1 API (`protocols.md`, GCP section),
//! with the OAuth 2.0 token endpoint, STS, IAM credentials' `generateAccessToken` and the
//! metadata server on the same port.
//!
//! * Every API call needs `Authorization: Bearer <token>` with a token this fake issued and has
//!   not revoked ([`FakeGcp::revoke_tokens`]), or a self-signed JWT of the service account (what
//!   Google's client libraries send); otherwise **401** `UNAUTHENTICATED`.
//! * Errors are `google.rpc.Status` bodies: `{"error":{"code":404,"message":"…","status":"NOT_FOUND"}}`.
//! * `GET /v1/projects/{p}/secrets/{id}/versions/{v}:access` (`v` = `latest`, a number or an
//!   alias): `{"name":"projects/<number>/secrets/{id}/versions/{n}","payload":{"data":"<base64>","dataCrc32c":"<int64 as text>"}}`;
//!   `NOT_FOUND` for a missing secret or version, **`FAILED_PRECONDITION`** (400) for a
//!   `DISABLED` or `DESTROYED` version (`latest` is the most recently created version, whatever
//!   its state). [`FakeGcp::corrupt_checksums`] makes access answers carry a wrong CRC32C.
//! * `POST /v1/projects/{p}/secrets?secretId={id}` (`replication` required; `labels`,
//!   `annotations`): the `Secret`; `ALREADY_EXISTS` (409) when taken. Ids must match
//!   `[A-Za-z0-9_-]{1,255}` (else `INVALID_ARGUMENT`).
//! * `POST …/secrets/{id}:addVersion` (`payload.data`, optional `payload.dataCrc32c`, checked:
//!   a mismatch is `INVALID_ARGUMENT`; data over 64 KiB too): the `SecretVersion`.
//! * `GET …/secrets/{id}`, `DELETE …/secrets/{id}` (`{}`), `POST …/versions/{v}:disable`,
//!   `:enable`, `:destroy`.
//! * `GET /v1/projects/{p}/secrets?pageSize=&pageToken=&filter=`: newest first, opaque
//!   `nextPageToken`, `totalSize`; `filter=name:<text>` keeps secrets whose name contains
//!   `<text>`; [`FakeGcp::set_endless_paging`] makes every page carry a token (a broken server).
//! * Another project than [`FakeGcp::project`] is `PERMISSION_DENIED` (403).
//! * [`FakeGcp::throttle_next`]: 429 `RESOURCE_EXHAUSTED` with `Retry-After`.
//! * `POST /token`: the OAuth 2.0 token endpoint — `jwt-bearer` (the RS256 signature is checked
//!   against the key of [`FakeGcp::service_account_json`], `iss`, `aud` and `exp` too),
//!   `refresh_token` ([`FakeGcp::authorized_user_json`]), and STS `token-exchange` (the subject
//!   token must be [`FakeGcp::subject_token`]); answers `{"access_token","expires_in","token_type"}`,
//!   `invalid_grant` (400) otherwise.
//! * `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`: impersonation, with
//!   an STS token as bearer.
//! * `GET /computeMetadata/v1/instance/service-accounts/default/` (email, scopes) and
//!   `GET /computeMetadata/v1/instance/service-accounts/default/token` with
//!   `Metadata-Flavor: Google` (else 403): a token, and `Metadata-Flavor: Google` on the answer.
//! * Faults (5xx, drops, malformed bodies, redirects, oversized answers) come from the
//!   [`crate::fake`] harness: [`FakeGcp::faults`].

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderMap, Method, Uri};
use serde_json::{Value, json};

use crate::fake::{FakeServer, Faults};

/// The project the fake serves.
pub const PROJECT: &str = "strongroom-fake";
/// The project number names carry (the real API answers with numbers).
pub const PROJECT_NUMBER: &str = "123456789012";
/// The service account of [`FakeGcp::service_account_json`].
pub const CLIENT_EMAIL: &str = "strongroom@strongroom-fake.iam.gserviceaccount.com";
/// Largest payload.
const MAX_DATA: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VersionState {
    Enabled,
    Disabled,
    Destroyed,
}

impl VersionState {
    fn as_str(self) -> &'static str {
        match self {
            VersionState::Enabled => "ENABLED",
            VersionState::Disabled => "DISABLED",
            VersionState::Destroyed => "DESTROYED",
        }
    }
}

#[derive(Debug, Clone)]
struct Version {
    data: Vec<u8>,
    state: VersionState,
}

#[derive(Debug, Clone)]
struct Entry {
    versions: Vec<Version>,
    labels: Value,
    annotations: Value,
    replication: Value,
    aliases: BTreeMap<String, usize>,
    created: u64,
}

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path.
    pub path: String,
    /// The raw query.
    pub query: String,
}

#[derive(Debug, Default)]
struct Inner {
    secrets: BTreeMap<String, Entry>,
    issued: HashSet<String>,
    sts_issued: HashSet<String>,
    counter: u64,
    throttle: Vec<u64>,
    corrupt: bool,
    endless: bool,
    token_lifetime: u64,
    requests: Vec<SeenRequest>,
    grants: Vec<String>,
}

struct Shared {
    public_key: Vec<u8>,
    subject_token: String,
    refresh_token: String,
    client_secret: String,
    url: Mutex<String>,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn url(&self) -> String {
        self.url.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A running fake Secret Manager (plain HTTP on loopback). Stops when dropped.
pub struct FakeGcp {
    server: FakeServer,
    shared: Arc<Shared>,
    private_key_pem: String,
}

impl std::fmt::Debug for FakeGcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGcp")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl FakeGcp {
    /// Starts the fake on a free loopback port with a fresh service-account key.
    pub async fn start() -> FakeGcp {
        let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("RSA key generation");
        let pkcs8 = key.as_der().expect("PKCS#8");
        let shared = Arc::new(Shared {
            public_key: key.public_key().as_ref().to_vec(),
            subject_token: format!(
                "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJrOHMifQ.fake-{:016x}",
                rand::random::<u64>()
            ),
            refresh_token: format!("1//fake-refresh-{:016x}", rand::random::<u64>()),
            client_secret: format!("fake-client-secret-{:016x}", rand::random::<u64>()),
            url: Mutex::new(String::new()),
            inner: Mutex::new(Inner {
                token_lifetime: 3600,
                ..Inner::default()
            }),
        });
        let router = Router::new()
            .route("/", axum::routing::any(handle))
            .route("/{*path}", axum::routing::any(handle))
            .with_state(Arc::clone(&shared));
        let server = FakeServer::start(router).await;
        *shared.url.lock().unwrap() = server.url();
        FakeGcp {
            server,
            shared,
            private_key_pem: pem("PRIVATE KEY", pkcs8.as_ref()),
        }
    }

    /// `http://127.0.0.1:<port>`: the API endpoint, and the metadata server's host.
    pub fn url(&self) -> String {
        self.server.url()
    }
    /// The OAuth 2.0 / STS token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.url())
    }
    /// `127.0.0.1:<port>`, what `GCE_METADATA_HOST` takes.
    pub fn metadata_host(&self) -> String {
        format!("127.0.0.1:{}", self.server.addr().port())
    }
    /// The project served ([`PROJECT`]).
    pub fn project(&self) -> &'static str {
        PROJECT
    }
    /// The fault queue of the underlying harness.
    pub fn faults(&self) -> &Faults {
        self.server.faults()
    }
    /// A service-account key file whose `token_uri` is this fake's token endpoint.
    pub fn service_account_json(&self) -> Value {
        json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "fake-key-1",
            "private_key": self.private_key_pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "token_uri": self.token_url(),
        })
    }
    /// gcloud user credentials whose refresh token this fake accepts.
    pub fn authorized_user_json(&self) -> Value {
        json!({
            "type": "authorized_user",
            "client_id": "fake-client.apps.googleusercontent.com",
            "client_secret": self.shared.client_secret,
            "refresh_token": self.shared.refresh_token,
            "token_uri": self.token_url(),
        })
    }
    /// A workload identity federation file reading its subject token from `token_file`,
    /// impersonating [`CLIENT_EMAIL`] when `impersonate`.
    pub fn external_account_json(&self, token_file: &str, impersonate: bool) -> Value {
        let mut v = json!({
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/pool/providers/k8s",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": self.token_url(),
            "credential_source": {"file": token_file, "format": {"type": "text"}},
        });
        if impersonate {
            v["service_account_impersonation_url"] = json!(format!(
                "{}/v1/projects/-/serviceAccounts/{CLIENT_EMAIL}:generateAccessToken",
                self.url()
            ));
        }
        v
    }
    /// The subject token STS accepts.
    pub fn subject_token(&self) -> &str {
        &self.shared.subject_token
    }
    /// Issues a token directly (no HTTP), e.g. for a static `access_token`.
    pub fn issue_token(&self) -> String {
        issue(&mut self.shared.lock())
    }
    /// Lifetime (`expires_in`) of the tokens issued from now on (default 3600 s).
    pub fn set_token_lifetime(&self, secs: u64) {
        self.shared.lock().token_lifetime = secs;
    }
    /// Revokes every token issued so far: requests bearing one get 401. How many were revoked.
    pub fn revoke_tokens(&self) -> usize {
        let mut g = self.shared.lock();
        let n = g.issued.len();
        g.issued.clear();
        n
    }
    /// The grants the token endpoint served, in order (`jwt-bearer`, `refresh_token`,
    /// `token-exchange`, `impersonation`, `metadata`).
    pub fn grants(&self) -> Vec<String> {
        self.shared.lock().grants.clone()
    }
    /// The next `n` API requests answer 429 `RESOURCE_EXHAUSTED` with `Retry-After`.
    pub fn throttle_next(&self, n: usize, retry_after_secs: u64) {
        self.shared
            .lock()
            .throttle
            .extend(std::iter::repeat_n(retry_after_secs, n));
    }
    /// Access answers carry a wrong CRC32C while on.
    pub fn corrupt_checksums(&self, on: bool) {
        self.shared.lock().corrupt = on;
    }
    /// Every list page carries a `nextPageToken`, even past the end.
    pub fn set_endless_paging(&self, on: bool) {
        self.shared.lock().endless = on;
    }
    /// API requests seen (token endpoint and metadata server excluded).
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.lock().requests.clone()
    }
    /// Stores a version directly (no HTTP), creating the secret; its version number.
    pub fn seed(&self, id: &str, data: &[u8]) -> usize {
        let mut g = self.shared.lock();
        let e = g
            .secrets
            .entry(id.to_owned())
            .or_insert_with(|| new_entry(json!({"automatic": {}}), Value::Null, Value::Null));
        e.versions.push(Version {
            data: data.to_vec(),
            state: VersionState::Enabled,
        });
        e.versions.len()
    }
    /// Sets a version's state (`ENABLED`, `DISABLED`, `DESTROYED`); `false` when missing.
    pub fn set_version_state(&self, id: &str, version: usize, state: &str) -> bool {
        let state = match state {
            "ENABLED" => VersionState::Enabled,
            "DISABLED" => VersionState::Disabled,
            _ => VersionState::Destroyed,
        };
        let mut g = self.shared.lock();
        match g
            .secrets
            .get_mut(id)
            .and_then(|e| e.versions.get_mut(version.wrapping_sub(1)))
        {
            Some(v) => {
                v.state = state;
                if state == VersionState::Destroyed {
                    v.data.clear();
                }
                true
            }
            None => false,
        }
    }
    /// Points a version alias at a version.
    pub fn set_alias(&self, id: &str, alias: &str, version: usize) {
        if let Some(e) = self.shared.lock().secrets.get_mut(id) {
            e.aliases.insert(alias.to_owned(), version);
        }
    }
    /// The latest version's data (no HTTP).
    pub fn value(&self, id: &str) -> Option<Vec<u8>> {
        self.shared
            .lock()
            .secrets
            .get(id)?
            .versions
            .last()
            .map(|v| v.data.clone())
    }
    /// How many versions a secret has.
    pub fn version_count(&self, id: &str) -> usize {
        self.shared
            .lock()
            .secrets
            .get(id)
            .map_or(0, |e| e.versions.len())
    }
    /// A secret's labels and annotations.
    pub fn metadata(&self, id: &str) -> Option<(Value, Value)> {
        let g = self.shared.lock();
        let e = g.secrets.get(id)?;
        Some((e.labels.clone(), e.annotations.clone()))
    }
    /// A secret's replication policy as created.
    pub fn replication(&self, id: &str) -> Option<Value> {
        Some(self.shared.lock().secrets.get(id)?.replication.clone())
    }
    /// Secret ids.
    pub fn ids(&self) -> Vec<String> {
        self.shared.lock().secrets.keys().cloned().collect()
    }
}

fn new_entry(replication: Value, labels: Value, annotations: Value) -> Entry {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    Entry {
        versions: Vec::new(),
        labels,
        annotations,
        replication,
        aliases: BTreeMap::new(),
        created: SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
    }
}

fn issue(g: &mut Inner) -> String {
    g.counter += 1;
    let t = format!("ya29.fake-{}-{:016x}", g.counter, rand::random::<u64>());
    g.issued.insert(t.clone());
    t
}

fn respond(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A `google.rpc.Status` error answer.
fn rpc_error(code: u16, status: &str, message: &str) -> Response {
    respond(
        code,
        json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

fn oauth_error(error: &str, description: &str) -> Response {
    respond(
        400,
        json!({"error": error, "error_description": description}),
    )
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn query(uri: &Uri) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn valid_id(id: &str) -> bool {
    (1..=255).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn token_answer(g: &mut Inner) -> Response {
    let t = issue(g);
    respond(
        200,
        json!({"access_token": t, "expires_in": g.token_lifetime, "token_type": "Bearer"}),
    )
}

/// Checks an RS256 JWT assertion: signature, `iss`, `aud`, `exp`.
fn check_assertion(shared: &Shared, jwt: &str) -> Result<(), &'static str> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a JWT");
    };
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "bad signature encoding")?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &shared.public_key)
        .verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| "Invalid JWT Signature.")?;
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).map_err(|_| "bad header")?)
            .map_err(|_| "bad header")?;
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).map_err(|_| "bad claims")?)
            .map_err(|_| "bad claims")?;
    if header["alg"] != "RS256" {
        return Err("alg must be RS256");
    }
    if claims["iss"] != CLIENT_EMAIL {
        return Err("Invalid issuer");
    }
    if claims["aud"].as_str() != Some(&format!("{}/token", shared.url())) {
        return Err("Invalid JWT: audience");
    }
    let exp = claims["exp"].as_u64().unwrap_or(0);
    if exp < now() || claims["iat"].as_u64().unwrap_or(u64::MAX) > now() + 300 {
        return Err(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        );
    }
    if claims["scope"].as_str().is_none_or(str::is_empty) {
        return Err("Invalid OAuth scope or ID token audience provided.");
    }
    Ok(())
}

/// A self-signed JWT used as an access token: signed by the key, `iss` = the client email,
/// not expired.
fn check_self_signed(shared: &Shared, jwt: &str) -> bool {
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(sig) = URL_SAFE_NO_PAD.decode(s) else {
        return false;
    };
    let signed = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &shared.public_key)
        .verify(format!("{h}.{c}").as_bytes(), &sig)
        .is_ok();
    let claims: Value = URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    signed && claims["iss"] == CLIENT_EMAIL && claims["exp"].as_u64().is_some_and(|e| e >= now())
}

fn token_endpoint(shared: &Shared, body: &[u8]) -> Response {
    let f = form(body);
    let mut g = shared.lock();
    match f.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            if let Err(why) = check_assertion(shared, f.get("assertion").map_or("", String::as_str))
            {
                return oauth_error("invalid_grant", why);
            }
            g.grants.push("jwt-bearer".into());
            token_answer(&mut g)
        }
        Some("refresh_token") => {
            if f.get("refresh_token") != Some(&shared.refresh_token)
                || f.get("client_secret") != Some(&shared.client_secret)
            {
                return oauth_error("invalid_grant", "Bad Request");
            }
            g.grants.push("refresh_token".into());
            token_answer(&mut g)
        }
        Some("urn:ietf:params:oauth:grant-type:token-exchange") => {
            let ok = f.get("subject_token") == Some(&shared.subject_token)
                && f.get("requested_token_type").map(String::as_str)
                    == Some("urn:ietf:params:oauth:token-type:access_token")
                && f.get("audience")
                    .is_some_and(|a| a.starts_with("//iam.googleapis.com/"))
                && f.contains_key("scope");
            if !ok {
                return oauth_error(
                    "invalid_grant",
                    "The subject token or the request is not valid.",
                );
            }
            g.grants.push("token-exchange".into());
            let t = issue(&mut g);
            g.sts_issued.insert(t.clone());
            respond(
                200,
                json!({"access_token": t, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer", "expires_in": g.token_lifetime}),
            )
        }
        _ => oauth_error("unsupported_grant_type", "Invalid grant_type."),
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    if path == "/token" && method == Method::POST {
        return token_endpoint(&shared, &body);
    }
    if path == "/computeMetadata/v1/instance/service-accounts/default/" {
        // What google-auth reads before its first token: the account's email and scopes.
        if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
            return Response::builder()
                .status(403)
                .body(Body::from("Missing Metadata-Flavor:Google header."))
                .unwrap();
        }
        return Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("metadata-flavor", "Google")
            .body(Body::from(json!({"aliases": ["default"], "email": CLIENT_EMAIL, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}).to_string()))
            .unwrap();
    }
    if path == "/computeMetadata/v1/instance/service-accounts/default/token" {
        if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
            return Response::builder()
                .status(403)
                .body(Body::from("Missing Metadata-Flavor:Google header."))
                .unwrap();
        }
        let mut g = shared.lock();
        g.grants.push("metadata".into());
        let t = issue(&mut g);
        return Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("metadata-flavor", "Google")
            .body(Body::from(
                json!({"access_token": t, "expires_in": g.token_lifetime, "token_type": "Bearer"})
                    .to_string(),
            ))
            .unwrap();
    }
    if let Some(rest) = path.strip_prefix("/v1/projects/-/serviceAccounts/") {
        let mut g = shared.lock();
        let ok = bearer(&headers).is_some_and(|t| g.sts_issued.contains(&t));
        if !ok {
            return rpc_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials.",
            );
        }
        if rest != format!("{CLIENT_EMAIL}:generateAccessToken") || method != Method::POST {
            return rpc_error(404, "NOT_FOUND", "Requested entity was not found.");
        }
        g.grants.push("impersonation".into());
        let t = issue(&mut g);
        let secs = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| {
                v["lifetime"]
                    .as_str()
                    .and_then(|l| l.trim_end_matches('s').parse::<u64>().ok())
            })
            .unwrap_or(3600);
        let expire = humantime::format_rfc3339_seconds(
            SystemTime::now() + std::time::Duration::from_secs(secs),
        )
        .to_string();
        return respond(200, json!({"accessToken": t, "expireTime": expire}));
    }
    let mut g = shared.lock();
    g.requests.push(SeenRequest {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().unwrap_or("").to_owned(),
    });
    // Issued tokens, or a self-signed service-account JWT (Google's client libraries send one
    // instead of exchanging it; the API accepts it).
    if !bearer(&headers).is_some_and(|t| g.issued.contains(&t) || check_self_signed(&shared, &t)) {
        return rpc_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        );
    }
    if !g.throttle.is_empty() {
        let secs = g.throttle.remove(0);
        let mut r = rpc_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Access requests' and limit 'Access requests per minute'.",
        );
        r.headers_mut()
            .insert("retry-after", secs.to_string().parse().unwrap());
        return r;
    }
    let Some(rest) = path.strip_prefix("/v1/projects/") else {
        return rpc_error(
            404,
            "NOT_FOUND",
            "The requested URL was not found on this server.",
        );
    };
    let (project, rest) = rest.split_once('/').unwrap_or((rest, ""));
    if project != PROJECT && project != PROJECT_NUMBER {
        return rpc_error(
            403,
            "PERMISSION_DENIED",
            &format!("Permission denied on resource project {project}."),
        );
    }
    api(&mut g, &method, rest, &uri, &body)
}

fn secret_json(id: &str, e: &Entry) -> Value {
    let mut v = json!({
        "name": format!("projects/{PROJECT_NUMBER}/secrets/{id}"),
        "replication": e.replication,
        "createTime": "2024-01-01T00:00:00Z",
        "etag": format!("\"{}\"", e.versions.len()),
    });
    if !e.labels.is_null() {
        v["labels"] = e.labels.clone();
    }
    if !e.annotations.is_null() {
        v["annotations"] = e.annotations.clone();
    }
    if !e.aliases.is_empty() {
        v["versionAliases"] = json!(
            e.aliases
                .iter()
                .map(|(k, n)| (k.clone(), n.to_string()))
                .collect::<BTreeMap<_, _>>()
        );
    }
    v
}

fn version_json(id: &str, n: usize, v: &Version) -> Value {
    json!({
        "name": format!("projects/{PROJECT_NUMBER}/secrets/{id}/versions/{n}"),
        "createTime": "2024-01-01T00:00:00Z",
        "state": v.state.as_str(),
        "etag": format!("\"{n}\""),
        "clientSpecifiedPayloadChecksum": true,
    })
}

fn not_found(id: &str) -> Response {
    rpc_error(
        404,
        "NOT_FOUND",
        &format!("Secret [projects/{PROJECT_NUMBER}/secrets/{id}] not found or has no versions."),
    )
}

fn api(g: &mut Inner, method: &Method, rest: &str, uri: &Uri, body: &[u8]) -> Response {
    let json_body = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    if rest == "secrets" && *method == Method::GET {
        return list(g, uri);
    }
    if rest == "secrets" && *method == Method::POST {
        let id = query(uri).get("secretId").cloned().unwrap_or_default();
        if !valid_id(&id) {
            return rpc_error(
                400,
                "INVALID_ARGUMENT",
                "Secret ID must match [a-zA-Z_0-9-]{1,255}.",
            );
        }
        let b = json_body();
        if !b["replication"].is_object() {
            return rpc_error(400, "INVALID_ARGUMENT", "Secret.replication is required.");
        }
        if g.secrets.contains_key(&id) {
            return rpc_error(
                409,
                "ALREADY_EXISTS",
                &format!("Secret [projects/{PROJECT_NUMBER}/secrets/{id}] already exists."),
            );
        }
        let e = new_entry(
            b["replication"].clone(),
            b["labels"].clone(),
            b["annotations"].clone(),
        );
        let v = secret_json(&id, &e);
        g.secrets.insert(id, e);
        return respond(200, v);
    }
    let Some(rest) = rest.strip_prefix("secrets/") else {
        return rpc_error(404, "NOT_FOUND", "Not found.");
    };
    if let Some(id) = rest.strip_suffix(":addVersion") {
        if *method != Method::POST {
            return rpc_error(404, "NOT_FOUND", "Not found.");
        }
        let b = json_body();
        let data = match b["payload"]["data"].as_str().map(|d| STANDARD.decode(d)) {
            Some(Ok(d)) => d,
            None => Vec::new(),
            Some(Err(_)) => {
                return rpc_error(
                    400,
                    "INVALID_ARGUMENT",
                    "Invalid value at 'payload.data' (TYPE_BYTES), Base64 decoding failed.",
                );
            }
        };
        if data.len() > MAX_DATA {
            return rpc_error(
                400,
                "INVALID_ARGUMENT",
                "Secret Payload cannot exceed 65536 bytes.",
            );
        }
        let crc = &b["payload"]["dataCrc32c"];
        let given = crc
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .or_else(|| crc.as_i64());
        if given.is_some_and(|c| c != i64::from(crc32c::crc32c(&data))) {
            return rpc_error(
                400,
                "INVALID_ARGUMENT",
                "Checksum mismatch: the payload's data_crc32c does not match its data.",
            );
        }
        let Some(e) = g.secrets.get_mut(id) else {
            return not_found(id);
        };
        e.versions.push(Version {
            data,
            state: VersionState::Enabled,
        });
        let n = e.versions.len();
        return respond(200, version_json(id, n, &e.versions[n - 1]));
    }
    if let Some((id, version_part)) = rest.split_once("/versions/") {
        let (version, action) = version_part.split_once(':').unwrap_or((version_part, ""));
        let corrupt = g.corrupt;
        let Some(e) = g.secrets.get_mut(id) else {
            return not_found(id);
        };
        let n = match version {
            "latest" => e.versions.len(),
            v if v.bytes().all(|b| b.is_ascii_digit()) => v.parse().unwrap_or(0),
            alias => e.aliases.get(alias).copied().unwrap_or(0),
        };
        let Some(v) = n.checked_sub(1).and_then(|i| e.versions.get_mut(i)) else {
            return rpc_error(
                404,
                "NOT_FOUND",
                &format!(
                    "Secret Version [projects/{PROJECT_NUMBER}/secrets/{id}/versions/{version}] not found."
                ),
            );
        };
        return match (action, method) {
            ("access", &Method::GET) => {
                if v.state != VersionState::Enabled {
                    return rpc_error(
                        400,
                        "FAILED_PRECONDITION",
                        &format!(
                            "Secret Version [projects/{PROJECT_NUMBER}/secrets/{id}/versions/{n}] is in {} state.",
                            v.state.as_str()
                        ),
                    );
                }
                let mut crc = i64::from(crc32c::crc32c(&v.data));
                if corrupt {
                    crc ^= 1;
                }
                let mut payload = json!({"dataCrc32c": crc.to_string()});
                if !v.data.is_empty() {
                    payload["data"] = json!(STANDARD.encode(&v.data));
                }
                respond(
                    200,
                    json!({"name": format!("projects/{PROJECT_NUMBER}/secrets/{id}/versions/{n}"), "payload": payload}),
                )
            }
            ("disable" | "enable" | "destroy", &Method::POST) => {
                v.state = match action {
                    "disable" => VersionState::Disabled,
                    "enable" => VersionState::Enabled,
                    _ => {
                        v.data.clear();
                        VersionState::Destroyed
                    }
                };
                respond(200, version_json(id, n, v))
            }
            ("", &Method::GET) => respond(200, version_json(id, n, v)),
            _ => rpc_error(404, "NOT_FOUND", "Not found."),
        };
    }
    let id = rest;
    match *method {
        Method::GET => match g.secrets.get(id) {
            Some(e) => respond(200, secret_json(id, e)),
            None => not_found(id),
        },
        Method::DELETE => match g.secrets.remove(id) {
            Some(_) => respond(200, json!({})),
            None => not_found(id),
        },
        _ => rpc_error(404, "NOT_FOUND", "Not found."),
    }
}

fn list(g: &mut Inner, uri: &Uri) -> Response {
    let q = query(uri);
    let size = q
        .get("pageSize")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(25_000)
        .min(25_000);
    let offset = match q.get("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => match STANDARD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:")?.parse::<usize>().ok())
        {
            Some(o) => o,
            None => return rpc_error(400, "INVALID_ARGUMENT", "Invalid page token."),
        },
    };
    let needle = match q.get("filter").map(String::as_str) {
        None | Some("") => None,
        Some(f) => match f.strip_prefix("name:") {
            Some(n) if !n.is_empty() => Some(n.to_owned()),
            _ => return rpc_error(400, "INVALID_ARGUMENT", "Invalid filter."),
        },
    };
    let mut all: Vec<(&String, &Entry)> = g
        .secrets
        .iter()
        .filter(|(id, _)| needle.as_ref().is_none_or(|n| id.contains(n.as_str())))
        .collect();
    all.sort_by_key(|e| std::cmp::Reverse(e.1.created));
    let total = all.len();
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(size)
        .map(|(id, e)| secret_json(id, e))
        .collect();
    let mut out = json!({"secrets": page, "totalSize": total});
    if offset + size < total || g.endless {
        out["nextPageToken"] = json!(STANDARD.encode(format!("offset:{}", offset + size)));
    }
    respond(200, out)
}

/// The fake for an out-of-process client: `FAKE_URL`, the project, a service-account key file
/// (whose `token_uri` is the fake) as `GOOGLE_APPLICATION_CREDENTIALS`, `GCE_METADATA_HOST`.
pub async fn standalone() -> super::Standalone {
    let fake = FakeGcp::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("strongroom-fake-gcp-key.json");
    std::fs::write(&key, fake.service_account_json().to_string()).expect("write key file");
    let env = vec![
        ("FAKE_URL".to_string(), fake.url()),
        ("FAKE_TOKEN_URL".to_string(), fake.token_url()),
        (
            "GOOGLE_SECRET_MANAGER_PROJECT_ID".to_string(),
            PROJECT.to_string(),
        ),
        (
            "GOOGLE_APPLICATION_CREDENTIALS".to_string(),
            key.display().to_string(),
        ),
        ("GCE_METADATA_HOST".to_string(), fake.metadata_host()),
    ];
    super::Standalone {
        keep_alive: Box::new((fake, dir)),
        env,
    }
}
