//! The Key Vault calls this crate makes, on the official `SecretClient`.
//!
//! | call | wire |
//! |---|---|
//! | [`Api::get`] | `GET /secrets/{name}/{version?}` (latest = trailing slash) |
//! | [`Api::set`] | `PUT /secrets/{name}` (a new version each time) |
//! | [`Api::delete`] | `DELETE /secrets/{name}` (soft delete) |
//! | [`Api::deleted_exists`] | `GET /deletedsecrets/{name}` |
//! | [`Api::purge`] | `DELETE /deletedsecrets/{name}` → 204 |
//! | [`Api::recover`] | `POST /deletedsecrets/{name}/recover` |
//! | [`Api::list_names`] | `GET /secrets`, then each absolute `nextLink` |

use std::collections::{BTreeMap, HashMap};

use azure_core::http::{RequestContent, StatusCode};
use azure_security_keyvault_secrets::models::{Secret as KvSecret, SecretClientGetSecretOptions};
use azure_security_keyvault_secrets::{ResourceExt, SecretClient};
use futures_util::TryStreamExt;

use crate::error::has_status;

type AzResult<T> = azure_core::Result<T>;

/// Thin wrapper over the SDK client; answers in SDK terms, mapped by the store.
pub(crate) struct Api {
    client: SecretClient,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("endpoint", &self.client.endpoint().as_str())
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
    pub(crate) fn new(client: SecretClient) -> Self {
        Api { client }
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

    /// Sets a new version.
    pub(crate) async fn set(
        &self,
        name: &str,
        value: &str,
        content_type: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> AzResult<KvSecret> {
        let body = SetBody {
            value,
            content_type,
            tags: tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        };
        let bytes = serde_json::to_vec(&body)
            .map_err(|e| azure_core::Error::new(azure_core::error::ErrorKind::DataConversion, e))?;
        let content: RequestContent<_> = azure_core::Bytes::from(bytes).into();
        self.client
            .set_secret(name, content, None)
            .await?
            .into_model()
    }

    /// Soft-deletes; `false` when there was no live secret (404).
    pub(crate) async fn delete(&self, name: &str) -> AzResult<bool> {
        match self.client.delete_secret(name, None).await {
            Ok(_) => Ok(true),
            Err(e) if has_status(&e, StatusCode::NotFound) => Ok(false),
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

    /// Every secret name in the vault (all pages).
    pub(crate) async fn list_names(&self) -> AzResult<Vec<String>> {
        let mut pager = self.client.list_secret_properties(None)?;
        let mut names = Vec::new();
        while let Some(props) = pager.try_next().await? {
            match props.resource_id() {
                Ok(id) => names.push(id.name),
                Err(e) => tracing::debug!(error = %e, "skipping a list item without a usable id"),
            }
        }
        Ok(names)
    }
}

/// The version id of a returned secret (last segment of its `id`).
pub(crate) fn version_of(secret: &KvSecret) -> Option<String> {
    secret.resource_id().ok().and_then(|id| id.version)
}
