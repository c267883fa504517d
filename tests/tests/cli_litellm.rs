//! Moving from LiteLLM (issue 18.1, 18.2 CLI, 18.5 CLI): an unmodified proxy `config.yaml` run
//! through `strongroom run --litellm-config` on OpenBao and on moto gives the child exactly the
//! variables the file references; `rotate`; `put --description --tag`.
//!
//! Run: `STRONGROOM_REQUIRE_SERVERS=1 cargo test -p strongroom-tests --test cli_litellm`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Cli, manager, toml_str};
use strongroom_testkit::fakes::conjur::{FakeConjur, FakeConjurConfig};
use strongroom_testkit::sentinel;
use strongroom_testkit::servers::moto::{self, Moto};
use strongroom_testkit::servers::openbao::OpenBao;

/// A LiteLLM proxy config as users write it, with `general_settings` for `system`.
fn litellm_yaml(system: &str, environment_variables: &str) -> String {
    format!(
        r#"model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
  - model_name: claude-sonnet
    litellm_params:
      model: anthropic/claude-3-5-sonnet-20240620
      api_key: "os.environ/ANTHROPIC_API_KEY"
  - model_name: azure-gpt
    litellm_params:
      model: azure/gpt-4o
      api_base: os.environ/AZURE_API_BASE
      api_key: os.environ/OPENAI_API_KEY
litellm_settings:
  drop_params: true
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  database_url: os.environ/DATABASE_URL
  key_management_system: {system}
  key_management_settings:
    store_virtual_keys: true
    prefix_for_stored_virtual_keys: "litellm/"
    access_mode: "read_and_write"
    hosted_keys: ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_API_BASE", "LITELLM_MASTER_KEY", "DATABASE_URL"]
environment_variables:
{environment_variables}
"#
    )
}

const REFERENCED: [&str; 5] = [
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "AZURE_API_BASE",
    "LITELLM_MASTER_KEY",
    "DATABASE_URL",
];

