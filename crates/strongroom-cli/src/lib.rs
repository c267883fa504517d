//! The `strongroom` command (the binary calls [`main`]; the library exists so the
//! end-to-end tests can build the same command under their own binary name).
//!
//! Exit codes: 0 ok, 1 not found, 2 usage or configuration, 3 access denied, 4 backend error,
//! 5 operation not supported by the backend (JSON status `not_supported`).
//! No secret value is printed except by `get`, `render` and the child of `run` (`render --out`
//! writes it to a file of mode 0600 instead); values are never taken from the command line.
//! The process turns core dumps off for itself first. `run --watch` and `render --watch` keep
//! running and follow rotations (see `watch.rs`).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use strongroom::litellm::LiteLlmConfig;
use strongroom::trust::TrustStore;
use strongroom::{
    AccessMode, DeleteOptions, Error, ErrorKind, Manager, MemoryCache, ReadOptions, Registry,
    SecretName, SecretStoreExt, SecretValue, WriteOptions,
};
use zeroize::Zeroizing;

mod process;
mod watch;

pub use process::{escape_terminal, harden_process};

/// Exit code: the secret does not exist.
pub const EXIT_NOT_FOUND: u8 = 1;
/// Exit code: bad usage or configuration.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code: refused by policy, groups or the backend.
pub const EXIT_DENIED: u8 = 3;
/// Exit code: the backend (or the network) failed.
pub const EXIT_BACKEND: u8 = 4;
/// Exit code: the backend cannot do this operation (Conjur delete).
pub const EXIT_NOT_SUPPORTED: u8 = 5;

