//! In-process pacing: one [`Budget`] per model behind a mutex. What a process uses alone,
//! and what it falls back to while Redis is unreachable.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use super::budget::Budget;
use crate::rate_headers::RateLimit;

/// The budgets of one API key in this process, by model.
#[derive(Debug, Default)]
pub(crate) struct LocalBudgets {
    budgets: Mutex<HashMap<String, Budget>>,
}

impl LocalBudgets {
    /// Book a request of `model` or say how long to wait.
    pub(crate) fn reserve(&self, model: &str, now: SystemTime) -> Result<u64, Duration> {
        self.with(model, |b| b.reserve(now))
    }

    /// An answer arrived (`seq`: booked here).
    pub(crate) fn complete(&self, model: &str, seq: Option<u64>, rate_limit: Option<&RateLimit>) {
        if seq.is_none() && rate_limit.is_none() {
            return;
        }
        self.with(model, |b| b.complete(seq, rate_limit));
    }

    /// A 429 (`seq`: booked here).
    pub(crate) fn rate_limited(
        &self,
        model: &str,
        seq: Option<u64>,
        retry_after: Option<Duration>,
        now: SystemTime,
    ) {
        self.with(model, |b| b.rate_limited(seq, retry_after, now));
    }

    /// A booked request was never sent.
    pub(crate) fn release(&self, model: &str, seq: u64) {
        self.with(model, |b| b.release(seq));
    }

    /// Limits known before any answer.
    pub(crate) fn seed(&self, model: &str, per_window: Option<u64>, per_day: Option<u64>) {
        self.with(model, |b| b.seed(per_window, per_day));
    }

    /// What is known of `model`'s limits: (per window, per day).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn limits(&self, model: &str) -> (Option<u64>, Option<u64>) {
        self.lock().get(model).map_or((None, None), Budget::limits)
    }

    fn with<T>(&self, model: &str, f: impl FnOnce(&mut Budget) -> T) -> T {
        let mut budgets = self.lock();
        match budgets.get_mut(model) {
            Some(b) => f(b),
            None => f(budgets.entry(model.to_owned()).or_default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Budget>> {
        // A panic elsewhere while holding the lock leaves the budgets consistent (every
        // update is a few assignments), so keep pacing rather than stop.
        self.budgets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
