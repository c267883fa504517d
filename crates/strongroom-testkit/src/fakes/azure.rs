//! A faithful fake of the Azure Key Vault secrets data plane (`protocols.md` §3, §7, §8).
//!
//! * HTTPS only, with a fresh test CA ([`FakeAzure::ca_pem`]): the official SDKs refuse to send
//!   bearer tokens over plain HTTP.
//! * A request without `Authorization: Bearer …` gets **401** with
//!   `WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>", resource="https://vault.azure.net"`
//!   and `{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}`.
//!   Any bearer token is accepted unless [`FakeAzure::restrict_tokens`] narrows it down; tokens the
//!   fake token endpoints issued are always accepted until [`FakeAzure::revoke_issued_tokens`]
//!   revokes them (continuous access evaluation, an early revocation): a revoked token gets the
//!   same 401 + challenge, so a client must get a new token and retry.
//! * Every call needs `?api-version=` (any value is accepted; a missing one is 400 `BadParameter`).
//! * Names must match `[0-9A-Za-z-]{1,127}` (else 400 `BadParameter`) and compare
//!   case-insensitively; the first spelling written is the one listed.
//! * `PUT /secrets/{name}` always creates a new version (32 hex digits) and answers the
//!   `SecretBundle`; `GET /secrets/{name}/` (trailing slash) or `/secrets/{name}` is the latest,
//!   `/secrets/{name}/{version}` a given one; `PATCH` updates attributes, tags, content type.
//! * A disabled secret (`attributes.enabled: false`) answers **403** `Forbidden` with innererror
//!   `SecretDisabled`.
//! * The vault's recovery level ([`RecoveryLevel`], [`FakeAzure::set_recovery_level`]; default
//!   `Recoverable+Purgeable`) is in every bundle's `attributes.recoveryLevel` and decides what a
//!   delete does. With soft delete, `DELETE /secrets/{name}` answers 200 `DeletedSecretBundle`
//!   (with `recoveryId`, `deletedDate`, `scheduledPurgeDate`); while a deletion is in progress
//!   ([`FakeAzure::set_deletion_lag`]) `GET /deletedsecrets/{name}` is 404 and `PUT` / purge /
//!   recover are 409 `ObjectIsBeingDeleted`. A `PUT` on a soft-deleted name is **409**
//!   `Conflict` with innererror `ObjectIsDeletedButRecoverable`.
//!   `POST /deletedsecrets/{name}/recover` restores it; `DELETE /deletedsecrets/{name}` purges (204).
//!   At `Purgeable` (no soft delete) the DELETE removes the secret for good and its answer has
//!   no `recoveryId` (which is how Microsoft's SDKs know not to poll). At a level without
//!   `Purgeable` (purge protection) a purge is **403** `Forbidden`, no innererror, message
//!   `Operation "purge" is not allowed because purge protection is enabled for this vault. …`
//!   — the shape the service sends (recorded in public Terraform and Azure CLI reports).
//! * `GET /secrets`, `/secrets/{name}/versions` and `/deletedsecrets` page with `maxresults`
//!   (1–25, default 25) and **absolute** `nextLink`s carrying an opaque `$skiptoken`;
//!   [`FakeAzure::set_endless_paging`] makes every page carry a `nextLink` (a broken server).
//! * Throttling: [`FakeAzure::throttle_next`] answers Key Vault-style 429 + `Retry-After`;
//!   [`FakeAzure::fail_nth`] makes one given request fail (a write after a recovery, …).
//! * A token endpoint at `POST /<tenant>/oauth2/v2.0/token` (client-credentials grant with a
//!   client secret, or with a federated client assertion as workload identity sends it), so
//!   `ClientSecretCredential` / `WorkloadIdentityCredential` with a custom authority host can
//!   log in against the fake.
//! * Managed identity: [`FakeAzure::start_managed_identity`] serves the App Service endpoint
//!   (`IDENTITY_ENDPOINT`, header `X-IDENTITY-HEADER`) and the instance metadata service
//!   (`/metadata/identity/oauth2/token`, header `Metadata: true`) over plain HTTP on loopback,
//!   as both are in Azure.
//! * Faults (5xx, drops, malformed or truncated bodies, latency) come from the [`crate::fake`]
//!   harness: [`FakeAzure::faults`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use base64::Engine as _;
use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Map, Value, json};

use crate::fake::{FakeServer, Faults, TestCa};

/// The resource the challenge names.
pub const RESOURCE: &str = "https://vault.azure.net";
/// The client id the fake token endpoint accepts by default.
pub const CLIENT_ID: &str = "00000000-fake-4000-8000-5720e6700001";
/// Largest page of a list.
pub const PAGE_SIZE: usize = 25;

#[derive(Debug, Clone)]
struct Version {
    id: String,
    value: String,
    content_type: Option<String>,
    tags: Map<String, Value>,
    enabled: bool,
    nbf: Option<i64>,
    exp: Option<i64>,
    created: i64,
    updated: i64,
}

#[derive(Debug, Clone)]
struct Entry {
    /// The spelling first written.
    name: String,
    versions: Vec<Version>,
}

#[derive(Debug, Clone)]
struct Deleted {
    entry: Entry,
    deleted_date: i64,
    /// GETs of `/deletedsecrets/{name}` that still answer 404 (deletion in progress).
    pending: u32,
}

/// One request as the fake saw it: method, path and query, and whether it carried a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// `GET`, `PUT`, …
    pub method: String,
    /// The path, e.g. `/secrets/db-password/`.
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// Whether an `Authorization: Bearer` header was present.
    pub authorized: bool,
    /// The `x-ms-client-request-id` header, when sent.
    pub client_request_id: Option<String>,
}

