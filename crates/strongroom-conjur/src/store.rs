//! [`ConjurStore`]: the [`SecretStore`] for Conjur.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use strongroom_core::{
    Capabilities, DEFAULT_READ_MANY_CONCURRENCY, DeleteOptions, Error, Operation, ReadManyResult,
    ReadOptions, Result, Secret, SecretName, SecretStore, SecretValue, StoreInfo, WriteOptions,
    WriteOutcome, async_trait, dedupe,
};
use zeroize::Zeroizing;

use crate::api::{Api, Call};
use crate::auth::{Auth, decode_any_base64};
use crate::config::Settings;
use crate::error::{PROVIDER, error_fields, reply_error};
use crate::policy;

/// Longest batch URL sent (ids beyond it go into the next batch).
const MAX_BATCH_URL: usize = 6000;

/// A CyberArk Conjur secrets store. Build it with [`crate::ConjurBuilder`].
///
/// * `read` → `GET /secrets/{account}/variable/{id}` (`404` → `Ok(None)`); `version` is the
///   Conjur version number (the last 20 are kept).
/// * `read_many` → one batch `GET /secrets?variable_ids=…`; the batch is all-or-nothing on the
///   server, so a `404` falls back to single reads and one missing name hides nothing.
/// * `write` → declares the variable with an add-only policy load of `- !variable "<id>"` into
///   the configured branch (retrying `409 policy_conflict` after `Retry-After`, bounded), then
///   sets the value. Blank values are refused before any call.
/// * `delete` → [`ErrorKind::Unsupported`](strongroom_core::ErrorKind::Unsupported): Conjur removes variables through a policy update.
/// * `list` → `GET /resources/{account}/variable` with `search` / `limit` / `offset`.
///
/// Name rules: every name Strongroom accepts can be **read** (the id is fully
/// percent-encoded); a **write** additionally needs the policy allowlist — letters, digits,
/// `.`, `_`, `-`, `/`, no `..`, at most 255 bytes — so names with spaces or non-ASCII letters
/// are [`ErrorKind::InvalidName`](strongroom_core::ErrorKind::InvalidName) for writes.
///
/// ```no_run
/// use strongroom_conjur::ConjurBuilder;
/// use strongroom_core::{SecretName, SecretStore, WriteOptions};
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = ConjurBuilder::new()
///     .with_api_base("https://conjur.example.com")
///     .with_account("myorg")
///     .with_login("host/litellm")
///     .with_api_key("3x4mpl3-k3y")
///     .build()?;
/// let name = SecretName::new("litellm/virtual-key-1")?;
/// store.write(&name, "sk-123".into(), &WriteOptions::new()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ConjurStore {
    inner: Arc<Inner>,
}

struct Inner {
    info: StoreInfo,
    api: Api,
    auth: Auth,
    login: String,
    policy_branch: String,
    policy_conflict_retries: usize,
    policy_conflict_max_wait: Duration,
    batch_size: usize,
    list_search: bool,
    list_page_size: usize,
}

impl std::fmt::Debug for ConjurStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConjurStore")
            .field("api_base", &self.inner.api.base)
            .field("account", &self.inner.api.account)
            .field("login", &self.inner.login)
            .field("auth", self.inner.auth.mode())
            .field("policy_branch", &self.inner.policy_branch)
            .finish_non_exhaustive()
    }
}

fn ctx(e: Error, op: Operation, name: Option<&SecretName>) -> Error {
    e.context(PROVIDER, op, name.map(SecretName::as_str))
}

impl ConjurStore {
    pub(crate) fn from_settings(s: Settings) -> Result<ConjurStore> {
        let http = s.http.build_client()?;
        let api = Api {
            http,
            base: s.api_base,
            account: s.account,
            retry: s.retry,
        };
        let auth = Auth::new(
            s.auth,
            s.login.clone(),
            s.api_key,
            s.refresh_interval,
            s.clock,
        );
        let info = StoreInfo::new(
            PROVIDER,
            Capabilities::all()
                .with_delete(false)
                .with_batch_read(true)
                .with_versions(true)
                .with_binary(true),
        )
        .with_address(format!("conjur:{}|{}", api.base, api.account))
        .with_identity(&[b"conjur-login", s.login.as_bytes()]);
        Ok(ConjurStore {
            inner: Arc::new(Inner {
                info,
                api,
                auth,
                login: s.login,
                policy_branch: s.policy_branch,
                policy_conflict_retries: s.policy_conflict_retries,
                policy_conflict_max_wait: s.policy_conflict_max_wait,
                batch_size: s.batch_size,
                list_search: s.list_search,
                list_page_size: s.list_page_size,
            }),
        })
    }