#[derive(Parser, Debug)]
#[command(
    name = "strongroom",
    version,
    about = "Read, write and render secrets across secret managers",
    after_help = "Exit codes: 0 ok, 1 not found, 2 usage or configuration, 3 access denied, 4 backend error, 5 not supported by the backend."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// Configuration file (TOML), used as given. Default: ./strongroom.toml once trusted
    /// (`strongroom trust`), else LiteLLM-style environment (KEY_MANAGEMENT_SYSTEM), else the
    /// embedded default: a local file store (.strongroom/secrets.json, or $STRONGROOM_FILE) as
    /// the manager `local`.
    #[arg(long, global = true, env = "STRONGROOM_CONFIG")]
    config: Option<PathBuf>,
    /// A LiteLLM proxy config.yaml: managers from its general_settings; `run` also passes every
    /// os.environ/NAME it references to the child.
    #[arg(
        long,
        global = true,
        env = "STRONGROOM_LITELLM_CONFIG",
        conflicts_with = "config"
    )]
    litellm_config: Option<PathBuf>,
    /// Caller group (repeatable); managers with allowed_groups need one of them. Groups come
    /// from you: they guard against mistakes, they do not authenticate.
    #[arg(
        long = "group",
        global = true,
        env = "STRONGROOM_GROUPS",
        value_delimiter = ','
    )]
    groups: Vec<String>,
    /// Log at this level to stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, env = "STRONGROOM_LOG", default_value = "warn")]
    log: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a secret's value.
    Get {
        /// Secret name.
        name: String,
        /// Manager (default: the configured default).
        #[arg(long, short)]
        manager: Option<String>,
        /// A specific version.
        #[arg(long)]
        version: Option<String>,
        /// One field of a JSON secret.
        #[arg(long)]
        field: Option<String>,
        /// Bypass the cache.
        #[arg(long)]
        refresh: bool,
        /// JSON output with metadata.
        #[arg(long)]
        json: bool,
    },
    /// Store a secret. The value comes from stdin or --from-file, never the command line.
    Put {
        /// Secret name.
        name: String,
        #[arg(long, short)]
        manager: Option<String>,
        /// Read the value from this file instead of stdin.
        #[arg(long)]
        from_file: Option<PathBuf>,
        /// Keep a trailing newline (by default one trailing newline is removed).
        #[arg(long)]
        raw: bool,
        /// A description stored with the secret, where the backend keeps one.
        #[arg(long)]
        description: Option<String>,
        /// A tag KEY=VALUE stored with the secret (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a secret.
    Delete {
        name: String,
        #[arg(long, short)]
        manager: Option<String>,
        /// Remove for good where the backend keeps a recoverable copy.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Rotate a secret: write NEW with the value from stdin, read it back, then delete OLD.
    /// A failure at any step leaves OLD readable and names the step.
    Rotate {
        /// The current name.
        old: String,
        /// The new name (may equal OLD: an overwrite, checked the same way).
        new: String,
        #[arg(long, short)]
        manager: Option<String>,
        /// Keep a trailing newline of the value.
        #[arg(long)]
        raw: bool,
        #[arg(long)]
        json: bool,
    },
    /// List secret names.
    Ls {
        /// Only names starting with this.
        prefix: Option<String>,
        #[arg(long, short)]
        manager: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Render ${secret:<manager>/<name>[#field]} placeholders of a file (or - for stdin) to
    /// stdout, or to --out FILE (written atomically, mode 0600). With --watch it keeps running
    /// and rewrites FILE whenever a secret it uses changes, running --exec after each write
    /// (what consul-template and Vault Agent templates do, for every backend).
    Render {
        /// Template file, or - for stdin.
        file: String,
        /// Write the result to FILE instead of stdout: a temporary file (mode 0600) in the
        /// same directory, then a rename over FILE, so readers see the old or the new content,
        /// never a mix.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Keep running: watch every secret the template uses and rewrite --out when the
        /// rendered text changes (a rotation, seen within 80 % of the manager's cache TTL). A
        /// rendering that fails keeps the file as it was. Stops on SIGTERM, SIGINT or SIGQUIT.
        #[arg(long, requires = "out")]
        watch: bool,
        /// Run this shell command (`sh -c`) after each write of --out, e.g. a reload. It gets
        /// this process's environment minus the configuration's credentials, and no secret
        /// value. Without --watch, render exits with its exit code.
        #[arg(long, value_name = "CMD", requires = "out")]
        exec: Option<String>,
    },
    /// Run a command with secrets in its environment only. The child gets this process's
    /// environment minus every credential the configuration uses, plus the rendered --env
    /// values (and, with --litellm-config, every os.environ/NAME of the file). Without
    /// --watch this process becomes the child (exec on Unix).
    Run {
        /// NAME=TEMPLATE, e.g. DB_PASSWORD='${secret:vault/db#password}' (repeatable).
        #[arg(long = "env", value_name = "NAME=TEMPLATE")]
        envs: Vec<String>,
        /// Give the child only the --env values plus PATH, HOME, LANG and TERM.
        #[arg(long)]
        clean_env: bool,
        /// Stay as a supervising parent instead of becoming the child: watch every secret the
        /// child was given and restart it (SIGTERM, then a fresh child with the new values)
        /// when one changes — seen within 80 % of the manager's cache TTL. Signals sent to this
        /// process are forwarded to the child's process group; the exit code is the child's.
        /// Values that cannot be rendered any more keep the running child. Trades exec's "no
        /// parent keeps the values" for supervision: this process keeps them in memory while
        /// the child runs. The managers need a cache. Unix only.
        #[arg(long)]
        watch: bool,
        /// With --watch: send this signal (HUP, SIGUSR1, 10, …) instead of restarting. The
        /// child's environment stays as it was; use it for a child that re-reads a file
        /// `render --watch` keeps up to date.
        #[arg(long, requires = "watch", value_name = "SIGNAL")]
        signal: Option<String>,
        /// With --watch: how long a child has to exit after SIGTERM before a restart sends
        /// SIGKILL (e.g. 10s, 500ms).
        #[arg(
            long,
            requires = "watch",
            value_name = "DURATION",
            default_value = "10s"
        )]
        kill_timeout: String,
        /// The command and its arguments (after --).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Inspect or clear the cache (names and expiry only, never values) of your managers.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// The configured managers and a health check of each you may use.
    Managers {
        #[arg(long)]
        json: bool,
        /// Add each manager's cache statistics (hits, misses, stale answers served,
        /// refreshes, backend errors, single-flight joins, backend reads, watches). They are
        /// this process's own counters: the health check's read and nothing else.
        #[arg(long)]
        stats: bool,
    },
    /// Copy secrets from one manager to another.
    Copy {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Only names starting with this.
        prefix: Option<String>,
        /// Show what would be copied, write nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Trust a configuration file of a working directory (default ./strongroom.toml): records
    /// its path and content hash; an edited file needs trusting again.
    Trust {
        /// The file.
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum CacheAction {
    /// List cached entries of your managers: names and expiry.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Clear your managers' entries, or one secret's.
    Clear {
        name: Option<String>,
        #[arg(long, short)]
        manager: Option<String>,
    },
}

/// The exit code of an error.
pub fn exit_code(err: &Error) -> u8 {
    match err.kind() {
        ErrorKind::NotFound => EXIT_NOT_FOUND,
        ErrorKind::Config | ErrorKind::InvalidName => EXIT_CONFIG,
        ErrorKind::AccessDenied | ErrorKind::Unauthorized | ErrorKind::Forbidden => EXIT_DENIED,
        ErrorKind::Unsupported => EXIT_NOT_SUPPORTED,
        _ => EXIT_BACKEND,
    }
}

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    let hardening = harden_process();
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.global.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if let Err(why) = &hardening {
        tracing::warn!("could not turn core dumps off: {why}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("strongroom: cannot start: {e}");
            return ExitCode::from(EXIT_BACKEND);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("strongroom: {}", escape_terminal(&err.to_string()));
            ExitCode::from(exit_code(&err))
        }
    }
}

/// Where the configuration comes from.
enum Source {
    Registry(Registry),
    LiteLlm(Registry, Box<LiteLlmConfig>),
}

async fn load(global: &Global) -> Result<Source, Error> {
    if let Some(path) = &global.config {
        return Ok(Source::Registry(Registry::from_file(path).await?));
    }
    if let Some(path) = &global.litellm_config {
        let config = LiteLlmConfig::from_file(path)?;
        let registry = config.registry().await?;
        return Ok(Source::LiteLlm(registry, Box::new(config)));
    }
    let local = Path::new("strongroom.toml");
    if local.exists() {
        // A file in the working directory came with whatever was checked out there: it is
        // used only once the user trusted this content.
        let text = TrustStore::user()?.load(local)?;
        let registry = Registry::from_toml_str(&text).await.map_err(|e| {
            let hint = match e.hint() {
                Some(h) => format!("{h} (in ./strongroom.toml)"),
                None => "in ./strongroom.toml".to_owned(),
            };
            e.with_hint(hint)
        })?;
        return Ok(Source::Registry(registry));
    }
    if Registry::litellm_env_present() {
        return Ok(Source::Registry(Registry::from_litellm_env().await?));
    }
    // The embedded default: a JSON file store with an in-memory cache.
    let cache: std::sync::Arc<dyn strongroom::SecretCache> =
        std::sync::Arc::new(MemoryCache::default());
    let mut registry = Registry::new(Some(cache.clone()));
    let store = {
        use strongroom::config::StoreConfig;
        strongroom::builtin::FileConfig::default().build()?
    };
    registry.insert(Manager::new(
        "local",
        "file",
        std::sync::Arc::new(store),
        Some((cache, strongroom::config::default_cache_policy("local"))),
        "",
        AccessMode::ReadAndWrite,
        None,
    )?)?;
    Ok(Source::Registry(registry))
}

fn pick<'a>(
    registry: &'a Registry,
    manager: &Option<String>,
    groups: &[String],
) -> Result<&'a Manager, Error> {
    match manager {
        Some(m) => registry.manager(m, groups),
        None => registry.default_manager(groups),
    }
}

fn print_json(v: serde_json::Value) {
    println!("{v}");
}

fn read_value(from_file: Option<&Path>, raw: bool) -> Result<SecretValue, Error> {
    let mut buf = Zeroizing::new(Vec::new());
    match from_file {
        Some(path) => {
            let mut f = std::fs::File::open(path).map_err(|e| {
                Error::config(
                    "--from-file",
                    format!("cannot open `{}`: {e}", path.display()),
                )
            })?;
            f.read_to_end(&mut buf).map_err(io_err)?;
        }
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("reading the value from stdin; end with Ctrl-D");
            }
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(io_err)?;
        }
    }
    if !raw {
        let len = buf.len();
        if buf.ends_with(b"\r\n") {
            buf.truncate(len - 2);
        } else if buf.ends_with(b"\n") {
            buf.truncate(len - 1);
        }
    }
    Ok(SecretValue::copy_from_slice(&buf))
}

fn parse_tags(tags: &[String]) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for t in tags {
        let (k, v) = t
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| Error::config("--tag", "must look like KEY=VALUE"))?;
        if k.chars().chain(v.chars()).any(|c| c.is_control()) {
            return Err(Error::config("--tag", "control characters are not allowed"));
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

async fn run(cli: Cli) -> Result<u8, Error> {
    if let Command::Trust { file } = &cli.command {
        let path = file
            .clone()
            .unwrap_or_else(|| PathBuf::from("strongroom.toml"));
        let canonical = TrustStore::user()?.trust(&path)?;
        eprintln!(
            "trusted `{}` with its current content; edit it and it needs trusting again",
            escape_terminal(&canonical.display().to_string())
        );
        return Ok(0);
    }
    let source = load(&cli.global).await?;
    let (registry, litellm) = match &source {
        Source::Registry(r) => (r, None),
        Source::LiteLlm(r, c) => (r, Some(c.as_ref())),
    };
    let groups = &cli.global.groups;
    match cli.command {
        Command::Trust { .. } => unreachable!("handled above"),
        Command::Get {
            name,
            manager,
            version,
            field,
            refresh,
            json,
        } => {
            let m = pick(registry, &manager, groups)?;
            let secret_name = SecretName::new(&name)?;
            let mut opts = ReadOptions::new().refresh(refresh);
            if let Some(v) = version {
                opts = opts.version(v);
            }
            if let Some(f) = field {
                opts = opts.field(f);
            }
            let Some(secret) = m.store().read(&secret_name, &opts).await? else {
                eprintln!(
                    "strongroom: not found: `{}` in manager `{}`",
                    escape_terminal(&name),
                    m.name()
                );
                return Ok(EXIT_NOT_FOUND);
            };
            if json {
                let value = match secret.value.expose_str() {
                    Ok(s) => serde_json::Value::String(s.to_owned()),
                    Err(_) => serde_json::Value::Null,
                };
                print_json(serde_json::json!({
                    "manager": m.name(),
                    "name": name,
                    "version": secret.version,
                    "kind": secret.kind,
                    "content_type": secret.content_type,
                    "expires_at": secret.expires_at.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs()),
                    "value": value,
                }));
            } else {
                let mut out = std::io::stdout().lock();
                out.write_all(secret.value.expose_secret())
                    .map_err(io_err)?;
                if out.is_terminal() {
                    out.write_all(b"\n").map_err(io_err)?;
                }
                out.flush().map_err(io_err)?;
            }
            Ok(0)
        }
        Command::Put {
            name,
            manager,
            from_file,
            raw,
            description,
            tags,
            json,
        } => {
            let m = pick(registry, &manager, groups)?;
            let secret_name = SecretName::new(&name)?;
            let mut opts = WriteOptions::new();
            if let Some(d) = description {
                opts = opts.description(d);
            }
            for (k, v) in parse_tags(&tags)? {
                opts = opts.tag(k, v);
            }
            let value = read_value(from_file.as_deref(), raw)?;
            let outcome = m.store().write(&secret_name, value, &opts).await?;
            if json {
                print_json(
                    serde_json::json!({"status": "ok", "manager": m.name(), "name": name, "version": outcome.version}),
                );
            } else {
                eprintln!(
                    "stored `{}` in `{}`{}",
                    escape_terminal(&name),
                    m.name(),
                    outcome
                        .version
                        .map(|v| format!(" (version {})", escape_terminal(&v)))
                        .unwrap_or_default()
                );
            }
            Ok(0)
        }
        Command::Delete {
            name,
            manager,
            force,
            json,
        } => {
            let m = pick(registry, &manager, groups)?;
            let secret_name = SecretName::new(&name)?;
            match m
                .store()
                .delete(&secret_name, &DeleteOptions::new().force(force))
                .await
            {
                Ok(()) => {
                    if json {
                        print_json(
                            serde_json::json!({"status": "deleted", "manager": m.name(), "name": name}),
                        );
                    } else {
                        eprintln!("deleted `{}` from `{}`", escape_terminal(&name), m.name());
                    }
                    Ok(0)
                }
                Err(e) if e.kind() == &ErrorKind::Unsupported => {
                    if json {
                        print_json(serde_json::json!({
                            "status": "not_supported", "manager": m.name(), "name": name,
                            "message": e.message(), "hint": e.hint(),
                        }));
                    } else {
                        eprintln!("status: not_supported: {}", escape_terminal(&e.to_string()));
                    }
                    Ok(EXIT_NOT_SUPPORTED)
                }
                Err(e) => Err(e),
            }
        }
        Command::Rotate {
            old,
            new,
            manager,
            raw,
            json,
        } => {
            let m = pick(registry, &manager, groups)?;
            let (old_name, new_name) = (SecretName::new(&old)?, SecretName::new(&new)?);
            let value = read_value(None, raw)?;
            let done = m
                .store()
                .rotate(&old_name, &new_name, value, &WriteOptions::new())
                .await?;
            if json {
                print_json(serde_json::json!({
                    "status": "rotated", "manager": m.name(), "old": old, "new": new,
                    "version": done.version, "old_deleted": done.old_deleted,
                    "old_kept_because": done.old_kept_because,
                }));
            } else {
                eprintln!(
                    "rotated `{}` to `{}` in `{}`{}",
                    escape_terminal(&old),
                    escape_terminal(&new),
                    m.name(),
                    match (&done.old_kept_because, done.old_deleted) {
                        (Some(why), _) =>
                            format!("; the old secret stays: {}", escape_terminal(why)),
                        (None, true) => "; the old secret is deleted".to_owned(),
                        (None, false) => String::new(),
                    }
                );
            }
            Ok(0)
        }
        Command::Ls {
            prefix,
            manager,
            json,
        } => {
            let m = pick(registry, &manager, groups)?;
            let names = m.store().list(prefix.as_deref()).await?;
            if json {
                print_json(serde_json::json!(
                    names.iter().map(|n| n.as_str()).collect::<Vec<_>>()
                ));
            } else {
                let mut out = std::io::stdout().lock();
                for n in names {
                    writeln!(out, "{}", escape_terminal(n.as_str())).map_err(io_err)?;
                }
            }
            Ok(0)
        }
        Command::Render {
            file,
            out,
            watch,
            exec,
        } => {
            let mut text = Zeroizing::new(String::new());
            if file == "-" {
                std::io::stdin()
                    .lock()
                    .read_to_string(&mut text)
                    .map_err(io_err)?;
            } else {
                std::fs::File::open(&file)
                    .and_then(|mut f| f.read_to_string(&mut text))
                    .map_err(|e| Error::config("FILE", format!("cannot read `{file}`: {e}")))?;
            }
            if let Some(out) = out {
                let job = watch::RenderJob {
                    registry,
                    groups,
                    template: &text,
                    out: &out,
                    exec: exec.as_deref(),
                };
                return if watch {
                    job.watch().await
                } else {
                    job.once().await
                };
            }
            let rendered = registry.render(&text, groups).await?;
            let mut out = std::io::stdout().lock();
            out.write_all(rendered.expose_secret()).map_err(io_err)?;
            out.flush().map_err(io_err)?;
            Ok(0)
        }
        Command::Run {
            envs,
            clean_env,
            watch,
            signal,
            kill_timeout,
            command,
        } => {
            #[cfg(not(unix))]
            if watch {
                let _ = (signal, kill_timeout);
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "run --watch needs Unix (signals and process groups)",
                ));
            }
            #[cfg(unix)]
            if watch {
                let job = watch::Supervisor {
                    registry,
                    litellm,
                    groups,
                    envs: &envs,
                    clean_env,
                    command: &command,
                    signal: signal.as_deref().map(watch::parse_signal).transpose()?,
                    kill_timeout: strongroom::config::parse::duration(&kill_timeout)
                        .map_err(|e| Error::config("--kill-timeout", e))?,
                };
                return job.run().await;
            }
            let child =
                process::ChildSpec::prepare(registry, litellm, groups, &envs, clean_env).await?;
            process::run_child(child, &command).await
        }
        Command::Cache { action } => {
            let cache = registry
                .cache(groups)
                .ok_or_else(|| Error::config("cache", "no cache is configured"))?;
            match action {
                CacheAction::Ls { json } => {
                    let entries = cache.entries().await?;
                    if json {
                        let rows: Vec<serde_json::Value> = entries
                            .iter()
                            .map(|(e, managers)| {
                                serde_json::json!({
                                    "managers": managers, "name": e.name, "display": e.display,
                                    "fresh_until": e.fresh_until.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
                                })
                            })
                            .collect();
                        print_json(serde_json::Value::Array(rows));
                    } else if entries.is_empty() {
                        eprintln!(
                            "the cache holds nothing of your managers (an in-process cache lives only as long as one command; use the redis cache to share it)"
                        );
                    } else {
                        let now = std::time::SystemTime::now();
                        let mut out = std::io::stdout().lock();
                        for (e, managers) in entries {
                            let left = e
                                .fresh_until
                                .duration_since(now)
                                .map(|d| format!("{}s", d.as_secs()))
                                .unwrap_or_else(|_| "stale".into());
                            writeln!(
                                out,
                                "{}\t{}\t{left}",
                                managers.join(","),
                                escape_terminal(&e.display)
                            )
                            .map_err(io_err)?;
                        }
                    }
                }
                CacheAction::Clear { name, manager } => match name {
                    None => {
                        let n = cache.clear().await?;
                        eprintln!("cleared {n} cached secret(s) of your managers");
                    }
                    Some(n) => {
                        let m = pick(registry, &manager, groups)?;
                        let secret = SecretName::new(&n)?;
                        cache.clear_secret(m.name(), &secret).await?;
                        eprintln!(
                            "cleared `{}` from the cache of `{}`",
                            escape_terminal(&n),
                            m.name()
                        );
                    }
                },
            }
            Ok(0)
        }
        Command::Managers { json, stats } => {
            let mut rows = Vec::new();
            let mut all_ok = true;
            for name in registry.manager_names() {
                let Ok(m) = registry.manager(name, groups) else {
                    rows.push(serde_json::json!({
                        "name": name, "health": "not allowed for your groups",
                    }));
                    continue;
                };
                let health = if m.access_mode().allows_read() {
                    let probe = SecretName::new("strongroom-health-probe").expect("valid");
                    match m
                        .store()
                        .read(&probe, &ReadOptions::new().refresh(true))
                        .await
                    {
                        Ok(_) => "ok".to_string(),
                        Err(e) => {
                            all_ok = false;
                            format!("{}: {}", e.kind(), escape_terminal(e.message()))
                        }
                    }
                } else {
                    "not checked (write_only)".to_string()
                };
                let mut row = serde_json::json!({
                    "name": m.name(), "provider": m.provider(), "access_mode": m.access_mode().as_str(),
                    "allowed_groups": m.allowed_groups(), "health": health,
                });
                if stats {
                    row["stats"] = serde_json::to_value(m.stats()).map_err(|e| {
                        Error::new(ErrorKind::Unavailable, format!("statistics: {e}"))
                    })?;
                }
                rows.push(row);
            }
            if json {
                print_json(serde_json::Value::Array(rows));
            } else {
                let mut out = std::io::stdout().lock();
                if stats {
                    writeln!(
                        out,
                        "manager\tprovider\taccess_mode\thealth\t{}",
                        STATS_COLUMNS.map(|(title, _)| title).join("\t")
                    )
                    .map_err(io_err)?;
                }
                for r in rows {
                    write!(
                        out,
                        "{}\t{}\t{}\t{}",
                        r["name"].as_str().unwrap_or(""),
                        r["provider"].as_str().unwrap_or("-"),
                        r["access_mode"].as_str().unwrap_or("-"),
                        r["health"].as_str().unwrap_or("")
                    )
                    .map_err(io_err)?;
                    if stats {
                        for (_, key) in STATS_COLUMNS {
                            match r["stats"][key].as_u64() {
                                Some(n) => write!(out, "\t{n}"),
                                None => write!(out, "\t-"),
                            }
                            .map_err(io_err)?;
                        }
                    }
                    writeln!(out).map_err(io_err)?;
                }
            }
            Ok(if all_ok { 0 } else { EXIT_BACKEND })
        }
        Command::Copy {
            from,
            to,
            prefix,
            dry_run,
            json,
        } => {
            copy(
                registry,
                groups,
                &from,
                &to,
                prefix.as_deref(),
                dry_run,
                json,
            )
            .await
        }
    }
}

