//! `--record FILE`: a command's own traffic recorded (scrubbed) through the mock's
//! forwarder, then replayed with `MockServer::replay`: the same command gives the same
//! files and output, byte for byte.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::path::{Path, PathBuf};

use common::*;
use venice_mock::cassette::Cassette;
use venice_mock::{MockConfig, MockServer};

const KEY: &str = "vk-cli-recording-4b7e1c9a2d";
const WALLET_KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const WALLET: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

fn config() -> MockConfig {
    let mut c = MockConfig {
        api_keys: vec![KEY.to_owned()],
        ..MockConfig::default()
    };
    c.wallet_balances.insert(WALLET.to_owned(), 3.0);
    c
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if !d.exists() {
            continue;
        }
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// A sidecar without the two fields the command measures itself (`elapsed_ms`, its
/// wall time, and `created_unix`, when it wrote the file); every other byte is kept.
fn without_elapsed(json: &[u8]) -> String {
    let mut text = String::from_utf8(json.to_vec()).unwrap();
    for field in ["\"elapsed_ms\"", "\"created_unix\""] {
        if let Some(at) = text.find(field) {
            let end = at + text[at..].find([',', '}', '\n']).unwrap();
            text.replace_range(at..end, "");
        }
    }
    text
}

fn png(path: &Path) {
    let img = image::RgbImage::from_fn(300, 256, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 40])
    });
    img.save(path).unwrap();
}

/// Runs `args` with `--record`, then the same against a replay of the recording; the
/// files written under the two `out` directories and the standard outputs must agree.
fn record_then_replay(
    name: &str,
    args: &[&str],
    auth: (&str, &str),
) -> (PathBuf, (String, String)) {
    let rt = rt();
    let upstream = rt.block_on(MockServer::start(config())).unwrap();
    let dir = tempfile::tempdir().unwrap().keep();
    let input = dir.join("in.png");
    png(&input);
    let cassette = dir.join(format!("{name}.cassette"));
    let with = |out: &str| -> Vec<String> {
        args.iter()
            .map(|a| {
                a.replace("{in}", &input.to_string_lossy())
                    .replace("{out}", &dir.join(out).to_string_lossy())
            })
            .collect()
    };
    let (code, recorded_stdout, stderr) = run(bin()
        .env(auth.0, auth.1)
        .args(["--base-url", &upstream.base_url(), "--record"])
        .arg(&cassette)
        .args(with("recorded")));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("recorded ") && stderr.contains("exchange(s) to"),
        "{stderr}"
    );
    drop(upstream);

    let replay = rt.block_on(MockServer::replay(&cassette)).unwrap();
    // Any API key replays the recording (credentials are matched by kind); a wallet's
    // address is in its paths, so it is the same wallet (or a `--redact-wallets`
    // recording).
    let other = if auth.0 == "VENICE_API_KEY" {
        "some-other-key".to_owned()
    } else {
        auth.1.to_owned()
    };
    let (code, replayed_stdout, stderr) = run(bin()
        .env(auth.0, other)
        .args(["--base-url", &replay.base_url()])
        .args(with("replayed")));
    assert_eq!(code, 0, "{stderr}");
    replay.assert_all_used();
    let recorded = files(&dir.join("recorded"));
    let replayed = files(&dir.join("replayed"));
    assert_eq!(recorded.len(), replayed.len());
    for ((a, x), (b, y)) in recorded.iter().zip(&replayed) {
        assert_eq!(a, b);
        if a.extension().is_some_and(|e| e == "json") {
            // A sidecar: the same bytes except what the command measured itself.
            assert_eq!(without_elapsed(x), without_elapsed(y), "{}", a.display());
        } else {
            assert!(x == y, "{}: the replay wrote other bytes", a.display());
        }
    }
    let normalise = |s: &str| s.replace("recorded", "OUT").replace("replayed", "OUT");
    (
        cassette,
        (normalise(&recorded_stdout), normalise(&replayed_stdout)),
    )
}

#[test]
fn generate_recorded_with_record_replays_byte_identical() {
    let (cassette, stdout) = record_then_replay(
        "generate",
        &[
            "generate",
            "a lighthouse",
            "--size",
            "256x256",
            "--variants",
            "2",
            "--out",
            "{out}/",
        ],
        ("VENICE_API_KEY", KEY),
    );
    let (recorded, replayed) = stdout;
    assert_eq!(recorded, replayed);
    let c = Cassette::open(&cassette).unwrap();
    // The catalogue check, then the generation.
    let paths: Vec<&str> = c
        .exchanges
        .iter()
        .map(|e| e.request.path.as_str())
        .collect();
    assert_eq!(paths, ["/api/v1/models", "/api/v1/image/generate"]);
    let text = std::fs::read_to_string(&cassette).unwrap();
    assert!(!text.contains(KEY));
    assert!(text.contains("Bearer <scrubbed:api-key>"));
}

#[test]
fn uploads_and_json_output_replay_byte_identical() {
    for (name, args) in [
        (
            "upscale",
            &["upscale", "{in}", "--scale", "2", "--out", "{out}/up.png"][..],
        ),
        (
            "remove-bg",
            &["remove-bg", "{in}", "--out", "{out}/nobg.png"][..],
        ),
        (
            "edit",
            &[
                "edit",
                "make it dusk",
                "{in}",
                "--format",
                "png",
                "--out",
                "{out}/edit.png",
            ][..],
        ),
        ("models", &["models", "--json"][..]),
        ("account", &["account", "--json"][..]),
    ] {
        let (_, stdout) = record_then_replay(name, args, ("VENICE_API_KEY", KEY));
        let (recorded, replayed) = stdout;
        assert_eq!(recorded, replayed, "{name}");
    }
}

#[test]
fn a_wallet_command_records_without_its_private_key() {
    let (cassette, stdout) = record_then_replay(
        "balance",
        &["balance", "--transactions", "5", "--json"],
        ("VENICE_WALLET_PRIVATE_KEY", WALLET_KEY),
    );
    let (recorded, replayed) = stdout;
    assert_eq!(recorded, replayed);
    let text = std::fs::read_to_string(&cassette).unwrap();
    let hex = &WALLET_KEY[2..];
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    for form in [
        hex.to_owned(),
        hex.to_uppercase(),
        bs58::encode(&bytes).into_string(),
    ] {
        assert!(
            !text.contains(&form),
            "the private key reached the cassette as {form}"
        );
    }
    assert!(text.contains("<scrubbed:sign-in-with-x>"));
}

#[test]
fn offline_commands_record_the_embedded_mock() {
    let dir = tempfile::tempdir().unwrap();
    let cassette = dir.path().join("offline.cassette");
    let (code, _, stderr) = run(bin()
        .args(["--offline", "--record"])
        .arg(&cassette)
        .args(["styles", "--json"]));
    assert_eq!(code, 0, "{stderr}");
    let c = Cassette::open(&cassette).unwrap();
    assert_eq!(c.exchanges.len(), 1);
    assert_eq!(c.exchanges[0].response.as_ref().unwrap().status, 200);
    // A file that cannot be written is a local I/O error before anything is sent.
    let (code, _, stderr) = run(bin().args([
        "--offline",
        "--record",
        "/nonexistent-dir/x.cassette",
        "styles",
    ]));
    assert_eq!(code, 6, "{stderr}");
    assert!(stderr.contains("--record"), "{stderr}");
}
