//! Reply values of handlers, the error shapes of the API, the response body type and
//! compression.

use std::future::Future as _;
use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use hyper::body::{Body, Frame, SizeHint};
use serde_json::{Map, Value, json};

use crate::spec::Issue;

/// How the bytes of a reply go on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Normally.
    Normal,
    /// Declare the full length, send half, end.
    Truncated,
    /// Close the connection without answering.
    Reset,
}

/// A reply before it becomes an HTTP response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    pub headers: HeaderMap,
    /// JSON bodies may be compressed.
    pub compressible: bool,
    pub delivery: Delivery,
}

impl Reply {
    pub fn json(status: StatusCode, value: &Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
            headers: HeaderMap::new(),
            compressible: true,
            delivery: Delivery::Normal,
        }
    }

    pub fn binary(content_type: &'static str, body: Bytes) -> Self {
        Self {
            status: StatusCode::OK,
            content_type,
            body,
            headers: HeaderMap::new(),
            compressible: false,
            delivery: Delivery::Normal,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl AsRef<str>) -> Self {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.headers.insert(HeaderName::from_static(name), v);
        }
        self
    }
}

/// An error reply.
#[derive(Debug)]
pub(crate) struct ApiError(pub Box<Reply>);

impl ApiError {
    pub fn new(status: StatusCode, error: &str, code: Option<&str>) -> Self {
        let mut body = json!({ "error": error });
        if let Some(code) = code {
            body["code"] = json!(code);
        }
        Self(Box::new(Reply::json(status, &body)))
    }

    pub fn with_body(status: StatusCode, body: &Value) -> Self {
        Self(Box::new(Reply::json(status, body)))
    }

    pub fn header(self, name: &'static str, value: impl AsRef<str>) -> Self {
        Self(Box::new(self.0.header(name, value)))
    }

    /// 400 in the provider's validation shape.
    pub fn validation(issues: &[Issue]) -> Self {
        let mut details = Map::new();
        details.insert("_errors".to_owned(), json!([]));
        for issue in issues {
            let keys: Vec<String> = issue
                .path
                .iter()
                .map(|seg| match seg {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            insert_error(&mut details, &keys, &issue.message);
        }
        Self::with_body(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "Invalid request", "details": details, "issues": issues }),
        )
    }

    /// 400 naming one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(&[Issue {
            code: "custom".to_owned(),
            message: message.into(),
            path: vec![json!(field)],
        }])
    }
}

fn insert_error(node: &mut Map<String, Value>, keys: &[String], message: &str) {
    match keys.split_first() {
        None => {
            if let Some(list) = node.get_mut("_errors").and_then(Value::as_array_mut) {
                list.push(json!(message));
            }
        }
        Some((first, rest)) => {
            let entry = node
                .entry(first.clone())
                .or_insert_with(|| json!({ "_errors": [] }));
            if !entry.is_object() {
                *entry = json!({ "_errors": [] });
            }
            if let Some(child) = entry.as_object_mut() {
                insert_error(child, rest, message);
            }
        }
    }
}

/// The response body: a full buffer, or a truncated one (no exact size hint, so the
/// declared `Content-Length` is used and the connection ends early).
#[derive(Debug)]
pub(crate) struct MockBody {
    data: Option<Bytes>,
    exact: bool,
    /// Truncated bodies pause before ending so the partial response is flushed first.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl MockBody {
    pub fn full(data: Bytes) -> Self {
        Self {
            data: Some(data),
            exact: true,
            pause: None,
        }
    }

    pub fn truncated(data: Bytes) -> Self {
        Self {
            data: Some(data),
            exact: false,
            pause: Some(Box::pin(tokio::time::sleep(
                std::time::Duration::from_millis(50),
            ))),
        }
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(d) = self.data.take().filter(|d| !d.is_empty()) {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        if let Some(pause) = self.pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.pause = None;
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.exact && self.data.as_ref().is_none_or(Bytes::is_empty)
    }

    fn size_hint(&self) -> SizeHint {
        if self.exact {
            SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
        } else {
            SizeHint::default()
        }
    }
}

/// Picks `br` or `gzip` from `Accept-Encoding` (ignoring `q=0`).
pub(crate) fn pick_encoding(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers.get(http::header::ACCEPT_ENCODING)?.to_str().ok()?;
    let mut gzip = false;
    let mut br = false;
    for part in accept.split(',') {
        let mut it = part.split(';');
        let name = it.next().unwrap_or_default().trim().to_ascii_lowercase();
        let zero = it.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                == Some(0.0)
        });
        if zero {
            continue;
        }
        match name.as_str() {
            "gzip" => gzip = true,
            "br" => br = true,
            "*" => gzip = true,
            _ => {}
        }
    }
    if gzip {
        Some("gzip")
    } else if br {
        Some("br")
    } else {
        None
    }
}

/// Compresses with `gzip` or `br`.
pub(crate) fn compress(encoding: &str, data: &[u8]) -> Option<Bytes> {
    match encoding {
        "gzip" => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(data).ok()?;
            enc.finish().ok().map(Bytes::from)
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
                enc.write_all(data).ok()?;
            }
            Some(Bytes::from(out))
        }
        _ => None,
    }
}
