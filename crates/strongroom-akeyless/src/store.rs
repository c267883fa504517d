//! [`AkeylessStore`]: the [`SecretStore`] implementation.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use strongroom_core::{
    Capabilities, Clock, DEFAULT_READ_MANY_CONCURRENCY, DeleteOptions, Error, Operation,
    ReadManyResult, ReadOptions, Result, Secret, SecretKind, SecretName, SecretStore, SecretValue,
    StoreInfo, TokenCache, TokenLease, WriteOptions, WriteOutcome, async_trait, dedupe,
};

use crate::api::{Api, Body, Item, ListOutput, Reply};
use crate::auth::Authenticator;
use crate::config::{AccessType, Settings};
use crate::error::PROVIDER;

/// How many names one `get-secret-value` call asks for.
const BATCH: usize = 100;
/// Upper bound on `list-items` calls of one `list()` (a server that never stops paginating).
const MAX_LIST_CALLS: usize = 10_000;
/// How many item types `auto_guess_type` remembers before starting over.
const MAX_REMEMBERED_TYPES: usize = 10_000;
/// Item types `list()` returns.
const LISTED_TYPES: [&str; 3] = ["static-secret", "dynamic-secret", "rotated-secret"];

/// An item's type, as `describe-item` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ItemKind {
    Static,
    Dynamic,
    Rotated,
    Other(String),
}

impl ItemKind {
    fn from_wire(t: &str) -> ItemKind {
        match t.to_ascii_uppercase().as_str() {
            "STATIC_SECRET" => ItemKind::Static,
            "DYNAMIC_SECRET" => ItemKind::Dynamic,
            "ROTATED_SECRET" => ItemKind::Rotated,
            _ => ItemKind::Other(t.to_string()),
        }
    }
}

struct Inner {
    info: StoreInfo,
    api: Api,
    auth: Authenticator,
    tokens: TokenCache<SecretValue>,
    access_id: String,
    access_type: AccessType,
    auto_guess_type: bool,
    clock: Arc<dyn Clock>,
    types: Mutex<HashMap<String, ItemKind>>,
}

/// The Akeyless store. Cheap to clone (shared state).
///
/// * Names map to absolute Akeyless paths: `team/db` ↔ `/team/db`.
/// * `read`: `get-secret-value`; with `auto_guess_type`, `describe-item` once per name, then
///   `get-dynamic-secret-value` (kind `Dynamic`, `expires_at` from the lease) or
///   `get-rotated-secret-value` (kind `Rotated`, `value.payload` / `value.target_value`
///   unwrapped). `ReadOptions::refresh` also sends `"ignore-cache": "true"`.
/// * `read_many`: one `get-secret-value` per 100 names; when a batch fails because a name is
///   missing, the names of that batch are read one by one so the others still come back.
/// * `write`: `create-secret`; when Akeyless answers that the item exists (409),
///   `update-secret-val`.
/// * `delete`: `delete-item` (recoverable for Akeyless' default days; `force` deletes at once).
/// * `list`: `list-items`, following `next_page` and descending into `folders`.
///
/// Caching is the core `Cached` layer's job (`store.with_cache(..)`), not this store's.
///
/// ```no_run
/// use strongroom_akeyless::AkeylessBuilder;
/// use strongroom_core::{ReadOptions, SecretName, SecretStore};
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = AkeylessBuilder::from_env().build()?;
/// let name = SecretName::new("team/db-password")?; // Akeyless item `/team/db-password`
/// if let Some(secret) = store.read(&name, &ReadOptions::new()).await? {
///     let _password = secret.value.expose_str()?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AkeylessStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for AkeylessStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AkeylessStore")
            .field("api_host", &self.inner.api.base())
            .field("access_id", &self.inner.access_id)
            .field("access_type", &self.inner.access_type)
            .field("auto_guess_type", &self.inner.auto_guess_type)
            .finish_non_exhaustive()
    }
}

/// `a/b` → `/a/b`.
fn to_path(name: &SecretName) -> String {
    format!("/{}", name.as_str())
}

/// `/a/b` → `a/b` (names that are not valid [`SecretName`]s are skipped by the caller).
pub(crate) fn from_path(path: &str) -> Option<SecretName> {
    SecretName::new(path.strip_prefix('/').unwrap_or(path)).ok()
}

