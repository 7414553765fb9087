//! Fixed-window rate limiting per API key (or wallet).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{ModelRateLimits, RateLimitConfig};

/// Above this many tracked keys, expired windows are dropped.
const MAX_TRACKED_KEYS: usize = 4096;

/// The state of a caller's window after counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Requests per window.
    pub limit: u32,
    /// Requests left in the window.
    pub remaining: u32,
    /// Unix seconds when the window resets (rounded up: the crypto RPC proxy's unit).
    pub reset_unix: u64,
    /// Unix milliseconds when the window resets (the unit of the provider's
    /// `x-ratelimit-reset-requests`).
    pub reset_unix_ms: u64,
    /// Seconds until the reset (at least 1).
    pub retry_after: u64,
    /// Whether this request is within the limit.
    pub allowed: bool,
}

/// Fixed windows aligned to the Unix epoch, counted per name.
#[derive(Debug, Default)]
struct Windows {
    /// Per name: the window number and the requests counted in it.
    counts: Mutex<HashMap<String, (u128, u32)>>,
}

impl Windows {
    /// Counts one request of `name` in the window of length `window_ns` holding `now_ns`;
    /// returns (window number, requests counted in it).
    fn count(&self, name: &str, window_ns: u128, now_ns: u128) -> (u128, u32) {
        let current = now_ns / window_ns;
        let count = match self.counts.lock() {
            Ok(mut map) => {
                // Every distinct key (also unauthenticated junk) gets a window: forget
                // expired ones so a flood of keys cannot grow memory without bound.
                if map.len() >= MAX_TRACKED_KEYS {
                    map.retain(|_, (id, _)| *id == current);
                }
                let entry = map.entry(name.to_owned()).or_insert((current, 0));
                if entry.0 != current {
                    *entry = (current, 0);
                }
                entry.1 = entry.1.saturating_add(1);
                entry.1
            }
            Err(_) => 1,
        };
        (current, count)
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.counts.lock().map(|m| m.len()).unwrap_or(usize::MAX)
    }
}

/// The decision for the `count`-th request of window `current` (of `window_ns`).
fn decide(limit: u32, count: u32, current: u128, window_ns: u128, now_ns: u128) -> RateDecision {
    let reset_ns = (current + 1) * window_ns;
    let left_ns = reset_ns - now_ns;
    RateDecision {
        limit,
        remaining: limit.saturating_sub(count),
        reset_unix: u64::try_from(reset_ns.div_ceil(1_000_000_000)).unwrap_or(u64::MAX),
        reset_unix_ms: u64::try_from(reset_ns.div_ceil(1_000_000)).unwrap_or(u64::MAX),
        retry_after: u64::try_from(left_ns.div_ceil(1_000_000_000).max(1)).unwrap_or(u64::MAX),
        allowed: count <= limit,
    }
}

/// A fixed-window limiter per key; with no config every request is allowed.
///
/// Windows are aligned to the Unix epoch (window `n` covers `[n·w, (n+1)·w)`), as common
/// fixed-window limiters are, and their reset is advertised in Unix milliseconds (the
/// provider's unit of `x-ratelimit-reset-requests`), so a client that waits for it loses
/// no time.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    enabled: bool,
    windows: Windows,
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

impl RateLimiter {
    /// A limiter for the config (`None` disables limiting; headers show the default limit).
    pub fn new(config: Option<RateLimitConfig>) -> Self {
        Self {
            config: config.unwrap_or_default(),
            enabled: config.is_some(),
            windows: Windows::default(),
        }
    }

    /// Counts one request of `key`.
    pub fn check(&self, key: &str) -> RateDecision {
        self.check_at(key, unix_now())
    }

    fn check_at(&self, key: &str, now: Duration) -> RateDecision {
        let window = self.config.window.max(Duration::from_millis(1)).as_nanos();
        let (current, count) = self.windows.count(key, window, now.as_nanos());
        let mut d = decide(self.config.requests, count, current, window, now.as_nanos());
        d.allowed |= !self.enabled;
        d
    }
}

/// Seconds in a UTC day: the period of `RPD` limits.
const DAY_SECS: u64 = 86_400;

/// The per-(key, model) limits of the inference operations
/// ([`ModelRateLimits`]): requests per window, and per UTC day.
#[derive(Debug)]
pub struct ModelLimiter {
    limits: ModelRateLimits,
    windows: Windows,
    /// Per key and model: the UTC day number and the requests counted in it.
    days: Windows,
}

impl ModelLimiter {
    /// A limiter enforcing `limits`.
    pub fn new(limits: ModelRateLimits) -> Self {
        Self {
            limits,
            windows: Windows::default(),
            days: Windows::default(),
        }
    }

