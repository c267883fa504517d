//! Row 10: backend reads for a cold fleet — 50 processes × 20 concurrent tasks reading one
//! secret that nobody has cached yet, counted at the backend (moto's request recorder):
//!
//! * Strongroom with a `RedisCache` and the fleet lease (one read per fleet),
//! * the AWS caching crate, one client per process (no single-flight: one read per caller),
//! * Strongroom with a `RedisCache` without the lease (single-flight stops at the process).
//!
//! Each process is this binary again (`--fleet-child <variant>`), told everything through its
//! environment and started together behind a barrier (`go` on stdin).

use std::io::{BufRead, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strongroom_aws::AwsBuilder;
use strongroom_core::config::ProviderConfig;
use strongroom_core::seal::SealKey;
use strongroom_core::{
    CachePolicy, ReadOptions, SecretCache, SecretName, SecretStore, SecretStoreExt, WriteOptions,
};
use strongroom_redis::RedisConfig;
use strongroom_testkit::servers::moto::{self, Moto};

use crate::hit::VALUE;
use crate::{Cfg, Line, RowResult};

const VARIANTS: [&str; 3] = ["strongroom", "aws-crate", "strongroom-no-lease"];

/// Secrets Manager requests moto has recorded so far.
async fn recorded(moto: &Moto) -> usize {
    let text = reqwest::get(format!(
        "{}/moto-api/recorder/download-recording",
        moto.endpoint()
    ))
    .await
    .expect("moto recording")
    .text()
    .await
    .expect("moto recording body");
    text.lines()
        .filter(|l| l.contains("\"X-Amz-Target\": \"secretsmanager."))
        .count()
}

pub async fn run(cfg: &Cfg) -> RowResult {
    let (processes, tasks) = cfg.pick((50, 20), (6, 4));
    let moto = Moto::start().await;
    reqwest::Client::new()
        .post(format!(
            "{}/moto-api/recorder/start-recording",
            moto.endpoint()
        ))
        .send()
        .await
        .expect("start moto's recorder");
    let redis_url = strongroom_testkit::servers::redis::shared_url();
    let key = SealKey::generate();
    let plain = AwsBuilder::new()
        .with_region(moto::REGION)
        .with_endpoint_url(moto.endpoint())
        .with_access_key(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
        .build()
        .expect("AwsStore on moto");
    let mut counts = Vec::new();
    let mut notes = Vec::new();
    for variant in VARIANTS {
        let secret = format!("fleet-bench/{variant}-{:08x}", rand::random::<u32>());
        plain
            .write(
                &SecretName::new(&secret).unwrap(),
                VALUE.into(),
                &WriteOptions::new(),
            )
            .await
            .expect("write to moto");
        let prefix = format!("srbench-fleet-{:08x}:", rand::random::<u32>());
        let env: Vec<(&str, String)> = vec![
            ("FLEET_ENDPOINT", moto.endpoint().to_owned()),
            ("FLEET_SECRET", secret.clone()),
            ("FLEET_TASKS", tasks.to_string()),
            ("STRONGROOM_REDIS_URL", redis_url.clone()),
            ("STRONGROOM_REDIS_KEY", key.to_base64().to_string()),
            ("STRONGROOM_REDIS_PREFIX", prefix.clone()),
            ("STRONGROOM_REDIS_TIMEOUT", "2s".to_owned()),
            (
                "STRONGROOM_REDIS_LEASE",
                (variant != "strongroom-no-lease").to_string(),
            ),
        ];
        let mut children: Vec<(Child, std::io::BufReader<std::process::ChildStdout>)> =
            (0..processes).map(|_| spawn(variant, &env)).collect();
        for (_, out) in &mut children {
            expect(out, "ready");
        }
        let before = recorded(&moto).await;
        let t = Instant::now();
        for (child, _) in &mut children {
            let stdin = child.stdin.as_mut().expect("child stdin");
            writeln!(stdin, "go")
                .and_then(|()| stdin.flush())
                .expect("go");
        }
        for (_, out) in &mut children {
            let done = expect(out, "done");
            assert_eq!(
                done,
                format!("done {tasks}/{tasks}"),
                "{variant}: every read answered"
            );
        }
        let took = t.elapsed();
        for (mut child, _) in children {
            let _ = child.wait();
        }
        let reads = recorded(&moto).await - before;
        notes.push(format!(
            "row 10, {variant}: {processes} processes x {tasks} tasks -> {reads} backend request(s) at moto in {took:.1?}"
        ));
        counts.push(reads);
        if variant != "aws-crate" {
            let cleanup = RedisConfig::from_lookup(|k| {
                env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
            })
            .expect("redis settings")
            .build()
            .await
            .expect("redis cache");
            cleanup.clear(None).await.expect("clear the bench prefix");
        }
    }
    let (ours, aws, no_lease) = (counts[0], counts[1], counts[2]);
    RowResult {
        lines: vec![Line {
            row: "10".into(),
            what: format!(
                "backend reads, cold fleet of {processes} processes x {tasks} tasks (moto)"
            ),
            ours: format!("{ours} (RedisCache, fleet lease)"),
            peer: format!("AWS caching crate: {aws}; Strongroom without the lease: {no_lease}"),
            ratio: format!("{ours} : {aws} : {no_lease}"),
            target: "1 per fleet".into(),
            met: Some(ours == 1),
        }],
        notes,
    }
}

fn spawn(
    variant: &str,
    env: &[(&str, String)],
) -> (Child, std::io::BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .arg("--fleet-child")
        .arg(variant)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start a fleet child");
    let out = std::io::BufReader::new(child.stdout.take().expect("child stdout"));
    (child, out)
}

fn expect(out: &mut std::io::BufReader<std::process::ChildStdout>, word: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).expect("child stdout");
        assert!(n > 0, "a fleet child ended before saying `{word}`");
        if line.starts_with(word) {
            return line.trim_end().to_owned();
        }
    }
}

