//! Record: a local forwarding server that writes real traffic to a cassette
//! (feature `record`).
//!
//! Point a client at [`Recorder::base_url`] with real credentials: every request is
//! forwarded unchanged (method, path, query, headers except the hop-by-hop ones and
//! `Host`, body) to the upstream — HTTPS or HTTP — and the answer comes back unchanged
//! (compressed bodies stay compressed), both ways streamed chunk by chunk with no extra
//! buffering. Meanwhile each body is copied, decoded from its `Content-Encoding` and
//! scrubbed ([`crate::scrub`]) as it passes; the copy stays in memory up to
//! [`INLINE_MAX`](crate::cassette::INLINE_MAX) bytes and goes to a side file beyond, so memory stays flat whatever the
//! body size. When an exchange completes its line is appended to the cassette: secrets
//! never reach the file, not even a side file, because scrubbing happens before writing.
//!
//! The forwarder knows no API path: it forwards opaque requests to the one upstream it
//! was given, which is why the architecture test lets it build requests by hand.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use venice_mock::MockServer;
//! use venice_mock::record::RecordOptions;
//!
//! let recorder = MockServer::record(
//!     RecordOptions::new("https://api.venice.ai/api/v1", "traffic.cassette").shrink_images(true),
//! )
//! .await?;
//! // run the client against recorder.base_url() with a real VENICE_API_KEY ...
//! let summary = recorder.finish().await?;
//! println!("{} exchanges in {}", summary.exchanges, summary.cassette.display());
//! # Ok(()) }
//! ```

mod copy;
mod known;
mod lines;
mod tee;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt as _;
use http::{HeaderMap, Request, Response};
use http_body_util::BodyExt as _;
use hyper::body::{Frame, Incoming};
use tokio::sync::{Notify, oneshot};

use crate::cassette::{CassetteError, CassetteWriter, Header, Message};
use crate::listen::{self, Answer, Listening};
use crate::scrub::Secrets;
use crate::server::MockServer;

use copy::{Copy, SideFile};
use known::SecretsCell;
use lines::{Completed, Lines};
use tee::{Ended, tee};

/// How long [`Recorder::finish`] waits for exchanges still in flight.
pub const FINISH_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers that belong to one connection and are never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// What to record, where from and how.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    upstream: String,
    out: PathBuf,
    addr: SocketAddr,
    secrets: Secrets,
    shrink_images: bool,
    root_certificates: Vec<Vec<u8>>,
}

impl RecordOptions {
    /// Record traffic to `upstream` (a base URL such as
    /// `https://api.venice.ai/api/v1`) into the cassette file `out`.
    pub fn new(upstream: impl Into<String>, out: impl Into<PathBuf>) -> Self {
        Self {
            upstream: upstream.into().trim_end_matches('/').to_owned(),
            out: out.into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            secrets: Secrets::new(),
            shrink_images: false,
            root_certificates: Vec::new(),
        }
    }

    /// The local address to listen on (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Values to scrub besides what the traffic reveals (API keys, private keys in any
    /// encoding); e.g. [`Secrets::from_env`].
    pub fn secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = secrets;
        self
    }

    /// Replace image payloads by small images of the same format and aspect.
    pub fn shrink_images(mut self, on: bool) -> Self {
        self.shrink_images = on;
        self
    }

    /// Replace wallet addresses everywhere by stand-ins.
    pub fn redact_wallets(mut self, on: bool) -> Self {
        self.secrets.redact_wallets(on);
        self
    }

    /// Trust this root certificate (PEM) for the upstream besides the system's, e.g.
    /// a test server's self-signed one.
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }
}

