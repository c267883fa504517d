//! [`GcpStore`]: the [`SecretStore`] for Google Cloud Secret Manager.

use std::sync::Arc;

use strongroom_core::provider::{PageBudget, read_each};
use strongroom_core::{
    DeleteOptions, Error, ErrorKind, Operation, ReadManyResult, ReadOptions, Result, Secret,
    SecretName, SecretStore, SecretValue, StoreInfo, WriteOptions, WriteOutcome, async_trait,
};

use crate::api::{Api, Metadata, Replication};
use crate::auth::Auth;
use crate::error::PROVIDER;
use crate::names::{from_secret_id, to_secret_id};

/// The largest payload Secret Manager stores (64 KiB).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Secret Manager's limits: 64 labels; label keys and values of at most 63 characters.
const MAX_LABELS: usize = 64;
const MAX_LABEL_CHARS: usize = 63;
/// Annotation keys and values together stay under 16 KiB.
const MAX_ANNOTATION_BYTES: usize = 16 * 1024;
/// The annotation a write's description is stored under.
pub const DESCRIPTION_ANNOTATION: &str = "description";
/// The annotation a write's content type is stored under.
pub const CONTENT_TYPE_ANNOTATION: &str = "content-type";

/// Google Cloud Secret Manager, through its REST v1 API. Build it with
/// [`crate::GcpBuilder`] or [`crate::GcpConfig`].
///
/// * Names go through the documented mapping ([`crate::to_secret_id`]): `/` ↔ `--`; names
///   that cannot map fail with `InvalidName` before any request.
/// * `read` → `versions/latest:access`, or `ReadOptions::version` (a version number or an
///   alias); the payload's CRC32C is checked; `NOT_FOUND` → `Ok(None)`; a disabled or
///   destroyed version is a `Conflict` that says so.
/// * `write` → `addVersion` (with the payload's CRC32C); when the secret does not exist it is
///   created first with the configured replication and the write's labels and annotations
///   (tags that fit label rules become labels, the others and the description annotations).
/// * `delete` → `DeleteSecret` (permanent: Secret Manager has no soft delete).
/// * `list` → `ListSecrets` pages within `max_pages` / `max_list_items`, names mapped back.
/// * `read_many` → single reads, `read_concurrency` at a time (no batch call exists).
///
/// ```no_run
/// use strongroom_gcp::GcpBuilder;
/// use strongroom_core::{ReadOptions, SecretName, SecretStore, WriteOptions};
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = GcpBuilder::from_env()?.build()?;
/// let name = SecretName::new("litellm/virtual-key-1")?; // secret id litellm--virtual-key-1
/// store.write(&name, "sk-1".into(), &WriteOptions::new().tag("team", "ml")).await?;
/// let got = store.read(&name, &ReadOptions::new()).await?.expect("just written");
/// assert_eq!(got.value.expose_str()?, "sk-1");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GcpStore {
    inner: Arc<Parts>,
}

/// What a store is built from ([`crate::GcpConfig`] validates and assembles it).
pub(crate) struct Parts {
    pub(crate) info: StoreInfo,
    pub(crate) api: Api,
    pub(crate) auth: Auth,
    pub(crate) replication: Replication,
    pub(crate) read_concurrency: usize,
    pub(crate) list_page_size: u64,
    pub(crate) pages: PageBudget,
}

impl std::fmt::Debug for GcpStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.inner;
        f.debug_struct("GcpStore")
            .field("endpoint", &p.api.base())
            .field("project_id", &p.api.project())
            .field("auth", &p.auth)
            .field("replication", &p.replication)
            .finish_non_exhaustive()
    }
}

/// The version a read asks for: `latest`, a version number or an alias.
fn version_of(opts: &ReadOptions) -> Result<String> {
    if opts.stage.is_some() {
        return Err(Error::unsupported(
            "Secret Manager has no version stages",
            "ask for a version number or a version alias with ReadOptions::version",
        ));
    }
    let Some(v) = opts.version.as_deref() else {
        return Ok("latest".to_owned());
    };
    let v = v.trim();
    let number = !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit());
    let alias = v.len() <= 63
        && v.starts_with(|c: char| c.is_ascii_alphabetic())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if number || alias {
        Ok(v.to_owned())
    } else {
        Err(Error::unsupported(
            format!("`{}` is not a Secret Manager version", v.escape_default()),
            "versions are numbers (1, 2, …), `latest`, or an alias (a letter, then letters, digits, `-`, `_`; at most 63)",
        ))
    }
}

