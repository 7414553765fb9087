//! Many `batch` processes on one API key, against a mock that limits each model to 10
//! requests per 2 s: sharing the budget through a real `redis-server` they get no 429s
//! and the advertised rate; pacing alone each, they collect 429s; one killed with
//! SIGKILL leaves the others unharmed and its `--resume` finishes without duplicates.
//!
//! The numbers are printed (`cargo test -p venice-cli --test it scale:: -- --nocapture`).
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::redis::RedisServer;
use common::*;
use serde_json::Value;
use venice_mock::{AccountConfig, MockConfig, MockServer, ModelRateLimits};

const PROCESSES: usize = 3;
const JOBS: usize = 40;
const LIMIT: u32 = 10;
const WINDOW: Duration = Duration::from_secs(2);
/// Each process spreads its jobs over these models: 40 jobs per model in all, four
/// windows' worth.
const MODELS: [&str; 3] = ["venice-sd35", "z-image-turbo", "chroma"];

/// The tests measure rates: one at a time, so they do not share the CPU with each other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn mock() -> (tokio::runtime::Runtime, MockServer) {
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig {
            // Only the per-model limit: the catalogue and account calls are free.
            rate_limit: None,
            account: AccountConfig {
                model_rate_limits: Some(ModelRateLimits::new(LIMIT, WINDOW)),
                ..AccountConfig::default()
            },
            ..MockConfig::default()
        }))
        .unwrap();
    (rt, server)
}