#[derive(Debug)]
struct Inner {
    secrets: BTreeMap<String, Entry>,
    deleted: BTreeMap<String, Deleted>,
    allowed_tokens: Option<HashSet<String>>,
    issued: HashSet<String>,
    clients: HashMap<String, String>,
    throttle: Vec<u64>,
    deletion_lag: u32,
    requests: Vec<SeenRequest>,
    token_requests: Vec<BTreeMap<String, String>>,
    recovery_level: RecoveryLevel,
    revoked: HashSet<String>,
    failures: Vec<Failure>,
    endless_paging: bool,
    next_link_base: Option<String>,
    assertions: HashMap<String, String>,
    identity_requests: Vec<IdentityRequest>,
}

/// One injected failure: the `nth` next request matching `method` and `path` answers `status`.
#[derive(Debug)]
struct Failure {
    method: String,
    path: String,
    skip: usize,
    status: u16,
}

/// How a vault keeps deleted secrets: the `recoveryLevel` values of the Key Vault REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryLevel {
    /// No soft delete: a delete is permanent.
    Purgeable,
    /// Soft delete, purge allowed (the usual level).
    RecoverablePurgeable,
    /// Soft delete with purge protection.
    Recoverable,
    /// Soft delete with purge protection, subscription protected too.
    RecoverableProtectedSubscription,
    /// Soft delete with a retention shorter than 90 days, purge allowed.
    CustomizedRecoverablePurgeable,
    /// Soft delete with a retention shorter than 90 days, purge protection.
    CustomizedRecoverable,
    /// Both of the above, subscription protected too.
    CustomizedRecoverableProtectedSubscription,
}

impl RecoveryLevel {
    /// The wire value, e.g. `Recoverable+Purgeable`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryLevel::Purgeable => "Purgeable",
            RecoveryLevel::RecoverablePurgeable => "Recoverable+Purgeable",
            RecoveryLevel::Recoverable => "Recoverable",
            RecoveryLevel::RecoverableProtectedSubscription => "Recoverable+ProtectedSubscription",
            RecoveryLevel::CustomizedRecoverablePurgeable => "CustomizedRecoverable+Purgeable",
            RecoveryLevel::CustomizedRecoverable => "CustomizedRecoverable",
            RecoveryLevel::CustomizedRecoverableProtectedSubscription => {
                "CustomizedRecoverable+ProtectedSubscription"
            }
        }
    }
    /// Whether deletes are soft (recoverable).
    pub fn soft_delete(self) -> bool {
        self != RecoveryLevel::Purgeable
    }
    /// Whether a soft-deleted secret may be purged (no purge protection).
    pub fn purge_allowed(self) -> bool {
        self.as_str().ends_with("Purgeable")
    }
    fn recoverable_days(self) -> Option<u32> {
        match self {
            RecoveryLevel::Purgeable => None,
            RecoveryLevel::CustomizedRecoverable
            | RecoveryLevel::CustomizedRecoverablePurgeable
            | RecoveryLevel::CustomizedRecoverableProtectedSubscription => Some(7),
            _ => Some(90),
        }
    }
}

/// One call to a managed identity endpoint, as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRequest {
    /// `app-service` or `imds`.
    pub endpoint: &'static str,
    /// The query (`api-version`, `resource`, `client_id` …).
    pub query: BTreeMap<String, String>,
    /// Whether the endpoint's secret header was right (`X-IDENTITY-HEADER` for App Service,
    /// `Metadata: true` for IMDS).
    pub header_ok: bool,
}

#[derive(Debug)]
struct Shared {
    tenant: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake Key Vault. Stops when dropped.
#[derive(Debug)]
pub struct FakeAzure {
    server: FakeServer,
    shared: Arc<Shared>,
    client_secret: String,
    federated_assertion: String,
}

impl FakeAzure {
    /// Starts the fake over HTTPS on a free loopback port with a fresh test CA.
    pub async fn start() -> FakeAzure {
        Self::start_with_ca(TestCa::new()).await
    }

    /// Starts the fake over HTTPS with the given test CA (several fakes behind one CA bundle).
    pub async fn start_with_ca(ca: TestCa) -> FakeAzure {
        let tenant = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            rand::random::<u32>(),
            rand::random::<u16>(),
            rand::random::<u16>() & 0xfff,
            rand::random::<u16>() & 0xfff,
            rand::random::<u64>() & 0xffff_ffff_ffff
        );
        let client_secret = format!("fake-client-secret-{:016x}", rand::random::<u64>());
        // Shaped like the JWT a Kubernetes service-account token file holds; only compared.
        let federated_assertion = format!(
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.fake-{:016x}",
            rand::random::<u64>()
        );
        let mut clients = HashMap::new();
        clients.insert(CLIENT_ID.to_string(), client_secret.clone());
        let shared = Arc::new(Shared {
            tenant,
            inner: Mutex::new(Inner {
                secrets: BTreeMap::new(),
                deleted: BTreeMap::new(),
                allowed_tokens: None,
                issued: HashSet::new(),
                clients,
                throttle: Vec::new(),
                deletion_lag: 0,
                requests: Vec::new(),
                token_requests: Vec::new(),
                recovery_level: RecoveryLevel::RecoverablePurgeable,
                revoked: HashSet::new(),
                failures: Vec::new(),
                endless_paging: false,
                next_link_base: None,
                assertions: HashMap::from([(CLIENT_ID.to_string(), federated_assertion.clone())]),
                identity_requests: Vec::new(),
            }),
        });
        let router = Router::new()
            .route("/", axum::routing::any(handle))
            .route("/{*path}", axum::routing::any(handle))
            .with_state(Arc::clone(&shared));
        let server = FakeServer::start_on(router, Some(ca), 0).await;
        FakeAzure {
            server,
            shared,
            client_secret,
            federated_assertion,
        }
    }

