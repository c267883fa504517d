//! Fault matrix: every provider under injected faults.
//!
//! * Conjur, Akeyless, Azure: the fakes' fault harness (503 bursts, 429 + Retry-After, dropped
//!   connections, malformed and truncated bodies, delays past the timeout, added latency) and
//!   a token that expires in the middle of a burst of reads.
//! * OpenBao, moto, Redis: the TCP fault proxy (latency, reset, blackhole, truncation, a server
//!   restart) — and for Vault, a token that expires in the middle of a burst.
//! * Every provider: a write whose answer is cut after the server received it is never applied
//!   twice (the version count on the server is checked).
//! * Stale-if-error through the cache layer.
//!
//! Expected everywhere: bounded retries (counted), typed errors, no panic, no call outliving
//! `timeout × attempts + backoff + margin` (measured).
//!
//! Run: `STRONGROOM_REQUIRE_SERVERS=1 cargo test -p strongroom-tests --test reliability_faults`.

mod common_rel;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use strongroom_core::HttpSetters as _;

use common_rel::*;
use strongroom_core::{
    CachePolicy, ErrorKind, MemoryCache, MemoryStore, ReadOptions, SecretCache, SecretStore,
    SecretStoreExt, SecretValue, WriteOptions,
};
use strongroom_testkit::fake::Fault;
use strongroom_testkit::proxy::{FaultProxy, ProxyMode};
use strongroom_testkit::servers::moto::Moto;
use strongroom_testkit::servers::openbao::OpenBao;
use strongroom_testkit::servers::redis::RedisServer;

const MARGIN: Duration = Duration::from_millis(1500);

fn kind_name(r: &strongroom_core::Result<Option<strongroom_core::Secret>>) -> String {
    match r {
        Ok(Some(_)) => "ok".into(),
        Ok(None) => "ok(none)".into(),
        Err(e) => e.kind().as_str().to_owned(),
    }
}

async fn read_value(store: &dyn SecretStore, n: &str) -> strongroom_core::Result<Option<String>> {
    store
        .read(&name(n), &ReadOptions::new())
        .await
        .map(|o| o.map(|s| s.value.expose_str().unwrap().to_owned()))
}

// ------------------------------------------------------------------------------------------
// Fakes: the fault harness

struct Row {
    fault: &'static str,
    outcome: String,
    requests: u64,
    elapsed: Duration,
}

