//! [`ConjurStore`]: the [`SecretStore`] for Conjur.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use strongroom_core::provider::{PageBudget, read_each, read_many_batched};
use strongroom_core::{
    Capabilities, DEFAULT_READ_MANY_CONCURRENCY, DeleteOptions, Error, ErrorKind, Operation,
    ReadManyResult, ReadOptions, Result, RetryPolicy, Secret, SecretName, SecretStore, SecretValue,
    StoreInfo, WriteOptions, WriteOutcome, async_trait,
};

use crate::api::{Api, Batch, PolicyLoad, select};
use crate::auth::Auth;
use crate::error::PROVIDER;
use crate::policy;

/// Longest batch URL sent (ids beyond it go into another request).
const MAX_BATCH_URL: usize = 6000;
/// Batch requests of one `read_many` in flight at once.
const BATCH_CONCURRENCY: usize = 4;
/// The annotation Conjur answers reads with as `Content-Type` (`secrets_controller.rb#show`).
const MIME_TYPE_ANNOTATION: &str = "conjur/mime_type";

/// A CyberArk Conjur secrets store. Build it with [`crate::ConjurBuilder`] or
/// [`crate::ConjurConfig`].
///
/// Names are always full variable ids, for every operation.
///
/// * `read` → `GET /secrets/{account}/variable/{id}` (`404` → `Ok(None)`); `version` is the
///   Conjur version number (the last 20 are kept); the `Content-Type` is the variable's
///   `conjur/mime_type` annotation.
/// * `read_many` → batch `GET /secrets?variable_ids=…`; the batch is all-or-nothing on the
///   server, so a refused batch falls back to single reads and one missing name hides nothing.
/// * `write` → declares the variable with an add-only policy load into the configured branch,
///   as the id relative to that branch, with `description`, `tags` and `content_type` as
///   annotations (retrying `409 policy_conflict` after `Retry-After`, bounded), then sets the
///   value. A name outside the branch, a blank value, or metadata Conjur cannot hold are
///   refused before any request.
/// * `delete` → [`ErrorKind::Unsupported`]: Conjur removes variables through a policy update.
/// * `list` → `GET /resources/{account}/variable` with `search` / `limit` / `offset`, bounded
///   by `max_pages` and `max_list_items`.
///
/// Name rules: every name Strongroom accepts can be **read** (the id is fully
/// percent-encoded); a **write** additionally needs the policy allowlist — letters, digits,
/// `.`, `_`, `-`, `/`, no `..`, at most 255 bytes — so names with spaces or non-ASCII letters
/// are [`ErrorKind::InvalidName`] for writes.
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
///     .with_policy_branch("litellm")
///     .build()?;
/// let name = SecretName::new("litellm/virtual-key-1")?; // declared as `virtual-key-1` in `litellm`
/// let opts = WriteOptions::new().description("LiteLLM virtual key").tag("team", "ml");
/// store.write(&name, "sk-123".into(), &opts).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ConjurStore {
    inner: Arc<Inner>,
}

/// What a store is built from ([`crate::ConjurConfig`] validates and assembles it).
pub(crate) struct Parts {
    pub(crate) api: Api,
    pub(crate) auth: Auth,
    pub(crate) login: String,
    /// `None` = the root branch.
    pub(crate) branch: Option<String>,
    pub(crate) conflict_retries: u64,
    pub(crate) conflict_max_wait: Duration,
    pub(crate) backoff: RetryPolicy,
    pub(crate) batch_size: u64,
    pub(crate) list_search: bool,
    pub(crate) list_page_size: u64,
    pub(crate) pages: PageBudget,
}

struct Inner {
    info: StoreInfo,
    parts: Parts,
}

impl std::fmt::Debug for ConjurStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.inner.parts;
        f.debug_struct("ConjurStore")
            .field("api_base", &p.api.base())
            .field("account", &p.api.account())
            .field("login", &p.login)
            .field("auth", p.auth.mode())
            .field("policy_branch", &self.policy_branch().unwrap_or("root"))
            .finish_non_exhaustive()
    }
}

/// The version number a read asks for.
fn version_of(opts: &ReadOptions) -> Result<Option<u64>> {
    if opts.stage.is_some() {
        return Err(Error::unsupported(
            "Conjur has no version stages",
            "ask for a version number instead (ReadOptions::version)",
        ));
    }
    match opts.version.as_deref() {
        None => Ok(None),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(Error::unsupported(
                format!("`{}` is not a Conjur version", v.escape_default()),
                "Conjur versions are positive integers (the last 20 are kept)",
            )),
        },
    }
}

