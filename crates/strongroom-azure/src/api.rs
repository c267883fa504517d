//! The Key Vault calls this crate makes, on the official `SecretClient`, the answer parsers,
//! and the HTTP transport handed to the SDK.
//!
//! | call | wire |
//! |---|---|
//! | [`Api::get`] | `GET /secrets/{name}/{version?}` (latest = trailing slash) |
//! | [`Api::set`] | `PUT /secrets/{name}` (a new version each time) |
//! | [`Api::delete`] | `DELETE /secrets/{name}` (soft delete, or for good at `Purgeable`) |
//! | [`Api::deleted_exists`] | `GET /deletedsecrets/{name}` |
//! | [`Api::purge`] | `DELETE /deletedsecrets/{name}` → 204 |
//! | [`Api::recover`] | `POST /deletedsecrets/{name}/recover` |
//! | [`Api::list_names`] | `GET /secrets`, then each absolute `nextLink`, at most `max_pages` |
//!
//! [`GuardedTransport`] is the HTTP client under every SDK pipeline: the `reqwest` client built
//! from the shared HTTP settings (no redirects followed), plus the rules the SDK does not
//! have: a 3xx is an error naming the target host, an answer larger than
//! `max_response_bytes` is an error (and is not retried), and the vault's pipeline sends
//! nothing to another host — not even a `nextLink` the server names — so the bearer token
//! only ever goes to the vault. A write that may have reached the vault (answer lost or cut,
//! HTTP 408/500/502/504) fails with an error the SDK's retry policy does not retry: Key Vault
//! adds a version per `PUT`, so a repeat would store it twice.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use azure_core::error::ErrorKind as AzKind;
use azure_core::http::headers::CONTENT_LENGTH;
use azure_core::http::{
    AsyncRawResponse, HttpClient, Method, Request, RequestContent, StatusCode, Url,
};
use azure_core::time::OffsetDateTime;
use azure_security_keyvault_secrets::models::{
    DeletedSecret, DeletionRecoveryLevel, ListSecretPropertiesResult, Secret as KvSecret,
    SecretClientGetSecretOptions,
};
use azure_security_keyvault_secrets::{ResourceExt, SecretClient};
use futures_util::{StreamExt, TryStreamExt};
use strongroom_core::provider::PageBudget;
use strongroom_core::provider::http::sanitize;
use strongroom_core::{Error, ErrorKind, Secret, SecretValue};

use crate::error::has_status;

type AzResult<T> = azure_core::Result<T>;

/// The IMDS host the SDK's managed identity credential calls.
const IMDS_HOST: &str = "169.254.169.254";

/// Carries one of this crate's own errors through the SDK pipeline. `Other` is a kind the
/// SDK's retry policy does not retry; [`crate::error::map`] takes the error back out.
pub(crate) fn refuse(err: Error) -> azure_core::Error {
    azure_core::Error::new(AzKind::Other, err)
}

/// The HTTP client under the SDK pipelines (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct GuardedTransport {
    client: reqwest::Client,
    max_body: u64,
    only_origin: Option<url::Origin>,
    imds: Option<Url>,
}

impl GuardedTransport {
    /// For the vault: only `vault` is ever called.
    pub(crate) fn vault(client: reqwest::Client, max_body: u64, vault: &Url) -> Self {
        GuardedTransport {
            client,
            max_body,
            only_origin: Some(vault.origin()),
            imds: None,
        }
    }

    /// For the credentials (Entra ID, managed identity endpoints); IMDS calls go to `imds`
    /// instead of `http://169.254.169.254` when set.
    pub(crate) fn credentials(client: reqwest::Client, max_body: u64, imds: Option<Url>) -> Self {
        GuardedTransport {
            client,
            max_body,
            only_origin: None,
            imds,
        }
    }

