//! Money as the provider bills it, through the binary against the mock's default
//! configuration: an API-key account without funds is told about its account (never
//! "top up the wallet"), and every line of a `--dry-run` estimate is a CHARGE row the
//! mock then writes under the request's id (the estimate read from the catalogue the
//! mock serves).
#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;
use venice_mock::images::{OutputFormat, encode, render};
use venice_mock::{MockConfig, MockServer};

/// EIP-191 test vector key and its address (x402-facts.md, vector 1).
const WALLET_KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const WALLET: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

fn input(dir: &Path, name: &str, w: u32, h: u32) -> PathBuf {
    let img = image::DynamicImage::ImageRgb8(render("cli", name, 1, 0, w, h));
    let bytes = encode(&img, OutputFormat::Png, None).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn wallet_server(rt: &tokio::runtime::Runtime) -> MockServer {
    let mut config = MockConfig::default();
    config.wallet_balances.insert(WALLET.to_owned(), 5.0);
    rt.block_on(MockServer::start(config)).unwrap()
}

fn as_wallet(server: &MockServer) -> std::process::Command {
    let mut c = bin();
    c.env("VENICE_WALLET_PRIVATE_KEY", WALLET_KEY)
        .args(["--base-url", &server.base_url()]);
    c
}

/// The `--dry-run` estimate's lines: (what, usd).
fn dry_run_lines(server: &MockServer, args: &[&str]) -> Vec<(String, Option<f64>)> {
    let (code, stdout, stderr) = run(as_wallet(server).args(args).arg("--dry-run"));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let lines = v["estimate_lines"].as_array().unwrap();
    let sum: f64 = lines.iter().filter_map(|l| l["usd"].as_f64()).sum();
    assert!(
        (v["estimated_cost_usd"].as_f64().unwrap() - sum).abs() < 1e-9,
        "the total is the sum of its lines: {v}"
    );
    lines
        .iter()
        .map(|l| (l["what"].as_str().unwrap().to_owned(), l["usd"].as_f64()))
        .collect()
}

/// The amounts of the CHARGE rows of the newest request in the wallet's ledger.
fn charges_of_last_request(server: &MockServer) -> Vec<f64> {
    let ledger = server.ledger(WALLET);
    let id = ledger[0]["requestId"].clone();
    let mut rows: Vec<f64> = ledger
        .iter()
        .filter(|t| t["requestId"] == id && t["type"] == "CHARGE")
        .map(|t| -t["amount"].as_f64().unwrap())
        .collect();
    rows.sort_by(f64::total_cmp);
    rows
}

fn assert_lines_are_the_charges(lines: &[(String, Option<f64>)], charges: &[f64]) {
    let mut known: Vec<f64> = lines.iter().filter_map(|(_, usd)| *usd).collect();
    known.sort_by(f64::total_cmp);
    assert_eq!(known.len(), charges.len(), "{lines:?} vs {charges:?}");
    for (a, b) in known.iter().zip(charges) {
        assert!((a - b).abs() < 1e-9, "{lines:?} vs {charges:?}");
    }
}

#[test]
fn an_api_key_account_without_funds_gets_the_account_hint_never_top_up() {
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig {
            api_key_balance: Some(0.05),
            ..MockConfig::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(against(&server).args([
        "generate",
        "a lighthouse",
        "--size",
        "256x256",
        "--out",
        dir.path().to_str().unwrap(),
    ]));
    assert_eq!(code, 4, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("Insufficient USD or Diem balance"),
        "{stderr}"
    );
    assert!(
        stderr.contains("https://venice.ai/settings/api"),
        "{stderr}"
    );
    assert!(stderr.contains("spend limit"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("top up"), "{stderr}");
    assert!(!stderr.contains("--auto-top-up"), "{stderr}");
}

#[test]
fn every_dry_run_line_is_a_charge_row_the_mock_writes() {
    let rt = rt();
    let server = wallet_server(&rt);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();

    // A generation with a prompt rewrite: the model's price, and enhance_prompt up to $0.04.
    let gen_args = [
        "generate",
        "a lighthouse",
        "-m",
        "qwen-image",
        "--aspect",
        "1:1",
        "--enhance-prompt",
        "--out",
        out,
    ];
    let lines = dry_run_lines(&server, &gen_args);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].0.starts_with("enhance_prompt"), "{lines:?}");
    assert_eq!(lines[1].1, Some(0.04));
    let (code, _, stderr) = run(as_wallet(&server).args(gen_args));
    assert_eq!(code, 0, "{stderr}");
    assert_lines_are_the_charges(&lines, &charges_of_last_request(&server));

    // gpt-image-2 at its default quality (high, as live).
    let gpt = [
        "generate",
        "x",
        "-m",
        "gpt-image-2",
        "--aspect",
        "1:1",
        "--out",
        out,
    ];
    let lines = dry_run_lines(&server, &gpt);
    assert_eq!(lines[0].1, Some(0.26), "{lines:?}");
    assert_eq!(run(as_wallet(&server).args(gpt)).0, 0);
    assert_lines_are_the_charges(&lines, &charges_of_last_request(&server));

    // A single-image edit on a model whose price includes no input image.
    let photo = input(dir.path(), "photo.png", 512, 512);
    let edit = [
        "edit",
        "make it blue",
        photo.to_str().unwrap(),
        "-m",
        "qwen-image-3-edit",
        "--out",
        out,
    ];
    let lines = dry_run_lines(&server, &edit);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(run(as_wallet(&server).args(edit)).0, 0);
    assert_lines_are_the_charges(&lines, &charges_of_last_request(&server));

    // A 4x upscale the 16 MP cap clamps to 2x is billed, and estimated, as a 2x.
    let big = input(dir.path(), "big.png", 2048, 2048);
    let up = [
        "upscale",
        big.to_str().unwrap(),
        "--scale",
        "4",
        "--out",
        out,
    ];
    let lines = dry_run_lines(&server, &up);
    assert!(lines[0].0.contains("2x"), "{lines:?}");
    assert_eq!(run(as_wallet(&server).args(up)).0, 0);
    assert_lines_are_the_charges(&lines, &charges_of_last_request(&server));
}

#[test]
fn an_unpublished_surcharge_is_unknown_and_max_cost_refuses_it() {
    let rt = rt();
    let server = wallet_server(&rt);
    let dir = tempfile::tempdir().unwrap();
    let style = input(dir.path(), "style.png", 256, 256);
    let args = [
        "generate",
        "a lighthouse",
        "-m",
        "krea-v2-large",
        "--aspect",
        "1:1",
        "--style-reference",
        style.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ];
    let lines = dry_run_lines(&server, &args);
    let unknown: Vec<_> = lines.iter().filter(|(_, usd)| usd.is_none()).collect();
    assert_eq!(unknown.len(), 1, "{lines:?}");
    assert!(unknown[0].0.starts_with("style references"), "{lines:?}");
    let (code, _, stderr) = run(as_wallet(&server).args(args).args(["--max-cost", "10"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("without a published price"), "{stderr}");
    assert!(server.ledger(WALLET).iter().all(|t| t["type"] != "CHARGE"));
}
