//! Every AWS call and answer mapping: the SDK client, `GetSecretValue`, `BatchGetSecretValue`,
//! `DescribeSecret`, the write flow (`CreateSecret`, `PutSecretValue` / `UpdateSecret`,
//! `TagResource`, `RestoreSecret`), `DeleteSecret`, `ListSecrets`; AWS name rules, idempotency
//! tokens, request payloads and answer → `Secret`.

use std::collections::HashMap;
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use aws_smithy_types::{Blob, DateTime};
use strongroom_core::provider::PageBudget;
use strongroom_core::{
    Error, ErrorKind, ReadOptions, Result, Secret, SecretName, SecretValue, WriteOptions,
    WriteOutcome,
};

use crate::error::{self, PROVIDER};

/// `BatchGetSecretValue` takes at most this many ids per call.
pub(crate) const BATCH_SIZE: usize = 20;
/// Page size for `ListSecrets` (the API maximum).
pub(crate) const LIST_PAGE_SIZE: i32 = 100;
/// Content type that forces `SecretBinary` for a value that happens to be valid UTF-8.
pub(crate) const BINARY_CONTENT_TYPE: &str = "application/octet-stream";

/// AWS Secrets Manager names: `[A-Za-z0-9/_+=.@-]`, 1–512 characters. Checked before any call.
pub(crate) fn validate_name(name: &SecretName) -> Result<()> {
    let text = name.as_str();
    if let Some(c) = text.chars().find(|c| !is_name_char(*c)) {
        let what = if c == ' ' {
            "a space".to_owned()
        } else if c.is_ascii() {
            format!("`{c}`")
        } else {
            format!("the non-ASCII character {}", c.escape_unicode())
        };
        return Err(Error::invalid_name(
            text,
            format!(
                "AWS Secrets Manager names may only contain A-Z a-z 0-9 / _ + = . @ -, not {what}"
            ),
        ));
    }
    if text.len() > 512 {
        return Err(Error::invalid_name(
            text,
            "AWS Secrets Manager names are at most 512 characters",
        ));
    }
    Ok(())
}

pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '=' | '.' | '@' | '-')
}

/// A fresh `ClientRequestToken` (32 hex digits; AWS wants 32–64 characters). One token is used
/// for every call of one write, so a retried call is not applied twice.
pub(crate) fn request_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The value as AWS wants it: `SecretString` for UTF-8 text, `SecretBinary` for other bytes
/// (or when the content type is `application/octet-stream`).
///
/// The SDK takes the payload by value and does not wipe it after sending; that copy is outside
/// our control.
pub(crate) enum Payload {
    Text(String),
    Binary(Blob),
}

impl Payload {
    pub(crate) fn new(value: &SecretValue, content_type: Option<&str>) -> Payload {
        let bytes = value.expose_secret();
        let force_binary =
            content_type.is_some_and(|c| c.eq_ignore_ascii_case(BINARY_CONTENT_TYPE));
        match std::str::from_utf8(bytes) {
            Ok(text) if !force_binary => Payload::Text(text.to_owned()),
            _ => Payload::Binary(Blob::new(bytes.to_vec())),
        }
    }

    pub(crate) fn into_parts(self) -> (Option<String>, Option<Blob>) {
        match self {
            Payload::Text(s) => (Some(s), None),
            Payload::Binary(b) => (None, Some(b)),
        }
    }
}

/// Builds a [`Secret`] from the value fields of a `GetSecretValue` / `BatchGetSecretValue` answer.
pub(crate) fn to_secret(
    secret_string: Option<String>,
    secret_binary: Option<Blob>,
    version_id: Option<String>,
    created: Option<DateTime>,
) -> Result<Secret> {
    let value = match (secret_string, secret_binary) {
        (Some(s), _) => SecretValue::from(s),
        (None, Some(b)) => SecretValue::from_bytes(b.into_inner()),
        (None, None) => {
            return Err(Error::protocol(
                "the answer has neither SecretString nor SecretBinary",
            ));
        }
    };
    let mut secret = Secret::new(value);
    if let Some(v) = version_id {
        secret = secret.with_version(v);
    }
    if let Some(t) = created.and_then(|d| SystemTime::try_from(d).ok()) {
        secret = secret.with_created_at(t).with_updated_at(t);
    }
    Ok(secret)
}

