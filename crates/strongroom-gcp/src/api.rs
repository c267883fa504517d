//! Every wire call (Secret Manager REST v1, the OAuth token endpoint, STS, IAM credentials,
//! the metadata server; facts in `protocols.md`) and every answer parser. Calls go through the
//! core [`HttpClient`]: no redirects, capped bodies, bounded retries of idempotent calls,
//! errors with the call's context. Each API call takes the access token it is sent with — how
//! tokens are got and reused is [`crate::auth`]'s job.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use strongroom_core::provider::WipedJson;
use strongroom_core::provider::http::{Call, HttpClient, encode_component as enc};
use strongroom_core::{Error, Operation, Result, Secret, SecretName, SecretValue};
use zeroize::Zeroizing;

use crate::error::{PROVIDER, is_not_found, reply_error};

/// The scope every token is asked for.
pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// How a secret is replicated when a write creates it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Replication {
    /// Google chooses the locations (`{"automatic": {}}`).
    #[default]
    Automatic,
    /// Only these locations (`{"userManaged": {"replicas": [{"location": …}]}}`).
    UserManaged(Vec<String>),
}

impl Replication {
    fn to_json(&self) -> serde_json::Value {
        match self {
            Replication::Automatic => serde_json::json!({"automatic": {}}),
            Replication::UserManaged(locations) => {
                let replicas: Vec<_> = locations
                    .iter()
                    .map(|l| serde_json::json!({ "location": l }))
                    .collect();
                serde_json::json!({"userManaged": {"replicas": replicas}})
            }
        }
    }
}

/// What a write attaches to a secret it creates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Metadata {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
}

/// A token as a token endpoint answered it: the value and how long it lives.
pub(crate) struct IssuedToken {
    pub(crate) token: SecretValue,
    pub(crate) lifetime: Duration,
}

/// One page of `ListSecrets`: the secret ids and the next page's token.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ListPage {
    pub(crate) ids: Vec<String>,
    pub(crate) next_page_token: Option<String>,
}

/// The HTTP side of a store.
#[derive(Debug)]
pub(crate) struct Api {
    http: HttpClient,
    /// For the metadata server and link-local credential sources: never through the proxy.
    local: HttpClient,
    base: String,
    project: String,
}

fn bearer(token: &SecretValue) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_bytes(&[b"Bearer ", token.expose_secret()].concat())
        .map_err(|_| Error::protocol("the access token holds characters a header cannot carry"))?;
    v.set_sensitive(true);
    Ok(v)
}

/// `key=value&…`, every value fully percent-encoded; wiped on drop.
fn form(pairs: &[(&str, &[u8])]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::new());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        let text = Zeroizing::new(String::from_utf8_lossy(v).into_owned());
        out.extend_from_slice(enc(&text).as_bytes());
    }
    out
}

