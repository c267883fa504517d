//! Rotation with LiteLLM's semantics, safe under failure: write the new secret, read it back,
//! and only then delete the old one.

use std::fmt;

use crate::error::{Error, ErrorKind, Result};
use crate::name::SecretName;
use crate::store::{DeleteOptions, ReadOptions, SecretStore, WriteOptions};
use crate::value::SecretValue;

/// The steps of a rotation, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotateStep {
    /// Reading the old secret (it must exist).
    ReadOld,
    /// Writing the new secret.
    WriteNew,
    /// Reading the new secret back (bypassing caches) and comparing it.
    Verify,
    /// Deleting the old secret.
    DeleteOld,
}

impl RotateStep {
    /// Lower-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            RotateStep::ReadOld => "read_old",
            RotateStep::WriteNew => "write_new",
            RotateStep::Verify => "verify",
            RotateStep::DeleteOld => "delete_old",
        }
    }
}

impl fmt::Display for RotateStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotation {
    /// The version the new value got, when the backend says.
    pub version: Option<String>,
    /// Whether the old secret was deleted (false for a same-name rotation, and where the
    /// backend cannot delete).
    pub old_deleted: bool,
    /// Why the old secret stays, when it does although the names differ (Conjur cannot delete).
    pub old_kept_because: Option<String>,
}

fn failed(step: RotateStep, old: &SecretName, e: Error) -> Error {
    let kind = e.kind().clone();
    let mut out = Error::new(
        kind,
        format!(
            "rotation stopped at step `{step}`; the old secret `{}` is unchanged and readable: {e}",
            crate::error::printable(old.as_str())
        ),
    );
    if let Some(h) = e.hint() {
        out = out.with_hint(h.to_owned());
    }
    out
}

