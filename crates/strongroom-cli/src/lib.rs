//! The `strongroom` command (the binary calls [`main`]; the library exists so the
//! end-to-end tests can build the same command under their own binary name).
//!
//! Exit codes: 0 ok, 1 not found, 2 usage or configuration, 3 access denied, 4 backend error.
//! No secret value is printed except by `get`, `render` and the child of `run`; values are
//! never taken from the command line.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use strongroom::{
    AccessMode, CacheKey, CachePolicy, DeleteOptions, Error, ErrorKind, FileStore, Manager,
    MemoryCache, ReadOptions, Registry, SecretName, SecretValue, WriteOptions,
};
use zeroize::Zeroizing;

#[derive(Parser, Debug)]
#[command(
    name = "strongroom",
    version,
    about = "Read, write and render secrets across secret managers"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// Configuration file (TOML). Default: ./strongroom.toml if present, else LiteLLM-style
    /// environment (KEY_MANAGEMENT_SYSTEM), else the embedded default: a local JSON file
    /// (.strongroom/secrets.json, or $STRONGROOM_FILE) as the manager `local`.
    #[arg(long, global = true, env = "STRONGROOM_CONFIG")]
    config: Option<PathBuf>,
    /// Caller group (repeatable); managers with allowed_groups need one of them.
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
    /// List secret names.
    Ls {
        /// Only names starting with this.
        prefix: Option<String>,
        #[arg(long, short)]
        manager: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Render ${secret:<manager>/<name>[#field]} placeholders of a file (or - for stdin) to stdout.
    Render {
        /// Template file, or - for stdin.
        file: String,
    },
    /// Run a command with secrets in its environment only.
    Run {
        /// NAME=TEMPLATE, e.g. DB_PASSWORD='${secret:vault/db#password}' (repeatable).
        #[arg(long = "env", value_name = "NAME=TEMPLATE")]
        envs: Vec<String>,
        /// The command and its arguments (after --).
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Inspect or clear the cache (names and expiry only, never values).
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// The configured managers and a health check of each.
    Managers {
        #[arg(long)]
        json: bool,
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
}

#[derive(Subcommand, Debug)]
enum CacheAction {
    /// List cached entries: names and expiry.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Clear the cache, or one secret's entries.
    Clear {
        name: Option<String>,
        #[arg(long, short)]
        manager: Option<String>,
    },
}

fn exit_code(err: &Error) -> u8 {
    match err.kind() {
        ErrorKind::NotFound => 1,
        ErrorKind::Config | ErrorKind::InvalidName => 2,
        ErrorKind::AccessDenied | ErrorKind::Unauthorized | ErrorKind::Forbidden => 3,
        _ => 4,
    }
}

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.global.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("strongroom: cannot start: {e}");
            return ExitCode::from(4);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("strongroom: {err}");
            ExitCode::from(exit_code(&err))
        }
    }
}

async fn load_registry(global: &Global) -> Result<Registry, Error> {
    if let Some(path) = &global.config {
        return Registry::from_file(path).await;
    }
    let local = PathBuf::from("strongroom.toml");
    if local.exists() {
        return Registry::from_file(local).await;
    }
    if Registry::litellm_env_present() {
        return Registry::from_litellm_env().await;
    }
    // The embedded default: a JSON file store with an in-memory cache.
    let cache: std::sync::Arc<dyn strongroom::SecretCache> =
        std::sync::Arc::new(MemoryCache::default());
    let mut registry = Registry::new(Some(cache.clone()));
    registry.insert(Manager::new(
        "local",
        "file",
        std::sync::Arc::new(FileStore::new(strongroom::providers::default_file_path())),
        Some((cache, CachePolicy::new("local"))),
        "",
        AccessMode::ReadAndWrite,
        None,
    )?)?;
    Ok(registry)
}

fn pick<'a>(
    registry: &'a Registry,
    manager: &Option<String>,
    groups: &[String],
) -> Result<&'a Manager, Error> {
    match manager {
        Some(m) => registry.manager_for(m, groups),
        None => {
            let m = registry.default_manager()?;
            registry.manager_for(m.name(), groups)
        }
    }
}

