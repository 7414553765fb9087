//! Response metadata read from headers: [`ResponseMeta`], [`RateLimit`],
//! [`Deprecation`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// What the response headers say about a call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResponseMeta {
    /// Request id (`x-venice-request-id`, `x-request-id` or `cf-ray`), when sent.
    pub request_id: Option<String>,
    /// HTTP status.
    pub status: u16,
    /// Safe mode blurred the image (`x-venice-is-blurred: true`).
    pub is_blurred: bool,
    /// The image violates the terms of service (`x-venice-is-content-violation: true`).
    pub is_content_violation: bool,
    /// Model deprecation notice, when any deprecation header is present.
    pub deprecation: Option<Deprecation>,
    /// Remaining x402 credit in USD (`X-Balance-Remaining` / `x-venice-balance-usd`).
    pub balance_remaining_usd: Option<f64>,
    /// Rate-limit window state, when the headers are present.
    pub rate_limit: Option<RateLimit>,
    /// The rewritten prompt (`x-venice-enhanced-prompt`, URL-decoded).
    pub enhanced_prompt: Option<String>,
    /// The model that served the request (`x-venice-model-id`).
    pub model_id: Option<String>,
}

/// Rate-limit window (`x-ratelimit-*-requests`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: Option<u64>,
    /// Requests left in the window.
    pub remaining: Option<u64>,
    /// When the window resets.
    pub reset_at: Option<SystemTime>,
}

/// A model deprecation notice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deprecation {
    /// Human-readable warning (`x-venice-model-deprecation-warning`).
    pub warning: Option<String>,
    /// Scheduled removal date as sent (`x-venice-model-deprecation-date`).
    pub date: Option<String>,
    /// Model to migrate to (`x-venice-deprecated-replacement`).
    pub replacement: Option<String>,
    /// The model is already deprecated (`x-venice-deprecated: true`).
    pub deprecated: bool,
}

pub(crate) fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn flag(h: &HeaderMap, name: &str) -> bool {
    header(h, name).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The remaining x402 credit in USD a response reports (`X-Balance-Remaining`, or
/// `x-venice-balance-usd`).
pub(crate) fn balance_remaining(h: &HeaderMap) -> Option<f64> {
    ["x-balance-remaining", "x-venice-balance-usd"]
        .iter()
        .find_map(|n| header(h, n))
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// Interpret `x-ratelimit-reset-requests`: Unix seconds, or seconds from now when
/// the value is too small to be a Unix time (< 1e9).
pub(crate) fn reset_instant(value: &str, now: SystemTime) -> Option<SystemTime> {
    let v: f64 = value.trim().parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    if v < 1e9 {
        now.checked_add(Duration::try_from_secs_f64(v).ok()?)
    } else {
        UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(v).ok()?)
    }
}

/// Decode `%XX` escapes (and leave everything else, including `+`, as is).
/// Invalid escapes are kept literally; invalid UTF-8 is replaced.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl ResponseMeta {
    /// Read the metadata of a response.
    pub(crate) fn from_headers(status: u16, h: &HeaderMap) -> Self {
        let now = SystemTime::now();
        let request_id = ["x-venice-request-id", "x-request-id", "cf-ray"]
            .iter()
            .find_map(|n| header(h, n))
            .map(str::to_owned);
        let warning = header(h, "x-venice-model-deprecation-warning").map(str::to_owned);
        let date = header(h, "x-venice-model-deprecation-date").map(str::to_owned);
        let replacement = header(h, "x-venice-deprecated-replacement").map(str::to_owned);
        let deprecated = flag(h, "x-venice-deprecated");
        let deprecation =
            (warning.is_some() || date.is_some() || replacement.is_some() || deprecated).then_some(
                Deprecation {
                    warning,
                    date,
                    replacement,
                    deprecated,
                },
            );
        let balance_remaining_usd = balance_remaining(h);
        let limit = header(h, "x-ratelimit-limit-requests").and_then(|v| v.parse().ok());
        let remaining = header(h, "x-ratelimit-remaining-requests").and_then(|v| v.parse().ok());
        let reset_at = header(h, "x-ratelimit-reset-requests").and_then(|v| reset_instant(v, now));
        let rate_limit =
            (limit.is_some() || remaining.is_some() || reset_at.is_some()).then_some(RateLimit {
                limit,
                remaining,
                reset_at,
            });
        Self {
            request_id,
            status,
            is_blurred: flag(h, "x-venice-is-blurred"),
            is_content_violation: flag(h, "x-venice-is-content-violation"),
            deprecation,
            balance_remaining_usd,
            rate_limit,
            enhanced_prompt: header(h, "x-venice-enhanced-prompt").map(percent_decode),
            model_id: header(h, "x-venice-model-id").map(str::to_owned),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn reads_all_headers() {
        let h = headers(&[
            ("x-request-id", "req-1"),
            ("x-venice-is-blurred", "true"),
            ("x-venice-is-content-violation", "false"),
            ("x-venice-model-deprecation-warning", "going away"),
            ("x-venice-model-deprecation-date", "2026-01-01T00:00:00Z"),
            ("x-venice-deprecated", "true"),
            ("x-venice-deprecated-replacement", "new-model"),
            ("x-balance-remaining", "4.230000"),
            ("x-ratelimit-limit-requests", "20"),
            ("x-ratelimit-remaining-requests", "19"),
            ("x-ratelimit-reset-requests", "1900000000"),
            ("x-venice-enhanced-prompt", "a%20red%20cat%2C%20%E2%9C%93+x"),
            ("x-venice-model-id", "flux"),
        ]);
        let m = ResponseMeta::from_headers(200, &h);
        assert_eq!(m.request_id.as_deref(), Some("req-1"));
        assert!(m.is_blurred && !m.is_content_violation);
        let d = m.deprecation.unwrap();
        assert!(d.deprecated);
        assert_eq!(d.warning.as_deref(), Some("going away"));
        assert_eq!(d.replacement.as_deref(), Some("new-model"));
        assert_eq!(m.balance_remaining_usd, Some(4.23));
        let rl = m.rate_limit.unwrap();
        assert_eq!((rl.limit, rl.remaining), (Some(20), Some(19)));
        assert_eq!(
            rl.reset_at,
            Some(UNIX_EPOCH + Duration::from_secs(1_900_000_000))
        );
        assert_eq!(m.enhanced_prompt.as_deref(), Some("a red cat, ✓+x"));
        assert_eq!(m.model_id.as_deref(), Some("flux"));
    }

    #[test]
    fn empty_headers() {
        let m = ResponseMeta::from_headers(200, &HeaderMap::new());
        assert_eq!(
            m,
            ResponseMeta {
                status: 200,
                ..Default::default()
            }
        );
    }

    #[test]
    fn reset_small_values_are_relative() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            reset_instant("30", now),
            Some(now + Duration::from_secs(30))
        );
        assert_eq!(reset_instant("-1", now), None);
        assert_eq!(reset_instant("abc", now), None);
    }

    #[test]
    fn percent_decode_edge_cases() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%41"), "A");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }
}
