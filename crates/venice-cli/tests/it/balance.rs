//! `venice-image balance`: wallet credentials from the environment, offline ephemeral
//! wallet, refusal of API keys and of ambiguous credentials.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;
use venice_mock::{MockConfig, MockServer};

const KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const ADDRESS: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

#[test]
fn offline_balance_uses_a_labelled_ephemeral_wallet() {
    let (code, stdout, stderr) = run(bin().args(["balance", "--offline", "--transactions", "5"]));
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(stdout.contains("ephemeral wallet"), "{stdout}");
    assert!(stdout.contains("$10.000000"), "{stdout}");
    assert!(stdout.contains("no transactions"), "{stdout}");
    let (code, stdout, _) = run(bin().args(["balance", "--offline", "--json"]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["balance_usd"], 10.0);
    assert_eq!(v["offline_ephemeral_wallet"], true);
    assert!(v["wallet"].as_str().unwrap().starts_with("0x"));
}

#[test]
fn balance_with_a_wallet_key_signs_in_to_the_server() {
    let rt = rt();
    let mut config = MockConfig::default();
    config.wallet_balances.insert(ADDRESS.to_owned(), 3.5);
    let server = rt.block_on(MockServer::start(config)).unwrap();
    let (code, stdout, stderr) = run(bin().env("VENICE_WALLET_PRIVATE_KEY", KEY).args([
        "--base-url",
        &server.base_url(),
        "balance",
        "--json",
        "--transactions",
        "3",
    ]));
    assert_eq!(code, 0, "stderr: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["balance_usd"], 3.5);
    assert_eq!(v["offline_ephemeral_wallet"], false);
    assert_eq!(
        v["wallet"].as_str().unwrap().to_lowercase(),
        ADDRESS.to_lowercase()
    );
    assert_eq!(v["transactions"], serde_json::json!([]));
    assert!(!stdout.contains(&KEY[2..]) && !stderr.contains(&KEY[2..]));
}

#[test]
fn api_keys_and_ambiguous_credentials_are_refused() {
    let (code, _, stderr) = run(bin().env("VENICE_API_KEY", "k").args(["balance"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("VENICE_WALLET_PRIVATE_KEY"), "{stderr}");
    let (code, _, stderr) = run(bin()
        .env("VENICE_API_KEY", "sk-hidden")
        .env("VENICE_WALLET_PRIVATE_KEY", KEY)
        .args(["balance"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("ambiguous"), "{stderr}");
    assert!(
        !stderr.contains("sk-hidden") && !stderr.contains(&KEY[2..]),
        "{stderr}"
    );
    let (code, _, stderr) = run(bin()
        .env("VENICE_WALLET_PRIVATE_KEY", "0x1234")
        .args(["balance"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("VENICE_WALLET_PRIVATE_KEY"), "{stderr}");
    let (code, _, stderr) = run(bin().args(["balance"]));
    assert_eq!(code, 2);
    for v in [
        "VENICE_API_KEY",
        "VENICE_WALLET_PRIVATE_KEY",
        "VENICE_SOLANA_KEYPAIR",
        "--offline",
    ] {
        assert!(stderr.contains(v), "{stderr}");
    }
}
