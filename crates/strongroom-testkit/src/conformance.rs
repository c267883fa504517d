//! The conformance suite: behaviours every [`SecretStore`] must show.
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use strongroom_testkit::conformance;
//! let store = Arc::new(strongroom_core::MemoryStore::new());
//! conformance::run(store, conformance::Options::new()).await;
//! # }
//! ```
//!
//! Each check panics with a message saying what broke. Checks: round trip, overwrite,
//! missing → `Ok(None)`, names with slashes / spaces / unicode, delete and list per capability
//! (refused with `Unsupported` when off), a field of a non-JSON value (`Protocol`),
//! concurrency (parallel writes and reads, `read_many` with duplicates and a missing name),
//! cache single-flight, access-mode refusals with zero backend calls, and no secret value in
//! `Debug`, error text or the captured TRACE logs.

use std::sync::Arc;
use std::time::Duration;

use strongroom_core::{
    AccessMode, CachePolicy, DeleteOptions, ErrorKind, MemoryCache, ReadOptions, SecretName,
    SecretStore, SecretStoreExt, SecretValue, WriteOptions,
};

use crate::{CountingStore, logs, sentinel};

/// What the suite may expect of a store.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Every name the suite uses starts with this (keeps runs apart on shared servers).
    pub prefix: String,
    /// Whether names may contain spaces (if not, such names must fail with `InvalidName`).
    pub names_with_spaces: bool,
    /// Whether names may contain non-ASCII letters (if not: `InvalidName`).
    pub names_with_unicode: bool,
    /// Options the suite deletes with (AWS uses `force` so a name can be reused at once).
    pub delete_options: DeleteOptions,
    /// How many concurrent callers the concurrency checks use.
    pub concurrency: usize,
}

impl Options {
    /// Defaults: a random prefix, spaces and unicode allowed, default delete, 16 callers.
    pub fn new() -> Self {
        Options {
            prefix: format!("conformance-{:08x}", rand::random::<u32>()),
            names_with_spaces: true,
            names_with_unicode: true,
            delete_options: DeleteOptions::new(),
            concurrency: 16,
        }
    }
    /// Sets whether names with spaces work.
    pub fn names_with_spaces(mut self, yes: bool) -> Self {
        self.names_with_spaces = yes;
        self
    }
    /// Sets whether non-ASCII names work.
    pub fn names_with_unicode(mut self, yes: bool) -> Self {
        self.names_with_unicode = yes;
        self
    }
    /// Sets the delete options the suite uses.
    pub fn delete_options(mut self, opts: DeleteOptions) -> Self {
        self.delete_options = opts;
        self
    }
    /// Sets the prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

struct Suite {
    store: Arc<dyn SecretStore>,
    opts: Options,
    values: Vec<String>,
}

impl Suite {
    fn name(&self, rest: &str) -> SecretName {
        SecretName::new(format!("{}/{rest}", self.opts.prefix)).expect("valid test name")
    }

    fn value(&mut self, label: &str) -> String {
        let v = sentinel(label);
        self.values.push(v.clone());
        v
    }

    async fn put(&self, name: &SecretName, value: &str) {
        self.store
            .write(name, SecretValue::from(value), &WriteOptions::new())
            .await
            .unwrap_or_else(|e| panic!("write {name}: {e}"));
    }

    async fn get(&self, name: &SecretName) -> Option<String> {
        self.store
            .read(name, &ReadOptions::new())
            .await
            .unwrap_or_else(|e| panic!("read {name}: {e}"))
            .map(|s| s.value.expose_str().expect("text").to_owned())
    }

    async fn round_trip(&mut self) {
        let name = self.name("round-trip");
        let v = self.value("roundtrip");
        self.put(&name, &v).await;
        let got = self
            .store
            .read(&name, &ReadOptions::new())
            .await
            .expect("read")
            .expect("the written secret reads back");
        assert_eq!(
            got.value.expose_str().unwrap(),
            v,
            "round trip returns the value written"
        );
        let debug = format!("{got:?} {:?}", got.value);
        assert!(
            !debug.contains(&v),
            "Debug of a Secret must not show the value"
        );
    }

    async fn overwrite(&mut self) {
        let name = self.name("overwrite");
        let (a, b) = (self.value("ow1"), self.value("ow2"));
        self.put(&name, &a).await;
        self.put(&name, &b).await;
        assert_eq!(
            self.get(&name).await.as_deref(),
            Some(b.as_str()),
            "a second write replaces the value"
        );
    }

