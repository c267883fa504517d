//! [`AzureStore`]: the [`SecretStore`] on Azure Key Vault.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use azure_core::http::StatusCode;
use strongroom_core::{Clock, ManualClock};
use strongroom_core::{
    DeleteOptions, Error, ErrorKind, Operation, ReadOptions, Result, Secret, SecretName,
    SecretStore, SecretValue, StoreInfo, WriteOptions, WriteOutcome,
};

use crate::api::{Api, Deleted, Deletion, secret_from_bundle};
use crate::error::{
    PROVIDER, has_status, is_deleted_but_recoverable, is_in_progress, map, map_purge,
    purge_protected,
};
use crate::names::{from_vault_name, to_vault_name};

/// The largest secret value Key Vault stores (25 KiB).
pub const MAX_VALUE_BYTES: usize = 25 * 1024;
/// Key Vault's limits on tags: 15 per secret, names and values of up to 256 characters.
const MAX_TAGS: usize = 15;
const MAX_TAG_CHARS: usize = 256;
/// The longest content type Key Vault stores.
const MAX_CONTENT_TYPE_CHARS: usize = 255;
/// The tag a write's description is stored under (Key Vault has no description field).
pub const DESCRIPTION_TAG: &str = "description";

/// How long deletes and recoveries are waited for: a first pause that doubles up to eight
/// times itself, within a total time. With a [`ManualClock`] (tests) a pause moves that
/// clock instead of sleeping.
#[derive(Debug, Clone)]
pub(crate) struct Waits {
    interval: Duration,
    timeout: Duration,
    clock: Option<Arc<ManualClock>>,
}

impl Waits {
    pub(crate) fn new(
        interval: Duration,
        timeout: Duration,
        clock: Option<Arc<ManualClock>>,
    ) -> Self {
        Waits {
            interval,
            timeout,
            clock,
        }
    }

    fn start(&self) -> Wait {
        let wait = Wait {
            next: self.interval,
            max: self.interval.saturating_mul(8),
            started: Instant::now(),
            timeout: self.timeout,
            clock: self.clock.clone(),
        };
        Wait {
            started: wait.now(),
            ..wait
        }
    }
}

/// One bounded wait.
struct Wait {
    next: Duration,
    max: Duration,
    started: Instant,
    timeout: Duration,
    clock: Option<Arc<ManualClock>>,
}

impl Wait {
    fn now(&self) -> Instant {
        self.clock.as_ref().map_or_else(Instant::now, |c| c.now())
    }

    /// Pauses before the next try; `Err` (a timeout saying what did not finish) once the
    /// total time is spent.
    async fn pause(&mut self, what: &str) -> Result<()> {
        let elapsed = self.now().saturating_duration_since(self.started);
        if elapsed >= self.timeout {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!("{what} did not complete within {:?}", self.timeout),
            )
            .with_hint("try again later, or raise poll_timeout"));
        }
        let pause = self.next.min(self.timeout - elapsed);
        match &self.clock {
            Some(clock) => {
                clock.advance(pause);
                tokio::task::yield_now().await;
            }
            None => tokio::time::sleep(pause).await,
        }
        self.next = self.next.saturating_mul(2).min(self.max);
        Ok(())
    }
}

/// Azure Key Vault secrets, through Microsoft's `azure_security_keyvault_secrets` crate.
///
/// * Names go through the documented mapping ([`crate::to_vault_name`]): `/` ↔ `--`,
///   `_` ↔ `---`; names that cannot map fail with `InvalidName` before any call.
/// * `read`: latest or `ReadOptions::version`; the secret's `exp` becomes `expires_at`;
///   a disabled secret is `Forbidden` with a hint.
/// * `write`: a new version each time, with `WriteOptions` tags and content type (the
///   description is stored as the tag `description`); a soft-deleted name is recovered first
///   (or refused with `Conflict`, see `recover_deleted_on_write`), and deleted again if the
///   write then fails, so no old value comes back.
/// * `delete`: soft delete where the vault has it. `DeleteOptions::force` purges once the
///   soft delete has completed; in a vault without soft delete the delete itself is final
///   (one request); under purge protection it says the secret cannot be purged.
/// * `list`: names only, every page within `max_pages` / `max_list_items`.
///
/// ```no_run
/// use strongroom_azure::AzureBuilder;
/// use strongroom_core::{ReadOptions, SecretName, SecretStore};
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = AzureBuilder::from_env()?.build()?;
/// let name = SecretName::new("litellm/openai_api_key")?; // stored as litellm--openai---api---key
/// if let Some(secret) = store.read(&name, &ReadOptions::new()).await? {
///     println!("version {:?}, expires {:?}", secret.version, secret.expires_at);
/// }
/// # Ok(()) }
/// ```
pub struct AzureStore {
    api: Api,
    info: StoreInfo,
    vault_url: String,
    api_version: String,
    recover_deleted_on_write: bool,
    waits: Waits,
}

