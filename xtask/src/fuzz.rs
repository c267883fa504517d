//! `cargo xtask fuzz [--seconds N] [--target T]`: runs the cargo-fuzz targets of
//! `crates/strongroom-fuzz` (placeholders, names, and the Conjur / Vault / Akeyless answer
//! parsers), each for N seconds; `cargo xtask ci` runs a short pass ([`smoke`]).
//!
//! * Toolchain: stable with `RUSTC_BOOTSTRAP=1` (cargo-fuzz passes `-Z` flags), so a CI machine
//!   needs no nightly. cargo-fuzz itself is installed from crates.io (`cargo install cargo-fuzz
//!   --locked`) the first time `cargo fuzz --version` fails.
//! * Sanitizer: AddressSanitizer (cargo-fuzz's default); `STRONGROOM_FUZZ_SANITIZER=none` turns it
//!   off where the ASan runtime is missing.
//! * Corpus: new inputs go to `target/fuzz/corpus/<target>` (kept between runs, never
//!   committed); the seeds in `crates/strongroom-fuzz/corpus/<target>` are read, not written.
//!   A crash leaves its input in `crates/strongroom-fuzz/artifacts/<target>/`; replay it with
//!   `RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir crates/strongroom-fuzz <target> <file>`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::setup::workspace_root;
use crate::{TaskResult, run};

/// The fuzz project (its own workspace, excluded from the main one).
pub const FUZZ_DIR: &str = "crates/strongroom-fuzz";

/// Every fuzz target, in run order.
pub const TARGETS: &[&str] = &[
    "placeholder",
    "names",
    "conjur_answers",
    "vault_answers",
    "akeyless_answers",
    "gcp_answers",
];

/// Seconds per target of `cargo xtask fuzz` without `--seconds`.
pub const DEFAULT_SECONDS: u64 = 60;

/// Seconds per target of the CI pass.
pub const SMOKE_SECONDS: u64 = 10;

/// Where the fuzz builds go (inside the main, ignored, target directory).
const TARGET_DIR: &str = "target/fuzz";

/// The short pass `cargo xtask ci` runs: every target for [`SMOKE_SECONDS`].
pub fn smoke() -> TaskResult {
    fuzz(SMOKE_SECONDS, None)
}

