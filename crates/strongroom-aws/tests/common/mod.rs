//! Test support: a recording pass-through in front of moto, so tests count the AWS calls (by
//! operation) and see which access key signed each one, without sleeping on moto's log.

#![allow(dead_code)] // each test binary uses part of this

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use strongroom_aws::AwsBuilder;
use strongroom_testkit::fake::{FakeServer, Faults};
use strongroom_testkit::servers::moto::{self, Moto};

/// One request the recorder passed on.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GetSecretValue`, … (from `X-Amz-Target`), or the path for other requests.
    pub op: String,
    /// The access key id of the SigV4 `Authorization` header.
    pub key_id: Option<String>,
    /// The region of the signature's credential scope.
    pub region: Option<String>,
    /// Whether an `X-Amz-Security-Token` (session token) came along.
    pub session_token: bool,
}

struct Inner {
    upstream: String,
    http: reqwest::Client,
    seen: Mutex<Vec<Seen>>,
}

/// A loopback server that records each request and forwards it to `upstream` (moto).
pub struct Recorder {
    server: FakeServer,
    inner: Arc<Inner>,
}

impl Recorder {
    /// Starts recording in front of `upstream`.
    pub async fn start(upstream: &str) -> Recorder {
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            seen: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&inner));
        Recorder {
            server: FakeServer::start(router).await,
            inner,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The fault queue (faults answer instead of moto).
    pub fn faults(&self) -> &Faults {
        self.server.faults()
    }

    /// Every request seen (faulted ones included).
    pub fn requests(&self) -> u64 {
        self.server.faults().requests()
    }

    /// The requests passed on so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// How many requests of operation `op` were passed on.
    pub fn count(&self, op: &str) -> usize {
        self.seen().iter().filter(|s| s.op == op).count()
    }

    /// The operations passed on, in order.
    pub fn ops(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.op).collect()
    }

    /// The distinct access key ids that signed requests.
    pub fn key_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.seen().into_iter().filter_map(|s| s.key_id).collect();
        ids.dedup();
        ids
    }

    /// The distinct signing regions.
    pub fn regions(&self) -> Vec<String> {
        let mut r: Vec<String> = self.seen().into_iter().filter_map(|s| s.region).collect();
        r.dedup();
        r
    }

    /// Forgets what was seen.
    pub fn clear(&self) {
        self.inner.seen.lock().unwrap().clear();
    }
}

async fn forward(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .map_or_else(|| uri.path().to_owned(), str::to_owned);
    // `AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request, …`
    let scope: Vec<String> = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split(',').next())
        .map(|c| c.split('/').map(str::to_owned).collect())
        .unwrap_or_default();
    inner.seen.lock().unwrap().push(Seen {
        op,
        key_id: scope.first().cloned(),
        region: scope.get(2).cloned(),
        session_token: headers.contains_key("x-amz-security-token"),
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = inner
        .http
        .request(method, format!("{}{path}", inner.upstream))
        .body(body);
    for (name, value) in &headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            req = req.header(name, value);
        }
    }
    let answer = match req.send().await {
        Ok(a) => a,
        Err(e) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(e.to_string().into())
                .unwrap();
        }
    };
    let mut out = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            out = out.header(name, value);
        }
    }
    out.body(answer.bytes().await.unwrap_or_default().into())
        .unwrap()
}

/// moto, a recorder in front of it, and a builder for stores that go through the recorder.
pub struct Stack {
    pub moto: Moto,
    pub rec: Recorder,
}

impl Stack {
    /// Starts both.
    pub async fn start() -> Stack {
        let moto = Moto::start().await;
        let rec = Recorder::start(moto.endpoint()).await;
        Stack { moto, rec }
    }

    /// A builder for a store that talks to moto through the recorder.
    pub fn builder(&self) -> AwsBuilder {
        AwsBuilder::new()
            .with_region(moto::REGION)
            .with_endpoint_url(self.rec.url())
            .with_access_key(moto::ACCESS_KEY_ID, moto::SECRET_ACCESS_KEY, None)
    }
}
