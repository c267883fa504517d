//! `cargo xtask bench`: the benchmark suite (crates/strongroom-bench). It sets up the servers'
//! tools (OpenBao, moto, Redis) like the tests, then runs the suite binary in release mode: it
//! starts the servers it needs, measures every comparison in one process and writes
//! `target/bench-report.md`. `--build-cost` also times cold builds (minutes).
//!
//! `--quick` is the CI smoke pass: the suite binary in the dev profile (reusing what the tests
//! built) with tiny iteration counts, writing `target/bench-report-quick.md`, plus each
//! criterion micro-benchmark run once (`--test`), to show they all still build and run.

use crate::setup::setup;
use crate::{TaskResult, cargo, run};

pub fn bench(quick: bool) -> TaskResult {
    bench_with(quick, std::env::args().any(|a| a == "--build-cost"))
}

fn bench_with(quick: bool, build_cost: bool) -> TaskResult {
    let tools = setup()?;
    let mut cmd = cargo();
    cmd.arg("run");
    if !quick {
        cmd.arg("--release");
    }
    cmd.args(["-p", "strongroom-bench", "--"]);
    if quick {
        cmd.arg("--quick");
    }
    if build_cost {
        cmd.arg("--build-cost");
    }
    cmd.envs(tools.env());
    run(&mut cmd)?;
    if quick {
        for (krate, bench) in [
            ("strongroom-core", "cache_hit"),
            ("strongroom-redis", "redis_hit"),
        ] {
            let mut cmd = cargo();
            // The dev profile reuses what the tests built; `--test` runs each bench once.
            cmd.args([
                "bench",
                "--profile",
                "dev",
                "-p",
                krate,
                "--bench",
                bench,
                "--",
                "--test",
            ]);
            cmd.envs(tools.env());
            run(&mut cmd)?;
        }
    }
    Ok(())
}
