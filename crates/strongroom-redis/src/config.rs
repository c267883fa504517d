//! [`RedisConfig`]: every setting of the Redis cache, read from `[cache]` settings, the
//! environment or builder setters, validated by one `build()`; [`RedisCacheBuilder`], the thin
//! builder over it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use redis::IntoConnectionInfo;
use serde::Deserialize;
use strongroom_core::config::FieldKind::{Address, Credential, Path, Plain};
use strongroom_core::config::{Field, ProviderConfig, parse, parse::de, warn_once};
use strongroom_core::seal::{KeyRing, SealKey};
use strongroom_core::{Result, SecretValue, is_forbidden_char};
use zeroize::Zeroizing;

use crate::cache::RedisCache;
use crate::conn::{ConnSettings, Target};
use crate::error::PROVIDER;

/// Default per-call timeout: a Redis that does not answer within this is a cache miss.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "strongroom:";
/// Default bound of the near cache.
pub const DEFAULT_NEAR_CAPACITY: u64 = 10_000;
/// Default fill lease: how long a dead lease holder keeps the fleet waiting.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(2);
/// Default bound on waiting for another process's fill before reading the backend alone.
pub const DEFAULT_LEASE_WAIT: Duration = Duration::from_secs(10);
/// Default interval of the subscription's liveness check.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);

/// Longest accepted prefix.
const MAX_PREFIX_LEN: usize = 128;

/// The settings of the Redis cache (`[cache] kind = "redis"` in `strongroom.toml`, the
/// `STRONGROOM_REDIS_*` variables, or [`RedisCacheBuilder`]).
///
/// ```
/// use strongroom_core::config::ProviderConfig;
/// use strongroom_redis::RedisConfig;
/// let env = [("STRONGROOM_REDIS_URL", "rediss://cache.internal:6380"),
///            ("STRONGROOM_REDIS_KEY", "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="),
///            ("STRONGROOM_REDIS_NEAR", "yes"), ("STRONGROOM_REDIS_LEASE_TTL", "500ms"),
///            ("REDIS_URL", "redis://ignored")];
/// let config = RedisConfig::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
/// assert_eq!(config.url.as_deref(), Some("rediss://cache.internal:6380"));
/// assert!(config.near);
/// assert_eq!(config.lease_ttl, std::time::Duration::from_millis(500));
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://host:port[/db]` or `rediss://…` (TLS) of a single server (default none).
    /// `redis://` to a host that is not this machine is refused unless
    /// `allow_insecure_transport`; `user:password@` is refused (use `username`/`password`).
    pub url: Option<String>,
    /// Seed nodes of a Redis Cluster, instead of `url` (default none).
    #[serde(deserialize_with = "de::list")]
    pub cluster_urls: Vec<String>,
    /// Base64 of the 32-byte key that seals entries and derives key names (required).
    pub key: Option<SecretValue>,
    /// Previous keys, comma-separated base64, still accepted while a key rotation rolls out
    /// (default none).
    pub old_keys: Option<SecretValue>,
    /// Prefix of every key and channel, separating applications (default `strongroom:`).
    pub prefix: String,
    /// Bound on every Redis round trip (default 250 ms).
    #[serde(deserialize_with = "de::duration")]
    pub timeout: Duration,
    /// ACL user name (default none).
    pub username: Option<String>,
    /// ACL password (default none).
    pub password: Option<SecretValue>,
    /// PEM file of the CA that signed the server certificate, for `rediss://` (default: the
    /// WebPKI roots).
    pub ca_file: Option<PathBuf>,
    /// Allow `redis://` (plaintext) to a host that is not this machine (default false).
    #[serde(deserialize_with = "de::bool")]
    pub allow_insecure_transport: bool,
    /// Keep an in-process copy of entries, invalidated fleet-wide through pub/sub (default
    /// false).
    #[serde(deserialize_with = "de::bool")]
    pub near: bool,
    /// Most entries the near cache holds (default 10,000).
    #[serde(deserialize_with = "de::number")]
    pub near_capacity: u64,
    /// Fleet-wide single-flight: one process per fleet reads a missing key from the backend,
    /// the others wait for its entry (default true).
    #[serde(deserialize_with = "de::bool")]
    pub lease: bool,
    /// How long a fill lease lasts without renewal — how long a dead holder keeps the others
    /// waiting (default 2 s).
    #[serde(deserialize_with = "de::duration")]
    pub lease_ttl: Duration,
    /// How long a process waits for another's fill before reading the backend itself
    /// (default 10 s).
    #[serde(deserialize_with = "de::duration")]
    pub lease_wait: Duration,
    /// Interval of the subscription's liveness check (default 1 s).
    #[serde(deserialize_with = "de::duration")]
    pub heartbeat: Duration,
    /// PEM of the CA to trust, instead of `ca_file` (builder only).
    #[serde(skip)]
    pub ca_pem: Option<Vec<u8>>,
    /// The sealing key, instead of `key` (builder only).
    #[serde(skip)]
    pub seal_key: Option<SealKey>,
    /// Previous sealing keys, in addition to `old_keys` (builder only).
    #[serde(skip)]
    pub previous_seal_keys: Vec<SealKey>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: None,
            cluster_urls: Vec::new(),
            key: None,
            old_keys: None,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            username: None,
            password: None,
            ca_file: None,
            allow_insecure_transport: false,
            near: false,
            near_capacity: DEFAULT_NEAR_CAPACITY,
            lease: true,
            lease_ttl: DEFAULT_LEASE_TTL,
            lease_wait: DEFAULT_LEASE_WAIT,
            heartbeat: DEFAULT_HEARTBEAT,
            ca_pem: None,
            seal_key: None,
            previous_seal_keys: Vec::new(),
        }
    }
}

