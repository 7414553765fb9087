//! The request side of the command line, through the real binary against a mock started
//! here: every request field (style references, steps, LoRA, the OpenAI-compatible
//! endpoint), inputs refused before upload, cost estimates and `--max-cost` for every
//! paid operation, `--style` checked, clap-level conflicts, an existing `--out`,
//! `--open`, and `models --json --as-sent`.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::{Path, PathBuf};

use common::*;
use venice_mock::images::{OutputFormat, encode, render};
use venice_mock::{Catalog, MockConfig, MockServer, RecordedRequest};

fn png(dir: &Path, name: &str, w: u32, h: u32) -> PathBuf {
    let img = image::DynamicImage::ImageRgb8(render("cli", name, 1, 0, w, h));
    let p = dir.join(name);
    std::fs::write(&p, encode(&img, OutputFormat::Png, None).unwrap()).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn mock() -> (tokio::runtime::Runtime, MockServer) {
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    (rt, server)
}

/// The requests the mock received on paths ending with `suffix`.
fn sent(server: &MockServer, suffix: &str) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(suffix))
        .collect()
}

fn first_line(stderr: &str) -> &str {
    stderr.lines().next().unwrap_or("")
}

#[test]
fn style_references_and_the_rare_fields_reach_the_wire_as_the_spec_says() {
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    let style = png(dir.path(), "style.png", 64, 64);
    let reference = format!("{}::0.7", s(&style));
    let (code, stdout, stderr) = run(against(&server).args([
        "generate",
        "a harbour",
        "-m",
        "krea-v2-large",
        "--style-reference",
        &reference,
        "--style-reference",
        s(&style),
        "--lora-strength",
        "40",
        "--steps",
        "10",
        "--disable-prompt-optimization-thinking",
        "--out",
        s(dir.path()),
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.trim().ends_with(".webp"), "{stdout}");
    let requests = sent(&server, "/image/generate");
    assert_eq!(requests.len(), 1);
    let body = requests[0].body.as_ref().unwrap();
    let refs = body["style_references"].as_array().unwrap();
    assert_eq!(refs.len(), 2);
    assert_eq!(refs[0]["strength"], 0.7);
    assert!(refs[1].get("strength").is_none(), "{}", refs[1]);
    let b64 = refs[0]["image"].as_str().unwrap();
    assert!(b64.starts_with("iVBORw0KGgo"), "a PNG as base64: {b64:.20}");
    assert_eq!(body["lora_strength"], 40);
    assert_eq!(body["steps"], 10);
    assert_eq!(body["disable_prompt_optimization_thinking"], true);
    // Every request (the catalogue read included) validates against the spec.
    server.assert_requests_conform();
}

#[test]
fn more_style_references_than_the_model_takes_are_refused_before_sending() {
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    let style = png(dir.path(), "style.png", 64, 64);
    let mut cmd = against(&server);
    cmd.args(["generate", "p", "-m", "krea-v2-large"]);
    for _ in 0..4 {
        cmd.args(["--style-reference", s(&style)]);
    }
    let (code, _, stderr) = run(&mut cmd);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        first_line(&stderr),
        "error: invalid request: `style_references`: model krea-v2-large accepts at most 3 style references, got 4"
    );
    assert!(sent(&server, "/image/generate").is_empty());
    // A text file is refused by name, before anything is read by the server.
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "twenty-three bytes here").unwrap();
    let arg = format!("{}::0.5", s(&notes));
    let (code, _, stderr) =
        run(against(&server).args(["generate", "p", "--style-reference", &arg]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        first_line(&stderr),
        format!(
            "error: {} is not a PNG, JPEG or WebP image (checked by its first bytes); nothing was uploaded",
            s(&notes)
        )
    );
}

#[test]
fn batch_job_lines_take_the_same_fields() {
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    let style = png(dir.path(), "style.png", 64, 64);
    let jobs = dir.path().join("jobs.jsonl");
    let line = serde_json::json!({
        "id": "a", "prompt": "a fox", "model": "krea-v2-large",
        "style_references": [format!("{}::0.3", s(&style))],
        "steps": 12, "lora_strength": 5, "disable_prompt_optimization_thinking": true,
    });
    // A relative reference is taken from the jobs file's directory (the binary runs in
    // another one), so a jobs file and its images can move together.
    let relative = serde_json::json!({
        "id": "b", "prompt": "a hen", "model": "krea-v2-large",
        "style_references": ["style.png::0.6"],
    });
    std::fs::write(&jobs, format!("{line}\n{relative}\n")).unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) = run(against(&server)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["batch", s(&jobs), "--out", s(&out)]));
    assert_eq!(code, 0, "{stderr}");
    let requests = sent(&server, "/image/generate");
    assert_eq!(requests.len(), 2);
    let mut strengths: Vec<f64> = requests
        .iter()
        .map(|r| {
            r.body.as_ref().unwrap()["style_references"][0]["strength"]
                .as_f64()
                .unwrap()
        })
        .collect();
    strengths.sort_by(f64::total_cmp);
    assert_eq!(strengths, [0.3, 0.6]);
    let body = requests
        .iter()
        .find_map(|r| r.body.as_ref().filter(|b| b["prompt"] == "a fox"))
        .unwrap();
    assert_eq!(body["style_references"][0]["strength"], 0.3);
    assert_eq!(
        (&body["steps"], &body["lora_strength"]),
        (&serde_json::json!(12), &serde_json::json!(5))
    );
    assert_eq!(body["disable_prompt_optimization_thinking"], true);
    server.assert_requests_conform();
}

