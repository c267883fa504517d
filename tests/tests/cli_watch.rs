//! Rotation through the built `strongroom` binary (issue 19.3): `run --watch` restarts its
//! child — or signals it — exactly once per change of a secret it was given, forwards signals,
//! and keeps the child's environment rules on every restart; `render --watch --out FILE`
//! rewrites the file atomically (mode 0600) and runs `--exec` after each write; `managers
//! --stats` shows each manager's cache statistics.
//!
//! The CLI runs as its own process, so a manual clock cannot reach it: the managers use a
//! 1-second TTL (a watch refreshes at 80 % of it) and the tests wait — bounded — for the
//! events the child or the file shows, never for a fixed time. Rotations are writes through
//! another `strongroom` process. The children record digests of what they were given, never
//! the values.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Cli, manager, toml_str};
use strongroom_testkit::sentinel;
use strongroom_testkit::servers::openbao::OpenBao;

/// The longest any awaited event may take.
const BOUND: Duration = Duration::from_secs(60);

/// Waits (bounded) until `cond` holds; `what` names the event in the failure message, `show`
/// what was seen instead.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool, show: impl Fn() -> String) {
    let done = tokio::time::timeout(BOUND, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        done.is_ok(),
        "timed out waiting for {what}; saw: {}",
        show()
    );
}

/// The lines of a file (empty when it does not exist yet).
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What `printf %s "$V" | cksum` prints for `value`: how the children record a value.
fn digest(value: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "printf %s \"$V\" | cksum"])
        .env("V", value)
        .output()
        .expect("cksum");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn quoted(path: &Path) -> String {
    format!("'{}'", path.display())
}

/// A long-running `strongroom` (a `--watch` command): spawned with a clean environment like
/// [`Cli::run`], stderr kept; the processes it started are killed if the test fails.
struct Daemon {
    child: tokio::process::Child,
    /// A file the child scripts append their process ids to (killed on drop).
    pids: PathBuf,
    values: Vec<String>,
}

