//! The wire: every call to Vault (KV v2 and auth) through the core [`HttpClient`], and every
//! answer parser (the fuzz entry points in `fuzzing.rs` call these).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use strongroom_core::provider::http::{Call, HttpClient, Reply, push_encoded_path};
use strongroom_core::{
    Error, ErrorKind, Result, Secret, SecretName, SecretValue, WipedJson, WriteOptions,
};
use zeroize::Zeroizing;

use crate::config::NamespaceMode;
use crate::error::{api_error, cas_conflict, is_missing, login_error, unreachable};

const X_VAULT_TOKEN: &str = "x-vault-token";
const X_VAULT_NAMESPACE: &str = "x-vault-namespace";
const JSON: &str = "application/json";

/// Where the store's objects are: address, namespaces, mount and path prefix (validated).
pub(crate) struct Paths<'a> {
    pub(crate) addr: &'a str,
    pub(crate) mode: NamespaceMode,
    pub(crate) secret_namespace: Option<&'a str>,
    pub(crate) login_namespace: Option<&'a str>,
    pub(crate) mount: &'a str,
    pub(crate) path_prefix: Option<&'a str>,
}

/// The HTTP side of the store: the client and the precomputed URL bases and headers.
pub(crate) struct Api {
    http: HttpClient,
    addr: String,
    secret_ns: Option<HeaderValue>,
    login_ns: Option<HeaderValue>,
    /// `{addr}/v1/[{ns}/]{mount}/data/[{prefix}/]`
    data_base: String,
    /// `{addr}/v1/[{ns}/]{mount}/metadata/[{prefix}/]`
    metadata_base: String,
    /// `{addr}/v1/[{login ns}/]auth/`
    auth_base: String,
}

/// A log-in or renewal answer: the token header to send, its lease, whether it renews.
pub(crate) struct LoginAnswer {
    pub(crate) header: HeaderValue,
    pub(crate) lease: Duration,
    pub(crate) renewable: bool,
}

impl Api {
    pub(crate) fn new(
        http: HttpClient,
        p: &Paths<'_>,
        secret_ns: Option<HeaderValue>,
        login_ns: Option<HeaderValue>,
    ) -> Api {
        let base = |ns: Option<&str>| {
            let mut b = format!("{}/v1/", p.addr);
            if let (NamespaceMode::PathPrefix, Some(ns)) = (p.mode, ns) {
                push_encoded_path(&mut b, ns);
                b.push('/');
            }
            b
        };
        let kv = |kind: &str| {
            let mut b = base(p.secret_namespace);
            push_encoded_path(&mut b, p.mount);
            let _ = write!(b, "/{kind}/");
            if let Some(prefix) = p.path_prefix {
                push_encoded_path(&mut b, prefix);
                b.push('/');
            }
            b
        };
        Api {
            http,
            addr: p.addr.to_owned(),
            secret_ns,
            login_ns,
            data_base: kv("data"),
            metadata_base: kv("metadata"),
            auth_base: base(p.login_namespace) + "auth/",
        }
    }

    /// The configured address (for `Debug`).
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    fn url(base: &str, path: &str) -> String {
        let mut url = String::with_capacity(base.len() + path.len() * 3 + 16);
        url.push_str(base);
        push_encoded_path(&mut url, path);
        url
    }

