//! Named managers built from configuration; every access goes through the caller's groups.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use strongroom_core::{
    AccessMode, CacheEntryInfo, CachePolicy, CacheScope, CacheStats, Cached, Clock, Error,
    ErrorKind, Operation, Placeholder, PlaceholderResolver, ReadOptions, Result, SecretCache,
    SecretName, SecretStore, SecretStoreExt, SecretValue, SecretWatch, Template, WatchOptions,
    async_trait, validate_manager_name,
};

use crate::config::{Config, ManagerConfig, manager_settings};
use crate::layers::{HostedKeys, PrimarySecret, WriteDefaults};
use crate::providers::{BuildContext, provider_or_error};

/// One configured manager: a provider store wrapped in cache → prefix → access policy.
///
/// A `Manager` is handed out only to a caller its `allowed_groups` admit
/// ([`Registry::manager`]); holding one is holding that permission.
#[derive(Debug, Clone)]
pub struct Manager {
    name: String,
    provider: String,
    access_mode: AccessMode,
    allowed_groups: Option<Vec<String>>,
    cache_scope: Option<CacheScope>,
    prefix: String,
    store: Arc<dyn SecretStore>,
    /// The cache layer inside `store`, kept for its statistics.
    cached: Option<Arc<Cached<Arc<dyn SecretStore>>>>,
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
        Manager::build(
            name,
            provider,
            backend,
            cache,
            None,
            prefix,
            access_mode,
            allowed_groups,
        )
    }

    /// [`Manager::new`] with the clock its cache layer uses for freshness, refresh-ahead and
    /// watches (tests pass a [`ManualClock`](strongroom_core::ManualClock)).
    #[allow(clippy::too_many_arguments)]
    pub fn with_clock(
        name: &str,
        provider: &str,
        backend: Arc<dyn SecretStore>,
        cache: Option<(Arc<dyn SecretCache>, CachePolicy)>,
        clock: Arc<dyn Clock>,
        prefix: &str,
        access_mode: AccessMode,
        allowed_groups: Option<Vec<String>>,
    ) -> Result<Manager> {
        Manager::build(
            name,
            provider,
            backend,
            cache,
            Some(clock),
            prefix,
            access_mode,
            allowed_groups,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        name: &str,
        provider: &str,
        backend: Arc<dyn SecretStore>,
        cache: Option<(Arc<dyn SecretCache>, CachePolicy)>,
        clock: Option<Arc<dyn Clock>>,
        prefix: &str,
        access_mode: AccessMode,
        allowed_groups: Option<Vec<String>>,
    ) -> Result<Manager> {
        validate_manager_name(name)?;
        let mut cache_scope = None;
        let mut cached = None;
        let inner: Arc<dyn SecretStore> = match cache {
            Some((cache, policy)) => {
                let mut layer = backend.with_cache(cache, policy);
                if let Some(clock) = clock {
                    layer = layer.with_clock(clock);
                }
                cache_scope = Some(layer.scope());
                let layer = Arc::new(layer);
                cached = Some(Arc::clone(&layer));
                layer
            }
            None => backend,
        };
        let prefixed = inner.with_prefix(prefix);
        let prefix = prefixed.prefix().to_owned();
        let store = Arc::new(prefixed.with_access_mode(access_mode));
        Ok(Manager {
            name: name.to_owned(),
            provider: provider.to_owned(),
            access_mode,
            allowed_groups,
            cache_scope,
            prefix,
            store,
            cached,
        })
    }

    /// What this manager's cache layer has done since it was built (hits, misses, stale
    /// answers, refreshes, backend reads and errors, single-flight joins, live watches);
    /// `None` when the manager is uncached. The counters are this process's.
    pub fn stats(&self) -> Option<CacheStats> {
        self.cached.as_ref().map(|c| c.stats())
    }

    /// The scope of this manager's cache entries (a digest of the backend address and the
    /// identity asking; managers with the same scope share entries), `None` when uncached.
    pub fn cache_scope(&self) -> Option<CacheScope> {
        self.cache_scope
    }

    /// The cache policy, `None` when the manager is uncached.
    pub fn cache_policy(&self) -> Option<&CachePolicy> {
        self.cached.as_ref().map(|c| c.policy())
    }

    /// Watches `name` (as this manager names it): see [`SecretWatch`]. The manager's access
    /// mode applies (a `write_only` manager refuses); an uncached manager cannot be watched.
    pub async fn watch(&self, name: &SecretName, opts: &WatchOptions) -> Result<SecretWatch> {
        if self.cached.is_none() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("manager `{}` has no cache, and a watch needs one", self.name),
            )
            .with_hint("turn its cache on (`cache = { enabled = true }`, and [cache] kind other than \"none\")"));
        }
        self.store.watch(name, opts).await
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
    /// Groups allowed to use it (`None` = every caller).
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
/// Every accessor takes the caller's groups — the embedding application authenticates its
/// users and passes their groups; a manager with `allowed_groups` is handed only to a caller
/// in one of them. A group is a label the caller presents, not a credential: in the CLI it
/// comes from the invoking user's own flags and guards against mistakes only.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use strongroom::{Registry, SecretName, WriteOptions};
/// let registry = Registry::from_toml_str(r#"
///     [managers.dev]
///     provider = "memory"
///     access_mode = "read_and_write"
///     [managers.ops]
///     provider = "memory"
///     allowed_groups = ["ops"]
/// "#).await.unwrap();
/// let dev = registry.manager("dev", &[]).unwrap().store();
/// dev.write(&SecretName::new("db").unwrap(), "pw".into(), &WriteOptions::new()).await.unwrap();
/// let out = registry.render("password=${secret:dev/db}", &[]).await.unwrap();
/// assert_eq!(out.expose_str().unwrap(), "password=pw");
/// assert!(registry.manager("ops", &[]).is_err());
/// assert!(registry.manager("ops", &["ops".to_string()]).is_ok());
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Registry {
    managers: BTreeMap<String, Manager>,
    default_manager: Option<String>,
    cache: Option<Arc<dyn SecretCache>>,
    credential_env: BTreeSet<String>,
}

