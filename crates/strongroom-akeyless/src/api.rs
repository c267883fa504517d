//! The wire calls: every operation is `POST {api_base}/{op}` with a JSON body (the token
//! travels in the body), and the response types we read.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use strongroom_core::http::{is_retryable_status, parse_retry_after, transport_error};
use strongroom_core::{Result, RetryPolicy};
use zeroize::{Zeroize, Zeroizing};

use crate::error;

/// A JSON request body whose strings (token, value, key) are wiped when it is dropped.
#[derive(Default)]
pub(crate) struct Body(Map<String, Value>);

impl Body {
    pub(crate) fn new() -> Self {
        Body(Map::new())
    }
    /// Sets a field.
    pub(crate) fn set(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_string(), value.into());
        self
    }
    /// Sets a field in place.
    pub(crate) fn put(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(key.to_string(), value.into());
    }
    /// The serialized body (wiped on drop).
    pub(crate) fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(serde_json::to_vec(&self.0).unwrap_or_default())
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        for v in self.0.values_mut() {
            strongroom_core::wipe_json(v);
        }
    }
}

/// A parsed JSON answer whose strings are wiped when it is dropped.
pub(crate) struct Wiped(pub(crate) Value);

impl Drop for Wiped {
    fn drop(&mut self) {
        strongroom_core::wipe_json(&mut self.0);
    }
}

/// One HTTP answer, body read in full.
pub(crate) struct Reply {
    pub(crate) status: reqwest::StatusCode,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
        self.status.is_success()
    }
    /// The error for a non-2xx answer.
    pub(crate) fn error(&self) -> strongroom_core::Error {
        error::from_reply(self.status, self.retry_after, &self.body)
    }
    /// Parses the body as `T`.
    pub(crate) fn json<T: for<'de> Deserialize<'de>>(&self, op: &str) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|_| error::malformed(op))
    }
    /// Parses the body as JSON whose strings are wiped on drop (answers holding values).
    pub(crate) fn wiped(&self, op: &str) -> Result<Wiped> {
        serde_json::from_slice(&self.body)
            .map(Wiped)
            .map_err(|_| error::malformed(op))
    }
}

/// The HTTP side: client, base URL, retry policy.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    client: reqwest::Client,
    base: String,
    retry: RetryPolicy,
}

impl Api {
    pub(crate) fn new(client: reqwest::Client, base: String, retry: RetryPolicy) -> Self {
        Api {
            client,
            base,
            retry,
        }
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `POST {base}/{op}` with `body`. Transport failures, truncated bodies and retryable
    /// statuses (408, 412, 429, 5xx) are retried within the policy when `idempotent`; any other
    /// answer (2xx, 401, 404 …) is returned for the caller to interpret.
    pub(crate) async fn post(&self, op: &str, body: &[u8], idempotent: bool) -> Result<Reply> {
        let url = format!("{}/{op}", self.base);
        self.retry
            .run(idempotent, |_| {
                let req = self
                    .client
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(reqwest::header::ACCEPT, "application/json")
                    .body(body.to_vec());
                async move {
                    let resp = req.send().await.map_err(transport_error)?;
                    let status = resp.status();
                    let retry_after = parse_retry_after(resp.headers());
                    let bytes = resp.bytes().await.map_err(transport_error)?;
                    let reply = Reply {
                        status,
                        retry_after,
                        body: Zeroizing::new(bytes.to_vec()),
                    };
                    if is_retryable_status(status) {
                        return Err(reply.error());
                    }
                    Ok(reply)
                }
            })
            .await
    }
}

/// `/auth` answer.
#[derive(Deserialize)]
pub(crate) struct AuthOutput {
    pub(crate) token: Option<String>,
    pub(crate) creds: Option<Creds>,
}

/// `creds` of the `/auth` answer (only the expiry is read).
#[derive(Deserialize)]
pub(crate) struct Creds {
    pub(crate) expiry: Option<Value>,
}

impl Drop for AuthOutput {
    fn drop(&mut self) {
        if let Some(t) = &mut self.token {
            t.zeroize();
        }
    }
}

/// The `Item` fields we read (`describe-item`, `list-items`).
#[derive(Debug, Deserialize)]
pub(crate) struct Item {
    pub(crate) item_name: Option<String>,
    pub(crate) item_type: Option<String>,
}

/// `list-items` answer.
#[derive(Debug, Deserialize)]
pub(crate) struct ListOutput {
    #[serde(default)]
    pub(crate) items: Option<Vec<Item>>,
    #[serde(default)]
    pub(crate) folders: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) next_page: Option<String>,
}
