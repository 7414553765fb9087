//! The provider's error budget: more than `failures` failed requests (any 4xx but 429) in
//! a window lock their bucket, and every request of a locked bucket is answered 429 "Too
//! many failed attempts (> 50) …" until the lockout ends.
//!
//! A bucket is the credential (an API key; for wallets the caller's IP, so every wallet on
//! one host shares it), the model the body names (none for multipart uploads, which cannot
//! name it in time, and for bodies without a model) and the OpenAI `user` string. What
//! does not count, as at the provider, is refused before the budget is looked at: requests
//! without credentials, a wrong `Content-Type`, a body that is not JSON, a body over the
//! size limit. Every answer to a credentialed request carries the bucket's state:
//! `x-ratelimit-remaining` (failures left before a lockout) and `x-ratelimit-resets` (Unix
//! milliseconds when the count starts again, or when the lockout ends).
//!
//! The window is fixed: it opens at a bucket's first counted failure and lasts
//! [`ErrorBudgetConfig::window`]; the failure that exceeds the budget locks the bucket for
//! one window from that moment, after which the count starts from zero.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(test)]
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::auth;
use crate::config::ErrorBudgetConfig;
use crate::response::{ApiError, Reply};

/// Above this many tracked buckets, buckets whose window is over are dropped.
const MAX_TRACKED: usize = 4096;

/// Who, which model and which OpenAI user a request counts for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Bucket {
    who: String,
    model: Option<String>,
    user: Option<String>,
}

impl Bucket {
    /// The credential-wide bucket of a request (model and user not known, or not
    /// readable in time); `None` without credentials, which never count.
    pub(crate) fn of_credentials(headers: &HeaderMap, peer: IpAddr) -> Option<Bucket> {
        let who = if let Some(key) = auth::bearer(headers) {
            format!("key:{key}")
        } else if auth::siwx_header(headers).is_some() {
            // Wallets are counted per IP: every wallet of one host shares the budget.
            format!("ip:{peer}")
        } else {
            return None;
        };
        Some(Bucket {
            who,
            model: None,
            user: None,
        })
    }

    /// The bucket narrowed to the model and OpenAI `user` a JSON body names (a
    /// multipart body keeps the credential-wide bucket).
    pub(crate) fn narrowed(mut self, headers: &HeaderMap, body: &Value) -> Bucket {
        let multipart =
            crate::body::media_type(headers).is_some_and(|m| m.starts_with("multipart/"));
        if !multipart {
            let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
            self.model = text("model").or_else(|| text("modelId"));
            self.user = text("user");
        }
        self
    }
}

/// A bucket's count in its current window.
#[derive(Debug, Clone, Copy)]
struct Count {
    /// When the window (or the lockout) ends.
    ends: SystemTime,
    failures: u32,
    locked: bool,
}

/// What the headers say about a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BudgetState {
    /// Failures left before a lockout.
    pub remaining: u32,
    /// Unix milliseconds when the count starts again or the lockout ends.
    pub resets_ms: u64,
    /// Every request of the bucket is refused.
    pub locked: bool,
}

/// The error budgets of every bucket.
#[derive(Debug)]
pub(crate) struct ErrorBudget {
    config: Option<ErrorBudgetConfig>,
    counts: Mutex<HashMap<Bucket, Count>>,
    lockouts: AtomicU64,
    failures: AtomicU64,
}

