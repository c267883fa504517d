//! [`HcpVaultStore`]: the `SecretStore` operations mapped onto KV v2 calls.

use std::fmt;
use std::future::Future;

use strongroom_core::provider::PageBudget;
use strongroom_core::provider::http::Call;
use strongroom_core::{
    DeleteOptions, Error, Operation, ReadOptions, Result, Secret, SecretName, SecretStore,
    SecretValue, StoreInfo, WriteOptions, WriteOutcome, async_trait,
};

use crate::api::{self, Api};
use crate::auth::Auth;
use crate::config::HcpVaultBuilder;
use crate::error::PROVIDER;

/// A HashiCorp Vault / OpenBao KV v2 store. Build it with [`HcpVaultBuilder`] or
/// [`HcpVaultConfig`](crate::HcpVaultConfig).
///
/// Each secret is stored as the KV v2 data map `{"<value field>": "<value>"}` (field `key` by
/// default). Reads return that field; with [`ReadOptions::field`] they return another field
/// of the data map (or of a JSON value stored in the value field).
///
/// ```no_run
/// use strongroom_core::{ReadOptions, SecretName, SecretStore, WriteOptions};
/// use strongroom_hcp_vault::HcpVaultBuilder;
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = HcpVaultBuilder::from_env()?.build()?;
/// let name = SecretName::new("litellm/openai-key")?;
/// store.write(&name, "sk-123".into(), &WriteOptions::new()).await?;
/// let secret = store.read(&name, &ReadOptions::new()).await?.expect("written");
/// assert_eq!(secret.value.expose_str()?, "sk-123");
/// # Ok(()) }
/// ```
pub struct HcpVaultStore {
    api: Api,
    auth: Auth,
    info: StoreInfo,
    value_field: String,
    /// `max_pages` (LIST calls) and `max_list_items` (names) of one `list`.
    list_bounds: (u64, u64),
}

impl fmt::Debug for HcpVaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HcpVaultStore")
            .field("addr", &self.api.addr())
            .field("address", &self.info.address)
            .field("auth", &self.auth.label())
            .finish_non_exhaustive()
    }
}

/// Runs `op`, giving its errors the call's context (provider, operation, name) where they
/// have none yet: the one place errors get context.
async fn in_context<T>(call: Call<'_>, op: impl Future<Output = Result<T>>) -> Result<T> {
    op.await.map_err(|e| call.context(PROVIDER, e))
}

impl HcpVaultStore {
    /// Shorthand for [`HcpVaultBuilder::new`].
    pub fn builder() -> HcpVaultBuilder {
        HcpVaultBuilder::new()
    }

    pub(crate) fn new(
        api: Api,
        auth: Auth,
        info: StoreInfo,
        value_field: String,
        list_bounds: (u64, u64),
    ) -> HcpVaultStore {
        HcpVaultStore {
            api,
            auth,
            info,
            value_field,
            list_bounds,
        }
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

    /// Walks `LIST …/metadata/<dir>` from the directory part of `prefix`, within
    /// `max_pages` LIST calls and `max_list_items` names.
    async fn list_names(&self, call: Call<'_>, prefix: &str) -> Result<Vec<SecretName>> {
        let start = prefix.rfind('/').map_or("", |i| &prefix[..=i]);
        // A directory part that no valid name can have (`//`, `..`, leading `/`) lists nothing.
        if !start.is_empty() && SecretName::new(&start[..start.len() - 1]).is_err() {
            return Ok(Vec::new());
        }
        let (max_pages, max_items) = self.list_bounds;
        let mut budget = PageBudget::new(max_pages, max_items);
        let mut out = Vec::new();
        let mut dirs = vec![start.to_owned()];
        while let Some(dir) = dirs.pop() {
            if budget.pages() >= max_pages {
                // The LIST this walk would send next could not be read: stop before sending it.
                budget.page(0)?;
            }
            let keys = self
                .auth
                .call(&self.api, |token| {
                    let dir = dir.as_str();
                    async move { self.api.list(&token, call, dir).await }
                })
                .await?;
            budget.page(keys.len())?;
            for key in keys {
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

#[async_trait]
impl SecretStore for HcpVaultStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let call = Call::new(Operation::Read, Some(name.as_str()));
        in_context(call, async {
            api::check_name(name)?;
            if opts.stage.is_some() {
                return Err(Error::unsupported(
                    "Vault KV v2 has no version stages",
                    "ask for a version number with ReadOptions::version",
                ));
            }
            let version = opts
                .version
                .as_deref()
                .map(api::version_number)
                .transpose()?;
            let field = opts.field.as_deref();
            self.auth
                .call(&self.api, |token| async move {
                    self.api
                        .read(
                            &token,
                            call,
                            name.as_str(),
                            version,
                            &self.value_field,
                            field,
                        )
                        .await
                })
                .await
        })
        .await
    }

    /// Writes the value, then (when given) the description and tags as the secret's
    /// `custom_metadata`; metadata Vault cannot store is refused before anything is sent.
    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        let call = Call::new(Operation::Write, Some(name.as_str()));
        in_context(call, async {
            api::check_name(name)?;
            let custom = api::custom_metadata(opts)?;
            let body = api::write_body(&self.value_field, &value, opts.cas)?;
            let version = self
                .auth
                .call(&self.api, |token| {
                    let body = body.as_slice();
                    async move {
                        self.api
                            .write(&token, call, name.as_str(), body, opts.cas.is_some())
                            .await
                    }
                })
                .await?;
            if let Some(custom) = &custom {
                self.auth
                    .call(&self.api, |token| async move {
                        self.api
                            .write_metadata(&token, call, name.as_str(), custom)
                            .await
                    })
                    .await
                    .map_err(|e| {
                        e.with_hint(format!(
                            "the value was written (version {}); its description and tags were not",
                            version.map_or_else(|| "unknown".to_owned(), |v| v.to_string())
                        ))
                    })?;
            }
            Ok(WriteOutcome::new(version.map(|v| v.to_string())))
        })
        .await
    }

    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        let call = Call::new(Operation::Delete, Some(name.as_str()));
        in_context(call, async {
            api::check_name(name)?;
            self.auth
                .call(&self.api, |token| async move {
                    self.api
                        .delete(&token, call, name.as_str(), opts.force)
                        .await
                })
                .await
        })
        .await
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        let call = Call::new(Operation::List, prefix);
        in_context(call, self.list_names(call, prefix.unwrap_or(""))).await
    }
}
