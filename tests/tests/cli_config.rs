//! Configuration as a user meets it (issue 14, facade and CLI side), driving the built binary:
//! unknown keys in every table and every provider's settings, `${env:…}` only in credentials,
//! trusted working-directory files, group-writable files, the LiteLLM environment mode with
//! hostile generic variables, and every `key_management_settings` key LiteLLM documents.
//!
//! Run: `STRONGROOM_REQUIRE_SERVERS=1 cargo test -p strongroom-tests --test cli_config`.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Cli, manager, toml_str};
use strongroom::providers::PROVIDERS;
use strongroom_testkit::fakes::akeyless::FakeAkeyless;
use strongroom_testkit::fakes::azure::FakeAzure;
use strongroom_testkit::fakes::conjur::{FakeConjur, FakeConjurConfig};
use strongroom_testkit::proxy::{FaultProxy, ProxyMode};
use strongroom_testkit::sentinel;
use strongroom_testkit::servers::moto::{self, Moto};
use strongroom_testkit::servers::openbao::OpenBao;

/// A local manager that builds without I/O, so a command's exit code says whether the
/// configuration loaded (`get` of a missing name: 1) or not (2).
fn memory(name: &str) -> String {
    format!("\n[managers.{name}]\nprovider = \"memory\"\n")
}

#[tokio::test]
async fn a_misspelled_key_of_every_provider_is_refused_with_a_suggestion() {
    let cli = Cli::new();
    for p in PROVIDERS {
        let fields = p
            .fields()
            .expect("every provider is compiled into the tests");
        let Some(first) = fields.first() else {
            continue; // memory takes no settings
        };
        let typo = format!("{}s", first.key);
        let mut config = memory("local");
        config += &manager("m", p.name, "read_only", "", &format!("{typo} = \"x\""));
        cli.write_config(&config);
        let out = cli.run(&["get", "x", "-m", "local"], None).await;
        out.code(2).no_stdout();
        for needle in [
            "manager `m`".to_owned(),
            format!("`{typo}`"),
            format!("did you mean `{}`", first.key),
        ] {
            out.stderr_has(&needle);
        }
        // The hint lists every setting of the provider.
        for f in &fields {
            out.stderr_has(f.key);
        }
    }
}

#[tokio::test]
async fn unknown_keys_in_every_other_table_are_refused() {
    let cli = Cli::new();
    for (toml, needles) in [
        (
            format!("defualt_manager = \"local\"\n{}", memory("local")),
            vec![
                "defualt_manager",
                "did you mean `default_manager`",
                "managers",
            ],
        ),
        (
            format!("[cache]\nkinds = \"memory\"\n{}", memory("local")),
            vec!["cache.kinds", "did you mean `kind`", "max_entries"],
        ),
        (
            format!("{}acess_mode = \"read_only\"\n", memory("local")),
            vec![
                "managers.local.acess_mode",
                "did you mean `access_mode`",
                "allowed_groups",
            ],
        ),
        (
            format!("{}cache = {{ ttls = \"5m\" }}\n", memory("local")),
            vec![
                "managers.local.cache.ttls",
                "did you mean `ttl`",
                "stale_if_error",
            ],
        ),
        (
            format!(
                "[cache]\nkind = \"redis\"\nsettings = {{ urls = \"redis://127.0.0.1\" }}\n{}",
                memory("local")
            ),
            vec!["cache.settings.urls", "did you mean `url`", "cluster_urls"],
        ),
        (
            memory("local").replace("\"memory\"", "\"memroy\""),
            vec![
                "unknown provider `memroy`",
                "did you mean `memory`",
                "hcp-vault",
            ],
        ),
    ] {
        cli.write_config(&toml);
        let out = cli.run(&["get", "x", "-m", "local"], None).await;
        out.code(2);
        for n in needles {
            out.stderr_has(n);
        }
    }
}

