//! Every wire call (`protocols.md` §1, §7, §8) and every answer parser. Calls go through the
//! core [`HttpClient`] (no redirects, capped bodies, bounded retries of idempotent calls,
//! errors with the call's context); each takes the token it is sent with — log-in and token
//! reuse are [`crate::auth`]'s job.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use reqwest::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use strongroom_core::provider::WipedJson;
use strongroom_core::provider::http::{Call, HttpClient, encode_component as enc};
use strongroom_core::{
    Error, ErrorKind, Operation, ReadManyResult, ReadOptions, Result, Secret, SecretName,
    SecretValue,
};
use zeroize::Zeroizing;

use crate::error::{error_code, reply_error};

/// How a log-in proves who it is.
#[derive(Clone, Copy)]
pub(crate) enum Credential<'a> {
    /// `POST /authn/{account}/{login}/authenticate`, the API key as body.
    ApiKey(&'a SecretValue),
    /// `POST /authn-cert/{service_id}/{account}[/{host}]/authenticate`, empty body.
    Cert {
        service_id: &'a str,
        host: Option<&'a str>,
    },
}

/// When a token was issued and when it expires, as its payload says (the server's clock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TokenTimes {
    pub(crate) issued: Option<SystemTime>,
    pub(crate) expires: Option<SystemTime>,
}

/// The answer to a batch read.
pub(crate) enum Batch {
    /// The values found, and the names the answer lacked.
    Values(ReadManyResult, Vec<SecretName>),
    /// The server refused the batch as a whole (404 = an id missing or without value, 406 = a
    /// binary value, 422 = an id it did not like).
    Refused,
}

/// The answer to a policy load.
pub(crate) enum PolicyLoad {
    Loaded,
    /// 409 `policy_conflict`: another load is running; try again after this long.
    Conflict(Option<Duration>),
}

/// The HTTP side of a store: the client and the server's addresses.
#[derive(Debug)]
pub(crate) struct Api {
    http: HttpClient,
    base: String,
    account: String,
}

