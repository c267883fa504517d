//! Hostile names against every provider: path traversal (plain and percent-encoded), encoded
//! separators, control characters, YAML injection (Conjur), over-long names, Unicode
//! look-alikes and normalization forms.
//!
//! Each name is either refused before any I/O or stored, as the provider's name rules say
//! (`stored_names`; asserted per provider and name). A refused name: the store talks through
//! a fresh fault proxy whose connection count must stay 0, and the fakes' request counters
//! must not move. A stored name reaches exactly the intended object: the server holds it under
//! exactly that key (checked with the server's own API, not through the store), it reads back,
//! and the victims seeded beforehand (`password`, `etc/passwd`, `a/b`, …) are unchanged.
//!
//! Run: `STRONGROOM_REQUIRE_SERVERS=1 cargo test -p strongroom-tests --test reliability_names`.

mod common_rel;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common_rel::*;
use strongroom_core::{ErrorKind, ReadOptions, SecretName, SecretStore, WriteOptions};
use strongroom_testkit::proxy::FaultProxy;
use strongroom_testkit::servers::moto::Moto;
use strongroom_testkit::servers::openbao::OpenBao;

/// Names the core itself refuses: no `SecretName` exists for them, so no store can be called.
const CORE_REFUSED: &[&str] = &[
    "../etc/passwd",
    "a/../../b",
    "..",
    "./a",
    "a/./b",
    "/etc/passwd",
    "a//b",
    "a/",
    "a\0b",
    "a\nb",
    "a\r\n- !permit {}",
    "a\tb",
    "a\u{1b}[31mred",
    "a\u{7f}b",
    "a\u{85}b",
    "a\u{9b}b",
    "a\u{2028}- !deny {}",
    "a\u{2029}b",
    // Invisible format characters that make two names look alike.
    "pass\u{200b}word",
    "a\u{202e}b",
    "\u{feff}password",
    "pass\u{2066}word",
    "",
];

/// Valid `SecretName`s that are hostile to some backend.
fn hostile() -> Vec<String> {
    let mut v: Vec<String> = [
        // Encoded traversal and separators: must stay literal, never decoded.
        "%2e%2e%2fetc%2fpasswd",
        "%2e%2e",
        "..%2f..%2fetc%2fpasswd",
        "a%2fb",
        "a%2Fb",
        "a%252fb",
        "a%00b",
        "a%0ab",
        "a/%2e%2e/b",
        // Dots that are not traversal.
        "a/.../b",
        "..a",
        ".hidden",
        "a..b",
        // Query / fragment / backslash / quoting.
        "a?b=c",
        "a#b",
        "a\\..\\b",
        "a b",
        "a+b",
        "a&b",
        "a;b",
        "a:b",
        "'quoted'",
        "\"dq\"",
        // YAML injection (Conjur policy text).
        "x: y",
        "x #comment",
        "!tags",
        "*alias",
        "&anchor x",
        "{flow: map}",
        "[flow, seq]",
        "- !variable y",
        "$namespace/x",
        "%YAML 1.2",
        "x\" - !delete {record: !variable y}",
        // Unicode look-alikes and normalization forms.
        "p\u{0430}ssword",   // Cyrillic а
        "\u{0440}assword",   // Cyrillic р
        "caf\u{e9}",         // NFC é
        "cafe\u{301}",       // NFD e + combining acute
        "\u{ff50}assword",   // fullwidth p
        "etc\u{2215}passwd", // division slash
        "etc\u{ff0f}passwd", // fullwidth solidus
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("n".repeat(512)); // at the core cap
    v.push(format!("{}/{}", "d".repeat(200), "e".repeat(200)));
    v
}

const VICTIMS: &[&str] = &["password", "etc/passwd", "a/b", "b", "cafe", "a"];

/// The hostile names a provider stores; it refuses every other one with `InvalidName` before
/// any I/O. From each provider's name rules:
/// * Akeyless and Vault: every valid `SecretName` is an object: each path segment is
///   percent-encoded as it is, nothing is decoded or normalised.
/// * AWS Secrets Manager: `[A-Za-z0-9/_+=.@-]`, at most 512 characters.
/// * Conjur (writes declare the id in a policy): letters, digits, `.`, `_`, `-`, `/`, no `..`,
///   at most 255 bytes.
/// * Azure Key Vault: `[0-9A-Za-z-]` after the mapping (`/` → `--`, `_` → `---`), at most 127
///   characters: none of the hostile names.
fn stored_names(label: &str) -> BTreeSet<String> {
    let names: Vec<String> = match label {
        "akeyless" | "hcp-vault" => hostile(),
        "aws" => ["a/.../b", "..a", ".hidden", "a..b", "a+b"]
            .iter()
            .map(|s| s.to_string())
            .chain([
                "n".repeat(512),
                format!("{}/{}", "d".repeat(200), "e".repeat(200)),
            ])
            .collect(),
        "conjur" => vec![".hidden".to_owned()],
        "azure" => Vec::new(),
        other => unreachable!("{other}"),
    };
    names.into_iter().collect()
}

/// What a read of a name the provider refuses to write does: AWS and Azure apply the same rule
/// to reads (refused before I/O); a Conjur read takes any id (URL-encoded, it reaches the
/// server and finds nothing).
fn refused_name_reads_as_none(label: &str) -> bool {
    label == "conjur"
}

#[test]
fn the_core_refuses_traversal_control_characters_and_over_long_names() {
    for n in CORE_REFUSED {
        let err = SecretName::new(n).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidName, "{n:?}");
        // The error never echoes a raw control character (it could forge log lines).
        let shown = err.to_string();
        assert!(
            !shown
                .chars()
                .any(|c| c == '\n' || c == '\r' || c == '\u{1b}' || c == '\u{2028}'),
            "{n:?} → {shown:?}"
        );
    }
    let err = SecretName::new("n".repeat(513)).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidName);
}

