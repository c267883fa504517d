//! A faithful fake of the Akeyless API (`protocols.md` §2, §7, §8).
//!
//! * Every operation is `POST /<op>` (also served under `/api/v2/<op>`, as gateways do) with a
//!   JSON body; other methods get 405. The auth token travels **in the body** (`"token"`, or
//!   `"uid-token"`).
//! * Errors are `{"error": "..."}`: 401 invalid/expired/missing token or bad credentials,
//!   403 no permission ([`FakeAkeyless::deny`]), 404 unknown item or operation, 400 malformed
//!   body or wrong field types, 409 `create-secret` on a name that exists.
//! * `/auth` answers `{"token": "t-…", "creds": {"expiry": <unix seconds>, …}}`; the token
//!   lifetime is configurable ([`FakeAkeyless::set_token_ttl`]) and the `creds.expiry` field can
//!   be switched to milliseconds, a bogus value, or left out ([`ExpiryField`]).
//!   Access types: `access_key`, `jwt` (JWTs registered with [`FakeAkeyless::accept_jwt`]) and
//!   `aws_iam` (the `cloud-id` is decoded and checked for shape, signatures are not verified).
//! * `get-secret-value` takes `names` as an **array** and answers a plain map; any unknown name
//!   fails the whole call with 404. `get-rotated-secret-value` takes `names` as a **single
//!   string** (an array is a 400) and answers `{"value": {...}}`.
//! * Dynamic and rotated items are seeded by tests ([`FakeAkeyless::seed_dynamic`],
//!   [`FakeAkeyless::seed_rotated`]); a dynamic value carries `ttl_in_minutes`.
//! * Dates are RFC 3339 strings (`deletion_date` too: an integer breaks the official SDK).
//! * `list-items` lists one folder (`items` + absolute `folders` ending in `/`), paginated with
//!   a small page size ([`FakeAkeyless::set_page_size`]) via `next_page` / `pagination-token`;
//!   [`FakeAkeyless::set_endless_pages`] makes it answer a `next_page` forever (a broken server).
//! * Write metadata: `create-secret` stores `description` (or the deprecated `metadata`) and
//!   `tags`; `update-item` changes `description` (the SDKs' placeholder `default_metadata` means
//!   "unchanged", as on the real server), adds `add-tag`, removes `rm-tag` and sets
//!   `delete_protection`; `describe-item` / `list-items` show them as `item_metadata`,
//!   `item_tags` and `delete_protection`.
//! * Delete protection (`delete_protection: "true"` on `create-secret` or `update-item`):
//!   `delete-item` on such an item answers **400** with `{"error": "..."}` naming the
//!   protection, and deletes nothing.
//! * `aws_iam` log-ins: the `cloud-id` must decode (§2.2) to a POST of
//!   `Action=GetCallerIdentity&Version=2011-06-15` (the body may be absent, as the SDK-v2 builder
//!   leaves it out) to `https://sts.amazonaws.com/`, signed (`AWS4-HMAC-SHA256`, scope
//!   `…/us-east-1/sts/aws4_request`, `host` and `x-amz-date` signed, an `X-Amz-Date` header); an
//!   undecodable one is a 400, a wrong shape a 401.
//! * Faults (5xx, 429 + Retry-After, drops, malformed or truncated bodies, latency) come from the
//!   [`crate::fake`] harness: [`FakeAkeyless::faults`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use base64::Engine as _;
use http::{Method, StatusCode, Uri};
use serde_json::{Map, Value, json};

use crate::fake::{FakeServer, Faults};

/// The access id the fake accepts.
pub const ACCESS_ID: &str = "p-fake0strongroom";

/// How `/auth` fills `creds.expiry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryField {
    /// Unix seconds of the token's expiry (the default).
    UnixSeconds,
    /// Unix milliseconds of the token's expiry.
    UnixMillis,
    /// This exact number, whatever the real expiry is.
    Fixed(i64),
    /// No `creds` object at all.
    Absent,
}

/// The kind of an item in the fake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemType {
    Static,
    Dynamic,
    Rotated,
}

