//! `strongroom-bench`: the benchmark suite behind `cargo xtask bench`.
//!
//! Starts what it needs (OpenBao, moto, the Conjur and Akeyless fakes; Redis on
//! `STRONGROOM_REDIS_URL` or 127.0.0.1:6379), measures every row of the comparison against the
//! published crates we replace **in this one process**, and writes a markdown table to
//! `target/bench-report.md` (`target/bench-report-quick.md` with `--quick`).
//!
//! The machines are shared and noisy, so every number is a median over several rounds, and
//! every comparison is a ratio measured in the same round (the variants are interleaved and
//! their order rotates), never one absolute time.
//!
//! ```text
//! cargo run --release -p strongroom-bench -- [--quick] [--build-cost] [--out FILE]
//! ```
//!
//! * `--quick`: the CI smoke pass: few iterations, numbers meaningless, checks it still runs.
//! * `--only 1,7`: only those rows (to profile one; writes `target/bench-report-partial.md`).
//! * `--build-cost`: also time cold builds of the facade with one provider and with `full`
//!   (minutes; uses `target/bench-build-cost` and deletes it afterwards).

mod batch;
mod build_cost;
mod fleet;
mod hit;
mod hot_key;
mod memory;
mod openbao;
mod redis_hit;
mod single_flight;
mod stats;
mod token_expiry;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Cfg {
    /// CI smoke pass: tiny iteration counts.
    pub quick: bool,
    /// Rounds per comparison (the median is reported).
    pub rounds: usize,
    /// Time cold builds too.
    pub build_cost: bool,
}

impl Cfg {
    /// `full` in a real run, `quick` in the smoke pass.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }
}

/// One line of the report table.
#[derive(Debug, Clone)]
pub struct Line {
    /// Row number of the issue (`1`..`8`), possibly with a letter.
    pub row: String,
    /// What was measured.
    pub what: String,
    /// Strongroom's figure.
    pub ours: String,
    /// The comparison's figure(s).
    pub peer: String,
    /// Ratios measured in the same run.
    pub ratio: String,
    /// The target.
    pub target: String,
    /// Whether the target is met (`None`: nothing to judge).
    pub met: Option<bool>,
}

impl Line {
    fn cells(&self) -> String {
        let met = match self.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        format!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            self.row,
            esc(&self.what),
            esc(&self.ours),
            esc(&self.peer),
            esc(&self.ratio),
            esc(&self.target),
            met
        )
    }
}

fn esc(s: &str) -> String {
    s.replace('|', "\\|")
}

/// What a row hands back: table lines and free-text notes (how it was measured).
#[derive(Debug, Default)]
pub struct RowResult {
    /// Table lines.
    pub lines: Vec<Line>,
    /// Notes printed under the table.
    pub notes: Vec<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--memory-child") {
        let what = args.get(i + 1).map(String::as_str).unwrap_or("strongroom");
        let count: usize = args
            .get(i + 2)
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000);
        memory::child(what, count);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--fleet-child") {
        fleet::child(args.get(i + 1).map(String::as_str).unwrap_or("strongroom"));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let cfg = Cfg {
        quick,
        rounds: if quick { 2 } else { 9 },
        build_cost: args.iter().any(|a| a == "--build-cost"),
    };
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            workspace_root().join(if quick {
                "target/bench-report-quick.md"
            } else if args.iter().any(|a| a == "--only") {
                "target/bench-report-partial.md"
            } else {
                "target/bench-report.md"
            })
        });

    let started = Instant::now();
    let load_start = load_average();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut results: Vec<(&str, RowResult)> = Vec::new();
    // `--only 1,7`: just those rows (for profiling one of them).
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());
    let mut step = |label: &'static str, f: &mut dyn FnMut() -> RowResult| {
        let row = label.split(' ').next().unwrap_or_default();
        if only.as_ref().is_some_and(|o| !o.iter().any(|x| x == row)) {
            return;
        }
        eprintln!("strongroom-bench: {label} ...");
        let t = Instant::now();
        let r = f();
        eprintln!("strongroom-bench: {label} done in {:.1?}", t.elapsed());
        for l in &r.lines {
            eprintln!("  {}", l.cells());
        }
        results.push((label, r));
    };
    // Memory first: a child process, so nothing measured before it can hide in its RSS.
    step("7 memory", &mut || memory::run(&cfg));
    step("1 cache hit", &mut || rt.block_on(hit::run(&cfg)));
    step("2 single flight", &mut || {
        rt.block_on(single_flight::run(&cfg))
    });
    step("3 uncached OpenBao reads", &mut || {
        rt.block_on(openbao::run(&cfg))
    });
    step("4 Redis hit", &mut || rt.block_on(redis_hit::run(&cfg)));
    step("5 token expiry", &mut || {
        rt.block_on(token_expiry::run(&cfg))
    });
    step("6 read_many", &mut || rt.block_on(batch::run(&cfg)));
    step("9 hot key across expiries", &mut || {
        rt.block_on(hot_key::run(&cfg))
    });
    step("10 cold fleet", &mut || rt.block_on(fleet::run(&cfg)));
    step("8 build cost", &mut || build_cost::run(&cfg));
    drop(rt);
    let load_end = load_average();

    let mut lines: Vec<Line> = results.iter().flat_map(|(_, r)| r.lines.clone()).collect();
    lines.sort_by_key(|l| l.row.clone());
    let mut md = String::new();
    md.push_str("# Strongroom benchmark report\n\n");
    md.push_str(&format!(
        "- ran: {} (UTC), {} mode, {} round(s) per comparison, took {:.0?}\n",
        command_line("date", &["-u", "+%Y-%m-%d %H:%M"]).unwrap_or_else(|| "?".into()),
        if quick {
            "**quick (smoke pass: the numbers mean nothing)**"
        } else {
            "full"
        },
        cfg.rounds,
        started.elapsed()
    ));
    md.push_str(&format!("- machine: {}\n", machine()));
    md.push_str(&format!(
        "- load average (1 min) at start / end: {load_start} / {load_end}\n"
    ));
    md.push_str(&format!(
        "- {} · release build: {}\n",
        command_line("rustc", &["--version"]).unwrap_or_else(|| "rustc ?".into()),
        !cfg!(debug_assertions)
    ));
    md.push_str(
        "- rerun: `cargo xtask bench` (add `--build-cost` for cold build times); \
         ratios are medians of per-round ratios measured in the same round\n\n",
    );
    md.push_str("| # | what | strongroom | compared with | ratio (same run) | target | met |\n");
    md.push_str("|---|---|---|---|---|---|---|\n");
    for l in &lines {
        md.push_str(&l.cells());
        md.push('\n');
    }
    md.push_str("\n## How each row was measured\n\n");
    for (label, r) in &results {
        for n in &r.notes {
            md.push_str(&format!("- **{label}**: {n}\n"));
        }
    }
    if let Some(dir) = out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&out, &md).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
    println!("{md}");
    eprintln!(
        "strongroom-bench: wrote {} in {:.0?}",
        out.display(),
        started.elapsed()
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

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| format!("{:.1} GiB RAM", kb / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = command_line("uname", &["-sr"]).unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem}, {kernel}")
}
