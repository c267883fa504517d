//! `Template::parse` + `render` with a resolver returning fixed values.
//!
//! Properties: no panic; every parsed placeholder round-trips through `Placeholder::parse` of
//! its own text; rendering asks the resolver once per distinct placeholder; each placeholder
//! contributes exactly its value (checked by rendering with values of two lengths); failures
//! are errors (missing secret, resolver error) whose text holds no value.
#![no_main]

use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use strongroom_core::{
    Error, ErrorKind, Placeholder, PlaceholderResolver, Result, SecretValue, Template, async_trait,
};
use strongroom_fuzz::{MARKER, assert_clean_error, assert_no_marker, error_text};

/// Values are `MARKER` repeated `reps` times; manager `missing` → no such secret, `broken` →
/// an error.
struct Fixed {
    reps: usize,
    calls: AtomicUsize,
}

#[async_trait]
impl PlaceholderResolver for Fixed {
    async fn resolve(&self, p: &Placeholder) -> Result<Option<SecretValue>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match p.manager.as_str() {
            "missing" => Ok(None),
            "broken" => Err(Error::new(ErrorKind::Unavailable, "backend down")),
            _ => Ok(Some(SecretValue::from(MARKER.repeat(self.reps)))),
        }
    }
}

/// Drives a future whose every await is ready at once (the resolver never waits).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("render did not finish although the resolver never waits");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let template = match Template::parse(text) {
        Ok(t) => t,
        Err(e) => {
            assert_eq!(e.kind(), &ErrorKind::Config, "{e}");
            assert_clean_error(&e);
            return;
        }
    };
    let placeholders: Vec<&Placeholder> = template.placeholders().collect();
    for p in &placeholders {
        let shown = p.to_string();
        let inner = shown
            .strip_prefix("${secret:")
            .and_then(|s| s.strip_suffix('}'))
            .expect("placeholder text shape");
        let again = Placeholder::parse(inner).expect("a parsed placeholder parses again");
        assert_eq!(&again, *p);
    }
    let distinct: HashSet<&Placeholder> = placeholders.iter().copied().collect();
    let short = Fixed {
        reps: 1,
        calls: AtomicUsize::new(0),
    };
    let long = Fixed {
        reps: 2,
        calls: AtomicUsize::new(0),
    };
    let a = ready(template.render(&short));
    let b = ready(template.render(&long));
    let fails = distinct
        .iter()
        .any(|p| matches!(p.manager.as_str(), "missing" | "broken"));
    match (a, b) {
        (Ok(a), Ok(b)) => {
            assert!(!fails);
            assert_eq!(short.calls.load(Ordering::Relaxed), distinct.len());
            assert_eq!(
                b.len() - a.len(),
                placeholders.len() * MARKER.len(),
                "each placeholder contributes exactly its value"
            );
            assert_no_marker("Debug of a rendered value", &format!("{a:?}"));
        }
        (Err(ea), Err(eb)) => {
            assert!(fails, "render failed without a failing placeholder: {ea}");
            assert_eq!(ea.kind(), eb.kind());
            assert_clean_error(&ea);
            if !text.contains(MARKER) {
                assert_no_marker("render error", &error_text(&ea));
            }
        }
        (a, b) => panic!(
            "value length changed the outcome: {:?} / {:?}",
            a.err(),
            b.err()
        ),
    }
});