    /// The Conjur URL.
    pub fn api_base(&self) -> &str {
        &self.inner.api.base
    }

    /// The account.
    pub fn account(&self) -> &str {
        &self.inner.api.account
    }

    /// How many times this store has logged in (tests and metrics).
    pub async fn logins(&self) -> u64 {
        self.inner.auth.logins().await
    }

    /// Checks that `name` can be declared in a Conjur policy (the write allowlist).
    pub fn check_writable_name(name: &SecretName) -> Result<()> {
        match policy::variable_id_problem(name.as_str()) {
            None => Ok(()),
            Some(why) => Err(Error::invalid_name(name.as_str(), why).context(
                PROVIDER,
                Operation::Write,
                None,
            )),
        }
    }

    async fn read_one(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        if opts.stage.is_some() {
            return Err(Error::unsupported(
                "Conjur has no version stages",
                "ask for a version number instead (ReadOptions::version)",
            ));
        }
        let version = match opts.version.as_deref() {
            None => None,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(Error::unsupported(
                        format!("`{v}` is not a Conjur version"),
                        "Conjur versions are positive integers (the last 20 are kept)",
                    ));
                }
            },
        };
        let inner = &self.inner;
        let call = Call::get(inner.api.secret_url(name.as_str(), version));
        let reply = inner.api.authed(&inner.auth, &call).await?;
        match reply.status {
            StatusCode::OK => {
                let mut secret = Secret::new(SecretValue::copy_from_slice(&reply.body));
                if let Some(ct) = reply.content_type() {
                    secret = secret.with_content_type(ct);
                }
                if let Some(v) = version {
                    secret = secret.with_version(v.to_string());
                }
                select(secret, opts)
            }
            // Missing, not visible to us, or declared without a value: all "no value".
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(reply_error(&reply)),
        }
    }

    /// Single reads with bounded concurrency (the batch fallback).
    async fn read_singles(
        &self,
        names: &[SecretName],
        opts: &ReadOptions,
    ) -> Result<ReadManyResult> {
        let results: Vec<Result<(SecretName, Option<Secret>)>> =
            futures_util::stream::iter(names.iter().cloned().map(|name| async move {
                let s = self
                    .read_one(&name, opts)
                    .await
                    .map_err(|e| ctx(e, Operation::Read, Some(&name)))?;
                Ok((name, s))
            }))
            .buffered(DEFAULT_READ_MANY_CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// One batch request. `Ok(None)` when the server refused the batch as a whole (404 = some id
    /// missing or without value; 406 = binary value; 422 = an id it did not like): the caller
    /// falls back to single reads.
    async fn read_batch(
        &self,
        names: &[SecretName],
        opts: &ReadOptions,
    ) -> Result<Option<ReadManyResult>> {
        let inner = &self.inner;
        let ids: Vec<&str> = names.iter().map(SecretName::as_str).collect();
        let mut call = Call::get(inner.api.batch_url(&ids));
        call.accept_encoding = Some("base64");
        let reply = inner.api.authed(&inner.auth, &call).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND
            | StatusCode::NOT_ACCEPTABLE
            | StatusCode::UNPROCESSABLE_ENTITY => {
                tracing::debug!(
                    status = reply.status.as_u16(),
                    n = names.len(),
                    "conjur batch refused; reading one by one"
                );
                return Ok(None);
            }
            _ => return Err(reply_error(&reply)),
        }
        let base64 = reply
            .header("content-encoding")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("base64"));
        let (mut out, missing) = parse_batch(
            &reply.body,
            base64,
            |id| inner.api.qualified(id),
            names,
            opts,
        )?;
        if !missing.is_empty() {
            // The batch is all-or-nothing; an answer without some ids is odd — ask for each.
            out.extend(self.read_singles(&missing, opts).await?);
        }
        Ok(Some(out))
    }

    async fn load_variable_policy(&self, name: &SecretName) -> Result<()> {
        let inner = &self.inner;
        let doc = policy::variable_record(name.as_str())
            .map_err(|why| Error::invalid_name(name.as_str(), why))?;
        let call = Call::post(
            inner.api.policy_url(&inner.policy_branch),
            "application/x-yaml",
            SecretValue::from(doc),
        );
        let mut conflicts = 0;
        loop {
            let reply = inner.api.authed(&inner.auth, &call).await?;
            match reply.status {
                StatusCode::OK | StatusCode::CREATED => return Ok(()),
                StatusCode::CONFLICT
                    if error_fields(&reply).0.as_deref() == Some("policy_conflict")
                        && conflicts < inner.policy_conflict_retries =>
                {
                    let backoff = inner.api.retry.backoff(conflicts);
                    let wait = reply
                        .retry_after()
                        .unwrap_or(backoff)
                        .min(inner.policy_conflict_max_wait);
                    conflicts += 1;
                    tracing::debug!(
                        retry = conflicts,
                        wait_ms = wait.as_millis() as u64,
                        "conjur policy conflict; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                StatusCode::NOT_FOUND => {
                    return Err(reply_error(&reply).with_hint(format!(
                        "the policy branch `{}` does not exist or is not visible (CYBERARK_POLICY_BRANCH)",
                        inner.policy_branch
                    )));
                }
                _ => return Err(reply_error(&reply)),
            }
        }
    }
}

