use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind as IoKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Operation, Result};
use crate::name::SecretName;
use crate::seal::{KeyRing, SealKey};
use crate::secret::Secret;
use crate::store::{
    Capabilities, DeleteOptions, ReadOptions, SecretStore, StoreInfo, WriteOptions, WriteOutcome,
};
use crate::value::SecretValue;

const PROVIDER: &str = "file";
/// Format 1 kept values in clear; format 2 seals every value. Both are read; 2 is written.
const FORMAT: u32 = 2;
const AAD_LABEL: &[u8] = b"strongroom-file/2\0";
/// The variable that may hold the file store's key (base64, 32 bytes).
pub const FILE_KEY_ENV: &str = "STRONGROOM_FILE_KEY";

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Document {
    strongroom_file: u32,
    #[serde(default)]
    secrets: BTreeMap<String, Entry>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    /// The sealed value (base64 of the envelope), bound to the secret's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<String>,
    /// Format 1: the value in clear (read, never written).
    #[serde(default, skip_serializing)]
    value: Option<Zeroizing<String>>,
    /// Format 1: a binary value in clear, base64 (read, never written).
    #[serde(default, skip_serializing)]
    value_base64: Option<Zeroizing<String>>,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    updated_at: u64,
}

fn aad(name: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_LABEL.len() + name.len());
    a.extend_from_slice(AAD_LABEL);
    a.extend_from_slice(name.as_bytes());
    a
}

impl Entry {
    fn sealed(name: &str, value: &SecretValue, keys: &KeyRing, version: u64) -> Entry {
        let envelope = keys.seal(&aad(name), value.expose_secret());
        Entry {
            sealed: Some(base64::engine::general_purpose::STANDARD.encode(envelope)),
            value: None,
            value_base64: None,
            version,
            updated_at: unix_now(),
        }
    }

    fn value(&self, name: &str, keys: &KeyRing) -> Result<SecretValue> {
        if let Some(s) = &self.sealed {
            let envelope = base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map_err(|_| Error::protocol("a sealed value is not valid base64"))?;
            let plain = keys.open(&aad(name), &envelope).map_err(|_| {
                Error::new(
                    ErrorKind::Config,
                    "a sealed value does not open with this key (another STRONGROOM_FILE_KEY, or the file was changed)",
                )
            })?;
            return Ok(SecretValue::copy_from_slice(&plain));
        }
        if let Some(v) = &self.value {
            return Ok(SecretValue::copy_from_slice(v.as_bytes()));
        }
        if let Some(b) = &self.value_base64 {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b.as_bytes())
                .map_err(|_| Error::protocol("`value_base64` is not valid base64"))?;
            return Ok(SecretValue::from_bytes(bytes));
        }
        Err(Error::protocol("an entry has no value"))
    }

    fn is_clear(&self) -> bool {
        self.sealed.is_none()
    }
}

/// Where the file store's key comes from.
#[derive(Clone)]
enum KeySource {
    /// Given in code.
    Given(Arc<KeyRing>),
    /// `STRONGROOM_FILE_KEY`, else the key file in the user's configuration directory
    /// (created on first use).
    Default,
}

