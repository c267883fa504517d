//! Row 3: uncached reads against a real OpenBao, sequential and 64 concurrent: Strongroom's
//! `HcpVaultStore` vs `vaultrs` vs the floor (bare `reqwest` GET + JSON parse).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use strongroom_core::{ReadOptions, SecretName, SecretStore, WriteOptions};
use strongroom_hcp_vault::{HcpVaultBuilder, HcpVaultStore};
use strongroom_testkit::servers::openbao::OpenBao;
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};

use crate::hit::VALUE;
use crate::stats::{fmt_ns, fmt_rate, fmt_ratio, median, ns, percentile};
use crate::{Cfg, Line, RowResult};

const PATH: &str = "bench/uncached";

// Built once per run; the size difference between the clients does not matter.
#[allow(clippy::large_enum_variant)]
enum Client {
    Floor {
        http: reqwest::Client,
        url: String,
        token: String,
    },
    Vaultrs(Box<VaultClient>),
    Ours(HcpVaultStore),
}

impl Client {
    async fn read(&self) {
        let ok = match self {
            Client::Floor { http, url, token } => {
                let resp = http
                    .get(url)
                    .header("X-Vault-Token", token)
                    .send()
                    .await
                    .expect("GET");
                assert!(resp.status().is_success());
                let bytes = resp.bytes().await.expect("body");
                let v: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
                v["data"]["data"]["key"].as_str() == Some(VALUE)
            }
            Client::Vaultrs(c) => {
                let m: HashMap<String, String> = vaultrs::kv2::read(c.as_ref(), "secret", PATH)
                    .await
                    .expect("vaultrs");
                m.get("key").map(String::as_str) == Some(VALUE)
            }
            Client::Ours(s) => {
                let name = SecretName::new(PATH).unwrap();
                let got = s.read(&name, &ReadOptions::new()).await.expect("read");
                got.is_some_and(|s| s.value.expose_secret() == VALUE.as_bytes())
            }
        };
        assert!(ok, "wrong value");
    }
}

const LABELS: [&str; 3] = ["floor", "vaultrs", "strongroom"];

/// One batch of `ops` reads by `client` over `concurrency` tasks: (ops/s, latencies in ns).
async fn batch(client: &Arc<Client>, ops: usize, concurrency: usize) -> (f64, Vec<f64>) {
    let per_task = ops / concurrency;
    let t = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let c = Arc::clone(client);
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let t = Instant::now();
                    c.read().await;
                    lat.push(ns(t.elapsed()));
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::with_capacity(ops);
    for task in tasks {
        lat.extend(task.await.unwrap());
    }
    let rate = (per_task * concurrency) as f64 / t.elapsed().as_secs_f64();
    (rate, lat)
}

pub async fn run(cfg: &Cfg) -> RowResult {
    let bao = OpenBao::start().await;
    let ours = HcpVaultBuilder::new()
        .with_addr(bao.url())
        .with_token(bao.root_token())
        .build()
        .expect("HcpVaultStore");
    ours.write(
        &SecretName::new(PATH).unwrap(),
        VALUE.into(),
        &WriteOptions::new(),
    )
    .await
    .expect("write to OpenBao");
    let vaultrs = VaultClient::new(
        VaultClientSettingsBuilder::default()
            .address(bao.url())
            .token(bao.root_token())
            .build()
            .expect("vaultrs settings"),
    )
    .expect("vaultrs client");
    let clients = [
        Arc::new(Client::Floor {
            http: reqwest::Client::new(),
            url: format!("{}/v1/secret/data/{PATH}", bao.url()),
            token: bao.root_token().to_owned(),
        }),
        Arc::new(Client::Vaultrs(Box::new(vaultrs))),
        Arc::new(Client::Ours(ours)),
    ];

    let mut r = RowResult::default();
    let seq_ops = cfg.pick(300, 20);
    let conc_ops = cfg.pick(2_048, 128);
    for (letter, concurrency, ops) in [("a", 1usize, seq_ops), ("b", 64, conc_ops)] {
        // warm-up: connections open, tokens known
        for c in &clients {
            batch(c, concurrency.max(16), concurrency).await;
        }
        let mut rates: [Vec<f64>; 3] = Default::default();
        let mut lats: [Vec<f64>; 3] = Default::default();
        let (mut vs_floor, mut vs_vaultrs, mut vaultrs_vs_floor) =
            (Vec::new(), Vec::new(), Vec::new());
        for round in 0..cfg.rounds {
            let mut rate = [0.0f64; 3];
            for k in 0..3 {
                let which = (k + round) % 3;
                let (ops_s, lat) = batch(&clients[which], ops, concurrency).await;
                rate[which] = ops_s;
                lats[which].extend(lat);
            }
            for i in 0..3 {
                rates[i].push(rate[i]);
            }
            vs_floor.push(rate[2] / rate[0]);
            vs_vaultrs.push(rate[2] / rate[1]);
            vaultrs_vs_floor.push(rate[1] / rate[0]);
        }
        let fig = |i: usize| {
            format!(
                "{} {}, p50 {}, p99 {}",
                LABELS[i],
                fmt_rate(median(&rates[i])),
                fmt_ns(percentile(&lats[i], 50.0)),
                fmt_ns(percentile(&lats[i], 99.0))
            )
        };
        let (rf, rv) = (median(&vs_floor), median(&vs_vaultrs));
        r.lines.push(Line {
            row: format!("3{letter}"),
            what: format!(
                "uncached reads against OpenBao, {}",
                if concurrency == 1 {
                    "sequential".to_owned()
                } else {
                    format!("{concurrency} concurrent")
                }
            ),
            ours: fig(2).trim_start_matches("strongroom ").to_owned(),
            peer: format!("{}; {}", fig(0), fig(1)),
            ratio: format!(
                "{} of the floor (vaultrs {}); {} of vaultrs",
                fmt_ratio(rf),
                fmt_ratio(median(&vaultrs_vs_floor)),
                fmt_ratio(rv)
            ),
            target: "≥ 0.95x the floor, ahead of vaultrs".into(),
            met: Some(rf >= 0.95 && rv > 1.0),
        });
    }
    r.notes.push(format!(
        "one `bao server -dev` (in-memory, plain HTTP) on loopback; a 64-byte value at \
         `secret/{PATH}`; each round runs {seq_ops} sequential reads (one task) or {conc_ops} \
         reads over 64 tasks per client, the three clients interleaved with a rotating order; \
         {} rounds. ops/s: median over rounds; p50/p99: over all reads of all rounds; ratios: \
         median of the per-round ratios of ops/s. Floor: one `reqwest::Client` GET \
         `/v1/secret/data/<path>` + `serde_json` parse + field check; vaultrs: \
         `vaultrs::kv2::read::<HashMap<String, String>>`; Strongroom: `HcpVaultStore::read` \
         (token auth, no cache layer).",
        cfg.rounds
    ));
    drop(bao);
    r
}
