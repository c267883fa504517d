//! Named managers built from configuration, and placeholder resolution for a caller's groups.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use strongroom_core::{
    AccessMode, CachePolicy, Error, ErrorKind, Operation, Placeholder, PlaceholderResolver,
    ReadOptions, Result, SecretCache, SecretName, SecretStore, SecretStoreExt, SecretValue,
    Template, async_trait, validate_manager_name,
};

use crate::config::{Config, ManagerConfig, Settings, parse_duration};
use crate::providers::{build_cache, build_store, canonical_provider};

/// One configured manager: a provider store wrapped in cache → prefix → access policy.
#[derive(Debug, Clone)]
pub struct Manager {
    name: String,
    provider: String,
    access_mode: AccessMode,
    allowed_groups: Option<Vec<String>>,
    store: Arc<dyn SecretStore>,
}

impl Manager {
    /// Wraps `backend` with the layers a manager has. `cache` = `None` means uncached.
    pub fn new(
        name: &str,
        provider: &str,
        backend: Arc<dyn SecretStore>,
        cache: Option<(Arc<dyn SecretCache>, CachePolicy)>,
        prefix: &str,
        access_mode: AccessMode,
        allowed_groups: Option<Vec<String>>,
    ) -> Result<Manager> {
        validate_manager_name(name)?;
        let cached: Arc<dyn SecretStore> = match cache {
            Some((cache, policy)) => Arc::new(backend.with_cache(cache, policy)),
            None => backend,
        };
        let store = Arc::new(cached.with_prefix(prefix).with_access_mode(access_mode));
        Ok(Manager {
            name: name.to_owned(),
            provider: provider.to_owned(),
            access_mode,
            allowed_groups,
            store,
        })
    }

    /// The manager's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The provider (`hcp-vault`, `file`, …).
    pub fn provider(&self) -> &str {
        &self.provider
    }
    /// The access mode.
    pub fn access_mode(&self) -> AccessMode {
        self.access_mode
    }
    /// Groups allowed to use it (`None` = everyone).
    pub fn allowed_groups(&self) -> Option<&[String]> {
        self.allowed_groups.as_deref()
    }
    /// The layered store.
    pub fn store(&self) -> &Arc<dyn SecretStore> {
        &self.store
    }
    /// Whether a caller in `groups` may use this manager.
    pub fn allows(&self, groups: &[String]) -> bool {
        match &self.allowed_groups {
            None => true,
            Some(allowed) => groups.iter().any(|g| allowed.contains(g)),
        }
    }
}

/// The managers of one configuration, sharing one cache.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use strongroom::{ReadOptions, Registry, SecretName, WriteOptions};
/// let registry = Registry::from_toml_str(r#"
///     [managers.dev]
///     provider = "memory"
///     access_mode = "read_and_write"
/// "#).await.unwrap();
/// let dev = registry.manager("dev").unwrap().store();
/// dev.write(&SecretName::new("db").unwrap(), "pw".into(), &WriteOptions::new()).await.unwrap();
/// let out = registry.render("password=${secret:dev/db}", &[]).await.unwrap();
/// assert_eq!(out.expose_str().unwrap(), "password=pw");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Registry {
    managers: BTreeMap<String, Manager>,
    default_manager: Option<String>,
    cache: Option<Arc<dyn SecretCache>>,
}

impl Registry {
    /// An empty registry with the given shared cache.
    pub fn new(cache: Option<Arc<dyn SecretCache>>) -> Registry {
        Registry {
            managers: BTreeMap::new(),
            default_manager: None,
            cache,
        }
    }

    /// Builds every manager of `config`.
    pub async fn from_config(config: &Config) -> Result<Registry> {
        let cache = build_cache(&config.cache).await?;
        let mut registry = Registry::new(cache);
        for (name, mc) in &config.managers {
            let manager = registry.build_manager(name, mc).await?;
            registry.insert(manager)?;
        }
        if let Some(default) = &config.default_manager {
            if !registry.managers.contains_key(default) {
                return Err(Error::config(
                    "default_manager",
                    format!("`{default}` is not a configured manager"),
                ));
            }
            registry.default_manager = Some(default.clone());
        }
        Ok(registry)
    }

    /// Parses TOML text and builds the registry.
    pub async fn from_toml_str(text: &str) -> Result<Registry> {
        Registry::from_config(&Config::from_toml(text)?).await
    }

