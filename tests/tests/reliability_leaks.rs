//! Leak audit: no secret value, token, API key or client secret in logs (TRACE, every crate,
//! the vendor SDKs included), error messages, `Debug` output or panic messages — on success
//! paths and failure paths of every provider; and the CLI never puts a value on a command line,
//! in its own environment or in a temporary file.
//!
//! Run: `STRONGROOM_REQUIRE_SERVERS=1 cargo test -p strongroom-tests --test reliability_leaks`.

mod common_rel;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use strongroom_core::HttpSetters as _;

use common_rel::*;
use strongroom_core::{
    CachePolicy, DeleteOptions, MemoryCache, ReadOptions, SecretStore, SecretStoreExt, WriteOptions,
};
use strongroom_testkit::fake::Fault;
use strongroom_testkit::servers::moto::Moto;
use strongroom_testkit::servers::openbao::OpenBao;
use strongroom_testkit::{logs, sentinel};

/// Success and failure paths of one store; returns every string that must not leak.
async fn exercise(label: &str, store: Arc<dyn SecretStore>, faults: Option<&Fake>) -> Vec<String> {
    let value = sentinel(&format!("{label}-value"));
    let json_value = format!(
        "{{\"user\":\"app\",\"password\":\"{}\"}}",
        sentinel("field")
    );
    let mut needles = vec![value.clone(), json_value.clone()];
    let n = name("leak/one");
    let j = name("leak/json");
    let cached = Arc::clone(&store).with_cache(
        Arc::new(MemoryCache::default()),
        CachePolicy::new(format!("leak-{label}")).stale_if_error(Duration::from_secs(60)),
    );
    cached
        .write(&n, value.clone().into(), &WriteOptions::new())
        .await
        .unwrap();
    cached
        .write(&j, json_value.clone().into(), &WriteOptions::new())
        .await
        .unwrap();
    let s = cached.read(&n, &ReadOptions::new()).await.unwrap().unwrap();
    assert_eq!(s.value.expose_str().unwrap(), value);
    let f = cached
        .read(&j, &ReadOptions::new().field("password"))
        .await
        .unwrap()
        .unwrap();
    needles.push(f.value.expose_str().unwrap().to_owned());
    let many = cached
        .read_many(
            &[n.clone(), j.clone(), name("leak/missing")],
            &ReadOptions::new(),
        )
        .await
        .unwrap();
    let _ = cached.list(Some("leak")).await.unwrap();
    // Debug of everything a caller holds.
    let debug = format!("{s:?} {f:?} {many:?} {cached:?} {store:?} {:?}", s.value);
    for n in &needles {
        assert!(
            !debug.contains(n.as_str()),
            "{label}: a value in Debug output"
        );
    }
    // A panic message built from a secret (`unwrap_err` on Ok prints the Ok value's Debug).
    let secret = s.clone();
    let panic = std::panic::catch_unwind(move || {
        let r: Result<strongroom_core::Secret, ()> = std::hint::black_box(Ok(secret));
        r.unwrap_err()
    })
    .unwrap_err();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(!msg.is_empty());
    assert!(!msg.contains(&value), "{label}: a value in a panic message");

    // Failure paths: 5xx/malformed/truncated answers, refused writes, an oversized write.
    if let Some(fake) = faults {
        for fault in [
            Fault::Status(500),
            Fault::Malformed,
            Fault::Truncate,
            Fault::Status(403),
        ] {
            fake.faults().push_n(fault, 10);
            let r = store.read(&n, &ReadOptions::new().refresh(true)).await;
            let w = store
                .write(&n, value.clone().into(), &WriteOptions::new())
                .await;
            fake.faults().clear();
            let shown = format!("{r:?} {w:?} {} {}", show(&r), show(&w));
            for n in &needles {
                assert!(!shown.contains(n.as_str()), "{label}: a value in an error");
            }
        }
    }
    let e = store
        .write(&n, value.clone().into(), &WriteOptions::new().cas(999))
        .await;
    let shown = format!("{e:?} {}", show(&e));
    assert!(!shown.contains(&value), "{label}: a value in a CAS error");
    let _ = cached.delete(&n, &DeleteOptions::new().force(true)).await;
    needles
}

