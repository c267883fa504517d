//! Google Secret Manager answers: `versions/*:access` (base64 payload, CRC32C), `ListSecrets`
//! pages, token endpoint answers, and `google.rpc.Status` errors. Input: op, status, option,
//! body (see `strongroom_fuzz::split`).
//!
//! Properties: no panic; values and tokens never show in an error or a `Debug`; mapped errors
//! carry no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_fuzz::{assert_clean_error, assert_no_marker, error_text, split};
use strongroom_gcp::fuzzing;

fuzz_target!(|data: &[u8]| {
    let Some((op, status, _opt, body)) = split(data) else {
        return;
    };
    match op % 4 {
        0 => match fuzzing::access_answer(body) {
            Ok(secret) => assert_no_marker("Debug of a value", &format!("{secret:?}")),
            Err(e) => {
                assert_clean_error(&e);
                assert_no_marker("access error", &error_text(&e));
            }
        },
        1 => match fuzzing::list_answer(body) {
            Ok(_) => {}
            Err(e) => assert_clean_error(&e),
        },
        2 => match fuzzing::token_answer(body) {
            Ok(_) => {}
            Err(e) => {
                assert_clean_error(&e);
                assert_no_marker("token error", &error_text(&e));
            }
        },
        _ => {
            let e = fuzzing::error_answer(status, body);
            assert_clean_error(&e);
        }
    }
});
