//! Redis failures and timeouts -> core [`Error`]s of kind [`ErrorKind::Cache`].

use std::future::Future;
use std::time::Duration;

use strongroom_core::{Error, ErrorKind, Operation, Result};

/// The provider label on every error this crate returns.
pub(crate) const PROVIDER: &str = "redis";

/// A cache error for a failed Redis call. The redis crate's error text names the command and
/// the server's reply kind, never the arguments (which are sealed envelopes anyway).
pub(crate) fn cache_error(what: &str, e: redis::RedisError) -> Error {
    let temporary =
        e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal();
    Error::new(ErrorKind::Cache, format!("redis {what} failed"))
        .with_provider(PROVIDER)
        .with_operation(Operation::Cache)
        .with_temporary(temporary)
        .with_source(e)
}

/// A cache error for an answer we did not expect.
pub(crate) fn protocol(message: &str) -> Error {
    Error::new(ErrorKind::Cache, message.to_owned())
        .with_provider(PROVIDER)
        .with_operation(Operation::Cache)
}

/// Runs one Redis round trip, bounded by `timeout`.
pub(crate) async fn timed<T, F>(what: &str, timeout: Duration, fut: F) -> Result<T>
where
    F: Future<Output = redis::RedisResult<T>>,
{
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(cache_error(what, e)),
        Err(_) => Err(Error::new(
            ErrorKind::Cache,
            format!("redis {what} did not answer within {timeout:?}"),
        )
        .with_provider(PROVIDER)
        .with_operation(Operation::Cache)
        .with_temporary(true)),
    }
}