/// The annotations a write's metadata becomes: `description`, each tag under its own name,
/// `content_type` as `conjur/mime_type`. What Conjur cannot hold is refused, never dropped.
fn annotations_of(opts: &WriteOptions) -> Result<BTreeMap<String, String>> {
    let cannot = |why: String| {
        Error::unsupported(
            format!("this metadata cannot be stored as a Conjur annotation: {why}"),
            "change the description or tags, or write without them",
        )
    };
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let fixed = [
        ("description", opts.description.as_ref()),
        (MIME_TYPE_ANNOTATION, opts.content_type.as_ref()),
    ];
    let fixed = fixed
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_owned(), v?.clone())));
    for (name, value) in fixed.chain(opts.tags.clone()) {
        if let Some(why) = policy::annotation_problem(&name, &value) {
            return Err(cannot(why));
        }
        match out.get(&name) {
            Some(other) if *other != value => {
                return Err(cannot(format!(
                    "the tag `{name}` and the write's own `{name}` differ (both become the annotation `{name}`)"
                )));
            }
            _ => {
                out.insert(name, value);
            }
        }
    }
    Ok(out)
}

/// How long to wait after a policy conflict: the server's `Retry-After`, else the backoff, at
/// most `max_wait`.
pub(crate) fn conflict_wait(
    retry_after: Option<Duration>,
    backoff: Duration,
    max_wait: Duration,
) -> Duration {
    retry_after.unwrap_or(backoff).min(max_wait)
}

/// The part of `prefix` that can go into Conjur's full-text `search`: its whole segments.
fn search_term(prefix: &str) -> Option<&str> {
    let whole = prefix[..prefix.rfind('/')?].trim_matches('/');
    (!whole.is_empty()).then_some(whole)
}

impl ConjurStore {
    pub(crate) fn new(parts: Parts) -> ConjurStore {
        let info = StoreInfo::new(
            PROVIDER,
            Capabilities::all()
                .with_delete(false)
                .with_batch_read(true)
                .with_versions(true)
                .with_binary(true),
        )
        .with_address(format!(
            "conjur:{}|{}",
            parts.api.base(),
            parts.api.account()
        ))
        .with_identity(&[b"conjur-login", parts.login.as_bytes()]);
        ConjurStore {
            inner: Arc::new(Inner { info, parts }),
        }
    }

    /// A builder with the defaults (same as [`ConjurBuilder::new`](crate::ConjurBuilder::new)).
    pub fn builder() -> crate::ConjurBuilder {
        crate::ConjurBuilder::new()
    }

    /// The Conjur URL.
    pub fn api_base(&self) -> &str {
        self.inner.parts.api.base()
    }

    /// The account.
    pub fn account(&self) -> &str {
        self.inner.parts.api.account()
    }

    /// The policy branch writes declare variables in (`None` = root).
    pub fn policy_branch(&self) -> Option<&str> {
        self.inner.parts.branch.as_deref()
    }

