//! Offline images say what was asked: OCR (Debian's `tesseract-ocr`, installed by
//! `.ci/run`; the test is `#[ignore = "needs tesseract"]` and fails, saying how to install it, when asked to run without it) reads the prompt,
//! the model, the size and the seed back from the text the embedded mock draws, in each
//! format; the image keeps the requested format and dimensions, and is deterministic.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::process::{Command, Stdio};

use common::*;

/// The text tesseract reads in `image`, whitespace collapsed.
fn ocr(image: &str) -> String {
    let out = match Command::new("tesseract")
        .args([image, "stdout"])
        .stderr(Stdio::null())
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!(
            "`tesseract` is needed by this test and does not run ({e}). Install it (Debian: \
             `apt-get install -y tesseract-ocr`; `.ci/run` does). The test fails rather than \
             pass without reading."
        ),
    };
    assert!(out.status.success(), "tesseract failed on {image}");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
#[ignore = "needs tesseract"]
fn ocr_reads_the_request_back_from_an_offline_image() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let prompt = "two cats playing chess on a rainy afternoon in Paris, oil painting";
    for (format, size) in [
        ("png", "1024x1024"),
        ("jpeg", "1280x768"),
        ("webp", "512x512"),
    ] {
        let (code, stdout, stderr) = run(bin().args([
            "--offline",
            "generate",
            prompt,
            "--size",
            size,
            "--format",
            format,
            "--seed",
            "7",
            "--out",
            out,
        ]));
        assert_eq!(code, 0, "{stderr}");
        let path = stdout.trim();
        let image = image::open(path).unwrap();
        let (w, h) = size.split_once('x').unwrap();
        assert_eq!(
            (image.width(), image.height()),
            (w.parse().unwrap(), h.parse().unwrap())
        );
        let text = ocr(path);
        assert!(text.contains(prompt), "{format}: read {text:?}");
        assert!(
            text.contains("model venice-sd35"),
            "{format}: read {text:?}"
        );
        // (The font's dotted zero alone reads as `@`: the variant number is not checked.)
        assert!(
            text.contains(&format!("{size} seed 7 variant")),
            "{format}: read {text:?}"
        );
    }
}

#[test]
fn offline_images_are_deterministic_and_differ_by_request() {
    let dir = tempfile::tempdir().unwrap();
    let generate = |prompt: &str, sub: &str| {
        let out = dir.path().join(sub);
        let (code, stdout, stderr) = run(bin().args([
            "--offline",
            "generate",
            prompt,
            "--size",
            "512x512",
            "--seed",
            "3",
            "--out",
            out.to_str().unwrap(),
        ]));
        assert_eq!(code, 0, "{stderr}");
        std::fs::read(stdout.trim()).unwrap()
    };
    let first = generate("a quiet harbour", "a");
    assert_eq!(first, generate("a quiet harbour", "b"));
    assert_ne!(first, generate("a quiet harbor", "c"));
}