impl Api {
    /// `base` without a trailing `/`.
    pub(crate) fn new(http: HttpClient, local: HttpClient, base: String, project: String) -> Api {
        Api {
            http,
            local,
            base,
            project,
        }
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn project(&self) -> &str {
        &self.project
    }

    /// `{base}/v1/projects/{project}/secrets/{id}`.
    pub(crate) fn secret_url(&self, id: &str) -> String {
        format!(
            "{}/v1/projects/{}/secrets/{}",
            self.base,
            enc(&self.project),
            enc(id)
        )
    }

    /// `…/secrets/{id}/versions/{version}:access`.
    pub(crate) fn access_url(&self, id: &str, version: &str) -> String {
        format!("{}/versions/{}:access", self.secret_url(id), enc(version))
    }

    /// `{base}/v1/projects/{project}/secrets?pageSize=…[&pageToken=…][&filter=…]`.
    pub(crate) fn list_url(
        &self,
        page_size: u64,
        token: Option<&str>,
        filter: Option<&str>,
    ) -> String {
        let mut u = format!(
            "{}/v1/projects/{}/secrets?pageSize={page_size}",
            self.base,
            enc(&self.project)
        );
        if let Some(t) = token {
            u.push_str("&pageToken=");
            u.push_str(&enc(t));
        }
        if let Some(f) = filter {
            u.push_str("&filter=");
            u.push_str(&enc(f));
        }
        u
    }

    /// `AccessSecretVersion`: the payload, checked against its CRC32C. `None` on `NOT_FOUND`
    /// (no such secret or version).
    pub(crate) async fn access(
        &self,
        token: &SecretValue,
        name: &SecretName,
        id: &str,
        version: &str,
    ) -> Result<Option<Secret>> {
        let url = self.access_url(id, version);
        let auth = bearer(token)?;
        let reply = self
            .http
            .send(Call::new(Operation::Read, Some(name.as_str())), |c| {
                c.get(&url).header(AUTHORIZATION, auth.clone())
            })
            .await?;
        match reply.status().as_u16() {
            200 => parse_access(reply.body())
                .map(Some)
                .map_err(|e| reply.context(e)),
            _ if is_not_found(&reply) => Ok(None),
            _ => Err(reply_error(&reply)),
        }
    }

    /// `CreateSecret` with `replication` and `metadata`; `false` when it already exists.
    pub(crate) async fn create_secret(
        &self,
        token: &SecretValue,
        name: &SecretName,
        id: &str,
        replication: &Replication,
        metadata: &Metadata,
    ) -> Result<bool> {
        let url = format!(
            "{}/v1/projects/{}/secrets?secretId={}",
            self.base,
            enc(&self.project),
            enc(id)
        );
        let mut body = serde_json::json!({ "replication": replication.to_json() });
        if !metadata.labels.is_empty() {
            body["labels"] = serde_json::json!(metadata.labels);
        }
        if !metadata.annotations.is_empty() {
            body["annotations"] = serde_json::json!(metadata.annotations);
        }
        let body = body.to_string();
        let auth = bearer(token)?;
        // A repeat is harmless: the second answer is ALREADY_EXISTS, which counts as done.
        let call = Call::new(Operation::Write, Some(name.as_str())).idempotent(true);
        let reply = self
            .http
            .send(call, |c| {
                c.post(&url)
                    .header(AUTHORIZATION, auth.clone())
                    .header(CONTENT_TYPE, JSON)
                    .body(body.clone())
            })
            .await?;
        match reply.status().as_u16() {
            200 => Ok(true),
            409 => Ok(false),
            _ => Err(reply_error(&reply)),
        }
    }

    /// `AddSecretVersion` with the value and its CRC32C; the new version number. `None` when
    /// the secret does not exist (`NOT_FOUND`).
    pub(crate) async fn add_version(
        &self,
        token: &SecretValue,
        name: &SecretName,
        id: &str,
        value: &SecretValue,
    ) -> Result<Option<String>> {
        let url = format!("{}:addVersion", self.secret_url(id));
        let body = version_body(value.expose_secret());
        let auth = bearer(token)?;
        let reply = self
            .http
            .send(Call::new(Operation::Write, Some(name.as_str())), |c| {
                c.post(&url)
                    .header(AUTHORIZATION, auth.clone())
                    .header(CONTENT_TYPE, JSON)
                    .body(body.to_vec())
            })
            .await?;
        match reply.status().as_u16() {
            200 => parse_version_name(reply.body())
                .map(Some)
                .map_err(|e| reply.context(e)),
            _ if is_not_found(&reply) => Ok(None),
            _ => Err(reply_error(&reply)),
        }
    }

    /// `DeleteSecret`; `false` when there was nothing to delete.
    pub(crate) async fn delete_secret(
        &self,
        token: &SecretValue,
        name: &SecretName,
        id: &str,
    ) -> Result<bool> {
        let url = self.secret_url(id);
        let auth = bearer(token)?;
        let reply = self
            .http
            .send(Call::new(Operation::Delete, Some(name.as_str())), |c| {
                c.delete(&url).header(AUTHORIZATION, auth.clone())
            })
            .await?;
        match reply.status().as_u16() {
            200 | 204 => Ok(true),
            _ if is_not_found(&reply) => Ok(false),
            _ => Err(reply_error(&reply)),
        }
    }

    /// One page of `ListSecrets`.
    pub(crate) async fn list_page(
        &self,
        token: &SecretValue,
        page_size: u64,
        page_token: Option<&str>,
        filter: Option<&str>,
    ) -> Result<ListPage> {
        let url = self.list_url(page_size, page_token, filter);
        let auth = bearer(token)?;
        let reply = self
            .http
            .send(Call::new(Operation::List, None), |c| {
                c.get(&url).header(AUTHORIZATION, auth.clone())
            })
            .await?;
        match reply.status().as_u16() {
            200 => parse_list(reply.body()).map_err(|e| reply.context(e)),
            _ => Err(reply_error(&reply)),
        }
    }

    /// A form POST to a token endpoint (OAuth 2.0 or STS), answered with `access_token` and
    /// `expires_in`.
    pub(crate) async fn token_form(
        &self,
        url: &str,
        pairs: &[(&str, &[u8])],
    ) -> Result<IssuedToken> {
        let body = form(pairs);
        let reply = self
            .http
            .send(Call::auth(), |c| {
                c.post(url).header(CONTENT_TYPE, FORM).body(body.to_vec())
            })
            .await?;
        match reply.status().as_u16() {
            200 => parse_token(reply.body()).map_err(|e| reply.context(e)),
            _ => Err(reply_error(&reply)),
        }
    }

    /// The metadata server's token for the instance's default service account.
    pub(crate) async fn metadata_token(&self, metadata_base: &str) -> Result<IssuedToken> {
        let url = format!(
            "{metadata_base}/computeMetadata/v1/instance/service-accounts/default/token?scopes={}",
            enc(SCOPE)
        );
        let reply = self
            .local
            .send(Call::auth(), |c| {
                c.get(&url).header("Metadata-Flavor", "Google")
            })
            .await?;
        if reply.status().as_u16() != 200 {
            return Err(reply_error(&reply).with_hint(
                "the metadata server refused a token: does this VM / pod have a service account attached?",
            ));
        }
        // A real metadata server says who it is; anything else (a captive portal, a wrong
        // host) does not get trusted with the answer.
        if reply.header("metadata-flavor") != Some("Google") {
            return Err(reply.context(Error::protocol(
                "the metadata server's answer lacks `Metadata-Flavor: Google`; it is not a GCE metadata server",
            )));
        }
        parse_token(reply.body()).map_err(|e| reply.context(e))
    }

    /// A subject token from a URL credential source (`GET url` with `headers`); `field` names
    /// the JSON field that holds it, `None` for the body as text. Link-local and loopback URLs
    /// are fetched without the proxy.
    pub(crate) async fn subject_token_from_url(
        &self,
        url: &str,
        local: bool,
        headers: &[(String, String)],
        field: Option<&str>,
    ) -> Result<SecretValue> {
        let client = if local { &self.local } else { &self.http };
        let reply = client
            .send(Call::auth(), |c| {
                headers
                    .iter()
                    .fold(c.get(url), |r, (k, v)| r.header(k.as_str(), v.as_str()))
            })
            .await?;
        if !reply.is_success() {
            return Err(reply_error(&reply)
                .with_hint("the workload identity credential source refused a subject token"));
        }
        subject_token(reply.body(), field).map_err(|e| reply.context(e))
    }

    /// `generateAccessToken` of IAM credentials, authorized by `token` (the STS token).
    pub(crate) async fn impersonate(
        &self,
        url: &str,
        token: &SecretValue,
        lifetime: Duration,
        now: SystemTime,
    ) -> Result<IssuedToken> {
        let auth = bearer(token)?;
        let body = serde_json::json!({
            "scope": [SCOPE],
            "lifetime": format!("{}s", lifetime.as_secs()),
        })
        .to_string();
        let reply = self
            .http
            .send(Call::auth(), |c| {
                c.post(url)
                    .header(AUTHORIZATION, auth.clone())
                    .header(CONTENT_TYPE, JSON)
                    .body(body.clone())
            })
            .await?;
        match reply.status().as_u16() {
            200 => parse_impersonated(reply.body(), now).map_err(|e| reply.context(e)),
            _ => Err(reply_error(&reply)),
        }
    }
}

/// The `AddSecretVersion` body: `{"payload":{"data":"<base64>","dataCrc32c":"<n>"}}`, wiped on
/// drop.
pub(crate) fn version_body(data: &[u8]) -> Zeroizing<Vec<u8>> {
    let b64 = Zeroizing::new(STANDARD.encode(data));
    let crc = crc32c::crc32c(data);
    let mut out = Zeroizing::new(Vec::with_capacity(b64.len() + 64));
    out.extend_from_slice(br#"{"payload":{"data":""#);
    out.extend_from_slice(b64.as_bytes());
    out.extend_from_slice(format!(r#"","dataCrc32c":"{crc}"}}}}"#).as_bytes());
    out
}

/// A JSON integer that proto3 JSON may send as a string (`int64`) or a number.
fn int64(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::String(s) => s.trim().parse().ok(),
        v => v.as_i64(),
    }
}

/// Decodes proto3 JSON `bytes`: standard or URL-safe base64.
fn decode_bytes(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .ok()
        .map(Zeroizing::new)
}

/// The version number at the end of a version's resource name (`…/versions/3`).
fn version_of_name(name: &str) -> Option<String> {
    let (_, v) = name.rsplit_once("/versions/")?;
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.to_owned())
}

/// An `AccessSecretVersionResponse`: the value, checked against `payload.dataCrc32c` when the
/// answer carries one (a mismatch is a protocol error and no value is returned), with the
/// version number from `name`.
pub(crate) fn parse_access(body: &[u8]) -> Result<Secret> {
    let mut v =
        WipedJson(serde_json::from_slice(body).map_err(|_| {
            Error::protocol("the access answer is not the JSON this client expects")
        })?);
    if !v.0.get("payload").is_some_and(serde_json::Value::is_object) {
        return Err(Error::protocol("the access answer has no payload"));
    }
    let version = v.0["name"].as_str().and_then(version_of_name);
    let expected = int64(&v.0["payload"]["dataCrc32c"]);
    let data = match v.0.get_mut("payload").and_then(|p| p.get_mut("data")) {
        Some(serde_json::Value::String(text)) => {
            let text = Zeroizing::new(std::mem::take(text));
            decode_bytes(&text).ok_or_else(|| Error::protocol("the payload is not valid base64"))?
        }
        // proto3 JSON leaves out empty bytes.
        None | Some(serde_json::Value::Null) => Zeroizing::new(Vec::new()),
        Some(_) => return Err(Error::protocol("the payload's data is not a string")),
    };
    if let Some(expected) = expected {
        let got = crc32c::crc32c(&data);
        if i64::from(got) != expected {
            return Err(Error::protocol(format!(
                "the payload failed its CRC32C check (the server says {expected}, the data gives {got}); the value was not returned"
            ))
            .with_hint("the answer was corrupted on the way; try again"));
        }
    } else {
        tracing::debug!(
            provider = PROVIDER,
            "access answer without dataCrc32c; not checked"
        );
    }
    let mut secret = Secret::new(SecretValue::copy_from_slice(&data));
    if let Some(v) = version {
        secret = secret.with_version(v);
    }
    Ok(secret)
}

/// A `SecretVersion` answer → its version number.
pub(crate) fn parse_version_name(body: &[u8]) -> Result<String> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| Error::protocol("the version answer is not the JSON this client expects"))?;
    v["name"].as_str().and_then(version_of_name).ok_or_else(|| {
        Error::protocol("the version answer has no `name` ending in `/versions/<n>`")
    })
}

