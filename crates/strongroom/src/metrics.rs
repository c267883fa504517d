//! Per-manager cache statistics through the [`metrics`] crate (feature `metrics`).
//!
//! The counters live in each manager's cache layer (striped atomics, so a hit costs no
//! recorder call); [`Registry::record_metrics`] copies them into whatever recorder the
//! application installed — as absolute counter values and a gauge — and the application calls
//! it on its own schedule (an interval, or just before its exporter renders a scrape).

use crate::Registry;

/// Counter: reads answered from the cache.
pub const HITS: &str = "strongroom_cache_hits_total";
/// Counter: reads that asked the backend (or joined a read that did).
pub const MISSES: &str = "strongroom_cache_misses_total";
/// Counter: reads answered with the last good value while the backend failed.
pub const STALE_SERVED: &str = "strongroom_cache_stale_served_total";
/// Counter: background refreshes (refresh-ahead and watches).
pub const REFRESHES: &str = "strongroom_cache_refreshes_total";
/// Counter: backend reads that failed.
pub const BACKEND_ERRORS: &str = "strongroom_backend_errors_total";
/// Counter: reads that joined a backend read already running (single-flight).
pub const SINGLE_FLIGHT_JOINS: &str = "strongroom_single_flight_joins_total";
/// Counter: reads sent to the backend.
pub const BACKEND_READS: &str = "strongroom_backend_reads_total";
/// Gauge: live watches.
pub const WATCHES: &str = "strongroom_watches";
/// The label every metric carries: the manager's name.
pub const MANAGER_LABEL: &str = "manager";

impl Registry {
    /// Records the statistics of the cached managers a caller in `groups` may use into the
    /// installed `metrics` recorder: the counters `strongroom_cache_hits_total`,
    /// `strongroom_cache_misses_total`, `strongroom_cache_stale_served_total`,
    /// `strongroom_cache_refreshes_total`, `strongroom_backend_errors_total`,
    /// `strongroom_single_flight_joins_total`, `strongroom_backend_reads_total` (set to their
    /// absolute values) and the gauge `strongroom_watches`, each labelled `manager`.
    ///
    /// Call it periodically, or right before your exporter renders:
    ///
    /// ```no_run
    /// # async fn demo(registry: strongroom::Registry) {
    /// let groups = vec!["billing".to_string()];
    /// let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
    /// loop {
    ///     every.tick().await;
    ///     registry.record_metrics(&groups);
    /// }
    /// # }
    /// ```
    pub fn record_metrics(&self, groups: &[String]) {
        describe();
        for (manager, s) in self.stats(groups) {
            let counters = [
                (HITS, s.hits),
                (MISSES, s.misses),
                (STALE_SERVED, s.stale_served),
                (REFRESHES, s.refreshes),
                (BACKEND_ERRORS, s.backend_errors),
                (SINGLE_FLIGHT_JOINS, s.single_flight_joins),
                (BACKEND_READS, s.backend_reads),
            ];
            for (name, value) in counters {
                metrics::counter!(name, MANAGER_LABEL => manager.clone()).absolute(value);
            }
            metrics::gauge!(WATCHES, MANAGER_LABEL => manager).set(s.watches as f64);
        }
    }
}

/// Descriptions for exporters that show them (cheap; repeated on every call so a recorder
/// installed later gets them too).
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge};
    describe_counter!(HITS, Unit::Count, "Reads answered from the cache");
    describe_counter!(
        MISSES,
        Unit::Count,
        "Reads that asked the backend or joined a read that did"
    );
    describe_counter!(
        STALE_SERVED,
        Unit::Count,
        "Reads answered with the last good value while the backend failed"
    );
    describe_counter!(
        REFRESHES,
        Unit::Count,
        "Background refreshes (refresh-ahead and watches)"
    );
    describe_counter!(BACKEND_ERRORS, Unit::Count, "Backend reads that failed");
    describe_counter!(
        SINGLE_FLIGHT_JOINS,
        Unit::Count,
        "Reads that joined a backend read already running"
    );
    describe_counter!(BACKEND_READS, Unit::Count, "Reads sent to the backend");
    describe_gauge!(WATCHES, Unit::Count, "Live watches");
}