fn ignore_cache(opts: &ReadOptions) -> &'static str {
    if opts.refresh { "true" } else { "false" }
}

fn version_of(opts: &ReadOptions) -> Result<Option<i64>> {
    if opts.stage.is_some() {
        return Err(Error::unsupported(
            "Akeyless has no version stages",
            "ask for a version number with ReadOptions::version",
        ));
    }
    match opts.version.as_deref() {
        None => Ok(None),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(Error::unsupported(
                format!("`{v}` is not an Akeyless version"),
                "Akeyless versions are positive integers (1, 2, …)",
            )),
        },
    }
}

/// A JSON value as secret text: strings as they are, anything else as JSON.
fn value_text(v: &mut Value) -> SecretValue {
    match v {
        Value::String(s) => SecretValue::from(std::mem::take(s)),
        other => SecretValue::from_bytes(serde_json::to_vec(other).unwrap_or_default()),
    }
}

/// A `describe-item` answer: the item's type, `Ok(None)` when the item does not exist.
pub(crate) fn describe_answer(reply: &Reply) -> Result<Option<ItemKind>> {
    if reply.status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !reply.is_success() {
        return Err(reply.error());
    }
    let item: Item = reply.json("describe-item")?;
    let t = item
        .item_type
        .ok_or_else(|| Error::protocol("the `describe-item` answer has no item_type"))?;
    Ok(Some(ItemKind::from_wire(&t)))
}

/// A `get-secret-value` answer: the values by absolute path, `Ok(None)` on 404.
pub(crate) fn values_answer(reply: &Reply) -> Result<Option<HashMap<String, SecretValue>>> {
    if reply.status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !reply.is_success() {
        return Err(reply.error());
    }
    let mut doc = reply.wiped("get-secret-value")?;
    let Value::Object(map) = &mut doc.0 else {
        return Err(crate::error::malformed("get-secret-value"));
    };
    let mut out = HashMap::with_capacity(map.len());
    for (k, v) in map.iter_mut() {
        let key = if k.starts_with('/') {
            k.clone()
        } else {
            format!("/{k}")
        };
        out.insert(key, value_text(v));
    }
    Ok(Some(out))
}

/// A `list-items` answer, `Ok(None)` when the folder does not exist (404).
pub(crate) fn list_answer(reply: &Reply) -> Result<Option<ListOutput>> {
    if reply.status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !reply.is_success() {
        return Err(reply.error());
    }
    reply.json("list-items").map(Some)
}

/// A dynamic secret's lease, from the fields producers use.
fn lease_of(obj: &serde_json::Map<String, Value>) -> Option<Duration> {
    let num = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let secs = if let Some(m) = obj.get("ttl_in_minutes").and_then(num) {
        m * 60.0
    } else {
        ["ttl", "lease_duration", "ttl_in_seconds"]
            .iter()
            .find_map(|k| obj.get(*k).and_then(num))?
    };
    (secs.is_finite() && secs > 0.0 && secs < 1e10).then(|| Duration::from_secs_f64(secs))
}

