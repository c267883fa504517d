use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Error, Operation, Result};
use crate::name::SecretName;
use crate::secret::Secret;
use crate::store::{
    Capabilities, DeleteOptions, ReadOptions, SecretStore, StoreInfo, WriteOptions, WriteOutcome,
};
use crate::value::SecretValue;

const PROVIDER: &str = "env";

/// Which variables an [`EnvStore`] may read.
#[derive(Debug, Clone)]
enum Scope {
    /// The secret `NAME` is the variable `<prefix>NAME` (the prefix is not empty).
    Prefix(String),
    /// Exactly these variables, by name.
    Names(Arc<BTreeSet<String>>),
}

/// Read-only secrets from the process environment, limited to an explicit scope: the
/// variables with a prefix ([`EnvStore::with_prefix`]) or an explicit list
/// ([`EnvStore::with_names`]). Variables on the deny list ([`EnvStore::deny`], for the
/// credentials the configuration itself uses) are never returned, so a caller allowed this
/// store cannot read another manager's token. Writes and deletes are
/// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).
///
/// ```
/// use strongroom_core::{EnvStore, SecretStore};
/// let store = EnvStore::with_prefix("APP_").unwrap().deny(["APP_VAULT_TOKEN"]);
/// assert!(!store.info().capabilities.write);
/// assert!(EnvStore::with_prefix("").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct EnvStore {
    scope: Scope,
    denied: Arc<BTreeSet<String>>,
    info: StoreInfo,
}

impl EnvStore {
    fn with_scope(scope: Scope, address: String) -> EnvStore {
        EnvStore {
            scope,
            denied: Arc::default(),
            info: StoreInfo::new(PROVIDER, Capabilities::read_only()).with_address(address),
        }
    }

    /// Variables named `<prefix><secret name>`; the prefix may not be empty (that would be
    /// the whole environment).
    pub fn with_prefix(prefix: impl Into<String>) -> Result<EnvStore> {
        let prefix = prefix.into();
        if prefix.is_empty() {
            return Err(Error::config(
                "prefix",
                "the environment store needs a prefix or a list of names; all of the environment is never exposed",
            )
            .with_provider(PROVIDER));
        }
        let address = format!("env:prefix:{prefix}");
        Ok(EnvStore::with_scope(Scope::Prefix(prefix), address))
    }

    /// Exactly the variables named in `names` (a secret `NAME` is the variable `NAME`).
    pub fn with_names<I, S>(names: I) -> EnvStore
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: BTreeSet<String> = names.into_iter().map(Into::into).collect();
        let address = format!(
            "env:names:{}",
            names.iter().cloned().collect::<Vec<_>>().join(",")
        );
        EnvStore::with_scope(Scope::Names(Arc::new(names)), address)
    }

    /// Never returns these variables (the credentials the configuration uses).
    pub fn deny<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut denied = (*self.denied).clone();
        denied.extend(names.into_iter().map(Into::into));
        self.denied = Arc::new(denied);
        self
    }

    /// The variable behind `name`, when the scope allows it.
    fn variable(&self, name: &str) -> Option<String> {
        let var = match &self.scope {
            Scope::Prefix(p) => format!("{p}{name}"),
            Scope::Names(names) => names.contains(name).then(|| name.to_owned())?,
        };
        (!self.denied.contains(&var)).then_some(var)
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
    fn info(&self) -> &StoreInfo {
        &self.info
    }
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let Some(var) = self.variable(name.as_str()) else {
            return Ok(None);
        };
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
            .filter(|k| !self.denied.contains(k))
            .filter_map(|k| match &self.scope {
                Scope::Prefix(p) => k.strip_prefix(p.as_str()).map(str::to_owned),
                Scope::Names(names) => names.contains(&k).then_some(k),
            })
            .filter(|k| prefix.is_none_or(|p| k.starts_with(p)))
            .filter_map(|k| SecretName::new(k).ok())
            .collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scope_and_deny_list_hold() {
        // PATH and HOME are set in every test environment.
        let names = EnvStore::with_names(["PATH"]).deny(["HOME"]);
        let path = SecretName::new("PATH").unwrap();
        let home = SecretName::new("HOME").unwrap();
        assert!(
            names
                .read(&path, &ReadOptions::new())
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            names
                .read(&home, &ReadOptions::new())
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(names.list(None).await.unwrap(), vec![path.clone()]);
        let denied = EnvStore::with_names(["PATH"]).deny(["PATH"]);
        assert!(
            denied
                .read(&path, &ReadOptions::new())
                .await
                .unwrap()
                .is_none()
        );
        assert!(denied.list(None).await.unwrap().is_empty());
        let prefixed = EnvStore::with_prefix("PA").unwrap().deny(["PATH"]);
        assert!(
            prefixed
                .read(&SecretName::new("TH").unwrap(), &ReadOptions::new())
                .await
                .unwrap()
                .is_none()
        );
    }
}
