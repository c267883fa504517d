//! `strongroom`: see the crate docs of `strongroom-cli`.

fn main() -> std::process::ExitCode {
    strongroom_cli::main()
}
