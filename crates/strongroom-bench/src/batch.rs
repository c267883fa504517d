//! Row 6: `read_many` of 100 secrets with the provider's native batch call vs 100 sequential
//! reads, for each provider that has one: Conjur (fake), AWS (moto), Akeyless (fake).

use std::time::{Duration, Instant};
use strongroom_core::HttpSetters as _;

use strongroom_akeyless::AkeylessBuilder;
use strongroom_conjur::ConjurBuilder;
use strongroom_core::{ReadOptions, RetryPolicy, SecretName, SecretStore, WriteOptions};
use strongroom_testkit::fakes::akeyless::FakeAkeyless;
use strongroom_testkit::fakes::conjur::FakeConjur;
use strongroom_testkit::servers::moto::Moto;

use crate::hit::{VALUE, aws_store};
use crate::stats::{fmt_ns, fmt_ratio, median, ns};
use crate::{Cfg, Line, RowResult};

const COUNT: usize = 100;

fn names() -> Vec<SecretName> {
    (0..COUNT)
        .map(|i| SecretName::new(format!("bench/batch-{i:03}")).unwrap())
        .collect()
}

/// (median sequential time, median batch time, median per-round ratio seq/batch).
async fn measure(store: &dyn SecretStore, rounds: usize) -> (f64, f64, f64) {
    let names = names();
    let opts = ReadOptions::new();
    let sequential = || async {
        let t = Instant::now();
        for n in &names {
            let got = store.read(n, &opts).await.expect("read");
            assert!(got.is_some(), "{n} is missing");
        }
        t.elapsed()
    };
    let batch = || async {
        let t = Instant::now();
        let got = store.read_many(&names, &opts).await.expect("read_many");
        assert_eq!(got.len(), COUNT);
        assert!(got.iter().all(|(_, s)| s.is_some()), "a secret is missing");
        t.elapsed()
    };
    // warm-up (log-in, connections)
    sequential().await;
    batch().await;
    let (mut seq, mut bat, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (s, b): (Duration, Duration) = if round % 2 == 0 {
            let s = sequential().await;
            (s, batch().await)
        } else {
            let b = batch().await;
            (sequential().await, b)
        };
        seq.push(ns(s));
        bat.push(ns(b));
        ratio.push(ns(s) / ns(b));
    }
    (median(&seq), median(&bat), median(&ratio))
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(3)
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(50))
}

pub async fn run(cfg: &Cfg) -> RowResult {
    let rounds = cfg.pick(5, 1);
    let mut results = Vec::new();

    let conjur = FakeConjur::start().await;
    for n in names() {
        conjur.set_value(n.as_str(), VALUE.as_bytes());
    }
    let store = ConjurBuilder::new()
        .with_api_base(conjur.url())
        .with_account(conjur.account())
        .with_login(conjur.login())
        .with_api_key(conjur.api_key())
        .with_retry_policy(fast_retry())
        .build()
        .expect("ConjurStore");
    results.push((
        "Conjur (fake)",
        "GET /secrets?variable_ids=…",
        measure(&store, rounds).await,
    ));
    drop(conjur);

    let moto = Moto::start().await;
    let store = aws_store(&moto);
    for n in names() {
        store
            .write(&n, VALUE.into(), &WriteOptions::new())
            .await
            .expect("write to moto");
    }
    results.push((
        "AWS (moto)",
        "BatchGetSecretValue, 20 ids a page",
        measure(&store, rounds).await,
    ));
    drop(moto);

    let akeyless = FakeAkeyless::start().await;
    for n in names() {
        akeyless.seed_static(&format!("/{}", n.as_str()), VALUE);
    }
    let store = AkeylessBuilder::new()
        .with_api_host(akeyless.url())
        .with_access_id(akeyless.access_id())
        .with_access_key(akeyless.access_key())
        .with_retry_policy(fast_retry())
        .build()
        .expect("AkeylessStore");
    results.push((
        "Akeyless (fake)",
        "get-secret-value with names[]",
        measure(&store, rounds).await,
    ));
    drop(akeyless);

    let mut r = RowResult::default();
    for (i, (provider, call, (seq, bat, ratio))) in results.into_iter().enumerate() {
        r.lines.push(Line {
            row: format!("6{}", ['a', 'b', 'c'][i]),
            what: format!("read_many of {COUNT} secrets, {provider}: {call}"),
            ours: format!("batch {}", fmt_ns(bat)),
            peer: format!("{COUNT} sequential reads {}", fmt_ns(seq)),
            ratio: format!("batch {} faster", fmt_ratio(ratio)),
            target: "batch ≥ 5x faster".into(),
            met: Some(ratio >= 5.0),
        });
    }
    r.notes.push(format!(
        "{COUNT} secrets of 64 bytes seeded in each backend; per round one `read_many` of all \
         {COUNT} and {COUNT} sequential `read`s with the same store (order alternating), \
         {rounds} rounds after a warm-up; ratio = median of per-round sequential/batch. The \
         fakes run in this process on loopback with no injected latency, so the ratio is a \
         lower bound of what a real network gives."
    ));
    r
}