    /// The vault URL, `https://127.0.0.1:<port>` (the certificate names `127.0.0.1` and `localhost`).
    pub fn url(&self) -> String {
        self.server.url()
    }
    /// The test CA certificate (PEM) the server certificate is signed by.
    pub fn ca_pem(&self) -> &str {
        &self.server.ca().expect("the Azure fake serves TLS").ca_pem
    }
    /// The tenant id the challenge names and the token endpoint serves.
    pub fn tenant(&self) -> &str {
        &self.shared.tenant
    }
    /// The client id the token endpoint accepts ([`CLIENT_ID`]).
    pub fn client_id(&self) -> &str {
        CLIENT_ID
    }
    /// The client secret the token endpoint accepts for [`FakeAzure::client_id`].
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }
    /// The federated token (what `AZURE_FEDERATED_TOKEN_FILE` holds) the token endpoint accepts
    /// as a client assertion for [`FakeAzure::client_id`].
    pub fn federated_assertion(&self) -> &str {
        &self.federated_assertion
    }
    /// The fault queue of the underlying harness.
    pub fn faults(&self) -> &Faults {
        self.server.faults()
    }
    /// The underlying harness.
    pub fn server(&self) -> &FakeServer {
        &self.server
    }

    /// Accept only these bearer tokens (plus the ones the token endpoint issues); `None` = any.
    pub fn restrict_tokens(&self, tokens: Option<Vec<String>>) {
        self.shared.lock().allowed_tokens = tokens.map(|t| t.into_iter().collect());
    }
    /// The next `n` authorized requests answer 429 with `Retry-After: <retry_after_secs>`.
    pub fn throttle_next(&self, n: usize, retry_after_secs: u64) {
        let mut g = self.shared.lock();
        for _ in 0..n {
            g.throttle.push(retry_after_secs);
        }
    }
    /// After a delete, this many requests for the name see the deletion still in progress:
    /// `GET /deletedsecrets/{name}` answers 404, `PUT`, purge and recover answer 409.
    pub fn set_deletion_lag(&self, polls: u32) {
        self.shared.lock().deletion_lag = polls;
    }
    /// Purge protection on (recovery level `Recoverable`: purges answer 403) or off
    /// (`Recoverable+Purgeable`).
    pub fn set_purge_protection(&self, on: bool) {
        self.set_recovery_level(if on {
            RecoveryLevel::Recoverable
        } else {
            RecoveryLevel::RecoverablePurgeable
        });
    }
    /// The vault's recovery level (soft delete, purge protection); applies to later deletes.
    pub fn set_recovery_level(&self, level: RecoveryLevel) {
        self.shared.lock().recovery_level = level;
    }
    /// Revokes every token the fake's token endpoints issued so far: requests bearing one get
    /// 401 with a fresh challenge, as Key Vault answers a token revoked before its expiry.
    /// Returns how many were revoked.
    pub fn revoke_issued_tokens(&self) -> usize {
        let mut g = self.shared.lock();
        let issued: Vec<String> = g.issued.drain().collect();
        let n = issued.len();
        g.revoked.extend(issued);
        n
    }
    /// The `nth` (1 = the next) request from now on with this method and path (`/secrets/x`;
    /// compared case-insensitively, query ignored) answers `status` with a Key Vault error body
    /// (`BadParameter` for 400, `Forbidden` for 403, `InternalServerError` for 5xx).
    pub fn fail_nth(&self, method: &str, path: &str, nth: usize, status: u16) {
        self.shared.lock().failures.push(Failure {
            method: method.to_ascii_uppercase(),
            path: path.to_ascii_lowercase(),
            skip: nth.saturating_sub(1),
            status,
        });
    }
    /// Every list page carries a `nextLink`, even past the end (a broken or hostile server).
    pub fn set_endless_paging(&self, on: bool) {
        self.shared.lock().endless_paging = on;
    }
    /// `nextLink`s point at this base URL instead of the vault (a hostile server sending
    /// clients, and their tokens, elsewhere); `None` restores the vault's own URL.
    pub fn set_next_link_base(&self, base: Option<String>) {
        self.shared.lock().next_link_base = base;
    }

    /// Stores a version directly (no HTTP), returning its version id.
    pub fn seed(&self, name: &str, value: &str, exp: Option<SystemTime>) -> String {
        let exp = exp.map(unix);
        let mut g = self.shared.lock();
        put_version(
            &mut g,
            name,
            value.to_string(),
            None,
            Map::new(),
            true,
            None,
            exp,
        )
    }
    /// Enables or disables every version of a secret; `false` when it does not exist.
    pub fn set_enabled(&self, name: &str, enabled: bool) -> bool {
        let mut g = self.shared.lock();
        match g.secrets.get_mut(&name.to_ascii_lowercase()) {
            Some(e) => {
                e.versions.iter_mut().for_each(|v| v.enabled = enabled);
                true
            }
            None => false,
        }
    }
    /// The latest value of a live secret (no HTTP).
    pub fn value(&self, name: &str) -> Option<String> {
        let g = self.shared.lock();
        g.secrets
            .get(&name.to_ascii_lowercase())
            .and_then(|e| e.versions.last())
            .map(|v| v.value.clone())
    }
    /// How many versions a live secret has.
    pub fn version_count(&self, name: &str) -> usize {
        let g = self.shared.lock();
        g.secrets
            .get(&name.to_ascii_lowercase())
            .map_or(0, |e| e.versions.len())
    }
    /// Whether the name is soft-deleted (recoverable).
    pub fn is_soft_deleted(&self, name: &str) -> bool {
        self.shared
            .lock()
            .deleted
            .contains_key(&name.to_ascii_lowercase())
    }
    /// Whether the name exists in any form (live or soft-deleted).
    pub fn exists(&self, name: &str) -> bool {
        let key = name.to_ascii_lowercase();
        let g = self.shared.lock();
        g.secrets.contains_key(&key) || g.deleted.contains_key(&key)
    }
    /// Live secret names, as first spelled.
    pub fn names(&self) -> Vec<String> {
        self.shared
            .lock()
            .secrets
            .values()
            .map(|e| e.name.clone())
            .collect()
    }
    /// Every Key Vault request seen so far (token-endpoint calls excluded).
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.lock().requests.clone()
    }
    /// The form fields of each token-endpoint call, with `client_secret` and
    /// `client_assertion` replaced by `[set]`.
    pub fn token_requests(&self) -> Vec<BTreeMap<String, String>> {
        self.shared.lock().token_requests.clone()
    }
    /// Calls to the managed identity endpoints (see [`FakeAzure::start_managed_identity`]).
    pub fn identity_requests(&self) -> Vec<IdentityRequest> {
        self.shared.lock().identity_requests.clone()
    }

    /// Starts the managed identity endpoints over plain HTTP on a free loopback port: the App
    /// Service endpoint at `/msi/token` (point `IDENTITY_ENDPOINT` at
    /// [`FakeManagedIdentity::app_service_endpoint`], `IDENTITY_HEADER` at
    /// [`FakeManagedIdentity::identity_header`]) and IMDS at `/metadata/identity/oauth2/token`
    /// (the host clients reach as `http://169.254.169.254`). Tokens they hand out are accepted
    /// by this vault.
    pub async fn start_managed_identity(&self) -> FakeManagedIdentity {
        let identity_header = format!("fake-identity-header-{:016x}", rand::random::<u64>());
        let state = Arc::new(IdentityState {
            shared: Arc::clone(&self.shared),
            identity_header: identity_header.clone(),
        });
        let router = Router::new()
            .route("/{*path}", axum::routing::any(identity_handle))
            .with_state(state);
        FakeManagedIdentity {
            server: FakeServer::start(router).await,
            identity_header,
        }
    }
}