fn print_json(v: serde_json::Value) {
    println!("{v}");
}

async fn run(cli: Cli) -> Result<u8, Error> {
    let registry = load_registry(&cli.global).await?;
    let groups = &cli.global.groups;
    match cli.command {
        Command::Get {
            name,
            manager,
            version,
            field,
            refresh,
            json,
        } => {
            let m = pick(&registry, &manager, groups)?;
            let secret_name = SecretName::new(&name)?;
            let mut opts = ReadOptions::new().refresh(refresh);
            if let Some(v) = version {
                opts = opts.version(v);
            }
            if let Some(f) = field {
                opts = opts.field(f);
            }
            let Some(secret) = m.store().read(&secret_name, &opts).await? else {
                eprintln!("strongroom: not found: `{name}` in manager `{}`", m.name());
                return Ok(1);
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
            json,
        } => {
            let m = pick(&registry, &manager, groups)?;
            let secret_name = SecretName::new(&name)?;
            let mut buf = Zeroizing::new(Vec::new());
            match &from_file {
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
            let value = SecretValue::copy_from_slice(&buf);
            let outcome = m
                .store()
                .write(&secret_name, value, &WriteOptions::new())
                .await?;
            if json {
                print_json(
                    serde_json::json!({"status": "ok", "manager": m.name(), "name": name, "version": outcome.version}),
                );
            } else {
                eprintln!(
                    "stored `{name}` in `{}`{}",
                    m.name(),
                    outcome
                        .version
                        .map(|v| format!(" (version {v})"))
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
            let m = pick(&registry, &manager, groups)?;
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
                        eprintln!("deleted `{name}` from `{}`", m.name());
                    }
                    Ok(0)
                }
                Err(e) if e.kind() == &ErrorKind::Unsupported => {
                    if json {
                        print_json(
                            serde_json::json!({"status": "not_supported", "manager": m.name(), "name": name, "hint": e.hint()}),
                        );
                    } else {
                        eprintln!("status: not_supported: {e}");
                    }
                    Ok(4)
                }
                Err(e) => Err(e),
            }
        }
        Command::Ls {
            prefix,
            manager,
            json,
        } => {
            let m = pick(&registry, &manager, groups)?;
            let names = m.store().list(prefix.as_deref()).await?;
            if json {
                print_json(serde_json::json!(
                    names.iter().map(|n| n.as_str()).collect::<Vec<_>>()
                ));
            } else {
                for n in names {
                    println!("{n}");
                }
            }
            Ok(0)
        }
        Command::Render { file } => {
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
            let rendered = registry.render(&text, groups).await?;
            let mut out = std::io::stdout().lock();
            out.write_all(rendered.expose_secret()).map_err(io_err)?;
            out.flush().map_err(io_err)?;
            Ok(0)
        }
        Command::Run { envs, command } => {
            let mut child_env = Vec::with_capacity(envs.len());
            for spec in &envs {
                let (var, template) = spec.split_once('=').ok_or_else(|| {
                    Error::config(
                        "--env",
                        format!(
                            "`{var}` must look like NAME=TEMPLATE",
                            var = spec.split('$').next().unwrap_or("")
                        ),
                    )
                })?;
                if var.is_empty() || var.contains('\0') {
                    return Err(Error::config("--env", "the variable name is empty"));
                }
                let value = registry.render(template, groups).await?;
                let text = value
                    .expose_str()
                    .map_err(|_| Error::config("--env", format!("`{var}` renders to binary data, which cannot be an environment value")))?
                    .to_owned();
                child_env.push((var.to_owned(), Zeroizing::new(text)));
            }
            let (program, args) = command
                .split_first()
                .ok_or_else(|| Error::config("COMMAND", "no command given after --"))?;
            let mut cmd = tokio::process::Command::new(program);
            cmd.args(args);
            for (k, v) in &child_env {
                cmd.env(k, v.as_str());
            }
            let status = cmd
                .status()
                .await
                .map_err(|e| Error::config("COMMAND", format!("cannot run `{program}`: {e}")))?;
            drop(child_env);
            Ok(status.code().map(|c| c.clamp(0, 255) as u8).unwrap_or(4))
        }
        Command::Cache { action } => {
            let cache = registry
                .cache()
                .ok_or_else(|| Error::config("cache", "no cache is configured"))?;
            match action {
                CacheAction::Ls { json } => {
                    let entries = cache.entries().await?;
                    if json {
                        print_json(serde_json::to_value(&entries).unwrap_or_default());
                    } else if entries.is_empty() {
                        eprintln!(
                            "the cache is empty (an in-process cache lives only as long as one command; use the redis cache to share it)"
                        );
                    } else {
                        let now = std::time::SystemTime::now();
                        for e in entries {
                            let left = e
                                .fresh_until
                                .duration_since(now)
                                .map(|d| format!("{}s", d.as_secs()))
                                .unwrap_or_else(|_| "stale".into());
                            println!("{}\t{left}", e.display);
                        }
                    }
                }
                CacheAction::Clear { name, manager } => match name {
                    None => {
                        cache.clear().await?;
                        eprintln!("cache cleared");
                    }
                    Some(n) => {
                        let m = pick(&registry, &manager, groups)?;
                        let secret = SecretName::new(&n)?;
                        cache
                            .delete_prefix(&CacheKey::secret_prefix(m.name(), secret.as_str()))
                            .await?;
                        eprintln!("cleared `{n}` from the cache of `{}`", m.name());
                    }
                },
            }
            Ok(0)
        }
        Command::Managers { json } => {
            let mut rows = Vec::new();
            let mut all_ok = true;
            for m in registry.managers() {
                let health = if !m.allows(groups) {
                    "not allowed for your groups".to_string()
                } else if m.access_mode().allows_read() {
                    let probe = SecretName::new("strongroom-health-probe").expect("valid");
                    match m
                        .store()
                        .read(&probe, &ReadOptions::new().refresh(true))
                        .await
                    {
                        Ok(_) => "ok".to_string(),
                        Err(e) => {
                            all_ok = false;
                            format!("{}: {}", e.kind(), e.message())
                        }
                    }
                } else {
                    "not checked (write_only)".to_string()
                };
                rows.push(serde_json::json!({
                    "name": m.name(), "provider": m.provider(), "access_mode": m.access_mode().as_str(),
                    "allowed_groups": m.allowed_groups(), "health": health,
                }));
            }
            if json {
                print_json(serde_json::Value::Array(rows));
            } else {
                for r in rows {
                    println!(
                        "{}\t{}\t{}\t{}",
                        r["name"].as_str().unwrap_or(""),
                        r["provider"].as_str().unwrap_or(""),
                        r["access_mode"].as_str().unwrap_or(""),
                        r["health"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(if all_ok { 0 } else { 4 })
        }
        Command::Copy {
            from,
            to,
            prefix,
            dry_run,
            json,
        } => {
            let src = registry.manager_for(&from, groups)?;
            let dst = registry.manager_for(&to, groups)?;
            let names = src.store().list(prefix.as_deref()).await?;
            let total = names.len();
            let progress = std::io::stderr().is_terminal() && !json;
            let (mut copied, mut missing, mut failed) = (0usize, 0usize, Vec::new());
            for (i, name) in names.iter().enumerate() {
                if progress {
                    eprint!("\rcopying {}/{total}", i + 1);
                }
                if dry_run {
                    if !json {
                        println!("would copy {name}");
                    }
                    copied += 1;
                    continue;
                }
                match src.store().read(name, &ReadOptions::new()).await {
                    Ok(Some(secret)) => match dst
                        .store()
                        .write(name, secret.value, &WriteOptions::new())
                        .await
                    {
                        Ok(_) => copied += 1,
                        Err(e) => failed.push(format!("{name}: {e}")),
                    },
                    Ok(None) => missing += 1,
                    Err(e) => failed.push(format!("{name}: {e}")),
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
            Ok(if failed.is_empty() { 0 } else { 4 })
        }
    }
}

fn io_err(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Unavailable, format!("I/O error: {e}"))
}