impl ItemType {
    fn wire(self) -> &'static str {
        match self {
            ItemType::Static => "STATIC_SECRET",
            ItemType::Dynamic => "DYNAMIC_SECRET",
            ItemType::Rotated => "ROTATED_SECRET",
        }
    }
    fn filter_name(self) -> &'static str {
        match self {
            ItemType::Static => "static-secret",
            ItemType::Dynamic => "dynamic-secret",
            ItemType::Rotated => "rotated-secret",
        }
    }
}

#[derive(Debug, Clone)]
struct Version {
    value: String,
    created: SystemTime,
}

#[derive(Debug, Clone)]
struct Item {
    id: u64,
    kind: ItemType,
    versions: Vec<Version>,
    json_value: Value,
    ttl: Option<Duration>,
    description: String,
    tags: Vec<String>,
    delete_protection: bool,
    created: SystemTime,
    modified: SystemTime,
}

/// A deleted item, as the fake recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedItem {
    /// The absolute item name.
    pub name: String,
    /// Whether `delete-immediately` was set.
    pub immediate: bool,
    /// `delete-in-days` as sent (7 when absent).
    pub delete_in_days: i64,
    /// `version` as sent (−1 when absent).
    pub version: i64,
}

#[derive(Debug)]
struct Inner {
    items: BTreeMap<String, Item>,
    tokens: HashMap<String, Instant>,
    token_ttl: Duration,
    expiry_field: ExpiryField,
    page_size: usize,
    endless_pages: bool,
    jwts: HashSet<String>,
    denied: HashSet<String>,
    next_id: u64,
    calls: BTreeMap<String, u64>,
    requests: Vec<(String, Value)>,
    deleted: Vec<DeletedItem>,
    cloud_ids: Vec<Value>,
    leases: u64,
}

#[derive(Debug)]
struct Shared {
    access_id: String,
    access_key: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake Akeyless. Stops when dropped.
#[derive(Debug)]
pub struct FakeAkeyless {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl FakeAkeyless {
    /// Starts the fake on a free loopback port: 1-hour tokens, pages of 3 items.
    pub async fn start() -> FakeAkeyless {
        let shared = Arc::new(Shared {
            access_id: ACCESS_ID.to_string(),
            access_key: format!("fake-key-{:016x}", rand::random::<u64>()),
            inner: Mutex::new(Inner {
                items: BTreeMap::new(),
                tokens: HashMap::new(),
                token_ttl: Duration::from_secs(3600),
                expiry_field: ExpiryField::UnixSeconds,
                page_size: 3,
                endless_pages: false,
                jwts: HashSet::new(),
                denied: HashSet::new(),
                next_id: 1000,
                calls: BTreeMap::new(),
                requests: Vec::new(),
                deleted: Vec::new(),
                cloud_ids: Vec::new(),
                leases: 0,
            }),
        });
        let router = Router::new()
            .route("/{*path}", axum::routing::any(handle))
            .with_state(Arc::clone(&shared));
        let server = FakeServer::start(router).await;
        FakeAkeyless { server, shared }
    }

    /// `http://127.0.0.1:<port>` (operations at `/<op>`).
    pub fn url(&self) -> String {
        self.server.url()
    }
    /// `http://127.0.0.1:<port>/api/v2` (the gateway form).
    pub fn gateway_url(&self) -> String {
        format!("{}/api/v2", self.server.url())
    }
    /// The access id that logs in.
    pub fn access_id(&self) -> &str {
        &self.shared.access_id
    }
    /// The access key that logs in.
    pub fn access_key(&self) -> &str {
        &self.shared.access_key
    }
    /// The fault queue of the underlying harness.
    pub fn faults(&self) -> &Faults {
        self.server.faults()
    }
    /// The underlying harness.
    pub fn server(&self) -> &FakeServer {
        &self.server
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.shared.lock().token_ttl = ttl;
    }
    /// How `/auth` fills `creds.expiry`.
    pub fn set_expiry_field(&self, field: ExpiryField) {
        self.shared.lock().expiry_field = field;
    }
    /// Items per `list-items` page (at least 1).
    pub fn set_page_size(&self, n: usize) {
        self.shared.lock().page_size = n.max(1);
    }
    /// When on, `list-items` always answers with a `next_page` (a broken or hostile server).
    pub fn set_endless_pages(&self, on: bool) {
        self.shared.lock().endless_pages = on;
    }
    /// Accepts `jwt` for `access-type: jwt`.
    pub fn accept_jwt(&self, jwt: &str) {
        self.shared.lock().jwts.insert(jwt.to_string());
    }
    /// Makes every token issued so far invalid (as if they expired).
    pub fn expire_all_tokens(&self) {
        self.shared.lock().tokens.clear();
    }
    /// Mints a valid token without `/auth` (what the Akeyless CLI caches after a SAML log-in).
    pub fn issue_token(&self) -> String {
        let mut g = self.shared.lock();
        let token = format!("t-{:032x}", rand::random::<u128>());
        let ttl = g.token_ttl;
        g.tokens.insert(token.clone(), Instant::now() + ttl);
        token
    }
    /// Every live token (for leak checks).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.lock().tokens.keys().cloned().collect()
    }
    /// Refuses every operation on `name` (absolute, e.g. `/team/db`) with 403.
    pub fn deny(&self, name: &str) {
        self.shared.lock().denied.insert(abs(name));
    }

