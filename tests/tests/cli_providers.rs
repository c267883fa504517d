//! The built `strongroom` binary against every provider: fakes started in this test process
//! (Conjur, Akeyless, Azure Key Vault over HTTPS) and real local servers (OpenBao for Vault,
//! moto for AWS, Redis for the shared cache). Each test writes a `strongroom.toml` whose
//! managers point at its own server, then drives the binary: put/get, missing secret (exit 1),
//! render with `#field`, `run --env`, access denied (exit 3), copy from a file manager, delete,
//! and a backend failure (exit 4).
//!
//! Run: `STRONGROOM_REQUIRE_SERVERS=1 cargo test -p strongroom-tests --test cli_providers`.

mod common;

use common::{Cli, backend_down, delete_works, manager, scenario, standard_config, toml_str};
use strongroom_testkit::fakes::akeyless::FakeAkeyless;
use strongroom_testkit::fakes::azure::FakeAzure;
use strongroom_testkit::fakes::conjur::{FakeConjur, FakeConjurConfig};
use strongroom_testkit::sentinel;
use strongroom_testkit::servers::moto::{self, Moto};
use strongroom_testkit::servers::openbao::OpenBao;

fn conjur_settings(fake: &FakeConjur, api_key: &str) -> String {
    format!(
        "api_base = {}, account = {}, username = {}, api_key = {}",
        toml_str(&fake.url()),
        toml_str(&fake.account()),
        toml_str(&fake.login()),
        toml_str(api_key)
    )
}

