//! What the CLI does to its own process: core dumps off, terminal-safe output, and the child
//! of `run` (its environment, and `exec` on Unix).

use std::collections::BTreeSet;
use std::ffi::OsString;

use strongroom::litellm::LiteLlmConfig;
use strongroom::{Error, Registry, is_forbidden_char};
use zeroize::Zeroizing;

#[cfg(unix)]
pub(crate) use rustix::process::Signal;

/// Variables every configuration may use as a key besides its providers' (the Redis cache's
/// key and password, the file store's key): never handed to a child.
const ALWAYS_SCRUBBED: &[&str] = &[
    "STRONGROOM_REDIS_KEY",
    "STRONGROOM_REDIS_OLD_KEYS",
    "STRONGROOM_REDIS_PASSWORD",
    "STRONGROOM_FILE_KEY",
];

/// What `--clean-env` keeps of this process's environment.
const CLEAN_ENV_KEEPS: &[&str] = &["PATH", "HOME", "LANG", "TERM"];

/// `s` with every terminal control character (C0, DEL, C1, and the invisible format
/// characters names refuse) written as `\u{…}`, so a name from a backend or a cache cannot
/// move the cursor, retitle the terminal or hide text.
///
/// ```
/// assert_eq!(strongroom_cli::escape_terminal("a\u{1b}]0;x\u{7}b"), "a\\u{1b}]0;x\\u{7}b");
/// assert_eq!(strongroom_cli::escape_terminal("plain/name é"), "plain/name é");
/// ```
pub fn escape_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || is_forbidden_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Turns core dumps off for this process: the soft `RLIMIT_CORE` to 0 and, on Linux, the
/// process not dumpable (which also keeps debuggers of other users out), through `rustix`'s
/// safe wrappers. A process holding secret values must not leave them in a core file. The
/// child of `run` inherits the soft limit 0 (it holds the values too); the hard limit is left
/// as it was, so a program that wants core dumps can raise its own limit again.
pub fn harden_process() -> Result<(), String> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let now = getrlimit(Resource::Core);
        setrlimit(
            Resource::Core,
            Rlimit {
                current: Some(0),
                maximum: now.maximum,
            },
        )
        .map_err(|e| format!("setrlimit(RLIMIT_CORE): {e}"))?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            .map_err(|e| format!("prctl(PR_SET_DUMPABLE): {e}"))?;
    }
    Ok(())
}

/// The environment of the child of `run`.
pub(crate) struct ChildSpec {
    /// Variables of this process passed on.
    inherited: Vec<(OsString, OsString)>,
    /// Rendered values (wiped when dropped, if `exec` fails).
    secrets: Vec<(String, Zeroizing<String>)>,
}

impl ChildSpec {
    /// Renders the `--env` templates (one batched read per manager), resolves the
    /// `os.environ/` references of a LiteLLM config, and computes what the child inherits:
    /// everything but the configuration's credentials, or with `clean_env` only
    /// PATH/HOME/LANG/TERM.
    pub(crate) async fn prepare(
        registry: &Registry,
        litellm: Option<&LiteLlmConfig>,
        groups: &[String],
        envs: &[String],
        clean_env: bool,
    ) -> Result<ChildSpec, Error> {
        let mut names = Vec::with_capacity(envs.len());
        let mut templates = Vec::with_capacity(envs.len());
        for spec in envs {
            let (var, template) = spec.split_once('=').ok_or_else(|| {
                Error::config(
                    "--env",
                    format!(
                        "`{}` must look like NAME=TEMPLATE",
                        escape_terminal(spec.split('$').next().unwrap_or(""))
                    ),
                )
            })?;
            if var.is_empty() || var.chars().any(|c| c.is_control()) {
                return Err(Error::config(
                    "--env",
                    "the variable name is empty or has control characters",
                ));
            }
            names.push(var.to_owned());
            templates.push(template);
        }
        let mut secrets: Vec<(String, Zeroizing<String>)> = Vec::new();
        if let Some(config) = litellm {
            let resolved = config.resolve(registry, groups).await?;
            for (var, value) in resolved.values {
                let text = value.expose_str().map_err(|_| binary(&var))?.to_owned();
                secrets.push((var, Zeroizing::new(text)));
            }
        }
        let rendered = registry.render_many(&templates, groups).await?;
        for (var, value) in names.into_iter().zip(rendered) {
            let text = value.expose_str().map_err(|_| binary(&var))?.to_owned();
            secrets.retain(|(k, _)| *k != var);
            secrets.push((var, Zeroizing::new(text)));
        }
        Ok(ChildSpec {
            inherited: inherited_env(registry, clean_env),
            secrets,
        })
    }

    /// A command running `program args` with exactly this environment (nothing of this
    /// process's environment besides what [`inherited_env`] kept).
    pub(crate) fn command(&self, program: &str, args: &[String]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(self.inherited.iter().map(|(k, v)| (k, v)));
        for (k, v) in &self.secrets {
            cmd.env(k, v.as_str());
        }
        cmd
    }
}

/// What a child of this process inherits of its environment: everything but the
/// configuration's credentials, or with `clean_env` only PATH/HOME/LANG/TERM.
pub(crate) fn inherited_env(registry: &Registry, clean_env: bool) -> Vec<(OsString, OsString)> {
    let scrubbed: BTreeSet<&str> = registry
        .credential_variables()
        .iter()
        .map(String::as_str)
        .chain(ALWAYS_SCRUBBED.iter().copied())
        .collect();
    std::env::vars_os()
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            if clean_env {
                CLEAN_ENV_KEEPS.contains(&k.as_ref())
            } else {
                !scrubbed.contains(k.as_ref())
            }
        })
        .collect()
}

fn binary(var: &str) -> Error {
    Error::config(
        "--env",
        format!(
            "`{}` renders to binary data, which cannot be an environment value",
            escape_terminal(var)
        ),
    )
}

/// Runs `command` with the child's environment. On Unix this process becomes the child
/// (`exec`): no copy of a value stays in a waiting parent, and signals reach the child
/// directly. Elsewhere it waits for the child and exits with its code.
pub(crate) async fn run_child(spec: ChildSpec, command: &[String]) -> Result<u8, Error> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::config("COMMAND", "no command given after --"))?;
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(spec.inherited.iter().map(|(k, v)| (k, v)));
        for (k, v) in &spec.secrets {
            cmd.env(k, v.as_str());
        }
        let err = cmd.exec();
        // Only reached when exec failed; the values are wiped on return.
        Err(Error::config(
            "COMMAND",
            format!("cannot run `{}`: {err}", escape_terminal(program)),
        ))
    }
    #[cfg(not(unix))]
    {
        let mut cmd = spec.command(program, args);
        let status = cmd.status().await.map_err(|e| {
            Error::config(
                "COMMAND",
                format!("cannot run `{}`: {e}", escape_terminal(program)),
            )
        })?;
        drop(spec);
        Ok(status
            .code()
            .map(|c| c.clamp(0, 255) as u8)
            .unwrap_or(crate::EXIT_BACKEND))
    }
}
