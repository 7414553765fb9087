//! One reading of every rate-limit header the provider sends, family by family: a
//! model's request window and the crypto RPC proxy's per-minute cap (both a
//! [`RateLimit`]), and the failed-request budget ([`ErrorBudget`]).
//!
//! | headers | family | reset unit |
//! |---|---|---|
//! | `x-ratelimit-{limit,remaining,reset}-requests` | model window, inference routes | Unix milliseconds |
//! | `x-ratelimit-remaining`, `x-ratelimit-resets` | error budget, credentialed routes | Unix milliseconds |
//! | `X-RateLimit-Limit`, `-Remaining`, `-Reset` | crypto RPC proxy, its own 429 only | Unix seconds |
//!
//! Header names are case-insensitive, so the proxy's `X-RateLimit-Remaining` and the
//! budget's `x-ratelimit-remaining` are one name: the families are told apart by their
//! reset header, `-reset` (the proxy, which only that route sends) against `-resets` (the
//! budget). As a safety net against a unit changing, every reset value is read by its
//! magnitude: at least 1e11 is Unix milliseconds, at least 1e9 Unix seconds, anything
//! smaller seconds from now.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use serde::{Serialize, Serializer};

/// A request window: a model's (`x-ratelimit-{limit,remaining,reset}-requests`, per API
/// key or wallet and model, on the inference routes;
/// [`ResponseMeta::rate_limit`](crate::ResponseMeta::rate_limit)) or the crypto RPC
/// proxy's per-minute cap (`X-RateLimit-Limit/-Remaining/-Reset`, on its 429;
/// [`ResponseMeta::route_limit`](crate::ResponseMeta::route_limit)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RateLimit {
    pub(crate) limit: Option<u64>,
    pub(crate) remaining: Option<u64>,
    #[serde(rename = "reset_at_unix", serialize_with = "serialize_unix")]
    pub(crate) reset_at: Option<SystemTime>,
}

impl RateLimit {
    /// Requests allowed per window.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Requests left in the window.
    pub fn remaining(&self) -> Option<u64> {
        self.remaining
    }

    /// When the window resets.
    pub fn reset_at(&self) -> Option<SystemTime> {
        self.reset_at
    }
}

/// The error budget of the request's bucket (`x-ratelimit-remaining`,
/// `x-ratelimit-resets`): how many more failed requests (any 4xx but 429) the API key (or,
/// for wallets, the host's IP) may make for this model before every request of the bucket
/// is refused for 30 s, and when the count starts again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ErrorBudget {
    pub(crate) remaining: Option<u64>,
    #[serde(rename = "resets_at_unix", serialize_with = "serialize_unix")]
    pub(crate) resets_at: Option<SystemTime>,
}

impl ErrorBudget {
    /// Failed requests left before a lockout (the provider's budget is 50 per 30 s).
    pub fn remaining(&self) -> Option<u64> {
        self.remaining
    }

    /// When the count starts again (or, in a lockout's answer, when the lockout ends).
    pub fn resets_at(&self) -> Option<SystemTime> {
        self.resets_at
    }
}

/// The three families of one answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Families {
    pub model: Option<RateLimit>,
    pub budget: Option<ErrorBudget>,
    pub route: Option<RateLimit>,
}

/// Serialise an optional instant as Unix seconds (a float).
pub(crate) fn serialize_unix<S: Serializer>(
    t: &Option<SystemTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .serialize(s)
}

/// A header's value, trimmed; `None` when absent, empty or not visible ASCII.
pub(crate) fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn number(h: &HeaderMap, name: &str) -> Option<u64> {
    header(h, name).and_then(|v| v.parse().ok())
}

/// Smallest value read as Unix milliseconds (1e11 ms is 1973; 1e11 s is year ~5100).
const UNIX_MS_FROM: f64 = 1e11;
/// Smallest value read as Unix seconds (2001); smaller values are seconds from now.
const UNIX_S_FROM: f64 = 1e9;

/// A reset header's instant, by magnitude: ≥ 1e11 Unix milliseconds, ≥ 1e9 Unix
/// seconds, smaller: seconds from `now`. `None` for anything else.
pub(crate) fn reset_instant(value: &str, now: SystemTime) -> Option<SystemTime> {
    let v: f64 = value.trim().parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let (base, secs) = if v >= UNIX_MS_FROM {
        (UNIX_EPOCH, v / 1000.0)
    } else if v >= UNIX_S_FROM {
        (UNIX_EPOCH, v)
    } else {
        (now, v)
    };
    base.checked_add(Duration::try_from_secs_f64(secs).ok()?)
}

