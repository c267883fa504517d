//! Every wire call and every answer parser.
//!
//! Every operation is `POST {api_base}/{op}` with a JSON body; the token travels in the body
//! (`"token"`), never in a header. Calls go through the core [`HttpClient`]: redirects are
//! refused (the body, token or credentials never reach another host), bodies are capped, only
//! idempotent calls are retried. Errors get their context (provider, operation, name) here,
//! once. The parsers take an [`Answer`] (status + body), so the fuzz targets feed them too.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::{Map, Value};
use strongroom_core::provider::http::{Call, HttpClient, Reply};
use strongroom_core::{Error, ErrorKind, Result, SecretValue, WipedJson};
use zeroize::Zeroizing;

use crate::error;

/// A JSON request body; its strings (token, value, key) are wiped when it is dropped.
#[derive(Default)]
pub(crate) struct Body(WipedJson);

impl Body {
    pub(crate) fn new() -> Body {
        Body(WipedJson(Value::Object(Map::new())))
    }
    /// Sets a field.
    pub(crate) fn set(mut self, key: &str, value: impl Into<Value>) -> Body {
        if let Value::Object(map) = &mut self.0.0 {
            map.insert(key.to_owned(), value.into());
        }
        self
    }
    fn bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(serde_json::to_vec(&self.0.0).unwrap_or_default())
    }
}

/// An answer as the parsers see it: a [`Reply`], or bytes from a fuzz target.
pub(crate) struct Answer<'a> {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: &'a [u8],
}

impl Answer<'_> {
    fn of(reply: &Reply) -> Answer<'_> {
        Answer {
            status: reply.status(),
            retry_after: reply.retry_after(),
            body: reply.body(),
        }
    }
    fn error(&self) -> Error {
        error::from_answer(self.status, self.retry_after, self.body)
    }
    /// `Ok(false)` on 404, `Ok(true)` on 2xx, the error otherwise.
    fn found(&self) -> Result<bool> {
        match self.status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.error()),
        }
    }
    fn json<T: for<'de> Deserialize<'de>>(&self, op: &str) -> Result<T> {
        serde_json::from_slice(self.body).map_err(|_| error::malformed(op))
    }
    fn wiped(&self, op: &str) -> Result<WipedJson> {
        self.json::<WipedJson>(op)
    }
}

/// How a value is read: a version (positive; `None` = latest) and the gateway cache bypass.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ValueQuery {
    pub(crate) version: Option<i64>,
    pub(crate) ignore_cache: bool,
}

impl ValueQuery {
    fn apply(&self, mut body: Body) -> Body {
        body = body.set("json", false).set(
            "ignore-cache",
            if self.ignore_cache { "true" } else { "false" },
        );
        match self.version {
            Some(v) => body.set("version", v),
            None => body,
        }
    }
}

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
            _ => ItemKind::Other(t.to_owned()),
        }
    }
}

/// What `describe-item` tells about an item.
#[derive(Debug, Clone)]
pub(crate) struct ItemInfo {
    pub(crate) kind: ItemKind,
    pub(crate) tags: Vec<String>,
    pub(crate) delete_protection: bool,
}

/// A dynamic secret: the whole answer as the value, and its lease when the answer says.
pub(crate) struct Dynamic {
    pub(crate) value: SecretValue,
    pub(crate) lease: Option<Duration>,
}

/// What `create-secret` did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Created {
    Created,
    /// 409: an item of that name exists.
    Exists,
}

/// What `delete-item` did.
#[derive(Debug)]
pub(crate) enum Deleted {
    /// Deleted, or there was nothing to delete (404).
    Done,
    /// 400: the server refused, with its reason (delete protection answers this way).
    Refused(Error),
}

/// How `delete-item` deletes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DeleteMode {
    /// `delete-in-days: -1, delete-immediately: true`.
    pub(crate) immediately: bool,
    /// `delete-in-days` (Akeyless' default, 7, when `None`).
    pub(crate) in_days: Option<u32>,
}

/// Write metadata that `create-secret` carries.
#[derive(Debug, Default)]
pub(crate) struct Metadata<'a> {
    pub(crate) description: Option<&'a str>,
    pub(crate) tags: Vec<String>,
}

/// One `list-items` page.
#[derive(Debug, Default)]
pub(crate) struct ListPage {
    pub(crate) names: Vec<String>,
    pub(crate) folders: Vec<String>,
    pub(crate) next_page: Option<String>,
}

/// A successful `/auth`: the token and `creds.expiry` as sent (unit undocumented).
pub(crate) struct AuthAnswer {
    pub(crate) token: SecretValue,
    pub(crate) expiry: Option<Value>,
}

