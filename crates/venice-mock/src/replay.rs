//! Replay: a server that answers with a cassette's recorded responses.
//!
//! Each request is matched to a recorded one by operation and fields ([`crate::matching`]
//! documents what is compared and what is ignored); among equal recorded requests the
//! unused one that arrived first (lowest `seq`; lines are in completion order) answers,
//! so repeated calls get their answers in the order they were made. The answer is the recorded one: status, headers in their
//! order (hop-by-hop and length headers recomputed, a `Content-Encoding` the recording
//! decoded dropped, the `Date` set now) and the body byte for byte, with absolute times
//! moved to the replay's clock ([`crate::timeshift`]). An exchange recorded without an
//! answer (the upstream did not answer) gets the recorder's `502
//! UPSTREAM_UNREACHABLE` again; a body recorded cut off is cut off again. Signatures and credentials are not verified: only their kind counts.
//!
//! A request no recorded exchange matches gets `501` with a [`ReplayMiss`] JSON body
//! naming the nearest recorded exchange and every differing field, so the failing test
//! says what changed; the misses are also kept ([`ReplayServer::misses`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::{Frame, Incoming};
use serde::{Deserialize, Serialize};

use crate::cassette::{Cassette, CassetteError, Exchange, header};
use crate::listen::{self, Answer, Listening};
use crate::matching::{self, Difference, Fields};
use crate::server::MockServer;
use crate::timeshift;

/// Largest request body a replay reads (a larger one is answered 413).
pub const MAX_REQUEST_BODY: usize = 256 * 1024 * 1024;

/// The body of a `501` answered to a request that no recorded exchange matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayMiss {
    /// One line saying what did not match and the nearest exchange's differences.
    pub error: String,
    /// `REPLAY_NO_MATCH`, or `REPLAY_EXHAUSTED` when every matching exchange was used.
    pub code: String,
    /// The request that missed.
    pub request: MissedRequest,
    /// The recorded exchange closest to it, if the cassette has any.
    pub nearest: Option<Nearest>,
    /// How the request differs from the nearest exchange (empty when exhausted).
    pub differences: Vec<Difference>,
}

/// The request of a [`ReplayMiss`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissedRequest {
    /// HTTP method.
    pub method: String,
    /// Path as sent.
    pub path: String,
    /// Its `operationId` (or `METHOD path` when the spec has no such operation).
    pub operation: String,
}

/// The recorded exchange closest to a missed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nearest {
    /// Its `seq`.
    pub seq: u64,
    /// Its line in the cassette file (1-based; line 1 is the header).
    pub line: usize,
    /// Its method.
    pub method: String,
    /// Its path.
    pub path: String,
    /// Its operation.
    pub operation: String,
    /// Whether an earlier request already used it.
    pub used: bool,
}

/// Why a replay could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The cassette could not be read.
    #[error(transparent)]
    Cassette(#[from] CassetteError),
    /// A side file of a recorded request could not be read.
    #[error("cassette {cassette}: exchange {seq}: cannot read its request body")]
    Body {
        /// The cassette file.
        cassette: String,
        /// The exchange.
        seq: u64,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Binding the socket failed.
    #[error("replay server: cannot listen")]
    Io(#[source] std::io::Error),
}

struct Entry {
    fields: Fields,
    line: usize,
}

struct State {
    cassette: Cassette,
    entries: Vec<Entry>,
    used: Mutex<Vec<bool>>,
    misses: Mutex<Vec<ReplayMiss>>,
}

/// A running replay of a cassette; it stops when dropped.
pub struct ReplayServer {
    listening: Listening,
    state: Arc<State>,
    base_path: String,
}

impl std::fmt::Debug for ReplayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayServer")
            .field("addr", &self.listening.addr())
            .field("cassette", &self.state.cassette.path)
            .finish()
    }
}

impl MockServer {
    /// Replays the cassette at `path` on `127.0.0.1:<random port>` (see [`crate::replay`]).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), venice_mock::replay::ReplayError> {
    /// let server = venice_mock::MockServer::replay("tests/traffic.cassette").await?;
    /// // point the client under test at server.base_url() with any credentials ...
    /// server.assert_all_used();
    /// # Ok(()) }
    /// ```
    pub async fn replay(path: impl AsRef<Path>) -> Result<ReplayServer, ReplayError> {
        ReplayServer::start(Cassette::open(path)?, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }
}

impl ReplayServer {
    /// Serves `cassette` on `addr`.
    pub async fn start(cassette: Cassette, addr: SocketAddr) -> Result<Self, ReplayError> {
        let mut entries = Vec::with_capacity(cassette.exchanges.len());
        for (i, exchange) in cassette.exchanges.iter().enumerate() {
            let body = match &exchange.request.body {
                Some(b) => b.load(cassette.dir()).map_err(|source| ReplayError::Body {
                    cassette: cassette.path.display().to_string(),
                    seq: exchange.seq,
                    source,
                })?,
                None => Bytes::new(),
            };
            entries.push(Entry {
                fields: matching::recorded_fields(&exchange.request, &body),
                line: i + 2,
            });
        }
        let base_path = base_path(&cassette.header.upstream);
        let state = Arc::new(State {
            used: Mutex::new(vec![false; entries.len()]),
            misses: Mutex::new(Vec::new()),
            entries,
            cassette,
        });
        let handler_state = Arc::clone(&state);
        let listening = Listening::start(addr, move |req| {
            let state = Arc::clone(&handler_state);
            async move { handle(state, req).await }
        })
        .await
        .map_err(ReplayError::Io)?;
        Ok(Self {
            listening,
            state,
            base_path,
        })
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.listening.addr()
    }