/// The statistics columns of `managers --stats`: title, JSON key of `CacheStats`.
const STATS_COLUMNS: [(&str, &str); 8] = [
    ("hits", "hits"),
    ("misses", "misses"),
    ("stale", "stale_served"),
    ("refreshes", "refreshes"),
    ("errors", "backend_errors"),
    ("joins", "single_flight_joins"),
    ("reads", "backend_reads"),
    ("watches", "watches"),
];

/// How many names one batched read of `copy` asks for.
const COPY_BATCH: usize = 100;

async fn copy(
    registry: &Registry,
    groups: &[String],
    from: &str,
    to: &str,
    prefix: Option<&str>,
    dry_run: bool,
    json: bool,
) -> Result<u8, Error> {
    let src = registry.manager(from, groups)?;
    let dst = registry.manager(to, groups)?;
    let names = src.store().list(prefix).await?;
    let total = names.len();
    let progress = std::io::stderr().is_terminal() && !json;
    let (mut copied, mut missing, mut failed) = (0usize, 0usize, Vec::new());
    let mut done = 0usize;
    for chunk in names.chunks(COPY_BATCH) {
        if dry_run {
            if !json {
                let mut out = std::io::stdout().lock();
                for name in chunk {
                    writeln!(out, "would copy {}", escape_terminal(name.as_str()))
                        .map_err(io_err)?;
                }
            }
            copied += chunk.len();
            continue;
        }
        // One batch read per chunk (one request where the backend has a batch call).
        let got = match src.store().read_many(chunk, &ReadOptions::new()).await {
            Ok(got) => got,
            Err(e) => {
                failed.extend(chunk.iter().map(|n| {
                    format!(
                        "{}: {}",
                        escape_terminal(n.as_str()),
                        escape_terminal(&e.to_string())
                    )
                }));
                continue;
            }
        };
        for (name, secret) in got {
            done += 1;
            if progress {
                eprint!("\rcopying {done}/{total}");
            }
            match secret {
                Some(secret) => match dst
                    .store()
                    .write(&name, secret.value, &WriteOptions::new())
                    .await
                {
                    Ok(_) => copied += 1,
                    Err(e) => failed.push(format!(
                        "{}: {}",
                        escape_terminal(name.as_str()),
                        escape_terminal(&e.to_string())
                    )),
                },
                None => missing += 1,
            }
        }
    }
    if progress {
        eprintln!();
    }
    if json {
        print_json(
            serde_json::json!({"listed": total, "copied": copied, "vanished": missing, "failed": failed.len(), "errors": failed, "dry_run": dry_run}),
        );
    } else {
        eprintln!(
            "{} {copied} of {total} secret(s) from `{from}` to `{to}`; {missing} vanished; {} failed",
            if dry_run { "would copy" } else { "copied" },
            failed.len()
        );
        for f in &failed {
            eprintln!("  {f}");
        }
    }
    Ok(if failed.is_empty() { 0 } else { EXIT_BACKEND })
}

fn io_err(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Unavailable, format!("I/O error: {e}"))
}