    /// Counts one request of `key` for `model`.
    pub fn check(&self, key: &str, model: &str) -> RateDecision {
        self.check_at(key, model, unix_now())
    }

    fn check_at(&self, key: &str, model: &str, now: Duration) -> RateDecision {
        let name = format!("{key}\0{model}");
        let window = self.limits.window.max(Duration::from_millis(1)).as_nanos();
        let now_ns = now.as_nanos();
        let (current, count) = self.windows.count(&name, window, now_ns);
        let mut d = decide(
            self.limits.requests_of(model),
            count,
            current,
            window,
            now_ns,
        );
        // A request the window refuses is not served: it does not count for the day.
        if let Some(per_day) = self.limits.per_day.filter(|_| d.allowed) {
            let day_ns = u128::from(DAY_SECS) * 1_000_000_000;
            let (today, used) = self.days.count(&name, day_ns, now_ns);
            if used > per_day {
                // Out for the day: nothing left until midnight UTC, whatever the window says.
                let until = decide(per_day, used, today, day_ns, now_ns);
                d.remaining = 0;
                d.reset_unix = until.reset_unix;
                d.reset_unix_ms = until.reset_unix_ms;
                d.retry_after = until.retry_after;
                d.allowed = false;
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_windows_of_many_keys_are_forgotten() {
        let limiter = RateLimiter::new(Some(RateLimitConfig {
            requests: 10,
            window: Duration::from_millis(20),
        }));
        for i in 0..MAX_TRACKED_KEYS {
            limiter.check(&format!("key:{i}"));
        }
        std::thread::sleep(Duration::from_millis(30));
        let d = limiter.check("key:new");
        assert!(d.allowed);
        assert_eq!(limiter.windows.tracked(), 1, "expired windows kept");
    }

    #[test]
    fn windows_are_aligned_to_whole_seconds_and_the_reset_is_exact() {
        let limiter = RateLimiter::new(Some(RateLimitConfig {
            requests: 2,
            window: Duration::from_secs(10),
        }));
        // 1_000_003.7 s: inside window [1_000_000, 1_000_010).
        let t = Duration::from_millis(1_000_003_700);
        let a = limiter.check_at("k", t);
        assert_eq!(
            (a.allowed, a.remaining, a.reset_unix, a.retry_after),
            (true, 1, 1_000_010, 7)
        );
        assert_eq!(a.reset_unix_ms, 1_000_010_000);
        assert!(limiter.check_at("k", t + Duration::from_secs(6)).allowed);
        // Third request in the same window: refused until the advertised reset.
        let c = limiter.check_at("k", t + Duration::from_millis(6_200));
        assert!(!c.allowed);
        assert_eq!((c.reset_unix, c.retry_after), (1_000_010, 1));
        // At the advertised reset a new window opens with the full quota.
        let d = limiter.check_at("k", Duration::from_secs(1_000_010));
        assert_eq!((d.allowed, d.remaining, d.reset_unix), (true, 1, 1_000_020));
        // Keys are counted separately.
        assert!(limiter.check_at("other", t).allowed);
    }

    #[test]
    fn models_are_limited_separately_per_key_with_overrides_and_a_daily_cap() {
        let mut limits = ModelRateLimits::new(2, Duration::from_secs(10));
        limits.overrides.insert("small".to_owned(), 1);
        limits.per_day = Some(3);
        let limiter = ModelLimiter::new(limits);
        let t = Duration::from_millis(1_000_003_700);
        for _ in 0..2 {
            assert!(limiter.check_at("k", "a", t).allowed);
        }
        let refused = limiter.check_at("k", "a", t);
        assert!(!refused.allowed);
        assert_eq!((refused.limit, refused.reset_unix), (2, 1_000_010));
        // Another model, another key: their own windows; an override applies.
        assert!(limiter.check_at("k", "b", t).allowed);
        assert!(limiter.check_at("other", "a", t).allowed);
        assert!(limiter.check_at("k", "small", t).allowed);
        assert!(!limiter.check_at("k", "small", t).allowed);
        // Next window: one more of "a" makes 3 a day (the refused one did not count);
        // then the day is out although the window has room.
        let next = Duration::from_secs(1_000_010);
        assert!(limiter.check_at("k", "a", next).allowed);
        let day_out = limiter.check_at("k", "a", next);
        assert!(!day_out.allowed);
        let midnight = 1_000_003_700 / 1000 / DAY_SECS * DAY_SECS + DAY_SECS;
        assert_eq!(day_out.reset_unix, midnight);
        assert_eq!(day_out.retry_after, midnight - 1_000_010);
        assert!(limiter.check_at("k", "b", next).allowed);
    }
}
