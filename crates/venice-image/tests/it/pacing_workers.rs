//! Pacers doing jobs against the mock (rate-limited to a few requests per window) the
//! way a batch or a service does: one process pacing alone, and several "processes"
//! (separate pacers and connections) sharing one real `redis-server`. Moved out of the
//! library's `src`, where they made pacing import the client.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use venice_image::pacing::Pacer;

use crate::common::workers::{self, MODEL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_paced_locally_gets_no_429s() {
    let window = Duration::from_secs(2);
    let server = workers::mock(10, window).await;
    let pacer = Pacer::local();
    pacer.seed_limits(MODEL, Some(10), None).await;
    workers::align_to_window(window).await;
    let run = workers::run_jobs(&server, &[pacer], 30, 4, None).await;
    assert_eq!(run.done.len(), 30);
    assert!(run.done.values().all(|n| *n == 1));
    assert_eq!(run.refused, 0);
    // Three windows' worth: the last starts when the third window opens.
    assert!(run.elapsed >= window * 2, "{:?}", run.elapsed);
}

#[cfg(feature = "redis")]
mod shared {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use venice_image::pacing::{Pacer, RedisOptions, key_id};

    use crate::common::redis_server::RedisServer;
    use crate::common::workers::{self, MODEL};

    /// Pacers of `processes` processes on one key and one Redis.
    fn shared_pacers(redis: &RedisServer, processes: usize) -> Vec<Pacer> {
        (0..processes)
            .map(|_| {
                Pacer::with_redis(
                    venice_mock::DEFAULT_API_KEY,
                    RedisOptions::new(redis.url()).linger(Duration::from_secs(2)),
                )
                .unwrap()
            })
            .collect()
    }

    const WINDOW: Duration = Duration::from_secs(2);
    const LIMIT: u32 = 10;
    const WINDOWS: u32 = 4;

    /// The share of the advertised rate a run achieved: a perfectly paced run of `WINDOWS`
    /// windows' worth of jobs starts its last window's jobs the moment that window opens.
    fn pace(window: Duration, elapsed: Duration) -> f64 {
        (window * (WINDOWS - 1)).as_secs_f64() / elapsed.as_secs_f64()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs redis-server"]
    async fn three_processes_sharing_redis_stay_under_the_limit_and_use_it() {
        let redis = RedisServer::start();
        let server = workers::mock(LIMIT, WINDOW).await;
        let pacers = shared_pacers(&redis, 3);
        for p in &pacers {
            // As the account's rate-limit list would tell.
            p.seed_limits(MODEL, Some(u64::from(LIMIT)), None).await;
        }
        let jobs = (LIMIT * WINDOWS) as usize;
        workers::align_to_window(WINDOW).await;
        let run = workers::run_jobs(&server, &pacers, jobs, 4, None).await;
        let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
        let refused = statuses.iter().filter(|s| **s == 429).count();
        eprintln!(
            "shared via Redis: 3 processes × 4 workers, {jobs} jobs, limit {LIMIT}/{WINDOW:?}: \
             {} done in {:.2} s = {:.1}% of the advertised rate, {refused} × 429 of {} responses",
            run.done.len(),
            run.elapsed.as_secs_f64(),
            pace(WINDOW, run.elapsed) * 100.0,
            statuses.len()
        );
        assert_eq!(run.done.len(), jobs);
        assert!(run.done.values().all(|n| *n == 1), "a job ran twice");
        assert_eq!(
            refused, 0,
            "the server refused requests: the limit was exceeded"
        );
        assert!(pace(WINDOW, run.elapsed) >= 0.95, "{:?}", run.elapsed);
        // The budgets' keys name the hashed key, never the key itself.
        let keys = redis.keys();
        assert!(!keys.is_empty());
        let id = key_id(venice_mock::DEFAULT_API_KEY);
        for key in &keys {
            assert!(
                key.starts_with(&format!("venice:{{{id}}}:{MODEL}:")),
                "{key}"
            );
            assert!(!key.contains(venice_mock::DEFAULT_API_KEY));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_processes_pacing_alone_earn_429s() {
        // The same load without Redis: what sharing prevents. (In 1 s windows: whether
        // three unshared budgets oversubscribe the key does not depend on the window's
        // length, and a run of four windows takes half the time.)
        const WINDOW: Duration = Duration::from_secs(1);
        let server = workers::mock(LIMIT, WINDOW).await;
        let pacers: Vec<Pacer> = (0..3).map(|_| Pacer::local()).collect();
        for p in &pacers {
            p.seed_limits(MODEL, Some(u64::from(LIMIT)), None).await;
        }
        let jobs = (LIMIT * WINDOWS) as usize;
        workers::align_to_window(WINDOW).await;
        let run = workers::run_jobs(&server, &pacers, jobs, 4, None).await;
        eprintln!(
            "pacing alone: 3 processes × 4 workers, {jobs} jobs: {} done in {:.2} s = {:.1}% of \
             the advertised rate, {} × 429",
            run.done.len(),
            run.elapsed.as_secs_f64(),
            pace(WINDOW, run.elapsed) * 100.0,
            run.refused
        );
        assert_eq!(run.done.len(), jobs);
        assert!(
            run.refused > 0,
            "three unshared budgets should oversubscribe the key"
        );
    }

    /// Collects what is logged, for checking warnings.
    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Logs {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    #[tokio::test(flavor = "current_thread")]
    #[ignore = "needs redis-server"]
    async fn redis_killed_mid_run_falls_back_to_local_pacing_then_comes_back() {
        let redis = RedisServer::start();
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        // current_thread: every task logs on this thread.
        let _guard = tracing::subscriber::set_default(subscriber);
        // Tests on other threads (no subscriber) may have registered the warning's callsite
        // as "never enabled" while this dispatcher was being set: decide again with it.
        tracing::callsite::rebuild_interest_cache();

        let server = workers::mock(LIMIT, WINDOW).await;
        let pacers: Vec<Pacer> = (0..3)
            .map(|_| {
                let options = RedisOptions::new(redis.url())
                    .timeout(Duration::from_millis(200))
                    .reconnect_after(Duration::from_millis(300));
                Pacer::with_redis(venice_mock::DEFAULT_API_KEY, options).unwrap()
            })
            .collect();
        for p in &pacers {
            p.seed_limits(MODEL, Some(u64::from(LIMIT)), None).await;
        }
        let redis = Arc::new(Mutex::new(redis));
        let killer = redis.clone();
        let jobs = (LIMIT * 3) as usize;
        workers::align_to_window(WINDOW).await;
        let run = workers::run_jobs(
            &server,
            &pacers,
            jobs,
            4,
            Some((
                LIMIT as usize / 2,
                Box::new(move || {
                    killer.lock().unwrap().kill();
                    tracing::callsite::rebuild_interest_cache();
                }),
            )),
        )
        .await;
        let text = logs.text();
        let warnings = text.matches("pacing: Redis unavailable").count();
        eprintln!(
            "Redis killed after {} jobs: {} done, {} permits, {} × 429, {warnings} warnings",
            LIMIT / 2,
            run.done.len(),
            run.permits,
            run.refused
        );
        assert_eq!(run.done.len(), jobs, "every job finished");
        assert!(run.done.values().all(|n| *n == 1), "a job ran twice");
        assert_eq!(
            run.permits,
            jobs as u64 + run.refused,
            "one permit per request sent"
        );
        assert_eq!(warnings, 3, "one warning per process and outage:\n{text}");
        assert!(!text.contains(venice_mock::DEFAULT_API_KEY));

        // Redis returns: after `reconnect_after` the pacers share again.
        redis.lock().unwrap().restart();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let permit = pacers[0].acquire(MODEL).await;
        permit.release().await;
        assert!(
            !redis.lock().unwrap().keys().is_empty(),
            "the pacer did not go back to Redis"
        );
        assert!(logs.text().contains("Redis is reachable again"));
    }
}
