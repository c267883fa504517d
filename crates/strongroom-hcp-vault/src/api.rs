//! The wire: URLs, request sending and the response types of the KV v2 and auth endpoints.

use std::borrow::Cow;
use std::collections::BTreeMap;

use reqwest::header::HeaderValue;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use strongroom_core::http::send_with_retry;
use strongroom_core::{Result, RetryPolicy};
use zeroize::Zeroizing;

use crate::config::{NamespaceMode, Settings};
use crate::error::unreachable;

pub(crate) use strongroom_core::http::push_encoded_path;

pub(crate) const X_VAULT_TOKEN: &str = "x-vault-token";
pub(crate) const X_VAULT_NAMESPACE: &str = "x-vault-namespace";

/// The HTTP side of the store: client, retry policy and precomputed URL bases.
pub(crate) struct Api {
    pub(crate) client: reqwest::Client,
    pub(crate) retry: RetryPolicy,
    pub(crate) addr: String,
    secret_ns_header: Option<HeaderValue>,
    login_ns_header: Option<HeaderValue>,
    /// `{addr}/v1/[{ns}/]{mount}/data/[{prefix}/]`
    data_base: String,
    /// `{addr}/v1/[{ns}/]{mount}/metadata/[{prefix}/]`
    metadata_base: String,
    /// `{addr}/v1/[{login ns}/]auth/`
    auth_base: String,
}

impl Api {
    pub(crate) fn new(s: &Settings) -> Result<Api> {
        let header = |ns: &Option<String>| -> Result<Option<HeaderValue>> {
            match (s.namespace_mode, ns) {
                (NamespaceMode::Header, Some(ns)) => {
                    HeaderValue::from_str(ns).map(Some).map_err(|_| {
                        strongroom_core::Error::config(
                            "HCP_VAULT_NAMESPACE",
                            "cannot be sent as an HTTP header (use ASCII)",
                        )
                    })
                }
                _ => Ok(None),
            }
        };
        let base = |ns: &Option<String>| {
            let mut b = String::with_capacity(s.addr.len() + 64);
            b.push_str(&s.addr);
            b.push_str("/v1/");
            if let (NamespaceMode::PathPrefix, Some(ns)) = (s.namespace_mode, ns) {
                push_encoded_path(&mut b, ns);
                b.push('/');
            }
            b
        };
        let kv = |kind: &str| {
            let mut b = base(&s.secret_namespace);
            push_encoded_path(&mut b, &s.mount);
            b.push('/');
            b.push_str(kind);
            b.push('/');
            if let Some(prefix) = &s.path_prefix {
                push_encoded_path(&mut b, prefix);
                b.push('/');
            }
            b
        };
        let mut auth_base = base(&s.login_namespace);
        auth_base.push_str("auth/");
        Ok(Api {
            client: s.client.clone(),
            retry: s.retry.clone(),
            addr: s.addr.clone(),
            secret_ns_header: header(&s.secret_namespace)?,
            login_ns_header: header(&s.login_namespace)?,
            data_base: kv("data"),
            metadata_base: kv("metadata"),
            auth_base,
        })
    }

    /// `…/data/<name>[?version=N]`.
    pub(crate) fn data_url(&self, name: &str, version: Option<u64>) -> String {
        let mut url = String::with_capacity(self.data_base.len() + name.len() * 3 + 24);
        url.push_str(&self.data_base);
        push_encoded_path(&mut url, name);
        if let Some(v) = version {
            use std::fmt::Write;
            let _ = write!(url, "?version={v}");
        }
        url
    }

    /// `…/metadata/<name>`.
    pub(crate) fn metadata_url(&self, name: &str) -> String {
        let mut url = String::with_capacity(self.metadata_base.len() + name.len() * 3);
        url.push_str(&self.metadata_base);
        push_encoded_path(&mut url, name);
        url
    }

    /// `…/metadata/<dir>?list=true`; `dir` is empty or ends with `/`.
    pub(crate) fn list_url(&self, dir: &str) -> String {
        let mut url = String::with_capacity(self.metadata_base.len() + dir.len() * 3 + 10);
        url.push_str(&self.metadata_base);
        if let Some(d) = dir.strip_suffix('/') {
            push_encoded_path(&mut url, d);
            url.push('/');
        }
        url.push_str("?list=true");
        url
    }

    /// `…/auth/<path>`.
    pub(crate) fn auth_url(&self, path: &str) -> String {
        let mut url = String::with_capacity(self.auth_base.len() + path.len() + 8);
        url.push_str(&self.auth_base);
        push_encoded_path(&mut url, path);
        url
    }

    /// A secret-side call: token + secrets namespace header, retried when `idempotent`.
    pub(crate) async fn send_secret<F>(
        &self,
        token: &HeaderValue,
        idempotent: bool,
        build: F,
    ) -> Result<reqwest::Response>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        send_with_retry(&self.retry, idempotent, || {
            let mut rb = build(&self.client).header(X_VAULT_TOKEN, token.clone());
            if let Some(ns) = &self.secret_ns_header {
                rb = rb.header(X_VAULT_NAMESPACE, ns.clone());
            }
            rb
        })
        .await
        .map_err(|e| unreachable(e, &self.addr))
    }

    /// A log-in-side call (login, renew-self): login namespace header, optional token.
    pub(crate) async fn send_auth<F>(
        &self,
        token: Option<&HeaderValue>,
        build: F,
    ) -> Result<reqwest::Response>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        send_with_retry(&self.retry, true, || {
            let mut rb = build(&self.client);
            if let Some(t) = token {
                rb = rb.header(X_VAULT_TOKEN, t.clone());
            }
            if let Some(ns) = &self.login_ns_header {
                rb = rb.header(X_VAULT_NAMESPACE, ns.clone());
            }
            rb
        })
        .await
        .map_err(|e| unreachable(e, &self.addr))
    }
}