    /// Sends one request: the token (secret calls and renewals), the namespace header of the
    /// secret or the log-in side, retries of idempotent calls and the body cap of the client.
    async fn send<F>(
        &self,
        call: Call<'_>,
        token: Option<&HeaderValue>,
        login_side: bool,
        build: F,
    ) -> Result<Reply>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let ns = if login_side {
            &self.login_ns
        } else {
            &self.secret_ns
        };
        self.http
            .send(call, |c| {
                let mut rb = build(c);
                if let Some(t) = token {
                    rb = rb.header(X_VAULT_TOKEN, t.clone());
                }
                if let Some(ns) = ns {
                    rb = rb.header(X_VAULT_NAMESPACE, ns.clone());
                }
                rb
            })
            .await
            .map_err(|e| unreachable(e, &self.addr))
    }

    /// `GET …/data/<name>[?version=N]`.
    pub(crate) async fn read(
        &self,
        token: &HeaderValue,
        call: Call<'_>,
        name: &str,
        version: Option<u64>,
        value_field: &str,
        field: Option<&str>,
    ) -> Result<Option<Secret>> {
        let mut url = Self::url(&self.data_base, name);
        if let Some(v) = version {
            let _ = write!(url, "?version={v}");
        }
        let reply = self.send(call, Some(token), false, |c| c.get(&url)).await?;
        read_answer(
            reply.status(),
            reply.retry_after(),
            reply.body(),
            value_field,
            field,
        )
        .map_err(|e| reply.context(e))
    }

    /// `POST …/data/<name> {"data": {"<field>": "<value>"}, "options": {"cas": N}}`: the new
    /// version. Sent once: every KV v2 write adds a version, so repeating one whose answer was
    /// lost (connection cut after the server applied it) would store it twice.
    pub(crate) async fn write(
        &self,
        token: &HeaderValue,
        call: Call<'_>,
        name: &str,
        body: &[u8],
        cas: bool,
    ) -> Result<Option<u64>> {
        let url = Self::url(&self.data_base, name);
        let reply = self
            .send(call.idempotent(false), Some(token), false, |c| {
                c.post(&url).header(CONTENT_TYPE, JSON).body(body.to_vec())
            })
            .await?;
        write_answer(reply.status(), reply.retry_after(), reply.body(), cas)
            .map_err(|e| reply.context(e))
    }

    /// `POST …/metadata/<name> {"custom_metadata": {...}}`: replaces the secret's custom
    /// metadata (a repeat is harmless).
    pub(crate) async fn write_metadata(
        &self,
        token: &HeaderValue,
        call: Call<'_>,
        name: &str,
        custom: &BTreeMap<String, String>,
    ) -> Result<()> {
        let url = Self::url(&self.metadata_base, name);
        let body = serde_json::to_vec(&MetadataWrite {
            custom_metadata: custom,
        })
        .map_err(|_| Error::protocol("cannot encode the metadata request"))?;
        let reply = self
            .send(call.idempotent(true), Some(token), false, |c| {
                c.post(&url).header(CONTENT_TYPE, JSON).body(body.clone())
            })
            .await?;
        if reply.is_success() {
            return Ok(());
        }
        Err(reply.context(api_error(reply.status(), reply.retry_after(), reply.body())))
    }

    /// `DELETE …/data/<name>` (soft delete of the latest version) or, with `force`,
    /// `DELETE …/metadata/<name>` (every version and the metadata). Missing is success.
    pub(crate) async fn delete(
        &self,
        token: &HeaderValue,
        call: Call<'_>,
        name: &str,
        force: bool,
    ) -> Result<()> {
        let base = if force {
            &self.metadata_base
        } else {
            &self.data_base
        };
        let url = Self::url(base, name);
        let reply = self
            .send(call, Some(token), false, |c| c.delete(&url))
            .await?;
        if reply.is_success()
            || (reply.status() == StatusCode::NOT_FOUND && is_missing(reply.body()))
        {
            return Ok(());
        }
        Err(reply.context(api_error(reply.status(), reply.retry_after(), reply.body())))
    }

    /// `LIST …/metadata/<dir>` (`GET ?list=true`); `dir` is empty or ends with `/`.
    pub(crate) async fn list(
        &self,
        token: &HeaderValue,
        call: Call<'_>,
        dir: &str,
    ) -> Result<Vec<String>> {
        let mut url = self.metadata_base.clone();
        if let Some(d) = dir.strip_suffix('/') {
            push_encoded_path(&mut url, d);
            url.push('/');
        }
        url.push_str("?list=true");
        let reply = self.send(call, Some(token), false, |c| c.get(&url)).await?;
        list_answer(reply.status(), reply.retry_after(), reply.body()).map_err(|e| reply.context(e))
    }

    /// `POST auth/<mount>/login {"role_id", "secret_id"}`.
    pub(crate) async fn login_approle(
        &self,
        mount: &str,
        role_id: &SecretValue,
        secret_id: &SecretValue,
    ) -> Result<LoginAnswer> {
        let body = Zeroizing::new(
            serde_json::to_vec(&AppRoleLogin {
                role_id: role_id.expose_str()?,
                secret_id: secret_id.expose_str()?,
            })
            .map_err(|_| Error::protocol("cannot encode the log-in request"))?,
        );
        self.login(&format!("{mount}/login"), None, &body, None)
            .await
    }

    /// `POST auth/<mount>/login {"name": "<role>"}`, the client certificate in the handshake.
    pub(crate) async fn login_cert(&self, mount: &str, role: Option<&str>) -> Result<LoginAnswer> {
        let body = serde_json::to_vec(&CertLogin { name: role })
            .map_err(|_| Error::protocol("cannot encode the log-in request"))?;
        self.login(&format!("{mount}/login"), None, &body, None)
            .await
    }

    /// `POST auth/token/renew-self {"increment": "<lease>s"}`.
    pub(crate) async fn renew_self(
        &self,
        token: &HeaderValue,
        lease: Duration,
    ) -> Result<LoginAnswer> {
        let body = serde_json::to_vec(&RenewSelf {
            increment: format!("{}s", lease.as_secs()),
        })
        .map_err(|_| Error::protocol("cannot encode the renewal request"))?;
        self.login("token/renew-self", Some(token), &body, Some(token))
            .await
    }

    async fn login(
        &self,
        path: &str,
        token: Option<&HeaderValue>,
        body: &[u8],
        previous: Option<&HeaderValue>,
    ) -> Result<LoginAnswer> {
        let url = Self::url(&self.auth_base, path);
        let reply = self
            .send(Call::auth(), token, true, |c| {
                c.post(&url).header(CONTENT_TYPE, JSON).body(body.to_vec())
            })
            .await?;
        login_answer(reply.status(), reply.retry_after(), reply.body(), previous)
            .map_err(|e| reply.context(e))
    }
}

