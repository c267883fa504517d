//! Config structs of the built-in stores (`file`, `env`, `memory`), read like every provider's:
//! exact keys, unknown keys refused, one `build()`.

use std::path::PathBuf;

use serde::Deserialize;
use strongroom_core::config::{Field, FieldKind, ProviderConfig, StoreConfig};
use strongroom_core::{EnvStore, Error, FileStore, MemoryStore, Result};

/// `provider = "file"`: secrets in a local JSON file.
///
/// ```
/// use strongroom::builtin::FileConfig;
/// use strongroom::config::{ProviderConfig, Settings};
/// let mut s = Settings::for_manager("local");
/// s.insert("path", "/tmp/s.json".into());
/// let c = FileConfig::from_settings(&s).unwrap();
/// assert_eq!(c.path.unwrap().to_str(), Some("/tmp/s.json"));
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct FileConfig {
    /// The file (default `$STRONGROOM_FILE`, else `.strongroom/secrets.json`).
    pub path: Option<PathBuf>,
}

impl ProviderConfig for FileConfig {
    const PROVIDER: &'static str = "file";
    const FIELDS: &'static [Field] = &[Field::new(
        "path",
        &["STRONGROOM_FILE"],
        FieldKind::Path,
        ".strongroom/secrets.json",
    )];
}

impl StoreConfig for FileConfig {
    type Store = FileStore;
    fn build(self) -> Result<FileStore> {
        let path = self.path.unwrap_or_else(default_file_path);
        if path.as_os_str().is_empty() {
            return Err(Self::field_error("path", "must not be empty"));
        }
        Ok(FileStore::new(path))
    }
}

/// The embedded default file: `$STRONGROOM_FILE`, else `.strongroom/secrets.json` in the
/// working directory.
pub fn default_file_path() -> PathBuf {
    std::env::var_os("STRONGROOM_FILE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".strongroom/secrets.json"))
}

/// `provider = "env"`: read-only secrets from the process environment, limited to a prefix or
/// a list of names. The credentials the configuration itself uses are never returned.
///
/// ```
/// use strongroom::builtin::EnvConfig;
/// use strongroom::config::{ProviderConfig, Settings, StoreConfig};
/// let mut s = Settings::for_manager("env");
/// s.insert("prefix", "APP_".into());
/// assert!(EnvConfig::from_settings(&s).unwrap().build().is_ok());
/// // Neither a prefix nor names: the whole environment is never exposed.
/// assert!(EnvConfig::default().build().is_err());
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct EnvConfig {
    /// The secret `NAME` is the variable `<prefix>NAME` (no default).
    pub prefix: Option<String>,
    /// Or exactly these variables (no default).
    #[serde(deserialize_with = "strongroom_core::config::parse::de::list")]
    pub names: Vec<String>,
    /// Variables never returned (the facade adds every credential variable of the
    /// configuration).
    #[serde(skip)]
    pub deny: Vec<String>,
}

impl ProviderConfig for EnvConfig {
    const PROVIDER: &'static str = "env";
    const FIELDS: &'static [Field] = &[
        Field::new("prefix", &[], FieldKind::Plain, ""),
        Field::new("names", &[], FieldKind::Plain, ""),
    ];
}

impl StoreConfig for EnvConfig {
    type Store = EnvStore;
    fn build(self) -> Result<EnvStore> {
        let store = match (self.prefix.filter(|p| !p.is_empty()), self.names.is_empty()) {
            (Some(_), false) => {
                return Err(Self::field_error(
                    "names",
                    "set either `prefix` or `names`, not both",
                ));
            }
            (Some(prefix), true) => EnvStore::with_prefix(prefix)?,
            (None, false) => EnvStore::with_names(self.names),
            (None, true) => {
                return Err(Error::config(
                    "prefix",
                    "the env provider needs `prefix` or `names`; the whole environment is never exposed",
                )
                .with_provider("env")
                .with_hint("e.g. settings = { prefix = \"APP_\" } or settings = { names = [\"OPENAI_API_KEY\"] }"));
            }
        };
        Ok(store.deny(self.deny))
    }
}

/// `provider = "memory"`: an in-process store (tests, examples). It takes no settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct MemoryConfig {}

impl ProviderConfig for MemoryConfig {
    const PROVIDER: &'static str = "memory";
    const FIELDS: &'static [Field] = &[];
}

impl StoreConfig for MemoryConfig {
    type Store = MemoryStore;
    fn build(self) -> Result<MemoryStore> {
        Ok(MemoryStore::new())
    }
}
