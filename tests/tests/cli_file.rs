//! The built `strongroom` binary against the embedded default (FileStore) and a TOML config
//! of file, env and memory managers.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_strongroom-e2e")
}

fn cmd(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    // The user's config directory (trust records, the file store's key) is the test's own.
    c.current_dir(dir)
        .env("HOME", dir)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("STRONGROOM_FILE_KEY")
        .env_remove("STRONGROOM_CONFIG")
        .env_remove("KEY_MANAGEMENT_SYSTEM")
        .env_remove("STRONGROOM_KEY_MANAGEMENT_SYSTEM")
        .env_remove("STRONGROOM_GROUPS")
        .env_remove("STRONGROOM_FILE");
    c
}

fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = cmd(dir);
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn strongroom");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn embedded_default_put_get_render_run_delete() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run(d, &["put", "demo/db-password"], Some("hunter2\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("hunter2"),
        "put never prints the value"
    );
    let out = run(d, &["get", "demo/db-password"], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "hunter2",
        "one trailing newline removed, none added on a pipe"
    );
    let out = run(
        d,
        &["render", "-"],
        Some("url=postgres://app:${secret:local/demo/db-password}@db $${literal}"),
    );
    assert_eq!(
        text(&out.stdout),
        "url=postgres://app:hunter2@db ${literal}"
    );
    let out = run(
        d,
        &[
            "run",
            "--env",
            "PW=${secret:local/demo/db-password}",
            "--",
            "sh",
            "-c",
            "test \"$PW\" = hunter2",
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "the child sees the secret in its environment"
    );
    let out = run(d, &["run", "--", "sh", "-c", "exit 7"], None);
    assert_eq!(
        out.status.code(),
        Some(7),
        "the child's exit code is passed on"
    );
    let out = run(d, &["ls", "--json"], None);
    let names: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names, ["demo/db-password"]);
    let out = run(d, &["delete", "demo/db-password", "--json"], None);
    assert_eq!(out.status.code(), Some(0));
    let out = run(d, &["get", "demo/db-password"], None);
    assert_eq!(out.status.code(), Some(1), "missing secret → exit 1");
    // The file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join(".strongroom/secrets.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn render_fails_closed_and_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(d, &["put", "a"], Some("A"));
    let out = run(
        d,
        &["render", "-"],
        Some("x=${secret:local/a} y=${secret:local/missing}"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no partial output");
    assert!(text(&out.stderr).contains("${secret:local/missing}"));
    let out = run(d, &["render", "-"], Some("${secret:nope/a}"));
    assert_eq!(
        out.status.code(),
        Some(2),
        "unknown manager is a config error"
    );
    let out = run(d, &["render", "-"], Some("${secret:local/a"));
    assert_eq!(out.status.code(), Some(2), "unterminated placeholder");
}

#[test]
fn values_never_come_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["put", "a", "the-value"], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an extra positional value is a usage error"
    );
    let out = run(dir.path(), &["get"], None);
    assert_eq!(out.status.code(), Some(2));
}