/// What a manager's LiteLLM-style layers need.
#[derive(Debug, Clone, Default)]
pub(crate) struct ManagerLayers {
    pub prefix: String,
    pub hosted_keys: Option<Vec<String>>,
    pub env_fallback: Vec<String>,
    pub primary_secret_name: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl ManagerLayers {
    /// Wraps `backend` in the layers that are configured.
    pub(crate) fn wrap(
        &self,
        setting: &str,
        mut backend: Arc<dyn SecretStore>,
        ctx: &BuildContext,
    ) -> Result<Arc<dyn SecretStore>> {
        if let Some(primary) = &self.primary_secret_name {
            let primary = SecretName::new(primary).map_err(|e| {
                Error::config(&format!("{setting}.primary_secret_name"), e.message())
            })?;
            backend = Arc::new(PrimarySecret::new(backend, primary));
        }
        if let Some(hosted) = &self.hosted_keys {
            backend = Arc::new(
                HostedKeys::new(
                    backend,
                    hosted.iter().cloned(),
                    self.env_fallback.iter().cloned(),
                    ctx.denied_env.iter().cloned(),
                )
                .with_manager_prefix(&self.prefix),
            );
        }
        if self.description.is_some() || !self.tags.is_empty() {
            backend = Arc::new(WriteDefaults::new(
                backend,
                self.description.clone(),
                self.tags.clone(),
            ));
        }
        Ok(backend)
    }
}

/// Says which file an error is in, keeping the error's own hint.
pub(crate) fn in_file(err: Error, path: &Path) -> Error {
    let place = format!("in `{}`", path.display());
    let hint = match err.hint() {
        Some(h) => format!("{h} ({place})"),
        None => place,
    };
    err.with_hint(hint)
}

/// Puts the manager's name into an error that does not say which manager it concerns.
fn in_manager(err: Error, name: &str) -> Error {
    let text = err.to_string();
    if text.contains(&format!("managers.{name}")) || text.contains(&format!("manager `{name}`")) {
        return err;
    }
    let mut out = Error::new(
        err.kind().clone(),
        format!("manager `{name}`: {}", err.message()),
    )
    .with_operation(err.operation().unwrap_or(Operation::Config))
    .with_provider(err.provider());
    if let Some(h) = err.hint() {
        out = out.with_hint(h);
    }
    out
}

impl Registry {
    /// An empty registry with the given shared cache.
    pub fn new(cache: Option<Arc<dyn SecretCache>>) -> Registry {
        Registry {
            managers: BTreeMap::new(),
            default_manager: None,
            cache,
            credential_env: BTreeSet::new(),
        }
    }