    /// Seeds a static secret.
    pub fn seed_static(&self, name: &str, value: &str) {
        let mut g = self.shared.lock();
        let id = g.next_id();
        g.items.insert(
            abs(name),
            Item::new(
                id,
                ItemType::Static,
                Some(value.to_string()),
                Value::Null,
                None,
            ),
        );
    }
    /// Seeds a dynamic secret: each `get-dynamic-secret-value` answers `value` (an object) plus
    /// `ttl_in_minutes` when `ttl` is set.
    pub fn seed_dynamic(&self, name: &str, value: Value, ttl: Option<Duration>) {
        let mut g = self.shared.lock();
        let id = g.next_id();
        g.items.insert(
            abs(name),
            Item::new(id, ItemType::Dynamic, None, value, ttl),
        );
    }
    /// Seeds a rotated secret: `get-rotated-secret-value` answers `{"value": value}`.
    pub fn seed_rotated(&self, name: &str, value: Value) {
        let mut g = self.shared.lock();
        let id = g.next_id();
        g.items.insert(
            abs(name),
            Item::new(id, ItemType::Rotated, None, value, None),
        );
    }

    /// The latest value of a static secret.
    pub fn value(&self, name: &str) -> Option<String> {
        let g = self.shared.lock();
        g.items
            .get(&abs(name))
            .and_then(|i| i.versions.last().map(|v| v.value.clone()))
    }
    /// How many versions a static secret has.
    pub fn version_count(&self, name: &str) -> usize {
        self.shared
            .lock()
            .items
            .get(&abs(name))
            .map_or(0, |i| i.versions.len())
    }
    /// The description of an item (`item_metadata`).
    pub fn description(&self, name: &str) -> Option<String> {
        self.shared
            .lock()
            .items
            .get(&abs(name))
            .map(|i| i.description.clone())
    }
    /// The tags of an item (`item_tags`).
    pub fn tags(&self, name: &str) -> Vec<String> {
        self.shared
            .lock()
            .items
            .get(&abs(name))
            .map(|i| i.tags.clone())
            .unwrap_or_default()
    }
    /// Turns delete protection of an item on or off (as `update-item` does).
    pub fn set_delete_protection(&self, name: &str, on: bool) {
        if let Some(item) = self.shared.lock().items.get_mut(&abs(name)) {
            item.delete_protection = on;
        }
    }
    /// Whether an item exists (not deleted).
    pub fn exists(&self, name: &str) -> bool {
        self.shared.lock().items.contains_key(&abs(name))
    }
    /// How many requests `op` received (`"auth"`, `"get-secret-value"`, …), faults excluded.
    pub fn calls(&self, op: &str) -> u64 {
        self.shared.lock().calls.get(op).copied().unwrap_or(0)
    }
    /// The bodies `op` received, oldest first, with `token` / `uid-token` / `access-key` /
    /// `jwt` / `cloud-id` replaced by `"[token]"`-style markers.
    pub fn requests(&self, op: &str) -> Vec<Value> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, v)| v.clone())
            .collect()
    }
    /// Items deleted so far.
    pub fn deleted(&self) -> Vec<DeletedItem> {
        self.shared.lock().deleted.clone()
    }
    /// Decoded `cloud-id` documents received by `/auth` (aws_iam).
    pub fn cloud_ids(&self) -> Vec<Value> {
        self.shared.lock().cloud_ids.clone()
    }
    /// Dynamic-secret leases handed out.
    pub fn leases(&self) -> u64 {
        self.shared.lock().leases
    }
}