enum Target {
    Fake(Fake),
    Vault(OpenBao),
    Aws(Moto),
}

impl Target {
    fn label(&self) -> &'static str {
        match self {
            Target::Fake(f) => f.label(),
            Target::Vault(_) => "hcp-vault",
            Target::Aws(_) => "aws",
        }
    }
    fn addr(&self) -> std::net::SocketAddr {
        match self {
            Target::Fake(f) => f.addr(),
            Target::Vault(b) => b.addr(),
            Target::Aws(m) => format!("127.0.0.1:{}", m.port()).parse().unwrap(),
        }
    }
    fn store(&self, t: &Tuning) -> Arc<dyn SecretStore> {
        match self {
            Target::Fake(f) => f.store(t),
            Target::Vault(b) => Arc::new(vault_store(b, t)),
            Target::Aws(m) => Arc::new(aws_store(m, t, "names-secret-key")),
        }
    }
    /// A fresh store (no pooled connection) talking through `proxy`.
    fn store_via(&self, proxy: &FaultProxy) -> Arc<dyn SecretStore> {
        let url = match self {
            Target::Fake(f) => f.url_via(proxy.addr()),
            _ => proxy.http_url(),
        };
        self.store(&Tuning::default().retries(0).via(url))
    }
    fn fake_requests(&self) -> u64 {
        match self {
            Target::Fake(f) => f.requests(),
            _ => 0,
        }
    }

    /// The value the server holds under exactly the key `name` maps to, read with the
    /// server's own API (not through the store).
    async fn stored(&self, name: &str) -> Option<String> {
        match self {
            Target::Fake(Fake::Conjur(f)) => {
                // The fake keeps versions, not a value getter: the id must be declared with
                // exactly one value version.
                (f.variables().iter().any(|v| v == name) && f.versions(name).len() == 1)
                    .then(|| "<conjur: one version>".to_owned())
            }
            Target::Fake(Fake::Akeyless(f)) => f.value(name),
            Target::Fake(Fake::Azure(f)) => f.value(&azure_key(name)),
            Target::Vault(b) => {
                let path: Vec<String> = name.split('/').map(encode_all).collect();
                let (status, body) = b
                    .api(
                        "GET",
                        None,
                        &format!("secret/data/{}", path.join("/")),
                        None,
                    )
                    .await;
                (status == 200).then(|| {
                    body["data"]["data"]["key"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned()
                })
            }
            Target::Aws(m) => moto_value(m, name).await,
        }
    }
}

/// Percent-encodes every byte but unreserved characters.
fn encode_all(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn moto_value(moto: &Moto, id: &str) -> Option<String> {
    let resp = reqwest::Client::new()
        .post(moto.endpoint())
        .header("X-Amz-Target", "secretsmanager.GetSecretValue")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00",
        )
        .body(serde_json::json!({ "SecretId": id }).to_string())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let body: serde_json::Value = resp.json().await.ok()?;
    body["SecretString"].as_str().map(str::to_owned)
}

async fn read(store: &dyn SecretStore, n: &str) -> Option<String> {
    store
        .read(&SecretName::new(n).unwrap(), &ReadOptions::new())
        .await
        .unwrap_or_else(|e| panic!("read {n:?}: {e}"))
        .map(|s| s.value.expose_str().unwrap().to_owned())
}

