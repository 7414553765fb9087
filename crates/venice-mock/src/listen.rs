//! A small HTTP/1 accept loop for the replay and recording servers: each connection
//! runs a handler per request until the server is dropped.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Response bodies of these servers.
pub(crate) type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// What a handler answers: a response, or `None` to close the connection unanswered.
pub(crate) type Answer = Option<Response<Body>>;

/// A running accept loop; it stops when dropped.
#[derive(Debug)]
pub(crate) struct Listening {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Listening {
    /// Binds `addr` and serves every request with `handler`.
    pub(crate) async fn start<H, F>(addr: SocketAddr, handler: H) -> std::io::Result<Self>
    where
        H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
        F: Future<Output = Answer> + Send + 'static,
    {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, rx) = watch::channel(false);
        let handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let handler = Arc::clone(&handler);
                let mut shutdown = rx.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let answer = handler(req);
                        async move {
                            // An unanswered request closes the connection: hyper drops
                            // it when the service fails.
                            answer.await.ok_or(Unanswered)
                        }
                    });
                    let conn = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = conn => {}
                        _ = shutdown.changed() => {}
                    }
                });
            }
        });
        Ok(Self {
            addr,
            shutdown,
            task,
        })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.task.abort();
    }
}

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
struct Unanswered;

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("closed without an answer")
    }
}

impl std::error::Error for Unanswered {}

/// A whole body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    use http_body_util::BodyExt as _;
    http_body_util::Full::new(bytes.into())
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

/// The `502` answered when the upstream of a recording did not answer; a replay of
/// that exchange answers the same.
pub(crate) fn upstream_unreachable(why: &str) -> Response<Body> {
    let body = serde_json::json!({
        "error": format!("venice-mock record: {why}"),
        "code": "UPSTREAM_UNREACHABLE",
    });
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = http::StatusCode::BAD_GATEWAY;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
