//! Response metadata read from headers: [`ResponseMeta`], [`Deprecation`] (the
//! rate-limit families are read by [`crate::rate_headers`]); and the [`Response`] wrapper
//! that carries it with a value.

use std::ops::Deref;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use serde::{Serialize, Serializer};

use crate::rate_headers::{self, ErrorBudget, RateLimit};

/// What a charged operation answered: the value, the metadata of the response and the
/// wall time of the call. Derefs to the value, so `response.save(..)` or
/// `response.images()` work directly.
///
/// ```no_run
/// # async fn run(client: venice_image::Client, req: venice_image::GenerateRequest) -> venice_image::Result<()> {
/// let response = client.generate(&req).await?;
/// println!("request {:?} took {:?}", response.meta().request_id(), response.elapsed());
/// let generation = response.into_inner();
/// # let _ = generation; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Response<T> {
    value: T,
    meta: ResponseMeta,
    elapsed: Duration,
}

impl<T> Response<T> {
    pub(crate) fn new(value: T, meta: ResponseMeta, elapsed: Duration) -> Self {
        Self {
            value,
            meta,
            elapsed,
        }
    }

    /// Metadata from the response headers (request id, blurred flag, balance,
    /// rate limit, deprecation, ...).
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }

    /// Wall time of the call, including retries and reading the body (for an
    /// [`ImageStream`](crate::ImageStream): until the headers arrived).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The value.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The value, the metadata and the wall time.
    pub fn into_parts(self) -> (T, ResponseMeta, Duration) {
        (self.value, self.meta, self.elapsed)
    }
}

impl<T> Deref for Response<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// What the response headers say about a call.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ResponseMeta {
    pub(crate) request_id: Option<String>,
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) is_blurred: bool,
    pub(crate) is_content_violation: bool,
    pub(crate) deprecation: Option<Deprecation>,
    pub(crate) balance_remaining_usd: Option<f64>,
    pub(crate) balance_diem: Option<f64>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) error_budget: Option<ErrorBudget>,
    pub(crate) route_limit: Option<RateLimit>,
    pub(crate) enhanced_prompt: Option<String>,
    pub(crate) model_id: Option<String>,
    /// Every header as sent (`Set-Cookie` values marked sensitive, so `Debug` hides them).
    #[serde(skip)]
    pub(crate) headers: HeaderMap,
}

impl ResponseMeta {
    /// Request id (`x-venice-request-id`, `x-request-id` or `cf-ray`), when sent.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The `Content-Type` the server sent, when it sent one: for an error answer, the
    /// type of the body the server sent (`text/html` for a proxy's page), even though
    /// the client decoded it into a JSON error.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// Every response header as the server sent it, for what the typed accessors do
    /// not read (e.g. `server`, `cf-cache-status`, a header the provider adds later).
    /// Not serialised.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Safe mode blurred the image (`x-venice-is-blurred: true`).
    pub fn is_blurred(&self) -> bool {
        self.is_blurred
    }

    /// The image violates the terms of service (`x-venice-is-content-violation: true`).
    pub fn is_content_violation(&self) -> bool {
        self.is_content_violation
    }

    /// Model deprecation notice, when any deprecation header is present.
    pub fn deprecation(&self) -> Option<&Deprecation> {
        self.deprecation.as_ref()
    }

    /// The caller's USD balance after this request (`x-venice-balance-usd`): a wallet's
    /// x402 credit, or an API-key account's USD. The provider never sets the
    /// `X-Balance-Remaining` its spec lists, so that header is not read.
    pub fn balance_remaining_usd(&self) -> Option<f64> {
        self.balance_remaining_usd
    }

    /// The DIEM left in the current epoch after this request (`x-venice-balance-diem`),
    /// when the account stakes DIEM.
    pub fn balance_diem(&self) -> Option<f64> {
        self.balance_diem
    }

    /// The model's request window (`x-ratelimit-*-requests`, reset in Unix ms), when
    /// the headers are present (inference routes).
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        self.rate_limit.as_ref()
    }

    /// The error budget of the request's bucket (`x-ratelimit-remaining`,
    /// `x-ratelimit-resets`), when the headers are present (credentialed routes).
    pub fn error_budget(&self) -> Option<&ErrorBudget> {
        self.error_budget.as_ref()
    }

    /// A route's own cap (`X-RateLimit-Limit/-Remaining/-Reset`, reset in Unix
    /// seconds): the crypto RPC proxy's, on its 429.
    pub fn route_limit(&self) -> Option<&RateLimit> {
        self.route_limit.as_ref()
    }

    /// The rewritten prompt (`x-venice-enhanced-prompt`, URL-decoded).
    pub fn enhanced_prompt(&self) -> Option<&str> {
        self.enhanced_prompt.as_deref()
    }

    /// The model that served the request (`x-venice-model-id`).
    pub fn model_id(&self) -> Option<&str> {
        self.model_id.as_deref()
    }
}

/// A model deprecation notice from the response headers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Deprecation {
    pub(crate) warning: Option<String>,
    pub(crate) date: Option<String>,
    pub(crate) replacement: Option<String>,
    pub(crate) deprecated: bool,
}

