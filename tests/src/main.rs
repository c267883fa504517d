//! The `strongroom` command under a test-only name, so the end-to-end tests in this package
//! drive a real built binary (`CARGO_BIN_EXE_strongroom-e2e`).

fn main() -> std::process::ExitCode {
    strongroom_cli::main()
}