/// A `ListSecretsResponse` → the secret ids (after `/secrets/`) and the next page token.
pub(crate) fn parse_list(body: &[u8]) -> Result<ListPage> {
    #[derive(serde::Deserialize)]
    struct Item {
        name: String,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        #[serde(default)]
        secrets: Vec<Item>,
        #[serde(default)]
        next_page_token: Option<String>,
    }
    let page: Page = serde_json::from_slice(body)
        .map_err(|_| Error::protocol("the list answer is not the JSON this client expects"))?;
    Ok(ListPage {
        ids: page
            .secrets
            .into_iter()
            .filter_map(|s| s.name.rsplit_once("/secrets/").map(|(_, id)| id.to_owned()))
            .collect(),
        next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
    })
}

/// An OAuth 2.0 / STS / metadata token answer: `access_token` and `expires_in` (seconds;
/// one hour when missing).
pub(crate) fn parse_token(body: &[u8]) -> Result<IssuedToken> {
    let mut v =
        WipedJson(serde_json::from_slice(body).map_err(|_| {
            Error::protocol("the token answer is not the JSON this client expects")
        })?);
    let lifetime = int64(&v.0["expires_in"])
        .map(|s| Duration::from_secs(s.max(0) as u64))
        .unwrap_or(Duration::from_secs(3600));
    match v.0.get_mut("access_token") {
        Some(serde_json::Value::String(t)) if !t.is_empty() => Ok(IssuedToken {
            token: SecretValue::from(std::mem::take(t)),
            lifetime,
        }),
        _ => Err(Error::protocol("the token answer has no access_token")),
    }
}