impl Daemon {
    fn spawn(cli: &Cli, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut c = tokio::process::Command::new(common::bin());
        c.current_dir(cli.dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", cli.dir())
            .env("STRONGROOM_CONFIG", cli.config_path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c.env(VAULT_TOKEN_ENV.0, VAULT_TOKEN_ENV.1);
        for (k, v) in env {
            c.env(k, v);
        }
        Daemon {
            child: c.spawn().expect("spawn strongroom"),
            pids: cli.dir().join("pids"),
            values: Vec::new(),
        }
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args(["-s", name, "--", &pid])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{name} {pid}");
    }

    /// Waits (bounded) for the exit; returns the code and stderr, which must show no value.
    async fn finish(mut self) -> (i32, String) {
        let child = std::mem::replace(
            &mut self.child,
            tokio::process::Command::new("true").spawn().expect("true"),
        );
        let out = tokio::time::timeout(BOUND, child.wait_with_output())
            .await
            .expect("strongroom exits")
            .expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        for v in &self.values {
            assert!(!stderr.contains(v.as_str()), "stderr shows a secret value");
        }
        assert!(out.stdout.is_empty(), "nothing on stdout");
        (out.status.code().unwrap_or(-1), stderr)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        for pid in lines(&self.pids) {
            // `-s KILL --`: procps `kill -KILL -1234` signals the group of the first digit
            // only, and `-1` is every process.
            let _ = std::process::Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}"), &pid])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A file manager `local` with a 1 s TTL, and a Vault manager whose token comes from
/// `MY_VAULT_TOKEN` (a credential of the configuration; nothing contacts it).
fn config(cli: &Cli) -> String {
    let mut toml = manager(
        "local",
        "file",
        "read_and_write",
        "cache = { ttl = \"1s\" }",
        &format!(
            "path = {}",
            toml_str(&cli.dir().join("local.json").display().to_string())
        ),
    );
    toml += &manager(
        "vault",
        "hcp-vault",
        "read_only",
        "",
        "addr = \"https://vault.example\", token = \"${env:MY_VAULT_TOKEN}\"",
    );
    toml
}

/// The token the Vault manager of [`config`] references (it is never used).
const VAULT_TOKEN_ENV: (&str, &str) = ("MY_VAULT_TOKEN", "unused-token-0");

/// `strongroom <args>` with the variable the configuration references.
async fn run(cli: &Cli, args: &[&str], stdin: Option<&str>) -> common::Out {
    cli.run_env(args, stdin, &[VAULT_TOKEN_ENV]).await
}

async fn put(cli: &Cli, manager: &str, name: &str, value: &str) {
    run(cli, &["put", name, "-m", manager], Some(value))
        .await
        .code(0);
}

/// The child's script: records itself (`start …` via `record`, its pid), traps signals as
/// `traps` says, and lives at most a minute.
fn script(cli: &Cli, events: &Path, record: &str, traps: &str) -> String {
    format!(
        "e={e}; {traps}; echo $$ >> {pids}; echo \"start {record}\" >> \"$e\"; \
         i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done",
        e = quoted(events),
        pids = quoted(&cli.dir().join("pids")),
    )
}

#[tokio::test]
async fn run_watch_restarts_the_child_once_per_rotation_without_credentials() {
    let cli = Cli::new();
    cli.write_config(&config(&cli));
    let (v1, v2) = (cli.secret(sentinel("pw1")), cli.secret(sentinel("pw2")));
    let (o1, o2) = (cli.secret(sentinel("o1")), cli.secret(sentinel("o2")));
    put(&cli, "local", "db", &v1).await;
    put(&cli, "local", "other", &o1).await;
    let events = cli.dir().join("events");
    let record = "pw=$(printf %s \"$PW\" | cksum) other=$(printf %s \"$OTHER\" | cksum) \
                  cred=${MY_VAULT_TOKEN:+set}${VAULT_TOKEN:+set} unrelated=${UNRELATED:-unset}";
    let sh = script(
        &cli,
        &events,
        record,
        "trap 'echo term >> \"$e\"; exit 0' TERM",
    );
    let token = sentinel("vault-token");
    cli.credential(token.clone());
    let mut daemon = Daemon::spawn(
        &cli,
        &[
            "run",
            "--watch",
            "--env",
            "PW=${secret:local/db}",
            "--env",
            "OTHER=${secret:local/other}",
            "--",
            "sh",
            "-c",
            &sh,
        ],
        &[
            ("MY_VAULT_TOKEN", &token),
            ("VAULT_TOKEN", &token),
            ("UNRELATED", "kept"),
        ],
    );
    daemon.values = vec![v1.clone(), v2.clone(), o1.clone(), o2.clone(), token];
    let start = |pw: &str, other: &str| {
        format!(
            "start pw={} other={} cred= unrelated=kept",
            digest(pw),
            digest(other)
        )
    };
    let show = || lines(&events).join(" | ");
    wait_for("the first child", || lines(&events).len() == 1, show).await;
    assert_eq!(lines(&events), [start(&v1, &o1)]);

    // A rotation through another CLI process: one restart, with the new value.
    put(&cli, "local", "db", &v2).await;
    wait_for("the restarted child", || lines(&events).len() >= 3, show).await;
    // Another secret of the child changes: one more restart. Had the first rotation restarted
    // the child twice, the lines would show it before this one.
    put(&cli, "local", "other", &o2).await;
    wait_for("the second restart", || lines(&events).len() >= 5, show).await;
    // A signal to the supervisor reaches the child, whose exit code is the supervisor's.
    daemon.signal("TERM");
    let (code, stderr) = daemon.finish().await;
    assert_eq!(code, 0, "the child's exit code; stderr: {stderr}");
    assert_eq!(
        lines(&events),
        [
            start(&v1, &o1),
            "term".to_owned(),
            start(&v2, &o1),
            "term".to_owned(),
            start(&v2, &o2),
            "term".to_owned(),
        ],
        "one restart per rotation; no credential in any child's environment"
    );
    assert_eq!(
        stderr.matches("restarting it").count(),
        2,
        "stderr: {stderr}"
    );
}

#[tokio::test]
async fn run_watch_signal_sends_hup_once_per_rotation_and_forwards_signals() {
    let cli = Cli::new();
    cli.write_config(&config(&cli));
    let (v1, v2, o2) = (
        cli.secret(sentinel("pw1")),
        cli.secret(sentinel("pw2")),
        cli.secret(sentinel("o2")),
    );
    put(&cli, "local", "db", &v1).await;
    put(&cli, "local", "other", &v1).await;
    let events = cli.dir().join("events");
    let sh = script(
        &cli,
        &events,
        "pw=$(printf %s \"$PW\" | cksum)",
        "trap 'echo hup >> \"$e\"' HUP; trap 'echo int >> \"$e\"; exit 3' INT",
    );
    let mut daemon = Daemon::spawn(
        &cli,
        &[
            "run",
            "--watch",
            "--signal",
            "hup",
            "--env",
            "PW=${secret:local/db}",
            "--env",
            "OTHER=${secret:local/other}",
            "--",
            "sh",
            "-c",
            &sh,
        ],
        &[],
    );
    daemon.values = vec![v1.clone(), v2.clone(), o2.clone()];
    let show = || lines(&events).join(" | ");
    wait_for("the child", || lines(&events).len() == 1, show).await;
    put(&cli, "local", "db", &v2).await;
    wait_for("SIGHUP", || lines(&events).len() >= 2, show).await;
    put(&cli, "local", "other", &o2).await;
    wait_for("the second SIGHUP", || lines(&events).len() >= 3, show).await;
    // SIGINT to the supervisor is forwarded; the child's exit code 3 is the supervisor's.
    daemon.signal("INT");
    let (code, stderr) = daemon.finish().await;
    assert_eq!(code, 3, "stderr: {stderr}");
    assert_eq!(
        lines(&events),
        [
            format!("start pw={}", digest(&v1)),
            "hup".to_owned(),
            "hup".to_owned(),
            "int".to_owned(),
        ],
        "one SIGHUP per rotation, the same child throughout"
    );
    assert_eq!(
        stderr.matches("sending it SIGHUP").count(),
        2,
        "stderr: {stderr}"
    );
}

#[tokio::test]
async fn run_watch_clean_env_holds_for_every_restart() {
    let cli = Cli::new();
    cli.write_config(&config(&cli));
    let (v1, v2) = (cli.secret(sentinel("pw1")), cli.secret(sentinel("pw2")));
    put(&cli, "local", "db", &v1).await;
    let events = cli.dir().join("events");
    // The names of the child's environment (less what the shell adds itself).
    let record = "$(env | cut -d= -f1 | grep -v -x -e PWD -e SHLVL -e _ -e OLDPWD | sort | tr '\\n' ,) \
                  pw=$(printf %s \"$PW\" | cksum)";
    let sh = script(
        &cli,
        &events,
        record,
        "trap 'echo term >> \"$e\"; exit 0' TERM",
    );
    let token = sentinel("vault-token");
    let mut daemon = Daemon::spawn(
        &cli,
        &[
            "run",
            "--watch",
            "--clean-env",
            "--env",
            "PW=${secret:local/db}",
            "--",
            "sh",
            "-c",
            &sh,
        ],
        &[("MY_VAULT_TOKEN", &token), ("UNRELATED", "dropped")],
    );
    daemon.values = vec![v1.clone(), v2.clone(), token];
    let show = || lines(&events).join(" | ");
    wait_for("the child", || lines(&events).len() == 1, show).await;
    put(&cli, "local", "db", &v2).await;
    wait_for("the restarted child", || lines(&events).len() >= 3, show).await;
    daemon.signal("TERM");
    let (code, stderr) = daemon.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
    assert_eq!(
        lines(&events),
        [
            format!("start HOME,PATH,PW, pw={}", digest(&v1)),
            "term".to_owned(),
            format!("start HOME,PATH,PW, pw={}", digest(&v2)),
            "term".to_owned(),
        ]
    );
}

#[tokio::test]
async fn run_watch_refuses_what_it_cannot_watch() {
    let cli = Cli::new();
    let mut toml = config(&cli);
    toml += &manager(
        "raw",
        "file",
        "read_and_write",
        "cache = { enabled = false }",
        &format!(
            "path = {}",
            toml_str(&cli.dir().join("raw.json").display().to_string())
        ),
    );
    cli.write_config(&toml);
    put(&cli, "raw", "db", "v").await;
    run(
        &cli,
        &[
            "run",
            "--watch",
            "--env",
            "PW=${secret:raw/db}",
            "--",
            "true",
        ],
        None,
    )
    .await
    .code(5)
    .stderr_has("manager `raw` has no cache");
    run(
        &cli,
        &["run", "--watch", "--signal", "SIGNOPE", "--", "true"],
        None,
    )
    .await
    .code(2)
    .stderr_has("is not a signal");
    // --signal and --kill-timeout belong to --watch; render --watch needs --out.
    run(&cli, &["run", "--signal", "HUP", "--", "true"], None)
        .await
        .code(2);
    run(&cli, &["render", "-", "--watch"], Some("x"))
        .await
        .code(2);
    // A missing secret at the start fails closed: no child.
    run(
        &cli,
        &[
            "run",
            "--watch",
            "--env",
            "PW=${secret:local/nope}",
            "--",
            "sh",
            "-c",
            "echo ran > ran",
        ],
        None,
    )
    .await
    .code(1);
    assert!(!cli.dir().join("ran").exists(), "no child was started");
}

/// The metadata of `path`: (inode, permission bits).
fn inode_and_mode(path: &Path) -> (u64, u32) {
    let m = std::fs::metadata(path).expect("the rendered file");
    (m.ino(), m.permissions().mode() & 0o777)
}

/// Reads `path` continuously until it holds `new`, failing if any read sees anything but
/// `old` or `new` (a partly written file). Returns how many reads it took.
async fn read_until_replaced(path: PathBuf, old: String, new: String) -> usize {
    let reader = tokio::task::spawn_blocking(move || {
        let mut reads = 0usize;
        let deadline = std::time::Instant::now() + BOUND;
        loop {
            let seen = std::fs::read_to_string(&path).expect("the file is always there");
            reads += 1;
            if seen == new {
                return Ok(reads);
            }
            if seen != old {
                return Err(format!(
                    "read {reads} saw {} bytes that are neither the old nor the new content",
                    seen.len()
                ));
            }
            if std::time::Instant::now() > deadline {
                return Err("the new content never came".to_owned());
            }
            std::thread::yield_now();
        }
    });
    reader.await.unwrap().unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_watch_rewrites_the_file_atomically_and_runs_exec_once_per_change() {
    let cli = Cli::new();
    cli.write_config(&config(&cli));
    let (v1, v2) = (cli.secret(sentinel("pw1")), cli.secret(sentinel("pw2")));
    put(&cli, "local", "db", &v1).await;
    put(&cli, "local", "user", "app").await;
    let tpl = cli.write_file(
        "app.tpl",
        "password=${secret:local/db}\nuser=${secret:local/user}\n",
    );
    std::fs::create_dir(cli.dir().join("conf")).unwrap();
    let out = cli.dir().join("conf/app.conf");
    let execs = cli.dir().join("execs");
    let exec = format!("echo wrote >> {}", quoted(&execs));
    let mut daemon = Daemon::spawn(
        &cli,
        &[
            "render",
            tpl.to_str().unwrap(),
            "--watch",
            "--out",
            out.to_str().unwrap(),
            "--exec",
            &exec,
        ],
        &[],
    );
    daemon.values = vec![v1.clone(), v2.clone()];
    let content = |pw: &str, user: &str| format!("password={pw}\nuser={user}\n");
    let show = || format!("{} exec(s)", lines(&execs).len());
    wait_for(
        "the first rendering and its --exec",
        || lines(&execs).len() == 1,
        show,
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        content(&v1, "app"),
        "the rendered file"
    );
    let (inode, mode) = inode_and_mode(&out);
    assert_eq!(mode, 0o600, "mode {mode:o}");

    // The rotation: a reader that keeps reading the file sees the old content, then the new
    // one, never anything in between.
    let reader = tokio::spawn(read_until_replaced(
        out.clone(),
        content(&v1, "app"),
        content(&v2, "app"),
    ));
    put(&cli, "local", "db", &v2).await;
    let reads = tokio::time::timeout(BOUND, reader).await.unwrap().unwrap();
    assert!(reads > 0);
    let (new_inode, mode) = inode_and_mode(&out);
    assert_ne!(
        new_inode, inode,
        "replaced by a rename, not rewritten in place"
    );
    assert_eq!(mode, 0o600, "mode {mode:o}");
    wait_for("the second --exec", || lines(&execs).len() >= 2, show).await;

    // A new version with the same value renders the same text: no write, no --exec. A
    // change of the other secret afterwards gives exactly one more of each.
    put(&cli, "local", "db", &v2).await;
    let same_inode = inode_and_mode(&out).0;
    put(&cli, "local", "user", "app2").await;
    wait_for("the third --exec", || lines(&execs).len() >= 3, show).await;
    assert_eq!(std::fs::read_to_string(&out).unwrap(), content(&v2, "app2"));
    daemon.signal("TERM");
    let (code, stderr) = daemon.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
    assert_eq!(
        lines(&execs).len(),
        3,
        "one --exec per change of the file; stderr: {stderr}"
    );
    assert_eq!(
        stderr.matches("rewrote").count(),
        2,
        "two rewrites after the first write (the unchanged text was not written); stderr: {stderr}"
    );
    assert_ne!(same_inode, inode_and_mode(&out).0);
    // Nothing but the file is left in its directory (no temporary file).
    let left: Vec<String> = std::fs::read_dir(cli.dir().join("conf"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["app.conf"]);
}

#[tokio::test]
async fn render_out_writes_mode_0600_once_and_exits_with_the_exec_code() {
    let cli = Cli::new();
    cli.write_config(&config(&cli));
    let v = cli.secret(sentinel("pw"));
    put(&cli, "local", "db", &v).await;
    let out = cli.dir().join("out.env");
    // An existing file readable by everyone is replaced by a private one.
    std::fs::write(&out, "old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    run(
        &cli,
        &[
            "render",
            "-",
            "--out",
            out.to_str().unwrap(),
            "--exec",
            "exit 7",
        ],
        Some("PW=${secret:local/db}\n"),
    )
    .await
    .code(7)
    .no_stdout();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), format!("PW={v}\n"));
    assert_eq!(inode_and_mode(&out).1, 0o600);
    // Fails closed: a missing secret leaves the file as it was.
    run(
        &cli,
        &["render", "-", "--out", out.to_str().unwrap()],
        Some("PW=${secret:local/nope}\n"),
    )
    .await
    .code(1);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), format!("PW={v}\n"));
}

#[tokio::test]
async fn managers_stats_shows_each_managers_counters() {
    let cli = Cli::new();
    let mut toml = config(&cli);
    toml += &manager(
        "raw",
        "file",
        "read_and_write",
        "cache = { enabled = false }",
        &format!(
            "path = {}",
            toml_str(&cli.dir().join("raw.json").display().to_string())
        ),
    );
    toml += &manager(
        "ops",
        "file",
        "read_and_write",
        "allowed_groups = [\"ops\"]",
        &format!(
            "path = {}",
            toml_str(&cli.dir().join("ops.json").display().to_string())
        ),
    );
    cli.write_config(&toml);
    let out = run(&cli, &["managers", "--stats", "--json"], None).await;
    // The Vault manager points nowhere: its health check fails (exit 4), the rest is shown.
    out.code(4);
    let rows = out.json();
    let row = |name: &str| {
        rows.as_array()
            .and_then(|a| a.iter().find(|r| r["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {rows}"))
    };
    // This process's own counters: the health check's one uncached read.
    let local = row("local")["stats"].clone();
    assert_eq!(local["misses"], 1, "{local}");
    assert_eq!(local["backend_reads"], 1, "{local}");
    assert_eq!(local["hits"], 0, "{local}");
    assert_eq!(local["watches"], 0, "{local}");
    for key in ["stale_served", "refreshes", "single_flight_joins"] {
        assert_eq!(local[key], 0, "{key}: {local}");
    }
    let vault = row("vault")["stats"].clone();
    assert_eq!(vault["backend_errors"], 1, "{vault}");
    assert!(row("raw")["stats"].is_null(), "uncached: {rows}");
    assert!(
        row("ops").get("stats").is_none(),
        "not the caller's: {rows}"
    );
    // The table: a header naming the columns, one line per manager.
    let out = run(&cli, &["managers", "--stats"], None).await;
    let text = out.text();
    let mut table = text.lines();
    assert_eq!(
        table.next(),
        Some(
            "manager\tprovider\taccess_mode\thealth\thits\tmisses\tstale\trefreshes\terrors\tjoins\treads\twatches"
        )
    );
    let local_line = text
        .lines()
        .find(|l| l.starts_with("local\t"))
        .expect("a line for local");
    assert!(
        local_line.ends_with("\t0\t1\t0\t0\t0\t0\t1\t0"),
        "{local_line}"
    );
    let raw_line = text.lines().find(|l| l.starts_with("raw\t")).unwrap();
    assert!(raw_line.ends_with("\t-\t-\t-\t-\t-\t-\t-\t-"), "{raw_line}");
    // Without --stats the output is as before: no header, no statistics.
    let plain = run(&cli, &["managers"], None).await.text();
    assert!(!plain.contains("hits"), "{plain}");
}

/// `render --watch` against a real backend (OpenBao KV v2): the rotation comes through
/// another CLI process and the file follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_watch_follows_a_rotation_in_openbao() {
    let bao = OpenBao::start().await;
    let cli = Cli::new();
    cli.credential(bao.root_token());
    cli.write_config(&manager(
        "vault",
        "hcp-vault",
        "read_and_write",
        "cache = { ttl = \"1s\" }",
        &format!(
            "addr = {}, token = {}",
            toml_str(&bao.url()),
            toml_str(bao.root_token())
        ),
    ));
    let (v1, v2) = (cli.secret(sentinel("pw1")), cli.secret(sentinel("pw2")));
    put(
        &cli,
        "vault",
        "app/db",
        &format!("{{\"password\":\"{v1}\"}}"),
    )
    .await;
    let out = cli.dir().join("db.conf");
    let execs = cli.dir().join("execs");
    let exec = format!("echo wrote >> {}", quoted(&execs));
    let tpl = cli.write_file("db.tpl", "pw=${secret:vault/app/db#password}\n");
    let mut daemon = Daemon::spawn(
        &cli,
        &[
            "render",
            tpl.to_str().unwrap(),
            "--watch",
            "--out",
            out.to_str().unwrap(),
            "--exec",
            &exec,
        ],
        &[],
    );
    daemon.values = vec![v1.clone(), v2.clone(), bao.root_token().to_owned()];
    let show = || format!("{} exec(s)", lines(&execs).len());
    let execs_at = &execs;
    let count = |n: usize| move || lines(execs_at).len() >= n;
    wait_for("the first rendering", count(1), show).await;
    assert_eq!(std::fs::read_to_string(&out).unwrap(), format!("pw={v1}\n"));
    put(
        &cli,
        "vault",
        "app/db",
        &format!("{{\"password\":\"{v2}\"}}"),
    )
    .await;
    wait_for("the rewrite after the rotation", count(2), show).await;
    assert_eq!(std::fs::read_to_string(&out).unwrap(), format!("pw={v2}\n"));
    assert_eq!(inode_and_mode(&out).1, 0o600);
    daemon.signal("TERM");
    let (code, stderr) = daemon.finish().await;
    assert_eq!(code, 0, "stderr: {stderr}");
    assert_eq!(lines(&execs).len(), 2, "stderr: {stderr}");
}