    /// Reads a TOML file and builds the registry.
    pub async fn from_file(path: impl AsRef<Path>) -> Result<Registry> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(
                "config file",
                format!("cannot read `{}`: {e}", path.display()),
            )
        })?;
        Registry::from_toml_str(&text)
            .await
            .map_err(|e| e.with_hint(format!("in `{}`", path.display())))
    }

    async fn build_manager(&self, name: &str, mc: &ManagerConfig) -> Result<Manager> {
        validate_manager_name(name)?;
        let provider = canonical_provider(&mc.provider).unwrap_or("unknown");
        let settings = Settings::resolve(name, &mc.settings)?;
        let mut backend = build_store(&mc.provider, &settings).await?;
        if let Some(hosted) = &mc.hosted_keys {
            backend = Arc::new(crate::litellm::HostedKeys::new(backend, hosted.clone()));
        }
        let cache = match (&self.cache, mc.cache.enabled) {
            (Some(cache), true) => {
                let mut policy = CachePolicy::new(name);
                if let Some(ttl) = &mc.cache.ttl {
                    policy =
                        policy.ttl(parse_duration(&format!("managers.{name}.cache.ttl"), ttl)?);
                }
                if let Some(stale) = &mc.cache.stale_if_error {
                    policy = policy.stale_if_error(parse_duration(
                        &format!("managers.{name}.cache.stale_if_error"),
                        stale,
                    )?);
                }
                Some((Arc::clone(cache), policy))
            }
            _ => None,
        };
        Manager::new(
            name,
            provider,
            backend,
            cache,
            &mc.prefix,
            mc.access_mode,
            mc.allowed_groups.clone(),
        )
    }

    /// Adds a manager; its name must be new.
    pub fn insert(&mut self, manager: Manager) -> Result<()> {
        if self.managers.contains_key(manager.name()) {
            return Err(Error::config(
                "managers",
                format!("the manager name `{}` is used twice", manager.name()),
            ));
        }
        self.managers.insert(manager.name.clone(), manager);
        Ok(())
    }

    /// Sets the default manager.
    pub fn set_default(&mut self, name: &str) -> Result<()> {
        self.manager(name)?;
        self.default_manager = Some(name.to_owned());
        Ok(())
    }

    /// The shared cache, when there is one.
    pub fn cache(&self) -> Option<&Arc<dyn SecretCache>> {
        self.cache.as_ref()
    }

    /// A manager by name.
    pub fn manager(&self, name: &str) -> Result<&Manager> {
        self.managers.get(name).ok_or_else(|| {
            Error::config(
                "manager",
                format!(
                    "no manager named `{name}`; configured: {}",
                    self.managers.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
        })
    }

    /// The manager to use when none is named: `default_manager`, else the only one.
    pub fn default_manager(&self) -> Result<&Manager> {
        if let Some(name) = &self.default_manager {
            return self.manager(name);
        }
        match self.managers.len() {
            1 => Ok(self.managers.values().next().expect("one")),
            0 => Err(Error::config("managers", "no manager is configured")),
            _ => Err(Error::config(
                "manager",
                "several managers are configured and none is the default",
            )
            .with_hint("name one with --manager, or set default_manager in the config")),
        }
    }

    /// All managers, by name.
    pub fn managers(&self) -> impl Iterator<Item = &Manager> {
        self.managers.values()
    }

    /// A manager a caller in `groups` may use; `AccessDenied` otherwise.
    pub fn manager_for(&self, name: &str, groups: &[String]) -> Result<&Manager> {
        let m = self.manager(name)?;
        if m.allows(groups) {
            Ok(m)
        } else {
            Err(Error::new(
                ErrorKind::AccessDenied,
                format!("manager `{name}` is not allowed for the caller's groups"),
            )
            .with_operation(Operation::Render)
            .with_hint("ask for one of the manager's allowed_groups"))
        }
    }

    /// A resolver of `${secret:…}` placeholders for a caller in `groups`.
    pub fn resolver<'a>(&'a self, groups: &'a [String]) -> GroupResolver<'a> {
        GroupResolver {
            registry: self,
            groups,
        }
    }

    /// Renders `template`, failing closed.
    pub async fn render(&self, template: &str, groups: &[String]) -> Result<SecretValue> {
        Template::parse(template)?
            .render(&self.resolver(groups))
            .await
    }
}

/// Resolves placeholders through a [`Registry`] for a caller's groups.
#[derive(Debug, Clone, Copy)]
pub struct GroupResolver<'a> {
    registry: &'a Registry,
    groups: &'a [String],
}

#[async_trait]
impl PlaceholderResolver for GroupResolver<'_> {
    async fn resolve(&self, p: &Placeholder) -> Result<Option<SecretValue>> {
        let manager = self.registry.manager_for(&p.manager, self.groups)?;
        let mut opts = ReadOptions::new();
        if let Some(field) = &p.field {
            opts = opts.field(field.clone());
        }
        read_value(manager.store().as_ref(), &p.name, &opts).await
    }
}

async fn read_value(
    store: &dyn SecretStore,
    name: &SecretName,
    opts: &ReadOptions,
) -> Result<Option<SecretValue>> {
    Ok(store.read(name, opts).await?.map(|s| s.value))
}