/// Rotates `old` to `new` with `value` on `store`:
///
/// 1. reads `old` (it must exist);
/// 2. writes `value` under `new` (for `new == old`, an overwrite, and the rotation ends after
///    the check);
/// 3. reads `new` back past every cache and checks it equals `value`;
/// 4. deletes `old` (with a 7-day recovery window where the backend has one, as LiteLLM does).
///
/// A failure at any step leaves the old secret readable and the error names the step. Where
/// the backend cannot delete (Conjur), the old secret stays and [`Rotation::old_kept_because`]
/// says why.
pub(crate) async fn rotate<S: SecretStore + ?Sized>(
    store: &S,
    old: &SecretName,
    new: &SecretName,
    value: SecretValue,
    opts: &WriteOptions,
) -> Result<Rotation> {
    let fresh = ReadOptions::new().refresh(true);
    match store.read(old, &fresh).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(failed(
                RotateStep::ReadOld,
                old,
                Error::new(ErrorKind::NotFound, "there is no secret to rotate")
                    .with_name(old.as_str()),
            ));
        }
        Err(e) => return Err(failed(RotateStep::ReadOld, old, e)),
    }
    let written = store
        .write(new, value.clone(), opts)
        .await
        .map_err(|e| failed(RotateStep::WriteNew, old, e))?;
    match store.read(new, &fresh).await {
        Ok(Some(back)) if back.value == value => {}
        Ok(Some(_)) => {
            return Err(failed(
                RotateStep::Verify,
                old,
                Error::new(
                    ErrorKind::Conflict,
                    "the new secret reads back with another value (someone else wrote it meanwhile?)",
                )
                .with_name(new.as_str()),
            ));
        }
        Ok(None) => {
            return Err(failed(
                RotateStep::Verify,
                old,
                Error::new(ErrorKind::NotFound, "the new secret does not read back")
                    .with_name(new.as_str()),
            ));
        }
        Err(e) => return Err(failed(RotateStep::Verify, old, e)),
    }
    if old == new {
        return Ok(Rotation {
            version: written.version,
            old_deleted: false,
            old_kept_because: None,
        });
    }
    match store
        .delete(old, &DeleteOptions::new().recovery_window_days(7))
        .await
    {
        Ok(()) => Ok(Rotation {
            version: written.version,
            old_deleted: true,
            old_kept_because: None,
        }),
        Err(e) if e.kind() == &ErrorKind::Unsupported => Ok(Rotation {
            version: written.version,
            old_deleted: false,
            old_kept_because: Some(e.hint().unwrap_or(e.message()).to_owned()),
        }),
        Err(e) => Err(failed(RotateStep::DeleteOld, old, e)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::layer::StoreLayer;
    use crate::{MemoryStore, Secret, SecretStoreExt, WriteOutcome, async_trait};

    /// Fails the `n`-th call of one kind (counting reads, writes and deletes apart).
    #[derive(Debug)]
    struct Failing {
        inner: MemoryStore,
        fail: Mutex<Option<(&'static str, usize, ErrorKind)>>,
        seen: Mutex<Vec<&'static str>>,
    }

    impl Failing {
        fn new(fail: Option<(&'static str, usize, ErrorKind)>) -> Failing {
            Failing {
                inner: MemoryStore::new(),
                fail: Mutex::new(fail),
                seen: Mutex::default(),
            }
        }
        fn step(&self, what: &'static str) -> Result<()> {
            let mut seen = self.seen.lock().unwrap();
            seen.push(what);
            let n = seen.iter().filter(|s| **s == what).count();
            match *self.fail.lock().unwrap() {
                Some((w, at, ref kind)) if w == what && at == n => {
                    Err(Error::new(kind.clone(), format!("injected {what} failure")))
                }
                _ => Ok(()),
            }
        }
    }

    #[async_trait]
    impl StoreLayer for Failing {
        type Inner = MemoryStore;
        fn inner(&self) -> &MemoryStore {
            &self.inner
        }
        async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
            self.step("read")?;
            self.inner.read(name, opts).await
        }
        async fn write(
            &self,
            name: &SecretName,
            value: SecretValue,
            opts: &WriteOptions,
        ) -> Result<WriteOutcome> {
            self.step("write")?;
            self.inner.write(name, value, opts).await
        }
        async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
            self.step("delete")?;
            self.inner.delete(name, opts).await
        }
    }

    fn n(s: &str) -> SecretName {
        SecretName::new(s).unwrap()
    }

    async fn value(store: &Failing, name: &str) -> Option<String> {
        store
            .inner
            .read(&n(name), &ReadOptions::new())
            .await
            .unwrap()
            .map(|s| s.value.expose_str().unwrap().to_owned())
    }

    #[tokio::test]
    async fn a_failure_at_each_step_leaves_the_old_secret_readable() {
        for (kind, at, step) in [
            ("read", 1, RotateStep::ReadOld),
            ("write", 1, RotateStep::WriteNew),
            ("read", 2, RotateStep::Verify),
            ("delete", 1, RotateStep::DeleteOld),
        ] {
            let store = Failing::new(Some((kind, at, ErrorKind::Unavailable)));
            store
                .inner
                .write(&n("old"), "v1".into(), &WriteOptions::new())
                .await
                .unwrap();
            let err = store
                .rotate(&n("old"), &n("new"), "v2".into(), &WriteOptions::new())
                .await
                .unwrap_err();
            assert!(
                err.to_string().contains(&format!("step `{step}`")),
                "{step}: {err}"
            );
            assert_eq!(err.kind(), &ErrorKind::Unavailable);
            assert_eq!(value(&store, "old").await.as_deref(), Some("v1"), "{step}");
        }
    }

    #[tokio::test]
    async fn unsupported_delete_keeps_the_old_secret_and_says_why() {
        let store = Failing::new(Some(("delete", 1, ErrorKind::Unsupported)));
        store
            .inner
            .write(&n("old"), "v1".into(), &WriteOptions::new())
            .await
            .unwrap();
        let done = store
            .rotate(&n("old"), &n("new"), "v2".into(), &WriteOptions::new())
            .await
            .unwrap();
        assert!(!done.old_deleted && done.old_kept_because.is_some());
        assert_eq!(value(&store, "old").await.as_deref(), Some("v1"));
        assert_eq!(value(&store, "new").await.as_deref(), Some("v2"));
    }

    #[tokio::test]
    async fn rotating_a_missing_secret_writes_nothing() {
        let store = Failing::new(None);
        let err = store
            .rotate(&n("old"), &n("new"), "v2".into(), &WriteOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::NotFound);
        assert_eq!(*store.seen.lock().unwrap(), vec!["read"]);
        assert!(value(&store, "new").await.is_none());
    }

    #[tokio::test]
    async fn same_name_rotation_overwrites_and_checks() {
        let store = Failing::new(None);
        store
            .inner
            .write(&n("k"), "v1".into(), &WriteOptions::new())
            .await
            .unwrap();
        let done = store
            .rotate(&n("k"), &n("k"), "v2".into(), &WriteOptions::new())
            .await
            .unwrap();
        assert!(!done.old_deleted);
        assert_eq!(value(&store, "k").await.as_deref(), Some("v2"));
        assert_eq!(*store.seen.lock().unwrap(), vec!["read", "write", "read"]);
    }
}
