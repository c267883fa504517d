//! Tools for provider authors, apart from the consumer API: the HTTP path ([`http`], feature
//! `http`), the token cache with its one-re-login rule, batch and paging helpers, and JSON
//! that wipes itself.
//!
//! A provider crate is the same five rooms everywhere: `config.rs` (the config struct and its
//! builder), `auth.rs` (credentials and the [`TokenCache`]), `api.rs` (every wire call and
//! answer parser), `store.rs` (only the `impl SecretStore` mapping) and `error.rs` (status
//! mapping). What it needs from here:
//!
//! * [`http::HttpClient`] + [`http::Call`] + [`http::Reply`]: send with retries, no redirects,
//!   capped bodies, errors with context;
//! * [`TokenCache::call_with_relogin`]: at most one new log-in and one retry when a token is
//!   refused;
//! * [`read_many_batched`]: a batch call fanned over chunks, results in asked order;
//! * [`PageBudget`]: every pagination loop bounded;
//! * [`DashMapping`]: a reversible mapping of names onto a narrow backend alphabet;
//! * [`WipedJson`] / [`wipe_json`], [`dedupe`].

#[cfg(feature = "http")]
pub mod http;
mod names;

use std::collections::HashMap;
use std::future::Future;

use futures_util::{StreamExt, TryStreamExt};

pub use crate::config::{
    Field, FieldKind, HttpConfig, HttpPart, HttpSetters, ProviderConfig, StoreConfig,
};
pub use crate::store::{dedupe, read_each};
pub use crate::token::{TemporaryToken, TokenCache, TokenLease};
pub use crate::value::{WipedJson, wipe_json};
pub use names::DashMapping;

use crate::error::{Error, ErrorKind, Result};
use crate::name::SecretName;
use crate::secret::Secret;
use crate::store::ReadManyResult;

/// Reads `names` with a batch call: duplicates removed, `batch_size` names per call,
/// `concurrency` calls at a time, the answer in first-asked order (`None` for a name the
/// batch did not return).
///
/// ```
/// use strongroom_core::{Secret, SecretName};
/// use strongroom_core::provider::read_many_batched;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let names: Vec<SecretName> = ["a", "b", "a", "c"].iter().map(|n| SecretName::new(n).unwrap()).collect();
/// let calls = std::sync::atomic::AtomicUsize::new(0);
/// let got = read_many_batched(&names, 2, 4, |batch| {
///     calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
///     async move { Ok(batch.into_iter().filter(|n| n.as_str() != "b").map(|n| (n, Some(Secret::new("v")))).collect()) }
/// })
/// .await
/// .unwrap();
/// assert_eq!(calls.into_inner(), 2);
/// assert_eq!(got.len(), 3);
/// assert!(got[1].1.is_none());
/// # });
/// ```
pub async fn read_many_batched<F, Fut>(
    names: &[SecretName],
    batch_size: usize,
    concurrency: usize,
    fetch: F,
) -> Result<ReadManyResult>
where
    F: Fn(Vec<SecretName>) -> Fut,
    Fut: Future<Output = Result<Vec<(SecretName, Option<Secret>)>>>,
{
    let unique = dedupe(names);
    let batches: Vec<Vec<SecretName>> = unique
        .chunks(batch_size.max(1))
        .map(<[SecretName]>::to_vec)
        .collect();
    let answers: Vec<Vec<(SecretName, Option<Secret>)>> = futures_util::stream::iter(batches)
        .map(&fetch)
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut found: HashMap<SecretName, Option<Secret>> = answers.into_iter().flatten().collect();
    Ok(unique
        .into_iter()
        .map(|n| {
            let s = found.remove(&n).flatten();
            (n, s)
        })
        .collect())
}

/// Fills the provider, operation and name of an error where they are missing: what a
/// provider's `impl SecretStore` does once per operation.
///
/// ```
/// use strongroom_core::{Error, ErrorKind, Operation, SecretName};
/// use strongroom_core::provider::in_context;
/// let name = SecretName::new("db").unwrap();
/// let r: strongroom_core::Result<()> = Err(Error::new(ErrorKind::Unavailable, "down"));
/// let e = in_context("conjur", r, Operation::Read, Some(&name)).unwrap_err();
/// assert_eq!(e.to_string(), "conjur read `db`: unavailable: down");
/// ```
pub fn in_context<T>(
    provider: &'static str,
    r: Result<T>,
    op: crate::error::Operation,
    name: Option<&SecretName>,
) -> Result<T> {
    r.map_err(|e| e.context(provider, op, name.map(SecretName::as_str)))
}

/// The usual "the backend refused the token" test for [`TokenCache::call_with_relogin`]: the
/// call failed with [`ErrorKind::Unauthorized`].
pub fn refused<R>(r: &Result<R>) -> bool {
    matches!(r, Err(e) if *e.kind() == ErrorKind::Unauthorized)
}

/// When to renew a token that lives `lifetime`: `margin` before it expires, or at 80 % of its
/// life when that is sooner — a short-lived token is not renewed before every call.
///
/// ```
/// use std::time::Duration;
/// use strongroom_core::provider::renew_after;
/// let m = Duration::from_secs(60);
/// assert_eq!(renew_after(Duration::from_secs(480), m), Duration::from_secs(420));
/// assert_eq!(renew_after(Duration::from_secs(30), m), Duration::from_secs(24));
/// ```
pub fn renew_after(
    lifetime: std::time::Duration,
    margin: std::time::Duration,
) -> std::time::Duration {
    lifetime - margin.min(lifetime / 5)
}

/// Bounds one pagination loop: at most `max_pages` pages and `max_items` items; past either
/// the loop ends with an [`ErrorKind::LimitExceeded`] error, so a broken or hostile server
/// that always returns a next page cannot loop forever or exhaust memory.
///
/// ```
/// use strongroom_core::provider::PageBudget;
/// let mut budget = PageBudget::new(2, 100);
/// budget.page(10).unwrap();
/// budget.page(10).unwrap();
/// assert!(budget.page(10).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct PageBudget {
    max_pages: u64,
    max_items: u64,
    pages: u64,
    items: u64,
}

impl PageBudget {
    /// A budget of `max_pages` pages and `max_items` items.
    pub fn new(max_pages: u64, max_items: u64) -> PageBudget {
        PageBudget {
            max_pages,
            max_items,
            pages: 0,
            items: 0,
        }
    }

    /// The budget an [`HttpConfig`] sets (`max_pages`, `max_list_items`).
    pub fn from_config(http: &HttpConfig) -> PageBudget {
        PageBudget::new(http.max_pages, http.max_list_items)
    }

    /// Counts one page of `items` items; an error once a bound is passed.
    pub fn page(&mut self, items: usize) -> Result<()> {
        self.pages += 1;
        self.items += items as u64;
        if self.pages > self.max_pages {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "the server kept answering with another page; stopped after max_pages ({})",
                    self.max_pages
                ),
            )
            .with_hint("raise max_pages, or list with a narrower prefix"));
        }
        if self.items > self.max_items {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "the list is longer than max_list_items ({})",
                    self.max_items
                ),
            )
            .with_hint("raise max_list_items, or list with a narrower prefix"));
        }
        Ok(())
    }

    /// Whether one more page may be fetched: call before asking for a page, so the page past
    /// `max_pages` is never requested.
    pub fn may_fetch(&self) -> Result<()> {
        if self.pages >= self.max_pages {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "the server kept answering with another page; stopped after max_pages ({})",
                    self.max_pages
                ),
            )
            .with_hint("raise max_pages, or list with a narrower prefix"));
        }
        Ok(())
    }

    /// Pages counted so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }
}