/// Whether `prefix` can only match names AWS would refuse (so listing can skip the call).
pub(crate) fn prefix_is_impossible(prefix: &str) -> bool {
    !prefix.chars().all(is_name_char)
}

/// What a read of one id found.
#[derive(Debug)]
pub(crate) enum Found {
    /// The value.
    Secret(Secret),
    /// No such secret (or no such version / stage).
    Missing,
    /// The secret is scheduled for deletion: a `NotFound` error with the date.
    Deleted(Error),
}

/// Where a name stands, from `DescribeSecret`.
enum State {
    Missing,
    Live,
    Deleted(Option<SystemTime>),
}

/// What a `BatchGetSecretValue` of some ids found (ids absent from the map were not found).
pub(crate) enum Batch {
    /// The answers by id.
    Found(HashMap<String, Found>),
    /// The caller may not use the batch call (`AccessDeniedException` for the call itself).
    Denied,
}

/// The Secrets Manager client and the calls Strongroom makes.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    client: Client,
}

impl Api {
    /// The client for `sdk`, sent to `endpoint_url` or the regional endpoint. The settings are
    /// the one source of the endpoint: one the SDK found in the environment or a profile on
    /// its own is dropped.
    pub(crate) fn new(sdk: &SdkConfig, endpoint_url: Option<&str>) -> Api {
        let mut conf = aws_sdk_secretsmanager::config::Builder::from(sdk);
        conf.set_endpoint_url(endpoint_url.map(str::to_owned));
        Api {
            client: Client::from_conf(conf.build()),
        }
    }

    /// `GetSecretValue` of `id` with the version or stage of `opts`.
    pub(crate) async fn get(&self, id: &str, opts: &ReadOptions) -> Result<Found> {
        let res = self
            .client
            .get_secret_value()
            .secret_id(id)
            .set_version_id(opts.version.clone())
            .set_version_stage(opts.stage.clone())
            .send()
            .await;
        let err = match res {
            Ok(out) => {
                return to_secret(
                    out.secret_string,
                    out.secret_binary,
                    out.version_id,
                    out.created_date,
                )
                .map(Found::Secret);
            }
            Err(e) => e,
        };
        match err.as_service_error() {
            Some(s) if s.is_resource_not_found_exception() => Ok(Found::Missing),
            // AWS's answer for a secret scheduled for deletion (and a few other states).
            Some(s) if s.is_invalid_request_exception() => {
                self.invalid_request(id, error::from_sdk(err)).await
            }
            _ => Err(error::from_sdk(err)),
        }
    }

    /// A read refused with `InvalidRequestException`: [`Found::Deleted`] when `DescribeSecret`
    /// confirms the secret is scheduled for deletion, else the service's own error.
    async fn invalid_request(&self, id: &str, original: Error) -> Result<Found> {
        match self.state(id).await {
            Ok(State::Deleted(when)) => Ok(Found::Deleted(scheduled_for_deletion(id, when))),
            _ => Err(original),
        }
    }