/// The managed identity endpoints of a [`FakeAzure`] (App Service and IMDS), plain HTTP.
#[derive(Debug)]
pub struct FakeManagedIdentity {
    server: FakeServer,
    identity_header: String,
}

impl FakeManagedIdentity {
    /// `http://127.0.0.1:<port>`: the IMDS host (what `AZURE_POD_IDENTITY_AUTHORITY_HOST` names).
    pub fn url(&self) -> String {
        self.server.url()
    }
    /// The App Service endpoint (`IDENTITY_ENDPOINT`).
    pub fn app_service_endpoint(&self) -> String {
        format!("{}/msi/token", self.server.url())
    }
    /// The secret App Service puts in `IDENTITY_HEADER`.
    pub fn identity_header(&self) -> &str {
        &self.identity_header
    }
    /// The underlying harness (request counter, faults).
    pub fn server(&self) -> &FakeServer {
        &self.server
    }
}

#[derive(Debug)]
struct IdentityState {
    shared: Arc<Shared>,
    identity_header: String,
}

/// App Service (`GET /msi/token`, `X-IDENTITY-HEADER`, api-version 2019-08-01) and IMDS
/// (`GET /metadata/identity/oauth2/token`, `Metadata: true`) token endpoints. Both answer
/// `expires_on` as a string of Unix seconds, as the services do.
async fn identity_handle(
    State(state): State<Arc<IdentityState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let query: BTreeMap<String, String> = query_map(&uri).into_iter().collect();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (endpoint, header_ok) = match uri.path().trim_end_matches('/') {
        "/msi/token" => (
            "app-service",
            header("x-identity-header") == Some(state.identity_header.as_str()),
        ),
        "/metadata/identity/oauth2/token" => (
            "imds",
            header("metadata").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        ),
        _ => {
            return reply(
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "error_description": "no such endpoint"}),
            );
        }
    };
    let mut g = state.shared.lock();
    g.identity_requests.push(IdentityRequest {
        endpoint,
        query: query.clone(),
        header_ok,
    });
    let bad = |text: &str| {
        reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": text}),
        )
    };
    if method != Method::GET {
        return bad("Only GET is supported.");
    }
    if !header_ok {
        return bad(if endpoint == "imds" {
            "Required metadata header not specified"
        } else {
            "The identity header is missing or wrong."
        });
    }
    if query.get("api-version").is_none_or(|v| v.is_empty()) {
        return bad("Required query variable 'api-version' is missing");
    }
    let Some(resource) = query.get("resource").filter(|r| !r.is_empty()) else {
        return bad("Required query variable 'resource' is missing");
    };
    if let Some(id) = query.get("client_id")
        && id != CLIENT_ID
    {
        return bad("Identity not found");
    }
    let token = format!(
        "fake-msi-token-{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    );
    g.issued.insert(token.clone());
    let now = now();
    let mut body = json!({
        "access_token": token,
        "expires_on": (now + 3599).to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": CLIENT_ID,
    });
    if endpoint == "imds" {
        body["expires_in"] = json!("3599");
        body["ext_expires_in"] = json!("3599");
        body["not_before"] = json!(now.to_string());
        body["refresh_token"] = json!("");
    }
    reply(StatusCode::OK, body)
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn now() -> i64 {
    unix(SystemTime::now())
}

fn new_version_id() -> String {
    format!(
        "{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

#[allow(clippy::too_many_arguments)]
fn put_version(
    g: &mut Inner,
    name: &str,
    value: String,
    content_type: Option<String>,
    tags: Map<String, Value>,
    enabled: bool,
    nbf: Option<i64>,
    exp: Option<i64>,
) -> String {
    let t = now();
    let id = new_version_id();
    let entry = g
        .secrets
        .entry(name.to_ascii_lowercase())
        .or_insert_with(|| Entry {
            name: name.to_string(),
            versions: Vec::new(),
        });
    entry.versions.push(Version {
        id: id.clone(),
        value,
        content_type,
        tags,
        enabled,
        nbf,
        exp,
        created: t,
        updated: t,
    });
    id
}

fn reply(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .header("x-ms-keyvault-service-version", "1.9.0.0")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn kv_error(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
    inner: Option<&str>,
) -> Response {
    let mut err = json!({ "code": code, "message": message.into() });
    if let Some(inner) = inner {
        err["innererror"] = json!({ "code": inner });
    }
    reply(status, json!({ "error": err }))
}

fn not_found(name: &str) -> Response {
    kv_error(
        StatusCode::NOT_FOUND,
        "SecretNotFound",
        format!(
            "A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
        ),
        None,
    )
}

fn deleted_not_found(name: &str) -> Response {
    kv_error(
        StatusCode::NOT_FOUND,
        "SecretNotFound",
        format!("Deleted Secret not found: {name}"),
        None,
    )
}

fn challenge(tenant: &str, message: &str) -> Response {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header("content-type", "application/json; charset=utf-8")
        .header(
            "www-authenticate",
            format!(
                "Bearer authorization=\"https://login.microsoftonline.com/{tenant}\", resource=\"{RESOURCE}\""
            ),
        )
        .body(Body::from(
            json!({"error": {"code": "Unauthorized", "message": message}}).to_string(),
        ))
        .unwrap()
}

fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What every answer of one request shares: the vault URL as the client addressed it, the
/// vault's recovery level, whether paging never ends, where `nextLink`s point.
#[derive(Debug)]
struct Base {
    url: String,
    level: RecoveryLevel,
    endless_paging: bool,
    next_link_base: String,
}

impl std::fmt::Display for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

fn attributes(v: &Version, level: RecoveryLevel) -> Value {
    let mut a = json!({
        "enabled": v.enabled,
        "created": v.created,
        "updated": v.updated,
        "recoveryLevel": level.as_str(),
    });
    if let Some(days) = level.recoverable_days() {
        a["recoverableDays"] = json!(days);
    }
    if let Some(nbf) = v.nbf {
        a["nbf"] = json!(nbf);
    }
    if let Some(exp) = v.exp {
        a["exp"] = json!(exp);
    }
    a
}

fn bundle(base: &Base, e: &Entry, v: &Version, with_value: bool) -> Value {
    let mut b = json!({
        "id": format!("{base}/secrets/{}/{}", e.name, v.id),
        "attributes": attributes(v, base.level),
    });
    if with_value {
        b["value"] = json!(v.value);
    }
    if let Some(ct) = &v.content_type {
        b["contentType"] = json!(ct);
    }
    if !v.tags.is_empty() {
        b["tags"] = Value::Object(v.tags.clone());
    }
    b
}

fn item(base: &Base, e: &Entry, v: &Version, versioned: bool) -> Value {
    let id = if versioned {
        format!("{base}/secrets/{}/{}", e.name, v.id)
    } else {
        format!("{base}/secrets/{}", e.name)
    };
    let mut b = json!({ "id": id, "attributes": attributes(v, base.level) });
    if let Some(ct) = &v.content_type {
        b["contentType"] = json!(ct);
    }
    if !v.tags.is_empty() {
        b["tags"] = Value::Object(v.tags.clone());
    }
    b
}

fn deleted_bundle(base: &Base, d: &Deleted) -> Value {
    let v = d.entry.versions.last().expect("a secret has a version");
    let mut b = bundle(base, &d.entry, v, false);
    b["recoveryId"] = json!(format!("{base}/deletedsecrets/{}", d.entry.name));
    b["deletedDate"] = json!(d.deleted_date);
    let days = i64::from(base.level.recoverable_days().unwrap_or(90));
    b["scheduledPurgeDate"] = json!(d.deleted_date + days * 86_400);
    b
}

fn query_map(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// One page of `items` starting at the `$skiptoken` offset, with an absolute `nextLink`.
fn page(base: &Base, path: &str, q: &HashMap<String, String>, items: Vec<Value>) -> Response {
    let size = match q.get("maxresults").map(|m| m.parse::<usize>()) {
        None => PAGE_SIZE,
        Some(Ok(n)) if (1..=PAGE_SIZE).contains(&n) => n,
        Some(_) => {
            return kv_error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "maxresults must be between 1 and 25",
                None,
            );
        }
    };
    let offset = match q.get("$skiptoken") {
        None => 0,
        Some(tok) => match base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tok)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.strip_prefix("offset:")
                    .and_then(|n| n.parse::<usize>().ok())
            }) {
            Some(n) => n,
            None => {
                return kv_error(
                    StatusCode::BAD_REQUEST,
                    "BadParameter",
                    "invalid $skiptoken",
                    None,
                );
            }
        },
    };
    let end = (offset + size).min(items.len());
    let slice: Vec<Value> = items
        .get(offset..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let api_version = q.get("api-version").cloned().unwrap_or_default();
    let next = if end < items.len() || base.endless_paging {
        let token =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{end}"));
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("api-version", &api_version)
            .append_pair("$skiptoken", &token)
            .append_pair("maxresults", &size.to_string())
            .finish();
        Value::String(format!("{}{path}?{query}", base.next_link_base))
    } else {
        Value::Null
    };
    reply(StatusCode::OK, json!({ "value": slice, "nextLink": next }))
}

fn str_map(v: Option<&Value>) -> Result<Map<String, Value>, Response> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) if m.values().all(Value::is_string) => Ok(m.clone()),
        _ => Err(kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "tags must be a map of strings",
            None,
        )),
    }
}