impl Api {
    /// `base` without a trailing `/`.
    pub(crate) fn new(http: HttpClient, base: String, account: String) -> Api {
        Api {
            http,
            base,
            account,
        }
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn account(&self) -> &str {
        &self.account
    }

    /// `/authn/{account}/{login}/authenticate`, login fully encoded (`host/app` → `host%2Fapp`).
    fn authn_url(&self, login: &str) -> String {
        format!(
            "{}/authn/{}/{}/authenticate",
            self.base,
            enc(&self.account),
            enc(login)
        )
    }

    /// `/authn-cert/{service_id}/{account}[/{host_id}]/authenticate`.
    fn authn_cert_url(&self, service_id: &str, host: Option<&str>) -> String {
        let mut u = format!(
            "{}/authn-cert/{}/{}",
            self.base,
            enc(service_id),
            enc(&self.account)
        );
        if let Some(h) = host {
            u.push('/');
            u.push_str(&enc(h));
        }
        u.push_str("/authenticate");
        u
    }

    /// `/secrets/{account}/variable/{id}[?version=N]`, id fully encoded.
    fn secret_url(&self, id: &str, version: Option<u64>) -> String {
        let mut u = format!(
            "{}/secrets/{}/variable/{}",
            self.base,
            enc(&self.account),
            enc(id)
        );
        if let Some(v) = version {
            u.push_str(&format!("?version={v}"));
        }
        u
    }

    /// `/secrets?variable_ids=a:variable:x,a:variable:y`: each id encoded, commas literal.
    pub(crate) fn batch_url(&self, ids: &[&str]) -> String {
        let list: Vec<String> = ids
            .iter()
            .map(|id| enc(&qualified(&self.account, id)))
            .collect();
        format!("{}/secrets?variable_ids={}", self.base, list.join(","))
    }

    /// `/policies/{account}/policy/{branch}`.
    fn policy_url(&self, branch: &str) -> String {
        format!(
            "{}/policies/{}/policy/{}",
            self.base,
            enc(&self.account),
            enc(branch)
        )
    }

    /// `/resources/{account}/variable?limit=&offset=[&search=]`.
    fn resources_url(&self, search: Option<&str>, limit: u64, offset: u64) -> String {
        let mut u = format!(
            "{}/resources/{}/variable?limit={limit}&offset={offset}",
            self.base,
            enc(&self.account)
        );
        if let Some(s) = search {
            u.push_str("&search=");
            u.push_str(&enc(s));
        }
        u
    }

    /// `/resources/{account}/variable/{id}`.
    fn resource_url(&self, id: &str) -> String {
        format!(
            "{}/resources/{}/variable/{}",
            self.base,
            enc(&self.account),
            enc(id)
        )
    }

    /// Logs in; the token (as sent in the header) and its times.
    pub(crate) async fn authenticate(
        &self,
        login: &str,
        credential: Credential<'_>,
    ) -> Result<(SecretValue, TokenTimes)> {
        let (url, key) = match credential {
            Credential::ApiKey(key) => (self.authn_url(login), Some(key)),
            Credential::Cert { service_id, host } => (self.authn_cert_url(service_id, host), None),
        };
        let reply = self
            .http
            .send(Call::auth(), |c| {
                let body = key.map(|k| k.expose_secret().to_vec()).unwrap_or_default();
                c.post(&url).header(CONTENT_TYPE, "text/plain").body(body)
            })
            .await?;
        match reply.status().as_u16() {
            200 => token_from_answer(reply.body()).map_err(|e| reply.context(e)),
            404 => Err(reply_error(&reply).with_hint(
                "the authenticator, account or login does not exist (is the account right?)",
            )),
            _ => Err(reply_error(&reply)),
        }
    }

    /// `GET` one variable: `None` when missing, invisible or without a value (all 404).
    pub(crate) async fn read(
        &self,
        token: &SecretValue,
        name: &SecretName,
        version: Option<u64>,
    ) -> Result<Option<Secret>> {
        let url = self.secret_url(name.as_str(), version);
        let auth = auth_header(token)?;
        let call = Call::new(Operation::Read, Some(name.as_str()));
        let reply = self
            .http
            .send(call, |c| c.get(&url).header(AUTHORIZATION, auth.clone()))
            .await?;
        match reply.status().as_u16() {
            200 => {
                let mut secret = Secret::new(SecretValue::copy_from_slice(reply.body()));
                if let Some(ct) = reply.header("content-type") {
                    secret = secret.with_content_type(ct);
                }
                if let Some(v) = version {
                    secret = secret.with_version(v.to_string());
                }
                Ok(Some(secret))
            }
            404 => Ok(None),
            _ => Err(reply_error(&reply)),
        }
    }

    /// One batch `GET /secrets?variable_ids=…` with `Accept-Encoding: base64`.
    pub(crate) async fn read_batch(
        &self,
        token: &SecretValue,
        names: &[SecretName],
        opts: &ReadOptions,
    ) -> Result<Batch> {
        let ids: Vec<&str> = names.iter().map(SecretName::as_str).collect();
        let url = self.batch_url(&ids);
        let auth = auth_header(token)?;
        let reply = self
            .http
            .send(Call::new(Operation::ReadMany, None), |c| {
                c.get(&url)
                    .header(AUTHORIZATION, auth.clone())
                    .header(ACCEPT_ENCODING, "base64")
            })
            .await?;
        match reply.status().as_u16() {
            200 => {
                let base64 = reply
                    .header("content-encoding")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("base64"));
                let (found, missing) =
                    parse_batch(reply.body(), base64, &self.account, names, opts)
                        .map_err(|e| reply.context(e))?;
                Ok(Batch::Values(found, missing))
            }
            404 | 406 | 422 => Ok(Batch::Refused),
            _ => Err(reply_error(&reply)),
        }
    }