    /// Builds every manager of `config`. No I/O but the Redis cache's set-up and reading
    /// configured files (CA bundles, keys).
    pub async fn from_config(config: &Config) -> Result<Registry> {
        Registry::build(config, None).await
    }

    async fn build(config: &Config, clock: Option<Arc<dyn Clock>>) -> Result<Registry> {
        let credential_env = config.credential_variables();
        let ctx = BuildContext {
            denied_env: credential_env.clone(),
        };
        let cache = crate::cache::build_cache(&config.cache).await?;
        let mut registry = Registry::new(cache);
        registry.credential_env = credential_env;
        for (name, mc) in &config.managers {
            let manager = registry
                .build_manager(name, mc, &ctx, clock.clone())
                .map_err(|e| in_manager(e, name))?;
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

    /// [`Registry::from_config`] with the clock the managers' cache layers use for freshness,
    /// refresh-ahead and watches (tests pass a [`ManualClock`](strongroom_core::ManualClock)).
    pub async fn from_config_with_clock(
        config: &Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Registry> {
        Registry::build(config, Some(clock)).await
    }

    /// Parses TOML text and builds the registry.
    pub async fn from_toml_str(text: &str) -> Result<Registry> {
        Registry::from_config(&Config::from_toml(text)?).await
    }

    /// Reads a TOML file and builds the registry. The file is refused when group or others
    /// may write it (anyone who can edit it can point the credentials elsewhere).
    pub async fn from_file(path: impl AsRef<Path>) -> Result<Registry> {
        let path = path.as_ref();
        let text = crate::trust::read_config_file(path)?;
        Registry::from_toml_str(&text)
            .await
            .map_err(|e| in_file(e, path))
    }

    fn build_manager(
        &self,
        name: &str,
        mc: &ManagerConfig,
        ctx: &BuildContext,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Manager> {
        validate_manager_name(name)?;
        let setting = format!("managers.{name}");
        let provider = provider_or_error(&format!("{setting}.provider"), &mc.provider)?;
        if mc.primary_secret_name.is_some() && !mc.prefix.is_empty() {
            return Err(Error::config(
                &format!("{setting}.primary_secret_name"),
                "cannot be combined with `prefix` (the field names are the names asked for)",
            ));
        }
        let settings = manager_settings(name, &mc.settings, &mc.allow_env_in);
        let backend = provider.build(&settings, ctx)?;
        let layers = ManagerLayers {
            prefix: mc.prefix.clone(),
            hosted_keys: mc.hosted_keys.clone(),
            env_fallback: mc.env_fallback.clone(),
            primary_secret_name: mc.primary_secret_name.clone(),
            description: mc.description.clone(),
            tags: mc.tags.clone(),
        };
        let backend = layers.wrap(&setting, backend, ctx)?;
        let cache = match (&self.cache, mc.cache.policy(name)) {
            (Some(cache), Some(policy)) => Some((Arc::clone(cache), policy)),
            _ => None,
        };
        Manager::build(
            name,
            provider.name,
            backend,
            cache,
            clock,
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
        if !self.managers.contains_key(name) {
            return Err(self.no_such_manager(name));
        }
        self.default_manager = Some(name.to_owned());
        Ok(())
    }

    /// Records environment variables the configuration uses as credentials (see
    /// [`Registry::credential_variables`]).
    pub fn add_credential_variables<I: IntoIterator<Item = String>>(&mut self, vars: I) {
        self.credential_env.extend(vars);
    }

    /// Every environment variable this configuration or its providers read as a credential;
    /// `strongroom run` removes them from the child's environment.
    pub fn credential_variables(&self) -> &BTreeSet<String> {
        &self.credential_env
    }

    fn no_such_manager(&self, name: &str) -> Error {
        Error::config(
            "manager",
            format!(
                "no manager named `{name}`; configured: {}",
                self.managers.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )
    }

    fn check(&self, manager: &Manager, groups: &[String]) -> Result<()> {
        if manager.allows(groups) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::AccessDenied,
                format!(
                    "manager `{}` is not allowed for the caller's groups",
                    manager.name()
                ),
            )
            .with_hint("ask for one of the manager's allowed_groups"))
        }
    }

    /// The manager `name`, for a caller in `groups`; `AccessDenied` when its
    /// `allowed_groups` do not admit the caller.
    pub fn manager(&self, name: &str, groups: &[String]) -> Result<&Manager> {
        let m = self
            .managers
            .get(name)
            .ok_or_else(|| self.no_such_manager(name))?;
        self.check(m, groups)?;
        Ok(m)
    }

    /// The manager to use when none is named (`default_manager`, else the only one), for a
    /// caller in `groups`.
    pub fn default_manager(&self, groups: &[String]) -> Result<&Manager> {
        if let Some(name) = &self.default_manager {
            return self.manager(name, groups);
        }
        match self.managers.len() {
            1 => {
                let m = self.managers.values().next().expect("one");
                self.check(m, groups)?;
                Ok(m)
            }
            0 => Err(Error::config("managers", "no manager is configured")),
            _ => Err(Error::config(
                "manager",
                "several managers are configured and none is the default",
            )
            .with_hint("name one with --manager, or set default_manager in the config")),
        }
    }

    /// The managers a caller in `groups` may use, by name.
    pub fn managers<'a>(&'a self, groups: &'a [String]) -> impl Iterator<Item = &'a Manager> + 'a {
        self.managers.values().filter(move |m| m.allows(groups))
    }

    /// Watches `name` of manager `manager` for a caller in `groups` (checked like every
    /// accessor): see [`SecretWatch`] and [`Manager::watch`]. One background refresher per
    /// secret per process, however many watches; it stops when the last watch is dropped.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use strongroom::{Registry, SecretName, WatchOptions, WriteOptions};
    /// let registry = Registry::from_toml_str(r#"
    ///     [managers.dev]
    ///     provider = "memory"
    ///     access_mode = "read_and_write"
    /// "#).await.unwrap();
    /// let name = SecretName::new("db/password").unwrap();
    /// let dev = registry.manager("dev", &[]).unwrap().store();
    /// dev.write(&name, "v1".into(), &WriteOptions::new()).await.unwrap();
    /// let mut watch = registry.watch("dev", &name, &[], &WatchOptions::new()).await.unwrap();
    /// assert_eq!(watch.current().unwrap().value.expose_str().unwrap(), "v1");
    /// dev.write(&name, "v2".into(), &WriteOptions::new()).await.unwrap();
    /// watch.changed().await.unwrap();
    /// assert_eq!(watch.current().unwrap().value.expose_str().unwrap(), "v2");
    /// # });
    /// ```
    pub async fn watch(
        &self,
        manager: &str,
        name: &SecretName,
        groups: &[String],
        opts: &WatchOptions,
    ) -> Result<SecretWatch> {
        self.manager(manager, groups)?.watch(name, opts).await
    }

    /// The statistics of the cached managers a caller in `groups` may use, by name (see
    /// [`Manager::stats`]; uncached managers are left out). The counters are this process's.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use strongroom::{ReadOptions, Registry, SecretName, WriteOptions};
    /// let registry = Registry::from_toml_str(r#"
    ///     [managers.dev]
    ///     provider = "memory"
    ///     access_mode = "read_and_write"
    /// "#).await.unwrap();
    /// let name = SecretName::new("k").unwrap();
    /// let dev = registry.manager("dev", &[]).unwrap().store();
    /// dev.write(&name, "v".into(), &WriteOptions::new()).await.unwrap();
    /// dev.read(&name, &ReadOptions::new()).await.unwrap(); // miss: one backend read
    /// dev.read(&name, &ReadOptions::new()).await.unwrap(); // hit
    /// let stats = registry.stats(&[])["dev"];
    /// assert_eq!((stats.hits, stats.misses, stats.backend_reads), (1, 1, 1));
    /// # });
    /// ```
    pub fn stats(&self, groups: &[String]) -> BTreeMap<String, CacheStats> {
        self.managers(groups)
            .filter_map(|m| Some((m.name.clone(), m.stats()?)))
            .collect()
    }

    /// The names of every configured manager (names only: no access to any of them).
    pub fn manager_names(&self) -> impl Iterator<Item = &str> {
        self.managers.keys().map(String::as_str)
    }

    /// The shared cache as a caller in `groups` may see it: only the entries of the managers
    /// the caller may use.
    pub fn cache<'a>(&'a self, groups: &'a [String]) -> Option<CacheView<'a>> {
        let cache = self.cache.as_ref()?;
        Some(CacheView {
            cache,
            managers: self.managers(groups).collect(),
        })
    }

    /// A resolver of `${secret:…}` placeholders for a caller in `groups` (one read per
    /// placeholder; [`Registry::render`] batches).
    pub fn resolver<'a>(&'a self, groups: &'a [String]) -> GroupResolver<'a> {
        GroupResolver {
            registry: self,
            groups,
        }
    }

    /// Renders `template` for a caller in `groups`, failing closed. The placeholders of one
    /// manager are read with one `read_many` (one batch call where the backend has one).
    pub async fn render(&self, template: &str, groups: &[String]) -> Result<SecretValue> {
        let mut out = self.render_many(&[template], groups).await?;
        Ok(out.pop().expect("one template"))
    }

    /// Renders several templates with one batched read per manager (and field).
    pub async fn render_many(
        &self,
        templates: &[&str],
        groups: &[String],
    ) -> Result<Vec<SecretValue>> {
        let parsed = templates
            .iter()
            .map(|t| Template::parse(t))
            .collect::<Result<Vec<_>>>()?;
        let values = self
            .read_placeholders(parsed.iter().flat_map(|t| t.placeholders()), groups)
            .await?;
        let resolver = Prefetched(values);
        let mut out = Vec::with_capacity(parsed.len());
        for t in &parsed {
            out.push(t.render(&resolver).await?);
        }
        Ok(out)
    }

    /// Reads the values of `placeholders` for a caller in `groups`: every manager is checked
    /// first (a refused one costs no read), then the names of one manager (and field) are read
    /// with one `read_many`. Missing secrets are absent from the map.
    pub async fn read_placeholders<'p>(
        &self,
        placeholders: impl IntoIterator<Item = &'p Placeholder>,
        groups: &[String],
    ) -> Result<HashMap<Placeholder, SecretValue>> {
        let mut batches: BTreeMap<(String, Option<String>), Vec<SecretName>> = BTreeMap::new();
        for p in placeholders {
            self.manager(&p.manager, groups)
                .map_err(|e| placeholder_error(p, e))?;
            let names = batches
                .entry((p.manager.clone(), p.field.clone()))
                .or_default();
            if !names.contains(&p.name) {
                names.push(p.name.clone());
            }
        }
        let mut out = HashMap::new();
        for ((manager, field), names) in batches {
            let store = self.manager(&manager, groups)?.store();
            let mut opts = ReadOptions::new();
            if let Some(f) = &field {
                opts = opts.field(f.clone());
            }
            let got = store.read_many(&names, &opts).await.map_err(|e| {
                let p = Placeholder {
                    manager: manager.clone(),
                    name: names[0].clone(),
                    field: field.clone(),
                };
                if names.len() == 1 {
                    placeholder_error(&p, e)
                } else {
                    Error::new(
                        e.kind().clone(),
                        format!("placeholders of manager `{manager}`: {e}"),
                    )
                    .with_operation(Operation::Render)
                }
            })?;
            for (name, secret) in got {
                // A batch may not know a provider's name mappings (AWS reads `a/b/key` as the
                // field `key` of `a/b`): a name the batch did not find is asked for alone.
                let secret = match secret {
                    Some(s) => Some(s),
                    None => store.read(&name, &opts).await.map_err(|e| {
                        placeholder_error(
                            &Placeholder {
                                manager: manager.clone(),
                                name: name.clone(),
                                field: field.clone(),
                            },
                            e,
                        )
                    })?,
                };
                if let Some(s) = secret {
                    out.insert(
                        Placeholder {
                            manager: manager.clone(),
                            name,
                            field: field.clone(),
                        },
                        s.value,
                    );
                }
            }
        }
        Ok(out)
    }
}

fn placeholder_error(p: &Placeholder, e: Error) -> Error {
    let mut out = Error::new(e.kind().clone(), format!("placeholder {p}: {e}"))
        .with_operation(Operation::Render);
    if let Some(after) = e.retry_after() {
        out = out.with_retry_after(after);
    }
    out
}

/// Answers placeholders from values read beforehand.
struct Prefetched(HashMap<Placeholder, SecretValue>);

#[async_trait]
impl PlaceholderResolver for Prefetched {
    async fn resolve(&self, p: &Placeholder) -> Result<Option<SecretValue>> {
        Ok(self.0.get(p).cloned())
    }
}

/// Resolves placeholders through a [`Registry`] for a caller's groups, one read each.
#[derive(Debug, Clone, Copy)]
pub struct GroupResolver<'a> {
    registry: &'a Registry,
    groups: &'a [String],
}

#[async_trait]
impl PlaceholderResolver for GroupResolver<'_> {
    async fn resolve(&self, p: &Placeholder) -> Result<Option<SecretValue>> {
        let manager = self.registry.manager(&p.manager, self.groups)?;
        let mut opts = ReadOptions::new();
        if let Some(field) = &p.field {
            opts = opts.field(field.clone());
        }
        Ok(manager.store().read(&p.name, &opts).await?.map(|s| s.value))
    }
}