/// Item types `list-items` is asked for.
const LISTED_TYPES: [&str; 3] = ["static-secret", "dynamic-secret", "rotated-secret"];

/// The HTTP side: the client and the base URL.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    http: HttpClient,
    base: String,
}

impl Api {
    pub(crate) fn new(http: HttpClient, base: String) -> Api {
        Api { http, base }
    }

    /// The base URL (`https://api.akeyless.io`, `https://gw:8000/api/v2`).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `POST {base}/{op}` and parse the answer; errors carry `call`'s context.
    async fn post<T>(
        &self,
        call: Call<'_>,
        op: &str,
        body: Body,
        parse: impl FnOnce(&Answer<'_>) -> Result<T>,
    ) -> Result<T> {
        let url = format!("{}/{op}", self.base);
        let bytes = body.bytes();
        drop(body);
        let reply = self
            .http
            .send(call, |c| {
                c.post(&url)
                    .header(CONTENT_TYPE, "application/json")
                    .header(ACCEPT, "application/json")
                    .body(bytes.to_vec())
            })
            .await?;
        parse(&Answer::of(&reply)).map_err(|e| reply.context(e))
    }

    fn with_token(body: Body, token: &SecretValue) -> Result<Body> {
        Ok(body.set("token", token.expose_str()?))
    }

    /// `/auth` with the method's fields (`access-id`, `access-type`, `access-key` / `jwt` /
    /// `cloud-id`).
    pub(crate) async fn auth(&self, body: Body) -> Result<AuthAnswer> {
        self.post(Call::auth(), "auth", body, auth_answer).await
    }

    /// `get-secret-value` for `paths` (`names` is a list); `None` when one is missing (404).
    pub(crate) async fn get_secret_value(
        &self,
        call: Call<'_>,
        token: &SecretValue,
        paths: &[String],
        query: ValueQuery,
    ) -> Result<Option<HashMap<String, SecretValue>>> {
        let body = query.apply(Body::new().set("names", paths.to_vec()));
        let body = Self::with_token(body, token)?;
        self.post(call, "get-secret-value", body, values_answer)
            .await
    }

    /// `describe-item`; `None` when the item does not exist.
    pub(crate) async fn describe_item(
        &self,
        call: Call<'_>,
        token: &SecretValue,
        path: &str,
    ) -> Result<Option<ItemInfo>> {
        let body = Self::with_token(Body::new().set("name", path), token)?;
        self.post(call, "describe-item", body, describe_answer)
            .await
    }

    /// `get-dynamic-secret-value` (never retried: each call creates credentials).
    pub(crate) async fn get_dynamic_secret_value(
        &self,
        call: Call<'_>,
        token: &SecretValue,
        path: &str,
    ) -> Result<Option<Dynamic>> {
        let body = Self::with_token(Body::new().set("name", path), token)?;
        self.post(
            call.idempotent(false),
            "get-dynamic-secret-value",
            body,
            dynamic_answer,
        )
        .await
    }

    /// `get-rotated-secret-value`; `names` is ONE string for this operation.
    pub(crate) async fn get_rotated_secret_value(
        &self,
        call: Call<'_>,
        token: &SecretValue,
        path: &str,
        query: ValueQuery,
    ) -> Result<Option<SecretValue>> {
        let body = query.apply(Body::new().set("names", path));
        let body = Self::with_token(body, token)?;
        self.post(call, "get-rotated-secret-value", body, rotated_answer)
            .await
    }

    /// `create-secret` with the value and its metadata; 409 is [`Created::Exists`].
    pub(crate) async fn create_secret(
        &self,
        call: Call<'_>,
        token: &SecretValue,
        path: &str,
        value: &str,
        meta: &Metadata<'_>,
    ) -> Result<Created> {
        let mut body = Body::new().set("name", path).set("value", value);
        if let Some(d) = meta.description {
            body = body.set("description", d);
        }
        if !meta.tags.is_empty() {
            body = body.set("tags", meta.tags.clone());
        }
        let body = Self::with_token(body, token)?;
        self.post(call, "create-secret", body, created_answer).await
    }

    /// `update-secret-val`: a new version with `value` (it carries no description or tags).
    pub(crate) async fn update_secret_val(
        &self,
        call: Call<'_>,
        token: &SecretValue,
        path: &str,
        value: &str,
    ) -> Result<()> {
        let body = Body::new().set("name", path).set("value", value);
        let body = Self::with_token(body, token)?;
        self.post(call, "update-secret-val", body, done_answer)
            .await
    }

    /// `update-item`: the description, tags to add and tags to remove. Repeating it is harmless.
    pub(crate) async fn update_item(
        &self,
        call: Call<'_>,
        token: &SecretValue,
        path: &str,
        description: Option<&str>,
        add: &[String],
        remove: &[String],
    ) -> Result<()> {
        let mut body = Body::new().set("name", path);
        if let Some(d) = description {
            body = body.set("description", d);
        }
        if !add.is_empty() {
            body = body.set("add-tag", add.to_vec());
        }
        if !remove.is_empty() {
            body = body.set("rm-tag", remove.to_vec());
        }
        let body = Self::with_token(body, token)?;
        self.post(call.idempotent(true), "update-item", body, done_answer)
            .await
    }

    /// `delete-item` of the whole item (`version: -1`).
    pub(crate) async fn delete_item(
        &self,
        call: Call<'_>,
        token: &SecretValue,
        path: &str,
        mode: DeleteMode,
    ) -> Result<Deleted> {
        let mut body = Body::new().set("name", path).set("version", -1);
        if mode.immediately {
            body = body
                .set("delete-in-days", -1)
                .set("delete-immediately", true);
        } else if let Some(days) = mode.in_days {
            body = body.set("delete-in-days", days);
        }
        let body = Self::with_token(body, token)?;
        self.post(call.idempotent(true), "delete-item", body, deleted_answer)
            .await
    }

    /// One `list-items` page of `folder` (static, dynamic and rotated items, minimal view);
    /// `None` when the folder does not exist.
    pub(crate) async fn list_items(
        &self,
        call: Call<'_>,
        token: &SecretValue,
        folder: &str,
        page: Option<&str>,
    ) -> Result<Option<ListPage>> {
        let mut body = Body::new()
            .set("path", folder)
            .set("type", LISTED_TYPES.to_vec())
            .set("minimal-view", true);
        if let Some(p) = page {
            body = body.set("pagination-token", p);
        }
        let body = Self::with_token(body, token)?;
        self.post(call, "list-items", body, list_answer).await
    }
}

// ------------------------------------------------------------------ answer parsers

/// A JSON value as secret text: strings as they are, anything else as JSON.
fn value_text(v: &mut Value) -> SecretValue {
    match v {
        Value::String(s) => SecretValue::from(std::mem::take(s)),
        other => SecretValue::from_bytes(serde_json::to_vec(other).unwrap_or_default()),
    }
}

/// `/auth`: `{"token": "t-…", "creds": {"expiry": …}}`.
pub(crate) fn auth_answer(a: &Answer<'_>) -> Result<AuthAnswer> {
    if !a.status.is_success() {
        return Err(a.error());
    }
    let mut doc = a.wiped("auth")?;
    let token = match doc.0.get_mut("token") {
        Some(Value::String(t)) if !t.is_empty() => SecretValue::from(std::mem::take(t)),
        _ => return Err(Error::protocol("the `/auth` answer has no token")),
    };
    let expiry = doc
        .0
        .get("creds")
        .and_then(|c| c.get("expiry"))
        .filter(|e| e.is_number() || e.is_string())
        .map(|e| match e {
            Value::String(s) => Value::String(s.chars().take(32).collect()),
            other => other.clone(),
        });
    Ok(AuthAnswer { token, expiry })
}

/// `get-secret-value`: a plain map `{"<name>": "<value>"}`, keys made absolute.
pub(crate) fn values_answer(a: &Answer<'_>) -> Result<Option<HashMap<String, SecretValue>>> {
    if !a.found()? {
        return Ok(None);
    }
    let mut doc = a.wiped("get-secret-value")?;
    let Value::Object(map) = &mut doc.0 else {
        return Err(error::malformed("get-secret-value"));
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

/// The `Item` fields read from `describe-item`.
#[derive(Deserialize)]
struct Item {
    item_type: Option<String>,
    #[serde(default)]
    item_tags: Option<Vec<String>>,
    #[serde(default)]
    delete_protection: Option<Value>,
}

/// `describe-item`: the item's type, tags and delete protection; `None` on 404.
pub(crate) fn describe_answer(a: &Answer<'_>) -> Result<Option<ItemInfo>> {
    if !a.found()? {
        return Ok(None);
    }
    let item: Item = a.json("describe-item")?;
    let t = item
        .item_type
        .ok_or_else(|| Error::protocol("the `describe-item` answer has no item_type"))?;
    let delete_protection = match item.delete_protection {
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    Ok(Some(ItemInfo {
        kind: ItemKind::from_wire(&t),
        tags: item.item_tags.unwrap_or_default(),
        delete_protection,
    }))
}

/// A dynamic secret's lease, from the fields producers use.
fn lease_of(obj: &Map<String, Value>) -> Option<Duration> {
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

/// `get-dynamic-secret-value`: a free-form object; the lease from `ttl_in_minutes` (or `ttl`,
/// `lease_duration`, `ttl_in_seconds` seconds).
pub(crate) fn dynamic_answer(a: &Answer<'_>) -> Result<Option<Dynamic>> {
    if !a.found()? {
        return Ok(None);
    }
    let mut doc = a.wiped("get-dynamic-secret-value")?;
    let lease = match &doc.0 {
        Value::Object(map) => lease_of(map),
        _ => None,
    };
    Ok(Some(Dynamic {
        value: value_text(&mut doc.0),
        lease,
    }))
}

/// `get-rotated-secret-value`: `{"value": {...}}`; `value.payload` or `value.target_value` is
/// unwrapped (as External Secrets Operator does), else the whole `value`.
pub(crate) fn rotated_answer(a: &Answer<'_>) -> Result<Option<SecretValue>> {
    if !a.found()? {
        return Ok(None);
    }
    let mut doc = a.wiped("get-rotated-secret-value")?;
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
    Ok(Some(value))
}

/// `create-secret`: 2xx created, 409 exists.
pub(crate) fn created_answer(a: &Answer<'_>) -> Result<Created> {
    match a.status {
        s if s.is_success() => Ok(Created::Created),
        StatusCode::CONFLICT => Ok(Created::Exists),
        _ => Err(a.error()),
    }
}

/// Any 2xx is done.
pub(crate) fn done_answer(a: &Answer<'_>) -> Result<()> {
    if a.status.is_success() {
        Ok(())
    } else {
        Err(a.error())
    }
}

/// `delete-item`: 2xx and 404 are done; a 400 is a refusal with the server's reason.
pub(crate) fn deleted_answer(a: &Answer<'_>) -> Result<Deleted> {
    match a.status {
        s if s.is_success() => Ok(Deleted::Done),
        StatusCode::NOT_FOUND => Ok(Deleted::Done),
        StatusCode::BAD_REQUEST => Ok(Deleted::Refused(a.error())),
        _ => Err(a.error()),
    }
}

#[derive(Deserialize)]
struct ListedItem {
    item_name: Option<String>,
}

#[derive(Deserialize)]
struct ListOutput {
    #[serde(default)]
    items: Option<Vec<ListedItem>>,
    #[serde(default)]
    folders: Option<Vec<String>>,
    #[serde(default)]
    next_page: Option<String>,
}

/// `list-items`: item names, absolute folders, the next page's token; `None` on 404.
pub(crate) fn list_answer(a: &Answer<'_>) -> Result<Option<ListPage>> {
    if !a.found()? {
        return Ok(None);
    }
    let out: ListOutput = a.json("list-items")?;
    Ok(Some(ListPage {
        names: out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| i.item_name)
            .collect(),
        folders: out.folders.unwrap_or_default(),
        next_page: out.next_page.filter(|p| !p.is_empty()),
    }))
}

/// Whether a result is the backend refusing the token (a new log-in may help).
pub(crate) fn is_token_refused<T>(r: &Result<T>) -> bool {
    matches!(r, Err(e) if e.kind() == &ErrorKind::Unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &[u8]) -> Answer<'_> {
        Answer {
            status: StatusCode::OK,
            retry_after: None,
            body,
        }
    }

    #[test]
    fn describe_reads_protection_in_both_forms() {
        for body in [
            &br#"{"item_type":"STATIC_SECRET","delete_protection":true}"#[..],
            br#"{"item_type":"STATIC_SECRET","delete_protection":"true"}"#,
        ] {
            let info = describe_answer(&ok(body)).unwrap().unwrap();
            assert!(info.delete_protection);
            assert_eq!(info.kind, ItemKind::Static);
        }
        let info = describe_answer(&ok(
            br#"{"item_type":"rotated_secret","item_tags":["a=b"]}"#,
        ))
        .unwrap()
        .unwrap();
        assert!(!info.delete_protection);
        assert_eq!(info.kind, ItemKind::Rotated);
        assert_eq!(info.tags, ["a=b"]);
    }

    #[test]
    fn delete_refusal_keeps_the_reason() {
        let a = Answer {
            status: StatusCode::BAD_REQUEST,
            retry_after: None,
            body: br#"{"error":"protected"}"#,
        };
        match deleted_answer(&a).unwrap() {
            Deleted::Refused(e) => assert!(e.to_string().contains("protected")),
            Deleted::Done => panic!("a 400 is not done"),
        }
    }

    #[test]
    fn leases() {
        let obj = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            lease_of(&obj(serde_json::json!({"ttl_in_minutes": "2"}))),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            lease_of(&obj(serde_json::json!({"ttl": 30}))),
            Some(Duration::from_secs(30))
        );
        assert_eq!(lease_of(&obj(serde_json::json!({"ttl": -1}))), None);
    }
}