/// One process of the fleet: `strongroom`, `strongroom-no-lease` or `aws-crate`.
pub fn child(variant: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        let endpoint = var("FLEET_ENDPOINT");
        let secret = var("FLEET_SECRET");
        let tasks: usize = var("FLEET_TASKS").parse().unwrap_or(1);
        let read: Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, bool> + Send + Sync> =
            if variant == "aws-crate" {
                let client = Arc::new(aws_caching_client(&endpoint));
                Arc::new(move || {
                    let (client, secret) = (Arc::clone(&client), secret.clone());
                    Box::pin(async move {
                        matches!(
                            client.get_secret_value(&secret, None, None, false).await,
                            Ok(out) if out.secret_string.as_deref() == Some(VALUE)
                        )
                    })
                })
            } else {
                let cache: Arc<dyn SecretCache> = Arc::new(
                    RedisConfig::from_env()
                        .expect("redis settings")
                        .build()
                        .await
                        .expect("redis cache"),
                );
                let store = Arc::new(
                    AwsBuilder::new()
                        .with_region(moto::REGION)
                        .with_endpoint_url(&endpoint)
                        .with_access_key(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
                        .build()
                        .expect("AwsStore")
                        .with_cache(
                            cache,
                            CachePolicy::new("fleet").ttl(Duration::from_secs(600)),
                        ),
                );
                let name = SecretName::new(&secret).expect("secret name");
                Arc::new(move || {
                    let (store, name) = (Arc::clone(&store), name.clone());
                    Box::pin(async move {
                        matches!(
                            store.read(&name, &ReadOptions::new()).await,
                            Ok(Some(s)) if s.value.expose_secret() == VALUE.as_bytes()
                        )
                    })
                })
            };
        println!("ready");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).expect("go");
        let reads = (0..tasks).map(|_| tokio::spawn((read)()));
        let ok = futures_util::future::join_all(reads)
            .await
            .into_iter()
            .filter(|r| matches!(r, Ok(true)))
            .count();
        println!("done {ok}/{tasks}");
    });
}

fn aws_caching_client(endpoint: &str) -> aws_secretsmanager_caching::SecretsManagerCachingClient {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Builder, Credentials, Region};
    let builder = Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(moto::REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            moto::ACCESS_KEY_ID,
            moto::SECRET_ACCESS_KEY,
            None,
            None,
            "strongroom-bench",
        ));
    futures_util::FutureExt::now_or_never(
        aws_secretsmanager_caching::SecretsManagerCachingClient::from_builder(
            builder,
            std::num::NonZeroUsize::new(1_000).unwrap(),
            Duration::from_secs(600),
            false,
        ),
    )
    .expect("from_builder does no I/O")
    .expect("aws_secretsmanager_caching client")
}
