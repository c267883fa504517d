//! Launchers for real `redis-server` processes: a single server that can be stopped, paused and
//! started again on the same port, and an N-node Redis Cluster. Each process runs with
//! `--save "" --appendonly no` in its own temporary directory and is killed on drop.
//!
//! The binaries are found with [`find_tool`](super::find_tool)
//! (`STRONGROOM_REDIS_SERVER_BIN` / `redis-server`, `STRONGROOM_REDIS_CLI_BIN` / `redis-cli`).
//! The shared server on 127.0.0.1:6379 (or `STRONGROOM_REDIS_URL`) is [`shared_url`].
//!
//! ```no_run
//! use strongroom_testkit::servers::redis::{RedisCluster, RedisServer};
//! let mut server = RedisServer::start();
//! let url = server.url();
//! server.stop();
//! server.start_again();
//! let cluster = RedisCluster::start(3);
//! let seeds = cluster.urls();
//! # let _ = (url, seeds);
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{find_tool, free_port};

/// `redis-server`.
pub fn server_bin() -> PathBuf {
    find_tool("STRONGROOM_REDIS_SERVER_BIN", "redis-server", "redis")
}

/// `redis-cli`.
pub fn cli_bin() -> PathBuf {
    find_tool("STRONGROOM_REDIS_CLI_BIN", "redis-cli", "redis")
}

