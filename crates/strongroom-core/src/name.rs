//! Secret names, validated once at the edge.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The longest name Strongroom accepts, in bytes. Providers may cap lower (Azure: 127).
pub const MAX_NAME_LEN: usize = 512;

/// A validated secret name: `/`-separated segments such as `litellm/db-password`.
///
/// Rejected before any I/O: the empty name, NUL and every control character (C0, C1, U+0085,
/// U+2028, U+2029 — line breaks to YAML and log parsers), empty segments (so no leading or
/// trailing `/` and no `//`), `.` and `..` segments, and names longer than [`MAX_NAME_LEN`].
/// Spaces and non-ASCII letters are allowed; providers add their own rules on top.
///
/// Cloning is cheap (the text is shared).
///
/// ```
/// use strongroom_core::SecretName;
/// let name = SecretName::new("litellm/db password").unwrap();
/// assert_eq!(name.as_str(), "litellm/db password");
/// assert_eq!(name.segments().collect::<Vec<_>>(), ["litellm", "db password"]);
/// assert!(SecretName::new("../etc/passwd").is_err());
/// assert!(SecretName::new("a\nb").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretName(Arc<str>);

impl SecretName {
    /// Validates `name`.
    pub fn new(name: impl AsRef<str>) -> Result<Self> {
        let name = name.as_ref();
        validate(name)?;
        Ok(SecretName(Arc::from(name)))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated segments.
    pub fn segments(&self) -> std::str::Split<'_, char> {
        self.0.split('/')
    }

    /// The last segment.
    pub fn basename(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Everything before the last `/`, if there is one.
    pub fn parent(&self) -> Option<SecretName> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| SecretName(Arc::from(parent)))
    }

    /// `prefix` followed by this name. `prefix` is expected to end with `/` or be a name prefix
    /// such as `app-`; the result is validated again.
    pub fn with_prefix(&self, prefix: &str) -> Result<SecretName> {
        if prefix.is_empty() {
            return Ok(self.clone());
        }
        let mut joined = String::with_capacity(prefix.len() + self.0.len());
        joined.push_str(prefix);
        joined.push_str(&self.0);
        SecretName::new(joined)
    }

    /// `prefix` + this name, where `prefix` is known to be a valid name followed by `/`: only
    /// the length is checked again.
    pub(crate) fn with_valid_prefix(&self, prefix: &str) -> Result<SecretName> {
        let len = prefix.len() + self.0.len();
        if len > MAX_NAME_LEN {
            return SecretName::new(format!("{prefix}{}", self.0));
        }
        let mut joined = String::with_capacity(len);
        joined.push_str(prefix);
        joined.push_str(&self.0);
        Ok(SecretName(Arc::from(joined)))
    }

    /// This name with `prefix` removed from the front, if it starts with it.
    pub fn strip_prefix(&self, prefix: &str) -> Option<SecretName> {
        let rest = self.0.strip_prefix(prefix)?;
        SecretName::new(rest).ok()
    }
}

fn validate(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid_name(name, "a secret name may not be empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::invalid_name(
            name,
            format!(
                "a secret name may be at most {MAX_NAME_LEN} bytes, this one is {}",
                name.len()
            ),
        ));
    }
    if let Some(c) = name.chars().find(|c| is_forbidden_char(*c)) {
        return Err(Error::invalid_name(
            name,
            format!(
                "control or invisible character {} is not allowed in a secret name",
                c.escape_unicode()
            ),
        ));
    }
    for segment in name.split('/') {
        match segment {
            "" => {
                return Err(Error::invalid_name(
                    name,
                    "empty segment: a name may not start or end with `/` or contain `//`",
                ));
            }
            "." | ".." => {
                return Err(Error::invalid_name(
                    name,
                    "`.` and `..` segments are not allowed",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Characters no name may hold: control characters (C0, DEL, C1 including U+0085), the Unicode
/// line/paragraph separators, and invisible format characters that make two names look alike
/// (zero-width spaces and joiners, bidirectional overrides and isolates, the BOM, soft hyphen,
/// tag characters).
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{2028}' | '\u{2029}' | '\u{ad}' | '\u{61c}' | '\u{180e}'
            | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
            | '\u{e0001}' | '\u{e0020}'..='\u{e007f}')
}

impl fmt::Debug for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SecretName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for SecretName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for SecretName {
    type Error = Error;
    fn try_from(value: &str) -> Result<Self> {
        SecretName::new(value)
    }
}

impl TryFrom<String> for SecretName {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        SecretName::new(value)
    }
}

impl std::str::FromStr for SecretName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        SecretName::new(s)
    }
}

impl serde::Serialize for SecretName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SecretName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SecretName::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn accepts_ordinary_names() {
        for ok in [
            "a",
            "litellm/db-password",
            "db password",
            "ünïcødé/ключ",
            "a.b_c-d",
            "x/y/z",
        ] {
            assert!(SecretName::new(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn rejects_hostile_names() {
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "",
            "/abs",
            "trailing/",
            "a//b",
            "..",
            "a/../b",
            "./a",
            "a/.",
            "a\0b",
            "a\nb",
            "a\rb",
            "a\tb",
            "a\u{7f}b",
            "a\u{85}b",
            "a\u{2028}b",
            "a\u{2029}b",
            "a\u{9b}b",
            "a\u{200b}b",
            "a\u{202e}b",
            "a\u{feff}b",
            "a\u{2066}b",
            long.as_str(),
        ] {
            let err = SecretName::new(bad).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::InvalidName, "{bad:?}");
            assert!(
                !err.to_string().chars().any(is_forbidden_char),
                "error text must not carry raw line breaks"
            );
        }
    }

    #[test]
    fn prefix_and_parent() {
        let n = SecretName::new("db/pass").unwrap();
        assert_eq!(
            n.with_prefix("litellm/").unwrap().as_str(),
            "litellm/db/pass"
        );
        assert_eq!(n.parent().unwrap().as_str(), "db");
        assert_eq!(n.basename(), "pass");
        let p = n.with_prefix("litellm/").unwrap();
        assert_eq!(p.strip_prefix("litellm/").unwrap(), n);
    }
}
