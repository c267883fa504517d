//! Rotation in the CLI: `run --watch` (a supervising parent that restarts or signals its child
//! when a secret it was given changes) and `render --out FILE [--watch] [--exec CMD]` (the file
//! rewritten atomically on change, a command run after each write).

use std::collections::HashSet;
use std::path::Path;
use std::process::ExitStatus;
#[cfg(unix)]
use std::time::Duration;

#[cfg(unix)]
use strongroom::litellm::LiteLlmConfig;
use strongroom::{Error, ErrorKind, Placeholder, ReadOptions, Registry, Template, WatchOptions};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::escape_terminal;
use crate::process::inherited_env;
#[cfg(unix)]
use crate::process::{ChildSpec, Signal};

/// Watches of a set of placeholders; [`Changes::next`] resolves when any of them changed.
struct Changes {
    rx: mpsc::UnboundedReceiver<()>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Changes {
    fn drop(&mut self) {
        // The tasks own the watches: ending them drops the watches and stops the refreshers.
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Changes {
    /// Starts one watch per distinct placeholder (each reads its secret once, which fills the
    /// cache the rendering then reads from).
    async fn watch(
        registry: &Registry,
        groups: &[String],
        placeholders: impl IntoIterator<Item = Placeholder>,
    ) -> Result<Changes, Error> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        let mut seen = HashSet::new();
        for p in placeholders {
            if !seen.insert(p.clone()) {
                continue;
            }
            let mut read = ReadOptions::new();
            if let Some(field) = &p.field {
                read = read.field(field.clone());
            }
            let mut watch = registry
                .watch(&p.manager, &p.name, groups, &WatchOptions::new().read(read))
                .await
                .map_err(|e| {
                    let mut out = Error::new(e.kind().clone(), format!("watching {p}: {e}"));
                    if let Some(h) = e.hint() {
                        out = out.with_hint(h);
                    }
                    out
                })?;
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                while watch.changed().await.is_ok() {
                    if tx.send(()).is_err() {
                        break;
                    }
                }
            }));
        }
        Ok(Changes { rx, tasks })
    }

    fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Waits for a change, then takes every change already queued too, so one rotation seen
    /// by several watches at once is acted on once. `None` when nothing is watched.
    async fn next(&mut self) -> Option<()> {
        self.rx.recv().await?;
        while self.rx.try_recv().is_ok() {}
        Some(())
    }
}

/// The exit code of a finished child: its own, or 128 + the signal that ended it.
fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return code.clamp(0, 255) as u8;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return (128 + sig).clamp(0, 255) as u8;
        }
    }
    crate::EXIT_BACKEND
}

/// Writes `bytes` to `path` atomically: a temporary file (mode 0600) in the same directory,
/// flushed to disk, then renamed over `path`. Readers see the old or the new content, never
/// a part; a failure leaves the old file and no temporary file behind.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    let fail = |what: &str, e: std::io::Error| {
        Error::config(
            "--out",
            format!(
                "cannot {what} `{}`: {e}",
                escape_terminal(&path.display().to_string())
            ),
        )
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::config("--out", "must name a file"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| fail("create a temporary file next to", e))?;
    tmp.write_all(bytes).map_err(|e| fail("write", e))?;
    tmp.as_file().sync_all().map_err(|e| fail("write", e))?;
    tmp.persist(path).map_err(|e| fail("replace", e.error))?;
    // The rename itself reaches the disk with the directory.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Signals this process reacts to, as a stream.
struct Signals {
    rx: mpsc::UnboundedReceiver<i32>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Signals {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Signals {
    /// Catches `raw` signals (Unix); elsewhere only Ctrl-C.
    fn catch(raw: &[i32]) -> Result<Signals, Error> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        #[cfg(unix)]
        for &sig in raw {
            use tokio::signal::unix::{SignalKind, signal};
            let mut stream = signal(SignalKind::from_raw(sig)).map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("cannot catch signal {sig}: {e}"),
                )
            })?;
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    if tx.send(sig).is_err() {
                        break;
                    }
                }
            }));
        }
        #[cfg(not(unix))]
        {
            let _ = raw;
            tasks.push(tokio::spawn(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    if tx.send(2).is_err() {
                        break;
                    }
                }
            }));
        }
        Ok(Signals { rx, tasks })
    }

    async fn next(&mut self) -> Option<i32> {
        self.rx.recv().await
    }
}

/// `render --out FILE [--watch] [--exec CMD]`.
pub(crate) struct RenderJob<'a> {
    pub registry: &'a Registry,
    pub groups: &'a [String],
    pub template: &'a str,
    pub out: &'a Path,
    pub exec: Option<&'a str>,
}

