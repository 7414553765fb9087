//! In-process pacing: one [`Budget`] per model behind a mutex. What a process uses alone,
//! and what it falls back to while Redis is unreachable.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::budget::Budget;

/// The budgets of one API key in this process, by model.
#[derive(Debug, Default)]
pub(crate) struct LocalBudgets {
    budgets: Mutex<HashMap<String, Budget>>,
}

impl LocalBudgets {
    /// What is known of `model`'s limits: (per window, per day).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn limits(&self, model: &str) -> (Option<u64>, Option<u64>) {
        self.lock().get(model).map_or((None, None), Budget::limits)
    }

    /// Run `f` on `model`'s budget (a fresh one the first time).
    pub(crate) fn with<T>(&self, model: &str, f: impl FnOnce(&mut Budget) -> T) -> T {
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
