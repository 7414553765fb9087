//! A 500-job `batch` under a seeded mix of every mock fault (429, 503, 500, reset
//! connections, truncated bodies, slow responses, malformed JSON, wrong content type):
//! every job ends saved exactly once or failed with its reason; no job is sent again
//! after an answer that may have been charged; attempts stay within the default policy;
//! each failure records whether it may have been charged; `--resume` then re-runs only
//! the failed jobs that cannot have been charged, `--resume --retry-charged` the rest,
//! never re-sending the saved ones.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use venice_mock::{FaultMix, MockConfig, MockServer, RateLimitConfig};

const JOBS: usize = 500;
/// `RetryPolicy::default().max_attempts`, which the CLI uses.
const MAX_ATTEMPTS: usize = 3;

fn run(server: &MockServer, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("venice-image")
        .unwrap()
        .env_remove("VENICE_BASE_URL")
        .env("VENICE_API_KEY", venice_mock::DEFAULT_API_KEY)
        .args(["--base-url", &server.base_url()])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn job_id(i: usize) -> String {
    format!("job-{i:03}")
}

fn prompt(i: usize) -> String {
    format!("fault scene {i}")
}

/// Statuses answered to `POST /image/generate`, per job index (0 = no answer).
fn attempts(server: &MockServer) -> HashMap<usize, Vec<u16>> {
    let mut map: HashMap<usize, Vec<u16>> = HashMap::new();
    for r in server.requests() {
        if r.method != "POST" || !r.path.ends_with("/image/generate") {
            continue;
        }
        let p = r.body.as_ref().and_then(|b| b["prompt"].as_str()).unwrap();
        let i: usize = p.strip_prefix("fault scene ").unwrap().parse().unwrap();
        map.entry(i).or_default().push(r.status);
    }
    map
}

fn maybe_charged(status: u16) -> bool {
    !matches!(status, 429 | 503)
}

/// Manifest events per job, in order.
fn manifest(out: &Path) -> HashMap<String, Vec<Value>> {
    let text = std::fs::read_to_string(out.join("manifest.jsonl")).unwrap();
    let mut map: HashMap<String, Vec<Value>> = HashMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        map.entry(v["job"].as_str().unwrap().to_owned())
            .or_default()
            .push(v);
    }
    map
}

