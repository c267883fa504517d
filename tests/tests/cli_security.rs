//! The scenarios of issue 16 (facade and CLI items 1, 2, 3, 4, 8), each driven through the
//! built binary the way the scenario describes; each fails on the tree before the fix.
//!
//! Run: `STRONGROOM_REQUIRE_SERVERS=1 cargo test -p strongroom-tests --test cli_security`.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;

use common::{Cli, manager, toml_str};
use strongroom_testkit::sentinel;
use strongroom_testkit::servers::openbao::OpenBao;

fn vault_env(bao: &OpenBao, settings: Option<&str>) -> Vec<(String, String)> {
    let mut env = vec![
        ("HCP_VAULT_ADDR".to_owned(), bao.url()),
        ("HCP_VAULT_TOKEN".to_owned(), bao.root_token().to_owned()),
        (
            "KEY_MANAGEMENT_SYSTEM".to_owned(),
            "hashicorp_vault".to_owned(),
        ),
    ];
    if let Some(s) = settings {
        env.push(("KEY_MANAGEMENT_SETTINGS".to_owned(), s.to_owned()));
    }
    env
}

async fn run(
    cli: &Cli,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(String, String)],
) -> common::Out {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    cli.run_bare(args, stdin, &env).await
}

/// 16.1: `access_mode = write_only` gave the `virtual-keys` manager read access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_only_gives_no_read_access_to_virtual_keys() {
    let bao = OpenBao::start().await;
    let cli = Cli::new();
    cli.credential(bao.root_token());
    let stored = cli.secret(sentinel("stored-virtual-key"));
    let rw = r#"{"access_mode":"read_and_write","store_virtual_keys":true}"#;
    run(
        &cli,
        &["put", "k", "-m", "virtual-keys"],
        Some(&stored),
        &vault_env(&bao, Some(rw)),
    )
    .await
    .code(0);
    // The scenario: write_only, store_virtual_keys left at false.
    let wo = vault_env(&bao, Some(r#"{"access_mode":"write_only"}"#));
    run(&cli, &["get", "-m", "virtual-keys", "k"], None, &wo)
        .await
        .code(3)
        .no_stdout();
    run(&cli, &["ls", "-m", "virtual-keys"], None, &wo)
        .await
        .code(3)
        .no_stdout();
    run(
        &cli,
        &["render", "-"],
        Some("${secret:virtual-keys/k}"),
        &wo,
    )
    .await
    .code(3)
    .no_stdout();
    // store_virtual_keys off takes writes away too: nothing is left.
    run(&cli, &["put", "k2", "-m", "virtual-keys"], Some("x"), &wo)
        .await
        .code(3);
    // The default manager is write_only as asked: writes yes, reads no.
    run(&cli, &["put", "plain"], Some("x"), &wo).await.code(0);
    run(&cli, &["get", "plain"], None, &wo)
        .await
        .code(3)
        .no_stdout();
    // write_only with store_virtual_keys: virtual keys may be written, still not read.
    let wo_store = vault_env(
        &bao,
        Some(r#"{"access_mode":"write_only","store_virtual_keys":true}"#),
    );
    run(
        &cli,
        &["put", "k3", "-m", "virtual-keys"],
        Some("x"),
        &wo_store,
    )
    .await
    .code(0);
    run(&cli, &["get", "k", "-m", "virtual-keys"], None, &wo_store)
        .await
        .code(3)
        .no_stdout();
}

/// 16.2: `hosted_keys` and the env provider exposed the whole environment, credentials
/// included; and `hosted_keys` hid stored virtual keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_reads_are_scoped_and_never_return_credentials() {
    let bao = OpenBao::start().await;
    let cli = Cli::new();
    cli.credential(bao.root_token());
    let hosted = r#"{"hosted_keys":["OPENAI_API_KEY"],"access_mode":"read_and_write","store_virtual_keys":true}"#;
    let mut env = vault_env(&bao, Some(hosted));
    let plain = sentinel("plain-setting");
    env.push(("PLAIN_SETTING".into(), plain.clone()));
    env.push(("NOT_LISTED".into(), "nope".into()));
    // The scenario: the Vault token through a placeholder of the LiteLLM manager.
    run(
        &cli,
        &["render", "-"],
        Some("${secret:hashicorp-vault/HCP_VAULT_TOKEN}"),
        &env,
    )
    .await
    .code(1)
    .no_stdout();
    // Names outside hosted_keys come from the environment only when listed, and never a
    // credential of the configuration even when listed.
    env.push((
        "STRONGROOM_ENV_FALLBACK".into(),
        "PLAIN_SETTING,HCP_VAULT_TOKEN".into(),
    ));
    run(&cli, &["get", "HCP_VAULT_TOKEN"], None, &env)
        .await
        .code(1)
        .no_stdout();
    run(&cli, &["get", "NOT_LISTED"], None, &env)
        .await
        .code(1)
        .no_stdout();
    run(&cli, &["get", "PLAIN_SETTING"], None, &env)
        .await
        .code(0)
        .value(&plain, "a listed, non-credential variable");
    // Hosted names come from Vault.
    let openai = cli.secret(sentinel("openai"));
    run(&cli, &["put", "OPENAI_API_KEY"], Some(&openai), &env)
        .await
        .code(0);
    run(&cli, &["get", "OPENAI_API_KEY"], None, &env)
        .await
        .code(0)
        .value(&openai, "a hosted name");
    // Virtual keys still reach the backend with hosted_keys set (the check is on the
    // unprefixed name of the LiteLLM manager only).
    let vk = cli.secret(sentinel("virtual-key"));
    run(
        &cli,
        &["put", "sk-team-1", "-m", "virtual-keys"],
        Some(&vk),
        &env,
    )
    .await
    .code(0);
    run(
        &cli,
        &["get", "sk-team-1", "-m", "virtual-keys"],
        None,
        &env,
    )
    .await
    .code(0)
    .value(&vk, "put then get of a virtual key with hosted_keys set");
    let (status, _) = bao
        .api("GET", None, "secret/data/litellm/sk-team-1", None)
        .await;
    assert_eq!(status, 200, "the virtual key is in Vault");

    // The env provider: a prefix or names, never another manager's credential.
    let token = sentinel("vault-token");
    cli.credential(token.clone());
    let app = sentinel("app-value");
    let mut toml = manager("envp", "env", "read_only", "", "prefix = \"VAULT_\"");
    toml += &manager(
        "envn",
        "env",
        "read_only",
        "",
        "names = [\"VAULT_TOKEN\", \"APP_VALUE\"]",
    );
    toml += &manager(
        "vault",
        "hcp-vault",
        "read_only",
        "allowed_groups = [\"ops\"]",
        &format!(
            "addr = {}, token = \"${{env:VAULT_TOKEN}}\"",
            toml_str(&bao.url())
        ),
    );
    toml += "\n[managers.everything]\nprovider = \"env\"\n";
    cli.write_config(&toml.replace("\n[managers.everything]\nprovider = \"env\"\n", ""));
    let env = [("VAULT_TOKEN", token.as_str()), ("APP_VALUE", app.as_str())];
    cli.run_env(&["get", "TOKEN", "-m", "envp"], None, &env)
        .await
        .code(1)
        .no_stdout();
    cli.run_env(&["get", "VAULT_TOKEN", "-m", "envn"], None, &env)
        .await
        .code(1)
        .no_stdout();
    let out = cli
        .run_env(&["ls", "-m", "envn", "--json"], None, &env)
        .await;
    out.code(0);
    assert_eq!(
        out.json(),
        serde_json::json!(["APP_VALUE"]),
        "only the listed non-credential variable"
    );
    cli.run_env(&["get", "APP_VALUE", "-m", "envn"], None, &env)
        .await
        .code(0)
        .value(&app, "a listed variable");
    // An env manager without a scope is refused: the whole environment is never exposed.
    cli.write_config(&toml);
    cli.run_env(&["get", "PATH", "-m", "everything"], None, &env)
        .await
        .code(2)
        .stderr_has("needs `prefix` or `names`");
}

/// The names of the child's environment, from `env` run as the child (values are not kept).
fn names_of(env_output: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(env_output)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_owned()))
        .collect()
}

