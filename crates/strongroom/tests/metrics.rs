//! Feature `metrics`: `Registry::record_metrics` puts each manager's cache statistics into the
//! installed `metrics` recorder, labelled by manager, for the caller's managers only.

#![cfg(feature = "metrics")]

use std::collections::BTreeMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use strongroom::metrics as m;
use strongroom::{ReadOptions, Registry, SecretName, WatchOptions, WriteOptions};

/// (metric name, manager label) → value, from one snapshot of the debugging recorder.
fn record(registry: &Registry, groups: &[String]) -> BTreeMap<(String, String), f64> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || registry.record_metrics(groups));
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _unit, _description, value)| {
            let key = key.key();
            let manager = key
                .labels()
                .find(|l| l.key() == m::MANAGER_LABEL)
                .map(|l| l.value().to_owned())
                .expect("every metric is labelled by manager");
            let value = match value {
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(_) => panic!("no histograms are recorded"),
            };
            ((key.name().to_owned(), manager), value)
        })
        .collect()
}

#[tokio::test]
async fn record_metrics_exports_each_managers_counters_and_watch_gauge() {
    let registry = Registry::from_toml_str(
        r#"
        [managers.app]
        provider = "memory"
        access_mode = "read_and_write"
        [managers.ops]
        provider = "memory"
        access_mode = "read_and_write"
        allowed_groups = ["ops"]
        [managers.raw]
        provider = "memory"
        cache = { enabled = false }
        "#,
    )
    .await
    .unwrap();
    let app = registry.manager("app", &[]).unwrap().store();
    let name = SecretName::new("db").unwrap();
    app.write(&name, "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    // A known sequence: one miss that reads the backend, three hits, one miss of a missing
    // secret (not cached), then a watch (its first read takes the fresh cache entry).
    app.read(&name, &ReadOptions::new()).await.unwrap();
    for _ in 0..3 {
        app.read(&name, &ReadOptions::new()).await.unwrap();
    }
    app.read(&SecretName::new("nope").unwrap(), &ReadOptions::new())
        .await
        .unwrap();
    let watch = registry
        .watch("app", &name, &[], &WatchOptions::new())
        .await
        .unwrap();

    let got = record(&registry, &[]);
    let at = |metric: &str| got.get(&(metric.to_owned(), "app".to_owned())).copied();
    assert_eq!(at(m::HITS), Some(3.0), "{got:?}");
    assert_eq!(at(m::MISSES), Some(2.0), "{got:?}");
    assert_eq!(at(m::BACKEND_READS), Some(2.0), "{got:?}");
    assert_eq!(at(m::STALE_SERVED), Some(0.0), "{got:?}");
    assert_eq!(at(m::BACKEND_ERRORS), Some(0.0), "{got:?}");
    assert_eq!(at(m::SINGLE_FLIGHT_JOINS), Some(0.0), "{got:?}");
    assert_eq!(at(m::REFRESHES), Some(0.0), "{got:?}");
    assert_eq!(at(m::WATCHES), Some(1.0), "{got:?}");
    // Only the caller's cached managers: `ops` needs the group, `raw` has no cache.
    let managers: Vec<&str> = got.keys().map(|(_, m)| m.as_str()).collect();
    assert!(managers.iter().all(|m| *m == "app"), "{managers:?}");
    let with_ops = record(&registry, &["ops".to_owned()]);
    assert_eq!(
        with_ops.get(&(m::HITS.to_owned(), "ops".to_owned())),
        Some(&0.0)
    );

    // Counters are absolute: recording again after more reads gives the new totals, and the
    // gauge follows the live watches.
    app.read(&name, &ReadOptions::new()).await.unwrap();
    drop(watch);
    let again = record(&registry, &[]);
    assert_eq!(
        again.get(&(m::HITS.to_owned(), "app".to_owned())),
        Some(&4.0)
    );
    assert_eq!(
        again.get(&(m::WATCHES.to_owned(), "app".to_owned())),
        Some(&0.0)
    );
}
