//! The project's OpenAPI spec (`openapi/venice-image.yaml`), read at build time, turned
//! into JSON Schema, and used to validate requests and responses.
//!
//! This module is the shared helper of the contract tests: [`request_validator`] checks a
//! request body against an operation's request schema and [`validate_response`] checks
//! a whole response (status, headers, media type and body) against what the spec
//! documents for that operation and status.
//!
//! OpenAPI 3.0 schemas are converted to JSON Schema draft 2020-12 by [`to_json_schema`]:
//! `nullable: true` becomes `anyOf: [schema, {type: null}]`, boolean
//! `exclusiveMinimum`/`exclusiveMaximum` become numeric bounds, `deprecated`, `example`
//! and `x-*` keys are dropped, and `#/components/schemas/X` references become
//! `#/$defs/X`. Schemas are never re-typed by hand.

use std::collections::HashMap;
use std::io::Read;
use std::sync::LazyLock;

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

struct Spec {
    doc: Value,
    defs: Value,
}

static SPEC: LazyLock<Spec> = LazyLock::new(|| {
    // The embedded spec is part of this crate; the unit tests prove it parses.
    let doc: Value = serde_yaml::from_str(SPEC_YAML).unwrap_or(Value::Null);
    let defs = doc
        .pointer("/components/schemas")
        .map_or_else(|| json!({}), to_json_schema);
    Spec { doc, defs }
});

/// The whole spec as JSON.
pub fn document() -> &'static Value {
    &SPEC.doc
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

/// Makes a converted schema self-contained: adds every component schema as `$defs`.
pub fn schema_with_defs(converted: &Value) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": SPEC.defs,
        "allOf": [converted],
    })
}

/// A compiled JSON Schema validator for one schema of the spec.
pub struct SchemaValidator {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for SchemaValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SchemaValidator")
    }
}

impl SchemaValidator {
    /// Compiles an OpenAPI 3.0 schema (converted first) against the spec's components.
    pub fn compile(openapi_schema: &Value) -> Result<Self, String> {
        let root = schema_with_defs(&to_json_schema(openapi_schema));
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

/// An operation of the spec found by `operationId`.
fn operation(operation_id: &str) -> Option<&'static Value> {
    SPEC.doc
        .get("paths")?
        .as_object()?
        .values()
        .find_map(|item| {
            item.as_object()?
                .values()
                .find(|op| op.get("operationId").and_then(Value::as_str) == Some(operation_id))
        })
}

/// Every `operationId` of the spec.
pub fn operation_ids() -> Vec<&'static str> {
    let Some(paths) = SPEC.doc.get("paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    paths
        .values()
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .filter_map(|op| op.get("operationId").and_then(Value::as_str))
        .collect()
}

/// Follows a local `$ref` (any `#/…` pointer) until a non-reference object.
fn resolve(value: &'static Value) -> &'static Value {
    let mut current = value;
    for _ in 0..16 {
        match current.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix('#').and_then(|p| SPEC.doc.pointer(p)) {
                Some(next) => current = next,
                None => return current,
            },
            None => return current,
        }
    }
    current
}

static REQUEST_VALIDATORS: LazyLock<HashMap<&'static str, SchemaValidator>> = LazyLock::new(|| {
    operation_ids()
        .into_iter()
        .filter_map(|id| {
            let op = operation(id)?;
            let body = resolve(op.get("requestBody")?);
            let schema = body.pointer("/content/application~1json/schema")?;
            SchemaValidator::compile(schema).ok().map(|v| (id, v))
        })
        .collect()
});

/// The validator of an operation's JSON request body, or `None` when the operation has
/// no JSON body (or is unknown).
pub fn request_validator(operation_id: &str) -> Option<&'static SchemaValidator> {
    REQUEST_VALIDATORS.get(operation_id)
}

static SCHEMA_CACHE: LazyLock<std::sync::Mutex<HashMap<String, &'static SchemaValidator>>> =
    LazyLock::new(Default::default);

fn cached_validator(key: String, schema: &Value) -> Result<&'static SchemaValidator, String> {
    let mut cache = SCHEMA_CACHE.lock().map_err(|e| e.to_string())?;
    if let Some(v) = cache.get(&key) {
        return Ok(v);
    }
    let compiled: &'static SchemaValidator = Box::leak(Box::new(SchemaValidator::compile(schema)?));
    cache.insert(key, compiled);
    Ok(compiled)
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
    declared: Option<&'static Value>,
    headers: &http::HeaderMap,
    problems: &mut Vec<String>,
) {
    let Some(declared) = declared.and_then(Value::as_object) else {
        return;
    };
    for (name, header) in declared {
        let header = resolve(header);
        let Some(schema) = header.get("schema").map(resolve) else {
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
            match cached_validator(format!("header:{name}"), schema) {
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

fn check_json(key: String, schema: &Value, body: &[u8], problems: &mut Vec<String>) {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("body is not valid JSON: {e}"));
            return;
        }
    };
    match cached_validator(key, schema) {
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
    let mut problems = Vec::new();
    let Some(op) = operation(operation_id) else {
        return Err(vec![format!("unknown operationId {operation_id:?}")]);
    };
    let responses = op.get("responses");
    let Some(response) = responses
        .and_then(|r| r.get(status.to_string()).or_else(|| r.get("default")))
        .map(resolve)
    else {
        return Err(vec![format!(
            "status {status} is not documented for {operation_id}"
        )]);
    };
    check_headers(response.get("headers"), headers, &mut problems);

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
                        check_json(format!("ref:{reference}"), &schema, &body, &mut problems);
                    }
                    None => problems.push(format!(
                        "Content-Type {media} is not one of {:?}",
                        ext.keys().collect::<Vec<_>>()
                    )),
                }
            } else if let Some(entry) = content.get(&media) {
                let schema = entry.get("schema");
                let is_binary =
                    schema.and_then(|s| s.get("format")).and_then(Value::as_str) == Some("binary");
                if is_binary {
                    check_binary(&media, &body, &mut problems);
                } else if let Some(schema) = schema {
                    let key = format!("resp:{operation_id}:{status}:{media}");
                    check_json(key, schema, &body, &mut problems);
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