    /// How many times this store has logged in (tests and metrics).
    pub async fn logins(&self) -> u64 {
        self.inner.parts.auth.logins().await
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

    /// The id `name` is declared as in this store's branch, or why it cannot be.
    fn declared_id<'a>(&self, name: &'a SecretName) -> Result<&'a str> {
        Self::check_writable_name(name)?;
        policy::declared_id(self.policy_branch(), name.as_str()).map_err(|why| {
            Error::invalid_name(name.as_str(), why).with_hint(
                "write the name under the branch, or configure policy_branch \
                     (CYBERARK_POLICY_BRANCH) as a branch that contains it (`root` contains all)",
            )
        })
    }

    /// One batch of `read_many`: the names that can travel in a batch go in requests of at most
    /// [`MAX_BATCH_URL`] characters; the rest, and whatever a batch refused or lacked, are read
    /// one by one.
    async fn fetch_batch(
        &self,
        names: Vec<SecretName>,
        opts: &ReadOptions,
    ) -> Result<ReadManyResult> {
        let p = &self.inner.parts;
        // Commas separate ids in the batch parameter (the server decodes before splitting).
        let (batchable, mut singles): (Vec<_>, Vec<_>) =
            names.into_iter().partition(|n| !n.as_str().contains(','));
        let mut out = Vec::with_capacity(batchable.len() + singles.len());
        let mut rest = batchable.as_slice();
        while !rest.is_empty() {
            let mut len = 0;
            let take = rest
                .iter()
                .take_while(|n| {
                    len += (n.as_str().len() + p.api.account().len() + 10) * 3 + 1;
                    len <= MAX_BATCH_URL
                })
                .count()
                .max(1);
            let (part, more) = rest.split_at(take);
            rest = more;
            let answer = p
                .auth
                .call(
                    &p.api,
                    |t| async move { p.api.read_batch(&t, part, opts).await },
                )
                .await?;
            match answer {
                Batch::Values(found, missing) => {
                    out.extend(found);
                    singles.extend(missing);
                }
                Batch::Refused => {
                    tracing::debug!(n = part.len(), "conjur batch refused; reading one by one");
                    singles.extend_from_slice(part);
                }
            }
        }
        out.extend(read_each(self, &singles, opts, DEFAULT_READ_MANY_CONCURRENCY).await?);
        Ok(out)
    }

    /// Declares the variable: the add-only policy load, retried after `409 policy_conflict`.
    async fn declare(&self, name: &SecretName, doc: &str) -> Result<()> {
        let p = &self.inner.parts;
        let branch = self.policy_branch().unwrap_or("root");
        let mut conflicts = 0;
        loop {
            let load = p
                .auth
                .call(&p.api, |t| async move {
                    p.api.load_policy(&t, branch, doc, name).await
                })
                .await?;
            match load {
                PolicyLoad::Loaded => return Ok(()),
                PolicyLoad::Conflict(after) if conflicts < p.conflict_retries => {
                    let backoff = p.backoff.backoff(conflicts as usize);
                    let wait = conflict_wait(after, backoff, p.conflict_max_wait);
                    conflicts += 1;
                    tracing::debug!(
                        retry = conflicts,
                        wait_ms = wait.as_millis() as u64,
                        "conjur policy conflict; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                PolicyLoad::Conflict(after) => {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "HTTP 409: policy_conflict: other policy loads kept running through {conflicts} retries; the value was not written"
                        ),
                    )
                    .with_temporary(true)
                    .with_retry_after(after.unwrap_or(Duration::from_secs(1))));
                }
            }
        }
    }

    /// Checks that the variable carries `wanted`: an add-only load keeps an annotation the
    /// variable already has, silently, when its value differs (`loader/orchestrate.rb`).
    async fn check_annotations(
        &self,
        name: &SecretName,
        wanted: &BTreeMap<String, String>,
    ) -> Result<()> {
        let p = &self.inner.parts;
        let got = p
            .auth
            .call(&p.api, |t| async move { p.api.annotations(&t, name).await })
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Forbidden,
                    "cannot read the variable's annotations back to check the description and tags were stored",
                )
                .with_hint("grant this login `read` on the variable, or write without description and tags")
            })?;
        let kept: Vec<&str> = wanted
            .iter()
            .filter(|(k, v)| got.get(*k) != Some(*v))
            .map(|(k, _)| k.as_str())
            .collect();
        if kept.is_empty() {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "the variable already has other values for the annotation(s) `{}`, which an add-only policy load cannot change; the value was not written",
                kept.join("`, `")
            ),
        )
        .with_hint(format!(
            "change the annotations with a policy update (PATCH /policies/{}/policy/{}), then write again; or write without them",
            self.account(),
            self.policy_branch().unwrap_or("root")
        )))
    }

    async fn write_value(
        &self,
        name: &SecretName,
        value: &SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        if opts.cas.is_some() {
            return Err(Error::unsupported(
                "Conjur has no check-and-set",
                "write without WriteOptions::cas",
            ));
        }
        let id = self.declared_id(name)?;
        if value.is_blank() {
            return Err(Error::unsupported(
                "Conjur refuses empty or white-space-only values",
                "store a non-blank value; to remove a variable, update the policy",
            ));
        }
        let annotations = annotations_of(opts)?;
        let doc = policy::variable_document(id, &annotations)
            .map_err(|why| Error::invalid_name(name.as_str(), why))?;
        self.declare(name, &doc).await?;
        if !annotations.is_empty() {
            self.check_annotations(name, &annotations).await?;
        }
        let p = &self.inner.parts;
        p.auth
            .call(
                &p.api,
                |t| async move { p.api.set_value(&t, name, value).await },
            )
            .await?;
        Ok(WriteOutcome::new(None))
    }

    async fn list_names(&self, prefix: &str) -> Result<Vec<SecretName>> {
        let p = &self.inner.parts;
        let search = p.list_search.then(|| search_term(prefix)).flatten();
        let mut budget = p.pages.clone();
        let mut names = Vec::new();
        let mut offset = 0;
        loop {
            let (n, ids) = p
                .auth
                .call(&p.api, |t| async move {
                    p.api.list_page(&t, search, p.list_page_size, offset).await
                })
                .await?;
            budget.page(n)?;
            for id in ids.iter().filter(|id| id.starts_with(prefix)) {
                match SecretName::new(id) {
                    Ok(name) => names.push(name),
                    Err(_) => tracing::debug!(
                        "skipping a Conjur variable whose id is not a valid secret name"
                    ),
                }
            }
            if (n as u64) < p.list_page_size {
                break;
            }
            offset += n as u64;
        }
        names.sort();
        names.dedup();
        Ok(names)
    }
}