/// The shared Redis the tests use: `STRONGROOM_REDIS_URL`, else `redis://127.0.0.1:6379`.
/// Panics with instructions when it does not answer `PING` (never a silent skip). Tests must
/// use a unique key prefix on it and never `FLUSHDB`.
pub fn shared_url() -> String {
    let url = std::env::var("STRONGROOM_REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let addr = url
        .trim_start_matches("redis://")
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    match command_at(&addr, &["PING"]) {
        Ok(reply) if reply == "PONG" => url,
        other => panic!(
            "the shared Redis at {addr} does not answer PING ({other:?}). Start it with \
             `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no` \
             or run `cargo xtask integration --provider redis`."
        ),
    }
}

/// Sends one command in RESP to `addr` and returns the reply (simple string, integer or bulk
/// string as text; an error reply as `Err`).
pub fn command_at(addr: &str, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(req.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(line.len().min(1));
    match kind {
        "+" | ":" => Ok(rest.to_owned()),
        "-" => Err(std::io::Error::other(rest.to_owned())),
        "$" => {
            let n: i64 = rest.parse().map_err(std::io::Error::other)?;
            if n < 0 {
                return Ok(String::new());
            }
            let mut buf = vec![0u8; n as usize + 2];
            reader.read_exact(&mut buf)?;
            buf.truncate(n as usize);
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        _ => Err(std::io::Error::other(format!("unexpected reply {line:?}"))),
    }
}

fn spawn(dir: &Path, port: u16, extra: &[String]) -> Child {
    let mut cmd = Command::new(server_bin());
    cmd.arg("--port")
        .arg(port.to_string())
        .arg("--bind")
        .arg("127.0.0.1")
        .arg("--save")
        .arg("")
        .arg("--appendonly")
        .arg("no")
        .arg("--daemonize")
        .arg("no")
        .arg("--protected-mode")
        .arg("no")
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join("redis.log"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn()
        .unwrap_or_else(|e| panic!("cannot start redis-server on port {port}: {e}"))
}

fn wait_ready(port: u16, child: &mut Child, dir: &Path) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
            return Err(format!(
                "redis-server on port {port} exited ({status}) during start-up:\n{log}"
            ));
        }
        match command_at(&format!("127.0.0.1:{port}"), &["PING"]) {
            Ok(r) if r == "PONG" => return Ok(()),
            // Up, but with a password (`--requirepass`): ready all the same.
            Err(e) if e.to_string().starts_with("NOAUTH") => return Ok(()),
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "redis-server on port {port} did not answer PING within 10 s"
    ))
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// One `redis-server` on a free loopback port.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    child: Option<Child>,
    tls: Option<(u16, crate::fake::TestCa)>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments (e.g. `--requirepass x`).
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("strongroom-redis-")
            .tempdir()
            .expect("temp dir");
        let mut server = RedisServer {
            port: free_port(),
            dir,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
            tls: None,
        };
        server.start_again();
        server
    }

    /// Starts a server that also serves TLS on a second free port, with a fresh test CA and a
    /// certificate for `localhost` / `127.0.0.1` (clients need no certificate). The plain port
    /// stays open for readiness checks and [`RedisServer::command`].
    pub fn start_tls() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("strongroom-redis-tls-")
            .tempdir()
            .expect("temp dir");
        let ca = crate::fake::TestCa::new();
        let write = |file: &str, pem: &str| {
            let path = dir.path().join(file);
            std::fs::write(&path, pem).expect("write PEM");
            path.to_string_lossy().into_owned()
        };
        let cert = write("server.crt", &ca.server_cert_pem);
        let key = write("server.key", &ca.server_key_pem);
        let ca_file = write("ca.crt", &ca.ca_pem);
        let tls_port = free_port();
        let extra = vec![
            "--tls-port".to_owned(),
            tls_port.to_string(),
            "--tls-cert-file".to_owned(),
            cert,
            "--tls-key-file".to_owned(),
            key,
            "--tls-ca-cert-file".to_owned(),
            ca_file,
            "--tls-auth-clients".to_owned(),
            "no".to_owned(),
        ];
        let mut server = RedisServer {
            port: free_port(),
            dir,
            extra,
            child: None,
            tls: Some((tls_port, ca)),
        };
        server.start_again();
        server
    }

    /// `rediss://127.0.0.1:<tls port>` (servers from [`RedisServer::start_tls`]).
    pub fn tls_url(&self) -> String {
        let (port, _) = self.tls.as_ref().expect("started with start_tls()");
        format!("rediss://127.0.0.1:{port}")
    }

    /// The PEM of the CA that signed the TLS certificate (servers from
    /// [`RedisServer::start_tls`]).
    pub fn ca_pem(&self) -> &str {
        &self
            .tls
            .as_ref()
            .expect("started with start_tls()")
            .1
            .ca_pem
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's own directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server (its data is gone: nothing is saved).
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    /// Starts the server again on the same port (after [`RedisServer::stop`]).
    pub fn start_again(&mut self) {
        self.stop();
        let mut child = spawn(self.dir.path(), self.port, &self.extra);
        if let Err(why) = wait_ready(self.port, &mut child, self.dir.path()) {
            kill(&mut Some(child));
            panic!("{why}");
        }
        self.child = Some(child);
    }

    /// Freezes the process (SIGSTOP): connections stay open but nothing answers — a "slow"
    /// Redis. Undo with [`RedisServer::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a paused process (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.pid().expect("server running");
        let ok = Command::new("kill")
            .arg(sig)
            .arg(pid.to_string())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill {sig} {pid} failed");
    }

    /// Sends one command (see [`command_at`]).
    pub fn command(&self, args: &[&str]) -> std::io::Result<String> {
        command_at(&self.addr(), args)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // SIGKILL also ends a paused (SIGSTOPped) process.
        kill(&mut self.child);
    }
}

/// A Redis Cluster of `n` primaries (no replicas), each its own `redis-server --cluster-enabled
/// yes` on free ports, joined with `redis-cli --cluster create`.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `n` (>= 3) nodes, creates the cluster and waits for `cluster_state:ok` on every
    /// node.
    pub fn start(n: usize) -> Self {
        assert!(n >= 3, "Redis Cluster needs at least 3 primaries");
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            let bus = free_port();
            nodes.push(RedisServer::start_with(&[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                "--cluster-port",
                &bus.to_string(),
            ]));
        }
        let mut create = Command::new(cli_bin());
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(node.addr());
        }
        create
            .arg("--cluster-replicas")
            .arg("0")
            .arg("--cluster-yes")
            .stdin(Stdio::null());
        let out = create.output().expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let start = Instant::now();
        loop {
            let ok = nodes.iter().all(|node| {
                node.command(&["CLUSTER", "INFO"])
                    .map(|info| info.contains("cluster_state:ok"))
                    .unwrap_or(false)
            });
            if ok {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the cluster did not reach cluster_state:ok within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        RedisCluster { nodes }
    }

    /// Seed URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }
}
