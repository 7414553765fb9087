//! `upscale`, `edit`, `multi-edit` and `remove-bg` through the real binary: offline mode,
//! output sizes, formats and alpha, sidecars, `--json`, `--dry-run` and exit codes.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::{Path, PathBuf};

use common::*;
use venice_mock::images::{OutputFormat, encode, render};
use venice_mock::{MockConfig, MockServer};

/// A real PNG input image of `w`x`h` written into `dir`.
fn input(dir: &Path, name: &str, w: u32, h: u32) -> PathBuf {
    let img = image::DynamicImage::ImageRgb8(render("cli", name, 1, 0, w, h));
    let bytes = encode(&img, OutputFormat::Png, None).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn sidecar(image: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(format!("{image}.json")).unwrap()).unwrap()
}

#[test]
fn upscale_offline_writes_the_scaled_png_and_a_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let src = input(dir.path(), "photo.png", 300, 256);
    let out = dir.path().join("out");
    let (code, stdout, stderr) = run(bin().args([
        "upscale",
        "--offline",
        s(&src),
        "--scale",
        "4",
        "--out",
        s(&out),
    ]));
    assert_eq!(code, 0, "stderr: {stderr}");
    let path = stdout.trim();
    assert!(path.ends_with("photo-x4-0.png"), "{path}");
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        venice_image::Image::from_bytes(bytes.clone())
            .ok()
            .map(|i| (i.width(), i.height())),
        Some((1200, 1024))
    );
    let meta = sidecar(path);
    assert_eq!(meta["operation"], "upscale");
    assert_eq!(
        (meta["width"].as_u64(), meta["height"].as_u64()),
        (Some(1200), Some(1024))
    );
    assert_eq!(meta["options"]["scale"], 4.0);
    assert_eq!(meta["inputs"][0]["width"], 300);
    assert_eq!(meta["content_type"], "image/png");
    // A second run does not overwrite the first result.
    let (code, again, _) = run(bin().args(["upscale", "--offline", s(&src), "--out", s(&out)]));
    assert_eq!(code, 0);
    assert_ne!(again.trim(), path);
}

#[test]
fn edit_json_output_honours_format_and_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let src = input(dir.path(), "harbour.png", 320, 256);
    let file = dir.path().join("edited.webp");
    let (code, stdout, stderr) = run(bin().args([
        "edit",
        "--offline",
        "make it dusk",
        s(&src),
        "--format",
        "webp",
        "--aspect",
        "16:9",
        "--json",
        "--out",
        s(&file),
    ]));
    assert_eq!(code, 0, "stderr: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["operation"], "edit");
    assert_eq!(v["format"], "webp");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(320), Some(180))
    );
    assert_eq!(v["path"], s(&file));
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[8..12], b"WEBP");
    let meta = sidecar(s(&file));
    assert_eq!(meta["prompt"], "make it dusk");
    assert_eq!(meta["model"], "firered-image-edit");
    assert_eq!(meta["options"]["aspect_ratio"], "16:9");
}

#[test]
fn multi_edit_and_remove_bg_offline() {
    let dir = tempfile::tempdir().unwrap();
    let base = input(dir.path(), "base.png", 256, 256);
    let layer = input(dir.path(), "layer.png", 400, 300);
    let (code, stdout, stderr) = run(bin().args([
        "multi-edit",
        "--offline",
        "merge them",
        s(&base),
        s(&layer),
        "--format",
        "jpeg",
        "--out",
        s(dir.path()),
    ]));
    assert_eq!(code, 0, "stderr: {stderr}");
    let bytes = std::fs::read(stdout.trim()).unwrap();
    assert_eq!(&bytes[..3], [0xFF, 0xD8, 0xFF]);
    assert_eq!(
        venice_image::Image::from_bytes(bytes.clone())
            .ok()
            .map(|i| (i.width(), i.height())),
        Some((256, 256))
    );
    assert_eq!(
        sidecar(stdout.trim())["inputs"].as_array().unwrap().len(),
        2
    );

    let (code, stdout, stderr) =
        run(bin().args(["remove-bg", "--offline", s(&layer), "--out", s(dir.path())]));
    assert_eq!(code, 0, "stderr: {stderr}");
    let path = stdout.trim();
    assert!(path.ends_with("layer-nobg-0.png"), "{path}");
    let png = std::fs::read(path).unwrap();
    assert_eq!(png[25], 6, "PNG colour type RGBA");
    let decoded = image::load_from_memory(&png).unwrap();
    assert!(decoded.color().has_alpha());
    assert_eq!(sidecar(path)["has_alpha"], true);
}

#[test]
fn dry_run_checks_inputs_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = input(dir.path(), "p.png", 256, 256);
    let out = dir.path().join("none");
    let (code, stdout, stderr) = run(bin().args([
        "edit",
        "--offline",
        "x",
        s(&src),
        "--dry-run",
        "--out",
        s(&out),
    ]));
    assert_eq!(code, 0, "stderr: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["dry_run"], true);
    assert!(v["endpoint"].as_str().unwrap().ends_with("/image/edit"));
    assert_eq!(v["inputs"][0]["width"], 256);
    assert!(!out.exists());
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let small = input(dir.path(), "small.png", 100, 100);
    let ok = input(dir.path(), "ok.png", 256, 256);
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "not an image at all").unwrap();
    // PNG by its first bytes, broken after them: only the server can tell.
    let corrupt = dir.path().join("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nnot an image after all").unwrap();
    let d = s(dir.path());
    for (args, want) in [
        (vec!["upscale", "--offline", "missing.png"], 2),
        (vec!["upscale", "--offline", s(&ok), "--scale", "5"], 2),
        (vec!["upscale", "--offline", "https://example.com/a.png"], 2),
        (vec!["edit", "--offline", "x", s(&small)], 2),
        (vec!["edit", "--offline", "x", s(&ok), "--aspect", "5:4"], 2),
        (vec!["remove-bg", "--offline", s(&text), "--out", d], 2),
        (vec!["remove-bg", "--offline", s(&corrupt), "--out", d], 3),
        (
            vec![
                "edit",
                "--offline",
                "x",
                s(&ok),
                "--model",
                "no-such-model",
                "--out",
                d,
            ],
            3,
        ),
    ] {
        let (code, _, stderr) = run(bin().args(&args));
        assert_eq!(code, want, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
    }
    let (_, _, stderr) = run(bin().args(["remove-bg", "--offline", s(&text), "--out", d]));
    assert!(
        stderr.contains("is not a PNG, JPEG or WebP image"),
        "{stderr}"
    );
    let (_, _, stderr) = run(bin().args(["remove-bg", "--offline", s(&corrupt), "--out", d]));
    assert!(stderr.contains("CORRUPTED_IMAGE"), "{stderr}");

    // Out of credit: 402 → exit 4.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(MockServer::start(MockConfig {
            api_key_balance: Some(0.0),
            ..MockConfig::default()
        }))
        .unwrap();
    let (code, _, stderr) = run(bin()
        .env("VENICE_API_KEY", venice_mock::DEFAULT_API_KEY)
        .args([
            "--base-url",
            &server.base_url(),
            "remove-bg",
            s(&ok),
            "--out",
            d,
        ]));
    assert_eq!(code, 4, "{stderr}");
}