    /// An add-only (`POST`) policy load of `doc` into `branch`, on behalf of a write to `name`.
    /// Loading the same declaration again changes nothing, so the call may be repeated.
    pub(crate) async fn load_policy(
        &self,
        token: &SecretValue,
        branch: &str,
        doc: &str,
        name: &SecretName,
    ) -> Result<PolicyLoad> {
        let url = self.policy_url(branch);
        let auth = auth_header(token)?;
        let call = Call::new(Operation::Write, Some(name.as_str())).idempotent(true);
        let reply = self
            .http
            .send(call, |c| {
                c.post(&url)
                    .header(AUTHORIZATION, auth.clone())
                    .header(CONTENT_TYPE, "application/x-yaml")
                    .body(doc.to_owned())
            })
            .await?;
        match reply.status().as_u16() {
            200 | 201 => Ok(PolicyLoad::Loaded),
            409 if error_code(reply.body()).as_deref() == Some("policy_conflict") => {
                Ok(PolicyLoad::Conflict(reply.retry_after()))
            }
            404 => Err(reply_error(&reply).with_hint(format!(
                "the policy branch `{branch}` does not exist or is not visible (policy_branch)"
            ))),
            _ => Err(reply_error(&reply)),
        }
    }

    /// Sets a value. Sent once: Conjur adds a version per `POST`, so a retry after a lost
    /// answer would store it twice.
    pub(crate) async fn set_value(
        &self,
        token: &SecretValue,
        name: &SecretName,
        value: &SecretValue,
    ) -> Result<()> {
        let url = self.secret_url(name.as_str(), None);
        let auth = auth_header(token)?;
        let reply = self
            .http
            .send(Call::new(Operation::Write, Some(name.as_str())), |c| {
                c.post(&url)
                    .header(AUTHORIZATION, auth.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(value.expose_secret().to_vec())
            })
            .await?;
        match reply.status().as_u16() {
            200 | 201 | 204 => Ok(()),
            _ => Err(reply_error(&reply)),
        }
    }

    /// One page of `GET /resources/{account}/variable`: the number of resources on the page
    /// and the variable ids among them.
    pub(crate) async fn list_page(
        &self,
        token: &SecretValue,
        search: Option<&str>,
        limit: u64,
        offset: u64,
    ) -> Result<(usize, Vec<String>)> {
        let url = self.resources_url(search, limit, offset);
        let auth = auth_header(token)?;
        let reply = self
            .http
            .send(Call::new(Operation::List, None), |c| {
                c.get(&url).header(AUTHORIZATION, auth.clone())
            })
            .await?;
        if reply.status().as_u16() != 200 {
            return Err(reply_error(&reply));
        }
        parse_resource_ids(reply.body(), &self.account).map_err(|e| reply.context(e))
    }

    /// The annotations of a variable (`None` when it is not visible).
    pub(crate) async fn annotations(
        &self,
        token: &SecretValue,
        name: &SecretName,
    ) -> Result<Option<BTreeMap<String, String>>> {
        let url = self.resource_url(name.as_str());
        let auth = auth_header(token)?;
        let call = Call::new(Operation::Write, Some(name.as_str())).idempotent(true);
        let reply = self
            .http
            .send(call, |c| c.get(&url).header(AUTHORIZATION, auth.clone()))
            .await?;
        match reply.status().as_u16() {
            200 => parse_annotations(reply.body())
                .map(Some)
                .map_err(|e| reply.context(e)),
            404 => Ok(None),
            _ => Err(reply_error(&reply)),
        }
    }
}

/// The fully qualified id `account:variable:id`.
fn qualified(account: &str, id: &str) -> String {
    format!("{account}:variable:{id}")
}

/// `Token token="<base64>"` — quoted, as the server's Rack middleware requires — marked
/// sensitive so no `Debug` of the request shows it.
pub(crate) fn auth_header(token: &SecretValue) -> Result<HeaderValue> {
    let mut text = Zeroizing::new(String::with_capacity(token.len() + 16));
    text.push_str("Token token=\"");
    text.push_str(token.expose_str()?);
    text.push('"');
    let mut v = HeaderValue::from_str(&text)
        .map_err(|_| Error::protocol("the access token cannot be sent as an HTTP header"))?;
    v.set_sensitive(true);
    Ok(v)
}

/// Turns an authenticate answer into the header value and the token's times.
///
/// * JSON token `{"protected","payload","signature"}` → base64 (standard, padded, one line) of
///   the bytes as received; times = `iat` / `exp` of the payload.
/// * Compact JWT (`a.b.c`) → used as-is; times from its middle part.
/// * An already base64-encoded JSON token (`Accept-Encoding: base64` answer) → used as-is
///   (line breaks removed).
pub(crate) fn token_from_answer(body: &[u8]) -> Result<(SecretValue, TokenTimes)> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(Error::protocol("the authenticate answer is empty"));
    }
    if trimmed.starts_with(b"{") {
        let token: WipedJson =
            WipedJson(serde_json::from_slice(trimmed).map_err(|_| {
                Error::protocol("the authenticate answer is not a JSON access token")
            })?);
        if token.0.get("signature").and_then(|s| s.as_str()).is_none() {
            return Err(Error::protocol(
                "the authenticate answer is JSON but not an access token (no signature)",
            ));
        }
        let times = token
            .0
            .get("payload")
            .and_then(|p| p.as_str())
            .map(payload_times)
            .unwrap_or_default();
        let b64 = base64::engine::general_purpose::STANDARD.encode(trimmed);
        return Ok((SecretValue::from(b64), times));
    }
    let text = std::str::from_utf8(trimmed)
        .map_err(|_| Error::protocol("the authenticate answer is neither JSON nor text"))?;
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    let parts: Vec<&str> = compact.split('.').collect();
    if parts.len() == 3 && parts.iter().all(|p| !p.is_empty()) {
        let times = payload_times(parts[1]);
        return Ok((SecretValue::from(compact.as_str()), times));
    }
    if let Some(inner) = decode_any_base64(&compact)
        && inner.trim_ascii().starts_with(b"{")
    {
        let (_, times) = token_from_answer(&inner)?;
        return Ok((SecretValue::from(compact.as_str()), times));
    }
    Err(Error::new(
        ErrorKind::Protocol,
        "the authenticate answer is not an access token",
    ))
}