#[tokio::test]
async fn env_references_only_in_credentials_unless_the_manager_opts_in() {
    let cli = Cli::new();
    let token = sentinel("vault-token");
    cli.credential(token.clone());
    let vault = |extra: &str, settings: &str| {
        format!(
            "{}{}",
            memory("local"),
            manager("vault", "hcp-vault", "read_only", extra, settings)
        )
    };
    // `${env:VAULT_TOKEN}` as the address: refused before anything is sent.
    cli.write_config(&vault(
        "",
        "addr = \"${env:VAULT_TOKEN}\", token = \"${env:VAULT_TOKEN}\"",
    ));
    cli.run_env(
        &["get", "x", "-m", "local"],
        None,
        &[("VAULT_TOKEN", &token)],
    )
    .await
    .code(2)
    .stderr_has("managers.vault.settings.addr")
    .stderr_has("only taken in credential settings")
    .stderr_has("allow_env_in");
    // In the token it is fine; in the address too once the manager opts in for `addr`.
    cli.write_config(&vault(
        "",
        "addr = \"https://vault.example:8200\", token = \"${env:VAULT_TOKEN}\"",
    ));
    cli.run_env(
        &["get", "x", "-m", "local"],
        None,
        &[("VAULT_TOKEN", &token)],
    )
    .await
    .code(1);
    cli.write_config(&vault(
        "allow_env_in = [\"addr\"]",
        "addr = \"${env:VAULT_ADDR}\", token = \"${env:VAULT_TOKEN}\"",
    ));
    cli.run_env(
        &["get", "x", "-m", "local"],
        None,
        &[
            ("VAULT_TOKEN", &token),
            ("VAULT_ADDR", "https://vault.example:8200"),
        ],
    )
    .await
    .code(1);
}

#[tokio::test]
async fn a_config_file_group_or_others_may_write_is_refused() {
    let cli = Cli::new();
    cli.write_config(&memory("local"));
    for mode in [0o664, 0o646, 0o666] {
        std::fs::set_permissions(cli.config_path(), std::fs::Permissions::from_mode(mode)).unwrap();
        cli.run(&["get", "x", "-m", "local"], None)
            .await
            .code(2)
            .stderr_has("writable by")
            .stderr_has("chmod go-w");
    }
    std::fs::set_permissions(cli.config_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    cli.run(&["get", "x", "-m", "local"], None).await.code(1);
}

#[tokio::test]
async fn a_working_directory_config_is_used_only_once_trusted() {
    let cli = Cli::new();
    // What a cloned repository could ship: its own server, the user's token.
    let trap = FaultProxy::start("127.0.0.1:1".parse().unwrap()).await;
    trap.set_mode(ProxyMode::Reset);
    let token = sentinel("users-token");
    cli.credential(token.clone());
    let hostile = format!(
        "default_manager = \"vault\"\n{}",
        manager(
            "vault",
            "hcp-vault",
            "read_only",
            "",
            &format!(
                "addr = {}, token = \"${{env:VAULT_TOKEN}}\"",
                toml_str(&trap.http_url())
            )
        )
    );
    cli.write_config(&hostile);
    let env = [("VAULT_TOKEN", token.as_str())];
    // Untrusted: refused with the command that trusts it, before any connection.
    for args in [&["managers"][..], &["run", "--", "true"], &["get", "x"]] {
        cli.run_bare(args, None, &env)
            .await
            .code(2)
            .stderr_has("is not trusted")
            .stderr_has("strongroom trust");
    }
    assert_eq!(trap.connections(), 0, "an untrusted file sent nothing");

    // Trusted (the user read it and accepted it): it loads.
    cli.write_config(&memory("local"));
    cli.run_bare(&["trust"], None, &[])
        .await
        .code(0)
        .stderr_has("trusted");
    cli.run_bare(&["get", "x", "-m", "local"], None, &[])
        .await
        .code(1);
    // The trust record lives in the user's config directory ($HOME/.config here).
    assert!(cli.dir().join(".config/strongroom/trusted").is_dir());

    // Edited afterwards: refused again until trusted again.
    cli.write_config(&hostile);
    cli.run_bare(&["get", "x"], None, &env)
        .await
        .code(2)
        .stderr_has("has changed since it was trusted")
        .stderr_has("strongroom trust");
    assert_eq!(trap.connections(), 0);
    // XDG_CONFIG_HOME moves the trust records: the same file is untrusted there.
    cli.write_config(&memory("local"));
    cli.run_bare(&["trust", "strongroom.toml"], None, &[])
        .await
        .code(0);
    let xdg = cli.dir().join("xdg");
    cli.run_bare(
        &["get", "x", "-m", "local"],
        None,
        &[("XDG_CONFIG_HOME", xdg.to_str().unwrap())],
    )
    .await
    .code(2)
    .stderr_has("is not trusted");

    // An explicit file needs no trust: --config and STRONGROOM_CONFIG.
    let explicit = cli.write_file("explicit.toml", &memory("mine"));
    cli.run_bare(
        &[
            "--config",
            explicit.to_str().unwrap(),
            "get",
            "x",
            "-m",
            "mine",
        ],
        None,
        &[],
    )
    .await
    .code(1);
    cli.run_bare(
        &["get", "x", "-m", "mine"],
        None,
        &[("STRONGROOM_CONFIG", explicit.to_str().unwrap())],
    )
    .await
    .code(1);
}

/// The generic names a LiteLLM mode once picked up, each set to a hostile value.
fn hostile_vars(trap: &str) -> Vec<(&'static str, String)> {
    vec![
        ("NAMESPACE", "hostile-namespace".to_owned()),
        ("TOKEN", "hostile-token-0000".to_owned()),
        ("ADDR", trap.to_owned()),
        ("API_BASE", trap.to_owned()),
        ("ENDPOINT_URL", trap.to_owned()),
        ("REGION", "eu-hostile-9".to_owned()),
    ]
}

/// One provider in LiteLLM environment mode.
struct EnvCase {
    system: &'static str,
    env: Vec<(String, String)>,
}

impl EnvCase {
    fn with(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        env
    }
}

async fn run_env_mode(
    cli: &Cli,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(String, String)],
) -> common::Out {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    cli.run_bare(args, stdin, &env).await
}

