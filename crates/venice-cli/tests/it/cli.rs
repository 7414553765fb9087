//! Drive the real `venice-image` binary against the mock: offline mode, external mock
//! with rate limits and latency, exit codes, JSON output, dry-run, and batch resume after
//! `kill -9`.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use venice_mock::{MockConfig, MockServer};

#[test]
fn offline_generate_writes_a_real_image_and_a_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(bin().args([
        "generate",
        "--offline",
        "a lighthouse at dusk",
        "--size",
        "512x384",
        "--format",
        "png",
        "--seed",
        "7",
        "--out",
        dir.path().to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "stderr: {stderr}");
    let path = stdout.lines().next().unwrap();
    assert!(path.ends_with(".png"), "{path}");
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        venice_image::Image::from_bytes(bytes.clone())
            .ok()
            .map(|i| (i.width(), i.height())),
        Some((512, 384))
    );
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{path}.json")).unwrap()).unwrap();
    assert_eq!(sidecar["model"], "venice-sd35");
    assert_eq!(sidecar["prompt"], "a lighthouse at dusk");
    assert_eq!(sidecar["seed"], 7);
    assert_eq!(sidecar["format"], "png");
    assert_eq!(sidecar["width"], 512);
    assert_eq!(sidecar["blurred"], false);
    assert!(sidecar["request_id"].is_string());
}