/// A URL for `Debug`: any `user:password@` (refused by `build()`, but a config can be printed
/// before it is built) replaced by `[REDACTED]@`.
fn shown(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}[REDACTED]{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.url.as_deref().map(shown))
            .field(
                "cluster_urls",
                &self
                    .cluster_urls
                    .iter()
                    .map(|u| shown(u))
                    .collect::<Vec<_>>(),
            )
            .field("key", &self.key)
            .field("old_keys", &self.old_keys)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("ca_file", &self.ca_file)
            .field("allow_insecure_transport", &self.allow_insecure_transport)
            .field("near", &self.near)
            .field("near_capacity", &self.near_capacity)
            .field("lease", &self.lease)
            .field("lease_ttl", &self.lease_ttl)
            .field("lease_wait", &self.lease_wait)
            .field("heartbeat", &self.heartbeat)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "[set]"))
            .field("seal_key", &self.seal_key)
            .field("previous_seal_keys", &self.previous_seal_keys.len())
            .finish()
    }
}

impl ProviderConfig for RedisConfig {
    const PROVIDER: &'static str = PROVIDER;
    // One row per setting: TOML key, variables in priority order, kind, documented default.
    #[rustfmt::skip]
    const FIELDS: &'static [Field] = &[
        Field::new("url", &["STRONGROOM_REDIS_URL"], Address, ""),
        Field::new("cluster_urls", &["STRONGROOM_REDIS_CLUSTER_URLS"], Address, ""),
        Field::new("key", &["STRONGROOM_REDIS_KEY"], Credential, ""),
        Field::new("old_keys", &["STRONGROOM_REDIS_OLD_KEYS"], Credential, ""),
        Field::new("prefix", &["STRONGROOM_REDIS_PREFIX"], Plain, DEFAULT_PREFIX),
        Field::new("timeout", &["STRONGROOM_REDIS_TIMEOUT"], Plain, "250ms"),
        Field::new("username", &["STRONGROOM_REDIS_USERNAME"], Plain, ""),
        Field::new("password", &["STRONGROOM_REDIS_PASSWORD"], Credential, ""),
        Field::new("ca_file", &["STRONGROOM_REDIS_CA_FILE"], Path, ""),
        Field::new("allow_insecure_transport", &["STRONGROOM_REDIS_ALLOW_INSECURE_TRANSPORT"], Plain, "false"),
        Field::new("near", &["STRONGROOM_REDIS_NEAR"], Plain, "false"),
        Field::new("near_capacity", &["STRONGROOM_REDIS_NEAR_CAPACITY"], Plain, "10000"),
        Field::new("lease", &["STRONGROOM_REDIS_LEASE"], Plain, "true"),
        Field::new("lease_ttl", &["STRONGROOM_REDIS_LEASE_TTL"], Plain, "2s"),
        Field::new("lease_wait", &["STRONGROOM_REDIS_LEASE_WAIT"], Plain, "10s"),
        Field::new("heartbeat", &["STRONGROOM_REDIS_HEARTBEAT"], Plain, "1s"),
    ];
}