fn opt_i64(attrs: &Value, key: &str) -> Result<Option<i64>, Response> {
    match attrs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            kv_error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                format!("attributes.{key} must be unix seconds"),
                None,
            )
        }),
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // The token endpoint: /<tenant>/oauth2/v2.0/token (no bearer token needed).
    if segs.len() == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token" {
        return token_endpoint(&shared, &method, segs[0], &body);
    }
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("127.0.0.1")
        .to_string();
    let base_url = format!("https://{host}");
    let bearer = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string);
    let q = query_map(&uri);
    let mut g = shared.lock();
    g.requests.push(SeenRequest {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().unwrap_or("").to_string(),
        authorized: bearer.is_some(),
        client_request_id: headers
            .get("x-ms-client-request-id")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string),
    });
    let Some(token) = bearer else {
        return challenge(
            &shared.tenant,
            "AKV10000: Request is missing a Bearer or PoP token.",
        );
    };
    if g.revoked.contains(&token) {
        // The message is the fake's own; clients key on the status and the challenge.
        return challenge(&shared.tenant, "The access token has been revoked.");
    }
    let token_ok = !token.is_empty()
        && (g.issued.contains(&token)
            || g.allowed_tokens
                .as_ref()
                .is_none_or(|allowed| allowed.contains(&token)));
    if !token_ok {
        return challenge(
            &shared.tenant,
            "AKV10032: Invalid issuer or the token was not accepted.",
        );
    }
    if !g.throttle.is_empty() {
        let secs = g.throttle.remove(0);
        let mut resp = kv_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Throttled",
            "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached",
            None,
        );
        resp.headers_mut()
            .insert("retry-after", secs.to_string().parse().unwrap());
        return resp;
    }
    if q.get("api-version").is_none_or(|v| v.is_empty()) {
        return kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The api-version query parameter is missing.",
            None,
        );
    }
    if let Some(status) = injected_failure(&mut g, method.as_str(), &path) {
        let (code, text) = match status {
            400 => (
                "BadParameter",
                "The request was refused (injected failure).",
            ),
            403 => ("Forbidden", "The operation was refused (injected failure)."),
            _ => (
                "InternalServerError",
                "The service failed (injected failure).",
            ),
        };
        return kv_error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            text,
            None,
        );
    }
    let base = Base {
        next_link_base: g.next_link_base.clone().unwrap_or_else(|| base_url.clone()),
        url: base_url,
        level: g.recovery_level,
        endless_paging: g.endless_paging,
    };
    let g = &mut *g;
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["secrets"] | ["secrets", ""]) => {
            let items = g
                .secrets
                .values()
                .filter_map(|e| e.versions.last().map(|v| item(&base, e, v, false)))
                .collect();
            page(&base, "/secrets", &q, items)
        }
        ("GET", ["deletedsecrets"] | ["deletedsecrets", ""]) => {
            let items = g
                .deleted
                .values()
                .filter(|d| d.pending == 0)
                .map(|d| {
                    let mut b = deleted_bundle(&base, d);
                    b["id"] = json!(format!("{base}/secrets/{}", d.entry.name));
                    b
                })
                .collect();
            page(&base, "/deletedsecrets", &q, items)
        }
        (_, ["secrets", name, ..] | ["deletedsecrets", name, ..]) if !valid_name(name) => kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            format!("The request URI contains an invalid name: {name}"),
            None,
        ),
        ("PUT", ["secrets", name]) => set_secret(g, &base, name, &body),
        ("GET", ["secrets", name] | ["secrets", name, ""]) => get_secret(g, &base, name, None),
        ("GET", ["secrets", name, "versions"]) => match g.secrets.get(&name.to_ascii_lowercase()) {
            None => not_found(name),
            Some(e) => {
                let items = e.versions.iter().map(|v| item(&base, e, v, true)).collect();
                page(&base, &format!("/secrets/{}/versions", e.name), &q, items)
            }
        },
        ("GET", ["secrets", name, version]) => get_secret(g, &base, name, Some(version)),
        ("PATCH", ["secrets", name] | ["secrets", name, ""]) => {
            update_secret(g, &base, name, None, &body)
        }
        ("PATCH", ["secrets", name, version]) => {
            update_secret(g, &base, name, Some(version), &body)
        }
        ("DELETE", ["secrets", name]) => {
            let key = name.to_ascii_lowercase();
            match g.secrets.remove(&key) {
                None => not_found(name),
                // No soft delete: gone for good; the answer has no `recoveryId`.
                Some(entry) if !base.level.soft_delete() => {
                    let v = entry.versions.last().expect("a secret has a version");
                    reply(StatusCode::OK, bundle(&base, &entry, v, false))
                }
                Some(entry) => {
                    let d = Deleted {
                        entry,
                        deleted_date: now(),
                        pending: g.deletion_lag,
                    };
                    let out = deleted_bundle(&base, &d);
                    g.deleted.insert(key, d);
                    reply(StatusCode::OK, out)
                }
            }
        }
        ("GET", ["deletedsecrets", name]) => {
            let busy = deletion_in_progress(g, name);
            match g.deleted.get(&name.to_ascii_lowercase()) {
                Some(d) if !busy => reply(StatusCode::OK, deleted_bundle(&base, d)),
                _ => deleted_not_found(name),
            }
        }
        ("DELETE", ["deletedsecrets", name]) => {
            let key = name.to_ascii_lowercase();
            let busy = deletion_in_progress(g, name);
            match g.deleted.get(&key) {
                None => deleted_not_found(name),
                Some(_) if busy => being_deleted(name),
                // The service's answer: code `Forbidden`, no innererror, this message.
                Some(_) if !base.level.purge_allowed() => kv_error(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "Operation \"purge\" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.\r\nVault: fake-vault;location=local",
                    None,
                ),
                Some(_) => {
                    g.deleted.remove(&key);
                    Response::builder()
                        .status(StatusCode::NO_CONTENT)
                        .body(Body::empty())
                        .unwrap()
                }
            }
        }
        ("POST", ["deletedsecrets", name, "recover"]) => {
            let key = name.to_ascii_lowercase();
            let busy = deletion_in_progress(g, name);
            match g.deleted.get(&key) {
                None => deleted_not_found(name),
                Some(_) if busy => being_deleted(name),
                Some(_) => {
                    let d = g.deleted.remove(&key).expect("present");
                    let v = d.entry.versions.last().expect("a version").clone();
                    let out = bundle(&base, &d.entry, &v, false);
                    g.secrets.insert(key, d.entry);
                    reply(StatusCode::OK, out)
                }
            }
        }
        (_, ["secrets", ..] | ["deletedsecrets", ..]) => kv_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadParameter",
            format!("The fake does not serve {method} {path}"),
            None,
        ),
        _ => kv_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("No route for {path}"),
            None,
        ),
    }
}