    async fn state(&self, id: &str) -> Result<State> {
        match self.client.describe_secret().secret_id(id).send().await {
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

    /// `BatchGetSecretValue` of at most [`BATCH_SIZE`] ids (their current versions), pages
    /// followed within `budget`. Per-secret failures come back in the answer's `Errors[]`.
    pub(crate) async fn batch_get(&self, ids: &[&str], mut budget: PageBudget) -> Result<Batch> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut next: Option<String> = None;
        loop {
            let res = self
                .client
                .batch_get_secret_value()
                .set_secret_id_list(Some(ids.iter().map(|id| (*id).to_owned()).collect()))
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
                    return Ok(Batch::Denied);
                }
                Err(e) => return Err(error::from_sdk(e)),
            };
            let errors = out.errors.take().unwrap_or_default();
            let values = out.secret_values.take().unwrap_or_default();
            budget.page(errors.len() + values.len())?;
            for item in errors {
                let id = item.secret_id().unwrap_or_default();
                let code = item.error_code().unwrap_or_default();
                let entry = match code {
                    "ResourceNotFoundException" => Found::Missing,
                    "InvalidRequestException" => {
                        let original = error::from_code(code, item.message()).with_name(id);
                        self.invalid_request(id, original).await?
                    }
                    _ => return Err(error::from_code(code, item.message()).with_name(id)),
                };
                found.insert(id.to_owned(), entry);
            }
            for entry in values {
                let Some(name) = entry.name else {
                    return Err(Error::protocol("a BatchGetSecretValue entry has no Name"));
                };
                let secret = to_secret(
                    entry.secret_string,
                    entry.secret_binary,
                    entry.version_id,
                    entry.created_date,
                )
                .map_err(|e| e.with_name(name.clone()))?;
                found.insert(name, Found::Secret(secret));
            }
            next = out.next_token.take();
            if next.is_none() {
                return Ok(Batch::Found(found));
            }
        }
    }

    /// Writes `value` to `id`: `CreateSecret` (description, tags and KMS key with it); a name
    /// that is taken gets a new version (`PutSecretValue`, or `UpdateSecret` when a
    /// description comes along) and its tags (`TagResource`); a name scheduled for deletion
    /// is restored first, and deleted again (window `recovery_days`) if the write that
    /// follows fails. Every call carries `token`, so a call retried after a lost answer is
    /// not applied twice.
    pub(crate) async fn write(
        &self,
        id: &str,
        value: &SecretValue,
        opts: &WriteOptions,
        kms_key_id: Option<&str>,
        recovery_days: u32,
        token: &str,
    ) -> Result<WriteOutcome> {
        for _attempt in 0..2 {
            let (text, binary) = Payload::new(value, opts.content_type.as_deref()).into_parts();
            let res = self
                .client
                .create_secret()
                .name(id)
                .client_request_token(token)
                .set_secret_string(text)
                .set_secret_binary(binary)
                .set_description(opts.description.clone())
                .set_kms_key_id(kms_key_id.map(str::to_owned))
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
            match self.state(id).await? {
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
                        "the secret exists; writing a new version"
                    );
                    return self.new_version(id, value, opts, token).await;
                }
                State::Live => return Err(error::from_sdk(err)),
                State::Deleted(_) => {
                    tracing::info!(
                        provider = PROVIDER,
                        name = id,
                        "the name is scheduled for deletion; restoring it and writing a new version"
                    );
                    self.restore(id).await?;
                    return match self.new_version(id, value, opts, token).await {
                        Ok(outcome) => Ok(outcome),
                        Err(write_err) => {
                            // Do not leave the old (deleted) value readable again.
                            if self
                                .delete(id, Some(i64::from(recovery_days)), false)
                                .await
                                .is_err()
                            {
                                tracing::warn!(
                                    provider = PROVIDER,
                                    name = id,
                                    "the write after a restore failed and deleting the restored secret again failed too"
                                );
                            }
                            Err(write_err)
                        }
                    };
                }
            }
        }
        Err(Error::new(
            ErrorKind::Conflict,
            "the secret kept changing state during the write",
        ))
    }

    /// A new version of an existing secret, with the description (`UpdateSecret` carries both
    /// in one call) and tags of `opts`.
    async fn new_version(
        &self,
        id: &str,
        value: &SecretValue,
        opts: &WriteOptions,
        token: &str,
    ) -> Result<WriteOutcome> {
        let (text, binary) = Payload::new(value, opts.content_type.as_deref()).into_parts();
        let version = match &opts.description {
            Some(description) => {
                self.client
                    .update_secret()
                    .secret_id(id)
                    .client_request_token(token)
                    .description(description)
                    .set_secret_string(text)
                    .set_secret_binary(binary)
                    .send()
                    .await
                    .map_err(error::from_sdk)?
                    .version_id
            }
            None => {
                self.client
                    .put_secret_value()
                    .secret_id(id)
                    .client_request_token(token)
                    .set_secret_string(text)
                    .set_secret_binary(binary)
                    .send()
                    .await
                    .map_err(error::from_sdk)?
                    .version_id
            }
        };
        if !opts.tags.is_empty() {
            self.client
                .tag_resource()
                .secret_id(id)
                .set_tags(Some(tags(opts)))
                .send()
                .await
                .map_err(error::from_sdk)?;
        }
        Ok(WriteOutcome::new(version))
    }

    /// `RestoreSecret`: cancels a scheduled deletion.
    pub(crate) async fn restore(&self, id: &str) -> Result<()> {
        self.client
            .restore_secret()
            .secret_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(error::from_sdk)
    }

    /// `DeleteSecret` with a recovery window or, `force`, at once. A missing secret, or one
    /// already scheduled for deletion, counts as deleted.
    pub(crate) async fn delete(&self, id: &str, window: Option<i64>, force: bool) -> Result<()> {
        let res = self
            .client
            .delete_secret()
            .secret_id(id)
            .set_recovery_window_in_days(window)
            .set_force_delete_without_recovery(force.then_some(true))
            .send()
            .await;
        let err = match res {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        match err.as_service_error() {
            Some(s) if s.is_resource_not_found_exception() => Ok(()),
            Some(s) if s.is_invalid_request_exception() => {
                // Already scheduled for deletion (or purged meanwhile): the delete has happened.
                match self.state(id).await {
                    Ok(State::Deleted(_) | State::Missing) => Ok(()),
                    _ => Err(error::from_sdk(err)),
                }
            }
            _ => Err(error::from_sdk(err)),
        }
    }

    /// `ListSecrets`: the names starting with `prefix` (exactly: the service's filter is a
    /// case-insensitive prefix match), without those scheduled for deletion; every page
    /// counted against `budget`.
    pub(crate) async fn list(
        &self,
        prefix: Option<&str>,
        mut budget: PageBudget,
    ) -> Result<Vec<SecretName>> {
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
            let out = self
                .client
                .list_secrets()
                .max_results(LIST_PAGE_SIZE)
                .set_filters(filters.clone())
                .set_next_token(next.take())
                .send()
                .await
                .map_err(error::from_sdk)?;
            budget.page(out.secret_list().len())?;
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

    /// The SDK client (tests).
    #[cfg(test)]
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }
}

