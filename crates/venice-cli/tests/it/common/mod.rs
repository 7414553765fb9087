//! Helpers shared by the CLI's integration tests (each test file uses a subset).
#![allow(dead_code, clippy::unwrap_used)]

use std::process::Command;

pub mod chromium;
pub mod redis;

use assert_cmd::cargo::CommandCargoExt;
use venice_mock::MockServer;

/// The `venice-image` binary with every credential variable of the caller's
/// environment removed, so a developer's own key can never reach a test.
pub fn bin() -> Command {
    let mut c = Command::cargo_bin("venice-image").unwrap();
    for v in [
        "VENICE_API_KEY",
        "VENICE_BASE_URL",
        "VENICE_WALLET_PRIVATE_KEY",
        "VENICE_SOLANA_KEYPAIR",
        "VENICE_SIWX_HEADER",
    ] {
        c.env_remove(v);
    }
    c
}

/// Runs `cmd` to completion: (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The binary pointed at `server` with the mock's API key.
pub fn against(server: &MockServer) -> Command {
    let mut c = bin();
    c.env("VENICE_API_KEY", venice_mock::DEFAULT_API_KEY)
        .args(["--base-url", &server.base_url()]);
    c
}

/// A multi-threaded runtime for starting a mock in a synchronous test.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A stand-in image viewer for `--open` (`VENICE_IMAGE_OPENER`): a script in `dir` that
/// appends the path it is given to a log; (the script, the log).
#[cfg(unix)]
pub fn recording_viewer(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let log = dir.join("opened.txt");
    let viewer = dir.join("viewer.sh");
    std::fs::write(
        &viewer,
        format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&viewer, std::fs::Permissions::from_mode(0o755)).unwrap();
    (viewer, log)
}

/// Wait until the mock has logged every request a killed process had already sent:
/// on a loaded machine the server may read one after the client is gone, and it would
/// otherwise be counted as the next run's.
pub fn settle(server: &venice_mock::MockServer) {
    let mut seen = server.requests().len();
    let mut quiet_since = std::time::Instant::now();
    while quiet_since.elapsed() < std::time::Duration::from_millis(300) {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let now = server.requests().len();
        if now != seen {
            (seen, quiet_since) = (now, std::time::Instant::now());
        }
    }
}
