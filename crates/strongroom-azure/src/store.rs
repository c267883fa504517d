//! [`AzureStore`]: the [`SecretStore`] on Azure Key Vault.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use azure_core::http::StatusCode;
use azure_core::time::OffsetDateTime;
use azure_security_keyvault_secrets::models::Secret as KvSecret;
use strongroom_core::{
    Capabilities, DeleteOptions, Error, ErrorKind, Operation, ReadOptions, Result, Secret,
    SecretName, SecretStore, SecretValue, StoreInfo, WriteOptions, WriteOutcome,
};

use crate::api::{Api, version_of};
use crate::error::{PROVIDER, has_status, inner_code, map};
use crate::names::{from_vault_name, to_vault_name};

/// Typed settings the builder hands to the store.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub vault_url: String,
    pub api_version: String,
    pub recover_deleted_on_write: bool,
    pub poll_interval: Duration,
    pub poll_attempts: u32,
    pub default_cache_ttl: Option<Duration>,
    pub identity: String,
}

/// Azure Key Vault secrets, through Microsoft's `azure_security_keyvault_secrets` crate.
///
/// * Names go through the documented mapping ([`crate::to_vault_name`]): `/` ↔ `--`,
///   `_` ↔ `---`; names that cannot map fail with `InvalidName` before any call.
/// * `read`: latest or `ReadOptions::version`; the secret's `exp` becomes `expires_at`;
///   a disabled secret is `Forbidden` with a hint.
/// * `write`: a new version each time; a soft-deleted name is recovered first (or refused
///   with `Conflict`, see [`crate::AzureBuilder::with_recover_deleted_on_write`]).
/// * `delete`: soft delete; `DeleteOptions::force` purges once the delete has completed.
/// * `list`: names only, all pages.
///
/// ```no_run
/// use strongroom_azure::AzureBuilder;
/// use strongroom_core::{ReadOptions, SecretName, SecretStore};
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = AzureBuilder::from_env().build()?;
/// let name = SecretName::new("litellm/openai_api_key")?; // stored as litellm--openai---api---key
/// if let Some(secret) = store.read(&name, &ReadOptions::new()).await? {
///     println!("version {:?}, expires {:?}", secret.version, secret.expires_at);
/// }
/// # Ok(()) }
/// ```
pub struct AzureStore {
    api: Api,
    settings: Settings,
    info: StoreInfo,
}

impl std::fmt::Debug for AzureStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureStore")
            .field("vault_url", &self.settings.vault_url)
            .field("api_version", &self.settings.api_version)
            .field(
                "recover_deleted_on_write",
                &self.settings.recover_deleted_on_write,
            )
            .finish_non_exhaustive()
    }
}

fn system_time(t: OffsetDateTime) -> Option<SystemTime> {
    let secs = t.unix_timestamp();
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// Key Vault version ids are 32 hex digits; accept letters and digits only so a version can't
/// change the request path.
fn check_version(name: &SecretName, version: &str) -> Result<()> {
    if version.is_empty()
        || version.len() > 64
        || !version.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(Error::invalid_name(
            name.as_str(),
            "a Key Vault version id is 1–64 letters or digits (32 hex digits in practice)",
        ));
    }
    Ok(())
}

impl AzureStore {
    pub(crate) fn new(api: Api, settings: Settings) -> Self {
        let mut info = StoreInfo::new(PROVIDER, Capabilities::all().with_versions(true))
            .with_address(format!("azure:{}", settings.vault_url.to_ascii_lowercase()))
            .with_identity(&[b"azure", settings.identity.as_bytes()]);
        if let Some(ttl) = settings.default_cache_ttl {
            info = info.with_default_ttl(ttl);
        }
        AzureStore {
            api,
            settings,
            info,
        }
    }

    /// The vault URL (no trailing slash).
    pub fn vault_url(&self) -> &str {
        &self.settings.vault_url
    }

    /// The api-version sent on every call.
    pub fn api_version(&self) -> &str {
        &self.settings.api_version
    }

    fn err(&self, e: Error, op: Operation, name: &SecretName) -> Error {
        e.context(PROVIDER, op, Some(name.as_str()))
    }

