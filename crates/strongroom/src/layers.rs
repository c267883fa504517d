//! The facade's own layers, for LiteLLM's `key_management_settings`: `hosted_keys`
//! ([`HostedKeys`]), `primary_secret_name` ([`PrimarySecret`]), `description` and `tags`
//! ([`WriteDefaults`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use strongroom_core::layer::StoreLayer;
use strongroom_core::{
    EnvStore, NameRef, ReadManyResult, ReadOptions, Result, Secret, SecretName, SecretStore,
    SecretValue, StoreInfo, WriteOptions, WriteOutcome, async_trait,
};

/// LiteLLM's `hosted_keys`: names on the list are read from the manager; any other name is
/// read from the environment — but only from the variables `env_fallback` names, and never
/// from a variable the configuration uses as a credential. Writes, deletes and lists go to the
/// manager unchanged.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use strongroom::litellm::HostedKeys;
/// use strongroom::{MemoryStore, ReadOptions, SecretName, SecretStore, WriteOptions};
/// let backend = Arc::new(MemoryStore::new());
/// let name = SecretName::new("OPENAI_API_KEY").unwrap();
/// backend.write(&name, "sk-1".into(), &WriteOptions::new()).await.unwrap();
/// let hosted = HostedKeys::new(backend.clone(), ["OPENAI_API_KEY"], ["PATH"], ["HOME"]);
/// assert!(hosted.read(&name, &ReadOptions::new()).await.unwrap().is_some());
/// let home = SecretName::new("HOME").unwrap();
/// assert!(hosted.read(&home, &ReadOptions::new()).await.unwrap().is_none());
/// # });
/// ```
#[derive(Debug)]
pub struct HostedKeys {
    inner: Arc<dyn SecretStore>,
    hosted: BTreeSet<String>,
    env: Option<EnvStore>,
    info: StoreInfo,
    /// The manager's prefix: the lists name secrets as the manager's callers do.
    prefix: String,
}

impl HostedKeys {
    /// Wraps `inner`: `hosted` names go to it; `env_fallback` names (minus `denied`) are read
    /// from the environment; anything else does not exist.
    pub fn new<H, E, D>(inner: Arc<dyn SecretStore>, hosted: H, env_fallback: E, denied: D) -> Self
    where
        H: IntoIterator,
        H::Item: Into<String>,
        E: IntoIterator,
        E::Item: Into<String>,
        D: IntoIterator,
        D::Item: Into<String>,
    {
        let hosted: BTreeSet<String> = hosted.into_iter().map(Into::into).collect();
        let fallback: BTreeSet<String> = env_fallback.into_iter().map(Into::into).collect();
        let address = format!(
            "{}|hosted={}|env={}",
            inner.info().address,
            hosted.iter().cloned().collect::<Vec<_>>().join(","),
            fallback.iter().cloned().collect::<Vec<_>>().join(",")
        );
        let info = inner.info().clone().with_address(address);
        let env = (!fallback.is_empty()).then(|| EnvStore::with_names(fallback).deny(denied));
        HostedKeys {
            inner,
            hosted,
            env,
            info,
            prefix: String::new(),
        }
    }

    /// The prefix the manager puts in front of names (this layer sits below it): the lists
    /// are compared with the names as the manager's callers give them.
    pub fn with_manager_prefix(mut self, prefix: &str) -> Self {
        let mut prefix = prefix.trim_start_matches('/').to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        self.prefix = prefix;
        self
    }

    /// The name as the manager's caller gave it.
    fn short<'a>(&self, name: &'a SecretName) -> &'a str {
        name.as_str()
            .strip_prefix(self.prefix.as_str())
            .unwrap_or(name.as_str())
    }

    fn is_hosted(&self, name: &SecretName) -> bool {
        self.hosted.contains(self.short(name))
    }

    async fn read_env(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let Some(env) = &self.env else {
            return Ok(None);
        };
        match SecretName::new(self.short(name)) {
            Ok(short) => env.read(&short, opts).await,
            Err(_) => Ok(None),
        }
    }
}

#[async_trait]
impl StoreLayer for HostedKeys {
    type Inner = dyn SecretStore;
    fn inner(&self) -> &(dyn SecretStore + 'static) {
        &*self.inner
    }
    fn info(&self) -> &StoreInfo {
        &self.info
    }
    fn try_read_local(&self, name: NameRef<'_>, opts: &ReadOptions) -> Option<Secret> {
        if name.prefix == self.prefix && self.hosted.contains(name.name) {
            self.inner.try_read_local(name, opts)
        } else {
            None
        }
    }
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        if self.is_hosted(name) {
            self.inner.read(name, opts).await
        } else {
            self.read_env(name, opts).await
        }
    }
    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        let hosted: Vec<SecretName> = names
            .iter()
            .filter(|n| self.is_hosted(n))
            .cloned()
            .collect();
        let mut from_backend: BTreeMap<SecretName, Option<Secret>> = if hosted.is_empty() {
            BTreeMap::new()
        } else {
            self.inner
                .read_many(&hosted, opts)
                .await?
                .into_iter()
                .collect()
        };
        let mut out = Vec::with_capacity(names.len());
        for name in strongroom_core::dedupe(names) {
            let secret = match from_backend.remove(&name) {
                Some(s) => s,
                None if self.is_hosted(&name) => None,
                None => self.read_env(&name, opts).await?,
            };
            out.push((name, secret));
        }
        Ok(out)
    }
}

