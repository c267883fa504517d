//! `cargo xtask bench`: the benchmark suite. `--quick` is the CI smoke pass (each benchmark
//! runs once, to show it still builds and runs).

use crate::{TaskResult, cargo, run};

pub fn bench(quick: bool) -> TaskResult {
    let mut cmd = cargo();
    cmd.args([
        "bench",
        "-p",
        "strongroom-core",
        "--bench",
        "cache_hit",
        "--",
    ]);
    if quick {
        cmd.arg("--test");
    }
    run(&mut cmd)
}
