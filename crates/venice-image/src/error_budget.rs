//! The provider's error budget as client state: failed requests are counted per bucket,
//! and a bucket the client knows is locked is not sent to (it waits, or fails fast, as
//! [`LockoutPolicy`] says).
//!
//! The provider answers **every** request of a bucket with 429 "Too many failed attempts
//! (> 50) …" for 30 s once more than 50 of its requests failed (any 4xx but 429) within
//! 30 s. A bucket is the API key (for wallets the host's IP, so every wallet of this
//! process shares one), the model the request names (none for multipart uploads and
//! bodies without a model) and the OpenAI `user` string. What the provider refuses before
//! looking at the budget does not count: a request without credentials (the discovery
//! 402), a wrong `Content-Type` or a body that is not JSON, a JSON body over 35 MB.
//!
//! A bucket is known to be locked when a lockout 429 said so (until its
//! `x-ratelimit-resets`), or when this process counted more than 50 failures in it within
//! 30 s (for 30 s from the one that exceeded). The state is process-wide, keyed by server,
//! credentials, model and user, because the provider's is: two clients of one key share
//! the bucket. The key itself is not kept, only a hash of it.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime};

/// Failed requests a bucket may have per window; one more locks it (the provider's 50).
pub(crate) const FAILURES: usize = 50;
/// The window, and how long a lockout lasts (the provider's 30 s).
pub(crate) const WINDOW: Duration = Duration::from_secs(30);
/// Above this many buckets, idle ones are forgotten.
const MAX_BUCKETS: usize = 4096;

/// What the client does before a request that would land in a bucket it knows is locked
/// ([`ClientBuilder::on_lockout`](crate::ClientBuilder::on_lockout)). Either way nothing
/// is sent into a lockout the client knows of: the server would refuse it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockoutPolicy {
    /// Wait until the lockout ends, then send (the default; the wait is logged at
    /// `info` as `paused`).
    #[default]
    Wait,
    /// Fail at once with [`Error::ErrorBudgetExhausted`](crate::Error::ErrorBudgetExhausted),
    /// sending nothing.
    FailFast,
}

/// Whose budget a bucket is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Holder {
    /// An API key (its hash).
    Key(u64),
    /// Wallets: the provider counts them per IP, so every wallet of this host shares it.
    Host,
    /// Custom Bearer credentials, which the client cannot read: one per authenticator.
    Custom(usize),
}

impl Holder {
    /// The holder of an API key.
    pub(crate) fn key(api_key: &str) -> Holder {
        let mut h = DefaultHasher::new();
        api_key.hash(&mut h);
        Holder::Key(h.finish())
    }
}

/// One bucket: server, holder, model, OpenAI user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Bucket {
    server: Arc<str>,
    holder: Holder,
    model: Option<String>,
    user: Option<String>,
}

impl Bucket {
    /// The bucket of `holder` on `server` for requests naming no model.
    pub(crate) fn new(server: Arc<str>, holder: Holder) -> Bucket {
        Bucket {
            server,
            holder,
            model: None,
            user: None,
        }
    }

    /// The same holder's bucket for `model` and OpenAI `user`.
    pub(crate) fn narrowed(&self, model: Option<&str>, user: Option<&str>) -> Bucket {
        Bucket {
            model: model.map(str::to_owned),
            user: user.map(str::to_owned),
            ..self.clone()
        }
    }

    /// The model of the bucket.
    pub(crate) fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }
}

/// What is known of one bucket.
#[derive(Debug, Default)]
struct State {
    /// When the failures of the current window happened (at most `FAILURES + 1`).
    failures: VecDeque<SystemTime>,
    /// No request of the bucket is served before this.
    locked_until: Option<SystemTime>,
}

impl State {
    fn idle(&self, now: SystemTime) -> bool {
        self.locked_until.is_none_or(|t| t <= now)
            && self.failures.back().is_none_or(|t| *t + WINDOW <= now)
    }
}

/// How an attempt of a bucket ended, for the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server answered; `failed`: the answer counts against the budget.
    Answered { failed: bool },
    /// The server answered with a lockout lasting this long.
    LockedOut(Duration),
}

