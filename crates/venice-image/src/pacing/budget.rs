//! The rate-limit budget of one (key, model): which server window is being counted, how
//! many of its slots are taken, and how long to wait for the next one.
//!
//! Pure logic on explicit times, so it can be tested without a clock. [`super::local`]
//! holds one per model for a process; `budget.lua` is the same algorithm on state kept in
//! Redis, for many processes (a change here needs the same change there: the scenario
//! tests run against both).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::rate_headers::RateLimit;

use super::timing::{DAY, MAX_WAIT, POLL, RESET_MARGIN, UNKNOWN_WINDOW};

/// Keeps requests of one (key, model) within the server's advertised rate limit.
///
/// The server counts requests per window (identified by its reset time) and answers each
/// with `limit - remaining` = how many it had counted in that window. Responses arrive
/// out of order and the server may count concurrent requests in another order than we
/// started them, so no single `remaining` says how many slots are left. Instead the budget
/// books every request it starts to the current window and adds a lower bound on the
/// requests of others sharing the key (a catalogue request, other processes), derived
/// from answers whose position is settled: an answer that counted `used` requests, of
/// which at most `k` can be ours, proves `used - k` requests of others. Every estimate is
/// a lower bound on the real use, and the server's highest count is trusted when it is
/// higher, so the limit's worth of requests can start in each window; an unexpected 429
/// (others we could not see yet) holds every start until the reset.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// Requests per window: `x-ratelimit-limit-requests`, or a seeded RPM until then.
    limit: Option<u64>,
    /// Requests per UTC day, when seeded.
    per_day: Option<u64>,
    /// The UTC day number and how many requests started in it (counted only while a
    /// daily limit is known, so a budget without one keeps no day state).
    day: (u64, u64),
    window: Window,
    /// Reset time of the last window known to be over: answers for it are stale.
    expired: Option<SystemTime>,
    /// Our requests without an answer yet: sequence number → the window they are booked to.
    in_flight: BTreeMap<u64, Booking>,
    /// Requests started so far; a request's sequence number is the count before it.
    started: u64,
    /// No request starts before this (after a 429).
    blocked_until: Option<SystemTime>,
}

/// The window a request in flight is booked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Booking {
    generation: u64,
    /// Moved from the window it started in at a roll-over. A request reaches the server
    /// within moments of its start, so it is counted in its own window or the next one,
    /// never later: a carried booking is dropped at the next roll-over. That also bounds
    /// what a crashed holder (a permit never answered) costs: one more window.
    carried: bool,
}

/// One answer's count, for the bound on others.
#[derive(Debug, Clone, Copy)]
struct Answer {
    used: u64,
    started_then: u64,
    ours: bool,
}

/// What the budget knows about one rate-limit window.
#[derive(Debug, Default)]
struct Window {
    /// Counts windows, so stale bookings can be told apart.
    generation: u64,
    /// When the window resets; `None` until an answer from it arrives.
    reset_at: Option<SystemTime>,
    /// When its first request started (bounds a window of unknown reset).
    opened: Option<SystemTime>,
    /// Our requests booked to this window.
    ours: u64,
    /// The server's count (`limit - remaining`) in each answer, with how many requests
    /// we had started when it arrived (later ones cannot be in it) and whether it answers
    /// one of ours (an answer to a request paced elsewhere is itself one of others').
    answers: Vec<Answer>,
    /// Highest count the server reported.
    max_used: u64,
    /// Lower bound on the requests of others counted in this window.
    others: u64,
}