/// `iat` and `exp` of a base64 token payload, either alphabet, padded or not.
pub(crate) fn payload_times(payload_b64: &str) -> TokenTimes {
    let Some(bytes) = decode_any_base64(payload_b64) else {
        return TokenTimes::default();
    };
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return TokenTimes::default();
    };
    let at = |k: &str| {
        let v = payload.get(k)?;
        let secs = v
            .as_u64()
            .or_else(|| v.as_f64().map(|f| f.clamp(0.0, 1e12) as u64))?;
        UNIX_EPOCH.checked_add(Duration::from_secs(secs))
    };
    TokenTimes {
        issued: at("iat"),
        expires: at("exp"),
    }
}

/// Decodes standard or URL-safe base64, padded or not, ignoring white space.
pub(crate) fn decode_any_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let cfg = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let cleaned: Zeroizing<String> = Zeroizing::new(
        text.chars()
            .filter(|c| !c.is_ascii_whitespace())
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect(),
    );
    GeneralPurpose::new(&alphabet::STANDARD, cfg)
        .decode(cleaned.as_bytes())
        .ok()
        .map(Zeroizing::new)
}

/// Parses a `200` batch answer (`{"<account>:variable:<id>": "<value>", …}`, values base64
/// when `base64`): the values of `names` found in it (with `opts.field` applied), and the
/// names it does not hold.
pub(crate) fn parse_batch(
    body: &[u8],
    base64: bool,
    account: &str,
    names: &[SecretName],
    opts: &ReadOptions,
) -> Result<(ReadManyResult, Vec<SecretName>)> {
    let mut map = WipedJson(
        serde_json::from_slice(body)
            .map_err(|_| Error::protocol("the batch answer is not a JSON object"))?,
    );
    let Some(map) = map.0.as_object_mut() else {
        return Err(Error::protocol("the batch answer is not a JSON object"));
    };
    let mut out = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for name in names {
        let Some(serde_json::Value::String(text)) = map.get_mut(&qualified(account, name.as_str()))
        else {
            missing.push(name.clone());
            continue;
        };
        let text = Zeroizing::new(std::mem::take(text));
        let value = if base64 {
            let bytes = decode_any_base64(&text)
                .ok_or_else(|| Error::protocol("a batch value is not valid base64"))?;
            SecretValue::copy_from_slice(&bytes)
        } else {
            SecretValue::copy_from_slice(text.as_bytes())
        };
        out.push((name.clone(), select(Secret::new(value), opts)?));
    }
    Ok((out, missing))
}

