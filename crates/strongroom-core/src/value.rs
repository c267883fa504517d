//! Secret values: wiped on drop, redacted in `Debug`, never `Display`ed.

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroize;

use crate::error::{Error, Result};

/// A secret value (text or bytes).
///
/// The bytes live in a [`secrecy::SecretBox`] and are zeroized when the last clone is dropped
/// (clones share one allocation, so a cache hit does not copy the secret). `Debug` prints
/// `[REDACTED]`; there is no `Display`; reading takes an explicit [`SecretValue::expose_secret`].
///
/// ```
/// use strongroom_core::SecretValue;
/// let v = SecretValue::from("hunter2");
/// assert_eq!(format!("{v:?}"), "SecretValue([REDACTED])");
/// assert_eq!(v.expose_secret(), b"hunter2");
/// assert_eq!(v.expose_str().unwrap(), "hunter2");
/// ```
#[derive(Clone)]
pub struct SecretValue(Arc<SecretBox<Vec<u8>>>);

impl SecretValue {
    /// Wraps bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        SecretValue(Arc::new(SecretBox::new(Box::new(bytes))))
    }

    /// Copies `bytes` into a new value (the caller stays responsible for its own copy).
    pub fn copy_from_slice(bytes: &[u8]) -> Self {
        SecretValue::from_bytes(bytes.to_vec())
    }

    /// The raw bytes. Keep the borrow short and do not log it.
    pub fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret().as_slice()
    }

    /// The value as UTF-8 text, or an error (without the bytes) when it is binary.
    pub fn expose_str(&self) -> Result<&str> {
        std::str::from_utf8(self.expose_secret())
            .map_err(|_| Error::protocol("the secret value is binary, not UTF-8 text"))
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.expose_secret().is_empty()
    }

    /// Whether the value is empty or only white space (Conjur refuses such values).
    pub fn is_blank(&self) -> bool {
        self.expose_secret().iter().all(|b| b.is_ascii_whitespace())
    }

    /// Reads `field` out of a JSON-object value: strings come back as their text, other JSON
    /// values as their JSON text. `Ok(None)` when the field is absent; an error (without the
    /// value) when the value is not a JSON object.
    ///
    /// ```
    /// use strongroom_core::SecretValue;
    /// let v = SecretValue::from(r#"{"user":"app","port":5432}"#);
    /// assert_eq!(v.json_field("user").unwrap().unwrap().expose_str().unwrap(), "app");
    /// assert_eq!(v.json_field("port").unwrap().unwrap().expose_str().unwrap(), "5432");
    /// assert!(v.json_field("missing").unwrap().is_none());
    /// ```
    pub fn json_field(&self, field: &str) -> Result<Option<SecretValue>> {
        let mut map = WipedJson(
            serde_json::from_slice::<serde_json::Value>(self.expose_secret()).map_err(|_| {
                Error::protocol(format!(
                    "field `{field}` was asked for, but the secret is not a JSON object"
                ))
            })?,
        );
        let serde_json::Value::Object(obj) = &mut map.0 else {
            return Err(Error::protocol(format!(
                "field `{field}` was asked for, but the secret is not a JSON object"
            )));
        };
        Ok(obj.get_mut(field).map(|v| match v {
            serde_json::Value::String(s) => SecretValue::from_bytes(std::mem::take(s).into_bytes()),
            other => SecretValue::from_bytes(serde_json::to_vec(other).unwrap_or_default()),
        }))
    }
}

/// A parsed JSON document whose strings (keys stay) are wiped when it is dropped: for
/// answers that carry secret values.
///
/// ```
/// let doc: strongroom_core::WipedJson = serde_json::from_str(r#"{"data":{"key":"v"}}"#).unwrap();
/// assert_eq!(doc.0["data"]["key"], "v");
/// ```
#[derive(Default, serde::Deserialize)]
#[serde(transparent)]
pub struct WipedJson(pub serde_json::Value);

impl fmt::Debug for WipedJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WipedJson([REDACTED])")
    }
}

impl Drop for WipedJson {
    fn drop(&mut self) {
        wipe_json(&mut self.0);
    }
}

/// Zeroizes every string value inside `v`, recursively.
pub fn wipe_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(a) => a.iter_mut().for_each(wipe_json),
        serde_json::Value::Object(o) => o.values_mut().for_each(wipe_json),
        _ => {}
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([REDACTED])")
    }
}

/// Reads a secret from configuration text (a TOML string, an environment variable).
impl<'de> serde::Deserialize<'de> for SecretValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(d).map(SecretValue::from)
    }
}

impl From<String> for SecretValue {
    fn from(s: String) -> Self {
        SecretValue::from_bytes(s.into_bytes())
    }
}

impl From<&str> for SecretValue {
    fn from(s: &str) -> Self {
        SecretValue::copy_from_slice(s.as_bytes())
    }
}

impl From<Vec<u8>> for SecretValue {
    fn from(b: Vec<u8>) -> Self {
        SecretValue::from_bytes(b)
    }
}

impl PartialEq for SecretValue {
    /// Constant-time in the length of the shorter value.
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.expose_secret(), other.expose_secret());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for SecretValue {}
