//! Record: a local forwarding server that writes real traffic to a cassette
//! (feature `record`).
//!
//! Point a client at [`Recorder::base_url`] with real credentials: every request is
//! forwarded unchanged (method, path, query, headers except the hop-by-hop ones and
//! `Host`, body) to the upstream — HTTPS or HTTP — and the answer comes back unchanged
//! (compressed bodies stay compressed), both ways streamed chunk by chunk with no extra
//! buffering. Meanwhile each body is copied, decoded from its `Content-Encoding` and
//! scrubbed ([`crate::scrub`]) as it passes; the copy stays in memory up to
//! [`INLINE_MAX`] bytes and goes to a side file beyond, so memory stays flat whatever the
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

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use http::{HeaderMap, Request, Response};
use http_body_util::BodyExt as _;
use hyper::body::{Frame, Incoming};
use sha2::{Digest as _, Sha256};
use tokio::sync::{Notify, oneshot};

use crate::cassette::{
    Body, CassetteError, CassetteWriter, Exchange, Header, INLINE_MAX, Message, Response as Answered,
    rfc3339,
};
use crate::listen::{self, Answer, Listening};
use crate::scrub::{Scrubber, Secrets, StreamScrub};
use crate::server::MockServer;
use crate::shrink;

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
    writer: Mutex<CassetteWriter>,
    secrets: Mutex<Secrets>,
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
    (!host.is_empty()).then(|| (format!("{scheme}://{host}"), path.trim_end_matches('/').to_owned()))
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
            writer: Mutex::new(writer),
            secrets: Mutex::new(options.secrets),
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

/// A body copy being made: decoded, scrubbed, kept in memory or in a side file.
struct Copy {
    decoder: Decoder,
    error: Option<String>,
}

enum Decoder {
    Identity(Store),
    Gzip(flate2::write::GzDecoder<Store>),
    Brotli(Box<brotli::DecompressorWriter<Store>>),
}

/// Where scrubbed bytes go: memory up to [`INLINE_MAX`], then a side file.
struct Store {
    scrub: Option<StreamScrub>,
    scratch: Vec<u8>,
    memory: Vec<u8>,
    file: Option<(std::fs::File, PathBuf, String)>,
    side: SideFile,
    len: u64,
    hash: Sha256,
}

/// How to name a side file when one is needed.
#[derive(Clone)]
struct SideFile {
    shared: Arc<Shared>,
    seq: u64,
    role: &'static str,
}

impl Store {
    fn write_scrubbed(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.len += data.len() as u64;
        self.hash.update(data);
        if let Some((file, _, _)) = &mut self.file {
            return file.write_all(data);
        }
        self.memory.extend_from_slice(data);
        if self.memory.len() > INLINE_MAX {
            let (name, path) = self
                .side
                .shared
                .writer
                .lock()
                .map_err(|_| std::io::Error::other("cassette writer poisoned"))?
                .side_file(self.side.seq, self.side.role, "part")?;
            let mut file = std::fs::File::create(&path)?;
            file.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some((file, path, name));
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<Stored> {
        let mut tail = Vec::new();
        if let Some(scrub) = self.scrub.take() {
            scrub.finish(&mut tail);
        }
        self.write_scrubbed(&tail)?;
        let sha256 = crate::cassette::hex(&self.hash.finalize());
        Ok(match self.file {
            Some((mut file, path, name)) => {
                file.flush()?;
                Stored::File {
                    path,
                    name,
                    len: self.len,
                    sha256,
                }
            }
            None => Stored::Memory(self.memory),
        })
    }
}

impl std::io::Write for Store {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        match &mut self.scrub {
            Some(scrub) => scrub.push(buf, &mut scratch),
            None => scratch.extend_from_slice(buf),
        }
        let result = self.write_scrubbed(&scratch);
        self.scratch = scratch;
        result.map(|()| buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A finished body copy.
enum Stored {
    Memory(Vec<u8>),
    File {
        path: PathBuf,
        name: String,
        len: u64,
        sha256: String,
    },
}

impl Copy {
    fn new(side: SideFile, scrubber: &Scrubber, encoding: Option<&str>) -> Self {
        let store = Store {
            scrub: Some(scrubber.stream()),
            scratch: Vec::new(),
            memory: Vec::new(),
            file: None,
            side,
            len: 0,
            hash: Sha256::new(),
        };
        let decoder = match encoding {
            Some("gzip") | Some("x-gzip") => Decoder::Gzip(flate2::write::GzDecoder::new(store)),
            Some("br") => Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(store, 64 * 1024))),
            _ => Decoder::Identity(store),
        };
        Self {
            decoder,
            error: None,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let result = match &mut self.decoder {
            Decoder::Identity(s) => s.write_all(chunk),
            Decoder::Gzip(d) => d.write_all(chunk),
            Decoder::Brotli(d) => d.write_all(chunk),
        };
        if let Err(e) = result {
            self.error = Some(format!("copying the body: {e}"));
        }
    }

    fn finish(self) -> (std::io::Result<Stored>, Option<String>) {
        let store = match self.decoder {
            Decoder::Identity(s) => Ok(s),
            Decoder::Gzip(d) => d.finish(),
            Decoder::Brotli(d) => d.into_inner().map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "incomplete brotli stream")
            }),
        };
        match store {
            Ok(store) => (store.finish(), self.error),
            Err(e) => (Err(e), self.error),
        }
    }
}

