//! [`AkeylessStore`]: the [`SecretStore`] mapping onto the Akeyless operations.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use strongroom_core::config::HttpConfig;
use strongroom_core::provider::http::Call;
use strongroom_core::provider::{PageBudget, read_each, read_many_batched};
use strongroom_core::{
    Capabilities, Clock, DEFAULT_READ_MANY_CONCURRENCY, DeleteOptions, Error, Operation,
    ReadManyResult, ReadOptions, Result, Secret, SecretKind, SecretName, SecretStore, SecretValue,
    StoreInfo, WriteOptions, WriteOutcome, async_trait,
};

use crate::api::{Api, Created, DeleteMode, Deleted, ItemKind, Metadata, ValueQuery};
use crate::auth::{Auth, AuthSettings};
use crate::config::AccessType;
use crate::error::{self, PROVIDER};

/// How many names one `get-secret-value` call asks for.
const BATCH: usize = 100;
/// How many batch calls run at once.
const BATCH_CONCURRENCY: usize = 4;
/// How many item types `auto_guess_type` remembers before starting over.
const MAX_REMEMBERED_TYPES: usize = 10_000;

/// What [`AkeylessStore::new`] needs (built by the config).
pub(crate) struct StoreSettings {
    pub(crate) api: Api,
    pub(crate) auth: AuthSettings,
    pub(crate) access_id: String,
    pub(crate) access_type: AccessType,
    pub(crate) auto_guess_type: bool,
    pub(crate) http: HttpConfig,
    pub(crate) clock: Arc<dyn Clock>,
}

struct Inner {
    info: StoreInfo,
    api: Api,
    auth: Auth,
    access_id: String,
    access_type: AccessType,
    auto_guess_type: bool,
    pages: PageBudget,
    clock: Arc<dyn Clock>,
    types: Mutex<HashMap<String, ItemKind>>,
}

/// The Akeyless store. Cheap to clone (shared state).
///
/// * Names map to absolute Akeyless paths: `team/db` ↔ `/team/db`.
/// * `read`: `get-secret-value`; with `auto_guess_type`, `describe-item` once per name, then
///   `get-dynamic-secret-value` (kind `Dynamic`, `expires_at` from the lease) or
///   `get-rotated-secret-value` (kind `Rotated`). `ReadOptions::refresh` also sends
///   `"ignore-cache": "true"`.
/// * `read_many`: one `get-secret-value` per 100 names; a batch failing because a name is
///   missing is read name by name so the others still come back.
/// * `write`: `create-secret` (value, description, tags); when the item exists (409),
///   `update-secret-val`, then `update-item` for the description and tags.
/// * `delete`: `delete-item`; a refusal because of delete protection says so.
/// * `list`: `list-items`, following `next_page` and descending into `folders`, bounded by
///   `max_pages` and `max_list_items`.
///
/// ```no_run
/// use strongroom_akeyless::AkeylessBuilder;
/// use strongroom_core::{ReadOptions, SecretName, SecretStore};
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = AkeylessBuilder::from_env()?.build()?;
/// let name = SecretName::new("team/db-password")?; // Akeyless item `/team/db-password`
/// if let Some(secret) = store.read(&name, &ReadOptions::new()).await? {
///     let _password = secret.value.expose_str()?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AkeylessStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for AkeylessStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AkeylessStore")
            .field("api_host", &self.inner.api.base())
            .field("access_id", &self.inner.access_id)
            .field("access_type", &self.inner.access_type)
            .field("auto_guess_type", &self.inner.auto_guess_type)
            .finish_non_exhaustive()
    }
}

/// `a/b` → `/a/b`.
fn to_path(name: &SecretName) -> String {
    format!("/{}", name.as_str())
}

/// `/a/b` → `a/b` (`None` for what is not a valid [`SecretName`]).
pub(crate) fn from_path(path: &str) -> Option<SecretName> {
    SecretName::new(path.strip_prefix('/').unwrap_or(path)).ok()
}

/// The version asked for (positive integer) and the gateway cache bypass.
fn query_of(opts: &ReadOptions) -> Result<ValueQuery> {
    if opts.stage.is_some() {
        return Err(Error::unsupported(
            "Akeyless has no version stages",
            "ask for a version number with ReadOptions::version",
        ));
    }
    let version = match opts.version.as_deref() {
        None => None,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(Error::unsupported(
                    format!("`{v}` is not an Akeyless version"),
                    "Akeyless versions are positive integers (1, 2, …)",
                ));
            }
        },
    };
    Ok(ValueQuery {
        version,
        ignore_cache: opts.refresh,
    })
}

