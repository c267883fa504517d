//! Launchers for the real local servers the tests run against (OpenBao, moto, Redis).
//!
//! Tools are found through environment variables that `cargo xtask` sets
//! (`STRONGROOM_BAO_BIN`, `STRONGROOM_MOTO_SERVER_BIN`, `STRONGROOM_REDIS_SERVER_BIN`), then
//! in the project's virtual environment (`target/strongroom-venv/bin`), then on `PATH`.
//! A missing tool is a test failure with instructions — never a silent skip.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Finds a tool: `$env_var`, then the project venv, then `PATH`. Panics with what to run when
/// it is missing.
pub fn find_tool(env_var: &str, binary: &str, provider: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        let p = PathBuf::from(p);
        if p.exists() {
            return p;
        }
    }
    let venv = workspace_root()
        .join("target/strongroom-venv/bin")
        .join(binary);
    if venv.exists() {
        return venv;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(binary);
            if candidate.exists() {
                return candidate;
            }
        }
    }
    panic!(
        "`{binary}` is needed for these tests and was not found ({env_var}, target/strongroom-venv/bin, PATH). \
         Run `cargo xtask integration --provider {provider}`, which installs and starts it."
    );
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(|p| p.parent())
        .expect("workspace root")
        .to_path_buf()
}

/// A free loopback TCP port (with the next one free too, for servers that bind `port + 1`).
pub fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().unwrap().port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair on 127.0.0.1");
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().unwrap().port()
}

/// Polls `ready` every 50 ms until it returns true or `timeout` passes (then panics naming `what`).
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not become ready within {timeout:?}");
}

pub mod moto;
pub mod openbao;
pub mod redis;
