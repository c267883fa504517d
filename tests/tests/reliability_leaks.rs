//! Leak audit: no secret value, token, API key, client secret, cache key or password in logs
//! (TRACE, every crate, the vendor SDKs included), error messages, `Debug` output or panic
//! messages — on success paths and failure paths of every provider and of the shared Redis
//! cache; and the CLI never puts a value on a command line, in its own environment or in a
//! temporary file.
//!
//! Every string searched for is first shown to exist where it should: values read back, and
//! credentials and issued tokens seen on the wire by a recording fault proxy in front of each
//! server (the log-in answers that issue tokens, the requests that carry them), so the audit
//! cannot pass by searching for strings that never existed.
//!
//! Run: `STRONGROOM_REQUIRE_SERVERS=1 cargo test -p strongroom-tests --test reliability_leaks`.

mod common_rel;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use strongroom_core::HttpSetters as _;

use common_rel::*;
use strongroom_core::config::ProviderConfig as _;
use strongroom_core::seal::SealKey;
use strongroom_core::{
    CachePolicy, DeleteOptions, ErrorKind, MemoryCache, MemoryStore, ReadOptions, SecretStore,
    SecretStoreExt, WriteOptions,
};
use strongroom_testkit::fake::Fault;
use strongroom_testkit::proxy::{FaultProxy, ProxyMode, Traffic};
use strongroom_testkit::servers::moto::Moto;
use strongroom_testkit::servers::openbao::OpenBao;
use strongroom_testkit::servers::redis::RedisServer;
use strongroom_testkit::{CountingStore, logs, sentinel};

/// The strings that must appear nowhere, each shown to exist before it is searched for.
#[derive(Default)]
struct Needles(Vec<(String, String)>);

impl Needles {
    /// Adds `value` (described by `what`) once `seen` says it was found where it should be.
    fn proven(&mut self, what: &str, value: impl Into<String>, seen: bool) {
        let value = value.into();
        assert!(!value.is_empty(), "{what}: empty");
        assert!(
            seen,
            "{what} was never seen where it should be, so searching for it proves nothing"
        );
        self.0.push((what.to_owned(), value));
    }
    /// Adds a string this test put into a store's configuration itself.
    fn configured(&mut self, what: &str, value: impl Into<String>) {
        self.proven(what, value, true);
    }
    /// Panics when any needle occurs in `text` (`where_` says what the text is).
    fn assert_not_in(&self, text: &str, where_: &str) {
        for (what, v) in &self.0 {
            assert!(!text.contains(v.as_str()), "{what} in {where_}");
        }
    }
    fn values(&self) -> Vec<&str> {
        self.0.iter().map(|(_, v)| v.as_str()).collect()
    }
}

