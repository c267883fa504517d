//! A fault-injecting TCP proxy, for putting faults between a client and a REAL server
//! (OpenBao, moto, Redis) or a fake without touching either.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use strongroom_testkit::proxy::{FaultProxy, ProxyMode};
//! let proxy = FaultProxy::start("127.0.0.1:8200".parse().unwrap()).await;
//! proxy.set_mode(ProxyMode::Latency(Duration::from_millis(200)));
//! proxy.set_mode(ProxyMode::Reset);      // new connections are closed at once
//! proxy.set_mode(ProxyMode::Blackhole);  // nothing is forwarded or answered any more
//! proxy.set_mode(ProxyMode::CutBody(5)); // HTTP/1: head and 5 body bytes, then closed
//! proxy.set_mode(ProxyMode::Pass);
//! proxy.record(true);                    // keep the bytes that pass, per connection
//! println!("point the client at {}", proxy.url());
//! # }
//! ```
//!
//! [`FaultProxy::start_tls`] terminates TLS with a [`TestCa`]'s server certificate and speaks
//! TLS to the target (a fake started with the same CA), so every mode — and recording — works
//! on the plaintext HTTP of an HTTPS fake.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::fake::TestCa;

/// What the proxy does to connections. A new mode applies to open connections too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward faithfully.
    Pass,
    /// Forward, delaying every chunk in both directions.
    Latency(Duration),
    /// Close new connections at once (a TCP reset) and cut open ones.
    Reset,
    /// Accept new connections, and forward or answer nothing on any connection (the client's
    /// timeout must fire). Connections held this way are closed when the mode changes.
    Blackhole,
    /// Forward only the first N bytes of each answer (what the server sends after a request),
    /// then close the connection.
    TruncateAfter(usize),
    /// HTTP/1: forward each answer's head (status line and headers, through the blank line)
    /// and the first N bytes of its body, then close the connection: a body cut short.
    CutBody(usize),
    /// Forward the next N answers whole (counted over every connection from the moment the
    /// mode is set), then close each connection as its answer starts: the request reached
    /// the server, its answer never comes back ("the write went through, the reply was lost").
    LoseAnswersAfter(usize),
}

/// The bytes that went through one connection while recording was on.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    /// Client to server, in order.
    pub requests: Vec<u8>,
    /// Server to client, in order (what the server sent, before any truncation).
    pub answers: Vec<u8>,
}

/// What the proxy recorded: one [`Exchange`] per connection.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    /// The connections, in the order they were accepted.
    pub exchanges: Vec<Exchange>,
}

