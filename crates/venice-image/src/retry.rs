//! [`RetryPolicy`]: which failures are retried and how long to wait.
//!
//! By default only failures that cannot have been charged are retried: 429 (unless
//! the code says the balance is insufficient), 503, and connections that never
//! reached the server. 500/504 and timeouts after sending are retried only with
//! [`RetryPolicyBuilder::retry_server_errors`]; a classifier
//! ([`RetryPolicyBuilder::classifier`]) can change any decision.
//!
//! Waits the server asks for are honoured up to [`RetryPolicyBuilder::max_delay`] (60 s by
//! default): an overloaded model's `Retry-After` (typically 30 s), a model window's reset,
//! an error-budget lockout's end. A busy wallet (429 `X402_CONCURRENCY_LIMIT`) is sent
//! again after a short wait, without using up attempts, for up to
//! [`RetryPolicyBuilder::busy_wallet_wait`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, ErrorCode};

/// First wait after a busy-wallet refusal.
const BUSY_FIRST: Duration = Duration::from_millis(250);
/// Longest wait after a busy-wallet refusal.
const BUSY_MAX: Duration = Duration::from_secs(2);

/// Decides whether a failure is retried, given the built-in decision (shown by `Debug`
/// as `custom`).
#[derive(Clone)]
struct Classifier(Arc<Classify>);

type Classify = dyn Fn(&Error, bool) -> bool + Send + Sync;

impl fmt::Debug for Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("custom")
    }
}

/// When and how to retry a failed call. Build one with [`RetryPolicy::builder`];
/// [`RetryPolicy::default`] is 3 attempts, 0.5 s doubling, full jitter, server-asked waits
/// of up to 60 s, a busy wallet waited for up to 60 s, and only failures that cannot have
/// been charged.
///
/// ```
/// use std::time::Duration;
/// use venice_image::{Error, RetryPolicy};
///
/// let policy = RetryPolicy::builder()
///     .max_attempts(5)
///     .max_delay(Duration::from_secs(60))
///     // Also retry a proxy's 529 (overloaded); keep every other decision.
///     .classifier(|error, retry| retry || error.status() == Some(529))
///     .build();
/// assert_eq!(policy.max_attempts(), 5);
/// ```
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    jitter: bool,
    retry_server_errors: bool,
    busy_wallet_wait: Duration,
    classifier: Option<Classifier>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            jitter: true,
            retry_server_errors: false,
            busy_wallet_wait: Duration::from_secs(60),
            classifier: None,
        }
    }
}

/// Builder of a [`RetryPolicy`], starting from [`RetryPolicy::default`].
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct RetryPolicyBuilder {
    policy: RetryPolicy,
}

impl RetryPolicyBuilder {
    /// Total attempts including the first (1 = no retries; 0 is taken as 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.policy.max_attempts = attempts.max(1);
        self
    }

    /// Delay cap of the first retry; doubles per retry (default 0.5 s).
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.policy.base_delay = delay;
        self
    }

    /// Largest delay (default 60 s, above the provider's 30 s waits): the cap of the
    /// backoff, and of a wait the server asks for (`Retry-After`, a window's reset, a
    /// lockout's end); above it the call fails at once with an error saying how long the
    /// server asked to wait.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.policy.max_delay = delay;
        self
    }

    /// How long to keep sending again a request the server refused because the wallet
    /// already has five requests in flight (429 `X402_CONCURRENCY_LIMIT`: another
    /// program uses the wallet); the waits are short (0.25 s doubling up to 2 s) and do
    /// not use up attempts (default 60 s; zero: fail at the first refusal).
    pub fn busy_wallet_wait(mut self, wait: Duration) -> Self {
        self.policy.busy_wallet_wait = wait;
        self
    }

    /// Full jitter: wait a random time in `[0, backoff]` instead of `backoff` (default
    /// on).
    pub fn jitter(mut self, on: bool) -> Self {
        self.policy.jitter = on;
        self
    }

    /// Also retry 500/502/504 and timeouts or broken connections after sending: the
    /// call may then be charged twice (default off).
    pub fn retry_server_errors(mut self, on: bool) -> Self {
        self.policy.retry_server_errors = on;
        self
    }

    /// Decide yourself: `classify(error, retry)` gets the failure and the built-in
    /// decision and returns whether to retry. Attempts and delays still follow the
    /// policy. Returning `true` for an error whose
    /// [`may_have_been_charged`](Error::may_have_been_charged) is true may pay twice.
    pub fn classifier(
        mut self,
        classify: impl Fn(&Error, bool) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.policy.classifier = Some(Classifier(Arc::new(classify)));
        self
    }

    /// The policy.
    pub fn build(self) -> RetryPolicy {
        self.policy
    }
}

