//! [`RetryPolicy`]: which failures are retried and how long to wait.
//!
//! By default only failures that cannot have been charged are retried: 429 (unless
//! the code says the balance is insufficient), 503, and connections that never
//! reached the server. 500/504 and timeouts after sending are retried only with
//! [`RetryPolicy::retry_server_errors`].

use std::time::Duration;

use crate::error::{Error, ErrorCode};

/// When and how to retry a failed call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first (1 = no retries).
    pub max_attempts: u32,
    /// Delay cap of the first retry; doubles per retry.
    pub base_delay: Duration,
    /// Largest delay; a server-requested wait above this is not waited for.
    pub max_delay: Duration,
    /// Full jitter: wait a random time in `[0, backoff]` instead of `backoff`.
    pub jitter: bool,
    /// Also retry 500/504 and timeouts after sending (the call may be charged twice).
    pub retry_server_errors: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            jitter: true,
            retry_server_errors: false,
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Whether this failure should be retried under this policy (ignoring the
    /// attempt count).
    pub fn should_retry(&self, err: &Error) -> bool {
        if err.is_retryable() {
            return true;
        }
        if !self.retry_server_errors {
            return false;
        }
        match err {
            Error::Api(a) => {
                matches!(a.status, 500 | 502 | 504) && a.code != ErrorCode::InsufficientBalance
            }
            Error::Timeout { .. } | Error::Transport(_) => true,
            _ => false,
        }
    }

    /// Exponential backoff cap for retry number `retry` (1-based): `base * 2^(retry-1)`,
    /// at most `max_delay`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1).min(30));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The delay before retry number `retry`, or `None` to stop. `server_hint` is the
    /// server-requested wait; `random` is a value in `[0, 1)` for jitter.
    pub(crate) fn delay(
        &self,
        retry: u32,
        server_hint: Option<Duration>,
        random: f64,
    ) -> Option<Duration> {
        if retry >= self.max_attempts {
            return None;
        }
        if let Some(hint) = server_hint {
            return (hint <= self.max_delay).then_some(hint);
        }
        let cap = self.backoff(retry);
        Some(if self.jitter {
            cap.mul_f64(random.clamp(0.0, 1.0))
        } else {
            cap
        })
    }
}

/// The server-requested wait carried by an error. The decoder only takes the
/// rate-limit window reset as a hint for 429s (see `decode::retry_after`), so every
/// hint here is one the server meant for this error.
pub(crate) fn server_hint(err: &Error) -> Option<Duration> {
    match err {
        Error::RateLimited { retry_after, .. } => *retry_after,
        Error::Api(a) => a.retry_after,
        _ => None,
    }
}

