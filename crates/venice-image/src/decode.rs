//! The one response decoder: the generated client's errors → [`Error`], headers →
//! [`ResponseMeta`], success bodies → images.
//!
//! Error bodies reach this module already normalised by the `exec` hook of
//! `venice-openapi` (any body becomes a JSON `VeniceError`, status and headers kept), so
//! one function turns every error status into an [`Error`].

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::TryStreamExt;
use reqwest::header::HeaderMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::Segment;
use venice_openapi::types::{GenerateImageTiming, VeniceError, X402PaymentRequired};
use venice_openapi::{ByteStream, NON_JSON_BODY};

use crate::error::{
    ApiError, Error, ErrorCode, Lockout, PaymentRequired, RateLimitKind, Result, ValidationError,
};
use crate::meta::{ResponseMeta, header};
use crate::rate_headers;

mod stream;

pub use stream::GenerationDecoder;

/// An error of the generated client.
pub(crate) type RawError = venice_openapi::Error<VeniceError>;

/// Most bytes of an error body kept in [`ApiError::body_excerpt`].
pub(crate) const EXCERPT_LIMIT: usize = crate::limits::MAX_ERROR_BODY_EXCERPT;
/// Largest body pre-allocation taken from `Content-Length`.
const MAX_PREALLOC: u64 = 512 * 1024 * 1024;

/// The body length announced by `headers` (absent when the body was decompressed).
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    header(headers, "content-length").and_then(|v| v.parse().ok())
}

