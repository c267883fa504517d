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
// Fakes: the fault harness, and the fault proxy in front of them

/// The body the fakes' `Fault::Malformed` answers with (`strongroom_testkit::fake`).
const MALFORMED_BODY: &str = "{\"this is\": not json";

/// Where a fault is injected.
#[derive(Debug, Clone)]
enum Inject {
    /// Queued in the fake's own fault harness (applied to the next requests).
    Fake(Vec<Fault>),
    /// Latency added by the fake to every request.
    FakeLatency(Duration),
    /// A mode of the fault proxy in front of the fake.
    Proxy(ProxyMode),
}

/// One row of the fault matrix: the fault, the ONE outcome it must produce on this fake, and
/// how many requests the fake must see.
#[derive(Debug, Clone)]
struct Case {
    fault: &'static str,
    inject: Inject,
    /// The longest server-requested wait the call honours (for the time bound).
    retry_after: Duration,
    /// `ok` or an `ErrorKind::as_str()`.
    outcome: &'static str,
    /// The value an `ok` read returns.
    value: &'static str,
    /// Requests the fake sees (the one attempt, every retry, nothing else).
    requests: u64,
}

/// The matrix for `kind`, with `retries` retries configured. Where the outcome differs per
/// fake, the row says why.
fn fault_matrix(kind: FakeKind, retries: usize) -> Vec<Case> {
    let n = retries;
    let all = n as u64 + 1; // the first attempt and every retry
    let zero = Duration::ZERO;
    let case = |fault, inject, outcome, requests| Case {
        fault,
        inject,
        retry_after: zero,
        outcome,
        value: "fm-value",
        requests,
    };
    let fake = |faults: Vec<Fault>| Inject::Fake(faults);
    let past_timeout = Fault::Delay(Duration::from_millis(700) + Duration::from_millis(500));
    vec![
        // Retryable statuses: retried within the budget, the last one's status after it.
        case(
            "503 x retries",
            fake(vec![Fault::Status(503); n]),
            "ok",
            all,
        ),
        case(
            "503 x all",
            fake(vec![Fault::Status(503); n + 5]),
            "unavailable",
            all,
        ),
        case(
            "502/504 burst",
            fake(vec![Fault::Status(502), Fault::Status(504)]),
            "ok",
            3,
        ),
        Case {
            retry_after: Duration::from_secs(1),
            ..case(
                "429 Retry-After 1",
                fake(vec![Fault::RetryAfter(429, 1)]),
                "ok",
                2,
            )
        },
        case(
            "429 x all",
            fake(vec![Fault::RetryAfter(429, 0); n + 5]),
            "rate_limited",
            all,
        ),
        // A connection closed before any answer: a transport error (`transport_error`:
        // neither a timeout nor a body error) — Unavailable, temporary, retried.
        case("drop x1", fake(vec![Fault::Drop]), "ok", 2),
        case(
            "drop x all",
            fake(vec![Fault::Drop; n + 5]),
            "unavailable",
            all,
        ),
        // The fakes' `Truncate`: the head and part of the body, then the connection closes —
        // an incomplete answer, Unavailable and retried (as the proxy's `CutBody` row below).
        case("truncate x1", fake(vec![Fault::Truncate]), "ok", 2),
        case(
            "truncate x all",
            fake(vec![Fault::Truncate; n + 5]),
            "unavailable",
            all,
        ),
        // A 200 whose body is not what the protocol promises. Conjur's read answer IS the raw
        // value (`GET /secrets/…` returns the bytes stored), so any 200 body is a value;
        // Akeyless and Azure promise JSON and say the answer is malformed (Protocol, not
        // retried: the server answered).
        if kind == FakeKind::Conjur {
            Case {
                value: MALFORMED_BODY,
                ..case(
                    "malformed x all",
                    fake(vec![Fault::Malformed; n + 5]),
                    "ok",
                    1,
                )
            }
        } else {
            case(
                "malformed x all",
                fake(vec![Fault::Malformed; n + 5]),
                "protocol",
                1,
            )
        },
        // No answer within the request timeout: `is_timeout()` — Timeout, retried.
        case(
            "delay > timeout x1",
            fake(vec![past_timeout.clone()]),
            "ok",
            2,
        ),
        case(
            "delay > timeout x all",
            fake(vec![past_timeout; n + 5]),
            "timeout",
            all,
        ),
        case(
            "latency 50ms",
            Inject::FakeLatency(Duration::from_millis(50)),
            "ok",
            1,
        ),
        // Through the proxy: the head arrives, then the body stops after 3 of its bytes. An
        // incomplete answer is a connection lost mid-answer, like a drop: Unavailable,
        // temporary, retried — by the core HTTP path (`body_error`) and by the Azure SDK's
        // retry loop (an SDK `Io` error) alike.
        case(
            "body cut short (proxy)",
            Inject::Proxy(ProxyMode::CutBody(3)),
            "unavailable",
            all,
        ),
        // Accepted, never answered: every attempt times out, none reaches the fake.
        case(
            "blackhole (proxy)",
            Inject::Proxy(ProxyMode::Blackhole),
            "timeout",
            0,
        ),
    ]
}

