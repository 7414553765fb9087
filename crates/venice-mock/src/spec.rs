//! The project's OpenAPI spec (`openapi/venice-image.yaml`), read at build time, turned
//! into JSON Schema, and used to route and to validate requests and responses.
//!
//! This module is the shared helper of the contract tests: [`request_validator`] checks a
//! request body against an operation's request schema and [`validate_response`] checks
//! a whole response (status, headers, media type and body) against what the spec
//! documents for that operation and status. [`match_operation`] finds the operation a
//! method and path select, which is how the server routes: no path is typed twice.
//!
//! The same checks run against any other OpenAPI 3.0 document loaded with
//! [`Spec::from_yaml`] (the contract tests use it with the provider's published spec).
//!
//! OpenAPI 3.0 schemas are converted to JSON Schema draft 2020-12 by [`to_json_schema`]:
//! `nullable: true` becomes `anyOf: [schema, {type: null}]`, boolean
//! `exclusiveMinimum`/`exclusiveMaximum` become numeric bounds, `deprecated`, `example`
//! and `x-*` keys are dropped, and `#/components/schemas/X` references become
//! `#/$defs/X`. Schemas are never re-typed by hand.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Map, Value, json};

/// The spec text, embedded at build time from the package's own copy of
/// `openapi/venice-image.yaml` (a `.crate` holds only its directory; `cargo xtask
/// generate` writes the copy and `cargo xtask check` fails when it drifts).
pub const SPEC_YAML: &str = include_str!("../openapi/venice-image.yaml");

/// One validation issue, in the provider's (zod-like) shape.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Issue {
    /// Issue kind, e.g. `invalid_type`, `too_big`, `unrecognized_keys`.
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// Path of the offending field (property names and array indices).
    pub path: Vec<Value>,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path: Vec<String> = self
            .path
            .iter()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        write!(f, "/{}: {} ({})", path.join("/"), self.message, self.code)
    }
}

/// An OpenAPI 3.0 document ready for validation: the document as JSON, its component
/// schemas converted to JSON Schema, and a cache of compiled validators.
pub struct Spec {
    doc: Value,
    defs: Value,
    cache: Mutex<HashMap<String, Arc<SchemaValidator>>>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("title", &self.doc.pointer("/info/title"))
            .finish_non_exhaustive()
    }
}

static EMBEDDED: LazyLock<Spec> = LazyLock::new(|| {
    // The embedded spec is part of this crate; the unit tests prove it parses.
    Spec::from_yaml(SPEC_YAML).unwrap_or_else(|_| Spec::from_value(Value::Null))
});

/// Our spec (`openapi/venice-image.yaml`), parsed once.
pub fn embedded() -> &'static Spec {
    &EMBEDDED
}

/// The whole spec as JSON.
pub fn document() -> &'static Value {
    &EMBEDDED.doc
}

/// Why no operation matched a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMiss {
    /// No path of the spec (under the server's base path) matches.
    NotFound,
    /// The path exists, but not with this method; the methods it has, upper case.
    MethodNotAllowed(Vec<String>),
}

/// The operation a request selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationMatch<'s> {
    /// Its `operationId`.
    pub operation_id: &'s str,
    /// The path template, e.g. `/x402/balance/{walletAddress}`.
    pub template: &'s str,
    /// Decoded path parameters, by name.
    pub path_params: Vec<(String, String)>,
}

impl OperationMatch<'_> {
    /// A path parameter by name.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A decoded path segment, or `None` when it could step out of its place (empty,
/// `.`, `..`, or an encoded `/` or `\`): such a path matches nothing.
fn decode_segment(segment: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()?;
    if decoded.is_empty() || decoded == "." || decoded == ".." || decoded.contains(['/', '\\']) {
        return None;
    }
    Some(decoded.into_owned())
}

/// Parses a query string into decoded pairs (`+` is a space).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

