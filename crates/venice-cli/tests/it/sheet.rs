//! `venice-image sheet DIR` and `batch --sheet` from the outside: one sheet for the
//! outputs of several commands, each sidecar's cost equal to the CLI's estimate,
//! `--embed`, `--open`, `--json`, refusals (no directory, nothing to show, somebody
//! else's index.html), and the sheet of a running batch kept current.
//! (The page in a browser: `sheet_browser.rs`.)
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use venice_mock::{Fault, MockConfig, MockServer};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn sidecar(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(format!("{path}.json")).unwrap()).unwrap()
}

fn estimate(args: &[&str]) -> f64 {
    let mut all = vec!["--offline"];
    all.extend_from_slice(args);
    all.push("--dry-run");
    let (code, stdout, stderr) = run(bin().args(&all));
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    v["estimated_cost_usd"].as_f64().unwrap()
}

#[test]
fn one_sheet_shows_the_outputs_of_several_commands_with_their_estimated_costs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let gen_args = ["generate", "a fox", "--variants", "2", "--size", "512x512"];
    let mut args = vec!["--offline"];
    args.extend_from_slice(&gen_args);
    args.extend_from_slice(&["--out", s(&out)]);
    let (code, stdout, stderr) = run(bin().args(&args));
    assert_eq!(code, 0, "{stderr}");
    let images: Vec<&str> = stdout.lines().collect();
    // Each sidecar records its share of the CLI's estimate, labelled as one.
    let total = estimate(&gen_args);
    for (i, image) in images.iter().enumerate() {
        let cost = &sidecar(image)["cost"];
        assert_eq!(cost["basis"], "estimate", "{cost}");
        assert_eq!(cost["priced_as"], "venice-sd35 x2");
        assert!(
            (cost["usd"].as_f64().unwrap() * 2.0 - total).abs() < 1e-12,
            "{i}: {cost}"
        );
    }
    let (code, upscaled, stderr) = run(bin().args([
        "--offline",
        "upscale",
        images[0],
        "--scale",
        "2",
        "--out",
        s(&out),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let upscaled = upscaled.trim();
    let cost = &sidecar(upscaled)["cost"];
    assert_eq!(cost["basis"], "estimate");
    assert_eq!(
        cost["usd"].as_f64().unwrap(),
        estimate(&["upscale", images[0], "--scale", "2"])
    );
    let (code, edited, stderr) = run(bin().args([
        "--offline",
        "edit",
        "make it night",
        images[1],
        "--out",
        s(&out),
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        sidecar(edited.trim())["cost"]["usd"].as_f64().unwrap(),
        estimate(&["edit", "make it night", images[1]])
    );
    let (code, opened, stderr) =
        run(bin().args(["--offline", "openai", "a heron", "--out", s(&out)]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        sidecar(opened.trim())["cost"]["usd"].as_f64().unwrap(),
        estimate(&["openai", "a heron"])
    );

    // A sheet needs neither credentials nor a server.
    let (code, stdout, stderr) = run(bin().args(["sheet", s(&out), "--json"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        Path::new(v["sheet"].as_str().unwrap()),
        out.join("index.html")
    );
    let t = &v["totals"];
    assert_eq!(
        (
            t["tiles"].as_u64(),
            t["images"].as_u64(),
            t["failed"].as_u64()
        ),
        (Some(5), Some(5), Some(0))
    );
    let expected = total
        + estimate(&["upscale", images[0], "--scale", "2"])
        + estimate(&["edit", "make it night", images[1]])
        + estimate(&["openai", "a heron"]);
    assert!(
        (t["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{t}"
    );
    assert_eq!(t["cost_estimated"], true);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for needle in ["a fox", "make it night", "a heron", "upscale", "x2", "edit"] {
        assert!(html.contains(needle), "{needle}");
    }
    // Thumbnails beside the page (the 512-pixel images are larger than one), referenced
    // relatively; no address outside the directory.
    assert!(html.contains("src=\"sheet/"), "relative thumbnails");
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(out.join("sheet").read_dir().unwrap().count() >= 4);
    // Written again, the same sheet (an unchanged directory).
    let (code, _, stderr) = run(bin().args(["sheet", s(&out)]));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn embed_inlines_the_thumbnails_so_the_page_travels_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) = run(bin().args([
        "--offline",
        "generate",
        "a kite",
        "--size",
        "1024x768",
        "--out",
        s(&out),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(bin().args(["sheet", s(&out), "--embed"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(Path::new(stdout.trim()), out.join("index.html"));
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("src=\"data:image/jpeg;base64,"), "inlined");
    assert!(!html.contains("src=\"sheet/"));
}

#[cfg(unix)]
#[test]
fn open_hands_the_sheet_to_the_viewer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) = run(bin().args(["--offline", "generate", "a boat", "--out", s(&out)]));
    assert_eq!(code, 0, "{stderr}");
    let (viewer, log) = recording_viewer(dir.path());
    let (code, _, stderr) =
        run(bin()
            .env("VENICE_IMAGE_OPENER", &viewer)
            .args(["sheet", s(&out), "--open"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().trim(),
        std::path::absolute(out.join("index.html"))
            .unwrap()
            .display()
            .to_string()
    );
}

#[test]
fn a_sheet_is_refused_where_it_would_show_nothing_or_replace_someone_elses_page() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(bin().args(["sheet", s(&dir.path().join("missing"))]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is not a directory"), "{stderr}");
    let (code, _, stderr) = run(bin().args(["sheet", s(dir.path())]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("holds no images, sidecars or batch manifest"),
        "{stderr}"
    );
    assert!(!dir.path().join("index.html").exists());

    let (code, _, stderr) =
        run(bin().args(["--offline", "generate", "a bee", "--out", s(dir.path())]));
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(dir.path().join("index.html"), "<p>my own page</p>").unwrap();
    let (code, _, stderr) = run(bin().args(["sheet", s(dir.path())]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("was not written by `venice-image sheet`"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("index.html")).unwrap(),
        "<p>my own page</p>"
    );
}

#[test]
fn unreadable_sidecars_and_images_are_warnings_and_still_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, stdout, stderr) =
        run(bin().args(["--offline", "generate", "a moth", "--out", s(d)]));
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(format!("{}.json", stdout.trim()), "{ torn").unwrap();
    std::fs::write(d.join("notes.png"), "not a png").unwrap();
    let (code, _, stderr) = run(bin().args(["sheet", s(d)]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning: cannot read the sidecar "),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: no preview of notes.png"),
        "{stderr}"
    );
    let html = std::fs::read_to_string(d.join("index.html")).unwrap();
    assert_eq!(html.matches("<article class=\"tile done\"").count(), 2);
    assert!(html.contains(">no preview</a>"));
}

/// The sheet of a running batch: written from the start with every job (the ones not
/// finished marked so), reloading itself, rewritten as jobs finish; at the end, final
/// and still. `--resume --sheet` turns a failed tile into an image.
#[test]
fn batch_sheet_is_kept_current_while_the_batch_runs() {
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    // Job a: a 503 on every attempt (not charged); jobs b, c, d: slow.
    let slow = Fault::Latency(Duration::from_millis(900));
    server.push_faults(vec![
        Fault::Status503,
        Fault::Status503,
        Fault::Status503,
        slow.clone(),
        slow.clone(),
        slow,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    let lines: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| {
            serde_json::json!({"id": id, "prompt": format!("scene {id}"), "size": "64x64", "seed": 1})
                .to_string()
        })
        .collect();
    std::fs::write(&jobs, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    let index = out.join("index.html");
    let mut child = against(&server)
        .args([
            "batch",
            s(&jobs),
            "--out",
            s(&out),
            "--concurrency",
            "1",
            "--sheet",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // While it runs: every job has a tile; some not finished; the page reloads itself.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen_running = false;
    while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        if let Ok(html) = std::fs::read_to_string(&index)
            && html.contains("data-total=\"pending\"")
        {
            assert!(html.contains("http-equiv=\"refresh\""));
            assert!(html.contains("The batch is running"));
            assert_eq!(html.matches("<article class=\"tile").count(), 4, "{html}");
            seen_running = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(seen_running, "never saw the running sheet");
    assert!(
        stderr.contains(&format!("contact sheet: {}", index.display())),
        "{stderr}"
    );
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(!html.contains("http-equiv=\"refresh\"") && !html.contains("data-total=\"pending\""));
    assert_eq!(html.matches("<article class=\"tile done\"").count(), 3);
    assert_eq!(html.matches("<article class=\"tile failed\"").count(), 1);
    assert!(html.contains("API error 503"), "the failure's reason");
    assert!(html.contains("scene a"), "a failed job keeps its prompt");

    let (code, _, stderr) =
        run(against(&server).args(["batch", s(&jobs), "--out", s(&out), "--resume", "--sheet"]));
    assert_eq!(code, 0, "{stderr}");
    let html = std::fs::read_to_string(&index).unwrap();
    assert_eq!(html.matches("<article class=\"tile done\"").count(), 4);
    assert!(!html.contains("tile failed"));
}