/// The status of an injected failure that matches this request, if any (consumed).
fn injected_failure(g: &mut Inner, method: &str, path: &str) -> Option<u16> {
    let path = path.to_ascii_lowercase();
    let i = g
        .failures
        .iter()
        .position(|f| f.method == method && f.path == path)?;
    if g.failures[i].skip > 0 {
        g.failures[i].skip -= 1;
        return None;
    }
    Some(g.failures.remove(i).status)
}

/// Whether the soft delete of `name` is still in progress; each request for the name counts
/// one step of the configured lag (time passing, as far as the fake is concerned).
fn deletion_in_progress(g: &mut Inner, name: &str) -> bool {
    match g.deleted.get_mut(&name.to_ascii_lowercase()) {
        Some(d) if d.pending > 0 => {
            d.pending -= 1;
            true
        }
        _ => false,
    }
}

fn being_deleted(name: &str) -> Response {
    kv_error(
        StatusCode::CONFLICT,
        "Conflict",
        format!("Secret {name} is currently being deleted."),
        Some("ObjectIsBeingDeleted"),
    )
}

fn set_secret(g: &mut Inner, base: &Base, name: &str, body: &[u8]) -> Response {
    let key = name.to_ascii_lowercase();
    if g.deleted.contains_key(&key) {
        if deletion_in_progress(g, name) {
            return being_deleted(name);
        }
        return kv_error(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged."
            ),
            Some("ObjectIsDeletedButRecoverable"),
        );
    }
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The request body must be a JSON object.",
            None,
        );
    };
    let Some(value) = req.get("value").and_then(Value::as_str) else {
        return kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "Property 'value' is required.",
            None,
        );
    };
    let tags = match str_map(req.get("tags")) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let attrs = req.get("attributes").cloned().unwrap_or(Value::Null);
    let (nbf, exp) = match (opt_i64(&attrs, "nbf"), opt_i64(&attrs, "exp")) {
        (Ok(n), Ok(e)) => (n, e),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let enabled = attrs
        .get("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let content_type = req
        .get("contentType")
        .and_then(Value::as_str)
        .map(str::to_string);
    let id = put_version(
        g,
        name,
        value.to_string(),
        content_type,
        tags,
        enabled,
        nbf,
        exp,
    );
    let e = &g.secrets[&key];
    let v = e
        .versions
        .iter()
        .find(|v| v.id == id)
        .expect("just written");
    reply(StatusCode::OK, bundle(base, e, v, true))
}

fn get_secret(g: &Inner, base: &Base, name: &str, version: Option<&str>) -> Response {
    let Some(e) = g.secrets.get(&name.to_ascii_lowercase()) else {
        return not_found(name);
    };
    let v = match version {
        None => e.versions.last(),
        Some(id) => e.versions.iter().find(|v| v.id.eq_ignore_ascii_case(id)),
    };
    let Some(v) = v else {
        return kv_error(
            StatusCode::NOT_FOUND,
            "SecretNotFound",
            format!(
                "A secret with (name/id) {name}/{} was not found in this key vault.",
                version.unwrap_or("")
            ),
            None,
        );
    };
    if !v.enabled {
        return kv_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
            Some("SecretDisabled"),
        );
    }
    reply(StatusCode::OK, bundle(base, e, v, true))
}

