//! Check: a cassette against our spec, as a drift report.
//!
//! Every recorded request goes through the contract check the mock's request log uses
//! ([`crate::contract::check_request`]: operation, parameters, credentials, body), and
//! every recorded response through [`crate::spec::validate_response`] (documented
//! status, header types, media type, body schema), the same JSON-Schema validator the
//! mock and the contract tests use. Two more questions are asked of responses:
//!
//! * **unknown fields**: the body is validated a second time against the spec with
//!   every object schema that does not say otherwise closed (`additionalProperties:
//!   false`); what only that second pass rejects is a field the provider sent and our
//!   spec does not describe;
//! * **undocumented headers**: a header that the spec does not declare for that
//!   operation and status, other than the generic HTTP, CORS, security and CDN headers
//!   of [`GENERIC_HEADERS`] / [`GENERIC_HEADER_PREFIXES`].
//!
//! Each finding names its exchange (`seq` and cassette line). `venice-mock check`
//! prints the report (or `--json`) and exits 1 when there is any finding.

use std::fmt;
use std::sync::LazyLock;

use bytes::Bytes;
use futures_util::FutureExt as _;
use serde::Serialize;
use serde_json::Value;

use crate::cassette::{Cassette, Exchange, header};
use crate::contract;
use crate::log::{REDACTED, RecordedRequest};
use crate::scrub::PLACEHOLDER_PREFIX;
use crate::spec::{self, Spec};

/// Response headers never reported as undocumented: HTTP's own, CORS, security policy
/// and caching headers that any server or CDN adds.
pub const GENERIC_HEADERS: &[&str] = &[
    "accept-ranges",
    "age",
    "alt-svc",
    "cache-control",
    "connection",
    "content-disposition",
    "content-length",
    "content-security-policy",
    "content-type",
    "date",
    "etag",
    "expires",
    "keep-alive",
    "last-modified",
    "nel",
    "permissions-policy",
    "pragma",
    "referrer-policy",
    "report-to",
    "server",
    "server-timing",
    "set-cookie",
    "strict-transport-security",
    "timing-allow-origin",
    "transfer-encoding",
    "vary",
    "via",
    "x-content-type-options",
    "x-frame-options",
    "x-xss-protection",
];

/// Prefixes of response headers never reported (CORS, cross-origin policies, CDN).
pub const GENERIC_HEADER_PREFIXES: &[&str] = &["access-control-", "cross-origin-", "cf-"];

/// What kind of drift a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// The method and path are no operation of the spec.
    UnknownOperation,
    /// The recorded request breaks the spec (parameters, credentials, body).
    Request,
    /// The response status is not documented for the operation.
    UndocumentedStatus,
    /// A response header the spec does not declare for that operation and status.
    UndocumentedHeader,
    /// A response body field the spec does not describe.
    UnknownField,
    /// The response breaks the spec (header type, media type, body schema).
    SchemaViolation,
}

impl fmt::Display for DriftKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriftKind::UnknownOperation => "unknown operation",
            DriftKind::Request => "request",
            DriftKind::UndocumentedStatus => "undocumented status",
            DriftKind::UndocumentedHeader => "undocumented header",
            DriftKind::UnknownField => "unknown field",
            DriftKind::SchemaViolation => "schema violation",
        })
    }
}

/// One difference between a recorded exchange and the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// The exchange's `seq`.
    pub seq: u64,
    /// Its line in the cassette (1-based; line 1 is the header).
    pub line: usize,
    /// Request method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// The operation the request matched, if any.
    pub operation: Option<String>,
    /// Response status (`None`: no response was recorded).
    pub status: Option<u16>,
    /// What kind of drift.
    pub kind: DriftKind,
    /// What exactly (the header name, the field path and message, the problem).
    pub detail: String,
}

/// Every drift found in a cassette.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftReport {
    /// The cassette checked.
    pub cassette: String,
    /// Where it was recorded from.
    pub upstream: String,
    /// How many exchanges were checked.
    pub exchanges: usize,
    /// The findings, in cassette order.
    pub drift: Vec<Drift>,
}

impl DriftReport {
    /// `true` when the recording agrees with the spec.
    pub fn is_clean(&self) -> bool {
        self.drift.is_empty()
    }
}

impl fmt::Display for DriftReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.drift.is_empty() {
            return writeln!(
                f,
                "{}: all {} exchanges agree with openapi/venice-image.yaml",
                self.cassette, self.exchanges
            );
        }
        writeln!(
            f,
            "{}: {} finding(s) in {} exchanges recorded from {}:",
            self.cassette,
            self.drift.len(),
            self.exchanges,
            self.upstream
        )?;
        for d in &self.drift {
            let status = d.status.map_or("no response".to_owned(), |s| s.to_string());
            writeln!(
                f,
                "  line {} (seq {}) {} {} → {status} [{}]: {}: {}",
                d.line,
                d.seq,
                d.method,
                d.path,
                d.operation.as_deref().unwrap_or("no operation"),
                d.kind,
                d.detail
            )?;
        }
        Ok(())
    }
}

/// Our spec with every object schema that does not say otherwise closed.
static STRICT: LazyLock<Option<Spec>> = LazyLock::new(|| {
    let mut doc = spec::document().clone();
    close_objects(&mut doc);
    Spec::from_yaml(&doc.to_string()).ok()
});