/// Why recording failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The upstream URL is not an `http` or `https` URL.
    #[error("the upstream {0:?} is not an http:// or https:// URL")]
    Upstream(String),
    /// The HTTP client could not be built (e.g. an unreadable root certificate).
    #[error("cannot build the recorder's HTTP client")]
    Client(#[source] reqwest::Error),
    /// The cassette could not be written.
    #[error(transparent)]
    Cassette(#[from] CassetteError),
    /// Binding the socket failed.
    #[error("recorder: cannot listen")]
    Io(#[source] std::io::Error),
    /// Exchanges were still in flight when [`Recorder::finish`] gave up waiting, or
    /// lines could not be written.
    #[error("recorder: {0}")]
    Incomplete(String),
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSummary {
    /// The cassette file.
    pub cassette: PathBuf,
    /// How many exchanges it holds.
    pub exchanges: u64,
}

struct Shared {
    client: reqwest::Client,
    origin: String,
    writer: Arc<Mutex<CassetteWriter>>,
    secrets: SecretsCell,
    shrink_images: bool,
    seq: AtomicU64,
    in_flight: AtomicU64,
    written: AtomicU64,
    idle: Notify,
    errors: Mutex<Vec<String>>,
}

/// A running recorder; [`finish`](Self::finish) it to be sure every line is written.
pub struct Recorder {
    listening: Listening,
    shared: Arc<Shared>,
    base_path: String,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("addr", &self.listening.addr())
            .field("upstream", &self.shared.origin)
            .finish()
    }
}

impl MockServer {
    /// Starts a recorder (see [`crate::record`]).
    pub async fn record(options: RecordOptions) -> Result<Recorder, RecordError> {
        Recorder::start(options).await
    }
}

/// `(origin, base path)` of an `http(s)://host[:port][/path]` URL.
fn split_upstream(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    (!host.is_empty()).then(|| {
        (
            format!("{scheme}://{host}"),
            path.trim_end_matches('/').to_owned(),
        )
    })
}

impl Recorder {
    /// Starts forwarding and recording.
    pub async fn start(options: RecordOptions) -> Result<Self, RecordError> {
        let (origin, base_path) = split_upstream(&options.upstream)
            .ok_or_else(|| RecordError::Upstream(options.upstream.clone()))?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            // Forward bodies as they are: never decompress, never follow redirects.
            .no_gzip()
            .no_brotli()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30));
        let mut certificates = Vec::new();
        for pem in &options.root_certificates {
            certificates.push(reqwest::Certificate::from_pem(pem).map_err(RecordError::Client)?);
        }
        if !certificates.is_empty() {
            builder = builder.tls_certs_merge(certificates);
        }
        let client = builder.build().map_err(RecordError::Client)?;
        let mut header = Header::new(&options.upstream);
        header.shrink_images = options.shrink_images;
        header.redact_wallets = options.secrets.redacts_wallets();
        let writer = CassetteWriter::create(&options.out, &header)?;
        let shared = Arc::new(Shared {
            client,
            origin,
            writer: Arc::new(Mutex::new(writer)),
            secrets: SecretsCell::new(options.secrets),
            shrink_images: options.shrink_images,
            seq: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            written: AtomicU64::new(0),
            idle: Notify::new(),
            errors: Mutex::new(Vec::new()),
        });
        let handler_shared = Arc::clone(&shared);
        let listening = Listening::start(options.addr, move |req| {
            let shared = Arc::clone(&handler_shared);
            async move { forward(shared, req).await }
        })
        .await
        .map_err(RecordError::Io)?;
        Ok(Self {
            listening,
            shared,
            base_path,
        })
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.listening.addr()
    }

    /// The base URL to give the client: this server with the upstream's path, e.g.
    /// `http://127.0.0.1:PORT/api/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr(), self.base_path)
    }

    /// How many exchanges have been written so far.
    pub fn recorded(&self) -> u64 {
        self.shared.written.load(Ordering::SeqCst)
    }

    /// Stops accepting, waits (up to [`FINISH_TIMEOUT`]) for the exchanges in flight to
    /// be written, and says what the cassette holds.
    pub async fn finish(self) -> Result<RecordSummary, RecordError> {
        drop(self.listening);
        let shared = self.shared;
        let deadline = tokio::time::Instant::now() + FINISH_TIMEOUT;
        loop {
            let idle = shared.idle.notified();
            if shared.in_flight.load(Ordering::SeqCst) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return Err(RecordError::Incomplete(format!(
                    "{} exchange(s) still in flight after {FINISH_TIMEOUT:?}",
                    shared.in_flight.load(Ordering::SeqCst)
                )));
            }
        }
        let errors = shared.errors.lock().map(|e| e.clone()).unwrap_or_default();
        if !errors.is_empty() {
            return Err(RecordError::Incomplete(errors.join("; ")));
        }
        let (cassette, side_dir) = shared
            .writer
            .lock()
            .map(|w| (w.path().to_path_buf(), w.side_dir()))
            .unwrap_or_default();
        // Bodies that spilled to disk and were then shrunk into their line leave the
        // side directory empty: no empty directory next to the cassette.
        let _ = std::fs::remove_dir(side_dir);
        Ok(RecordSummary {
            cassette,
            exchanges: shared.written.load(Ordering::SeqCst),
        })
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn header_pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &[u8])> {
    headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()))
}

