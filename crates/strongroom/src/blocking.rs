//! `strongroom::blocking::Client` for synchronous callers.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use strongroom_core::{
    CacheStats, DeleteOptions, Error, ErrorKind, ReadOptions, Result, Secret, SecretName,
    SecretValue, SecretWatch, WatchOptions, WatchStatus, WriteOptions, WriteOutcome,
};

use crate::Registry;

/// A synchronous client over a [`Registry`], with its own runtime (one worker thread, which
/// also runs the background refreshes of watches and refresh-ahead between calls). Don't call
/// it from inside an async runtime (use the `Registry` there).
///
/// Every call takes the caller's groups, checked against the manager's `allowed_groups` as
/// [`Registry::manager`] does.
///
/// ```
/// use strongroom::blocking::Client;
/// let client = Client::from_toml_str(r#"
///     [managers.dev]
///     provider = "memory"
///     access_mode = "read_and_write"
///     allowed_groups = ["dev"]
/// "#).unwrap();
/// let dev = ["dev".to_string()];
/// client.put("dev", "api-key", "sk-1".into(), &dev).unwrap();
/// let v = client.get("dev", "api-key", &dev).unwrap().unwrap();
/// assert_eq!(v.expose_str().unwrap(), "sk-1");
/// assert!(client.get("dev", "api-key", &[]).is_err());
/// ```
#[derive(Debug)]
pub struct Client {
    runtime: tokio::runtime::Runtime,
    registry: Registry,
}

impl Client {
    fn runtime() -> Result<tokio::runtime::Runtime> {
        // A worker thread, not a current-thread runtime: background refreshes must run while
        // the caller is not inside a call.
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("strongroom-blocking")
            .enable_all()
            .build()
            .map_err(|e| Error::new(ErrorKind::Config, format!("cannot start a runtime: {e}")))
    }

    /// Wraps an existing registry.
    pub fn new(registry: Registry) -> Result<Client> {
        Ok(Client {
            runtime: Client::runtime()?,
            registry,
        })
    }

    /// Builds from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Client> {
        let runtime = Client::runtime()?;
        let registry = runtime.block_on(Registry::from_toml_str(text))?;
        Ok(Client { runtime, registry })
    }

    /// Builds from a TOML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Client> {
        let runtime = Client::runtime()?;
        let registry = runtime.block_on(Registry::from_file(path))?;
        Ok(Client { runtime, registry })
    }

    /// Builds from LiteLLM-style environment variables.
    pub fn from_litellm_env() -> Result<Client> {
        let runtime = Client::runtime()?;
        let registry = runtime.block_on(Registry::from_litellm_env())?;
        Ok(Client { runtime, registry })
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Reads a secret's value (`Ok(None)` when missing) for a caller in `groups`.
    pub fn get(&self, manager: &str, name: &str, groups: &[String]) -> Result<Option<SecretValue>> {
        Ok(self
            .read(manager, name, &ReadOptions::new(), groups)?
            .map(|s| s.value))
    }

    /// Reads a secret with options for a caller in `groups`.
    pub fn read(
        &self,
        manager: &str,
        name: &str,
        opts: &ReadOptions,
        groups: &[String],
    ) -> Result<Option<Secret>> {
        let name = SecretName::new(name)?;
        let store = self.registry.manager(manager, groups)?.store();
        self.runtime.block_on(store.read(&name, opts))
    }

    /// Writes a secret for a caller in `groups`.
    pub fn put(
        &self,
        manager: &str,
        name: &str,
        value: SecretValue,
        groups: &[String],
    ) -> Result<WriteOutcome> {
        let name = SecretName::new(name)?;
        let store = self.registry.manager(manager, groups)?.store();
        self.runtime
            .block_on(store.write(&name, value, &WriteOptions::new()))
    }

    /// Deletes a secret for a caller in `groups`.
    pub fn delete(
        &self,
        manager: &str,
        name: &str,
        opts: &DeleteOptions,
        groups: &[String],
    ) -> Result<()> {
        let name = SecretName::new(name)?;
        let store = self.registry.manager(manager, groups)?.store();
        self.runtime.block_on(store.delete(&name, opts))
    }

    /// Lists names for a caller in `groups`.
    pub fn list(
        &self,
        manager: &str,
        prefix: Option<&str>,
        groups: &[String],
    ) -> Result<Vec<SecretName>> {
        let store = self.registry.manager(manager, groups)?.store();
        self.runtime.block_on(store.list(prefix))
    }

    /// Renders placeholders for a caller in `groups`.
    pub fn render(&self, template: &str, groups: &[String]) -> Result<SecretValue> {
        self.runtime
            .block_on(self.registry.render(template, groups))
    }

    /// Watches a secret for a caller in `groups` (see [`Registry::watch`]). The refresher runs
    /// on the client's worker thread; the watch borrows the client, so it cannot outlive it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strongroom::WatchOptions;
    /// use strongroom::blocking::Client;
    /// let client = Client::from_toml_str(r#"
    ///     [managers.dev]
    ///     provider = "memory"
    ///     access_mode = "read_and_write"
    /// "#).unwrap();
    /// client.put("dev", "db/password", "v1".into(), &[]).unwrap();
    /// let mut watch = client.watch("dev", "db/password", &[], &WatchOptions::new()).unwrap();
    /// assert_eq!(watch.current().unwrap().value.expose_str().unwrap(), "v1");
    /// client.put("dev", "db/password", "v2".into(), &[]).unwrap();
    /// assert!(watch.wait_changed(Some(Duration::from_secs(30))).unwrap());
    /// assert_eq!(watch.current().unwrap().value.expose_str().unwrap(), "v2");
    /// ```
    pub fn watch(
        &self,
        manager: &str,
        name: &str,
        groups: &[String],
        opts: &WatchOptions,
    ) -> Result<BlockingWatch<'_>> {
        let name = SecretName::new(name)?;
        let watch = self
            .runtime
            .block_on(self.registry.watch(manager, &name, groups, opts))?;
        Ok(BlockingWatch {
            client: self,
            watch,
        })
    }

    /// The statistics of the cached managers a caller in `groups` may use (see
    /// [`Registry::stats`]).
    pub fn stats(&self, groups: &[String]) -> BTreeMap<String, CacheStats> {
        self.registry.stats(groups)
    }
}

/// A [`SecretWatch`] for synchronous callers (from [`Client::watch`]).
#[derive(Debug)]
pub struct BlockingWatch<'c> {
    client: &'c Client,
    watch: SecretWatch,
}

impl BlockingWatch<'_> {
    /// The latest value, without I/O (see [`SecretWatch::current`]).
    pub fn current(&self) -> Option<Arc<Secret>> {
        self.watch.current()
    }

    /// When the value was last refreshed, and the last error.
    pub fn status(&self) -> WatchStatus {
        self.watch.status()
    }

    /// Blocks until the value or version changes (`Ok(true)`), or `timeout` passes
    /// (`Ok(false)`); `None` waits as long as it takes.
    pub fn wait_changed(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let changed = self.watch.changed();
        match timeout {
            None => self.client.runtime.block_on(changed).map(|()| true),
            Some(t) => match self
                .client
                .runtime
                .block_on(async { tokio::time::timeout(t, changed).await })
            {
                Ok(done) => done.map(|()| true),
                Err(_elapsed) => Ok(false),
            },
        }
    }
}
