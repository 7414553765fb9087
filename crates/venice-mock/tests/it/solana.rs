//! Solana over HTTP: the crypto RPC route (answers, billing per credit, idempotency) and
//! `POST /x402/top-up` with a Solana payment, independent of the client crates.
//!
//! The paying transaction is the one `solders` built for the known-answer tests (see
//! `src/svm/tests.rs` and venice-image's `wallet/svm/tests.rs` for how): its blockhash is
//! inserted into the store the server shares between its RPC route and its verifier.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use common::{WALLET, check, client, with_wallets};
use serde_json::{Value, json};
use venice_mock::svm::{
    DEFAULT_FEE_PAYER, RecentBlockhashes, SOLANA_MAINNET_NETWORK, SvmPaymentPolicy, TOKEN_PROGRAM,
    USDC_MINT,
};
use venice_mock::{MockConfig, MockServer};

/// The wallet of the known-answer transaction (RFC 8032 §7.1 TEST 1 secret).
const OWNER: &str = "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z";
/// `sha256("venice-image svm test blockhash")`, base58.
const BLOCKHASH: &str = "C8dMaBXCM1DRX1SeZCe8QUatsNxoiUYrz2XN3697MFu5";
/// The wallet-signed SPL Token transfer of 5 USDC built by `solders` (same bytes as
/// `KAT_TX` in `src/svm/tests.rs`).
const KAT_TX: &str = concat!(
    "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADsE+4vVHyR",
    "jF2CRhSA/aQZw/0gDGfP2CC47hDLvm28z8dIHhQghILX3+T8L02Y9y3w66Mum5jFPk31Ed0mua4GgAIBBAjlNrkeVB8VLLsV",
    "vFA7PljVEZGnIHteTrFKIUxJD+fHkddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Eal1ajxDpWQd+5iEQzFFeZGzkx",
    "LAXnyHWegp0GWfBi7KD0p0sifs+TfQXgNBD67Dtgj/HZqO7zAcjUZlx84iFU6gMGRm/lIRcy/+ytunLDm+e8jOW7xfcSayxD",
    "mzpAAAAABUpTWpkpIQZNJOhxYNo4fHw1td28kruB5B+oQEEFRI0G3fbh12Whk9nL4UbO63msHLSF7V9bN5E6jPWFfv8Aqcb6",
    "evO+2606PWXzaqvJdDGxu+TC0vbg5HymAgNFL11hpWS6bYiw/ynWeot24vDnCFV7W/LXBgMFG1z6frUy24QEBAAFAiBOAAAE",
    "AAkDAQAAAAAAAAAGBAMHAgEKDEBLTAAAAAAABgUAD3ZlbmljZS1rYXQtMDAwMQA=",
);
/// Base58 of the wallet's signature in [`KAT_TX`] (its transaction id).
fn kat_signature() -> String {
    let tx = base64::engine::general_purpose::STANDARD
        .decode(KAT_TX)
        .unwrap();
    bs58::encode(&tx[65..129]).into_string()
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

fn blockhash() -> [u8; 32] {
    bs58::decode(BLOCKHASH)
        .into_vec()
        .unwrap()
        .try_into()
        .unwrap()
}

/// A server whose blockhash store knows the known-answer blockhash (issued now).
async fn server_with_kat_blockhash(config: MockConfig) -> MockServer {
    let store = Arc::new(RecentBlockhashes::default());
    store.insert(blockhash(), SystemTime::now());
    MockServer::start(MockConfig {
        solana_blockhashes: Some(store),
        ..config
    })
    .await
    .unwrap()
}

fn payment(accepted: Value, tx_b64: &str) -> String {
    b64(&json!({
        "x402Version": 2,
        "accepted": accepted,
        "payload": {"transaction": tx_b64},
    }))
}

fn accepted() -> Value {
    SvmPaymentPolicy::default().requirement(5_000_000)
}

async fn top_up(server: &MockServer, header: &str) -> common::Checked {
    let r = client()
        .post(format!("{}/x402/top-up", server.base_url()))
        .header("PAYMENT-SIGNATURE", header)
        .send()
        .await
        .unwrap();
    check("topUpX402Balance", r).await
}

fn assert_rejected(r: &common::Checked, reason: &str) {
    let v = r.json();
    if reason == "replayed_transaction" {
        assert_eq!(
            (r.status, v["error"].as_str()),
            (409, Some("PAYMENT_IN_PROGRESS")),
            "{v}"
        );
    } else {
        assert_eq!(r.status, 400, "{reason}: {v}");
        assert!(
            crate::x402::TOP_UP_CODES.contains(&v["error"].as_str().unwrap()),
            "{v}"
        );
    }
    assert_eq!(v["details"]["reason"], reason, "{v}");
}

async fn rpc(
    server: &MockServer,
    network: &str,
    auth: (&str, &str),
    key: Option<&str>,
    body: &Value,
) -> common::Checked {
    let mut rb = client()
        .post(format!("{}/crypto/rpc/{network}", server.base_url()))
        .header(auth.0, auth.1)
        .json(body);
    if let Some(k) = key {
        rb = rb.header("Idempotency-Key", k);
    }
    check("cryptoRpcProxy", rb.send().await.unwrap()).await
}

const BEARER: (&str, &str) = ("authorization", "Bearer venice-mock-key");

fn blockhash_request(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "getLatestBlockhash",
           "params": [{"commitment": "finalized"}]})
}

