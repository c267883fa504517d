//! The one error type every store returns.
//!
//! An [`Error`] knows its [`ErrorKind`], the provider and [`Operation`] it came from, and the
//! secret name involved — never a value, token or key. [`Error::is_temporary`] tells retry logic
//! whether trying again can help; nothing in Strongroom matches on message text.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Shorthand for `Result<T, strongroom_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, independent of the backend.
///
/// ```
/// use strongroom_core::{Error, ErrorKind};
/// let err = Error::new(ErrorKind::Unavailable, "connection refused");
/// assert!(err.is_temporary());
/// assert_eq!(err.kind(), &ErrorKind::Unavailable);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The secret does not exist where an operation needs it to (reads return `Ok(None)` instead).
    NotFound,
    /// Refused by Strongroom's own policy (access mode, allowed groups) before any I/O.
    AccessDenied,
    /// The backend rejected our credentials (HTTP 401 or equivalent).
    Unauthorized,
    /// The backend accepted our credentials but refused the operation (HTTP 403 or equivalent).
    Forbidden,
    /// The backend cannot do this operation at all (Conjur delete, writes to the environment).
    Unsupported,
    /// The secret name is not acceptable for this backend; nothing was sent.
    InvalidName,
    /// The backend refused because of the object's state (check-and-set mismatch, soft-deleted name).
    Conflict,
    /// The backend asked us to slow down.
    RateLimited {
        /// How long the backend asked us to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The backend could not be reached or answered with a server error.
    Unavailable,
    /// The operation did not finish within its configured time.
    Timeout,
    /// The backend answered something we could not understand.
    Protocol,
    /// The configuration is invalid or incomplete.
    Config,
    /// The cache failed (only surfaced by cache-management calls; reads fall through to the backend).
    Cache,
    /// The server answered with a redirect, which is never followed: credentials go only to
    /// the configured host. The message names the target host.
    Redirected,
    /// An answer went past a configured bound (response size, pages, list length).
    LimitExceeded,
}

impl ErrorKind {
    /// Whether an error of this kind may succeed when tried again.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited { .. } | ErrorKind::Unavailable | ErrorKind::Timeout
        )
    }

    /// A short, stable, snake_case label (used in CLI JSON output and metrics).
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Unsupported => "not_supported",
            ErrorKind::InvalidName => "invalid_name",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited { .. } => "rate_limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Config => "config",
            ErrorKind::Cache => "cache",
            ErrorKind::Redirected => "redirected",
            ErrorKind::LimitExceeded => "limit_exceeded",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operation an error happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Reading one secret.
    Read,
    /// Reading several secrets.
    ReadMany,
    /// Writing a secret.
    Write,
    /// Deleting a secret.
    Delete,
    /// Listing names.
    List,
    /// Logging in to the backend.
    Auth,
    /// Building a store from its configuration.
    Config,
    /// A cache operation.
    Cache,
    /// Rendering placeholders.
    Render,
}

impl Operation {
    /// Lower-case label.
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::ReadMany => "read_many",
            Operation::Write => "write",
            Operation::Delete => "delete",
            Operation::List => "list",
            Operation::Auth => "auth",
            Operation::Config => "config",
            Operation::Cache => "cache",
            Operation::Render => "render",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// A Strongroom error: kind + context (provider, operation, secret name) + a message that never
/// holds a secret value, token or key.
///
/// Cheap to clone (the source is shared), so one backend failure can be handed to every caller
/// that waited on the same single-flight read.
///
/// ```
/// use strongroom_core::{Error, ErrorKind, Operation};
/// let err = Error::new(ErrorKind::Forbidden, "permission denied")
///     .with_provider("hcp-vault")
///     .with_operation(Operation::Read)
///     .with_name("db/password");
/// assert_eq!(err.to_string(), "hcp-vault read `db/password`: forbidden: permission denied");
/// assert!(!err.is_temporary());
/// ```
#[derive(Clone)]
pub struct Error(Box<Inner>);

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    provider: &'static str,
    operation: Option<Operation>,
    name: Option<String>,
    message: String,
    hint: Option<String>,
    temporary: Option<bool>,
    retry_after: Option<Duration>,
    source: Option<Source>,
}

