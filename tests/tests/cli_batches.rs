//! Batches where users read many secrets (issue 17.3, CLI side) and the `not_supported`
//! status (17.4): `render`, `run` and `copy` group names per manager and read them with one
//! `read_many`, so N placeholders of one manager cost one batch call — counted at the Conjur
//! and Akeyless fakes and, through a recording forwarder, at a real moto.
//!
//! Run: `STRONGROOM_REQUIRE_SERVERS=1 cargo test -p strongroom-tests --test cli_batches`.

mod common;

use std::sync::{Arc, Mutex};

use common::{Cli, manager, toml_str};
use strongroom_testkit::fakes::akeyless::FakeAkeyless;
use strongroom_testkit::fakes::conjur::{FakeConjur, FakeConjurConfig};
use strongroom_testkit::sentinel;
use strongroom_testkit::servers::moto::{self, Moto};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn conjur() -> FakeConjur {
    FakeConjur::start_with(FakeConjurConfig {
        policy_retry_after: (0, 0),
        ..FakeConjurConfig::default()
    })
    .await
}

fn conjur_manager(fake: &FakeConjur) -> String {
    manager(
        "conjur",
        "conjur",
        "read_and_write",
        "",
        &format!(
            "api_base = {}, account = {}, username = {}, api_key = {}",
            toml_str(&fake.url()),
            toml_str(&fake.account()),
            toml_str(&fake.login()),
            toml_str(&fake.api_key())
        ),
    )
}

/// Reads of secret values at the Conjur fake: (batch requests, single-variable requests).
fn conjur_reads(fake: &FakeConjur) -> (usize, usize) {
    let reqs = fake.requests();
    let batch = reqs
        .iter()
        .filter(|r| r.method == "GET" && r.uri.starts_with("/secrets?"))
        .count();
    let single = reqs
        .iter()
        .filter(|r| r.method == "GET" && r.uri.starts_with("/secrets/"))
        .count();
    (batch, single)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conjur_placeholders_cost_one_batch_request() {
    let fake = conjur().await;
    let cli = Cli::new();
    cli.credential(fake.api_key());
    cli.write_config(&conjur_manager(&fake));
    let values: Vec<String> = (0..3)
        .map(|i| cli.secret(sentinel(&format!("v{i}"))))
        .collect();
    for (i, v) in values.iter().enumerate() {
        fake.set_value(&format!("app/s{i}"), v.as_bytes());
    }
    // render: three placeholders of one manager (one used twice).
    fake.clear_requests();
    let template = "a=${secret:conjur/app/s0} b=${secret:conjur/app/s1} c=${secret:conjur/app/s2} a=${secret:conjur/app/s0}";
    cli.run(&["render", "-"], Some(template))
        .await
        .code(0)
        .value(
            &format!(
                "a={} b={} c={} a={}",
                values[0], values[1], values[2], values[0]
            ),
            "render",
        );
    assert_eq!(
        conjur_reads(&fake),
        (1, 0),
        "render: one batch, no single reads"
    );

    // run: three --env values of one manager.
    fake.clear_requests();
    let expected = values.join(",");
    cli.run_env(
        &[
            "run",
            "--env",
            "A=${secret:conjur/app/s0}",
            "--env",
            "B=${secret:conjur/app/s1}",
            "--env",
            "C=${secret:conjur/app/s2}",
            "--",
            "sh",
            "-c",
            "test \"$A,$B,$C\" = \"$EXPECTED\"",
        ],
        None,
        &[("EXPECTED", &expected)],
    )
    .await
    .code(0);
    assert_eq!(
        conjur_reads(&fake),
        (1, 0),
        "run: one batch, no single reads"
    );

    // copy: one batch for the listed names.
    let path = cli.dir().join("copy.json");
    let mut toml = conjur_manager(&fake);
    toml += &manager(
        "local",
        "file",
        "read_and_write",
        "",
        &format!("path = {}", toml_str(&path.display().to_string())),
    );
    cli.write_config(&toml);
    fake.clear_requests();
    let out = cli
        .run(
            &[
                "copy", "--from", "conjur", "--to", "local", "app/", "--json",
            ],
            None,
        )
        .await;
    out.code(0);
    assert_eq!(out.json()["copied"], 3);
    assert_eq!(
        conjur_reads(&fake),
        (1, 0),
        "copy: one batch, no single reads"
    );
    cli.run(&["get", "app/s2", "-m", "local"], None)
        .await
        .code(0)
        .value(&values[2], "copied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conjur_delete_is_not_supported_with_a_code_of_its_own() {
    let fake = conjur().await;
    let cli = Cli::new();
    cli.credential(fake.api_key());
    cli.write_config(&conjur_manager(&fake));
    fake.set_value("app/keep", b"kept");
    let out = cli
        .run(&["delete", "app/keep", "-m", "conjur", "--json"], None)
        .await;
    out.code(5);
    let status = out.json();
    assert_eq!(status["status"], "not_supported", "{status}");
    assert!(
        status["message"].is_string() && status["hint"].is_string(),
        "{status}"
    );
    cli.run(&["delete", "app/keep", "-m", "conjur"], None)
        .await
        .code(5)
        .stderr_has("not_supported");
    cli.run(&["get", "app/keep", "-m", "conjur"], None)
        .await
        .code(0)
        .value("kept", "still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn akeyless_placeholders_cost_one_batch_request() {
    let fake = FakeAkeyless::start().await;
    let cli = Cli::new();
    cli.credential(fake.access_key());
    cli.write_config(&manager(
        "akeyless",
        "akeyless",
        "read_only",
        "",
        &format!(
            "api_host = {}, access_id = {}, access_key = {}",
            toml_str(&fake.url()),
            toml_str(fake.access_id()),
            toml_str(fake.access_key())
        ),
    ));
    let values: Vec<String> = (0..3)
        .map(|i| cli.secret(sentinel(&format!("a{i}"))))
        .collect();
    for (i, v) in values.iter().enumerate() {
        fake.seed_static(&format!("/app/s{i}"), v);
    }
    let before = fake.faults().requests();
    cli.run(
        &["render", "-"],
        Some("${secret:akeyless/app/s0}${secret:akeyless/app/s1}${secret:akeyless/app/s2}"),
    )
    .await
    .code(0)
    .value(&values.concat(), "render");
    // One log-in and one get-secret-value with names[] (three single reads would be four).
    assert_eq!(fake.faults().requests() - before, 2);
}

/// A forwarder in front of moto that records each request's `X-Amz-Target`.
struct Recorder {
    url: String,
    targets: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    async fn start(upstream: String) -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let targets = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&targets);
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(
                    conn,
                    http.clone(),
                    upstream.clone(),
                    Arc::clone(&seen),
                ));
            }
        });
        Recorder { url, targets }
    }

    fn count(&self, target: &str) -> usize {
        self.targets
            .lock()
            .unwrap()
            .iter()
            .filter(|t| t.ends_with(target))
            .count()
    }
}

