use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;

use crate::cache::NameRef;
use crate::error::{Error, Operation, Result};
use crate::name::SecretName;
use crate::secret::Secret;
use crate::store::{
    DeleteOptions, ReadManyResult, ReadOptions, SecretStore, StoreInfo, StoreLayer, WriteOptions,
    WriteOutcome,
};
use crate::value::SecretValue;
use crate::watch::{SecretWatch, WatchOptions};

/// Which operations a manager allows.
///
/// Unlike the system Strongroom replaces (which checked the mode on reads only), every
/// operation is checked: reads and lists need read access; writes and deletes need write access.
///
/// ```
/// use strongroom_core::AccessMode;
/// let m: AccessMode = "read_only".parse().unwrap();
/// assert!(m.allows_read() && !m.allows_write());
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AccessMode {
    /// Read and list only (the default, as in LiteLLM).
    #[default]
    ReadOnly,
    /// Write and delete only.
    WriteOnly,
    /// Everything.
    ReadAndWrite,
}

impl AccessMode {
    /// Whether reads and lists are allowed.
    pub fn allows_read(self) -> bool {
        matches!(self, AccessMode::ReadOnly | AccessMode::ReadAndWrite)
    }
    /// Whether writes and deletes are allowed.
    pub fn allows_write(self) -> bool {
        matches!(self, AccessMode::WriteOnly | AccessMode::ReadAndWrite)
    }
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::ReadOnly => "read_only",
            AccessMode::WriteOnly => "write_only",
            AccessMode::ReadAndWrite => "read_and_write",
        }
    }
}

impl fmt::Display for AccessMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccessMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "read_only" => Ok(AccessMode::ReadOnly),
            "write_only" => Ok(AccessMode::WriteOnly),
            "read_and_write" | "read_write" => Ok(AccessMode::ReadAndWrite),
            other => Err(Error::config(
                "access_mode",
                format!("`{other}` is not one of read_only, write_only, read_and_write"),
            )),
        }
    }
}

/// The access-policy layer (see [`AccessMode`]). Refusals are
/// [`ErrorKind::AccessDenied`](crate::ErrorKind::AccessDenied) and reach no backend.
#[derive(Debug, Clone)]
pub struct AccessControlled<S> {
    inner: S,
    mode: AccessMode,
    info: StoreInfo,
}

impl<S: SecretStore> AccessControlled<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, mode: AccessMode) -> Self {
        let mut caps = inner.info().capabilities;
        if !mode.allows_read() {
            caps.read = false;
            caps.list = false;
            caps.batch_read = false;
        }
        if !mode.allows_write() {
            caps.write = false;
            caps.delete = false;
        }
        let info = inner.info().clone().with_capabilities(caps);
        AccessControlled { inner, mode, info }
    }
    /// The mode.
    pub fn mode(&self) -> AccessMode {
        self.mode
    }
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn refuse(&self, op: Operation, name: Option<&SecretName>) -> Error {
        let need = match op {
            Operation::Write | Operation::Delete => "write",
            _ => "read",
        };
        Error::access_denied(format!(
            "the manager's access mode is {}, which does not allow {op}",
            self.mode
        ))
        .with_hint(format!("set access_mode to one that allows {need}s"))
        .context(self.info.provider, op, name.map(SecretName::as_str))
    }
}

#[async_trait]
impl<S: SecretStore> StoreLayer for AccessControlled<S> {
    type Inner = S;
    fn inner(&self) -> &S {
        &self.inner
    }
    fn info(&self) -> &StoreInfo {
        &self.info
    }
    fn try_read_local(&self, name: NameRef<'_>, opts: &ReadOptions) -> Option<Secret> {
        if self.mode.allows_read() {
            self.inner.try_read_local(name, opts)
        } else {
            None
        }
    }
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        if !self.mode.allows_read() {
            return Err(self.refuse(Operation::Read, Some(name)));
        }
        if let Some(hit) = self.inner.try_read_local(NameRef::new(name), opts) {
            return Ok(Some(hit));
        }
        self.inner.read(name, opts).await
    }
    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        if !self.mode.allows_read() {
            return Err(self.refuse(Operation::ReadMany, None));
        }
        self.inner.read_many(names, opts).await
    }
    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        if !self.mode.allows_write() {
            return Err(self.refuse(Operation::Write, Some(name)));
        }
        self.inner.write(name, value, opts).await
    }
    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        if !self.mode.allows_write() {
            return Err(self.refuse(Operation::Delete, Some(name)));
        }
        self.inner.delete(name, opts).await
    }
    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        if !self.mode.allows_read() {
            return Err(self.refuse(Operation::List, None));
        }
        self.inner.list(prefix).await
    }
    async fn watch(&self, name: &SecretName, opts: &WatchOptions) -> Result<SecretWatch> {
        if !self.mode.allows_read() {
            return Err(self.refuse(Operation::Read, Some(name)));
        }
        self.inner.watch(name, opts).await
    }
}
