//! [`AwsStore`]: `impl SecretStore` on AWS Secrets Manager.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::SystemTime;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use futures_util::StreamExt;
use strongroom_core::{
    Capabilities, DEFAULT_READ_MANY_CONCURRENCY, DeleteOptions, Error, ErrorKind, Operation,
    ReadManyResult, ReadOptions, Result, Secret, SecretName, SecretStore, SecretValue, StoreInfo,
    WriteOptions, WriteOutcome, async_trait, dedupe,
};
use tokio::sync::OnceCell;

use crate::api::{self, BATCH_SIZE, LIST_PAGE_SIZE, Payload};
use crate::auth;
use crate::config::{AwsBuilder, check_recovery_window};
use crate::error::{self, PROVIDER, SCHEDULED_FOR_DELETION_HINT};

/// AWS Secrets Manager as a [`SecretStore`].
///
/// * `read`: `GetSecretValue` (`SecretString` or `SecretBinary`), with
///   [`ReadOptions::version`] → `VersionId`, [`ReadOptions::stage`] → `VersionStage`,
///   [`ReadOptions::field`] → a key of a JSON-object secret. When `a/b/key` does not exist and
///   the JSON key fallback is on (the default), it is read as key `key` of secret `a/b`.
/// * `read_many`: `BatchGetSecretValue`, 20 names per call.
/// * `write`: `CreateSecret`, or `PutSecretValue` when the name exists; a name scheduled for
///   deletion is restored first.
/// * `delete`: a recovery window (default 7 days) or, with `DeleteOptions::force`, at once.
/// * `list`: `ListSecrets`, names only.
///
/// A read of a secret that is scheduled for deletion is an [`ErrorKind::Conflict`] with a hint
/// (restore it or wait for the purge), not `Ok(None)`: the name is still taken.
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
    settings: AwsBuilder,
    client: OnceCell<Client>,
    info: StoreInfo,
}

impl fmt::Debug for AwsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsStore")
            .field("address", &self.info.address)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Where a name stands, from `DescribeSecret`.
enum State {
    Missing,
    Live,
    Deleted(Option<SystemTime>),
}

impl AwsStore {
    /// A builder with defaults (same as [`AwsBuilder::new`]).
    pub fn builder() -> AwsBuilder {
        AwsBuilder::new()
    }

    pub(crate) fn from_builder(settings: AwsBuilder) -> AwsStore {
        let address = format!(
            "aws|region={}|endpoint={}|profile={}|role={}|json_key_fallback={}",
            settings.region.as_deref().unwrap_or("default"),
            settings.endpoint_url.as_deref().unwrap_or("default"),
            settings.profile.as_deref().unwrap_or("default"),
            settings
                .role
                .as_ref()
                .map(|r| r.role_arn.as_str())
                .unwrap_or(""),
            settings.json_key_fallback,
        );
        // Who asks: the role assumed, else the static key id, else the profile (the default
        // chain's identity is not known before the first call).
        let who = match (&settings.role, &settings.keys, &settings.profile) {
            (Some(role), _, _) => format!("role:{}", role.role_arn),
            (None, Some(keys), _) => format!("key:{}", keys.access_key_id),
            (None, None, Some(p)) => format!("profile:{p}"),
            (None, None, None) => "default-chain".to_owned(),
        };
        let info = StoreInfo::new(
            PROVIDER,
            Capabilities::all()
                .with_batch_read(true)
                .with_versions(true)
                .with_binary(true),
        )
        .with_address(address)
        .with_identity(&[b"aws", who.as_bytes()]);
        AwsStore {
            settings,
            client: OnceCell::new(),
            info,
        }
    }

    /// The SDK client, built on first use (loading the SDK configuration is asynchronous).
    async fn client(&self) -> Result<&Client> {
        self.client
            .get_or_try_init(|| auth::client(&self.settings))
            .await
    }