/// A cheap random number in `[0, 1)` for jitter (not cryptographic).
pub(crate) fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use crate::error::TimeoutPhase;
    use crate::meta::ResponseMeta;

    fn api(status: u16, code: ErrorCode) -> ApiError {
        ApiError {
            status,
            code,
            message: String::new(),
            details: None,
            request_id: None,
            body_excerpt: String::new(),
            retry_after: None,
            meta: ResponseMeta::default(),
        }
    }

    #[test]
    fn classification_default() {
        let p = RetryPolicy::default();
        let rl = |code| Error::RateLimited {
            retry_after: None,
            api: Box::new(api(429, code)),
        };
        assert!(p.should_retry(&rl(ErrorCode::RateLimitExceeded)));
        assert!(!p.should_retry(&rl(ErrorCode::InsufficientBalance)));
        assert!(p.should_retry(&Error::Api(Box::new(api(503, ErrorCode::ModelAtCapacity)))));
        for s in [400, 401, 404, 500, 504] {
            assert!(
                !p.should_retry(&Error::Api(Box::new(api(s, ErrorCode::from_status(s))))),
                "{s}"
            );
        }
        assert!(!p.should_retry(&timeout(TimeoutPhase::Headers)));
        assert!(!p.should_retry(&timeout(TimeoutPhase::Body)));
        // Nothing was sent when connecting timed out.
        assert!(p.should_retry(&timeout(TimeoutPhase::Connect)));
        assert!(!p.should_retry(&Error::config("x")));
    }

    fn timeout(phase: TimeoutPhase) -> Error {
        Error::Timeout {
            phase,
            source: None,
        }
    }

    #[test]
    fn classification_server_errors_opt_in() {
        let p = RetryPolicy {
            retry_server_errors: true,
            ..RetryPolicy::default()
        };
        assert!(p.should_retry(&Error::Api(Box::new(api(500, ErrorCode::InferenceFailed)))));
        assert!(p.should_retry(&Error::Api(Box::new(api(
            504,
            ErrorCode::SettlementTimeout
        )))));
        assert!(p.should_retry(&timeout(TimeoutPhase::Headers)));
        assert!(!p.should_retry(&Error::Api(Box::new(api(400, ErrorCode::InvalidRequest)))));
    }

    #[test]
    fn backoff_bounds() {
        let p = RetryPolicy {
            max_attempts: 10,
            ..RetryPolicy::default()
        };
        assert_eq!(p.backoff(1), Duration::from_millis(500));
        assert_eq!(p.backoff(2), Duration::from_secs(1));
        assert_eq!(p.backoff(3), Duration::from_secs(2));
        assert_eq!(p.backoff(9), Duration::from_secs(20));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(20));
        for i in 0..100 {
            let r = random_unit();
            assert!((0.0..1.0).contains(&r));
            let d = p.delay(1 + i % 8, None, r).unwrap();
            assert!(d <= p.backoff(1 + i % 8));
        }
        let no_jitter = RetryPolicy {
            jitter: false,
            ..p.clone()
        };
        assert_eq!(no_jitter.delay(2, None, 0.3), Some(Duration::from_secs(1)));
    }

    #[test]
    fn charging_classification_matches_the_retry_policy() {
        use reqwest::header::HeaderMap;
        let from = |status: u16, body: &str| {
            crate::decode::error_from_parts(status, &HeaderMap::new(), body.as_bytes())
        };
        for status in [500, 502, 504] {
            let e = from(status, "{}");
            assert!(e.may_have_been_charged(), "{status}");
            assert!(!e.is_retryable(), "{status}: never retried by default");
        }
        for status in [400, 401, 402, 403, 404, 413, 415, 422, 429, 503] {
            assert!(!from(status, "{}").may_have_been_charged(), "{status}");
        }
        let decode = Error::Decode {
            what: "generation JSON".into(),
            source: None,
        };
        assert!(decode.may_have_been_charged());
        assert!(timeout(TimeoutPhase::Headers).may_have_been_charged());
        assert!(timeout(TimeoutPhase::Body).may_have_been_charged());
        assert!(!timeout(TimeoutPhase::Connect).may_have_been_charged());
        let too_large = Error::ResponseTooLarge {
            limit: 1,
            declared: None,
        };
        assert!(too_large.may_have_been_charged());
        assert!(!Error::config("x").may_have_been_charged());
        // Whatever is retried by default cannot have been charged.
        for e in [from(429, "{}"), from(503, "{}")] {
            assert!(e.is_retryable() && !e.may_have_been_charged());
        }
    }

    #[test]
    fn rate_limit_reset_is_not_a_hint_for_server_errors() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        // The window reset is on every response; only a 429 waits for it.
        let reset = headers(&[("x-ratelimit-reset-requests", "45")]);
        for status in [500, 503, 504] {
            let e = crate::decode::error_from_parts(status, &reset, b"{}");
            assert_eq!(server_hint(&e), None, "{status}");
        }
        let e = crate::decode::error_from_parts(429, &reset, b"{}");
        assert!(matches!(e, Error::RateLimited { .. }));
        let hint = server_hint(&e).unwrap();
        assert!(hint > Duration::from_secs(40) && hint <= Duration::from_secs(45));
        // A real Retry-After is kept for any status.
        let both = headers(&[("retry-after", "1"), ("x-ratelimit-reset-requests", "45")]);
        let e = crate::decode::error_from_parts(503, &both, b"{}");
        assert_eq!(server_hint(&e), Some(Duration::from_secs(1)));
    }

    #[test]
    fn attempts_and_hints() {
        let p = RetryPolicy::default();
        assert!(p.delay(1, None, 0.5).is_some());
        assert!(p.delay(2, None, 0.5).is_some());
        assert!(p.delay(3, None, 0.5).is_none());
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3)), 0.9),
            Some(Duration::from_secs(3))
        );
        assert_eq!(p.delay(1, Some(Duration::from_secs(60)), 0.9), None);
        assert!(RetryPolicy::none().delay(1, None, 0.5).is_none());
    }
}
