//! [`HcpVaultStore`]: `impl SecretStore` for Vault / OpenBao KV v2.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use strongroom_core::http::parse_retry_after;
use strongroom_core::{
    Capabilities, DeleteOptions, Error, Operation, ReadOptions, Result, Secret, SecretName,
    SecretStore, SecretValue, StoreInfo, WriteOptions, WriteOutcome, async_trait,
};
use zeroize::Zeroizing;

use crate::api::{
    self, Api, KvMetadataWrite, KvReadResponse, KvWrite, KvWriteOptions, KvWriteResponse,
    ListResponse, OneField,
};
use crate::auth::Auth;
use crate::config::{AuthMethod, HcpVaultBuilder, NamespaceMode, Settings};
use crate::error::{PROVIDER, api_error, cas_conflict, is_missing};

/// A HashiCorp Vault / OpenBao KV v2 store. Build it with [`HcpVaultBuilder`].
///
/// Each secret is stored as the KV v2 data map `{"<value field>": "<value>"}` (field `key` by
/// default). Reads return that field; with [`ReadOptions::field`] they return another field
/// of the data map (or of a JSON value stored in the value field).
///
/// ```no_run
/// use strongroom_core::{ReadOptions, SecretName, SecretStore, WriteOptions};
/// use strongroom_hcp_vault::HcpVaultBuilder;
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = HcpVaultBuilder::from_env().build()?;
/// let name = SecretName::new("litellm/openai-key")?;
/// store.write(&name, "sk-123".into(), &WriteOptions::new()).await?;
/// let secret = store.read(&name, &ReadOptions::new()).await?.expect("written");
/// assert_eq!(secret.value.expose_str()?, "sk-123");
/// # Ok(()) }
/// ```
pub struct HcpVaultStore {
    api: Api,
    auth: Auth,
    value_field: String,
    info: StoreInfo,
    namespace: Option<String>,
    namespace_mode: NamespaceMode,
    mount: String,
}

impl fmt::Debug for HcpVaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HcpVaultStore")
            .field("addr", &self.api.addr)
            .field("namespace", &self.namespace)
            .field("namespace_mode", &self.namespace_mode)
            .field("mount", &self.mount)
            .field("value_field", &self.value_field)
            .field("auth", &self.auth.label())
            .finish_non_exhaustive()
    }
}

impl HcpVaultStore {
    /// Shorthand for [`HcpVaultBuilder::new`].
    pub fn builder() -> HcpVaultBuilder {
        HcpVaultBuilder::new()
    }

    pub(crate) fn from_settings(s: Settings) -> Result<HcpVaultStore> {
        let api = Api::new(&s)?;
        let cache_address = format!(
            "hcp-vault|{}|ns={}|mount={}|prefix={}|field={}",
            s.addr,
            s.secret_namespace.as_deref().unwrap_or(""),
            s.mount,
            s.path_prefix.as_deref().unwrap_or(""),
            s.value_field
        );
        let identity: Vec<Vec<u8>> = match &s.method {
            AuthMethod::Token(t) => vec![b"token".to_vec(), t.expose_secret().to_vec()],
            AuthMethod::AppRole { mount, role_id, .. } => {
                vec![
                    b"approle".to_vec(),
                    mount.as_bytes().to_vec(),
                    role_id.as_bytes().to_vec(),
                ]
            }
            AuthMethod::Cert { mount, role } => vec![
                b"cert".to_vec(),
                mount.as_bytes().to_vec(),
                role.as_deref().unwrap_or("").as_bytes().to_vec(),
            ],
        };
        let identity: Vec<&[u8]> = identity.iter().map(Vec::as_slice).collect();
        let info = StoreInfo::new(
            PROVIDER,
            Capabilities::all().with_versions(true).with_cas(true),
        )
        .with_address(cache_address)
        .with_identity(&identity)
        .with_default_ttl(s.refresh_interval);
        Ok(HcpVaultStore {
            api,
            auth: Auth::new(s.method, s.clock)?,
            value_field: s.value_field,
            info,
            namespace: s.secret_namespace,
            namespace_mode: s.namespace_mode,
            mount: s.mount,
        })
    }