fn show<T>(r: &strongroom_core::Result<T>) -> String {
    match r {
        Ok(_) => String::new(),
        Err(e) => format!("{e} {e:?} {:?}", std::error::Error::source(e)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_logs_errors_debug_or_panics() {
    logs::install();
    tracing::trace!("leak audit starts");
    let mut needles: Vec<String> = Vec::new();

    for kind in FAKES {
        let fake = Fake::start(kind).await;
        let store = fake.store(&Tuning::default().retries(1));
        needles.extend(exercise(fake.label(), store, Some(&fake)).await);
        needles.extend(fake.credentials());
        // A wrong credential is a credential too: the failed log-in must not echo it.
        let wrong = sentinel("wrong-credential");
        let bad: Arc<dyn SecretStore> = match &fake {
            Fake::Conjur(f) => Arc::new(
                strongroom_conjur::ConjurBuilder::new()
                    .with_api_base(f.url())
                    .with_account(f.account())
                    .with_login(f.login())
                    .with_api_key(wrong.as_str())
                    .build()
                    .unwrap(),
            ),
            Fake::Akeyless(f) => Arc::new(
                strongroom_akeyless::AkeylessBuilder::new()
                    .with_api_host(f.url())
                    .with_access_id(f.access_id())
                    .with_access_key(wrong.as_str())
                    .build()
                    .unwrap(),
            ),
            Fake::Azure(f) => Arc::new(
                strongroom_azure::AzureBuilder::new()
                    .with_vault_url(f.url())
                    .with_ca_pem(f.ca_pem())
                    .with_verify_challenge_resource(false)
                    .with_authority_host(f.url())
                    .with_client_secret(f.tenant(), f.client_id(), wrong.as_str())
                    .with_retry_policy(strongroom_core::RetryPolicy::none())
                    .build()
                    .unwrap(),
            ),
        };
        let err = bad
            .read(&name("leak/one"), &ReadOptions::new())
            .await
            .unwrap_err();
        let shown = format!("{err} {err:?} {bad:?}");
        assert!(
            !shown.contains(&wrong),
            "{}: the wrong credential in an error",
            fake.label()
        );
        needles.push(wrong);
        if let Fake::Akeyless(f) = &fake {
            needles.extend(f.issued_tokens());
        }
    }

    let bao = OpenBao::start().await;
    let store: Arc<dyn SecretStore> = Arc::new(vault_store(&bao, &Tuning::default()));
    needles.extend(exercise("hcp-vault", store, None).await);
    needles.push(bao.root_token().to_owned());
    // AppRole: the secret id and the issued token.
    bao.write_policy(None, "kv-rw", &OpenBao::kv_policy("secret"))
        .await;
    let (role_id, secret_id) = bao.approle(None, "leak", &["kv-rw"], "1h", "2h").await;
    let approle = strongroom_hcp_vault::HcpVaultBuilder::new()
        .with_addr(bao.url())
        .with_approle(role_id, secret_id.as_str())
        .build()
        .unwrap();
    needles.extend(exercise("hcp-vault-approle", Arc::new(approle), None).await);
    needles.push(secret_id);
    let (_, tokens) = bao.api("LIST", None, "auth/token/accessors", None).await;
    assert!(tokens["data"]["keys"].is_array(), "{tokens}");

    let moto = Moto::start().await;
    let aws_key = sentinel("aws-secret-key");
    let store: Arc<dyn SecretStore> = Arc::new(aws_store(&moto, &Tuning::default(), &aws_key));
    needles.extend(exercise("aws", store, None).await);
    needles.push(aws_key);

    let refs: Vec<&str> = needles.iter().map(String::as_str).collect();
    let captured = logs::captured();
    assert!(
        captured.contains("leak audit starts"),
        "the capturing subscriber is the global one"
    );
    assert!(
        captured.len() > 10_000,
        "TRACE output was captured ({} bytes)",
        captured.len()
    );
    logs::assert_absent(&refs);
    report(&format!(
        "leaks needles={} captured_log_bytes={} providers=5 found=0",
        needles.len(),
        captured.len()
    ));
}

// ------------------------------------------------------------------------------------------
// CLI

fn cli(dir: &Path, tmp: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongroom-e2e"));
    c.current_dir(dir)
        .env_remove("STRONGROOM_CONFIG")
        .env_remove("KEY_MANAGEMENT_SYSTEM")
        .env_remove("STRONGROOM_KEY_MANAGEMENT_SYSTEM")
        .env_remove("STRONGROOM_GROUPS")
        .env_remove("STRONGROOM_FILE")
        .env("TMPDIR", tmp)
        .env("HOME", dir)
        .env("RUST_LOG", "trace");
    c
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                hits.push(p);
            }
        }
    }
    hits
}