/// Whether `url` points at this machine. Core's `parse::is_loopback` sees the host of a
/// `redis://` URL (not a "special" scheme for the `url` crate) as a domain even when it is an
/// IP literal, so `redis://127.0.0.1` would count as remote; IP literals are checked here.
fn is_loopback(url: &url::Url) -> bool {
    parse::is_loopback(url)
        || url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| ip.is_loopback())
}

/// A Redis address: core's address rules (no `user:password@`, no query), then the transport
/// rule — plaintext `redis://` only to this machine unless `allow_insecure_transport`.
fn redis_address(key: &str, text: &str, allow_insecure: bool) -> Result<redis::ConnectionInfo> {
    let url = parse::address(text, &["redis", "rediss"])
        .map_err(|problem| RedisConfig::field_error(key, problem))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    if url.scheme() == "redis" && !is_loopback(&url) {
        if !allow_insecure {
            return Err(RedisConfig::field_error(
                key,
                format!("`redis://{host}` sends credentials and sealed entries in clear to a host that is not this machine"),
            )
            .with_hint("use rediss:// (TLS), or set allow_insecure_transport = true if you accept the risk"));
        }
        warn_once(
            &format!("insecure:{PROVIDER}:{host}"),
            &format!("redis: `{key}` talks to {host} in clear (allow_insecure_transport is on)"),
        );
    }
    // The redis crate's error may quote the URL; it carries no credentials (refused above),
    // but say it in our words anyway.
    url.as_str().into_connection_info().map_err(|_| {
        RedisConfig::field_error(
            key,
            "not a Redis URL (expected redis://host:port[/db] or rediss://host:port[/db])",
        )
    })
}

fn parse_key(key: &str, text: &str) -> Result<SealKey> {
    // SealKey's error never quotes the text; keep only its sentence, under our setting name.
    SealKey::from_base64(text).map_err(|e| {
        let why = e.to_string();
        let why = why
            .split_once(": ")
            .map_or(why.as_str(), |(_, w)| w)
            .to_owned();
        RedisConfig::field_error(key, why)
    })
}

/// Everything `build()` worked out, before anything connects.
pub(crate) struct Built {
    pub(crate) target: Target,
    pub(crate) settings: Arc<ConnSettings>,
    pub(crate) keys: Vec<SealKey>,
    pub(crate) endpoint: String,
}