/// Parses a `200` batch answer (`{"<account>:variable:<id>": "<value>", …}`, values base64
/// when `base64`): the values of `names` found in it, and the names it does not hold.
pub(crate) fn parse_batch(
    body: &[u8],
    base64: bool,
    qualified: impl Fn(&str) -> String,
    names: &[SecretName],
    opts: &ReadOptions,
) -> Result<(ReadManyResult, Vec<SecretName>)> {
    let map: HashMap<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|_| Error::protocol("the batch answer is not a JSON object"))?;
    let mut map = WipedMap(map);
    let mut out = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for name in names {
        let key = qualified(name.as_str());
        let Some(serde_json::Value::String(text)) = map.0.get_mut(&key) else {
            missing.push(name.clone());
            continue;
        };
        let text = Zeroizing::new(std::mem::take(text));
        let bytes = if base64 {
            decode_any_base64(&text)
                .ok_or_else(|| Error::protocol("a batch value is not valid base64"))?
                .to_vec()
        } else {
            text.as_bytes().to_vec()
        };
        out.push((
            name.clone(),
            select(Secret::new(SecretValue::from_bytes(bytes)), opts)?,
        ));
    }
    Ok((out, missing))
}

/// A JSON map whose strings are wiped when dropped.
struct WipedMap(HashMap<String, serde_json::Value>);

impl Drop for WipedMap {
    fn drop(&mut self) {
        self.0.values_mut().for_each(strongroom_core::wipe_json);
    }
}

fn select(secret: Secret, opts: &ReadOptions) -> Result<Option<Secret>> {
    match &opts.field {
        Some(field) => secret.select_field(field),
        None => Ok(Some(secret)),
    }
}

/// The part of `prefix` that can go into Conjur's full-text `search`: its whole segments.
fn search_term(prefix: &str) -> Option<String> {
    let whole = match prefix.rfind('/') {
        Some(i) => &prefix[..i],
        None => return None,
    };
    let whole = whole.trim_matches('/');
    (!whole.is_empty()).then(|| whole.to_string())
}