impl RenderJob<'_> {
    /// Renders once, writes the file, runs `--exec`; exits with its code (0 without one).
    pub(crate) async fn once(self) -> Result<u8, Error> {
        let rendered = self.registry.render(self.template, self.groups).await?;
        write_atomic(self.out, rendered.expose_secret())?;
        match self.exec {
            Some(cmd) => self.run_exec(cmd).await,
            None => Ok(0),
        }
    }

    /// Renders, writes, runs `--exec`; then again each time a secret of the template changes
    /// and the result differs, until SIGTERM or SIGINT. The first rendering fails closed (the
    /// command exits); a later one that fails keeps the previous file and says why.
    pub(crate) async fn watch(self) -> Result<u8, Error> {
        let mut stop = Signals::catch(&STOP_SIGNALS)?;
        let template = Template::parse(self.template)?;
        let mut changes =
            Changes::watch(self.registry, self.groups, template.placeholders().cloned()).await?;
        if changes.is_empty() {
            tracing::warn!(
                "render --watch: the template uses no secret; there is nothing to watch"
            );
        }
        let first = self.registry.render(self.template, self.groups).await?;
        write_atomic(self.out, first.expose_secret())?;
        let mut last = Zeroizing::new(first.expose_secret().to_vec());
        drop(first);
        self.after_write().await;
        loop {
            tokio::select! {
                _ = stop.next() => return Ok(0),
                Some(()) = changes.next() => {
                    match self.registry.render(self.template, self.groups).await {
                        Ok(v) if v.expose_secret() == last.as_slice() => {}
                        Ok(v) => match write_atomic(self.out, v.expose_secret()) {
                            Ok(()) => {
                                last = Zeroizing::new(v.expose_secret().to_vec());
                                eprintln!(
                                    "strongroom: a secret changed; rewrote `{}`",
                                    escape_terminal(&self.out.display().to_string())
                                );
                                self.after_write().await;
                            }
                            Err(e) => eprintln!("strongroom: {}", escape_terminal(&e.to_string())),
                        },
                        Err(e) => eprintln!(
                            "strongroom: a secret changed, but rendering failed; `{}` keeps its previous content: {}",
                            escape_terminal(&self.out.display().to_string()),
                            escape_terminal(&e.to_string())
                        ),
                    }
                }
            }
        }
    }

    async fn after_write(&self) {
        let Some(cmd) = self.exec else { return };
        match self.run_exec(cmd).await {
            Ok(0) => {}
            Ok(code) => eprintln!("strongroom: --exec exited with {code}"),
            Err(e) => eprintln!("strongroom: {}", escape_terminal(&e.to_string())),
        }
    }

    /// Runs `cmd` through the shell with this process's environment minus the
    /// configuration's credentials.
    async fn run_exec(&self, cmd: &str) -> Result<u8, Error> {
        let mut c = if cfg!(windows) {
            let mut c = tokio::process::Command::new("cmd");
            c.arg("/C");
            c
        } else {
            let mut c = tokio::process::Command::new("sh");
            c.arg("-c");
            c
        };
        c.arg(cmd)
            .env_clear()
            .envs(inherited_env(self.registry, false));
        let status = c
            .status()
            .await
            .map_err(|e| Error::config("--exec", format!("cannot run the command: {e}")))?;
        Ok(exit_code(status))
    }
}

/// What makes `render --watch` stop.
#[cfg(unix)]
const STOP_SIGNALS: [i32; 3] = [
    rustix::process::Signal::TERM.as_raw(),
    rustix::process::Signal::INT.as_raw(),
    rustix::process::Signal::QUIT.as_raw(),
];
#[cfg(not(unix))]
const STOP_SIGNALS: [i32; 1] = [2];

/// Signals `run --watch` forwards to its child's process group.
#[cfg(unix)]
const FORWARDED: [Signal; 8] = [
    Signal::HUP,
    Signal::INT,
    Signal::QUIT,
    Signal::TERM,
    Signal::USR1,
    Signal::USR2,
    Signal::WINCH,
    Signal::ALARM,
];