impl RetryPolicy {
    /// A builder starting from the default policy.
    pub fn builder() -> RetryPolicyBuilder {
        RetryPolicyBuilder::default()
    }

    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Total attempts including the first.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Delay cap of the first retry.
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// Largest delay.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// Whether delays are jittered.
    pub fn jitter(&self) -> bool {
        self.jitter
    }

    /// Whether possibly charged failures (500/502/504, timeouts after sending) are
    /// retried.
    pub fn retry_server_errors(&self) -> bool {
        self.retry_server_errors
    }

    /// How long a busy wallet (429 `X402_CONCURRENCY_LIMIT`) is waited for.
    pub fn busy_wallet_wait(&self) -> Duration {
        self.busy_wallet_wait
    }

    /// The wait before sending again after the `n`-th (1-based) busy-wallet refusal:
    /// 0.25 s doubling up to 2 s, between half and all of it.
    pub(crate) fn busy_delay(&self, n: u32, random: f64) -> Duration {
        let cap = BUSY_FIRST
            .saturating_mul(2u32.saturating_pow(n.saturating_sub(1).min(8)))
            .min(BUSY_MAX);
        cap.mul_f64(0.5 + random.clamp(0.0, 1.0) / 2.0)
    }

    /// Whether this failure should be retried under this policy (ignoring the
    /// attempt count): the built-in decision, then the classifier if there is one.
    pub fn should_retry(&self, err: &Error) -> bool {
        let retry = self.builtin(err);
        match &self.classifier {
            Some(Classifier(classify)) => classify(err, retry),
            None => retry,
        }
    }

