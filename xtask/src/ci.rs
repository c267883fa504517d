//! `cargo xtask ci` and `cargo xtask integration`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::setup::{Tools, setup, workspace_root};
use crate::{TaskResult, cargo, output, run};

/// A provider crate and what its integration run needs.
pub struct Provider {
    /// The name used on the command line and in the facade's features.
    pub name: &'static str,
    /// The crate.
    pub krate: &'static str,
    /// Whether a vendor SDK check runs against its fake (`strongroom-fake <name>`).
    pub sdk_check: bool,
    /// Crates only this provider brings in (the facade isolation check looks for them).
    pub signature: &'static [&'static str],
}

pub const PROVIDERS: &[Provider] = &[
    Provider {
        name: "conjur",
        krate: "strongroom-conjur",
        sdk_check: true,
        signature: &["strongroom-conjur", "serde_yaml_ng"],
    },
    Provider {
        name: "hcp-vault",
        krate: "strongroom-hcp-vault",
        sdk_check: false,
        signature: &["strongroom-hcp-vault"],
    },
    Provider {
        name: "akeyless",
        krate: "strongroom-akeyless",
        sdk_check: true,
        signature: &["strongroom-akeyless"],
    },
    Provider {
        name: "aws",
        krate: "strongroom-aws",
        sdk_check: false,
        signature: &["strongroom-aws", "aws-sdk-secretsmanager"],
    },
    Provider {
        name: "azure",
        krate: "strongroom-azure",
        sdk_check: true,
        signature: &[
            "strongroom-azure",
            "azure_security_keyvault_secrets",
            "azure_identity",
        ],
    },
    Provider {
        name: "gcp",
        krate: "strongroom-gcp",
        sdk_check: true,
        signature: &["strongroom-gcp", "crc32c"],
    },
    Provider {
        name: "redis",
        krate: "strongroom-redis",
        sdk_check: false,
        signature: &["strongroom-redis", "redis"],
    },
];

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    failures: Vec<String>,
}

impl Tally {
    fn step(&mut self, name: &str, r: TaskResult) {
        let started = Instant::now();
        match r {
            Ok(()) => eprintln!("== {name}: ok"),
            Err(e) => {
                eprintln!("== {name}: FAILED: {e}");
                self.failures.push(format!("{name}: {e}"));
            }
        }
        let _ = started;
    }
}

pub fn ci() -> TaskResult {
    let started = Instant::now();
    let tools = setup()?;
    let mut tally = Tally::default();
    tally.step("fmt", run(cargo().args(["fmt", "--all", "--", "--check"])));
    tally.step(
        "clippy",
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])),
    );
    let tests = cargo_test(&tools, &["--workspace"], &mut tally);
    tally.step("tests", tests);
    // The facade's `akeyless` feature (through the CLI's defaults) already builds the Akeyless
    // crate with `aws-iam` in the workspace run; this names the step and fails if it ever stops.
    let aws_iam = cargo_test(
        &tools,
        &[
            "-p",
            "strongroom-akeyless",
            "--features",
            "aws-iam",
            "--test",
            "aws_iam",
        ],
        &mut tally,
    );
    tally.step("akeyless aws_iam tests", aws_iam);
    for p in PROVIDERS.iter().filter(|p| p.sdk_check) {
        let r = sdk_check(&tools, p.name);
        if r.is_ok() {
            tally.passed += 1;
        } else {
            tally.failed += 1;
        }
        tally.step(&format!("vendor SDK against the {} fake", p.name), r);
    }
    tally.step("feature gating", feature_checks());
    tally.step("facade dependency isolation", facade_isolation());
    tally.step("packaging", packaging());
    tally.step("supply chain (cargo deny)", supply_chain());
    tally.step("bench smoke", crate::bench::bench(true));
    tally.step("fuzz smoke", crate::fuzz::smoke());
    eprintln!(
        "xtask ci finished in {:.0?}; {} step(s) failed",
        started.elapsed(),
        tally.failures.len()
    );
    for f in &tally.failures {
        eprintln!("  - {f}");
    }
    println!("xtask ci: {} passed, {} failed", tally.passed, tally.failed);
    if tally.failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} step(s) failed", tally.failures.len()))
    }
}