/// Signal names `--signal` takes (with or without `SIG`, any case), besides numbers.
#[cfg(unix)]
const SIGNAL_NAMES: &[(&str, Signal)] = &[
    ("HUP", Signal::HUP),
    ("INT", Signal::INT),
    ("QUIT", Signal::QUIT),
    ("ILL", Signal::ILL),
    ("TRAP", Signal::TRAP),
    ("ABRT", Signal::ABORT),
    ("BUS", Signal::BUS),
    ("FPE", Signal::FPE),
    ("KILL", Signal::KILL),
    ("USR1", Signal::USR1),
    ("SEGV", Signal::SEGV),
    ("USR2", Signal::USR2),
    ("PIPE", Signal::PIPE),
    ("ALRM", Signal::ALARM),
    ("TERM", Signal::TERM),
    ("CHLD", Signal::CHILD),
    ("CONT", Signal::CONT),
    ("STOP", Signal::STOP),
    ("TSTP", Signal::TSTP),
    ("TTIN", Signal::TTIN),
    ("TTOU", Signal::TTOU),
    ("URG", Signal::URG),
    ("XCPU", Signal::XCPU),
    ("XFSZ", Signal::XFSZ),
    ("VTALRM", Signal::VTALARM),
    ("PROF", Signal::PROF),
    ("WINCH", Signal::WINCH),
    ("IO", Signal::IO),
    ("SYS", Signal::SYS),
];

/// A signal for `--signal`: a name (`HUP`, `sighup`, `SIGUSR1`) or a number (`1`).
#[cfg(unix)]
pub(crate) fn parse_signal(text: &str) -> Result<Signal, Error> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let found = match t.parse::<i32>() {
        Ok(n) => Signal::from_named_raw(n),
        Err(_) => SIGNAL_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s),
    };
    found.ok_or_else(|| {
        Error::config(
            "--signal",
            format!(
                "`{}` is not a signal; use a name such as HUP, USR1 or TERM, or its number",
                escape_terminal(t)
            ),
        )
    })
}

#[cfg(unix)]
fn signal_name(sig: Signal) -> String {
    SIGNAL_NAMES
        .iter()
        .find(|(_, s)| *s == sig)
        .map_or_else(|| sig.as_raw().to_string(), |(n, _)| format!("SIG{n}"))
}

/// `run --watch`: the CLI stays as the child's supervising parent.
#[cfg(unix)]
pub(crate) struct Supervisor<'a> {
    pub registry: &'a Registry,
    pub litellm: Option<&'a LiteLlmConfig>,
    pub groups: &'a [String],
    pub envs: &'a [String],
    pub clean_env: bool,
    pub command: &'a [String],
    /// Send this instead of restarting.
    pub signal: Option<Signal>,
    /// How long a child has to exit after SIGTERM before SIGKILL.
    pub kill_timeout: Duration,
}

#[cfg(unix)]
impl Supervisor<'_> {
    /// Watches every secret the child is given, starts it, and until it exits: forwards
    /// signals, and on a change restarts it with freshly rendered values (or signals it).
    /// Returns the child's exit code.
    pub(crate) async fn run(self) -> Result<u8, Error> {
        let (program, args) = self
            .command
            .split_first()
            .ok_or_else(|| Error::config("COMMAND", "no command given after --"))?;
        // Caught before any child exists, so a signal that comes early is not lost.
        let raw: Vec<i32> = FORWARDED.iter().map(|s| s.as_raw()).collect();
        let mut signals = Signals::catch(&raw)?;
        // Watch first, render second: a change between the two is seen as a change (one
        // restart), never lost.
        let mut changes = Changes::watch(self.registry, self.groups, self.targets().await?).await?;
        if changes.is_empty() {
            tracing::warn!("run --watch: the child is given no secret; there is nothing to watch");
        }
        let mut child = self.start(program, args).await?;
        let mut stopping = false;
        loop {
            tokio::select! {
                status = child.wait() => return Ok(exit_code(status.map_err(crate::io_err)?)),
                Some(sig) = signals.next() => {
                    stopping |= terminates(sig);
                    send(&child, sig);
                }
                Some(()) = changes.next(), if !stopping => match self.signal {
                    Some(sig) => {
                        eprintln!(
                            "strongroom: a secret of the child changed; sending it {}",
                            signal_name(sig)
                        );
                        send(&child, sig.as_raw());
                    }
                    None => {
                        // Render before stopping the old child: when the new values cannot
                        // be had, the old child keeps running.
                        let spec = match self.prepare().await {
                            Ok(spec) => spec,
                            Err(e) => {
                                eprintln!(
                                    "strongroom: a secret of the child changed, but rendering failed; the child keeps running with the values it has: {}",
                                    escape_terminal(&e.to_string())
                                );
                                continue;
                            }
                        };
                        eprintln!("strongroom: a secret of the child changed; restarting it");
                        if let Some(code) = self.stop(&mut child, &mut signals).await? {
                            return Ok(code);
                        }
                        child = spawn(spec, program, args)?;
                    }
                },
            }
        }
    }

    /// The placeholders the child's values come from: those of every `--env` template, and
    /// with `--litellm-config` the names read for its `os.environ/` references.
    async fn targets(&self) -> Result<Vec<Placeholder>, Error> {
        let mut out = Vec::new();
        for spec in self.envs {
            // A malformed NAME=TEMPLATE is refused by `prepare`, with its own message.
            if let Some((_, template)) = spec.split_once('=') {
                out.extend(Template::parse(template)?.placeholders().cloned());
            }
        }
        if let Some(config) = self.litellm {
            let resolved = config.resolve(self.registry, self.groups).await?;
            if !resolved.values.is_empty() {
                let manager = self
                    .registry
                    .default_manager(self.groups)?
                    .name()
                    .to_owned();
                for (var, _) in &resolved.values {
                    out.push(Placeholder {
                        manager: manager.clone(),
                        name: strongroom::SecretName::new(var)?,
                        field: None,
                    });
                }
            }
        }
        Ok(out)
    }

    async fn prepare(&self) -> Result<ChildSpec, Error> {
        ChildSpec::prepare(
            self.registry,
            self.litellm,
            self.groups,
            self.envs,
            self.clean_env,
        )
        .await
    }

    async fn start(&self, program: &str, args: &[String]) -> Result<tokio::process::Child, Error> {
        spawn(self.prepare().await?, program, args)
    }

    /// Stops `child` (SIGTERM to its group, SIGKILL after the timeout), forwarding signals
    /// meanwhile. `Some(code)` when a signal asked the supervisor itself to end.
    async fn stop(
        &self,
        child: &mut tokio::process::Child,
        signals: &mut Signals,
    ) -> Result<Option<u8>, Error> {
        send(child, Signal::TERM.as_raw());
        let mut stopping = false;
        let deadline = tokio::time::sleep(self.kill_timeout);
        tokio::pin!(deadline);
        let status = loop {
            tokio::select! {
                status = child.wait() => break status.map_err(crate::io_err)?,
                Some(sig) = signals.next() => {
                    stopping |= terminates(sig);
                    send(child, sig);
                }
                () = &mut deadline => {
                    eprintln!(
                        "strongroom: the child did not exit within {:?} of SIGTERM; killing it",
                        self.kill_timeout
                    );
                    send(child, Signal::KILL.as_raw());
                    break child.wait().await.map_err(crate::io_err)?;
                }
            }
        };
        Ok(stopping.then(|| exit_code(status)))
    }
}