/// The end of a copied body: the copy and, if the body did not end cleanly, why.
struct Ended {
    copy: Copy,
    cut_off: Option<String>,
}

/// A body stream that copies every chunk, and reports the copy when it ends: at its
/// last chunk, at its declared length (a reader that knows the length stops polling
/// there), or when it is dropped before.
struct Tee<S> {
    inner: S,
    copy: Option<Copy>,
    done: Option<oneshot::Sender<Ended>>,
    expected: Option<u64>,
    seen: u64,
}

impl<S> Tee<S> {
    fn end(&mut self, cut_off: Option<String>) {
        if let (Some(copy), Some(done)) = (self.copy.take(), self.done.take()) {
            let _ = done.send(Ended { copy, cut_off });
        }
    }
}

impl<S> Drop for Tee<S> {
    fn drop(&mut self) {
        let whole = self.expected.is_some_and(|n| self.seen >= n);
        self.end((!whole).then(|| "the body was not read to its end".to_owned()));
    }
}

impl<S, E> Stream for Tee<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen += chunk.len() as u64;
                if let Some(copy) = &mut self.copy {
                    copy.push(chunk);
                }
                if self.expected.is_some_and(|n| self.seen >= n) {
                    self.end(None);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                let why = e.to_string();
                self.end(Some(why));
            }
            Poll::Ready(None) => self.end(None),
            Poll::Pending => {}
        }
        polled
    }
}

fn tee<S>(inner: S, copy: Copy, expected: Option<u64>) -> (Tee<S>, oneshot::Receiver<Ended>) {
    let (tx, rx) = oneshot::channel();
    (
        Tee {
            inner,
            copy: Some(copy),
            done: Some(tx),
            expected,
            seen: 0,
        },
        rx,
    )
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
    let scrubber = {
        let Ok(mut secrets) = shared.secrets.lock() else {
            return None;
        };
        for (name, value) in parts.headers.iter() {
            if let Ok(value) = value.to_str() {
                secrets.learn_header(name.as_str(), value);
            }
        }
        secrets.scrubber()
    };
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
        shared: Arc::clone(&shared),
        seq,
        role,
    };
    let request_copy = Copy::new(side("request"), &scrubber, content_encoding(&parts.headers).as_deref());
    let has_body = !hyper::body::Body::is_end_stream(&incoming)
        && content_length(&parts.headers) != Some(0);
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
    let scrubber = {
        let Ok(mut secrets) = shared.secrets.lock() else {
            return None;
        };
        for value in headers.get_all(http::header::SET_COOKIE) {
            if let Ok(v) = value.to_str() {
                secrets.learn_header("set-cookie", v);
            }
        }
        secrets.scrubber()
    };
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
    let media = media.split(';').next().unwrap_or_default().trim().to_owned();
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