fn mint_request(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "getAccountInfo",
           "params": [USDC_MINT, {"encoding": "base64", "commitment": "finalized"}]})
}

#[tokio::test]
async fn the_network_list_is_public() {
    let server = common::start().await;
    let r = client()
        .get(format!("{}/crypto/rpc/networks", server.base_url()))
        .send()
        .await
        .unwrap();
    let r = check("listCryptoRpcNetworks", r).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"networks": ["solana-mainnet"]}));
}

#[tokio::test]
async fn the_proxy_answers_a_batch_and_bills_per_credit() {
    let server = common::start().await;
    let r = rpc(
        &server,
        "solana-mainnet",
        BEARER,
        None,
        &json!([blockhash_request(1), mint_request(2)]),
    )
    .await;
    assert_eq!(r.status, 200);
    // 30 credits per standard Solana call, about $7e-7 each.
    assert_eq!(r.header("x-venice-rpc-credits"), Some("60"));
    assert_eq!(r.header("x-venice-rpc-cost-usd"), Some("0.00004200"));
    assert!(
        r.header("x-balance-remaining").is_none(),
        "API key: no x402 credit"
    );
    let v = r.json();
    let hash = v[0]["result"]["value"]["blockhash"].as_str().unwrap();
    assert_eq!(bs58::decode(hash).into_vec().unwrap().len(), 32);
    assert_eq!(v[1]["id"], 2);
    let account = &v[1]["result"]["value"];
    assert_eq!(account["owner"], TOKEN_PROGRAM);
    let data = base64::engine::general_purpose::STANDARD
        .decode(account["data"][0].as_str().unwrap())
        .unwrap();
    assert_eq!(
        (data.len(), data[44], data[45]),
        (82, 6, 1),
        "decimals, initialized"
    );

    // A fresh blockhash per call; an unknown method is a JSON-RPC error at 5 credits.
    let r = rpc(
        &server,
        "solana-mainnet",
        BEARER,
        None,
        &json!([blockhash_request(3), {"jsonrpc": "2.0", "id": 4, "method": "getSupply"}]),
    )
    .await;
    assert_eq!(r.header("x-venice-rpc-credits"), Some("35"));
    let v = r.json();
    assert_ne!(v[0]["result"]["value"]["blockhash"], hash);
    assert_eq!(v[1]["error"]["code"], -32601);
}

