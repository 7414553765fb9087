//! Reading request bodies: the size limits (an oversized upload is read to its end and
//! answered 413, never cut off mid-upload), the media type, JSON and
//! `multipart/form-data` (turned into the same JSON value as the JSON form, so both
//! forms share validation, limits and error bodies), and draining bodies a request was
//! refused before reading.
//!
//! The provider's limits (`venice-errors`, `venice-image-edit`): a JSON body over 35 MB
//! is 413 "Request body exceeds the maximum allowed size."; a form file over 25 MB is
//! 413 "File exceeds the maximum allowed size of 25 MB."; a form carries at most 10
//! files. An operation whose schema requires `model` answers a missing, empty or
//! non-string one with the provider's plain 400 ("model is required" / "model must be a
//! string") before the schema check.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};

use crate::response::ApiError;
use crate::shapes;
use crate::spec::{self, Issue};

/// Media type of a JSON body.
pub(crate) const JSON: &str = "application/json";
/// Media type of a multipart upload.
pub(crate) const MULTIPART: &str = "multipart/form-data";

/// The size limits of request bodies, from the mock's configuration.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Largest JSON (or other non-form) body.
    pub json: usize,
    /// Largest file of a form.
    pub file: usize,
    /// Most files of a form.
    pub files: usize,
}

impl Limits {
    /// Largest form body read: every file at its limit plus the text fields.
    fn form(&self) -> usize {
        self.file
            .saturating_mul(self.files)
            .saturating_add(self.json)
    }
}

/// A size as the provider words it: whole megabytes as `N MB`, else bytes.
fn size_words(bytes: usize) -> String {
    if bytes.is_multiple_of(1_000_000) {
        format!("{} MB", bytes / 1_000_000)
    } else {
        format!("{bytes} bytes")
    }
}

/// Request bodies the pipeline reads: hyper's `Incoming`, or a buffer when fuzzing.
pub(crate) trait BodyIn:
    hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Unpin
{
}

impl<B> BodyIn for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Unpin
{
}

/// How much of a refused body is read (and thrown away) so the client can finish
/// sending and then read the answer: past this the connection is closed after the
/// response.
fn drain_cap(limit: usize) -> usize {
    limit.saturating_mul(4).max(64 * 1024 * 1024)
}

/// Why a body could not be read.
enum ReadError {
    /// Larger than the limit; `drained` tells whether it was read to its end.
    TooLarge { drained: bool },
    /// The connection failed or the framing was broken.
    Broken,
}

/// Reads a body up to `limit` bytes. Past the limit the rest is read and discarded
/// (up to [`drain_cap`]), so an oversized upload ends before the 413 is sent.
async fn collect_limited<B: BodyIn>(mut body: B, limit: usize) -> Result<Bytes, ReadError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut seen: usize = 0;
    let cap = drain_cap(limit);
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(ReadError::Broken);
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > limit {
            buf = Vec::new();
            if seen > cap {
                return Err(ReadError::TooLarge { drained: false });
            }
            continue;
        }
        buf.extend_from_slice(&data);
    }
    if seen > limit {
        return Err(ReadError::TooLarge { drained: true });
    }
    Ok(Bytes::from(buf))
}

/// Reads and discards a body the request was refused before reading, so that a
/// client still uploading can finish and read the answer. `false` when the body was
/// larger than [`drain_cap`] or broken (the connection should then close).
pub(crate) async fn drain<B: BodyIn>(mut body: B, limit: usize) -> bool {
    if body.is_end_stream() {
        return true;
    }
    let cap = drain_cap(limit);
    let mut seen: usize = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return false;
        };
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen > cap {
                return false;
            }
        }
    }
    true
}

/// The media type of `Content-Type`, lower case, without parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next().unwrap_or_default().trim();
    (!media.is_empty()).then(|| media.to_ascii_lowercase())
}

/// `Content-Length: 0`.
fn declared_empty(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0")
}

fn is_json(media: &str) -> bool {
    media == JSON || (media.starts_with("application/") && media.ends_with("+json"))
}

