//! A fault-injecting TCP proxy, for putting faults between a client and a REAL server
//! (OpenBao, moto, Redis) without touching either.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use strongroom_testkit::proxy::{FaultProxy, ProxyMode};
//! let proxy = FaultProxy::start("127.0.0.1:8200".parse().unwrap()).await;
//! proxy.set_mode(ProxyMode::Latency(Duration::from_millis(200)));
//! proxy.set_mode(ProxyMode::Reset);      // new connections are closed at once
//! proxy.set_mode(ProxyMode::Blackhole);  // accepted, never answered
//! proxy.set_mode(ProxyMode::Pass);
//! println!("point the client at {}", proxy.addr());
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does to connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward faithfully.
    Pass,
    /// Forward, delaying every chunk in both directions.
    Latency(Duration),
    /// Close new connections at once and cut existing ones.
    Reset,
    /// Accept new connections and never forward or answer (the client's timeout must fire).
    Blackhole,
    /// Forward only the first N bytes of each answer, then close.
    TruncateAfter(usize),
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    mode: watch::Sender<ProxyMode>,
    connections: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let (mode, mode_rx) = watch::channel(ProxyMode::Pass);
        let target = Arc::new(Mutex::new(target));
        let connections = Arc::new(AtomicU64::new(0));
        let (t, c) = (Arc::clone(&target), Arc::clone(&connections));
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let rx = mode_rx.clone();
                let target = *t.lock().unwrap();
                tokio::spawn(handle(client, target, rx));
            }
        });
        FaultProxy {
            addr,
            target,
            mode,
            connections,
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

    /// Changes the mode; `Reset` also cuts open connections.
    pub fn set_mode(&self, mode: ProxyMode) {
        let _ = self.mode.send(mode);
    }

    /// Points new connections at another target (e.g. a restarted server on a new port).
    pub fn set_target(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
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

async fn handle(mut client: TcpStream, target: SocketAddr, mut mode: watch::Receiver<ProxyMode>) {
    let current = *mode.borrow();
    match current {
        ProxyMode::Reset => {
            reset(&client);
            return;
        }
        ProxyMode::Blackhole => {
            // Hold the connection open until the mode changes or the peer gives up.
            let mut buf = [0u8; 1024];
            loop {
                tokio::select! {
                    r = client.read(&mut buf) => if matches!(r, Ok(0) | Err(_)) { return },
                    changed = mode.changed() => if changed.is_err() || *mode.borrow() != ProxyMode::Blackhole { return },
                }
            }
        }
        _ => {}
    }
    let Ok(mut server) = TcpStream::connect(target).await else {
        reset(&client);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let mut up_buf = vec![0u8; 16 * 1024];
    let mut down_buf = vec![0u8; 16 * 1024];
    let mut sent_down = 0usize;
    loop {
        let m = *mode.borrow();
        if m == ProxyMode::Reset {
            return;
        }
        tokio::select! {
            r = cr.read(&mut up_buf) => {
                let Ok(n) = r else { return };
                if n == 0 { let _ = sw.shutdown().await; return; }
                if let ProxyMode::Latency(d) = m { tokio::time::sleep(d).await; }
                if sw.write_all(&up_buf[..n]).await.is_err() { return; }
            }
            r = sr.read(&mut down_buf) => {
                let Ok(n) = r else { return };
                if n == 0 { let _ = cw.shutdown().await; return; }
                if let ProxyMode::Latency(d) = m { tokio::time::sleep(d).await; }
                let n = match m {
                    ProxyMode::TruncateAfter(limit) => n.min(limit.saturating_sub(sent_down)),
                    _ => n,
                };
                if n == 0 || cw.write_all(&down_buf[..n]).await.is_err() { return; }
                sent_down += n;
            }
            changed = mode.changed() => { if changed.is_err() { return; } }
        }
    }
}