impl Traffic {
    /// Whether any request contains `needle`.
    pub fn requests_contain(&self, needle: &[u8]) -> bool {
        self.exchanges.iter().any(|e| find(&e.requests, needle))
    }
    /// Whether any answer contains `needle`.
    pub fn answers_contain(&self, needle: &[u8]) -> bool {
        self.exchanges.iter().any(|e| find(&e.answers, needle))
    }
    /// How often `needle` occurs in the requests (e.g. `b"GET /v1/secret/data/x "` counts the
    /// requests that reached the server for `x`).
    pub fn requests_count(&self, needle: &[u8]) -> usize {
        if needle.is_empty() {
            return 0;
        }
        self.exchanges
            .iter()
            .map(|e| {
                e.requests
                    .windows(needle.len())
                    .filter(|w| *w == needle)
                    .count()
            })
            .sum()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[derive(Debug, Default)]
struct Recorder {
    on: AtomicBool,
    exchanges: Mutex<Vec<Exchange>>,
}

impl Recorder {
    /// A slot for a new connection, when recording.
    fn open(&self) -> Option<usize> {
        if !self.on.load(Ordering::SeqCst) {
            return None;
        }
        let mut ex = self.exchanges.lock().unwrap_or_else(|e| e.into_inner());
        ex.push(Exchange::default());
        Some(ex.len() - 1)
    }
    fn add(&self, slot: Option<usize>, request: bool, bytes: &[u8]) {
        let Some(i) = slot else { return };
        let mut ex = self.exchanges.lock().unwrap_or_else(|e| e.into_inner());
        let e = &mut ex[i];
        if request {
            e.requests.extend_from_slice(bytes);
        } else {
            e.answers.extend_from_slice(bytes);
        }
    }
}

/// The TLS ends of a TLS-terminating proxy.
#[derive(Clone)]
struct Tls {
    acceptor: tokio_rustls::TlsAcceptor,
    connector: tokio_rustls::TlsConnector,
}

impl Tls {
    fn new(ca: &TestCa) -> Tls {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let certs = CertificateDer::pem_slice_iter(ca.server_cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("server certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(ca.server_key_pem.as_bytes()).expect("key PEM");
        // No ALPN: clients fall back to HTTP/1.1, which `CutBody` understands.
        let server = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate");
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca.ca_pem.as_bytes()) {
            roots.add(cert.expect("CA PEM")).expect("CA certificate");
        }
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
        }
    }
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    tls: bool,
    target: Arc<Mutex<SocketAddr>>,
    mode: watch::Sender<ProxyMode>,
    connections: Arc<AtomicU64>,
    answers: Arc<AtomicU64>,
    recorder: Arc<Recorder>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .field("mode", &*self.mode.borrow())
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> FaultProxy {
        Self::start_inner(target, None).await
    }

    /// Like [`FaultProxy::start`], but terminates TLS with `ca`'s server certificate (it names
    /// `127.0.0.1` and `localhost`) and connects to `target` over TLS, trusting `ca`. Clients
    /// trust `ca` as they would the target.
    pub async fn start_tls(target: SocketAddr, ca: &TestCa) -> FaultProxy {
        Self::start_inner(target, Some(Tls::new(ca))).await
    }

    async fn start_inner(target: SocketAddr, tls: Option<Tls>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let (mode, mode_rx) = watch::channel(ProxyMode::Pass);
        let target = Arc::new(Mutex::new(target));
        let connections = Arc::new(AtomicU64::new(0));
        let recorder = Arc::new(Recorder::default());
        let answers = Arc::new(AtomicU64::new(0));
        let (t, c, r, a) = (
            Arc::clone(&target),
            Arc::clone(&connections),
            Arc::clone(&recorder),
            Arc::clone(&answers),
        );
        let is_tls = tls.is_some();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let target = *t.lock().unwrap_or_else(|e| e.into_inner());
                tokio::spawn(handle(
                    client,
                    target,
                    tls.clone(),
                    mode_rx.clone(),
                    Shared {
                        recorder: Arc::clone(&r),
                        answers: Arc::clone(&a),
                    },
                ));
            }
        });
        FaultProxy {
            addr,
            tls: is_tls,
            target,
            mode,
            connections,
            answers,
            recorder,
            task,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:<port>`, or `https://…` for a proxy from [`FaultProxy::start_tls`].
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Changes the mode, for new and open connections alike.
    pub fn set_mode(&self, mode: ProxyMode) {
        self.answers.store(0, Ordering::SeqCst);
        let _ = self.mode.send(mode);
    }

    /// Points new connections at another target (e.g. a restarted server on a new port).
    pub fn set_target(&self, target: SocketAddr) {
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = target;
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Starts or stops recording the bytes of connections accepted from now on (see
    /// [`FaultProxy::traffic`]). Off by default.
    pub fn record(&self, on: bool) {
        self.recorder.on.store(on, Ordering::SeqCst);
    }

    /// The bytes recorded so far, per connection.
    pub fn traffic(&self) -> Traffic {
        Traffic {
            exchanges: self
                .recorder
                .exchanges
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Closes with a TCP reset (a zero linger does not block on drop, unlike a non-zero one).
#[allow(deprecated)]
fn reset(stream: &TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
}

/// What the connections of one proxy share.
#[derive(Clone)]
struct Shared {
    recorder: Arc<Recorder>,
    /// Answers started since the mode was last set (for `LoseAnswersAfter`).
    answers: Arc<AtomicU64>,
}

async fn handle(
    client: TcpStream,
    target: SocketAddr,
    tls: Option<Tls>,
    mut mode: watch::Receiver<ProxyMode>,
    shared: Shared,
) {
    let current = *mode.borrow_and_update();
    match current {
        ProxyMode::Reset => {
            reset(&client);
            return;
        }
        ProxyMode::Blackhole => {
            hold(client, &mut mode).await;
            return;
        }
        _ => {}
    }
    let Ok(server) = TcpStream::connect(target).await else {
        reset(&client);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let slot = shared.recorder.open();
    match tls {
        None => relay(client, server, mode, &shared, slot).await,
        Some(tls) => {
            let Ok(client) = tls.acceptor.accept(client).await else {
                return;
            };
            let name = rustls::pki_types::ServerName::from(target.ip());
            let Ok(server) = tls.connector.connect(name, server).await else {
                return;
            };
            relay(client, server, mode, &shared, slot).await;
        }
    }
}

/// A new connection in `Blackhole` mode: read and drop what the client sends, answer nothing,
/// close when the mode changes or the client gives up.
async fn hold(mut client: TcpStream, mode: &mut watch::Receiver<ProxyMode>) {
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            r = client.read(&mut buf) => if matches!(r, Ok(0) | Err(_)) { return },
            changed = mode.changed() => if changed.is_err() || *mode.borrow() != ProxyMode::Blackhole { return },
        }
    }
}

/// Where the proxy is in the current answer.
#[derive(Debug, Default)]
struct Answer {
    /// Bytes of this answer forwarded so far.
    sent: usize,
    /// Whether this answer was counted as started.
    counted: bool,
    /// The last bytes of the head seen so far (to find `\r\n\r\n` across chunks).
    head_tail: Vec<u8>,
    /// Once the head is complete: body bytes forwarded so far.
    body_sent: Option<usize>,
}

impl Answer {
    /// How many bytes of `chunk` go to the client under `mode`, and whether the connection is
    /// then cut.
    fn allow(&mut self, mode: ProxyMode, chunk: &[u8]) -> (usize, bool) {
        match mode {
            ProxyMode::TruncateAfter(limit) => {
                let n = chunk.len().min(limit.saturating_sub(self.sent));
                self.sent += n;
                (n, self.sent >= limit)
            }
            ProxyMode::CutBody(limit) => {
                let mut head = 0;
                if self.body_sent.is_none() {
                    let mut seen = std::mem::take(&mut self.head_tail);
                    let before = seen.len();
                    seen.extend_from_slice(chunk);
                    match seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        Some(at) => {
                            head = at + 4 - before;
                            self.body_sent = Some(0);
                        }
                        None => {
                            head = chunk.len();
                            self.head_tail = seen[seen.len().saturating_sub(3)..].to_vec();
                        }
                    }
                }
                let Some(body_sent) = self.body_sent.as_mut() else {
                    self.sent += head;
                    return (head, false);
                };
                let body = (chunk.len() - head).min(limit.saturating_sub(*body_sent));
                *body_sent += body;
                let cut = *body_sent >= limit;
                self.sent += head + body;
                (head + body, cut)
            }
            _ => {
                self.sent += chunk.len();
                (chunk.len(), false)
            }
        }
    }
}

async fn relay<C, S>(
    client: C,
    server: S,
    mut mode: watch::Receiver<ProxyMode>,
    shared: &Shared,
    slot: Option<usize>,
) where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut sr, mut sw) = tokio::io::split(server);
    let mut up_buf = vec![0u8; 16 * 1024];
    let mut down_buf = vec![0u8; 16 * 1024];
    let mut answer = Answer::default();
    loop {
        let m = *mode.borrow_and_update();
        match m {
            ProxyMode::Reset => return,
            ProxyMode::Blackhole => {
                // Forward nothing; close once the mode changes (the peers have given up).
                while mode.changed().await.is_ok() {
                    if *mode.borrow() != ProxyMode::Blackhole {
                        break;
                    }
                }
                return;
            }
            _ => {}
        }
        tokio::select! {
            r = cr.read(&mut up_buf) => {
                let Ok(n) = r else { return };
                if n == 0 { let _ = sw.shutdown().await; return; }
                shared.recorder.add(slot, true, &up_buf[..n]);
                // The client speaks: whatever the server sends next is a new answer.
                answer = Answer::default();
                if let ProxyMode::Latency(d) = m { tokio::time::sleep(d).await; }
                if sw.write_all(&up_buf[..n]).await.is_err() { return; }
            }
            r = sr.read(&mut down_buf) => {
                let Ok(n) = r else { return };
                if n == 0 { let _ = cw.shutdown().await; return; }
                shared.recorder.add(slot, false, &down_buf[..n]);
                if answer.sent == 0 && !answer.counted {
                    answer.counted = true;
                    let index = shared.answers.fetch_add(1, Ordering::SeqCst);
                    if let ProxyMode::LoseAnswersAfter(after) = m && index >= after as u64 {
                        return;
                    }
                }
                if let ProxyMode::Latency(d) = m { tokio::time::sleep(d).await; }
                let (keep, cut) = answer.allow(m, &down_buf[..n]);
                if keep > 0 && cw.write_all(&down_buf[..keep]).await.is_err() { return; }
                if cut {
                    let _ = cw.flush().await;
                    return;
                }
            }
            changed = mode.changed() => { if changed.is_err() { return; } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_per_answer() {
        let mut a = Answer::default();
        assert_eq!(a.allow(ProxyMode::TruncateAfter(5), b"abc"), (3, false));
        assert_eq!(a.allow(ProxyMode::TruncateAfter(5), b"defg"), (2, true));
        let mut a = Answer::default();
        assert_eq!(a.allow(ProxyMode::TruncateAfter(0), b"abc"), (0, true));
    }

    #[test]
    fn cut_body_keeps_the_head_across_chunks() {
        let mut a = Answer::default();
        let m = ProxyMode::CutBody(3);
        assert_eq!(a.allow(m, b"HTTP/1.1 200 OK\r\nA: b\r"), (22, false));
        assert_eq!(a.allow(m, b"\n\r\nbody"), (6, true));
        let mut a = Answer::default();
        let head = b"HTTP/1.1 200 OK\r\n\r\n";
        assert_eq!(a.allow(m, head), (head.len(), false));
        assert_eq!(a.allow(m, b"ab"), (2, false));
        assert_eq!(a.allow(m, b"cd"), (1, true));
    }
}