fn too_large(drained: bool) -> ApiError {
    let e = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request body exceeds the maximum allowed size.",
        Some("PAYLOAD_TOO_LARGE"),
    );
    if drained {
        e
    } else {
        e.header("connection", "close")
    }
}

/// The answer to a body that could not be read.
fn read_failure(e: ReadError) -> ApiError {
    match e {
        ReadError::TooLarge { drained } => too_large(drained),
        ReadError::Broken => ApiError::new(
            StatusCode::BAD_REQUEST,
            "Could not read the request body",
            None,
        ),
    }
}

/// 400 for a body that is not well-formed, in the validation shape (`details._errors`).
fn malformed(message: String) -> ApiError {
    ApiError::validation(&[Issue {
        code: "custom".to_owned(),
        message,
        path: Vec::new(),
    }])
}

/// Reads, parses and validates the body of `operation_id` against the request schema
/// of its media type in the spec. Returns the body as JSON; a multipart form becomes
/// the equivalent JSON object (files as base64 strings). `recorded` receives the value
/// for the request log once it parsed.
pub(crate) async fn read<B: BodyIn>(
    headers: &HeaderMap,
    body: B,
    limits: Limits,
    operation_id: &str,
    recorded: &mut Option<Value>,
) -> Result<Value, ApiError> {
    let limit = limits.json;
    let accepted = spec::embedded().request_media_types(operation_id);
    let media = media_type(headers);
    let chosen = match media.as_deref() {
        Some(m) if is_json(m) && accepted.contains(&JSON) => JSON,
        Some(MULTIPART) if accepted.contains(&MULTIPART) => MULTIPART,
        // No body at all: like a JSON server, validate an empty object, so the answer
        // names the missing fields (a 400) instead of a media type nobody sent.
        None if body.is_end_stream() || declared_empty(headers) => {
            let empty = Value::Object(Map::new());
            if let Some(validator) = spec::request_validator_for(operation_id, JSON) {
                validator
                    .validate(&empty)
                    .map_err(|issues| ApiError::validation(&issues))?;
            }
            return Ok(empty);
        }
        _ => {
            let drained = drain(body, limit).await;
            let e = ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("Content-Type must be one of {}", accepted.join(", ")),
                Some("UNSUPPORTED_MEDIA_TYPE"),
            );
            return Err(if drained {
                e
            } else {
                e.header("connection", "close")
            });
        }
    };
    let read_limit = if chosen == JSON { limit } else { limits.form() };
    let bytes = collect_limited(body, read_limit)
        .await
        .map_err(read_failure)?;
    let value = if chosen == JSON {
        serde_json::from_slice(&bytes).map_err(|e| invalid_json(&e))?
    } else {
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let media = spec::embedded().request_media(operation_id, MULTIPART);
        parse_multipart(content_type, bytes, media, limits).await?
    };
    *recorded = Some(value.clone());
    check_model(operation_id, chosen, &value)?;
    if let Some(validator) = spec::request_validator_for(operation_id, chosen) {
        validator
            .validate(&value)
            .map_err(|issues| ApiError::validation(&issues))?;
    }
    Ok(value)
}

/// Reads the body of an operation that takes none (the top-up, whose upstream form is
/// an optional empty JSON object): ignored, except that a JSON body must be JSON, as a
/// JSON server's body parser insists.
pub(crate) async fn read_unused<B: BodyIn>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
) -> Result<(), ApiError> {
    if body.is_end_stream() {
        return Ok(());
    }
    let bytes = collect_limited(body, limit).await.map_err(read_failure)?;
    let json = media_type(headers).is_some_and(|m| is_json(&m));
    if json && !bytes.is_empty() {
        // The top-up's errors have the provider's closed x402 shape (no `code`); its
        // optional body is an object.
        let reason = match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(_)) => None,
            Ok(_) => Some("the body must be a JSON object".to_owned()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(reason) = reason {
            return Err(shapes::x402_error(
                StatusCode::BAD_REQUEST,
                "INVALID_JSON",
                "Invalid JSON body",
                &reason,
            ));
        }
    }
    Ok(())
}