impl Spec {
    /// Parses an OpenAPI 3.0 document (YAML 1.2 or JSON).
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let doc: Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        if !doc.get("paths").is_some_and(Value::is_object) {
            return Err("the document has no `paths`".to_owned());
        }
        Ok(Self::from_value(doc))
    }

    fn from_value(doc: Value) -> Self {
        let defs = doc
            .pointer("/components/schemas")
            .map_or_else(|| json!({}), to_json_schema);
        Self {
            doc,
            defs,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The document as JSON.
    pub fn document(&self) -> &Value {
        &self.doc
    }

    /// The path part of the first server URL, e.g. `/api/v1` (empty when none).
    pub fn base_path(&self) -> &str {
        self.doc
            .pointer("/servers/0/url")
            .and_then(Value::as_str)
            .and_then(|u| u.split_once("://").map(|(_, rest)| rest))
            .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
            .map_or("", |p| p.trim_end_matches('/'))
    }

    /// Follows a local `$ref` (any `#/…` pointer) until a non-reference object.
    pub fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        let mut current = value;
        for _ in 0..16 {
            match current
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|p| self.doc.pointer(p))
            {
                Some(next) => current = next,
                None => return current,
            }
        }
        current
    }

    /// Every operation: (method, path template, operation object).
    fn operations(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        self.doc
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(template, item)| Some((template.as_str(), item.as_object()?)))
            .flat_map(|(template, item)| {
                item.iter()
                    .filter(|(m, op)| METHODS.contains(&m.as_str()) && op.is_object())
                    .map(move |(m, op)| (m.as_str(), template, op))
            })
    }

    /// An operation object by `operationId`.
    pub fn operation(&self, operation_id: &str) -> Option<&Value> {
        self.operations()
            .find(|(_, _, op)| op.get("operationId").and_then(Value::as_str) == Some(operation_id))
            .map(|(_, _, op)| op)
    }

    /// The method (upper case) and full path template (with the base path) of an
    /// operation, e.g. `("POST", "/api/v1/x402/top-up")`, for messages that name it.
    pub fn operation_route(&self, operation_id: &str) -> Option<(String, String)> {
        self.operations()
            .find(|(_, _, op)| op.get("operationId").and_then(Value::as_str) == Some(operation_id))
            .map(|(m, t, _)| (m.to_ascii_uppercase(), format!("{}{t}", self.base_path())))
    }

    /// Every `operationId`.
    pub fn operation_ids(&self) -> Vec<&str> {
        self.operations()
            .filter_map(|(_, _, op)| op.get("operationId").and_then(Value::as_str))
            .collect()
    }

    /// Finds the operation of a method and a raw request path (with the base path).
    /// Segments are percent-decoded; a segment that decodes to empty, `.`, `..` or
    /// contains a slash matches nothing, so `…/balance/../../models` is not the model
    /// list.
    pub fn match_operation(
        &self,
        method: &str,
        raw_path: &str,
    ) -> Result<OperationMatch<'_>, RouteMiss> {
        let rest = raw_path
            .strip_prefix(self.base_path())
            .and_then(|r| r.strip_prefix('/'))
            .ok_or(RouteMiss::NotFound)?;
        let segments: Option<Vec<String>> = rest.split('/').map(decode_segment).collect();
        let segments = segments.ok_or(RouteMiss::NotFound)?;
        let paths = self
            .doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or(RouteMiss::NotFound)?;
        for (template, item) in paths {
            let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let mut params = Vec::new();
            let fits = parts.iter().zip(&segments).all(|(part, seg)| {
                match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) => {
                        params.push((name.to_owned(), seg.clone()));
                        true
                    }
                    None => part == seg,
                }
            });
            if !fits {
                continue;
            }
            let method = method.to_ascii_lowercase();
            if let Some(op) = item.get(method.as_str()).filter(|o| o.is_object()) {
                let operation_id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                return Ok(OperationMatch {
                    operation_id,
                    template: template.as_str(),
                    path_params: params,
                });
            }
            let allowed = item
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(m, op)| METHODS.contains(&m.as_str()) && op.is_object())
                .map(|(m, _)| m.to_ascii_uppercase())
                .collect();
            return Err(RouteMiss::MethodNotAllowed(allowed));
        }
        Err(RouteMiss::NotFound)
    }

    /// The request body schema of an operation for a media type (`None` when the
    /// operation takes no body of that type).
    pub fn request_schema(&self, operation_id: &str, media: &str) -> Option<&Value> {
        let body = self.resolve(self.operation(operation_id)?.get("requestBody")?);
        body.get("content")?.get(media)?.get("schema")
    }

    /// The media type object (`schema`, `encoding`) of an operation's request body.
    pub fn request_media(&self, operation_id: &str, media: &str) -> Option<&Value> {
        let body = self.resolve(self.operation(operation_id)?.get("requestBody")?);
        body.get("content")?.get(media)
    }

    /// The media types an operation's request body may have (empty: no body).
    pub fn request_media_types(&self, operation_id: &str) -> Vec<&str> {
        self.operation(operation_id)
            .and_then(|op| op.get("requestBody"))
            .map(|b| self.resolve(b))
            .and_then(|b| b.get("content"))
            .and_then(Value::as_object)
            .map(|c| c.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// A validator compiled against this document, cached under `key`.
    pub fn cached_validator(
        &self,
        key: String,
        schema: &Value,
    ) -> Result<Arc<SchemaValidator>, String> {
        let mut cache = self.cache.lock().map_err(|e| e.to_string())?;
        if let Some(v) = cache.get(&key) {
            return Ok(Arc::clone(v));
        }
        let compiled = Arc::new(SchemaValidator::compile_with(&self.defs, schema)?);
        cache.insert(key, Arc::clone(&compiled));
        Ok(compiled)
    }

    /// The validator of an operation's request body of one media type.
    pub fn request_validator_for(
        &self,
        operation_id: &str,
        media: &str,
    ) -> Option<Arc<SchemaValidator>> {
        let schema = self.request_schema(operation_id, media)?;
        self.cached_validator(format!("req:{operation_id}:{media}"), schema)
            .ok()
    }
}

/// Converts an OpenAPI 3.0 schema object to a JSON Schema (draft 2020-12) object.
///
/// References to `#/components/schemas/X` become `#/$defs/X`; wrap the result with
/// [`schema_with_defs`] to make them resolvable.
pub fn to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(obj) => {
            let mut out = Map::new();
            let mut nullable = false;
            let exclusive_min = obj.get("exclusiveMinimum").and_then(Value::as_bool);
            let exclusive_max = obj.get("exclusiveMaximum").and_then(Value::as_bool);
            for (key, value) in obj {
                match key.as_str() {
                    "nullable" => nullable = value.as_bool().unwrap_or(false),
                    "deprecated" | "example" | "xml" | "externalDocs" | "discriminator" => {}
                    k if k.starts_with("x-") => {}
                    "$ref" => {
                        let target = value.as_str().unwrap_or_default();
                        let rewritten = target
                            .strip_prefix("#/components/schemas/")
                            .map_or_else(|| target.to_owned(), |name| format!("#/$defs/{name}"));
                        out.insert(key.clone(), Value::String(rewritten));
                    }
                    "exclusiveMinimum" | "exclusiveMaximum" if value.is_boolean() => {}
                    "minimum" if exclusive_min == Some(true) => {
                        out.insert("exclusiveMinimum".to_owned(), value.clone());
                    }
                    "maximum" if exclusive_max == Some(true) => {
                        out.insert("exclusiveMaximum".to_owned(), value.clone());
                    }
                    "properties" | "$defs" | "definitions" | "patternProperties" => {
                        let converted = value
                            .as_object()
                            .map(|m| {
                                m.iter()
                                    .map(|(k, v)| (k.clone(), to_json_schema(v)))
                                    .collect::<Map<_, _>>()
                            })
                            .map_or_else(|| value.clone(), Value::Object);
                        out.insert(key.clone(), converted);
                    }
                    "items" | "additionalProperties" | "not" => {
                        out.insert(key.clone(), to_json_schema(value));
                    }
                    "allOf" | "anyOf" | "oneOf" => {
                        let converted = value
                            .as_array()
                            .map(|a| a.iter().map(to_json_schema).collect::<Vec<_>>())
                            .map_or_else(|| value.clone(), Value::Array);
                        out.insert(key.clone(), converted);
                    }
                    // Keep any other keyword (and non-schema maps such as `enum`) verbatim,
                    // except a nested `components.schemas` map, which is converted.
                    _ => {
                        let keep = if value.is_object()
                            && !matches!(key.as_str(), "enum" | "default" | "const")
                        {
                            to_json_schema(value)
                        } else {
                            value.clone()
                        };
                        out.insert(key.clone(), keep);
                    }
                }
            }
            if nullable {
                let description = out.remove("description");
                let mut wrapped = Map::new();
                wrapped.insert(
                    "anyOf".to_owned(),
                    json!([Value::Object(out), {"type": "null"}]),
                );
                if let Some(d) = description {
                    wrapped.insert("description".to_owned(), d);
                }
                Value::Object(wrapped)
            } else {
                Value::Object(out)
            }
        }
        other => other.clone(),
    }
}