pub fn integration(provider: Option<&str>) -> TaskResult {
    let tools = setup()?;
    let selected: Vec<&Provider> = match provider {
        None => PROVIDERS.iter().collect(),
        Some(name) => vec![
            PROVIDERS
                .iter()
                .find(|p| p.name == name || p.krate == name)
                .ok_or_else(|| {
                    format!(
                        "unknown provider `{name}`; one of: {}",
                        PROVIDERS
                            .iter()
                            .map(|p| p.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?,
        ],
    };
    let mut tally = Tally::default();
    for p in selected {
        let r = cargo_test(&tools, &["-p", p.krate], &mut tally);
        tally.step(&format!("{} tests", p.name), r);
        if p.sdk_check {
            let r = sdk_check(&tools, p.name);
            tally.step(&format!("vendor SDK against the {} fake", p.name), r);
        }
    }
    println!(
        "xtask integration: {} passed, {} failed",
        tally.passed, tally.failed
    );
    if tally.failures.is_empty() {
        Ok(())
    } else {
        Err(tally.failures.join("; "))
    }
}

/// Runs `cargo test` with the tools' environment, echoing its output and counting results.
fn cargo_test(tools: &Tools, scope: &[&str], tally: &mut Tally) -> TaskResult {
    let mut cmd = cargo();
    cmd.arg("test").args(scope).arg("--no-fail-fast");
    cmd.envs(tools.env());
    cmd.stdout(Stdio::piped());
    eprintln!("$ cargo test {}", scope.join(" "));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start cargo test: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            tally.passed += count(rest, " passed");
            tally.failed += count(rest, " failed");
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo test {} failed ({status})", scope.join(" ")))
    }
}

fn count(summary: &str, label: &str) -> u64 {
    summary
        .split(';')
        .find_map(|part| {
            let part = part
                .trim()
                .trim_start_matches("ok.")
                .trim_start_matches("FAILED.")
                .trim();
            part.strip_suffix(label.trim_start())
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Starts `strongroom-fake <name>`, runs the vendor's Python SDK script against it.
fn sdk_check(tools: &Tools, name: &str) -> TaskResult {
    let script = workspace_root().join(format!("crates/strongroom-testkit/sdk-checks/{name}.py"));
    if !script.exists() {
        return Err(format!("{} is missing", script.display()));
    }
    run(cargo().args([
        "build",
        "--quiet",
        "-p",
        "strongroom-testkit",
        "--bin",
        "strongroom-fake",
    ]))?;
    let bin = workspace_root().join("target/debug/strongroom-fake");
    let mut fake = Command::new(&bin)
        .arg(name)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let result = (|| {
        let stdout = fake.stdout.take().expect("piped");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .map_err(|e| format!("fake {name} printed nothing: {e}"))?;
        let env: serde_json::Map<String, serde_json::Value> = serde_json::from_str(first.trim())
            .map_err(|e| format!("fake {name} printed no JSON environment line ({e}): {first}"))?;
        let mut cmd = Command::new(&tools.python);
        cmd.arg(&script).envs(tools.env());
        for (k, v) in env {
            cmd.env(k, v.as_str().unwrap_or_default());
        }
        let deadline = Duration::from_secs(300);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run the {name} SDK check: {e}"))?;
        loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                return if status.success() {
                    eprintln!("{name}: the vendor SDK works against the fake");
                    Ok(())
                } else {
                    Err(format!("the {name} SDK check failed ({status})"))
                };
            }
            if started.elapsed() > deadline {
                let _ = child.kill();
                return Err(format!("the {name} SDK check timed out"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })();
    let _ = fake.kill();
    let _ = fake.wait();
    result
}

fn metadata() -> TaskResult<serde_json::Value> {
    let text = output(cargo().args(["metadata", "--no-deps", "--format-version", "1"]))?;
    serde_json::from_str(&text).map_err(|e| format!("cargo metadata: {e}"))
}

fn publishable(pkg: &serde_json::Value) -> bool {
    !matches!(pkg.get("publish"), Some(serde_json::Value::Array(a)) if a.is_empty())
}

/// Each publishable crate builds alone with no default features and with each feature alone.
fn feature_checks() -> TaskResult {
    let meta = metadata()?;
    let mut failures = Vec::new();
    // The CLI's features only forward to the facade's, which are checked one by one.
    for pkg in meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| publishable(p) && p["name"] != "strongroom-cli")
    {
        let name = pkg["name"].as_str().unwrap_or_default();
        let mut sets: Vec<Vec<String>> = vec![vec![]];
        if let Some(features) = pkg["features"].as_object() {
            for f in features.keys().filter(|f| *f != "default") {
                sets.push(vec![f.clone()]);
            }
        }
        for set in sets {
            let mut cmd = cargo();
            cmd.args(["check", "--quiet", "-p", name, "--no-default-features"]);
            if !set.is_empty() {
                cmd.args(["--features", &set.join(",")]);
            }
            if let Err(e) = run(&mut cmd) {
                failures.push(e);
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// The facade with one provider feature pulls in no other provider's crates.
fn facade_isolation() -> TaskResult {
    let meta = metadata()?;
    let facade = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "strongroom")
        .ok_or("the facade crate `strongroom` is missing")?;
    let features = facade["features"].as_object().cloned().unwrap_or_default();
    let mut failures = Vec::new();
    for p in PROVIDERS.iter().filter(|p| features.contains_key(p.name)) {
        let tree = output(cargo().args([
            "tree",
            "-p",
            "strongroom",
            "--no-default-features",
            "--features",
            p.name,
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ]))?;
        let crates: Vec<&str> = tree
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        for other in PROVIDERS.iter().filter(|o| o.name != p.name) {
            for sig in other.signature.iter().filter(|s| !p.signature.contains(s)) {
                if crates.contains(sig) {
                    failures.push(format!(
                        "feature `{}` pulls in `{sig}` (from {})",
                        p.name, other.name
                    ));
                }
            }
        }
        eprintln!(
            "facade feature {}: {} crates, no other provider's",
            p.name,
            crates.len()
        );
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// `cargo deny check bans licenses sources` with the checked-in `deny.toml`: one TLS stack,
/// one crypto provider, allowed licences, crates.io only. Advisories need the network and are
/// not checked here. cargo-deny is installed from crates.io when missing.
fn supply_chain() -> TaskResult {
    let present = Command::new("cargo")
        .args(["deny", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        eprintln!("cargo-deny is missing: installing it (once; takes a few minutes)");
        run(cargo().args(["install", "cargo-deny", "--locked"]))?;
    }
    run(cargo().args(["deny", "check", "bans", "licenses", "sources"]))
}

/// Every publishable crate packages (manifest metadata, included files).
fn packaging() -> TaskResult {
    let meta = metadata()?;
    let mut cmd = cargo();
    cmd.args(["package", "--no-verify", "--quiet", "--allow-dirty"]);
    for pkg in meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| publishable(p))
    {
        cmd.args(["-p", pkg["name"].as_str().unwrap_or_default()]);
    }
    run(&mut cmd)
}
