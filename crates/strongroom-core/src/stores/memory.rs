use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::error::{Error, ErrorKind, Operation, Result};
use crate::name::SecretName;
use crate::secret::Secret;
use crate::store::{
    Capabilities, DeleteOptions, ReadOptions, SecretStore, StoreInfo, WriteOptions, WriteOutcome,
};
use crate::value::SecretValue;

const PROVIDER: &str = "memory";

#[derive(Debug, Default)]
struct Entry {
    versions: Vec<(SecretValue, SystemTime)>,
}

/// Secrets in process memory, with versions and check-and-set. For tests and as a building
/// block; nothing survives the process.
///
/// ```
/// use strongroom_core::{MemoryStore, SecretStore};
/// let store = MemoryStore::new();
/// assert!(store.info().capabilities.cas);
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    secrets: RwLock<BTreeMap<SecretName, Entry>>,
    info: StoreInfo,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            secrets: RwLock::default(),
            // Each store is its own object space.
            info: StoreInfo::new(
                PROVIDER,
                Capabilities::all()
                    .with_versions(true)
                    .with_cas(true)
                    .with_binary(true),
            )
            .with_address(format!("memory:{:016x}", rand::random::<u64>())),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SecretStore for MemoryStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = secrets.get(name) else {
            return Ok(None);
        };
        let index = match &opts.version {
            None => entry.versions.len().checked_sub(1),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .and_then(|v| v.checked_sub(1))
                .filter(|i| *i < entry.versions.len()),
        };
        let Some(index) = index else { return Ok(None) };
        let (value, at) = &entry.versions[index];
        let secret = Secret::new(value.clone())
            .with_version((index + 1).to_string())
            .with_updated_at(*at)
            .with_created_at(*at);
        match &opts.field {
            Some(f) => secret
                .select_field(f)
                .map_err(|e| e.context(PROVIDER, Operation::Read, Some(name.as_str()))),
            None => Ok(Some(secret)),
        }
    }

    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        let current = secrets.get(name).map_or(0, |e| e.versions.len() as u64);
        if let Some(cas) = opts.cas
            && cas != current
        {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("check-and-set expected version {cas}, current is {current}"),
            )
            .context(PROVIDER, Operation::Write, Some(name.as_str())));
        }
        let entry = secrets.entry(name.clone()).or_default();
        entry.versions.push((value, SystemTime::now()));
        Ok(WriteOutcome::new(Some(entry.versions.len().to_string())))
    }

    async fn delete(&self, name: &SecretName, _opts: &DeleteOptions) -> Result<()> {
        self.secrets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        Ok(())
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        Ok(secrets
            .keys()
            .filter(|n| prefix.is_none_or(|p| n.as_str().starts_with(p)))
            .cloned()
            .collect())
    }
}