    async fn missing(&mut self) {
        let name = self.name(&format!("missing-{:08x}", rand::random::<u32>()));
        let got = self.store.read(&name, &ReadOptions::new()).await;
        assert!(
            matches!(got, Ok(None)),
            "a missing secret must read as Ok(None), got {got:?}"
        );
    }

    async fn names(&mut self) {
        let cases = [
            ("a/b/c/deep", true),
            ("with space", self.opts.names_with_spaces),
            ("ünïcødé-ключ", self.opts.names_with_unicode),
        ];
        for (rest, supported) in cases {
            let name = self.name(rest);
            let v = self.value("name");
            let written = self
                .store
                .write(&name, SecretValue::from(v.as_str()), &WriteOptions::new())
                .await;
            if supported {
                written.unwrap_or_else(|e| panic!("write {name:?}: {e}"));
                assert_eq!(
                    self.get(&name).await.as_deref(),
                    Some(v.as_str()),
                    "name {name:?}"
                );
            } else {
                let err = written.expect_err("an unsupported name must be refused");
                assert_eq!(err.kind(), &ErrorKind::InvalidName, "{name:?}: {err}");
            }
        }
    }

    async fn delete(&mut self) {
        let name = self.name("delete-me");
        let v = self.value("del");
        self.put(&name, &v).await;
        let deleted = self.store.delete(&name, &self.opts.delete_options).await;
        if self.store.capabilities().delete {
            deleted.unwrap_or_else(|e| panic!("delete {name}: {e}"));
            assert_eq!(
                self.get(&name).await,
                None,
                "a deleted secret reads as None"
            );
        } else {
            let err = deleted.expect_err("delete must fail when the capability is off");
            assert_eq!(err.kind(), &ErrorKind::Unsupported, "{err}");
            assert!(
                err.hint().is_some(),
                "an unsupported delete says what to do instead"
            );
        }
    }

    async fn list(&mut self) {
        if !self.store.capabilities().list {
            // The capability is off: listing is refused, the way a delete is.
            let err = self
                .store
                .list(Some(&self.opts.prefix))
                .await
                .expect_err("list must fail when the capability is off");
            assert_eq!(err.kind(), &ErrorKind::Unsupported, "{err}");
            assert!(
                err.hint().is_some(),
                "an unsupported list says what to do instead"
            );
            return;
        }
        let names: Vec<SecretName> = (0..3)
            .map(|i| self.name(&format!("listed/item-{i}")))
            .collect();
        for n in &names {
            let v = self.value("list");
            self.put(n, &v).await;
        }
        let prefix = format!("{}/listed/", self.opts.prefix);
        let listed = self.store.list(Some(&prefix)).await.expect("list");
        for n in &names {
            assert!(
                listed.contains(n),
                "list({prefix}) must include {n}; got {listed:?}"
            );
        }
        assert!(
            listed.iter().all(|n| n.as_str().starts_with(&prefix)),
            "list returns only names under the prefix"
        );
    }

    async fn concurrency(&mut self) {
        let n = self.opts.concurrency;
        let names: Vec<SecretName> = (0..n).map(|i| self.name(&format!("conc/{i}"))).collect();
        let values: Vec<String> = (0..n).map(|_| self.value("conc")).collect();
        let writes = names.iter().zip(&values).map(|(name, v)| {
            let store = Arc::clone(&self.store);
            async move {
                store
                    .write(name, SecretValue::from(v.as_str()), &WriteOptions::new())
                    .await
                    .unwrap_or_else(|e| panic!("concurrent write {name}: {e}"))
            }
        });
        futures_util::future::join_all(writes).await;
        let reads = names.iter().map(|name| {
            let store = Arc::clone(&self.store);
            async move { store.read(name, &ReadOptions::new()).await }
        });
        for ((name, v), got) in names
            .iter()
            .zip(&values)
            .zip(futures_util::future::join_all(reads).await)
        {
            let got = got
                .unwrap_or_else(|e| panic!("concurrent read {name}: {e}"))
                .expect("present");
            assert_eq!(
                got.value.expose_str().unwrap(),
                v,
                "concurrent read of {name}"
            );
        }
        // read_many: duplicates collapse, a missing name is None and hides nothing.
        let missing = self.name("conc/not-there");
        let mut ask = names.clone();
        ask.push(names[0].clone());
        ask.push(missing.clone());
        let got = self
            .store
            .read_many(&ask, &ReadOptions::new())
            .await
            .expect("read_many");
        assert_eq!(
            got.len(),
            n + 1,
            "read_many returns each distinct name once"
        );
        for (name, secret) in &got {
            if *name == missing {
                assert!(secret.is_none(), "missing name reads as None in read_many");
            } else {
                let i = names
                    .iter()
                    .position(|x| x == name)
                    .expect("asked-for name");
                assert_eq!(
                    secret
                        .as_ref()
                        .expect("present")
                        .value
                        .expose_str()
                        .unwrap(),
                    values[i]
                );
            }
        }
    }