fn is_label_key(k: &str) -> bool {
    k.len() <= MAX_LABEL_CHARS
        && k.starts_with(|c: char| c.is_ascii_lowercase())
        && k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn is_label_value(v: &str) -> bool {
    v.len() <= MAX_LABEL_CHARS
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn is_annotation_key(k: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    (1..=63).contains(&k.len())
        && edge(k.chars().next())
        && edge(k.chars().last())
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The labels and annotations a write's metadata becomes: tags that fit Secret Manager's
/// label rules (lower-case ASCII letters, digits, `_`, `-`; keys start with a letter; at
/// most 63 characters; 64 labels) are labels, other tags annotations; the description and
/// content type are annotations. What fits neither is refused, never dropped.
pub(crate) fn metadata_of(opts: &WriteOptions) -> Result<Metadata> {
    let mut m = Metadata::default();
    let cannot = |why: String| {
        Error::unsupported(
            format!("this metadata cannot be stored on a Secret Manager secret: {why}"),
            "change the tags, or write without them",
        )
    };
    let annotate = |m: &mut Metadata, k: &str, v: &str| -> Result<()> {
        if !is_annotation_key(k) {
            return Err(cannot(format!(
                "`{}` is neither a label key (lower-case, starts with a letter) nor an annotation key (letters, digits, `-`, `_`, `.`; starts and ends with a letter or digit; at most 63)",
                strongroom_core::provider::http::sanitize(k)
            )));
        }
        match m.annotations.get(k) {
            Some(other) if other != v => Err(cannot(format!(
                "the tag `{k}` and the write's own `{k}` differ (both become the annotation `{k}`)"
            ))),
            _ => {
                m.annotations.insert(k.to_owned(), v.to_owned());
                Ok(())
            }
        }
    };
    if let Some(d) = &opts.description {
        annotate(&mut m, DESCRIPTION_ANNOTATION, d)?;
    }
    if let Some(ct) = &opts.content_type {
        annotate(&mut m, CONTENT_TYPE_ANNOTATION, ct)?;
    }
    for (k, v) in &opts.tags {
        if is_label_key(k) && is_label_value(v) && m.labels.len() < MAX_LABELS {
            m.labels.insert(k.clone(), v.clone());
        } else {
            annotate(&mut m, k, v)?;
        }
    }
    let size: usize = m.annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size >= MAX_ANNOTATION_BYTES {
        return Err(cannot(format!(
            "annotations take {size} bytes; Secret Manager keeps less than {MAX_ANNOTATION_BYTES}"
        )));
    }
    Ok(m)
}

/// The server-side `filter` for a list under `prefix`: `name:<text>` matches secrets whose
/// name contains `<text>`, a superset of the prefix match (which is applied here anyway).
/// Only the leading letters, digits and `_` of the mapped prefix are sent, so no character
/// means something else in the filter language.
fn list_filter(prefix: &str) -> Option<String> {
    let mapped: String = prefix
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!mapped.is_empty()).then(|| format!("name:{mapped}"))
}

impl GcpStore {
    pub(crate) fn new(parts: Parts) -> GcpStore {
        GcpStore {
            inner: Arc::new(parts),
        }
    }

    /// A builder with the defaults (same as [`GcpBuilder::new`](crate::GcpBuilder::new)).
    pub fn builder() -> crate::GcpBuilder {
        crate::GcpBuilder::new()
    }

    /// The Secret Manager endpoint (no trailing `/`).
    pub fn endpoint(&self) -> &str {
        self.inner.api.base()
    }

    /// The project.
    pub fn project_id(&self) -> &str {
        self.inner.api.project()
    }

    /// Where tokens come from: `access_token`, `service_account`, `authorized_user`,
    /// `external_account` or `metadata_server`.
    pub fn credential_kind(&self) -> &'static str {
        self.inner.auth.source().kind()
    }

    /// How many tokens this store has fetched (tests and metrics).
    pub async fn logins(&self) -> u64 {
        self.inner.auth.logins().await
    }

    async fn read_secret(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let p = &self.inner;
        let id = to_secret_id(name)?;
        let version = version_of(opts)?;
        let (id, version) = (id.as_str(), version.as_str());
        let secret = p
            .auth
            .call(&p.api, |t| async move {
                p.api.access(&t, name, id, version).await
            })
            .await?;
        match (secret, &opts.field) {
            (Some(s), Some(field)) => s.select_field(field),
            (s, _) => Ok(s),
        }
    }

    async fn write_secret(
        &self,
        name: &SecretName,
        value: &SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        let p = &self.inner;
        let id = to_secret_id(name)?;
        if opts.cas.is_some() {
            return Err(Error::unsupported(
                "Secret Manager has no check-and-set on values",
                "write without WriteOptions::cas; every write adds a version",
            ));
        }
        if value.expose_secret().len() > MAX_VALUE_BYTES {
            return Err(Error::unsupported(
                format!(
                    "Secret Manager stores payloads of at most {MAX_VALUE_BYTES} bytes; this one has {}",
                    value.expose_secret().len()
                ),
                "store large data elsewhere and keep a reference or a key here",
            ));
        }
        let metadata = metadata_of(opts)?;
        let id = id.as_str();
        let add = || {
            p.auth.call(&p.api, |t| async move {
                p.api.add_version(&t, name, id, value).await
            })
        };
        if let Some(version) = add().await? {
            if metadata != Metadata::default() {
                tracing::debug!(secret = %name, "the secret exists: labels and annotations are set only when a write creates it");
            }
            return Ok(WriteOutcome::new(Some(version)));
        }
        let (replication, metadata) = (&p.replication, &metadata);
        p.auth
            .call(&p.api, |t| async move {
                p.api
                    .create_secret(&t, name, id, replication, metadata)
                    .await
            })
            .await?;
        match add().await? {
            Some(version) => Ok(WriteOutcome::new(Some(version))),
            None => Err(Error::new(
                ErrorKind::Conflict,
                "the secret was deleted while this write created it; the value was not written",
            )
            .with_temporary(true)),
        }
    }

    async fn list_names(&self, prefix: &str) -> Result<Vec<SecretName>> {
        let p = &self.inner;
        let filter = list_filter(prefix);
        let mut budget = p.pages.clone();
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (filter, page_token) = (filter.as_deref(), token.as_deref());
            let page = p
                .auth
                .call(&p.api, |t| async move {
                    p.api
                        .list_page(&t, p.list_page_size, page_token, filter)
                        .await
                })
                .await?;
            budget.page(page.ids.len())?;
            for id in &page.ids {
                match from_secret_id(id) {
                    Some(n) if n.as_str().starts_with(prefix) => names.push(n),
                    Some(_) => {}
                    None => {
                        tracing::debug!(id = %id, "secret id has no Strongroom name (a run of 3+ dashes); skipped")
                    }
                }
            }
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => break,
            }
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
impl SecretStore for GcpStore {
    fn info(&self) -> &StoreInfo {
        &self.inner.info
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        ctx(
            self.read_secret(name, opts).await,
            Operation::Read,
            Some(name),
        )
    }

    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        read_each(self, names, opts, self.inner.read_concurrency).await
    }

    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        ctx(
            self.write_secret(name, &value, opts).await,
            Operation::Write,
            Some(name),
        )
    }

    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        let p = &self.inner;
        let del = async {
            let id = to_secret_id(name)?;
            if opts.recovery_window_days.is_some() {
                tracing::debug!(secret = %name, "Secret Manager deletes at once; recovery_window_days is ignored");
            }
            let id = id.as_str();
            p.auth
                .call(&p.api, |t| async move {
                    p.api.delete_secret(&t, name, id).await
                })
                .await
                .map(|_| ())
        };
        ctx(del.await, Operation::Delete, Some(name))
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
    fn versions() {
        let v = |s: &str| version_of(&ReadOptions::new().version(s));
        assert_eq!(version_of(&ReadOptions::new()).unwrap(), "latest");
        assert_eq!(v("3").unwrap(), "3");
        assert_eq!(v("prod_2-a").unwrap(), "prod_2-a");
        for bad in ["", "a/b", "-x", "1.5", "x:access", &"a".repeat(64)] {
            assert_eq!(v(bad).unwrap_err().kind(), &ErrorKind::Unsupported, "{bad}");
        }
        assert!(version_of(&ReadOptions::new().stage("AWSCURRENT")).is_err());
    }

    #[test]
    fn tags_become_labels_or_annotations() {
        let opts = WriteOptions::new()
            .description("Main DB")
            .tag("team", "ml")
            .tag("Owner", "Alice Smith")
            .tag("cost-center", "cc_42");
        let m = metadata_of(&opts).unwrap();
        assert_eq!(m.labels.len(), 2);
        assert_eq!(m.labels["team"], "ml");
        assert_eq!(m.labels["cost-center"], "cc_42");
        assert_eq!(m.annotations["Owner"], "Alice Smith");
        assert_eq!(m.annotations[DESCRIPTION_ANNOTATION], "Main DB");
        for bad in [
            WriteOptions::new().tag("with space", "x"),
            WriteOptions::new().tag("-x", "X"),
            WriteOptions::new().description("a").tag("description", "B"),
            WriteOptions::new().tag("Big", "v".repeat(17 * 1024)),
        ] {
            assert_eq!(
                metadata_of(&bad).unwrap_err().kind(),
                &ErrorKind::Unsupported
            );
        }
        // A label value that breaks the rules moves the tag to the annotations.
        let m = metadata_of(&WriteOptions::new().tag("env", "Prod")).unwrap();
        assert!(m.labels.is_empty());
        assert_eq!(m.annotations["env"], "Prod");
        let mut many = WriteOptions::new();
        for i in 0..70 {
            many = many.tag(format!("k{i:02}"), "v");
        }
        let m = metadata_of(&many).unwrap();
        assert_eq!((m.labels.len(), m.annotations.len()), (64, 6));
    }

    #[test]
    fn filters_send_only_plain_characters() {
        assert_eq!(list_filter("litellm/"), Some("name:litellm".into()));
        assert_eq!(list_filter("OPENAI_"), Some("name:OPENAI_".into()));
        assert_eq!(list_filter("a-b"), Some("name:a".into()));
        assert_eq!(list_filter(""), None);
        assert_eq!(list_filter("-x"), None);
    }
}