impl Inner {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

impl Item {
    fn new(
        id: u64,
        kind: ItemType,
        value: Option<String>,
        json_value: Value,
        ttl: Option<Duration>,
    ) -> Item {
        let now = SystemTime::now();
        Item {
            id,
            kind,
            versions: value
                .map(|value| {
                    vec![Version {
                        value,
                        created: now,
                    }]
                })
                .unwrap_or_default(),
            json_value,
            ttl,
            description: String::new(),
            tags: Vec::new(),
            delete_protection: false,
            created: now,
            modified: now,
        }
    }

    fn to_json(&self, name: &str) -> Value {
        let versions: Vec<Value> = self
            .versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                json!({
                    "version": i + 1,
                    "creation_date": rfc3339(v.created),
                    "modification_date": rfc3339(v.created),
                    "item_version_state": "Enabled",
                })
            })
            .collect();
        json!({
            "item_name": name,
            "item_id": self.id,
            "display_id": format!("{:x}-{}", self.id, self.id),
            "item_type": self.kind.wire(),
            "item_sub_type": "generic",
            "item_metadata": self.description,
            "item_tags": self.tags,
            "last_version": self.versions.len(),
            "item_versions": versions,
            "creation_date": rfc3339(self.created),
            "modification_date": rfc3339(self.modified),
            "is_enabled": true,
            "item_state": "Enabled",
            "delete_protection": self.delete_protection,
        })
    }
}

fn abs(name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else {
        format!("/{name}")
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

fn reply(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    reply(status, json!({ "error": message.into() }))
}

/// Credentials replaced by markers in [`FakeAkeyless::requests`] (values are kept: tests
/// compare them).
const SENSITIVE: [&str; 6] = [
    "token",
    "uid-token",
    "access-key",
    "jwt",
    "cloud-id",
    "k8s-service-account-token",
];

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let op = path
        .strip_prefix("/api/v2/")
        .or_else(|| path.strip_prefix('/'))
        .unwrap_or("")
        .to_string();
    if op.is_empty() || op.contains('/') {
        return error(StatusCode::NOT_FOUND, format!("unknown operation `{path}`"));
    }
    if method != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "only POST is supported");
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "malformed request: the body must be a JSON object",
        );
    };
    let mut g = shared.lock();
    *g.calls.entry(op.clone()).or_default() += 1;
    let mut logged = body.clone();
    for k in SENSITIVE {
        if let Some(v) = logged.get_mut(k) {
            *v = Value::String(format!("[{k}]"));
        }
    }
    g.requests.push((op.clone(), Value::Object(logged)));
    if op == "auth" {
        return auth(&shared, &mut g, &body);
    }
    // Every other operation needs a live token in the body.
    let token = body
        .get("token")
        .or_else(|| body.get("uid-token"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if token.is_empty() {
        return error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: no token in the request",
        );
    }
    match g.tokens.get(token) {
        Some(exp) if *exp > Instant::now() => {}
        Some(_) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: the token has expired",
            );
        }
        None => return error(StatusCode::UNAUTHORIZED, "Unauthorized: invalid token"),
    }
    match op.as_str() {
        "get-secret-value" => get_secret_value(&mut g, &body),
        "create-secret" => create_secret(&mut g, &body),
        "update-secret-val" => update_secret_val(&mut g, &body),
        "update-item" => update_item(&mut g, &body),
        "delete-item" => delete_item(&mut g, &body),
        "describe-item" => describe_item(&mut g, &body),
        "get-dynamic-secret-value" => get_dynamic(&mut g, &body),
        "get-rotated-secret-value" => get_rotated(&mut g, &body),
        "list-items" => list_items(&mut g, &body),
        "describe-permissions" => describe_permissions(&mut g, &body),
        _ => error(StatusCode::NOT_FOUND, format!("unknown operation `{op}`")),
    }
}

fn str_field<'a>(body: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Response> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("malformed request: `{key}` must be a string"),
        )),
    }
}

fn int_field(body: &Map<String, Value>, key: &str) -> Result<Option<i64>, Response> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
        Some(_) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("malformed request: `{key}` must be an integer"),
        )),
    }
}

fn bool_field(body: &Map<String, Value>, key: &str) -> Result<bool, Response> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(_) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("malformed request: `{key}` must be a boolean"),
        )),
    }
}