// ---------------------------------------------------------------------------------------------
// What Vault accepts before any call.

/// Refuses names Vault would refuse or misread, before any call: a trailing `.` (404 on
/// HashiCorp Vault) and characters Go's `unicode.IsPrint` rejects (400).
pub(crate) fn check_name(name: &SecretName) -> Result<()> {
    if name.as_str().ends_with('.') {
        return Err(Error::invalid_name(
            name.as_str(),
            "Vault paths may not end with `.`",
        ));
    }
    if let Some(c) = name.as_str().chars().find(|c| is_unprintable(*c)) {
        return Err(Error::invalid_name(
            name.as_str(),
            format!(
                "Vault paths may not contain the invisible character {}",
                c.escape_unicode()
            ),
        ));
    }
    Ok(())
}

/// A KV v2 version: a positive integer.
pub(crate) fn version_number(text: &str) -> Result<u64> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| {
            Error::unsupported(
                "Vault KV v2 versions are positive integers",
                "pass a version number such as `3`",
            )
        })
}

/// The largest custom metadata Vault stores (its `validateCustomMetadata`).
const MAX_METADATA_KEYS: usize = 64;
const MAX_METADATA_KEY_BYTES: usize = 128;
const MAX_METADATA_VALUE_BYTES: usize = 512;

/// The `custom_metadata` a write stores: its tags plus `description`. Everything Vault cannot
/// store is refused here, before the value is written, so nothing is dropped silently: a
/// content type (KV v2 has none), a tag named `description` next to a description, and what
/// Vault's limits refuse (more than 64 entries, keys over 128 bytes, values empty or over 512
/// bytes, unprintable characters). `None` when there is nothing to store.
pub(crate) fn custom_metadata(opts: &WriteOptions) -> Result<Option<BTreeMap<String, String>>> {
    let refuse = |what: String| {
        Error::unsupported(
            format!("Vault cannot store this write's metadata: {what}"),
            "Vault keeps a description and tags in the secret's custom_metadata: at most 64 entries, keys of 1–128 bytes, values of 1–512 bytes, printable text",
        )
    };
    if opts.content_type.is_some() {
        return Err(refuse("KV v2 has no content type".to_owned()));
    }
    let mut custom = opts.tags.clone();
    if let Some(d) = opts.description.as_deref().filter(|d| !d.is_empty())
        && custom
            .insert("description".to_owned(), d.to_owned())
            .is_some()
    {
        return Err(refuse(
            "both a description and a tag named `description` were given".to_owned(),
        ));
    }
    if custom.len() > MAX_METADATA_KEYS {
        return Err(refuse(format!("{} entries", custom.len())));
    }
    for (k, v) in &custom {
        let printable = |s: &str| !s.chars().any(|c| c.is_control() || is_unprintable(c));
        if k.is_empty() || k.len() > MAX_METADATA_KEY_BYTES || !printable(k) {
            return Err(refuse(format!(
                "the tag key `{}` is empty, longer than 128 bytes or not printable",
                k.escape_debug()
            )));
        }
        if v.is_empty() || v.len() > MAX_METADATA_VALUE_BYTES || !printable(v) {
            return Err(refuse(format!(
                "the value of `{}` is empty, longer than 512 bytes or not printable",
                k.escape_debug()
            )));
        }
    }
    Ok((!custom.is_empty()).then_some(custom))
}