fn close_objects(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("properties").is_some_and(Value::is_object)
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".to_owned(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// Checks every exchange of a cassette against the spec.
pub fn check(cassette: &Cassette) -> DriftReport {
    let mut drift = Vec::new();
    for (i, exchange) in cassette.exchanges.iter().enumerate() {
        check_exchange(cassette, exchange, i + 2, &mut drift);
    }
    DriftReport {
        cassette: cassette.path.display().to_string(),
        upstream: cassette.header.upstream.clone(),
        exchanges: cassette.exchanges.len(),
        drift,
    }
}

fn check_exchange(cassette: &Cassette, exchange: &Exchange, line: usize, out: &mut Vec<Drift>) {
    let status = exchange.response.as_ref().map(|r| r.status);
    let mut push = |operation: Option<&str>, kind, detail: String| {
        out.push(Drift {
            seq: exchange.seq,
            line,
            method: exchange.request.method.clone(),
            path: exchange.request.path.clone(),
            operation: operation.map(str::to_owned),
            status,
            kind,
            detail,
        });
    };
    let request_body = exchange
        .request
        .body
        .as_ref()
        .map(|b| b.load(cassette.dir()));
    let request_body = match request_body {
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            push(
                None,
                DriftKind::Request,
                format!("request body unreadable: {e}"),
            );
            Bytes::new()
        }
        None => Bytes::new(),
    };
    let recorded = recorded_request(exchange, &request_body);
    let (operation, problems) = contract::check_request(&recorded);
    let Some(operation) = operation else {
        for p in problems {
            push(None, DriftKind::UnknownOperation, p);
        }
        return;
    };
    for p in problems {
        push(Some(operation), DriftKind::Request, p);
    }
    let Some(response) = &exchange.response else {
        return;
    };
    let body = match response.body.as_ref().map(|b| b.load(cassette.dir())) {
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            push(
                Some(operation),
                DriftKind::SchemaViolation,
                format!("response body unreadable: {e}"),
            );
            return;
        }
        None => Bytes::new(),
    };
    let mut headers = http::HeaderMap::new();
    for (name, value) in &response.headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    let ours = spec::embedded();
    let problems = ours
        .validate_response(operation, response.status, &headers, &body)
        .err()
        .unwrap_or_default();
    let undocumented_status = problems.iter().any(|p| p.contains("is not documented"));
    for p in &problems {
        let kind = if p.contains("is not documented") {
            DriftKind::UndocumentedStatus
        } else {
            DriftKind::SchemaViolation
        };
        push(Some(operation), kind, p.clone());
    }
    if undocumented_status {
        return;
    }
    if let Some(strict) = STRICT.as_ref()
        && let Err(strict_problems) =
            strict.validate_response(operation, response.status, &headers, &body)
    {
        for p in strict_problems
            .into_iter()
            .filter(|p| !problems.contains(p))
        {
            let detail = p.strip_prefix("body ").unwrap_or(&p).to_owned();
            push(Some(operation), DriftKind::UnknownField, detail);
        }
    }
    let declared = declared_headers(ours, operation, response.status);
    let mut reported: Vec<&str> = Vec::new();
    for (name, _) in &response.headers {
        let generic = GENERIC_HEADERS.contains(&name.as_str())
            || GENERIC_HEADER_PREFIXES.iter().any(|p| name.starts_with(p));
        if generic || declared.contains(name) || reported.contains(&name.as_str()) {
            continue;
        }
        reported.push(name);
        push(Some(operation), DriftKind::UndocumentedHeader, name.clone());
    }
}

/// The headers the spec declares for an operation's response of `status` (lower case).
fn declared_headers(spec: &Spec, operation: &str, status: u16) -> Vec<String> {
    spec.operation(operation)
        .and_then(|op| op.get("responses"))
        .and_then(|r| r.get(status.to_string()).or_else(|| r.get("default")))
        .map(|r| spec.resolve(r))
        .and_then(|r| r.get("headers"))
        .and_then(Value::as_object)
        .map(|h| h.keys().map(|k| k.to_ascii_lowercase()).collect())
        .unwrap_or_default()
}

/// A recorded request in the shape the contract check reads: placeholders become the
/// request log's redaction marker; a JSON or multipart body becomes its JSON value.
fn recorded_request(exchange: &Exchange, body: &Bytes) -> RecordedRequest {
    let request = &exchange.request;
    let headers = request
        .headers
        .iter()
        .map(|(n, v)| {
            let v = if v.contains(PLACEHOLDER_PREFIX) {
                REDACTED.to_owned()
            } else {
                v.clone()
            };
            (n.clone(), v)
        })
        .collect();
    let media = header(&request.headers, "content-type")
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let value = if body.is_empty() {
        None
    } else if media == crate::body::MULTIPART {
        spec::match_operation(&request.method, &request.path)
            .ok()
            .and_then(|m| {
                let schema = spec::embedded().request_media(m.operation_id, crate::body::MULTIPART);
                let content_type = header(&request.headers, "content-type").unwrap_or_default();
                // A recording is judged, not refused: no size limit applies.
                let unbounded = crate::body::Limits {
                    json: usize::MAX,
                    file: usize::MAX,
                    files: usize::MAX,
                };
                crate::body::parse_multipart(content_type, body.clone(), schema, unbounded)
                    .now_or_never()
                    .and_then(Result::ok)
            })
    } else {
        serde_json::from_slice(body).ok()
    };
    RecordedRequest {
        method: request.method.clone(),
        path: request.path.clone(),
        query: request.query.clone(),
        headers,
        body: value,
        status: exchange.response.as_ref().map_or(0, |r| r.status),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn closing_objects_leaves_open_ones_open() {
        let mut v = serde_json::json!({"type":"object","properties":{"a":{"type":"object","properties":{}}},
            "x":{"type":"object","properties":{},"additionalProperties":true}});
        close_objects(&mut v);
        assert_eq!(v["additionalProperties"], false);
        assert_eq!(v["properties"]["a"]["additionalProperties"], false);
        assert_eq!(v["x"]["additionalProperties"], true);
        assert!(STRICT.is_some());
    }
}