fn required_name(body: &Map<String, Value>) -> Result<String, Response> {
    match str_field(body, "name")? {
        Some(n) if !n.is_empty() => Ok(abs(n)),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "malformed request: `name` is required",
        )),
    }
}

fn check_allowed(g: &Inner, name: &str) -> Result<(), Response> {
    if g.denied.contains(name) {
        return Err(error(
            StatusCode::FORBIDDEN,
            format!("access denied: the auth method has no permission on `{name}`"),
        ));
    }
    Ok(())
}

fn not_found(name: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("item not found: `{name}`"))
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(resp) => return resp,
        }
    };
}

fn auth(shared: &Shared, g: &mut Inner, body: &Map<String, Value>) -> Response {
    let access_id = tri!(str_field(body, "access-id")).unwrap_or("");
    let access_type = tri!(str_field(body, "access-type")).unwrap_or("access_key");
    if access_id != shared.access_id {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized: unknown access id");
    }
    let ok = match access_type {
        "access_key" => tri!(str_field(body, "access-key")) == Some(shared.access_key.as_str()),
        "jwt" => tri!(str_field(body, "jwt")).is_some_and(|j| g.jwts.contains(j)),
        "aws_iam" => match tri!(str_field(body, "cloud-id")).and_then(decode_cloud_id) {
            Some(doc) => match sts_request_problem(&doc) {
                None => {
                    g.cloud_ids.push(doc);
                    true
                }
                Some(problem) => {
                    return error(
                        StatusCode::UNAUTHORIZED,
                        format!(
                            "Unauthorized: the cloud id is not a signed STS GetCallerIdentity request: {problem}"
                        ),
                    );
                }
            },
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "malformed request: `cloud-id` is not a valid AWS cloud id",
                );
            }
        },
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("access type `{other}` is not supported by this server"),
            );
        }
    };
    if !ok {
        return error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: authentication failed",
        );
    }
    let token = format!("t-{:032x}", rand::random::<u128>());
    let ttl = g.token_ttl;
    g.tokens.insert(token.clone(), Instant::now() + ttl);
    let expires = SystemTime::now() + ttl;
    let secs = expires.duration_since(UNIX_EPOCH).unwrap_or_default();
    let expiry = match g.expiry_field {
        ExpiryField::UnixSeconds => Some(secs.as_secs() as i64),
        ExpiryField::UnixMillis => Some(secs.as_millis() as i64),
        ExpiryField::Fixed(n) => Some(n),
        ExpiryField::Absent => None,
    };
    let mut out = json!({ "token": token });
    if let Some(expiry) = expiry {
        out["creds"] = json!({ "expiry": expiry, "access_id": shared.access_id });
    }
    reply(StatusCode::OK, out)
}

/// Decodes an AWS IAM cloud id: base64(JSON{sts_request_method, sts_request_url (b64),
/// sts_request_body (b64, optional), sts_request_headers (b64 JSON map of lists)}).
/// `None` when it does not decode to that shape at all.
fn decode_cloud_id(cloud_id: &str) -> Option<Value> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let outer: Map<String, Value> = serde_json::from_slice(&b64.decode(cloud_id).ok()?).ok()?;
    let method = outer.get("sts_request_method")?.as_str()?.to_string();
    let url = String::from_utf8(b64.decode(outer.get("sts_request_url")?.as_str()?).ok()?).ok()?;
    let headers: Map<String, Value> = serde_json::from_slice(
        &b64.decode(outer.get("sts_request_headers")?.as_str()?)
            .ok()?,
    )
    .ok()?;
    if !headers.values().all(|v| {
        v.as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
    }) {
        return None; // Go's http.Header: name -> list of values
    }
    let body = match outer.get("sts_request_body") {
        Some(v) => Some(String::from_utf8(b64.decode(v.as_str()?).ok()?).ok()?),
        None => None,
    };
    Some(json!({ "method": method, "url": url, "body": body, "headers": headers }))
}