/// Serves HTTP/1.1 requests of one connection by forwarding each to `upstream`.
async fn serve(
    mut conn: tokio::net::TcpStream,
    http: reqwest::Client,
    upstream: String,
    seen: Arc<Mutex<Vec<String>>>,
) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let (method, path) = (
            first.next().unwrap_or("GET").to_owned(),
            first.next().unwrap_or("/").to_owned(),
        );
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 8192];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[head_end..head_end + len].to_vec();
        buf.drain(..head_end + len);
        if let Some((_, t)) = headers.iter().find(|(k, _)| k == "x-amz-target") {
            seen.lock().unwrap().push(t.clone());
        }
        let mut req = http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{upstream}{path}"),
        );
        for (k, v) in &headers {
            if !matches!(
                k.as_str(),
                "host" | "content-length" | "connection" | "transfer-encoding"
            ) {
                req = req.header(k, v);
            }
        }
        let Ok(resp) = req.body(body).send().await else {
            return;
        };
        let status = resp.status();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        for (k, v) in resp.headers() {
            if !matches!(
                k.as_str(),
                "content-length" | "connection" | "transfer-encoding"
            ) {
                out.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap_or_default()));
            }
        }
        let bytes = resp.bytes().await.unwrap_or_default();
        out.push_str(&format!("content-length: {}\r\n\r\n", bytes.len()));
        if conn.write_all(out.as_bytes()).await.is_err() || conn.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_placeholders_cost_one_batch_call_on_moto() {
    let motos = Moto::start().await;
    let recorder = Recorder::start(motos.endpoint().to_owned()).await;
    let cli = Cli::new();
    cli.write_config(&manager(
        "aws",
        "aws",
        "read_and_write",
        "",
        &format!(
            "region = {}, endpoint_url = {}, access_key_id = {}, secret_access_key = {}",
            toml_str(moto::REGION),
            toml_str(&recorder.url),
            toml_str(moto::ACCESS_KEY_ID),
            toml_str(moto::SECRET_ACCESS_KEY)
        ),
    ));
    let values: Vec<String> = (0..3)
        .map(|i| cli.secret(sentinel(&format!("w{i}"))))
        .collect();
    for (i, v) in values.iter().enumerate() {
        cli.run(&["put", &format!("app/s{i}")], Some(v))
            .await
            .code(0);
    }
    let (batch, single) = (
        recorder.count(".BatchGetSecretValue"),
        recorder.count(".GetSecretValue"),
    );
    cli.run(
        &["render", "-"],
        Some("${secret:aws/app/s0}|${secret:aws/app/s1}|${secret:aws/app/s2}"),
    )
    .await
    .code(0)
    .value(&values.join("|"), "render");
    assert_eq!(
        recorder.count(".BatchGetSecretValue") - batch,
        1,
        "one batch call"
    );
    assert_eq!(
        recorder.count(".GetSecretValue") - single,
        0,
        "no single reads"
    );
}
