//! Fixed-window rate limiting per API key (or wallet).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    enabled: bool,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
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
        let now = Instant::now();
        let window = self.config.window.max(Duration::from_millis(1));
        let limit = self.config.requests;
        let (start, count) = match self.windows.lock() {
            Ok(mut map) => {
                // Every distinct key (also unauthenticated junk) gets a window: forget
                // expired ones so a flood of keys cannot grow memory without bound.
                if map.len() >= MAX_TRACKED_KEYS {
                    map.retain(|_, (start, _)| now.duration_since(*start) < window);
                }
                let entry = map.entry(key.to_owned()).or_insert((now, 0));
                if now.duration_since(entry.0) >= window {
                    *entry = (now, 0);
                }
                entry.1 = entry.1.saturating_add(1);
                *entry
            }
            Err(_) => (now, 1),
        };
        let left = window.saturating_sub(now.duration_since(start));
        let reset_unix = (unix_now() + left).as_secs_f64().ceil() as u64;
        let retry_after = left.as_secs_f64().ceil().max(1.0) as u64;
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
}