/// Makes a converted schema self-contained: adds every component schema of our spec as
/// `$defs`.
pub fn schema_with_defs(converted: &Value) -> Value {
    with_defs(&EMBEDDED.defs, converted)
}

fn with_defs(defs: &Value, converted: &Value) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
        "allOf": [converted],
    })
}

/// A compiled JSON Schema validator for one schema of a spec.
pub struct SchemaValidator {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for SchemaValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SchemaValidator")
    }
}

impl SchemaValidator {
    /// Compiles an OpenAPI 3.0 schema (converted first) against our spec's components.
    pub fn compile(openapi_schema: &Value) -> Result<Self, String> {
        Self::compile_with(&EMBEDDED.defs, openapi_schema)
    }

    fn compile_with(defs: &Value, openapi_schema: &Value) -> Result<Self, String> {
        let root = with_defs(defs, &to_json_schema(openapi_schema));
        jsonschema::draft202012::options()
            .build(&root)
            .map(|validator| Self { validator })
            .map_err(|e| e.to_string())
    }

    /// Validates an instance; every issue is reported.
    pub fn validate(&self, instance: &Value) -> Result<(), Vec<Issue>> {
        let issues: Vec<Issue> = self
            .validator
            .iter_errors(instance)
            .map(issue_from)
            .collect();
        if issues.is_empty() {
            Ok(())
        } else {
            Err(issues)
        }
    }
}