    fn to_imds(&self, request: &Request) -> Option<Request> {
        let host = self.imds.as_ref()?;
        if request.url().host_str() != Some(IMDS_HOST) {
            return None;
        }
        let rest = &request.url()[url::Position::BeforePath..];
        let url = Url::parse(&format!("{}{rest}", host.as_str().trim_end_matches('/'))).ok()?;
        let mut moved = request.clone();
        *moved.url_mut() = url;
        Some(moved)
    }

    fn too_large(&self) -> azure_core::Error {
        refuse(
            Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "the answer is larger than max_response_bytes ({} bytes); it was not read",
                    self.max_body
                ),
            )
            .with_hint("raise max_response_bytes if the server is trusted to send this much"),
        )
    }
}

/// A write whose outcome is unknown: it may have been applied, so it is not sent again.
fn write_unknown(what: &str) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("the write reached the vault but {what}: it may have been applied, so it was not sent again"),
    )
    .with_hint("read the secret to see whether the new value is there before writing again")
}

fn host_of(url: &Url) -> String {
    sanitize(url.host_str().unwrap_or("an unnamed host"))
}

#[async_trait::async_trait]
impl HttpClient for GuardedTransport {
    async fn execute_request(&self, request: &Request) -> AzResult<AsyncRawResponse> {
        let moved = self.to_imds(request);
        let request = moved.as_ref().unwrap_or(request);
        if let Some(origin) = &self.only_origin
            && request.url().origin() != *origin
        {
            return Err(refuse(
                Error::new(
                    ErrorKind::Redirected,
                    format!(
                        "the vault named a link to `{}`, another host; it is not followed, so the token goes only to the vault",
                        host_of(request.url())
                    ),
                )
                .with_hint("a Key Vault never sends clients elsewhere: check the vault URL and whatever sits in front of it"),
            ));
        }
        // Key Vault adds a version for every `PUT` it receives, and the SDK's retry policy
        // retries whatever the method: once a write may have reached the vault, its failure
        // goes back to the caller as an error the SDK does not retry. (A token request to
        // the credentials' endpoints is safe to repeat.)
        let write = self.only_origin.is_some()
            && !matches!(
                request.method(),
                Method::Get | Method::Head | Method::Delete
            );
        let response = match self.client.execute_request(request).await {
            Ok(response) => response,
            // Not connected: nothing was sent, a retry is safe.
            Err(e) if write && *e.kind() != AzKind::Connection => {
                return Err(refuse(write_unknown("its answer was lost").with_source(e)));
            }
            Err(e) => return Err(e),
        };
        let status = u16::from(response.status());
        if write && matches!(status, 408 | 500 | 502 | 504) {
            return Err(refuse(write_unknown(&format!(
                "the vault answered HTTP {status}"
            ))));
        }
        if (300..400).contains(&status) {
            let target = response
                .headers()
                .get_optional_str(&azure_core::http::headers::HeaderName::from_static(
                    "location",
                ))
                .and_then(|loc| request.url().join(loc).ok())
                .map_or_else(|| "an unnamed location".to_owned(), |u| host_of(&u));
            return Err(refuse(
                Error::new(
                    ErrorKind::Redirected,
                    format!(
                        "the server answered HTTP {status} redirecting to `{target}`; redirects are not followed, so credentials go only to the configured host"
                    ),
                )
                .with_hint("configure the address the server redirects to, if you trust it"),
            ));
        }
        let declared = response
            .headers()
            .get_optional_str(&CONTENT_LENGTH)
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_body) {
            return Err(self.too_large());
        }
        let (status, headers, body) = response.deconstruct();
        let max_body = self.max_body;
        let overflow = self.too_large();
        let mut seen = 0u64;
        let mut overflow = Some(overflow);
        let capped = body.map(move |chunk| {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) if write => {
                    return Err(refuse(
                        write_unknown("its answer was cut short").with_source(e),
                    ));
                }
                Err(e) => return Err(e),
            };
            seen = seen.saturating_add(chunk.len() as u64);
            if seen > max_body {
                return Err(overflow
                    .take()
                    .unwrap_or_else(|| refuse(Error::new(ErrorKind::LimitExceeded, "too large"))));
            }
            Ok(chunk)
        });
        Ok(AsyncRawResponse::new(status, headers, Box::pin(capped)))
    }
}

