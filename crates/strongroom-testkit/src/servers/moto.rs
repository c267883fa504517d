//! Launcher for moto, the AWS emulator, serving Secrets Manager on a free loopback port.
//!
//! ```no_run
//! # async fn demo() {
//! use strongroom_testkit::servers::moto::Moto;
//! let moto = Moto::start().await;
//! println!("endpoint: {}", moto.endpoint());
//! moto.reset().await; // forget every secret
//! # }
//! ```
//!
//! Each [`Moto`] is its own `moto_server` process (it is ready in about 0.35 s), so tests in one
//! binary can run in parallel without sharing state. The process is killed when the value is
//! dropped. The binary is found with
//! [`find_tool`]`("STRONGROOM_MOTO_SERVER_BIN", "moto_server", "aws")`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{find_tool, free_port, wait_until};

/// Region tests use with moto.
pub const REGION: &str = "us-east-1";
/// Access key id tests use with moto (moto does not check signatures).
pub const ACCESS_KEY_ID: &str = "testing";
/// Secret access key tests use with moto.
pub const SECRET_ACCESS_KEY: &str = "testing";

/// A running `moto_server` on 127.0.0.1, killed on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
    endpoint: String,
    http: reqwest::Client,
    log: tempfile::NamedTempFile,
}

impl Moto {
    /// Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until it answers
    /// `POST /moto-api/reset`. Panics (with the server's output) when it does not start.
    pub async fn start() -> Moto {
        let bin = find_tool("STRONGROOM_MOTO_SERVER_BIN", "moto_server", "aws");
        let mut last_err = String::new();
        // A port picked free can be taken before the server binds it: try a few.
        for _ in 0..3 {
            let port = free_port();
            let log = tempfile::NamedTempFile::new().expect("temp file for moto output");
            // moto's request recorder writes `moto_recording` into its working directory:
            // keep that out of the source tree.
            let recording = log.path().with_extension("recording");
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("MOTO_RECORDER_FILEPATH", &recording)
                .current_dir(std::env::temp_dir())
                .stdin(Stdio::null())
                .stdout(log.reopen().expect("moto log"))
                .stderr(log.reopen().expect("moto log"))
                .spawn()
                .unwrap_or_else(|e| panic!("could not start {}: {e}", bin.display()));
            let mut moto = Moto {
                child,
                port,
                endpoint: format!("http://127.0.0.1:{port}"),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("http client"),
                log,
            };
            if moto.wait_ready(Duration::from_secs(30)).await {
                return moto;
            }
            last_err = moto.output();
            // Dropping `moto` kills the process; try another port.
        }
        panic!("moto_server did not become ready; its output:\n{last_err}");
    }

    async fn wait_ready(&mut self, timeout: Duration) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if self.try_reset().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    async fn try_reset(&self) -> bool {
        match self
            .http
            .post(format!("{}/moto-api/reset", self.endpoint))
            .send()
            .await
        {
            Ok(r) => r.status().is_success(),
            Err(_) => false,
        }
    }

    /// The endpoint URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Clears every secret (and all other moto state): `POST /moto-api/reset`.
    pub async fn reset(&self) {
        let ok = self.try_reset().await;
        if !ok {
            // One more attempt after a short wait, then fail loudly.
            wait_until("moto reset", Duration::from_secs(5), || self.try_reset()).await;
        }
    }

    /// What the server printed so far (its request log included), for failure messages.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// How many requests moto logged for `POST /` (the AWS JSON API) so far. Useful to prove that
    /// a refused operation never reached the server.
    pub fn api_requests(&self) -> usize {
        self.output()
            .lines()
            .filter(|l| l.contains("\"POST / HTTP/"))
            .count()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.log.path().with_extension("recording"));
    }
}
