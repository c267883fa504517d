//! [`RedisCacheBuilder`]: settings, `from_env()`, validation at `build()`.

use std::fmt;
use std::time::Duration;

use redis::IntoConnectionInfo;
use strongroom_core::{Error, Result};
use zeroize::Zeroizing;

use crate::cache::RedisCache;
use crate::conn::Conn;
use crate::seal::{EncryptionKey, Keyring};

/// Default per-call timeout: a Redis that does not answer within this is a cache miss.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "strongroom:";

/// A key given as text (from the environment) is parsed at `build()`, so the error can name
/// the setting.
#[derive(Clone)]
enum KeySource {
    Key(EncryptionKey),
    Base64 {
        setting: &'static str,
        text: Zeroizing<String>,
    },
}

impl KeySource {
    fn resolve(&self) -> Result<EncryptionKey> {
        match self {
            KeySource::Key(k) => Ok(k.clone()),
            KeySource::Base64 { setting, text } => EncryptionKey::from_base64(text).map_err(|e| {
                Error::config(setting, e.to_string().trim_start_matches("setting `key`: "))
            }),
        }
    }
}

/// Builds a [`RedisCache`].
///
/// ```no_run
/// use std::time::Duration;
/// use strongroom_redis::{EncryptionKey, RedisCacheBuilder};
/// # async fn demo() -> strongroom_core::Result<()> {
/// let cache = RedisCacheBuilder::new("redis://127.0.0.1:6379")
///     .with_key(EncryptionKey::from_base64("q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=")?)
///     .with_prefix("billing:")
///     .with_timeout(Duration::from_millis(250))
///     .build()
///     .await?;
/// # let _ = cache; Ok(()) }
/// ```
///
/// Settings read by [`RedisCacheBuilder::from_env`]:
///
/// | variable | meaning |
/// |---|---|
/// | `STRONGROOM_REDIS_URL` | `redis://` or `rediss://` URL (user and password may be in it) |
/// | `STRONGROOM_REDIS_CLUSTER_URLS` | comma-separated seed URLs of a Redis Cluster (instead of the URL) |
/// | `STRONGROOM_REDIS_KEY` | base64 of the 32-byte AES-256-GCM key that seals entries |
/// | `STRONGROOM_REDIS_OLD_KEYS` | comma-separated base64 keys still accepted for reading |
/// | `STRONGROOM_REDIS_PREFIX` | key prefix separating applications (default `strongroom:`) |
/// | `STRONGROOM_REDIS_TIMEOUT` | per-call timeout, e.g. `250ms` |
/// | `STRONGROOM_REDIS_USERNAME` / `STRONGROOM_REDIS_PASSWORD` | ACL credentials (override the URL's) |
/// | `STRONGROOM_REDIS_CA_FILE` | PEM file of the CA that signed the server certificate (`rediss://`) |
#[derive(Clone)]
pub struct RedisCacheBuilder {
    url: Option<String>,
    cluster: Vec<String>,
    key: Option<KeySource>,
    previous: Vec<KeySource>,
    prefix: String,
    timeout: Duration,
    timeout_text: Option<String>,
    username: Option<String>,
    password: Option<Zeroizing<String>>,
    ca_pem: Option<Vec<u8>>,
    ca_file: Option<String>,
}