    /// The API base URL: this server with the recorded upstream's path, e.g.
    /// `http://127.0.0.1:PORT/api/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr(), self.base_path)
    }

    /// The cassette being replayed.
    pub fn cassette(&self) -> &Cassette {
        &self.state.cassette
    }

    /// The `seq` of every recorded exchange no request has used yet.
    pub fn unused(&self) -> Vec<u64> {
        let used = self
            .state
            .used
            .lock()
            .map(|u| u.clone())
            .unwrap_or_default();
        self.state
            .cassette
            .exchanges
            .iter()
            .zip(used)
            .filter(|(_, u)| !u)
            .map(|(e, _)| e.seq)
            .collect()
    }

    /// Every request that matched no recorded exchange, with its `501` body.
    pub fn misses(&self) -> Vec<ReplayMiss> {
        self.state
            .misses
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// Asserts that no request missed and every recorded exchange was used.
    ///
    /// # Panics
    ///
    /// Naming the misses and the unused exchanges. Meant for tests.
    #[track_caller]
    pub fn assert_all_used(&self) {
        let misses = self.misses();
        let unused = self.unused();
        assert!(
            misses.is_empty() && unused.is_empty(),
            "replay of {}: {} request(s) matched nothing{}; unused exchanges (seq): {unused:?}",
            self.state.cassette.path.display(),
            misses.len(),
            misses
                .iter()
                .map(|m| format!("\n  - {}", m.error))
                .collect::<String>()
        );
    }
}

/// The path of the upstream base URL (`/api/v1`), empty when it has none.
fn base_path(upstream: &str) -> String {
    upstream
        .split_once("://")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("")
        .trim_end_matches('/')
        .to_owned()
}

async fn read_body(body: Incoming) -> Option<Bytes> {
    let limited = http_body_util::Limited::new(body, MAX_REQUEST_BODY);
    limited.collect().await.ok().map(|c| c.to_bytes())
}

fn json_answer(status: StatusCode, value: &impl Serialize) -> Answer {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(listen::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Some(response)
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Answer {
    let (parts, body) = req.into_parts();
    let Some(body) = read_body(body).await else {
        return json_answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            &serde_json::json!({"error": "venice-mock replay: request body too large or broken", "code": "REPLAY_BODY"}),
        );
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let method = parts.method.as_str();
    let path = parts.uri.path();
    let received = matching::fields(
        &matching::Incoming {
            method,
            path,
            query: parts.uri.query(),
            headers: &headers,
            body: &body,
        },
        &[],
    );
    let redacted = state.cassette.header.redact_wallets;
    let chosen = {
        let Ok(mut used) = state.used.lock() else {
            return None;
        };
        // Lines are in completion order; equal requests get their answers in the order
        // they arrived (`seq`).
        let found = state
            .entries
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                !used[*i] && matching::differences(&e.fields, &received, redacted).is_empty()
            })
            .min_by_key(|(i, _)| state.cassette.exchanges[*i].seq);
        match found {
            Some((i, _)) => {
                used[i] = true;
                Ok(i)
            }
            None => Err(miss(&state, &used, method, path, &received)),
        }
    };
    match chosen {
        Ok(i) => answer(&state.cassette, &state.cassette.exchanges[i]).await,
        Err(miss) => {
            if let Ok(mut misses) = state.misses.lock() {
                misses.push(miss.clone());
            }
            json_answer(StatusCode::NOT_IMPLEMENTED, &miss)
        }
    }
}

fn miss(state: &State, used: &[bool], method: &str, path: &str, received: &Fields) -> ReplayMiss {
    let redacted = state.cassette.header.redact_wallets;
    // Nearest: same operation first, then fewest differences, then unused, then first.
    let nearest = state
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let d = matching::differences(&e.fields, received, redacted);
            let other_op = e.fields.operation != received.operation;
            ((other_op, d.len(), used[i], i), d)
        })
        .min_by(|a, b| a.0.cmp(&b.0));
    let request = MissedRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        operation: received.operation.clone(),
    };
    let what = format!("{method} {path} ({})", received.operation);
    let Some(((_, _, was_used, i), differences)) = nearest else {
        return ReplayMiss {
            error: format!(
                "venice-mock replay: {what} matches nothing: the cassette has no exchanges"
            ),
            code: "REPLAY_NO_MATCH".to_owned(),
            request,
            nearest: None,
            differences: Vec::new(),
        };
    };
    let exchange = &state.cassette.exchanges[i];
    let entry = &state.entries[i];
    let nearest = Nearest {
        seq: exchange.seq,
        line: entry.line,
        method: exchange.request.method.clone(),
        path: exchange.request.path.clone(),
        operation: entry.fields.operation.clone(),
        used: was_used,
    };
    let (code, error) = if differences.is_empty() {
        let times = used
            .iter()
            .zip(&state.entries)
            .filter(|(_, e)| matching::differences(&e.fields, received, redacted).is_empty())
            .count();
        (
            "REPLAY_EXHAUSTED",
            format!(
                "venice-mock replay: {what} was recorded {times} time(s) and every one is used (last: exchange {} on line {})",
                nearest.seq, nearest.line
            ),
        )
    } else {
        let listed: Vec<String> = differences
            .iter()
            .map(|d| format!("{} (recorded {}, got {})", d.field, d.recorded, d.received))
            .collect();
        (
            "REPLAY_NO_MATCH",
            format!(
                "venice-mock replay: no recorded exchange matches {what}; nearest is exchange {} on line {}, which differs in {}",
                nearest.seq,
                nearest.line,
                listed.join(", ")
            ),
        )
    };
    ReplayMiss {
        error,
        code: code.to_owned(),
        request,
        nearest: Some(nearest),
        differences,
    }
}