#[test]
fn json_output_is_one_object_with_every_image() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(bin().args([
        "generate",
        "--offline",
        "two cats",
        "--variants",
        "2",
        "--json",
        "--out",
        dir.path().to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let images = v["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    for img in images {
        assert!(Path::new(img["path"].as_str().unwrap()).exists());
        assert!(Path::new(img["sidecar"].as_str().unwrap()).exists());
        assert_eq!(img["width"], 1024);
    }
    assert_eq!(v["model"], "venice-sd35");
    assert_eq!(v["blurred"], false);
}

#[test]
fn dry_run_prints_the_request_and_cost_without_sending() {
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    let (code, stdout, stderr) = run(against(&server).args([
        "generate",
        "a fox",
        "--model",
        "nano-banana-pro",
        "--aspect",
        "16:9",
        "--resolution",
        "4K",
        "--variants",
        "2",
        "--dry-run",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["request"]["aspect_ratio"], "16:9");
    assert_eq!(v["request"]["resolution"], "4K");
    assert!(v["request"].get("width").is_none());
    let cost = v["estimated_cost_usd"].as_f64().unwrap();
    assert!((cost - 0.70).abs() < 1e-9, "2 × $0.35 at 4K, got {cost}");
    let sent = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/image/generate"))
        .count();
    assert_eq!(sent, 0, "dry-run must not send a generation");
}

#[test]
fn exit_codes_follow_the_documented_table() {
    // 2: validation before any network call.
    let (code, _, stderr) = run(bin().args(["generate", "--offline", "x", "--variants", "9"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("variants"), "{stderr}");
    // 2: no credentials and not offline, with both options named.
    let (code, _, stderr) = run(bin().args(["generate", "x"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("VENICE_API_KEY") && stderr.contains("--offline"),
        "{stderr}"
    );
    // 3: API error (wrong key → 401).
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    let (code, _, stderr) = run(bin().env("VENICE_API_KEY", "wrong-key").args([
        "--base-url",
        &server.base_url(),
        "--no-validate",
        "generate",
        "x",
    ]));
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.lines().count() >= 2,
        "one line plus a hint: {stderr}"
    );
    // 2: unknown model caught by the catalogue check.
    let (code, _, stderr) =
        run(bin().args(["generate", "--offline", "x", "--model", "no-such-model"]));
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn fail_on_blurred_turns_a_blurred_result_into_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(bin().args([
        "generate",
        "--offline",
        "nsfw beach",
        "--fail-on-blurred",
        "--out",
        dir.path().to_str().unwrap(),
    ]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("blurred"), "{stderr}");
}

#[test]
fn models_and_styles_list_the_catalogue() {
    let (code, stdout, _) = run(bin().args(["models", "--offline"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("venice-sd35") && stdout.contains("nano-banana-pro"));
    let (code, stdout, _) = run(bin().args(["models", "--offline", "--json"]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v.as_array().unwrap().len() >= 5);
    let (code, stdout, _) = run(bin().args(["styles", "--offline"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("3D Model"));
}

#[test]
fn binary_mode_streams_the_image_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("one.jpg");
    let (code, stdout, stderr) = run(bin().args([
        "generate",
        "--offline",
        "a bridge",
        "--binary",
        "--format",
        "jpeg",
        "--size",
        "256x256",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), out.to_str().unwrap());
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
    assert!(dir.path().join("one.jpg.json").exists());
}

fn write_jobs(path: &Path, n: usize) {
    let lines: Vec<String> = (0..n)
        .map(|i| {
            serde_json::json!({"id": format!("job-{i:03}"), "prompt": format!("scene {i}"), "size": "64x64", "format": "png", "seed": i})
                .to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn check_outputs(out: &Path, n: usize) {
    let names: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".partial")), "{names:?}");
    for i in 0..n {
        let img = format!("job-{i:03}-0.png");
        assert!(names.contains(&img), "missing {img}");
        assert!(
            names.contains(&format!("{img}.json")),
            "missing sidecar of {img}"
        );
        let bytes = std::fs::read(out.join(&img)).unwrap();
        assert_eq!(
            venice_image::Image::from_bytes(bytes.clone())
                .ok()
                .map(|i| (i.width(), i.height())),
            Some((64, 64)),
            "{img}"
        );
    }
    let pngs = names.iter().filter(|n| n.ends_with(".png")).count();
    assert_eq!(pngs, n, "no duplicates or strays: {names:?}");
    // Manifest: every job ends `done` exactly once.
    let manifest = std::fs::read_to_string(out.join("manifest.jsonl")).unwrap();
    let mut done: HashMap<String, usize> = HashMap::new();
    for line in manifest.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["event"] == "done" {
            *done
                .entry(v["job"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(done.len(), n);
    assert!(done.values().all(|c| *c == 1), "{done:?}");
}

#[test]
fn batch_resumes_after_kill_9_without_partials_or_duplicates() {
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    // Every request takes 150 ms, so the kill lands while jobs are in flight.
    server.set_fault_rate(venice_mock::FaultMix {
        seed: 1,
        latency: 1.0,
        latency_ms: 150,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    let out = dir.path().join("out");
    let n = 16;
    write_jobs(&jobs, n);
    // Kill times count from the first generation the mock sees: a loaded machine can
    // take longer than the whole batch to start the process and fetch the catalogue.
    for (seed, kill_after_ms) in [(1u64, 100u64), (2, 600)] {
        let _ = std::fs::remove_dir_all(&out);
        server.clear_requests();
        let mut child = against(&server)
            .args([
                "batch",
                jobs.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--concurrency",
                "2",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while !server
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/image/generate"))
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the batch sent no generation within a minute"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(kill_after_ms + seed * 37));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        common::settle(&server);
        let before: Vec<String> = server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/image/generate"))
            .map(|r| {
                r.body
                    .as_ref()
                    .and_then(|b| b["prompt"].as_str())
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        assert!(
            !before.is_empty() && before.len() < n,
            "kill landed mid-run: {}",
            before.len()
        );
        let saved_before: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().into_owned();
                n.ends_with(".png.json").then_some(n)
            })
            .collect();

        server.clear_requests();
        let (code, stdout, stderr) = run(against(&server).args([
            "batch",
            jobs.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--resume",
        ]));
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        check_outputs(&out, n);
        // Jobs saved before the kill were not requested (charged) again.
        let again: Vec<String> = server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/image/generate"))
            .map(|r| {
                r.body
                    .as_ref()
                    .and_then(|b| b["prompt"].as_str())
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        for sidecar in saved_before {
            let i: usize = sidecar[4..7].parse().unwrap();
            assert!(
                !again.contains(&format!("scene {i}")),
                "job {i} was charged twice"
            );
        }
    }
}

#[test]
fn batch_paces_itself_under_a_rate_limit_without_429s() {
    let rt = rt();
    // The provider limits inference per key and model (the catalogue and account calls
    // the batch makes first are not counted against it), and advertises the limit.
    let config = MockConfig {
        rate_limit: None,
        account: venice_mock::AccountConfig {
            model_rate_limits: Some(venice_mock::ModelRateLimits::new(5, Duration::from_secs(1))),
            ..venice_mock::AccountConfig::default()
        },
        ..MockConfig::default()
    };
    let server = rt.block_on(MockServer::start(config)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    let out = dir.path().join("out");
    let n = 12;
    write_jobs(&jobs, n);
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = run(against(&server).args([
        "batch",
        jobs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--concurrency",
        "4",
        "--json",
    ]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    check_outputs(&out, n);
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    let too_many = statuses.iter().filter(|s| **s == 429).count();
    // Seeded from the advertised limit, the first window is paced too.
    assert_eq!(too_many, 0, "{too_many} × 429 in {statuses:?}");
    // 12 jobs at 5 per window need 3 windows. The mock's windows are aligned to the
    // Unix epoch, so the first may already be nearly over when the batch starts: the
    // third begins at least one whole window after the start, never sooner.
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn max_cost_stops_starting_jobs_before_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    write_jobs(&jobs, 10);
    let out = dir.path().join("out");
    // venice-sd35 costs $0.01 per image: $0.035 allows 3 jobs.
    let (code, stdout, stderr) = run(bin().args([
        "batch",
        "--offline",
        jobs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--max-cost",
        "0.035",
        "--json",
    ]));
    assert_eq!(code, 5, "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["done"], 3);
    assert_eq!(v["skipped_budget"], 7);
    assert!(v["spent_usd"].as_f64().unwrap() <= 0.035);
}

#[test]
fn a_bad_jobs_file_is_a_usage_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    std::fs::write(
        &jobs,
        "{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"variants\":7}\n",
    )
    .unwrap();
    let (code, _, stderr) = run(bin().args([
        "batch",
        "--offline",
        jobs.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("line 2"), "{stderr}");
}
