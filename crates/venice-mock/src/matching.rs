//! What a replayed request is matched on, and how two requests differ.
//!
//! A request becomes a flat list of fields: its operation (the
//! `operationId` the spec matches, as the server routes; `METHOD path` when none does),
//! the kind of credentials it carries (`credentials`: `api-key`, `sign-in-with-x`,
//! `payment-signature`, `none`; never their values), its path parameters
//! (`path.walletAddress`), query parameters (`query.limit`) and its body: JSON and
//! multipart forms field by field (`body.prompt`, `body.images[1]`), any other body
//! by hash. An image payload (base64 in JSON, a form file, a binary body) is compared
//! by format, size, length and SHA-256, so a recording whose images were shrunk still
//! matches the original upload.
//!
//! Ignored when they were recorded as: a scrubbed value (placeholders and masks), a
//! wallet address of a recording made with redacted wallets, and fields that are
//! random by design (the JSON-RPC `id`, `nonce`s); the SIWX header, whose nonce
//! changes every time, is only compared by kind.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::Value;

use crate::cassette::{ImageNote, Message, header};
use crate::form;
use crate::scrub;
use crate::shrink;
use crate::spec;

/// Body fields whose values are random by design and never compared.
const RANDOM_FIELDS: &[&str] = &["nonce"];

/// The longest value shown in a difference.
const SHOWN: usize = 160;

/// A request reduced to what it is matched on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fields {
    /// `operationId`, or `METHOD path` when no operation of the spec matches.
    pub operation: String,
    /// Field name → value.
    pub fields: BTreeMap<String, Value>,
    /// For a shrunk image: the digest of the small image the cassette holds, which
    /// matches too (a request re-sent from the cassette itself).
    pub alternatives: BTreeMap<String, Value>,
}

/// One field in which a request differs from a recorded one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Difference {
    /// The field (`operation`, `credentials`, `path.walletAddress`, `query.limit`,
    /// `body.prompt`, `body.images[0]`, `body`).
    pub field: String,
    /// Its recorded value (`null`: absent), shortened.
    pub recorded: Value,
    /// Its value in this request (`null`: absent), shortened.
    pub received: Value,
}

/// A request to match: method, raw path and query, headers and body bytes.
pub(crate) struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// The kind of credentials headers carry, never their values.
fn credentials(headers: &[(String, String)]) -> String {
    let has = |n: &str| header(headers, n).is_some();
    let mut kinds = Vec::new();
    if header(headers, "authorization").is_some_and(|v| !v.trim().is_empty()) {
        kinds.push("api-key");
    }
    if has("sign-in-with-x") || has("x-sign-in-with-x") {
        kinds.push("sign-in-with-x");
    }
    if has("payment-signature") || has("x-402-payment") || has("x-payment") {
        kinds.push("payment-signature");
    }
    if kinds.is_empty() {
        kinds.push("none");
    }
    kinds.join("+")
}

fn digest(note: &ImageNote) -> Value {
    Value::String(format!(
        "{} image {}x{}, {} bytes, sha256 {}",
        note.format, note.width, note.height, note.bytes, note.sha256
    ))
}

fn bytes_digest(bytes: &[u8]) -> Value {
    match shrink::note("", bytes) {
        Some(note) => digest(&note),
        None => Value::String(format!(
            "{} bytes, sha256 {}",
            bytes.len(),
            crate::cassette::sha256_hex(bytes)
        )),
    }
}