static BUCKETS: LazyLock<Mutex<HashMap<Bucket, State>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Until when `bucket` is locked, if it is at `now`.
pub(crate) fn locked_until(bucket: &Bucket, now: SystemTime) -> Option<SystemTime> {
    let buckets = BUCKETS.lock().ok()?;
    buckets
        .get(bucket)?
        .locked_until
        .filter(|until| *until > now)
}

/// Record how an attempt of `bucket` ended at `now`. An answer does not end a known
/// lockout: a request admitted before it may be answered after it started.
pub(crate) fn observe(bucket: &Bucket, outcome: Outcome, now: SystemTime) {
    let Ok(mut buckets) = BUCKETS.lock() else {
        return;
    };
    if outcome == (Outcome::Answered { failed: false }) && !buckets.contains_key(bucket) {
        // The common case, a success in a bucket with nothing to remember: no entry.
        return;
    }
    if buckets.len() >= MAX_BUCKETS {
        buckets.retain(|_, s| !s.idle(now));
    }
    let state = buckets.entry(bucket.clone()).or_default();
    match outcome {
        Outcome::LockedOut(lasting) => {
            let until = now + lasting;
            state.locked_until = Some(state.locked_until.map_or(until, |t| t.max(until)));
        }
        Outcome::Answered { failed } => {
            while state.failures.front().is_some_and(|t| *t + WINDOW <= now) {
                state.failures.pop_front();
            }
            if failed {
                state.failures.push_back(now);
                if state.failures.len() > FAILURES {
                    state.failures.pop_front();
                    state.locked_until = Some(now + WINDOW);
                }
            }
        }
    }
}

/// Failures this process counted in `bucket` within the window before `now`.
#[cfg(test)]
pub(crate) fn failures(bucket: &Bucket, now: SystemTime) -> usize {
    BUCKETS.lock().ok().map_or(0, |b| {
        b.get(bucket).map_or(0, |s| {
            s.failures.iter().filter(|t| **t + WINDOW > now).count()
        })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bucket(server: &str) -> Bucket {
        Bucket::new(Arc::from(server), Holder::key("k")).narrowed(Some("m"), None)
    }

    const FAILED: Outcome = Outcome::Answered { failed: true };
    const SERVED: Outcome = Outcome::Answered { failed: false };

    #[test]
    fn more_than_fifty_failures_in_thirty_seconds_lock_the_bucket_for_thirty_seconds() {
        let b = bucket("http://budget-test-1");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        for i in 0..FAILURES {
            observe(&b, FAILED, t + Duration::from_millis(i as u64 * 100));
        }
        assert_eq!(locked_until(&b, t + Duration::from_secs(6)), None);
        // Successes in between do not reset the count.
        observe(&b, SERVED, t + Duration::from_secs(6));
        let exceeding = t + Duration::from_secs(7);
        observe(&b, FAILED, exceeding);
        assert_eq!(
            locked_until(&b, exceeding),
            Some(exceeding + WINDOW),
            "the 51st failure locks"
        );
        assert_eq!(locked_until(&b, exceeding + WINDOW), None);
        // Another model of the key, the same model of another user: other buckets.
        assert_eq!(locked_until(&b.narrowed(Some("n"), None), exceeding), None);
        assert_eq!(
            locked_until(&b.narrowed(Some("m"), Some("alice")), exceeding),
            None
        );
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let b = bucket("http://budget-test-2");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        for i in 0..=FAILURES {
            observe(&b, FAILED, t + Duration::from_secs(i as u64));
        }
        // At 51 s only the failures after 21 s are within the window.
        assert_eq!(failures(&b, t + Duration::from_secs(51)), 29);
        assert_eq!(locked_until(&b, t + Duration::from_secs(51)), None);
    }

    #[test]
    fn a_lockout_answer_locks_for_what_it_says() {
        let b = bucket("http://budget-test-3");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        observe(&b, Outcome::LockedOut(Duration::from_secs(12)), t);
        // An answer to a request admitted before the lockout does not end it.
        observe(&b, SERVED, t + Duration::from_secs(2));
        assert_eq!(
            locked_until(&b, t + Duration::from_secs(2)),
            Some(t + Duration::from_secs(12))
        );
        assert_eq!(locked_until(&b, t + Duration::from_secs(12)), None);
        // Keys are told apart by hash; the same key is one bucket for every client.
        assert_eq!(Holder::key("k"), Holder::key("k"));
        assert_ne!(Holder::key("k"), Holder::key("other"));
    }
}
