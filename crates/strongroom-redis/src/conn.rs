//! The command connection: one self-reconnecting `ConnectionManager`, or a Redis Cluster
//! connection. Both reconnect on their own; SCAN over a cluster visits every primary. The
//! subscription (see `pubsub`) makes its own RESP3 connections from the same settings.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterConfig;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{
    Cmd, ConnectionAddr, ConnectionInfo, FromRedisValue, ProtocolVersion, RedisResult, Value,
};
use strongroom_core::Result;
use strongroom_core::config::ProviderConfig;
use zeroize::Zeroizing;

use crate::config::RedisConfig;
use crate::error::{cache_error, timed};

/// How many keys one SCAN step asks for.
const SCAN_COUNT: usize = 1000;

/// Where Redis is: one server, or the seed nodes of a cluster.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Single(Box<ConnectionInfo>),
    Cluster(Vec<ConnectionInfo>),
}

/// Connection settings shared by single-server and cluster mode.
pub(crate) struct ConnSettings {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Zeroizing<String>>,
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for ConnSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnSettings")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "[set]"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

fn wants_tls(info: &ConnectionInfo) -> bool {
    matches!(info.addr(), ConnectionAddr::TcpTls { .. })
}

fn install_crypto_provider() {
    // redis builds its rustls config from the process-wide provider; install ours once
    // (an application that already installed one keeps it).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn with_credentials(mut info: ConnectionInfo, s: &ConnSettings, resp3: bool) -> ConnectionInfo {
    let mut redis = info.redis_settings().clone();
    if let Some(u) = &s.username {
        redis = redis.set_username(u);
    }
    if let Some(p) = &s.password {
        redis = redis.set_password(p.as_str());
    }
    if resp3 {
        redis = redis.set_protocol(ProtocolVersion::RESP3);
    }
    info = info.set_redis_settings(redis);
    info
}

/// A client for one server (RESP3 for the subscription connection).
pub(crate) fn client(
    info: &ConnectionInfo,
    s: &ConnSettings,
    resp3: bool,
) -> RedisResult<redis::Client> {
    let tls = wants_tls(info);
    if tls {
        install_crypto_provider();
    }
    let info = with_credentials(info.clone(), s, resp3);
    match (&s.ca_pem, tls) {
        (Some(pem), true) => redis::Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.clone()),
            },
        ),
        _ => redis::Client::open(info),
    }
}

/// A cluster client builder with the settings applied (RESP3 for the subscription).
pub(crate) fn cluster_builder(
    infos: &[ConnectionInfo],
    s: &ConnSettings,
    resp3: bool,
) -> redis::cluster::ClusterClientBuilder {
    if infos.iter().any(wants_tls) {
        install_crypto_provider();
    }
    let mut b = redis::cluster::ClusterClientBuilder::new(infos.to_vec())
        .connection_timeout(s.timeout)
        .response_timeout(s.timeout)
        .retries(1)
        .min_retry_wait(10)
        .max_retry_wait(200);
    if let Some(u) = &s.username {
        b = b.username(u);
    }
    if let Some(p) = &s.password {
        b = b.password(p.as_str());
    }
    if let Some(pem) = &s.ca_pem {
        b = b.certs(redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem.clone()),
        });
    }
    if resp3 {
        b = b.use_protocol(ProtocolVersion::RESP3);
    }
    b
}

