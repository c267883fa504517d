//! A reversible mapping of Strongroom names onto a backend's narrow alphabet (Azure Key Vault,
//! Google Secret Manager).

use crate::error::{Error, Result};
use crate::name::SecretName;

/// Maps `/`-separated Strongroom names onto an alphabet of ASCII letters, digits and `-` (and
/// `_` where the backend has it), spelling what the backend lacks as runs of dashes:
///
/// | Strongroom | backend |
/// |---|---|
/// | `-` | `-` |
/// | `/` | `--` |
/// | `_` (where the backend lacks it) | `---` |
///
/// To stay reversible, a name is refused before any request when it holds another character,
/// when two of the dash-spelled characters stand next to each other (`a--b`, `a-/b`), or when
/// the mapped name is longer than the backend allows. Going back, a dash run that spells
/// nothing (created by other tools) has no Strongroom name.
///
/// ```
/// use strongroom_core::SecretName;
/// use strongroom_core::provider::DashMapping;
/// let kv = DashMapping { backend: "Key Vault name", max_len: 127, underscore_native: false };
/// let name = SecretName::new("litellm/db_password").unwrap();
/// assert_eq!(kv.encode(&name).unwrap(), "litellm--db---password");
/// assert_eq!(kv.decode("litellm--db---password").unwrap(), name);
/// assert!(kv.decode("a----b").is_none());
/// assert!(kv.encode(&SecretName::new("a b").unwrap()).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DashMapping {
    /// What the backend calls a name, for error messages (`"Key Vault name"`).
    pub backend: &'static str,
    /// The longest name the backend takes.
    pub max_len: usize,
    /// Whether `_` is in the backend's alphabet (else it is spelled `---`).
    pub underscore_native: bool,
}

impl DashMapping {
    fn dash_spelled(&self, c: char) -> Option<&'static str> {
        match c {
            '-' => Some("-"),
            '/' => Some("--"),
            '_' if !self.underscore_native => Some("---"),
            _ => None,
        }
    }

    fn spelled(&self) -> &'static str {
        if self.underscore_native {
            "`/` is stored as `--`, so `-` and `/`"
        } else {
            "`/` is stored as `--` and `_` as `---`, so `-`, `/` and `_`"
        }
    }

    /// The backend name of `name`, or why it has none.
    pub fn encode(&self, name: &SecretName) -> Result<String> {
        let text = name.as_str();
        let mut out = String::with_capacity(text.len() + 8);
        let mut prev: Option<char> = None;
        for c in text.chars() {
            if let Some(spelling) = self.dash_spelled(c) {
                if let Some(p) = prev {
                    return Err(Error::invalid_name(
                        text,
                        format!(
                            "`{p}{c}` cannot be mapped to a {}: {} may not stand next to each other",
                            self.backend,
                            self.spelled()
                        ),
                    ));
                }
                prev = Some(c);
                out.push_str(spelling);
            } else if c.is_ascii_alphanumeric() || (c == '_' && self.underscore_native) {
                prev = None;
                out.push(c);
            } else {
                return Err(Error::invalid_name(
                    text,
                    format!(
                        "{} is not allowed: a {} takes only ASCII letters, digits{} and `-` \
                         (Strongroom also maps `/`{})",
                        describe(c),
                        self.backend,
                        if self.underscore_native { ", `_`" } else { "" },
                        if self.underscore_native {
                            ""
                        } else {
                            " and `_`"
                        },
                    ),
                ));
            }
        }
        if out.len() > self.max_len {
            return Err(Error::invalid_name(
                text,
                format!(
                    "the {} would be {} characters (`/` takes 2{}); at most {} are allowed",
                    self.backend,
                    out.len(),
                    if self.underscore_native {
                        ""
                    } else {
                        ", `_` takes 3"
                    },
                    self.max_len
                ),
            ));
        }
        Ok(out)
    }

    /// The Strongroom name of a backend name; `None` when it has none.
    pub fn decode(&self, backend_name: &str) -> Option<SecretName> {
        if backend_name.is_empty()
            || backend_name.len() > self.max_len
            || !backend_name.bytes().all(|b| {
                b.is_ascii_alphanumeric() || b == b'-' || (b == b'_' && self.underscore_native)
            })
        {
            return None;
        }
        let mut out = String::with_capacity(backend_name.len());
        let mut run = 0usize;
        let flush = |run: usize, out: &mut String| -> Option<()> {
            match run {
                0 => {}
                1 => out.push('-'),
                2 => out.push('/'),
                3 if !self.underscore_native => out.push('_'),
                _ => return None,
            }
            Some(())
        };
        for c in backend_name.chars() {
            if c == '-' {
                run += 1;
            } else {
                flush(run, &mut out)?;
                run = 0;
                out.push(c);
            }
        }
        flush(run, &mut out)?;
        SecretName::new(out).ok()
    }
}

fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        c if c.is_ascii() => format!("`{c}`"),
        c => format!("`{c}` ({})", c.escape_unicode()),
    }
}