/// Every string value of `"key":"…"` in `bytes` (compact JSON, as the servers here answer).
fn json_strings(bytes: &[u8], key: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let marker = format!("\"{key}\":\"");
    text.match_indices(&marker)
        .filter_map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// Every value of a `Token token="…"` header (Conjur's access token, base64) in `bytes`.
fn conjur_token_headers(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    text.match_indices("Token token=\"")
        .filter_map(|(at, m)| {
            let rest = &text[at + m.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect()
}

fn all_answers(t: &Traffic) -> Vec<u8> {
    t.exchanges.iter().flat_map(|e| e.answers.clone()).collect()
}

fn all_requests(t: &Traffic) -> Vec<u8> {
    t.exchanges
        .iter()
        .flat_map(|e| e.requests.clone())
        .collect()
}

fn show<T>(r: &strongroom_core::Result<T>) -> String {
    match r {
        Ok(_) => String::new(),
        Err(e) => format!("{e} {e:?} {:?}", std::error::Error::source(e)),
    }
}

fn outcome<T>(r: &strongroom_core::Result<T>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.kind().as_str(),
    }
}

/// Where the failure paths of [`exercise`] come from.
enum Failures<'a> {
    /// The fake's fault harness.
    Fake(&'a Fake),
    /// The fault proxy the store talks through.
    Proxy(&'a FaultProxy),
}

impl Failures<'_> {
    /// The failures this source injects.
    fn cases(&self) -> &'static [&'static str] {
        match self {
            Failures::Fake(_) => &["500", "malformed", "truncate", "403"],
            Failures::Proxy(_) => &["reset", "truncate0", "body-cut"],
        }
    }
    /// Injects `what` into every call until [`Failures::stop`].
    fn start(&self, what: &str) {
        match self {
            Failures::Fake(fake) => {
                let fault = match what {
                    "500" => Fault::Status(500),
                    "malformed" => Fault::Malformed,
                    "truncate" => Fault::Truncate,
                    "403" => Fault::Status(403),
                    other => unreachable!("{other}"),
                };
                fake.faults().push_n(fault, 10);
            }
            Failures::Proxy(proxy) => proxy.set_mode(match what {
                "reset" => ProxyMode::Reset,
                "truncate0" => ProxyMode::TruncateAfter(0),
                "body-cut" => ProxyMode::CutBody(3),
                other => unreachable!("{other}"),
            }),
        }
    }
    fn stop(&self) {
        match self {
            Failures::Fake(fake) => fake.faults().clear(),
            Failures::Proxy(proxy) => proxy.set_mode(ProxyMode::Pass),
        }
    }
}

/// A read of an existing secret and a write of it under each fault: the one outcome each
/// must have (as in the fault matrix), for the store labelled `label`.
fn failure_outcomes(label: &str, fault: &str) -> (&'static str, &'static str) {
    match (label, fault) {
        (_, "500") => ("unavailable", "unavailable"),
        // Conjur's read answer is the raw value, and its write loads a policy and posts the
        // value, answers whose 200 bodies it does not parse: both succeed.
        ("conjur", "malformed") => ("ok", "ok"),
        // Akeyless's read answer is JSON (Protocol), but `create-secret` is done on any 2xx:
        // its body is not read.
        ("akeyless", "malformed") => ("protocol", "ok"),
        (_, "malformed") => ("protocol", "protocol"),
        (_, "truncate") => ("unavailable", "unavailable"),
        (_, "403") => ("forbidden", "forbidden"),
        (_, "reset" | "truncate0") => ("unavailable", "unavailable"),
        // A body cut short: an incomplete answer, Unavailable on the core HTTP path (Vault)
        // and in the AWS SDK alike.
        (_, "body-cut") => ("unavailable", "unavailable"),
        other => unreachable!("{other:?}"),
    }
}

/// Success and failure paths of one store; returns the values that must not leak (each read
/// back, so each existed).
async fn exercise(label: &str, store: Arc<dyn SecretStore>, failures: Failures<'_>) -> Needles {
    let mut needles = Needles::default();
    let value = sentinel(&format!("{label}-value"));
    let json_value = format!(
        "{{\"user\":\"app\",\"password\":\"{}\"}}",
        sentinel("field")
    );
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
    needles.proven(
        "a value",
        value.clone(),
        s.value.expose_str().unwrap() == value,
    );
    let f = cached
        .read(&j, &ReadOptions::new().field("password"))
        .await
        .unwrap()
        .unwrap();
    let field = f.value.expose_str().unwrap().to_owned();
    needles.proven(
        "a JSON value",
        json_value.clone(),
        json_value.contains(&field),
    );
    needles.proven("a field of a JSON value", field, true);
    let many = cached
        .read_many(
            &[n.clone(), j.clone(), name("leak/missing")],
            &ReadOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(many.len(), 3);
    let listed = cached.list(Some("leak")).await.unwrap();
    assert!(listed.contains(&n), "{label}: {listed:?}");
    // Debug of everything a caller holds.
    let debug = format!("{s:?} {f:?} {many:?} {cached:?} {store:?} {:?}", s.value);
    needles.assert_not_in(&debug, &format!("{label}: Debug output"));
    // A panic message built from a secret (`unwrap_err` on Ok prints the Ok value's Debug).
    let secret = s.clone();
    let panic = std::panic::catch_unwind(move || {
        let r: Result<strongroom_core::Secret, ()> = std::hint::black_box(Ok(secret));
        r.unwrap_err()
    })
    .unwrap_err();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(!msg.is_empty());
    needles.assert_not_in(&msg, &format!("{label}: a panic message"));

    // Failure paths: error answers, malformed and cut answers, refused reads and writes.
    for fault in failures.cases() {
        failures.start(fault);
        let r = store.read(&n, &ReadOptions::new()).await;
        let w = store
            .write(&n, value.clone().into(), &WriteOptions::new())
            .await;
        failures.stop();
        let expected = failure_outcomes(label, fault);
        assert_eq!(
            (outcome(&r), outcome(&w)),
            expected,
            "{label} {fault}: {r:?} {w:?}"
        );
        let shown = format!("{r:?} {w:?} {} {}", show(&r), show(&w));
        needles.assert_not_in(&shown, &format!("{label} {fault}: an error"));
    }
    // A check-and-set write: Vault compares the version (Conflict); the others have no CAS.
    let e = store
        .write(&n, value.clone().into(), &WriteOptions::new().cas(999))
        .await
        .unwrap_err();
    let cas = if label.starts_with("hcp-vault") {
        ErrorKind::Conflict
    } else {
        ErrorKind::Unsupported
    };
    assert_eq!(e.kind(), &cas, "{label}: {e}");
    needles.assert_not_in(&show::<()>(&Err(e)), &format!("{label}: a CAS error"));
    // Deletes per capability (Conjur has none).
    let deleted = cached.delete(&n, &DeleteOptions::new().force(true)).await;
    if store.capabilities().delete {
        deleted.unwrap_or_else(|e| panic!("{label}: delete: {e}"));
    } else {
        let e = deleted.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Unsupported, "{label}: {e}");
    }
    needles
}

/// A fake behind a recording proxy (the Azure one terminates TLS with the fake's CA), and a
/// store whose every call — Azure's token requests included — goes through it.
async fn fake_behind_a_recorder(kind: FakeKind) -> (Fake, FaultProxy, Arc<dyn SecretStore>) {
    let fake = Fake::start(kind).await;
    let proxy = fake.proxy().await;
    proxy.record(true);
    let url = fake.url_via(proxy.addr());
    let t = Tuning::default().retries(1).via(url.clone());
    let store = match &fake {
        Fake::Azure(f) => Arc::new(
            strongroom_azure::AzureBuilder::new()
                .with_vault_url(url.clone())
                .with_ca_pem(f.ca_pem())
                .with_verify_challenge_resource(false)
                .with_authority_host(url)
                .with_client_secret(f.tenant(), f.client_id(), f.client_secret())
                .with_poll(Duration::from_millis(10), 50)
                .with_retry_policy(t.retry_policy())
                .build()
                .unwrap(),
        ) as Arc<dyn SecretStore>,
        _ => fake.store(&t),
    };
    (fake, proxy, store)
}

/// A store for `fake` (through `proxy`) with a wrong credential.
fn store_with_a_wrong_credential(
    fake: &Fake,
    proxy: &FaultProxy,
    wrong: &str,
) -> Arc<dyn SecretStore> {
    let url = fake.url_via(proxy.addr());
    match fake {
        Fake::Conjur(f) => Arc::new(
            strongroom_conjur::ConjurBuilder::new()
                .with_api_base(url)
                .with_account(f.account())
                .with_login(f.login())
                .with_api_key(wrong)
                .build()
                .unwrap(),
        ),
        Fake::Akeyless(f) => Arc::new(
            strongroom_akeyless::AkeylessBuilder::new()
                .with_api_host(url)
                .with_access_id(f.access_id())
                .with_access_key(wrong)
                .build()
                .unwrap(),
        ),
        Fake::Azure(f) => Arc::new(
            strongroom_azure::AzureBuilder::new()
                .with_vault_url(url.clone())
                .with_ca_pem(f.ca_pem())
                .with_verify_challenge_resource(false)
                .with_authority_host(url)
                .with_client_secret(f.tenant(), f.client_id(), wrong)
                .with_retry_policy(strongroom_core::RetryPolicy::none())
                .build()
                .unwrap(),
        ),
    }
}

/// The three fakes: values, the configured credentials and every token the fakes issued
/// (Conjur access tokens, Akeyless tokens, Azure bearer tokens), and wrong credentials.
async fn the_fakes(needles: &mut Needles) {
    for kind in FAKES {
        let (fake, proxy, store) = fake_behind_a_recorder(kind).await;
        let label = fake.label();
        let found = exercise(label, Arc::clone(&store), Failures::Fake(&fake)).await;
        needles.0.extend(found.0);
        let traffic = proxy.traffic();
        let (requests, answers) = (all_requests(&traffic), all_answers(&traffic));
        let sent = |s: &str| traffic.requests_contain(s.as_bytes());
        match &fake {
            Fake::Conjur(f) => {
                needles.proven("the Conjur API key", f.api_key(), sent(&f.api_key()));
                // The access tokens authn answered, and the headers that carried them.
                let signatures = json_strings(&answers, "signature");
                assert!(!signatures.is_empty(), "conjur: no access token was issued");
                for s in signatures {
                    needles.proven("a Conjur access token's signature", s, true);
                }
                let headers = conjur_token_headers(&requests);
                assert!(!headers.is_empty(), "conjur: no access token was used");
                for h in headers {
                    needles.proven("a Conjur access token header", h, true);
                }
            }
            Fake::Akeyless(f) => {
                needles.proven(
                    "the Akeyless access key",
                    f.access_key(),
                    sent(f.access_key()),
                );
                let issued = f.issued_tokens();
                assert!(!issued.is_empty(), "akeyless: no token was issued");
                for t in issued {
                    let used = sent(&t);
                    needles.proven("an Akeyless token", t, used);
                }
            }
            Fake::Azure(f) => {
                needles.proven(
                    "the Azure client secret",
                    f.client_secret(),
                    sent(f.client_secret()),
                );
                // The bearer tokens the fake's token endpoint issued, each used on a vault call.
                let issued = json_strings(&answers, "access_token");
                assert!(!issued.is_empty(), "azure: no bearer token was issued");
                for t in issued {
                    let used = sent(&format!("Bearer {t}"));
                    needles.proven("an Azure bearer token", t, used);
                }
            }
        }
        // A wrong credential is a credential too: the failed log-in must not echo it.
        let wrong = sentinel("wrong-credential");
        let bad = store_with_a_wrong_credential(&fake, &proxy, &wrong);
        let err = bad
            .read(&name("leak/one"), &ReadOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{label}: {err}");
        let refused = proxy.traffic().requests_contain(wrong.as_bytes());
        needles.proven("a wrong credential", wrong, refused);
        needles.assert_not_in(
            &format!("{err} {err:?} {bad:?} {store:?}"),
            &format!("{label}: a failed log-in"),
        );
    }
}

/// OpenBao: the root token, and an AppRole log-in's secret id and the client tokens the
/// log-ins issued (read out of the log-in answers the proxy recorded).
async fn openbao(needles: &mut Needles) {
    let bao = OpenBao::start().await;
    let proxy = FaultProxy::start(bao.addr()).await;
    proxy.record(true);
    let t = Tuning::default().retries(1).via(proxy.http_url());
    let store: Arc<dyn SecretStore> = Arc::new(vault_store(&bao, &t));
    let found = exercise("hcp-vault", store, Failures::Proxy(&proxy)).await;
    needles.0.extend(found.0);
    needles.proven(
        "the OpenBao root token",
        bao.root_token(),
        proxy
            .traffic()
            .requests_contain(bao.root_token().as_bytes()),
    );

    bao.write_policy(None, "kv-rw", &OpenBao::kv_policy("secret"))
        .await;
    let (role_id, secret_id) = bao.approle(None, "leak", &["kv-rw"], "1h", "2h").await;
    let approle = strongroom_hcp_vault::HcpVaultBuilder::new()
        .with_addr(proxy.http_url())
        .with_approle(role_id, secret_id.as_str())
        .with_retry_policy(t.retry_policy())
        .build()
        .unwrap();
    let found = exercise(
        "hcp-vault-approle",
        Arc::new(approle),
        Failures::Proxy(&proxy),
    )
    .await;
    needles.0.extend(found.0);
    let traffic = proxy.traffic();
    needles.proven(
        "the AppRole secret id",
        secret_id.as_str(),
        traffic.requests_contain(secret_id.as_bytes()),
    );
    let issued = json_strings(&all_answers(&traffic), "client_token");
    assert!(!issued.is_empty(), "no AppRole log-in answer was recorded");
    for token in issued {
        // Each issued token then carried the store's calls.
        let used = traffic.requests_contain(token.as_bytes());
        needles.proven("an AppRole-issued Vault token", token, used);
    }
}

/// AWS through moto: the secret key and a session token (temporary credentials), which the
/// SDK sends with every call.
async fn aws(needles: &mut Needles) {
    let moto = Moto::start().await;
    let target = format!("127.0.0.1:{}", moto.port()).parse().unwrap();
    let proxy = FaultProxy::start(target).await;
    proxy.record(true);
    let secret_key = sentinel("aws-secret-key");
    let session = sentinel("aws-session-token");
    let t = Tuning::default().retries(1).via(proxy.http_url());
    let store: Arc<dyn SecretStore> = Arc::new(aws_store_with_session(
        &moto,
        &t,
        &secret_key,
        Some(&session),
    ));
    let found = exercise("aws", store, Failures::Proxy(&proxy)).await;
    needles.0.extend(found.0);
    // The secret key only signs; it never travels.
    needles.configured("the AWS secret access key", secret_key);
    let sent = proxy.traffic().requests_contain(session.as_bytes());
    needles.proven("the AWS session token", session, sent);
}

/// The shared Redis cache: a password-protected Redis (behind a recording proxy) and a cache
/// sealed with a sentinel key, under reads, writes, misses and errors — of the backend, of
/// Redis (reset, blackholed, a wrong password) and of the configuration (a password in the
/// URL).
async fn redis_cache(needles: &mut Needles) {
    let password = sentinel("redis-password");
    let redis = RedisServer::start_with(&["--requirepass", &password]);
    let proxy = FaultProxy::start(redis.addr().parse().unwrap()).await;
    proxy.record(true);
    let key = SealKey::generate().to_base64().to_string();
    let prefix = format!("{}:", sentinel("leak"));
    let url = format!("redis://{}", proxy.addr());
    let config = |key: &str, password: &str| {
        let vars = [
            ("STRONGROOM_REDIS_URL", url.clone()),
            ("STRONGROOM_REDIS_KEY", key.to_owned()),
            ("STRONGROOM_REDIS_PASSWORD", password.to_owned()),
            ("STRONGROOM_REDIS_PREFIX", prefix.clone()),
            ("STRONGROOM_REDIS_TIMEOUT", "300ms".to_owned()),
        ];
        strongroom_redis::RedisConfig::from_lookup(|k| {
            vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        })
        .unwrap()
    };
    let cache = strongroom_redis::RedisCacheBuilder::from_config(config(&key, &password))
        .build()
        .await
        .unwrap();
    let backend = CountingStore::new(Arc::new(MemoryStore::new()) as Arc<dyn SecretStore>);
    let counts = backend.counts();
    let policy = || CachePolicy::new("leak-redis").ttl(Duration::from_secs(60));
    let store = backend
        .clone()
        .with_cache(Arc::new(cache.clone()), policy());
    let value = sentinel("redis-value");
    let n = name("leak/redis");

    // A write, a miss (one backend read), a hit (none), a missing name, a backend error.
    store
        .write(&n, value.clone().into(), &WriteOptions::new())
        .await
        .unwrap();
    let got = store.read(&n, &ReadOptions::new()).await.unwrap().unwrap();
    needles.proven(
        "a value cached in Redis",
        value.clone(),
        got.value.expose_str().unwrap() == value,
    );
    let reads = counts.reads();
    let hit = store.read(&n, &ReadOptions::new()).await.unwrap().unwrap();
    assert_eq!(hit.value.expose_str().unwrap(), value);
    assert_eq!(counts.reads(), reads, "the second read is a Redis hit");
    assert!(
        store
            .read(&name("leak/redis-missing"), &ReadOptions::new())
            .await
            .unwrap()
            .is_none()
    );
    let e = store
        .read(&n, &ReadOptions::new().field("x"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Protocol, "{e}");
    needles.assert_not_in(
        &show::<()>(&Err(e)),
        "a backend error through the Redis cache",
    );

    // The key is what opens the entries: a second cache with the same key (and prefix) hits,
    // one with another key misses and reads the backend.
    let same = strongroom_redis::RedisCacheBuilder::from_config(config(&key, &password))
        .build()
        .await
        .unwrap();
    let reads = counts.reads();
    let via_same = backend.clone().with_cache(Arc::new(same), policy());
    assert_eq!(
        via_same
            .read(&n, &ReadOptions::new())
            .await
            .unwrap()
            .unwrap()
            .value
            .expose_str()
            .unwrap(),
        value
    );
    let hit_with_the_key = counts.reads() == reads;
    let other_key = SealKey::generate().to_base64().to_string();
    let other = strongroom_redis::RedisCacheBuilder::from_config(config(&other_key, &password))
        .build()
        .await
        .unwrap();
    let via_other = backend.clone().with_cache(Arc::new(other), policy());
    via_other
        .read(&n, &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    let missed_without_it = counts.reads() == reads + 1;
    needles.proven(
        "the Redis cache key",
        key.clone(),
        hit_with_the_key && missed_without_it,
    );
    needles.proven(
        "the Redis password",
        password.clone(),
        proxy.traffic().requests_contain(password.as_bytes()),
    );

    // Redis failing: reset, then blackholed — reads are served by the backend.
    for mode in [ProxyMode::Reset, ProxyMode::Blackhole] {
        proxy.set_mode(mode);
        let got = store
            .read(&n, &ReadOptions::new().refresh(true))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.value.expose_str().unwrap(), value, "{mode:?}");
        proxy.set_mode(ProxyMode::Pass);
    }
    // A wrong password: Redis refuses every call; reads are served by the backend.
    let wrong = sentinel("wrong-redis-password");
    let refused = strongroom_redis::RedisCacheBuilder::from_config(config(&key, &wrong))
        .build()
        .await
        .unwrap();
    let ping = refused.ping().await.unwrap_err();
    let via_refused = backend
        .clone()
        .with_cache(Arc::new(refused.clone()), policy());
    let got = via_refused
        .read(&n, &ReadOptions::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.value.expose_str().unwrap(), value);
    needles.proven(
        "a wrong Redis password",
        wrong.clone(),
        proxy.traffic().requests_contain(wrong.as_bytes()),
    );
    // A password in the URL is refused by the configuration, without echoing it.
    let in_url = sentinel("url-redis-password");
    let e = strongroom_redis::RedisCacheBuilder::new(format!("redis://:{in_url}@{}", proxy.addr()))
        .with_key(SealKey::from_base64(&key).unwrap())
        .build()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Config, "{e}");
    needles.configured("a Redis password in a URL", in_url);

    // Writes and deletes through the cache.
    store
        .write(&n, sentinel("redis-value-2").into(), &WriteOptions::new())
        .await
        .unwrap();
    store.delete(&n, &DeleteOptions::new()).await.unwrap();
    assert!(store.read(&n, &ReadOptions::new()).await.unwrap().is_none());

    let shown = format!(
        "{cache:?} {store:?} {refused:?} {:?} {ping} {ping:?} {e} {e:?} {got:?}",
        config(&key, &password)
    );
    needles.assert_not_in(&shown, "Redis: Debug output or an error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_logs_errors_debug_or_panics() {
    logs::install();
    tracing::trace!("leak audit starts");
    let mut needles = Needles::default();
    the_fakes(&mut needles).await;
    openbao(&mut needles).await;
    aws(&mut needles).await;
    redis_cache(&mut needles).await;

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
    for (what, v) in &needles.0 {
        assert!(!captured.contains(v.as_str()), "{what} in the logs");
    }
    logs::assert_absent(&needles.values());
    let kinds: std::collections::BTreeSet<&str> =
        needles.0.iter().map(|(w, _)| w.as_str()).collect();
    report(&format!(
        "leaks needles={} kinds={} captured_log_bytes={} providers=5 caches=redis found=0",
        needles.0.len(),
        kinds.len(),
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

    // run: `strongroom run` becomes the child (exec on Unix), so no strongroom process stays
    // behind holding the value — the child's pid is the one this test spawned. The child's
    // command line holds no value; its environment does (that is the point).
    let script = r#"
        printf 'PID:%s\n' $$
        printf 'SELF_CMDLINE:'; tr '\0' ' ' < /proc/$$/cmdline; echo
    "#;
    let child = cli(d, tmp.path())
        .args([
            "run",
            "--env",
            "X=${secret:local/demo/db-password}",
            "--",
            "sh",
            "-c",
            script,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stdout.contains(&format!("PID:{pid}\n")),
        "run replaced itself with the child: {stdout} {stderr}"
    );
    assert!(stdout.contains("SELF_CMDLINE:sh -c"), "{stdout}");
    assert!(
        !stdout.contains(&value),
        "a value on the child's command line: {stdout}"
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

    // `run --watch` stays as a supervising parent: while its child runs, /proc shows no
    // value in the parent's command line or environment, nor in the child's command line.
    let mut running = cli(d, tmp.path())
        .args([
            "run",
            "--watch",
            "--env",
            "X=${secret:local/demo/db-password}",
            "--",
            "sleep",
            "3",
        ])
        .spawn()
        .unwrap();
    let pid = running.id();
    let contains = |bytes: &[u8]| bytes.windows(value.len()).any(|w| w == value.as_bytes());
    // Wait (polling /proc, bounded) until the child is up.
    let started = std::time::Instant::now();
    let children = loop {
        let c =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if !c.trim().is_empty() {
            break c;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "run --watch started no child"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let own = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(!own.is_empty());
    assert!(!contains(&own), "a value on the parent's command line");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    assert!(!environ.is_empty());
    assert!(!contains(&environ), "a value in the parent's environment");
    for c in children.split_whitespace() {
        let cmd = std::fs::read(format!("/proc/{c}/cmdline")).unwrap_or_default();
        assert!(!contains(&cmd), "a value on the child's command line");
    }
    assert_eq!(
        running.wait().unwrap().code(),
        Some(0),
        "the child's exit code"
    );

    // get / render print the value to stdout only, never to stderr (even at RUST_LOG=trace).
    let out = cli(d, tmp.path())
        .args(["get", "demo/db-password"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), value);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&value));

    // After everything: no file holds the value in clear (the file store seals it), nothing
    // in TMPDIR.
    let hits = files_containing(d, value.as_bytes());
    assert!(hits.is_empty(), "the value is in clear in {hits:?}");
    assert!(d.join(".strongroom/secrets.json").exists());
    assert!(files_containing(tmp.path(), value.as_bytes()).is_empty());
    report(
        "leaks cli: run execs the child; cmdline/environ of run --watch and its child clean; files holding the value in clear = []",
    );
}