impl Budget {
    /// Book one more request, returning its sequence number, or say how long to wait
    /// before asking again.
    pub(crate) fn reserve(&mut self, now: SystemTime) -> Result<u64, Duration> {
        if let Some(until) = self.blocked_until {
            if let Ok(wait) = until.duration_since(now)
                && !wait.is_zero()
            {
                return Err(wait.min(MAX_WAIT));
            }
            self.blocked_until = None;
            // A 429 means the window's count is unknown: start afresh after the wait.
            self.expired = self.expired.max(self.window.reset_at.filter(|r| *r <= now));
            self.roll_over(None);
        }
        match (self.window.reset_at, self.window.opened) {
            (Some(reset), _) if now >= reset => {
                self.expired = Some(reset);
                self.roll_over(None);
            }
            (None, Some(opened)) if now >= opened + UNKNOWN_WINDOW => self.roll_over(None),
            _ => {}
        }
        let today = day_of(now);
        if self.day.0 != today {
            self.day = (today, 0);
        }
        if self.per_day.is_some_and(|max| self.day.1 >= max) {
            return Err(until_next_day(now).min(MAX_WAIT));
        }
        if let Some(limit) = self.limit
            && self.used() >= limit
        {
            return Err(match self.window.reset_at {
                Some(reset) => {
                    (reset.duration_since(now).unwrap_or_default() + RESET_MARGIN).min(MAX_WAIT)
                }
                None => POLL,
            });
        }
        let seq = self.started;
        self.started += 1;
        self.window.ours += 1;
        self.window.opened.get_or_insert(now);
        if self.per_day.is_some() {
            self.day.1 += 1;
        }
        self.in_flight.insert(
            seq,
            Booking {
                generation: self.window.generation,
                carried: false,
            },
        );
        Ok(seq)
    }

    /// An answer arrived: for request `seq` when it was booked here (`None`: a request
    /// this budget did not start, e.g. one paced elsewhere); learn from its rate-limit
    /// headers, if any.
    pub(crate) fn complete(&mut self, seq: Option<u64>, rate_limit: Option<&RateLimit>) {
        let booked = seq.and_then(|s| self.in_flight.remove(&s));
        let Some(rl) = rate_limit else {
            return;
        };
        if rl.limit().is_some() {
            self.limit = rl.limit();
        }
        let stale = rl.reset_at().is_some_and(|r| {
            self.expired.is_some_and(|e| r <= e) || self.window.reset_at.is_some_and(|w| r < w)
        });
        if stale {
            // Counted in an earlier window: it no longer takes a slot of this one.
            if booked.is_some_and(|b| b.generation == self.window.generation) {
                self.window.ours = self.window.ours.saturating_sub(1);
            }
            self.refresh_others();
            return;
        }
        match (self.window.reset_at, rl.reset_at()) {
            (None, Some(r)) => self.window.reset_at = Some(r),
            (Some(w), Some(r)) if r > w => {
                // The window rolled over while requests were in flight: any of them may
                // be counted in the new one, so book them there until their answers say.
                self.expired = Some(w);
                self.roll_over(Some(r));
                if seq.is_some() {
                    self.window.ours += 1;
                }
            }
            _ => {}
        }
        let (Some(limit), Some(remaining)) = (self.limit, rl.remaining()) else {
            return;
        };
        let used = limit.saturating_sub(remaining);
        self.window.max_used = self.window.max_used.max(used);
        self.window.answers.push(Answer {
            used,
            started_then: self.started,
            ours: seq.is_some(),
        });
        self.refresh_others();
    }

    /// A request was refused with a 429 (`seq` when it was booked here): hold every new
    /// request until the window resets (or as long as the server asked).
    pub(crate) fn rate_limited(
        &mut self,
        seq: Option<u64>,
        retry_after: Option<Duration>,
        now: SystemTime,
    ) {
        if let Some(seq) = seq {
            self.in_flight.remove(&seq);
        }
        let by_hint = retry_after.map(|d| now + d.min(MAX_WAIT));
        let by_reset = self.window.reset_at.filter(|r| *r > now);
        let until = by_hint
            .max(by_reset)
            .unwrap_or(now + Duration::from_secs(1))
            + RESET_MARGIN;
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
        self.refresh_others();
    }

    /// Request `seq` was booked but never sent: give its slot back.
    pub(crate) fn release(&mut self, seq: u64) {
        if let Some(b) = self.in_flight.remove(&seq) {
            if b.generation == self.window.generation {
                self.window.ours = self.window.ours.saturating_sub(1);
            }
            self.day.1 = self.day.1.saturating_sub(1);
        }
    }

