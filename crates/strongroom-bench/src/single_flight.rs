//! Row 2: N concurrent reads of one secret that is not cached yet, counted at the backend
//! (moto's request log): Strongroom's cache layer vs `aws_secretsmanager_caching`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use strongroom_core::{
    CachePolicy, MemoryCache, ReadOptions, SecretName, SecretStore, SecretStoreExt, WriteOptions,
};
use strongroom_testkit::servers::moto::Moto;

use crate::hit::{VALUE, aws_caching_client, aws_store};
use crate::stats::{fmt_ns, ns};
use crate::{Cfg, Line, RowResult};

/// moto writes its request log line just after answering: give it a moment before counting.
async fn requests(moto: &Moto) -> usize {
    tokio::time::sleep(Duration::from_millis(400)).await;
    moto.api_requests()
}

pub async fn run(cfg: &Cfg) -> RowResult {
    let n: usize = cfg.pick(1_000, 100);
    let moto = Moto::start().await;
    let plain = aws_store(&moto);
    for s in ["sf/strongroom", "sf/aws-crate"] {
        plain
            .write(
                &SecretName::new(s).unwrap(),
                VALUE.into(),
                &WriteOptions::new(),
            )
            .await
            .expect("write to moto");
    }

    // Strongroom: the cache layer over the AWS store.
    let stack = Arc::new(plain.with_cache(
        Arc::new(MemoryCache::new(10_000)),
        CachePolicy::new("bench").ttl(Duration::from_secs(600)),
    ));
    let before = requests(&moto).await;
    let t = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let stack = Arc::clone(&stack);
            tokio::spawn(async move {
                let name = SecretName::new("sf/strongroom").unwrap();
                let s = stack.read(&name, &ReadOptions::new()).await.unwrap();
                assert_eq!(
                    s.expect("the secret").value.expose_secret(),
                    VALUE.as_bytes()
                );
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let ours_time = t.elapsed();
    let ours = requests(&moto).await - before;

    // The AWS caching crate: a fresh client, the same kind of cold secret.
    let aws = Arc::new(aws_caching_client(&moto, Duration::from_secs(600)));
    let before = requests(&moto).await;
    let t = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let aws = Arc::clone(&aws);
            tokio::spawn(async move {
                let ok = match aws
                    .get_secret_value("sf/aws-crate", None, None, false)
                    .await
                {
                    Ok(out) => out.secret_string.as_deref() == Some(VALUE),
                    Err(_) => false,
                };
                assert!(ok, "aws_secretsmanager_caching read failed");
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let peer_time = t.elapsed();
    let peer = requests(&moto).await - before;

    let mut r = RowResult::default();
    r.lines.push(Line {
        row: "2".into(),
        what: format!("{n} concurrent reads of one uncached secret (moto)"),
        ours: format!(
            "{ours} GetSecretValue request{} ({} for all {n})",
            if ours == 1 { "" } else { "s" },
            fmt_ns(ns(ours_time))
        ),
        peer: format!(
            "aws_secretsmanager_caching: {peer} requests ({} for all {n})",
            fmt_ns(ns(peer_time))
        ),
        ratio: format!("{peer}:{ours} backend requests"),
        target: "exactly 1 backend request".into(),
        met: Some(ours == 1),
    });
    r.notes.push(format!(
        "{n} tokio tasks on a 2-worker runtime read the same cold secret at once; backend \
         requests are counted from moto's own request log (`POST /` lines), before and after. \
         Strongroom: `AwsStore.with_cache(MemoryCache)` (single-flight per cache key); the AWS \
         crate: a fresh `SecretsManagerCachingClient` on the same moto (no single-flight: each \
         miss calls GetSecretValue)."
    ));
    r
}
