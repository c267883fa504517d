//! Shared helpers of the end-to-end tests that drive the built `strongroom` binary against
//! providers: a per-test working directory with a `strongroom.toml`, a runner that spawns the
//! binary with a clean environment, and the scenario every provider goes through.
//!
//! Failure messages show exit codes and stderr, never stdout (it carries secret values) and
//! never the values themselves.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;

use tokio::io::AsyncWriteExt;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_strongroom-e2e")
}

/// What one run of the binary produced.
pub struct Out {
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Raw stdout (may hold secret values: never print it).
    pub stdout: Vec<u8>,
    /// Stderr (printed in failure messages).
    pub stderr: String,
    /// The command line, for failure messages.
    pub what: String,
}

impl Out {
    /// Asserts the exit code; the failure message shows stderr only.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert!(
            self.code == expected,
            "`strongroom {}` exited {} (expected {expected}); stderr: {}",
            self.what,
            self.code,
            self.stderr
        );
        self
    }

    /// Asserts stdout equals `expected` without printing either.
    #[track_caller]
    pub fn value(&self, expected: &str, why: &str) -> &Self {
        assert!(
            self.stdout == expected.as_bytes(),
            "`strongroom {}`: stdout is not the expected value ({why}); {} bytes, stderr: {}",
            self.what,
            self.stdout.len(),
            self.stderr
        );
        self
    }

    /// Asserts stdout is empty.
    #[track_caller]
    pub fn no_stdout(&self) -> &Self {
        assert!(
            self.stdout.is_empty(),
            "`strongroom {}` printed {} bytes on stdout, expected none",
            self.what,
            self.stdout.len()
        );
        self
    }

    /// Asserts stderr mentions `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "`strongroom {}`: stderr lacks `{needle}`: {}",
            self.what,
            self.stderr
        );
        self
    }

    /// Stdout parsed as JSON (only for outputs without values: ls, copy, status lines).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "`strongroom {}`: stdout is not JSON ({e}); stderr: {}",
                self.what, self.stderr
            )
        })
    }

    /// Stdout as text (only for outputs without values).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// A working directory with a configuration file, and the runner of the binary.
pub struct Cli {
    dir: tempfile::TempDir,
    config: PathBuf,
    /// Credentials: must never appear on stdout or stderr.
    credentials: Mutex<Vec<String>>,
    /// Secret values: must never appear on stderr (stdout shows them for get/render only).
    values: Mutex<Vec<String>>,
}

impl Cli {
    /// A fresh directory; write the configuration with [`Cli::write_config`].
    pub fn new() -> Cli {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("strongroom.toml");
        Cli {
            dir,
            config,
            credentials: Mutex::new(Vec::new()),
            values: Mutex::new(Vec::new()),
        }
    }

    /// The working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `strongroom.toml` (mode 0600: the CLI refuses a file group or others may
    /// write).
    pub fn write_config(&self, toml: &str) {
        std::fs::write(&self.config, toml).expect("write strongroom.toml");
        private(&self.config);
    }

