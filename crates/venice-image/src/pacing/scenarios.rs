//! The budget's behaviour as scenarios on explicit times, run against every
//! implementation of the algorithm (the in-process [`super::budget::Budget`] and, with the
//! `redis` feature, the Lua script on a real Redis), so the two cannot drift apart.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::timing::{MAX_WAIT, RESET_MARGIN, UNKNOWN_WINDOW};
use crate::rate_headers::RateLimit;

/// The server's limit in these scenarios.
pub(crate) const LIMIT: u64 = 10;

/// One implementation of the budget, driven with explicit times.
pub(crate) trait Subject {
    fn reserve(&mut self, now: SystemTime) -> Result<u64, Duration>;
    fn complete(&mut self, seq: Option<u64>, rl: Option<RateLimit>);
    fn rate_limited(&mut self, seq: Option<u64>, retry_after: Option<Duration>, now: SystemTime);
    fn release(&mut self, seq: u64);
    fn seed(&mut self, per_window: Option<u64>, per_day: Option<u64>);
    fn started(&mut self) -> u64;
}

/// Scenario time `secs` (whole milliseconds, as Redis keeps them).
pub(crate) fn t(secs: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis((1_900_000_000_000.0 + secs * 1000.0).round() as u64)
}

/// An answer's headers: `remaining` left in the window that resets at `reset`.
pub(crate) fn rl(remaining: u64, reset: f64) -> Option<RateLimit> {
    Some(RateLimit {
        limit: Some(LIMIT),
        remaining: Some(remaining),
        reset_at: Some(t(reset)),
    })
}

/// Start requests at `now` until the budget says wait; returns their sequence numbers.
fn start_all(p: &mut impl Subject, now: SystemTime) -> Vec<u64> {
    std::iter::from_fn(|| p.reserve(now).ok())
        .take(1000)
        .collect()
}

pub(crate) fn out_of_order_answers_still_let_the_whole_limit_start(p: &mut impl Subject) {
    // Learn the limit from a first request (the server counted 1).
    let first = p.reserve(t(0.0)).unwrap();
    p.complete(Some(first), rl(LIMIT - 1, 10.0));
    // Four in flight; the server counted them in the order 3, 1, 4, 2 and the
    // answers arrive in yet another order.
    let seqs: Vec<u64> = (0..4).map(|_| p.reserve(t(1.0)).unwrap()).collect();
    let counted = [3, 1, 4, 2]; // position of seqs[i] in the server's count after `first`
    for i in [2usize, 0, 3, 1] {
        p.complete(Some(seqs[i]), rl(LIMIT - 1 - counted[i], 10.0));
    }
    // 5 of 10 used: exactly 5 more may start in this window, then it waits.
    let more = start_all(p, t(2.0));
    assert_eq!(more.len(), 5);
    let wait = p.reserve(t(2.0)).unwrap_err();
    assert!(wait >= Duration::from_secs(8) && wait <= Duration::from_millis(8100));
}

pub(crate) fn answers_arriving_while_others_are_in_flight_do_not_cost_slots(p: &mut impl Subject) {
    // The server counts pairs of concurrent requests swapped (2 before 1, 4 before
    // 3, …), so each odd answer reports a count that includes a later request.
    let position = |seq: u64| match seq {
        s if s % 2 == 1 && s + 1 < LIMIT => s + 2,
        s => s + 1 - u64::from(s % 2 == 0 && s > 0),
    };
    let first = p.reserve(t(0.0)).unwrap();
    p.complete(Some(first), rl(LIMIT - position(first), 10.0));
    // Keep 3 in flight all window long, answering the oldest as each new one starts.
    let mut in_flight: Vec<u64> = (0..3).map(|_| p.reserve(t(1.0)).unwrap()).collect();
    while let Ok(seq) = p.reserve(t(1.0)) {
        in_flight.push(seq);
        let done = in_flight.remove(0);
        p.complete(Some(done), rl(LIMIT - position(done), 10.0));
    }
    assert_eq!(p.started(), LIMIT, "every slot of the window was used");
}

