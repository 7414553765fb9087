//! What the `exec` hook does to every response before the generated code sees it:
//! success bodies get the client's size cap, and error bodies of any kind become a
//! JSON `VeniceError` with the status and headers intact (`Content-Type` too: it says
//! what the server sent, so an HTML page stays `text/html` while its body is now JSON;
//! the generated code decodes error bodies whatever their type says).
//!
//! Why: the generated code decodes every documented error status as JSON and, when a
//! proxy answers with an HTML page, returns `InvalidResponsePayload` without the status
//! or headers (`Retry-After`, the request id). Normalising here gives both the raw
//! client and the facade a typed error for any body, in one place.

use bytes::Bytes;
use reqwest::ResponseBuilderExt as _;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap};
use serde_json::{Value, json};

use crate::body_copy::BodyCopy;

/// Decode base64 JSON such as the `PAYMENT-REQUIRED` header (any base64 alphabet, padded
/// or not); `None` when it is not base64 of a JSON value.
pub fn decode_b64_json(s: &str) -> Option<Value> {
    let s = s.trim();
    let bytes = base64_simd::STANDARD
        .decode_to_vec(s)
        .or_else(|_| base64_simd::URL_SAFE.decode_to_vec(s))
        .or_else(|_| base64_simd::STANDARD_NO_PAD.decode_to_vec(s))
        .or_else(|_| base64_simd::URL_SAFE_NO_PAD.decode_to_vec(s))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Most bytes of an error body read (and kept).
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// Default cap on a success body, counted after decompression: 1 GiB. Four 16 MP PNGs
/// of pure noise are about 200 MB, 270 MB as base64 JSON; real responses are smaller.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 1 << 30;

/// Key of `VeniceError.details` under which a body that was not JSON is described.
pub const NON_JSON_BODY: &str = "nonJsonBody";

/// A success body exceeded the client's cap (counted after decompression, or
/// announced by `Content-Length`). Reading the body fails with a `reqwest::Error`
/// whose source chain contains this error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("response body larger than the limit of {limit} bytes{}", declared.map(|n| format!(" (Content-Length {n})")).unwrap_or_default())]
pub struct ResponseTooLarge {
    /// The limit in force.
    pub limit: u64,
    /// The `Content-Length` the server announced, if any.
    pub declared: Option<u64>,
}

/// Everything of a response but its body.
struct Head {
    status: reqwest::StatusCode,
    version: reqwest::Version,
    url: reqwest::Url,
    headers: HeaderMap,
}

impl Head {
    fn of(response: &reqwest::Response) -> Self {
        Self {
            status: response.status(),
            version: response.version(),
            url: response.url().clone(),
            headers: response.headers().clone(),
        }
    }

    /// A response with this head and `body`.
    fn with_body(self, body: reqwest::Body) -> reqwest::Response {
        let mut builder = http::Response::builder()
            .status(self.status)
            .version(self.version)
            .url(self.url);
        if let Some(h) = builder.headers_mut() {
            *h = self.headers;
        }
        match builder.body(body) {
            Ok(r) => r.into(),
            // Status and version came from a valid response: this cannot fail.
            Err(_) => http::Response::new(reqwest::Body::from(Bytes::new())).into(),
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Cap a success body at `limit` bytes, copying it into `copy` when there is one.
pub(crate) fn limit_body(
    response: reqwest::Response,
    limit: u64,
    copy: Option<BodyCopy>,
) -> reqwest::Response {
    use futures::TryStreamExt;
    let head = Head::of(&response);
    let declared = head
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = ResponseTooLarge { limit, declared };
    if let Some(copy) = &copy {
        copy.clear();
    }
    let body = if declared.is_some_and(|n| n > limit) {
        reqwest::Body::wrap_stream(futures::stream::once(
            async move { Err::<Bytes, _>(too_large) },
        ))
    } else {
        let mut seen = 0u64;
        let counted = response
            .bytes_stream()
            .map_err(BoxError::from)
            .and_then(move |chunk| {
                seen += chunk.len() as u64;
                std::future::ready(if seen > limit {
                    Err(BoxError::from(too_large))
                } else {
                    if let Some(copy) = &copy {
                        copy.extend(&chunk);
                    }
                    Ok(chunk)
                })
            });
        reqwest::Body::wrap_stream(counted)
    };
    head.with_body(body)
}

/// Read at most [`MAX_ERROR_BODY`] bytes of an error response and return it with a
/// JSON object body: the server's own when it sent one, else a `VeniceError` that
/// describes what came (see [`NON_JSON_BODY`]).
pub(crate) async fn normalise_error(mut response: reqwest::Response) -> reqwest::Response {
    let head = Head::of(&response);
    let content_type = head
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut body = Vec::new();
    let mut truncated = false;
    let mut read_error = None;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ERROR_BODY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    truncated = true;
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
    }
    let read_error = read_error.map(|e| e.to_string());
    let body = error_body_as_json(
        head.status,
        &content_type,
        &body,
        truncated,
        read_error.as_deref(),
    )
    .unwrap_or(body);
    let mut head = head;
    // The body changed length; its type stays the server's (see the module docs).
    head.headers.remove(CONTENT_LENGTH);
    head.with_body(reqwest::Body::from(body))
}

/// The JSON `VeniceError` that stands for an error body which is not a whole JSON
/// object (an HTML page, plain text, a body cut short or that failed to read), or
/// `None` when `body` is a JSON object and is kept as it is.
///
/// The result carries the status text in `error`, a one-line [`summary`] in `message`
/// and the body itself (lossy UTF-8, at most [`MAX_ERROR_BODY`] bytes) under
/// `details.nonJsonBody`, so nothing the server said is lost.
pub fn error_body_as_json(
    status: reqwest::StatusCode,
    content_type: &str,
    body: &[u8],
    truncated: bool,
    read_error: Option<&str>,
) -> Option<Vec<u8>> {
    let parsed = (read_error.is_none() && !truncated)
        .then(|| serde_json::from_slice::<Value>(body).ok())
        .flatten()
        .filter(Value::is_object);
    if let Some(object) = &parsed
        && serde_json::from_value::<crate::types::VeniceError>(object.clone()).is_ok()
    {
        return None;
    }
    let reason = status.canonical_reason().unwrap_or("Error");
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY)]);
    // An object whose fields have unexpected types still says something useful.
    let said = |key: &str| {
        parsed
            .as_ref()
            .and_then(|o| o.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut described = json!({
        "contentType": content_type,
        "bytes": body.len(),
        "truncated": truncated,
        "body": text,
    });
    if let Some(e) = read_error {
        described["readError"] = Value::String(e.to_owned());
    }
    let error = json!({
        "error": reason,
        "message": said("message")
            .or_else(|| said("error"))
            .or_else(|| summary(&text))
            .unwrap_or_else(|| reason.to_owned()),
        "details": { NON_JSON_BODY: described },
    });
    Some(serde_json::to_vec(&error).unwrap_or_default())
}

/// One line that says what a non-JSON body is about: an HTML page's title, else its
/// first line of text; at most 200 characters.
pub fn summary(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let title = lower.find("<title").and_then(|start| {
        let open_end = start + lower[start..].find('>')? + 1;
        let close = open_end + lower[open_end..].find("</title")?;
        Some(&text[open_end..close])
    });
    let candidate = match title {
        Some(t) if !t.trim().is_empty() => t.to_owned(),
        _ if lower.trim_start().starts_with('<') => strip_tags(text),
        _ => text.to_owned(),
    };
    let line = candidate
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .find(|l| !l.is_empty())?;
    Some(line.chars().take(200).collect())
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push('\n');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_json_in_any_alphabet() {
        let v = json!({"a": "??>>"});
        let text = v.to_string();
        for engine in [
            base64_simd::STANDARD,
            base64_simd::URL_SAFE,
            base64_simd::STANDARD_NO_PAD,
            base64_simd::URL_SAFE_NO_PAD,
        ] {
            assert_eq!(
                decode_b64_json(&engine.encode_to_string(&text)),
                Some(v.clone())
            );
        }
        assert_eq!(decode_b64_json("%%%"), None);
    }

    #[test]
    fn summaries() {
        assert_eq!(
            summary("<html><head><title>502 Bad Gateway</title></head><body>x</body></html>")
                .as_deref(),
            Some("502 Bad Gateway")
        );
        assert_eq!(
            summary("<html>\n<body>\n<h1>  upstream   down </h1></body></html>").as_deref(),
            Some("upstream down")
        );
        assert_eq!(
            summary("\n\n  plain text\nsecond").as_deref(),
            Some("plain text")
        );
        assert_eq!(summary("   "), None);
        assert_eq!(summary(&"é".repeat(300)).unwrap().chars().count(), 200);
    }
}
