//! The Lua budget against the scenarios (explicit times) and pacers sharing one real
//! `redis-server`. Pacers of several "processes" doing jobs against the mock are in the
//! integration tests (`tests/it/pacing_workers.rs`): they need the client, which sits
//! above pacing.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use super::*;
use crate::pacing::redis_server::RedisServer;
use crate::pacing::scenarios::{Subject, scenario_tests};

/// The model the pacers pace.
const MODEL: &str = "venice-sd35";
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
    fn start() -> RedisSubject {
        let server = RedisServer::start();
        let conn = server.connection();
        let budgets = RedisBudgets::new("scenario-key", RedisOptions::new(server.url())).unwrap();
        RedisSubject {
            server,
            conn,
            budgets,
            now: crate::pacing::scenarios::t(0.0),
        }
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

    scenario_tests!(ignore = "needs redis-server"; RedisSubject::start());
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
#[ignore = "needs redis-server"]
async fn a_dead_holder_leaks_nothing_beyond_one_window() {
    let redis = RedisServer::start();
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