/// `opts.field` of a secret, or the whole secret.
pub(crate) fn select(secret: Secret, opts: &ReadOptions) -> Result<Option<Secret>> {
    match &opts.field {
        Some(field) => secret.select_field(field),
        None => Ok(Some(secret)),
    }
}

/// A resources page: how many resources it holds, and the ids of the variables among them
/// (without `account:variable:`).
pub(crate) fn parse_resource_ids(body: &[u8], account: &str) -> Result<(usize, Vec<String>)> {
    let page: Vec<serde_json::Value> = serde_json::from_slice(body)
        .map_err(|_| Error::protocol("the resources answer is not a JSON array"))?;
    let strip = format!("{account}:variable:");
    let ids = page
        .iter()
        .filter_map(|r| r.get("id")?.as_str()?.strip_prefix(&strip))
        .map(str::to_owned)
        .collect();
    Ok((page.len(), ids))
}

/// The `annotations` of a resource answer as name → value.
pub(crate) fn parse_annotations(body: &[u8]) -> Result<BTreeMap<String, String>> {
    #[derive(serde::Deserialize)]
    struct Annotation {
        name: String,
        value: String,
    }
    #[derive(serde::Deserialize)]
    struct Resource {
        #[serde(default)]
        annotations: Vec<Annotation>,
    }
    let r: Resource = serde_json::from_slice(body)
        .map_err(|_| Error::protocol("the resource answer is not the JSON this client expects"))?;
    Ok(r.annotations
        .into_iter()
        .map(|a| (a.name, a.value))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use strongroom_core::config::HttpConfig;

    fn api() -> Api {
        let http = HttpClient::new("conjur", &HttpConfig::default()).unwrap();
        Api::new(http, "http://h".into(), "acct".into())
    }

    #[test]
    fn encodes_like_the_vendor_sdk() {
        let a = api();
        assert_eq!(
            a.authn_url("host/app"),
            "http://h/authn/acct/host%2Fapp/authenticate"
        );
        assert_eq!(
            a.authn_url("alice@devops"),
            "http://h/authn/acct/alice%40devops/authenticate"
        );
        assert_eq!(
            a.secret_url("litellm/db password", None),
            "http://h/secrets/acct/variable/litellm%2Fdb%20password"
        );
        assert_eq!(
            a.secret_url("a+b&c", Some(3)),
            "http://h/secrets/acct/variable/a%2Bb%26c?version=3"
        );
        assert_eq!(
            a.batch_url(&["a/b", "c"]),
            "http://h/secrets?variable_ids=acct%3Avariable%3Aa%2Fb,acct%3Avariable%3Ac"
        );
        assert_eq!(a.policy_url("root"), "http://h/policies/acct/policy/root");
        assert_eq!(
            a.policy_url("app/x"),
            "http://h/policies/acct/policy/app%2Fx"
        );
        assert_eq!(
            a.authn_cert_url("svc", Some("host/app")),
            "http://h/authn-cert/svc/acct/host%2Fapp/authenticate"
        );
        assert_eq!(
            a.authn_cert_url("svc", None),
            "http://h/authn-cert/svc/acct/authenticate"
        );
        assert_eq!(
            a.resource_url("app/x"),
            "http://h/resources/acct/variable/app%2Fx"
        );
    }

    #[test]
    fn header_is_quoted() {
        let v = auth_header(&SecretValue::from("YWJj")).unwrap();
        assert_eq!(v.to_str().unwrap(), "Token token=\"YWJj\"");
        assert!(v.is_sensitive());
    }

    fn payload(iat: u64, exp: u64) -> Vec<u8> {
        // `?>` and `~~` force the characters that differ between the two alphabets.
        format!(r#"{{"sub":"host/app?>","iat":{iat},"exp":{exp},"x":"~~~?"}}"#).into_bytes()
    }

    #[test]
    fn times_from_every_base64_flavour() {
        let p = payload(1_999_999_520, 2_000_000_000);
        for enc in [
            STANDARD.encode(&p),
            STANDARD_NO_PAD.encode(&p),
            URL_SAFE.encode(&p),
            URL_SAFE_NO_PAD.encode(&p),
        ] {
            assert_eq!(
                payload_times(&enc),
                TokenTimes {
                    issued: Some(UNIX_EPOCH + Duration::from_secs(1_999_999_520)),
                    expires: Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000)),
                },
                "{enc}"
            );
        }
        assert_eq!(payload_times("!!!"), TokenTimes::default());
    }

    #[test]
    fn json_token_is_base64_encoded_on_one_line() {
        let p = URL_SAFE_NO_PAD.encode(payload(1, 2_000_000_000));
        let body = format!(r#"{{"protected":"eyJh","payload":"{p}","signature":"c2ln"}}"#);
        let (v, times) = token_from_answer(body.as_bytes()).unwrap();
        let text = v.expose_str().unwrap();
        assert!(!text.contains('\n') && !text.contains('\r'));
        assert_eq!(STANDARD.decode(text).unwrap(), body.as_bytes());
        assert!(times.expires.is_some() && times.issued.is_some());
    }

    #[test]
    fn jwt_and_preencoded_tokens_are_used_as_is() {
        let p = URL_SAFE_NO_PAD.encode(payload(1, 2_000_000_000));
        let jwt = format!("eyJhbGciOiJub25lIn0.{p}.c2ln");
        let (v, times) = token_from_answer(jwt.as_bytes()).unwrap();
        assert_eq!(v.expose_str().unwrap(), jwt);
        assert!(times.expires.is_some());
        let json = format!(r#"{{"protected":"eyJh","payload":"{p}","signature":"c2ln"}}"#);
        let pre = STANDARD.encode(json.as_bytes());
        let wrapped = format!("{}\n{}\n", &pre[..20], &pre[20..]);
        let (v, times) = token_from_answer(wrapped.as_bytes()).unwrap();
        assert_eq!(v.expose_str().unwrap(), pre);
        assert!(times.expires.is_some());
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        for bad in [&b""[..], b"{\"this is\": not json", b"{\"a\":1}", b"<html>"] {
            let err = token_from_answer(bad).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::Protocol);
        }
        assert!(parse_batch(b"[1]", false, "a", &[], &ReadOptions::new()).is_err());
        assert!(parse_resource_ids(b"{}", "a").is_err());
        assert!(parse_annotations(b"7").is_err());
    }

    #[test]
    fn resource_answers() {
        let page = br#"[{"id":"a:variable:x/y"},{"id":"a:policy:root"},{"id":"b:variable:z"},{}]"#;
        assert_eq!(
            parse_resource_ids(page, "a").unwrap(),
            (4, vec!["x/y".to_string()])
        );
        let r = br#"{"id":"a:variable:x","annotations":[{"name":"description","value":"d","policy":"a:policy:root"}]}"#;
        assert_eq!(
            parse_annotations(r).unwrap(),
            BTreeMap::from([("description".to_string(), "d".to_string())])
        );
    }
}
