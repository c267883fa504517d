//! The mapping between Strongroom names and Secret Manager secret ids.
//!
//! Secret ids allow only `[A-Za-z0-9_-]`, 1–255 characters (`CreateSecretRequest.secret_id`),
//! compared case-sensitively. Strongroom names are `/`-separated paths. The mapping keeps
//! letters, digits, `_` and single dashes as they are and spells `/` as two dashes:
//!
//! | Strongroom name | secret id |
//! |---|---|
//! | `-` | `-` |
//! | `/` | `--` |
//!
//! So `OPENAI_API_KEY` ↔ `OPENAI_API_KEY` (what LiteLLM reads), `litellm/virtual-key-1` ↔
//! `litellm--virtual-key-1`. A name already valid as a secret id without `--` maps to itself.
//!
//! To keep the mapping reversible a name is refused ([`ErrorKind::InvalidName`], before any
//! request) when
//! * it contains a character other than `[A-Za-z0-9_-/]` (spaces, dots, non-ASCII letters …),
//! * a `-` stands next to another `-` or a `/` (`a--b`, `a-/b`, `a/-b`): the runs would be
//!   ambiguous,
//! * the secret id would be longer than 255 characters.
//!
//! Going back, a run of one dash is `-` and of two is `/`. A secret id with a run of three or
//! more dashes (created by other tools) has no Strongroom name; `list()` skips it.
//!
//! [`ErrorKind::InvalidName`]: strongroom_core::ErrorKind::InvalidName

use strongroom_core::provider::DashMapping;
use strongroom_core::{Result, SecretName};

/// The longest secret id.
pub const MAX_SECRET_ID_LEN: usize = 255;

const MAPPING: DashMapping = DashMapping {
    backend: "Secret Manager id",
    max_len: MAX_SECRET_ID_LEN,
    underscore_native: true,
};

/// Maps a Strongroom name to its secret id, or explains why it cannot be mapped.
///
/// ```
/// use strongroom_gcp::to_secret_id;
/// use strongroom_core::SecretName;
/// let n = SecretName::new("litellm/virtual-key_1").unwrap();
/// assert_eq!(to_secret_id(&n).unwrap(), "litellm--virtual-key_1");
/// assert!(to_secret_id(&SecretName::new("a.b").unwrap()).is_err());
/// ```
pub fn to_secret_id(name: &SecretName) -> Result<String> {
    MAPPING.encode(name)
}

/// Maps a secret id back to its Strongroom name; `None` when it has none (characters outside
/// `[A-Za-z0-9_-]`, a run of three or more dashes, or a result Strongroom refuses, such as a
/// leading `/`).
///
/// ```
/// use strongroom_gcp::from_secret_id;
/// assert_eq!(from_secret_id("litellm--db-password").unwrap().as_str(), "litellm/db-password");
/// assert!(from_secret_id("a---b").is_none());
/// ```
pub fn from_secret_id(id: &str) -> Option<SecretName> {
    MAPPING.decode(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_core::ErrorKind;

    fn map(s: &str) -> Result<String> {
        to_secret_id(&SecretName::new(s).unwrap())
    }

    #[test]
    fn round_trips() {
        for (logical, id) in [
            ("OPENAI_API_KEY", "OPENAI_API_KEY"),
            ("db-password", "db-password"),
            ("litellm/virtual-key-1", "litellm--virtual-key-1"),
            ("a/b/c_d", "a--b--c_d"),
            ("-lead", "-lead"),
            ("trail-", "trail-"),
            ("_", "_"),
            ("conformance-0a1b/conc/15", "conformance-0a1b--conc--15"),
        ] {
            assert_eq!(map(logical).unwrap(), id, "{logical}");
            assert_eq!(from_secret_id(id).unwrap().as_str(), logical, "{id}");
        }
    }

    #[test]
    fn refuses_what_cannot_map() {
        for (bad, why) in [
            ("with space", "a space"),
            ("dotted.name", "`.`"),
            ("ünï", "not allowed"),
            ("a--b", "next to each other"),
            ("a-/b", "next to each other"),
            ("a/-b", "next to each other"),
            ("key@host", "`@`"),
        ] {
            let err = map(bad).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::InvalidName, "{bad}");
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn length_counts_the_mapped_form() {
        assert!(map(&"a".repeat(255)).is_ok());
        assert!(
            map(&"a".repeat(256))
                .unwrap_err()
                .to_string()
                .contains("256 characters")
        );
        assert!(map(&format!("{}/{}", "a".repeat(126), "b".repeat(127))).is_ok());
        assert!(map(&format!("{}/{}", "a".repeat(127), "b".repeat(127))).is_err());
    }

    #[test]
    fn ids_without_a_name_are_skipped() {
        for id in ["a---b", "", "a.b", "--lead", "trail--", "a b"] {
            assert!(from_secret_id(id).is_none(), "{id}");
        }
    }
}