    /// Cancels the scheduled deletion of `name` (`RestoreSecret`). Restoring a secret that is
    /// not scheduled for deletion succeeds; a missing one is [`ErrorKind::NotFound`].
    pub async fn restore(&self, name: &SecretName) -> Result<()> {
        let ctx = |e: Error| e.context(PROVIDER, Operation::Write, Some(name.as_str()));
        api::validate_name(name).map_err(ctx)?;
        let client = self.client().await.map_err(ctx)?;
        client
            .restore_secret()
            .secret_id(name.as_str())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ctx(error::from_sdk(e)))
    }

    async fn state(&self, client: &Client, id: &str) -> Result<State> {
        match client.describe_secret().secret_id(id).send().await {
            Ok(out) => Ok(match out.deleted_date() {
                Some(d) => State::Deleted(SystemTime::try_from(*d).ok()),
                None => State::Live,
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(State::Missing)
            }
            Err(e) => Err(error::from_sdk(e)),
        }
    }

    /// The error for a read that hit `InvalidRequestException`: says "scheduled for deletion"
    /// when `DescribeSecret` confirms it, else the service's own error.
    async fn invalid_request_on_read(&self, client: &Client, id: &str, original: Error) -> Error {
        match self.state(client, id).await {
            Ok(State::Deleted(when)) => scheduled_for_deletion(id, when),
            _ => original,
        }
    }

    /// `GetSecretValue` of one id; `Ok(None)` for `ResourceNotFoundException`.
    async fn get(&self, client: &Client, id: &str, opts: &ReadOptions) -> Result<Option<Secret>> {
        let res = client
            .get_secret_value()
            .secret_id(id)
            .set_version_id(opts.version.clone())
            .set_version_stage(opts.stage.clone())
            .send()
            .await;
        match res {
            Ok(out) => api::to_secret(
                out.secret_string,
                out.secret_binary,
                out.version_id,
                out.created_date,
            )
            .map(Some),
            Err(e) => {
                let (not_found, invalid) = match e.as_service_error() {
                    Some(s) => (
                        s.is_resource_not_found_exception(),
                        s.is_invalid_request_exception(),
                    ),
                    None => (false, false),
                };
                if not_found {
                    Ok(None)
                } else if invalid {
                    Err(self
                        .invalid_request_on_read(client, id, error::from_sdk(e))
                        .await)
                } else {
                    Err(error::from_sdk(e))
                }
            }
        }
    }

    /// The parent name and key to try when `name` is missing, if the fallback applies.
    fn fallback_key<'a>(
        &self,
        name: &'a SecretName,
        opts: &ReadOptions,
    ) -> Option<(SecretName, &'a str)> {
        if !self.settings.json_key_fallback || opts.field.is_some() {
            return None;
        }
        name.parent().map(|parent| (parent, name.basename()))
    }

    /// `BatchGetSecretValue` for `ids`, 20 per call. `Ok(None)` when the caller may not use the
    /// batch call (`AccessDeniedException` at call level), so the caller falls back to single
    /// reads. Missing names are absent from the map.
    async fn batch(
        &self,
        client: &Client,
        ids: &[String],
    ) -> Result<Option<HashMap<String, Secret>>> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH_SIZE) {
            let mut next: Option<String> = None;
            loop {
                let res = client
                    .batch_get_secret_value()
                    .set_secret_id_list(Some(chunk.to_vec()))
                    .set_next_token(next.take())
                    .send()
                    .await;
                let mut out = match res {
                    Ok(out) => out,
                    Err(e) if error::code_of(&e) == Some("AccessDeniedException") => {
                        tracing::debug!(
                            provider = PROVIDER,
                            "BatchGetSecretValue is not allowed for this caller; reading one by one"
                        );
                        return Ok(None);
                    }
                    Err(e) => return Err(error::from_sdk(e)),
                };
                for item in out.errors.take().unwrap_or_default() {
                    let id = item.secret_id().unwrap_or_default();
                    match item.error_code().unwrap_or_default() {
                        "ResourceNotFoundException" => {}
                        "InvalidRequestException" => {
                            let original =
                                error::from_code("InvalidRequestException", item.message());
                            return Err(self
                                .invalid_request_on_read(client, id, original)
                                .await
                                .with_name(id));
                        }
                        code => return Err(error::from_code(code, item.message()).with_name(id)),
                    }
                }
                for entry in out.secret_values.take().unwrap_or_default() {
                    let Some(name) = entry.name else {
                        return Err(Error::protocol("a BatchGetSecretValue entry has no Name"));
                    };
                    let secret = api::to_secret(
                        entry.secret_string,
                        entry.secret_binary,
                        entry.version_id,
                        entry.created_date,
                    )
                    .map_err(|e| e.with_name(name.clone()))?;
                    found.insert(name, secret);
                }
                next = out.next_token.take();
                if next.is_none() {
                    break;
                }
            }
        }
        Ok(Some(found))
    }

    async fn fan_out(&self, names: Vec<SecretName>, opts: &ReadOptions) -> Result<ReadManyResult> {
        let results: Vec<Result<(SecretName, Option<Secret>)>> =
            futures_util::stream::iter(names.into_iter().map(|name| async move {
                let secret = self.read(&name, opts).await?;
                Ok((name, secret))
            }))
            .buffered(DEFAULT_READ_MANY_CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn put(
        &self,
        client: &Client,
        id: &str,
        value: &SecretValue,
        opts: &WriteOptions,
        token: &str,
    ) -> Result<WriteOutcome> {
        let (text, binary) = Payload::new(value, opts.content_type.as_deref()).into_parts();
        let out = client
            .put_secret_value()
            .secret_id(id)
            .client_request_token(token)
            .set_secret_string(text)
            .set_secret_binary(binary)
            .send()
            .await
            .map_err(error::from_sdk)?;
        Ok(WriteOutcome::new(out.version_id))
    }

    /// Description and tags for a secret that already existed (`CreateSecret` sets them for a
    /// new one).
    async fn update_metadata(&self, client: &Client, id: &str, opts: &WriteOptions) -> Result<()> {
        if let Some(description) = &opts.description {
            client
                .update_secret()
                .secret_id(id)
                .description(description)
                .send()
                .await
                .map_err(error::from_sdk)?;
        }
        if !opts.tags.is_empty() {
            client
                .tag_resource()
                .secret_id(id)
                .set_tags(Some(tags(opts)))
                .send()
                .await
                .map_err(error::from_sdk)?;
        }
        Ok(())
    }

    async fn write_inner(
        &self,
        client: &Client,
        id: &str,
        value: &SecretValue,
        opts: &WriteOptions,
        token: &str,
    ) -> Result<WriteOutcome> {
        for _attempt in 0..2 {
            let (text, binary) = Payload::new(value, opts.content_type.as_deref()).into_parts();
            let res = client
                .create_secret()
                .name(id)
                .client_request_token(token)
                .set_secret_string(text)
                .set_secret_binary(binary)
                .set_description(opts.description.clone())
                .set_kms_key_id(self.settings.kms_key_id.clone())
                .set_tags((!opts.tags.is_empty()).then(|| tags(opts)))
                .send()
                .await;
            let err = match res {
                Ok(out) => return Ok(WriteOutcome::new(out.version_id)),
                Err(e) => e,
            };
            let (exists, invalid) = match err.as_service_error() {
                Some(s) => (
                    s.is_resource_exists_exception(),
                    s.is_invalid_request_exception(),
                ),
                None => (false, false),
            };
            if !exists && !invalid {
                return Err(error::from_sdk(err));
            }
            // The name is taken (ResourceExists) or in a state that refuses a create
            // (InvalidRequest, which AWS answers for a name scheduled for deletion).
            match self.state(client, id).await? {
                State::Missing => {
                    tracing::debug!(
                        provider = PROVIDER,
                        name = id,
                        "the secret vanished during the write; creating again"
                    );
                    continue;
                }
                State::Live if exists => {
                    tracing::debug!(
                        provider = PROVIDER,
                        name = id,
                        "the secret exists; putting a new version"
                    );
                    let outcome = self.put(client, id, value, opts, token).await?;
                    self.update_metadata(client, id, opts).await?;
                    return Ok(outcome);
                }
                State::Live => return Err(error::from_sdk(err)),
                State::Deleted(_) => {
                    tracing::info!(
                        provider = PROVIDER,
                        name = id,
                        "the name is scheduled for deletion; restoring it and putting a new version"
                    );
                    client
                        .restore_secret()
                        .secret_id(id)
                        .send()
                        .await
                        .map_err(error::from_sdk)?;
                    match self.put(client, id, value, opts, token).await {
                        Ok(outcome) => {
                            self.update_metadata(client, id, opts).await?;
                            return Ok(outcome);
                        }
                        Err(put_err) => {
                            // Do not leave the old (deleted) value readable again.
                            let again = client
                                .delete_secret()
                                .secret_id(id)
                                .recovery_window_in_days(i64::from(
                                    self.settings.recovery_window_days,
                                ))
                                .send()
                                .await;
                            if again.is_err() {
                                tracing::warn!(
                                    provider = PROVIDER,
                                    name = id,
                                    "the put after a restore failed and deleting the restored secret again failed too"
                                );
                            }
                            return Err(put_err);
                        }
                    }
                }
            }
        }
        Err(Error::new(
            ErrorKind::Conflict,
            "the secret kept changing state during the write",
        ))
    }
}

fn tags(opts: &WriteOptions) -> Vec<Tag> {
    opts.tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn scheduled_for_deletion(id: &str, when: Option<SystemTime>) -> Error {
    let message = match when {
        Some(t) => format!(
            "secret `{id}` is scheduled for deletion ({}) and cannot be read",
            humantime::format_rfc3339_seconds(t)
        ),
        None => format!("secret `{id}` is scheduled for deletion and cannot be read"),
    };
    Error::new(ErrorKind::Conflict, message).with_hint(SCHEDULED_FOR_DELETION_HINT)
}

/// `field` of `secret`, or `None` when it is absent or the value is not a JSON object (for the
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
        let client = self.client().await.map_err(ctx)?;
        if let Some(secret) = self.get(client, name.as_str(), opts).await.map_err(ctx)? {
            return with_field(secret, opts.field.as_deref()).map_err(ctx);
        }
        let Some((parent, key)) = self.fallback_key(name, opts) else {
            return Ok(None);
        };
        let parent_secret = self.get(client, parent.as_str(), opts).await.map_err(ctx)?;
        Ok(parent_secret.and_then(|s| pick_key(s, key)))
    }

    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        for name in names {
            api::validate_name(name)
                .map_err(|e| e.context(PROVIDER, Operation::ReadMany, Some(name.as_str())))?;
        }
        let unique = dedupe(names);
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        // BatchGetSecretValue always reads AWSCURRENT.
        if opts.version.is_some() || opts.stage.is_some() {
            return self.fan_out(unique, opts).await;
        }
        let ctx = |e: Error| e.context(PROVIDER, Operation::ReadMany, None);
        let client = self.client().await.map_err(ctx)?;
        let ids: Vec<String> = unique.iter().map(|n| n.as_str().to_owned()).collect();
        let Some(found) = self.batch(client, &ids).await.map_err(ctx)? else {
            return self.fan_out(unique, opts).await;
        };
        // Last-segment fallback for the names that were not found: one more batch of parents.
        let mut parents: Vec<String> = Vec::new();
        let asked: HashSet<&str> = ids.iter().map(String::as_str).collect();
        for name in &unique {
            if found.contains_key(name.as_str()) {
                continue;
            }
            if let Some((parent, _)) = self.fallback_key(name, opts) {
                let p = parent.as_str();
                if !asked.contains(p) && !parents.iter().any(|x| x == p) {
                    parents.push(p.to_owned());
                }
            }
        }
        let parent_found = if parents.is_empty() {
            HashMap::new()
        } else {
            match self.batch(client, &parents).await.map_err(ctx)? {
                Some(map) => map,
                None => return self.fan_out(unique, opts).await,
            }
        };
        let mut out = Vec::with_capacity(unique.len());
        for name in unique {
            let secret = match found.get(name.as_str()) {
                Some(s) => with_field(s.clone(), opts.field.as_deref())
                    .map_err(|e| e.context(PROVIDER, Operation::ReadMany, Some(name.as_str())))?,
                None => self.fallback_key(&name, opts).and_then(|(parent, key)| {
                    found
                        .get(parent.as_str())
                        .or_else(|| parent_found.get(parent.as_str()))
                        .and_then(|s| pick_key(s.clone(), key))
                }),
            };
            out.push((name, secret));
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
        let client = self.client().await.map_err(ctx)?;
        // One token for every call of this write: a call retried after a lost answer is
        // recognised by the service (same token, same value) and not applied twice.
        let token = api::request_token();
        self.write_inner(client, name.as_str(), &value, opts, &token)
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
            let days = opts
                .recovery_window_days
                .unwrap_or(self.settings.recovery_window_days);
            check_recovery_window(days).map_err(|why| ctx(Error::new(ErrorKind::Config, why)))?;
            Some(i64::from(days))
        };
        let client = self.client().await.map_err(ctx)?;
        let res = client
            .delete_secret()
            .secret_id(name.as_str())
            .set_recovery_window_in_days(window)
            .set_force_delete_without_recovery(opts.force.then_some(true))
            .send()
            .await;
        let err = match res {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let (not_found, invalid) = match err.as_service_error() {
            Some(s) => (
                s.is_resource_not_found_exception(),
                s.is_invalid_request_exception(),
            ),
            None => (false, false),
        };
        if not_found {
            return Ok(());
        }
        if invalid {
            // Already scheduled for deletion (or purged meanwhile): the delete has happened.
            if let Ok(State::Deleted(_) | State::Missing) = self.state(client, name.as_str()).await
            {
                return Ok(());
            }
        }
        Err(ctx(error::from_sdk(err)))
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        let ctx = |e: Error| e.context(PROVIDER, Operation::List, None);
        let prefix = prefix.filter(|p| !p.is_empty());
        if prefix.is_some_and(api::prefix_is_impossible) {
            return Ok(Vec::new());
        }
        let client = self.client().await.map_err(ctx)?;
        // The service's name filter is a case-insensitive prefix match: filter again exactly.
        let filters = prefix.map(|p| {
            vec![
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(p)
                    .build(),
            ]
        });
        let mut names = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = client
                .list_secrets()
                .max_results(LIST_PAGE_SIZE)
                .set_filters(filters.clone())
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| ctx(error::from_sdk(e)))?;
            for entry in out.secret_list() {
                let Some(n) = entry.name() else { continue };
                if entry.deleted_date().is_some() || prefix.is_some_and(|p| !n.starts_with(p)) {
                    continue;
                }
                match SecretName::new(n) {
                    Ok(name) => names.push(name),
                    Err(_) => tracing::debug!(
                        provider = PROVIDER,
                        "skipping a listed name Strongroom cannot address"
                    ),
                }
            }
            next = out.next_token;
            if next.is_none() {
                break;
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_testkit::servers::moto::{self, Moto};

    async fn versions(client: &Client, id: &str) -> usize {
        client
            .list_secret_version_ids()
            .secret_id(id)
            .include_deprecated(true)
            .send()
            .await
            .unwrap()
            .versions()
            .len()
    }

    /// A write retried with the same ClientRequestToken (as the SDK does after a lost answer)
    /// is applied once, on the create path and on the put path.
    #[tokio::test]
    async fn a_retried_write_is_applied_once() {
        let moto = Moto::start().await;
        let store = AwsBuilder::new()
            .with_region(moto::REGION)
            .with_endpoint_url(moto.endpoint())
            .with_access_key(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
            .build()
            .unwrap();
        let client = store.client().await.unwrap();
        let opts = WriteOptions::new();
        let value = SecretValue::from("v1");

        let token = api::request_token();
        let a = store
            .write_inner(client, "idem/a", &value, &opts, &token)
            .await
            .unwrap();
        let b = store
            .write_inner(client, "idem/a", &value, &opts, &token)
            .await
            .unwrap();
        assert_eq!(a.version.as_deref(), Some(token.as_str()));
        assert_eq!(a, b);
        assert_eq!(versions(client, "idem/a").await, 1, "create applied once");

        let token = api::request_token();
        let v2 = SecretValue::from("v2");
        store
            .write_inner(client, "idem/a", &v2, &opts, &token)
            .await
            .unwrap();
        store
            .write_inner(client, "idem/a", &v2, &opts, &token)
            .await
            .unwrap();
        assert_eq!(versions(client, "idem/a").await, 2, "put applied once");
        let previous = store
            .read(
                &SecretName::new("idem/a").unwrap(),
                &ReadOptions::new().stage("AWSPREVIOUS"),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            previous.value.expose_str().unwrap(),
            "v1",
            "the retry did not push v1 out"
        );

        // A different write (new token) is a new version.
        store
            .write(&SecretName::new("idem/a").unwrap(), "v3".into(), &opts)
            .await
            .unwrap();
        assert_eq!(versions(client, "idem/a").await, 3);
    }
}