    fn builtin(&self, err: &Error) -> bool {
        if err.is_retryable() {
            return true;
        }
        if !self.retry_server_errors {
            return false;
        }
        match err {
            Error::Api { status, code, .. } => {
                matches!(status, 500 | 502 | 504) && *code != ErrorCode::InsufficientBalance
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

/// The server-requested wait carried by an error. The decoder only takes a window's reset
/// (or a lockout's end) as a hint for 429s (see `decode::retry_after`), so every hint here
/// is one the server meant for this error.
pub(crate) fn server_hint(err: &Error) -> Option<Duration> {
    match err {
        Error::RateLimited { retry_after, .. } => *retry_after,
        Error::ErrorBudgetExhausted(lockout) => lockout.retry_after(),
        Error::Api { error, .. } => error.retry_after,
        _ => None,
    }
}

/// Whether the error is a busy wallet's refusal (429 `X402_CONCURRENCY_LIMIT`).
pub(crate) fn is_busy_wallet(err: &Error) -> bool {
    matches!(
        err,
        Error::Api {
            status: 429,
            code: ErrorCode::X402ConcurrencyLimit,
            ..
        }
    )
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

    fn api(status: u16, code: ErrorCode) -> Error {
        let api = ApiError {
            status,
            code: code.clone(),
            message: String::new(),
            details: None,
            request_id: None,
            body_excerpt: String::new(),
            retry_after: None,
            meta: ResponseMeta::default(),
        };
        if status == 429 {
            Error::RateLimited {
                retry_after: None,
                kind: crate::error::RateLimitKind::ModelWindow,
                error: Box::new(api),
            }
        } else {
            Error::Api {
                status,
                code,
                error: Box::new(api),
            }
        }
    }

    #[test]
    fn classification_default() {
        let p = RetryPolicy::default();
        assert!(p.should_retry(&api(429, ErrorCode::RateLimitExceeded)));
        assert!(!p.should_retry(&api(429, ErrorCode::InsufficientBalance)));
        assert!(p.should_retry(&api(503, ErrorCode::ModelAtCapacity)));
        for s in [400, 401, 404, 500, 504] {
            assert!(!p.should_retry(&api(s, ErrorCode::from_status(s))), "{s}");
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
        let p = RetryPolicy::builder().retry_server_errors(true).build();
        assert!(p.should_retry(&api(500, ErrorCode::InferenceFailed)));
        assert!(p.should_retry(&api(504, ErrorCode::SettlementTimeout)));
        assert!(p.should_retry(&timeout(TimeoutPhase::Headers)));
        assert!(!p.should_retry(&api(400, ErrorCode::InvalidRequest)));
    }

    #[test]
    fn classifier_sees_the_builtin_decision_and_overrides_it() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let p = RetryPolicy::builder()
            .classifier(move |e, retry| {
                log.lock().unwrap().push((e.status(), retry));
                // Retry 409s too; never retry a 503.
                (retry || e.status() == Some(409)) && e.status() != Some(503)
            })
            .build();
        assert!(p.should_retry(&api(409, ErrorCode::from_status(409))));
        assert!(!p.should_retry(&api(503, ErrorCode::ModelAtCapacity)));
        assert!(p.should_retry(&api(429, ErrorCode::RateLimitExceeded)));
        assert!(!p.should_retry(&api(500, ErrorCode::InferenceFailed)));
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                (Some(409), false),
                (Some(503), true),
                (Some(429), true),
                (Some(500), false)
            ]
        );
        assert!(format!("{p:?}").contains("custom"));
        // The default classification never retries what may have been charged.
        let d = RetryPolicy::default();
        for e in [
            api(500, ErrorCode::InferenceFailed),
            api(502, ErrorCode::from_status(502)),
            api(504, ErrorCode::from_status(504)),
            timeout(TimeoutPhase::Headers),
            timeout(TimeoutPhase::Body),
        ] {
            assert!(e.may_have_been_charged() && !d.should_retry(&e), "{e:?}");
        }
    }

    #[test]
    fn backoff_bounds() {
        let p = RetryPolicy::builder().max_attempts(10).build();
        assert_eq!(p.backoff(1), Duration::from_millis(500));
        assert_eq!(p.backoff(2), Duration::from_secs(1));
        assert_eq!(p.backoff(3), Duration::from_secs(2));
        assert_eq!(p.backoff(9), Duration::from_secs(60));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(60));
        for i in 0..100 {
            let r = random_unit();
            assert!((0.0..1.0).contains(&r));
            let d = p.delay(1 + i % 8, None, r).unwrap();
            assert!(d <= p.backoff(1 + i % 8));
        }
        let no_jitter = RetryPolicy::builder()
            .max_attempts(10)
            .jitter(false)
            .build();
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
        let reset = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "45"),
        ]);
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
        // The provider's 30 s waits are within the default cap; longer ones are not.
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(30)), 0.9),
            Some(Duration::from_secs(30))
        );
        assert_eq!(p.delay(1, Some(Duration::from_secs(61)), 0.9), None);
        assert!(RetryPolicy::none().delay(1, None, 0.5).is_none());
    }

    #[test]
    fn busy_wallet_waits_are_short_and_grow_to_two_seconds() {
        let p = RetryPolicy::default();
        assert_eq!(p.busy_wallet_wait(), Duration::from_secs(60));
        assert_eq!(p.busy_delay(1, 1.0), Duration::from_millis(250));
        assert_eq!(p.busy_delay(1, 0.0), Duration::from_millis(125));
        assert_eq!(p.busy_delay(4, 1.0), Duration::from_secs(2));
        assert_eq!(p.busy_delay(u32::MAX, 1.0), Duration::from_secs(2));
        let busy = crate::decode::error_from_parts(
            429,
            &reqwest::header::HeaderMap::new(),
            br#"{"error": "too many in flight", "code": "X402_CONCURRENCY_LIMIT"}"#,
        );
        assert!(is_busy_wallet(&busy) && busy.is_retryable(), "{busy:?}");
        assert!(!matches!(busy, Error::RateLimited { .. }));
    }
}