fn pointer_segments(pointer: &str) -> Vec<Value> {
    pointer
        .split('/')
        .skip(1)
        .map(|seg| {
            let seg = seg.replace("~1", "/").replace("~0", "~");
            match seg.parse::<u64>() {
                Ok(n) if !seg.starts_with('0') || seg == "0" => Value::from(n),
                _ => Value::String(seg),
            }
        })
        .collect()
}

fn issue_from(error: jsonschema::ValidationError<'_>) -> Issue {
    use jsonschema::error::ValidationErrorKind as K;
    let mut path = pointer_segments(error.instance_path().as_str());
    let (code, message) = match error.kind() {
        K::Required { property } => {
            path.push(property.clone());
            ("invalid_type".to_owned(), "Required".to_owned())
        }
        K::AdditionalProperties { unexpected } => (
            "unrecognized_keys".to_owned(),
            format!(
                "Unrecognized key(s) in object: {}",
                unexpected
                    .iter()
                    .map(|k| format!("'{k}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        K::Type { .. } => ("invalid_type".to_owned(), error.to_string()),
        K::Enum { .. } => ("invalid_enum_value".to_owned(), error.to_string()),
        K::Minimum { .. }
        | K::ExclusiveMinimum { .. }
        | K::MinLength { .. }
        | K::MinItems { .. } => ("too_small".to_owned(), error.to_string()),
        K::Maximum { .. }
        | K::ExclusiveMaximum { .. }
        | K::MaxLength { .. }
        | K::MaxItems { .. } => ("too_big".to_owned(), error.to_string()),
        K::Pattern { .. } | K::Format { .. } => ("invalid_string".to_owned(), error.to_string()),
        _ => ("custom".to_owned(), error.to_string()),
    };
    Issue {
        code,
        message,
        path,
    }
}

/// Every `operationId` of our spec.
pub fn operation_ids() -> Vec<&'static str> {
    EMBEDDED.operation_ids()
}

/// Finds the operation of our spec that a method and raw path select (see
/// [`Spec::match_operation`]).
pub fn match_operation(method: &str, raw_path: &str) -> Result<OperationMatch<'static>, RouteMiss> {
    EMBEDDED.match_operation(method, raw_path)
}

static REQUEST_VALIDATORS: LazyLock<HashMap<&'static str, SchemaValidator>> = LazyLock::new(|| {
    operation_ids()
        .into_iter()
        .filter_map(|id| {
            let schema = EMBEDDED.request_schema(id, "application/json")?;
            SchemaValidator::compile(schema).ok().map(|v| (id, v))
        })
        .collect()
});

/// The validator of an operation's JSON request body, or `None` when the operation has
/// no JSON body (or is unknown).
pub fn request_validator(operation_id: &str) -> Option<&'static SchemaValidator> {
    REQUEST_VALIDATORS.get(operation_id)
}

/// The validator of an operation's request body of one media type in our spec.
pub fn request_validator_for(operation_id: &str, media: &str) -> Option<Arc<SchemaValidator>> {
    EMBEDDED.request_validator_for(operation_id, media)
}