fn tags(opts: &WriteOptions) -> Vec<Tag> {
    opts.tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The hint for a name that is scheduled for deletion.
const SCHEDULED_FOR_DELETION_HINT: &str = "restore it (RestoreSecret, or write it again through Strongroom, which restores it) \
     or wait for the purge; delete with force to remove it at once";

/// A secret scheduled for deletion reads as not found (LiteLLM returns None), saying when.
fn scheduled_for_deletion(id: &str, when: Option<SystemTime>) -> Error {
    let message = match when {
        Some(t) => format!(
            "secret `{id}` is scheduled for deletion on {} and cannot be read",
            humantime::format_rfc3339_seconds(t)
        ),
        None => format!("secret `{id}` is scheduled for deletion and cannot be read"),
    };
    Error::new(ErrorKind::NotFound, message)
        .with_name(id)
        .with_hint(SCHEDULED_FOR_DELETION_HINT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_core::ErrorKind;

    #[test]
    fn aws_name_rules() {
        for ok in ["a", "prod/db-password", "a_b+c=d.e@f-g", "A/B/C"] {
            assert!(validate_name(&SecretName::new(ok).unwrap()).is_ok(), "{ok}");
        }
        for bad in ["with space", "ünïcødé", "a:b", "a#b", "a*b", "a%20b"] {
            let err = validate_name(&SecretName::new(bad).unwrap()).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::InvalidName, "{bad}");
        }
    }

    #[test]
    fn tokens_have_the_length_aws_wants() {
        let a = request_token();
        assert_eq!(a.len(), 32);
        assert_ne!(a, request_token());
    }

    #[test]
    fn payload_kinds() {
        assert!(matches!(
            Payload::new(&"text".into(), None),
            Payload::Text(_)
        ));
        assert!(matches!(
            Payload::new(&SecretValue::from_bytes(vec![0xff, 0x00]), None),
            Payload::Binary(_)
        ));
        assert!(matches!(
            Payload::new(&"text".into(), Some("application/octet-stream")),
            Payload::Binary(_)
        ));
    }

    async fn api_on(moto: &strongroom_testkit::servers::moto::Moto) -> Api {
        use strongroom_testkit::servers::moto;
        let config = crate::AwsBuilder::new()
            .with_region(moto::REGION)
            .with_endpoint_url(moto.endpoint())
            .with_access_key(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
            .config()
            .clone()
            .validated()
            .unwrap();
        let http = crate::transport::http_client(&config.http).unwrap();
        let sdk = crate::auth::sdk_config(&config, http).await.unwrap();
        Api::new(&sdk, config.endpoint_url.as_deref())
    }

    async fn versions(api: &Api, id: &str) -> usize {
        api.client()
            .list_secret_version_ids()
            .secret_id(id)
            .include_deprecated(true)
            .send()
            .await
            .unwrap()
            .versions()
            .len()
    }

    async fn current(api: &Api, id: &str, stage: &str) -> String {
        match api.get(id, &ReadOptions::new().stage(stage)).await.unwrap() {
            Found::Secret(s) => s.value.expose_str().unwrap().to_owned(),
            other => panic!("{other:?}"),
        }
    }

    /// A write retried with the same ClientRequestToken (as the SDK does after a lost answer)
    /// is applied once, on the create path, the put path and the update path.
    #[tokio::test]
    async fn a_retried_write_is_applied_once() {
        let moto = strongroom_testkit::servers::moto::Moto::start().await;
        let api = api_on(&moto).await;
        let opts = WriteOptions::new();
        let write = |value: &'static str, opts: WriteOptions, token: String| {
            let api = api.clone();
            async move {
                api.write("idem/a", &SecretValue::from(value), &opts, None, 7, &token)
                    .await
                    .unwrap()
            }
        };

        let token = request_token();
        let a = write("v1", opts.clone(), token.clone()).await;
        let b = write("v1", opts.clone(), token.clone()).await;
        assert_eq!(a.version.as_deref(), Some(token.as_str()));
        assert_eq!(a, b);
        assert_eq!(versions(&api, "idem/a").await, 1, "create applied once");

        let token = request_token();
        write("v2", opts.clone(), token.clone()).await;
        write("v2", opts.clone(), token).await;
        assert_eq!(versions(&api, "idem/a").await, 2, "put applied once");
        assert_eq!(current(&api, "idem/a", "AWSPREVIOUS").await, "v1");

        // With a description the new version goes through UpdateSecret: same rule.
        let described = opts.clone().description("d");
        let token = request_token();
        write("v3", described.clone(), token.clone()).await;
        write("v3", described, token).await;
        assert_eq!(versions(&api, "idem/a").await, 3, "update applied once");
        assert_eq!(current(&api, "idem/a", "AWSCURRENT").await, "v3");
        assert_eq!(current(&api, "idem/a", "AWSPREVIOUS").await, "v2");
    }
}
