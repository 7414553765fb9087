//! Workers that run jobs against the mock through pacers the way a batch or a service
//! does (out of the library's `src`: they need the client, which sits above pacing).
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use venice_mock::{DEFAULT_API_KEY, MockConfig, MockServer, RateLimitConfig};

use venice_image::pacing::Pacer;
use venice_image::{Auth, Client, Error, GenerateRequest, RetryPolicy, Size};

/// The model the workers ask for.
pub const MODEL: &str = "venice-sd35";

/// A mock limiting the default key to `requests` per `window` (windows aligned to the
/// Unix epoch).
pub async fn mock(requests: u32, window: Duration) -> MockServer {
    MockServer::start(MockConfig {
        rate_limit: Some(RateLimitConfig { requests, window }),
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

/// A client of the mock that sends each call once (429s reach the caller).
pub fn client(server: &MockServer) -> Client {
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
pub async fn align_to_window(window: Duration) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into = now.as_millis() % window.as_millis();
    let to_boundary = window.as_millis() - into;
    tokio::time::sleep(Duration::from_millis(to_boundary as u64 + 30)).await;
}

/// What a run of workers achieved.
#[derive(Debug, Default)]
pub struct Run {
    /// Jobs that succeeded, by job number (each must be 1).
    pub done: HashMap<usize, u32>,
    /// 429s the workers received.
    pub refused: u64,
    /// Permits granted.
    pub permits: u64,
    /// From the start to the last answer.
    pub elapsed: Duration,
}

/// Run `jobs` jobs split between `pacers` ("processes"), each with its own client and
/// `concurrency` workers; a refused job is paced again until it succeeds. `between(i)`
/// runs after the `i`-th job a process finished (to kill Redis mid-run, say).
pub async fn run_jobs(
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