    fn to_secret(kv: KvSecret) -> Result<Secret> {
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

    async fn pause(&self) {
        tokio::time::sleep(self.settings.poll_interval).await;
    }

    /// Recovers `vault_name`, then waits until the secret reads again.
    async fn recover(&self, vault_name: &str) -> azure_core::Result<()> {
        for _ in 0..=self.settings.poll_attempts {
            match self.api.recover(vault_name).await {
                Ok(_) => break,
                // Still being deleted: wait for the delete to finish.
                Err(e) if has_status(&e, StatusCode::Conflict) => self.pause().await,
                Err(e) => return Err(e),
            }
        }
        for _ in 0..=self.settings.poll_attempts {
            match self.api.get(vault_name, None).await {
                Ok(Some(_)) => return Ok(()),
                // Disabled or otherwise unreadable, but present: the PUT can go ahead.
                Err(e) if has_status(&e, StatusCode::Forbidden) => return Ok(()),
                Ok(None) => self.pause().await,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SecretStore for AzureStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let op = Operation::Read;
        let vault_name = to_vault_name(name).map_err(|e| self.err(e, op, name))?;
        if opts.stage.is_some() {
            return Err(self.err(
                Error::unsupported(
                    "Key Vault has no version stages",
                    "ask for a version id with ReadOptions::version instead",
                ),
                op,
                name,
            ));
        }
        if let Some(v) = &opts.version {
            check_version(name, v).map_err(|e| self.err(e, op, name))?;
        }
        let kv = self
            .api
            .get(&vault_name, opts.version.as_deref())
            .await
            .map_err(|e| self.err(map(e), op, name))?;
        let Some(kv) = kv else { return Ok(None) };
        let secret = Self::to_secret(kv).map_err(|e| self.err(e, op, name))?;
        match &opts.field {
            Some(field) => secret
                .select_field(field)
                .map_err(|e| self.err(e, op, name)),
            None => Ok(Some(secret)),
        }
    }

    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        let op = Operation::Write;
        let vault_name = to_vault_name(name).map_err(|e| self.err(e, op, name))?;
        if opts.cas.is_some() {
            return Err(self.err(
                Error::unsupported(
                    "Key Vault has no check-and-set",
                    "write without WriteOptions::cas; every write creates a new version",
                ),
                op,
                name,
            ));
        }
        let text = value.expose_str().map_err(|_| {
            self.err(
                Error::unsupported(
                    "Key Vault stores text values; this value is not UTF-8",
                    "base64-encode binary data and set a content type",
                ),
                op,
                name,
            )
        })?;
        let mut tags = opts.tags.clone();
        if let Some(d) = &opts.description {
            tags.entry("description".to_string())
                .or_insert_with(|| d.clone());
        }
        let mut recovered = false;
        let mut attempts = 0u32;
        loop {
            let result = self
                .api
                .set(&vault_name, text, opts.content_type.as_deref(), &tags)
                .await;
            let e = match result {
                Ok(kv) => return Ok(WriteOutcome::new(version_of(&kv))),
                Err(e) => e,
            };
            if !has_status(&e, StatusCode::Conflict) || attempts >= self.settings.poll_attempts {
                return Err(self.err(map(e), op, name));
            }
            attempts += 1;
            match inner_code(&e).as_deref() {
                Some("ObjectIsDeletedButRecoverable") if !recovered => {
                    if !self.settings.recover_deleted_on_write {
                        return Err(self.err(map(e), op, name).with_hint(
                            "the name is soft-deleted in Key Vault: recover it (`az keyvault secret recover`), \
                             purge it (delete with force), or build the store with recover_deleted_on_write(true)",
                        ));
                    }
                    tracing::info!(secret = %name, "recovering a soft-deleted Key Vault secret before writing");
                    self.recover(&vault_name)
                        .await
                        .map_err(|e| self.err(map(e), op, name))?;
                    recovered = true;
                }
                // A delete or recovery still in progress: wait and try again.
                Some("ObjectIsBeingDeleted" | "ObjectIsBeingRecovered") => self.pause().await,
                _ if recovered => self.pause().await,
                _ => return Err(self.err(map(e), op, name)),
            }
        }
    }

    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        let op = Operation::Delete;
        let vault_name = to_vault_name(name).map_err(|e| self.err(e, op, name))?;
        if opts.recovery_window_days.is_some() {
            tracing::debug!(secret = %name, "Key Vault's retention period is a vault setting; recovery_window_days is ignored");
        }
        let existed = self
            .api
            .delete(&vault_name)
            .await
            .map_err(|e| self.err(map(e), op, name))?;
        if !opts.force {
            return Ok(());
        }
        // Purge only once the soft delete has completed: poll /deletedsecrets/{name}.
        let mut present = false;
        for i in 0..=self.settings.poll_attempts {
            present = self
                .api
                .deleted_exists(&vault_name)
                .await
                .map_err(|e| self.err(map(e), op, name))?;
            if present || !existed {
                break;
            }
            if i < self.settings.poll_attempts {
                self.pause().await;
            }
        }
        if !present {
            if !existed {
                return Ok(()); // nothing live, nothing soft-deleted: already gone
            }
            return Err(self.err(
                Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "the soft delete did not complete within {} polls, so the secret was not purged",
                        self.settings.poll_attempts
                    ),
                )
                .with_hint("try the forced delete again later"),
                op,
                name,
            ));
        }
        for i in 0..=self.settings.poll_attempts {
            match self.api.purge(&vault_name).await {
                Ok(_) => return Ok(()),
                Err(e)
                    if has_status(&e, StatusCode::Conflict) && i < self.settings.poll_attempts =>
                {
                    self.pause().await
                }
                Err(e) => return Err(self.err(map(e), op, name)),
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        let raw = self
            .api
            .list_names()
            .await
            .map_err(|e| map(e).context(PROVIDER, Operation::List, prefix))?;
        let mut names: Vec<SecretName> = raw
            .iter()
            .filter_map(|vault_name| {
                let logical = from_vault_name(vault_name);
                if logical.is_none() {
                    tracing::debug!(name = %vault_name, "Key Vault name has no Strongroom name (a run of 4+ dashes); skipped");
                }
                logical
            })
            .filter(|n| prefix.is_none_or(|p| n.as_str().starts_with(p)))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}