/// Characters Vault's path check refuses beyond the core's control characters: format
/// characters (zero-width, bidirectional controls, BOM …) and spaces other than U+0020.
fn is_unprintable(c: char) -> bool {
    matches!(c,
        '\u{a0}' | '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}'
        | '\u{1680}' | '\u{180e}' | '\u{2000}'..='\u{200f}' | '\u{202a}'..='\u{202f}'
        | '\u{205f}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{3000}' | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}' | '\u{e0001}' | '\u{e0020}'..='\u{e007f}')
}

/// The body of a value write, wiped when dropped.
pub(crate) fn write_body(
    value_field: &str,
    value: &SecretValue,
    cas: Option<u64>,
) -> Result<Zeroizing<Vec<u8>>> {
    let text = value.expose_str().map_err(|_| {
        Error::unsupported(
            "Vault KV values are JSON text; this value is binary",
            "base64-encode binary values before writing them",
        )
    })?;
    serde_json::to_vec(&KvWrite {
        data: OneField(value_field, text),
        options: cas.map(|cas| KvWriteOptions { cas }),
    })
    .map(Zeroizing::new)
    .map_err(|_| Error::protocol("cannot encode the write request"))
}

// ---------------------------------------------------------------------------------------------
// Answer parsers (fuzzed).

/// Interprets a KV v2 read answer: the secret, `Ok(None)` when it (or the field, or a live
/// version) does not exist, or the error.
pub(crate) fn read_answer(
    status: StatusCode,
    retry_after: Option<Duration>,
    bytes: &[u8],
    value_field: &str,
    field: Option<&str>,
) -> Result<Option<Secret>> {
    match status.as_u16() {
        200 => {}
        404 if is_missing(bytes) => return Ok(None),
        _ => return Err(api_error(status, retry_after, bytes)),
    }
    let parsed: KvReadResponse<'_> = serde_json::from_slice(bytes).map_err(|_| {
        Error::protocol("the read answer is not KV v2 JSON (is the mount KV version 2?)")
    })?;
    let Some(read) = parsed.data else {
        return Err(Error::protocol("the read answer has no `data` block"));
    };
    let Some(mut data) = read.data else {
        // A deleted or destroyed version answered 200 by some servers.
        return Ok(None);
    };
    let Some(map) = data.0.as_object_mut() else {
        return Err(Error::protocol(
            "the read answer's `data.data` is not an object",
        ));
    };
    let value = match field {
        None => match map.get_mut(value_field) {
            Some(v) => take_value(v),
            // No value field: the whole data map, as JSON, so `#field` works on it.
            None => SecretValue::from_bytes(
                serde_json::to_vec(map)
                    .map_err(|_| Error::protocol("cannot encode the data map"))?,
            ),
        },
        Some(field) => match map.get_mut(field) {
            Some(v) => take_value(v),
            None => match map.get_mut(value_field) {
                // The value field holds a JSON object: select from it.
                Some(serde_json::Value::String(s)) => {
                    let inner = SecretValue::from(std::mem::take(s));
                    match inner.json_field(field)? {
                        Some(v) => v,
                        None => return Ok(None),
                    }
                }
                _ => return Ok(None),
            },
        },
    };

    let meta = read.metadata.unwrap_or_default();
    let mut secret = Secret::new(value);
    if let Some(v) = meta.version {
        secret = secret.with_version(v.to_string());
    }
    if let Some(t) = meta.created_time.as_deref().filter(|t| !t.is_empty())
        && let Ok(t) = humantime::parse_rfc3339_weak(t)
    {
        secret = secret.with_created_at(t).with_updated_at(t);
    }
    if let Some(tags) = meta.custom_metadata {
        secret.tags = tags;
    }
    Ok(Some(secret))
}