fn content_encoding(headers: &HeaderMap) -> Option<String> {
    headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| v != "identity" && !v.is_empty())
}

/// Decrements the in-flight count when an exchange is done, however it ends.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.idle.notify_waiters();
    }
}

async fn forward(shared: Arc<Shared>, req: Request<Incoming>) -> Answer {
    shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let guard = InFlight(Arc::clone(&shared));
    let seq = shared.seq.fetch_add(1, Ordering::SeqCst);
    let at = SystemTime::now();
    let started = Instant::now();
    let (parts, incoming) = req.into_parts();
    let scrubber = shared.secrets.learn(|secrets| {
        let mut learned = false;
        for (name, value) in parts.headers.iter() {
            if let Ok(value) = value.to_str() {
                learned |= secrets.learn_header(name.as_str(), value);
            }
        }
        learned
    })?;
    let request = Message {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        // `Host` names the recorder's own port: noise in a diff.
        headers: scrubber.headers(
            header_pairs(&parts.headers).filter(|(n, _)| *n != http::header::HOST.as_str()),
        ),
        body: None,
    };
    let url = format!(
        "{}{}",
        shared.origin,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let side = |role| SideFile {
        writer: Arc::clone(&shared.writer),
        seq,
        role,
    };
    let request_copy = Copy::new(
        side("request"),
        &scrubber,
        content_encoding(&parts.headers).as_deref(),
    );
    let has_body =
        !hyper::body::Body::is_end_stream(&incoming) && content_length(&parts.headers) != Some(0);
    let (request_stream, request_done) = tee(
        http_body_util::BodyDataStream::new(incoming),
        request_copy,
        if has_body {
            content_length(&parts.headers)
        } else {
            Some(0)
        },
    );
    let mut upstream = shared.client.request(parts.method.clone(), url);
    for (name, value) in parts.headers.iter() {
        if name == http::header::HOST || HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        upstream = upstream.header(name, value);
    }
    if has_body {
        upstream = upstream.body(reqwest::Body::wrap_stream(request_stream));
    } else {
        drop(request_stream);
    }
    let pending = Pending {
        shared: Arc::clone(&shared),
        seq,
        at,
        started,
        request,
        request_done,
        request_json: is_json(&parts.headers),
        request_media: media(&parts.headers),
        _guard: guard,
    };
    let response = match upstream.send().await {
        Ok(r) => r,
        Err(e) => {
            let why = format!("the upstream did not answer: {}", error_chain(&e));
            let answer = listen::upstream_unreachable(&why);
            pending.complete_unanswered(why);
            return Some(answer);
        }
    };
    let status = response.status();
    let headers = response.headers().clone();
    let scrubber = shared.secrets.learn(|secrets| {
        let mut learned = false;
        for value in headers.get_all(http::header::SET_COOKIE) {
            if let Ok(v) = value.to_str() {
                learned |= secrets.learn_header("set-cookie", v);
            }
        }
        learned
    })?;
    let encoding = content_encoding(&headers);
    let mut recorded_headers = scrubber.headers(header_pairs(&headers));
    if encoding.is_some() {
        recorded_headers.retain(|(n, _)| n != "content-encoding");
    }
    let response_copy = Copy::new(side("response"), &scrubber, encoding.as_deref());
    let expected = content_length(&headers);
    let (stream, response_done) = tee(Box::pin(response.bytes_stream()), response_copy, expected);
    let answered = PendingResponse {
        status: status.as_u16(),
        headers: recorded_headers,
        encoding,
        json: is_json(&headers),
        media: media(&headers),
        done: response_done,
    };
    tokio::spawn(pending.complete_later(answered));
    let mut builder = Response::builder().status(status);
    for (name, value) in headers.iter() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            builder = builder.header(name, value);
        }
    }
    let body = http_body_util::StreamBody::new(stream.map(|chunk| {
        chunk
            .map(Frame::data)
            .map_err(|e| std::io::Error::other(error_chain(&e)))
    }));
    builder.body(body.boxed_unsync()).ok()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn media(headers: &HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn is_json(headers: &HeaderMap) -> bool {
    let media = media(headers).to_ascii_lowercase();
    let media = media
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    media == "application/json" || media.ends_with("+json")
}

/// The request half of an exchange, waiting for its bodies.
struct Pending {
    shared: Arc<Shared>,
    seq: u64,
    at: SystemTime,
    started: Instant,
    request: Message,
    request_done: oneshot::Receiver<Ended>,
    request_json: bool,
    request_media: String,
    _guard: InFlight,
}

/// The response half, waiting for its body.
struct PendingResponse {
    status: u16,
    headers: Vec<(String, String)>,
    encoding: Option<String>,
    json: bool,
    media: String,
    done: oneshot::Receiver<Ended>,
}

impl Pending {
    /// Completes an exchange that has no response.
    fn complete_unanswered(self, error: String) {
        tokio::spawn(self.write(None, Some(error)));
    }

    async fn complete_later(self, response: PendingResponse) {
        let PendingResponse {
            status,
            headers,
            encoding,
            json,
            media,
            done,
        } = response;
        let ended = done.await.ok();
        let finished = ended.map(|e| lines::finish(e, json, media, encoding));
        self.write(Some((status, headers, finished)), None).await;
    }

    async fn write(mut self, response: Option<lines::Answer>, error: Option<String>) {
        let request_ended = (&mut self.request_done).await.ok();
        let request_body = request_ended
            .map(|e| lines::finish(e, self.request_json, self.request_media.clone(), None));
        let duration_ms = self.started.elapsed().as_millis() as u64;
        let shared = Arc::clone(&self.shared);
        // Scrubbing again, shrinking and writing touch files: off the runtime.
        let result = tokio::task::spawn_blocking(move || {
            let Pending {
                shared,
                seq,
                at,
                request,
                ..
            } = self;
            let lines = Lines {
                secrets: &shared.secrets,
                writer: &shared.writer,
                shrink_images: shared.shrink_images,
            };
            lines.append(Completed {
                seq,
                at,
                duration_ms,
                request,
                request_body,
                response,
                error,
            })
        })
        .await;
        let outcome = match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => {
                shared.written.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                if let Ok(mut errors) = shared.errors.lock() {
                    errors.push(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_split_into_origin_and_base_path() {
        assert_eq!(
            split_upstream("https://api.venice.ai/api/v1"),
            Some(("https://api.venice.ai".into(), "/api/v1".into()))
        );
        assert_eq!(
            split_upstream("http://127.0.0.1:9"),
            Some(("http://127.0.0.1:9".into(), String::new()))
        );
        assert_eq!(split_upstream("ftp://x/y"), None);
        assert_eq!(split_upstream("nonsense"), None);
    }
}