    /// Limits known before any answer (the account's rate-limit list). The server's
    /// `x-ratelimit-limit-requests` replaces the per-window one when it arrives.
    pub(crate) fn seed(&mut self, per_window: Option<u64>, per_day: Option<u64>) {
        if self.limit.is_none() {
            self.limit = per_window;
        }
        if per_day.is_some() {
            self.per_day = per_day;
        }
    }

    /// What this budget knows of the limits: (per window, per day).
    pub(crate) fn limits(&self) -> (Option<u64>, Option<u64>) {
        (self.limit, self.per_day)
    }

    /// Requests started so far.
    #[cfg(test)]
    pub(crate) fn started(&self) -> u64 {
        self.started
    }

    /// Requests counted (or about to be) in the current window, at least.
    fn used(&self) -> u64 {
        (self.window.ours + self.window.others).max(self.window.max_used)
    }

    /// Start a new window; the requests in flight that started in the old one are booked
    /// to it (once: see [`Booking::carried`]).
    fn roll_over(&mut self, reset_at: Option<SystemTime>) {
        let old = self.window.generation;
        let generation = old + 1;
        self.in_flight
            .retain(|_, b| b.generation == old && !b.carried);
        for b in self.in_flight.values_mut() {
            *b = Booking {
                generation,
                carried: true,
            };
        }
        self.window = Window {
            generation,
            reset_at,
            ours: self.in_flight.len() as u64,
            ..Window::default()
        };
    }

    /// Tighten the lower bound on others' requests. For an answer that counted `used`,
    /// our requests counted by then are at most ours answered with a count ≤ `used`
    /// plus those started before it arrived and still unanswered.
    fn refresh_others(&mut self) {
        let generation = self.window.generation;
        let mut counts: Vec<u64> = (self.window.answers.iter())
            .filter(|a| a.ours)
            .map(|a| a.used)
            .collect();
        counts.sort_unstable();
        for &Answer {
            used, started_then, ..
        } in &self.window.answers
        {
            let answered = counts.partition_point(|c| *c <= used) as u64;
            let pending = self
                .in_flight
                .range(..started_then)
                .filter(|(_, b)| b.generation == generation)
                .count() as u64;
            let others = used.saturating_sub(answered + pending);
            self.window.others = self.window.others.max(others);
        }
    }
}

fn unix(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn day_of(now: SystemTime) -> u64 {
    unix(now).as_secs() / DAY.as_secs()
}

fn until_next_day(now: SystemTime) -> Duration {
    let into_day = unix(now).as_millis() % DAY.as_millis();
    DAY.saturating_sub(Duration::from_millis(into_day as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pacing::scenarios::{self, Subject};

    impl Subject for Budget {
        fn reserve(&mut self, now: SystemTime) -> Result<u64, Duration> {
            Budget::reserve(self, now)
        }
        fn complete(&mut self, seq: Option<u64>, rl: Option<RateLimit>) {
            Budget::complete(self, seq, rl.as_ref());
        }
        fn rate_limited(
            &mut self,
            seq: Option<u64>,
            retry_after: Option<Duration>,
            now: SystemTime,
        ) {
            Budget::rate_limited(self, seq, retry_after, now);
        }
        fn release(&mut self, seq: u64) {
            Budget::release(self, seq);
        }
        fn seed(&mut self, per_window: Option<u64>, per_day: Option<u64>) {
            Budget::seed(self, per_window, per_day);
        }
        fn started(&mut self) -> u64 {
            Budget::started(self)
        }
    }

    crate::pacing::scenarios::scenario_tests!(Budget::default());

    #[test]
    fn the_day_budget_counts_from_midnight_utc() {
        let midnight = UNIX_EPOCH + Duration::from_secs(20_000 * 86_400);
        assert_eq!(day_of(midnight), 20_000);
        assert_eq!(day_of(midnight - Duration::from_millis(1)), 19_999);
        assert_eq!(
            until_next_day(midnight - Duration::from_secs(90)),
            Duration::from_secs(90)
        );
        assert_eq!(until_next_day(midnight), DAY);
        let _ = scenarios::LIMIT;
    }
}