/// The provider's plain 400 for a missing or ill-typed `model` where the request schema
/// requires one (checked before the schema, as the provider does).
fn check_model(operation_id: &str, media: &str, body: &Value) -> Result<(), ApiError> {
    let requires_model = spec::embedded()
        .request_media(operation_id, media)
        .and_then(|m| m.get("schema"))
        .map(|s| spec::embedded().resolve(s))
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|f| f == "model"));
    if !requires_model {
        return Ok(());
    }
    match body.get("model") {
        None | Some(Value::Null) => Err(plain_400("model is required")),
        Some(Value::String(m)) if m.is_empty() => Err(plain_400("model is required")),
        Some(Value::String(_)) => Ok(()),
        Some(_) => Err(plain_400("model must be a string")),
    }
}

fn plain_400(message: &str) -> ApiError {
    ApiError::with_body(StatusCode::BAD_REQUEST, &json!({ "error": message }))
}

fn invalid_json(e: &serde_json::Error) -> ApiError {
    ApiError::with_body(
        StatusCode::BAD_REQUEST,
        &json!({ "error": "Invalid JSON body", "code": "INVALID_JSON", "message": e.to_string() }),
    )
}

/// What a form field holds, by the spec's media type object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    /// A file (listed in `encoding` with a `contentType`): base64 of its bytes.
    File,
    /// A repeated file field of an array property: an array of base64 strings.
    Files,
    /// A text part typed by its property's `type` (`integer`, `number`, `boolean`).
    Text,
}

/// The kind of a form field: `media` is the spec's `multipart/form-data` media type
/// object (its `schema` and `encoding`).
fn field_kind(media: Option<&Value>, name: &str) -> (FieldKind, Option<String>) {
    let spec = spec::embedded();
    let prop = media
        .and_then(|m| m.get("schema"))
        .map(|s| spec.resolve(s))
        .and_then(|s| s.get("properties"))
        .and_then(|p| p.get(name))
        .map(|p| spec.resolve(p));
    let ty = prop
        .and_then(|p| p.get("type"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let is_file = media
        .and_then(|m| m.pointer(&format!("/encoding/{name}/contentType")))
        .is_some();
    match (is_file, ty.as_deref()) {
        (true, Some("array")) => (FieldKind::Files, ty),
        (true, _) => (FieldKind::File, ty),
        (false, _) => (FieldKind::Text, ty),
    }
}

fn typed(ty: Option<&str>, text: String) -> Value {
    match ty {
        Some("integer") => text
            .trim()
            .parse::<i64>()
            .map_or(Value::String(text), Value::from),
        Some("number") => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::String(text), Value::Number),
        Some("boolean") => match text.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text),
        },
        _ => Value::String(text),
    }
}