#[test]
fn a_text_file_is_refused_before_upload_by_every_operation() {
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "twenty-three bytes here").unwrap();
    assert_eq!(std::fs::metadata(&notes).unwrap().len(), 23);
    let good = png(dir.path(), "good.png", 300, 256);
    let expected = format!(
        "error: {} is not a PNG, JPEG or WebP image (checked by its first bytes); nothing was uploaded",
        s(&notes)
    );
    for args in [
        vec!["upscale", s(&notes)],
        vec!["edit", "make it dusk", s(&notes)],
        vec!["multi-edit", "merge", s(&good), s(&notes)],
        vec!["remove-bg", s(&notes)],
        vec!["upscale", s(&notes), "--dry-run"],
    ] {
        let (code, _, stderr) = run(against(&server).args(&args));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(first_line(&stderr), expected, "{args:?}");
    }
    assert!(sent(&server, "/image/upscale").is_empty());
    assert!(sent(&server, "/image/edit").is_empty());
    assert!(sent(&server, "/image/multi-edit").is_empty());
    assert!(sent(&server, "/image/background-remove").is_empty());
}

fn dry_run(server: &MockServer, args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = run(against(server).args(args).arg("--dry-run"));
    assert_eq!(code, 0, "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn dry_runs_show_the_input_size_and_the_cost_of_every_paid_operation() {
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    let img = png(dir.path(), "photo.png", 300, 256);
    let p = s(&img);
    let cost = |v: &serde_json::Value| v["estimated_cost_usd"].as_f64().unwrap();

    let v = dry_run(&server, &["upscale", p, "--scale", "4"]);
    assert_eq!(
        (
            v["inputs"][0]["width"].as_u64(),
            v["inputs"][0]["height"].as_u64()
        ),
        (Some(300), Some(256))
    );
    assert_eq!(
        (cost(&v), v["priced_as"].as_str()),
        (0.08, Some("upscaler 4x"))
    );
    let v = dry_run(&server, &["upscale", p]);
    assert_eq!(cost(&v), 0.02);
    let v = dry_run(&server, &["edit", "dusk", p]);
    assert_eq!(
        (cost(&v), v["priced_as"].as_str()),
        (0.04, Some("firered-image-edit 1K"))
    );
    let v = dry_run(
        &server,
        &[
            "edit",
            "dusk",
            p,
            "-m",
            "nano-banana-pro-edit",
            "--resolution",
            "4K",
        ],
    );
    assert_eq!(cost(&v), 0.35);
    let v = dry_run(
        &server,
        &[
            "multi-edit",
            "merge",
            p,
            p,
            "-m",
            "gpt-image-2-edit",
            "--quality",
            "low",
            "--resolution",
            "2K",
        ],
    );
    // 0.03 for low quality at 2K, plus one input image beyond the one included.
    assert!((cost(&v) - (0.03 + 0.0092)).abs() < 1e-9, "{v}");
    assert_eq!(v["priced_as"], "gpt-image-2-edit 2K + 1 extra input image");
    let v = dry_run(
        &server,
        &["multi-edit", "merge", p, p, p, "-m", "flux-2-max-edit"],
    );
    assert!((cost(&v) - (0.12 + 2.0 * 0.0345)).abs() < 1e-9, "{v}");
    let v = dry_run(&server, &["remove-bg", p]);
    assert_eq!(
        (cost(&v), v["priced_as"].as_str()),
        (0.03, Some("bria-bg-remover"))
    );
    let v = dry_run(&server, &["openai", "a fox", "-m", "nano-banana-pro"]);
    assert_eq!(
        (cost(&v), v["priced_as"].as_str()),
        (0.18, Some("nano-banana-pro"))
    );
    let v = dry_run(&server, &["openai", "a fox"]);
    assert_eq!(v["priced_as"], "z-image-turbo", "the default image model");
    for op in [
        "/image/upscale",
        "/image/edit",
        "/image/multi-edit",
        "/image/background-remove",
        "/images/generations",
    ] {
        assert!(
            sent(&server, op).is_empty(),
            "{op}: a dry run sends nothing"
        );
    }
}

#[test]
fn max_cost_refuses_every_paid_operation_above_the_cap() {
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    let img = png(dir.path(), "photo.png", 300, 256);
    let p = s(&img);
    let out = dir.path().join("out");
    let o = s(&out);
    for (args, line) in [
        (vec!["upscale", p, "--scale", "4"], "$0.0800 (upscaler 4x)"),
        (vec!["edit", "dusk", p], "$0.0400 (firered-image-edit 1K)"),
        (
            vec!["multi-edit", "merge", p, p],
            "$0.0400 (firered-image-edit 1K)",
        ),
        (vec!["remove-bg", p], "$0.0300 (bria-bg-remover)"),
        (
            vec!["openai", "a fox", "-m", "nano-banana-pro"],
            "$0.1800 (nano-banana-pro)",
        ),
        (
            vec!["generate", "a fox", "-m", "nano-banana-pro"],
            "$0.1800 (nano-banana-pro x1)",
        ),
    ] {
        let (code, _, stderr) =
            run(against(&server)
                .args(&args)
                .args(["--max-cost", "0.01", "--out", o]));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(
            first_line(&stderr),
            format!(
                "error: the estimated cost, {line}, exceeds --max-cost $0.0100; nothing was sent"
            ),
            "{args:?}"
        );
    }
    let paid = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(paid, 0, "nothing paid was sent");
    // At or under the cap, it runs.
    let (code, _, stderr) =
        run(against(&server).args(["upscale", p, "--max-cost", "0.02", "--out", o]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(sent(&server, "/image/upscale").len(), 1);
}

#[test]
fn an_unknown_style_is_refused_with_suggestions_before_spending() {
    let (_rt, server) = mock();
    let styles = venice_mock::STYLES;
    let real = styles[0];
    let typo = format!("{}x", real.to_lowercase());
    let (code, _, stderr) = run(against(&server).args(["generate", "p", "--style", &typo]));
    assert_eq!(code, 2, "{stderr}");
    let line = first_line(&stderr);
    assert!(
        line.starts_with(&format!(
            "error: unknown style \"{typo}\" (see `venice-image styles`); did you mean \"{real}\""
        )),
        "{line}"
    );
    assert!(sent(&server, "/image/generate").is_empty());
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) =
        run(against(&server).args(["generate", "p", "--style", real, "--out", s(dir.path())]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(sent(&server, "/image/generate").len(), 1);
}

#[test]
fn a_batch_job_with_an_unknown_style_stops_the_batch_before_spending() {
    let (_rt, server) = mock();
    let real = venice_mock::STYLES[0];
    let typo = format!("{}x", real.to_lowercase());
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    std::fs::write(
        &jobs,
        format!(
            "{{\"prompt\": \"a\", \"style\": {real:?}}}\n{{\"id\": \"fox\", \"prompt\": \"b\", \"style\": {typo:?}}}\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) =
        run(against(&server).args(["batch", s(&jobs), "--out", s(&out), "--ignore-balance"]));
    assert_eq!(code, 2, "{stderr}");
    let line = first_line(&stderr);
    assert!(
        line.starts_with(&format!(
            "error: job fox: unknown style \"{typo}\" (see `venice-image styles`); did you mean \"{real}\""
        )),
        "{line}"
    );
    assert!(sent(&server, "/image/generate").is_empty());
}

#[test]
fn contradictory_flags_are_usage_errors_and_negative_numbers_parse() {
    for (args, line) in [
        (
            vec!["generate", "p", "--safe-mode", "--no-safe-mode"],
            "error: the argument '--safe-mode' cannot be used with '--no-safe-mode'",
        ),
        (
            vec!["edit", "p", "in.png", "--no-safe-mode", "--safe-mode"],
            "error: the argument '--no-safe-mode' cannot be used with '--safe-mode'",
        ),
    ] {
        let (code, _, stderr) = run(bin().arg("--offline").args(&args));
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(first_line(&stderr), line, "{args:?}");
    }
    // Parsed, then refused by the library's rule (not by clap as an unknown flag).
    let (code, _, stderr) = run(bin().args(["--offline", "generate", "p", "--cfg-scale", "-1"]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        first_line(&stderr),
        "error: invalid request: `cfg_scale`: must be in (0, 20], got -1"
    );
    let (code, _, stderr) =
        run(bin().args(["--offline", "generate", "p", "--lora-strength", "-5"]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        first_line(&stderr),
        "error: invalid request: `lora_strength`: must be in 0..=100, got -5"
    );
}

#[test]
fn the_openai_command_sends_every_field_and_refuses_n_above_one() {
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fox.webp");
    let (code, stdout, stderr) = run(against(&server).args([
        "openai",
        "a red fox",
        "-m",
        "venice-sd35",
        "--size",
        "512x512",
        "--output-format",
        "webp",
        "--response-format",
        "url",
        "--moderation",
        "low",
        "--n",
        "1",
        "--quality",
        "hd",
        "--style",
        "vivid",
        "--background",
        "opaque",
        "--output-compression",
        "80",
        "--user",
        "u-1",
        "--out",
        s(&out),
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), s(&out));
    let saved = image::open(&out).unwrap();
    assert_eq!((saved.width(), saved.height()), (512, 512));
    let requests = sent(&server, "/images/generations");
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].body.as_ref().unwrap(),
        &serde_json::json!({
            "prompt": "a red fox", "model": "venice-sd35", "size": "512x512",
            "output_format": "webp", "response_format": "url", "moderation": "low", "n": 1,
            "quality": "hd", "style": "vivid", "background": "opaque",
            "output_compression": 80, "user": "u-1"
        })
    );
    server.assert_requests_conform();
    let (code, _, stderr) = run(against(&server).args(["openai", "x", "--n", "2"]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        first_line(&stderr),
        "error: invalid request: `n`: must be 1 (Venice returns one image per request), got 2"
    );
    assert_eq!(sent(&server, "/images/generations").len(), 1);
}

/// The provider answers 400 "model is required" on `/images/generations` without a
/// model: without `--model` the CLI names the catalogue's default model, shows it in a
/// dry run, and the request carries it.
#[test]
fn openai_without_a_model_names_the_catalogue_default() {
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    let v = dry_run(&server, &["openai", "a fox"]);
    assert_eq!(v["request"]["model"], "z-image-turbo", "{v}");
    assert!(sent(&server, "/images/generations").is_empty());
    let out = dir.path().join("fox.png");
    let (code, stdout, stderr) =
        run(against(&server).args(["openai", "a fox", "--size", "256x256", "--out", s(&out)]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), s(&out));
    let requests = sent(&server, "/images/generations");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body.as_ref().unwrap()["model"], "z-image-turbo");
    assert_eq!(requests[0].status, 200);
    server.assert_requests_conform();
}

#[test]
fn an_existing_out_file_is_refused_unless_forced() {
    let (_rt, server) = mock();
    let dir = tempfile::tempdir().unwrap();
    let img = png(dir.path(), "photo.png", 300, 256);
    let out = dir.path().join("big.png");
    std::fs::write(&out, b"precious").unwrap();
    let (code, _, stderr) = run(against(&server).args(["upscale", s(&img), "--out", s(&out)]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        first_line(&stderr),
        format!(
            "error: {} already exists; pass --force to replace it, or choose another --out (nothing was sent)",
            s(&out)
        )
    );
    assert!(sent(&server, "/image/upscale").is_empty());
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    let (code, stdout, stderr) =
        run(against(&server).args(["upscale", s(&img), "--out", s(&out), "--force"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), s(&out));
    assert_eq!(image::open(&out).unwrap().width(), 600);
    // The same for generate.
    let gen_out = dir.path().join("cat.webp");
    std::fs::write(&gen_out, b"precious").unwrap();
    let (code, _, stderr) = run(against(&server).args(["generate", "a cat", "--out", s(&gen_out)]));
    assert_eq!(code, 2, "{stderr}");
    assert!(first_line(&stderr).ends_with(
        "already exists; pass --force to replace it, or choose another --out (nothing was sent)"
    ));
    let (code, _, stderr) =
        run(against(&server).args(["generate", "a cat", "--out", s(&gen_out), "--force"]));
    assert_eq!(code, 0, "{stderr}");
    assert_ne!(std::fs::read(&gen_out).unwrap(), b"precious");
}

#[cfg(unix)]
#[test]
fn open_hands_each_saved_image_to_the_viewer() {
    let dir = tempfile::tempdir().unwrap();
    let (viewer, log) = recording_viewer(dir.path());
    let out = dir.path().join("out");
    let (code, stdout, stderr) = run(bin().env("VENICE_IMAGE_OPENER", &viewer).args([
        "--offline",
        "generate",
        "a fox",
        "--variants",
        "2",
        "--open",
        "--out",
        s(&out),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let saved: Vec<&str> = stdout.lines().collect();
    assert_eq!(saved.len(), 2);
    let opened = std::fs::read_to_string(&log).unwrap();
    let expected: Vec<String> = saved
        .iter()
        .map(|p| std::path::absolute(p).unwrap().display().to_string())
        .collect();
    assert_eq!(opened.lines().collect::<Vec<_>>(), expected);
    // A viewer that cannot be started is a warning; the image is saved anyway.
    let (code, stdout, stderr) = run(bin()
        .env("VENICE_IMAGE_OPENER", dir.path().join("no-such-viewer"))
        .args([
            "--offline",
            "remove-bg",
            s(&png(dir.path(), "p.png", 300, 256)),
            "--open",
            "--out",
            s(&out),
        ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(Path::new(stdout.trim()).is_file());
    assert!(stderr.starts_with("warning: could not open "), "{stderr}");
}

#[test]
fn models_as_sent_is_the_catalogue_byte_for_byte_and_round_trips_through_the_mock() {
    let (rt, server) = mock();
    let (code, first, stderr) = run(against(&server).args(["models", "--json", "--as-sent"]));
    assert_eq!(code, 0, "{stderr}");
    let value: serde_json::Value = serde_json::from_str(&first).unwrap();
    let kinds: std::collections::BTreeSet<&str> = value["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["type"].as_str())
        .collect();
    assert!(
        ["image", "inpaint", "upscale"]
            .iter()
            .all(|k| kinds.contains(k)),
        "every model type: {kinds:?}"
    );
    // Served again by a mock fed the captured file, the catalogue is the same bytes.
    let captured = Catalog::from_models_response(&value).unwrap();
    let config = MockConfig {
        catalogue: Some(captured),
        ..MockConfig::default()
    };
    let again = rt.block_on(MockServer::start(config)).unwrap();
    let (code, second, stderr) = run(against(&again).args(["models", "--json", "--as-sent"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(first, second);
}

#[test]
fn models_as_sent_failures_are_api_errors_with_the_base_url_hint() {
    let (_rt, server) = mock();
    let wrong = format!("{}/nope", server.base_url());
    let (code, stdout, stderr) = run(bin()
        .env("VENICE_API_KEY", venice_mock::DEFAULT_API_KEY)
        .args(["--base-url", &wrong, "models", "--json", "--as-sent"]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty(), "nothing printed: {stdout}");
    assert_eq!(
        first_line(&stderr),
        "error: API error 404 NOT_FOUND: Not found (40-byte body)"
    );
    assert!(
        stderr.contains("has no such endpoint: check --base-url"),
        "the hint: {stderr}"
    );
}

#[test]
fn the_catalogue_and_the_styles_need_no_credentials_and_paid_commands_do() {
    let (_rt, server) = mock();
    let base = server.base_url();
    for command in [
        vec!["models"],
        vec!["styles"],
        vec!["models", "--json", "--as-sent"],
    ] {
        let (code, stdout, stderr) = run(bin().args(["--base-url", &base]).args(&command));
        assert_eq!(code, 0, "{command:?}: {stderr}");
        assert!(!stdout.is_empty(), "{command:?}");
    }
    let sent_auth = server
        .requests()
        .iter()
        .filter(|r| {
            r.headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        })
        .count();
    assert_eq!(sent_auth, 0, "nothing to sign in with, nothing sent");
    let (code, _, stderr) = run(bin().args(["--base-url", &base, "generate", "p"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(first_line(&stderr).starts_with("error: no credentials: set VENICE_API_KEY"));
}
