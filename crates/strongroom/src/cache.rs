//! Building the shared cache of `[cache]`.

use std::sync::Arc;

use strongroom_core::{Error, MemoryCache, Result, SecretCache};

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
    use std::collections::BTreeMap;
    use strongroom_core::config::{ProviderConfig, Settings};

    use crate::config::RedisSettings;

    let mut settings = Settings::for_manager("cache");
    for (k, v) in &cfg.settings {
        let value = serde_json::to_value(v).map_err(|e| Error::config("cache.settings", e))?;
        settings.insert_from(k.clone(), value, format!("cache.settings.{k}"));
    }
    let s = RedisSettings::from_settings(&settings)?;
    // The Redis crate reads its documented variable names; hand it exactly those.
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    if let Some(v) = s.url {
        vars.insert("STRONGROOM_REDIS_URL", v);
    }
    if !s.cluster_urls.is_empty() {
        vars.insert("STRONGROOM_REDIS_CLUSTER_URLS", s.cluster_urls.join(","));
    }
    if let Some(v) = &s.key {
        vars.insert("STRONGROOM_REDIS_KEY", text(v, "cache.settings.key")?);
    }
    if let Some(v) = &s.old_keys {
        vars.insert(
            "STRONGROOM_REDIS_OLD_KEYS",
            text(v, "cache.settings.old_keys")?,
        );
    }
    if let Some(v) = s.prefix {
        vars.insert("STRONGROOM_REDIS_PREFIX", v);
    }
    if let Some(t) = s.timeout {
        vars.insert("STRONGROOM_REDIS_TIMEOUT", format!("{}ms", t.as_millis()));
    }
    if let Some(v) = s.username {
        vars.insert("STRONGROOM_REDIS_USERNAME", v);
    }
    if let Some(v) = &s.password {
        vars.insert(
            "STRONGROOM_REDIS_PASSWORD",
            text(v, "cache.settings.password")?,
        );
    }
    if let Some(p) = s.ca_file {
        vars.insert("STRONGROOM_REDIS_CA_FILE", p.display().to_string());
    }
    let cache = strongroom_redis::RedisCacheBuilder::from_lookup(|k| vars.get(k).cloned())
        .build()
        .await?;
    Ok(Some(Arc::new(cache)))
}

#[cfg(feature = "redis")]
fn text(v: &strongroom_core::SecretValue, setting: &str) -> Result<String> {
    v.expose_str()
        .map(str::to_owned)
        .map_err(|_| Error::config(setting, "must be text"))
}

#[cfg(not(feature = "redis"))]
async fn redis(_cfg: &CacheConfig) -> Result<Option<Arc<dyn SecretCache>>> {
    Err(
        Error::config("cache.kind", "the redis cache is not compiled in")
            .with_hint("enable the `redis` feature of the strongroom crate (or `full`)"),
    )
}
