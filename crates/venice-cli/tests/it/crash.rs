//! Crash safety of `batch`: for several seeds, the CLI is killed with SIGKILL at
//! seeded random points, repeatedly (also while resuming), then `--resume` finishes.
//! Afterwards there are no `.partial` files, no duplicate or stray images, every job is
//! `done` exactly once in a manifest whose every line parses and whose files exist, and a
//! job whose files were on disk at a kill was never requested (charged) again.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use venice_mock::{FaultMix, MockConfig, MockServer};

use crate::common;

const JOBS: usize = 30;
const KILLS_PER_SEED: usize = 3;

/// splitmix64: reproducible kill points per seed.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn batch(server: &MockServer, jobs: &Path, out: &Path, resume: bool) -> Command {
    let mut c = Command::cargo_bin("venice-image").unwrap();
    c.env_remove("VENICE_BASE_URL")
        .env("VENICE_API_KEY", venice_mock::DEFAULT_API_KEY)
        .args(["--base-url", &server.base_url(), "batch"])
        .arg(jobs)
        .arg("--out")
        .arg(out)
        .args(["--concurrency", "3"]);
    if resume {
        c.arg("--resume");
    }
    c
}

/// Jobs whose image and sidecar are both on disk.
fn saved(out: &Path) -> HashSet<usize> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return HashSet::new();
    };
    let names: HashSet<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    (0..JOBS)
        .filter(|i| {
            let img = format!("job-{i:03}-0.png");
            names.contains(&img) && names.contains(&format!("{img}.json"))
        })
        .collect()
}

/// Job indices requested since the log was last cleared.
fn requested(server: &MockServer) -> Vec<usize> {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/image/generate"))
        .map(|r| {
            let p = r.body.as_ref().and_then(|b| b["prompt"].as_str()).unwrap();
            p.strip_prefix("crash scene ").unwrap().parse().unwrap()
        })
        .collect()
}

fn check_final(out: &Path) {
    let names: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".partial")), "{names:?}");
    let pngs: Vec<&String> = names.iter().filter(|n| n.ends_with(".png")).collect();
    assert_eq!(pngs.len(), JOBS, "duplicates or strays: {pngs:?}");
    assert_eq!(saved(out).len(), JOBS);
    for i in 0..JOBS {
        let bytes = std::fs::read(out.join(format!("job-{i:03}-0.png"))).unwrap();
        assert_eq!(
            venice_image::Image::from_bytes(bytes.clone())
                .ok()
                .map(|i| (i.width(), i.height())),
            Some((64, 64)),
            "{i}"
        );
    }
    let text = std::fs::read_to_string(out.join("manifest.jsonl")).unwrap();
    assert!(text.ends_with('\n'), "torn last line left behind");
    let mut done: HashMap<String, usize> = HashMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("manifest line {line:?} does not parse: {e}"));
        if v["event"] == "done" {
            for f in v["files"].as_array().unwrap() {
                assert!(Path::new(f.as_str().unwrap()).exists(), "{v}");
            }
            *done
                .entry(v["job"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(done.len(), JOBS, "{done:?}");
    assert!(done.values().all(|c| *c == 1), "{done:?}");
}

#[test]
fn kill_9_at_random_points_then_resume_completes_every_job_once() {
    let started = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    // Most requests take 60 ms, so kills land with requests in flight and saves under way.
    server.set_fault_rate(FaultMix {
        seed: 9,
        latency: 0.7,
        latency_ms: 60,
        ..FaultMix::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    let lines: Vec<String> = (0..JOBS)
        .map(|i| {
            serde_json::json!({"id": format!("job-{i:03}"), "prompt": format!("crash scene {i}"),
                "size": "64x64", "format": "png", "seed": i})
            .to_string()
        })
        .collect();
    std::fs::write(&jobs, lines.join("\n") + "\n").unwrap();

    let mut mid_run_kills = 0;
    for seed in [11u64, 22, 33, 44] {
        let out = dir.path().join(format!("out-{seed}"));
        let mut rng = seed;
        let mut on_disk = HashSet::new();
        for k in 0..KILLS_PER_SEED {
            server.clear_requests();
            let mut child = batch(&server, &jobs, &out, k > 0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let delay = 80 + next(&mut rng) % 600;
            std::thread::sleep(Duration::from_millis(delay));
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            common::settle(&server);
            for i in requested(&server) {
                assert!(
                    !on_disk.contains(&i),
                    "seed {seed} kill {k}: job {i} was saved before and requested again"
                );
            }
            let now = saved(&out);
            assert!(
                now.is_superset(&on_disk),
                "seed {seed}: saved files vanished"
            );
            if !now.is_empty() && now.len() < JOBS && now.len() > on_disk.len() {
                mid_run_kills += 1;
            }
            on_disk = now;
        }
        server.clear_requests();
        let o = batch(&server, &jobs, &out, true).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "seed {seed}: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let again = requested(&server);
        for i in &again {
            assert!(!on_disk.contains(i), "seed {seed}: job {i} charged twice");
        }
        let unique: HashSet<_> = again.iter().collect();
        assert_eq!(unique.len(), again.len(), "seed {seed}: a job sent twice");
        check_final(&out);
    }
    assert!(
        mid_run_kills >= 2,
        "only {mid_run_kills} kills landed mid-batch"
    );
    eprintln!("kill -9 / resume, 4 seeds: {:?}", started.elapsed());
}
