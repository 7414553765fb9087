//! The HTTP server: accept loop, request pipeline (route → rate limit → auth → body →
//! validation → faults → handler) and response finishing (headers, compression, log).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::body;
use crate::config::{MockConfig, MockError};
use crate::faults::{Fault, FaultMix};
use crate::log::{RecordedRequest, redacted_headers};
use crate::response::{Delivery, MockBody, Reply, compress, pick_encoding};
use crate::router::{self, BodySlot};
use crate::state::AppState;

/// What the mock's limits have seen since it started ([`MockServer::limit_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct LimitStats {
    /// Requests answered 429 "Too many failed attempts" (the error budget's lockout).
    pub lockouts: u64,
    /// Failed requests counted against the error budget.
    pub budget_failures: u64,
    /// The most requests one wallet had in flight at once on the inference and RPC
    /// routes, counting a request refused for arriving over the cap.
    pub wallet_peak_in_flight: usize,
    /// The most requests one wallet has in flight now.
    pub wallet_in_flight: usize,
    /// Requests refused with 429 `X402_CONCURRENCY_LIMIT`.
    pub concurrency_refusals: u64,
}

/// A running mock server; it stops when dropped.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MockServer {
    /// Binds `127.0.0.1:0` (a random free port) and starts serving.
    pub async fn start(config: MockConfig) -> Result<Self, MockError> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Binds a given address and starts serving.
    pub async fn start_on(config: MockConfig, addr: SocketAddr) -> Result<Self, MockError> {
        if config.rate_limit.is_some_and(|r| r.requests == 0) {
            return Err(MockError::Config(
                "rate_limit.requests must be > 0".to_owned(),
            ));
        }
        config
            .svm_payment_policy
            .validate()
            .map_err(MockError::Config)?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(AppState::new(config));
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state), rx));
        Ok(Self {
            addr,
            state,
            shutdown,
            task,
        })
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, e.g. `http://127.0.0.1:PORT/api/v1`.
    pub fn base_url(&self) -> String {
        format!(
            "http://{}{}",
            self.addr,
            crate::spec::embedded().base_path()
        )
    }

    /// Every request received so far (secrets redacted).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.log.snapshot()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.state.log.clear();
    }

    /// Queues faults for the next paid requests, in order.
    pub fn push_faults(&self, faults: Vec<Fault>) {
        self.state.faults.push(faults);
    }

    /// Queues faults for the next paid top-ups, in order.
    pub fn push_top_up_faults(&self, faults: Vec<crate::faults::TopUpFault>) {
        self.state.faults.push_top_up(faults);
    }

    /// Sets (or with `None` clears) the seeded random fault mix.
    pub fn set_fault_rate(&self, mix: impl Into<Option<FaultMix>>) {
        self.state.faults.set_mix(mix.into());
    }

    /// The current USD balance of a wallet.
    pub fn wallet_balance(&self, address: &str) -> f64 {
        self.state.wallet_balance(address)
    }

    /// What the mock's limits have seen so far: lockouts, refusals, the most requests
    /// one wallet had in flight.
    pub fn limit_stats(&self) -> LimitStats {
        LimitStats {
            lockouts: self.state.error_budget.lockouts(),
            budget_failures: self.state.error_budget.failures(),
            wallet_peak_in_flight: self.state.wallet_in_flight.peak(),
            wallet_in_flight: self.state.wallet_in_flight.now(),
            concurrency_refusals: self.state.wallet_in_flight.refused(),
        }
    }

    /// The model catalogue being served.
    pub fn catalog(&self) -> &crate::catalog::Catalog {
        &self.state.catalog
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<AppState>, shutdown: watch::Receiver<bool>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let kill_svc = Arc::clone(&kill);
            let svc = service_fn(move |req| {
                let state = Arc::clone(&state);
                let kill = Arc::clone(&kill_svc);
                async move { Ok::<_, Infallible>(serve(state, kill, peer.ip(), req).await) }
            });
            let conn = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                () = kill.notified() => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

async fn serve(
    state: Arc<AppState>,
    kill: Arc<Notify>,
    peer: IpAddr,
    req: Request<Incoming>,
) -> Response<MockBody> {
    let (parts, incoming) = req.into_parts();
    let method = parts.method;
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let headers = parts.headers;
    let mut recorded = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: redacted_headers(&headers),
        body: None,
        status: 0,
    };
    let mut slot = BodySlot(Some(incoming));
    let mut reply = router::answer(
        &state,
        &headers,
        &mut slot,
        &method,
        &path,
        query.as_deref(),
        peer,
        &mut recorded.body,
    )
    .await;
    if reply.delivery == Delivery::Reset {
        state.log.push(recorded.clone());
        kill.notify_one();
        // The connection task drops this future together with the connection.
        std::future::pending::<()>().await;
    }
    // A request refused before its body was read: read the rest, so a client still
    // uploading finishes and reads the answer instead of a reset connection.
    if let Some(rest) = slot.0.take()
        && !body::drain(rest, state.config.max_body_bytes).await
    {
        reply = reply.header("connection", "close");
    }
    recorded.status = reply.status.as_u16();
    state.log.push(recorded);
    finish(reply, &headers)
}

pub(crate) fn finish(mut reply: Reply, request_headers: &http::HeaderMap) -> Response<MockBody> {
    if reply.compressible
        && reply.delivery == Delivery::Normal
        && let Some(enc) = pick_encoding(request_headers)
        && let Some(compressed) = compress(enc, &reply.body)
    {
        reply.body = compressed;
        reply.headers.insert(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static(enc),
        );
        reply.headers.insert(
            http::header::VARY,
            HeaderValue::from_static("accept-encoding"),
        );
    }
    reply.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    let body = if reply.delivery == Delivery::Truncated {
        reply.headers.insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from(reply.body.len() as u64),
        );
        let half = reply.body.slice(..reply.body.len() / 2);
        MockBody::truncated(half)
    } else {
        MockBody::full(reply.body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    response
}