/// How a vault handled a delete, from the answer's `recoveryLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deletion {
    /// `Purgeable`: no soft delete; the secret is gone for good.
    Permanent,
    /// Soft-deleted; `purge_allowed` is false under purge protection.
    Recoverable { purge_allowed: bool },
}

/// What `DELETE /secrets/{name}` answered.
#[derive(Debug, Clone)]
pub(crate) struct Deleted {
    pub deletion: Deletion,
    /// When Key Vault purges it (RFC 3339), for messages.
    pub scheduled_purge: Option<String>,
}

impl Deleted {
    fn from_answer(d: &DeletedSecret) -> Deleted {
        let level = d
            .attributes
            .as_ref()
            .and_then(|a| a.recovery_level.as_ref());
        let deletion = match level {
            Some(DeletionRecoveryLevel::Purgeable) => Deletion::Permanent,
            Some(
                DeletionRecoveryLevel::RecoverablePurgeable
                | DeletionRecoveryLevel::CustomizedRecoverablePurgeable,
            ) => Deletion::Recoverable {
                purge_allowed: true,
            },
            Some(
                DeletionRecoveryLevel::Recoverable
                | DeletionRecoveryLevel::RecoverableProtectedSubscription
                | DeletionRecoveryLevel::CustomizedRecoverable
                | DeletionRecoveryLevel::CustomizedRecoverableProtectedSubscription,
            ) => Deletion::Recoverable {
                purge_allowed: false,
            },
            // A level this SDK does not know: try the purge and let the vault decide.
            Some(_) => Deletion::Recoverable {
                purge_allowed: true,
            },
            // No level: without a recovery id there is nothing to recover (what Microsoft's
            // SDKs conclude too); with one, try the purge.
            None if d.recovery_id.is_none() => Deletion::Permanent,
            None => Deletion::Recoverable {
                purge_allowed: true,
            },
        };
        Deleted {
            deletion,
            scheduled_purge: d
                .scheduled_purge_date
                .as_ref()
                .map(azure_core::time::to_rfc3339),
        }
    }
}

/// The calls, on the SDK client; answers in SDK terms, mapped by the store.
pub(crate) struct Api {
    client: SecretClient,
    max_pages: u64,
    max_items: u64,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("endpoint", &self.client.endpoint().as_str())
            .field("max_pages", &self.max_pages)
            .field("max_items", &self.max_items)
            .finish()
    }
}

/// The body of `PUT /secrets/{name}`, serialized from borrowed text (no extra copy of the value).
#[derive(serde::Serialize)]
struct SetBody<'a> {
    value: &'a str,
    #[serde(rename = "contentType", skip_serializing_if = "Option::is_none")]
    content_type: Option<&'a str>,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    tags: HashMap<&'a str, &'a str>,
}

impl Api {
    pub(crate) fn new(client: SecretClient, max_pages: u64, max_items: u64) -> Self {
        Api {
            client,
            max_pages,
            max_items,
        }
    }