/// Runs one read against `fake` with `faults` queued; checks the outcome is one of `allowed`,
/// the request count stays within the retry budget and the call within its time bound.
async fn one_read(
    fake: &Fake,
    store: &dyn SecretStore,
    t: &Tuning,
    label: &'static str,
    faults: &[Fault],
    allowed: &[&str],
    retry_after: Duration,
) -> Row {
    fake.faults().clear();
    for f in faults {
        fake.faults().push(f.clone());
    }
    let before = fake.requests();
    let bound = t.bound(retry_after, MARGIN);
    let (result, elapsed) = timed(
        &format!("{} {label}", fake.label()),
        bound + Duration::from_secs(5),
        store.read(&name("fm/key"), &ReadOptions::new()),
    )
    .await;
    fake.faults().clear();
    let requests = fake.requests() - before;
    let outcome = kind_name(&result);
    assert!(
        allowed.contains(&outcome.as_str()),
        "{} {label}: outcome {outcome} not in {allowed:?} ({result:?})",
        fake.label()
    );
    if let Ok(Some(s)) = &result
        && label != "malformed x all"
    {
        assert_eq!(
            s.value.expose_str().unwrap(),
            "fm-value",
            "{}",
            fake.label()
        );
    }
    if let Err(e) = &result {
        assert!(!e.to_string().contains("fm-value"));
        assert_eq!(
            e.name(),
            Some("fm/key"),
            "{} {label}: error names the secret",
            fake.label()
        );
    }
    // One attempt plus `retries` retries; one extra for a log-in the fault hit first.
    assert!(
        requests <= t.retries as u64 + 2,
        "{} {label}: {requests} requests for a budget of {} retries",
        fake.label(),
        t.retries
    );
    assert!(
        elapsed <= bound,
        "{} {label}: took {elapsed:?}, bound {bound:?}",
        fake.label()
    );
    Row {
        fault: label,
        outcome,
        requests,
        elapsed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_against_the_fakes() {
    for kind in FAKES {
        let fake = Fake::start(kind).await;
        fake.seed("fm/key", "fm-value");
        let t = Tuning::default()
            .timeout(Duration::from_millis(700))
            .retries(3);
        let store = fake.store(&t);
        // Warm up: the log-in happens now, so faults hit the secret calls.
        assert_eq!(
            read_value(&*store, "fm/key").await.unwrap().as_deref(),
            Some("fm-value")
        );
        let n = t.retries;
        let zero = Duration::ZERO;
        let mut rows = Vec::new();
        rows.push(
            one_read(
                &fake,
                &*store,
                &t,
                "503 x retries",
                &vec![Fault::Status(503); n],
                &["ok"],
                zero,
            )
            .await,
        );
        rows.push(
            one_read(
                &fake,
                &*store,
                &t,
                "503 x all",
                &vec![Fault::Status(503); n + 5],
                &["unavailable"],
                zero,
            )
            .await,
        );
        rows.push(
            one_read(
                &fake,
                &*store,
                &t,
                "502/504 burst",
                &[Fault::Status(502), Fault::Status(504)],
                &["ok"],
                zero,
            )
            .await,
        );
        let r = one_read(
            &fake,
            &*store,
            &t,
            "429 Retry-After 1",
            &[Fault::RetryAfter(429, 1)],
            &["ok"],
            Duration::from_secs(1),
        )
        .await;
        assert!(
            r.elapsed >= Duration::from_millis(900),
            "{}: Retry-After: 1 honoured (took {:?})",
            fake.label(),
            r.elapsed
        );
        rows.push(r);
        rows.push(
            one_read(
                &fake,
                &*store,
                &t,
                "429 x all",
                &vec![Fault::RetryAfter(429, 0); n + 5],
                &["rate_limited"],
                zero,
            )
            .await,
        );
        rows.push(one_read(&fake, &*store, &t, "drop x1", &[Fault::Drop], &["ok"], zero).await);
        rows.push(
            one_read(
                &fake,
                &*store,
                &t,
                "drop x all",
                &vec![Fault::Drop; n + 5],
                &["unavailable"],
                zero,
            )
            .await,
        );
        rows.push(
            one_read(
                &fake,
                &*store,
                &t,
                "truncate x1",
                &[Fault::Truncate],
                &["ok"],
                zero,
            )
            .await,
        );
        rows.push(
            one_read(
                &fake,
                &*store,
                &t,
                "truncate x all",
                &vec![Fault::Truncate; n + 5],
                &["protocol", "unavailable"],
                zero,
            )
            .await,
        );
        // Conjur's read answer is the raw value: a 200 with any body IS a value. The others
        // promise JSON and must say the answer is malformed.
        let malformed_allowed: &[&str] = if kind == FakeKind::Conjur {
            &["ok", "protocol"]
        } else {
            &["protocol"]
        };
        rows.push(
            one_read(
                &fake,
                &*store,
                &t,
                "malformed x all",
                &vec![Fault::Malformed; n + 5],
                malformed_allowed,
                zero,
            )
            .await,
        );
        rows.push(
            one_read(
                &fake,
                &*store,
                &t,
                "delay > timeout x1",
                &[Fault::Delay(t.timeout + Duration::from_millis(500))],
                &["ok"],
                zero,
            )
            .await,
        );
        rows.push(
            one_read(
                &fake,
                &*store,
                &t,
                "delay > timeout x all",
                &vec![Fault::Delay(t.timeout + Duration::from_millis(500)); n + 5],
                &["timeout", "unavailable"],
                zero,
            )
            .await,
        );
        fake.faults().set_latency(Some(Duration::from_millis(50)));
        rows.push(one_read(&fake, &*store, &t, "latency 50ms", &[], &["ok"], zero).await);
        fake.faults().set_latency(None);
        // The store still works after all of it.
        assert_eq!(
            read_value(&*store, "fm/key").await.unwrap().as_deref(),
            Some("fm-value")
        );
        for r in rows {
            report(&format!(
                "faults fake={} fault=\"{}\" outcome={} requests={} elapsed_ms={}",
                fake.label(),
                r.fault,
                r.outcome,
                r.requests,
                r.elapsed.as_millis()
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_under_5xx_bursts_are_applied_exactly_once_or_reported() {
    for kind in FAKES {
        let fake = Fake::start(kind).await;
        let t = Tuning::default()
            .timeout(Duration::from_millis(700))
            .retries(3);
        let store = fake.store(&t);
        read_value(&*store, "warm").await.unwrap();
        for (i, faults) in [
            vec![Fault::Status(503)],
            vec![Fault::Drop],
            vec![Fault::Status(503); 10],
        ]
        .into_iter()
        .enumerate()
        {
            let n = format!("wb/k{i}");
            for f in &faults {
                fake.faults().push(f.clone());
            }
            let (result, _) = timed(
                "write",
                t.bound(Duration::ZERO, MARGIN) * 3,
                store.write(&name(&n), SecretValue::from("wv"), &WriteOptions::new()),
            )
            .await;
            fake.faults().clear();
            let versions = fake.versions(&n);
            match &result {
                Ok(_) => {
                    assert_eq!(
                        versions,
                        1,
                        "{} {n}: a successful write is applied once",
                        fake.label()
                    );
                    assert_eq!(
                        read_value(&*store, &n).await.unwrap().as_deref(),
                        Some("wv")
                    );
                }
                Err(e) => {
                    assert!(e.is_temporary(), "{} {n}: {e}", fake.label());
                    assert!(versions <= 1, "{} {n}: {versions} versions", fake.label());
                }
            }
            report(&format!(
                "write-burst fake={} faults={} outcome={} versions={versions}",
                fake.label(),
                faults.len(),
                result
                    .as_ref()
                    .map_or_else(|e| e.kind().as_str().to_owned(), |_| "ok".into())
            ));
        }
    }
}

/// A write whose answer is cut after the server has received the whole request: the caller
/// may get an error (the outcome is unknown), but the server holds the value once — never
/// twice. The proxy forwards the request and none of the answer (`TruncateAfter(0)`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cut_after_sending_is_never_applied_twice_on_the_fakes() {
    for kind in FAKES {
        let fake = Fake::start(kind).await;
        let proxy = FaultProxy::start(fake.addr()).await;
        let t = Tuning::default()
            .timeout(Duration::from_millis(1000))
            .retries(3)
            .via(fake.url_via(proxy.addr()));
        let store = fake.store(&t);
        // Warm up through the proxy (log-in, policy branch, challenge).
        store
            .write(&name("cut/warm"), "w".into(), &WriteOptions::new())
            .await
            .unwrap();
        store
            .write(&name("cut/key"), "v1".into(), &WriteOptions::new())
            .await
            .unwrap();
        assert_eq!(fake.versions("cut/key"), 1);
        proxy.set_mode(ProxyMode::TruncateAfter(0));
        let (result, _) = timed(
            "cut write",
            t.bound(Duration::ZERO, MARGIN) * 2,
            store.write(&name("cut/key"), "v2".into(), &WriteOptions::new()),
        )
        .await;
        proxy.set_mode(ProxyMode::Pass);
        let versions = fake.versions("cut/key");
        report(&format!(
            "write-cut fake={} outcome={} versions_after_second_write={versions}",
            fake.label(),
            result
                .as_ref()
                .map_or_else(|e| e.kind().as_str().to_owned(), |_| "ok".into())
        ));
        assert!(
            versions <= 2,
            "{}: the second write was applied {} times",
            fake.label(),
            versions - 1
        );
        if let Err(e) = &result {
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::Unavailable | ErrorKind::Protocol | ErrorKind::Timeout
                ),
                "{}: {e}",
                fake.label()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_that_expires_in_the_middle_of_a_burst() {
    for kind in [FakeKind::Conjur, FakeKind::Akeyless] {
        let fake = Fake::start(kind).await;
        for i in 0..10 {
            fake.seed(&format!("burst/k{i}"), &format!("v{i}"));
        }
        let store = fake.store(&Tuning::default());
        read_value(&*store, "burst/k0").await.unwrap();
        let errors = Arc::new(AtomicUsize::new(0));
        let ok = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for w in 0..20 {
            let store = Arc::clone(&store);
            let (errors, ok) = (Arc::clone(&errors), Arc::clone(&ok));
            tasks.push(tokio::spawn(async move {
                for j in 0..25 {
                    let k = (w + j) % 10;
                    match read_value(&*store, &format!("burst/k{k}")).await {
                        Ok(Some(v)) if v == format!("v{k}") => ok.fetch_add(1, Ordering::SeqCst),
                        other => {
                            eprintln!("burst read failed: {other:?}");
                            errors.fetch_add(1, Ordering::SeqCst)
                        }
                    };
                }
            }));
        }
        // Expire every token once while the burst runs (a real token cannot expire twice
        // within one request; the contract is: one new log-in, one retry).
        {
            tokio::time::sleep(Duration::from_millis(40)).await;
            match &fake {
                Fake::Conjur(f) => f.expire_tokens(),
                Fake::Akeyless(f) => f.expire_all_tokens(),
                Fake::Azure(_) => unreachable!(),
            }
        }
        let (_, elapsed) = timed("burst", Duration::from_secs(60), async {
            for t in tasks {
                t.await.unwrap();
            }
        })
        .await;
        let logins = match &fake {
            Fake::Conjur(f) => f.authn_count() as u64,
            Fake::Akeyless(f) => f.calls("auth"),
            Fake::Azure(_) => unreachable!(),
        };
        report(&format!(
            "token-expiry fake={} reads={} errors={} logins={logins} elapsed_ms={}",
            fake.label(),
            ok.load(Ordering::SeqCst),
            errors.load(Ordering::SeqCst),
            elapsed.as_millis()
        ));
        assert_eq!(errors.load(Ordering::SeqCst), 0, "{}", fake.label());
        assert_eq!(ok.load(Ordering::SeqCst), 500);
        // One initial log-in plus at most a few per expiry (concurrent 401s share a refresh).
        assert!(logins <= 1 + 4, "{}: {logins} log-ins", fake.label());
    }
}

// ------------------------------------------------------------------------------------------
// OpenBao through the fault proxy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openbao_through_the_fault_proxy() {
    let bao = OpenBao::start().await;
    let proxy = FaultProxy::start(bao.addr()).await;
    let t = Tuning::default()
        .timeout(Duration::from_secs(1))
        .retries(2)
        .via(proxy.http_url());
    let store = vault_store(&bao, &t);
    store
        .write(&name("px/key"), "px-value".into(), &WriteOptions::new())
        .await
        .unwrap();
    let bound = t.bound(Duration::ZERO, MARGIN);

    // Latency: slower, still right.
    proxy.set_mode(ProxyMode::Latency(Duration::from_millis(100)));
    let (r, el) = timed("latency", bound, read_value(&store, "px/key")).await;
    assert_eq!(r.unwrap().as_deref(), Some("px-value"));
    report(&format!(
        "proxy server=openbao mode=latency100ms outcome=ok elapsed_ms={}",
        el.as_millis()
    ));

    // Reset: typed, temporary, quick.
    proxy.set_mode(ProxyMode::Reset);
    let (r, el) = timed("reset", bound, read_value(&store, "px/key")).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
    assert!(e.is_temporary());
    report(&format!(
        "proxy server=openbao mode=reset outcome={} elapsed_ms={}",
        e.kind().as_str(),
        el.as_millis()
    ));

    // Blackhole: the configured timeout fires on every attempt; nothing outlives the bound.
    proxy.set_mode(ProxyMode::Blackhole);
    let conns = proxy.connections();
    let (r, el) = timed(
        "blackhole",
        bound + Duration::from_secs(5),
        read_value(&store, "px/key"),
    )
    .await;
    let e = r.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Unavailable),
        "{e}"
    );
    assert!(el <= bound, "blackhole read took {el:?} > {bound:?}");
    assert!(el >= t.timeout, "it did wait for the timeout");
    let attempts = proxy.connections() - conns;
    assert!(attempts <= t.retries as u64 + 1, "{attempts} connections");
    report(&format!(
        "proxy server=openbao mode=blackhole timeout_ms={} retries={} outcome={} connections={attempts} elapsed_ms={} bound_ms={}",
        t.timeout.as_millis(),
        t.retries,
        e.kind().as_str(),
        el.as_millis(),
        bound.as_millis()
    ));

    // Truncated answers: typed error, no panic.
    for limit in [0usize, 12, 60] {
        proxy.set_mode(ProxyMode::TruncateAfter(limit));
        let (r, el) = timed("truncate", bound, read_value(&store, "px/key")).await;
        let e = r.unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Unavailable | ErrorKind::Protocol | ErrorKind::Timeout
            ),
            "{e}"
        );
        report(&format!(
            "proxy server=openbao mode=truncate{limit} outcome={} elapsed_ms={}",
            e.kind().as_str(),
            el.as_millis()
        ));
    }

    // Back to normal.
    proxy.set_mode(ProxyMode::Pass);
    assert_eq!(
        read_value(&store, "px/key").await.unwrap().as_deref(),
        Some("px-value")
    );

    // A write whose answer is cut after OpenBao received it: at most one new version.
    assert_eq!(vault_versions(&bao, "px/key").await, 1);
    proxy.set_mode(ProxyMode::TruncateAfter(0));
    let (r, _) = timed(
        "cut write",
        bound,
        store.write(&name("px/key"), "px-2".into(), &WriteOptions::new()),
    )
    .await;
    proxy.set_mode(ProxyMode::Pass);
    let versions = vault_versions(&bao, "px/key").await;
    report(&format!(
        "write-cut server=openbao outcome={} versions_after_second_write={versions}",
        r.as_ref()
            .map_or_else(|e| e.kind().as_str().to_owned(), |_| "ok".into())
    ));
    assert!(
        versions <= 2,
        "the cut write was applied {} times",
        versions - 1
    );

    // A server restart: failing fast while it is down, working again once it is back
    // (dev mode loses its data, so the value is written again).
    bao.stop();
    let (r, el) = timed("server down", bound, read_value(&store, "px/key")).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
    report(&format!(
        "restart server=openbao while_down={} elapsed_ms={}",
        e.kind().as_str(),
        el.as_millis()
    ));
    bao.start_again().await;
    assert_eq!(
        read_value(&store, "px/key").await.unwrap(),
        None,
        "dev mode starts empty"
    );
    store
        .write(&name("px/key"), "px-3".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(
        read_value(&store, "px/key").await.unwrap().as_deref(),
        Some("px-3")
    );
    assert_eq!(vault_versions(&bao, "px/key").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn openbao_token_expiring_in_the_middle_of_a_burst() {
    let bao = OpenBao::start().await;
    bao.write_policy(None, "kv-rw", &OpenBao::kv_policy("secret"))
        .await;
    let (role_id, secret_id) = bao.approle(None, "burst", &["kv-rw"], "2s", "1h").await;
    let store = Arc::new(
        strongroom_hcp_vault::HcpVaultBuilder::new()
            .with_addr(bao.url())
            .with_approle(role_id, secret_id)
            .with_retry_policy(Tuning::default().retry_policy())
            .build()
            .unwrap(),
    );
    for i in 0..5 {
        store
            .write(
                &name(&format!("tb/k{i}")),
                format!("v{i}").into(),
                &WriteOptions::new(),
            )
            .await
            .unwrap();
    }
    let errors = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = Arc::clone(&store);
        let (errors, ok) = (Arc::clone(&errors), Arc::clone(&ok));
        tasks.push(tokio::spawn(async move {
            let mut j = w;
            while Instant::now() < deadline {
                let k = j % 5;
                j += 1;
                match read_value(&*store, &format!("tb/k{k}")).await {
                    Ok(Some(v)) if v == format!("v{k}") => ok.fetch_add(1, Ordering::SeqCst),
                    other => {
                        eprintln!("read failed: {other:?}");
                        errors.fetch_add(1, Ordering::SeqCst)
                    }
                };
            }
        }));
    }
    timed("vault burst", Duration::from_secs(30), async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    report(&format!(
        "token-expiry server=openbao token_ttl=2s duration_s=5 reads={} errors={}",
        ok.load(Ordering::SeqCst),
        errors.load(Ordering::SeqCst)
    ));
    assert_eq!(errors.load(Ordering::SeqCst), 0);
    assert!(ok.load(Ordering::SeqCst) > 100);
}

// ------------------------------------------------------------------------------------------
// moto through the fault proxy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_through_the_fault_proxy() {
    let moto = Moto::start().await;
    let target: std::net::SocketAddr = format!("127.0.0.1:{}", moto.port()).parse().unwrap();
    let proxy = FaultProxy::start(target).await;
    let t = Tuning::default()
        .timeout(Duration::from_secs(1))
        .retries(2)
        .via(proxy.http_url());
    let store = aws_store(&moto, &t, "reliability-secret-key");
    store
        .write(&name("px/key"), "px-value".into(), &WriteOptions::new())
        .await
        .unwrap();
    // The AWS SDK's operation timeout covers all attempts, so its bound is that plus backoff.
    let bound = t.timeout * (t.retries as u32 + 1) + MARGIN;

    proxy.set_mode(ProxyMode::Latency(Duration::from_millis(100)));
    let (r, el) = timed("latency", bound, read_value(&store, "px/key")).await;
    assert_eq!(r.unwrap().as_deref(), Some("px-value"));
    report(&format!(
        "proxy server=moto mode=latency100ms outcome=ok elapsed_ms={}",
        el.as_millis()
    ));

    for (label, mode) in [
        ("reset", ProxyMode::Reset),
        ("blackhole", ProxyMode::Blackhole),
        ("truncate0", ProxyMode::TruncateAfter(0)),
        ("truncate40", ProxyMode::TruncateAfter(40)),
    ] {
        proxy.set_mode(mode);
        let (r, el) = timed(
            label,
            bound + Duration::from_secs(5),
            read_value(&store, "px/key"),
        )
        .await;
        let e = r.unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Protocol
            ),
            "{label}: {e}"
        );
        assert!(el <= bound, "{label}: took {el:?} > {bound:?}");
        report(&format!(
            "proxy server=moto mode={label} outcome={} elapsed_ms={} bound_ms={}",
            e.kind().as_str(),
            el.as_millis(),
            bound.as_millis()
        ));
    }
    proxy.set_mode(ProxyMode::Pass);
    assert_eq!(
        read_value(&store, "px/key").await.unwrap().as_deref(),
        Some("px-value")
    );

    // A cut write: moto dedupes the SDK's ClientRequestToken, so a retry adds no version.
    let before = moto_versions(&moto, "px/key").await;
    assert_eq!(before, 1);
    proxy.set_mode(ProxyMode::TruncateAfter(0));
    let (r, _) = timed(
        "cut write",
        bound,
        store.write(&name("px/key"), "px-2".into(), &WriteOptions::new()),
    )
    .await;
    proxy.set_mode(ProxyMode::Pass);
    let versions = moto_versions(&moto, "px/key").await;
    report(&format!(
        "write-cut server=moto outcome={} versions_after_second_write={versions}",
        r.as_ref()
            .map_or_else(|e| e.kind().as_str().to_owned(), |_| "ok".into())
    ));
    assert!(
        versions <= 2,
        "the cut write was applied {} times",
        versions - 1
    );

    // A "restart": the proxy now points at a fresh, empty moto (the same address for the
    // client); the store carries on.
    let moto2 = Moto::start().await;
    proxy.set_target(format!("127.0.0.1:{}", moto2.port()).parse().unwrap());
    proxy.set_mode(ProxyMode::Reset);
    let _ = read_value(&store, "px/key").await;
    proxy.set_mode(ProxyMode::Pass);
    assert_eq!(read_value(&store, "px/key").await.unwrap(), None);
    store
        .write(&name("px/key"), "px-3".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(
        read_value(&store, "px/key").await.unwrap().as_deref(),
        Some("px-3")
    );
}

// ------------------------------------------------------------------------------------------
// Redis (the cache) through the fault proxy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_redis_cache_never_fails_a_read() {
    let mut redis = RedisServer::start();
    let proxy = FaultProxy::start(redis.addr().parse().unwrap()).await;
    let cache_timeout = Duration::from_millis(300);
    let cache = strongroom_redis::RedisCacheBuilder::new(format!("redis://{}", proxy.addr()))
        .with_key(strongroom_redis::EncryptionKey::generate())
        .with_timeout(cache_timeout)
        .build()
        .await
        .unwrap();
    let cache: Arc<dyn SecretCache> = Arc::new(cache);
    let backend = MemoryStore::new();
    backend
        .write(&name("rc/key"), "rc-value".into(), &WriteOptions::new())
        .await
        .unwrap();
    let store = backend.with_cache(
        Arc::clone(&cache),
        CachePolicy::new("rel").ttl(Duration::from_secs(60)),
    );
    assert_eq!(
        read_value(&store, "rc/key").await.unwrap().as_deref(),
        Some("rc-value")
    );
    // A cache get and a cache set per read at most, each bounded by the cache timeout.
    let bound = cache_timeout * 4 + MARGIN;
    for (label, mode) in [
        ("latency", ProxyMode::Latency(Duration::from_millis(50))),
        ("reset", ProxyMode::Reset),
        ("blackhole", ProxyMode::Blackhole),
        ("truncate", ProxyMode::TruncateAfter(3)),
    ] {
        proxy.set_mode(mode);
        let mut worst = Duration::ZERO;
        for _ in 0..3 {
            let (r, el) = timed(
                label,
                bound + Duration::from_secs(5),
                read_value(&store, "rc/key"),
            )
            .await;
            assert_eq!(r.unwrap().as_deref(), Some("rc-value"), "{label}");
            assert!(el <= bound, "{label}: {el:?}");
            worst = worst.max(el);
        }
        report(&format!(
            "proxy server=redis mode={label} reads=3 errors=0 worst_ms={} bound_ms={}",
            worst.as_millis(),
            bound.as_millis()
        ));
    }
    proxy.set_mode(ProxyMode::Pass);
    // A Redis restart: reads keep working throughout and the cache is used again after.
    redis.stop();
    let (r, _) = timed("redis down", bound, read_value(&store, "rc/key")).await;
    assert_eq!(r.unwrap().as_deref(), Some("rc-value"));
    redis.start_again();
    let (r, _) = timed("redis back", bound, async {
        // The client reconnects on its own; give it a few reads.
        let mut last = None;
        for _ in 0..5 {
            last = Some(read_value(&store, "rc/key").await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        last.unwrap()
    })
    .await;
    assert_eq!(r.unwrap().as_deref(), Some("rc-value"));
    report("restart server=redis reads_during_and_after=ok");
}

// ------------------------------------------------------------------------------------------
// Stale-if-error

/// Reads every 50 ms from a warm cache while the backend is down; returns how long reads
/// kept being served and the error that ended it.
async fn serve_stale_until_error(
    store: &dyn SecretStore,
    n: &str,
    expected: &str,
    limit: Duration,
) -> (Duration, strongroom_core::Error, usize) {
    let start = Instant::now();
    let mut served = 0;
    loop {
        assert!(
            start.elapsed() < limit,
            "stale values served past {limit:?}"
        );
        match store.read(&name(n), &ReadOptions::new()).await {
            Ok(Some(s)) => {
                assert_eq!(s.value.expose_str().unwrap(), expected);
                served += 1;
            }
            Ok(None) => panic!("a stale read answered None"),
            Err(e) => return (start.elapsed(), e, served),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_if_error_serves_the_window_then_fails_clearly() {
    let ttl = Duration::from_millis(300);
    let window = Duration::from_millis(1500);
    let policy = || CachePolicy::new("stale").ttl(ttl).stale_if_error(window);
    let t = Tuning::default()
        .timeout(Duration::from_millis(300))
        .retries(1);

    // The fakes, down with 503s.
    for kind in FAKES {
        let fake = Fake::start(kind).await;
        fake.seed("st/key", "st-value");
        let store = fake
            .store(&t)
            .with_cache(Arc::new(MemoryCache::default()), policy());
        let warm = Instant::now();
        assert_eq!(
            read_value(&store, "st/key").await.unwrap().as_deref(),
            Some("st-value")
        );
        fake.faults().push_n(Fault::Status(503), 100_000);
        let (served_for, err, served) =
            serve_stale_until_error(&store, "st/key", "st-value", Duration::from_secs(10)).await;
        check_stale(
            fake.label(),
            warm.elapsed(),
            served_for,
            ttl,
            window,
            &err,
            served,
        );
    }

    // OpenBao, down behind a resetting proxy.
    let bao = OpenBao::start().await;
    let proxy = FaultProxy::start(bao.addr()).await;
    let store = vault_store(&bao, &t.clone().via(proxy.http_url()));
    store
        .write(&name("st/key"), "st-value".into(), &WriteOptions::new())
        .await
        .unwrap();
    let store = store.with_cache(Arc::new(MemoryCache::default()), policy());
    let warm = Instant::now();
    assert_eq!(
        read_value(&store, "st/key").await.unwrap().as_deref(),
        Some("st-value")
    );
    proxy.set_mode(ProxyMode::Reset);
    let (served_for, err, served) =
        serve_stale_until_error(&store, "st/key", "st-value", Duration::from_secs(10)).await;
    check_stale(
        "openbao",
        warm.elapsed(),
        served_for,
        ttl,
        window,
        &err,
        served,
    );
    // Once the backend is back, fresh reads work again.
    proxy.set_mode(ProxyMode::Pass);
    assert_eq!(
        read_value(&store, "st/key").await.unwrap().as_deref(),
        Some("st-value")
    );
}

fn check_stale(
    label: &str,
    since_warm: Duration,
    served_for: Duration,
    ttl: Duration,
    window: Duration,
    err: &strongroom_core::Error,
    served: usize,
) {
    report(&format!(
        "stale-if-error backend={label} ttl_ms={} window_ms={} stale_reads={served} served_for_ms={} failed_after_warm_ms={} error={}",
        ttl.as_millis(),
        window.as_millis(),
        served_for.as_millis(),
        since_warm.as_millis(),
        err.kind().as_str()
    ));
    // Served past the TTL (the backend was down the whole time) …
    assert!(
        since_warm > ttl + window / 2,
        "{label}: stopped after {since_warm:?}"
    );
    // … and not past TTL + window (plus one slow failing read).
    assert!(
        since_warm <= ttl + window + Duration::from_secs(2),
        "{label}: served until {since_warm:?}"
    );
    assert!(
        matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::Timeout),
        "{label}: {err}"
    );
    assert!(err.is_temporary());
    assert!(!err.to_string().contains("st-value"));
    assert_eq!(
        err.name(),
        Some("st/key"),
        "{label}: the error names the secret: {err}"
    );
}