fn decode_body(headers: &http::HeaderMap, body: &[u8]) -> Result<Vec<u8>, String> {
    let encoding = headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let mut out = Vec::new();
    match encoding.as_str() {
        "identity" | "" => return Ok(body.to_vec()),
        "gzip" => flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .map_err(|e| format!("Content-Encoding gzip: {e}"))?,
        "br" => brotli::Decompressor::new(body, 4096)
            .read_to_end(&mut out)
            .map_err(|e| format!("Content-Encoding br: {e}"))?,
        other => return Err(format!("undocumented Content-Encoding {other:?}")),
    };
    Ok(out)
}

/// The image type (`png`, `jpeg`, `webp`, `gif`) the bytes start with.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpeg")
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("webp")
    } else if bytes.starts_with(b"GIF8") {
        Some("gif")
    } else {
        None
    }
}

fn check_headers(
    spec: &Spec,
    declared: Option<&Value>,
    headers: &http::HeaderMap,
    problems: &mut Vec<String>,
) {
    let Some(declared) = declared.and_then(Value::as_object) else {
        return;
    };
    for (name, header) in declared {
        let header = spec.resolve(header);
        let Some(schema) = header.get("schema").map(|s| spec.resolve(s)) else {
            continue;
        };
        let values: Vec<&http::HeaderValue> = headers.get_all(name.as_str()).iter().collect();
        if values.is_empty() {
            if header.get("required").and_then(Value::as_bool) == Some(true) {
                problems.push(format!("required header {name} is missing"));
            }
            continue;
        }
        for value in values {
            let Ok(text) = value.to_str() else {
                problems.push(format!("header {name} is not visible ASCII"));
                continue;
            };
            let typed = match schema.get("type").and_then(Value::as_str) {
                Some("integer") => match text.trim().parse::<i64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => {
                        problems.push(format!("header {name}: {text:?} is not an integer"));
                        continue;
                    }
                },
                Some("number") => match text.trim().parse::<f64>() {
                    Ok(n) => json!(n),
                    Err(_) => {
                        problems.push(format!("header {name}: {text:?} is not a number"));
                        continue;
                    }
                },
                Some("boolean") => match text.trim() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => {
                        problems.push(format!("header {name}: {text:?} is not a boolean"));
                        continue;
                    }
                },
                _ => Value::String(text.to_owned()),
            };
            // `format` is an annotation in 2020-12, so date-time is not enforced here.
            match spec.cached_validator(format!("header:{name}"), schema) {
                Ok(v) => {
                    if let Err(issues) = v.validate(&typed) {
                        for i in issues {
                            problems.push(format!("header {name}: {}", i.message));
                        }
                    }
                }
                Err(e) => problems.push(format!("header {name}: schema error {e}")),
            }
        }
    }
}

fn media_type(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
}

fn check_json(spec: &Spec, key: String, schema: &Value, body: &[u8], problems: &mut Vec<String>) {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("body is not valid JSON: {e}"));
            return;
        }
    };
    match spec.cached_validator(key, schema) {
        Ok(v) => {
            if let Err(issues) = v.validate(&value) {
                problems.extend(issues.iter().map(|i| format!("body {i}")));
            }
        }
        Err(e) => problems.push(format!("schema error: {e}")),
    }
}

fn check_binary(media: &str, body: &[u8], problems: &mut Vec<String>) {
    if let Some(kind) = media.strip_prefix("image/") {
        match sniff_image(body) {
            Some(found) if found == kind => {}
            Some(found) => problems.push(format!(
                "Content-Type is {media} but the bytes are image/{found}"
            )),
            None => problems.push(format!(
                "Content-Type is {media} but the bytes are no image"
            )),
        }
    }
}

/// Checks a response against the spec: the status must be documented for the operation
/// (or covered by `default`), declared headers must parse as their schema type (boolean,
/// integer, number, enums), the `Content-Type` must be one of the documented media
/// types, JSON bodies must validate against their schema and image bodies must really be
/// that image type.
///
/// For `generateImage` 200 (declared `*/*`) the `x-venice-media-types` extension decides:
/// `application/json` → `GenerateImageResponse`, `image/*` → binary of that type. A
/// `Content-Encoding` of `gzip` or `br` is decoded before checking the body.
///
/// Returns every problem found.
pub fn validate_response(
    operation_id: &str,
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), Vec<String>> {
    EMBEDDED.validate_response(operation_id, status, headers, body)
}