/// The one place context is attached (provider, operation, name).
fn ctx<T>(r: Result<T>, op: Operation, name: Option<&SecretName>) -> Result<T> {
    strongroom_core::provider::in_context(PROVIDER, r, op, name)
}

#[async_trait]
impl SecretStore for ConjurStore {
    fn info(&self) -> &StoreInfo {
        &self.inner.info
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let p = &self.inner.parts;
        let read = async {
            let version = version_of(opts)?;
            let secret = p
                .auth
                .call(
                    &p.api,
                    |t| async move { p.api.read(&t, name, version).await },
                )
                .await?;
            secret.map_or(Ok(None), |s| select(s, opts))
        };
        ctx(read.await, Operation::Read, Some(name))
    }

    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        if opts.version.is_some() || opts.stage.is_some() {
            return read_each(self, names, opts, DEFAULT_READ_MANY_CONCURRENCY).await;
        }
        let batch = self.inner.parts.batch_size as usize;
        let got = read_many_batched(names, batch, BATCH_CONCURRENCY, |chunk| {
            self.fetch_batch(chunk, opts)
        })
        .await;
        ctx(got, Operation::ReadMany, None)
    }

    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        ctx(
            self.write_value(name, &value, opts).await,
            Operation::Write,
            Some(name),
        )
    }

    async fn delete(&self, name: &SecretName, _opts: &DeleteOptions) -> Result<()> {
        let (branch, id) = match policy::declared_id(self.policy_branch(), name.as_str()) {
            Ok(id) => (self.policy_branch().unwrap_or("root"), id),
            Err(_) => ("root", name.as_str()),
        };
        let err = Error::unsupported(
            "Conjur has no API call that deletes a variable",
            format!(
                "remove it with a policy update: PATCH /policies/{}/policy/{branch} with `- !delete {{ record: !variable {} }}`",
                self.account(),
                policy::yaml_double_quoted(id)
            ),
        );
        ctx(Err(err), Operation::Delete, Some(name))
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        ctx(
            self.list_names(prefix.unwrap_or("")).await,
            Operation::List,
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_uses_whole_segments_only() {
        assert_eq!(search_term("litellm/"), Some("litellm"));
        assert_eq!(search_term("a/b/c"), Some("a/b"));
        assert_eq!(search_term("lite"), None);
        assert_eq!(search_term(""), None);
        assert_eq!(search_term("/"), None);
    }

    #[test]
    fn conflict_waits_honour_retry_after_within_the_cap() {
        let ms = Duration::from_millis;
        assert_eq!(conflict_wait(Some(ms(3000)), ms(5), ms(10_000)), ms(3000));
        assert_eq!(conflict_wait(Some(ms(8000)), ms(5), ms(2000)), ms(2000));
        assert_eq!(conflict_wait(None, ms(40), ms(2000)), ms(40));
        assert_eq!(
            conflict_wait(Some(Duration::ZERO), ms(40), ms(2000)),
            Duration::ZERO
        );
    }

    #[test]
    fn metadata_becomes_annotations_or_is_refused() {
        let opts = WriteOptions::new()
            .description("main db")
            .content_type("application/json")
            .tag("team", "ml")
            .tag("description", "main db");
        let got = annotations_of(&opts).unwrap();
        assert_eq!(
            got,
            BTreeMap::from([
                (
                    "conjur/mime_type".to_string(),
                    "application/json".to_string()
                ),
                ("description".to_string(), "main db".to_string()),
                ("team".to_string(), "ml".to_string()),
            ])
        );
        for bad in [
            WriteOptions::new().description("a").tag("description", "b"),
            WriteOptions::new().tag("with space", "x"),
            WriteOptions::new().description("line\nbreak"),
        ] {
            let err = annotations_of(&bad).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::Unsupported, "{err}");
        }
        assert!(annotations_of(&WriteOptions::new()).unwrap().is_empty());
    }
}