/// What is wrong with a decoded cloud id's STS request (protocols.md §2.2), if anything.
/// Signatures are not verified; the shape is.
fn sts_request_problem(doc: &Value) -> Option<String> {
    let header = |name: &str| {
        doc["headers"]
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))?
            .1
            .as_array()?
            .first()?
            .as_str()
            .map(str::to_string)
    };
    if doc["method"] != "POST" {
        return Some("the method is not POST".into());
    }
    if doc["url"] != "https://sts.amazonaws.com/" && doc["url"] != "https://sts.amazonaws.com" {
        return Some("the URL is not the global STS endpoint https://sts.amazonaws.com/".into());
    }
    if !doc["body"].is_null() && doc["body"] != "Action=GetCallerIdentity&Version=2011-06-15" {
        return Some("the body is not GetCallerIdentity".into());
    }
    let Some(authz) = header("Authorization") else {
        return Some("no Authorization header".into());
    };
    let Some(rest) = authz.strip_prefix("AWS4-HMAC-SHA256 Credential=") else {
        return Some("the Authorization header is not SigV4".into());
    };
    let scope_ok = rest.split(',').next().is_some_and(|cred| {
        cred.ends_with("/us-east-1/sts/aws4_request") && cred.split('/').count() == 5
    });
    if !scope_ok {
        return Some("the credential scope is not <key>/<date>/us-east-1/sts/aws4_request".into());
    }
    let signed = authz
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("");
    if !signed.split(';').any(|h| h == "host") || !signed.split(';').any(|h| h == "x-amz-date") {
        return Some("host and x-amz-date are not signed".into());
    }
    if !authz.contains("Signature=") {
        return Some("no signature".into());
    }
    if header("X-Amz-Date").is_none() {
        return Some("no X-Amz-Date header".into());
    }
    None
}

fn get_secret_value(g: &mut Inner, body: &Map<String, Value>) -> Response {
    let names: Vec<String> = match body.get("names") {
        Some(Value::Array(a)) if !a.is_empty() => {
            let mut out = Vec::new();
            for v in a {
                match v.as_str() {
                    Some(s) if !s.is_empty() => out.push(abs(s)),
                    _ => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "malformed request: `names` must be a list of strings",
                        );
                    }
                }
            }
            out
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "malformed request: `names` must be a non-empty list of strings",
            );
        }
    };
    let version = tri!(int_field(body, "version")).unwrap_or(0);
    if version < 0 {
        return error(
            StatusCode::BAD_REQUEST,
            "negative versions are not supported by this server",
        );
    }
    let mut out = Map::new();
    for name in names {
        tri!(check_allowed(g, &name));
        let Some(item) = g.items.get(&name) else {
            return not_found(&name);
        };
        if item.kind != ItemType::Static {
            return error(
                StatusCode::BAD_REQUEST,
                format!("`{name}` is not a static secret"),
            );
        }
        let v = if version == 0 {
            item.versions.last()
        } else {
            item.versions.get(version as usize - 1)
        };
        let Some(v) = v else {
            return error(
                StatusCode::NOT_FOUND,
                format!("item `{name}` has no version {version}"),
            );
        };
        out.insert(name.clone(), Value::String(v.value.clone()));
    }
    reply(StatusCode::OK, Value::Object(out))
}

fn create_secret(g: &mut Inner, body: &Map<String, Value>) -> Response {
    let name = tri!(required_name(body));
    let Some(value) = tri!(str_field(body, "value")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "malformed request: `value` is required",
        );
    };
    tri!(check_allowed(g, &name));
    if g.items.contains_key(&name) {
        return error(
            StatusCode::CONFLICT,
            format!("failed to create item `{name}`: the item already exists"),
        );
    }
    let tags = match body.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "malformed request: `tags` must be a list",
            );
        }
    };
    let description = tri!(str_field(body, "description"))
        .or(tri!(str_field(body, "metadata")))
        .unwrap_or("")
        .to_string();
    let delete_protection = tri!(bool_field(body, "delete_protection"));
    let id = g.next_id();
    let mut item = Item::new(
        id,
        ItemType::Static,
        Some(value.to_string()),
        Value::Null,
        None,
    );
    item.tags = tags;
    item.description = description;
    item.delete_protection = delete_protection;
    g.items.insert(name.clone(), item);
    reply(StatusCode::OK, json!({ "name": name }))
}

