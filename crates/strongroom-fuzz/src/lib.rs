//! Helpers shared by the fuzz targets.
//!
//! Input layout of the answer targets: byte 0 picks the operation, byte 1 the HTTP status
//! ([`status`]), byte 2 an option (field, flag), the rest is the body as received.
//!
//! Secret check: seed corpora put [`MARKER`] inside the values/tokens of answers. No parser
//! error text and no `Debug` output of a parsed value may contain it (no static message
//! contains it, so a hit means bytes of the answer leaked).

use strongroom_core::Error;

/// Planted in secret positions of the seed answers.
pub const MARKER: &str = "SRFZ";

/// Statuses the answer targets try; 200 is weighted up since most parsing happens there.
pub const STATUSES: [u16; 16] = [
    200, 200, 200, 200, 200, 404, 400, 401, 403, 409, 412, 422, 429, 500, 503, 204,
];

/// The status picked by byte `b`.
pub fn status(b: u8) -> u16 {
    STATUSES[usize::from(b) % STATUSES.len()]
}

/// Splits an answer-target input into (operation, status, option, body).
pub fn split(data: &[u8]) -> Option<(u8, u16, u8, &[u8])> {
    match data {
        [op, st, opt, body @ ..] => Some((*op, status(*st), *opt, body)),
        _ => None,
    }
}

/// Asserts that `text` (an error message or `Debug` output) holds no [`MARKER`].
pub fn assert_no_marker(what: &str, text: &str) {
    assert!(
        !text.contains(MARKER),
        "{what} leaks bytes of a secret position: {text:?}"
    );
}

/// The full text of an error: `Display` and `Debug`.
pub fn error_text(e: &Error) -> String {
    format!("{e} | {e:?}")
}

/// Asserts what every error shown to a user or a log has: no control characters or line
/// separators (server text is sanitised before it is quoted; nothing can forge a log line).
pub fn assert_clean_error(e: &Error) {
    let shown = e.to_string();
    assert!(
        !shown.chars().any(strongroom_core::is_forbidden_char),
        "error text holds control characters: {shown:?}"
    );
}
