//! Row 5: N concurrent reads across a token expiry (OpenBao AppRole), counting the new log-ins:
//! (a) the token expires on the clock (the cache sees it and logs in before sending);
//! (b) the clock is frozen, so the server is the first to notice (403 → invalidate → one
//! log-in → one retry per request).
//!
//! Log-ins are counted by the store's own counter and, when the server allows an audit device
//! to be enabled, by OpenBao's audit log.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use strongroom_core::{ManualClock, ReadOptions, SecretName, SecretStore, WriteOptions};
use strongroom_hcp_vault::{HcpVaultBuilder, HcpVaultStore};
use strongroom_testkit::servers::openbao::OpenBao;

use crate::hit::VALUE;
use crate::stats::{fmt_ns, ns};
use crate::{Cfg, Line, RowResult};

/// An audit file, if the server lets us enable one.
async fn enable_audit(bao: &OpenBao) -> Option<PathBuf> {
    let path = bao.dir().join("audit.log");
    let (status, _) = bao
        .api(
            "PUT",
            None,
            "sys/audit/bench",
            Some(json!({"type": "file", "options": {"file_path": path.display().to_string()}})),
        )
        .await;
    (200..300).contains(&status).then_some(path)
}

/// AppRole log-ins the server answered, from its audit log.
fn audit_logins(path: &PathBuf) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "response" && v["request"]["path"] == "auth/approle/login")
        .count()
}

async fn burst(store: &Arc<HcpVaultStore>, n: usize) -> Duration {
    let t = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let s = Arc::clone(store);
            tokio::spawn(async move {
                let name = SecretName::new("bench/expiry").unwrap();
                let got = s.read(&name, &ReadOptions::new()).await.expect("read");
                assert!(got.is_some_and(|s| s.value.expose_secret() == VALUE.as_bytes()));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    t.elapsed()
}

pub async fn run(cfg: &Cfg) -> RowResult {
    let n: usize = cfg.pick(1_000, 100);
    let bao = OpenBao::start().await;
    let audit = enable_audit(&bao).await;
    bao.write_policy(None, "kv", &OpenBao::kv_policy("secret"))
        .await;
    let mut r = RowResult::default();

    // (a) expiry seen by the clock: a manual clock moved past the token's lease (the server
    // would still take the token; the store must not send it).
    let (role_id, secret_id) = bao.approle(None, "clock", &["kv"], "1h", "2h").await;
    let clock = Arc::new(ManualClock::new());
    let store = Arc::new(
        HcpVaultBuilder::new()
            .with_addr(bao.url())
            .with_approle(role_id, secret_id)
            .with_clock(clock.clone())
            .build()
            .expect("store"),
    );
    store
        .write(
            &SecretName::new("bench/expiry").unwrap(),
            VALUE.into(),
            &WriteOptions::new(),
        )
        .await
        .expect("write");
    clock.advance(Duration::from_secs(3 * 3600)); // past the lease and its max TTL
    let (before, audit_before) = (
        store.token_refreshes().await,
        audit.as_ref().map(audit_logins),
    );
    let took_a = burst(&store, n).await;
    let a = store.token_refreshes().await - before;
    let a_renewals = store.token_renewals();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let a_audit = audit
        .as_ref()
        .map(audit_logins)
        .zip(audit_before)
        .map(|(x, y)| x - y);

    // (b) expiry seen by the server: a frozen clock, 1 s tokens, wait past them.
    let (role_id, secret_id) = bao.approle(None, "frozen", &["kv"], "1s", "1s").await;
    let store = Arc::new(
        HcpVaultBuilder::new()
            .with_addr(bao.url())
            .with_approle(role_id, secret_id)
            .with_clock(Arc::new(ManualClock::new()))
            .build()
            .expect("store"),
    );
    burst(&store, 1).await; // first log-in: a 1 s token
    // Tokens from now on live 1 h, so the retries of a long burst do not meet a second expiry.
    let (status, body) = bao
        .api(
            "POST",
            None,
            "auth/approle/role/frozen",
            Some(json!({"token_ttl": "1h", "token_max_ttl": "2h"})),
        )
        .await;
    assert!((200..300).contains(&status), "role update: {status} {body}");
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let (before, audit_before) = (
        store.token_refreshes().await,
        audit.as_ref().map(audit_logins),
    );
    let took_b = burst(&store, n).await;
    let b = store.token_refreshes().await - before;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b_audit = audit
        .as_ref()
        .map(audit_logins)
        .zip(audit_before)
        .map(|(x, y)| x - y);

    let show = |count: u64, audit: Option<usize>| match audit {
        Some(x) => format!("{count} new log-in(s) (server's audit log: {x})"),
        None => format!("{count} new log-in(s)"),
    };
    for (letter, how, count, audited, took) in [
        (
            "a",
            "token expired on the clock (lease over)",
            a,
            a_audit,
            took_a,
        ),
        (
            "b",
            "token expired at the server (403, clock frozen)",
            b,
            b_audit,
            took_b,
        ),
    ] {
        let server_ok = audited.is_none_or(|x| x == 1);
        r.lines.push(Line {
            row: format!("5{letter}"),
            what: format!("{n} concurrent reads across a token expiry: {how}"),
            ours: format!(
                "{}; all {n} reads ok in {}",
                show(count, audited),
                fmt_ns(ns(took))
            ),
            peer: "—".into(),
            ratio: "—".into(),
            target: "exactly 1 new log-in".into(),
            met: Some(count == 1 && server_ok),
        });
    }
    r.notes.push(format!(
        "a fresh `bao server -dev`, AppRole log-in (`HcpVaultStore`, no cache layer so every \
         read reaches the server). (a) 1 h tokens and a `ManualClock` moved 3 h ahead, then \
         {n} concurrent reads; (b) a frozen `ManualClock` so the store cannot see the expiry, \
         a `1s` first token (later log-ins get 1 h), wait 1.3 s, then {n} concurrent reads: each gets 403, invalidates that \
         token generation once, one log-in happens, every read retries once. Log-ins counted \
         by `HcpVaultStore::token_refreshes()` (renewals in (a): {a_renewals}){}.",
        if audit.is_some() {
            " and by the server's file audit device (`auth/approle/login` responses)"
        } else {
            "; the server refused a file audit device, so only the store's counter was used"
        }
    ));
    r
}
