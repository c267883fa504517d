//! The wire calls (`protocols.md` §1, §7, §8) and their answers.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use strongroom_core::http::{
    is_retryable_status, parse_retry_after, status_error, transport_error,
};
use strongroom_core::{Error, Result, RetryPolicy, SecretValue};
use zeroize::Zeroizing;

use crate::auth::Auth;

/// Percent-encodes one path segment or query value: `/` → `%2F`, space → `%20`, `@` → `%40`,
/// `+` → `%2B`, `,` → `%2C`, `:` → `%3A`.
pub(crate) use strongroom_core::http::encode_component as enc;

/// An HTTP answer, body read in full (wiped on drop: it may hold a value or a token).
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Reply {
    pub(crate) fn content_type(&self) -> Option<&str> {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(&self.headers)
    }
}

/// A request to make: method, URL, headers, body. Built again for every attempt.
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) accept_encoding: Option<&'static str>,
    pub(crate) body: Option<SecretValue>,
    /// Whether a failed or unanswered attempt may be sent again.
    pub(crate) retry: bool,
}

impl Call {
    pub(crate) fn get(url: String) -> Call {
        Call {
            method: Method::GET,
            url,
            content_type: None,
            accept_encoding: None,
            body: None,
            retry: true,
        }
    }
    pub(crate) fn post(url: String, content_type: &'static str, body: SecretValue) -> Call {
        Call {
            method: Method::POST,
            url,
            content_type: Some(content_type),
            accept_encoding: None,
            body: Some(body),
            retry: true,
        }
    }
    /// Marks the call as one that must not be sent twice (setting a value adds a version each
    /// time, so a retry after a lost answer would store the value twice).
    pub(crate) fn once(mut self) -> Call {
        self.retry = false;
        self
    }
}

/// The HTTP side of a store: client, addresses, retry policy.
#[derive(Debug)]
pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) account: String,
    pub(crate) retry: RetryPolicy,
}

impl Api {
    /// `/authn/{account}/{login}/authenticate`, login fully encoded (`host/app` → `host%2Fapp`).
    pub(crate) fn authn_url(&self, login: &str) -> String {
        format!(
            "{}/authn/{}/{}/authenticate",
            self.base,
            enc(&self.account),
            enc(login)
        )
    }

    /// `/authn-cert/{service_id}/{account}[/{host_id}]/authenticate`.
    pub(crate) fn authn_cert_url(&self, service_id: &str, host: Option<&str>) -> String {
        match host {
            Some(h) => format!(
                "{}/authn-cert/{}/{}/{}/authenticate",
                self.base,
                enc(service_id),
                enc(&self.account),
                enc(h)
            ),
            None => format!(
                "{}/authn-cert/{}/{}/authenticate",
                self.base,
                enc(service_id),
                enc(&self.account)
            ),
        }
    }

    /// `/secrets/{account}/variable/{id}[?version=N]`, id fully encoded.
    pub(crate) fn secret_url(&self, id: &str, version: Option<u64>) -> String {
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

    /// The fully qualified id `account:variable:id`.
    pub(crate) fn qualified(&self, id: &str) -> String {
        format!("{}:variable:{}", self.account, id)
    }

    /// `/secrets?variable_ids=a:variable:x,a:variable:y`: each id encoded, commas literal.
    pub(crate) fn batch_url(&self, ids: &[&str]) -> String {
        let list: Vec<String> = ids.iter().map(|id| enc(&self.qualified(id))).collect();
        format!("{}/secrets?variable_ids={}", self.base, list.join(","))
    }

    /// `/policies/{account}/policy/{branch}`.
    pub(crate) fn policy_url(&self, branch: &str) -> String {
        format!(
            "{}/policies/{}/policy/{}",
            self.base,
            enc(&self.account),
            enc(branch)
        )
    }

    /// `/resources/{account}/variable?search=&limit=&offset=`.
    pub(crate) fn resources_url(
        &self,
        search: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> String {
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

    /// Sends `call` (with `Authorization` when given), retrying transport failures, body-read
    /// failures and 408/412/429/5xx answers within the retry policy — except calls marked
    /// [`Call::once`] (setting a value), which are sent exactly once. Reads and the add-only
    /// policy load are idempotent. Non-retryable answers come back as a [`Reply`].
    pub(crate) async fn exchange(
        &self,
        call: &Call,
        authorization: Option<&HeaderValue>,
    ) -> Result<Reply> {
        self.retry
            .run(call.retry, |_| async move {
                let mut req = self.http.request(call.method.clone(), &call.url);
                if let Some(a) = authorization {
                    req = req.header(reqwest::header::AUTHORIZATION, a.clone());
                }
                if let Some(ct) = call.content_type {
                    req = req.header(reqwest::header::CONTENT_TYPE, ct);
                }
                if let Some(ae) = call.accept_encoding {
                    req = req.header(reqwest::header::ACCEPT_ENCODING, ae);
                }
                if let Some(body) = &call.body {
                    req = req.body(body.expose_secret().to_vec());
                }
                let resp = req.send().await.map_err(transport_error)?;
                let status = resp.status();
                let headers = resp.headers().clone();
                if is_retryable_status(status) {
                    return Err(status_error(status, parse_retry_after(&headers), ""));
                }
                let body = resp.bytes().await.map_err(transport_error)?;
                Ok(Reply {
                    status,
                    headers,
                    body: Zeroizing::new(body.to_vec()),
                })
            })
            .await
    }

    /// Sends `call` with the cached token. A 401 makes the token cache forget that token, log
    /// in once more and send the call once more; a second 401 is the caller's answer.
    pub(crate) async fn authed(&self, auth: &Auth, call: &Call) -> Result<Reply> {
        let mut retried = false;
        loop {
            let lease = auth.token(self).await?;
            let header = auth_header(&lease.token)?;
            let reply = self.exchange(call, Some(&header)).await?;
            if reply.status == StatusCode::UNAUTHORIZED && !retried {
                tracing::debug!("conjur answered 401; logging in again once");
                auth.invalidate(lease.generation).await;
                retried = true;
                continue;
            }
            return Ok(reply);
        }
    }
}

/// `Token token="<base64>"` — quoted, as the server's Rack middleware requires — marked
/// sensitive so no `Debug` of the request shows it.
fn auth_header(token: &SecretValue) -> Result<HeaderValue> {
    let mut text = Zeroizing::new(String::with_capacity(token.len() + 16));
    text.push_str("Token token=\"");
    text.push_str(token.expose_str()?);
    text.push('"');
    let mut v = HeaderValue::from_str(&text)
        .map_err(|_| Error::protocol("the access token cannot be sent as an HTTP header"))?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        Api {
            http: reqwest::Client::new(),
            base: "http://h".into(),
            account: "acct".into(),
            retry: RetryPolicy::none(),
        }
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
            a.authn_cert_url("svc", Some("host/app")),
            "http://h/authn-cert/svc/acct/host%2Fapp/authenticate"
        );
        assert_eq!(
            a.authn_cert_url("svc", None),
            "http://h/authn-cert/svc/acct/authenticate"
        );
    }

    #[test]
    fn header_is_quoted() {
        let v = auth_header(&SecretValue::from("YWJj")).unwrap();
        assert_eq!(v.to_str().unwrap(), "Token token=\"YWJj\"");
        assert!(v.is_sensitive());
    }
}