#[test]
fn the_cli_keeps_values_off_command_lines_environments_and_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let d = dir.path();
    let value = sentinel("cli-value");

    // put: the value comes on stdin.
    let mut child = cli(d, tmp.path())
        .args(["put", "demo/db-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(value.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!printed.contains(&value), "put never prints the value");
    // No file holds the value: the file store seals it.
    let hits = files_containing(d, value.as_bytes());
    assert!(hits.is_empty(), "the value is in clear in {hits:?}");
    assert!(d.join(".strongroom/secrets.json").exists());
    assert!(
        files_containing(tmp.path(), value.as_bytes()).is_empty(),
        "nothing in TMPDIR"
    );

    // run: the child reads its parent's (the strongroom process's) command line and
    // environment, and its own command line; none holds the value; its own environment does.
    let script = r#"
        printf 'PARENT_CMDLINE:'; tr '\0' ' ' < /proc/$PPID/cmdline; echo
        printf 'PARENT_ENV:'; tr '\0' ' ' < /proc/$PPID/environ; echo
        printf 'SELF_CMDLINE:'; tr '\0' ' ' < /proc/$$/cmdline; echo
        test "$X" = "$EXPECTED" && echo CHILD_HAS_VALUE
    "#;
    let out = cli(d, tmp.path())
        .env("EXPECTED", "")
        .args([
            "run",
            "--env",
            "X=${secret:local/demo/db-password}",
            "--",
            "sh",
            "-c",
            script,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stdout.contains("PARENT_CMDLINE:"), "{stdout} {stderr}");
    assert!(
        stdout.contains("${secret:local/demo/db-password}"),
        "the parent's command line holds the placeholder: {stdout}"
    );
    assert!(
        !stdout.contains(&value),
        "a value on a command line or in the parent's environment: {stdout}"
    );
    assert!(
        !stderr.contains(&value),
        "a value on stderr (RUST_LOG=trace)"
    );
    // Sanity: the child does get the value (compared inside the child, never printed).
    let check = cli(d, tmp.path())
        .env("EXPECTED", &value)
        .args([
            "run",
            "--env",
            "X=${secret:local/demo/db-password}",
            "--",
            "sh",
            "-c",
            "test \"$X\" = \"$EXPECTED\"",
        ])
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    // While `run` waits on a long child, /proc/<pid>/cmdline of both shows no value.
    let mut running = cli(d, tmp.path())
        .args([
            "run",
            "--env",
            "X=${secret:local/demo/db-password}",
            "--",
            "sleep",
            "2",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let pid = running.id();
    let own = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(!own.is_empty());
    assert!(!own.windows(value.len()).any(|w| w == value.as_bytes()));
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    assert!(!environ.windows(value.len()).any(|w| w == value.as_bytes()));
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let mut checked_child = false;
    for c in children.split_whitespace() {
        let cmd = std::fs::read(format!("/proc/{c}/cmdline")).unwrap_or_default();
        assert!(!cmd.windows(value.len()).any(|w| w == value.as_bytes()));
        checked_child = true;
    }
    running.wait().unwrap();
    assert!(
        checked_child,
        "the child was found via /proc/{pid}/task/{pid}/children"
    );

    // get / render print the value to stdout only, never to stderr (even at RUST_LOG=trace).
    let out = cli(d, tmp.path())
        .args(["get", "demo/db-password"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), value);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&value));

    // After everything: still only the FileStore's file, nothing in TMPDIR.
    let hits = files_containing(d, value.as_bytes());
    assert_eq!(hits, vec![d.join(".strongroom/secrets.json")], "{hits:?}");
    assert!(files_containing(tmp.path(), value.as_bytes()).is_empty());
    report(
        "leaks cli: cmdline/environ of strongroom and child clean, files holding the value = [FileStore file]",
    );
}
