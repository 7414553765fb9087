//! Absolute times in a recorded answer, moved to the replay's clock: an answer
//! replayed `d` after it was recorded has every absolute time moved by `d`, so a
//! rate-limit reset or a SIWX challenge is as far in the future as it was then.
//!
//! Moved: the rate-limit reset headers ([`RESET_HEADERS`]: Unix seconds or
//! milliseconds, told apart by size), and in JSON bodies and base64 JSON headers (the
//! x402 `PAYMENT-REQUIRED`) the fields named in [`TIME_FIELDS`] (RFC 3339 strings or
//! Unix seconds/milliseconds). The recorded `Date` header is dropped (the server sets
//! the current one). Informational times (`created`, ledger `timestamp`s) are kept as
//! recorded, so replayed results stay byte-identical to the recording.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::Value;

/// Headers holding an absolute reset time.
pub const RESET_HEADERS: &[&str] = &[
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
    "x-ratelimit-resets",
    "x-ratelimit-reset",
];

/// JSON fields holding an absolute time that governs what a client does next.
pub const TIME_FIELDS: &[&str] = &[
    "issuedAt",
    "expirationTime",
    "notBefore",
    "expiresAt",
    "resetAt",
    "resetsAt",
];

/// Unix times above this are milliseconds (year 2286 in seconds).
const MS_THRESHOLD: i128 = 10_000_000_000;
/// Unix times below this are not times (1 January 2001, in seconds).
const MIN_SECONDS: i128 = 978_307_200;

/// A Unix time (seconds or milliseconds, kept in its unit) moved by `delta_ms`.
fn shift_unix(value: i128, delta_ms: i128) -> Option<i128> {
    if value >= MS_THRESHOLD {
        Some(value + delta_ms)
    } else if value >= MIN_SECONDS {
        Some(value + (delta_ms as f64 / 1000.0).round() as i128)
    } else {
        None
    }
}

/// An RFC 3339 time moved by `delta_ms`, written with the precision it had.
fn shift_rfc3339(text: &str, delta_ms: i128) -> Option<String> {
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    let moved = crate::cassette::shifted(t, delta_ms);
    Some(if text.contains('.') {
        humantime::format_rfc3339_millis(moved).to_string()
    } else {
        humantime::format_rfc3339_seconds(moved).to_string()
    })
}

/// A recorded header value moved to the replay clock (unchanged when not a time).
pub(crate) fn header(name: &str, value: &str, delta_ms: i128) -> String {
    if RESET_HEADERS.contains(&name) {
        if let Ok(n) = value.trim().parse::<i128>()
            && let Some(moved) = shift_unix(n, delta_ms)
        {
            return moved.to_string();
        }
        return value.to_owned();
    }
    if value.len() >= 16
        && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(value.trim())
        && let Ok(text) = std::str::from_utf8(&decoded)
        && let Some(moved) = json_text(text, delta_ms)
    {
        return base64::engine::general_purpose::STANDARD.encode(moved);
    }
    value.to_owned()
}

/// A JSON text with its [`TIME_FIELDS`] moved, edited in place (every other byte
/// kept); `None` when it holds none (or is not JSON).
pub(crate) fn json_text(text: &str, delta_ms: i128) -> Option<String> {
    if !TIME_FIELDS.iter().any(|f| text.contains(f)) {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    let mut edits: Vec<(String, String, String)> = Vec::new();
    collect(&value, delta_ms, &mut edits);
    if edits.is_empty() {
        return None;
    }
    let mut out = text.to_owned();
    for (field, old, new) in edits {
        out = replace_field(&out, &field, &old, &new);
    }
    Some(out)
}

fn collect(value: &Value, delta_ms: i128, edits: &mut Vec<(String, String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if TIME_FIELDS.contains(&k.as_str()) {
                    let moved = match v {
                        Value::String(s) => shift_rfc3339(s, delta_ms)
                            .map(|m| (Value::String(s.clone()), Value::String(m))),
                        Value::Number(n) => n
                            .as_i64()
                            .and_then(|n| shift_unix(i128::from(n), delta_ms))
                            .map(|m| (v.clone(), Value::from(m as i64))),
                        _ => None,
                    };
                    if let Some((old, new)) = moved {
                        edits.push((k.clone(), old.to_string(), new.to_string()));
                    }
                } else {
                    collect(v, delta_ms, edits);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, delta_ms, edits)),
        _ => {}
    }
}

/// Replaces `"field": old` (any whitespace around the colon) by `"field": new`.
fn replace_field(text: &str, field: &str, old: &str, new: &str) -> String {
    let key = format!("\"{field}\"");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&key) {
        let after_key = at + key.len();
        out.push_str(&rest[..after_key]);
        let tail = &rest[after_key..];
        let value_start = tail
            .char_indices()
            .find(|(_, c)| !c.is_whitespace() && *c != ':')
            .map_or(tail.len(), |(i, _)| i);
        let colon_ok = tail[..value_start].contains(':');
        if colon_ok && tail[value_start..].starts_with(old) {
            out.push_str(&tail[..value_start]);
            out.push_str(new);
            rest = &tail[value_start + old.len()..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Milliseconds from `recorded` to `now`.
pub(crate) fn delta_ms(recorded: SystemTime, now: SystemTime) -> i128 {
    let ms = |t: SystemTime| match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128),
    };
    ms(now) - ms(recorded)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reset_headers_move_in_their_unit() {
        assert_eq!(
            header("x-ratelimit-reset-requests", "1765000000", 5_000),
            "1765000005"
        );
        assert_eq!(
            header("x-ratelimit-resets", "1765000000000", 5_000),
            "1765000005000"
        );
        assert_eq!(
            header("x-ratelimit-remaining", "1765000000", 5_000),
            "1765000000"
        );
        assert_eq!(header("x-ratelimit-reset-requests", "30", 5_000), "30");
    }

    #[test]
    fn json_times_move_and_nothing_else_changes() {
        let text = r#"{"error":"Payment required","siwxChallenge":{"info":{"nonce":"abc","issuedAt":"2026-12-01T10:00:00.000Z", "expirationTime" : "2026-12-01T10:05:00.000Z"}},"created":1765000000}"#;
        let moved = json_text(text, 60_000).unwrap();
        assert_eq!(
            moved,
            r#"{"error":"Payment required","siwxChallenge":{"info":{"nonce":"abc","issuedAt":"2026-12-01T10:01:00.000Z", "expirationTime" : "2026-12-01T10:06:00.000Z"}},"created":1765000000}"#
        );
        assert!(json_text(r#"{"created":1}"#, 5).is_none());
        let header_json = base64::engine::general_purpose::STANDARD
            .encode(r#"{"extensions":{"siwx":{"expiresAt":1765000000000}}}"#);
        let moved = header("payment-required", &header_json, 1_000);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(moved)
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            r#"{"extensions":{"siwx":{"expiresAt":1765000001000}}}"#
        );
    }
}