struct Row {
    fault: &'static str,
    outcome: String,
    requests: u64,
    elapsed: Duration,
}

/// Runs one read against `fake` with `case` injected; checks the outcome is the case's, the
/// fake saw exactly the case's requests and the call stayed within its time bound.
async fn one_read(
    fake: &Fake,
    direct: &dyn SecretStore,
    proxy: &FaultProxy,
    proxied: &dyn SecretStore,
    t: &Tuning,
    case: &Case,
) -> Row {
    let label = case.fault;
    fake.faults().clear();
    let store = match &case.inject {
        Inject::Fake(faults) => {
            for f in faults {
                fake.faults().push(f.clone());
            }
            direct
        }
        Inject::FakeLatency(d) => {
            fake.faults().set_latency(Some(*d));
            direct
        }
        Inject::Proxy(mode) => {
            proxy.set_mode(*mode);
            proxied
        }
    };
    let before = fake.requests();
    let bound = t.bound(case.retry_after, MARGIN);
    let (result, elapsed) = timed(
        &format!("{} {label}", fake.label()),
        bound + Duration::from_secs(5),
        store.read(&name("fm/key"), &ReadOptions::new()),
    )
    .await;
    fake.faults().clear();
    fake.faults().set_latency(None);
    proxy.set_mode(ProxyMode::Pass);
    let requests = fake.requests() - before;
    let outcome = kind_name(&result);
    assert_eq!(
        outcome,
        case.outcome,
        "{} {label}: {result:?}",
        fake.label()
    );
    match &result {
        Ok(s) => assert_eq!(
            s.as_ref().map(|s| s.value.expose_str().unwrap()),
            Some(case.value),
            "{} {label}",
            fake.label()
        ),
        Err(e) => {
            assert!(!e.to_string().contains("fm-value"));
            assert_eq!(
                e.name(),
                Some("fm/key"),
                "{} {label}: error names the secret",
                fake.label()
            );
        }
    }
    assert_eq!(
        requests,
        case.requests,
        "{} {label}: requests seen by the fake (budget: {} retries)",
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
        let direct = fake.store(&t);
        let proxy = fake.proxy().await;
        let proxied = fake.store(&t.clone().via(fake.url_via(proxy.addr())));
        // Warm up both: the log-in happens now, so faults hit the secret calls.
        for store in [&direct, &proxied] {
            assert_eq!(
                read_value(&**store, "fm/key").await.unwrap().as_deref(),
                Some("fm-value")
            );
        }
        let mut rows = Vec::new();
        for case in fault_matrix(kind, t.retries) {
            let row = one_read(&fake, &*direct, &proxy, &*proxied, &t, &case).await;
            if case.retry_after > Duration::ZERO {
                assert!(
                    row.elapsed >= case.retry_after - Duration::from_millis(100),
                    "{} {}: Retry-After honoured (took {:?})",
                    fake.label(),
                    case.fault,
                    row.elapsed
                );
            }
            rows.push(row);
        }
        // Both stores still work after all of it.
        for store in [&direct, &proxied] {
            assert_eq!(
                read_value(&**store, "fm/key").await.unwrap().as_deref(),
                Some("fm-value")
            );
        }
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

/// What a write under a burst of faults must do on one fake: its outcome, the versions the
/// fake then holds, and the requests it saw.
fn write_burst_expected(kind: FakeKind, burst: &str) -> (&'static str, usize, u64) {
    match (kind, burst) {
        // A Conjur write is a policy load (add-only, harmless to repeat: retried) and then
        // one value POST (a new version each time: never retried). The burst hits the load.
        (FakeKind::Conjur, "503 x1" | "drop x1") => ("ok", 1, 3),
        (FakeKind::Conjur, "503 x10") => ("unavailable", 0, 4),
        // An Akeyless write starts with `create-secret`, which is not retried (a repeat after
        // a lost answer would answer 409 and write a second version): the first fault is the
        // outcome, and nothing was stored.
        (FakeKind::Akeyless, _) => ("unavailable", 0, 1),
        // Azure's write is one `PUT`. A 503 says the vault did not take it: the SDK's retry
        // policy retries. A connection closed after the `PUT` was sent leaves its outcome
        // unknown: not sent again (`strongroom_azure`'s transport), the caller hears it.
        (FakeKind::Azure, "503 x1") => ("ok", 1, 2),
        (FakeKind::Azure, "drop x1") => ("unavailable", 0, 1),
        (FakeKind::Azure, "503 x10") => ("unavailable", 0, 4),
        _ => unreachable!("{burst}"),
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
        for (i, (burst, faults)) in [
            ("503 x1", vec![Fault::Status(503)]),
            ("drop x1", vec![Fault::Drop]),
            ("503 x10", vec![Fault::Status(503); 10]),
        ]
        .into_iter()
        .enumerate()
        {
            let n = format!("wb/k{i}");
            let (outcome, expected_versions, expected_requests) = write_burst_expected(kind, burst);
            for f in &faults {
                fake.faults().push(f.clone());
            }
            let before = fake.requests();
            let (result, _) = timed(
                "write",
                t.bound(Duration::ZERO, MARGIN) * 3,
                store.write(&name(&n), SecretValue::from("wv"), &WriteOptions::new()),
            )
            .await;
            fake.faults().clear();
            let requests = fake.requests() - before;
            let versions = fake.versions(&n);
            let got = result
                .as_ref()
                .map_or_else(|e| e.kind().as_str().to_owned(), |_| "ok".into());
            report(&format!(
                "write-burst fake={} burst=\"{burst}\" outcome={got} versions={versions} requests={requests}",
                fake.label(),
            ));
            assert_eq!(got, outcome, "{} {burst}: {result:?}", fake.label());
            assert_eq!(versions, expected_versions, "{} {burst}", fake.label());
            assert_eq!(requests, expected_requests, "{} {burst}", fake.label());
            match result {
                Ok(_) => assert_eq!(
                    read_value(&*store, &n).await.unwrap().as_deref(),
                    Some("wv")
                ),
                Err(e) => assert!(e.is_temporary(), "{} {burst}: {e}", fake.label()),
            }
        }
    }
}

/// How many answers precede the call that stores the value in a write to an existing secret
/// on each fake (those pass the proxy; the next ones are lost).
fn calls_before_the_value(kind: FakeKind) -> usize {
    match kind {
        // An add-only policy load, then the value POST.
        FakeKind::Conjur => 1,
        // `create-secret` (answered 409: the item exists), then `update-secret-val`.
        FakeKind::Akeyless => 1,
        // One `PUT /secrets/{name}`.
        FakeKind::Azure => 0,
    }
}

/// A write whose answer is lost after the fake received the whole request and applied it:
/// the caller hears Unavailable (a connection closed before the answer: the outcome is unknown
/// to it), and the fake holds the value once — never twice. The proxy passes the answers of
/// the calls before the one that stores the value, then closes each connection as its answer
/// starts (`LoseAnswersAfter`), retries included.
async fn a_lost_write_answer(kind: FakeKind) {
    let fake = Fake::start(kind).await;
    let proxy = fake.proxy().await;
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
    proxy.set_mode(ProxyMode::LoseAnswersAfter(calls_before_the_value(kind)));
    let (result, _) = timed(
        "cut write",
        t.bound(Duration::ZERO, MARGIN) * 2,
        store.write(&name("cut/key"), "v2".into(), &WriteOptions::new()),
    )
    .await;
    proxy.set_mode(ProxyMode::Pass);
    let versions = fake.versions("cut/key");
    let e = result.unwrap_err();
    report(&format!(
        "write-cut fake={} outcome={} versions_after_second_write={versions}",
        fake.label(),
        e.kind().as_str()
    ));
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{}: {e}", fake.label());
    assert_eq!(
        versions,
        2,
        "{}: the second write was applied {} times",
        fake.label(),
        versions - 1
    );
    assert_eq!(
        read_value(&*store, "cut/key").await.unwrap().as_deref(),
        Some("v2"),
        "{}",
        fake.label()
    );
}

/// Conjur's value POST and Akeyless's `update-secret-val` go through the core HTTP path as
/// non-idempotent calls: sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cut_after_sending_is_never_applied_twice_on_the_fakes() {
    for kind in [FakeKind::Conjur, FakeKind::Akeyless] {
        a_lost_write_answer(kind).await;
    }
}

/// Azure's `PUT /secrets/{name}` adds a version each time it is received, and the Azure SDK's
/// retry policy retries every transport error whatever the method: strongroom-azure's transport
/// turns a lost answer to a write into an error the SDK does not retry (it stored 4 copies
/// before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_a_write_cut_after_sending_is_never_applied_twice() {
    a_lost_write_answer(FakeKind::Azure).await;
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
    // Recorded, to count the requests that reach OpenBao.
    proxy.record(true);
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
    // A pooled connection again.
    proxy.set_mode(ProxyMode::Pass);
    assert_eq!(
        read_value(&store, "px/key").await.unwrap().as_deref(),
        Some("px-value")
    );

    // Blackhole: the configured timeout fires on every attempt (`is_timeout()`: Timeout);
    // nothing outlives the bound. The pooled connection stops forwarding too, so the first
    // attempt uses it and each retry opens a new one.
    let reads_before_blackhole = proxy
        .traffic()
        .requests_count(b"GET /v1/secret/data/px/key ");
    proxy.set_mode(ProxyMode::Blackhole);
    let conns = proxy.connections();
    let (r, el) = timed(
        "blackhole",
        bound + Duration::from_secs(5),
        read_value(&store, "px/key"),
    )
    .await;
    let e = r.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Timeout, "{e}");
    assert!(el <= bound, "blackhole read took {el:?} > {bound:?}");
    assert!(el >= t.timeout, "it did wait for the timeout");
    let attempts = proxy.connections() - conns;
    assert_eq!(attempts, t.retries as u64, "{attempts} new connections");
    assert_eq!(
        proxy
            .traffic()
            .requests_count(b"GET /v1/secret/data/px/key ")
            - reads_before_blackhole,
        0,
        "nothing reached OpenBao"
    );
    report(&format!(
        "proxy server=openbao mode=blackhole timeout_ms={} retries={} outcome={} new_connections={attempts} elapsed_ms={} bound_ms={}",
        t.timeout.as_millis(),
        t.retries,
        e.kind().as_str(),
        el.as_millis(),
        bound.as_millis()
    ));
    proxy.set_mode(ProxyMode::Pass);

    // Cut answers: typed errors, no panic, one outcome each. An answer that ends before its
    // head is complete (0, 12 or 60 bytes: OpenBao's head is longer) is a connection closed
    // before the message completed — a transport error: Unavailable, temporary (retried). A
    // body cut short after a complete head is an incomplete answer too: Unavailable,
    // temporary, retried (reqwest calls it a decode error; `body_error` knows better).
    let reads = |p: &FaultProxy| p.traffic().requests_count(b"GET /v1/secret/data/px/key ");
    let attempts = t.retries + 1;
    for (label, mode, kind, temporary, sent) in [
        (
            "truncate0",
            ProxyMode::TruncateAfter(0),
            ErrorKind::Unavailable,
            true,
            attempts,
        ),
        (
            "truncate12",
            ProxyMode::TruncateAfter(12),
            ErrorKind::Unavailable,
            true,
            attempts,
        ),
        (
            "truncate60",
            ProxyMode::TruncateAfter(60),
            ErrorKind::Unavailable,
            true,
            attempts,
        ),
        (
            "body-cut3",
            ProxyMode::CutBody(3),
            ErrorKind::Unavailable,
            true,
            attempts,
        ),
    ] {
        let before = reads(&proxy);
        proxy.set_mode(mode);
        let (r, el) = timed(label, bound, read_value(&store, "px/key")).await;
        proxy.set_mode(ProxyMode::Pass);
        let e = r.unwrap_err();
        let requests = reads(&proxy) - before;
        report(&format!(
            "proxy server=openbao mode={label} outcome={} requests={requests} elapsed_ms={}",
            e.kind().as_str(),
            el.as_millis()
        ));
        assert_eq!(e.kind(), &kind, "{label}: {e}");
        assert_eq!(e.is_temporary(), temporary, "{label}: {e}");
        assert_eq!(requests, sent, "{label}: reads that reached OpenBao");
    }

    // Back to normal.
    proxy.set_mode(ProxyMode::Pass);
    assert_eq!(
        read_value(&store, "px/key").await.unwrap().as_deref(),
        Some("px-value")
    );

    // A write whose answer is lost after OpenBao applied it: the KV write is not retried
    // (not idempotent), so the caller hears Unavailable and exactly one new version exists.
    assert_eq!(vault_versions(&bao, "px/key").await, 1);
    proxy.set_mode(ProxyMode::LoseAnswersAfter(0));
    let (r, _) = timed(
        "cut write",
        bound,
        store.write(&name("px/key"), "px-2".into(), &WriteOptions::new()),
    )
    .await;
    proxy.set_mode(ProxyMode::Pass);
    let versions = vault_versions(&bao, "px/key").await;
    let e = r.unwrap_err();
    report(&format!(
        "write-cut server=openbao outcome={} versions_after_second_write={versions}",
        e.kind().as_str()
    ));
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
    assert_eq!(versions, 2, "the cut write is applied exactly once");

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

    // One outcome per fault (`strongroom_aws::error::from_sdk`): a connection reset, or closed
    // before the answer's head is complete (0 or 40 bytes), is a dispatch failure that is not
    // a timeout — Unavailable; a blackhole runs into the operation timeout — Timeout.
    for (label, mode, kind) in [
        ("reset", ProxyMode::Reset, ErrorKind::Unavailable),
        ("blackhole", ProxyMode::Blackhole, ErrorKind::Timeout),
        (
            "truncate0",
            ProxyMode::TruncateAfter(0),
            ErrorKind::Unavailable,
        ),
        (
            "truncate40",
            ProxyMode::TruncateAfter(40),
            ErrorKind::Unavailable,
        ),
        // The SDK reads the whole body while dispatching: a cut body is an I/O error of the
        // dispatch, retried by the SDK, then Unavailable.
        ("body-cut3", ProxyMode::CutBody(3), ErrorKind::Unavailable),
    ] {
        proxy.set_mode(mode);
        let (r, el) = timed(
            label,
            bound + Duration::from_secs(5),
            read_value(&store, "px/key"),
        )
        .await;
        proxy.set_mode(ProxyMode::Pass);
        let e = r.unwrap_err();
        report(&format!(
            "proxy server=moto mode={label} outcome={} elapsed_ms={} bound_ms={}",
            e.kind().as_str(),
            el.as_millis(),
            bound.as_millis()
        ));
        assert_eq!(e.kind(), &kind, "{label}: {e}");
        assert!(el <= bound, "{label}: took {el:?} > {bound:?}");
    }
    assert_eq!(
        read_value(&store, "px/key").await.unwrap().as_deref(),
        Some("px-value")
    );

    // A write whose answers are lost after moto applied it. The write is `CreateSecret`
    // (answered ResourceExists), `DescribeSecret`, then `PutSecretValue`, whose answers are
    // lost: the SDK retries it with the same ClientRequestToken, which moto recognises, so
    // exactly one new version exists whatever the number of attempts.
    let before = moto_versions(&moto, "px/key").await;
    assert_eq!(before, 1);
    proxy.set_mode(ProxyMode::LoseAnswersAfter(2));
    let (r, _) = timed(
        "cut write",
        bound,
        store.write(&name("px/key"), "px-2".into(), &WriteOptions::new()),
    )
    .await;
    proxy.set_mode(ProxyMode::Pass);
    let versions = moto_versions(&moto, "px/key").await;
    let e = r.unwrap_err();
    report(&format!(
        "write-cut server=moto outcome={} versions_after_second_write={versions}",
        e.kind().as_str()
    ));
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
    assert_eq!(versions, 2, "the cut write is applied exactly once");

    // A "restart": the proxy now points at a fresh, empty moto (the same address for the
    // client); the store carries on.
    let moto2 = Moto::start().await;
    proxy.set_target(format!("127.0.0.1:{}", moto2.port()).parse().unwrap());
    // Reset cuts the pooled connections to the old moto.
    proxy.set_mode(ProxyMode::Reset);
    let e = read_value(&store, "px/key").await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
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
    // The fakes answer 503 and OpenBao's proxy resets every connection: both Unavailable.
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{label}: {err}");
    assert!(err.is_temporary());
    assert!(!err.to_string().contains("st-value"));
    assert_eq!(
        err.name(),
        Some("st/key"),
        "{label}: the error names the secret: {err}"
    );
}
