//! The Lua budget against the scenarios (explicit times), and pacers of several
//! "processes" (separate instances and connections) against one real `redis-server` and
//! the mock.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::*;
use crate::pacing::scenarios::{Subject, scenario_tests};
use crate::pacing::testkit::{self, MODEL, RedisServer};
use crate::pacing::{Pacer, RedisOptions};

/// The Lua budget driven with explicit times through a plain connection.
struct RedisSubject {
    server: RedisServer,
    conn: redis::Connection,
    budgets: RedisBudgets,
    /// The time of the last call that had one, for the calls that do not (the script
    /// needs a time for the day count and expiries).
    now: SystemTime,
}

impl RedisSubject {
    fn start() -> Option<RedisSubject> {
        let server = RedisServer::start()?;
        let conn = server.connection();
        let budgets = RedisBudgets::new("scenario-key", RedisOptions::new(server.url())).unwrap();
        Some(RedisSubject {
            server,
            conn,
            budgets,
            now: crate::pacing::scenarios::t(0.0),
        })
    }

    fn run(&mut self, op: Op<'_>, now: Option<SystemTime>) -> Reply {
        if let Some(now) = now {
            self.now = now;
        }
        let reply: (i64, i64) = self
            .budgets
            .invocation(MODEL, op, Some(self.now))
            .invoke(&mut self.conn)
            .unwrap();
        reply_of(op, reply)
    }
}

impl Subject for RedisSubject {
    fn reserve(&mut self, now: SystemTime) -> Result<u64, Duration> {
        let op = Op::Reserve {
            per_window: None,
            per_day: None,
        };
        match self.run(op, Some(now)) {
            Reply::Booked(seq) => Ok(seq),
            Reply::Wait(wait) => Err(wait),
            Reply::Done => panic!("reserve answered neither a booking nor a wait"),
        }
    }
    fn complete(&mut self, seq: Option<u64>, rl: Option<crate::RateLimit>) {
        let op = Op::Complete {
            seq,
            rate_limit: rl.as_ref(),
        };
        assert_eq!(self.run(op, None), Reply::Done);
    }
    fn rate_limited(&mut self, seq: Option<u64>, retry_after: Option<Duration>, now: SystemTime) {
        assert_eq!(
            self.run(Op::Hold { seq, retry_after }, Some(now)),
            Reply::Done
        );
    }
    fn release(&mut self, seq: u64) {
        assert_eq!(self.run(Op::Release { seq }, None), Reply::Done);
    }
    fn seed(&mut self, per_window: Option<u64>, per_day: Option<u64>) {
        let op = Op::Seed {
            per_window,
            per_day,
        };
        assert_eq!(self.run(op, None), Reply::Done);
    }
    fn started(&mut self) -> u64 {
        let key = format!("{}:{MODEL}:state", self.budgets.namespace);
        redis::cmd("HGET")
            .arg(key)
            .arg("started")
            .query(&mut self.conn)
            .unwrap()
    }
}

impl Drop for RedisSubject {
    fn drop(&mut self) {
        // Every key the script wrote has an expiry.
        for key in self.server.keys() {
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut self.conn).unwrap();
            assert!(ttl > 0, "{key} has no expiry (PTTL {ttl})");
        }
    }
}

mod lua_scenarios {
    use super::*;

    scenario_tests!(match RedisSubject::start() {
        Some(s) => s,
        None => return,
    });
}

#[test]
fn key_ids_are_stable_hashes_that_do_not_contain_the_key() {
    let id = key_id("sk-very-secret-123");
    assert_eq!(id.len(), 16);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(id, key_id("sk-very-secret-123"));
    assert_ne!(id, key_id("sk-very-secret-124"));
    assert!(!id.contains("secret"));
    assert_eq!(key_segment("venice-sd35"), "venice-sd35");
    assert_eq!(key_segment("a}{b:c d"), "a%7D%7Bb%3Ac%20d");
}