/// A static or rotated value as the secret the caller asked for (version, field).
fn finish(value: SecretValue, kind: SecretKind, opts: &ReadOptions) -> Result<Option<Secret>> {
    let mut secret = Secret::new(value).with_kind(kind);
    if let Some(v) = &opts.version {
        secret = secret.with_version(v.trim());
    }
    match &opts.field {
        Some(f) => secret.select_field(f),
        None => Ok(Some(secret)),
    }
}

/// Akeyless tags are plain strings; a tag `k → v` is written `k=v` (`k` alone when `v` is
/// empty).
fn tag_strings(opts: &WriteOptions) -> Result<Vec<String>> {
    opts.tags
        .iter()
        .map(|(k, v)| {
            if k.is_empty() || k.contains('=') || k.chars().chain(v.chars()).any(char::is_control)
            {
                return Err(Error::unsupported(
                    format!("the tag key `{}` cannot be written to Akeyless", k.escape_debug()),
                    "Akeyless tags are `key=value` strings: use a non-empty key without `=` or control characters",
                ));
            }
            Ok(if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            })
        })
        .collect()
}

/// The key of a `k=v` tag string.
fn tag_key(tag: &str) -> &str {
    tag.split_once('=').map_or(tag, |(k, _)| k)
}

impl AkeylessStore {
    pub(crate) fn new(s: StoreSettings) -> AkeylessStore {
        let info = StoreInfo::new(
            PROVIDER,
            Capabilities::all()
                .with_batch_read(true)
                .with_versions(true),
        )
        .with_address(format!("akeyless:{}", s.api.base()))
        .with_identity(&[b"akeyless", s.access_id.as_bytes()]);
        let auth = Auth::new(s.auth, s.api.clone());
        AkeylessStore {
            inner: Arc::new(Inner {
                info,
                api: s.api,
                auth,
                access_id: s.access_id,
                access_type: s.access_type,
                auto_guess_type: s.auto_guess_type,
                pages: PageBudget::from_config(&s.http),
                clock: s.clock,
                types: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A builder.
    pub fn builder() -> crate::AkeylessBuilder {
        crate::AkeylessBuilder::new()
    }

    /// How many times this store has logged in (SAML: read a token from the CLI's file).
    pub async fn logins(&self) -> u64 {
        self.inner.auth.logins().await
    }

    /// The API base URL in use (e.g. `https://api.akeyless.io`).
    pub fn api_host(&self) -> &str {
        self.inner.api.base()
    }

    fn types(&self) -> std::sync::MutexGuard<'_, HashMap<String, ItemKind>> {
        self.inner.types.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember_type(&self, path: &str, kind: ItemKind) {
        let mut types = self.types();
        if types.len() >= MAX_REMEMBERED_TYPES {
            types.clear(); // bounded memory; types are looked up again on demand
        }
        types.insert(path.to_owned(), kind);
    }

    async fn read_static(
        &self,
        call: Call<'_>,
        path: &str,
        opts: &ReadOptions,
    ) -> Result<Option<Secret>> {
        let query = query_of(opts)?;
        let paths = &[path.to_owned()];
        let api = &self.inner.api;
        let values = self
            .inner
            .auth
            .call(|t| async move { api.get_secret_value(call, &t, paths, query).await })
            .await?;
        let Some(mut values) = values else {
            return Ok(None);
        };
        let value = values.remove(path).ok_or_else(|| {
            Error::protocol("the `get-secret-value` answer does not hold the asked-for name")
        })?;
        finish(value, SecretKind::Static, opts)
    }

    async fn read_dynamic(
        &self,
        call: Call<'_>,
        path: &str,
        opts: &ReadOptions,
    ) -> Result<Option<Secret>> {
        if opts.version.is_some() || opts.stage.is_some() {
            return Err(Error::unsupported(
                "dynamic secrets have no versions",
                "read the dynamic secret without ReadOptions::version",
            ));
        }
        let api = &self.inner.api;
        let got = self
            .inner
            .auth
            .call(|t| async move { api.get_dynamic_secret_value(call, &t, path).await })
            .await?;
        let Some(dynamic) = got else {
            return Ok(None);
        };
        let mut secret = Secret::new(dynamic.value).with_kind(SecretKind::Dynamic);
        if let Some(lease) = dynamic.lease {
            secret = secret.with_expires_at(self.inner.clock.system_now() + lease);
        }
        match &opts.field {
            Some(f) => secret.select_field(f),
            None => Ok(Some(secret)),
        }
    }

    async fn read_rotated(
        &self,
        call: Call<'_>,
        path: &str,
        opts: &ReadOptions,
    ) -> Result<Option<Secret>> {
        let query = query_of(opts)?;
        let api = &self.inner.api;
        let got = self
            .inner
            .auth
            .call(|t| async move { api.get_rotated_secret_value(call, &t, path, query).await })
            .await?;
        match got {
            Some(value) => finish(value, SecretKind::Rotated, opts),
            None => Ok(None),
        }
    }

    async fn read_path(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let call = Call::new(Operation::Read, Some(name.as_str()));
        let path = to_path(name);
        if !self.inner.auto_guess_type {
            return self.read_static(call, &path, opts).await;
        }
        let known = self.types().get(&path).cloned();
        let kind = match known {
            Some(k) => k,
            None => {
                let api = &self.inner.api;
                let path = path.as_str();
                let info = self
                    .inner
                    .auth
                    .call(|t| async move { api.describe_item(call, &t, path).await })
                    .await?;
                let Some(info) = info else {
                    return Ok(None);
                };
                self.remember_type(path, info.kind.clone());
                info.kind
            }
        };
        let got = match &kind {
            ItemKind::Static => self.read_static(call, &path, opts).await?,
            ItemKind::Dynamic => self.read_dynamic(call, &path, opts).await?,
            ItemKind::Rotated => self.read_rotated(call, &path, opts).await?,
            ItemKind::Other(t) => {
                return Err(Error::unsupported(
                    format!("item type `{t}` is not a secret this store reads"),
                    "read static, dynamic or rotated secrets",
                ));
            }
        };
        if got.is_none() {
            self.types().remove(&path);
        }
        Ok(got)
    }

    /// One `get-secret-value` for `batch`; when it fails because a name is missing (404), the
    /// names are read one by one so the missing ones come back `None` and hide nothing.
    async fn read_batch(
        &self,
        batch: Vec<SecretName>,
        opts: &ReadOptions,
    ) -> Result<Vec<(SecretName, Option<Secret>)>> {
        let query = query_of(opts)?;
        let paths: Vec<String> = batch.iter().map(to_path).collect();
        let call = Call::new(Operation::ReadMany, None);
        let api = &self.inner.api;
        let paths_ref = &paths;
        let values = self
            .inner
            .auth
            .call(|t| async move { api.get_secret_value(call, &t, paths_ref, query).await })
            .await?;
        let Some(mut values) = values else {
            return read_each(self, &batch, opts, DEFAULT_READ_MANY_CONCURRENCY).await;
        };
        let mut out = Vec::with_capacity(batch.len());
        for (name, path) in batch.into_iter().zip(&paths) {
            let secret = match values.remove(path) {
                Some(v) => finish(v, SecretKind::Static, opts)
                    .map_err(|e| e.context(PROVIDER, Operation::ReadMany, Some(name.as_str())))?,
                None => None,
            };
            out.push((name, secret));
        }
        Ok(out)
    }

    /// The description and tags of an existing item, through `update-item`: tags to add, and
    /// the item's tags with the same key but another value to remove.
    async fn update_metadata(
        &self,
        call: Call<'_>,
        path: &str,
        description: Option<&str>,
        tags: &[String],
    ) -> Result<()> {
        let api = &self.inner.api;
        let mut remove = Vec::new();
        if !tags.is_empty() {
            let info = self
                .inner
                .auth
                .call(|t| async move { api.describe_item(call, &t, path).await })
                .await?;
            let current = info.map(|i| i.tags).unwrap_or_default();
            remove = current
                .into_iter()
                .filter(|c| !tags.contains(c) && tags.iter().any(|t| tag_key(t) == tag_key(c)))
                .collect();
        }
        let add: Vec<String> = tags.to_vec();
        let (add, remove) = (&add, &remove);
        self.inner
            .auth
            .call(|t| async move {
                api.update_item(call, &t, path, description, add, remove)
                    .await
            })
            .await
    }

    async fn write_value(
        &self,
        name: &SecretName,
        value: &SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        if opts.cas.is_some() {
            return Err(Error::unsupported(
                "Akeyless has no check-and-set",
                "write without WriteOptions::cas",
            ));
        }
        if opts.content_type.is_some() {
            return Err(Error::unsupported(
                "Akeyless items have no content type, so it would be lost",
                "write without a content type (a tag can carry it: `content-type=…`)",
            ));
        }
        let tags = tag_strings(opts)?;
        let text = value.expose_str().map_err(|_| {
            Error::unsupported(
                "Akeyless static secrets hold text, and this value is binary",
                "base64-encode binary values before writing them",
            )
        })?;
        let call = Call::new(Operation::Write, Some(name.as_str()));
        let path = to_path(name);
        let p = path.as_str();
        let api = &self.inner.api;
        let meta = Metadata {
            description: opts.description.as_deref(),
            tags,
        };
        let meta_ref = &meta;
        let created = self
            .inner
            .auth
            .call(|t| async move { api.create_secret(call, &t, p, text, meta_ref).await })
            .await?;
        self.types().remove(&path);
        if created == Created::Created {
            return Ok(WriteOutcome::new(None));
        }
        // The item exists (409): a new version, then the metadata update-secret-val cannot carry.
        self.inner
            .auth
            .call(|t| async move { api.update_secret_val(call, &t, p, text).await })
            .await?;
        if meta.description.is_some() || !meta.tags.is_empty() {
            self.update_metadata(call, p, meta.description, &meta.tags)
                .await
                .map_err(|e| {
                    let mut out = Error::new(
                        e.kind().clone(),
                        format!(
                            "the new value was stored, but its description and tags were not: {}",
                            e.message()
                        ),
                    );
                    if let Some(h) = e.hint() {
                        out = out.with_hint(h.to_owned());
                    }
                    out
                })?;
        }
        Ok(WriteOutcome::new(None))
    }

    async fn delete_item(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        let call = Call::new(Operation::Delete, Some(name.as_str()));
        let path = to_path(name);
        let p = path.as_str();
        let api = &self.inner.api;
        let mode = DeleteMode {
            immediately: opts.force,
            in_days: opts.recovery_window_days,
        };
        let answer = self
            .inner
            .auth
            .call(|t| async move { api.delete_item(call, &t, p, mode).await })
            .await?;
        self.types().remove(&path);
        let Deleted::Refused(refusal) = answer else {
            return Ok(());
        };
        // A 400 says little by its status; the item itself says whether delete protection is
        // why (`delete_protection`, documented in `Item`), whatever the message's wording.
        let info = self
            .inner
            .auth
            .call(|t| async move { api.describe_item(call, &t, p).await })
            .await;
        match info {
            Ok(Some(item)) if item.delete_protection => Err(error::delete_protected(p, &refusal)),
            _ => Err(refusal),
        }
    }

    async fn list_folders(&self, prefix: &str) -> Result<BTreeSet<SecretName>> {
        let start = match prefix.rfind('/') {
            Some(i) => format!("/{}", &prefix[..=i]),
            None => "/".to_owned(),
        };
        let call = Call::new(Operation::List, None);
        let api = &self.inner.api;
        let mut budget = self.inner.pages.clone();
        let mut names = BTreeSet::new();
        let mut queue = VecDeque::from([start.clone()]);
        let mut seen = HashSet::new();
        while let Some(folder) = queue.pop_front() {
            if !seen.insert(folder.clone()) {
                continue;
            }
            let mut page_token: Option<String> = None;
            loop {
                let (f, p) = (folder.as_str(), page_token.as_deref());
                let page = self
                    .inner
                    .auth
                    .call(|t| async move { api.list_items(call, &t, f, p).await })
                    .await?;
                let Some(page) = page else {
                    break; // the folder does not exist
                };
                // Folders cost a page each when followed, so pages bound them.
                budget
                    .page(page.names.len())
                    .map_err(|e| e.context(PROVIDER, Operation::List, None))?;
                names.extend(page.names.iter().filter_map(|n| from_path(n)));
                for sub in page.folders {
                    let mut sub = if sub.starts_with('/') {
                        sub
                    } else {
                        format!("/{sub}")
                    };
                    if !sub.ends_with('/') {
                        sub.push('/');
                    }
                    // Only deeper folders, and only where names under the prefix can be.
                    let rel = &sub[1..];
                    if sub.len() > folder.len()
                        && sub.starts_with(&folder)
                        && (rel.starts_with(prefix) || prefix.starts_with(rel))
                    {
                        queue.push_back(sub);
                    }
                }
                match page.next_page {
                    Some(next) if page_token.as_deref() != Some(next.as_str()) => {
                        page_token = Some(next);
                    }
                    _ => break,
                }
            }
        }
        Ok(names)
    }
}

#[async_trait]
impl SecretStore for AkeylessStore {
    fn info(&self) -> &StoreInfo {
        &self.inner.info
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        self.read_path(name, opts)
            .await
            .map_err(|e| e.context(PROVIDER, Operation::Read, Some(name.as_str())))
    }

    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        if self.inner.auto_guess_type {
            // Dynamic and rotated items have no batch call: one read per name.
            return read_each(self, names, opts, DEFAULT_READ_MANY_CONCURRENCY).await;
        }
        read_many_batched(names, BATCH, BATCH_CONCURRENCY, |batch| {
            self.read_batch(batch, opts)
        })
        .await
        .map_err(|e| e.context(PROVIDER, Operation::ReadMany, None))
    }

    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        self.write_value(name, &value, opts)
            .await
            .map_err(|e| e.context(PROVIDER, Operation::Write, Some(name.as_str())))
    }

    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        self.delete_item(name, opts)
            .await
            .map_err(|e| e.context(PROVIDER, Operation::Delete, Some(name.as_str())))
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        let prefix = prefix.unwrap_or("");
        let names = self
            .list_folders(prefix)
            .await
            .map_err(|e| e.context(PROVIDER, Operation::List, None))?;
        Ok(names
            .into_iter()
            .filter(|n| n.as_str().starts_with(prefix))
            .collect())
    }
}