impl RedisCacheBuilder {
    /// A builder for a single Redis server (or a managed endpoint) at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        RedisCacheBuilder {
            url: Some(url.into()),
            ..Self::empty()
        }
    }

    fn empty() -> Self {
        RedisCacheBuilder {
            url: None,
            cluster: Vec::new(),
            key: None,
            previous: Vec::new(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            timeout_text: None,
            username: None,
            password: None,
            ca_pem: None,
            ca_file: None,
        }
    }

    /// A builder from the `STRONGROOM_REDIS_*` environment variables (see the table above).
    /// Problems (missing URL or key, bad base64) are reported by [`RedisCacheBuilder::build`].
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading the same names through `lookup` (a config
    /// map, tests) instead of the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut b = Self::empty();
        b.url = var("STRONGROOM_REDIS_URL");
        if let Some(urls) = var("STRONGROOM_REDIS_CLUSTER_URLS") {
            b.cluster = split_list(&urls);
        }
        if let Some(k) = var("STRONGROOM_REDIS_KEY") {
            b.key = Some(KeySource::Base64 {
                setting: "STRONGROOM_REDIS_KEY",
                text: Zeroizing::new(k),
            });
        }
        if let Some(old) = var("STRONGROOM_REDIS_OLD_KEYS").map(Zeroizing::new) {
            b.previous = split_list(&old)
                .into_iter()
                .map(|k| KeySource::Base64 {
                    setting: "STRONGROOM_REDIS_OLD_KEYS",
                    text: Zeroizing::new(k),
                })
                .collect();
        }
        if let Some(p) = var("STRONGROOM_REDIS_PREFIX") {
            b.prefix = p;
        }
        b.timeout_text = var("STRONGROOM_REDIS_TIMEOUT");
        b.username = var("STRONGROOM_REDIS_USERNAME");
        b.password = var("STRONGROOM_REDIS_PASSWORD").map(Zeroizing::new);
        b.ca_file = var("STRONGROOM_REDIS_CA_FILE");
        b
    }

    /// Talks to a Redis Cluster through these seed nodes instead of a single server.
    pub fn with_cluster<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cluster = urls.into_iter().map(Into::into).collect();
        self
    }

    /// The key that seals new entries (and opens them).
    pub fn with_key(mut self, key: EncryptionKey) -> Self {
        self.key = Some(KeySource::Key(key));
        self
    }

    /// A previous key, still accepted for opening entries during a rotation. May be repeated.
    pub fn with_previous_key(mut self, key: EncryptionKey) -> Self {
        self.previous.push(KeySource::Key(key));
        self
    }

    /// The key prefix that separates applications sharing one Redis (default `strongroom:`).
    /// `clear()` removes only keys under it. Must not be empty.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The bound on every Redis round trip (default 250 ms). A call that takes longer is a
    /// cache error, which the `Cached` layer turns into a read from the backend.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.timeout_text = None;
        self
    }

    /// ACL user name (overrides one in the URL).
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Password (overrides one in the URL). Never logged or shown by `Debug`.
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(Zeroizing::new(password.into()));
        self
    }

    /// PEM of a CA to trust for `rediss://` instead of the system / WebPKI roots.
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self.ca_file = None;
        self
    }

    /// Validates the settings and creates the cache. Connecting is lazy for a single server
    /// and in the background for a cluster, so a Redis that is down at start-up does not stop
    /// the application: calls fail (and the `Cached` layer reads the backend) until it answers.
    pub async fn build(self) -> Result<RedisCache> {
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| {
                Error::config(
                    "STRONGROOM_REDIS_KEY",
                    "no encryption key: set it (base64 of 32 random bytes) or call with_key()",
                )
            })?
            .resolve()?;
        let previous = self
            .previous
            .iter()
            .map(KeySource::resolve)
            .collect::<Result<Vec<_>>>()?;
        if self.prefix.is_empty() {
            return Err(Error::config(
                "STRONGROOM_REDIS_PREFIX",
                "must not be empty (clear() removes everything under the prefix)",
            ));
        }
        let timeout = match &self.timeout_text {
            Some(t) => humantime::parse_duration(t.trim())
                .map_err(|e| Error::config("STRONGROOM_REDIS_TIMEOUT", e))?,
            None => self.timeout,
        };
        if timeout.is_zero() {
            return Err(Error::config(
                "STRONGROOM_REDIS_TIMEOUT",
                "must be above zero",
            ));
        }
        let ca_pem = match (&self.ca_pem, &self.ca_file) {
            (Some(pem), _) => Some(pem.clone()),
            (None, Some(path)) => Some(std::fs::read(path).map_err(|e| {
                Error::config(
                    "STRONGROOM_REDIS_CA_FILE",
                    format!("cannot read {path}: {e}"),
                )
            })?),
            (None, None) => None,
        };
        let settings = ConnSettings {
            username: self.username.clone(),
            password: self.password.clone(),
            ca_pem,
            timeout,
        };
        let (conn, endpoint) = if !self.cluster.is_empty() {
            let infos = self
                .cluster
                .iter()
                .map(|u| parse_url("STRONGROOM_REDIS_CLUSTER_URLS", u))
                .collect::<Result<Vec<_>>>()?;
            let endpoint = format!(
                "cluster[{}]",
                infos
                    .iter()
                    .map(|i| i.addr().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            (Conn::cluster(infos, &settings)?, endpoint)
        } else {
            let url = self.url.as_deref().ok_or_else(|| {
                Error::config(
                    "STRONGROOM_REDIS_URL",
                    "not set (redis://host:port or rediss://…)",
                )
            })?;
            let info = parse_url("STRONGROOM_REDIS_URL", url)?;
            let endpoint = info.addr().to_string();
            (Conn::single(info, &settings)?, endpoint)
        };
        Ok(RedisCache::new(
            conn,
            Keyring::new(&key, &previous),
            self.prefix,
            timeout,
            endpoint,
        ))
    }
}

/// Connection settings shared by single-server and cluster mode.
pub(crate) struct ConnSettings {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Zeroizing<String>>,
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) timeout: Duration,
}