#[tokio::test]
async fn the_proxy_refuses_other_networks_and_anonymous_callers() {
    let server = common::start().await;
    let r = rpc(
        &server,
        "ethereum-mainnet",
        BEARER,
        None,
        &blockhash_request(1),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["details"]["network"].is_object(), "{}", r.json());
    let r = client()
        .post(format!("{}/crypto/rpc/solana-mainnet", server.base_url()))
        .json(&blockhash_request(1))
        .send()
        .await
        .unwrap();
    assert_eq!(check("cryptoRpcProxy", r).await.status, 401);
    let too_many: Vec<Value> = (0..101).map(blockhash_request).collect();
    let r = rpc(&server, "solana-mainnet", BEARER, None, &json!(too_many)).await;
    assert_eq!(r.status, 400, "a batch holds at most 100 requests");
    // An empty batch too (a schemathesis finding: a JSON-RPC error answer has `id: null`,
    // which the provider's 200 schema does not allow).
    let r = rpc(&server, "solana-mainnet", BEARER, None, &json!([])).await;
    assert_eq!(r.status, 400, "{}", r.json());
    // An id that could only be echoed as a float (also a schemathesis finding).
    let huge: Value = serde_json::from_str(
        r#"{"jsonrpc":"2.0","id":-11578909510706518818816,"method":"getLatestBlockhash"}"#,
    )
    .unwrap();
    let r = rpc(&server, "solana-mainnet", BEARER, None, &huge).await;
    assert_eq!(r.status, 400, "{}", r.json());
}

