use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use strongroom_core::layer::StoreLayer;
use strongroom_core::{
    DeleteOptions, ReadManyResult, ReadOptions, Result, Secret, SecretName, SecretStore,
    SecretValue, WriteOptions, WriteOutcome, async_trait,
};

/// Calls that reached the wrapped store.
#[derive(Debug, Default)]
pub struct CallCounts {
    /// `read` calls.
    pub reads: AtomicUsize,
    /// `read_many` calls.
    pub read_manys: AtomicUsize,
    /// `write` calls.
    pub writes: AtomicUsize,
    /// `delete` calls.
    pub deletes: AtomicUsize,
    /// `list` calls.
    pub lists: AtomicUsize,
}

impl CallCounts {
    /// All calls together.
    pub fn total(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
            + self.read_manys.load(Ordering::SeqCst)
            + self.writes.load(Ordering::SeqCst)
            + self.deletes.load(Ordering::SeqCst)
            + self.lists.load(Ordering::SeqCst)
    }
    /// `read` calls.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

/// Wraps a store and counts the calls that reach it; an optional delay makes every read slow,
/// so concurrent callers really overlap.
#[derive(Debug, Clone)]
pub struct CountingStore<S> {
    inner: S,
    counts: Arc<CallCounts>,
    read_delay: Option<Duration>,
}

impl<S> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        CountingStore {
            inner,
            counts: Arc::default(),
            read_delay: None,
        }
    }
    /// Delays every read by `d`.
    pub fn with_read_delay(mut self, d: Duration) -> Self {
        self.read_delay = Some(d);
        self
    }
    /// The counters (shared with clones).
    pub fn counts(&self) -> Arc<CallCounts> {
        Arc::clone(&self.counts)
    }
}

#[async_trait]
impl<S: SecretStore> StoreLayer for CountingStore<S> {
    type Inner = S;
    fn inner(&self) -> &S {
        &self.inner
    }
    async fn read(&self, name: &SecretName, opts: &ReadOptions) -> Result<Option<Secret>> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        if let Some(d) = self.read_delay {
            tokio::time::sleep(d).await;
        }
        self.inner.read(name, opts).await
    }
    async fn read_many(&self, names: &[SecretName], opts: &ReadOptions) -> Result<ReadManyResult> {
        self.counts.read_manys.fetch_add(1, Ordering::SeqCst);
        self.inner.read_many(names, opts).await
    }
    async fn write(
        &self,
        name: &SecretName,
        value: SecretValue,
        opts: &WriteOptions,
    ) -> Result<WriteOutcome> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(name, value, opts).await
    }
    async fn delete(&self, name: &SecretName, opts: &DeleteOptions) -> Result<()> {
        self.counts.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(name, opts).await
    }
    async fn list(&self, prefix: Option<&str>) -> Result<Vec<SecretName>> {
        self.counts.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list(prefix).await
    }
}
