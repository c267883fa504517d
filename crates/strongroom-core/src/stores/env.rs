use async_trait::async_trait;

use crate::error::{Error, Operation, Result};
use crate::name::SecretName;
use crate::secret::Secret;
use crate::store::{
    Capabilities, DeleteOptions, ReadOptions, SecretStore, WriteOptions, WriteOutcome,
};
use crate::value::SecretValue;

const PROVIDER: &str = "env";

/// Read-only secrets from the process environment: the secret `NAME` is the variable
/// `<prefix>NAME`. Writes and deletes are [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).
///
/// ```
/// use strongroom_core::{EnvStore, SecretStore};
/// let store = EnvStore::new().with_prefix("APP_");
/// assert!(!store.capabilities().write);
/// ```
#[derive(Debug, Default, Clone)]
pub struct EnvStore {
    prefix: String,
}

impl EnvStore {
    /// Variables named exactly like the secrets.
    pub fn new() -> Self {
        Self::default()
    }
    /// Variables named `<prefix><secret name>`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
    fn unsupported(&self, op: Operation, name: &SecretName) -> Error {
        Error::unsupported(
            "the environment store is read-only",
            "set the variable in the process environment instead",
        )
        .context(PROVIDER, op, Some(name.as_str()))
    }
}

#[async_trait]
impl SecretStore for EnvStore {
    fn provider(&self) -> &'static str {
        PROVIDER
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::read_only()
    }
    fn cache_address(&self) -> String {
        format!("env:{}", self.prefix)
    }
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let var = format!("{}{}", self.prefix, name);
        let Some(value) = std::env::var_os(&var) else {
            return Ok(None);
        };
        let secret = Secret::new(SecretValue::from_bytes(value.into_encoded_bytes()));
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
        _value: SecretValue,
        _opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        Err(self.unsupported(Operation::Write, name))
    }
    async fn delete(&self, name: &SecretName, _opts: &DeleteOptions) -> Result<()> {
        Err(self.unsupported(Operation::Delete, name))
    }
    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        let mut names: Vec<SecretName> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_owned))
            .filter(|k| prefix.is_none_or(|p| k.starts_with(p)))
            .filter_map(|k| SecretName::new(k).ok())
            .collect();
        names.sort();
        Ok(names)
    }
}