pub(crate) fn requests_of_others_are_counted_once_seen(p: &mut impl Subject) {
    // Another client took 3 slots before our first request.
    let a = p.reserve(t(0.0)).unwrap();
    let b = p.reserve(t(0.0)).unwrap();
    p.complete(Some(a), rl(LIMIT - 4, 10.0));
    p.complete(Some(b), rl(LIMIT - 5, 10.0));
    assert_eq!(start_all(p, t(1.0)).len(), 5);
}

pub(crate) fn server_count_above_ours_is_trusted(p: &mut impl Subject) {
    let a = p.reserve(t(0.0)).unwrap();
    p.complete(Some(a), rl(0, 10.0));
    assert!(p.reserve(t(1.0)).is_err());
}

pub(crate) fn a_full_window_waits_for_its_reset_then_starts_afresh(p: &mut impl Subject) {
    let first = p.reserve(t(0.0)).unwrap();
    p.complete(Some(first), rl(LIMIT - 1, 10.0));
    let rest = start_all(p, t(0.5));
    assert_eq!(rest.len() as u64, LIMIT - 1);
    for (i, seq) in rest.iter().enumerate() {
        p.complete(Some(*seq), rl(LIMIT - 2 - i as u64, 10.0));
    }
    let wait = p.reserve(t(1.0)).unwrap_err();
    assert_eq!(wait, Duration::from_secs(9) + RESET_MARGIN);
    // After the reset the whole limit is available again, before any answer.
    assert_eq!(start_all(p, t(10.05)).len() as u64, LIMIT);
    // A late answer of the old window does not confuse the new one.
    p.complete(Some(first), rl(0, 10.0));
    assert!(p.reserve(t(10.1)).is_err());
}

pub(crate) fn a_429_holds_new_requests_until_the_reset(p: &mut impl Subject) {
    let a = p.reserve(t(0.0)).unwrap();
    p.complete(Some(a), rl(LIMIT - 1, 10.0));
    let b = p.reserve(t(1.0)).unwrap();
    p.rate_limited(Some(b), Some(Duration::from_secs(9)), t(1.0));
    let wait = p.reserve(t(1.0)).unwrap_err();
    assert_eq!(wait, Duration::from_secs(9) + RESET_MARGIN);
    assert!(p.reserve(t(10.1)).is_ok());
}

pub(crate) fn without_rate_limit_headers_nothing_waits(p: &mut impl Subject) {
    for _ in 0..100 {
        let seq = p.reserve(t(0.0)).unwrap();
        p.complete(Some(seq), None);
    }
}

pub(crate) fn a_429_paced_elsewhere_holds_too(p: &mut impl Subject) {
    let a = p.reserve(t(0.0)).unwrap();
    p.complete(Some(a), rl(LIMIT - 1, 10.0));
    // Without a Retry-After: until the known reset.
    p.rate_limited(None, None, t(2.0));
    assert_eq!(
        p.reserve(t(2.0)).unwrap_err(),
        Duration::from_secs(8) + RESET_MARGIN
    );
    // A hint longer than the longest sleep is capped (the caller asks again).
    p.rate_limited(None, Some(Duration::from_secs(3600)), t(11.0));
    assert_eq!(p.reserve(t(11.0)).unwrap_err(), MAX_WAIT);
}

pub(crate) fn answers_of_requests_paced_elsewhere_count_as_used(p: &mut impl Subject) {
    // Another process of the key answered: the server counted 7 in this window.
    p.complete(None, rl(LIMIT - 7, 10.0));
    assert_eq!(start_all(p, t(1.0)).len(), 3);
    // A stale answer of an earlier window changes nothing.
    p.complete(None, rl(LIMIT - 9, 0.0));
    assert!(p.reserve(t(1.0)).is_err());
}

pub(crate) fn requests_in_flight_at_a_reset_count_in_the_next_window_only(p: &mut impl Subject) {
    let first = p.reserve(t(0.0)).unwrap();
    p.complete(Some(first), rl(LIMIT - 1, 10.0));
    // Three requests start just before the reset and never answer (their holder died).
    for _ in 0..3 {
        p.reserve(t(9.9)).unwrap();
    }
    // Next window: they may be counted in it, so they keep their slots there.
    let second = start_all(p, t(10.05));
    assert_eq!(second.len() as u64, LIMIT - 3);
    for (i, seq) in second.iter().enumerate() {
        p.complete(Some(*seq), rl(LIMIT - 1 - i as u64, 20.0));
    }
    assert!(p.reserve(t(10.1)).is_err(), "still full");
    // The window after: the full limit again.
    assert_eq!(start_all(p, t(20.05)).len() as u64, LIMIT);
}