/// Interprets a KV v2 write answer: the new version. A 400 to a check-and-set write is a
/// [`ErrorKind::Conflict`].
pub(crate) fn write_answer(
    status: StatusCode,
    retry_after: Option<Duration>,
    bytes: &[u8],
    cas: bool,
) -> Result<Option<u64>> {
    if status == StatusCode::BAD_REQUEST && cas {
        return Err(cas_conflict(bytes));
    }
    if !status.is_success() {
        return Err(api_error(status, retry_after, bytes));
    }
    Ok(serde_json::from_slice::<KvWriteResponse>(bytes)
        .ok()
        .and_then(|r| r.data)
        .and_then(|d| d.version))
}

/// Interprets a `LIST …/metadata/<dir>` answer: the keys (`dir/` for sub-directories); empty
/// when the directory does not exist.
pub(crate) fn list_answer(
    status: StatusCode,
    retry_after: Option<Duration>,
    bytes: &[u8],
) -> Result<Vec<String>> {
    match status.as_u16() {
        200 => {}
        404 if is_missing(bytes) => return Ok(Vec::new()),
        _ => return Err(api_error(status, retry_after, bytes)),
    }
    let parsed: ListResponse = serde_json::from_slice(bytes)
        .map_err(|_| Error::protocol("the list answer is not the expected JSON"))?;
    Ok(parsed.data.map(|d| d.keys).unwrap_or_default())
}

/// Interprets a log-in or renew-self answer. A renewal (`previous` set) may answer without a
/// token: the previous one stays.
pub(crate) fn login_answer(
    status: StatusCode,
    retry_after: Option<Duration>,
    bytes: &[u8],
    previous: Option<&HeaderValue>,
) -> Result<LoginAnswer> {
    if !status.is_success() {
        return Err(login_error(status, retry_after, bytes));
    }
    let parsed: AuthResponse = serde_json::from_slice(bytes)
        .map_err(|_| Error::protocol("the log-in answer is not the expected JSON"))?;
    let auth = parsed
        .auth
        .ok_or_else(|| Error::protocol("the log-in answer has no `auth` block"))?;
    let header = match previous {
        Some(p) if auth.client_token.is_empty() => p.clone(),
        _ if auth.client_token.is_empty() => {
            return Err(Error::new(
                ErrorKind::Protocol,
                "the log-in answer has no client token",
            ));
        }
        _ => {
            let mut h = HeaderValue::from_bytes(auth.client_token.as_bytes()).map_err(|_| {
                Error::protocol("the server issued a token that cannot be sent in an HTTP header")
            })?;
            h.set_sensitive(true);
            h
        }
    };
    Ok(LoginAnswer {
        header,
        lease: Duration::from_secs(auth.lease_duration),
        renewable: auth.renewable,
    })
}

/// Moves a JSON value out of the data map: strings as their text, anything else as JSON.
fn take_value(v: &mut serde_json::Value) -> SecretValue {
    match v {
        serde_json::Value::String(s) => SecretValue::from(std::mem::take(s)),
        other => SecretValue::from_bytes(serde_json::to_vec(other).unwrap_or_default()),
    }
}

// ---------------------------------------------------------------------------------------------
// Wire shapes.

/// `GET …/data/<path>` → `{"data": {"data": {...}, "metadata": {...}}}`.
#[derive(Deserialize)]
struct KvReadResponse<'a> {
    #[serde(borrow)]
    data: Option<KvRead<'a>>,
}

#[derive(Deserialize)]
struct KvRead<'a> {
    /// Wiped when dropped: it holds the values.
    data: Option<WipedJson>,
    #[serde(borrow)]
    metadata: Option<KvMetadata<'a>>,
}

/// Version metadata of one KV v2 version.
#[derive(Deserialize, Default)]
struct KvMetadata<'a> {
    #[serde(default)]
    version: Option<u64>,
    #[serde(default, borrow)]
    created_time: Option<Cow<'a, str>>,
    #[serde(default)]
    custom_metadata: Option<BTreeMap<String, String>>,
}

/// `POST …/data/<path>` body.
#[derive(Serialize)]
struct KvWrite<'a> {
    data: OneField<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<KvWriteOptions>,
}

#[derive(Serialize)]
struct KvWriteOptions {
    cas: u64,
}

/// A one-entry JSON object, serialised without copying the value.
struct OneField<'a>(&'a str, &'a str);

impl Serialize for OneField<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, self.1)?;
        m.end()
    }
}

/// `POST …/data/<path>` answer: `{"data": {"version": N, ...}}`.
#[derive(Deserialize)]
struct KvWriteResponse {
    data: Option<KvWriteData>,
}

