//! `${secret:<manager>/<name>[#field]}` placeholders.
//!
//! * `$${` is a literal `${` (so `$${secret:x/y}` renders as `${secret:x/y}`).
//! * Only `${secret:` starts a placeholder; other `${…}` text is left alone.
//! * Rendering fails closed: an unknown manager or a missing secret is an error naming the
//!   placeholder, never an empty substitution.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Operation, Result};
use crate::name::SecretName;
use crate::value::SecretValue;

const OPEN: &str = "${secret:";

/// One `${secret:…}` reference.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Placeholder {
    /// The manager name.
    pub manager: String,
    /// The secret name.
    pub name: SecretName,
    /// The JSON field, after `#`.
    pub field: Option<String>,
}

impl Placeholder {
    /// Parses the inside of `${secret:…}` (`manager/name[#field]`).
    ///
    /// ```
    /// use strongroom_core::Placeholder;
    /// let p = Placeholder::parse("aws/prod/db#password").unwrap();
    /// assert_eq!(p.manager, "aws");
    /// assert_eq!(p.name.as_str(), "prod/db");
    /// assert_eq!(p.field.as_deref(), Some("password"));
    /// assert_eq!(p.to_string(), "${secret:aws/prod/db#password}");
    /// ```
    pub fn parse(inner: &str) -> Result<Placeholder> {
        let bad = |why: &str| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "placeholder `${{secret:{}}}`: {why}",
                    crate::error::printable(inner)
                ),
            )
            .with_operation(Operation::Render)
        };
        let (manager, rest) = inner
            .split_once('/')
            .ok_or_else(|| bad("expected `<manager>/<name>`"))?;
        validate_manager_name(manager).map_err(|_| bad("the manager name is not valid"))?;
        let (name, field) = match rest.split_once('#') {
            Some((_, f)) if f.chars().any(crate::name::is_forbidden_char) => {
                return Err(bad("control characters are not allowed in a field name"));
            }
            Some((n, f)) if !f.is_empty() => (n, Some(f.to_owned())),
            Some(_) => return Err(bad("empty field after `#`")),
            None => (rest, None),
        };
        let name = SecretName::new(name).map_err(|e| bad(e.message()))?;
        Ok(Placeholder {
            manager: manager.to_owned(),
            name,
            field,
        })
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{secret:{}/{}", self.manager, self.name)?;
        if let Some(field) = &self.field {
            write!(f, "#{field}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Manager names: 1–64 of `[A-Za-z0-9_.-]`.
///
/// ```
/// assert!(strongroom_core::validate_manager_name("aws-prod").is_ok());
/// assert!(strongroom_core::validate_manager_name("a/b").is_err());
/// ```
pub fn validate_manager_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "manager name",
            format!(
                "`{}` must be 1-64 characters of letters, digits, `_`, `.` and `-`",
                crate::error::printable(name)
            ),
        ))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder(Placeholder),
}

/// A parsed template.
///
/// ```
/// use strongroom_core::Template;
/// let t = Template::parse("url=postgres://app:${secret:vault/db#password}@db cost=$${HOME}").unwrap();
/// assert_eq!(t.placeholders().count(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses `text`. An unterminated or malformed `${secret:…}` is an error.
    pub fn parse(text: &str) -> Result<Template> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(pos) = rest.find("${") {
            // `$${` escapes a literal `${`.
            if pos > 0 && rest.as_bytes()[pos - 1] == b'$' {
                literal.push_str(&rest[..pos - 1]);
                literal.push_str("${");
                rest = &rest[pos + 2..];
                continue;
            }
            literal.push_str(&rest[..pos]);
            let tail = &rest[pos..];
            if !tail.starts_with(OPEN) {
                literal.push_str("${");
                rest = &tail[2..];
                continue;
            }
            let body = &tail[OPEN.len()..];
            let end = body.find('}').ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "unterminated placeholder at byte {}: missing `}}`",
                        text.len() - tail.len()
                    ),
                )
                .with_operation(Operation::Render)
            })?;
            if !literal.is_empty() {
                segments.push(Segment::Literal(std::mem::take(&mut literal)));
            }
            segments.push(Segment::Placeholder(Placeholder::parse(&body[..end])?));
            rest = &body[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(Template { segments })
    }

    /// The placeholders, in order (duplicates included).
    pub fn placeholders(&self) -> impl Iterator<Item = &Placeholder> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Placeholder(p) => Some(p),
            Segment::Literal(_) => None,
        })
    }

    /// Resolves every placeholder (each distinct one once) and returns the rendered text as a
    /// secret. Fails closed.
    pub async fn render<R: PlaceholderResolver + ?Sized>(
        &self,
        resolver: &R,
    ) -> Result<SecretValue> {
        let mut values: HashMap<&Placeholder, SecretValue> = HashMap::new();
        for p in self.placeholders() {
            if values.contains_key(p) {
                continue;
            }
            let value = resolver
                .resolve(p)
                .await
                .map_err(|e| {
                    let msg = format!("placeholder {p}: {e}");
                    Error::new(e.kind().clone(), msg).with_operation(Operation::Render)
                })?
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        format!("placeholder {p}: the secret does not exist"),
                    )
                    .with_operation(Operation::Render)
                    .with_hint("create it, or fix the name in the template")
                })?;
            values.insert(p, value);
        }
        let mut out = Zeroizing::new(Vec::new());
        for s in &self.segments {
            match s {
                Segment::Literal(l) => out.extend_from_slice(l.as_bytes()),
                Segment::Placeholder(p) => out.extend_from_slice(values[p].expose_secret()),
            }
        }
        Ok(SecretValue::copy_from_slice(&out))
    }
}

/// Looks placeholders up (the facade's `Registry` implements it for a caller's groups).
#[async_trait]
pub trait PlaceholderResolver: Send + Sync {
    /// The value for `placeholder`, `Ok(None)` when the secret (or field) does not exist.
    async fn resolve(&self, placeholder: &Placeholder) -> Result<Option<SecretValue>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    #[async_trait]
    impl PlaceholderResolver for Fixed {
        async fn resolve(&self, p: &Placeholder) -> Result<Option<SecretValue>> {
            match (p.manager.as_str(), p.name.as_str(), p.field.as_deref()) {
                ("m", "a", None) => Ok(Some("A".into())),
                ("m", "j", Some("f")) => Ok(Some("F".into())),
                ("m", _, _) => Ok(None),
                _ => Err(Error::new(ErrorKind::Config, "unknown manager")),
            }
        }
    }

    async fn render(t: &str) -> Result<String> {
        let v = Template::parse(t)?.render(&Fixed).await?;
        Ok(v.expose_str().unwrap().to_owned())
    }

    #[tokio::test]
    async fn renders_and_escapes() {
        assert_eq!(
            render("x=${secret:m/a} y=${secret:m/j#f}").await.unwrap(),
            "x=A y=F"
        );
        assert_eq!(
            render("$${secret:m/a} ${HOME} $").await.unwrap(),
            "${secret:m/a} ${HOME} $"
        );
        assert_eq!(render("").await.unwrap(), "");
    }

    #[tokio::test]
    async fn fails_closed() {
        let e = render("a ${secret:m/missing} b").await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::NotFound);
        assert!(e.to_string().contains("${secret:m/missing}"));
        let e = render("${secret:nope/a}").await.unwrap_err();
        assert!(e.to_string().contains("${secret:nope/a}"));
        for bad in [
            "${secret:m/a",
            "${secret:noslash}",
            "${secret:m/../x}",
            "${secret:m/a#}",
            "${secret:/a}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