fn update_secret(
    g: &mut Inner,
    base: &Base,
    name: &str,
    version: Option<&str>,
    body: &[u8],
) -> Response {
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The request body must be a JSON object.",
            None,
        );
    };
    if req.contains_key("value") {
        return kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The value of a secret cannot be changed by an update.",
            None,
        );
    }
    let Some(e) = g.secrets.get_mut(&name.to_ascii_lowercase()) else {
        return not_found(name);
    };
    let idx = match version {
        None => e.versions.len().checked_sub(1),
        Some(id) => e
            .versions
            .iter()
            .position(|v| v.id.eq_ignore_ascii_case(id)),
    };
    let Some(idx) = idx else {
        return not_found(name);
    };
    let v = &mut e.versions[idx];
    if let Some(ct) = req.get("contentType").and_then(Value::as_str) {
        v.content_type = Some(ct.to_string());
    }
    if req.contains_key("tags") {
        match str_map(req.get("tags")) {
            Ok(t) => v.tags = t,
            Err(r) => return r,
        }
    }
    if let Some(attrs) = req.get("attributes") {
        if let Some(en) = attrs.get("enabled").and_then(Value::as_bool) {
            v.enabled = en;
        }
        match (opt_i64(attrs, "nbf"), opt_i64(attrs, "exp")) {
            (Ok(n), Ok(x)) => {
                if attrs.get("nbf").is_some() {
                    v.nbf = n;
                }
                if attrs.get("exp").is_some() {
                    v.exp = x;
                }
            }
            (Err(r), _) | (_, Err(r)) => return r,
        }
    }
    v.updated = now();
    let v = v.clone();
    reply(StatusCode::OK, bundle(base, e, &v, false))
}