/// Read the three families of `h` at `now`.
pub(crate) fn read(h: &HeaderMap, now: SystemTime) -> Families {
    let instant = |name: &str| header(h, name).and_then(|v| reset_instant(v, now));
    let model = RateLimit {
        limit: number(h, "x-ratelimit-limit-requests"),
        remaining: number(h, "x-ratelimit-remaining-requests"),
        reset_at: instant("x-ratelimit-reset-requests"),
    };
    // `-reset` is the proxy's: it claims the shared `x-ratelimit-remaining`.
    let route_reset = header(h, "x-ratelimit-reset");
    let route = route_reset.is_some().then(|| RateLimit {
        limit: number(h, "x-ratelimit-limit"),
        remaining: number(h, "x-ratelimit-remaining"),
        reset_at: instant("x-ratelimit-reset"),
    });
    let budget = ErrorBudget {
        remaining: number(h, "x-ratelimit-remaining").filter(|_| route.is_none()),
        resets_at: instant("x-ratelimit-resets"),
    };
    Families {
        model: (model != RateLimit::default()).then_some(model),
        budget: (budget != ErrorBudget::default()).then_some(budget),
        route,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            // As sent: the proxy capitalises, the others do not; names are one either way.
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn at(secs: f64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs_f64(secs)
    }

    /// Every family, with the unit the provider documents and the units the magnitude
    /// rule also accepts.
    #[test]
    fn the_three_families_and_their_units() {
        let now = at(1_800_000_000.0);
        struct Case {
            what: &'static str,
            headers: &'static [(&'static str, &'static str)],
            model: Option<(Option<u64>, Option<u64>, Option<f64>)>,
            budget: Option<(Option<u64>, Option<f64>)>,
            route: Option<(Option<u64>, Option<u64>, Option<f64>)>,
        }
        let cases = [
            Case {
                what: "model window, reset in Unix ms (the provider's unit)",
                headers: &[
                    ("x-ratelimit-limit-requests", "5"),
                    ("x-ratelimit-remaining-requests", "0"),
                    ("x-ratelimit-reset-requests", "1800000003000"),
                ],
                model: Some((Some(5), Some(0), Some(1_800_000_003.0))),
                budget: None,
                route: None,
            },
            Case {
                what: "model window, reset in Unix s (older servers)",
                headers: &[("x-ratelimit-reset-requests", "1800000003")],
                model: Some((None, None, Some(1_800_000_003.0))),
                budget: None,
                route: None,
            },
            Case {
                what: "model window, reset in seconds from now",
                headers: &[("x-ratelimit-reset-requests", "3")],
                model: Some((None, None, Some(1_800_000_003.0))),
                budget: None,
                route: None,
            },
            Case {
                what: "error budget, resets in Unix ms",
                headers: &[
                    ("x-ratelimit-remaining", "12"),
                    ("x-ratelimit-resets", "1800000030000"),
                ],
                model: None,
                budget: Some((Some(12), Some(1_800_000_030.0))),
                route: None,
            },
            Case {
                what: "error budget as venice-py's tests send it (seconds from now)",
                headers: &[("x-ratelimit-remaining", "0"), ("x-ratelimit-resets", "30")],
                model: None,
                budget: Some((Some(0), Some(1_800_000_030.0))),
                route: None,
            },
            Case {
                what: "model window and error budget on one answer",
                headers: &[
                    ("x-ratelimit-limit-requests", "20"),
                    ("x-ratelimit-remaining-requests", "19"),
                    ("x-ratelimit-reset-requests", "1800000060000"),
                    ("x-ratelimit-remaining", "50"),
                    ("x-ratelimit-resets", "1800000030000"),
                ],
                model: Some((Some(20), Some(19), Some(1_800_000_060.0))),
                budget: Some((Some(50), Some(1_800_000_030.0))),
                route: None,
            },
            Case {
                what: "crypto RPC 429, reset in Unix s, capitalised names",
                headers: &[
                    ("X-RateLimit-Limit", "100"),
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "1800000042"),
                ],
                model: None,
                budget: None,
                route: Some((Some(100), Some(0), Some(1_800_000_042.0))),
            },
            Case {
                what: "crypto RPC 429 with the budget's reset too: remaining is the proxy's",
                headers: &[
                    ("X-RateLimit-Limit", "100"),
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", "1800000042"),
                    ("x-ratelimit-resets", "1800000030000"),
                ],
                model: None,
                budget: Some((None, Some(1_800_000_030.0))),
                route: Some((Some(100), Some(0), Some(1_800_000_042.0))),
            },
            Case {
                what: "no header at all (a per-route limiter's 429)",
                headers: &[],
                model: None,
                budget: None,
                route: None,
            },
        ];
        for case in cases {
            let f = read(&headers(case.headers), now);
            let model = f
                .model
                .map(|m| (m.limit, m.remaining, m.reset_at.map(secs)));
            let budget = f.budget.map(|b| (b.remaining, b.resets_at.map(secs)));
            let route = f
                .route
                .map(|r| (r.limit, r.remaining, r.reset_at.map(secs)));
            assert_eq!(model, case.model, "{}", case.what);
            assert_eq!(budget, case.budget, "{}", case.what);
            assert_eq!(route, case.route, "{}", case.what);
        }
    }

    fn secs(t: SystemTime) -> f64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
    }

    /// The bug of the seconds reading: a live reset in ms read as seconds lands in the
    /// year ~58,000.
    #[test]
    fn a_millisecond_reset_is_never_read_as_seconds() {
        let now = at(1_800_000_000.0);
        let reset = reset_instant("1800000003000", now).unwrap();
        assert_eq!(reset.duration_since(now).unwrap(), Duration::from_secs(3));
        assert_eq!(reset_instant("-1", now), None);
        assert_eq!(reset_instant("soon", now), None);
        assert_eq!(reset_instant("inf", now), None);
        assert_eq!(reset_instant("0", now), Some(now));
    }
}
