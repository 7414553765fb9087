//! Money: `top-up` (EVM and Solana, the 402 → top-up → retry round trip, confirmation),
//! `--auto-top-up` / `--max-top-up`, and single-use sign-in proofs never sent twice.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::process::Command;

use common::*;
use venice_image::wallet::{LocalSolanaSigner, SiwxConfig, Wallet, WalletAuth};
use venice_mock::{MockConfig, MockServer};

const EVM_KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const EVM_ADDRESS: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
/// USDC on Base, and the mock's payee.
const BASE_USDC: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";

fn solana_keypair() -> String {
    format!("[{}]", vec!["21"; 32].join(","))
}

fn solana_address() -> String {
    LocalSolanaSigner::from_bytes(&[21; 32])
        .unwrap()
        .address()
        .to_owned()
}

/// A mock where `wallet` has `credit` USD.
fn mock_with(rt: &tokio::runtime::Runtime, wallet: &str, credit: f64) -> MockServer {
    let mut config = MockConfig::default();
    config.wallet_balances.insert(wallet.to_owned(), credit);
    rt.block_on(MockServer::start(config)).unwrap()
}

/// The binary signed in with wallet variable `var` against `server`.
fn wallet(server: &MockServer, var: &str, value: &str) -> Command {
    let mut c = bin();
    c.env(var, value).args(["--base-url", &server.base_url()]);
    c
}