impl Deprecation {
    /// Human-readable warning (`x-venice-model-deprecation-warning`).
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// Scheduled removal date as sent (`x-venice-model-deprecation-date`).
    pub fn date(&self) -> Option<&str> {
        self.date.as_deref()
    }

    /// Model to migrate to (`x-venice-deprecated-replacement`).
    pub fn replacement(&self) -> Option<&str> {
        self.replacement.as_deref()
    }

    /// The model is already deprecated (`x-venice-deprecated: true`).
    pub fn is_deprecated(&self) -> bool {
        self.deprecated
    }
}

/// Serialise an optional duration as seconds (a float).
pub(crate) fn serialize_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    d.map(|d| d.as_secs_f64()).serialize(s)
}

pub(crate) use crate::rate_headers::header;

fn flag(h: &HeaderMap, name: &str) -> bool {
    header(h, name).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The USD balance a response reports (`x-venice-balance-usd`; the provider's balance
/// headers, `venice-image-generate`).
pub(crate) fn balance_remaining(h: &HeaderMap) -> Option<f64> {
    number(h, "x-venice-balance-usd")
}

fn number(h: &HeaderMap, name: &str) -> Option<f64> {
    header(h, name)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// Decode `%XX` escapes (and leave everything else, including `+`, as is).
/// Invalid escapes are kept literally; invalid UTF-8 is replaced.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A copy of `h` whose cookie values `Debug` does not print (a session cookie is a
/// credential of sorts, and errors end up in logs).
fn kept_headers(h: &HeaderMap) -> HeaderMap {
    let mut kept = h.clone();
    for (name, value) in kept.iter_mut() {
        if name == reqwest::header::SET_COOKIE {
            value.set_sensitive(true);
        }
    }
    kept
}

impl ResponseMeta {
    /// Read the metadata of a response from its status and headers: what every
    /// operation of the client returns, available for answers of the [raw
    /// client](crate::raw) too.
    pub fn from_headers(status: u16, h: &HeaderMap) -> Self {
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
        let families = rate_headers::read(h, now);
        Self {
            request_id,
            status,
            content_type: header(h, "content-type").map(str::to_owned),
            is_blurred: flag(h, "x-venice-is-blurred"),
            is_content_violation: flag(h, "x-venice-is-content-violation"),
            deprecation,
            balance_remaining_usd,
            balance_diem: number(h, "x-venice-balance-diem"),
            rate_limit: families.model,
            error_budget: families.budget,
            route_limit: families.route,
            enhanced_prompt: header(h, "x-venice-enhanced-prompt").map(percent_decode),
            model_id: header(h, "x-venice-model-id").map(str::to_owned),
            headers: kept_headers(h),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};
    use std::time::UNIX_EPOCH;

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
            ("x-venice-balance-usd", "4.230000"),
            ("x-venice-balance-diem", "90.5"),
            ("x-ratelimit-limit-requests", "20"),
            ("x-ratelimit-remaining-requests", "19"),
            ("x-ratelimit-reset-requests", "1900000000000"),
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
        assert_eq!(m.balance_diem, Some(90.5));
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
    fn serialises_with_snake_case_keys_and_unix_seconds() {
        let h = headers(&[
            ("x-request-id", "req-1"),
            ("content-type", "image/png"),
            ("x-venice-deprecated", "true"),
            ("x-ratelimit-remaining-requests", "19"),
            ("x-ratelimit-reset-requests", "1900000000000"),
            ("x-ratelimit-remaining", "48"),
            ("x-ratelimit-resets", "1900000030000"),
        ]);
        let v = serde_json::to_value(ResponseMeta::from_headers(200, &h)).unwrap();
        assert_eq!(v["request_id"], "req-1");
        assert_eq!(v["content_type"], "image/png");
        assert_eq!(v["is_blurred"], false);
        assert_eq!(v["deprecation"]["deprecated"], true);
        assert_eq!(v["rate_limit"]["remaining"], 19);
        assert_eq!(v["rate_limit"]["reset_at_unix"], 1_900_000_000.0);
        assert_eq!(v["error_budget"]["remaining"], 48);
        assert_eq!(v["error_budget"]["resets_at_unix"], 1_900_000_030.0);
        assert!(v["route_limit"].is_null());
        assert!(v["balance_remaining_usd"].is_null());
    }

    #[test]
    fn keeps_every_header_and_hides_cookies_from_debug() {
        let h = headers(&[
            ("server", "cloudflare"),
            ("x-something-new", "1"),
            ("set-cookie", "__cf_bm=secret-cookie"),
        ]);
        let m = ResponseMeta::from_headers(502, &h);
        assert_eq!(header(m.headers(), "server"), Some("cloudflare"));
        assert_eq!(header(m.headers(), "x-something-new"), Some("1"));
        assert_eq!(m.headers().len(), 3);
        let debug = format!("{m:?}");
        assert!(debug.contains("cloudflare"), "{debug}");
        assert!(!debug.contains("secret-cookie"), "{debug}");
        // Not serialised: the JSON keeps its keys.
        let v = serde_json::to_value(&m).unwrap();
        assert!(v.get("headers").is_none());
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
    fn percent_decode_edge_cases() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%41"), "A");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }
}