/// Read a success body into one buffer pre-sized from `Content-Length` (the client's
/// hook enforces the size cap while it is read).
pub(crate) async fn read_stream(stream: ByteStream, declared: Option<u64>) -> Result<Vec<u8>> {
    let mut stream = stream.into_inner();
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(MAX_PREALLOC) as usize);
    while let Some(chunk) = stream.try_next().await.map_err(Error::from_body_read)? {
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Decode a JSON generation body while it arrives: never holds the body, only the
/// decoded images (see [`GenerationDecoder`]).
pub(crate) async fn decode_generation_stream(
    stream: ByteStream,
    declared: Option<u64>,
) -> Result<DecodedGeneration> {
    let mut stream = stream.into_inner();
    let mut decoder = GenerationDecoder::new(declared);
    while let Some(chunk) = stream.try_next().await.map_err(Error::from_body_read)? {
        decoder.feed(&chunk)?;
    }
    decoder.finish()
}

/// Turn an error of the generated client into ours. `Custom` (a failed `pre` hook)
/// is left to the caller, which knows the typed cause.
pub(crate) async fn from_raw(err: RawError) -> Error {
    match err {
        RawError::InvalidRequest(msg) => Error::Validation(ValidationError::new("request", msg)),
        RawError::CommunicationError(e) => Error::from_send(e),
        RawError::InvalidUpgrade(e) => Error::Transport(e),
        RawError::ErrorResponse(rv) => {
            let status = rv.status().as_u16();
            let headers = rv.headers().clone();
            error_from_body(status, &headers, rv.into_inner())
        }
        RawError::ResponseBodyError(e) => Error::from_body_read(e),
        RawError::InvalidResponsePayload(_, e) => Error::decode("response body", e),
        RawError::UnexpectedResponse(response) => unexpected(response).await,
        RawError::Custom(msg) => Error::Auth(venice_openapi::AuthError::new(msg)),
    }
}

/// A status the spec does not list for the operation.
async fn unexpected(response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    if response.status().is_success() {
        return Error::undecodable(format!(
            "response (status {status} is not one the operation answers)"
        ));
    }
    // The hook already made the body a JSON `VeniceError` of at most 64 KiB.
    match response.bytes().await {
        Ok(body) => error_from_parts(status, &headers, &body),
        Err(e) => Error::from_body_read(e),
    }
}

fn excerpt(body: &[u8]) -> String {
    let end = body.len().min(EXCERPT_LIMIT);
    // Cut at a char boundary so the excerpt stays valid text.
    let mut s = String::from_utf8_lossy(&body[..end]).into_owned();
    if s.len() > EXCERPT_LIMIT {
        let mut cut = EXCERPT_LIMIT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// `Retry-After` in seconds (an HTTP date is not used by the provider and is ignored).
fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let v = header(headers, "retry-after")?;
    let secs = v
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)?;
    Duration::try_from_secs_f64(secs).ok()
}

/// The wait the server asked for: `Retry-After`, else, for a 429 only, the reset of the
/// limit that refused: an exhausted model window, the crypto RPC proxy's cap, or the error
/// budget (its lockout's end).
///
/// The model window's and the budget's headers are on most answers but only say when a
/// *429* clears; taken as the hint of a 500 or 503 they would make a retried call wait for
/// (or, above `max_delay`, give up because of) an unrelated window.
pub(crate) fn retry_after(status: u16, headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(explicit) = retry_after_header(headers) {
        return Some(explicit);
    }
    if status != 429 {
        return None;
    }
    let f = rate_headers::read(headers, now);
    let exhausted = f.model.as_ref().filter(|m| m.remaining == Some(0));
    let at = exhausted
        .and_then(|m| m.reset_at)
        .or_else(|| f.route.as_ref().and_then(|r| r.reset_at))
        .or_else(|| f.budget.as_ref().and_then(|b| b.resets_at))
        .or_else(|| f.model.as_ref().and_then(|m| m.reset_at))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The provider's text of a lockout: "Too many failed attempts (> 50) resulting in …".
const LOCKOUT_MESSAGE: &str = "Too many failed attempts";

/// A 429 told apart by what refused it: the error budget (a lockout), a busy wallet
/// (`X402_CONCURRENCY_LIMIT`, not a rate limit), or a rate limit of some kind.
fn too_many_requests(api: ApiError, explicit_wait: bool) -> Error {
    if api.code == ErrorCode::X402ConcurrencyLimit {
        return Error::Api {
            status: 429,
            code: api.code.clone(),
            error: Box::new(api),
        };
    }
    let model = api.meta.rate_limit();
    let model_exhausted = model.is_some_and(|m| m.remaining == Some(0));
    let budget_spent = api
        .meta
        .error_budget()
        .is_some_and(|b| b.remaining == Some(0) && b.resets_at.is_some());
    let lockout = api.message.starts_with(LOCKOUT_MESSAGE)
        || (budget_spent && !model_exhausted && !explicit_wait && api.meta.route_limit().is_none());
    if lockout {
        return Error::ErrorBudgetExhausted(Box::new(Lockout {
            model: None,
            // When its answer does not say, a lockout lasts the provider's 30 s.
            retry_after: api.retry_after.or(Some(crate::error_budget::WINDOW)),
            answer: Some(api),
        }));
    }
    let kind = if model_exhausted {
        RateLimitKind::ModelWindow
    } else if api.meta.route_limit().is_some() {
        RateLimitKind::CryptoRpc
    } else if explicit_wait {
        RateLimitKind::Overloaded
    } else if model.is_some() {
        RateLimitKind::ModelWindow
    } else {
        RateLimitKind::Route
    };
    Error::RateLimited {
        retry_after: api.retry_after,
        kind,
        error: Box::new(api),
    }
}

/// `fields` decoded as `T`, keeping what decodes: a field whose value does not fit its
/// type is dropped, and so is an item of a list that does not fit (the server's answer
/// stays whole in the error's body excerpt). `None` when what is left is no `T` (a
/// required field missing).
fn lenient<T: DeserializeOwned>(mut fields: Map<String, Value>) -> Option<T> {
    // Each round removes the field or the list item the decode error's path names; a
    // body with more misfits than `MAX_MISFITS` is not worth the parsing (an error body
    // is at most 64 KiB).
    for _ in 0..=MAX_MISFITS {
        let err = match serde_path_to_error::deserialize(Value::Object(fields.clone())) {
            Ok(t) => return Some(t),
            Err(e) => e,
        };
        let mut path = err.path().iter();
        // An error at the top (a required field missing) leaves nothing to drop.
        let Some(Segment::Map { key }) = path.next() else {
            return None;
        };
        let dropped = match (path.next(), fields.get_mut(key)) {
            (Some(Segment::Seq { index }), Some(Value::Array(items))) if *index < items.len() => {
                items.remove(*index);
                true
            }
            _ => fields.remove(key).is_some(),
        };
        if !dropped {
            return None;
        }
    }
    None
}

/// Most fields and items [`lenient`] drops before it gives up.
const MAX_MISFITS: usize = 64;

/// The decoded `PAYMENT-REQUIRED` header of `headers`, if it is base64 of x402 payment
/// requirements.
fn payment_required_header(headers: &HeaderMap) -> Option<X402PaymentRequired> {
    match venice_openapi::decode_b64_json(header(headers, "payment-required")?)? {
        Value::Object(fields) => lenient(fields),
        _ => None,
    }
}

/// `SCREAMING_SNAKE` identifiers such as `AMOUNT_TOO_LOW`.
fn looks_like_code(s: &str) -> bool {
    s.len() >= 3
        && s.contains('_')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Raw status, headers and body of an error response (fuzzing, tests, and statuses the
/// generated code did not decode): normalised exactly as the client's hook does, then
/// decoded.
pub(crate) fn error_from_parts(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let code = reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::BAD_GATEWAY);
    let content_type = header(headers, "content-type").unwrap_or("");
    let normalised = venice_openapi::error_body_as_json(code, content_type, body, false, None);
    let json = normalised.as_deref().unwrap_or(body);
    match serde_json::from_slice::<VeniceError>(json) {
        Ok(error) => error_from_body(status, headers, error),
        Err(e) => Error::decode(format!("error body of a {status} response"), e),
    }
}

/// The text of a body the client's hook described instead of decoding (not JSON, or
/// JSON that is no `VeniceError`), under `details.nonJsonBody.body`.
fn described_body(body: &VeniceError) -> Option<&str> {
    body.details.get(NON_JSON_BODY)?.get("body")?.as_str()
}

/// An error status with its (normalised) `VeniceError` body.
pub(crate) fn error_from_body(status: u16, headers: &HeaderMap, body: VeniceError) -> Error {
    // A body that was not a `VeniceError` (HTML from a proxy, text, a JSON object with
    // unexpected types) arrives described: the excerpt is the server's own text, and an
    // object inside it still gives the fields that decode.
    let (body, excerpt_text) = match described_body(&body) {
        Some(text) => {
            let excerpt_text = excerpt(text.as_bytes());
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(fields)) => {
                    let mut inner: VeniceError = lenient(fields).unwrap_or_default();
                    inner.message = inner.message.or(body.message);
                    (inner, excerpt_text)
                }
                _ => {
                    let mut body = body;
                    // The description is not a validation detail of the request, and the
                    // status text in `error` adds nothing to the status.
                    body.details.clear();
                    body.error = None;
                    (body, excerpt_text)
                }
            }
        }
        None => {
            let excerpt_text = excerpt(serde_json::to_string(&body).unwrap_or_default().as_bytes());
            (body, excerpt_text)
        }
    };
    error_from_typed(status, headers, body, excerpt_text)
}

fn error_from_typed(
    status: u16,
    headers: &HeaderMap,
    body: VeniceError,
    body_excerpt: String,
) -> Error {
    let meta = ResponseMeta::from_headers(status, headers);
    // The provider's x402 errors carry the code in `error` (`{error: "AMOUNT_TOO_LOW",
    // message}`); standard errors carry prose in `error` and the code in `code`.
    let error_field = body.error.clone().filter(|e| !e.is_empty());
    let error_is_code = error_field.as_deref().is_some_and(looks_like_code);
    let code = body
        .code
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| error_field.clone().filter(|_| error_is_code))
        .map(|c| c.parse().unwrap_or(ErrorCode::Unknown(c)));
    let coded = code.is_some();
    let prose = |m: Option<String>| m.filter(|_| !error_is_code);
    let message = prose(error_field.clone())
        .or_else(|| body.message.clone())
        .or_else(|| error_field.clone())
        .filter(|m: &String| !m.is_empty())
        .unwrap_or_else(|| {
            reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error")
                .to_owned()
        });
    let code = code.unwrap_or_else(|| ErrorCode::inferred(status, &message));
    let details = if !body.details.is_empty() {
        Some(Value::Object(body.details.clone()))
    } else if !body.issues.is_empty() {
        serde_json::to_value(&body.issues).ok()
    } else {
        None
    };
    let api = ApiError {
        status,
        code,
        message,
        details,
        request_id: meta.request_id.clone(),
        body_excerpt,
        retry_after: retry_after(status, headers, SystemTime::now()),
        meta,
    };
    match status {
        402 => {
            let error = PaymentRequired {
                api,
                body,
                payment_required_header: payment_required_header(headers),
                coded,
            };
            Error::PaymentRequired {
                kind: error.kind(),
                error: Box::new(error),
            }
        }
        429 => too_many_requests(api, retry_after_header(headers).is_some()),
        _ => Error::Api {
            status,
            code: api.code.clone(),
            error: Box::new(api),
        },
    }
}