pub(crate) fn a_released_permit_gives_its_slot_back(p: &mut impl Subject) {
    let first = p.reserve(t(0.0)).unwrap();
    p.complete(Some(first), rl(LIMIT - 1, 10.0));
    let rest = start_all(p, t(1.0));
    assert_eq!(rest.len() as u64, LIMIT - 1);
    p.release(rest[0]);
    p.release(rest[0]); // twice is once
    assert_eq!(start_all(p, t(1.0)).len(), 1);
}

pub(crate) fn a_seeded_limit_paces_before_the_first_answer(p: &mut impl Subject) {
    p.seed(Some(4), None);
    let first = start_all(p, t(0.0));
    assert_eq!(first.len(), 4);
    // Unknown reset: poll until an answer says, or a minute has passed.
    assert!(p.reserve(t(1.0)).unwrap_err() <= Duration::from_millis(50));
    for seq in first {
        p.complete(Some(seq), None);
    }
    let at_minute = t(0.0) + UNKNOWN_WINDOW;
    assert_eq!(start_all(p, at_minute).len(), 4);
    // The server's limit replaces the seed; a second seed does not replace the server's.
    p.complete(None, rl(LIMIT - 4, 70.0));
    p.seed(Some(2), None);
    assert_eq!(start_all(p, at_minute).len() as u64, LIMIT - 4);
}

pub(crate) fn a_seeded_daily_limit_waits_for_midnight_utc(p: &mut impl Subject) {
    let now = t(0.0);
    let into_day = now.duration_since(UNIX_EPOCH).unwrap().as_millis() % 86_400_000;
    let to_midnight = Duration::from_millis((86_400_000 - into_day) as u64);
    p.seed(None, Some(3));
    let seqs = start_all(p, now);
    assert_eq!(seqs.len(), 3);
    assert_eq!(p.reserve(now).unwrap_err(), to_midnight.min(MAX_WAIT));
    // A permit never used gives its request back.
    p.release(seqs[2]);
    assert!(p.reserve(now).is_ok());
    // The next day starts afresh.
    assert_eq!(start_all(p, now + to_midnight).len(), 3);
}

/// One `#[test]` per scenario, each on a fresh subject made by `$make`; with
/// `ignore = "reason";` first, each is `#[ignore]`d for that reason.
macro_rules! scenario_tests {
    (ignore = $reason:literal; $make:expr) => {
        $crate::pacing::scenarios::scenario_tests!(@all ignore = $reason; $make);
    };
    ($make:expr) => {
        $crate::pacing::scenarios::scenario_tests!(@all allow(unused_mut); $make);
    };
    (@all $attr:meta; $make:expr) => {
        $crate::pacing::scenarios::scenario_tests!(@each $attr; $make;
            out_of_order_answers_still_let_the_whole_limit_start,
            answers_arriving_while_others_are_in_flight_do_not_cost_slots,
            requests_of_others_are_counted_once_seen,
            server_count_above_ours_is_trusted,
            a_full_window_waits_for_its_reset_then_starts_afresh,
            a_429_holds_new_requests_until_the_reset,
            without_rate_limit_headers_nothing_waits,
            a_429_paced_elsewhere_holds_too,
            answers_of_requests_paced_elsewhere_count_as_used,
            requests_in_flight_at_a_reset_count_in_the_next_window_only,
            a_released_permit_gives_its_slot_back,
            a_seeded_limit_paces_before_the_first_answer,
            a_seeded_daily_limit_waits_for_midnight_utc,
        );
    };
    (@each $attr:meta; $make:expr; $($name:ident,)*) => {
        $(
            #[test]
            #[$attr]
            fn $name() {
                #[allow(unused_mut)]
                let mut subject = $make;
                $crate::pacing::scenarios::$name(&mut subject);
            }
        )*
    };
}
pub(crate) use scenario_tests;