fn generate(dir: &std::path::Path) -> Vec<String> {
    [
        "generate",
        "a lighthouse",
        "--size",
        "256x256",
        "--out",
        dir.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn paid_top_ups(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/x402/top-up") && r.header("payment-signature").is_some())
        .count()
}

/// 402 → `top-up USD --yes` → the same command again succeeds, for one wallet kind.
fn round_trip(var: &str, key: &str, address: &str, network: &str) {
    let rt = rt();
    let server = mock_with(&rt, address, 0.001);
    let dir = tempfile::tempdir().unwrap();

    let (code, _, stderr) = run(wallet(&server, var, key).args(generate(dir.path())));
    assert_eq!(code, 4, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines[0],
        "error: API error 402 PAYMENT_REQUIRED: Payment required (credit $0.0010, needs $0.0100, 1170-byte body)",
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        "hint: top up the wallet with `venice-image top-up 10`, or pass `--auto-top-up USD \
         --max-top-up USD` to top up when a request needs it",
        "{stderr}"
    );
    assert!(!stderr.contains("POST /x402/top-up"), "{stderr}");

    let (code, stdout, stderr) =
        run(wallet(&server, var, key).args(["top-up", "5", "--yes", "--json"]));
    assert_eq!(code, 0, "{stderr}");
    // What was signed was shown first.
    assert!(stderr.starts_with("top-up: pay 5.000000 "), "{stderr}");
    assert!(
        stderr.contains(&format!("  from     {address}\n")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("  network  {network}")),
        "{stderr}"
    );
    assert!(stderr.contains("  to       "), "{stderr}");
    assert!(stderr.contains("  asset    "), "{stderr}");
    let receipt: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(receipt["amount_credited_usd"], 5.0);
    assert_eq!(paid_top_ups(&server), 1);
    assert!(server.wallet_balance(address) > 5.0);

    let (code, stdout, stderr) = run(wallet(&server, var, key).args(generate(dir.path())));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.trim().ends_with(".webp"), "{stdout}");
    assert!(!stdout.contains(&key[4..]) && !stderr.contains(&key[4..]));
}

#[test]
fn evm_wallet_402_then_top_up_then_the_retry_succeeds() {
    round_trip(
        "VENICE_WALLET_PRIVATE_KEY",
        EVM_KEY,
        EVM_ADDRESS,
        "eip155:8453 (Base)",
    );
}

#[test]
fn solana_wallet_402_then_top_up_then_the_retry_succeeds() {
    round_trip(
        "VENICE_SOLANA_KEYPAIR",
        &solana_keypair(),
        &solana_address(),
        "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp (Solana)",
    );
}

#[test]
fn top_up_shows_the_payment_and_never_signs_unconfirmed_or_below_the_minimum() {
    let rt = rt();
    let server = mock_with(&rt, EVM_ADDRESS, 0.0);
    let top_up = |args: &[&str]| {
        let mut c = wallet(&server, "VENICE_WALLET_PRIVATE_KEY", EVM_KEY);
        c.arg("top-up")
            .args(args)
            .stdin(std::process::Stdio::null());
        run(&mut c)
    };
    // No terminal, no --yes: shown, refused, exit 2.
    let (code, _, stderr) = top_up(&["5"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("  asset    {BASE_USDC}\n")),
        "{stderr}"
    );
    assert!(stderr.contains("  minimum  $5.00\n"), "{stderr}");
    let error: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        error,
        [
            "error: not signing without confirmation: stdin is not a terminal; pass --yes to sign this payment"
        ]
    );
    // Below the server's minimum: refused before showing or signing.
    let (code, _, stderr) = top_up(&["1", "--yes"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.lines().next().unwrap(),
        "error: $1 is below the server's minimum top-up of $5; nothing was signed"
    );
    let (code, _, stderr) = top_up(&["-3", "--yes"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(paid_top_ups(&server), 0);
    assert_eq!(server.wallet_balance(EVM_ADDRESS), 0.0);

    // An API key cannot top up.
    let (code, _, stderr) = run(against(&server).args(["top-up", "5", "--yes"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error: `top-up` pays from a wallet and needs VENICE_WALLET_PRIVATE_KEY or VENICE_SOLANA_KEYPAIR"),
        "{stderr}"
    );

    // Offline: the ephemeral wallet on the embedded mock.
    let (code, stdout, stderr) = run(bin().args(["--offline", "top-up", "5", "--yes"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.starts_with("(offline: "), "{stderr}");
    assert!(
        stdout.starts_with("topped up $5.00: balance $15.000000"),
        "{stdout}"
    );
}

#[test]
fn auto_top_up_pays_within_its_cap_and_says_how_much() {
    let rt = rt();
    let server = mock_with(&rt, EVM_ADDRESS, 0.001);
    let dir = tempfile::tempdir().unwrap();
    let mut c = wallet(&server, "VENICE_WALLET_PRIVATE_KEY", EVM_KEY);
    c.args(["--auto-top-up", "5", "--max-top-up", "10"])
        .args(generate(dir.path()));
    let (code, _, stderr) = run(&mut c);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "auto top-up: $5.00 added to the wallet during this command (cap $10.00)"
    );
    assert_eq!(paid_top_ups(&server), 1);

    // A cap below the server's minimum: nothing paid, the 402 stands (exit 4).
    let server = mock_with(&rt, EVM_ADDRESS, 0.001);
    let mut c = wallet(&server, "VENICE_WALLET_PRIVATE_KEY", EVM_KEY);
    c.args(["--auto-top-up", "1"]).args(generate(dir.path()));
    let (code, _, stderr) = run(&mut c);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("exceed the spending cap"), "{stderr}");
    assert!(!stderr.contains("auto top-up: $"), "{stderr}");
    assert_eq!(paid_top_ups(&server), 0);

    // Misuse is a usage error before anything is sent.
    for (args, first) in [
        (
            vec!["--auto-top-up", "5", "--max-top-up", "2"],
            "error: --max-top-up ($2) must be at least --auto-top-up ($5)",
        ),
        (
            vec!["--auto-top-up", "0"],
            "error: --auto-top-up must be a positive number of USD, got 0",
        ),
    ] {
        let mut c = wallet(&server, "VENICE_WALLET_PRIVATE_KEY", EVM_KEY);
        let (code, _, stderr) = run(c.args(&args).args(generate(dir.path())));
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(stderr.lines().next().unwrap(), first);
    }
    let (code, _, stderr) = run(against(&server)
        .args(["--auto-top-up", "5"])
        .args(generate(dir.path())));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error: --auto-top-up pays from a wallet"),
        "{stderr}"
    );
    let (code, _, _) = run(bin().args(["--offline", "--max-top-up", "5", "models"]));
    assert_eq!(code, 2, "--max-top-up needs --auto-top-up");
}

fn siwx_requests(server: &MockServer) -> Vec<(String, u16)> {
    server
        .requests()
        .iter()
        .filter(|r| r.header("sign-in-with-x").is_some())
        .map(|r| (r.path.clone(), r.status))
        .collect()
}

#[test]
fn a_single_use_proof_is_never_sent_twice() {
    let rt = rt();
    let server = mock_with(&rt, EVM_ADDRESS, 1.0);
    let header = rt
        .block_on(async {
            WalletAuth::new(Wallet::evm(EVM_KEY)?, SiwxConfig::default())?
                .header()
                .await
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Catalogue (anonymous) + generation (the proof): one use.
    let (code, _, stderr) =
        run(wallet(&server, "VENICE_SIWX_HEADER", &header).args(generate(dir.path())));
    assert_eq!(code, 0, "{stderr}");
    let sent = siwx_requests(&server);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].1, 200, "{sent:?}");
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/models") && r.header("sign-in-with-x").is_none())
    );

    // A batch of two with a fresh single-use value: one job runs, the other fails
    // locally (never sent with the spent proof).
    server.clear_requests();
    let header = rt
        .block_on(async {
            WalletAuth::new(Wallet::evm(EVM_KEY)?, SiwxConfig::default())?
                .header()
                .await
        })
        .unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    std::fs::write(
        &jobs,
        "{\"prompt\":\"one\",\"size\":\"256x256\"}\n{\"prompt\":\"two\",\"size\":\"256x256\"}\n",
    )
    .unwrap();
    let out = dir.path().join("batch");
    let (code, stdout, stderr) = run(wallet(&server, "VENICE_SIWX_HEADER", &header).args([
        "batch",
        jobs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--concurrency",
        "1",
    ]));
    assert_eq!(code, 5, "{stdout}{stderr}");
    assert!(
        stdout.contains("done 1,") && stdout.contains("failed 1,"),
        "{stdout}"
    );
    assert!(stdout.contains("authentication failed"), "{stdout}");
    let sent = siwx_requests(&server);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].1, 200, "{sent:?}");
    assert!(!stdout.contains(&header) && !stderr.contains(&header));
}

#[test]
fn a_signing_wallet_signs_a_fresh_proof_for_every_request_of_a_batch() {
    let rt = rt();
    let server = mock_with(&rt, EVM_ADDRESS, 1.0);
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    let lines: String = (0..3)
        .map(|i| format!("{{\"prompt\":\"scene {i}\",\"size\":\"256x256\"}}\n"))
        .collect();
    std::fs::write(&jobs, lines).unwrap();
    let out = dir.path().join("batch");
    let (code, stdout, stderr) = run(wallet(&server, "VENICE_WALLET_PRIVATE_KEY", EVM_KEY).args([
        "batch",
        jobs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Balance check + three generations, each with its own proof: the mock burns
    // nonces, so a reused one would have been refused (401).
    let sent = siwx_requests(&server);
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(sent.iter().all(|(_, status)| *status == 200), "{sent:?}");
}

#[test]
fn a_wallet_batch_with_auto_top_up_counts_the_cap_as_spendable() {
    let rt = rt();
    let server = mock_with(&rt, EVM_ADDRESS, 0.001);
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs.jsonl");
    std::fs::write(
        &jobs,
        "{\"prompt\":\"one\",\"size\":\"256x256\"}\n{\"prompt\":\"two\",\"size\":\"256x256\"}\n",
    )
    .unwrap();
    let batch = |out: &str, extra: &[&str]| {
        let mut c = wallet(&server, "VENICE_WALLET_PRIVATE_KEY", EVM_KEY);
        c.args(extra).args([
            "batch",
            jobs.to_str().unwrap(),
            "--out",
            dir.path().join(out).to_str().unwrap(),
            "--concurrency",
            "1",
        ]);
        run(&mut c)
    };
    // Without it the balance check stops the batch before the first request.
    let (code, _, stderr) = batch("a", &[]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("exceeds the balance"), "{stderr}");
    let (code, stdout, stderr) = batch("b", &["--auto-top-up", "5"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("done 2,"), "{stdout}");
    assert_eq!(paid_top_ups(&server), 1);
    assert!(
        stderr.contains("auto top-up: $5.00 added to the wallet during this command"),
        "{stderr}"
    );
}

#[test]
fn auto_top_up_5_on_an_empty_evm_wallet_pays_5_once_and_succeeds() {
    let rt = rt();
    let server = mock_with(&rt, EVM_ADDRESS, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let mut c = wallet(&server, "VENICE_WALLET_PRIVATE_KEY", EVM_KEY);
    c.args(["--auto-top-up", "5"]).args(generate(dir.path()));
    let (code, stdout, stderr) = run(&mut c);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.trim().ends_with(".webp"), "{stdout}");
    assert_eq!(paid_top_ups(&server), 1);
    assert!(
        stderr.contains("auto top-up: $5.00 added to the wallet"),
        "{stderr}"
    );
    let left = server.wallet_balance(EVM_ADDRESS);
    assert!(left < 5.0 && left > 5.0 - 1.0, "{left}");
}

#[test]
fn auto_top_up_5_on_a_solana_wallet_pays_5_once_and_succeeds() {
    let rt = rt();
    // $0.001: pays the provider's RPC proxy for the chain data, not an image (the library
    // test `topup::auto_top_up_5_on_an_empty_solana_wallet_pays_exactly_5_once` covers a
    // wallet at $0 with its own RPC endpoint).
    let server = mock_with(&rt, &solana_address(), 0.001);
    let dir = tempfile::tempdir().unwrap();
    let mut c = wallet(&server, "VENICE_SOLANA_KEYPAIR", &solana_keypair());
    c.args(["--auto-top-up", "5"]).args(generate(dir.path()));
    let (code, _, stderr) = run(&mut c);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(paid_top_ups(&server), 1);
    assert!(
        stderr.contains("auto top-up: $5.00 added to the wallet"),
        "{stderr}"
    );
}

#[test]
fn a_diem_wallet_is_told_a_top_up_cannot_help() {
    let rt = rt();
    let mut config = MockConfig::default();
    config.wallet_balances.insert(EVM_ADDRESS.to_owned(), 0.0);
    config.diem_wallets.insert(EVM_ADDRESS.to_owned(), 0.001);
    let server = rt.block_on(MockServer::start(config)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut c = wallet(&server, "VENICE_WALLET_PRIVATE_KEY", EVM_KEY);
    c.args(["--auto-top-up", "5", "--max-top-up", "50"])
        .args(generate(dir.path()));
    let (code, _, stderr) = run(&mut c);
    assert_eq!(code, 4, "{stderr}");
    assert_eq!(paid_top_ups(&server), 0);
    let error = stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(
        error.ends_with(
            "a top-up cannot help: this wallet is linked to a Venice account with staked \
             DIEM, which is spent first (DIEM balance $0.001); nothing was paid"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("top up the wallet"), "{stderr}");
    assert!(!stderr.contains("auto top-up: $"), "{stderr}");
}

#[test]
fn a_top_up_above_10000_is_refused_before_anything_is_signed() {
    let rt = rt();
    let server = mock_with(&rt, EVM_ADDRESS, 0.0);
    let mut c = wallet(&server, "VENICE_WALLET_PRIVATE_KEY", EVM_KEY);
    let (code, _, stderr) = run(c.args(["top-up", "20000", "--yes"]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.lines().next().unwrap(),
        "error: $20000 is above the provider's maximum top-up of $10000; nothing was signed"
    );
    assert!(server.requests().is_empty(), "nothing sent");
}