async fn conjur_fake() -> FakeConjur {
    FakeConjur::start_with(FakeConjurConfig {
        policy_retry_after: (0, 0),
        ..FakeConjurConfig::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conjur_fake_end_to_end() {
    let fake = conjur_fake().await;
    let cli = Cli::new();
    cli.credential(fake.api_key());
    let settings = conjur_settings(&fake, &fake.api_key());
    let wrong = manager(
        "conjur-bad",
        "conjur",
        "read_only",
        "",
        &conjur_settings(&fake, "not-the-api-key-0000"),
    );
    cli.write_config(&standard_config(&cli, "conjur", "conjur", &settings, ""));
    scenario(&cli, "conjur").await;
    // Managers with bad credentials come in only now (the scenario health-checks them all).
    cli.write_config(&standard_config(
        &cli, "conjur", "conjur", &settings, &wrong,
    ));
    // The values really live in Conjur.
    let vars = fake.variables();
    for id in ["app/db", "copy/one", "copy/two"] {
        assert!(vars.iter().any(|v| v == id), "conjur holds {id}: {vars:?}");
    }
    // Conjur removes variables through policy only: delete is `not_supported` (exit 5, a code
    // of its own, not the backend-error code 4).
    let out = cli
        .run(&["delete", "app/db", "-m", "conjur", "--json"], None)
        .await;
    out.code(5);
    let status = out.json();
    assert_eq!(status["status"], "not_supported", "{status}");
    assert!(
        status["hint"].is_string(),
        "the status carries a hint: {status}"
    );
    cli.run(&["get", "app/db", "-m", "conjur", "--field", "user"], None)
        .await
        .code(0)
        .value("app", "still there after the refused delete");
    // A wrong API key: Conjur answers 401, exit 3.
    cli.run(&["get", "app/db", "-m", "conjur-bad"], None)
        .await
        .code(3)
        .no_stdout();
    // Backend failure: the server is gone, exit 4.
    drop(fake);
    backend_down(&cli, "conjur").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hcp_vault_openbao_end_to_end() {
    let bao = OpenBao::start().await;
    let cli = Cli::new();
    cli.credential(bao.root_token());
    // A token that may only read: OpenBao itself refuses its writes (403 → exit 3).
    bao.write_policy(
        None,
        "read-only",
        "path \"secret/data/*\" { capabilities = [\"read\"] }\n",
    )
    .await;
    let reader = bao.create_token(None, &["read-only"], None).await;
    cli.credential(reader.clone());
    let settings = format!(
        "addr = {}, token = {}",
        toml_str(&bao.url()),
        toml_str(bao.root_token())
    );
    let limited = manager(
        "vault-reader",
        "hcp-vault",
        "read_and_write",
        "",
        &format!(
            "addr = {}, token = {}",
            toml_str(&bao.url()),
            toml_str(&reader)
        ),
    );
    cli.write_config(&standard_config(&cli, "vault", "hcp-vault", &settings, ""));
    scenario(&cli, "vault").await;
    cli.write_config(&standard_config(
        &cli,
        "vault",
        "hcp-vault",
        &settings,
        &limited,
    ));
    // The value is in OpenBao's KV v2 `secret/` mount.
    let (status, body) = bao.api("GET", None, "secret/data/copy/one", None).await;
    assert_eq!(status, 200, "secret/data/copy/one exists");
    assert!(body["data"]["data"].is_object());
    // The limited token reads through the facade but the server refuses its writes.
    cli.run(
        &["get", "app/db", "-m", "vault-reader", "--field", "user"],
        None,
    )
    .await
    .code(0)
    .value("app", "read with a read-only token");
    let other = cli.secret(sentinel("denied"));
    cli.run(&["put", "app/db", "-m", "vault-reader"], Some(&other))
        .await
        .code(3);
    delete_works(&cli, "vault", false).await;
    // Backend failure: the server is stopped, exit 4.
    bao.stop();
    backend_down(&cli, "vault").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn akeyless_fake_end_to_end() {
    let fake = FakeAkeyless::start().await;
    let cli = Cli::new();
    cli.credential(fake.access_key());
    let settings = format!(
        "api_host = {}, access_id = {}, access_key = {}",
        toml_str(&fake.url()),
        toml_str(fake.access_id()),
        toml_str(fake.access_key())
    );
    cli.write_config(&standard_config(
        &cli, "akeyless", "akeyless", &settings, "",
    ));

    scenario(&cli, "akeyless").await;
    assert!(
        fake.exists("/app/db") && fake.exists("/copy/one"),
        "the values live in Akeyless"
    );
    // Akeyless itself refuses an item (403): exit 3.
    fake.deny("/app/db");
    cli.run(&["get", "app/db", "-m", "akeyless"], None)
        .await
        .code(3)
        .no_stdout();
    delete_works(&cli, "akeyless", false).await;
    assert!(!fake.exists("/copy/two"));
    // Backend failure: the server is gone, exit 4.
    fake.server().stop();
    backend_down(&cli, "akeyless").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_moto_end_to_end() {
    let moto = Moto::start().await;
    let cli = Cli::new();
    let settings = format!(
        "region = {}, endpoint_url = {}, access_key_id = {}, secret_access_key = {}",
        toml_str(moto::REGION),
        toml_str(moto.endpoint()),
        toml_str(moto::ACCESS_KEY_ID),
        toml_str(moto::SECRET_ACCESS_KEY)
    );
    cli.write_config(&standard_config(&cli, "aws", "aws", &settings, ""));

    scenario(&cli, "aws").await;
    // A plain delete schedules the deletion (recovery window): reads then say "not found"
    // (exit 1, as LiteLLM returns None), giving the deletion date and how to restore it;
    // `--force` removes it at once.
    cli.run(&["delete", "copy/one", "-m", "aws"], None)
        .await
        .code(0);
    cli.run(&["get", "copy/one", "-m", "aws"], None)
        .await
        .code(1)
        .no_stdout()
        .stderr_has("scheduled for deletion");
    delete_works(&cli, "aws", true).await;
    // Backend failure: moto is gone, exit 4.
    drop(moto);
    backend_down(&cli, "aws").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_https_fake_end_to_end() {
    let fake = FakeAzure::start().await;
    let cli = Cli::new();
    cli.credential(fake.client_secret());
    // The CLI process trusts the fake's test CA through the manager's `ca_file` setting.
    let ca = cli.write_file("azure-ca.pem", fake.ca_pem());
    let settings = format!(
        "uri = {url}, tenant_id = {tenant}, client_id = {client}, client_secret = {secret}, \
         authority_host = {url}, ca_file = {ca}, verify_challenge_resource = false",
        url = toml_str(&fake.url()),
        tenant = toml_str(fake.tenant()),
        client = toml_str(fake.client_id()),
        secret = toml_str(fake.client_secret()),
        ca = toml_str(&ca.display().to_string()),
    );
    // Without the CA the certificate is not trusted: a backend (TLS) failure, exit 4.
    let untrusted = manager(
        "azure-untrusted",
        "azure",
        "read_only",
        "",
        &settings.replace(
            &format!(", ca_file = {}", toml_str(&ca.display().to_string())),
            "",
        ),
    );
    let bad = manager(
        "azure-bad",
        "azure",
        "read_only",
        "",
        &settings.replace(fake.client_secret(), "wrong-client-secret-0000"),
    );
    cli.write_config(&standard_config(&cli, "azure", "azure", &settings, ""));
    scenario(&cli, "azure").await;
    cli.write_config(&standard_config(
        &cli,
        "azure",
        "azure",
        &settings,
        &format!("{untrusted}{bad}"),
    ));
    // Names are mapped to Key Vault's alphabet on the wire.
    assert!(fake.value("app--db").is_some() && fake.value("copy--one").is_some());
    // The fake's certificate without its CA: a TLS failure, exit 4.
    cli.run(&["get", "app/db", "-m", "azure-untrusted"], None)
        .await
        .code(4)
        .no_stdout();
    // A wrong client secret: the token endpoint answers 401, exit 3.
    cli.run(&["get", "app/db", "-m", "azure-bad"], None)
        .await
        .code(3)
        .no_stdout();
    delete_works(&cli, "azure", false).await;
    assert!(
        fake.is_soft_deleted("copy--two"),
        "Key Vault keeps a soft-deleted copy"
    );
    // Backend failure: the server is gone, exit 4.
    fake.server().stop();
    backend_down(&cli, "azure").await;
}

/// A Redis cache shared by separate CLI processes: `cache ls` lists names (never values),
/// a later process is served from the cache, and `cache clear` empties it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cache_is_shared_across_cli_processes() {
    let redis_url = strongroom_testkit::servers::redis::shared_url();
    let fake = conjur_fake().await;
    let cli = Cli::new();
    cli.credential(fake.api_key());
    let key = strongroom_redis::EncryptionKey::generate().to_base64();
    cli.credential(key.as_str());
    let prefix = format!("{}:", sentinel("e2e-cli"));
    let mut config = format!(
        "default_manager = \"conjur\"\n[cache]\nkind = \"redis\"\nsettings = {{ url = {}, key = {}, prefix = {} }}\n",
        toml_str(&redis_url),
        toml_str(&key),
        toml_str(&prefix)
    );
    config += &manager(
        "conjur",
        "conjur",
        "read_and_write",
        "cache = { ttl = \"10m\" }",
        &conjur_settings(&fake, &fake.api_key()),
    );
    cli.write_config(&config);

    let first = cli.secret(sentinel("cached"));
    let second = cli.secret(sentinel("newer"));
    fake.set_value("app/token", first.as_bytes());
    fake.set_value("app/other", b"x");
    // Process 1 reads through the cache (and fills it).
    cli.run(&["get", "app/token"], None)
        .await
        .code(0)
        .value(&first, "first read");
    cli.run(&["get", "app/other"], None).await.code(0);
    // Process 2 lists the cached names, never the values.
    let out = cli.run(&["cache", "ls", "--json"], None).await;
    out.code(0);
    assert!(!out.text().contains(&first), "cache ls prints no value");
    let entries = out.json();
    let names: Vec<String> = entries
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|e| {
            assert_eq!(e["managers"], serde_json::json!(["conjur"]), "{e}");
            e["display"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert!(
        names.iter().any(|n| n == "app/token") && names.iter().any(|n| n == "app/other"),
        "cache ls lists both names: {names:?}"
    );
    let out = cli.run(&["cache", "ls"], None).await;
    out.code(0);
    assert!(out.text().contains("conjur\tapp/token") && !out.text().contains(&first));
    // The backend changes behind the cache: process 3 is still served the cached value,
    // without asking Conjur.
    fake.set_value("app/token", second.as_bytes());
    fake.clear_requests();
    cli.run(&["get", "app/token"], None)
        .await
        .code(0)
        .value(&first, "served from the shared cache");
    assert!(
        !fake
            .requests()
            .iter()
            .any(|r| r.uri.starts_with("/secrets/")),
        "the cached read never reached Conjur"
    );
    // Clearing one secret, then everything.
    cli.run(&["cache", "clear", "app/other"], None)
        .await
        .code(0);
    let names = cli.run(&["cache", "ls", "--json"], None).await.json();
    assert_eq!(names.as_array().map(Vec::len), Some(1), "{names}");
    cli.run(&["cache", "clear"], None).await.code(0);
    let out = cli.run(&["cache", "ls", "--json"], None).await;
    out.code(0);
    assert_eq!(out.json(), serde_json::json!([]), "cache clear empties it");
    cli.run(&["get", "app/token"], None)
        .await
        .code(0)
        .value(&second, "after clear the backend's value is read again");
}
