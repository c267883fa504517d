//! The harness the fake servers run on: an axum router on a free loopback port (plain HTTP or
//! HTTPS with a test CA), with a queue of injected faults and a request counter.
//!
//! ```no_run
//! # async fn demo() {
//! use axum::{Router, routing::get};
//! use strongroom_testkit::fake::{Fault, FakeServer};
//! let server = FakeServer::start(Router::new().route("/", get(|| async { "hi" }))).await;
//! server.faults().push(Fault::Status(503));
//! server.faults().push(Fault::Drop);
//! println!("{}", server.url());
//! # }
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::StatusCode;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One injected fault, applied to the next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a small JSON error body.
    Status(u16),
    /// Answer 429 (or the given status) with `Retry-After: <secs>`.
    RetryAfter(u16, u64),
    /// Close the connection without answering.
    Drop,
    /// Answer 200 with a body that is not what the protocol promises.
    Malformed,
    /// Wait this long before handling the request normally.
    Delay(Duration),
    /// Send the status line and headers, then cut the body short.
    Truncate,
    /// Answer with this redirect status (301, 302, 303, 307, 308) and `Location: <url>`.
    Redirect(u16, String),
    /// Answer 200 with a body of this many bytes (`{"x":"aaaa…"}`), streamed; with a
    /// `Content-Length` when the flag is set, without one (chunked) otherwise.
    Oversized(u64, bool),
}

/// The fault queue and counters of one fake server.
#[derive(Debug, Default)]
pub struct Faults {
    queue: Mutex<VecDeque<Fault>>,
    latency: Mutex<Option<Duration>>,
    requests: AtomicU64,
}

impl Faults {
    /// Queues a fault for the next request.
    pub fn push(&self, fault: Fault) {
        self.queue.lock().unwrap().push_back(fault);
    }
    /// Queues `n` copies of a fault.
    pub fn push_n(&self, fault: Fault, n: usize) {
        let mut q = self.queue.lock().unwrap();
        for _ in 0..n {
            q.push_back(fault.clone());
        }
    }
    /// Drops every queued fault.
    pub fn clear(&self) {
        self.queue.lock().unwrap().clear();
    }
    /// Adds latency to every request.
    pub fn set_latency(&self, latency: Option<Duration>) {
        *self.latency.lock().unwrap() = latency;
    }
    /// Requests seen so far (faulted ones included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
    fn next(&self) -> Option<Fault> {
        self.queue.lock().unwrap().pop_front()
    }
}

async fn inject(faults: Arc<Faults>, req: Request, next: Next) -> Response {
    faults.requests.fetch_add(1, Ordering::SeqCst);
    let latency = *faults.latency.lock().unwrap();
    if let Some(d) = latency {
        tokio::time::sleep(d).await;
    }
    match faults.next() {
        None => next.run(req).await,
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            next.run(req).await
        }
        Some(Fault::Status(code)) => error_response(code, None),
        Some(Fault::RetryAfter(code, secs)) => error_response(code, Some(secs)),
        Some(Fault::Malformed) => Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from("{\"this is\": not json"))
            .unwrap(),
        Some(Fault::Truncate) => {
            // The error comes one poll after the first chunk: a pending body makes hyper
            // flush what it buffered, so the client really sees the head and part of the body
            // (an error in the same poll would close the connection with nothing sent).
            let head_and_part = futures_util::stream::iter([Ok::<_, std::io::Error>(
                axum::body::Bytes::from_static(b"{\"partial\":"),
            )]);
            let cut = futures_util::stream::once(async {
                tokio::task::yield_now().await;
                Err(std::io::Error::other("injected truncation"))
            });
            let stream = futures_util::StreamExt::chain(head_and_part, cut);
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header("content-length", "4096")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        Some(Fault::Redirect(code, location)) => Response::builder()
            .status(StatusCode::from_u16(code).unwrap_or(StatusCode::TEMPORARY_REDIRECT))
            .header("location", location)
            .body(Body::empty())
            .unwrap(),
        Some(Fault::Oversized(len, with_length)) => oversized(len, with_length),
        // Unwinding the connection task closes the socket without a response; resume_unwind
        // skips the panic hook, so nothing is printed.
        Some(Fault::Drop) => std::panic::resume_unwind(Box::new("injected connection drop")),
    }
}