/// Stores a value through the provider in LiteLLM mode, then checks that each hostile
/// variable alone, and all of them together, change nothing: the same value is read and the
/// trap (where every hostile address points) sees no connection.
async fn hostile_env_changes_nothing(cli: &Cli, case: &EnvCase, trap: &FaultProxy) {
    let system = case.system;
    let manager = system.replace('_', "-");
    let value = cli.secret(sentinel(system));
    let rw = case.with(&[
        ("KEY_MANAGEMENT_SYSTEM", system),
        (
            "KEY_MANAGEMENT_SETTINGS",
            r#"{"access_mode":"read_and_write"}"#,
        ),
    ]);
    run_env_mode(cli, &["put", "hostile/probe"], Some(&value), &rw)
        .await
        .code(0);
    let ro = case.with(&[("KEY_MANAGEMENT_SYSTEM", system)]);
    run_env_mode(cli, &["get", "hostile/probe"], None, &ro)
        .await
        .code(0)
        .value(&value, "baseline read");
    let hostile = hostile_vars(&trap.http_url());
    let mut all = ro.clone();
    for (k, v) in &hostile {
        let mut env = ro.clone();
        env.push(((*k).to_owned(), v.clone()));
        all.push(((*k).to_owned(), v.clone()));
        run_env_mode(cli, &["get", "hostile/probe", "-m", &manager], None, &env)
            .await
            .code(0)
            .value(&value, &format!("{system} with {k} set"));
    }
    run_env_mode(cli, &["get", "hostile/probe"], None, &all)
        .await
        .code(0)
        .value(&value, &format!("{system} with every hostile variable set"));
    assert_eq!(
        trap.connections(),
        0,
        "{system}: a hostile variable sent a request to the trap"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_generic_variables_change_nothing_in_any_provider() {
    let trap = FaultProxy::start("127.0.0.1:1".parse().unwrap()).await;
    trap.set_mode(ProxyMode::Reset);
    let cli = Cli::new();

    let bao = OpenBao::start().await;
    cli.credential(bao.root_token());
    let vault = EnvCase {
        system: "hashicorp_vault",
        env: vec![
            ("HCP_VAULT_ADDR".into(), bao.url()),
            ("HCP_VAULT_TOKEN".into(), bao.root_token().into()),
        ],
    };
    hostile_env_changes_nothing(&cli, &vault, &trap).await;
    // With the provider's own token unset, a valid token in the generic `TOKEN` is not used.
    let mut no_token = vault.env.clone();
    no_token.retain(|(k, _)| k != "HCP_VAULT_TOKEN");
    no_token.push(("TOKEN".into(), bao.root_token().into()));
    no_token.push(("KEY_MANAGEMENT_SYSTEM".into(), "hashicorp_vault".into()));
    let out = run_env_mode(&cli, &["get", "hostile/probe"], None, &no_token).await;
    assert_ne!(out.code, 0, "the generic TOKEN was used as the Vault token");
    out.no_stdout();
    // With the provider's own address unset, the generic `ADDR` is not used.
    let mut no_addr = vault.env.clone();
    no_addr.retain(|(k, _)| k != "HCP_VAULT_ADDR");
    no_addr.push(("ADDR".into(), trap.http_url()));
    no_addr.push(("KEY_MANAGEMENT_SYSTEM".into(), "hashicorp_vault".into()));
    run_env_mode(&cli, &["get", "hostile/probe"], None, &no_addr)
        .await
        .no_stdout();
    assert_eq!(trap.connections(), 0, "ADDR was used as the Vault address");

    let conjur = FakeConjur::start_with(FakeConjurConfig {
        policy_retry_after: (0, 0),
        ..FakeConjurConfig::default()
    })
    .await;
    cli.credential(conjur.api_key());
    let conjur_case = EnvCase {
        system: "cyberark",
        env: vec![
            ("CYBERARK_API_BASE".into(), conjur.url()),
            ("CYBERARK_ACCOUNT".into(), conjur.account()),
            ("CYBERARK_USERNAME".into(), conjur.login()),
            ("CYBERARK_API_KEY".into(), conjur.api_key()),
        ],
    };
    hostile_env_changes_nothing(&cli, &conjur_case, &trap).await;
    // With CYBERARK_API_BASE unset, the Conjur API key never goes to `API_BASE`.
    let mut no_base = conjur_case.env.clone();
    no_base.retain(|(k, _)| k != "CYBERARK_API_BASE");
    no_base.push(("API_BASE".into(), trap.http_url()));
    no_base.push(("KEY_MANAGEMENT_SYSTEM".into(), "cyberark".into()));
    run_env_mode(&cli, &["get", "hostile/probe"], None, &no_base)
        .await
        .no_stdout();
    assert_eq!(
        trap.connections(),
        0,
        "API_BASE received the Conjur API key"
    );

    let akeyless = FakeAkeyless::start().await;
    cli.credential(akeyless.access_key());
    hostile_env_changes_nothing(
        &cli,
        &EnvCase {
            system: "akeyless",
            env: vec![
                ("AKEYLESS_API_HOST".into(), akeyless.url()),
                ("AKEYLESS_ACCESS_ID".into(), akeyless.access_id().into()),
                ("AKEYLESS_ACCESS_KEY".into(), akeyless.access_key().into()),
            ],
        },
        &trap,
    )
    .await;

    let motos = Moto::start().await;
    let aws = EnvCase {
        system: "aws_secret_manager",
        env: vec![
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER".into(),
                motos.endpoint().into(),
            ),
            ("AWS_REGION".into(), moto::REGION.into()),
            ("AWS_ACCESS_KEY_ID".into(), moto::ACCESS_KEY_ID.into()),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                moto::SECRET_ACCESS_KEY.into(),
            ),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ],
    };
    hostile_env_changes_nothing(&cli, &aws, &trap).await;
    // With the AWS endpoint unset, the generic `ENDPOINT_URL` is not used.
    let before = motos.api_requests();
    let mut no_endpoint = aws.env.clone();
    no_endpoint.retain(|(k, _)| k != "AWS_ENDPOINT_URL_SECRETS_MANAGER");
    no_endpoint.push(("ENDPOINT_URL".into(), trap.http_url()));
    no_endpoint.push(("KEY_MANAGEMENT_SYSTEM".into(), "aws_secret_manager".into()));
    // Point the real endpoint nowhere reachable so nothing leaves the machine.
    no_endpoint.push(("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:1".into()));
    run_env_mode(&cli, &["get", "hostile/probe"], None, &no_endpoint)
        .await
        .no_stdout();
    assert_eq!(
        trap.connections(),
        0,
        "ENDPOINT_URL was used as the AWS endpoint"
    );
    assert_eq!(motos.api_requests(), before);

    let azure = FakeAzure::start().await;
    cli.credential(azure.client_secret());
    let ca = cli.write_file("azure-ca.pem", azure.ca_pem());
    hostile_env_changes_nothing(
        &cli,
        &EnvCase {
            system: "azure_key_vault",
            env: vec![
                ("AZURE_KEY_VAULT_URI".into(), azure.url()),
                ("AZURE_TENANT_ID".into(), azure.tenant().into()),
                ("AZURE_CLIENT_ID".into(), azure.client_id().into()),
                ("AZURE_CLIENT_SECRET".into(), azure.client_secret().into()),
                ("AZURE_AUTHORITY_HOST".into(), azure.url()),
                ("AZURE_KEY_VAULT_CA_FILE".into(), ca.display().to_string()),
                (
                    "AZURE_KEY_VAULT_VERIFY_CHALLENGE_RESOURCE".into(),
                    "false".into(),
                ),
            ],
        },
        &trap,
    )
    .await;
}

