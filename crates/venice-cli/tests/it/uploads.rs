//! Large uploads keep the client's memory flat: the CLI (its own process, the client)
//! uploads a 24 MB PNG to upscale and three 10 MB layers to multi-edit as
//! `multipart/form-data`, streamed from disk, while its peak RSS (the kernel's `VmHWM`
//! of that process, read from `/proc` while it runs) stays within a few MiB of the same
//! command on a tiny image. A client that held the body in memory would add 24 MB (33 MB
//! as base64) or 30 MB (40 MB). The mock runs in this test's process, so its memory is
//! not counted.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{against, rt};
use venice_mock::fixtures::padded_png;
use venice_mock::{MockConfig, MockServer, RecordedRequest};

/// Most the peak RSS of a large upload may exceed that of a tiny one (MiB).
const FLAT_ALLOWANCE_MIB: u64 = 8;

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Runs `cmd` to completion and returns its exit code, stderr and its peak RSS in KiB
/// (`VmHWM` is the high-water mark, so sampling it every millisecond misses nothing but
/// the last millisecond of the process).
fn run_measured(cmd: &mut Command) -> (i32, String, u64) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the CLI did not finish");
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    (status.code().unwrap_or(-1), stderr, peak)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn last(server: &MockServer, suffix: &str) -> RecordedRequest {
    server
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with(suffix))
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn large_uploads_go_as_multipart_with_flat_client_memory() {
    if vm_hwm_kib(std::process::id()).is_none() {
        eprintln!("SKIPPED: no /proc/<pid>/status VmHWM on this system");
        return;
    }
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let tiny = write(
        dir.path(),
        "tiny.png",
        &padded_png(300, 256, 200_000).unwrap(),
    );
    let big = write(
        dir.path(),
        "big.png",
        &padded_png(300, 256, 24_000_000).unwrap(),
    );
    let layer = padded_png(256, 256, 10_000_000).unwrap();
    let layers: Vec<PathBuf> = (0..3)
        .map(|i| write(dir.path(), &format!("layer{i}.png"), &layer))
        .collect();

    let upscale = |image: &Path| {
        let mut c = against(&server);
        c.args(["upscale", s(image), "--out", s(&out), "--force"]);
        run_measured(&mut c)
    };
    let (code, stderr, tiny_upscale) = upscale(&tiny);
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr, big_upscale) = upscale(&big);
    assert_eq!(code, 0, "{stderr}");
    let request = last(&server, "/image/upscale");
    assert!(
        request
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary="),
        "{:?}",
        request.header("content-type")
    );

    let multi_edit = |images: &[&Path]| {
        let mut c = against(&server);
        c.args(["multi-edit", "combine"])
            .args(images.iter().map(|p| s(p)))
            .args(["--out", s(&out), "--force"]);
        run_measured(&mut c)
    };
    let (code, stderr, tiny_multi) = multi_edit(&[&tiny, &tiny, &tiny]);
    assert_eq!(code, 0, "{stderr}");
    let refs: Vec<&Path> = layers.iter().map(PathBuf::as_path).collect();
    let (code, stderr, big_multi) = multi_edit(&refs);
    assert_eq!(code, 0, "{stderr}");
    let request = last(&server, "/image/multi-edit");
    assert!(
        request
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    assert_eq!(
        request.body.as_ref().unwrap()["images"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let mib = |kib: u64| kib as f64 / 1024.0;
    eprintln!(
        "peak RSS of the CLI: upscale {:.1} MiB (24 MB file) vs {:.1} MiB (tiny); \
         multi-edit {:.1} MiB (3 x 10 MB) vs {:.1} MiB (tiny)",
        mib(big_upscale),
        mib(tiny_upscale),
        mib(big_multi),
        mib(tiny_multi)
    );
    let allowance = FLAT_ALLOWANCE_MIB * 1024;
    assert!(
        big_upscale <= tiny_upscale + allowance,
        "upscale of 24 MB: {:.1} MiB vs {:.1} MiB",
        mib(big_upscale),
        mib(tiny_upscale)
    );
    assert!(
        big_multi <= tiny_multi + allowance,
        "multi-edit of 3 x 10 MB: {:.1} MiB vs {:.1} MiB",
        mib(big_multi),
        mib(tiny_multi)
    );
}