fn unix_ms(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

impl ErrorBudget {
    /// The budgets of `config` (`None`: off, nothing counted, no headers).
    pub(crate) fn new(config: Option<ErrorBudgetConfig>) -> Self {
        Self {
            config,
            counts: Mutex::new(HashMap::new()),
            lockouts: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// The state of `bucket` at `now` (`None` when the budget is off).
    pub(crate) fn state(&self, bucket: &Bucket, now: SystemTime) -> Option<BudgetState> {
        let config = self.config?;
        let count = self
            .counts
            .lock()
            .ok()
            .and_then(|c| c.get(bucket).copied())
            .filter(|c| now < c.ends);
        Some(match count {
            Some(c) => BudgetState {
                remaining: config.failures.saturating_sub(c.failures),
                resets_ms: unix_ms(c.ends),
                locked: c.locked,
            },
            None => BudgetState {
                remaining: config.failures,
                resets_ms: unix_ms(now + config.window),
                locked: false,
            },
        })
    }

    /// A counted failure of `bucket` at `now`: the one beyond the budget locks it.
    pub(crate) fn fail(&self, bucket: &Bucket, now: SystemTime) {
        let Some(config) = self.config else {
            return;
        };
        self.failures.fetch_add(1, Ordering::Relaxed);
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        if counts.len() >= MAX_TRACKED {
            counts.retain(|_, c| now < c.ends);
        }
        let count = counts.entry(bucket.clone()).or_insert(Count {
            ends: now,
            failures: 0,
            locked: false,
        });
        if now >= count.ends {
            *count = Count {
                ends: now + config.window,
                failures: 0,
                locked: false,
            };
        }
        count.failures = count.failures.saturating_add(1);
        if !count.locked && count.failures > config.failures {
            count.locked = true;
            count.ends = now + config.window;
        }
    }

    /// The 429 of a locked bucket, counted as a lockout.
    pub(crate) fn lockout(&self, state: BudgetState) -> ApiError {
        self.lockouts.fetch_add(1, Ordering::Relaxed);
        let config = self.config.unwrap_or_default();
        let message = format!(
            "Too many failed attempts (> {}) resulting in a non-success status code. Please wait {} seconds and try again. See https://docs.venice.ai/api-reference/rate-limiting for more information.",
            config.failures,
            config.window.as_secs().max(1)
        );
        let mut error = ApiError::with_body(
            StatusCode::TOO_MANY_REQUESTS,
            &serde_json::json!({ "error": message }),
        );
        headers(&mut error.0, state);
        error
    }

    /// Lockout answers so far.
    pub(crate) fn lockouts(&self) -> u64 {
        self.lockouts.load(Ordering::Relaxed)
    }

    /// Failures counted so far.
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// The budget's headers on a reply.
pub(crate) fn headers(reply: &mut Reply, state: BudgetState) {
    reply
        .headers
        .insert("x-ratelimit-remaining", state.remaining.into());
    reply
        .headers
        .insert("x-ratelimit-resets", state.resets_ms.into());
}

/// Whether a reply counts against the budget: any 4xx but 429, except what the provider
/// refuses before looking at the budget (a wrong `Content-Type`, a body that is not JSON,
/// a body over the size limit).
pub(crate) fn counts(reply: &Reply) -> bool {
    let status = reply.status;
    if !status.is_client_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return false;
    }
    if status == StatusCode::UNSUPPORTED_MEDIA_TYPE || status == StatusCode::PAYLOAD_TOO_LARGE {
        return false;
    }
    if status == StatusCode::BAD_REQUEST {
        let code = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned));
        return code.as_deref() != Some("INVALID_JSON");
    }
    true
}

/// How long a lockout of `state` still lasts, at `now`.
#[cfg(test)]
fn left(state: BudgetState, now: SystemTime) -> Duration {
    (UNIX_EPOCH + Duration::from_millis(state.resets_ms))
        .duration_since(now)
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bucket(model: &str) -> Bucket {
        Bucket {
            who: "key:k".into(),
            model: Some(model.into()),
            user: None,
        }
    }

    #[test]
    fn the_failure_beyond_the_budget_locks_the_bucket_for_a_window() {
        let budget = ErrorBudget::new(Some(ErrorBudgetConfig {
            failures: 3,
            window: Duration::from_secs(30),
        }));
        let t = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let a = bucket("a");
        assert_eq!(budget.state(&a, t).unwrap().remaining, 3);
        for i in 0..3 {
            budget.fail(&a, t + Duration::from_secs(i));
        }
        let s = budget.state(&a, t + Duration::from_secs(3)).unwrap();
        assert_eq!((s.remaining, s.locked), (0, false));
        assert_eq!(s.resets_ms, unix_ms(t + Duration::from_secs(30)));
        // The fourth failure locks it, for a window from that moment.
        budget.fail(&a, t + Duration::from_secs(10));
        let s = budget.state(&a, t + Duration::from_secs(11)).unwrap();
        assert!(s.locked);
        assert_eq!(
            left(s, t + Duration::from_secs(11)),
            Duration::from_secs(29)
        );
        // Other models (and other users) have their own budgets.
        assert!(!budget.state(&bucket("b"), t).unwrap().locked);
        // After the lockout the count starts again.
        let after = budget.state(&a, t + Duration::from_secs(40)).unwrap();
        assert_eq!((after.remaining, after.locked), (3, false));
        assert_eq!(budget.failures(), 4);
    }

    #[test]
    fn what_the_provider_refuses_before_the_budget_does_not_count() {
        use serde_json::json;
        let reply = |status: StatusCode, body: Value| Reply::json(status, &body);
        assert!(counts(&reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "bad"})
        )));
        assert!(counts(&reply(StatusCode::UNAUTHORIZED, json!({}))));
        assert!(counts(&reply(StatusCode::PAYMENT_REQUIRED, json!({}))));
        assert!(counts(&reply(StatusCode::NOT_FOUND, json!({}))));
        assert!(!counts(&reply(StatusCode::TOO_MANY_REQUESTS, json!({}))));
        assert!(!counts(&reply(StatusCode::OK, json!({}))));
        assert!(!counts(&reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({})
        )));
        assert!(!counts(&reply(
            StatusCode::BAD_REQUEST,
            json!({"code": "INVALID_JSON"})
        )));
        assert!(!counts(&reply(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({})
        )));
        assert!(!counts(&reply(StatusCode::PAYLOAD_TOO_LARGE, json!({}))));
    }

    #[test]
    fn off_counts_nothing() {
        let budget = ErrorBudget::new(None);
        let now = SystemTime::now();
        budget.fail(&bucket("a"), now);
        assert_eq!(budget.state(&bucket("a"), now), None);
        assert_eq!(budget.failures(), 0);
    }
}
