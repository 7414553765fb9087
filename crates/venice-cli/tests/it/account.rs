//! `venice-image account`, and `batch` checking the estimated cost against the balance
//! before its first request (API key: `/billing/balance`; wallet: the x402 balance).
#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::*;
use venice_mock::{AccountConfig, MockConfig, MockServer, ModelRateLimits};

/// EIP-191 test vector key and its address (x402-facts.md, vector 1).
const WALLET_KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const WALLET: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

fn write_jobs(path: &Path, n: usize) {
    let lines: Vec<String> = (0..n)
        .map(|i| {
            serde_json::json!({"id": format!("job-{i:03}"), "prompt": format!("scene {i}"), "size": "64x64", "format": "png", "seed": i})
                .to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn generations(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/image/generate"))
        .count()
}

#[test]
fn account_shows_balance_tier_and_the_image_models_limits() {
    let rt = rt();
    let mut limits = ModelRateLimits::new(20, Duration::from_secs(60));
    limits.per_day = Some(500);
    limits.overrides.insert("z-image-turbo".to_owned(), 7);
    let server = rt
        .block_on(MockServer::start(MockConfig {
            api_key_balance: Some(12.5),
            account: AccountConfig {
                diem_balance: Some(3.0),
                diem_epoch_allocation: 4.0,
                model_rate_limits: Some(limits),
                ..AccountConfig::default()
            },
            ..MockConfig::default()
        }))
        .unwrap();
    // The default key is an ordinary (INFERENCE) key: the balance needs an ADMIN key,
    // so `account` shows what the key can read, names what it cannot, and exits 0.
    let (code, stdout, stderr) = run(against(&server).args(["account"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("tier     paid"), "{stdout}");
    assert!(
        stdout.contains("key      may spend USD $12.5000 · DIEM $3.0000"),
        "{stdout}"
    );
    assert!(stdout.contains("needs an ADMIN API key"), "{stdout}");
    assert!(stdout.contains("can pay for requests"), "{stdout}");
    assert!(!stdout.contains("top up the wallet") && !stderr.contains("top up"));
    assert_image_model_rows(&stdout);
    // An ADMIN key also reads the balance.
    let (code, stdout, stderr) = run(bin()
        .env("VENICE_API_KEY", venice_mock::DEFAULT_ADMIN_API_KEY)
        .args(["--base-url", &server.base_url(), "account"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("balance  USD $12.5000 · DIEM 3.0000 of 4.0000"),
        "{stdout}"
    );
    assert!(
        stdout.contains("can pay for requests (from DIEM)"),
        "{stdout}"
    );
    assert_image_model_rows(&stdout);

    let (code, stdout, _) = run(against(&server).args(["account", "--json"]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["balance"], serde_json::Value::Null);
    assert_eq!(v["balance_needs_admin_key"], true);
    assert_eq!(v["key_can_spend"]["usd"], 12.5);
    let (code, stdout, _) = run(bin()
        .env("VENICE_API_KEY", venice_mock::DEFAULT_ADMIN_API_KEY)
        .args(["--base-url", &server.base_url(), "account", "--json"]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["tier"], "paid");
    assert_eq!(v["balance"]["usd"], 12.5);
    assert_eq!(v["balance"]["diem"], 3.0);
    let sd = v["image_models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "venice-sd35")
        .unwrap();
    assert_eq!(sd["requests_per_minute"], 20);
    assert_eq!(sd["requests_per_day"], 500);

    // A wallet has no API-key account.
    let (code, _, stderr) = run(bin().env("VENICE_WALLET_PRIVATE_KEY", WALLET_KEY).args([
        "--base-url",
        &server.base_url(),
        "account",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("venice-image balance"), "{stderr}");
}

fn assert_image_model_rows(stdout: &str) {
    let row = |model: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(model))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>())
    };
    assert_eq!(row("venice-sd35"), Some(vec!["20", "500"]), "{stdout}");
    assert_eq!(row("z-image-turbo"), Some(vec!["7", "500"]), "{stdout}");
    // Image models only: the edit and upscale models are not shown.
    assert_eq!(row("firered-image-edit"), None, "{stdout}");
    assert_eq!(row("upscaler"), None, "{stdout}");
}

#[test]
fn a_batch_the_balance_cannot_pay_stops_before_the_first_request() {
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig {
            api_key_balance: Some(0.15),
            ..MockConfig::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    write_jobs(&jobs, 20);
    let out = dir.path().join("out");
    // 20 jobs × $0.01 against $0.15, read from what the (INFERENCE) key may spend.
    let (code, stdout, stderr) = run(against(&server).args([
        "batch",
        jobs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 4, "{stdout}\n{stderr}");
    assert!(stderr.contains("20 job(s)"), "{stderr}");
    assert!(stderr.contains("$0.2000"), "estimate missing: {stderr}");
    assert!(stderr.contains("$0.1500"), "balance missing: {stderr}");
    assert!(!stderr.contains("Top up"), "{stderr}");
    assert!(stderr.contains("--ignore-balance"), "{stderr}");
    assert!(
        !stderr.contains("  "),
        "a message with runs of spaces: {stderr}"
    );
    assert_eq!(generations(&server), 0, "a paid request was sent");
    assert!(
        !out.join("manifest.jsonl").exists(),
        "a stopped batch left a manifest"
    );

    // With --max-cost the stake is what the cap allows: $0.04 fits.
    let (code, stdout, stderr) = run(against(&server).args([
        "batch",
        jobs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--max-cost",
        "0.04",
        "--json",
    ]));
    assert_eq!(code, 5, "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["done"], 4, "{v}");
    assert_eq!(generations(&server), 4);

    // Told to start anyway: the server refuses what the account cannot pay, and the
    // batch stops starting jobs at the first 402 (every other job would be refused too,
    // and each refusal counts against the key's error budget).
    let sent_before = generations(&server);
    let (code, stdout, stderr) = run(against(&server).args([
        "batch",
        jobs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--resume",
        "--ignore-balance",
        "--json",
    ]));
    assert_eq!(code, 5, "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // $0.11 left: two more $0.01 jobs (the second leaves $0.09, below the $0.10 the
    // provider admits).
    assert_eq!(v["done"], 2, "{v}");
    let failed = v["failed"].as_array().unwrap().len();
    let stopped = v["skipped_stopped"].as_u64().unwrap() as usize;
    assert_eq!(failed + stopped, 14, "{v}");
    // Only the jobs already in flight (the default concurrency is 4) met the 402.
    assert!(failed <= 4 && stopped >= 1, "{v}");
    assert_eq!(generations(&server) - sent_before, 2 + failed);
    let why = v["stopped"].as_str().unwrap();
    assert!(
        why.contains("first 402") && why.contains("--resume"),
        "{why}"
    );
    assert!(stderr.contains(why), "{stderr}");
}

#[test]
fn a_wallet_batch_is_checked_against_the_x402_balance() {
    let rt = rt();
    let mut config = MockConfig::default();
    config.wallet_balances.insert(WALLET.to_owned(), 0.02);
    let server = rt.block_on(MockServer::start(config)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    write_jobs(&jobs, 5);
    let (code, stdout, stderr) = run(bin().env("VENICE_WALLET_PRIVATE_KEY", WALLET_KEY).args([
        "--base-url",
        &server.base_url(),
        "batch",
        jobs.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]));
    assert_eq!(code, 4, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("$0.0500") && stderr.contains("$0.0200"),
        "{stderr}"
    );
    assert!(stderr.contains("wallet credit"), "{stderr}");
    assert_eq!(generations(&server), 0, "a paid request was sent");
    assert!(!stderr.contains(&WALLET_KEY[2..]));
}

#[test]
fn a_single_use_siwx_value_is_kept_for_the_job_not_spent_on_the_balance() {
    let rt = rt();
    let mut config = MockConfig::default();
    config.wallet_balances.insert(WALLET.to_owned(), 0.5);
    let server = rt.block_on(MockServer::start(config)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    write_jobs(&jobs, 1);
    let auth = venice_image::wallet::WalletAuth::new(
        venice_image::wallet::Wallet::evm(WALLET_KEY).unwrap(),
        venice_image::wallet::SiwxConfig::default(),
    )
    .unwrap();
    let header = rt.block_on(auth.header()).unwrap();
    let (code, stdout, stderr) = run(bin().env("VENICE_SIWX_HEADER", &header).args([
        "--base-url",
        &server.base_url(),
        "batch",
        jobs.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("not checked"), "{stderr}");
    assert_eq!(generations(&server), 1);
    assert!(!stderr.contains(&header) && !stdout.contains(&header));
}

#[test]
fn a_batch_says_when_it_cannot_check_and_refuses_a_key_the_provider_does_not_admit() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    write_jobs(&jobs, 2);
    // Unlimited account: the key's limits report no USD, the balance needs an ADMIN
    // key: the batch runs and says the cost is not checked (never "exceeds").
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    let (code, stdout, stderr) = run(against(&server).args([
        "batch",
        jobs.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("cannot check the estimated cost"),
        "{stderr}"
    );
    assert!(stderr.contains("ADMIN API key"), "{stderr}");
    assert!(!stderr.contains("exceeds"), "{stderr}");
    assert_eq!(generations(&server), 2);
    // Below the provider's $0.10 admission floor: accessPermitted is false.
    let server = rt
        .block_on(MockServer::start(MockConfig {
            api_key_balance: Some(0.05),
            ..MockConfig::default()
        }))
        .unwrap();
    let (code, _, stderr) = run(against(&server).args([
        "batch",
        jobs.to_str().unwrap(),
        "--out",
        dir.path().join("out2").to_str().unwrap(),
    ]));
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("accessPermitted"), "{stderr}");
    assert!(!stderr.contains("top up the wallet"), "{stderr}");
    assert_eq!(generations(&server), 0);
}