/// The jobs file of process `p`.
fn write_jobs(dir: &Path, p: usize) -> PathBuf {
    let path = dir.join(format!("jobs-{p}.jsonl"));
    let lines: Vec<String> = (0..JOBS)
        .map(|i| {
            serde_json::json!({
                "id": format!("job-{i:03}"),
                "prompt": format!("process {p} job {i}"),
                "model": MODELS[(i + p) % MODELS.len()],
                "size": "64x64",
                "format": "png",
                "seed": i,
            })
            .to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn batch(server: &MockServer, dir: &Path, p: usize, redis: Option<&str>, resume: bool) -> Command {
    let mut c = against(server);
    c.arg("batch")
        .arg(dir.join(format!("jobs-{p}.jsonl")))
        .arg("--out")
        .arg(dir.join(format!("out-{p}")))
        .args(["--concurrency", "4", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = redis {
        c.args(["--pacing-redis", url]);
    }
    if resume {
        c.arg("--resume");
    }
    c
}

/// Sleep until just after the next multiple of the window since the Unix epoch (the
/// mock's windows are aligned to it), so a run covers whole windows.
fn align() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let left = WINDOW.as_millis() - now.as_millis() % WINDOW.as_millis();
    std::thread::sleep(Duration::from_millis(left as u64 + 20));
}

/// (process, job) of every generation request the mock answered, with its status.
fn generations(server: &MockServer) -> Vec<((usize, usize), u16)> {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/image/generate"))
        .map(|r| {
            let prompt = r.body.as_ref().unwrap()["prompt"].as_str().unwrap();
            let rest = prompt.strip_prefix("process ").unwrap();
            let (p, i) = rest.split_once(" job ").unwrap();
            ((p.parse().unwrap(), i.parse().unwrap()), r.status)
        })
        .collect()
}

/// Requests all models together may make per window.
const PER_WINDOW: usize = LIMIT as usize * MODELS.len();

/// What a run of the processes achieved.
struct Run {
    /// Per process: exit code and the summary it printed.
    results: Vec<(i32, Value, String)>,
    /// When the mock had answered 1, 2, … windows' worth of generations successfully.
    served_at: Vec<Duration>,
    refused: usize,
}

impl Run {
    /// Until every job was served.
    fn served_in(&self) -> Duration {
        self.served_at.last().copied().unwrap_or_default()
    }

    /// The rate sustained after the first window, as a share of the advertised one: the
    /// first window's quota is free at once (a burst), after that pacing decides. Both
    /// ends of the span are "a window's worth served", so the time to serve one window's
    /// requests cancels out.
    fn pace(&self) -> f64 {
        let (Some(first), Some(last)) = (self.served_at.first(), self.served_at.last()) else {
            return 0.0;
        };
        let windows = self.served_at.len() - 1;
        let advertised = PER_WINDOW as f64 / WINDOW.as_secs_f64();
        (windows * PER_WINDOW) as f64 / (*last - *first).as_secs_f64() / advertised
    }
}

/// Start `PROCESSES` batches together just after a window opens; poll the mock until
/// every job is served (or all processes exit), then collect the processes.
fn run_all(server: &MockServer, dir: &Path, redis: Option<&str>) -> Run {
    for p in 0..PROCESSES {
        write_jobs(dir, p);
    }
    align();
    let start = Instant::now();
    let children: Vec<Child> = (0..PROCESSES)
        .map(|p| batch(server, dir, p, redis, false).spawn().unwrap())
        .collect();
    let expected = PROCESSES * JOBS;
    let mut served_at = Vec::new();
    let deadline = start + Duration::from_secs(120);
    while Instant::now() < deadline && served_at.len() * PER_WINDOW < expected {
        let ok = generations(server)
            .iter()
            .filter(|(_, s)| *s == 200)
            .count();
        while ok >= (served_at.len() + 1) * PER_WINDOW {
            served_at.push(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let results = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let summary = serde_json::from_str(&stdout).unwrap_or(Value::Null);
            (out.status.code().unwrap_or(-1), summary, stderr)
        })
        .collect();
    let refused = generations(server)
        .iter()
        .filter(|(_, s)| *s == 429)
        .count();
    Run {
        results,
        served_at,
        refused,
    }
}

/// Each (process, job) answered 200 exactly this many times.
fn served_counts(server: &MockServer) -> HashMap<(usize, usize), usize> {
    let mut n = HashMap::new();
    for (job, status) in generations(server) {
        if status == 200 {
            *n.entry(job).or_default() += 1;
        }
    }
    n
}

/// The `done` events of a manifest, per job id.
fn done_events(out: &Path) -> HashMap<String, usize> {
    let text = std::fs::read_to_string(out.join("manifest.jsonl")).unwrap_or_default();
    let mut n = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["event"] == "done" {
            *n.entry(v["job"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    n
}

fn images(out: &Path) -> Vec<String> {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png") || n.ends_with(".partial"))
        .collect()
}

#[test]
#[ignore = "needs redis-server"]
fn three_processes_share_one_budget_through_redis_and_the_same_without_it_earn_429s() {
    let _serial = serial();
    let redis = RedisServer::start();

    // Shared through Redis.
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    let shared = run_all(&server, dir.path(), Some(&redis.url()));
    for (p, (code, summary, stderr)) in shared.results.iter().enumerate() {
        assert_eq!(*code, 0, "process {p}: {summary}\n{stderr}");
        assert_eq!(summary["done"], JOBS, "process {p}: {summary}");
        assert!(
            !stderr.to_lowercase().contains("warn"),
            "process {p}: {stderr}"
        );
    }
    let counts = served_counts(&server);
    assert_eq!(counts.len(), PROCESSES * JOBS);
    assert!(counts.values().all(|n| *n == 1), "a job was served twice");
    let pace = shared.pace();
    let ideal = WINDOW * (shared.served_at.len() as u32 - 1);
    println!(
        "shared through Redis: {} jobs done, {} × 429 of {} generation responses; windows' worth served at {:?}; \
         {:.1} % of the advertised rate after the first window ({:.1} % end to end: {ideal:?} ideal / {:?})",
        counts.len(),
        shared.refused,
        generations(&server).len(),
        shared.served_at,
        pace * 100.0,
        ideal.as_secs_f64() / shared.served_in().as_secs_f64() * 100.0,
        shared.served_in(),
    );
    assert_eq!(shared.refused, 0, "429s although the budget was shared");
    assert!(pace >= 0.95, "{:.1} % of the advertised rate", pace * 100.0);
    // Every window's whole quota was used before the next one opened.
    for (k, at) in shared.served_at.iter().enumerate() {
        assert!(
            *at < WINDOW * (k as u32 + 1),
            "window {k}'s quota served only at {at:?}"
        );
    }

    // The same, each process pacing alone: they oversubscribe the key.
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    let alone = run_all(&server, dir.path(), None);
    let done: u64 = alone
        .results
        .iter()
        .map(|(_, s, _)| s["done"].as_u64().unwrap_or(0))
        .sum();
    let failed: usize = alone
        .results
        .iter()
        .map(|(_, s, _)| s["failed"].as_array().map_or(0, Vec::len))
        .sum();
    println!(
        "each pacing alone: {done} jobs done, {failed} failed, {} × 429 of {} generation responses; windows' worth served at {:?}",
        alone.refused,
        generations(&server).len(),
        alone.served_at,
    );
    assert!(
        alone.refused > 0,
        "pacing alone should oversubscribe the key"
    );
}

#[test]
#[ignore = "needs redis-server"]
fn a_killed_process_leaves_the_others_unharmed_and_its_resume_has_no_duplicates() {
    let _serial = serial();
    let redis = RedisServer::start();
    let url = redis.url();
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    for p in 0..PROCESSES {
        write_jobs(dir.path(), p);
    }
    align();
    let mut children: Vec<Child> = (0..PROCESSES)
        .map(|p| {
            batch(&server, dir.path(), p, Some(&url), false)
                .spawn()
                .unwrap()
        })
        .collect();
    // Kill process 0 once a third of its jobs are saved.
    let out0 = dir.path().join("out-0");
    let deadline = Instant::now() + Duration::from_secs(60);
    while done_events(&out0).len() < JOBS / 3 {
        assert!(Instant::now() < deadline, "process 0 made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    children[0].kill().unwrap(); // SIGKILL
    children[0].wait().unwrap();
    let done_at_kill = done_events(&out0);
    for (p, child) in children.into_iter().enumerate().skip(1) {
        let out = child.wait_with_output().unwrap();
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert_eq!(
            out.status.code(),
            Some(0),
            "process {p}: {summary}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(summary["done"], JOBS, "process {p}: {summary}");
    }
    // What the killed process had sent without saving the answer: read only now, after
    // the others finished, because a request the kill caught half-written can reach the
    // server (and be recorded) a moment after the process is gone.
    let in_flight: Vec<usize> = generations(&server)
        .iter()
        .filter(|((p, i), _)| *p == 0 && !done_at_kill.contains_key(&format!("job-{i:03}")))
        .map(|((_, i), _)| *i)
        .collect();
    let (code, stdout, stderr) = run(&mut batch(&server, dir.path(), 0, Some(&url), true));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["already_done"], done_at_kill.len(), "{summary}");

    // Every job of the killed process is done exactly once, with one image.
    let done = done_events(&out0);
    assert_eq!(done.len(), JOBS);
    assert!(done.values().all(|n| *n == 1), "{done:?}");
    let files = images(&out0);
    assert_eq!(
        files.len(),
        JOBS,
        "duplicates, strays or partials: {files:?}"
    );
    // The server served each job once, except those the kill caught in flight (sent,
    // answer lost with the process): those, and only those, were sent again.
    let counts = served_counts(&server);
    let twice: Vec<usize> = counts
        .iter()
        .filter(|(job, n)| job.0 == 0 && **n > 1)
        .map(|(job, _)| job.1)
        .collect();
    assert!(
        twice.iter().all(|i| in_flight.contains(i)),
        "{twice:?} re-sent though done"
    );
    assert!(
        twice.len() <= 4,
        "more re-sent than were in flight: {twice:?}"
    );
    assert!(counts.values().all(|n| *n <= 2));
    let refused = generations(&server)
        .iter()
        .filter(|(_, s)| *s == 429)
        .count();
    println!(
        "kill: process 0 killed after {} of {JOBS} jobs; the others finished; resume ran {} \
         (re-sent after the kill: {}); 429s in the whole run: {refused}",
        done_at_kill.len(),
        summary["done"],
        twice.len()
    );
    assert_eq!(refused, 0);
}

#[test]
fn an_unreachable_redis_means_local_pacing_and_one_warning() {
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs-0.jsonl");
    let lines: Vec<String> = (0..6)
        .map(|i| {
            serde_json::json!({"id": format!("job-{i:03}"), "prompt": format!("process 0 job {i}"),
                "model": "venice-sd35", "size": "64x64", "format": "png", "seed": i})
            .to_string()
        })
        .collect();
    std::fs::write(&jobs, lines.join("\n") + "\n").unwrap();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://:secret-password@127.0.0.1:{port}");
    let (code, stdout, stderr) = run(&mut batch(&server, dir.path(), 0, Some(&url), false));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["done"], 6);
    assert_eq!(
        stderr.matches("Redis unavailable").count(),
        1,
        "one warning per outage: {stderr}"
    );
    assert!(!stderr.contains("secret-password"), "{stderr}");
    assert!(!stderr.contains(venice_mock::DEFAULT_API_KEY), "{stderr}");
}
