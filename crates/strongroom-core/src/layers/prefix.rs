use std::sync::Arc;

use async_trait::async_trait;

use crate::cache::NameRef;
use crate::error::Result;
use crate::name::SecretName;
use crate::secret::Secret;
use crate::store::{
    DeleteOptions, ReadManyResult, ReadOptions, SecretStore, StoreLayer, WriteOptions, WriteOutcome,
};
use crate::value::SecretValue;
use crate::watch::{SecretWatch, WatchOptions};

/// Puts a fixed prefix in front of every name, LiteLLM `prefix_for_stored_virtual_keys`
/// style: `litellm` and `litellm/` both give `litellm/<name>`. Listing strips it again.
///
/// ```
/// use strongroom_core::{MemoryStore, Prefixed};
/// let p = Prefixed::new(MemoryStore::new(), "litellm");
/// assert_eq!(p.prefix(), "litellm/");
/// ```
#[derive(Debug, Clone)]
pub struct Prefixed<S> {
    inner: S,
    prefix: String,
    /// The prefix is itself a valid name followed by `/`, so prefix + valid name is valid
    /// without checking the characters again (only the length).
    prefix_is_valid: bool,
}

impl<S> Prefixed<S> {
    /// Wraps `inner`; an empty prefix is a no-op.
    pub fn new(inner: S, prefix: &str) -> Self {
        let mut prefix = prefix.trim_start_matches('/').to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        let prefix_is_valid = prefix.is_empty()
            || SecretName::new(prefix.trim_end_matches('/')).is_ok() && prefix.ends_with('/');
        Prefixed {
            inner,
            prefix,
            prefix_is_valid,
        }
    }
    /// The normalised prefix (ends with `/` unless empty).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
    /// `opts` kept inside this prefix (and inside an outer prefix layer's scope, which is
    /// relative to the names this layer receives).
    fn scoped(&self, opts: &ReadOptions) -> ReadOptions {
        let mut opts = opts.clone();
        if !self.prefix.is_empty() {
            let outer = opts.within.as_deref().unwrap_or("");
            opts.within = Some(Arc::from(format!("{}{outer}", self.prefix)));
        }
        opts
    }
    fn full(&self, name: &SecretName) -> Result<SecretName> {
        if self.prefix_is_valid {
            name.with_valid_prefix(&self.prefix)
        } else {
            name.with_prefix(&self.prefix)
        }
    }
}

#[async_trait]
impl<S: SecretStore> StoreLayer for Prefixed<S> {
    type Inner = S;
    fn inner(&self) -> &S {
        &self.inner
    }
    fn try_read_local(&self, name: NameRef<'_>, opts: &ReadOptions) -> Option<Secret> {
        if name.prefix.is_empty() {
            // The usual case: look up by parts, building nothing.
            return self.inner.try_read_local(
                NameRef {
                    prefix: &self.prefix,
                    name: name.name,
                },
                opts,
            );
        }
        let outer = format!("{}{}", self.prefix, name.prefix);
        self.inner.try_read_local(
            NameRef {
                prefix: &outer,
                name: name.name,
            },
            opts,
        )
    }
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        if let Some(hit) = StoreLayer::try_read_local(self, NameRef::new(name), opts) {
            return Ok(Some(hit));
        }
        let full = self.full(name)?;
        self.inner.read(&full, &self.scoped(opts)).await
    }
    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        let full: Vec<SecretName> = names.iter().map(|n| self.full(n)).collect::<Result<_>>()?;
        let got = self.inner.read_many(&full, &self.scoped(opts)).await?;
        Ok(got
            .into_iter()
            .filter_map(|(n, s)| n.strip_prefix(&self.prefix).map(|n| (n, s)))
            .collect())
    }
    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        self.inner.write(&self.full(name)?, value, opts).await
    }
    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        self.inner.delete(&self.full(name)?, opts).await
    }
    async fn watch(&self, name: &SecretName, opts: &WatchOptions) -> Result<SecretWatch> {
        let mut opts = opts.clone();
        opts.read = self.scoped(&opts.read);
        self.inner.watch(&self.full(name)?, &opts).await
    }
    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        if self.prefix.is_empty() {
            return self.inner.list(prefix).await;
        }
        let full = format!("{}{}", self.prefix, prefix.unwrap_or(""));
        let names = self.inner.list(Some(&full)).await?;
        Ok(names
            .into_iter()
            .filter_map(|n| n.strip_prefix(&self.prefix))
            .collect())
    }
}
