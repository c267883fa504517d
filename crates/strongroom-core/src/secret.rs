//! A secret value with the metadata the backend gave us.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::value::SecretValue;

/// How a secret's value comes to be.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecretKind {
    /// Stored as written.
    #[default]
    Static,
    /// Generated per request with a lease (Akeyless dynamic secrets).
    Dynamic,
    /// Rotated by the backend on a schedule.
    Rotated,
}

/// A secret: the value plus metadata. `Debug` never shows the value.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use strongroom_core::{Secret, SecretKind};
/// let s = Secret::new("s3cr3t")
///     .with_version("3")
///     .with_expires_at(SystemTime::now() + Duration::from_secs(60));
/// assert_eq!(s.version.as_deref(), Some("3"));
/// assert_eq!(s.kind, SecretKind::Static);
/// assert!(!format!("{s:?}").contains("s3cr3t"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Secret {
    /// The value.
    pub value: SecretValue,
    /// The backend's version identifier, when it has one.
    pub version: Option<String>,
    /// When this version was created.
    pub created_at: Option<SystemTime>,
    /// When the secret was last changed.
    pub updated_at: Option<SystemTime>,
    /// When the value stops being valid (Azure `exp`, a dynamic secret's lease). Caches never
    /// keep a value past this.
    pub expires_at: Option<SystemTime>,
    /// Static, dynamic or rotated.
    pub kind: SecretKind,
    /// The content type the backend recorded.
    pub content_type: Option<String>,
    /// Tags / annotations.
    pub tags: BTreeMap<String, String>,
}

impl Secret {
    /// A static secret with no metadata.
    pub fn new(value: impl Into<SecretValue>) -> Self {
        Secret {
            value: value.into(),
            version: None,
            created_at: None,
            updated_at: None,
            expires_at: None,
            kind: SecretKind::Static,
            content_type: None,
            tags: BTreeMap::new(),
        }
    }

    /// Sets the version.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets the creation time.
    pub fn with_created_at(mut self, t: SystemTime) -> Self {
        self.created_at = Some(t);
        self
    }

    /// Sets the update time.
    pub fn with_updated_at(mut self, t: SystemTime) -> Self {
        self.updated_at = Some(t);
        self
    }

    /// Sets the expiry.
    pub fn with_expires_at(mut self, t: SystemTime) -> Self {
        self.expires_at = Some(t);
        self
    }

    /// Sets the kind.
    pub fn with_kind(mut self, kind: SecretKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Adds a tag.
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Whether the secret's own expiry has passed.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// This secret with its value replaced by one JSON field of it (see
    /// [`SecretValue::json_field`]); `Ok(None)` when the field is absent.
    pub fn select_field(self, field: &str) -> crate::Result<Option<Secret>> {
        Ok(self
            .value
            .json_field(field)?
            .map(|value| Secret { value, ..self }))
    }
}
