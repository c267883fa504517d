//! Building the shared cache of `[cache]`.

use std::sync::Arc;

use strongroom_core::{MemoryCache, Result, SecretCache};

use crate::config::{CacheConfig, CacheKind};

/// Builds the shared cache of `[cache]` (`None` for `kind = "none"`).
pub async fn build_cache(cfg: &CacheConfig) -> Result<Option<Arc<dyn SecretCache>>> {
    match cfg.kind {
        CacheKind::None => Ok(None),
        CacheKind::Memory => Ok(Some(Arc::new(MemoryCache::new(
            cfg.max_entries.unwrap_or(100_000),
        )))),
        CacheKind::Redis => redis(cfg).await,
    }
}

#[cfg(feature = "redis")]
async fn redis(cfg: &CacheConfig) -> Result<Option<Arc<dyn SecretCache>>> {
    use strongroom_core::config::{ProviderConfig, Settings};

    let mut settings = Settings::for_manager("cache");
    for (k, v) in &cfg.settings {
        settings.insert_from(
            k.clone(),
            crate::config::to_json(v),
            format!("cache.settings.{k}"),
        );
    }
    let cache = strongroom_redis::RedisConfig::from_settings(&settings)?
        .build()
        .await?;
    Ok(Some(Arc::new(cache)))
}

#[cfg(not(feature = "redis"))]
async fn redis(_cfg: &CacheConfig) -> Result<Option<Arc<dyn SecretCache>>> {
    Err(
        strongroom_core::Error::config("cache.kind", "the redis cache is not compiled in")
            .with_hint("enable the `redis` feature of the strongroom crate (or `full`)"),
    )
}