/// 16.3: `strongroom run` handed the broker's own credentials to the child.
#[tokio::test]
async fn run_hands_the_child_no_credential_of_the_configuration() {
    let cli = Cli::new();
    let file = cli.dir().join("local.json");
    let mut toml = manager(
        "local",
        "file",
        "read_and_write",
        "",
        &format!("path = {}", toml_str(&file.display().to_string())),
    );
    // Managers of every provider; `run` with no placeholder of theirs contacts none of them.
    toml += &manager(
        "vault",
        "hcp-vault",
        "read_only",
        "",
        "addr = \"https://vault.example\", token = \"${env:MY_VAULT_TOKEN}\"",
    );
    toml += &manager(
        "conjur",
        "conjur",
        "read_only",
        "",
        "api_base = \"https://conjur.example\", account = \"a\", username = \"u\", api_key = \"${env:CYBERARK_API_KEY}\"",
    );
    toml += &manager("aws", "aws", "read_only", "", "region = \"us-east-1\"");
    toml += &manager(
        "azure",
        "azure",
        "read_only",
        "",
        "uri = \"https://v.vault.azure.net\", tenant_id = \"t\", client_id = \"c\", client_secret = \"${env:AZURE_CLIENT_SECRET}\"",
    );
    toml += &manager(
        "akeyless",
        "akeyless",
        "read_only",
        "",
        "access_id = \"p-abc123\", access_key = \"${env:AKEYLESS_ACCESS_KEY}\"",
    );
    toml += &format!(
        "\n[cache]\nkind = \"redis\"\nsettings = {{ url = {}, key = \"${{env:STRONGROOM_REDIS_KEY}}\" }}\n",
        toml_str(&strongroom_testkit::servers::redis::shared_url())
    );
    cli.write_config(&toml);
    let credentials = [
        "MY_VAULT_TOKEN",
        "VAULT_TOKEN",
        "HCP_VAULT_TOKEN",
        "CYBERARK_API_KEY",
        "AZURE_CLIENT_SECRET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AKEYLESS_ACCESS_KEY",
        "STRONGROOM_REDIS_KEY",
    ];
    let key = strongroom_redis::EncryptionKey::generate().to_base64();
    let mut env: Vec<(&str, String)> = credentials.iter().map(|c| (*c, sentinel("cred"))).collect();
    env.retain(|(k, _)| *k != "STRONGROOM_REDIS_KEY");
    env.push(("STRONGROOM_REDIS_KEY", key.to_string()));
    // Every credential value is registered: the runner fails if stdout or stderr shows one.
    for (_, v) in &env {
        cli.credential(v.clone());
    }
    env.push(("UNRELATED_SETTING", "kept".to_owned()));
    env.push(("LANG", "C.UTF-8".to_owned()));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let db = cli.secret(sentinel("db"));
    cli.run_env(&["put", "db", "-m", "local"], Some(&db), &env_refs)
        .await
        .code(0);
    // Default: everything but the credentials, plus the rendered values.
    let out = cli
        .run_env(
            &["run", "--env", "DB=${secret:local/db}", "--", "env"],
            None,
            &env_refs,
        )
        .await;
    out.code(0);
    let names = names_of(&out.stdout);
    for c in credentials {
        assert!(!names.contains(c), "the child got {c}: {names:?}");
    }
    for kept in [
        "UNRELATED_SETTING",
        "LANG",
        "PATH",
        "HOME",
        "DB",
        "STRONGROOM_CONFIG",
    ] {
        assert!(names.contains(kept), "the child lost {kept}: {names:?}");
    }
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l == format!("DB={db}")),
        "the child got the rendered value"
    );
    // --clean-env: only --env plus PATH, HOME, LANG, TERM.
    let out = cli
        .run_env(
            &[
                "run",
                "--clean-env",
                "--env",
                "DB=${secret:local/db}",
                "--",
                "env",
            ],
            None,
            &env_refs,
        )
        .await;
    out.code(0);
    let expected: BTreeSet<String> = ["DB", "PATH", "HOME", "LANG"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(names_of(&out.stdout), expected);
}

