//! The fleet acceptance tests (issue 20): real processes, real backends, real Redis.
//!
//! This binary has its own `main` (`harness = false`): run without arguments (or with a name
//! filter) it runs the scenarios; run as `fleet --fleet-node` it is one process of a fleet,
//! driven over stdin/stdout by a scenario (its settings come from the environment, never from
//! the command line). Backend reads are counted at the server: OpenBao's file audit device,
//! moto's request recorder.
//!
//! ```text
//! source /work/testenv.sh && cargo test -p strongroom-redis --test fleet [-- FILTER]
//! ```
//!
//! `FLEET_TRACE=DIR` makes every node log its cache calls to `DIR/<pid>.log` (see `trace`).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use futures_util::FutureExt;
use serde_json::Value;
use strongroom_aws::AwsConfig;
use strongroom_core::config::{ProviderConfig, StoreConfig};
use strongroom_core::seal::SealKey;
use strongroom_core::{
    CachePolicy, ReadOptions, SecretName, SecretStore, SecretStoreExt, WriteOptions,
};
use strongroom_hcp_vault::HcpVaultConfig;
use strongroom_redis::{FleetEvent, RedisConfig};
use strongroom_testkit::proxy::{FaultProxy, ProxyMode};
use strongroom_testkit::servers::moto::{self, Moto};
use strongroom_testkit::servers::redis::{RedisCluster, RedisServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

const PROCESSES: usize = 50;
const TASKS: usize = 20;

type Scenario = fn() -> futures_util::future::BoxFuture<'static, ()>;

fn scenarios() -> Vec<(&'static str, Scenario)> {
    vec![
        ("cold_fleet_reads_openbao_once_on_a_single_redis", || {
            cold_fleet(Backend::OpenBao, Topology::Single).boxed()
        }),
        ("cold_fleet_reads_openbao_once_on_a_cluster", || {
            cold_fleet(Backend::OpenBao, Topology::Cluster).boxed()
        }),
        ("cold_fleet_reads_moto_once_on_a_single_redis", || {
            cold_fleet(Backend::Moto, Topology::Single).boxed()
        }),
        ("cold_fleet_reads_moto_once_on_a_cluster", || {
            cold_fleet(Backend::Moto, Topology::Cluster).boxed()
        }),
        ("a_killed_lease_holder_is_replaced_without_errors", || {
            killed_holder().boxed()
        }),
        ("near_copies_drop_within_50ms_of_a_write_p99", || {
            near_latency().boxed()
        }),
        (
            "restart_or_cut_subscription_never_serves_a_replaced_value",
            || restart_and_cut().boxed(),
        ),
        ("watches_refresh_once_per_fleet", || {
            watches_once_per_fleet().boxed()
        }),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--fleet-node") {
        node::main();
        return;
    }
    if args.iter().any(|a| a == "--list") {
        for (name, _) in scenarios() {
            println!("{name}: test");
        }
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let chosen: Vec<_> = scenarios()
        .into_iter()
        .filter(|(name, _)| {
            filters.is_empty()
                || filters.iter().any(|f| {
                    if exact {
                        name == f
                    } else {
                        name.contains(f.as_str())
                    }
                })
        })
        .collect();
    println!("\nrunning {} tests", chosen.len());
    let started = Instant::now();
    let mut failed = Vec::new();
    for (name, scenario) in &chosen {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let t = Instant::now();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(scenario())));
        drop(rt);
        match outcome {
            Ok(()) => println!("test {name} ... ok ({:.1?})", t.elapsed()),
            Err(_) => {
                println!("test {name} ... FAILED ({:.1?})", t.elapsed());
                failed.push(*name);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; finished in {:.1?}",
        if failed.is_empty() { "ok" } else { "FAILED" },
        chosen.len() - failed.len(),
        failed.len(),
        started.elapsed()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

// ---- backends, counted at the server ------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Backend {
    OpenBao,
    Moto,
}

#[derive(Clone, Copy, Debug)]
enum Topology {
    Single,
    Cluster,
}

/// A running backend, with its reads counted at the server.
enum Server {
    OpenBao(Bao),
    Moto { moto: Moto },
}

/// `bao server -dev` with a file audit device declared in its configuration (OpenBao 2.x
/// refuses to enable audit devices through the API). Killed on drop.
struct Bao {
    child: std::process::Child,
    port: u16,
    token: String,
    dir: tempfile::TempDir,
}

impl Bao {
    async fn start() -> Bao {
        let bin = strongroom_testkit::servers::find_tool("STRONGROOM_BAO_BIN", "bao", "hcp-vault");
        let dir = tempfile::tempdir().expect("temp dir");
        let audit = dir.path().join("audit.log");
        let config = dir.path().join("audit.hcl");
        std::fs::write(
            &config,
            format!(
                "audit \"file\" \"fleet\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n",
                audit.display()
            ),
        )
        .expect("write the OpenBao config");
        let port = strongroom_testkit::servers::free_port_pair();
        let token = format!("root-{:016x}", rand::random::<u64>());
        let log = std::fs::File::create(dir.path().join("bao.log")).expect("log");
        let child = std::process::Command::new(bin)
            .arg("server")
            .arg("-dev")
            .arg(format!("-dev-root-token-id={token}"))
            .arg("-dev-no-store-token")
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .arg(format!("-config={}", config.display()))
            .env("HOME", dir.path())
            .env_remove("VAULT_ADDR")
            .env_remove("BAO_ADDR")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start bao");
        let bao = Bao {
            child,
            port,
            token,
            dir,
        };
        let client = reqwest::Client::new();
        strongroom_testkit::servers::wait_until("OpenBao", Duration::from_secs(30), || async {
            client
                .get(format!("{}/v1/secret/config", bao.url()))
                .header("X-Vault-Token", &bao.token)
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 200)
        })
        .await;
        bao
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn audit_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default()
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(backend: Backend) -> Server {
        match backend {
            Backend::OpenBao => Server::OpenBao(Bao::start().await),
            Backend::Moto => {
                let moto = Moto::start().await;
                let resp = reqwest::Client::new()
                    .post(format!(
                        "{}/moto-api/recorder/start-recording",
                        moto.endpoint()
                    ))
                    .send()
                    .await
                    .expect("start moto's recorder");
                assert!(resp.status().is_success());
                Server::Moto { moto }
            }
        }
    }

    /// The variables a node needs to reach this backend directly.
    fn env(&self) -> Vec<(String, String)> {
        match self {
            Server::OpenBao(bao) => vec![
                ("FLEET_BACKEND".into(), "vault".into()),
                ("HCP_VAULT_ADDR".into(), bao.url()),
                ("HCP_VAULT_TOKEN".into(), bao.token.clone()),
            ],
            Server::Moto { moto } => vec![
                ("FLEET_BACKEND".into(), "aws".into()),
                (
                    "AWS_ENDPOINT_URL_SECRETS_MANAGER".into(),
                    moto.endpoint().into(),
                ),
                ("AWS_REGION".into(), moto::REGION.into()),
                ("AWS_ACCESS_KEY_ID".into(), moto::ACCESS_KEY_ID.into()),
                (
                    "AWS_SECRET_ACCESS_KEY".into(),
                    moto::SECRET_ACCESS_KEY.into(),
                ),
                ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ],
        }
    }

    /// The backend store itself (no cache), to seed and change secrets.
    fn store(&self) -> Arc<dyn SecretStore> {
        let env = self.env();
        let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match self {
            Server::OpenBao(_) => Arc::new(
                HcpVaultConfig::from_lookup(lookup)
                    .unwrap()
                    .build()
                    .unwrap(),
            ),
            Server::Moto { .. } => {
                Arc::new(AwsConfig::from_lookup(lookup).unwrap().build().unwrap())
            }
        }
    }

    /// Reads of `name` that reached the server so far.
    async fn reads_of(&self, name: &str) -> usize {
        match self {
            Server::OpenBao(bao) => {
                let path = format!("secret/data/{name}");
                bao.audit_log()
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .filter(|v| {
                        v["type"] == "request"
                            && v["request"]["operation"] == "read"
                            && v["request"]["path"] == path.as_str()
                    })
                    .count()
            }
            Server::Moto { moto } => {
                let text = reqwest::get(format!(
                    "{}/moto-api/recorder/download-recording",
                    moto.endpoint()
                ))
                .await
                .expect("moto recording")
                .text()
                .await
                .expect("moto recording body");
                text.lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .filter(|v| {
                        let target = v["headers"]["X-Amz-Target"].as_str().unwrap_or_default();
                        let body = v["body"].as_str().unwrap_or_default();
                        let body = if v["body_encoded"] == true {
                            base64::engine::general_purpose::STANDARD
                                .decode(body)
                                .map(|b| String::from_utf8_lossy(&b).into_owned())
                                .unwrap_or_default()
                        } else {
                            body.to_owned()
                        };
                        matches!(
                            target,
                            "secretsmanager.GetSecretValue" | "secretsmanager.BatchGetSecretValue"
                        ) && body.contains(&format!("\"{name}\""))
                    })
                    .count()
            }
        }
    }
}

enum Redis {
    Single(RedisServer),
    Cluster(RedisCluster),
}

impl Redis {
    fn start(topology: Topology) -> Redis {
        match topology {
            Topology::Single => Redis::Single(RedisServer::start()),
            Topology::Cluster => Redis::Cluster(RedisCluster::start(3)),
        }
    }

    fn env(&self) -> (String, String) {
        match self {
            Redis::Single(s) => ("STRONGROOM_REDIS_URL".into(), s.url()),
            Redis::Cluster(c) => ("STRONGROOM_REDIS_CLUSTER_URLS".into(), c.urls().join(",")),
        }
    }
}

// ---- fleet processes ----------------------------------------------------------------------

/// One node process, driven line by line.
struct Node {
    child: Child,
    stdin: ChildStdin,
    out: Lines<BufReader<ChildStdout>>,
    err: Option<Lines<BufReader<ChildStderr>>>,
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

impl Node {
    /// Starts a node with exactly `env` (nothing inherited but `PATH`), waits for `ready`.
    async fn start(env: &[(String, String)]) -> Node {
        let mut cmd = Command::new(std::env::current_exe().expect("this test binary"));
        cmd.arg("--fleet-node")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(trace::dir().map(|d| ("FLEET_TRACE", d)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start a fleet node");
        let stdin = child.stdin.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap()).lines();
        let err = Some(BufReader::new(child.stderr.take().unwrap()).lines());
        let mut node = Node {
            child,
            stdin,
            out,
            err,
        };
        node.expect("ready").await;
        node
    }

    async fn send(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write to a node");
        self.stdin.flush().await.expect("flush to a node");
    }

    /// The next stdout line starting with `word` (other lines are progress notes).
    async fn expect(&mut self, word: &str) -> String {
        let deadline = Duration::from_secs(120);
        let mut skipped = Vec::new();
        let line = tokio::time::timeout(deadline, async {
            loop {
                match self.out.next_line().await.expect("node stdout") {
                    Some(l) if l.split(' ').next() == Some(word) => return l,
                    Some(l) => skipped.push(l),
                    None => return String::new(),
                }
            }
        })
        .await
        .unwrap_or_default();
        if line.is_empty() {
            let mut stderr = String::new();
            if let Some(mut err) = self.err.take() {
                while let Ok(Ok(Some(l))) =
                    tokio::time::timeout(Duration::from_secs(1), err.next_line()).await
                {
                    stderr.push_str(&l);
                    stderr.push('\n');
                }
            }
            panic!("a fleet node did not say `{word}`; it said {skipped:?}; its stderr:\n{stderr}");
        }
        line
    }

    /// The next stderr line starting with `word` (the node's event stream).
    async fn event(&mut self, word: &str) -> String {
        let err = self.err.as_mut().expect("stderr");
        tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                match err.next_line().await.expect("node stderr") {
                    Some(l) if l.split(' ').next() == Some(word) => return l,
                    Some(_) => {}
                    None => panic!("the node ended before `{word}`"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no `{word}` event"))
    }
}

struct Fleet {
    env: Vec<(String, String)>,
}

impl Fleet {
    fn new(
        server: &Server,
        redis: (String, String),
        secret: &str,
        extra: &[(&str, &str)],
    ) -> Fleet {
        let mut env = server.env();
        env.push(redis);
        env.push((
            "STRONGROOM_REDIS_KEY".into(),
            SealKey::generate().to_base64().to_string(),
        ));
        env.push((
            "STRONGROOM_REDIS_PREFIX".into(),
            format!("fleet-{:08x}:", rand::random::<u32>()),
        ));
        env.push(("STRONGROOM_REDIS_TIMEOUT".into(), "2s".into()));
        env.push(("FLEET_SECRET".into(), secret.into()));
        for (k, v) in extra {
            env.push(((*k).into(), (*v).into()));
        }
        Fleet { env }
    }

    async fn start(&self, n: usize) -> Vec<Node> {
        let starts = (0..n).map(|_| Node::start(&self.env));
        futures_util::future::join_all(starts).await
    }

    fn with(&self, extra: &[(&str, &str)]) -> Fleet {
        let mut env = self.env.clone();
        for (k, v) in extra {
            env.retain(|(n, _)| n != k);
            env.push(((*k).into(), (*v).into()));
        }
        Fleet { env }
    }
}

fn secret_name() -> String {
    format!("fleet-{:08x}", rand::random::<u32>())
}

async fn seed(server: &Server, name: &str, value: &str) {
    server
        .store()
        .write(
            &SecretName::new(name).unwrap(),
            value.into(),
            &WriteOptions::new(),
        )
        .await
        .expect("seed the secret");
}

/// `stats leads=1 joined=0 …` → map.
fn stats(line: &str) -> HashMap<String, u64> {
    line.split(' ')
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.parse().unwrap_or(0)))
        .collect()
}

// ---- scenarios -----------------------------------------------------------------------------

/// 50 processes × 20 concurrent cold reads of one secret → exactly 1 backend read.
async fn cold_fleet(backend: Backend, topology: Topology) {
    let server = Server::start(backend).await;
    let redis = Redis::start(topology);
    let name = secret_name();
    seed(&server, &name, "cold-value-1").await;
    let fleet = Fleet::new(&server, redis.env(), &name, &[]);
    let mut nodes = fleet.start(PROCESSES).await;
    let before = server.reads_of(&name).await;
    let t = Instant::now();
    for node in &mut nodes {
        node.send(&format!("go {TASKS}")).await;
    }
    let mut totals: HashMap<String, u64> = HashMap::new();
    for node in &mut nodes {
        let result = node.expect("result").await;
        assert_eq!(
            result,
            format!("result ok {TASKS} cold-value-1"),
            "every read answered"
        );
        for (k, v) in stats(&node.expect("stats").await) {
            *totals.entry(k).or_default() += v;
        }
    }
    let elapsed = t.elapsed();
    let reads = server.reads_of(&name).await - before;
    println!(
        "  {backend:?} / {topology:?}: {PROCESSES} processes x {TASKS} reads -> {reads} backend read(s) in {elapsed:.1?}; fleet stats {totals:?}"
    );
    assert_eq!(
        reads, 1,
        "one backend read for the whole cold fleet ({totals:?})"
    );
    assert_eq!(totals["leads"], 1);
    assert_eq!(totals["alone"], 0);
}

/// The lease holder is SIGKILLed while its backend read hangs: the others still get the value,
/// without an error, once its lease expires — one backend read in all.
async fn killed_holder() {
    let server = Server::start(Backend::OpenBao).await;
    let Server::OpenBao(bao) = &server else {
        unreachable!()
    };
    let redis = Redis::start(Topology::Single);
    let name = secret_name();
    seed(&server, &name, "survives-the-holder").await;
    let lease_ttl = Duration::from_secs(1);
    // Every node reaches OpenBao through one proxy (one address, so one cache scope). While
    // it accepts and never answers, the holder's read hangs; the others only talk to Redis
    // until the lease is theirs, and by then the proxy passes again.
    let proxy = FaultProxy::start(bao.addr()).await;
    proxy.set_mode(ProxyMode::Blackhole);
    let fleet = Fleet::new(
        &server,
        redis.env(),
        &name,
        &[
            ("STRONGROOM_REDIS_LEASE_TTL", "1s"),
            ("STRONGROOM_REDIS_LEASE_WAIT", "30s"),
        ],
    )
    .with(&[("HCP_VAULT_ADDR", &proxy.http_url())]);
    let mut holder = Node::start(&fleet.env).await;
    let before = server.reads_of(&name).await;
    holder.send("go 1").await;
    holder.expect("lead").await;
    let mut others = fleet.start(PROCESSES - 1).await;
    for node in &mut others {
        node.send(&format!("go {TASKS}")).await;
    }
    for node in &mut others {
        node.expect("waiting").await;
    }
    let killed = Instant::now();
    holder.child.kill().await.expect("SIGKILL the holder");
    proxy.set_mode(ProxyMode::Pass);
    let mut totals: HashMap<String, u64> = HashMap::new();
    for node in &mut others {
        let result = node.expect("result").await;
        assert_eq!(
            result,
            format!("result ok {TASKS} survives-the-holder"),
            "no error, the value"
        );
        for (k, v) in stats(&node.expect("stats").await) {
            *totals.entry(k).or_default() += v;
        }
    }
    let after_kill = killed.elapsed();
    let reads = server.reads_of(&name).await - before;
    println!(
        "  holder killed: {} processes got the value {after_kill:.2?} after the kill (lease {lease_ttl:?}); {reads} backend read(s); stats {totals:?}",
        PROCESSES - 1
    );
    assert_eq!(
        reads, 1,
        "the holder's read never reached OpenBao; one takeover read"
    );
    assert_eq!(totals["alone"], 0, "nobody gave up and read alone");
    assert_eq!(
        totals["leads"], 1,
        "exactly one process took the lease over"
    );
    // Structural bound: a takeover, not the 30 s wait bound.
    assert!(after_kill < Duration::from_secs(15), "took {after_kill:?}");
}

/// A writes, B's near copy drops: 100 writes, p99 of (B dropped) − (A's write returned).
async fn near_latency() {
    let server = Server::start(Backend::OpenBao).await;
    let redis = Redis::start(Topology::Single);
    let name = secret_name();
    seed(&server, &name, "v0").await;
    let fleet = Fleet::new(
        &server,
        redis.env(),
        &name,
        &[("STRONGROOM_REDIS_NEAR", "true"), ("FLEET_TTL", "600")],
    );
    let mut a = Node::start(&fleet.env).await;
    let mut b = Node::start(&fleet.env).await;
    b.send("events").await;
    b.expect("events").await;
    let mut latencies = Vec::with_capacity(100);
    for i in 0..100 {
        let (old, new) = (format!("v{i}"), format!("v{}", i + 1));
        // B holds the current value near (the second read is a near hit).
        let first = read(&mut b).await;
        assert!(first.starts_with(&format!("value {old} ")), "{first}");
        let second = read(&mut b).await;
        let hits = |l: &str| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap();
        assert_eq!(
            hits(&second),
            hits(&first) + 1,
            "B answers from its near copy"
        );
        a.send(&format!("write {new}")).await;
        let wrote: u128 = a.expect("wrote").await[6..].parse().unwrap();
        // Two invalidations per write (before and after the backend write); after the
        // second, B's near cache cannot hold the old value.
        b.event("inv").await;
        let dropped: u128 = b.event("inv").await[4..].parse().unwrap();
        latencies.push(dropped as i128 - wrote as i128);
        let seen = read(&mut b).await;
        assert!(
            seen.starts_with(&format!("value {new} ")),
            "B sees A's write: {seen}"
        );
        // Start the next round from the value B just read.
        read(&mut b).await;
    }
    // Negative: B's copy was gone before A's write call had returned (the invalidation is
    // published inside the script, before its reply travels back to A).
    latencies.sort_unstable();
    let ms = |ns: i128| ns as f64 / 1e6;
    let (min, p50, p99, max) = (latencies[0], latencies[49], latencies[98], latencies[99]);
    println!(
        "  near invalidation, 100 writes, B's near copy gone minus A's write returned: min {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        ms(min),
        ms(p50),
        ms(p99),
        ms(max)
    );
    assert!(p99 <= 50_000_000, "p99 {:.3} ms > 50 ms", ms(p99));
}

/// Redis restarted, or the subscription cut: no read returns a value a write replaced.
async fn restart_and_cut() {
    let server = Server::start(Backend::OpenBao).await;
    let mut redis_server = RedisServer::start();
    let name = secret_name();
    seed(&server, &name, "r1").await;
    let fleet = Fleet::new(
        &server,
        ("STRONGROOM_REDIS_URL".into(), redis_server.url()),
        &name,
        &[("STRONGROOM_REDIS_NEAR", "true"), ("FLEET_TTL", "600")],
    );
    let mut a = Node::start(&fleet.env).await;
    let mut b = Node::start(&fleet.env).await;
    b.send("events").await;
    b.expect("events").await;
    assert!(read(&mut b).await.starts_with("value r1 "));
    assert!(read(&mut b).await.starts_with("value r1 "));
    // 1. Redis restarts; a write lands while it is down (its invalidation is lost).
    redis_server.stop();
    b.event("down").await;
    a.send("write r2").await;
    a.expect("wrote").await;
    assert!(
        read(&mut b).await.starts_with("value r2 "),
        "no near copy served while down"
    );
    redis_server.start_again();
    b.event("up").await;
    for _ in 0..3 {
        assert!(read(&mut b).await.starts_with("value r2 "));
    }
    // 2. The subscription is cut (no restart); a write lands meanwhile.
    redis_server
        .command(&["CLIENT", "KILL", "TYPE", "pubsub"])
        .unwrap();
    b.event("down").await;
    a.send("write r3").await;
    a.expect("wrote").await;
    b.event("up").await;
    for _ in 0..3 {
        assert!(read(&mut b).await.starts_with("value r3 "));
    }
    println!("  restart and cut: B never answered a replaced value");
}

/// Ten processes watch one secret (TTL 2 s, refresh at 80 %): a rotation in the backend
/// reaches every watch with one or two backend reads, not one per process.
async fn watches_once_per_fleet() {
    const WATCHERS: usize = 10;
    let server = Server::start(Backend::OpenBao).await;
    let redis = Redis::start(Topology::Single);
    let name = secret_name();
    seed(&server, &name, "w1").await;
    let fleet = Fleet::new(&server, redis.env(), &name, &[("FLEET_TTL", "2")]);
    let mut nodes = fleet.start(WATCHERS).await;
    let before = server.reads_of(&name).await;
    for node in &mut nodes {
        node.send("watch").await;
    }
    for node in &mut nodes {
        assert_eq!(node.expect("watching").await, "watching w1");
    }
    let cold = server.reads_of(&name).await - before;
    let rotated = Instant::now();
    seed(&server, &name, "w2").await;
    let before = server.reads_of(&name).await;
    for node in &mut nodes {
        assert_eq!(node.expect("changed").await, "changed w2");
    }
    let reads = server.reads_of(&name).await - before;
    println!(
        "  {WATCHERS} watching processes: {cold} read(s) to start; the rotation reached all of them in {:.2?} with {reads} backend read(s)",
        rotated.elapsed()
    );
    assert_eq!(cold, 1, "the watches started with one read");
    assert!(
        (1..=2).contains(&reads),
        "one refresh per period for the fleet, got {reads}"
    );
}

async fn read(node: &mut Node) -> String {
    node.send("read").await;
    node.expect("value").await
}

// ---- the node process ----------------------------------------------------------------------

mod node {
    use super::*;
    use std::io::Write;

    pub(super) fn main() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(run());
    }

    fn say(line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn note(line: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
        let _ = err.flush();
    }

    async fn run() {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        let cache = RedisConfig::from_env()
            .expect("redis settings")
            .build()
            .await
            .expect("redis cache");
        let ttl = var("FLEET_TTL").parse().unwrap_or(300);
        let policy = CachePolicy::new("fleet").ttl(Duration::from_secs(ttl));
        let shared: Arc<dyn strongroom_core::SecretCache> = match trace::dir() {
            Some(dir) => Arc::new(trace::Traced::start(cache.clone(), dir)),
            None => Arc::new(cache.clone()),
        };
        let store: Arc<dyn SecretStore> = match var("FLEET_BACKEND").as_str() {
            "vault" => Arc::new(
                HcpVaultConfig::from_env()
                    .expect("vault settings")
                    .build()
                    .expect("vault store")
                    .with_cache(shared, policy),
            ),
            "aws" => Arc::new(
                AwsConfig::from_env()
                    .expect("aws settings")
                    .build()
                    .expect("aws store")
                    .with_cache(shared, policy),
            ),
            other => panic!("unknown FLEET_BACKEND {other:?}"),
        };
        let name = SecretName::new(var("FLEET_SECRET")).expect("FLEET_SECRET");
        // A cold cache, not cold connections: connect (and subscribe) before saying ready, as
        // a long-running process has long done.
        let warm = async {
            while cache.ping().await.is_err() || !cache.subscription_live() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), warm)
            .await
            .expect("Redis and the subscription within 30 s");
        // Progress notes for the driver: when this process leads a fill, when it waits.
        let watcher = cache.clone();
        tokio::spawn(async move {
            let (mut lead, mut wait) = (false, false);
            loop {
                let s = watcher.fleet_stats();
                if s.leads > 0 && !lead {
                    lead = true;
                    say("lead");
                }
                if s.waits > 0 && !wait {
                    wait = true;
                    say("waiting");
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        say("ready");
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let (cmd, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            match cmd {
                "go" => {
                    let tasks: usize = arg.parse().unwrap_or(1);
                    let reads = (0..tasks).map(|_| {
                        let (store, name) = (Arc::clone(&store), name.clone());
                        tokio::spawn(async move { store.read(&name, &ReadOptions::new()).await })
                    });
                    let results = futures_util::future::join_all(reads).await;
                    let mut values = Vec::new();
                    let mut error = None;
                    for r in results {
                        match r.expect("read task") {
                            Ok(Some(s)) => {
                                values.push(s.value.expose_str().unwrap_or_default().to_owned())
                            }
                            Ok(None) => error = Some("absent".to_owned()),
                            Err(e) => error = Some(e.to_string()),
                        }
                    }
                    values.dedup();
                    match (error, values.as_slice()) {
                        (None, [v]) => say(&format!("result ok {tasks} {v}")),
                        (Some(e), _) => say(&format!("result err {e}")),
                        (None, _) => say(&format!("result mixed {}", values.len())),
                    }
                    let s = cache.fleet_stats();
                    say(&format!(
                        "stats leads={} joined={} alone={} waits={}",
                        s.leads, s.joined, s.alone, s.waits
                    ));
                }
                "read" => {
                    let got = store.read(&name, &ReadOptions::new()).await;
                    let value = match got {
                        Ok(Some(s)) => s.value.expose_str().unwrap_or_default().to_owned(),
                        Ok(None) => "<absent>".to_owned(),
                        Err(e) => format!("<error {e}>"),
                    };
                    say(&format!("value {value} {}", cache.fleet_stats().near_hits));
                }
                "write" => {
                    store
                        .write(&name, arg.to_owned().into(), &WriteOptions::new())
                        .await
                        .expect("write");
                    say(&format!("wrote {}", unix_nanos()));
                }
                "events" => {
                    // Events go to stderr, one line each, as they happen.
                    let mut events = cache.events();
                    let scope = strongroom_core::CacheScope::of(
                        &store.info().address,
                        &store.info().identity,
                    );
                    let tag = cache.name_tag(scope, &name);
                    tokio::spawn(async move {
                        while let Ok(e) = events.recv().await {
                            match e {
                                FleetEvent::Invalidated { tag: t, at } if t == tag => {
                                    note(&format!(
                                        "inv {}",
                                        at.duration_since(UNIX_EPOCH).unwrap().as_nanos()
                                    ))
                                }
                                FleetEvent::SubscriptionDown => note("down"),
                                FleetEvent::SubscriptionUp => note("up"),
                                _ => {}
                            }
                        }
                    });
                    say("events");
                }
                "watch" => {
                    let mut watch = store
                        .watch(&name, &strongroom_core::WatchOptions::new())
                        .await
                        .expect("watch");
                    let value = |w: &strongroom_core::SecretWatch| {
                        w.current()
                            .map(|s| s.value.expose_str().unwrap_or_default().to_owned())
                            .unwrap_or_default()
                    };
                    say(&format!("watching {}", value(&watch)));
                    tokio::spawn(async move {
                        while watch.changed().await.is_ok() {
                            say(&format!("changed {}", value(&watch)));
                        }
                    });
                }
                "quit" => return,
                other => panic!("unknown command {other:?}"),
            }
        }
    }
}

// ---- opt-in trace of each node's cache calls ----------------------------------------------

/// With `FLEET_TRACE=DIR`, every node appends its cache calls (and a tick every 100 ms, to
/// show its runtime was alive) to `DIR/<pid>.log`, one `unix-nanos pid event` line each —
/// what it takes to see why a fleet made more than one backend read.
mod trace {
    use super::*;
    use std::io::Write;
    use strongroom_core::{
        CacheEntry, CacheEntryInfo, CacheKey, CacheScope, Fill, KeyRef, SecretCache,
    };
    use strongroom_redis::RedisCache;

    pub(super) fn dir() -> Option<String> {
        std::env::var("FLEET_TRACE").ok()
    }

    /// A [`RedisCache`] that logs each call.
    #[derive(Debug)]
    pub(super) struct Traced {
        cache: RedisCache,
        file: String,
    }

    fn nanos(t: SystemTime) -> u128 {
        t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
    }

    impl Traced {
        pub(super) fn start(cache: RedisCache, dir: String) -> Traced {
            let traced = Traced {
                cache,
                file: format!("{dir}/{}.log", std::process::id()),
            };
            let file = traced.file.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    log(&file, "tick");
                }
            });
            traced
        }

        fn log(&self, event: &str) {
            log(&self.file, event);
        }
    }

    fn log(file: &str, event: &str) {
        let line = format!("{} {} {event}\n", unix_nanos(), std::process::id());
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }

    #[strongroom_core::async_trait]
    impl SecretCache for Traced {
        fn try_get_local(&self, key: &KeyRef<'_>) -> Option<Option<CacheEntry>> {
            self.cache.try_get_local(key)
        }
        async fn get(&self, key: &CacheKey) -> strongroom_core::Result<Option<CacheEntry>> {
            self.log("get>");
            let got = self.cache.get(key).await;
            self.log(&match &got {
                Ok(Some(e)) => format!("get< hit stored_at={}", nanos(e.stored_at)),
                Ok(None) => "get< miss".into(),
                Err(e) => format!("get< error {e}"),
            });
            got
        }
        async fn set(
            &self,
            key: &CacheKey,
            entry: CacheEntry,
            ttl: Duration,
        ) -> strongroom_core::Result<()> {
            self.log("set>");
            let done = self.cache.set(key, entry, ttl).await;
            let refused = self.cache.fleet_stats().stale_stores_refused;
            self.log(&format!("set< ok={} refused={refused}", done.is_ok()));
            done
        }
        async fn invalidate(
            &self,
            scope: CacheScope,
            name: &SecretName,
        ) -> strongroom_core::Result<()> {
            self.log("invalidate");
            self.cache.invalidate(scope, name).await
        }
        async fn clear(&self, scope: Option<CacheScope>) -> strongroom_core::Result<()> {
            self.cache.clear(scope).await
        }
        async fn entries(&self) -> strongroom_core::Result<Vec<CacheEntryInfo>> {
            self.cache.entries().await
        }
        fn generation(&self, scope: CacheScope, name: &SecretName) -> u64 {
            let generation = self.cache.generation(scope, name);
            self.log(&format!("generation {generation}"));
            generation
        }
        async fn begin_fill(&self, key: &CacheKey) -> Fill {
            self.log("begin>");
            let fill = self.cache.begin_fill(key).await;
            self.log(&match &fill {
                Fill::Lead(lease) => format!("begin< lead {lease}"),
                Fill::Ready(e) => format!("begin< ready stored_at={}", nanos(e.stored_at)),
                Fill::Alone => "begin< alone".into(),
                _ => "begin< other".into(),
            });
            fill
        }
        async fn end_fill(&self, key: &CacheKey, lease: u64) {
            self.log("end>");
            self.cache.end_fill(key, lease).await;
            self.log(&format!("end< {:?}", self.cache.fleet_stats()));
        }
    }
}