    /// The path of `strongroom.toml`.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Writes a file into the working directory and returns its path.
    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write file");
        private(&p);
        p
    }

    /// Registers a credential that may never be printed.
    pub fn credential(&self, c: impl Into<String>) {
        self.credentials.lock().unwrap().push(c.into());
    }

    /// Registers a secret value that may never reach stderr.
    pub fn secret(&self, v: impl Into<String>) -> String {
        let v = v.into();
        self.values.lock().unwrap().push(v.clone());
        v
    }

    /// Runs `strongroom <args>` with `stdin`, a clean environment and the config file.
    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> Out {
        self.run_env(args, stdin, &[]).await
    }

    /// Like [`Cli::run`] with extra environment variables.
    pub async fn run_env(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Out {
        let mut with_config = vec![(
            "STRONGROOM_CONFIG",
            self.config.to_str().expect("utf-8 path"),
        )];
        with_config.extend_from_slice(env);
        self.run_bare(args, stdin, &with_config).await
    }

    /// Runs `strongroom <args>` with only PATH, HOME (the working directory) and `env`: no
    /// STRONGROOM_CONFIG, so the CLI finds its configuration as a user's shell would.
    pub async fn run_bare(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Out {
        let mut c = tokio::process::Command::new(bin());
        c.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            // Never let an SDK look for cloud instance metadata.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("spawn strongroom");
        {
            let mut input = child.stdin.take().expect("stdin");
            if let Some(s) = stdin {
                input.write_all(s.as_bytes()).await.expect("write stdin");
            }
            input.shutdown().await.ok();
        }
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(120),
            child.wait_with_output(),
        )
        .await
        .unwrap_or_else(|_| panic!("`strongroom {}` did not finish in 120 s", args.join(" ")))
        .expect("wait for strongroom");
        let out = Out {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            what: args.join(" "),
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        for c in self.credentials.lock().unwrap().iter() {
            assert!(
                !out.stderr.contains(c.as_str()) && !stdout.contains(c.as_str()),
                "`strongroom {}` printed a credential",
                out.what
            );
        }
        for v in self.values.lock().unwrap().iter() {
            assert!(
                !out.stderr.contains(v.as_str()),
                "`strongroom {}` printed a secret value on stderr",
                out.what
            );
        }
        out
    }
}

/// Makes `path` readable and writable by its owner only.
pub fn private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

/// TOML of a manager `name` of `provider` with inline `settings` (the inside of `{ … }`).
pub fn manager(
    name: &str,
    provider: &str,
    access_mode: &str,
    extra: &str,
    settings: &str,
) -> String {
    format!(
        "\n[managers.{name}]\nprovider = \"{provider}\"\naccess_mode = \"{access_mode}\"\n{extra}\nsettings = {{ {settings} }}\n"
    )
}

/// The standard configuration of a provider test: `<p>` (read and write, the default),
/// `<p>-ro` (read only), `<p>-ops` (read and write, group `ops` only), all with `settings`,
/// and `local` (a file manager in the working directory). `extra` is appended.
pub fn standard_config(cli: &Cli, p: &str, provider: &str, settings: &str, extra: &str) -> String {
    let mut t = format!("default_manager = \"{p}\"\n");
    t += &manager(p, provider, "read_and_write", "", settings);
    t += &manager(&format!("{p}-ro"), provider, "read_only", "", settings);
    t += &manager(
        &format!("{p}-ops"),
        provider,
        "read_and_write",
        "allowed_groups = [\"ops\"]",
        settings,
    );
    t += &manager(
        "local",
        "file",
        "read_and_write",
        "",
        &format!("path = \"{}\"", cli.dir().join("local.json").display()),
    );
    t += extra;
    t
}

/// A TOML basic string holding `s` (for settings that carry PEM text or paths).
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The behaviours every provider shows through the CLI, on manager `p` (configured by
/// [`standard_config`]). Writes `app/db` (a JSON secret) and `copy/one`, `copy/two`.
pub async fn scenario(cli: &Cli, p: &str) {
    let ro = format!("{p}-ro");
    let ops = format!("{p}-ops");
    let password = cli.secret(strongroom_testkit::sentinel("pw"));
    let json_value = format!("{{\"user\":\"app\",\"password\":\"{password}\"}}");

    // put (value from stdin, never printed) then get.
    let out = cli
        .run(
            &["put", "app/db", "-m", p, "--json"],
            Some(&format!("{json_value}\n")),
        )
        .await;
    out.code(0);
    assert_eq!(out.json()["status"], "ok");
    assert!(
        !out.text().contains(&password),
        "put never prints the value"
    );
    cli.run(&["get", "app/db", "-m", p], None)
        .await
        .code(0)
        .value(&json_value, "get after put, trailing newline removed");
    cli.run(&["get", "app/db"], None)
        .await
        .code(0)
        .value(&json_value, "the default manager");
    cli.run(
        &["get", "app/db", "-m", p, "--field", "password", "--refresh"],
        None,
    )
    .await
    .code(0)
    .value(&password, "--field of a JSON secret");

    // Missing secret: exit 1, nothing on stdout.
    cli.run(&["get", "app/missing", "-m", p], None)
        .await
        .code(1)
        .no_stdout()
        .stderr_has("not found");

    // ls lists names only.
    let out = cli.run(&["ls", "app/", "-m", p, "--json"], None).await;
    out.code(0);
    let names = out.json();
    assert!(
        names
            .as_array()
            .is_some_and(|a| a.iter().any(|n| n == "app/db")),
        "ls lists app/db: {names}"
    );
    assert!(!out.text().contains(&password), "ls prints no value");

    // render: placeholders of this manager, `#field` on the JSON secret, `$$` escape.
    let template = format!(
        "user=${{secret:{p}/app/db#user}} pw=${{secret:{p}/app/db#password}} $${{literal}}\n"
    );
    cli.run(&["render", "-"], Some(&template))
        .await
        .code(0)
        .value(&format!("user=app pw={password} ${{literal}}\n"), "render");
    // A template file works like stdin.
    let tpl = cli.write_file("app.tpl", &format!("${{secret:{p}/app/db#password}}"));
    cli.run(&["render", tpl.to_str().unwrap()], None)
        .await
        .code(0)
        .value(&password, "render of a file");
    // Fails closed: one missing placeholder, exit 1, no partial output.
    let out = cli
        .run(
            &["render", "-"],
            Some(&format!(
                "a=${{secret:{p}/app/db#password}} b=${{secret:{p}/app/nope}}"
            )),
        )
        .await;
    out.code(1)
        .no_stdout()
        .stderr_has(&format!("${{secret:{p}/app/nope}}"));
    // A missing JSON field is missing too.
    cli.run(
        &["render", "-"],
        Some(&format!("${{secret:{p}/app/db#nope}}")),
    )
    .await
    .code(1)
    .no_stdout()
    .stderr_has("#nope");

    // run --env: the child sees the secret in its environment, and only there.
    let env_spec = format!("PW=${{secret:{p}/app/db#password}}");
    let out = cli
        .run_env(
            &[
                "run",
                "--env",
                &env_spec,
                "--",
                "sh",
                "-c",
                "test \"$PW\" = \"$EXPECTED\"",
            ],
            None,
            &[("EXPECTED", &password)],
        )
        .await;
    out.code(0).no_stdout();
    let out = cli
        .run(
            &[
                "run",
                "--env",
                &env_spec,
                "--",
                "sh",
                "-c",
                "test \"$PW\" = not-the-value",
            ],
            None,
        )
        .await;
    out.code(1);
    let out = cli
        .run(
            &[
                "run",
                "--env",
                &format!("PW=${{secret:{p}/app/nope}}"),
                "--",
                "sh",
                "-c",
                "exit 0",
            ],
            None,
        )
        .await;
    out.code(1);

    // Access denied by our policy: read_only refuses put and delete (exit 3), reads work.
    let other = cli.secret(strongroom_testkit::sentinel("other"));
    cli.run(&["put", "app/db", "-m", &ro], Some(&other))
        .await
        .code(3)
        .stderr_has("access_denied");
    cli.run(&["delete", "app/db", "-m", &ro], None)
        .await
        .code(3);
    cli.run(&["get", "app/db", "-m", &ro], None)
        .await
        .code(0)
        .value(
            &json_value,
            "read_only reads, and the refused put changed nothing",
        );
    // allowed_groups: refused without the group (get, put, render), allowed with it.
    cli.run(&["get", "app/db", "-m", &ops], None)
        .await
        .code(3)
        .no_stdout();
    cli.run(&["put", "app/other", "-m", &ops], Some(&other))
        .await
        .code(3);
    cli.run(
        &["render", "-"],
        Some(&format!("${{secret:{ops}/app/db#password}}")),
    )
    .await
    .code(3)
    .no_stdout();
    cli.run(
        &[
            "--group", "ops", "get", "app/db", "-m", &ops, "--field", "user",
        ],
        None,
    )
    .await
    .code(0)
    .value("app", "allowed with the group");
    cli.run_env(
        &["render", "-"],
        Some(&format!("${{secret:{ops}/app/db#user}}")),
        &[("STRONGROOM_GROUPS", "dev,ops")],
    )
    .await
    .code(0)
    .value("app", "groups from STRONGROOM_GROUPS");
    cli.run(&["get", "app/other", "-m", p], None).await.code(1);

    // copy from the file manager to the provider, then read back through the provider.
    let one = cli.secret(strongroom_testkit::sentinel("one"));
    let two = cli.secret(strongroom_testkit::sentinel("two"));
    cli.run(&["put", "copy/one", "-m", "local"], Some(&one))
        .await
        .code(0);
    cli.run(&["put", "copy/two", "-m", "local"], Some(&two))
        .await
        .code(0);
    cli.run(&["put", "elsewhere", "-m", "local"], Some(&two))
        .await
        .code(0);
    let out = cli
        .run(
            &["copy", "--from", "local", "--to", p, "copy/", "--json"],
            None,
        )
        .await;
    out.code(0);
    let summary = out.json();
    assert_eq!(summary["copied"], 2, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert!(
        !out.text().contains(&one) && !out.text().contains(&two),
        "copy prints no values"
    );
    cli.run(&["get", "copy/one", "-m", p, "--refresh"], None)
        .await
        .code(0)
        .value(&one, "copied secret read back through the provider");
    cli.run(&["get", "copy/two", "-m", &ro], None)
        .await
        .code(0)
        .value(
            &two,
            "copied secret read back through the read-only manager",
        );
    cli.run(&["get", "elsewhere", "-m", p], None).await.code(1);
    // Copy into a read_only manager is refused per secret (exit 4 with the errors listed).
    let out = cli
        .run(
            &["copy", "--from", "local", "--to", &ro, "copy/", "--json"],
            None,
        )
        .await;
    out.code(4);
    assert_eq!(out.json()["failed"], 2);
    // Copy to a group-restricted manager without the group: exit 3 before anything runs.
    cli.run(&["copy", "--from", "local", "--to", &ops, "copy/"], None)
        .await
        .code(3);

    // The managers command health-checks each manager the caller may use.
    let out = cli.run(&["managers", "--json"], None).await;
    out.code(0);
    let rows = out.json();
    let health = |name: &str| {
        rows.as_array()
            .and_then(|a| a.iter().find(|r| r["name"] == name))
            .map(|r| r["health"].clone())
            .unwrap_or_else(|| panic!("managers lists {name}: {rows}"))
    };
    assert_eq!(health(p), "ok", "{rows}");
    assert_eq!(health(&ro), "ok", "{rows}");
    assert_eq!(health(&ops), "not allowed for your groups", "{rows}");
}

/// Deletes `copy/two` through `p` (with `--force` when `force`) and checks it is gone (exit 1
/// after).
pub async fn delete_works(cli: &Cli, p: &str, force: bool) {
    let mut args = vec!["delete", "copy/two", "-m", p, "--json"];
    if force {
        args.push("--force");
    }
    let out = cli.run(&args, None).await;
    out.code(0);
    assert_eq!(out.json()["status"], "deleted");
    cli.run(&["get", "copy/two", "-m", p, "--refresh"], None)
        .await
        .code(1)
        .no_stdout();
    // Deleting a missing secret succeeds.
    cli.run(&["delete", "copy/never-there", "-m", p], None)
        .await
        .code(0);
}

/// With the backend down: get, put, ls and render fail with exit 4 and print no value.
pub async fn backend_down(cli: &Cli, p: &str) {
    let out = cli.run(&["get", "app/db", "-m", p], None).await;
    out.code(4).no_stdout();
    cli.run(&["ls", "-m", p], None).await.code(4).no_stdout();
    cli.run(
        &["render", "-"],
        Some(&format!("${{secret:{p}/app/db#password}}")),
    )
    .await
    .code(4)
    .no_stdout();
}