/// Headers never replayed as recorded: the connection's own, the length (recomputed),
/// a content coding the recording decoded, and the date (set now).
const NOT_REPLAYED: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "date",
    "upgrade",
    "proxy-connection",
    "te",
    "trailer",
];

async fn answer(cassette: &Cassette, exchange: &Exchange) -> Answer {
    let Some(recorded) = exchange.response.as_ref() else {
        let why = exchange
            .error
            .as_deref()
            .unwrap_or("no answer was recorded");
        return Some(listen::upstream_unreachable(why));
    };
    let delta = timeshift::delta_ms(exchange.at_time(), SystemTime::now());
    let truncated = recorded.body.as_ref().is_some_and(|b| b.truncated);
    let mut builder = Response::builder().status(recorded.status);
    for (name, value) in &recorded.headers {
        let keep_length = truncated && name == "content-length";
        if NOT_REPLAYED.contains(&name.as_str()) && !keep_length {
            continue;
        }
        let value = timeshift::header(name, value, delta);
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            builder = builder.header(n, v);
        }
    }
    let json = header(&recorded.headers, "content-type")
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    let body = match &recorded.body {
        None => listen::full(Bytes::new()),
        Some(body) => match body.inline_bytes() {
            Some(bytes) => {
                let bytes = match std::str::from_utf8(&bytes)
                    .ok()
                    .filter(|_| json)
                    .and_then(|t| timeshift::json_text(t, delta))
                {
                    Some(moved) => Bytes::from(moved),
                    None => bytes,
                };
                if truncated {
                    cut_off(stream_of(futures_util::stream::iter([Ok(bytes)])))
                } else {
                    listen::full(bytes)
                }
            }
            None => {
                let path = body.file_path(cassette.dir())?;
                let file = tokio::fs::File::open(path).await.ok()?;
                let chunks = file_chunks(file);
                if truncated {
                    cut_off(stream_of(chunks))
                } else {
                    // Streamed from disk: the length is known, so no chunked encoding.
                    builder = builder.header(http::header::CONTENT_LENGTH, body.len);
                    stream_of(chunks)
                }
            }
        },
    };
    builder.body(body).ok()
}

type Chunk = Result<Bytes, std::io::Error>;

fn stream_of(stream: impl futures_util::Stream<Item = Chunk> + Send + 'static) -> listen::Body {
    use futures_util::StreamExt as _;
    http_body_util::StreamBody::new(stream.map(|c| c.map(Frame::data))).boxed_unsync()
}

/// The body, then a failure: the client sees the connection end early. The failure
/// waits a moment so the head and the bytes reach the client first (as the mock's
/// `TruncatedBody` fault does).
fn cut_off(body: listen::Body) -> listen::Body {
    use futures_util::StreamExt as _;
    let fail = futures_util::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Err::<Frame<Bytes>, _>(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "recorded body was cut off",
        ))
    });
    let frames = http_body_util::BodyStream::new(body).chain(fail);
    http_body_util::StreamBody::new(frames).boxed_unsync()
}

fn file_chunks(file: tokio::fs::File) -> impl futures_util::Stream<Item = Chunk> + Send + 'static {
    futures_util::stream::unfold(Some(file), |file| async move {
        use tokio::io::AsyncReadExt as _;
        let mut file = file?;
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_path_comes_from_the_upstream() {
        assert_eq!(base_path("https://api.venice.ai/api/v1"), "/api/v1");
        assert_eq!(base_path("http://127.0.0.1:9/api/v1/"), "/api/v1");
        assert_eq!(base_path("http://127.0.0.1:9"), "");
    }
}