/// `NAME=value` lines of the child's `env` output.
fn env_of(stdout: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Stores a value for every referenced name, runs `env` under the config, and checks that the
/// child got exactly the referenced variables with their values, and no credential.
async fn child_gets_exactly_the_references(
    cli: &Cli,
    yaml: &std::path::Path,
    manager: &str,
    env: &[(&str, &str)],
    credentials: &[&str],
) {
    let config = yaml.to_str().unwrap();
    let mut values = BTreeMap::new();
    for name in REFERENCED {
        let v = cli.secret(sentinel(&name.to_ascii_lowercase()));
        cli.run_bare(
            &["--litellm-config", config, "put", name, "-m", manager],
            Some(&v),
            env,
        )
        .await
        .code(0);
        values.insert(name.to_owned(), v);
    }
    let out = cli
        .run_bare(&["--litellm-config", config, "run", "--", "env"], None, env)
        .await;
    out.code(0);
    let child = env_of(&out.stdout);
    // What the test runner itself sets for every run.
    let inherited: BTreeSet<&str> = ["PATH", "HOME", "AWS_EC2_METADATA_DISABLED"].into();
    let parent: BTreeSet<&str> = env.iter().map(|(k, _)| *k).collect();
    let added: BTreeSet<&str> = child
        .keys()
        .map(String::as_str)
        .filter(|k| !inherited.contains(k) && !parent.contains(k))
        .collect();
    assert_eq!(
        added,
        REFERENCED.into_iter().collect(),
        "the child got exactly the references"
    );
    for (k, v) in &values {
        assert!(
            child.get(k) == Some(v),
            "{k} has the value stored in {manager}"
        );
    }
    for c in credentials {
        assert!(!child.contains_key(*c), "the child got the credential {c}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmodified_litellm_config_runs_on_openbao() {
    let bao = OpenBao::start().await;
    let cli = Cli::new();
    cli.credential(bao.root_token());
    let yaml = cli.write_file(
        "config.yaml",
        &litellm_yaml(
            "hashicorp_vault",
            &format!("  HCP_VAULT_ADDR: {}", bao.url()),
        ),
    );
    let env = [("HCP_VAULT_TOKEN", bao.root_token())];
    child_gets_exactly_the_references(&cli, &yaml, "hashicorp-vault", &env, &["HCP_VAULT_TOKEN"])
        .await;
    // The values sit where LiteLLM's Vault manager reads them: secret/data/<name>, {"key": …}.
    let (status, body) = bao
        .api("GET", None, "secret/data/OPENAI_API_KEY", None)
        .await;
    assert_eq!(status, 200);
    assert!(body["data"]["data"]["key"].is_string());
    // Virtual keys go under the prefix, as LiteLLM's hooks write them.
    let config = yaml.to_str().unwrap();
    cli.run_bare(
        &[
            "--litellm-config",
            config,
            "put",
            "sk-1",
            "-m",
            "virtual-keys",
        ],
        Some("v"),
        &env,
    )
    .await
    .code(0);
    assert_eq!(
        bao.api("GET", None, "secret/data/litellm/sk-1", None)
            .await
            .0,
        200
    );

    // A hosted reference the manager lacks and the environment does not set: an error naming
    // it and where it is, nothing run. (A name outside hosted_keys is the child's own
    // environment's business, as in LiteLLM.)
    let missing = cli.write_file(
        "missing.yaml",
        &litellm_yaml(
            "hashicorp_vault",
            &format!("  HCP_VAULT_ADDR: {}", bao.url()),
        )
        .replace("os.environ/DATABASE_URL", "os.environ/NEVER_STORED")
        .replace("\"DATABASE_URL\"]", "\"NEVER_STORED\"]"),
    );
    let out = cli
        .run_bare(
            &[
                "--litellm-config",
                missing.to_str().unwrap(),
                "run",
                "--",
                "true",
            ],
            None,
            &env,
        )
        .await;
    out.code(1)
        .stderr_has("os.environ/NEVER_STORED")
        .stderr_has("general_settings.database_url");

    // An unknown key_management_system is an error listing the supported ones.
    let google = cli.write_file("google.yaml", &litellm_yaml("google_kms", "  X: y"));
    cli.run_bare(
        &["--litellm-config", google.to_str().unwrap(), "get", "x"],
        None,
        &[],
    )
    .await
    .code(2)
    .stderr_has("google_kms")
    .stderr_has("hashicorp_vault")
    .stderr_has("aws_secret_manager")
    .stderr_has("cyberark");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmodified_litellm_config_runs_on_moto() {
    let motos = Moto::start().await;
    let cli = Cli::new();
    let yaml = cli.write_file(
        "config.yaml",
        &litellm_yaml(
            "aws_secret_manager",
            &format!(
                "  AWS_REGION_NAME: {}\n  AWS_ENDPOINT_URL_SECRETS_MANAGER: {}",
                moto::REGION,
                motos.endpoint()
            ),
        ),
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", moto::SECRET_ACCESS_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    child_gets_exactly_the_references(
        &cli,
        &yaml,
        "aws-secret-manager",
        &env,
        &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    )
    .await;
}

fn vault_config(bao: &OpenBao, mode: &str) -> String {
    manager(
        "vault",
        "hcp-vault",
        mode,
        "",
        &format!(
            "addr = {}, token = {}",
            toml_str(&bao.url()),
            toml_str(bao.root_token())
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_and_write_metadata_on_openbao() {
    let bao = OpenBao::start().await;
    let cli = Cli::new();
    cli.credential(bao.root_token());
    let mut toml = vault_config(&bao, "read_and_write");
    toml += &vault_config(&bao, "read_only").replace("[managers.vault]", "[managers.vault-ro]");
    cli.write_config(&toml);
    let (v1, v2) = (cli.secret(sentinel("v1")), cli.secret(sentinel("v2")));
    cli.run(
        &[
            "put",
            "key-1",
            "-m",
            "vault",
            "--description",
            "team key",
            "--tag",
            "team=ml",
            "--tag",
            "env=test",
        ],
        Some(&v1),
    )
    .await
    .code(0);
    let (_, meta) = bao.api("GET", None, "secret/metadata/key-1", None).await;
    let custom = &meta["data"]["custom_metadata"];
    assert_eq!(custom["team"], "ml", "{meta}");
    assert_eq!(custom["env"], "test", "{meta}");
    assert_eq!(custom["description"], "team key", "{meta}");
    cli.run(&["put", "x", "-m", "vault", "--tag", "novalue"], Some("v"))
        .await
        .code(2);

    // A failure at the write step (the manager may not write): the old key is untouched.
    cli.run(&["rotate", "key-1", "key-2", "-m", "vault-ro"], Some(&v2))
        .await
        .code(3)
        .stderr_has("write_new")
        .stderr_has("unchanged");
    cli.run(&["get", "key-1", "-m", "vault"], None)
        .await
        .code(0)
        .value(&v1, "old kept");
    // A failure at the first step: the old key does not exist.
    cli.run(&["rotate", "nope", "key-2", "-m", "vault"], Some(&v2))
        .await
        .code(1)
        .stderr_has("read_old");
    // The rotation: new written and verified, old deleted.
    let out = cli
        .run(
            &["rotate", "key-1", "key-2", "-m", "vault", "--json"],
            Some(&v2),
        )
        .await;
    out.code(0);
    assert_eq!(out.json()["old_deleted"], true);
    cli.run(&["get", "key-2", "-m", "vault"], None)
        .await
        .code(0)
        .value(&v2, "new");
    cli.run(&["get", "key-1", "-m", "vault", "--refresh"], None)
        .await
        .code(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_and_write_metadata_on_moto() {
    let motos = Moto::start().await;
    let cli = Cli::new();
    cli.write_config(&manager(
        "aws",
        "aws",
        "read_and_write",
        "",
        &format!(
            "region = {}, endpoint_url = {}, access_key_id = {}, secret_access_key = {}",
            toml_str(moto::REGION),
            toml_str(motos.endpoint()),
            toml_str(moto::ACCESS_KEY_ID),
            toml_str(moto::SECRET_ACCESS_KEY)
        ),
    ));
    let (v1, v2) = (cli.secret(sentinel("v1")), cli.secret(sentinel("v2")));
    cli.run(
        &[
            "put",
            "litellm/key-1",
            "--description",
            "team key",
            "--tag",
            "team=ml",
        ],
        Some(&v1),
    )
    .await
    .code(0);
    let described: serde_json::Value = reqwest::Client::new()
        .post(motos.endpoint())
        .header("X-Amz-Target", "secretsmanager.DescribeSecret")
        // moto routes by the service named in the credential scope; it checks no signature.
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(r#"{"SecretId":"litellm/key-1"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(described["Description"], "team key", "{described}");
    assert_eq!(
        described["Tags"],
        serde_json::json!([{"Key": "team", "Value": "ml"}]),
        "{described}"
    );

    cli.run(&["rotate", "litellm/nope", "litellm/key-2"], Some(&v2))
        .await
        .code(1)
        .stderr_has("read_old");
    let out = cli
        .run(
            &["rotate", "litellm/key-1", "litellm/key-2", "--json"],
            Some(&v2),
        )
        .await;
    out.code(0);
    assert_eq!(out.json()["old_deleted"], true);
    cli.run(&["get", "litellm/key-2"], None)
        .await
        .code(0)
        .value(&v2, "new");
    // The old one is scheduled for deletion (7-day window, as LiteLLM): it reads as missing.
    cli.run(&["get", "litellm/key-1", "--refresh"], None)
        .await
        .code(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_on_conjur_keeps_the_old_secret_and_says_so() {
    let fake = FakeConjur::start_with(FakeConjurConfig {
        policy_retry_after: (0, 0),
        ..FakeConjurConfig::default()
    })
    .await;
    let cli = Cli::new();
    cli.credential(fake.api_key());
    cli.write_config(&manager(
        "conjur",
        "conjur",
        "read_and_write",
        "",
        &format!(
            "api_base = {}, account = {}, username = {}, api_key = {}",
            toml_str(&fake.url()),
            toml_str(&fake.account()),
            toml_str(&fake.login()),
            toml_str(&fake.api_key())
        ),
    ));
    fake.set_value("app/old", b"v1");
    let out = cli
        .run(&["rotate", "app/old", "app/new", "--json"], Some("v2"))
        .await;
    out.code(0);
    let result = out.json();
    assert_eq!(result["old_deleted"], false, "{result}");
    assert!(result["old_kept_because"].is_string(), "{result}");
    assert_eq!(fake.value("app/new").as_deref(), Some(&b"v2"[..]));
    assert_eq!(fake.value("app/old").as_deref(), Some(&b"v1"[..]));
}
