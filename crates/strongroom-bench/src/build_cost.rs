//! Row 8: what depending on `strongroom` costs: crate counts of the facade with one provider
//! and with `full` (`cargo tree`), the check that one provider compiles no other provider's
//! dependencies, and with `--build-cost` cold build times (minutes each).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::stats::fmt_ns;
use crate::{Cfg, Line, RowResult, workspace_root};

/// Provider features of the facade and the crates only that provider brings in.
const PROVIDERS: &[(&str, &[&str])] = &[
    ("conjur", &["strongroom-conjur", "serde_yaml_ng"]),
    ("hcp-vault", &["strongroom-hcp-vault"]),
    ("akeyless", &["strongroom-akeyless"]),
    (
        "aws",
        &["strongroom-aws", "aws-sdk-secretsmanager", "aws-config"],
    ),
    (
        "azure",
        &[
            "strongroom-azure",
            "azure_security_keyvault_secrets",
            "azure_identity",
            "azure_core",
        ],
    ),
    ("gcp", &["strongroom-gcp", "crc32c"]),
];

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(workspace_root());
    c
}

/// The crates (`name version`) compiled for the facade with `features` (normal and build
/// dependencies, host target).
fn crates(features: &str) -> BTreeSet<String> {
    let out = cargo()
        .args([
            "tree",
            "-p",
            "strongroom",
            "--no-default-features",
            "--features",
            features,
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some(format!("{} {}", it.next()?, it.next()?))
        })
        .collect()
}

fn crate_names(set: &BTreeSet<String>) -> BTreeSet<&str> {
    set.iter()
        .filter_map(|c| c.split_whitespace().next())
        .collect()
}

/// A cold `cargo build` of the facade with `features` in its own target directory (deleted
/// afterwards): seconds.
fn cold_build(features: &str) -> Result<f64, String> {
    let dir = workspace_root().join("target/bench-build-cost");
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    let status = cargo()
        .args([
            "build",
            "--quiet",
            "-p",
            "strongroom",
            "--no-default-features",
            "--features",
            features,
        ])
        .env("CARGO_TARGET_DIR", &dir)
        .status()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    let secs = t.elapsed().as_secs_f64();
    remove(&dir);
    if status.success() {
        Ok(secs)
    } else {
        Err(format!(
            "cargo build --features {features} failed ({status})"
        ))
    }
}

fn remove(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        eprintln!("could not remove {}: {e}", dir.display());
    }
}

pub fn run(cfg: &Cfg) -> RowResult {
    let full = crates("full");
    let mut r = RowResult::default();
    let mut counts = Vec::new();
    let mut leaks = Vec::new();
    for (feature, own) in PROVIDERS {
        let set = crates(feature);
        let names = crate_names(&set);
        for (other, sig) in PROVIDERS.iter().filter(|(o, _)| o != feature) {
            for s in sig.iter().filter(|s| !own.contains(s)) {
                if names.contains(s) {
                    leaks.push(format!("`{feature}` pulls in `{s}` ({other})"));
                }
            }
        }
        counts.push(format!("{feature} {}", set.len()));
    }
    r.lines.push(Line {
        row: "8a".into(),
        what: "build cost: crates compiled for `strongroom` with one provider vs `full`".into(),
        ours: format!("one provider: {}", counts.join(", ")),
        peer: format!("`full`: {}", full.len()),
        ratio: if leaks.is_empty() {
            "no provider pulls in another's crates".into()
        } else {
            leaks.join("; ")
        },
        target: "one provider compiles no other provider's dependencies".into(),
        met: Some(leaks.is_empty()),
    });
    if cfg.build_cost {
        let mut times = Vec::new();
        let mut ok = true;
        for features in ["hcp-vault", "full"] {
            eprintln!("strongroom-bench: cold build of the facade with `{features}` ...");
            match cold_build(features) {
                Ok(s) => times.push(format!("`{features}` {}", fmt_ns(s * 1e9))),
                Err(e) => {
                    ok = false;
                    times.push(format!("`{features}`: {e}"));
                }
            }
        }
        r.lines.push(Line {
            row: "8b".into(),
            what: "build cost: cold `cargo build` (dev profile) of `strongroom`".into(),
            ours: times.first().cloned().unwrap_or_default(),
            peer: times.get(1).cloned().unwrap_or_default(),
            ratio: "—".into(),
            target: "—".into(),
            met: (!ok).then_some(false),
        });
        r.notes.push(format!(
            "cold builds ran in a fresh `CARGO_TARGET_DIR=target/bench-build-cost` (deleted \
             after each), with {} jobs available; on a shared machine the time depends on \
             what else is compiling.",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        ));
    }
    r.notes.push(
        "`cargo tree -p strongroom --no-default-features --features <f> --edges normal,build` \
         (host target), distinct `name version` pairs, the facade itself included; a provider \
         \"pulls in\" another when a crate only that other provider needs appears in its tree. \
         Cold build times only with `cargo xtask bench --build-cost`."
            .into(),
    );
    r
}