/// 16.3: on Unix the CLI becomes the child (`exec`): no waiting parent keeps the values, and
/// signals reach the child directly.
#[tokio::test]
async fn run_replaces_itself_with_the_child() {
    let cli = Cli::new();
    cli.write_config(&manager("local", "memory", "read_only", "", ""));
    let child = tokio::process::Command::new(common::bin())
        .current_dir(cli.dir())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("STRONGROOM_CONFIG", cli.config_path())
        .args(["run", "--", "sh", "-c", "echo $$; cat /proc/self/limits"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id().expect("pid");
    let out = child.wait_with_output().await.expect("wait");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(pid.to_string().as_str()),
        "the child runs as the process that was started (exec), not under a waiting parent"
    );
    // 16.8: core dumps are off (soft limit 0), and the child inherits that.
    let core = lines
        .find(|l| l.starts_with("Max core file size"))
        .expect("a core limit line");
    assert_eq!(
        core.split_whitespace().nth(4),
        Some("0"),
        "soft core limit is 0: {core}"
    );
}

/// 16.8: names in error messages and listings cannot drive the terminal.
#[tokio::test]
async fn terminal_control_characters_are_escaped() {
    let cli = Cli::new();
    cli.write_config(&manager("local", "memory", "read_and_write", "", ""));
    for args in [
        vec!["get", "x", "-m", "evil\u{1b}]0;pwned\u{7}"],
        vec!["get", "a\u{1b}[2Jb", "-m", "local"],
        vec!["put", "n\u{9b}31m", "-m", "local"],
        vec!["get", "rtl\u{202e}txt", "-m", "local"],
    ] {
        let out = cli.run(&args, Some("v")).await;
        assert_ne!(out.code, 0);
        assert!(
            !out.stderr
                .chars()
                .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
            "raw control characters on stderr: {:?}",
            out.stderr
        );
        assert!(out.stderr.contains("\\u{"), "escaped: {}", out.stderr);
    }
}

/// 16.4: `cache ls` and `cache clear` see only the caller's managers (shared Redis cache).
#[tokio::test]
async fn cache_ls_and_clear_are_limited_to_the_callers_managers() {
    let cli = Cli::new();
    let key = strongroom_redis::EncryptionKey::generate().to_base64();
    cli.credential(key.as_str());
    let prefix = format!("{}:", sentinel("cache-groups"));
    let mut toml = format!(
        "[cache]\nkind = \"redis\"\nsettings = {{ url = {}, key = {}, prefix = {} }}\n",
        toml_str(&strongroom_testkit::servers::redis::shared_url()),
        toml_str(&key),
        toml_str(&prefix)
    );
    for (name, extra) in [("public", ""), ("ops", "allowed_groups = [\"ops\"]")] {
        let path = cli.dir().join(format!("{name}.json"));
        toml += &manager(
            name,
            "file",
            "read_and_write",
            extra,
            &format!("path = {}", toml_str(&path.display().to_string())),
        );
    }
    cli.write_config(&toml);
    cli.run(
        &["--group", "ops", "put", "ops-secret", "-m", "ops"],
        Some("o"),
    )
    .await
    .code(0);
    cli.run(&["put", "public-secret", "-m", "public"], Some("p"))
        .await
        .code(0);
    cli.run(&["--group", "ops", "get", "ops-secret", "-m", "ops"], None)
        .await
        .code(0);
    cli.run(&["get", "public-secret", "-m", "public"], None)
        .await
        .code(0);
    let names = |out: &common::Out| -> Vec<String> {
        out.json()
            .as_array()
            .expect("array")
            .iter()
            .map(|e| e["display"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let out = cli.run(&["cache", "ls", "--json"], None).await;
    out.code(0);
    assert_eq!(
        names(&out),
        ["public-secret"],
        "without the group, only public entries"
    );
    let out = cli
        .run(&["--group", "ops", "cache", "ls", "--json"], None)
        .await;
    let mut all = names(&out);
    all.sort();
    assert_eq!(all, ["ops-secret", "public-secret"]);
    // Clearing without the group leaves the ops entry.
    cli.run(&["cache", "clear"], None).await.code(0);
    let out = cli
        .run(&["--group", "ops", "cache", "ls", "--json"], None)
        .await;
    assert_eq!(
        names(&out),
        ["ops-secret"],
        "cache clear touched only the caller's entries"
    );
    cli.run(&["cache", "clear", "ops-secret", "-m", "ops"], None)
        .await
        .code(3);
    cli.run(&["--group", "ops", "cache", "clear"], None)
        .await
        .code(0);
}
