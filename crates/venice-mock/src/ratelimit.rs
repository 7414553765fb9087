//! Fixed-window rate limiting per API key (or wallet).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::RateLimitConfig;

/// Above this many tracked keys, expired windows are dropped.
const MAX_TRACKED_KEYS: usize = 4096;

/// The state of a caller's window after counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Requests per window.
    pub limit: u32,
    /// Requests left in the window.
    pub remaining: u32,
    /// Unix seconds when the window resets.
    pub reset_unix: u64,
    /// Seconds until the reset (at least 1).
    pub retry_after: u64,
    /// Whether this request is within the limit.
    pub allowed: bool,
}

/// A fixed-window limiter; with no config every request is allowed.
///
/// Windows are aligned to the Unix epoch (window `n` covers `[n·w, (n+1)·w)`), as common
/// fixed-window limiters are: with a whole-second window the whole-second
/// `x-ratelimit-reset-requests` header is then exact, so a client that waits for it loses
/// no time. (A window opened at a caller's first request would make the advertised reset
/// up to a second late in every window.)
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    enabled: bool,
    /// Per key: the window number and the requests counted in it.
    windows: Mutex<HashMap<String, (u128, u32)>>,
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
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `key`.
    pub fn check(&self, key: &str) -> RateDecision {
        self.check_at(key, unix_now())
    }

    fn check_at(&self, key: &str, now: Duration) -> RateDecision {
        let window = self.config.window.max(Duration::from_millis(1)).as_nanos();
        let limit = self.config.requests;
        let now_ns = now.as_nanos();
        let current = now_ns / window;
        let count = match self.windows.lock() {
            Ok(mut map) => {
                // Every distinct key (also unauthenticated junk) gets a window: forget
                // expired ones so a flood of keys cannot grow memory without bound.
                if map.len() >= MAX_TRACKED_KEYS {
                    map.retain(|_, (id, _)| *id == current);
                }
                let entry = map.entry(key.to_owned()).or_insert((current, 0));
                if entry.0 != current {
                    *entry = (current, 0);
                }
                entry.1 = entry.1.saturating_add(1);
                entry.1
            }
            Err(_) => 1,
        };
        let reset_ns = (current + 1) * window;
        let left_ns = reset_ns - now_ns;
        let reset_unix = u64::try_from(reset_ns.div_ceil(1_000_000_000)).unwrap_or(u64::MAX);
        let retry_after = u64::try_from(left_ns.div_ceil(1_000_000_000).max(1)).unwrap_or(u64::MAX);
        let allowed = !self.enabled || count <= limit;
        RateDecision {
            limit,
            remaining: limit.saturating_sub(count),
            reset_unix,
            retry_after,
            allowed,
        }
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
        let tracked = limiter
            .windows
            .lock()
            .map(|m| m.len())
            .unwrap_or(usize::MAX);
        assert_eq!(tracked, 1, "expired windows kept");
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
}
