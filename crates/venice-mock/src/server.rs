//! The HTTP server: accept loop, request pipeline (route → rate limit → auth → body →
//! validation → faults → handler) and response finishing (headers, compression, log).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::auth;
use crate::config::{MockConfig, MockError};
use crate::faults::{Fault, FaultMix};
use crate::handlers::{self, Ctx};
use crate::log::{RecordedRequest, redacted_headers};
use crate::ratelimit::RateDecision;
use crate::response::{ApiError, Delivery, MockBody, Reply, compress, pick_encoding};
use crate::routes::{AuthMode, Route, RouteError, match_route};
use crate::state::AppState;

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
        format!("http://{}{}", self.addr, crate::routes::BASE_PATH)
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

    /// Sets (or with `None` clears) the seeded random fault mix.
    pub fn set_fault_rate(&self, mix: impl Into<Option<FaultMix>>) {
        self.state.faults.set_mix(mix.into());
    }

    /// The current USD balance of a wallet.
    pub fn wallet_balance(&self, address: &str) -> f64 {
        self.state.wallet_balance(address)
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
        let Ok((stream, _)) = listener.accept().await else {
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
                async move { Ok::<_, Infallible>(serve(state, kill, req).await) }
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

pub(crate) fn rate_headers(reply: &mut Reply, d: &RateDecision) {
    let h = &mut reply.headers;
    h.insert("x-ratelimit-limit-requests", HeaderValue::from(d.limit));
    h.insert(
        "x-ratelimit-remaining-requests",
        HeaderValue::from(d.remaining),
    );
    h.insert(
        "x-ratelimit-reset-requests",
        HeaderValue::from(d.reset_unix),
    );
}

fn rate_limited(d: &RateDecision) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded",
        Some("RATE_LIMIT_EXCEEDED"),
    )
    .header("retry-after", d.retry_after.to_string())
}

async fn serve(
    state: Arc<AppState>,
    kill: Arc<Notify>,
    req: Request<Incoming>,
) -> Response<MockBody> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let headers = req.headers().clone();
    let mut recorded = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: redacted_headers(&headers),
        body: None,
        status: 0,
    };
    let decision = state.limiter.check(&auth::rate_key(&headers));
    let mut reply = match pipeline(
        &state,
        req,
        &method,
        &path,
        query.as_deref(),
        &decision,
        &mut recorded.body,
    )
    .await
    {
        Ok(r) => r,
        Err(ApiError(r)) => *r,
    };
    rate_headers(&mut reply, &decision);
    if reply.delivery == Delivery::Reset {
        state.log.push(recorded.clone());
        kill.notify_one();
        // The connection task drops this future together with the connection.
        std::future::pending::<()>().await;
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

fn is_json_content_type(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

async fn read_json<B: BodyIn>(
    state: &AppState,
    req: Request<B>,
    route: &Route,
    recorded_body: &mut Option<Value>,
) -> Result<Value, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large",
            Some("PAYLOAD_TOO_LARGE"),
        )
    };
    let limit = state.config.max_body_bytes;
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    if !is_json_content_type(req.headers()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
            Some("UNSUPPORTED_MEDIA_TYPE"),
        ));
    }
    let bytes: Bytes = Limited::new(req.into_body(), limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Could not read the request body",
                    None,
                )
            }
        })?
        .to_bytes();
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::with_body(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "Invalid JSON body", "code": "INVALID_JSON", "message": e.to_string() }),
        )
    })?;
    *recorded_body = Some(value.clone());
    if let Some(validator) = crate::spec::request_validator(route.operation_id()) {
        validator
            .validate(&value)
            .map_err(|issues| ApiError::validation(&issues))?;
    }
    Ok(value)
}

/// Request bodies the pipeline reads: hyper's `Incoming`, or a buffer when fuzzing.
pub(crate) trait BodyIn:
    hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
{
}

impl<B> BodyIn for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
{
}

pub(crate) async fn pipeline<B: BodyIn>(
    state: &AppState,
    req: Request<B>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    decision: &RateDecision,
    recorded_body: &mut Option<Value>,
) -> Result<Reply, ApiError> {
    let route = match match_route(method, path) {
        Ok(r) => r,
        Err(RouteError::NotFound) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "Not found",
                Some("NOT_FOUND"),
            ));
        }
        Err(RouteError::MethodNotAllowed(allowed)) => {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("Method {method} is not allowed; use {allowed}"),
                Some("METHOD_NOT_ALLOWED"),
            )
            .header("allow", allowed));
        }
    };
    if !decision.allowed {
        return Err(rate_limited(decision));
    }
    let headers = req.headers().clone();
    let principal = match route.auth() {
        AuthMode::None => None,
        AuthMode::Optional => auth::authenticate_optional(&state.config, &headers)?,
        AuthMode::Required => Some(auth::authenticate(&state.config, &headers)?),
        AuthMode::Wallet => Some(auth::Principal::Wallet(auth::authenticate_wallet(
            &state.config,
            &headers,
        )?)),
    };
    if route.paid() && handlers::payment_header(&headers).is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Payment headers are only accepted by POST /x402/top-up",
            Some("PAYMENT_HEADER_NOT_ACCEPTED"),
        ));
    }
    let body = if route.has_json_body() {
        read_json(state, req, &route, recorded_body).await?
    } else {
        Value::Null
    };
    let fault = if route.paid() {
        state.faults.next()
    } else {
        None
    };
    match &fault {
        Some(Fault::Latency(d)) => tokio::time::sleep(*d).await,
        Some(Fault::Status500) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Inference processing failed",
                Some("INFERENCE_FAILED"),
            ));
        }
        Some(Fault::Status503) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The model is at capacity. Please try again later.",
                Some("MODEL_AT_CAPACITY"),
            )
            .header("retry-after", "1"));
        }
        Some(Fault::Status429) => return Err(rate_limited(decision)),
        Some(Fault::ResetConnection) => {
            let mut r = Reply::json(StatusCode::OK, &Value::Null);
            r.delivery = Delivery::Reset;
            return Ok(r);
        }
        Some(Fault::MalformedJson) => {
            let mut r = Reply::json(StatusCode::OK, &Value::Null);
            r.body = Bytes::from_static(b"{\"id\": \"generate-image-0\", \"images\": [\"iVBOR");
            r.compressible = false;
            return Ok(r);
        }
        Some(Fault::WrongContentType) => {
            return Ok(Reply::binary(
                "text/html",
                Bytes::from_static(b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
            ));
        }
        Some(Fault::TruncatedBody) | None => {}
    }
    let ctx = Ctx {
        state,
        principal,
        body,
        query,
        headers: &headers,
        path,
    };
    let mut reply = match &route {
        Route::Generate => handlers::generate(ctx).await?,
        Route::SimpleGenerate => handlers::simple_generate(ctx).await?,
        Route::Styles => handlers::styles(),
        Route::Models => handlers::models(&ctx)?,
        Route::Upscale => handlers::upscale(ctx).await?,
        Route::Edit => handlers::edit(ctx).await?,
        Route::MultiEdit => handlers::multi_edit(ctx).await?,
        Route::BackgroundRemove => handlers::background_remove(ctx).await?,
        Route::Balance(w) => handlers::balance(&ctx, w)?,
        Route::Transactions(w) => handlers::transactions(&ctx, w)?,
        Route::TopUp => handlers::top_up(&ctx)?,
    };
    if fault == Some(Fault::TruncatedBody) {
        reply.delivery = Delivery::Truncated;
    }
    Ok(reply)
}