impl Error {
    /// A new error of `kind` with a human message (must not contain secret material).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            provider: "",
            operation: None,
            name: None,
            message: message.into(),
            hint: None,
            temporary: None,
            retry_after: None,
            source: None,
        }))
    }

    /// Shorthand for a [`ErrorKind::Config`] error naming the setting.
    pub fn config(setting: &str, problem: impl fmt::Display) -> Self {
        Error::new(ErrorKind::Config, format!("setting `{setting}`: {problem}"))
            .with_operation(Operation::Config)
    }

    /// Shorthand for an [`ErrorKind::InvalidName`] error.
    pub fn invalid_name(name: &str, reason: impl fmt::Display) -> Self {
        Error::new(ErrorKind::InvalidName, reason.to_string()).with_name(printable(name))
    }

    /// Shorthand for an [`ErrorKind::Protocol`] error (a malformed answer).
    pub fn protocol(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, message)
    }

    /// Shorthand for an [`ErrorKind::Unsupported`] error with a hint of what to do instead.
    pub fn unsupported(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unsupported, message).with_hint(hint)
    }

    /// Shorthand for an [`ErrorKind::AccessDenied`] error.
    pub fn access_denied(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::AccessDenied, message)
    }

    /// Sets the provider label (`"conjur"`, `"hcp-vault"`, …) unless one is already set.
    pub fn with_provider(mut self, provider: &'static str) -> Self {
        if self.0.provider.is_empty() {
            self.0.provider = provider;
        }
        self
    }

    /// Sets the operation unless one is already set.
    pub fn with_operation(mut self, operation: Operation) -> Self {
        if self.0.operation.is_none() {
            self.0.operation = Some(operation);
        }
        self
    }

    /// Sets the secret name unless one is already set.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        if self.0.name.is_none() {
            self.0.name = Some(name.into());
        }
        self
    }

    /// Adds a hint: what the user can do next.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.0.hint = Some(hint.into());
        self
    }

    /// Attaches the underlying cause. The cause's `Display` is included in this error's message,
    /// so only attach causes that cannot contain secret material.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Arc::new(source));
        self
    }

    /// Overrides whether the error is temporary (e.g. a 501 "not initialised" is `Unavailable`
    /// but trying again will not help).
    pub fn with_temporary(mut self, temporary: bool) -> Self {
        self.0.temporary = Some(temporary);
        self
    }

    /// Fills provider, operation and name where the error does not have them yet.
    pub fn context(self, provider: &'static str, operation: Operation, name: Option<&str>) -> Self {
        let err = self.with_provider(provider).with_operation(operation);
        match name {
            Some(n) => err.with_name(n),
            None => err,
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The provider label, empty when unknown.
    pub fn provider(&self) -> &'static str {
        self.0.provider
    }

    /// The operation, when known.
    pub fn operation(&self) -> Option<Operation> {
        self.0.operation
    }

    /// The secret name involved, when there is one.
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// The message, without context.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// What the user can do next, when known.
    pub fn hint(&self) -> Option<&str> {
        self.0.hint.as_deref()
    }

    /// Records how long the backend asked us to wait (e.g. Conjur's 409 policy conflict).
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.0.retry_after = Some(after);
        self
    }

    /// How long the backend asked us to wait before trying again, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.0.kind {
            ErrorKind::RateLimited {
                retry_after: Some(d),
            } => Some(d),
            _ => self.0.retry_after,
        }
    }

    /// Whether trying the same operation again may succeed.
    pub fn is_temporary(&self) -> bool {
        self.0
            .temporary
            .unwrap_or_else(|| self.0.kind.is_temporary())
    }

    /// `true` for [`ErrorKind::NotFound`].
    pub fn is_not_found(&self) -> bool {
        self.0.kind == ErrorKind::NotFound
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote = false;
        if !self.0.provider.is_empty() {
            f.write_str(self.0.provider)?;
            wrote = true;
        }
        if let Some(op) = self.0.operation {
            if wrote {
                f.write_str(" ")?;
            }
            f.write_str(op.as_str())?;
            wrote = true;
        }
        if let Some(name) = &self.0.name {
            if wrote {
                f.write_str(" ")?;
            }
            write!(f, "`{name}`")?;
            wrote = true;
        }
        if wrote {
            f.write_str(": ")?;
        }
        // `config: config:` says nothing twice.
        if self.0.operation.map(|o| o.as_str()) == Some(self.0.kind.as_str()) {
            f.write_str(&self.0.message)?;
        } else {
            write!(f, "{}: {}", self.0.kind, self.0.message)?;
        }
        if let Some(source) = &self.0.source {
            write!(f, " ({source})")?;
        }
        if let Some(hint) = &self.0.hint {
            write!(f, "; hint: {hint}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("provider", &self.0.provider)
            .field("operation", &self.0.operation)
            .field("name", &self.0.name)
            .field("message", &self.0.message)
            .field("hint", &self.0.hint)
            .field("source", &self.0.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Renders a name for an error message with control characters escaped, so a hostile name can't
/// forge log lines.
pub(crate) fn printable(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(256));
    for (i, c) in name.chars().enumerate() {
        if i >= 200 {
            out.push('…');
            break;
        }
        if crate::name::is_forbidden_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}
