//! Name validation: `SecretName::new`, the Azure Key Vault name mapping, and Conjur's write
//! allowlist + policy emission.
//!
//! Properties: no panic; an accepted name keeps every documented rule; the Azure mapping
//! round-trips both ways (`to_vault_name` ∘ `from_vault_name` is the identity on what either
//! accepts) and only emits `[0-9A-Za-z-]{1,127}`; a name Conjur accepts for writing always
//! yields a policy that parses back to exactly one `!variable` record with that id, on one line
//! of printable ASCII — and the emitter keeps even text the allowlist refuses to one record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_azure::{MAX_VAULT_NAME_LEN, from_vault_name, to_vault_name};
use strongroom_conjur::ConjurStore;
use strongroom_conjur::policy::{is_single_variable_record, variable_record, yaml_double_quoted};
use strongroom_core::{ErrorKind, MAX_NAME_LEN, SecretName, is_forbidden_char};
use strongroom_fuzz::assert_clean_error;

fn check_policy(id: &str, must_emit: bool) {
    match variable_record(id) {
        Ok(doc) => {
            assert!(is_single_variable_record(&doc, id), "{doc:?}");
            assert!(
                doc.ends_with('\n') && doc.lines().count() == 1,
                "one line: {doc:?}"
            );
            assert!(
                doc.bytes()
                    .all(|b| (b' '..=b'~').contains(&b) || b == b'\n'),
                "printable ASCII: {doc:?}"
            );
        }
        Err(why) => assert!(!must_emit, "an allowlisted id was refused: {id:?}: {why}"),
    }
    // The emitter alone (lock 2), without the parse-back guard.
    let raw = format!("- !variable {}\n", yaml_double_quoted(id));
    assert!(
        is_single_variable_record(&raw, id),
        "the double-quoted scalar let {id:?} out of its record: {raw:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();

    match SecretName::new(text) {
        Ok(name) => {
            assert_eq!(name.as_str(), text);
            assert!(!text.is_empty() && text.len() <= MAX_NAME_LEN);
            assert!(!text.starts_with('/'));
            assert!(!text.chars().any(is_forbidden_char));
            assert!(
                text.split('/')
                    .all(|s| !s.is_empty() && s != "." && s != ".."),
                "{text:?}"
            );

            // Azure: Strongroom name → Key Vault name → the same Strongroom name.
            match to_vault_name(&name) {
                Ok(vault) => {
                    assert!(!vault.is_empty() && vault.len() <= MAX_VAULT_NAME_LEN);
                    assert!(
                        vault
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                        "{vault:?}"
                    );
                    let back = from_vault_name(&vault).expect("a mapped name maps back");
                    assert_eq!(back, name, "{vault:?}");
                }
                Err(e) => {
                    assert_eq!(e.kind(), &ErrorKind::InvalidName);
                    assert_clean_error(&e);
                }
            }

            // Conjur: the write allowlist, then the policy text.
            match ConjurStore::check_writable_name(&name) {
                Ok(()) => {
                    assert!(
                        text.bytes()
                            .all(|b| b.is_ascii_alphanumeric()
                                || matches!(b, b'.' | b'_' | b'-' | b'/'))
                            && !text.contains("..")
                            && !text.contains('$'),
                        "{text:?}"
                    );
                    check_policy(text, true);
                }
                Err(e) => {
                    assert_eq!(e.kind(), &ErrorKind::InvalidName);
                    assert_clean_error(&e);
                    check_policy(text, false);
                }
            }
        }
        Err(e) => {
            assert_eq!(e.kind(), &ErrorKind::InvalidName);
            assert_clean_error(&e);
            check_policy(text, false);
        }
    }

    // Azure: Key Vault name → Strongroom name → the same Key Vault name.
    if let Some(name) = from_vault_name(text) {
        assert_eq!(
            to_vault_name(&name)
                .expect("a name from Key Vault maps back")
                .as_str(),
            text
        );
    }
});
