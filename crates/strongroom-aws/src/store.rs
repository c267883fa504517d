//! [`AwsStore`]: `impl SecretStore` on AWS Secrets Manager.

use std::collections::HashMap;
use std::fmt;

use aws_smithy_runtime_api::client::http::SharedHttpClient;
use strongroom_core::provider::{PageBudget, read_each, read_many_batched};
use strongroom_core::{
    Capabilities, DEFAULT_READ_MANY_CONCURRENCY, DeleteOptions, Error, ErrorKind, Operation,
    ReadManyResult, ReadOptions, Result, Secret, SecretName, SecretStore, SecretValue, StoreInfo,
    WriteOptions, WriteOutcome, async_trait,
};
use tokio::sync::OnceCell;

use crate::api::{self, Api, BATCH_SIZE, Batch, Found};
use crate::auth;
use crate::config::{AwsBuilder, AwsConfig, check_recovery_window};
use crate::error::PROVIDER;
use crate::transport;

/// AWS Secrets Manager as a [`SecretStore`].
///
/// * `read`: `GetSecretValue` (`SecretString` or `SecretBinary`), with
///   [`ReadOptions::version`] → `VersionId`, [`ReadOptions::stage`] → `VersionStage`,
///   [`ReadOptions::field`] → a key of a JSON-object secret. When `a/b/key` does not exist and
///   the JSON key fallback is on (the default), it is read as key `key` of secret `a/b` —
///   never when `a/b` lies outside [`ReadOptions::within`] (a manager's prefix).
/// * `read_many`: `BatchGetSecretValue`, 20 names per call.
/// * `write`: `CreateSecret`, or a new version when the name exists; a name scheduled for
///   deletion is restored first. Description and tags are stored natively.
/// * `delete`: a recovery window (default 7 days) or, with `DeleteOptions::force`, at once.
/// * `list`: `ListSecrets`, names only, pages bounded by `max_pages` / `max_list_items`.
///
/// A read of a secret that is scheduled for deletion is an [`ErrorKind::NotFound`] error that
/// gives the deletion date (LiteLLM reads it as None), with a hint on restoring it.
///
/// ```no_run
/// use strongroom_aws::AwsBuilder;
/// use strongroom_core::{ReadOptions, SecretName, SecretStore, WriteOptions};
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = AwsBuilder::new()
///     .with_region("us-east-1")
///     .with_endpoint_url("http://127.0.0.1:5000")
///     .with_access_key("testing", "testing", None)
///     .build()?;
/// let name = SecretName::new("litellm/db")?;
/// store.write(&name, r#"{"user":"app","password":"pw"}"#.into(), &WriteOptions::new()).await?;
/// let user = store.read(&name, &ReadOptions::new().field("user")).await?;
/// let password = store.read(&SecretName::new("litellm/db/password")?, &ReadOptions::new()).await?;
/// # Ok(()) }
/// ```
pub struct AwsStore {
    config: AwsConfig,
    http: SharedHttpClient,
    api: OnceCell<Api>,
    info: StoreInfo,
}