/// A 200 JSON answer of `len` bytes, produced 64 KiB at a time (the server never holds it).
fn oversized(len: u64, with_length: bool) -> Response {
    const CHUNK: usize = 64 * 1024;
    let body_len = len.saturating_sub(8);
    let chunks = body_len.div_ceil(CHUNK as u64);
    let stream = futures_util::stream::iter((0..chunks).map(move |i| {
        let n = (body_len - i * CHUNK as u64).min(CHUNK as u64) as usize;
        Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b'a'; n]))
    }));
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::iter([Ok(axum::body::Bytes::from_static(b"{\"x\":\""))]),
        futures_util::StreamExt::chain(
            stream,
            futures_util::stream::iter([Ok(axum::body::Bytes::from_static(b"\"}"))]),
        ),
    );
    let mut b = Response::builder()
        .status(200)
        .header("content-type", "application/json");
    if with_length {
        b = b.header("content-length", (body_len + 8).to_string());
    }
    b.body(Body::from_stream(stream)).unwrap()
}

fn error_response(code: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(secs) = retry_after {
        b = b.header("retry-after", secs.to_string());
    }
    b.body(Body::from(format!(
        "{{\"error\":\"injected fault {code}\",\"errors\":[\"injected fault {code}\"]}}"
    )))
    .unwrap()
}

/// A test CA and a server certificate for `localhost` / `127.0.0.1` signed by it.
#[derive(Debug, Clone)]
pub struct TestCa {
    /// The CA certificate (PEM): trust this in clients.
    pub ca_pem: String,
    /// The server certificate (PEM).
    pub server_cert_pem: String,
    /// The server key (PEM).
    pub server_key_pem: String,
    ca_params: Arc<rcgen::CertificateParams>,
    ca_key: Arc<rcgen::KeyPair>,
}

impl TestCa {
    /// Makes a fresh CA and server certificate.
    pub fn new() -> TestCa {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "strongroom test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        TestCa {
            ca_pem: ca_cert.pem(),
            server_cert_pem: cert.pem(),
            server_key_pem: key.serialize_pem(),
            ca_params: Arc::new(ca_params),
            ca_key: Arc::new(ca_key),
        }
    }

    /// Issues a client certificate (PEM cert, PEM key) with `common_name`, signed by this CA.
    pub fn client_cert(&self, common_name: &str) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&self.ca_params, &*self.ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn server_config(&self) -> rustls::ServerConfig {
        use rustls::pki_types::pem::PemObject;
        let certs =
            rustls::pki_types::CertificateDer::pem_slice_iter(self.server_cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes())
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        cfg
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// A running fake server. Stops when dropped.
#[derive(Debug)]
pub struct FakeServer {
    addr: SocketAddr,
    tls: Option<TestCa>,
    faults: Arc<Faults>,
    task: JoinHandle<()>,
}

impl FakeServer {
    /// Serves `router` over plain HTTP on a free loopback port.
    pub async fn start(router: Router) -> FakeServer {
        Self::start_inner(router, None, 0).await
    }

    /// Serves `router` over HTTPS with a fresh [`TestCa`].
    pub async fn start_tls(router: Router) -> FakeServer {
        Self::start_inner(router, Some(TestCa::new()), 0).await
    }

    /// Serves `router` on a given port (0 = any), with optional TLS.
    pub async fn start_on(router: Router, tls: Option<TestCa>, port: u16) -> FakeServer {
        Self::start_inner(router, tls, port).await
    }

    async fn start_inner(router: Router, tls: Option<TestCa>, port: u16) -> FakeServer {
        let faults = Arc::new(Faults::default());
        let f = Arc::clone(&faults);
        let app = router.layer(axum::middleware::from_fn(move |req, next| {
            inject(Arc::clone(&f), req, next)
        }));
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let acceptor = tls
            .as_ref()
            .map(|ca| tokio_rustls::TlsAcceptor::from(Arc::new(ca.server_config())));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let app = app.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let builder = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    );
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                let _ = builder
                                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                                    .await;
                            }
                        }
                        None => {
                            let _ = builder
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        FakeServer {
            addr,
            tls,
            faults,
            task,
        }
    }

    /// `http(s)://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.addr.port())
    }

    /// `https://localhost:<port>` style URL with the host name the certificate names.
    pub fn url_with_host(&self, host: &str) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{host}:{}", self.addr.port())
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The test CA, for HTTPS servers.
    pub fn ca(&self) -> Option<&TestCa> {
        self.tls.as_ref()
    }

    /// The fault queue.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Stops serving (the port is freed).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
