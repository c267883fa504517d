//! Small helpers shared by the modules.

/// Serde helper: `SystemTime` as Unix seconds.
pub(crate) mod unix_seconds {
    use std::time::{SystemTime, UNIX_EPOCH};

    pub(crate) fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let secs = t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        s.serialize_u64(secs)
    }
}