fn update_secret_val(g: &mut Inner, body: &Map<String, Value>) -> Response {
    let name = tri!(required_name(body));
    let Some(value) = tri!(str_field(body, "value")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "malformed request: `value` is required",
        );
    };
    tri!(check_allowed(g, &name));
    let Some(item) = g.items.get_mut(&name) else {
        return not_found(&name);
    };
    if item.kind != ItemType::Static {
        return error(
            StatusCode::BAD_REQUEST,
            format!("`{name}` is not a static secret"),
        );
    }
    let now = SystemTime::now();
    item.versions.push(Version {
        value: value.to_string(),
        created: now,
    });
    item.modified = now;
    reply(StatusCode::OK, json!({ "name": name }))
}

/// The value the vendors' SDKs send for "leave the description as it is".
const UNCHANGED_DESCRIPTION: &str = "default_metadata";

fn string_list(body: &Map<String, Value>, key: &str) -> Result<Vec<String>, Response> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => Ok(a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()),
        Some(_) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("malformed request: `{key}` must be a list of strings"),
        )),
    }
}

fn update_item(g: &mut Inner, body: &Map<String, Value>) -> Response {
    let name = tri!(required_name(body));
    let description = tri!(str_field(body, "description"))
        .filter(|d| *d != UNCHANGED_DESCRIPTION)
        .or(tri!(str_field(body, "new-metadata")).filter(|d| *d != UNCHANGED_DESCRIPTION))
        .map(str::to_string);
    let add = tri!(string_list(body, "add-tag"));
    let rm = tri!(string_list(body, "rm-tag"));
    let protection = match body.get("delete_protection") {
        None | Some(Value::Null) => None,
        Some(_) => Some(tri!(bool_field(body, "delete_protection"))),
    };
    tri!(check_allowed(g, &name));
    let Some(item) = g.items.get_mut(&name) else {
        return not_found(&name);
    };
    if let Some(d) = description {
        item.description = d;
    }
    item.tags.retain(|t| !rm.contains(t));
    for t in add {
        if !item.tags.contains(&t) {
            item.tags.push(t);
        }
    }
    if let Some(on) = protection {
        item.delete_protection = on;
    }
    item.modified = SystemTime::now();
    reply(StatusCode::OK, json!({ "updated": true }))
}

fn delete_item(g: &mut Inner, body: &Map<String, Value>) -> Response {
    let name = tri!(required_name(body));
    let version = tri!(int_field(body, "version")).unwrap_or(-1);
    let days = tri!(int_field(body, "delete-in-days")).unwrap_or(7);
    let immediate = tri!(bool_field(body, "delete-immediately"));
    tri!(check_allowed(g, &name));
    if days == -1 && !immediate {
        return error(
            StatusCode::BAD_REQUEST,
            "delete-in-days -1 needs delete-immediately",
        );
    }
    let Some(item) = g.items.get_mut(&name) else {
        return not_found(&name);
    };
    if item.delete_protection {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "failed to delete item `{name}`: the item has delete protection enabled; disable it (update-item delete_protection=false) before deleting"
            ),
        );
    }
    let id = item.id;
    let whole = version == -1 || item.versions.len() <= 1;
    if !whole {
        let idx = if version == 0 {
            item.versions.len() - 1
        } else {
            version as usize - 1
        };
        if idx >= item.versions.len() {
            return error(
                StatusCode::NOT_FOUND,
                format!("item `{name}` has no version {version}"),
            );
        }
        item.versions.remove(idx);
    } else {
        g.items.remove(&name);
    }
    let when = if immediate {
        SystemTime::now()
    } else {
        SystemTime::now() + Duration::from_secs(86_400 * days.max(0) as u64)
    };
    g.deleted.push(DeletedItem {
        name: name.clone(),
        immediate,
        delete_in_days: days,
        version,
    });
    reply(
        StatusCode::OK,
        json!({
            "item_name": name,
            "item_id": id,
            "deletion_date": rfc3339(when),
            "version_deleted": version,
        }),
    )
}

fn describe_item(g: &mut Inner, body: &Map<String, Value>) -> Response {
    let name = tri!(required_name(body));
    tri!(check_allowed(g, &name));
    match g.items.get(&name) {
        Some(item) => reply(StatusCode::OK, item.to_json(&name)),
        None => not_found(&name),
    }
}