#[tokio::test]
async fn a_wallet_pays_rpc_calls_from_its_credit() {
    let mut config = with_wallets(MockConfig::default());
    config.wallet_balances.insert(WALLET.to_owned(), 1.0);
    let server = MockServer::start(config).await.unwrap();
    let wallet = ("sign-in-with-x", WALLET);
    let r = rpc(&server, "solana-mainnet", wallet, None, &mint_request(1)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-venice-rpc-credits"), Some("30"));
    let left: f64 = r.header("x-balance-remaining").unwrap().parse().unwrap();
    assert!((left - (1.0 - 30.0 * 7e-7)).abs() < 1e-9, "{left}");
    assert!((server.wallet_balance(WALLET) - left).abs() < 1e-9);

    let broke = "0x000000000000000000000000000000000000bEEF";
    let r = rpc(
        &server,
        "solana-mainnet",
        ("sign-in-with-x", broke),
        None,
        &mint_request(1),
    )
    .await;
    assert_eq!(r.status, 402);
    assert_eq!(r.json()["code"], "PAYMENT_REQUIRED");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_answer_without_billing_again() {
    let mut config = with_wallets(MockConfig::default());
    config.wallet_balances.insert(WALLET.to_owned(), 1.0);
    let server = MockServer::start(config).await.unwrap();
    let wallet = ("sign-in-with-x", WALLET);
    let first = rpc(
        &server,
        "solana-mainnet",
        wallet,
        Some("topup-1"),
        &blockhash_request(1),
    )
    .await;
    assert_eq!(first.status, 200);
    assert!(first.header("idempotent-replayed").is_none());
    let after_first = server.wallet_balance(WALLET);
    let again = rpc(
        &server,
        "solana-mainnet",
        wallet,
        Some("topup-1"),
        &blockhash_request(1),
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), first.json(), "the same blockhash");
    assert_eq!(again.header("x-venice-rpc-credits"), Some("30"));
    assert_eq!(
        server.wallet_balance(WALLET),
        after_first,
        "not billed twice"
    );
    let other_body = rpc(
        &server,
        "solana-mainnet",
        wallet,
        Some("topup-1"),
        &blockhash_request(2),
    )
    .await;
    assert_eq!(other_body.status, 400);
    // Keys are per caller: another caller's same key is a new request.
    let r = rpc(
        &server,
        "solana-mainnet",
        BEARER,
        Some("topup-1"),
        &blockhash_request(1),
    )
    .await;
    assert!(r.header("idempotent-replayed").is_none());
    assert_ne!(r.json(), first.json());
    let bad = rpc(
        &server,
        "solana-mainnet",
        BEARER,
        Some("no spaces"),
        &blockhash_request(1),
    )
    .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn discovery_offers_base_and_solana() {
    let server = common::start().await;
    let r = client()
        .post(format!("{}/x402/top-up", server.base_url()))
        .send()
        .await
        .unwrap();
    let r = check("topUpX402Balance", r).await;
    assert_eq!(r.status, 402);
    let v = r.json();
    assert_eq!(v["accepts"][0]["network"], "eip155:8453");
    assert_eq!(v["accepts"][1], accepted());
    assert_eq!(v["accepts"][1]["extra"]["feePayer"], DEFAULT_FEE_PAYER);
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(r.header("payment-required").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header, v);
}

#[tokio::test]
async fn a_solana_top_up_is_verified_credited_once_and_settled_with_its_signature() {
    let server = server_with_kat_blockhash(MockConfig::default()).await;
    let good = payment(accepted(), KAT_TX);
    let r = top_up(&server, &good).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let data = &r.json()["data"];
    assert_eq!(data["walletAddress"], OWNER);
    assert_eq!(data["amountCredited"], json!(5.0));
    let settlement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(r.header("payment-response").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(settlement["network"], SOLANA_MAINNET_NETWORK);
    assert_eq!(settlement["payer"], OWNER);
    assert_eq!(settlement["transaction"], kat_signature());
    assert_eq!(server.wallet_balance(OWNER), 5.0);
    // The same transaction again: its signature is spent.
    assert_rejected(&top_up(&server, &good).await, "replayed_transaction");
    assert_eq!(server.wallet_balance(OWNER), 5.0);
}

#[tokio::test]
async fn tampered_solana_payments_are_rejected_over_http() {
    let server = server_with_kat_blockhash(MockConfig::default()).await;
    let with = |pointer: &str, value: Value| {
        let mut a = accepted();
        *a.pointer_mut(pointer).unwrap() = value;
        payment(a, KAT_TX)
    };
    // Claims more than the transfer moves.
    assert_rejected(
        &top_up(&server, &with("/amount", json!("50000000"))).await,
        "amount_mismatch",
    );
    assert_rejected(
        &top_up(&server, &with("/asset", json!(OWNER))).await,
        "mint_mismatch",
    );
    assert_rejected(
        &top_up(
            &server,
            &with("/network", json!("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1")),
        )
        .await,
        "network_mismatch",
    );
    assert_rejected(
        &top_up(&server, &with("/extra/feePayer", json!(OWNER))).await,
        "fee_payer_mismatch",
    );
    // A transfer amount changed inside the signed bytes (5 USDC → 6): the wallet's
    // signature no longer verifies.
    let mut tx = base64::engine::general_purpose::STANDARD
        .decode(KAT_TX)
        .unwrap();
    let at = tx
        .windows(10)
        .position(|w| w == [12, 0x40, 0x4b, 0x4c, 0, 0, 0, 0, 0, 6])
        .unwrap();
    tx[at + 1..at + 9].copy_from_slice(&6_000_000u64.to_le_bytes());
    let mut a = accepted();
    a["amount"] = json!("6000000");
    assert_rejected(
        &top_up(
            &server,
            &payment(a, &base64::engine::general_purpose::STANDARD.encode(&tx)),
        )
        .await,
        "invalid_signature",
    );
    assert_eq!(server.wallet_balance(OWNER), 0.0, "nothing credited");
    // The untouched payment still goes through: none of the above burned it.
    assert_eq!(
        top_up(&server, &payment(accepted(), KAT_TX)).await.status,
        200
    );
}

#[tokio::test]
async fn a_blockhash_the_server_did_not_issue_is_rejected() {
    let server = common::start().await;
    assert_rejected(
        &top_up(&server, &payment(accepted(), KAT_TX)).await,
        "blockhash_not_found",
    );
    // And one it issued too long ago.
    let store = Arc::new(RecentBlockhashes::new(Duration::from_secs(90)));
    store.insert(blockhash(), SystemTime::now() - Duration::from_secs(600));
    let server = MockServer::start(MockConfig {
        solana_blockhashes: Some(store),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    assert_rejected(
        &top_up(&server, &payment(accepted(), KAT_TX)).await,
        "blockhash_not_found",
    );
}