    /// The log-in method in use: `"approle"`, `"cert"` or `"token"`.
    pub fn auth_method(&self) -> &'static str {
        self.auth.label()
    }

    /// How many times this store has logged in or renewed its token (0 for static tokens).
    pub async fn token_refreshes(&self) -> u64 {
        self.auth.refreshes().await
    }

    /// How many of [`HcpVaultStore::token_refreshes`] were renewals (`renew-self`).
    pub fn token_renewals(&self) -> u64 {
        self.auth.renewals()
    }

    /// Sends a secret-side request with the current token; on a 403 with a log-in token,
    /// logs in again once and retries once.
    async fn call<F>(&self, idempotent: bool, build: F) -> Result<reqwest::Response>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let lease = self.auth.token(&self.api).await?;
        let resp = self
            .api
            .send_secret(&lease.token.header, idempotent, &build)
            .await?;
        if resp.status() != StatusCode::FORBIDDEN || !self.auth.can_relogin() {
            return Ok(resp);
        }
        drop(resp);
        self.auth.invalidate(lease.generation).await;
        let lease = self.auth.token(&self.api).await?;
        self.api
            .send_secret(&lease.token.header, idempotent, &build)
            .await
    }

    fn check_name(name: &SecretName) -> Result<()> {
        // Vault refuses path parameters that end in `.` (404); say so before any call.
        if name.as_str().ends_with('.') {
            return Err(Error::invalid_name(
                name.as_str(),
                "Vault paths may not end with `.`",
            ));
        }
        // Vault answers 400 for paths with characters Go's `unicode.IsPrint` rejects
        // (invisible format characters, spaces other than U+0020): refuse them here, typed.
        if let Some(c) = name.as_str().chars().find(|c| is_unprintable(*c)) {
            return Err(Error::invalid_name(
                name.as_str(),
                format!(
                    "Vault paths may not contain the invisible character {}",
                    c.escape_unicode()
                ),
            ));
        }
        Ok(())
    }

    async fn do_read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        Self::check_name(name)?;
        if opts.stage.is_some() {
            return Err(Error::unsupported(
                "Vault KV v2 has no version stages",
                "ask for a version number with ReadOptions::version",
            ));
        }
        let version =
            match opts.version.as_deref() {
                None => None,
                Some(v) => Some(v.trim().parse::<u64>().ok().filter(|v| *v > 0).ok_or_else(
                    || {
                        Error::unsupported(
                            "Vault KV v2 versions are positive integers",
                            "pass a version number such as `3`",
                        )
                    },
                )?),
            };
        let url = self.api.data_url(name.as_str(), version);
        let resp = self.call(true, |c| c.get(&url)).await?;
        let status = resp.status();
        let retry_after = parse_retry_after(resp.headers());
        let bytes = api::body(resp).await?;
        read_answer(
            status,
            retry_after,
            &bytes,
            &self.value_field,
            opts.field.as_deref(),
        )
    }

    async fn do_write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        Self::check_name(name)?;
        let text = value.expose_str().map_err(|_| {
            Error::unsupported(
                "Vault KV values are JSON text; this value is binary",
                "base64-encode binary values before writing them",
            )
        })?;
        let body = Zeroizing::new(
            serde_json::to_vec(&KvWrite {
                data: OneField(&self.value_field, text),
                options: opts.cas.map(|cas| KvWriteOptions { cas }),
            })
            .map_err(|_| Error::protocol("cannot encode the write request"))?,
        );
        let url = self.api.data_url(name.as_str(), None);
        // Not retried: every KV v2 write adds a version, so repeating one whose answer was
        // lost (connection cut after the server applied it) would store it twice.
        let resp = self
            .call(false, |c| {
                c.post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_vec())
            })
            .await?;
        let status = resp.status();
        let retry_after = parse_retry_after(resp.headers());
        let bytes = api::body(resp).await?;
        if status.as_u16() == 400 && opts.cas.is_some() {
            return Err(cas_conflict(&bytes));
        }
        if !status.is_success() {
            return Err(api_error(status, retry_after, &bytes));
        }
        let version = serde_json::from_slice::<KvWriteResponse>(&bytes)
            .ok()
            .and_then(|r| r.data)
            .and_then(|d| d.version)
            .map(|v| v.to_string());

        let mut custom = opts.tags.clone();
        if let Some(d) = &opts.description {
            custom.insert("description".to_owned(), d.clone());
        }
        if !custom.is_empty() {
            let meta_url = self.api.metadata_url(name.as_str());
            let meta_body = serde_json::to_vec(&KvMetadataWrite {
                custom_metadata: &custom,
            })
            .map_err(|_| Error::protocol("cannot encode the metadata request"))?;
            let resp = self
                .call(true, |c| {
                    c.post(&meta_url)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(meta_body.clone())
                })
                .await?;
            let status = resp.status();
            if !status.is_success() {
                let retry_after = parse_retry_after(resp.headers());
                let bytes = api::body(resp).await?;
                return Err(api_error(status, retry_after, &bytes)
                    .with_hint("the value was written; its description/tags were not"));
            }
        }
        Ok(WriteOutcome::new(version))
    }

    async fn do_delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        Self::check_name(name)?;
        // Soft delete of the latest version, or (force) all versions and metadata.
        let url = if opts.force {
            self.api.metadata_url(name.as_str())
        } else {
            self.api.data_url(name.as_str(), None)
        };
        let resp = self.call(true, |c| c.delete(&url)).await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = parse_retry_after(resp.headers());
        let bytes = api::body(resp).await?;
        if status.as_u16() == 404 && is_missing(&bytes) {
            return Ok(());
        }
        Err(api_error(status, retry_after, &bytes))
    }

    /// The keys of one directory (`dir` empty or ending with `/`); empty when it does not exist.
    async fn list_dir(&self, dir: &str) -> Result<Vec<String>> {
        let url = self.api.list_url(dir);
        let resp = self.call(true, |c| c.get(&url)).await?;
        let status = resp.status();
        let retry_after = parse_retry_after(resp.headers());
        let bytes = resp
            .bytes()
            .await
            .map_err(strongroom_core::http::transport_error)?;
        list_answer(status, retry_after, &bytes)
    }

    async fn do_list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        let prefix = prefix.unwrap_or("");
        let start = match prefix.rfind('/') {
            Some(i) => &prefix[..=i],
            None => "",
        };
        // A directory part that no valid name can have (`//`, `..`, leading `/`) lists nothing.
        if !start.is_empty() && SecretName::new(&start[..start.len() - 1]).is_err() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut dirs = vec![start.to_owned()];
        while let Some(dir) = dirs.pop() {
            for key in self.list_dir(&dir).await? {
                let full = format!("{dir}{key}");
                if full.ends_with('/') {
                    if full.starts_with(prefix) || prefix.starts_with(full.as_str()) {
                        dirs.push(full);
                    }
                } else if full.starts_with(prefix) {
                    match SecretName::new(&full) {
                        Ok(n) => out.push(n),
                        Err(_) => tracing::debug!(
                            provider = PROVIDER,
                            "skipping a listed key that is not a valid secret name"
                        ),
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Interprets a KV v2 read answer: the secret, `Ok(None)` when it (or the field, or a live
/// version) does not exist, or the error.
pub(crate) fn read_answer(
    status: StatusCode,
    retry_after: Option<Duration>,
    bytes: &[u8],
    value_field: &str,
    field: Option<&str>,
) -> Result<Option<Secret>> {
    match status.as_u16() {
        200 => {}
        404 if is_missing(bytes) => return Ok(None),
        _ => return Err(api_error(status, retry_after, bytes)),
    }
    let parsed: KvReadResponse<'_> = serde_json::from_slice(bytes).map_err(|_| {
        Error::protocol("the read answer is not KV v2 JSON (is the mount KV version 2?)")
    })?;
    let Some(read) = parsed.data else {
        return Err(Error::protocol("the read answer has no `data` block"));
    };
    let Some(mut data) = read.data else {
        // A deleted or destroyed version answered 200 by some servers.
        return Ok(None);
    };
    let meta = read.metadata.unwrap_or_default();

    let value = match field {
        None => match data.0.get_mut(value_field) {
            Some(v) => take_value(v),
            // No value field: the whole data map, as JSON, so `#field` works on it.
            None => SecretValue::from_bytes(
                serde_json::to_vec(&data.0)
                    .map_err(|_| Error::protocol("cannot encode the data map"))?,
            ),
        },
        Some(field) => match data.0.get_mut(field) {
            Some(v) => take_value(v),
            None => match data.0.get_mut(value_field) {
                // The value field holds a JSON object: select from it.
                Some(serde_json::Value::String(s)) => {
                    let inner = SecretValue::from(std::mem::take(s));
                    match inner.json_field(field)? {
                        Some(v) => v,
                        None => return Ok(None),
                    }
                }
                _ => return Ok(None),
            },
        },
    };

    let mut secret = Secret::new(value);
    if let Some(v) = meta.version {
        secret = secret.with_version(v.to_string());
    }
    if let Some(t) = meta.created_time.as_deref().filter(|t| !t.is_empty())
        && let Ok(t) = humantime::parse_rfc3339_weak(t)
    {
        secret = secret.with_created_at(t).with_updated_at(t);
    }
    if let Some(tags) = meta.custom_metadata {
        secret.tags = tags;
    }
    Ok(Some(secret))
}

/// Interprets a `LIST …/metadata/<dir>` answer: the keys (`dir/` for sub-directories); empty
/// when the directory does not exist.
pub(crate) fn list_answer(
    status: StatusCode,
    retry_after: Option<Duration>,
    bytes: &[u8],
) -> Result<Vec<String>> {
    match status.as_u16() {
        200 => {}
        404 if is_missing(bytes) => return Ok(Vec::new()),
        _ => return Err(api_error(status, retry_after, bytes)),
    }
    let parsed: ListResponse = serde_json::from_slice(bytes)
        .map_err(|_| Error::protocol("the list answer is not the expected JSON"))?;
    Ok(parsed.data.map(|d| d.keys).unwrap_or_default())
}

/// Moves a JSON value out of the data map: strings as their text, anything else as JSON.
fn take_value(v: &mut serde_json::Value) -> SecretValue {
    match v {
        serde_json::Value::String(s) => SecretValue::from(std::mem::take(s)),
        other => SecretValue::from_bytes(serde_json::to_vec(other).unwrap_or_default()),
    }
}

#[async_trait]
impl SecretStore for HcpVaultStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        self.do_read(name, opts)
            .await
            .map_err(|e| e.context(PROVIDER, Operation::Read, Some(name.as_str())))
    }

    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        self.do_write(name, value, opts)
            .await
            .map_err(|e| e.context(PROVIDER, Operation::Write, Some(name.as_str())))
    }

    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        self.do_delete(name, opts)
            .await
            .map_err(|e| e.context(PROVIDER, Operation::Delete, Some(name.as_str())))
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        self.do_list(prefix)
            .await
            .map_err(|e| e.context(PROVIDER, Operation::List, prefix))
    }
}

/// Characters Vault's path check refuses beyond the core's control characters: format
/// characters (zero-width, bidirectional controls, BOM …) and spaces other than U+0020.
fn is_unprintable(c: char) -> bool {
    matches!(c,
        '\u{a0}' | '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}'
        | '\u{1680}' | '\u{180e}' | '\u{2000}'..='\u{200f}' | '\u{202a}'..='\u{202f}'
        | '\u{205f}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{3000}' | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}' | '\u{e0001}' | '\u{e0020}'..='\u{e007f}')
}