/// LiteLLM's `primary_secret_name`: every read of `NAME` returns the field `NAME` of one JSON
/// secret (`{"OPENAI_API_KEY": "sk-…", …}`), the way LiteLLM's AWS manager does; a missing
/// primary secret or field reads as missing. Writes, deletes and lists are unchanged.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use strongroom::litellm::PrimarySecret;
/// use strongroom::{MemoryStore, ReadOptions, SecretName, SecretStore, WriteOptions};
/// let backend = Arc::new(MemoryStore::new());
/// let all = SecretName::new("litellm/all").unwrap();
/// backend.write(&all, r#"{"OPENAI_API_KEY":"sk-1"}"#.into(), &WriteOptions::new()).await.unwrap();
/// let store = PrimarySecret::new(backend, all);
/// let got = store.read(&SecretName::new("OPENAI_API_KEY").unwrap(), &ReadOptions::new()).await.unwrap();
/// assert_eq!(got.unwrap().value.expose_str().unwrap(), "sk-1");
/// # });
/// ```
#[derive(Debug)]
pub struct PrimarySecret {
    inner: Arc<dyn SecretStore>,
    primary: SecretName,
    info: StoreInfo,
}

impl PrimarySecret {
    /// Reads of any name through `inner` return that field of `primary`.
    pub fn new(inner: Arc<dyn SecretStore>, primary: SecretName) -> Self {
        let info = inner
            .info()
            .clone()
            .with_address(format!("{}|primary={primary}", inner.info().address));
        PrimarySecret {
            inner,
            primary,
            info,
        }
    }

    /// The primary secret, read once.
    async fn primary(&self, opts: &ReadOptions) -> Result<Option<Secret>> {
        let mut whole = ReadOptions::new().refresh(opts.refresh);
        whole.version = opts.version.clone();
        whole.stage = opts.stage.clone();
        self.inner.read(&self.primary, &whole).await
    }

    fn pick(secret: &Secret, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let Some(field) = secret.clone().select_field(name.as_str())? else {
            return Ok(None);
        };
        match &opts.field {
            Some(f) => field.select_field(f),
            None => Ok(Some(field)),
        }
    }
}

#[async_trait]
impl StoreLayer for PrimarySecret {
    type Inner = dyn SecretStore;
    fn inner(&self) -> &(dyn SecretStore + 'static) {
        &*self.inner
    }
    fn info(&self) -> &StoreInfo {
        &self.info
    }
    fn try_read_local(&self, _name: NameRef<'_>, _opts: &ReadOptions) -> Option<Secret> {
        None
    }
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        match self.primary(opts).await? {
            Some(primary) => Self::pick(&primary, name, opts),
            None => Ok(None),
        }
    }
    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        let primary = self.primary(opts).await?;
        strongroom_core::dedupe(names)
            .into_iter()
            .map(|name| {
                let secret = match &primary {
                    Some(p) => Self::pick(p, &name, opts)?,
                    None => None,
                };
                Ok((name, secret))
            })
            .collect()
    }
}

/// LiteLLM's `description` and `tags`: given to every write; a write's own description and
/// tags win.
#[derive(Debug)]
pub struct WriteDefaults {
    inner: Arc<dyn SecretStore>,
    description: Option<String>,
    tags: BTreeMap<String, String>,
}

impl WriteDefaults {
    /// Wraps `inner`.
    pub fn new(
        inner: Arc<dyn SecretStore>,
        description: Option<String>,
        tags: BTreeMap<String, String>,
    ) -> Self {
        WriteDefaults {
            inner,
            description,
            tags,
        }
    }
}

#[async_trait]
impl StoreLayer for WriteDefaults {
    type Inner = dyn SecretStore;
    fn inner(&self) -> &(dyn SecretStore + 'static) {
        &*self.inner
    }
    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        let mut opts = opts.clone();
        if opts.description.is_none() {
            opts.description = self.description.clone();
        }
        for (k, v) in &self.tags {
            opts.tags.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self.inner.write(name, value, &opts).await
    }
}

#[cfg(test)]
mod tests {
    use crate::Registry;
    use strongroom_core::{ReadOptions, SecretName, WriteOptions};

    #[tokio::test]
    async fn hosted_keys_compare_the_callers_names_under_a_prefix() {
        let registry = Registry::from_toml_str(
            "[managers.m]\nprovider = \"memory\"\naccess_mode = \"read_and_write\"\nprefix = \"litellm\"\nhosted_keys = [\"k\"]\n",
        )
        .await
        .unwrap();
        let store = registry.manager("m", &[]).unwrap().store();
        let (k, other) = (
            SecretName::new("k").unwrap(),
            SecretName::new("other").unwrap(),
        );
        for name in [&k, &other] {
            store
                .write(name, "v".into(), &WriteOptions::new())
                .await
                .unwrap();
        }
        let opts = ReadOptions::new();
        assert!(
            store.read(&k, &opts).await.unwrap().is_some(),
            "a hosted name reaches the backend"
        );
        assert!(
            store.read(&other, &opts).await.unwrap().is_none(),
            "others: environment only, none listed"
        );
        let got = store
            .read_many(&[k.clone(), other.clone()], &ReadOptions::new())
            .await
            .unwrap();
        assert!(got[0].1.is_some() && got[1].1.is_none());
    }
}