impl fmt::Debug for AwsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsStore")
            .field("address", &self.info.address)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AwsStore {
    /// A builder with defaults (same as [`AwsBuilder::new`]).
    pub fn builder() -> AwsBuilder {
        AwsBuilder::new()
    }

    /// The store for a validated `config`.
    pub(crate) fn new(config: AwsConfig) -> Result<AwsStore> {
        let http = transport::http_client(&config.http)?;
        let address = format!(
            "aws|region={}|endpoint={}|profile={}|role={}|json_key_fallback={}",
            config.region.as_deref().unwrap_or("default"),
            config.endpoint_url.as_deref().unwrap_or("default"),
            config.profile.as_deref().unwrap_or("default"),
            config.role_arn.as_deref().unwrap_or(""),
            config.json_key_fallback,
        );
        let who = auth::identity(&config);
        let info = StoreInfo::new(
            PROVIDER,
            Capabilities::all()
                .with_batch_read(true)
                .with_versions(true)
                .with_binary(true),
        )
        .with_address(address)
        .with_identity(&[b"aws", who.as_bytes()]);
        Ok(AwsStore {
            config,
            http,
            api: OnceCell::new(),
            info,
        })
    }

    /// The client, built on first use (loading the SDK configuration is asynchronous).
    async fn api(&self) -> Result<&Api> {
        self.api
            .get_or_try_init(|| async {
                let sdk = auth::sdk_config(&self.config, self.http.clone()).await?;
                Ok::<_, Error>(Api::new(&sdk, self.config.endpoint_url.as_deref()))
            })
            .await
    }

    fn budget(&self) -> PageBudget {
        PageBudget::from_config(&self.config.http)
    }

    /// The store's default recovery window (checked to be 7–30 by `build()`).
    fn recovery_window(&self) -> u32 {
        u32::try_from(self.config.recovery_window_days).unwrap_or(u32::MAX)
    }

    /// Cancels the scheduled deletion of `name` (`RestoreSecret`). Restoring a secret that is
    /// not scheduled for deletion succeeds; a missing one is [`ErrorKind::NotFound`].
    pub async fn restore(&self, name: &SecretName) -> Result<()> {
        let ctx = |e: Error| e.context(PROVIDER, Operation::Write, Some(name.as_str()));
        api::validate_name(name).map_err(ctx)?;
        self.api()
            .await
            .map_err(ctx)?
            .restore(name.as_str())
            .await
            .map_err(ctx)
    }

    /// The parent to read and the key to take when `name` is missing, if the last-segment
    /// fallback applies: it is on, no field was asked for, and the parent lies inside
    /// `opts.within` (so a manager with prefix `litellm/` never reads secret `litellm`).
    fn fallback<'a>(
        &self,
        name: &'a SecretName,
        opts: &ReadOptions,
    ) -> Option<(SecretName, &'a str)> {
        if !self.config.json_key_fallback || opts.field.is_some() {
            return None;
        }
        let parent = name.parent()?;
        if let Some(within) = opts.within.as_deref() {
            let p = parent.as_str();
            if !p.starts_with(within) || p.len() <= within.len() {
                return None;
            }
        }
        Some((parent, name.basename()))
    }

    /// One chunk of a batch read (current versions): `BatchGetSecretValue`, or single reads
    /// when the caller may not use the batch call. A secret scheduled for deletion is an
    /// error, unless `deleted_is_missing` (the parents of the last-segment fallback).
    async fn fetch(
        &self,
        api: &Api,
        chunk: Vec<SecretName>,
        deleted_is_missing: bool,
    ) -> Result<Vec<(SecretName, Option<Secret>)>> {
        let ids: Vec<&str> = chunk.iter().map(SecretName::as_str).collect();
        let mut found = match api.batch_get(&ids, self.budget()).await? {
            Batch::Found(map) => map,
            Batch::Denied => {
                let mut map = HashMap::with_capacity(ids.len());
                for id in ids {
                    map.insert(id.to_owned(), api.get(id, &ReadOptions::new()).await?);
                }
                map
            }
        };
        chunk
            .into_iter()
            .map(|name| {
                let got = found.remove(name.as_str()).unwrap_or(Found::Missing);
                let secret =
                    settle(got, deleted_is_missing).map_err(|e| e.with_name(name.as_str()))?;
                Ok((name, secret))
            })
            .collect()
    }
}

/// A read's answer: a secret scheduled for deletion is an error (`NotFound` with the date),
/// unless `deleted_is_missing`.
fn settle(found: Found, deleted_is_missing: bool) -> Result<Option<Secret>> {
    match found {
        Found::Secret(s) => Ok(Some(s)),
        Found::Missing => Ok(None),
        Found::Deleted(_) if deleted_is_missing => Ok(None),
        Found::Deleted(e) => Err(e),
    }
}

/// `key` of `secret`, or `None` when it is absent or the value is not a JSON object (for the
/// last-segment fallback: then the asked-for name simply does not exist).
fn pick_key(secret: Secret, key: &str) -> Option<Secret> {
    match secret.select_field(key) {
        Ok(found) => found,
        Err(_) => {
            tracing::debug!(
                provider = PROVIDER,
                "the parent secret is not a JSON object; the key fallback finds nothing"
            );
            None
        }
    }
}

fn with_field(secret: Secret, field: Option<&str>) -> Result<Option<Secret>> {
    match field {
        Some(f) => secret.select_field(f),
        None => Ok(Some(secret)),
    }
}