/// Server timing of a generation, in milliseconds: the spec's `GenerateImageTiming`,
/// where a time the server left out reads 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Timing {
    pub(crate) inference_ms: f64,
    pub(crate) preprocessing_ms: f64,
    pub(crate) queue_ms: f64,
    pub(crate) total_ms: f64,
}

impl From<GenerateImageTiming> for Timing {
    fn from(t: GenerateImageTiming) -> Self {
        Self {
            inference_ms: t.inference_duration,
            preprocessing_ms: t.inference_preprocessing_time,
            queue_ms: t.inference_queue_time,
            total_ms: t.total,
        }
    }
}

impl Timing {
    /// The `timing` object of a generation, read as the generated type with the times
    /// it lacks set to 0; `None` when it is no object or a time is no number.
    pub(crate) fn from_wire(timing: Value) -> Option<Self> {
        let Value::Object(sent) = timing else {
            return None;
        };
        let zero = GenerateImageTiming {
            inference_duration: 0.0,
            inference_preprocessing_time: 0.0,
            inference_queue_time: 0.0,
            total: 0.0,
        };
        // The generated type's own serialisation names the keys: none is spelled here.
        let Ok(Value::Object(mut filled)) = serde_json::to_value(zero) else {
            return None;
        };
        filled.extend(sent);
        serde_json::from_value::<GenerateImageTiming>(Value::Object(filled))
            .ok()
            .map(Self::from)
    }

