//! Vault / OpenBao answers: KV v2 read (value field, `#field`, metadata, soft-deleted
//! versions, 404 shapes), LIST, and log-in / renew-self. Input: op, status, option, body.
//!
//! Properties: no panic; values and tokens never show in an error or a `Debug`; mapped errors
//! carry no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_fuzz::{assert_clean_error, assert_no_marker, error_text, split};
use strongroom_hcp_vault::fuzzing;

const FIELDS: [Option<&str>; 4] = [None, Some("password"), Some("key"), Some("user")];

fuzz_target!(|data: &[u8]| {
    let Some((op, status, opt, body)) = split(data) else {
        return;
    };
    match op % 3 {
        0 => {
            let field = FIELDS[usize::from(opt) % FIELDS.len()];
            match fuzzing::read_answer(status, body, "key", field) {
                Ok(Some(secret)) => {
                    assert_no_marker("Debug of a value", &format!("{:?}", secret.value));
                }
                Ok(None) => {}
                Err(e) => {
                    assert_clean_error(&e);
                    if status == 200 {
                        assert_no_marker("read error", &error_text(&e));
                    }
                }
            }
        }
        1 => match fuzzing::list_answer(status, body) {
            Ok(keys) => assert!(status == 200 || status == 404, "{status}: {keys:?}"),
            Err(e) => assert_clean_error(&e),
        },
        _ => match fuzzing::login_answer(status, body, opt & 1 == 1) {
            Ok(_) => assert!((200..300).contains(&status)),
            Err(e) => {
                assert_clean_error(&e);
                if (200..300).contains(&status) {
                    assert_no_marker("log-in error", &error_text(&e));
                }
            }
        },
    }
});