#[derive(Deserialize)]
struct KvWriteData {
    version: Option<u64>,
}

/// `POST …/metadata/<path>` body.
#[derive(Serialize)]
struct MetadataWrite<'a> {
    custom_metadata: &'a BTreeMap<String, String>,
}

/// `LIST …/metadata/<dir>` answer: `{"data": {"keys": ["a", "dir/"]}}`.
#[derive(Deserialize)]
struct ListResponse {
    data: Option<ListData>,
}

#[derive(Deserialize)]
struct ListData {
    #[serde(default)]
    keys: Vec<String>,
}

/// `POST auth/<approle>/login` body.
#[derive(Serialize)]
struct AppRoleLogin<'a> {
    role_id: &'a str,
    secret_id: &'a str,
}

/// `POST auth/cert/login` body.
#[derive(Serialize)]
struct CertLogin<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

/// `POST auth/token/renew-self` body.
#[derive(Serialize)]
struct RenewSelf {
    increment: String,
}

/// Log-in and renew answers: `{"auth": {"client_token", "lease_duration", "renewable"}}`.
#[derive(Deserialize)]
struct AuthResponse {
    auth: Option<AuthBlock>,
}

#[derive(Deserialize)]
struct AuthBlock {
    #[serde(default)]
    client_token: Zeroizing<String>,
    #[serde(default)]
    lease_duration: u64,
    #[serde(default)]
    renewable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_body_shape() {
        let body = write_body("key", &SecretValue::from("v\"1"), Some(0)).unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"data":{"key":"v\"1"},"options":{"cas":0}}"#
        );
        let err = write_body("key", &SecretValue::from(vec![0xff]), None).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unsupported);
    }

    #[test]
    fn urls_encode_segments_and_keep_slashes() {
        let http = HttpClient::new("hcp-vault", &Default::default()).unwrap();
        let paths = Paths {
            addr: "http://h:1",
            mode: NamespaceMode::PathPrefix,
            secret_namespace: Some("org/te am"),
            login_namespace: None,
            mount: "kv",
            path_prefix: Some("app"),
        };
        let api = Api::new(http, &paths, None, None);
        assert_eq!(api.data_base, "http://h:1/v1/org/te%20am/kv/data/app/");
        assert_eq!(
            api.metadata_base,
            "http://h:1/v1/org/te%20am/kv/metadata/app/"
        );
        assert_eq!(api.auth_base, "http://h:1/v1/auth/");
        assert_eq!(
            Api::url(&api.data_base, "a b/ü?#%"),
            "http://h:1/v1/org/te%20am/kv/data/app/a%20b/%C3%BC%3F%23%25"
        );
    }

    #[test]
    fn metadata_vault_cannot_store_is_refused() {
        let ok = WriteOptions::new().description("d").tag("team", "core");
        let custom = custom_metadata(&ok).unwrap().unwrap();
        assert_eq!(custom["description"], "d");
        assert_eq!(custom["team"], "core");
        assert_eq!(custom_metadata(&WriteOptions::new()).unwrap(), None);
        assert_eq!(
            custom_metadata(&WriteOptions::new().description("")).unwrap(),
            None
        );
        let refused = [
            WriteOptions::new().content_type("text/plain"),
            WriteOptions::new().description("d").tag("description", "x"),
            WriteOptions::new().tag("k", ""),
            WriteOptions::new().tag("", "v"),
            WriteOptions::new().tag("k".repeat(129), "v"),
            WriteOptions::new().tag("k", "é".repeat(257)),
            WriteOptions::new().tag("k", "line\nbreak"),
            WriteOptions::new().tag("zero\u{200b}width", "v"),
            WriteOptions::new().description("x".repeat(513)),
            (0..65).fold(WriteOptions::new(), |o, i| o.tag(format!("k{i}"), "v")),
        ];
        for opts in refused {
            let err = custom_metadata(&opts).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::Unsupported, "{opts:?}: {err}");
        }
        let max = (0..64).fold(WriteOptions::new(), |o, i| o.tag(format!("k{i}"), "v"));
        assert_eq!(custom_metadata(&max).unwrap().unwrap().len(), 64);
        let edge = WriteOptions::new().tag("k".repeat(128), "v".repeat(512));
        assert!(custom_metadata(&edge).is_ok());
    }
}