/// A `generateAccessToken` answer: `accessToken` and `expireTime` (RFC 3339), its lifetime
/// counted from `now`.
pub(crate) fn parse_impersonated(body: &[u8], now: SystemTime) -> Result<IssuedToken> {
    let mut v = WipedJson(serde_json::from_slice(body).map_err(|_| {
        Error::protocol("the impersonation answer is not the JSON this client expects")
    })?);
    let lifetime = v.0["expireTime"]
        .as_str()
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
        .map(|at| at.duration_since(now).unwrap_or_default())
        .ok_or_else(|| Error::protocol("the impersonation answer has no valid expireTime"))?;
    match v.0.get_mut("accessToken") {
        Some(serde_json::Value::String(t)) if !t.is_empty() => Ok(IssuedToken {
            token: SecretValue::from(std::mem::take(t)),
            lifetime,
        }),
        _ => Err(Error::protocol(
            "the impersonation answer has no accessToken",
        )),
    }
}

/// A subject token: the body as text, or the string in its JSON field `field`.
pub(crate) fn subject_token(body: &[u8], field: Option<&str>) -> Result<SecretValue> {
    let token = match field {
        None => {
            let text = std::str::from_utf8(body)
                .map_err(|_| Error::protocol("the subject token is not UTF-8 text"))?;
            SecretValue::from(text.trim())
        }
        Some(field) => {
            let mut v =
                WipedJson(serde_json::from_slice(body).map_err(|_| {
                    Error::protocol("the subject token source did not answer JSON")
                })?);
            match v.0.get_mut(field) {
                Some(serde_json::Value::String(t)) => SecretValue::from(std::mem::take(t)),
                _ => {
                    return Err(Error::protocol(format!(
                        "the subject token source's JSON has no string field `{}`",
                        strongroom_core::provider::http::sanitize(field)
                    )));
                }
            }
        }
    };
    if token.is_blank() {
        return Err(Error::protocol("the subject token is empty"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_core::ErrorKind;
    use strongroom_core::config::HttpConfig;

    fn api() -> Api {
        let http = HttpClient::new(PROVIDER, &HttpConfig::default()).unwrap();
        Api::new(http.clone(), http, "https://h".into(), "my-proj".into())
    }

    #[test]
    fn urls() {
        let a = api();
        assert_eq!(
            a.secret_url("a--b"),
            "https://h/v1/projects/my-proj/secrets/a--b"
        );
        assert_eq!(
            a.access_url("x", "latest"),
            "https://h/v1/projects/my-proj/secrets/x/versions/latest:access"
        );
        assert_eq!(
            a.list_url(100, Some("t/+="), Some("name:lite")),
            "https://h/v1/projects/my-proj/secrets?pageSize=100&pageToken=t%2F%2B%3D&filter=name%3Alite"
        );
        assert_eq!(&*form(&[("a", b"x y"), ("b", b"&=")]), b"a=x%20y&b=%26%3D");
    }

    #[test]
    fn access_answers_are_checked() {
        let data = b"s3cr3t";
        let crc = crc32c::crc32c(data);
        let good = serde_json::json!({
            "name": "projects/123/secrets/a/versions/4",
            "payload": {"data": STANDARD.encode(data), "dataCrc32c": crc.to_string()}
        });
        let s = parse_access(good.to_string().as_bytes()).unwrap();
        assert_eq!(s.value.expose_secret(), data);
        assert_eq!(s.version.as_deref(), Some("4"));
        // A number works too (proto3 JSON parsers accept both).
        let num = serde_json::json!({"name": "x/versions/1", "payload": {"data": STANDARD.encode(data), "dataCrc32c": crc}});
        assert!(parse_access(num.to_string().as_bytes()).is_ok());
        let bad = serde_json::json!({"name": "x/versions/1", "payload": {"data": STANDARD.encode(data), "dataCrc32c": (crc ^ 1).to_string()}});
        let err = parse_access(bad.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Protocol);
        assert!(err.to_string().contains("CRC32C"), "{err}");
        assert!(!err.to_string().contains("s3cr3t"));
        // Empty bytes are left out by proto3 JSON.
        let empty = parse_access(br#"{"name":"x/versions/2","payload":{}}"#).unwrap();
        assert!(empty.value.expose_secret().is_empty());
        for garbage in [
            &b"[]"[..],
            b"{",
            br#"{"payload":{"data":"!!"}}"#,
            br#"{"payload":{"data":5}}"#,
        ] {
            assert!(parse_access(garbage).is_err());
        }
    }

    #[test]
    fn version_bodies_carry_the_checksum() {
        let body = version_body(b"hello");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["payload"]["data"], STANDARD.encode(b"hello"));
        assert_eq!(
            v["payload"]["dataCrc32c"],
            crc32c::crc32c(b"hello").to_string()
        );
        // The CRC-32C check value of "123456789" (RFC 3720 B.4).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn lists_and_tokens() {
        let page = parse_list(
            br#"{"secrets":[{"name":"projects/9/secrets/a--b"},{"name":"odd"}],"nextPageToken":"t2","totalSize":2}"#,
        )
        .unwrap();
        assert_eq!(page.ids, vec!["a--b".to_string()]);
        assert_eq!(page.next_page_token.as_deref(), Some("t2"));
        assert_eq!(parse_list(b"{}").unwrap(), ListPage::default());
        assert_eq!(
            parse_list(br#"{"nextPageToken":""}"#)
                .unwrap()
                .next_page_token,
            None
        );
        let t =
            parse_token(br#"{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}"#)
                .unwrap();
        assert_eq!(t.token.expose_str().unwrap(), "ya29.x");
        assert_eq!(t.lifetime, Duration::from_secs(3599));
        assert!(parse_token(br#"{"expires_in":1}"#).is_err());
        let now = humantime::parse_rfc3339("2030-01-01T00:00:00Z").unwrap();
        let t = parse_impersonated(
            br#"{"accessToken":"ya29.i","expireTime":"2030-01-01T01:00:00Z"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.lifetime, Duration::from_secs(3600));
        assert_eq!(
            subject_token(b" jwt \n", None)
                .unwrap()
                .expose_str()
                .unwrap(),
            "jwt"
        );
        assert_eq!(
            subject_token(br#"{"access_token":"j"}"#, Some("access_token"))
                .unwrap()
                .expose_str()
                .unwrap(),
            "j"
        );
        assert!(subject_token(b"{}", Some("access_token")).is_err());
        assert!(subject_token(b"  ", None).is_err());
    }
}