#[async_trait]
impl SecretStore for AwsStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let ctx = |e: Error| e.context(PROVIDER, Operation::Read, Some(name.as_str()));
        api::validate_name(name).map_err(ctx)?;
        let api = self.api().await.map_err(ctx)?;
        let found = api.get(name.as_str(), opts).await.map_err(ctx)?;
        if let Some(secret) = settle(found, false).map_err(ctx)? {
            return with_field(secret, opts.field.as_deref()).map_err(ctx);
        }
        let Some((parent, key)) = self.fallback(name, opts) else {
            return Ok(None);
        };
        let found = api.get(parent.as_str(), opts).await.map_err(ctx)?;
        Ok(settle(found, true)
            .map_err(ctx)?
            .and_then(|s| pick_key(s, key)))
    }

    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        for name in names {
            api::validate_name(name)
                .map_err(|e| e.context(PROVIDER, Operation::ReadMany, Some(name.as_str())))?;
        }
        // BatchGetSecretValue always reads AWSCURRENT.
        if opts.version.is_some() || opts.stage.is_some() {
            return read_each(self, names, opts, DEFAULT_READ_MANY_CONCURRENCY).await;
        }
        let ctx = |e: Error| e.context(PROVIDER, Operation::ReadMany, None);
        let api = self.api().await.map_err(ctx)?;
        let concurrency = DEFAULT_READ_MANY_CONCURRENCY;
        let got = read_many_batched(names, BATCH_SIZE, concurrency, |chunk| {
            self.fetch(api, chunk, false)
        })
        .await
        .map_err(ctx)?;
        // The last-segment fallback for the names not found: one more batch of parents.
        let asked: HashMap<&SecretName, &Option<Secret>> =
            got.iter().map(|(n, s)| (n, s)).collect();
        let parents: Vec<SecretName> = got
            .iter()
            .filter(|(_, s)| s.is_none())
            .filter_map(|(n, _)| self.fallback(n, opts).map(|(parent, _)| parent))
            .filter(|p| !asked.contains_key(p))
            .collect();
        let parent_found: HashMap<SecretName, Option<Secret>> = if parents.is_empty() {
            HashMap::new()
        } else {
            read_many_batched(&parents, BATCH_SIZE, concurrency, |chunk| {
                self.fetch(api, chunk, true)
            })
            .await
            .map_err(ctx)?
            .into_iter()
            .collect()
        };
        let mut out = Vec::with_capacity(got.len());
        for (name, secret) in &got {
            let secret = match secret {
                Some(s) => with_field(s.clone(), opts.field.as_deref())
                    .map_err(|e| e.context(PROVIDER, Operation::ReadMany, Some(name.as_str())))?,
                None => self.fallback(name, opts).and_then(|(parent, key)| {
                    let parent_secret = asked
                        .get(&parent)
                        .copied()
                        .or_else(|| parent_found.get(&parent))?;
                    pick_key(parent_secret.clone()?, key)
                }),
            };
            out.push((name.clone(), secret));
        }
        Ok(out)
    }

    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        let ctx = |e: Error| e.context(PROVIDER, Operation::Write, Some(name.as_str()));
        api::validate_name(name).map_err(ctx)?;
        if opts.cas.is_some() {
            return Err(ctx(Error::unsupported(
                "AWS Secrets Manager has no check-and-set",
                "write without `cas`; every write keeps the previous value as AWSPREVIOUS",
            )));
        }
        let api = self.api().await.map_err(ctx)?;
        // One token for every call of this write: a call retried after a lost answer is
        // recognised by the service (same token, same value) and not applied twice.
        let token = api::request_token();
        api.write(
            name.as_str(),
            &value,
            opts,
            self.config.kms_key_id.as_deref(),
            self.recovery_window(),
            &token,
        )
        .await
        .map_err(ctx)
    }

    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        let ctx = |e: Error| e.context(PROVIDER, Operation::Delete, Some(name.as_str()));
        api::validate_name(name).map_err(ctx)?;
        if opts.force && opts.recovery_window_days.is_some() {
            return Err(ctx(Error::new(
                ErrorKind::Config,
                "`force` and `recovery_window_days` cannot be combined: a forced delete has no recovery window",
            )));
        }
        let window = if opts.force {
            None
        } else {
            let days = opts.recovery_window_days.unwrap_or(self.recovery_window());
            check_recovery_window(days).map_err(|why| ctx(Error::new(ErrorKind::Config, why)))?;
            Some(i64::from(days))
        };
        let api = self.api().await.map_err(ctx)?;
        api.delete(name.as_str(), window, opts.force)
            .await
            .map_err(ctx)
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        let ctx = |e: Error| e.context(PROVIDER, Operation::List, None);
        let prefix = prefix.filter(|p| !p.is_empty());
        if prefix.is_some_and(api::prefix_is_impossible) {
            return Ok(Vec::new());
        }
        let api = self.api().await.map_err(ctx)?;
        api.list(prefix, self.budget()).await.map_err(ctx)
    }
}