impl Spec {
    /// Checks a response against this document (see the module function
    /// [`validate_response`]).
    pub fn validate_response(
        &self,
        operation_id: &str,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<(), Vec<String>> {
        let Some(op) = self.operation(operation_id) else {
            return Err(vec![format!("unknown operationId {operation_id:?}")]);
        };
        self.validate_operation_response(op, status, headers, body)
    }

    /// The operation object of a method and path template (e.g. `("get",
    /// "/image/styles")`), for documents whose operations lack an `operationId`.
    pub fn operation_at(&self, method: &str, template: &str) -> Option<&Value> {
        self.doc
            .get("paths")?
            .get(template)?
            .get(method.to_ascii_lowercase())
            .filter(|op| op.is_object())
    }

    /// Checks a response against one operation object of this document (see
    /// [`validate_response`]).
    pub fn validate_operation_response(
        &self,
        op: &Value,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        // Caches are keyed by operation: its id, or where it sits in the document.
        let operation_id = op
            .get("operationId")
            .and_then(Value::as_str)
            .map_or_else(|| format!("{op:p}"), str::to_owned);
        let responses = op.get("responses");
        let Some(response) = responses
            .and_then(|r| r.get(status.to_string()).or_else(|| r.get("default")))
            .map(|r| self.resolve(r))
        else {
            return Err(vec![format!(
                "status {status} is not documented for {operation_id}"
            )]);
        };
        check_headers(self, response.get("headers"), headers, &mut problems);

        let body = match decode_body(headers, body) {
            Ok(b) => b,
            Err(e) => {
                problems.push(e);
                return Err(problems);
            }
        };
        let content = response.get("content").and_then(Value::as_object);
        let media = media_type(headers);
        match content {
            None => {
                if !body.is_empty() {
                    problems.push(format!(
                        "status {status} documents no body, got {} bytes",
                        body.len()
                    ));
                }
            }
            Some(content) => {
                let Some(media) = media else {
                    problems.push("Content-Type header is missing".to_owned());
                    return Err(problems);
                };
                let extension = response
                    .get("x-venice-media-types")
                    .and_then(Value::as_object);
                if let Some(ext) = extension {
                    match ext.get(&media).and_then(Value::as_str) {
                        Some("binary") => check_binary(&media, &body, &mut problems),
                        Some(reference) => {
                            let schema = json!({ "$ref": reference });
                            check_json(
                                self,
                                format!("ref:{reference}"),
                                &schema,
                                &body,
                                &mut problems,
                            );
                        }
                        None => problems.push(format!(
                            "Content-Type {media} is not one of {:?}",
                            ext.keys().collect::<Vec<_>>()
                        )),
                    }
                } else if let Some(entry) = content.get(&media) {
                    let schema = entry.get("schema");
                    let is_binary = schema.and_then(|s| s.get("format")).and_then(Value::as_str)
                        == Some("binary");
                    if is_binary {
                        check_binary(&media, &body, &mut problems);
                    } else if let Some(schema) = schema {
                        let key = format!("resp:{operation_id}:{status}:{media}");
                        check_json(self, key, schema, &body, &mut problems);
                    }
                } else {
                    problems.push(format!(
                        "Content-Type {media} is not one of {:?}",
                        content.keys().collect::<Vec<_>>()
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn spec_parses_and_has_operations() {
        assert!(document().get("paths").is_some());
        assert!(operation_ids().contains(&"generateImage"));
        assert!(request_validator("generateImage").is_some());
        assert!(request_validator("listModels").is_none());
    }

    #[test]
    fn conversion_rules() {
        let s = json!({"type":"integer","minimum":0,"exclusiveMinimum":true,"nullable":true,
            "deprecated":true,"x-venice-default":3,"example":1});
        let c = to_json_schema(&s);
        assert_eq!(
            c,
            json!({"anyOf":[{"type":"integer","exclusiveMinimum":0},{"type":"null"}]})
        );
        let r = to_json_schema(&json!({"$ref":"#/components/schemas/Price"}));
        assert_eq!(r, json!({"$ref":"#/$defs/Price"}));
    }

    #[test]
    fn request_validation_reports_paths() {
        let v = request_validator("generateImage").unwrap();
        assert!(v.validate(&json!({"model":"m","prompt":"p"})).is_ok());
        let issues = v
            .validate(&json!({"model":"m","width":0,"bogus":1}))
            .unwrap_err();
        assert!(issues.iter().any(|i| i.path == vec![json!("prompt")]));
        assert!(issues.iter().any(|i| i.path == vec![json!("width")]));
        assert!(issues.iter().any(|i| i.code == "unrecognized_keys"));
    }
}