/// Flattens a JSON value into `prefix.key` / `prefix[i]` fields; base64 images
/// become digests (or the recorded note's digest at that JSON pointer).
fn flatten_json(value: &Value, name: String, pointer: String, notes: &[ImageNote], out: &mut Flat) {
    if let Some(note) = notes.iter().find(|n| n.at == pointer) {
        if let Some(bytes) = value.as_str().and_then(shrink::base64_image) {
            out.alternatives.insert(name.clone(), bytes_digest(&bytes));
        }
        out.fields.insert(name, digest(note));
        return;
    }
    match value {
        Value::Object(map) => {
            let json_rpc = map.contains_key("jsonrpc");
            for (k, v) in map {
                if RANDOM_FIELDS.contains(&k.as_str()) || (json_rpc && k == "id") {
                    continue;
                }
                let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                flatten_json(v, format!("{name}.{k}"), p, notes, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten_json(
                    v,
                    format!("{name}[{i}]"),
                    format!("{pointer}/{i}"),
                    notes,
                    out,
                );
            }
        }
        Value::String(s) => {
            let v = match shrink::base64_image(s) {
                Some(bytes) => bytes_digest(&bytes),
                None => value.clone(),
            };
            out.fields.insert(name, v);
        }
        other => {
            out.fields.insert(name, other.clone());
        }
    }
}

/// Fields being collected, with the alternatives of shrunk images.
#[derive(Default)]
struct Flat {
    fields: BTreeMap<String, Value>,
    alternatives: BTreeMap<String, Value>,
}

fn media(headers: &[(String, String)]) -> String {
    header(headers, "content-type")
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn body_fields(headers: &[(String, String)], body: &[u8], notes: &[ImageNote], out: &mut Flat) {
    if body.is_empty() {
        return;
    }
    let media = media(headers);
    if (media == "application/json" || media.ends_with("+json"))
        && let Ok(value) = serde_json::from_slice::<Value>(body)
    {
        flatten_json(&value, "body".to_owned(), String::new(), notes, out);
        return;
    }
    if let Some(parts) = header(headers, "content-type")
        .and_then(form::boundary)
        .and_then(|b| form::parse(&b, Bytes::copy_from_slice(body)))
    {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let totals = parts
            .iter()
            .fold(BTreeMap::<&str, usize>::new(), |mut m, p| {
                *m.entry(p.name.as_str()).or_default() += 1;
                m
            });
        for part in &parts {
            let n = counts.entry(part.name.as_str()).or_default();
            let at = format!("part:{}#{n}", part.name);
            let name = if totals.get(part.name.as_str()).copied().unwrap_or(0) > 1 {
                format!("body.{}[{n}]", part.name)
            } else {
                format!("body.{}", part.name)
            };
            *n += 1;
            let value = match notes.iter().find(|note| note.at == at) {
                Some(note) => {
                    out.alternatives
                        .insert(name.clone(), bytes_digest(&part.data));
                    digest(note)
                }
                None => match (&part.filename, std::str::from_utf8(&part.data)) {
                    (None, Ok(text)) if shrink::note("", &part.data).is_none() => {
                        Value::String(text.to_owned())
                    }
                    _ => bytes_digest(&part.data),
                },
            };
            out.fields.insert(name, value);
        }
        return;
    }
    let value = match notes.iter().find(|n| n.at.is_empty()) {
        Some(note) => {
            out.alternatives
                .insert("body".to_owned(), bytes_digest(body));
            digest(note)
        }
        None => bytes_digest(body),
    };
    out.fields.insert("body".to_owned(), value);
}

/// The fields of a request (`notes`: the images a recording shrunk in its body).
pub(crate) fn fields(request: &Incoming<'_>, notes: &[ImageNote]) -> Fields {
    let mut flat = Flat::default();
    let out = &mut flat.fields;
    out.insert(
        "credentials".to_owned(),
        Value::String(credentials(request.headers)),
    );
    let operation = match spec::match_operation(request.method, request.path) {
        Ok(m) => {
            for (name, value) in &m.path_params {
                out.insert(format!("path.{name}"), Value::String(value.clone()));
            }
            m.operation_id.to_owned()
        }
        Err(_) => format!("{} {}", request.method.to_ascii_uppercase(), request.path),
    };
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in spec::query_pairs(request.query) {
        query.entry(k).or_default().push(v);
    }
    for (k, mut vs) in query {
        let v = if vs.len() == 1 {
            Value::String(vs.remove(0))
        } else {
            Value::from(vs)
        };
        out.insert(format!("query.{k}"), v);
    }
    body_fields(request.headers, request.body, notes, &mut flat);
    Fields {
        operation,
        fields: flat.fields,
        alternatives: flat.alternatives,
    }
}

/// The fields of a recorded request (its body already loaded).
pub(crate) fn recorded_fields(message: &Message, body: &[u8]) -> Fields {
    let notes = message
        .body
        .as_ref()
        .map(|b| b.images.as_slice())
        .unwrap_or_default();
    fields(
        &Incoming {
            method: &message.method,
            path: &message.path,
            query: message.query.as_deref(),
            headers: &message.headers,
            body,
        },
        notes,
    )
}

/// Whether the EVM stand-in of a redacted wallet (`0x` and 40 digits).
fn is_wallet_stand_in(s: &str) -> bool {
    s.len() == 42 && s.starts_with("0x") && s[2..].bytes().all(|b| b.is_ascii_digit())
}

/// Whether a recorded value accepts any received one.
fn wildcard(field: &str, recorded: &Value, redacted_wallets: bool) -> bool {
    match recorded {
        Value::String(s) => {
            scrub::is_scrubbed(s)
                || is_wallet_stand_in(s)
                || (redacted_wallets && field == "path.walletAddress")
        }
        _ => false,
    }
}

fn shorten(v: Option<&Value>) -> Value {
    match v {
        None => Value::Null,
        Some(Value::String(s)) if s.chars().count() > SHOWN => {
            let cut: String = s.chars().take(SHOWN).collect();
            Value::String(format!("{cut}…"))
        }
        Some(other) => other.clone(),
    }
}

/// How `received` differs from `recorded` (empty: they match).
pub(crate) fn differences(
    recorded: &Fields,
    received: &Fields,
    redacted_wallets: bool,
) -> Vec<Difference> {
    let mut out = Vec::new();
    if recorded.operation != received.operation {
        out.push(Difference {
            field: "operation".to_owned(),
            recorded: Value::String(recorded.operation.clone()),
            received: Value::String(received.operation.clone()),
        });
    }
    let names: std::collections::BTreeSet<&String> = recorded
        .fields
        .keys()
        .chain(received.fields.keys())
        .collect();
    for name in names {
        let (a, b) = (recorded.fields.get(name), received.fields.get(name));
        let same = match (a, b) {
            (Some(a), Some(_)) if wildcard(name, a, redacted_wallets) => true,
            (Some(a), Some(b)) => a == b || recorded.alternatives.get(name) == Some(b),
            _ => false,
        };
        if !same {
            out.push(Difference {
                field: name.clone(),
                recorded: shorten(a),
                received: shorten(b),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn of(
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Fields {
        fields(
            &Incoming {
                method,
                path,
                query,
                headers: &h(headers),
                body: body.as_bytes(),
            },
            &[],
        )
    }

    #[test]
    fn requests_are_matched_by_operation_credentials_and_fields() {
        let json = [
            ("content-type", "application/json"),
            ("authorization", "Bearer <scrubbed:api-key>"),
        ];
        let a = of(
            "POST",
            "/api/v1/image/generate",
            None,
            &json,
            r#"{"model":"m","prompt":"a cat","seed":1}"#,
        );
        assert_eq!(a.operation, "generateImage");
        assert_eq!(a.fields["credentials"], "api-key");
        let same = of(
            "POST",
            "/api/v1/image/generate",
            None,
            &[
                ("content-type", "application/json"),
                ("authorization", "Bearer real-key"),
            ],
            r#"{"seed":1,"prompt":"a cat","model":"m"}"#,
        );
        assert!(differences(&a, &same, false).is_empty());
        let other = of(
            "POST",
            "/api/v1/image/generate",
            None,
            &json,
            r#"{"model":"m","prompt":"a dog"}"#,
        );
        let d = differences(&a, &other, false);
        let names: Vec<&str> = d.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(names, ["body.prompt", "body.seed"]);
        assert_eq!(d[0].recorded, "a cat");
        assert_eq!(d[1].received, Value::Null);
        let wallet = of(
            "POST",
            "/api/v1/image/generate",
            None,
            &[
                ("content-type", "application/json"),
                ("sign-in-with-x", "x"),
            ],
            r#"{"model":"m","prompt":"a cat","seed":1}"#,
        );
        assert_eq!(differences(&a, &wallet, false)[0].field, "credentials");
    }

    #[test]
    fn scrubbed_random_and_redacted_values_match_anything() {
        let rec = of(
            "GET",
            "/api/v1/x402/balance/0x0000000000000000000000000000000000000001",
            None,
            &[],
            "",
        );
        let got = of(
            "GET",
            "/api/v1/x402/balance/0x2c7536E3605D9C16a7a3D7b1898e529396a65c23",
            None,
            &[],
            "",
        );
        assert!(differences(&rec, &got, true).is_empty());
        let json = [("content-type", "application/json")];
        let rec = of(
            "POST",
            "/api/v1/crypto/rpc/solana-mainnet",
            None,
            &json,
            r#"{"jsonrpc":"2.0","id":7,"method":"getLatestBlockhash","note":"SCRUBBEDSCRUB"}"#,
        );
        let got = of(
            "POST",
            "/api/v1/crypto/rpc/solana-mainnet",
            None,
            &json,
            r#"{"jsonrpc":"2.0","id":"x1","method":"getLatestBlockhash","note":"my secret"}"#,
        );
        assert!(differences(&rec, &got, false).is_empty());
        let q1 = of("GET", "/api/v1/models", Some("type=image"), &[], "");
        let q2 = of("GET", "/api/v1/models", Some("type=all"), &[], "");
        assert_eq!(differences(&q1, &q2, false)[0].field, "query.type");
    }

    #[test]
    fn unknown_paths_are_their_own_operation() {
        let a = of("GET", "/api/v1/nope", None, &[], "");
        assert_eq!(a.operation, "GET /api/v1/nope");
    }
}