fn files(out: &Path) -> HashSet<String> {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_500_job_batch_under_faults_saves_each_job_once_or_reports_it() {
    let started = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A 1 s rate-limit window: the 429 and 503 faults both say `Retry-After: 1`. A 429
    // (remaining 0 until the reset) pauses the whole batch's pacing for that second, a
    // 503 only its own job: 429s are kept few (each one costs the run a second) and the
    // 503s carry most of the retries; both are checked to occur below.
    let server = rt
        .block_on(MockServer::start(MockConfig {
            rate_limit: Some(RateLimitConfig {
                requests: 1_000_000,
                window: Duration::from_secs(1),
            }),
            ..MockConfig::default()
        }))
        .unwrap();
    server.set_fault_rate(FaultMix {
        seed: 2026,
        status500: 0.03,
        status503: 0.09,
        status429: 0.01,
        overloaded: 0.0,
        latency: 0.10,
        latency_ms: 20,
        reset_connection: 0.03,
        truncated_body: 0.03,
        malformed_json: 0.02,
        wrong_content_type: 0.02,
    });
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    let out = dir.path().join("out");
    let lines: Vec<String> = (0..JOBS)
        .map(|i| {
            serde_json::json!({"id": job_id(i), "prompt": prompt(i), "size": "64x64",
                "format": "png", "seed": i})
            .to_string()
        })
        .collect();
    std::fs::write(&jobs, lines.join("\n") + "\n").unwrap();
    let (jobs_s, out_s) = (jobs.to_str().unwrap(), out.to_str().unwrap());

    let (code, stdout, stderr) = run(
        &server,
        &[
            "batch",
            jobs_s,
            "--out",
            out_s,
            "--concurrency",
            "16",
            "--json",
        ],
    );
    assert_eq!(code, 5, "partial failure exit code\n{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    let failed: HashMap<String, String> = summary["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f[0].as_str().unwrap().to_owned(),
                f[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(summary["total"], JOBS);
    assert_eq!(
        summary["done"].as_u64().unwrap() as usize + failed.len(),
        JOBS
    );
    assert!(!failed.is_empty() && failed.len() < JOBS / 3, "{failed:?}");

    let log = attempts(&server);
    // Every kind of answer of the mix was met (0: no answer, a reset connection).
    for status in [0, 200, 429, 500, 503] {
        let n = log.values().flatten().filter(|s| **s == status).count();
        assert!(n > 0, "the mix answered no {status}");
    }
    let events = manifest(&out);
    let names = files(&out);
    assert!(!names.iter().any(|n| n.ends_with(".partial")));
    let mut done_first_run = HashSet::new();
    let mut retried_jobs = 0;
    let mut charged_failures = HashSet::new();
    for i in 0..JOBS {
        let id = job_id(i);
        let seen = &log[&i];
        // Attempts follow the policy: at most 3, only 429/503 retried, at most one
        // answer that may have been charged, and nothing sent after it.
        assert!(seen.len() <= MAX_ATTEMPTS, "{id}: {seen:?}");
        let charged: Vec<_> = seen.iter().filter(|s| maybe_charged(**s)).collect();
        assert!(charged.len() <= 1, "{id} may be charged twice: {seen:?}");
        assert!(
            seen[..seen.len() - 1].iter().all(|s| !maybe_charged(*s)),
            "{id} re-sent after a possibly charged answer: {seen:?}"
        );
        if seen.len() > 1 {
            retried_jobs += 1;
        }
        // The manifest: started once, then exactly one outcome.
        let ev: Vec<&str> = events[&id]
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        let image = format!("{id}-0.png");
        match failed.get(&id) {
            None => {
                assert_eq!(ev, ["started", "done"], "{id}");
                assert_eq!(charged.len(), 1, "{id}: {seen:?}");
                assert_eq!(*seen.last().unwrap(), 200, "{id}");
                assert!(names.contains(&image) && names.contains(&format!("{image}.json")));
                let bytes = std::fs::read(out.join(&image)).unwrap();
                assert_eq!(
                    venice_image::Image::from_bytes(bytes.clone())
                        .ok()
                        .map(|i| (i.width(), i.height())),
                    Some((64, 64))
                );
                done_first_run.insert(i);
            }
            Some(reason) => {
                assert_eq!(ev, ["started", "failed"], "{id}");
                let recorded = events[&id][1]["reason"].as_str().unwrap();
                assert_eq!(recorded, reason, "{id}");
                assert!(!names.contains(&image), "{id} failed but left {image}");
                let last = *seen.last().unwrap();
                let expected: &[&str] = match last {
                    429 => &["rate limited"],
                    503 => &["503"],
                    500 => &["500", "INFERENCE_FAILED"],
                    0 => &["transport", "connection"],
                    200 => &["decode", "transport", "body"],
                    other => panic!("{id}: unexpected status {other}"),
                };
                assert!(
                    expected.iter().any(|e| reason.contains(e)),
                    "{id} (last answer {last}): reason {reason:?}"
                );
                // The manifest and the summary say whether a re-run may pay twice.
                assert_eq!(
                    events[&id][1]["may_have_been_charged"],
                    maybe_charged(last),
                    "{id} (last answer {last}): {reason}"
                );
                assert_eq!(
                    summary["may_have_been_charged"]
                        .as_array()
                        .unwrap()
                        .contains(&Value::from(id.clone())),
                    maybe_charged(last),
                    "{id}"
                );
                if maybe_charged(last) {
                    charged_failures.insert(id.clone());
                }
                if !maybe_charged(last) {
                    // Only a retryable answer can end a job after exhausting attempts.
                    assert_eq!(seen.len(), MAX_ATTEMPTS, "{id} gave up early: {seen:?}");
                }
            }
        }
    }
    assert!(
        retried_jobs > 10,
        "the mix retried only {retried_jobs} jobs"
    );
    let pngs = names.iter().filter(|n| n.ends_with(".png")).count();
    assert_eq!(pngs, done_first_run.len(), "no stray or duplicate images");

    // With 3 attempts, 429/503 rarely end a job here: most failures may be charged
    // (`resume_skips_only_the_failures_that_may_have_been_charged` covers both sides).
    assert!(!charged_failures.is_empty());

    // Resume without faults: the failed jobs that cannot have been charged are sent
    // again; those that may have been are listed, not sent (exit 5: not finished).
    server.set_fault_rate(None);
    server.clear_requests();
    let (code, stdout, stderr) = run(
        &server,
        &["batch", jobs_s, "--out", out_s, "--resume", "--json"],
    );
    assert_eq!(code, 5, "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    let held: HashSet<String> = summary["skipped_charged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f[0].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(held, charged_failures);
    let again = attempts(&server);
    for i in &done_first_run {
        assert!(!again.contains_key(i), "saved job {i} was sent again");
    }
    for id in failed.keys() {
        let i: usize = id[4..].parse().unwrap();
        if charged_failures.contains(id) {
            assert!(
                !again.contains_key(&i),
                "{id} may have been charged, re-sent"
            );
        } else {
            assert_eq!(again[&i], vec![200], "{id}");
        }
    }
    // The human summary names them and the way out.
    server.clear_requests();
    let (code, stdout, _) = run(&server, &["batch", jobs_s, "--out", out_s, "--resume"]);
    assert_eq!(code, 5);
    assert!(stdout.contains("--retry-charged"), "{stdout}");
    assert!(
        attempts(&server).is_empty(),
        "nothing left that is safe to re-run"
    );

    // `--retry-charged`: the rest are sent once each, and all end done once.
    server.clear_requests();
    let (code, stdout, stderr) = run(
        &server,
        &[
            "batch",
            jobs_s,
            "--out",
            out_s,
            "--resume",
            "--retry-charged",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let again = attempts(&server);
    assert_eq!(again.len(), charged_failures.len());
    for id in &charged_failures {
        let i: usize = id[4..].parse().unwrap();
        assert_eq!(again[&i], vec![200], "{id}");
    }
    let events = manifest(&out);
    let names = files(&out);
    for i in 0..JOBS {
        let id = job_id(i);
        let done = events[&id].iter().filter(|e| e["event"] == "done").count();
        assert_eq!(done, 1, "{id}");
        assert!(names.contains(&format!("{id}-0.png.json")));
    }
    assert_eq!(names.iter().filter(|n| n.ends_with(".png")).count(), JOBS);
    eprintln!("500-job fault batch + resume: {:?}", started.elapsed());
}

/// One job per kind of failure, in order (concurrency 1): the manifest and the summary
/// say which may have been charged, `--resume` re-runs only the others, and
/// `--retry-charged` is needed for the rest.
#[test]
fn resume_skips_only_the_failures_that_may_have_been_charged() {
    use venice_mock::Fault;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    // job 0: a 200 cut short; job 1: 503 on every attempt; job 2: a 500; job 3: the
    // connection reset after the request was read; job 4: fine.
    server.push_faults(vec![
        Fault::TruncatedBody,
        Fault::Status503,
        Fault::Status503,
        Fault::Status503,
        Fault::Status500,
        Fault::ResetConnection,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    let out = dir.path().join("out");
    let lines: Vec<String> = (0..5)
        .map(|i| {
            serde_json::json!({"id": job_id(i), "prompt": prompt(i), "size": "64x64",
                "format": "png", "seed": i})
            .to_string()
        })
        .collect();
    std::fs::write(&jobs, lines.join("\n") + "\n").unwrap();
    let (jobs_s, out_s) = (jobs.to_str().unwrap(), out.to_str().unwrap());
    let ids = |v: &Value| -> Vec<String> {
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().or_else(|| f[0].as_str()).unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let charged = vec![job_id(0), job_id(2), job_id(3)];

    let base = [
        "batch",
        jobs_s,
        "--out",
        out_s,
        "--concurrency",
        "1",
        "--json",
    ];
    let (code, stdout, stderr) = run(&server, &base);
    assert_eq!(code, 5, "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["done"], 1);
    assert_eq!(ids(&summary["failed"]).len(), 4, "{summary}");
    assert_eq!(ids(&summary["may_have_been_charged"]), charged, "{summary}");
    let events = manifest(&out);
    for i in 0..4 {
        let failed = &events[&job_id(i)][1];
        assert_eq!(failed["event"], "failed");
        assert_eq!(
            failed["may_have_been_charged"],
            charged.contains(&job_id(i)),
            "{failed}"
        );
    }

    // Plain resume: only the 503 job is sent again.
    server.clear_requests();
    let (code, stdout, stderr) = run(&server, &[&base[..], &["--resume"]].concat());
    assert_eq!(code, 5, "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(ids(&summary["skipped_charged"]), charged, "{summary}");
    assert_eq!(summary["done"], 1);
    assert_eq!(summary["already_done"], 1);
    let sent = attempts(&server);
    assert_eq!(
        sent.keys().copied().collect::<Vec<_>>(),
        vec![1],
        "{sent:?}"
    );

    // `--retry-charged` needs `--resume`, and with it re-runs the rest.
    let (code, _, stderr) = run(&server, &[&base[..], &["--retry-charged"]].concat());
    assert_eq!(code, 2, "{stderr}");
    server.clear_requests();
    let (code, stdout, stderr) = run(
        &server,
        &[&base[..], &["--resume", "--retry-charged"]].concat(),
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let mut sent: Vec<usize> = attempts(&server).keys().copied().collect();
    sent.sort();
    assert_eq!(sent, vec![0, 2, 3]);
    assert_eq!(
        files(&out).iter().filter(|n| n.ends_with(".png")).count(),
        5
    );
}
