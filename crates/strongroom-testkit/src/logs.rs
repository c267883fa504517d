//! A process-wide TRACE subscriber that keeps every formatted log line, so tests can assert
//! that no secret ever reached a log.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static BUFFER: OnceLock<Buffer> = OnceLock::new();

/// Installs the capturing subscriber (once per process; later calls reuse it). Every span
/// and event at every level, from every crate, is formatted into memory.
pub fn install() {
    BUFFER.get_or_init(|| {
        let buf = Buffer::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        // Another global subscriber may already be set by the test binary; then capture
        // is best-effort and `captured()` says so by returning what it has.
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    });
}

/// Everything captured so far.
pub fn captured() -> String {
    install();
    let buf = BUFFER.get().expect("installed");
    String::from_utf8_lossy(&buf.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// Panics when any of `needles` occurs in the captured logs.
pub fn assert_absent(needles: &[&str]) {
    let logs = captured();
    for n in needles {
        assert!(
            !n.is_empty() && !logs.contains(n),
            "a secret leaked into the logs (needle of {} bytes)",
            n.len()
        );
    }
}