fn token_endpoint(shared: &Shared, method: &Method, tenant: &str, body: &[u8]) -> Response {
    let entra_error = |status: StatusCode, error: &str, code: i64, text: &str| {
        reply(
            status,
            json!({
                "error": error,
                "error_description": format!("AADSTS{code}: {text}"),
                "error_codes": [code],
                "timestamp": "2026-01-01 00:00:00Z",
                "trace_id": "00000000-0000-0000-0000-000000000000",
                "correlation_id": "00000000-0000-0000-0000-000000000000",
            }),
        )
    };
    if method != Method::POST {
        return entra_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            900561,
            "The endpoint only accepts POST requests.",
        );
    }
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut g = shared.lock();
    let mut logged = form.clone();
    for secret in ["client_secret", "client_assertion"] {
        if logged.contains_key(secret) {
            logged.insert(secret.into(), "[set]".into());
        }
    }
    g.token_requests.push(logged);
    if !tenant.eq_ignore_ascii_case(&shared.tenant) {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            "Tenant not found.",
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    let Some(expected) = g.clients.get(&client_id).cloned() else {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            "Application not found in the directory.",
        );
    };
    // Workload identity: a federated token as the client assertion.
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return entra_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                "The client assertion type is not supported.",
            );
        }
        if g.assertions.get(&client_id) != Some(assertion) {
            return entra_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                700213,
                "No matching federated identity record found for presented assertion.",
            );
        }
    } else if form.get("client_secret") != Some(&expected) {
        return entra_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret provided.",
        );
    }
    let scope = form.get("scope").cloned().unwrap_or_default();
    if !scope.split(' ').any(|s| s.ends_with("/.default")) {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid.",
        );
    }
    let token = format!(
        "fake-aad-token-{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    );
    g.issued.insert(token.clone());
    reply(
        StatusCode::OK,
        json!({ "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token }),
    )
}

/// Starts the fake for an out-of-process client (the official Python SDK). Env:
/// `FAKE_URL` / `AZURE_KEY_VAULT_URI` (the vault URL), `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
/// `AZURE_CLIENT_SECRET` (accepted by the fake token endpoint), `AZURE_AUTHORITY_HOST` (the
/// fake itself), `FAKE_CA_FILE` (a PEM file with the test CAs; a CA cert is not a secret),
/// `FAKE_URL_PURGEABLE` (a vault without soft delete), `FAKE_URL_PURGE_PROTECTED` (a vault with
/// purge protection), and the managed identity endpoints: `FAKE_IDENTITY_ENDPOINT`,
/// `FAKE_IDENTITY_HEADER` (App Service) and `FAKE_IMDS_HOST` (IMDS).
pub async fn standalone() -> super::Standalone {
    let ca = TestCa::new();
    let fake = FakeAzure::start_with_ca(ca.clone()).await;
    let purgeable = FakeAzure::start_with_ca(ca.clone()).await;
    purgeable.set_recovery_level(RecoveryLevel::Purgeable);
    let protected = FakeAzure::start_with_ca(ca).await;
    protected.set_purge_protection(true);
    let identity = fake.start_managed_identity().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = dir.path().join("strongroom-fake-azure-ca.pem");
    std::fs::write(&ca_file, fake.ca_pem()).expect("write CA file");
    let env = vec![
        ("FAKE_URL_PURGEABLE".to_string(), purgeable.url()),
        ("FAKE_URL_PURGE_PROTECTED".to_string(), protected.url()),
        (
            "FAKE_IDENTITY_ENDPOINT".to_string(),
            identity.app_service_endpoint(),
        ),
        (
            "FAKE_IDENTITY_HEADER".to_string(),
            identity.identity_header().to_string(),
        ),
        ("FAKE_IMDS_HOST".to_string(), identity.url()),
        ("FAKE_URL".to_string(), fake.url()),
        ("AZURE_KEY_VAULT_URI".to_string(), fake.url()),
        ("AZURE_TENANT_ID".to_string(), fake.tenant().to_string()),
        ("AZURE_CLIENT_ID".to_string(), fake.client_id().to_string()),
        (
            "AZURE_CLIENT_SECRET".to_string(),
            fake.client_secret().to_string(),
        ),
        ("AZURE_AUTHORITY_HOST".to_string(), fake.url()),
        ("FAKE_CA_FILE".to_string(), ca_file.display().to_string()),
    ];
    super::Standalone {
        keep_alive: Box::new((fake, purgeable, protected, identity, dir)),
        env,
    }
}