fn write_config(d: &Path, extra: &str) -> std::path::PathBuf {
    let path = d.join("strongroom.toml");
    std::fs::write(
        &path,
        format!(
            r#"
default_manager = "rw"
[managers.rw]
provider = "file"
access_mode = "read_and_write"
settings = {{ path = "{rw}" }}

[managers.ro]
provider = "file"
settings = {{ path = "{rw}" }}

[managers.ops]
provider = "file"
access_mode = "read_and_write"
allowed_groups = ["ops"]
settings = {{ path = "{ops}" }}

[managers.target]
provider = "file"
access_mode = "read_and_write"
settings = {{ path = "{target}" }}

[managers.environment]
provider = "env"
access_mode = "read_and_write"
settings = {{ prefix = "E2E_" }}
{extra}
"#,
            rw = d.join("rw.json").display(),
            ops = d.join("ops.json").display(),
            target = d.join("target.json").display(),
        ),
    )
    .unwrap();
    private(&path);
    // A strongroom.toml in the working directory is used once the user trusted it.
    let out = run(d, &["trust"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    path
}

fn private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn access_denied_groups_copy_cache_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, "");
    assert!(run(d, &["put", "app/one"], Some("1")).status.success());
    assert!(run(d, &["put", "app/two"], Some("2")).status.success());
    assert!(run(d, &["put", "other/three"], Some("3")).status.success());
    // read_only refuses writes and deletes: exit 3.
    let out = run(d, &["put", "x", "-m", "ro"], Some("v"));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("access_denied"));
    let out = run(d, &["delete", "app/one", "-m", "ro"], None);
    assert_eq!(out.status.code(), Some(3));
    // Reads through ro work.
    let out = run(d, &["get", "app/one", "-m", "ro"], None);
    assert_eq!(text(&out.stdout), "1");
    // Group-restricted manager.
    let out = run(d, &["ls", "-m", "ops"], None);
    assert_eq!(out.status.code(), Some(3));
    let out = run(d, &["render", "-"], Some("${secret:ops/x}"));
    assert_eq!(
        out.status.code(),
        Some(3),
        "placeholder of a manager not allowed for the groups"
    );
    let out = run(d, &["--group", "ops", "ls", "-m", "ops"], None);
    assert_eq!(out.status.code(), Some(0));
    // Env manager: delete is not supported (exit 5).
    let out = run(d, &["delete", "X", "-m", "environment", "--json"], None);
    assert_eq!(out.status.code(), Some(5));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["status"], "not_supported");
    // Env manager reads the variable.
    let out = run_env(
        d,
        &["get", "TOKEN", "-m", "environment"],
        ("E2E_TOKEN", "from-env"),
    );
    assert_eq!(text(&out.stdout), "from-env");
    // Copy with a prefix, dry run first.
    let out = run(
        d,
        &[
            "copy",
            "--from",
            "rw",
            "--to",
            "target",
            "app/",
            "--dry-run",
            "--json",
        ],
        None,
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["copied"], 2);
    assert_eq!(
        run(d, &["ls", "-m", "target", "--json"], None).stdout,
        b"[]\n"
    );
    let out = run(
        d,
        &["copy", "--from", "rw", "--to", "target", "app/", "--json"],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["copied"], 2);
    assert!(
        !text(&out.stdout).contains('1') || !text(&out.stdout).contains("\"value\""),
        "copy prints no values"
    );
    assert_eq!(
        text(&run(d, &["get", "app/two", "-m", "target"], None).stdout),
        "2"
    );
    // Cache commands work (an in-process cache is empty at start of each command).
    let out = run(d, &["cache", "ls", "--json"], None);
    assert_eq!(out.status.code(), Some(0));
    let out = run(d, &["cache", "clear", "app/one"], None);
    assert_eq!(out.status.code(), Some(0));
    // Managers health.
    let out = run(d, &["managers", "--json"], None);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 5);
    // An edited config is refused until trusted again; a broken one cannot be trusted: exit 2
    // naming the problem.
    std::fs::write(
        d.join("strongroom.toml"),
        "[managers.a]\nprovider = \"nope\"\n",
    )
    .unwrap();
    let out = run(d, &["ls"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("has changed since it was trusted"));
    let out = run(d, &["trust"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown provider `nope`"),
        "{}",
        text(&out.stderr)
    );
}

fn run_env(dir: &Path, args: &[&str], (k, v): (&str, &str)) -> Output {
    cmd(dir)
        .args(args)
        .env(k, v)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn litellm_environment_setup_enforces_access_mode_on_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("s.json");
    let base = |settings: &str| {
        let mut c = cmd(d);
        c.env("KEY_MANAGEMENT_SYSTEM", "file")
            .env("STRONGROOM_FILE", &file)
            .env("KEY_MANAGEMENT_SETTINGS", settings)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let put = |settings: &str, manager: &str| {
        let mut child = base(settings)
            .args(["put", "k", "-m", manager])
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"v").unwrap();
        child.wait_with_output().unwrap()
    };
    // read_only (the default) + store_virtual_keys: LiteLLM would still write; we refuse.
    let out = put(r#"{"store_virtual_keys": true}"#, "virtual-keys");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let out = put(
        r#"{"store_virtual_keys": true, "access_mode": "read_and_write"}"#,
        "virtual-keys",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The key landed under the prefix.
    let out = base(r#"{"access_mode": "read_only"}"#)
        .args(["get", "litellm/k"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "v");
    // write_only refuses reads.
    let out = base(r#"{"access_mode": "write_only"}"#)
        .args(["get", "litellm/k"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    // hosted_keys: names not listed come from the environment, only from the variables
    // STRONGROOM_ENV_FALLBACK names.
    let out = base(r#"{"hosted_keys": ["litellm/k"]}"#)
        .env("OTHER", "env-value")
        .args(["get", "OTHER"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "not listed: not read");
    let out = base(r#"{"hosted_keys": ["litellm/k"]}"#)
        .env("OTHER", "env-value")
        .env("STRONGROOM_ENV_FALLBACK", "OTHER")
        .args(["get", "OTHER"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "env-value");
}