/// Builds the targets and runs `target` (or every target) for `seconds` each.
pub fn fuzz(seconds: u64, target: Option<&str>) -> TaskResult {
    let selected: Vec<&str> = match target {
        None => TARGETS.to_vec(),
        Some(t) if TARGETS.contains(&t) => vec![t],
        Some(t) => {
            return Err(format!(
                "unknown fuzz target `{t}`; one of: {}",
                TARGETS.join(", ")
            ));
        }
    };
    if seconds == 0 {
        return Err("--seconds must be at least 1".into());
    }
    ensure_cargo_fuzz()?;
    let sanitizer = std::env::var("STRONGROOM_FUZZ_SANITIZER").unwrap_or_else(|_| "address".into());
    let started = Instant::now();
    let mut build = cargo_fuzz("build", &sanitizer);
    if let [one] = selected.as_slice() {
        build.arg(one);
    }
    run(&mut build)?;
    eprintln!("fuzz targets built in {:.0?}", started.elapsed());

    let mut summaries = Vec::new();
    let mut failures = Vec::new();
    for t in &selected {
        match run_target(t, seconds, &sanitizer) {
            Ok(s) => summaries.push(s),
            Err(e) => failures.push(e),
        }
    }
    eprintln!("fuzz summary ({seconds} s per target, sanitizer {sanitizer}):");
    for s in &summaries {
        eprintln!("  {s}");
    }
    for f in &failures {
        eprintln!("  FAILED {f}");
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// `cargo fuzz <sub> --fuzz-dir … --target-dir … --sanitizer …` on stable + `RUSTC_BOOTSTRAP`.
fn cargo_fuzz(sub: &str, sanitizer: &str) -> Command {
    let mut c = fuzz_cargo();
    c.args([
        "fuzz",
        sub,
        "--fuzz-dir",
        FUZZ_DIR,
        "--target-dir",
        TARGET_DIR,
        "--sanitizer",
        sanitizer,
    ]);
    c
}

/// `cargo` (stable, nightly features unlocked) in the workspace root.
fn fuzz_cargo() -> Command {
    let mut c = Command::new("cargo");
    c.current_dir(workspace_root())
        .env("RUSTUP_TOOLCHAIN", "stable")
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("CARGO_TARGET_DIR");
    c
}

/// Installs cargo-fuzz from crates.io when `cargo fuzz` is missing.
fn ensure_cargo_fuzz() -> TaskResult {
    let present = fuzz_cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("cargo-fuzz is missing: installing it (once; takes a few minutes)");
    run(fuzz_cargo().args(["install", "cargo-fuzz", "--locked"]))
}

/// Runs one target for `seconds`; the summary line names its executions.
fn run_target(target: &str, seconds: u64, sanitizer: &str) -> TaskResult<String> {
    let root = workspace_root();
    let work = root.join(TARGET_DIR).join("corpus").join(target);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let seeds = root.join(FUZZ_DIR).join("corpus").join(target);
    let mut cmd = cargo_fuzz("run", sanitizer);
    cmd.arg(target).arg(&work);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.args([
        "--",
        &format!("-max_total_time={seconds}"),
        // A single input taking this long is a hang: reported as a failure.
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-max_len=4096",
        "-print_final_stats=1",
    ]);
    cmd.stderr(Stdio::piped());
    eprintln!("== fuzzing {target} for {seconds} s");
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start cargo fuzz run {target}: {e}"))?;
    let stderr = child.stderr.take().expect("piped");
    let mut stats = Stats::default();
    let mut tail: Vec<String> = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        stats.read(&line);
        // Progress lines and the recommended dictionary are many: show the rest, and keep
        // the end for a failure.
        let noise = line.starts_with('#') || line.starts_with('"') || line.contains("# Uses:");
        if !noise {
            eprintln!("{line}");
        }
        tail.push(line);
        if tail.len() > 60 {
            tail.remove(0);
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let summary = format!(
        "{target}: {} execs ({} exec/s), corpus {} inputs, coverage {}",
        stats.runs.as_deref().unwrap_or("?"),
        stats.exec_per_sec.as_deref().unwrap_or("?"),
        stats.corpus.as_deref().unwrap_or("?"),
        stats.cov.as_deref().unwrap_or("?"),
    );
    if status.success() {
        eprintln!("{summary}");
        Ok(summary)
    } else {
        for l in tail.iter().filter(|l| l.starts_with('#')) {
            eprintln!("{l}");
        }
        Err(format!(
            "fuzz target {target} failed ({status}); the crashing input is in {FUZZ_DIR}/artifacts/{target}/"
        ))
    }
}

/// Numbers from libFuzzer's output (`-print_final_stats=1` and the progress lines).
#[derive(Default)]
struct Stats {
    runs: Option<String>,
    exec_per_sec: Option<String>,
    corpus: Option<String>,
    cov: Option<String>,
}

impl Stats {
    fn read(&mut self, line: &str) {
        let stat = |name: &str| {
            line.strip_prefix(name)
                .map(|rest| rest.trim_start_matches(':').trim().to_owned())
        };
        if let Some(v) = stat("stat::number_of_executed_units") {
            self.runs = Some(v);
        } else if let Some(v) = stat("stat::average_exec_per_sec") {
            self.exec_per_sec = Some(v);
        } else if line.starts_with('#') {
            // `#1234\tREDUCE cov: 567 ft: 890 corp: 12/3456b …`
            let mut words = line.split_whitespace();
            let mut prev = "";
            for w in words.by_ref() {
                match prev {
                    "cov:" => self.cov = Some(w.to_owned()),
                    "corp:" => {
                        self.corpus = Some(w.split('/').next().unwrap_or(w).to_owned());
                    }
                    _ => {}
                }
                prev = w;
            }
        }
    }
}