/// Whether a forwarded signal means "stop": then the supervisor ends with its child.
#[cfg(unix)]
fn terminates(raw: i32) -> bool {
    [Signal::INT, Signal::QUIT, Signal::TERM]
        .iter()
        .any(|s| s.as_raw() == raw)
}

/// Starts the child in its own process group (so a signal is forwarded to it once, and
/// reaches what it started too), with exactly the environment of `spec`; the rendered values
/// are wiped once it runs.
#[cfg(unix)]
fn spawn(spec: ChildSpec, program: &str, args: &[String]) -> Result<tokio::process::Child, Error> {
    let mut cmd = spec.command(program, args);
    cmd.process_group(0).kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| {
        Error::config(
            "COMMAND",
            format!("cannot run `{}`: {e}", escape_terminal(program)),
        )
    })?;
    drop(cmd);
    drop(spec);
    Ok(child)
}

/// Sends `raw` to the child's process group (ignored once the child is gone).
#[cfg(unix)]
fn send(child: &tokio::process::Child, raw: i32) {
    let (Some(pid), Some(sig)) = (
        child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32)),
        Signal::from_named_raw(raw),
    ) else {
        return;
    };
    if let Err(e) = rustix::process::kill_process_group(pid, sig) {
        tracing::debug!("signal {raw} to the child: {e}");
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn signal_names_and_numbers() {
        assert_eq!(parse_signal("hup").unwrap(), Signal::HUP);
        assert_eq!(parse_signal(" SIGUSR1 ").unwrap(), Signal::USR1);
        assert_eq!(parse_signal("sigTerm").unwrap(), Signal::TERM);
        assert_eq!(
            parse_signal(&Signal::USR2.as_raw().to_string()).unwrap(),
            Signal::USR2
        );
        for bad in ["", "SIG", "HUPP", "0", "-1", "99999", "\u{1b}[2J"] {
            let err = parse_signal(bad).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::Config, "{bad:?}");
            assert!(!err.to_string().contains('\u{1b}'), "escaped: {err}");
        }
        assert_eq!(signal_name(Signal::HUP), "SIGHUP");
    }

    #[test]
    fn write_atomic_replaces_with_a_private_file_and_leaves_nothing_else() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.conf");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.conf"]);
        // A directory in the way: an error naming --out, and nothing left behind.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("x"), "x").unwrap();
        let err = write_atomic(&blocked, b"new").unwrap_err();
        assert!(err.to_string().contains("--out"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        assert!(write_atomic(Path::new("/"), b"x").is_err());
    }
}
