//! Conjur answers: the authenticate answer (JSON token, compact JWT, base64 token) with its
//! payload expiry, the batch answer (plain and base64 values, with and without `#field`), and
//! error answers. Input: op, status, option, body (see `strongroom_fuzz::split`).
//!
//! Properties: no panic; a token or value never shows in an error or a `Debug`; a token is
//! sendable header text; the batch answers each asked name exactly once (found or missing);
//! mapped errors carry no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_conjur::fuzzing;
use strongroom_core::SecretName;
use strongroom_fuzz::{assert_clean_error, assert_no_marker, error_text, split};

const NAMES: [&str; 3] = ["db/password", "litellm/openai-api-key", "a"];
const FIELDS: [Option<&str>; 3] = [None, Some("password"), Some("user")];
const CONTENT_TYPES: [Option<&str>; 3] = [
    None,
    Some("text/plain"),
    Some("application/json; charset=utf-8"),
];

fuzz_target!(|data: &[u8]| {
    let Some((op, status, opt, body)) = split(data) else {
        return;
    };
    match op % 3 {
        0 => match fuzzing::token_answer(body) {
            Ok((token, _has_expiry)) => {
                assert!(!token.is_empty());
                assert_no_marker("Debug of a token", &format!("{token:?}"));
            }
            Err(e) => {
                assert_clean_error(&e);
                assert_no_marker("token error", &error_text(&e));
            }
        },
        1 => {
            let names: Vec<SecretName> =
                NAMES.iter().map(|n| SecretName::new(n).unwrap()).collect();
            let base64 = opt & 1 == 1;
            let field = FIELDS[usize::from(opt >> 1) % FIELDS.len()];
            match fuzzing::batch_answer(body, base64, "acct", &names, field) {
                Ok((found, missing)) => {
                    assert_eq!(found.len() + missing.len(), names.len());
                    let mut all: Vec<&SecretName> =
                        found.iter().map(|(n, _)| n).chain(missing.iter()).collect();
                    all.sort();
                    all.dedup();
                    assert_eq!(all.len(), names.len(), "each name once");
                    assert_no_marker("Debug of batch values", &format!("{found:?}"));
                }
                Err(e) => {
                    assert_clean_error(&e);
                    assert_no_marker("batch error", &error_text(&e));
                }
            }
        }
        _ => {
            let ct = CONTENT_TYPES[usize::from(opt) % CONTENT_TYPES.len()];
            let retry_after = (opt & 0x80 != 0).then_some("3");
            let status = if status < 400 { 500 } else { status };
            let e = fuzzing::error_answer(status, ct, retry_after, body);
            assert_clean_error(&e);
        }
    }
});