async fn run_target(target: Target) {
    let label = target.label();
    let store = target.store(&Tuning::default());
    for (i, v) in VICTIMS.iter().enumerate() {
        store
            .write(&name(v), format!("victim-{i}").into(), &WriteOptions::new())
            .await
            .unwrap_or_else(|e| panic!("{label}: victim {v}: {e}"));
    }
    let (mut refused, mut stored) = (0, 0);
    let mut accepted = BTreeSet::new();
    for (i, h) in hostile().iter().enumerate() {
        let n = SecretName::new(h).unwrap();
        let value = format!("hostile-{i}");
        let proxy = FaultProxy::start(target.addr()).await;
        let via = target.store_via(&proxy);
        let before = target.fake_requests();
        let (result, _) = timed(
            "hostile write",
            Duration::from_secs(30),
            via.write(&n, value.clone().into(), &WriteOptions::new()),
        )
        .await;
        if !stored_names(label).contains(h) {
            let e = result.expect_err(&format!("{label} {h:?}: must be refused"));
            assert_eq!(e.kind(), &ErrorKind::InvalidName, "{label} {h:?}: {e}");
            assert_eq!(
                proxy.connections(),
                0,
                "{label} {h:?}: refused, yet a connection was made"
            );
            assert_eq!(
                target.fake_requests(),
                before,
                "{label} {h:?}: refused, yet a request was seen"
            );
            // A read of the same name is refused too, or reaches exactly that (absent) object:
            // never a victim such as `etc/passwd`.
            let r = via.read(&n, &ReadOptions::new()).await;
            if refused_name_reads_as_none(label) {
                assert!(
                    matches!(r, Ok(None)),
                    "{label} {h:?}: read {:?}",
                    r.map(|s| s.is_some())
                );
            } else {
                let e = r.expect_err(&format!("{label} {h:?}: the read must be refused"));
                assert_eq!(e.kind(), &ErrorKind::InvalidName, "{label} {h:?}: {e}");
            }
            refused += 1;
        } else {
            result.unwrap_or_else(|e| panic!("{label} {h:?}: must be stored: {e}"));
            let got = target.stored(h).await;
            let expected = match &target {
                Target::Fake(Fake::Conjur(_)) => "<conjur: one version>".to_owned(),
                _ => value.clone(),
            };
            assert_eq!(
                got.as_deref(),
                Some(expected.as_str()),
                "{label} {h:?}: not stored under exactly that key"
            );
            assert_eq!(
                read(&*store, h).await.as_deref(),
                Some(value.as_str()),
                "{label} {h:?}"
            );
            accepted.insert(n);
            stored += 1;
        }
    }
    assert_eq!(
        stored,
        stored_names(label).len(),
        "{label}: every accepted name was tried"
    );
    // No other object changed.
    for (i, v) in VICTIMS.iter().enumerate() {
        assert_eq!(
            read(&*store, v).await.as_deref(),
            Some(format!("victim-{i}").as_str()),
            "{label}: victim {v} changed"
        );
        if let Target::Fake(f) = &target {
            assert_eq!(f.versions(v), 1, "{label}: victim {v} got a new version");
        }
    }
    // And the listing holds exactly the victims plus the accepted names.
    let listed: BTreeSet<SecretName> = store.list(None).await.unwrap().into_iter().collect();
    let mut expected: BTreeSet<SecretName> = VICTIMS.iter().map(|v| name(v)).collect();
    expected.extend(accepted);
    assert_eq!(
        listed, expected,
        "{label}: list shows exactly the written names"
    );
    report(&format!(
        "names provider={label} hostile={} refused_before_io={refused} stored_exactly={stored} victims_unchanged={}",
        hostile().len(),
        VICTIMS.len()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_on_the_fakes() {
    for kind in FAKES {
        run_target(Target::Fake(Fake::start(kind).await)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_on_openbao() {
    run_target(Target::Vault(OpenBao::start().await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_on_moto() {
    run_target(Target::Aws(Moto::start().await)).await;
}

/// Conjur-specific: a name that reaches the policy endpoint produces exactly one `!variable`
/// record with exactly that id, never a second record.
#[tokio::test]
async fn conjur_policy_loads_hold_exactly_one_variable_per_write() {
    let fake = Fake::start(FakeKind::Conjur).await;
    let Fake::Conjur(f) = &fake else {
        unreachable!()
    };
    let store = fake.store(&Tuning::default());
    for h in hostile() {
        let before = f.policy_records().len();
        let r = store
            .write(&name(&h), "v".into(), &WriteOptions::new())
            .await;
        let records = f.policy_records();
        let new = &records[before..];
        if stored_names("conjur").contains(&h) {
            r.unwrap_or_else(|e| panic!("{h:?}: {e}"));
            // Exactly one `!variable` record, with exactly that id.
            assert_eq!(new.len(), 1, "{h:?}: {new:?}");
            assert_eq!(new[0].tag, "variable", "{h:?}: {new:?}");
            assert_eq!(new[0].id.as_deref(), Some(h.as_str()), "{h:?}: {new:?}");
        } else {
            let e = r.expect_err(&format!("{h:?}: must be refused"));
            assert_eq!(e.kind(), &ErrorKind::InvalidName, "{h:?}: {e}");
            assert!(new.is_empty(), "{h:?}: {new:?}");
        }
    }
}