impl AkeylessStore {
    pub(crate) fn from_settings(s: Settings) -> Result<Self> {
        let client = s.http.build_client()?;
        let api = Api::new(client, s.api_base.clone(), s.retry.clone());
        let auth = Authenticator::new(&s, api.clone());
        let tokens = TokenCache::new()
            .with_refresh_buffer(s.token_refresh_buffer)
            .with_clock(Arc::clone(&s.clock));
        let info = StoreInfo::new(
            PROVIDER,
            Capabilities::all()
                .with_batch_read(true)
                .with_versions(true),
        )
        .with_address(format!("akeyless:{}", s.api_base))
        .with_identity(&[b"akeyless", s.access_id.as_bytes()]);
        Ok(AkeylessStore {
            inner: Arc::new(Inner {
                info,
                api,
                auth,
                tokens,
                access_id: s.access_id,
                access_type: s.access_type,
                auto_guess_type: s.auto_guess_type,
                clock: s.clock,
                types: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// How many times this store has logged in.
    pub async fn logins(&self) -> u64 {
        self.inner.tokens.logins().await
    }

    /// The API base URL in use (e.g. `https://api.akeyless.io`).
    pub fn api_host(&self) -> &str {
        self.inner.api.base()
    }

    async fn token(&self) -> Result<TokenLease<SecretValue>> {
        self.inner
            .tokens
            .get_or_refresh(|_previous| self.inner.auth.login())
            .await
    }

    /// Sends `op` with the token in the body. A 401 invalidates the token, logs in once more
    /// and retries once. Returns the answer (any status but a first 401).
    async fn call(&self, op: &str, mut body: Body, idempotent: bool) -> Result<Reply> {
        let mut lease = self.token().await?;
        let mut retried = false;
        loop {
            body.put("token", lease.token.expose_str()?);
            let bytes = body.to_bytes();
            let reply = self.inner.api.post(op, &bytes, idempotent).await?;
            if reply.status == reqwest::StatusCode::UNAUTHORIZED && !retried {
                tracing::debug!(op, "Akeyless refused the token; logging in again");
                self.inner.tokens.invalidate(lease.generation).await;
                lease = self.token().await?;
                retried = true;
                continue;
            }
            return Ok(reply);
        }
    }

    fn known_type(&self, path: &str) -> Option<ItemKind> {
        self.inner
            .types
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned()
    }

    fn remember_type(&self, path: &str, kind: ItemKind) {
        let mut types = self.inner.types.lock().unwrap_or_else(|e| e.into_inner());
        if types.len() >= MAX_REMEMBERED_TYPES {
            types.clear(); // bounded memory; types are looked up again on demand
        }
        types.insert(path.to_string(), kind);
    }

    fn forget_type(&self, path: &str) {
        self.inner
            .types
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(path);
    }

    async fn describe(&self, path: &str) -> Result<Option<ItemKind>> {
        let reply = self
            .call("describe-item", Body::new().set("name", path), true)
            .await?;
        describe_answer(&reply)
    }

    /// `get-secret-value` for several paths; `Ok(None)` when the call failed with 404.
    async fn get_values(
        &self,
        paths: &[String],
        opts: &ReadOptions,
    ) -> Result<Option<HashMap<String, SecretValue>>> {
        let mut body = Body::new()
            .set("names", paths.to_vec())
            .set("json", false)
            .set("ignore-cache", ignore_cache(opts));
        if let Some(v) = version_of(opts)? {
            body.put("version", v);
        }
        let reply = self.call("get-secret-value", body, true).await?;
        values_answer(&reply)
    }

    async fn read_static(&self, path: &str, opts: &ReadOptions) -> Result<Option<Secret>> {
        let Some(mut values) = self.get_values(&[path.to_string()], opts).await? else {
            return Ok(None);
        };
        let value = values.remove(path).ok_or_else(|| {
            Error::protocol("the `get-secret-value` answer does not hold the asked-for name")
        })?;
        let mut secret = Secret::new(value);
        if let Some(v) = &opts.version {
            secret = secret.with_version(v.trim());
        }
        Ok(Some(secret))
    }

    async fn read_dynamic(&self, path: &str, opts: &ReadOptions) -> Result<Option<Secret>> {
        if opts.version.is_some() || opts.stage.is_some() {
            return Err(Error::unsupported(
                "dynamic secrets have no versions",
                "read the dynamic secret without ReadOptions::version",
            ));
        }
        let reply = self
            .call(
                "get-dynamic-secret-value",
                Body::new().set("name", path),
                false,
            )
            .await?;
        if reply.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !reply.is_success() {
            return Err(reply.error());
        }
        let mut doc = reply.wiped("get-dynamic-secret-value")?;
        let lease = match &doc.0 {
            Value::Object(map) => lease_of(map),
            _ => None,
        };
        let value = value_text(&mut doc.0);
        let mut secret = Secret::new(value).with_kind(SecretKind::Dynamic);
        if let Some(lease) = lease {
            secret = secret.with_expires_at(self.inner.clock.system_now() + lease);
        }
        Ok(Some(secret))
    }

    async fn read_rotated(&self, path: &str, opts: &ReadOptions) -> Result<Option<Secret>> {
        // The quirk: `names` is a single string for this operation.
        let mut body = Body::new()
            .set("names", path)
            .set("json", false)
            .set("ignore-cache", ignore_cache(opts));
        if let Some(v) = version_of(opts)? {
            body.put("version", v);
        }
        let reply = self.call("get-rotated-secret-value", body, true).await?;
        if reply.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !reply.is_success() {
            return Err(reply.error());
        }
        let mut doc = reply.wiped("get-rotated-secret-value")?;
        let value = match doc.0.get_mut("value") {
            Some(Value::Object(inner)) => {
                if let Some(p) = inner.get_mut("payload") {
                    value_text(p)
                } else if let Some(t) = inner.get_mut("target_value") {
                    value_text(t)
                } else {
                    SecretValue::from_bytes(serde_json::to_vec(inner).unwrap_or_default())
                }
            }
            Some(other) => value_text(other),
            None => value_text(&mut doc.0),
        };
        let mut secret = Secret::new(value).with_kind(SecretKind::Rotated);
        if let Some(v) = &opts.version {
            secret = secret.with_version(v.trim());
        }
        Ok(Some(secret))
    }

    async fn read_path(&self, path: &str, opts: &ReadOptions) -> Result<Option<Secret>> {
        if !self.inner.auto_guess_type {
            return self.read_static(path, opts).await;
        }
        let kind = match self.known_type(path) {
            Some(k) => k,
            None => match self.describe(path).await? {
                Some(k) => {
                    self.remember_type(path, k.clone());
                    k
                }
                None => return Ok(None),
            },
        };
        let got = match &kind {
            ItemKind::Static => self.read_static(path, opts).await?,
            ItemKind::Dynamic => self.read_dynamic(path, opts).await?,
            ItemKind::Rotated => self.read_rotated(path, opts).await?,
            ItemKind::Other(t) => {
                return Err(Error::unsupported(
                    format!("item type `{t}` is not a secret this store reads"),
                    "read static, dynamic or rotated secrets",
                ));
            }
        };
        if got.is_none() {
            self.forget_type(path);
        }
        Ok(got)
    }

    async fn read_with_field(
        &self,
        name: &SecretName,
        opts: &ReadOptions,
    ) -> Result<Option<Secret>> {
        let secret = self.read_path(&to_path(name), opts).await?;
        match (secret, &opts.field) {
            (Some(s), Some(field)) => s.select_field(field),
            (s, _) => Ok(s),
        }
    }

    async fn list_folder(
        &self,
        folder: &str,
        names: &mut BTreeSet<SecretName>,
        folders: &mut Vec<String>,
        calls: &mut usize,
    ) -> Result<()> {
        let mut token: Option<String> = None;
        loop {
            *calls += 1;
            if *calls > MAX_LIST_CALLS {
                return Err(Error::protocol("`list-items` did not stop paginating"));
            }
            let mut body = Body::new()
                .set("path", folder)
                .set("type", LISTED_TYPES.to_vec())
                .set("minimal-view", true);
            if let Some(t) = &token {
                body.put("pagination-token", t.as_str());
            }
            let reply = self.call("list-items", body, true).await?;
            let Some(out) = list_answer(&reply)? else {
                return Ok(());
            };
            for item in out.items.unwrap_or_default() {
                if let Some(n) = item.item_name.as_deref().and_then(from_path) {
                    names.insert(n);
                }
            }
            folders.extend(out.folders.unwrap_or_default());
            match out.next_page.filter(|p| !p.is_empty()) {
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                _ => return Ok(()),
            }
        }
    }
}

#[async_trait]
impl SecretStore for AkeylessStore {
    fn info(&self) -> &StoreInfo {
        &self.inner.info
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        self.read_with_field(name, opts)
            .await
            .map_err(|e| e.context(PROVIDER, Operation::Read, Some(name.as_str())))
    }

    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        let unique = dedupe(names);
        if self.inner.auto_guess_type {
            // Dynamic and rotated items have no batch call: one read per name.
            let results: Vec<Result<(SecretName, Option<Secret>)>> =
                futures_util::stream::iter(unique.into_iter().map(|name| async move {
                    let s = self.read(&name, opts).await?;
                    Ok((name, s))
                }))
                .buffered(DEFAULT_READ_MANY_CONCURRENCY)
                .collect()
                .await;
            return results.into_iter().collect();
        }
        let mut out: ReadManyResult = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(BATCH) {
            let paths: Vec<String> = chunk.iter().map(to_path).collect();
            let batch = self
                .get_values(&paths, opts)
                .await
                .map_err(|e| e.context(PROVIDER, Operation::ReadMany, None))?;
            match batch {
                Some(mut values) => {
                    for (name, path) in chunk.iter().zip(&paths) {
                        let secret = values.remove(path).map(|v| {
                            let s = Secret::new(v);
                            match &opts.version {
                                Some(ver) => s.with_version(ver.trim()),
                                None => s,
                            }
                        });
                        let secret = match (secret, &opts.field) {
                            (Some(s), Some(f)) => s.select_field(f).map_err(|e| {
                                e.context(PROVIDER, Operation::ReadMany, Some(name.as_str()))
                            })?,
                            (s, _) => s,
                        };
                        out.push((name.clone(), secret));
                    }
                }
                None => {
                    // A missing item fails the whole batch: read this chunk one by one so the
                    // missing names come back as None and hide nothing.
                    let singles: Vec<Result<(SecretName, Option<Secret>)>> =
                        futures_util::stream::iter(chunk.iter().cloned().map(|name| async move {
                            let s = self.read(&name, opts).await?;
                            Ok((name, s))
                        }))
                        .buffered(DEFAULT_READ_MANY_CONCURRENCY)
                        .collect()
                        .await;
                    for r in singles {
                        out.push(r?);
                    }
                }
            }
        }
        Ok(out)
    }

    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        let ctx = |e: Error| e.context(PROVIDER, Operation::Write, Some(name.as_str()));
        if opts.cas.is_some() {
            return Err(ctx(Error::unsupported(
                "Akeyless has no check-and-set",
                "write without WriteOptions::cas",
            )));
        }
        let text = value.expose_str().map_err(|_| {
            ctx(Error::unsupported(
                "Akeyless static secrets hold text, and this value is binary",
                "base64-encode binary values before writing them",
            ))
        })?;
        let path = to_path(name);
        let mut create = Body::new().set("name", path.as_str()).set("value", text);
        if let Some(d) = &opts.description {
            create.put("description", d.as_str());
        }
        if !opts.tags.is_empty() {
            let tags: Vec<String> = opts
                .tags
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.clone()
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect();
            create.put("tags", tags);
        }
        let reply = self
            .call("create-secret", create, false)
            .await
            .map_err(ctx)?;
        self.forget_type(&path);
        if reply.is_success() {
            return Ok(WriteOutcome::new(None));
        }
        if reply.status != reqwest::StatusCode::CONFLICT {
            return Err(ctx(reply.error()));
        }
        // The item exists (409): a new version of it.
        let update = Body::new().set("name", path.as_str()).set("value", text);
        let reply = self
            .call("update-secret-val", update, false)
            .await
            .map_err(ctx)?;
        if reply.is_success() {
            Ok(WriteOutcome::new(None))
        } else {
            Err(ctx(reply.error()))
        }
    }

    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        let ctx = |e: Error| e.context(PROVIDER, Operation::Delete, Some(name.as_str()));
        let path = to_path(name);
        let mut body = Body::new().set("name", path.as_str()).set("version", -1);
        if opts.force {
            body.put("delete-in-days", -1);
            body.put("delete-immediately", true);
        } else if let Some(days) = opts.recovery_window_days {
            body.put("delete-in-days", days);
        }
        let reply = self.call("delete-item", body, true).await.map_err(ctx)?;
        self.forget_type(&path);
        if reply.is_success() || reply.status == reqwest::StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(ctx(reply.error()))
        }
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        let prefix = prefix.unwrap_or("");
        let start = match prefix.rfind('/') {
            Some(i) => format!("/{}", &prefix[..=i]),
            None => "/".to_string(),
        };
        let mut names = BTreeSet::new();
        let mut queue = VecDeque::from([start]);
        let mut seen = HashSet::new();
        let mut calls = 0;
        while let Some(folder) = queue.pop_front() {
            if !seen.insert(folder.clone()) {
                continue;
            }
            let mut folders = Vec::new();
            self.list_folder(&folder, &mut names, &mut folders, &mut calls)
                .await
                .map_err(|e| e.context(PROVIDER, Operation::List, None))?;
            for f in folders {
                let mut f = if f.starts_with('/') {
                    f
                } else {
                    format!("/{f}")
                };
                if !f.ends_with('/') {
                    f.push('/');
                }
                // Descend only where names under the prefix can be.
                let rel = &f[1..];
                if rel.starts_with(prefix) || prefix.starts_with(rel) {
                    queue.push_back(f);
                }
            }
        }
        Ok(names
            .into_iter()
            .filter(|n| n.as_str().starts_with(prefix))
            .collect())
    }
}