impl std::fmt::Debug for AzureStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureStore")
            .field("vault_url", &self.vault_url)
            .field("api_version", &self.api_version)
            .field("recover_deleted_on_write", &self.recover_deleted_on_write)
            .field("waits", &self.waits)
            .finish_non_exhaustive()
    }
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

/// The tags a write sends: `WriteOptions::tags`, plus the description as the tag
/// `description`; Key Vault's limits checked before any call.
fn tags_for(opts: &WriteOptions) -> Result<BTreeMap<String, String>> {
    let mut tags = opts.tags.clone();
    if let Some(d) = &opts.description {
        match tags.get(DESCRIPTION_TAG) {
            Some(existing) if existing != d => {
                return Err(Error::unsupported(
                    "Key Vault stores the description as the tag `description`, which this write also sets to another value",
                    "give the description once, either as the description or as that tag",
                ));
            }
            _ => {
                tags.insert(DESCRIPTION_TAG.to_owned(), d.clone());
            }
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(Error::unsupported(
            format!(
                "Key Vault stores at most {MAX_TAGS} tags on a secret (the description counts as one); this write has {}",
                tags.len()
            ),
            "drop some tags",
        ));
    }
    if let Some((k, _)) = tags.iter().find(|(k, v)| {
        k.is_empty() || k.chars().count() > MAX_TAG_CHARS || v.chars().count() > MAX_TAG_CHARS
    }) {
        return Err(Error::unsupported(
            format!(
                "Key Vault tag names are 1–{MAX_TAG_CHARS} characters and values at most {MAX_TAG_CHARS}; the tag `{}` is not",
                strongroom_core::provider::http::sanitize(k)
            ),
            "shorten the tag",
        ));
    }
    if opts
        .content_type
        .as_ref()
        .is_some_and(|ct| ct.chars().count() > MAX_CONTENT_TYPE_CHARS)
    {
        return Err(Error::unsupported(
            format!("Key Vault content types are at most {MAX_CONTENT_TYPE_CHARS} characters"),
            "shorten the content type",
        ));
    }
    Ok(tags)
}

/// Adds `more` to an error's hint.
fn add_hint(err: Error, more: &str) -> Error {
    let hint = match err.hint() {
        Some(h) => format!("{h}; {more}"),
        None => more.to_owned(),
    };
    err.with_hint(hint)
}

impl AzureStore {
    pub(crate) fn new(
        api: Api,
        info: StoreInfo,
        vault_url: String,
        api_version: String,
        recover_deleted_on_write: bool,
        waits: Waits,
    ) -> Self {
        AzureStore {
            api,
            info,
            vault_url,
            api_version,
            recover_deleted_on_write,
            waits,
        }
    }

    /// The vault URL (no trailing slash).
    pub fn vault_url(&self) -> &str {
        &self.vault_url
    }

    /// The api-version sent on every call.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// `POST /deletedsecrets/{name}/recover`, waiting out a delete still in progress; `false`
    /// when there is nothing to recover.
    async fn start_recovery(&self, vault_name: &str, wait: &mut Wait) -> Result<bool> {
        loop {
            match self.api.recover(vault_name).await {
                Ok(recovered) => return Ok(recovered),
                Err(e) if is_in_progress(&e) => wait.pause("the soft delete in progress").await?,
                Err(e) => return Err(map(e)),
            }
        }
    }

    /// Waits until the recovered secret reads again.
    async fn await_recovery(&self, vault_name: &str, wait: &mut Wait) -> Result<()> {
        loop {
            match self.api.get(vault_name, None).await {
                Ok(Some(_)) => return Ok(()),
                // Disabled or otherwise unreadable, but present: the write can go ahead.
                Err(e) if has_status(&e, StatusCode::Forbidden) => return Ok(()),
                Ok(None) => wait.pause("the recovery").await?,
                Err(e) => return Err(map(e)),
            }
        }
    }

    /// The write after a recovery failed: delete again, so the old value is not left live.
    async fn undo_recovery(&self, vault_name: &str, err: Error) -> Error {
        match self.api.delete(vault_name).await {
            Ok(_) => add_hint(
                err,
                "the soft-deleted secret recovered for this write was deleted again, so its old value is not live",
            ),
            Err(e) => {
                let undo = map(e);
                tracing::warn!(secret = %vault_name, error = %undo, "deleting the recovered secret again failed; its old value is live");
                add_hint(
                    err,
                    &format!(
                        "the soft-deleted secret was recovered for this write and could not be deleted again ({}): its OLD value is live; delete it",
                        undo.message()
                    ),
                )
            }
        }
    }

    /// Purges `vault_name`, waiting out a delete still in progress.
    async fn purge(&self, vault_name: &str, wait: &mut Wait) -> Result<()> {
        loop {
            match self.api.purge(vault_name).await {
                Ok(_) => return Ok(()),
                Err(e) if has_status(&e, StatusCode::Conflict) => {
                    wait.pause("the soft delete before the purge").await?
                }
                Err(e) => return Err(map_purge(e)),
            }
        }
    }
}

#[async_trait]
impl SecretStore for AzureStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let ctx = |e: Error| e.context(PROVIDER, Operation::Read, Some(name.as_str()));
        let vault_name = to_vault_name(name).map_err(ctx)?;
        if opts.stage.is_some() {
            return Err(ctx(Error::unsupported(
                "Key Vault has no version stages",
                "ask for a version id with ReadOptions::version instead",
            )));
        }
        if let Some(v) = &opts.version {
            check_version(name, v).map_err(ctx)?;
        }
        let kv = self
            .api
            .get(&vault_name, opts.version.as_deref())
            .await
            .map_err(|e| ctx(map(e)))?;
        let Some(kv) = kv else { return Ok(None) };
        let secret = secret_from_bundle(kv).map_err(ctx)?;
        match &opts.field {
            Some(field) => secret.select_field(field).map_err(ctx),
            None => Ok(Some(secret)),
        }
    }

    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        let ctx = |e: Error| e.context(PROVIDER, Operation::Write, Some(name.as_str()));
        let vault_name = to_vault_name(name).map_err(ctx)?;
        if opts.cas.is_some() {
            return Err(ctx(Error::unsupported(
                "Key Vault has no check-and-set",
                "write without WriteOptions::cas; every write creates a new version",
            )));
        }
        let text = value.expose_str().map_err(|_| {
            ctx(Error::unsupported(
                "Key Vault stores text values; this value is not UTF-8",
                "base64-encode binary data and set a content type",
            ))
        })?;
        if text.len() > MAX_VALUE_BYTES {
            return Err(ctx(Error::unsupported(
                format!(
                    "Key Vault stores values of at most {MAX_VALUE_BYTES} bytes; this one has {}",
                    text.len()
                ),
                "store large data elsewhere and keep a reference or a key here",
            )));
        }
        let tags = tags_for(opts).map_err(ctx)?;
        let content_type = opts.content_type.as_deref();
        let mut wait = self.waits.start();
        let mut recovered = false;
        loop {
            let e = match self.api.set(&vault_name, text, content_type, &tags).await {
                Ok(version) => return Ok(WriteOutcome::new(version)),
                Err(e) => e,
            };
            let failed = if is_deleted_but_recoverable(&e) && !recovered {
                if !self.recover_deleted_on_write {
                    return Err(ctx(map(e).with_hint(
                        "the name is soft-deleted in Key Vault: recover it (`az keyvault secret recover`), \
                         purge it (delete with force), or set recover_deleted_on_write = true",
                    )));
                }
                tracing::info!(secret = %name, "recovering a soft-deleted Key Vault secret before writing");
                if !self
                    .start_recovery(&vault_name, &mut wait)
                    .await
                    .map_err(ctx)?
                {
                    // Purged meanwhile: the name is free (bounded, should it race again).
                    wait.pause("the purge of this name").await.map_err(ctx)?;
                    continue;
                }
                recovered = true;
                match self.await_recovery(&vault_name, &mut wait).await {
                    Ok(()) => continue,
                    Err(err) => err,
                }
            } else if is_in_progress(&e) || (recovered && has_status(&e, StatusCode::Conflict)) {
                match wait.pause("the delete or recovery of this name").await {
                    Ok(()) => continue,
                    Err(err) => err,
                }
            } else {
                map(e)
            };
            let failed = if recovered {
                self.undo_recovery(&vault_name, failed).await
            } else {
                failed
            };
            return Err(ctx(failed));
        }
    }

    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        let ctx = |e: Error| e.context(PROVIDER, Operation::Delete, Some(name.as_str()));
        let vault_name = to_vault_name(name).map_err(ctx)?;
        if opts.recovery_window_days.is_some() {
            tracing::debug!(secret = %name, "Key Vault's retention period is a vault setting; recovery_window_days is ignored");
        }
        let deleted = self
            .api
            .delete(&vault_name)
            .await
            .map_err(|e| ctx(map(e)))?;
        if !opts.force {
            return Ok(());
        }
        let mut wait = self.waits.start();
        match deleted {
            // No soft delete in this vault: the delete was final.
            Some(Deleted {
                deletion: Deletion::Permanent,
                ..
            }) => return Ok(()),
            Some(Deleted {
                deletion:
                    Deletion::Recoverable {
                        purge_allowed: false,
                    },
                scheduled_purge,
            }) => {
                let mut err = purge_protected();
                if let Some(date) = scheduled_purge {
                    err = add_hint(err, &format!("Key Vault purges it on {date}"));
                }
                return Err(ctx(err));
            }
            // Purge only once the soft delete has completed.
            Some(Deleted { .. }) => loop {
                match self.api.deleted_exists(&vault_name).await {
                    Ok(true) => break,
                    Ok(false) => wait
                        .pause("the soft delete")
                        .await
                        .map_err(|e| ctx(add_hint(e, "the secret is deleted but not purged")))?,
                    Err(e) => return Err(ctx(map(e))),
                }
            },
            // Nothing live: purge a soft-deleted one, if there is one.
            None => {}
        }
        self.purge(&vault_name, &mut wait).await.map_err(ctx)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_is_a_tag_within_key_vaults_limits() {
        let opts = WriteOptions::new()
            .description("db password")
            .tag("team", "a");
        let tags = tags_for(&opts).unwrap();
        assert_eq!(
            tags.get(DESCRIPTION_TAG).map(String::as_str),
            Some("db password")
        );
        let clash = WriteOptions::new()
            .description("x")
            .tag(DESCRIPTION_TAG, "y");
        assert_eq!(
            tags_for(&clash).unwrap_err().kind(),
            &ErrorKind::Unsupported
        );
        let mut many = WriteOptions::new();
        for i in 0..MAX_TAGS {
            many = many.tag(format!("t{i}"), "v");
        }
        assert!(tags_for(&many).is_ok());
        assert!(tags_for(&many.clone().description("one more")).is_err());
        assert!(tags_for(&WriteOptions::new().tag("k", "v".repeat(257))).is_err());
        assert!(tags_for(&WriteOptions::new().content_type("x".repeat(256))).is_err());
    }

    #[tokio::test]
    async fn a_wait_doubles_and_ends_with_a_timeout() {
        let clock = Arc::new(ManualClock::new());
        let started = clock.now();
        let waits = Waits::new(
            Duration::from_secs(1),
            Duration::from_secs(20),
            Some(Arc::clone(&clock)),
        );
        let mut wait = waits.start();
        let mut pauses = 0;
        let err = loop {
            match wait.pause("the soft delete").await {
                Ok(()) => pauses += 1,
                Err(e) => break e,
            }
        };
        // 1 + 2 + 4 + 8 = 15, then 5 (what is left of 20), then the deadline.
        assert_eq!(pauses, 5);
        assert_eq!(clock.now() - started, Duration::from_secs(20));
        assert_eq!(err.kind(), &ErrorKind::Timeout);
        assert!(
            err.to_string().contains("the soft delete did not complete"),
            "{err}"
        );
    }
}