    /// The secret (latest or `version`), `None` on 404.
    pub(crate) async fn get(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> AzResult<Option<KvSecret>> {
        let opts = SecretClientGetSecretOptions {
            secret_version: version.map(str::to_string),
            ..Default::default()
        };
        match self.client.get_secret(name, Some(opts)).await {
            Ok(resp) => Ok(Some(resp.into_model()?)),
            Err(e) if has_status(&e, StatusCode::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets a new version; answers its version id.
    pub(crate) async fn set(
        &self,
        name: &str,
        value: &str,
        content_type: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> AzResult<Option<String>> {
        let body = SetBody {
            value,
            content_type,
            tags: tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        };
        let bytes = serde_json::to_vec(&body)
            .map_err(|e| azure_core::Error::new(AzKind::DataConversion, e))?;
        let content: RequestContent<_> = azure_core::Bytes::from(bytes).into();
        let secret = self
            .client
            .set_secret(name, content, None)
            .await?
            .into_model()?;
        Ok(version_of(&secret))
    }

    /// Deletes; `None` when there was no live secret (404).
    pub(crate) async fn delete(&self, name: &str) -> AzResult<Option<Deleted>> {
        match self.client.delete_secret(name, None).await {
            Ok(resp) => Ok(Some(Deleted::from_answer(&resp.into_model()?))),
            Err(e) if has_status(&e, StatusCode::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `/deletedsecrets/{name}` exists (the soft delete has completed).
    pub(crate) async fn deleted_exists(&self, name: &str) -> AzResult<bool> {
        match self.client.get_deleted_secret(name, None).await {
            Ok(_) => Ok(true),
            Err(e) if has_status(&e, StatusCode::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Purges a soft-deleted secret; `false` when there was none (404).
    pub(crate) async fn purge(&self, name: &str) -> AzResult<bool> {
        match self.client.purge_deleted_secret(name, None).await {
            Ok(_) => Ok(true),
            Err(e) if has_status(&e, StatusCode::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Recovers a soft-deleted secret; `false` when there was none (404).
    pub(crate) async fn recover(&self, name: &str) -> AzResult<bool> {
        match self.client.recover_deleted_secret(name, None).await {
            Ok(_) => Ok(true),
            Err(e) if has_status(&e, StatusCode::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every secret name in the vault, page by page: at most `max_pages` pages (a next page
    /// past that is not fetched) and `max_list_items` names.
    pub(crate) async fn list_names(&self) -> AzResult<Vec<String>> {
        let mut pages = self.client.list_secret_properties(None)?.into_pages();
        let mut budget = PageBudget::new(self.max_pages, self.max_items);
        let mut names = Vec::new();
        while let Some(page) = pages.try_next().await? {
            let page: ListSecretPropertiesResult = page.into_model()?;
            budget.page(page.value.len()).map_err(refuse)?;
            for props in &page.value {
                match props.resource_id() {
                    Ok(id) => names.push(id.name),
                    Err(e) => {
                        tracing::debug!(error = %e, "skipping a list item without a usable id")
                    }
                }
            }
            let more = page.next_link.as_deref().is_some_and(|l| !l.is_empty());
            if more && budget.pages() >= self.max_pages {
                // Count the page that would come next: the budget says no.
                budget.page(0).map_err(refuse)?;
            }
        }
        Ok(names)
    }
}

/// The version id of a returned secret (last segment of its `id`).
fn version_of(secret: &KvSecret) -> Option<String> {
    secret.resource_id().ok().and_then(|id| id.version)
}

fn system_time(t: OffsetDateTime) -> Option<SystemTime> {
    u64::try_from(t.unix_timestamp())
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// A Key Vault `SecretBundle` as a core [`Secret`]: version, times, content type, tags; the
/// secret's `exp` becomes `expires_at`.
pub(crate) fn secret_from_bundle(kv: KvSecret) -> Result<Secret, Error> {
    let version = version_of(&kv);
    let KvSecret {
        value,
        attributes,
        content_type,
        tags,
        ..
    } = kv;
    let value = value.ok_or_else(|| Error::protocol("the Key Vault answer has no `value`"))?;
    let mut secret = Secret::new(SecretValue::from(value));
    if let Some(v) = version {
        secret = secret.with_version(v);
    }
    if let Some(a) = attributes {
        if let Some(t) = a.created.and_then(system_time) {
            secret = secret.with_created_at(t);
        }
        if let Some(t) = a.updated.and_then(system_time) {
            secret = secret.with_updated_at(t);
        }
        if let Some(exp) = a.expires {
            // An expiry before 1970 is already past: expire at once.
            secret = secret.with_expires_at(system_time(exp).unwrap_or(UNIX_EPOCH));
        }
    }
    if let Some(ct) = content_type {
        secret = secret.with_content_type(ct);
    }
    for (k, v) in tags.unwrap_or_default() {
        secret = secret.with_tag(k, v);
    }
    Ok(secret)
}
