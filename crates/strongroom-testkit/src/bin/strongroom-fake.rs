//! Runs one fake server until killed, for out-of-process clients (the vendors' Python SDKs).
//!
//! `strongroom-fake <conjur|akeyless|azure|gcp>` prints one JSON line on stdout — the environment
//! a client needs (`FAKE_URL`, credentials, CA file) — then serves until it is killed.

use std::io::Write;

use strongroom_testkit::fakes;

#[tokio::main]
async fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let standalone = match which.as_str() {
        "conjur" => fakes::conjur::standalone().await,
        "akeyless" => fakes::akeyless::standalone().await,
        "azure" => fakes::azure::standalone().await,
        "gcp" => fakes::gcp::standalone().await,
        other => {
            eprintln!("usage: strongroom-fake <conjur|akeyless|azure|gcp> (got `{other}`)");
            std::process::exit(2);
        }
    };
    let env: serde_json::Map<String, serde_json::Value> = standalone
        .env
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::Value::Object(env)).unwrap();
    out.flush().unwrap();
    drop(out);
    let _keep = standalone.keep_alive;
    tokio::signal::ctrl_c().await.ok();
}