impl RedisConfig {
    /// Validates every setting (errors name the setting and its variable, never a key or a
    /// password). No I/O but reading `ca_file`.
    pub(crate) fn validate(&self) -> Result<Built> {
        fn err(key: &str, problem: impl std::fmt::Display) -> strongroom_core::Error {
            RedisConfig::field_error(key, problem)
        }
        let current = match (&self.seal_key, &self.key) {
            (Some(k), _) => k.clone(),
            (None, Some(text)) => parse_key(
                "key",
                text.expose_str()
                    .map_err(|_| err("key", "must be base64 text"))?,
            )?,
            (None, None) => {
                return Err(err(
                    "key",
                    "no key: set it to the base64 of 32 random bytes (`head -c 32 /dev/urandom | base64`)",
                ));
            }
        };
        let mut keys = vec![current];
        keys.extend(self.previous_seal_keys.iter().cloned());
        if let Some(old) = &self.old_keys {
            let text = old
                .expose_str()
                .map_err(|_| err("old_keys", "must be base64 text"))?;
            for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                keys.push(parse_key("old_keys", part)?);
            }
        }
        if self.prefix.is_empty() {
            return Err(err(
                "prefix",
                "must not be empty (clearing removes everything under the prefix)",
            ));
        }
        if self.prefix.len() > MAX_PREFIX_LEN {
            return Err(err("prefix", format!("longer than {MAX_PREFIX_LEN} bytes")));
        }
        if self
            .prefix
            .chars()
            .any(|c| is_forbidden_char(c) || c == '{' || c == '}')
        {
            return Err(err(
                "prefix",
                "may not contain control characters, `{` or `}` (the cache places its own Redis Cluster hash tags)",
            ));
        }
        let positive = |key: &str, d: Duration, max: Duration| {
            if d.is_zero() || d > max {
                Err(err(key, format!("must be above zero and at most {max:?}")))
            } else {
                Ok(())
            }
        };
        positive("timeout", self.timeout, Duration::from_secs(60))?;
        positive("lease_ttl", self.lease_ttl, Duration::from_secs(600))?;
        positive("lease_wait", self.lease_wait, Duration::from_secs(3600))?;
        positive("heartbeat", self.heartbeat, Duration::from_secs(600))?;
        if self.lease_ttl < Duration::from_millis(20) {
            return Err(err("lease_ttl", "must be at least 20ms"));
        }
        if self.near_capacity == 0 {
            return Err(err("near_capacity", "must be above zero"));
        }
        let ca_pem = match (&self.ca_pem, &self.ca_file) {
            (Some(pem), _) => Some(pem.clone()),
            (None, Some(path)) => Some(
                std::fs::read(path)
                    .map_err(|e| err("ca_file", format!("cannot read {}: {e}", path.display())))?,
            ),
            (None, None) => None,
        };
        let (target, endpoint) = match (&self.url, self.cluster_urls.is_empty()) {
            (Some(_), false) => {
                return Err(err(
                    "cluster_urls",
                    "set either `url` (one server) or `cluster_urls` (a Redis Cluster), not both",
                ));
            }
            (None, false) => {
                let infos = self
                    .cluster_urls
                    .iter()
                    .map(|u| redis_address("cluster_urls", u, self.allow_insecure_transport))
                    .collect::<Result<Vec<_>>>()?;
                let endpoint = format!(
                    "cluster[{}]",
                    infos
                        .iter()
                        .map(|i| i.addr().to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                );
                (Target::Cluster(infos), endpoint)
            }
            (Some(url), true) => {
                let info = redis_address("url", url, self.allow_insecure_transport)?;
                let endpoint = info.addr().to_string();
                (Target::Single(Box::new(info)), endpoint)
            }
            (None, true) => {
                return Err(err(
                    "url",
                    "not set: give `url` (redis://host:port or rediss://…) or `cluster_urls`",
                ));
            }
        };
        let password = match &self.password {
            Some(p) => Some(Zeroizing::new(
                p.expose_str()
                    .map_err(|_| err("password", "must be text"))?
                    .to_owned(),
            )),
            None => None,
        };
        Ok(Built {
            target,
            settings: Arc::new(ConnSettings {
                username: self.username.clone(),
                password,
                ca_pem,
                timeout: self.timeout,
            }),
            keys,
            endpoint,
        })
    }

    /// Validates every setting and creates the cache. Connecting is lazy for a single server
    /// and in the background for a cluster (and for the subscription), so a Redis that is
    /// down at start-up does not stop the application: calls fail (and the `Cached` layer
    /// reads the backend) until it answers. Must be called inside a Tokio runtime.
    pub async fn build(self) -> Result<RedisCache> {
        let built = self.validate()?;
        let ring = built.keys[1..]
            .iter()
            .fold(KeyRing::new(built.keys[0].clone()), |ring, k| {
                ring.with_previous(k.clone())
            });
        RedisCache::new(self, built, ring)
    }
}

/// Builds a [`RedisCache`]: a thin wrapper setting [`RedisConfig`] fields.
///
/// ```no_run
/// use std::time::Duration;
/// use strongroom_core::seal::SealKey;
/// use strongroom_redis::RedisCacheBuilder;
/// # async fn demo() -> strongroom_core::Result<()> {
/// let cache = RedisCacheBuilder::new("rediss://cache.internal:6380")
///     .with_key(SealKey::from_base64("q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=")?)
///     .with_prefix("billing:")
///     .with_near(true)
///     .with_timeout(Duration::from_millis(250))
///     .build()
///     .await?;
/// # let _ = cache; Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct RedisCacheBuilder {
    config: RedisConfig,
}