/// Every key of LiteLLM's `KeyManagementSettings` model.
const ALL_LITELLM_KEYS: &str = r#"{
    "hosted_keys": null,
    "store_virtual_keys": true,
    "prefix_for_stored_virtual_keys": "litellm/",
    "access_mode": "read_and_write",
    "primary_secret_name": null,
    "description": "LiteLLM virtual key",
    "tags": {"Environment": "test"},
    "custom_secret_manager": "my_module.MyManager",
    "aws_region_name": "us-east-1",
    "aws_role_name": null,
    "aws_session_name": null,
    "aws_external_id": null,
    "aws_profile_name": null,
    "aws_web_identity_token": null,
    "aws_sts_endpoint": null,
    "replica_regions": ["us-west-2"],
    "kms_key_id": null
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_litellm_settings_key_is_accepted_and_an_unknown_one_refused() {
    let bao = OpenBao::start().await;
    let cli = Cli::new();
    cli.credential(bao.root_token());
    let base = [
        ("HCP_VAULT_ADDR", bao.url()),
        ("HCP_VAULT_TOKEN", bao.root_token().to_owned()),
        ("KEY_MANAGEMENT_SYSTEM", "hashicorp_vault".to_owned()),
    ];
    let env = |settings: &str| -> Vec<(String, String)> {
        let mut e: Vec<(String, String)> = base
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        e.push(("KEY_MANAGEMENT_SETTINGS".into(), settings.to_owned()));
        e
    };
    // Every key is accepted; keys without an equivalent for Vault are named once each in a
    // warning; description and tags go to writes (Vault keeps them in KV metadata).
    let value = cli.secret(sentinel("vk"));
    let out = run_env_mode(
        &cli,
        &["put", "vk-1", "-m", "virtual-keys"],
        Some(&value),
        &env(ALL_LITELLM_KEYS),
    )
    .await;
    out.code(0);
    for key in [
        "custom_secret_manager",
        "replica_regions",
        "aws_region_name",
    ] {
        let mentions = out.stderr.matches(&format!("`{key}`")).count();
        assert_eq!(mentions, 1, "one warning names `{key}`: {}", out.stderr);
    }
    let (status, meta) = bao
        .api("GET", None, "secret/metadata/litellm/vk-1", None)
        .await;
    assert_eq!(status, 200);
    let custom = &meta["data"]["custom_metadata"];
    assert_eq!(
        custom["Environment"], "test",
        "tags reach the write: {meta}"
    );
    assert_eq!(
        custom["description"], "LiteLLM virtual key",
        "the description reaches the write: {meta}"
    );
    run_env_mode(
        &cli,
        &["get", "vk-1", "-m", "virtual-keys"],
        None,
        &env(ALL_LITELLM_KEYS),
    )
    .await
    .code(0)
    .value(&value, "the virtual key reads back");
    // A key LiteLLM does not know: an error naming it, with a suggestion.
    run_env_mode(
        &cli,
        &["get", "vk-1"],
        None,
        &env(r#"{"acess_mode":"read_only"}"#),
    )
    .await
    .code(2)
    .stderr_has("`acess_mode`")
    .stderr_has("did you mean `access_mode`")
    .stderr_has("primary_secret_name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_secret_name_reads_as_litellm_does_on_openbao_and_moto() {
    let cli = Cli::new();
    let direct = cli.secret(sentinel("direct"));
    let in_primary = cli.secret(sentinel("in-primary"));
    let primary_json = format!("{{\"OPENAI_API_KEY\":\"{in_primary}\",\"OTHER\":\"x\"}}");
    let settings_rw = r#"{"access_mode":"read_and_write"}"#;
    let settings_primary = r#"{"primary_secret_name":"litellm/all-keys"}"#;

    // AWS (moto): LiteLLM reads the JSON secret `primary_secret_name` and returns its field.
    let motos = Moto::start().await;
    let aws: Vec<(String, String)> = vec![
        (
            "AWS_ENDPOINT_URL_SECRETS_MANAGER".into(),
            motos.endpoint().into(),
        ),
        ("AWS_REGION".into(), moto::REGION.into()),
        ("AWS_ACCESS_KEY_ID".into(), moto::ACCESS_KEY_ID.into()),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            moto::SECRET_ACCESS_KEY.into(),
        ),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("KEY_MANAGEMENT_SYSTEM".into(), "aws_secret_manager".into()),
    ];
    let with = |base: &[(String, String)], settings: &str| {
        let mut e = base.to_vec();
        e.push(("KEY_MANAGEMENT_SETTINGS".into(), settings.to_owned()));
        e
    };
    run_env_mode(
        &cli,
        &["put", "litellm/all-keys"],
        Some(&primary_json),
        &with(&aws, settings_rw),
    )
    .await
    .code(0);
    run_env_mode(
        &cli,
        &["put", "OPENAI_API_KEY"],
        Some(&direct),
        &with(&aws, settings_rw),
    )
    .await
    .code(0);
    run_env_mode(
        &cli,
        &["get", "OPENAI_API_KEY"],
        None,
        &with(&aws, settings_primary),
    )
    .await
    .code(0)
    .value(
        &in_primary,
        "AWS: the field of the primary secret, as LiteLLM returns",
    );
    run_env_mode(
        &cli,
        &["get", "MISSING_KEY"],
        None,
        &with(&aws, settings_primary),
    )
    .await
    .code(1)
    .no_stdout();
    run_env_mode(
        &cli,
        &["render", "-"],
        Some("${secret:aws-secret-manager/OPENAI_API_KEY}"),
        &with(&aws, settings_primary),
    )
    .await
    .code(0)
    .value(
        &in_primary,
        "placeholders read through the primary secret too",
    );

    // Vault (OpenBao): LiteLLM's Vault manager ignores primary_secret_name and reads the name
    // itself; so does Strongroom, and says so once.
    let bao = OpenBao::start().await;
    cli.credential(bao.root_token());
    let vault: Vec<(String, String)> = vec![
        ("HCP_VAULT_ADDR".into(), bao.url()),
        ("HCP_VAULT_TOKEN".into(), bao.root_token().into()),
        ("KEY_MANAGEMENT_SYSTEM".into(), "hashicorp_vault".into()),
    ];
    run_env_mode(
        &cli,
        &["put", "litellm/all-keys"],
        Some(&primary_json),
        &with(&vault, settings_rw),
    )
    .await
    .code(0);
    run_env_mode(
        &cli,
        &["put", "OPENAI_API_KEY"],
        Some(&direct),
        &with(&vault, settings_rw),
    )
    .await
    .code(0);
    let out = run_env_mode(
        &cli,
        &["get", "OPENAI_API_KEY"],
        None,
        &with(&vault, settings_primary),
    )
    .await;
    out.code(0)
        .value(&direct, "Vault: the secret itself, as LiteLLM returns")
        .stderr_has("primary_secret_name");
}