    /// Inference time (ms).
    pub fn inference_ms(&self) -> f64 {
        self.inference_ms
    }

    /// Preprocessing time (ms).
    pub fn preprocessing_ms(&self) -> f64 {
        self.preprocessing_ms
    }

    /// Queue time (ms).
    pub fn queue_ms(&self) -> f64 {
        self.queue_ms
    }

    /// Total time (ms).
    pub fn total_ms(&self) -> f64 {
        self.total_ms
    }
}

/// Decoded JSON generation: id, timing, image bytes.
#[derive(Debug)]
pub struct DecodedGeneration {
    /// Generation id (empty when absent).
    pub id: String,
    /// Timing, when sent.
    pub timing: Option<Timing>,
    /// The decoded images, in order (slices of one shared buffer).
    pub images: Vec<Bytes>,
}

/// Decode a whole JSON generation body: the same streaming decoder as the network
/// path, fed in one piece (fuzzing, benchmarks, tests).
#[cfg(any(test, feature = "__internal"))]
pub(crate) fn decode_generation(body: &[u8]) -> Result<DecodedGeneration> {
    let mut decoder = GenerationDecoder::new(Some(body.len() as u64));
    decoder.feed(body)?;
    decoder.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};
    use serde_json::json;

    // Here, not in `error`, for the same reason as the test below.
    #[test]
    fn a_code_less_answer_decodes_as_no_code_and_prints_without_one() {
        use crate::error::ErrorCode;
        use reqwest::header::HeaderMap;
        let e = error_from_parts(404, &HeaderMap::new(), b"");
        assert!(
            matches!(
                &e,
                Error::Api {
                    status: 404,
                    code: ErrorCode::NoCode,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "API error 404: Not Found");
        let v = serde_json::to_value(e.api_error().unwrap()).unwrap();
        assert_eq!(v["code"], serde_json::Value::Null);
        let coded = error_from_parts(
            409,
            &HeaderMap::new(),
            br#"{"code": "BRAND_NEW", "error": "new"}"#,
        );
        assert_eq!(coded.to_string(), "API error 409 BRAND_NEW: new");
    }

    // Here, not in `error`: `decode` sits above `error`, so `error`'s tests cannot call it.
    #[test]
    fn api_errors_are_matchable_and_serialise() {
        use crate::error::{ErrorCode, PaymentRequiredKind};
        use reqwest::header::{HeaderMap, HeaderValue};
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        let e = error_from_parts(
            503,
            &h,
            br#"{"error": "busy", "code": "MODEL_AT_CAPACITY"}"#,
        );
        assert!(matches!(
            &e,
            Error::Api { status: 503, code: ErrorCode::ModelAtCapacity, error }
                if error.message() == "busy"
        ));
        let v = serde_json::to_value(e.api_error().unwrap()).unwrap();
        assert_eq!(v["code"], "MODEL_AT_CAPACITY");
        assert_eq!(v["retry_after_secs"], 2.0);
        assert_eq!(v["meta"]["status"], 503);
        let p = error_from_parts(
            402,
            &HeaderMap::new(),
            br#"{"code": "INSUFFICIENT_BALANCE"}"#,
        );
        assert!(matches!(
            p,
            Error::PaymentRequired {
                kind: PaymentRequiredKind::AccountBalance,
                ..
            }
        ));
    }

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    fn api_of(e: &Error) -> &ApiError {
        e.api_error().unwrap()
    }

    #[test]
    fn x402_code_in_error_field() {
        // The provider's x402 shape: the code in `error`, prose in `message`.
        let body = json!({"error": "AMOUNT_TOO_LOW", "message": "below $5"}).to_string();
        let e = error_from_parts(400, &HeaderMap::new(), body.as_bytes());
        let a = api_of(&e);
        assert_eq!(a.code, ErrorCode::AmountTooLow);
        assert_eq!(a.message, "below $5");
        // Prose in `error` stays the message; the status decides the code.
        let body = json!({"error": "Authentication failed"}).to_string();
        let a = api_of(&error_from_parts(401, &HeaderMap::new(), body.as_bytes())).clone();
        assert_eq!(a.message, "Authentication failed");
        assert_eq!(a.code, ErrorCode::from_status(401));
    }

    #[test]
    fn validation_400() {
        let body =
            json!({"error": "bad", "details": {"width": {"_errors": ["too big"]}}}).to_string();
        let e = error_from_parts(400, &h(&[("x-request-id", "r1")]), body.as_bytes());
        assert!(matches!(e, Error::Api { .. }));
        let a = api_of(&e);
        assert_eq!(a.code, ErrorCode::InvalidRequest);
        assert_eq!(a.message, "bad");
        assert_eq!(
            a.details.as_ref().unwrap()["width"]["_errors"][0],
            "too big"
        );
        assert_eq!(a.request_id.as_deref(), Some("r1"));
        assert_eq!(e.status(), Some(400));
        assert!(!e.is_retryable());
    }

    #[test]
    fn issues_become_details() {
        let body =
            json!({"error": "bad", "issues": [{"code": "x", "path": ["prompt"]}]}).to_string();
        let e = error_from_parts(400, &HeaderMap::new(), body.as_bytes());
        assert_eq!(api_of(&e).details.as_ref().unwrap()[0]["code"], "x");
    }

    #[test]
    fn status_codes_and_codes() {
        let cases: &[(u16, Value, ErrorCode)] = &[
            (
                401,
                json!({"error": "Authentication failed"}),
                ErrorCode::AuthenticationFailed,
            ),
            (
                404,
                json!({"error": "nope", "code": "MODEL_NOT_FOUND"}),
                ErrorCode::ModelNotFound,
            ),
            (
                500,
                json!({"error": "x", "code": "INFERENCE_FAILED"}),
                ErrorCode::InferenceFailed,
            ),
            (
                503,
                json!({"error": "busy", "code": "MODEL_AT_CAPACITY"}),
                ErrorCode::ModelAtCapacity,
            ),
            (
                413,
                json!({"code": "IMAGE_TOO_LARGE"}),
                ErrorCode::ImageTooLarge,
            ),
            (
                504,
                json!({"code": "SETTLEMENT_TIMEOUT"}),
                ErrorCode::SettlementTimeout,
            ),
            (
                409,
                json!({"code": "BRAND_NEW"}),
                ErrorCode::Unknown("BRAND_NEW".into()),
            ),
        ];
        for (status, body, code) in cases {
            let e = error_from_parts(*status, &HeaderMap::new(), body.to_string().as_bytes());
            assert!(matches!(e, Error::Api { .. }), "{status}");
            assert_eq!(e.code(), Some(code), "{status}");
            assert_eq!(e.status(), Some(*status));
        }
        let e = error_from_parts(503, &HeaderMap::new(), b"{}");
        assert!(e.is_retryable());
        assert_eq!(api_of(&e).message, "Service Unavailable");
    }

    #[test]
    fn non_json_body_keeps_status_and_excerpt() {
        let body = format!("<html>{}</html>", "x".repeat(EXCERPT_LIMIT + 2000));
        let e = error_from_parts(502, &HeaderMap::new(), body.as_bytes());
        let a = api_of(&e);
        assert_eq!(a.status, 502);
        assert_eq!(a.code, ErrorCode::NoCode);
        assert_eq!(a.body_excerpt.len(), EXCERPT_LIMIT);
        // The message is the page's text in one line, not its markup.
        assert_eq!(a.message, "x".repeat(200));
        // multi-byte chars at the cut never panic
        let e = error_from_parts(
            500,
            &HeaderMap::new(),
            "é".repeat(EXCERPT_LIMIT / 2 + 1).as_bytes(),
        );
        assert!(api_of(&e).body_excerpt.len() <= EXCERPT_LIMIT);
        let e = error_from_parts(500, &HeaderMap::new(), &[0xff, 0xfe, 0x00]);
        assert_eq!(e.status(), Some(500));
        let e = error_from_parts(500, &HeaderMap::new(), b"");
        assert_eq!(api_of(&e).message, "Internal Server Error");
    }

    #[test]
    fn wrongly_typed_fields_are_tolerated() {
        let body =
            json!({"error": 5, "code": ["x"], "details": "text", "message": "m"}).to_string();
        let e = error_from_parts(400, &HeaderMap::new(), body.as_bytes());
        let a = api_of(&e);
        assert_eq!(a.message, "m");
        assert_eq!(a.code, ErrorCode::InvalidRequest);
        // A field that does not fit the spec's type is dropped; the excerpt keeps it.
        assert_eq!(a.details, None);
        assert!(a.body_excerpt.contains("\"text\""), "{}", a.body_excerpt);
    }

    #[test]
    fn payment_required_with_header() {
        let entry = json!({"scheme": "exact", "network": "eip155:8453", "asset": "0xa",
                           "amount": "10000", "payTo": "0xb"});
        let header_json = json!({"x402Version": 2, "accepts": [entry, {"scheme": "exact"}]});
        let b64 = base64_simd::STANDARD.encode_to_string(header_json.to_string());
        let body = json!({
            "error": "Payment required", "code": "PAYMENT_REQUIRED", "reason": "insufficient_balance",
            "x402Version": 2, "currentBalanceUsd": 0.5, "minimumBalanceUsd": 1.0,
            "suggestedTopUpUsd": 10.0, "supportedChains": ["base"], "supportedTokens": ["USDC"],
            "accepts": [entry, {"scheme": "exact"}], "topUpInstructions": {"url": "x"}
        });
        let e = error_from_parts(
            402,
            &h(&[("payment-required", &b64)]),
            body.to_string().as_bytes(),
        );
        let Error::PaymentRequired { error: p, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(p.api.code, ErrorCode::PaymentRequired);
        assert_eq!(p.reason.as_deref(), Some("insufficient_balance"));
        assert_eq!(p.current_balance_usd, Some(0.5));
        assert_eq!(p.minimum_balance_usd, Some(1.0));
        assert_eq!(p.suggested_top_up_usd, Some(10.0));
        assert_eq!(p.supported_chains, ["base"]);
        // The entry that is no x402 requirement is dropped, in the body and the header,
        // and so are the instructions that are not the spec's shape; the rest is typed.
        assert_eq!(p.accepts.len(), 1);
        assert_eq!(p.accepts[0].pay_to, "0xb");
        assert!(p.top_up_instructions.is_none());
        let header = p.payment_required_header().unwrap();
        assert_eq!((header.x402_version, header.accepts.len()), (2, 1));
        assert!(p.api.body_excerpt.contains("topUpInstructions"));
        assert!(!e.is_retryable());
        // a broken header is ignored, not fatal
        let e = error_from_parts(
            402,
            &h(&[("payment-required", "%%%")]),
            b"{\"code\":\"INSUFFICIENT_BALANCE\"}",
        );
        let Error::PaymentRequired { error: p, .. } = &e else {
            panic!()
        };
        assert!(p.payment_required_header.is_none());
        assert_eq!(p.api.code, ErrorCode::InsufficientBalance);
    }

    #[test]
    fn lenient_keeps_what_fits_and_needs_the_required() {
        let fields = |v: Value| v.as_object().unwrap().clone();
        let entry = json!({"scheme": "exact", "network": "n", "asset": "a", "amount": "1",
                           "payTo": "p"});
        // An item that does not fit, a nested object missing a field, a mistyped field.
        let r: VeniceError = lenient(fields(json!({
            "accepts": [{"scheme": 1}, entry, {"payTo": "p"}], "siwxChallenge": {"info": {}},
            "x402Version": "two", "reason": "r"})))
        .unwrap();
        assert_eq!((r.accepts.len(), r.reason.as_deref()), (1, Some("r")));
        assert!(r.siwx_challenge.is_none() && r.x402_version.is_none());
        // A required field missing: no requirements at all.
        assert!(lenient::<X402PaymentRequired>(fields(json!({"accepts": [entry]}))).is_none());
        let h: X402PaymentRequired =
            lenient(fields(json!({"x402Version": 2, "accepts": [entry, 5]}))).unwrap();
        assert_eq!(h.accepts.len(), 1);
    }

    #[test]
    fn rate_limited_with_retry_after() {
        let body = json!({"error": "slow down", "code": "RATE_LIMIT_EXCEEDED"}).to_string();
        let e = error_from_parts(429, &h(&[("retry-after", "7")]), body.as_bytes());
        let Error::RateLimited { retry_after, .. } = &e else {
            panic!()
        };
        assert_eq!(*retry_after, Some(Duration::from_secs(7)));
        assert!(e.is_retryable());
        let e = error_from_parts(
            429,
            &HeaderMap::new(),
            b"{\"code\":\"INSUFFICIENT_BALANCE\"}",
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn retry_after_from_reset_header() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let hm = h(&[("x-ratelimit-reset-requests", "1800000005")]);
        assert_eq!(retry_after(429, &hm, now), Some(Duration::from_secs(5)));
        // The window reset says when a 429 clears, nothing about other errors.
        assert_eq!(retry_after(500, &hm, now), None);
        assert_eq!(retry_after(503, &hm, now), None);
        let hm = h(&[("x-ratelimit-reset-requests", "12")]);
        assert_eq!(retry_after(429, &hm, now), Some(Duration::from_secs(12)));
        let hm = h(&[("x-ratelimit-reset-requests", "1700000000")]);
        assert_eq!(retry_after(429, &hm, now), Some(Duration::ZERO));
        let hm = h(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert_eq!(retry_after(429, &hm, now), None);
        // An explicit Retry-After is a hint for any status.
        let hm = h(&[("retry-after", "3"), ("x-ratelimit-reset-requests", "12")]);
        assert_eq!(retry_after(503, &hm, now), Some(Duration::from_secs(3)));
    }

    #[test]
    fn decode_generation_json() {
        let a = base64_simd::STANDARD.encode_to_string(b"hello");
        let b = format!(
            "data:image/png;base64,{}",
            base64_simd::STANDARD.encode_to_string(b"world")
        );
        let body = json!({"id": "g1", "images": [a, b], "timing": {"total": 12.5, "inferenceDuration": 10}}).to_string();
        let d = decode_generation(body.as_bytes()).unwrap();
        assert_eq!(d.id, "g1");
        assert_eq!(
            d.images,
            vec![Bytes::from_static(b"hello"), Bytes::from_static(b"world")]
        );
        let t = d.timing.unwrap();
        assert_eq!((t.total_ms, t.inference_ms, t.queue_ms), (12.5, 10.0, 0.0));
        // A timing that is not the spec's (a time as text) is left out; the images stay.
        for timing in [json!({"total": "12"}), json!([1, 2]), json!(null)] {
            let body = json!({"id": "g2", "images": [&a], "timing": timing}).to_string();
            let d = decode_generation(body.as_bytes()).unwrap();
            assert_eq!((d.timing, d.images.len()), (None, 1), "{timing}");
        }
        // escaped slashes (some encoders) still decode
        let body = br#"{"id":"x","images":["ab\/c"]}"#;
        assert!(decode_generation(body).is_ok());
        assert!(matches!(
            decode_generation(b"{\"images\": [\"***\"]}"),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            decode_generation(b"not json"),
            Err(Error::Decode { .. })
        ));
    }
}