#[async_trait]
impl SecretStore for ConjurStore {
    fn info(&self) -> &StoreInfo {
        &self.inner.info
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        self.read_one(name, opts)
            .await
            .map_err(|e| ctx(e, Operation::Read, Some(name)))
    }

    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        let unique = dedupe(names);
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        if opts.version.is_some() || opts.stage.is_some() {
            return self.read_singles(&unique, opts).await;
        }
        // Commas separate ids in the batch parameter (the server decodes before splitting).
        let (batchable, singles): (Vec<SecretName>, Vec<SecretName>) = unique
            .iter()
            .cloned()
            .partition(|n| !n.as_str().contains(','));
        let mut got: HashMap<SecretName, Option<Secret>> = HashMap::with_capacity(unique.len());
        let mut chunk: Vec<SecretName> = Vec::new();
        let mut chunks = Vec::new();
        let mut url_len = 0;
        for n in batchable {
            let len = n.as_str().len() * 3 + self.inner.api.account.len() * 3 + 20;
            if !chunk.is_empty()
                && (chunk.len() >= self.inner.batch_size || url_len + len > MAX_BATCH_URL)
            {
                chunks.push(std::mem::take(&mut chunk));
                url_len = 0;
            }
            url_len += len;
            chunk.push(n);
        }
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
        for chunk in chunks {
            let part = match self
                .read_batch(&chunk, opts)
                .await
                .map_err(|e| ctx(e, Operation::ReadMany, None))?
            {
                Some(part) => part,
                None => self.read_singles(&chunk, opts).await?,
            };
            got.extend(part);
        }
        if !singles.is_empty() {
            got.extend(self.read_singles(&singles, opts).await?);
        }
        Ok(unique
            .into_iter()
            .map(|n| {
                let s = got.remove(&n).flatten();
                (n, s)
            })
            .collect())
    }

    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        let fail = |e: Error| ctx(e, Operation::Write, Some(name));
        if opts.cas.is_some() {
            return Err(fail(Error::unsupported(
                "Conjur has no check-and-set",
                "write without WriteOptions::cas",
            )));
        }
        Self::check_writable_name(name)?;
        if value.is_blank() {
            return Err(fail(Error::unsupported(
                "Conjur refuses empty or white-space-only values",
                "store a non-blank value; to remove a variable, update the policy",
            )));
        }
        self.load_variable_policy(name).await.map_err(fail)?;
        let inner = &self.inner;
        let call = Call::post(
            inner.api.secret_url(name.as_str(), None),
            "application/octet-stream",
            value,
        )
        .once();
        let reply = inner.api.authed(&inner.auth, &call).await.map_err(fail)?;
        match reply.status {
            StatusCode::CREATED | StatusCode::OK | StatusCode::NO_CONTENT => {
                Ok(WriteOutcome::new(None))
            }
            _ => Err(fail(reply_error(&reply))),
        }
    }

    async fn delete(&self, name: &SecretName, _opts: &DeleteOptions) -> Result<()> {
        Err(Error::unsupported(
            "Conjur has no API call that deletes a variable",
            format!(
                "remove it with a policy update: PATCH /policies/{}/policy/{} with `- !delete {{ record: !variable {} }}`",
                self.inner.api.account,
                self.inner.policy_branch,
                policy::yaml_double_quoted(name.as_str())
            ),
        )
        .context(PROVIDER, Operation::Delete, Some(name.as_str())))
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        let inner = &self.inner;
        let prefix = prefix.unwrap_or("");
        let search = if inner.list_search {
            search_term(prefix)
        } else {
            None
        };
        let strip = format!("{}:variable:", inner.api.account);
        let mut names = Vec::new();
        let mut offset = 0;
        loop {
            let call = Call::get(inner.api.resources_url(
                search.as_deref(),
                inner.list_page_size,
                offset,
            ));
            let reply = inner
                .api
                .authed(&inner.auth, &call)
                .await
                .map_err(|e| ctx(e, Operation::List, None))?;
            if reply.status != StatusCode::OK {
                return Err(ctx(reply_error(&reply), Operation::List, None));
            }
            let page: Vec<serde_json::Value> =
                serde_json::from_slice(&reply.body).map_err(|_| {
                    ctx(
                        Error::protocol("the resources answer is not a JSON array"),
                        Operation::List,
                        None,
                    )
                })?;
            let n = page.len();
            for r in page {
                let Some(id) = r.get("id").and_then(|v| v.as_str()) else {
                    continue;
                };
                let Some(rest) = id.strip_prefix(&strip) else {
                    continue;
                };
                if !rest.starts_with(prefix) {
                    continue;
                }
                match SecretName::new(rest) {
                    Ok(name) => names.push(name),
                    Err(_) => tracing::debug!(
                        "skipping a Conjur variable whose id is not a valid secret name"
                    ),
                }
            }
            if n < inner.list_page_size {
                break;
            }
            offset += n;
        }
        names.sort();
        names.dedup();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_uses_whole_segments_only() {
        assert_eq!(search_term("litellm/"), Some("litellm".into()));
        assert_eq!(search_term("a/b/c"), Some("a/b".into()));
        assert_eq!(search_term("lite"), None);
        assert_eq!(search_term(""), None);
    }
}
