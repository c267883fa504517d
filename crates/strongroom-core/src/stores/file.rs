use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind as IoKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Operation, Result};
use crate::name::SecretName;
use crate::secret::Secret;
use crate::store::{
    Capabilities, DeleteOptions, ReadOptions, SecretStore, StoreInfo, WriteOptions, WriteOutcome,
};
use crate::value::SecretValue;

const PROVIDER: &str = "file";
const FORMAT: u32 = 1;

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Document {
    strongroom_file: u32,
    #[serde(default)]
    secrets: BTreeMap<String, Entry>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<Zeroizing<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value_base64: Option<Zeroizing<String>>,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    updated_at: u64,
}

impl Entry {
    fn value(&self) -> Result<SecretValue> {
        if let Some(v) = &self.value {
            return Ok(SecretValue::copy_from_slice(v.as_bytes()));
        }
        if let Some(b) = &self.value_base64 {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b.as_bytes())
                .map_err(|_| Error::protocol("`value_base64` is not valid base64"))?;
            return Ok(SecretValue::from_bytes(bytes));
        }
        Err(Error::protocol(
            "entry has neither `value` nor `value_base64`",
        ))
    }
}

/// Secrets in a local JSON file: the embedded default for development.
///
/// * Every write goes to a temporary file in the same directory (mode 0600), is fsynced and
///   renamed over the old file, so a crash leaves either the old or the new content — never a
///   torn file.
/// * Writers in one process are serialised, and an advisory lock on `<file>.lock` serialises
///   writers in other processes, so no update is lost.
/// * A corrupt file is a clear error naming the file and position, and is never overwritten.
///
/// The file looks like `{"strongroom_file":1,"secrets":{"db/pass":{"value":"…","version":2,
/// "updated_at":1700000000}}}`; binary values use `value_base64`.
///
/// ```
/// use strongroom_core::{FileStore, ReadOptions, SecretName, SecretStore, WriteOptions};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let store = FileStore::new(dir.path().join("secrets.json"));
/// let name = SecretName::new("db/pass").unwrap();
/// store.write(&name, "pw".into(), &WriteOptions::new()).await.unwrap();
/// let s = store.read(&name, &ReadOptions::new()).await.unwrap().unwrap();
/// assert_eq!(s.value.expose_str().unwrap(), "pw");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct FileStore {
    path: Arc<PathBuf>,
    lock: Arc<tokio::sync::Mutex<()>>,
    info: StoreInfo,
    #[cfg(test)]
    crash_before_rename: Arc<std::sync::atomic::AtomicBool>,
}

impl FileStore {
    /// A store on `path` (created on first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path: PathBuf = path.into();
        let info = StoreInfo::new(
            PROVIDER,
            Capabilities::all().with_cas(true).with_binary(true),
        )
        .with_address(format!("file:{}", path.display()));
        FileStore {
            path: Arc::new(path),
            lock: Arc::default(),
            info,
            #[cfg(test)]
            crash_before_rename: Arc::default(),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, kind: ErrorKind, msg: String) -> Error {
        Error::new(kind, msg).with_provider(PROVIDER)
    }

    fn load(&self) -> Result<Document> {
        let mut buf = Zeroizing::new(Vec::new());
        match File::open(&*self.path) {
            Ok(mut f) => {
                f.read_to_end(&mut buf).map_err(|e| {
                    self.err(
                        ErrorKind::Unavailable,
                        format!("cannot read `{}`: {e}", self.path.display()),
                    )
                })?;
            }
            Err(e) if e.kind() == IoKind::NotFound => return Ok(Document::default()),
            Err(e) => {
                return Err(self.err(
                    ErrorKind::Unavailable,
                    format!("cannot open `{}`: {e}", self.path.display()),
                ));
            }
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            return Ok(Document::default());
        }
        let doc: Document = serde_json::from_slice(&buf).map_err(|e| {
            self.err(
                ErrorKind::Config,
                format!(
                    "`{}` is not a valid Strongroom secrets file (line {}, column {}); it was left untouched",
                    self.path.display(),
                    e.line(),
                    e.column()
                ),
            )
            .with_hint("fix or move the file; Strongroom never overwrites a file it cannot read")
        })?;
        if doc.strongroom_file != FORMAT {
            return Err(self.err(
                ErrorKind::Config,
                format!(
                    "`{}` has format {} but this version reads format {FORMAT}",
                    self.path.display(),
                    doc.strongroom_file
                ),
            ));
        }
        Ok(doc)
    }

