//! The mapping between Strongroom names and Key Vault secret names.
//!
//! Key Vault names allow only `[0-9A-Za-z-]`, 1–127 characters, compared case-insensitively.
//! Strongroom names are `/`-separated paths that often contain `_`. The mapping keeps letters,
//! digits and single dashes as they are and spells the two other characters with runs of `-`:
//!
//! | Strongroom name | Key Vault name |
//! |---|---|
//! | `-` | `-` |
//! | `/` | `--` |
//! | `_` | `---` |
//!
//! So `litellm/db_password` ↔ `litellm--db---password` and `app/api-key` ↔ `app--api-key`.
//! A name already valid in Key Vault (`db-password`) maps to itself.
//!
//! To keep the mapping reversible, a name is refused ([`ErrorKind::InvalidName`], before any
//! call) when
//! * it contains a character other than `[0-9A-Za-z-/_]` (spaces, dots, non-ASCII letters …),
//! * two of `-`, `/`, `_` stand next to each other (`a--b`, `a-/b`, `a/_b`, `a__b`): the dash
//!   runs would be ambiguous,
//! * the mapped name is longer than 127 characters.
//!
//! Going back, each run of 1, 2 or 3 dashes becomes `-`, `/` or `_`. A Key Vault name with a
//! run of 4 or more dashes (created by other tools) has no Strongroom name; `list()` skips it.
//!
//! What collides: Key Vault compares names **case-insensitively**, so `App/Key` and `app/key`
//! are the same secret. Nothing else collides.
//!
//! [`ErrorKind::InvalidName`]: strongroom_core::ErrorKind::InvalidName

use strongroom_core::provider::DashMapping;
use strongroom_core::{Result, SecretName};

/// The longest Key Vault secret name.
pub const MAX_VAULT_NAME_LEN: usize = 127;

const MAPPING: DashMapping = DashMapping {
    backend: "Key Vault name",
    max_len: MAX_VAULT_NAME_LEN,
    underscore_native: false,
};

/// Maps a Strongroom name to its Key Vault name, or explains why it cannot be mapped.
///
/// ```
/// use strongroom_azure::to_vault_name;
/// use strongroom_core::SecretName;
/// let n = SecretName::new("litellm/db_password").unwrap();
/// assert_eq!(to_vault_name(&n).unwrap(), "litellm--db---password");
/// assert!(to_vault_name(&SecretName::new("with space").unwrap()).is_err());
/// ```
pub fn to_vault_name(name: &SecretName) -> Result<String> {
    MAPPING.encode(name)
}

/// Maps a Key Vault name back to its Strongroom name; `None` when it has none (characters
/// outside `[0-9A-Za-z-]`, a run of 4 or more dashes, or a result Strongroom rejects, such as
/// a leading `/`).
///
/// ```
/// use strongroom_azure::from_vault_name;
/// assert_eq!(from_vault_name("litellm--db---password").unwrap().as_str(), "litellm/db_password");
/// assert_eq!(from_vault_name("db-password").unwrap().as_str(), "db-password");
/// assert!(from_vault_name("a----b").is_none());
/// ```
pub fn from_vault_name(vault_name: &str) -> Option<SecretName> {
    MAPPING.decode(vault_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_core::ErrorKind;

    fn map(s: &str) -> Result<String> {
        to_vault_name(&SecretName::new(s).unwrap())
    }

    #[test]
    fn round_trips() {
        for (logical, vault) in [
            ("db-password", "db-password"),
            ("litellm/db-password", "litellm--db-password"),
            ("litellm/db_password", "litellm--db---password"),
            ("a/b/c/deep", "a--b--c--deep"),
            ("OPENAI_API_KEY", "OPENAI---API---KEY"),
            ("-lead", "-lead"),
            ("_lead", "---lead"),
            ("trail-", "trail-"),
            ("trail_", "trail---"),
            ("x", "x"),
            (
                "conformance-0a1b2c3d/conc/15",
                "conformance-0a1b2c3d--conc--15",
            ),
        ] {
            assert_eq!(map(logical).unwrap(), vault, "{logical}");
            assert_eq!(from_vault_name(vault).unwrap().as_str(), logical, "{vault}");
        }
    }

    #[test]
    fn every_vault_name_with_short_runs_round_trips() {
        for vault in ["a-b--c---d", "A--B", "1-2-3", "-", "x---"] {
            let logical = from_vault_name(vault).expect(vault);
            assert_eq!(map(logical.as_str()).unwrap(), vault);
        }
    }

    #[test]
    fn rejects_what_cannot_map() {
        for (bad, why) in [
            ("with space", "a space"),
            ("dotted.name", "`.`"),
            ("ünïcødé", "not allowed"),
            ("a--b", "next to each other"),
            ("a-/b", "next to each other"),
            ("a/-b", "next to each other"),
            ("a_/b", "next to each other"),
            ("a__b", "next to each other"),
            ("a-_b", "next to each other"),
            ("key@host", "`@`"),
        ] {
            let err = map(bad).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::InvalidName, "{bad}");
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn length_limit_counts_the_mapped_form() {
        assert!(map(&"a".repeat(127)).is_ok());
        let err = map(&"a".repeat(128)).unwrap_err();
        assert!(err.to_string().contains("128 characters"), "{err}");
        // 62 + 2 + 62 = 126 fits; with `_` (3) it is 127; one more letter is 128.
        assert!(map(&format!("{}/{}", "a".repeat(62), "b".repeat(62))).is_ok());
        assert!(map(&format!("{}_{}", "a".repeat(62), "b".repeat(62))).is_ok());
        assert!(map(&format!("{}_{}", "a".repeat(62), "b".repeat(63))).is_err());
    }

    #[test]
    fn unmappable_vault_names_are_skipped() {
        for v in ["a----b", "", "a_b", "a b", "--lead", "trail--"] {
            assert!(from_vault_name(v).is_none(), "{v}");
        }
    }
}
