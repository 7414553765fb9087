#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::testkit::{self, MODEL};
use super::*;

#[test]
fn pacers_and_permits_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Pacer>();
    fn send<T: Send>() {}
    send::<Permit>();
}

#[tokio::test]
async fn clones_share_one_budget_per_model() {
    let pacer = Pacer::local();
    let clone = pacer.clone();
    pacer.seed_limits("a", Some(2), None).await;
    let _p1 = pacer.acquire("a").await;
    let _p2 = clone.acquire("a").await;
    assert!(clone.try_acquire("a").await.is_err());
    // Another model has its own budget.
    assert!(pacer.try_acquire("b").await.is_ok());
    assert!(!pacer.is_shared());
}

#[tokio::test]
async fn permits_report_answers_and_give_back_unused_slots() {
    let pacer = Pacer::local();
    pacer.seed_limits(MODEL, Some(2), None).await;
    let a = pacer.acquire(MODEL).await;
    let b = pacer.acquire(MODEL).await;
    assert_eq!(a.model(), MODEL);
    assert!(pacer.try_acquire(MODEL).await.is_err());
    b.release().await;
    let c = pacer.try_acquire(MODEL).await.unwrap();
    // Dropped or answered: the slot stays used in its window.
    drop(c);
    a.observe(None).await;
    assert!(pacer.try_acquire(MODEL).await.is_err());
}

#[tokio::test]
async fn a_429_elsewhere_holds_every_start() {
    let pacer = Pacer::local();
    pacer
        .on_rate_limited(MODEL, Some(Duration::from_secs(5)))
        .await;
    let wait = pacer.try_acquire(MODEL).await.unwrap_err();
    assert!(wait > Duration::from_secs(4) && wait <= Duration::from_secs(6));
    // Answers of requests paced elsewhere are learned from too.
    let other = Pacer::local();
    other
        .observe(
            MODEL,
            &crate::RateLimit {
                limit: Some(1),
                remaining: Some(0),
                reset_at: Some(std::time::SystemTime::now() + Duration::from_secs(30)),
            },
        )
        .await;
    assert!(other.try_acquire(MODEL).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_paced_locally_gets_no_429s() {
    let window = Duration::from_secs(2);
    let server = testkit::mock(10, window).await;
    let pacer = Pacer::local();
    pacer.seed_limits(MODEL, Some(10), None).await;
    testkit::align_to_window(window).await;
    let run = testkit::run_jobs(&server, &[pacer], 30, 4, None).await;
    assert_eq!(run.done.len(), 30);
    assert!(run.done.values().all(|n| *n == 1));
    assert_eq!(run.refused, 0);
    // Three windows' worth: the last starts when the third window opens.
    assert!(run.elapsed >= window * 2, "{:?}", run.elapsed);
}