/// Parses a whole multipart body into a JSON object: file fields (those the spec's
/// `encoding` gives a `contentType`) become base64 strings, text fields are typed by
/// their schema, repeated file fields of an array property become an array. Any framing
/// error is a 400; a file over the limit is a 413, more files than a form takes a 400.
pub(crate) async fn parse_multipart(
    content_type: &str,
    bytes: Bytes,
    media: Option<&Value>,
    limits: Limits,
) -> Result<Value, ApiError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| malformed(format!("multipart body: {e}")))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(bytes) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut out = Map::new();
    let b64 = |data: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(data));
    let mut files = 0usize;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(malformed(format!("multipart body: {e}"))),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name.is_empty() {
            return Err(malformed(
                "multipart body: a part has no field name".to_owned(),
            ));
        }
        let data = field
            .bytes()
            .await
            .map_err(|e| malformed(format!("multipart field {name:?}: {e}")))?;
        let (kind, ty) = field_kind(media, &name);
        let value = match kind {
            FieldKind::File | FieldKind::Files => {
                files += 1;
                if files > limits.files {
                    return Err(malformed(format!(
                        "multipart body: at most {} files are accepted",
                        limits.files
                    )));
                }
                if data.len() > limits.file {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &format!(
                            "File exceeds the maximum allowed size of {}.",
                            size_words(limits.file)
                        ),
                        Some("PAYLOAD_TOO_LARGE"),
                    ));
                }
                b64(&data)
            }
            FieldKind::Text => {
                let text = String::from_utf8(data.to_vec()).map_err(|_| {
                    malformed(format!("multipart field {name:?} is not UTF-8 text"))
                })?;
                typed(ty.as_deref(), text)
            }
        };
        match (kind, out.get_mut(&name)) {
            (FieldKind::Files, Some(Value::Array(list))) => list.push(value),
            (FieldKind::Files, None) => {
                out.insert(name, Value::Array(vec![value]));
            }
            (_, Some(_)) => {
                return Err(malformed(format!(
                    "multipart field {name:?} is sent more than once"
                )));
            }
            (_, None) => {
                out.insert(name, value);
            }
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn collect_reads_oversized_bodies_to_the_end() {
        let body = http_body_util::Full::new(Bytes::from(vec![0u8; 100]));
        let r = block_on(collect_limited(body, 10));
        assert!(matches!(r, Err(ReadError::TooLarge { drained: true })));
        let body = http_body_util::Full::new(Bytes::from(vec![1u8; 10]));
        assert_eq!(
            block_on(collect_limited(body, 10)).ok().map(|b| b.len()),
            Some(10)
        );
    }

    const LIMITS: Limits = Limits {
        json: 1000,
        file: 4,
        files: 3,
    };

    fn form_of(parts: &[(&str, &[u8])]) -> Bytes {
        let mut out = Vec::new();
        for (name, data) in parts {
            out.extend_from_slice(
                format!(
                    "--b\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"f\"\r\n\r\n"
                )
                .as_bytes(),
            );
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--b--\r\n");
        Bytes::from(out)
    }

    #[test]
    fn form_files_over_the_limit_and_too_many_files_are_refused() {
        let schema = json!({"schema": {"properties": {
            "images": {"type": "array", "items": {"type": "string"}}}},
            "encoding": {"images": {"contentType": "image/*"}}});
        let parse = |body: Bytes| {
            block_on(parse_multipart(
                "multipart/form-data; boundary=b",
                body,
                Some(&schema),
                LIMITS,
            ))
        };
        // Both sides of the per-file limit (4 bytes here).
        assert!(parse(form_of(&[("images", b"1234")])).is_ok());
        let ApiError(r) = parse(form_of(&[("images", b"12345")])).unwrap_err();
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(String::from_utf8_lossy(&r.body).contains("maximum allowed size of 4 bytes"));
        let ApiError(r) = parse(form_of(&[
            ("images", b"1"),
            ("images", b"2"),
            ("images", b"3"),
            ("images", b"4"),
        ]))
        .unwrap_err();
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(size_words(25_000_000), "25 MB");
        assert_eq!(LIMITS.form(), 1012);
    }

    #[test]
    fn multipart_fields_are_typed_by_schema() {
        let schema = json!({"schema": {"properties": {
            "image": {"type": "string"},
            "images": {"type": "array", "items": {"type": "string"}},
            "scale": {"type": "number"}, "safe_mode": {"type": "boolean"}}},
            "encoding": {"image": {"contentType": "image/*"}, "images": {"contentType": "image/*"}}});
        let body = "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nab\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"images\"\r\n\r\nx\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"images\"\r\n\r\ny\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"scale\"\r\n\r\n4\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"safe_mode\"\r\n\r\nfalse\r\n--b--\r\n";
        let v = block_on(parse_multipart(
            "multipart/form-data; boundary=b",
            Bytes::from(body),
            Some(&schema),
            LIMITS,
        ))
        .unwrap();
        assert_eq!(
            v,
            json!({"image": "YWI=", "images": ["eA==", "eQ=="], "scale": 4.0, "safe_mode": false})
        );
        let truncated = "--b\r\nContent-Disposition: form-data; name=\"scale\"\r\n\r\n4";
        assert!(
            block_on(parse_multipart(
                "multipart/form-data; boundary=b",
                Bytes::from(truncated),
                Some(&schema),
                LIMITS
            ))
            .is_err()
        );
        assert!(
            block_on(parse_multipart(
                "multipart/form-data",
                Bytes::new(),
                Some(&schema),
                LIMITS
            ))
            .is_err()
        );
    }
}