/// Secrets in a local JSON file: the embedded default for development.
///
/// * Values are sealed (AES-256-GCM, bound to the secret's name; [`crate::seal`]) with a key
///   from `STRONGROOM_FILE_KEY` (base64, 32 bytes) or from `file.key` in the user's
///   configuration directory (`$XDG_CONFIG_HOME/strongroom/`, else `~/.config/strongroom/`),
///   created with mode 0600 on first use. Names, versions and times stay readable. A file
///   written by an older version (values in clear) is read, and rewritten sealed on the next
///   write.
/// * The directory is created with mode 0700 and gets a `.gitignore` holding `*`, so
///   `git add .` does not pick the file up. A directory or file owned by another user, or
///   writable by group or others, or a symbolic link, is refused.
/// * Every write goes to a temporary file in the same directory (created exclusively, mode
///   0600, never through a symbolic link), is fsynced and renamed over the old file, so a
///   crash leaves either the old or the new content. Writers in one process are serialised,
///   and an advisory lock on `<file>.lock` serialises writers in other processes.
/// * A corrupt file is a clear error naming the file and position, and is never overwritten.
///
/// ```
/// use strongroom_core::seal::SealKey;
/// use strongroom_core::{FileStore, ReadOptions, SecretName, SecretStore, WriteOptions};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let store = FileStore::new(dir.path().join("s/secrets.json")).with_key(SealKey::generate());
/// let name = SecretName::new("db/pass").unwrap();
/// store.write(&name, "pw".into(), &WriteOptions::new()).await.unwrap();
/// let s = store.read(&name, &ReadOptions::new()).await.unwrap().unwrap();
/// assert_eq!(s.value.expose_str().unwrap(), "pw");
/// let on_disk = std::fs::read_to_string(store.path()).unwrap();
/// assert!(!on_disk.contains("\"pw\""));
/// # });
/// ```
#[derive(Clone)]
pub struct FileStore {
    path: Arc<PathBuf>,
    lock: Arc<tokio::sync::Mutex<()>>,
    info: StoreInfo,
    key: KeySource,
    resolved: Arc<OnceLock<Arc<KeyRing>>>,
    #[cfg(test)]
    crash_before_rename: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileStore {
    /// A store on `path` (created on first write), sealed with the default key (see above).
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
            key: KeySource::Default,
            resolved: Arc::default(),
            #[cfg(test)]
            crash_before_rename: Arc::default(),
        }
    }

    /// Seals with `key` instead of the default key.
    pub fn with_key(mut self, key: SealKey) -> Self {
        self.key = KeySource::Given(Arc::new(KeyRing::new(key)));
        self.resolved = Arc::default();
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, kind: ErrorKind, msg: String) -> Error {
        Error::new(kind, msg).with_provider(PROVIDER)
    }

    fn keys(&self) -> Result<Arc<KeyRing>> {
        if let Some(k) = self.resolved.get() {
            return Ok(Arc::clone(k));
        }
        let ring = match &self.key {
            KeySource::Given(k) => Arc::clone(k),
            KeySource::Default => Arc::new(KeyRing::new(default_key()?)),
        };
        Ok(Arc::clone(self.resolved.get_or_init(|| ring)))
    }

    fn load(&self) -> Result<Document> {
        let mut buf = Zeroizing::new(Vec::new());
        match open_private(&self.path) {
            Ok(mut f) => {
                check_owned_private(
                    &self.path,
                    &f.metadata().map_err(|e| self.io("cannot inspect", e))?,
                )?;
                f.read_to_end(&mut buf)
                    .map_err(|e| self.io("cannot read", e))?;
            }
            Err(e) if e.kind() == IoKind::NotFound => return Ok(Document::default()),
            Err(e) => return Err(self.io("cannot open", e)),
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
        if doc.strongroom_file != 1 && doc.strongroom_file != FORMAT {
            return Err(self.err(
                ErrorKind::Config,
                format!(
                    "`{}` has format {} but this version reads formats 1 and {FORMAT}",
                    self.path.display(),
                    doc.strongroom_file
                ),
            ));
        }
        Ok(doc)
    }

    fn io(&self, what: &str, e: std::io::Error) -> Error {
        self.err(
            ErrorKind::Unavailable,
            format!("{what} `{}`: {e}", self.path.display()),
        )
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn save(&self, doc: &Document) -> Result<()> {
        let dir = self.dir();
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
            let mut f = create_new_private(&tmp)
                .map_err(|e| self.io("cannot create a temporary file next to", e))?;
            f.write_all(&bytes)
                .map_err(|e| self.io("cannot write next to", e))?;
            f.sync_all()
                .map_err(|e| self.io("cannot flush next to", e))?;
            drop(f);
            #[cfg(test)]
            if self
                .crash_before_rename
                .load(std::sync::atomic::Ordering::SeqCst)
            {
                return Err(self.io(
                    "simulated crash before renaming over",
                    std::io::Error::other("test"),
                ));
            }
            std::fs::rename(&tmp, &*self.path).map_err(|e| self.io("cannot replace", e))?;
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

    /// Runs a read-modify-write under the in-process mutex and the cross-process file lock;
    /// every value of the document is sealed before it is saved.
    async fn modify<T: Send + 'static>(
        &self,
        op: Operation,
        name: &SecretName,
        f: impl FnOnce(&mut Document, &KeyRing) -> Result<(T, bool)> + Send + 'static,
    ) -> Result<T> {
        let _guard = self.lock.lock().await;
        let this = self.clone();
        let name_text = name.as_str().to_owned();
        tokio::task::spawn_blocking(move || {
            let keys = this.keys()?;
            prepare_dir(&this.dir())?;
            let lock_path = lock_path(&this.path);
            let lock = open_lock(&lock_path).map_err(|e| {
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
            let upgrade =
                doc.strongroom_file != FORMAT || doc.secrets.values().any(Entry::is_clear);
            let (out, changed) = f(&mut doc, &keys)?;
            if changed || upgrade {
                // Values still in clear (an older file) are sealed on this write.
                let clear: Vec<String> = doc
                    .secrets
                    .iter()
                    .filter(|(_, e)| e.is_clear())
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in clear {
                    let e = &doc.secrets[&k];
                    let value = e.value(&k, &keys)?;
                    let (version, updated_at) = (e.version, e.updated_at);
                    let mut sealed = Entry::sealed(&k, &value, &keys, version);
                    sealed.updated_at = updated_at;
                    doc.secrets.insert(k, sealed);
                }
                doc.strongroom_file = FORMAT;
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

/// The user's Strongroom configuration directory: `$XDG_CONFIG_HOME/strongroom`, else
/// `$HOME/.config/strongroom`.
pub fn user_config_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("strongroom"))
}

/// The default key: `STRONGROOM_FILE_KEY`, else `file.key` in [`user_config_dir`], created
/// (mode 0600, in a 0700 directory) when missing.
fn default_key() -> Result<SealKey> {
    if let Some(text) = std::env::var_os(FILE_KEY_ENV) {
        let text = Zeroizing::new(text.into_string().map_err(|_| {
            Error::config(FILE_KEY_ENV, "is not valid UTF-8 base64").with_provider(PROVIDER)
        })?);
        return SealKey::from_base64(&text)
            .map_err(|e| Error::config(FILE_KEY_ENV, e.message()).with_provider(PROVIDER));
    }
    let dir = user_config_dir().ok_or_else(|| {
        Error::config(
            FILE_KEY_ENV,
            "is not set, and there is no home or XDG_CONFIG_HOME directory to keep a key file in",
        )
        .with_provider(PROVIDER)
    })?;
    load_or_create_key_file(&dir.join("file.key"))
}

/// Reads the key file at `path`, or creates it with a fresh random key (mode 0600; its
/// directory 0700). A key file owned by another user, readable by others, or a symbolic link
/// is refused.
pub fn load_or_create_key_file(path: &Path) -> Result<SealKey> {
    let setting = "file key";
    let fail = |what: String| Error::config(setting, what).with_provider(PROVIDER);
    if let Some(dir) = path.parent() {
        create_private_dir(dir)
            .map_err(|e| fail(format!("cannot create `{}`: {e}", dir.display())))?;
    }
    match create_new_private(path) {
        Ok(mut f) => {
            let key = SealKey::generate();
            f.write_all(key.to_base64().as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| fail(format!("cannot write `{}`: {e}", path.display())))?;
            tracing::info!(path = %path.display(), "created the local file store's key");
            Ok(key)
        }
        Err(e) if e.kind() == IoKind::AlreadyExists => {
            let mut f = open_private(path)
                .map_err(|e| fail(format!("cannot open `{}`: {e}", path.display())))?;
            let meta = f
                .metadata()
                .map_err(|e| fail(format!("cannot inspect `{}`: {e}", path.display())))?;
            check_owned_private(path, &meta)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o077 != 0 {
                    return Err(fail(format!(
                        "`{}` can be read by others; it must be mode 0600",
                        path.display()
                    )));
                }
            }
            let mut text = Zeroizing::new(String::new());
            f.read_to_string(&mut text)
                .map_err(|e| fail(format!("cannot read `{}`: {e}", path.display())))?;
            SealKey::from_base64(&text)
                .map_err(|e| fail(format!("`{}`: {}", path.display(), e.message())))
        }
        Err(e) => Err(fail(format!("cannot create `{}`: {e}", path.display()))),
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// The directory of the file: created 0700 with a `.gitignore` holding `*`; an existing one
/// must be ours, not a symbolic link, and not writable by group or others.
fn prepare_dir(dir: &Path) -> Result<()> {
    let fail = |what: String| Error::config("path", what).with_provider(PROVIDER);
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(fail(format!(
                    "`{}` is not a directory (a symbolic link is refused)",
                    dir.display()
                )));
            }
            check_owned_private(dir, &meta)?;
        }
        Err(e) if e.kind() == IoKind::NotFound => {
            create_private_dir(dir)
                .map_err(|e| fail(format!("cannot create `{}`: {e}", dir.display())))?;
        }
        Err(e) => return Err(fail(format!("cannot inspect `{}`: {e}", dir.display()))),
    }
    let ignore = dir.join(".gitignore");
    if dir != Path::new(".") && std::fs::symlink_metadata(&ignore).is_err() {
        // Keep the secrets (and this file) out of `git add .`; best effort.
        if let Ok(mut f) = create_new_private(&ignore) {
            let _ = f.write_all(
                b"# Created by Strongroom: nothing here belongs in version control.\n*\n",
            );
        }
    }
    Ok(())
}

/// Refuses a file or directory owned by another user or writable by group or others.
#[cfg(unix)]
fn check_owned_private(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let fail = |what: String| Error::config("path", what).with_provider(PROVIDER);
    if meta.uid() != rustix::process::getuid().as_raw() {
        return Err(fail(format!(
            "`{}` belongs to another user; refusing to use it",
            path.display()
        )));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(fail(format!(
            "`{}` is writable by group or others; refusing to use it (chmod go-w)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owned_private(_path: &Path, _meta: &std::fs::Metadata) -> Result<()> {
    Ok(())
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

#[cfg(unix)]
fn no_follow(opts: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    opts.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
}

#[cfg(not(unix))]
fn no_follow(_opts: &mut OpenOptions) {}

/// Creates a new file (never an existing one, never through a symbolic link), mode 0600.
fn create_new_private(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    no_follow(&mut opts);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Opens an existing file for reading, never through a symbolic link.
fn open_private(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    no_follow(&mut opts);
    opts.open(path)
}

/// Opens (or creates, mode 0600) the lock file, never through a symbolic link.
fn open_lock(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    no_follow(&mut opts);
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
                let Some(e) = doc.secrets.get(&key) else {
                    return Ok(None);
                };
                let keys = this.keys()?;
                Ok(Some((e.value(&key, &keys)?, e.version, e.updated_at)))
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
        self.modify(Operation::Write, name, move |doc, keys| {
            let current = doc.secrets.get(&key).map_or(0, |e| e.version);
            if let Some(cas) = cas
                && cas != current
            {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("check-and-set expected version {cas}, current is {current}"),
                ));
            }
            let version = current + 1;
            let entry = Entry::sealed(&key, &value, keys, version);
            doc.secrets.insert(key, entry);
            Ok((WriteOutcome::new(Some(version.to_string())), true))
        })
        .await
    }

    async fn delete(&self, name: &SecretName, _opts: &DeleteOptions) -> Result<()> {
        let key = name.as_str().to_owned();
        self.modify(Operation::Delete, name, move |doc, _| {
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

    /// One key for the whole test module, as one user's key file would be.
    fn key() -> SealKey {
        static KEY: OnceLock<SealKey> = OnceLock::new();
        KEY.get_or_init(SealKey::generate).clone()
    }

    #[tokio::test]
    async fn interrupted_write_keeps_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let store = FileStore::new(&path).with_key(key());
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
        let store = FileStore::new(&path).with_key(key());
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
        let store = FileStore::new(&path).with_key(key());
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
        let store = FileStore::new(dir.path().join("s.json")).with_key(key());
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
        let other = FileStore::new(store.path()).with_key(key());
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

    #[tokio::test]
    async fn values_are_sealed_and_the_directory_keeps_git_out() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join(".strongroom");
        let store = FileStore::new(project.join("secrets.json")).with_key(key());
        store
            .write(
                &name("db/password"),
                "hunter2-sentinel".into(),
                &WriteOptions::new(),
            )
            .await
            .unwrap();
        let on_disk = std::fs::read_to_string(store.path()).unwrap();
        assert!(!on_disk.contains("hunter2-sentinel"), "{on_disk}");
        assert!(on_disk.contains("\"sealed\""), "{on_disk}");
        let ignore = std::fs::read_to_string(project.join(".gitignore")).unwrap();
        assert!(ignore.lines().any(|l| l.trim() == "*"), "{ignore}");
        // Another key cannot open it, and says so without the value.
        let other = FileStore::new(store.path()).with_key(SealKey::generate());
        let err = other
            .read(&name("db/password"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Config);
        assert!(!err.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn a_plaintext_file_is_read_and_rewritten_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(
            &path,
            r#"{"strongroom_file":1,"secrets":{"old":{"value":"clear-sentinel","version":3,"updated_at":1700000000}}}"#,
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let store = FileStore::new(&path).with_key(key());
        let old = store
            .read(&name("old"), &ReadOptions::new())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(old.value.expose_str().unwrap(), "clear-sentinel");
        assert_eq!(old.version.as_deref(), Some("3"));
        store
            .write(&name("new"), "v".into(), &WriteOptions::new())
            .await
            .unwrap();
        let on_disk = std::fs::read_to_string(&path).unwrap();
        assert!(!on_disk.contains("clear-sentinel"), "{on_disk}");
        assert!(on_disk.contains("\"strongroom_file\": 2"), "{on_disk}");
        let old = store
            .read(&name("old"), &ReadOptions::new())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(old.value.expose_str().unwrap(), "clear-sentinel");
        assert_eq!(old.version.as_deref(), Some("3"));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn shared_writable_places_and_links_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let store = FileStore::new(shared.join("s.json")).with_key(key());
        let err = store
            .write(&name("a"), "v".into(), &WriteOptions::new())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("writable by group or others"),
            "{err}"
        );
        assert!(!shared.join("s.json").exists());

        let mine = dir.path().join("mine");
        let store = FileStore::new(mine.join("s.json")).with_key(key());
        store
            .write(&name("a"), "v".into(), &WriteOptions::new())
            .await
            .unwrap();
        std::fs::set_permissions(mine.join("s.json"), std::fs::Permissions::from_mode(0o666))
            .unwrap();
        let err = store
            .read(&name("a"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("writable by group or others"),
            "{err}"
        );

        // A secrets file that is a symbolic link (to a file an attacker reads) is not followed.
        let elsewhere = dir.path().join("elsewhere.json");
        std::fs::write(&elsewhere, "{}").unwrap();
        let linked = dir.path().join("linked");
        std::fs::create_dir(&linked).unwrap();
        std::fs::set_permissions(&linked, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, linked.join("s.json")).unwrap();
        let store = FileStore::new(linked.join("s.json")).with_key(key());
        assert!(store.read(&name("a"), &ReadOptions::new()).await.is_err());
        assert!(
            store
                .write(&name("a"), "v".into(), &WriteOptions::new())
                .await
                .is_err()
        );
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "{}");
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg/strongroom/file.key");
        let first = load_or_create_key_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert_eq!(load_or_create_key_file(&path).unwrap().id(), first.id());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create_key_file(&path).unwrap_err();
        assert!(err.to_string().contains("mode 0600"), "{err}");
    }
}