impl RedisCacheBuilder {
    /// A builder for a single Redis server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        RedisCacheBuilder {
            config: RedisConfig {
                url: Some(url.into()),
                ..RedisConfig::default()
            },
        }
    }

    /// A builder over `config`.
    pub fn from_config(config: RedisConfig) -> Self {
        RedisCacheBuilder { config }
    }

    /// A builder from the `STRONGROOM_REDIS_*` variables (see `docs/configuration.md`).
    pub fn from_env() -> Result<Self> {
        Ok(Self::from_config(RedisConfig::from_env()?))
    }

    /// The settings so far.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// Talks to a Redis Cluster through these seed nodes instead of a single server.
    pub fn with_cluster<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.cluster_urls = urls.into_iter().map(Into::into).collect();
        self.config.url = None;
        self
    }

    /// The key that seals new entries (and opens them, and derives key names).
    pub fn with_key(mut self, key: SealKey) -> Self {
        self.config.seal_key = Some(key);
        self
    }

    /// A previous key, still accepted during a rotation. May be repeated.
    pub fn with_previous_key(mut self, key: SealKey) -> Self {
        self.config.previous_seal_keys.push(key);
        self
    }

    /// The prefix that separates applications sharing one Redis (default `strongroom:`).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.prefix = prefix.into();
        self
    }

    /// The bound on every Redis round trip (default 250 ms).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// ACL user name.
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.config.username = Some(username.into());
        self
    }

    /// ACL password. Never logged or shown by `Debug`.
    pub fn with_password(mut self, password: impl Into<SecretValue>) -> Self {
        self.config.password = Some(password.into());
        self
    }

    /// PEM of a CA to trust for `rediss://` instead of the WebPKI roots.
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.config.ca_pem = Some(pem.into());
        self
    }

    /// PEM file of a CA to trust for `rediss://`.
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.ca_file = Some(path.into());
        self
    }

    /// Allows `redis://` to a host that is not this machine.
    pub fn with_allow_insecure_transport(mut self, allow: bool) -> Self {
        self.config.allow_insecure_transport = allow;
        self
    }

    /// Keeps entries near (in process), invalidated fleet-wide through pub/sub.
    pub fn with_near(mut self, near: bool) -> Self {
        self.config.near = near;
        self
    }

    /// Bounds the near cache.
    pub fn with_near_capacity(mut self, entries: u64) -> Self {
        self.config.near_capacity = entries;
        self
    }

    /// Turns fleet-wide single-flight on or off.
    pub fn with_lease(mut self, lease: bool) -> Self {
        self.config.lease = lease;
        self
    }

    /// How long a fill lease lasts without renewal.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.config.lease_ttl = ttl;
        self
    }

    /// How long to wait for another process's fill before reading alone.
    pub fn with_lease_wait(mut self, wait: Duration) -> Self {
        self.config.lease_wait = wait;
        self
    }

    /// The subscription's liveness check interval.
    pub fn with_heartbeat(mut self, every: Duration) -> Self {
        self.config.heartbeat = every;
        self
    }

    /// Validates the settings and creates the cache (see [`RedisConfig::build`]).
    pub async fn build(self) -> Result<RedisCache> {
        self.config.build().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_core::config::Settings;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    fn key_b64() -> String {
        SealKey::generate().to_base64().to_string()
    }

    #[test]
    fn every_variable_lands_in_its_field_and_nothing_else_is_read() {
        let k = key_b64();
        let (o1, o2) = (key_b64(), key_b64());
        let old = format!("{o1}, {o2}");
        let c = RedisConfig::from_lookup(env(&[
            ("STRONGROOM_REDIS_URL", "redis://127.0.0.1:6379/2"),
            ("STRONGROOM_REDIS_KEY", &k),
            ("STRONGROOM_REDIS_OLD_KEYS", &old),
            ("STRONGROOM_REDIS_PREFIX", "app1:"),
            ("STRONGROOM_REDIS_TIMEOUT", "75ms"),
            ("STRONGROOM_REDIS_USERNAME", "svc"),
            ("STRONGROOM_REDIS_PASSWORD", "pw-env"),
            ("STRONGROOM_REDIS_NEAR", "on"),
            ("STRONGROOM_REDIS_NEAR_CAPACITY", "500"),
            ("STRONGROOM_REDIS_LEASE", "0"),
            ("STRONGROOM_REDIS_LEASE_TTL", "1.5"),
            ("STRONGROOM_REDIS_LEASE_WAIT", "30s"),
            ("STRONGROOM_REDIS_HEARTBEAT", "200ms"),
            ("STRONGROOM_REDIS_ALLOW_INSECURE_TRANSPORT", "true"),
            // Generic names are never looked at.
            ("REDIS_URL", "redis://evil:1"),
            ("URL", "redis://evil:1"),
            ("KEY", "nope"),
            ("PASSWORD", "nope"),
        ]))
        .unwrap();
        assert_eq!(c.url.as_deref(), Some("redis://127.0.0.1:6379/2"));
        assert_eq!(c.prefix, "app1:");
        assert_eq!(c.timeout, Duration::from_millis(75));
        assert_eq!(c.username.as_deref(), Some("svc"));
        assert!(c.near && !c.lease && c.allow_insecure_transport);
        assert_eq!(c.near_capacity, 500);
        assert_eq!(c.lease_ttl, Duration::from_millis(1500));
        assert_eq!(c.lease_wait, Duration::from_secs(30));
        assert_eq!(c.heartbeat, Duration::from_millis(200));
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("pw-env") && !debug.contains(&k) && !debug.contains(&o1),
            "{debug}"
        );
        let built = c.validate().unwrap();
        assert_eq!(built.keys.len(), 3);
        assert!(matches!(built.target, Target::Single(_)));

        let empty = RedisConfig::from_lookup(env(&[("REDIS_URL", "redis://x:1")])).unwrap();
        assert!(empty.url.is_none() && empty.lease && !empty.near);
        assert_eq!(empty.prefix, DEFAULT_PREFIX);
    }

    #[test]
    fn settings_from_toml_refuse_unknown_keys_with_a_suggestion() {
        let mut s = Settings::for_manager("cache");
        s.insert("url", "redis://127.0.0.1:6379".into());
        s.insert("lease_tll", "1s".into());
        let e = RedisConfig::from_settings(&s).unwrap_err().to_string();
        assert!(e.contains("did you mean `lease_ttl`"), "{e}");
        let mut s = Settings::for_manager("cache");
        s.insert(
            "cluster_urls",
            serde_json::json!(["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"]),
        );
        s.insert("near", true.into());
        s.insert("timeout", 1.into());
        let c = RedisConfig::from_settings(&s).unwrap();
        assert_eq!(c.cluster_urls.len(), 2);
        assert!(c.near);
        assert_eq!(c.timeout, Duration::from_secs(1));
        // `${env:…}` only in credentials.
        let mut s = Settings::for_manager("cache").with_env_lookup(|_| Some("redis://x".into()));
        s.insert("url", "${env:SOMETHING}".into());
        assert!(RedisConfig::from_settings(&s).is_err());
    }

    #[test]
    fn validation_names_the_setting_and_never_echoes_secrets() {
        let check = |vars: &[(&str, &str)], setting: &str, must_not: &[&str]| {
            let e = RedisConfig::from_lookup(env(vars))
                .and_then(|c| c.validate().map(|_| ()))
                .unwrap_err()
                .to_string();
            assert!(e.contains(setting), "{e} should name {setting}");
            for s in must_not {
                assert!(!e.contains(s), "{e} must not contain {s}");
            }
        };
        let k = key_b64();
        let url = ("STRONGROOM_REDIS_URL", "redis://127.0.0.1:6379");
        let key = ("STRONGROOM_REDIS_KEY", k.as_str());
        check(&[url], "STRONGROOM_REDIS_KEY", &[]);
        check(
            &[url, ("STRONGROOM_REDIS_KEY", "c2hvcnQ=")],
            "STRONGROOM_REDIS_KEY",
            &["c2hvcnQ="],
        );
        check(
            &[url, key, ("STRONGROOM_REDIS_OLD_KEYS", "secret-not-base64")],
            "STRONGROOM_REDIS_OLD_KEYS",
            &["secret-not-base64"],
        );
        check(&[key], "STRONGROOM_REDIS_URL", &[]);
        check(
            &[url, key, ("STRONGROOM_REDIS_PREFIX", "a{b}:")],
            "STRONGROOM_REDIS_PREFIX",
            &[],
        );
        check(
            &[url, key, ("STRONGROOM_REDIS_TIMEOUT", "0")],
            "STRONGROOM_REDIS_TIMEOUT",
            &[],
        );
        check(
            &[url, key, ("STRONGROOM_REDIS_TIMEOUT", "soon")],
            "STRONGROOM_REDIS_TIMEOUT",
            &[],
        );
        check(
            &[url, key, ("STRONGROOM_REDIS_LEASE_TTL", "1ms")],
            "STRONGROOM_REDIS_LEASE_TTL",
            &[],
        );
        check(
            &[
                url,
                key,
                ("STRONGROOM_REDIS_CLUSTER_URLS", "redis://127.0.0.1:7000"),
            ],
            "cluster_urls",
            &[],
        );
        check(
            &[
                url,
                key,
                ("STRONGROOM_REDIS_CA_FILE", "/nonexistent/ca.pem"),
            ],
            "STRONGROOM_REDIS_CA_FILE",
            &[],
        );
        // Credentials in a URL are refused, and not echoed.
        check(
            &[
                (
                    "STRONGROOM_REDIS_URL",
                    "rediss://user:hunter2@cache.example:6380",
                ),
                key,
            ],
            "STRONGROOM_REDIS_URL",
            &["hunter2"],
        );
        check(
            &[
                ("STRONGROOM_REDIS_URL", "redis://:hunter2@127.0.0.1:6379"),
                key,
            ],
            "STRONGROOM_REDIS_URL",
            &["hunter2"],
        );
        check(
            &[("STRONGROOM_REDIS_URL", "http://127.0.0.1:6379"), key],
            "STRONGROOM_REDIS_URL",
            &[],
        );
    }

    #[test]
    fn plaintext_to_another_host_needs_the_opt_in() {
        let k = key_b64();
        let c = |url: &str, allow: &str| {
            RedisConfig::from_lookup(env(&[
                ("STRONGROOM_REDIS_URL", url),
                ("STRONGROOM_REDIS_KEY", &k),
                ("STRONGROOM_REDIS_ALLOW_INSECURE_TRANSPORT", allow),
            ]))
            .unwrap()
            .validate()
        };
        let e = c("redis://10.0.0.5:6379", "false").err().unwrap();
        assert!(e.to_string().contains("not this machine"), "{e}");
        assert!(c("redis://10.0.0.5:6379", "true").is_ok());
        assert!(c("redis://127.0.0.1:6379", "false").is_ok());
        assert!(c("redis://127.0.0.2:6379/3", "false").is_ok());
        assert!(c("rediss://10.0.0.5:6380", "false").is_ok());
        assert!(c("redis://localhost:6379", "false").is_ok());
        assert!(c("redis://[::1]:6379", "false").is_ok());
        // The same rule for every cluster seed.
        let cluster = RedisConfig::from_lookup(env(&[
            (
                "STRONGROOM_REDIS_CLUSTER_URLS",
                "rediss://10.0.0.1:7000,redis://10.0.0.2:7000",
            ),
            ("STRONGROOM_REDIS_KEY", &k),
        ]))
        .unwrap();
        let e = cluster.validate().err().unwrap().to_string();
        assert!(e.contains("STRONGROOM_REDIS_CLUSTER_URLS"), "{e}");
    }

    #[test]
    fn builder_setters_assign_fields() {
        let unbuilt = RedisCacheBuilder::new("rediss://svc:hunter2@cache.example:6380");
        assert!(!format!("{unbuilt:?}").contains("hunter2"), "{unbuilt:?}");
        let b = RedisCacheBuilder::new("redis://127.0.0.1:1")
            .with_key(SealKey::generate())
            .with_previous_key(SealKey::generate())
            .with_password("pw-secret")
            .with_near(true)
            .with_lease_ttl(Duration::from_millis(300))
            .with_cluster(["redis://127.0.0.1:7000"]);
        assert!(b.config().url.is_none());
        assert_eq!(b.config().cluster_urls.len(), 1);
        assert_eq!(b.config().lease_ttl, Duration::from_millis(300));
        assert!(!format!("{b:?}").contains("pw-secret"));
        assert_eq!(b.config().validate().unwrap().keys.len(), 2);
    }
}