/// Reads a whole response body into a buffer that is wiped when dropped.
pub(crate) async fn body(resp: reqwest::Response) -> Result<Zeroizing<Vec<u8>>> {
    let bytes = resp
        .bytes()
        .await
        .map_err(strongroom_core::http::transport_error)?;
    Ok(Zeroizing::new(Vec::from(bytes)))
}

// ---------------------------------------------------------------------------------------------
// KV v2

/// `GET …/data/<path>` → `{"data": {"data": {...}, "metadata": {...}}}`.
#[derive(Deserialize)]
pub(crate) struct KvReadResponse<'a> {
    #[serde(borrow)]
    pub(crate) data: Option<KvRead<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct KvRead<'a> {
    pub(crate) data: Option<WipedMap>,
    #[serde(borrow)]
    pub(crate) metadata: Option<KvMetadata<'a>>,
}

/// Version metadata of one KV v2 version.
#[derive(Deserialize, Default)]
pub(crate) struct KvMetadata<'a> {
    #[serde(default)]
    pub(crate) version: Option<u64>,
    #[serde(default, borrow)]
    pub(crate) created_time: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) custom_metadata: Option<BTreeMap<String, String>>,
}

/// A JSON object whose strings are wiped when it is dropped.
#[derive(Deserialize, Default)]
#[serde(transparent)]
pub(crate) struct WipedMap(pub(crate) serde_json::Map<String, serde_json::Value>);

impl Drop for WipedMap {
    fn drop(&mut self) {
        self.0.values_mut().for_each(strongroom_core::wipe_json);
    }
}

/// `POST …/data/<path>` body: `{"data": {"<field>": "<value>"}, "options": {"cas": N}}`.
#[derive(Serialize)]
pub(crate) struct KvWrite<'a> {
    pub(crate) data: OneField<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) options: Option<KvWriteOptions>,
}

#[derive(Serialize)]
pub(crate) struct KvWriteOptions {
    pub(crate) cas: u64,
}

/// A one-entry JSON object, serialised without copying the value.
pub(crate) struct OneField<'a>(pub(crate) &'a str, pub(crate) &'a str);

impl Serialize for OneField<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, self.1)?;
        m.end()
    }
}

/// `POST …/data/<path>` answer: `{"data": {"version": N, ...}}`.
#[derive(Deserialize)]
pub(crate) struct KvWriteResponse {
    pub(crate) data: Option<KvWriteData>,
}

#[derive(Deserialize)]
pub(crate) struct KvWriteData {
    pub(crate) version: Option<u64>,
}

/// `POST …/metadata/<path>` body.
#[derive(Serialize)]
pub(crate) struct KvMetadataWrite<'a> {
    pub(crate) custom_metadata: &'a BTreeMap<String, String>,
}

/// `LIST …/metadata/<dir>` answer: `{"data": {"keys": ["a", "dir/"]}}`.
#[derive(Deserialize)]
pub(crate) struct ListResponse {
    pub(crate) data: Option<ListData>,
}

#[derive(Deserialize)]
pub(crate) struct ListData {
    #[serde(default)]
    pub(crate) keys: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Auth

/// `POST auth/<approle>/login` body.
#[derive(Serialize)]
pub(crate) struct AppRoleLogin<'a> {
    pub(crate) role_id: &'a str,
    pub(crate) secret_id: &'a str,
}

/// `POST auth/cert/login` body.
#[derive(Serialize)]
pub(crate) struct CertLogin<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<&'a str>,
}

/// `POST auth/token/renew-self` body.
#[derive(Serialize)]
pub(crate) struct RenewSelf {
    pub(crate) increment: String,
}

/// Log-in and renew answers: `{"auth": {"client_token", "lease_duration", "renewable"}}`.
#[derive(Deserialize)]
pub(crate) struct AuthResponse {
    pub(crate) auth: Option<AuthBlock>,
}

#[derive(Deserialize)]
pub(crate) struct AuthBlock {
    #[serde(default)]
    pub(crate) client_token: Zeroizing<String>,
    #[serde(default)]
    pub(crate) lease_duration: u64,
    #[serde(default)]
    pub(crate) renewable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_and_slashes_kept() {
        let mut s = String::new();
        push_encoded_path(&mut s, "a b/ünï/x?y#z%/k&v+w");
        assert_eq!(
            s,
            "a%20b/%C3%BC%6E%C3%AF/x%3Fy%23z%25/k%26v%2Bw".replace("%6E", "n")
        );
    }

    #[test]
    fn write_body_shape() {
        let body = KvWrite {
            data: OneField("key", "v\"1"),
            options: Some(KvWriteOptions { cas: 0 }),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"data":{"key":"v\"1"},"options":{"cas":0}}"#
        );
    }
}
