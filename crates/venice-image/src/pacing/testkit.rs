//! Test helpers: a real `redis-server` per test, and workers that run jobs against the
//! mock through pacers the way a batch or a service does.

#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use venice_mock::{DEFAULT_API_KEY, MockConfig, MockServer, RateLimitConfig};

use super::Pacer;
use crate::{Auth, Client, Error, GenerateRequest, RetryPolicy, Size};

/// The model the workers ask for.
pub(crate) const MODEL: &str = "venice-sd35";

/// A `redis-server` on 127.0.0.1 at a free port, in its own temporary directory, with no
/// persistence; killed when dropped.
#[cfg(feature = "redis")]
pub(crate) struct RedisServer {
    child: Option<std::process::Child>,
    port: u16,
    dir: tempfile::TempDir,
}

#[cfg(feature = "redis")]
impl RedisServer {
    /// Start one, or print a loud notice and return `None` when `redis-server` is not
    /// installed (CI installs it, so there the tests always run).
    pub(crate) fn start() -> Option<RedisServer> {
        if std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!(
                "\n!!!!!!!! SKIPPED: `redis-server` is not on PATH, so this Redis pacing test did \
                 not run. Install it (apt-get install -y redis-server) to run it. !!!!!!!!\n"
            );
            return None;
        }
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let mut server = RedisServer {
                child: None,
                port,
                dir: tempfile::tempdir().unwrap(),
            };
            if server.spawn() {
                return Some(server);
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// (Re)start the process on this server's port; whether it answers PING.
    fn spawn(&mut self) -> bool {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .args(["--loglevel", "warning"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return false; // the port was taken meanwhile
            }
            if let Ok(mut conn) = redis::Client::open(self.url()).and_then(|c| c.get_connection())
                && redis::cmd("PING").query::<String>(&mut conn).is_ok()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
        false
    }

    /// `redis://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A plain connection, for looking at the keys.
    pub(crate) fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Every key whose name starts with `venice:`.
    pub(crate) fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg("venice:*")
            .query(&mut self.connection())
            .unwrap();
        keys.sort();
        keys
    }

    /// Kill the process now (SIGKILL), as a crash would.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port (empty: nothing is persisted).
    pub(crate) fn restart(&mut self) {
        self.kill();
        assert!(self.spawn(), "redis-server did not restart");
    }
}

#[cfg(feature = "redis")]
impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A mock limiting the default key to `requests` per `window` (windows aligned to the
/// Unix epoch).
pub(crate) async fn mock(requests: u32, window: Duration) -> MockServer {
    MockServer::start(MockConfig {
        rate_limit: Some(RateLimitConfig { requests, window }),
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

/// A client of the mock that sends each call once (429s reach the caller).
pub(crate) fn client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .auth(Auth::api_key(DEFAULT_API_KEY))
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(10))
        .model_validation(false)
        .build()
        .unwrap()
}

fn request(job: usize) -> GenerateRequest {
    GenerateRequest::builder(MODEL, format!("job {job}"))
        .size(Size::Pixels {
            width: 64,
            height: 64,
        })
        .seed(1)
        .build()
        .unwrap()
}

/// Sleep until just after the next multiple of `window` since the Unix epoch, so a run
/// covers whole windows of the mock.
pub(crate) async fn align_to_window(window: Duration) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into = now.as_millis() % window.as_millis();
    let to_boundary = window.as_millis() - into;
    tokio::time::sleep(Duration::from_millis(to_boundary as u64 + 30)).await;
}

/// What a run of workers achieved.
#[derive(Debug, Default)]
pub(crate) struct Run {
    /// Jobs that succeeded, by job number (each must be 1).
    pub(crate) done: HashMap<usize, u32>,
    /// 429s the workers received.
    pub(crate) refused: u64,
    /// Permits granted.
    pub(crate) permits: u64,
    /// From the start to the last answer.
    pub(crate) elapsed: Duration,
}

/// Run `jobs` jobs split between `pacers` ("processes"), each with its own client and
/// `concurrency` workers; a refused job is paced again until it succeeds. `between(i)`
/// runs after the `i`-th job a process finished (to kill Redis mid-run, say).
pub(crate) async fn run_jobs(
    server: &MockServer,
    pacers: &[Pacer],
    jobs: usize,
    concurrency: usize,
    between: Option<(usize, Box<dyn FnOnce() + Send>)>,
) -> Run {
    let start = Instant::now();
    let run = Arc::new(Mutex::new(Run::default()));
    let hook = Arc::new(Mutex::new(between));
    let finished = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (p, pacer) in pacers.iter().enumerate() {
        let queue: VecDeque<usize> = (0..jobs).filter(|j| j % pacers.len() == p).collect();
        let queue = Arc::new(Mutex::new(queue));
        let client = client(server);
        for _ in 0..concurrency {
            let (pacer, client, queue, run, hook, finished) = (
                pacer.clone(),
                client.clone(),
                queue.clone(),
                run.clone(),
                hook.clone(),
                finished.clone(),
            );
            tasks.spawn(async move {
                loop {
                    let Some(job) = queue.lock().unwrap().pop_front() else {
                        return;
                    };
                    let permit = pacer.acquire(MODEL).await;
                    run.lock().unwrap().permits += 1;
                    match client.generate(&request(job)).await {
                        Ok(g) => {
                            permit.observe(g.meta().rate_limit()).await;
                            *run.lock().unwrap().done.entry(job).or_default() += 1;
                            let n = finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let mut hook = hook.lock().unwrap();
                            if hook.as_ref().is_some_and(|(at, _)| n + 1 >= *at)
                                && let Some((_, f)) = hook.take()
                            {
                                f();
                            }
                        }
                        Err(Error::RateLimited { retry_after, .. }) => {
                            permit.rate_limited(retry_after).await;
                            run.lock().unwrap().refused += 1;
                            queue.lock().unwrap().push_back(job);
                        }
                        Err(e) => panic!("job {job}: {e}"),
                    }
                }
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let mut run = std::mem::take(&mut *run.lock().unwrap());
    run.elapsed = start.elapsed();
    run
}