    fn save(&self, doc: &Document) -> Result<()> {
        let io = |what: &str, e: std::io::Error| {
            self.err(
                ErrorKind::Unavailable,
                format!("{what} `{}`: {e}", self.path.display()),
            )
        };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "secrets.json".into());
        let bytes = Zeroizing::new(
            serde_json::to_vec_pretty(doc)
                .map_err(|e| self.err(ErrorKind::Protocol, e.to_string()))?,
        );
        let tmp = dir.join(format!(".{file_name}.tmp-{:016x}", rand::random::<u64>()));
        let result = (|| {
            let mut f = create_private(&tmp)
                .map_err(|e| io("cannot create a temporary file next to", e))?;
            f.write_all(&bytes)
                .map_err(|e| io("cannot write next to", e))?;
            f.sync_all().map_err(|e| io("cannot flush next to", e))?;
            drop(f);
            #[cfg(test)]
            if self
                .crash_before_rename
                .load(std::sync::atomic::Ordering::SeqCst)
            {
                return Err(io(
                    "simulated crash before renaming over",
                    std::io::Error::other("test"),
                ));
            }
            std::fs::rename(&tmp, &*self.path).map_err(|e| io("cannot replace", e))?;
            if let Ok(d) = File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Runs a read-modify-write under the in-process mutex and the cross-process file lock.
    async fn modify<T: Send + 'static>(
        &self,
        op: Operation,
        name: &SecretName,
        f: impl FnOnce(&mut Document) -> Result<(T, bool)> + Send + 'static,
    ) -> Result<T> {
        let _guard = self.lock.lock().await;
        let this = self.clone();
        let name_text = name.as_str().to_owned();
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = this.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                create_private_dir(dir).map_err(|e| {
                    this.err(
                        ErrorKind::Unavailable,
                        format!("cannot create the directory `{}`: {e}", dir.display()),
                    )
                })?;
            }
            let lock_path = lock_path(&this.path);
            let lock = create_private(&lock_path).map_err(|e| {
                this.err(
                    ErrorKind::Unavailable,
                    format!("cannot open lock file `{}`: {e}", lock_path.display()),
                )
            })?;
            lock.lock().map_err(|e| {
                this.err(
                    ErrorKind::Unavailable,
                    format!("cannot lock `{}`: {e}", lock_path.display()),
                )
            })?;
            let mut doc = this.load()?;
            doc.strongroom_file = FORMAT;
            let (out, changed) = f(&mut doc)?;
            if changed {
                this.save(&doc)?;
            }
            Ok(out)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Unavailable, format!("file task failed: {e}")))?
        .map_err(|e: Error| e.context(PROVIDER, op, Some(&name_text)))
    }

    #[cfg(test)]
    fn set_crash_before_rename(&self, on: bool) {
        self.crash_before_rename
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

fn create_private(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[async_trait]
impl SecretStore for FileStore {
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        let this = self.clone();
        let key = name.as_str().to_owned();
        let got =
            tokio::task::spawn_blocking(move || -> Result<Option<(SecretValue, u64, u64)>> {
                let doc = this.load()?;
                doc.secrets
                    .get(&key)
                    .map(|e| Ok((e.value()?, e.version, e.updated_at)))
                    .transpose()
            })
            .await
            .map_err(|e| Error::new(ErrorKind::Unavailable, format!("file task failed: {e}")))?
            .map_err(|e| e.context(PROVIDER, Operation::Read, Some(name.as_str())))?;
        let Some((value, version, updated)) = got else {
            return Ok(None);
        };
        if opts
            .version
            .as_deref()
            .is_some_and(|v| v != version.to_string())
        {
            return Ok(None);
        }
        let secret = Secret::new(value)
            .with_version(version.to_string())
            .with_updated_at(UNIX_EPOCH + Duration::from_secs(updated));
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
        let key = name.as_str().to_owned();
        let cas = opts.cas;
        self.modify(Operation::Write, name, move |doc| {
            let current = doc.secrets.get(&key).map_or(0, |e| e.version);
            if let Some(cas) = cas
                && cas != current
            {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("check-and-set expected version {cas}, current is {current}"),
                ));
            }
            let (text, b64) = match std::str::from_utf8(value.expose_secret()) {
                Ok(s) => (Some(Zeroizing::new(s.to_owned())), None),
                Err(_) => (
                    None,
                    Some(Zeroizing::new(
                        base64::engine::general_purpose::STANDARD.encode(value.expose_secret()),
                    )),
                ),
            };
            let version = current + 1;
            doc.secrets.insert(
                key,
                Entry {
                    value: text,
                    value_base64: b64,
                    version,
                    updated_at: unix_now(),
                },
            );
            Ok((WriteOutcome::new(Some(version.to_string())), true))
        })
        .await
    }

    async fn delete(&self, name: &SecretName, _opts: &DeleteOptions) -> Result<()> {
        let key = name.as_str().to_owned();
        self.modify(Operation::Delete, name, move |doc| {
            let existed = doc.secrets.remove(&key).is_some();
            Ok(((), existed))
        })
        .await
    }

    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        let this = self.clone();
        let prefix = prefix.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let doc = this.load()?;
            Ok(doc
                .secrets
                .keys()
                .filter(|k| prefix.as_deref().is_none_or(|p| k.starts_with(p)))
                .filter_map(|k| SecretName::new(k).ok())
                .collect())
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Unavailable, format!("file task failed: {e}")))?
        .map_err(|e: Error| e.with_provider(PROVIDER).with_operation(Operation::List))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> SecretName {
        SecretName::new(s).unwrap()
    }

    #[tokio::test]
    async fn interrupted_write_keeps_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let store = FileStore::new(&path);
        store
            .write(&name("a"), "old".into(), &WriteOptions::new())
            .await
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        store.set_crash_before_rename(true);
        let err = store
            .write(&name("a"), "new".into(), &WriteOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unavailable);
        assert_eq!(std::fs::read(&path).unwrap(), before, "old content intact");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary file removed");
        store.set_crash_before_rename(false);
        let got = store
            .read(&name("a"), &ReadOptions::new())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.value.expose_str().unwrap(), "old");
    }

    #[tokio::test]
    async fn corrupt_file_is_an_error_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, b"{ not json").unwrap();
        let store = FileStore::new(&path);
        let err = store
            .read(&name("a"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Config);
        assert!(
            err.to_string()
                .contains("not a valid Strongroom secrets file"),
            "{err}"
        );
        let err = store
            .write(&name("a"), "v".into(), &WriteOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Config);
        assert_eq!(std::fs::read(&path).unwrap(), b"{ not json");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let store = FileStore::new(&path);
        store
            .write(&name("a"), "v".into(), &WriteOptions::new())
            .await
            .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_lose_no_update() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("s.json"));
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .write(
                            &name(&format!("k{i}")),
                            format!("v{i}").into(),
                            &WriteOptions::new(),
                        )
                        .await
                        .unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(store.list(None).await.unwrap().len(), 40);
        // Two stores on one file (as two processes would be) also keep every update.
        let other = FileStore::new(store.path());
        let (a, b) = tokio::join!(
            async {
                for i in 0..10 {
                    store
                        .write(&name(&format!("x{i}")), "a".into(), &WriteOptions::new())
                        .await
                        .unwrap();
                }
            },
            async {
                for i in 0..10 {
                    other
                        .write(&name(&format!("y{i}")), "b".into(), &WriteOptions::new())
                        .await
                        .unwrap();
                }
            }
        );
        let _ = (a, b);
        assert_eq!(store.list(None).await.unwrap().len(), 60);
    }
}
