//! `cargo xtask <task>`: Strongroom's build tasks.
//!
//! * `ci` — everything CI checks: formatting, clippy (warnings denied), every test against the
//!   real local servers and the fakes, the vendors' SDKs against the fakes, feature gating of
//!   every publishable crate, the facade's dependency isolation, packaging, a bench smoke run,
//!   a short fuzz pass.
//! * `integration [--provider NAME]` — one provider's tests with the servers it needs.
//! * `setup` — installs the Python tools (OpenBao, moto, vendor SDKs) and makes sure Redis answers.
//! * `bench [--quick]` — the benchmark suite.
//! * `fuzz [--seconds N] [--target T]` — the cargo-fuzz targets, N seconds each (default 60);
//!   `fuzz --smoke` is the short pass `ci` runs.

mod bench;
mod ci;
mod fuzz;
mod setup;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::ci(),
        Some("integration") => {
            let provider = flag_value(&args, "--provider");
            ci::integration(provider.as_deref())
        }
        Some("setup") => setup::setup().map(|_| ()),
        Some("bench") => bench::bench(args.iter().any(|a| a == "--quick")),
        Some("fuzz") if args.iter().any(|a| a == "--smoke") => fuzz::smoke(),
        Some("fuzz") => {
            let target = flag_value(&args, "--target");
            match flag_value(&args, "--seconds").map(|s| s.parse::<u64>()) {
                None => fuzz::fuzz(fuzz::DEFAULT_SECONDS, target.as_deref()),
                Some(Ok(n)) => fuzz::fuzz(n, target.as_deref()),
                Some(Err(_)) => Err("--seconds takes a whole number of seconds".into()),
            }
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | integration [--provider NAME] | setup | bench [--quick] | fuzz [--seconds N] [--target T] [--smoke]>\n\
                 providers: {}",
                ci::PROVIDERS
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn flag_value(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix(&format!("{flag}=")).map(str::to_owned))
        })
}

/// Result type of the tasks: a message for the user.
pub type TaskResult<T = ()> = Result<T, String>;

/// Runs a command, echoing it, and fails with its description when it does not succeed.
pub fn run(cmd: &mut Command) -> TaskResult {
    eprintln!("$ {}", describe(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", describe(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", describe(cmd)))
    }
}

/// Runs a command and returns its stdout.
pub fn output(cmd: &mut Command) -> TaskResult<String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", describe(cmd)))?;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed ({}): {}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// `cargo` with the workspace root as working directory.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(setup::workspace_root());
    c
}