fn get_dynamic(g: &mut Inner, body: &Map<String, Value>) -> Response {
    let name = tri!(required_name(body));
    tri!(check_allowed(g, &name));
    let Some(item) = g.items.get(&name) else {
        return not_found(&name);
    };
    if item.kind != ItemType::Dynamic {
        return error(
            StatusCode::BAD_REQUEST,
            format!("`{name}` is not a dynamic secret"),
        );
    }
    let mut out = item.json_value.clone();
    if let (Some(ttl), Value::Object(map)) = (item.ttl, &mut out) {
        let minutes = ttl.as_secs().div_ceil(60);
        map.insert("ttl_in_minutes".into(), Value::String(minutes.to_string()));
    }
    g.leases += 1;
    if let Value::Object(map) = &mut out {
        map.entry("id")
            .or_insert_with(|| Value::String(format!("lease-{}", g.leases)));
    }
    reply(StatusCode::OK, out)
}

fn get_rotated(g: &mut Inner, body: &Map<String, Value>) -> Response {
    // The quirk: `names` is ONE string here, not a list.
    let name = match body.get("names") {
        Some(Value::String(s)) if !s.is_empty() => abs(s),
        Some(Value::Array(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "malformed request: json: cannot unmarshal array into field `names` of type string",
            );
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "malformed request: `names` is required",
            );
        }
    };
    tri!(check_allowed(g, &name));
    let Some(item) = g.items.get(&name) else {
        return not_found(&name);
    };
    if item.kind != ItemType::Rotated {
        return error(
            StatusCode::BAD_REQUEST,
            format!("`{name}` is not a rotated secret"),
        );
    }
    reply(StatusCode::OK, json!({ "value": item.json_value }))
}

fn list_items(g: &mut Inner, body: &Map<String, Value>) -> Response {
    let mut path = tri!(str_field(body, "path")).unwrap_or("/").to_string();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if !path.ends_with('/') {
        path.push('/');
    }
    let types: Option<BTreeSet<String>> = match body.get("type") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        ),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "malformed request: `type` must be a list",
            );
        }
    };
    let offset: usize = match tri!(str_field(body, "pagination-token")) {
        None | Some("") => 0,
        Some(tok) => match tok.strip_prefix("page-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return error(StatusCode::BAD_REQUEST, "invalid pagination token"),
        },
    };
    let mut folders = BTreeSet::new();
    let mut items = Vec::new();
    for (name, item) in &g.items {
        let Some(rest) = name.strip_prefix(&path) else {
            continue;
        };
        if let Some((first, _)) = rest.split_once('/') {
            folders.insert(format!("{path}{first}/"));
            continue;
        }
        if types
            .as_ref()
            .is_some_and(|t| !t.contains(item.kind.filter_name()))
        {
            continue;
        }
        items.push(item.to_json(name));
    }
    let page_size = g.page_size;
    let page: Vec<Value> = items.iter().skip(offset).take(page_size).cloned().collect();
    let mut out = json!({ "items": page });
    if offset == 0 {
        out["folders"] = json!(folders.into_iter().collect::<Vec<_>>());
    }
    if offset + page_size < items.len() || g.endless_pages {
        out["next_page"] = Value::String(format!("page-{}", offset + page_size));
    }
    reply(StatusCode::OK, out)
}

fn describe_permissions(g: &mut Inner, body: &Map<String, Value>) -> Response {
    let path = abs(tri!(str_field(body, "path")).unwrap_or("/"));
    let perms: Vec<&str> = if g.denied.contains(&path) {
        Vec::new()
    } else {
        vec!["read", "list", "create", "update", "delete"]
    };
    reply(StatusCode::OK, json!({ "client_permissions": perms }))
}

/// Starts the fake for an out-of-process client (the official Python SDK):
/// `FAKE_URL`, `AKEYLESS_ACCESS_ID`, `AKEYLESS_ACCESS_KEY`, `AKEYLESS_API_HOST`.
pub async fn standalone() -> super::Standalone {
    let fake = FakeAkeyless::start().await;
    let env = vec![
        ("FAKE_URL".to_string(), fake.url()),
        ("AKEYLESS_API_HOST".to_string(), fake.url()),
        (
            "AKEYLESS_ACCESS_ID".to_string(),
            fake.access_id().to_string(),
        ),
        (
            "AKEYLESS_ACCESS_KEY".to_string(),
            fake.access_key().to_string(),
        ),
    ];
    super::Standalone {
        keep_alive: Box::new(fake),
        env,
    }
}