/// The shared cache as one caller may see it: entries of the managers the caller may use.
#[derive(Debug)]
pub struct CacheView<'a> {
    cache: &'a Arc<dyn SecretCache>,
    managers: Vec<&'a Manager>,
}

impl CacheView<'_> {
    /// The caller's managers an entry belongs to: same scope, name under the manager's prefix.
    fn owners(&self, e: &CacheEntryInfo) -> Vec<&str> {
        self.managers
            .iter()
            .filter(|m| m.cache_scope == Some(e.scope) && e.name.starts_with(m.prefix.as_str()))
            .map(|m| m.name())
            .collect()
    }

    /// Names and expiry of the caller's managers' entries, never values, each with the
    /// managers it is seen through.
    pub async fn entries(&self) -> Result<Vec<(CacheEntryInfo, Vec<String>)>> {
        Ok(self
            .cache
            .entries()
            .await?
            .into_iter()
            .filter_map(|e| {
                let owners: Vec<String> = self.owners(&e).into_iter().map(str::to_owned).collect();
                (!owners.is_empty()).then_some((e, owners))
            })
            .collect())
    }

    /// Drops every entry of the caller's managers (and nothing else); returns how many.
    pub async fn clear(&self) -> Result<usize> {
        let entries = self.entries().await?;
        let mut done = BTreeSet::new();
        for (e, _) in &entries {
            if done.insert((e.scope, e.name.clone())) {
                let name = SecretName::new(&e.name)?;
                self.cache.invalidate(e.scope, &name).await?;
            }
        }
        Ok(done.len())
    }

    /// Drops the entries of `name` (as the manager names it) of one of the caller's managers.
    pub async fn clear_secret(&self, manager: &str, name: &SecretName) -> Result<()> {
        let m = self
            .managers
            .iter()
            .find(|m| m.name() == manager)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::AccessDenied,
                    format!("manager `{manager}` is not one the caller may use"),
                )
            })?;
        let Some(scope) = m.cache_scope else {
            return Ok(());
        };
        let full = SecretName::new(format!("{}{}", m.prefix, name.as_str()))?;
        self.cache.invalidate(scope, &full).await
    }
}