struct PendingResponse {
    status: u16,
    headers: Vec<(String, String)>,
    encoding: Option<String>,
    json: bool,
    media: String,
    done: oneshot::Receiver<Ended>,
}

/// A finished body copy, with what to record about it.
struct Finished {
    stored: Option<Stored>,
    json: bool,
    media: String,
    encoding: Option<String>,
    cut_off: Option<String>,
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
        let finished = ended.map(|e| finish_copy(e, json, media, encoding));
        self.write(Some((status, headers, finished)), None).await;
    }

    async fn write(
        mut self,
        response: Option<(u16, Vec<(String, String)>, Option<Finished>)>,
        error: Option<String>,
    ) {
        let request_ended = (&mut self.request_done).await.ok();
        let request_finished = request_ended.map(|e| {
            finish_copy(e, self.request_json, self.request_media.clone(), None)
        });
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
            assemble(
                &shared,
                seq,
                at,
                duration_ms,
                request,
                request_finished,
                response,
                error,
            )
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

fn finish_copy(ended: Ended, json: bool, media: String, encoding: Option<String>) -> Finished {
    let (stored, error) = ended.copy.finish();
    let cut_off = ended.cut_off.or(error).or_else(|| stored.as_ref().err().map(|e| e.to_string()));
    Finished {
        stored: stored.ok(),
        json,
        media,
        encoding,
        cut_off,
    }
}

/// A body's bytes for post-processing: memory, or the side file read back.
fn bytes_of(stored: &Stored) -> std::io::Result<Vec<u8>> {
    match stored {
        Stored::Memory(b) => Ok(b.clone()),
        Stored::File { path, .. } => std::fs::read(path),
    }
}

fn is_empty(stored: &Stored) -> bool {
    match stored {
        Stored::Memory(b) => b.is_empty(),
        Stored::File { len, .. } => *len == 0,
    }
}

/// What goes in the line for a finished body: scrubbed again with everything known
/// now, shrunk when asked, inline or in a side file named by its kind.
fn record_body(
    shared: &Shared,
    scrubber: &Scrubber,
    finished: Option<Finished>,
    rescrub: bool,
) -> std::io::Result<Option<Body>> {
    let Some(finished) = finished else {
        return Ok(None);
    };
    let Some(stored) = finished.stored else {
        return Ok(None);
    };
    if is_empty(&stored) && finished.cut_off.is_none() {
        return Ok(None);
    }
    let json = finished.json;
    let in_memory = matches!(stored, Stored::Memory(_));
    // Side files are read back only when something may change them.
    let mut changed: Option<Vec<u8>> = None;
    let mut images = Vec::new();
    if rescrub || shared.shrink_images || in_memory {
        let mut bytes = bytes_of(&stored)?;
        if rescrub {
            bytes = scrubber.bytes(&bytes).into_owned();
        }
        if shared.shrink_images {
            let shrunk = if json {
                shrink::shrink_json(&bytes)
            } else if finished.media.to_ascii_lowercase().starts_with("multipart/form-data") {
                shrink::shrink_form(&finished.media, &bytes)
            } else {
                shrink::small_image(&bytes, "").map(|(b, note)| (b, vec![note]))
            };
            if let Some((small, notes)) = shrunk {
                bytes = small;
                images = notes;
            }
        }
        changed = Some(bytes);
    }
    let mut body = match (changed, stored) {
        (Some(bytes), stored) if bytes.len() <= INLINE_MAX => {
            if let Stored::File { path, .. } = &stored {
                std::fs::remove_file(path)?;
            }
            Body::inline(&bytes, json)
        }
        (Some(bytes), Stored::File { path, name, .. }) => {
            std::fs::write(&path, &bytes)?;
            let (name, _) = rename_side(&path, &name, &bytes, json)?;
            Body::side_file(name, bytes.len() as u64, crate::cassette::sha256_hex(&bytes))
        }
        // A body that was small enough to stay in memory stays in the line.
        (Some(bytes), Stored::Memory(_)) => Body::inline(&bytes, json),
        (None, Stored::File { path, name, len, sha256 }) => {
            let mut head = vec![0u8; 16];
            let n = std::io::Read::read(&mut std::fs::File::open(&path)?, &mut head)?;
            head.truncate(n);
            let (name, _) = rename_side(&path, &name, &head, json)?;
            Body::side_file(name, len, sha256)
        }
        (None, Stored::Memory(bytes)) => Body::inline(&bytes, json),
    };
    body.images = images;
    body.encoding = finished.encoding;
    body.truncated = finished.cut_off.is_some();
    Ok(Some(body))
}

/// Renames a side file `….part` after what it holds (`.json`, `.png`, `.bin`…).
fn rename_side(path: &Path, name: &str, head: &[u8], json: bool) -> std::io::Result<(String, PathBuf)> {
    let ext = if json {
        "json"
    } else {
        match crate::spec::sniff_image(head) {
            Some("jpeg") => "jpg",
            Some(kind) => kind,
            None => "bin",
        }
    };
    let new_name = format!("{}.{ext}", name.trim_end_matches(".part"));
    let new_path = path.with_extension(ext);
    std::fs::rename(path, &new_path)?;
    Ok((new_name, new_path))
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    shared: &Shared,
    seq: u64,
    at: SystemTime,
    duration_ms: u64,
    mut request: Message,
    request_body: Option<Finished>,
    response: Option<(u16, Vec<(String, String)>, Option<Finished>)>,
    mut error: Option<String>,
) -> std::io::Result<()> {
    // Secrets in JSON fields (a key, a signature) are learned from both bodies first,
    // so each body is scrubbed of what the other revealed.
    let mut learned = false;
    {
        let mut secrets = shared
            .secrets
            .lock()
            .map_err(|_| std::io::Error::other("secrets poisoned"))?;
        let bodies = [
            request_body.as_ref(),
            response.as_ref().and_then(|r| r.2.as_ref()),
        ];
        for finished in bodies.into_iter().flatten() {
            let Some(stored) = &finished.stored else {
                continue;
            };
            // Side files are read back when they are text; a binary one (an image) is
            // scrubbed of what was known while it passed.
            let textual = finished.json
                || finished.media.starts_with("text/")
                || finished.media.starts_with("multipart/");
            if !(textual || matches!(stored, Stored::Memory(_))) {
                continue;
            }
            let Ok(bytes) = bytes_of(stored) else {
                continue;
            };
            learned |= secrets.learn_signatures(&bytes);
            if finished.json
                && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes)
            {
                learned |= secrets.learn_json(&value);
            }
        }
    }
    let scrubber = shared
        .secrets
        .lock()
        .map_err(|_| std::io::Error::other("secrets poisoned"))?
        .scrubber();
    let rescrub_text = |pairs: Vec<(String, String)>| -> Vec<(String, String)> {
        pairs
            .into_iter()
            .map(|(n, v)| (n, scrubber.text(&v)))
            .collect()
    };
    request.path = scrubber.text(&request.path);
    request.query = request.query.map(|q| scrubber.text(&q));
    request.headers = rescrub_text(request.headers);
    if let Some(cut) = request_body.as_ref().and_then(|f| f.cut_off.clone()) {
        error.get_or_insert(format!("request body: {cut}"));
    }
    request.body = record_body(shared, &scrubber, request_body, learned)?;
    let response = match response {
        Some((status, headers, finished)) => {
            if let Some(cut) = finished.as_ref().and_then(|f| f.cut_off.clone()) {
                error.get_or_insert(format!("response body: {cut}"));
            }
            Some(Answered {
                status,
                headers: rescrub_text(headers),
                body: record_body(shared, &scrubber, finished, learned)?,
            })
        }
        None => None,
    };
    let exchange = Exchange {
        seq,
        at: rfc3339(at),
        duration_ms,
        request,
        response,
        error,
    };
    shared
        .writer
        .lock()
        .map_err(|_| std::io::Error::other("cassette writer poisoned"))?
        .append(&exchange)
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