fn parse_url(setting: &str, url: &str) -> Result<redis::ConnectionInfo> {
    // The error text of the redis crate may quote the URL (and so a password): don't pass it on.
    url.trim().into_connection_info().map_err(|_| {
        Error::config(
            setting,
            "not a valid Redis URL (expected redis://[user:password@]host:port[/db] or rediss://…)",
        )
    })
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl fmt::Debug for RedisCacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCacheBuilder")
            .field("url", &self.url.as_ref().map(|_| "[set]"))
            .field("cluster_nodes", &self.cluster.len())
            .field("key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("previous_keys", &self.previous.len())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn build_names_the_setting() {
        let err = RedisCacheBuilder::new("redis://127.0.0.1:1")
            .build()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("STRONGROOM_REDIS_KEY"), "{err}");
        let err = RedisCacheBuilder::new("redis://127.0.0.1:1")
            .with_key(EncryptionKey::generate())
            .with_prefix("")
            .build()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("STRONGROOM_REDIS_PREFIX"), "{err}");
        let err = RedisCacheBuilder::new("http://user:hunter2@x")
            .with_key(EncryptionKey::generate())
            .build()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("STRONGROOM_REDIS_URL"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let mut b = RedisCacheBuilder::new("redis://127.0.0.1:1");
        b.key = Some(KeySource::Base64 {
            setting: "STRONGROOM_REDIS_KEY",
            text: Zeroizing::new("c2hvcnQ=".into()),
        });
        let err = b.build().await.unwrap_err();
        assert!(err.to_string().contains("STRONGROOM_REDIS_KEY"), "{err}");
        assert!(!err.to_string().contains("c2hvcnQ="), "{err}");
    }

    #[tokio::test]
    async fn from_env_reads_every_variable() {
        let key = EncryptionKey::generate();
        let old1 = EncryptionKey::generate();
        let old2 = EncryptionKey::generate();
        let vars = std::collections::HashMap::from([
            ("STRONGROOM_REDIS_URL", "redis://127.0.0.1:1".to_owned()),
            ("STRONGROOM_REDIS_KEY", key.to_base64().to_string()),
            (
                "STRONGROOM_REDIS_OLD_KEYS",
                format!("{}, {}", &*old1.to_base64(), &*old2.to_base64()),
            ),
            ("STRONGROOM_REDIS_PREFIX", "app1:".to_owned()),
            ("STRONGROOM_REDIS_TIMEOUT", "75ms".to_owned()),
            ("STRONGROOM_REDIS_PASSWORD", "pw-env".to_owned()),
        ]);
        let b = RedisCacheBuilder::from_lookup(|n| vars.get(n).cloned());
        assert_eq!(b.previous.len(), 2);
        assert!(!format!("{b:?}").contains("pw-env"));
        let cache = b.build().await.unwrap();
        assert_eq!(cache.prefix(), "app1:");
        assert_eq!(cache.timeout(), Duration::from_millis(75));
        assert!(!cache.is_cluster());
        assert!(format!("{cache:?}").contains("keys: 3"), "{cache:?}");

        let cluster = std::collections::HashMap::from([
            (
                "STRONGROOM_REDIS_CLUSTER_URLS",
                "redis://127.0.0.1:1, redis://127.0.0.1:2".to_owned(),
            ),
            ("STRONGROOM_REDIS_KEY", key.to_base64().to_string()),
        ]);
        let cache = RedisCacheBuilder::from_lookup(|n| cluster.get(n).cloned())
            .build()
            .await
            .unwrap();
        assert!(cache.is_cluster());
        assert_eq!(cache.prefix(), DEFAULT_PREFIX);

        let bad = std::collections::HashMap::from([
            ("STRONGROOM_REDIS_URL", "redis://127.0.0.1:1".to_owned()),
            ("STRONGROOM_REDIS_KEY", key.to_base64().to_string()),
            ("STRONGROOM_REDIS_OLD_KEYS", "nope".to_owned()),
        ]);
        let err = RedisCacheBuilder::from_lookup(|n| bad.get(n).cloned())
            .build()
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("STRONGROOM_REDIS_OLD_KEYS"),
            "{err}"
        );
        let no_url = std::collections::HashMap::from([(
            "STRONGROOM_REDIS_KEY",
            key.to_base64().to_string(),
        )]);
        let err = RedisCacheBuilder::from_lookup(|n| no_url.get(n).cloned())
            .build()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("STRONGROOM_REDIS_URL"), "{err}");
        let bad_timeout = std::collections::HashMap::from([
            ("STRONGROOM_REDIS_URL", "redis://127.0.0.1:1".to_owned()),
            ("STRONGROOM_REDIS_KEY", key.to_base64().to_string()),
            ("STRONGROOM_REDIS_TIMEOUT", "soon".to_owned()),
        ]);
        let err = RedisCacheBuilder::from_lookup(|n| bad_timeout.get(n).cloned())
            .build()
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("STRONGROOM_REDIS_TIMEOUT"),
            "{err}"
        );
    }

    #[test]
    fn debug_hides_credentials() {
        let b = RedisCacheBuilder::new("redis://u:hunter2@127.0.0.1")
            .with_password("pw-secret")
            .with_key(EncryptionKey::generate());
        let d = format!("{b:?}");
        assert!(!d.contains("hunter2") && !d.contains("pw-secret"), "{d}");
    }
}