impl Conn {
    pub(crate) fn open(target: &Target, s: &ConnSettings) -> Result<Conn> {
        match target {
            Target::Single(info) => {
                let client = client(info, s, false)
                    .map_err(|e| RedisConfig::field_error("url", cache_error("open", e)))?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(s.timeout))
                    .set_response_timeout(Some(s.timeout))
                    // Few, quick reconnect attempts: a dead Redis must cost little, and every
                    // later call starts a new attempt anyway.
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(20))
                    .set_max_delay(Duration::from_millis(500));
                let manager = ConnectionManager::new_lazy_with_config(client, config)
                    .map_err(|e| RedisConfig::field_error("url", cache_error("connect", e)))?;
                Ok(Conn::Single(manager))
            }
            Target::Cluster(infos) => {
                let client = cluster_builder(infos, s, false).build().map_err(|e| {
                    RedisConfig::field_error("cluster_urls", cache_error("open", e))
                })?;
                let config = ClusterConfig::new()
                    .set_connection_timeout(s.timeout)
                    .set_response_timeout(s.timeout);
                Ok(Conn::Cluster(
                    client.get_pending_async_connection_with_config(config),
                ))
            }
        }
    }

    /// Runs one script invocation.
    pub(crate) async fn script<T: FromRedisValue>(
        &self,
        inv: &redis::ScriptInvocation<'_>,
    ) -> RedisResult<T> {
        match self {
            Conn::Single(m) => inv.invoke_async(&mut m.clone()).await,
            Conn::Cluster(c) => inv.invoke_async(&mut c.clone()).await,
        }
    }

    /// Runs one command.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        match self {
            Conn::Single(m) => cmd.query_async(&mut m.clone()).await,
            Conn::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }

    /// Every key matching `pattern` (a glob) — on every primary of a cluster. Each round trip
    /// is bounded by `timeout`.
    pub(crate) async fn scan(&self, pattern: &[u8], timeout: Duration) -> Result<Vec<Vec<u8>>> {
        let mut keys = Vec::new();
        match self {
            Conn::Single(_) => {
                let mut cursor: u64 = 0;
                loop {
                    let cmd = scan_cmd(cursor, pattern);
                    let (next, batch): (u64, Vec<Vec<u8>>) =
                        timed("scan", timeout, self.query(&cmd)).await?;
                    keys.extend(batch);
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
            Conn::Cluster(c) => {
                for (host, port) in self.primaries(timeout).await? {
                    let mut cursor: u64 = 0;
                    loop {
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port,
                        });
                        let mut conn = c.clone();
                        let value = timed(
                            "scan",
                            timeout,
                            conn.route_command(scan_cmd(cursor, pattern), routing),
                        )
                        .await?;
                        let (next, batch): (u64, Vec<Vec<u8>>) = redis::from_redis_value(value)
                            .map_err(|e| crate::error::cache_error("scan", e.into()))?;
                        keys.extend(batch);
                        if next == 0 {
                            break;
                        }
                        cursor = next;
                    }
                }
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// The primaries of a cluster, from `CLUSTER SLOTS`.
    async fn primaries(&self, timeout: Duration) -> Result<Vec<(String, u16)>> {
        let Conn::Cluster(c) = self else {
            return Ok(Vec::new());
        };
        let mut conn = c.clone();
        let value = timed(
            "cluster slots",
            timeout,
            conn.route_command(
                redis::cmd("CLUSTER").arg("SLOTS").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            ),
        )
        .await?;
        let mut out: Vec<(String, u16)> = Vec::new();
        let Value::Array(ranges) = value else {
            return Err(crate::error::protocol(
                "CLUSTER SLOTS did not answer an array",
            ));
        };
        for range in ranges {
            let Value::Array(parts) = range else { continue };
            // [start, end, [host, port, id, ...], replicas...]
            if let Some(Value::Array(node)) = parts.get(2) {
                let host = match node.first() {
                    Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                    Some(Value::SimpleString(s)) => s.clone(),
                    _ => continue,
                };
                let port = match node.get(1) {
                    Some(Value::Int(p)) => u16::try_from(*p).unwrap_or(0),
                    _ => continue,
                };
                if !out.iter().any(|(h, p)| *h == host && *p == port) {
                    out.push((host, port));
                }
            }
        }
        if out.is_empty() {
            return Err(crate::error::protocol("CLUSTER SLOTS listed no primaries"));
        }
        Ok(out)
    }
}

fn scan_cmd(cursor: u64, pattern: &[u8]) -> Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(SCAN_COUNT);
    cmd
}

/// Escapes the glob characters of Redis' MATCH (`* ? [ ] \`) so `prefix` matches literally.
pub(crate) fn glob_escape(prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 8);
    for &b in prefix {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::glob_escape;

    #[test]
    fn escapes_glob_characters() {
        assert_eq!(
            glob_escape(b"a*b?c[d]e\\f"),
            b"a\\*b\\?c\\[d\\]e\\\\f".to_vec()
        );
        assert_eq!(glob_escape(b"app:\x1fname"), b"app:\x1fname".to_vec());
    }
}
