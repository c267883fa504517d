//! Akeyless answers: `get-secret-value`, `describe-item`, `list-items` and `/auth`, plus the
//! `{"error": …}` answers of each. Input: op, status, option, body.
//!
//! Properties: no panic; values and tokens never show in an error or a `Debug`; listed names
//! are valid names; mapped errors carry no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_akeyless::fuzzing;
use strongroom_fuzz::{assert_clean_error, assert_no_marker, error_text, split};

fuzz_target!(|data: &[u8]| {
    let Some((op, status, _opt, body)) = split(data) else {
        return;
    };
    let ok = (200..300).contains(&status);
    match op % 4 {
        0 => match fuzzing::get_secret_value_answer(status, body) {
            Ok(values) => {
                if let Some(values) = values {
                    assert!(ok);
                    for (path, _) in &values {
                        assert!(path.starts_with('/'), "{path:?}");
                    }
                    let shown: Vec<String> = values.iter().map(|(_, v)| format!("{v:?}")).collect();
                    assert_no_marker("Debug of values", &shown.join(","));
                }
            }
            Err(e) => {
                assert_clean_error(&e);
                if ok {
                    assert_no_marker("get-secret-value error", &error_text(&e));
                }
            }
        },
        1 => match fuzzing::describe_item_answer(status, body) {
            Ok(kind) => assert!(ok || kind.is_none()),
            Err(e) => assert_clean_error(&e),
        },
        2 => match fuzzing::list_items_answer(status, body) {
            Ok(Some((names, _folders, _next))) => {
                assert!(ok);
                for n in names {
                    assert!(!n.as_str().starts_with('/'), "{n}");
                }
            }
            Ok(None) => {}
            Err(e) => assert_clean_error(&e),
        },
        _ => match fuzzing::auth_answer(status, body) {
            Ok(token) => {
                assert!(ok && !token.is_empty());
                assert_no_marker("Debug of a token", &format!("{token:?}"));
            }
            Err(e) => {
                assert_clean_error(&e);
                if ok {
                    assert_no_marker("auth error", &error_text(&e));
                }
            }
        },
    }
});