    async fn single_flight(&mut self) {
        let name = self.name("single-flight");
        let v = self.value("sf");
        self.put(&name, &v).await;
        let counting =
            CountingStore::new(Arc::clone(&self.store)).with_read_delay(Duration::from_millis(50));
        let counts = counting.counts();
        let cached = Arc::new(counting.with_cache(
            Arc::new(MemoryCache::new(1000)),
            CachePolicy::new("conformance").ttl(Duration::from_secs(60)),
        ));
        let reads = (0..200).map(|_| {
            let cached = Arc::clone(&cached);
            let name = name.clone();
            async move { cached.read(&name, &ReadOptions::new()).await }
        });
        for r in futures_util::future::join_all(reads).await {
            assert_eq!(
                r.expect("read")
                    .expect("present")
                    .value
                    .expose_str()
                    .unwrap(),
                v
            );
        }
        assert_eq!(
            counts.reads(),
            1,
            "200 concurrent cold reads must make exactly 1 backend read"
        );
        // A write through the cache invalidates it.
        let v2 = self.value("sf2");
        cached
            .write(&name, SecretValue::from(v2.as_str()), &WriteOptions::new())
            .await
            .expect("write");
        let got = cached
            .read(&name, &ReadOptions::new())
            .await
            .expect("read")
            .expect("present");
        assert_eq!(
            got.value.expose_str().unwrap(),
            v2,
            "a write invalidates the cached value"
        );
    }

    async fn access_modes(&mut self) {
        let name = self.name("access");
        let counting = CountingStore::new(Arc::clone(&self.store));
        let counts = counting.counts();
        let ro = counting.clone().with_access_mode(AccessMode::ReadOnly);
        let wo = counting.with_access_mode(AccessMode::WriteOnly);
        let v = self.value("acc");
        let denied = [
            ro.write(&name, SecretValue::from(v.as_str()), &WriteOptions::new())
                .await
                .map(|_| ()),
            ro.delete(&name, &DeleteOptions::new()).await,
            wo.read(&name, &ReadOptions::new()).await.map(|_| ()),
            wo.read_many(std::slice::from_ref(&name), &ReadOptions::new())
                .await
                .map(|_| ()),
            wo.list(None).await.map(|_| ()),
        ];
        for d in denied {
            let err = d.expect_err("the access mode must refuse");
            assert_eq!(err.kind(), &ErrorKind::AccessDenied, "{err}");
            assert!(
                !err.to_string().contains(&v),
                "a refusal never echoes the value"
            );
        }
        assert_eq!(
            counts.total(),
            0,
            "refused operations must not reach the backend"
        );
    }

    async fn errors_do_not_leak(&mut self) {
        // A field read of a value that is not a JSON object fails (every store selects the
        // field with `SecretValue::json_field`: Protocol); its text must not contain the value.
        let name = self.name("not-json");
        let v = self.value("nojson");
        self.put(&name, &v).await;
        let err = self
            .store
            .read(&name, &ReadOptions::new().field("x"))
            .await
            .expect_err("a field of a value that is not a JSON object is an error");
        assert_eq!(err.kind(), &ErrorKind::Protocol, "{err}");
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains(&v),
            "error text must not contain the secret value"
        );
        let debug = format!("{:?}", self.store);
        for v in &self.values {
            assert!(
                !debug.contains(v.as_str()),
                "Debug of the store must not contain values"
            );
        }
        let needles: Vec<&str> = self.values.iter().map(String::as_str).collect();
        logs::assert_absent(&needles);
    }
}

/// Runs every check against `store`. Panics on the first failure.
pub async fn run(store: Arc<dyn SecretStore>, opts: Options) {
    logs::install();
    let mut suite = Suite {
        store,
        opts,
        values: Vec::new(),
    };
    suite.round_trip().await;
    suite.overwrite().await;
    suite.missing().await;
    suite.names().await;
    suite.delete().await;
    suite.list().await;
    suite.concurrency().await;
    suite.single_flight().await;
    suite.access_modes().await;
    suite.errors_do_not_leak().await;
}
