//! Which configuration files may be used: a file found in the working directory only once the
//! user trusted it (its canonical path and the SHA-256 of its content, recorded in the user's
//! config directory, as direnv and mise do); no file that group or others may write.
//!
//! ```
//! use strongroom::trust::{TrustStore, TrustState};
//! let home = tempfile::tempdir().unwrap();
//! let store = TrustStore::at(home.path().join("strongroom"));
//! let project = tempfile::tempdir().unwrap();
//! let file = project.path().join("strongroom.toml");
//! std::fs::write(&file, "[managers.m]\nprovider = \"memory\"\n").unwrap();
//! # #[cfg(unix)] { use std::os::unix::fs::PermissionsExt;
//! # std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap(); }
//! assert_eq!(store.state(&file).unwrap(), TrustState::Untrusted);
//! store.trust(&file).unwrap();
//! assert!(store.load(&file).is_ok());
//! std::fs::write(&file, "[managers.m]\nprovider = \"env\"\n").unwrap();
//! assert_eq!(store.state(&file).unwrap(), TrustState::Changed);
//! assert!(store.load(&file).unwrap_err().to_string().contains("strongroom trust"));
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use strongroom_core::{Error, ErrorKind, Operation, Result};

/// The largest configuration file read.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::config(
        "config file",
        format!("cannot {what} `{}`: {e}", path.display()),
    )
}

/// Reads a configuration file: a regular file of at most [`MAX_CONFIG_BYTES`], which neither
/// group nor others may write (on Unix).
pub fn read_config_file(path: &Path) -> Result<String> {
    let bytes = read_config_bytes(path)?;
    String::from_utf8(bytes).map_err(|_| {
        Error::config(
            "config file",
            format!("`{}` is not UTF-8 text", path.display()),
        )
    })
}

fn read_config_bytes(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, "read", e))?;
    let meta = file.metadata().map_err(|e| io_error(path, "read", e))?;
    if !meta.is_file() {
        return Err(Error::config(
            "config file",
            format!("`{}` is not a regular file", path.display()),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o022 != 0 {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "configuration file `{}` is writable by {} (mode {:o}); anyone who can edit it can send your credentials elsewhere",
                    path.display(),
                    match (mode & 0o020 != 0, mode & 0o002 != 0) {
                        (true, true) => "group and others",
                        (true, false) => "its group",
                        _ => "others",
                    },
                    mode & 0o777
                ),
            )
            .with_operation(Operation::Config)
            .with_hint(format!("chmod go-w {}", path.display())));
        }
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(Error::config(
            "config file",
            format!(
                "`{}` is larger than {MAX_CONFIG_BYTES} bytes",
                path.display()
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, "read", e))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(Error::config(
            "config file",
            format!(
                "`{}` is larger than {MAX_CONFIG_BYTES} bytes",
                path.display()
            ),
        ));
    }
    Ok(bytes)
}

/// Whether a file is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustState {
    /// Trusted with its current content.
    Trusted,
    /// Never trusted.
    Untrusted,
    /// Trusted once, edited since.
    Changed,
}

/// The records of trusted files: one file per trusted path in `<dir>/trusted/`, named by the
/// SHA-256 of the canonical path and holding the content's SHA-256 and the path.
#[derive(Debug, Clone)]
pub struct TrustStore {
    dir: PathBuf,
}

impl TrustStore {
    /// The user's store: `$XDG_CONFIG_HOME/strongroom`, else `~/.config/strongroom`.
    pub fn user() -> Result<TrustStore> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .map(|h| h.join(".config"))
            })
            .ok_or_else(|| {
                Error::config(
                    "trust",
                    "neither XDG_CONFIG_HOME nor HOME is set to an absolute path; cannot find the user's config directory",
                )
            })?;
        Ok(TrustStore::at(base.join("strongroom")))
    }

    /// A store in `dir` (tests, embedding applications).
    pub fn at(dir: impl Into<PathBuf>) -> TrustStore {
        TrustStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn canonical(path: &Path) -> Result<PathBuf> {
        std::fs::canonicalize(path).map_err(|e| io_error(path, "find", e))
    }

    fn record_path(&self, canonical: &Path) -> PathBuf {
        let id = hex(&Sha256::digest(canonical.as_os_str().as_encoded_bytes()));
        self.dir.join("trusted").join(id)
    }

    fn recorded_hash(&self, canonical: &Path) -> Option<String> {
        let text = std::fs::read_to_string(self.record_path(canonical)).ok()?;
        let (hash, path) = text.trim_end_matches('\n').split_once(' ')?;
        (Path::new(path) == canonical).then(|| hash.to_owned())
    }

    fn state_of(&self, canonical: &Path, content: &[u8]) -> TrustState {
        match self.recorded_hash(canonical) {
            None => TrustState::Untrusted,
            Some(h) if h == hex(&Sha256::digest(content)) => TrustState::Trusted,
            Some(_) => TrustState::Changed,
        }
    }

    /// Whether `path` is trusted with its current content.
    pub fn state(&self, path: &Path) -> Result<TrustState> {
        let canonical = Self::canonical(path)?;
        let content = read_config_bytes(&canonical)?;
        Ok(self.state_of(&canonical, &content))
    }

    /// Records `path` (canonical) with the hash of its current content; returns the
    /// canonical path.
    pub fn trust(&self, path: &Path) -> Result<PathBuf> {
        let canonical = Self::canonical(path)?;
        let content = read_config_bytes(&canonical)?;
        // Refuse to trust a file that does not even parse.
        let text = std::str::from_utf8(&content)
            .map_err(|_| Error::config("config file", "not UTF-8 text"))?;
        crate::config::Config::from_toml(text)
            .map_err(|e| crate::registry::in_file(e, &canonical))?;
        let record = self.record_path(&canonical);
        let parent = record.parent().expect("record has a parent");
        create_private_dir(parent)?;
        let line = format!(
            "{} {}\n",
            hex(&Sha256::digest(&content)),
            canonical.display()
        );
        write_private(&record, line.as_bytes())?;
        Ok(canonical)
    }

    /// Reads `path` when it is trusted with its current content (the content checked is the
    /// content returned); else an error that says how to trust it.
    pub fn load(&self, path: &Path) -> Result<String> {
        let canonical = Self::canonical(path)?;
        let content = read_config_bytes(&canonical)?;
        let why = match self.state_of(&canonical, &content) {
            TrustState::Trusted => {
                return String::from_utf8(content)
                    .map_err(|_| Error::config("config file", "not UTF-8 text"));
            }
            TrustState::Untrusted => "is not trusted",
            TrustState::Changed => "has changed since it was trusted",
        };
        Err(Error::new(
            ErrorKind::Config,
            format!(
                "`{}` in the working directory {why}; a configuration decides where your credentials are sent",
                canonical.display()
            ),
        )
        .with_operation(Operation::Config)
        .with_hint(format!(
            "read it, then run `strongroom trust {}` (or name a file with --config)",
            path.display()
        )))
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_error(dir, "create", e))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "create", e))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(|e| io_error(&tmp, "write", e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_error(&tmp, "write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, "write", e))
}
