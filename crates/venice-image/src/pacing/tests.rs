#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::*;

/// A model name.
const MODEL: &str = "venice-sd35";

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