#[test]
fn options_and_pacer_never_show_the_url() {
    let options = RedisOptions::new("redis://:hunter2@127.0.0.1:1/0");
    assert!(!format!("{options:?}").contains("hunter2"));
    let pacer = Pacer::with_redis("sk-secret", options).unwrap();
    let shown = format!("{pacer:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("sk-secret"),
        "{shown}"
    );
    for url in ["http://:hunter2@nope", "redis://:hunter2@[::1"] {
        let err = Pacer::with_redis("k", RedisOptions::new(url)).unwrap_err();
        let mut chain = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(e) = source {
            chain.push_str(&format!(": {e}"));
            source = e.source();
        }
        assert!(!chain.contains("hunter2"), "{chain}");
    }
}

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
fn pace(elapsed: Duration) -> f64 {
    (WINDOW * (WINDOWS - 1)).as_secs_f64() / elapsed.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_sharing_redis_stay_under_the_limit_and_use_it() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = testkit::mock(LIMIT, WINDOW).await;
    let pacers = shared_pacers(&redis, 3);
    for p in &pacers {
        // As the account's rate-limit list would tell.
        p.seed_limits(MODEL, Some(u64::from(LIMIT)), None).await;
    }
    let jobs = (LIMIT * WINDOWS) as usize;
    testkit::align_to_window(WINDOW).await;
    let run = testkit::run_jobs(&server, &pacers, jobs, 4, None).await;
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    eprintln!(
        "shared via Redis: 3 processes × 4 workers, {jobs} jobs, limit {LIMIT}/{WINDOW:?}: \
         {} done in {:.2} s = {:.1}% of the advertised rate, {refused} × 429 of {} responses",
        run.done.len(),
        run.elapsed.as_secs_f64(),
        pace(run.elapsed) * 100.0,
        statuses.len()
    );
    assert_eq!(run.done.len(), jobs);
    assert!(run.done.values().all(|n| *n == 1), "a job ran twice");
    assert_eq!(
        refused, 0,
        "the server refused requests: the limit was exceeded"
    );
    assert!(pace(run.elapsed) >= 0.95, "{:?}", run.elapsed);
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
    // The same load without Redis: what sharing prevents.
    let server = testkit::mock(LIMIT, WINDOW).await;
    let pacers: Vec<Pacer> = (0..3).map(|_| Pacer::local()).collect();
    for p in &pacers {
        p.seed_limits(MODEL, Some(u64::from(LIMIT)), None).await;
    }
    let jobs = (LIMIT * WINDOWS) as usize;
    testkit::align_to_window(WINDOW).await;
    let run = testkit::run_jobs(&server, &pacers, jobs, 4, None).await;
    eprintln!(
        "pacing alone: 3 processes × 4 workers, {jobs} jobs: {} done in {:.2} s = {:.1}% of \
         the advertised rate, {} × 429",
        run.done.len(),
        run.elapsed.as_secs_f64(),
        pace(run.elapsed) * 100.0,
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
async fn redis_killed_mid_run_falls_back_to_local_pacing_then_comes_back() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
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

    let server = testkit::mock(LIMIT, WINDOW).await;
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
    testkit::align_to_window(WINDOW).await;
    let run = testkit::run_jobs(
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

#[tokio::test(flavor = "current_thread")]
async fn redis_unreachable_from_the_start_paces_locally() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options =
        RedisOptions::new(format!("redis://127.0.0.1:{port}")).timeout(Duration::from_millis(100));
    let pacer = Pacer::with_redis("k", options).unwrap();
    assert!(pacer.is_shared());
    pacer.seed_limits(MODEL, Some(3), None).await;
    for _ in 0..3 {
        pacer.try_acquire(MODEL).await.unwrap().observe(None).await;
    }
    // The local budget is what counts now: the fourth waits.
    assert!(pacer.try_acquire(MODEL).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holder_leaks_nothing_beyond_one_window() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let options = || RedisOptions::new(redis.url()).linger(Duration::from_millis(300));
    let rl = |remaining: u64, reset: SystemTime| crate::RateLimit {
        limit: Some(5),
        remaining: Some(remaining),
        reset_at: Some(reset),
    };
    let now = SystemTime::now();
    let reset = now + Duration::from_millis(1500);
    // Process A books the whole window and dies with four requests in flight.
    let a = Pacer::with_redis("dead-holder", options()).unwrap();
    let first = a.acquire(MODEL).await;
    first.observe(Some(&rl(4, reset))).await;
    for _ in 0..4 {
        std::mem::forget(a.try_acquire(MODEL).await.unwrap()); // never answered
    }
    drop(a);
    // Process B finds the window full, until its reset.
    let b = Pacer::with_redis("dead-holder", options()).unwrap();
    let wait = b.try_acquire(MODEL).await.unwrap_err();
    assert!(wait > Duration::from_millis(1000) && wait <= Duration::from_millis(1520));
    tokio::time::sleep(wait).await;
    // Next window: A's requests may have been counted in it, so they hold their slots.
    let one = b.try_acquire(MODEL).await.unwrap();
    assert!(b.try_acquire(MODEL).await.is_err());
    let next_reset = reset + Duration::from_millis(1500);
    one.observe(Some(&rl(0, next_reset))).await;
    // The window after: nothing of A is left.
    tokio::time::sleep(next_reset.duration_since(SystemTime::now()).unwrap() + WAIT_MARGIN).await;
    let mut permits = Vec::new();
    while let Ok(p) = b.try_acquire(MODEL).await {
        permits.push(p);
    }
    assert_eq!(permits.len(), 5);
    let last_reset = next_reset + Duration::from_millis(1500);
    for p in permits {
        p.observe(Some(&rl(0, last_reset))).await;
    }
    // Nothing is touched any more: every key is gone soon after the window ends.
    assert!(!redis.keys().is_empty());
    tokio::time::sleep(
        last_reset.duration_since(SystemTime::now()).unwrap() + Duration::from_millis(500),
    )
    .await;
    assert_eq!(redis.keys(), Vec::<String>::new());
}

const WAIT_MARGIN: Duration = Duration::from_millis(30);
