//! x402 against the mock's real verifiers, with headers and payments built here by
//! hand (k256 / ed25519-dalek / EIP-712), independent of the client crates.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, B256, U256, eip191_hash_message, hex};
use alloy_sol_types::{Eip712Domain, SolStruct, sol};
use base64::Engine as _;
use common::{check, client};
use ed25519_dalek::Signer as _;
use k256::ecdsa::SigningKey;
use serde_json::{Value, json};
use venice_mock::{MockConfig, MockServer, SiwxPolicy, TopUpFault};

const USDC: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
const PAY_TO: &str = "0x2670B922ef37C7Df47158725C0CC407b5382293F";

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

fn evm_key(n: u8) -> SigningKey {
    SigningKey::from_slice(&[n; 32]).unwrap()
}

fn address_of(key: &SigningKey) -> String {
    Address::from_private_key(key).to_checksum(None)
}

fn sign_digest(key: &SigningKey, digest: &B256) -> [u8; 65] {
    let (sig, rec) = key.sign_prehash_recoverable(digest.as_slice()).unwrap();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&sig.to_bytes());
    out[64] = 27 + rec.to_byte();
    out
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Everything a test may bend in a sign-in.
#[derive(Clone)]
struct SignIn {
    domain: String,
    statement: String,
    msg_chain: String,
    json_chain: Value,
    issued_at: SystemTime,
    expires: Option<SystemTime>,
    nonce: String,
    timestamp: Option<SystemTime>,
}

static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl SignIn {
    fn new() -> Self {
        let now = SystemTime::now();
        let n = NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            domain: "api.venice.ai".into(),
            statement: "Sign in to Venice API".into(),
            msg_chain: "8453".into(),
            json_chain: json!(8453),
            issued_at: now,
            expires: Some(now + Duration::from_secs(300)),
            nonce: format!("{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            timestamp: Some(now),
        }
    }

    fn message(&self, kind: &str, address: &str) -> String {
        let mut m = format!(
            "{} wants you to sign in with your {kind} account:\n{address}\n\n{}\n\nURI: https://api.venice.ai\nVersion: 1\nChain ID: {}\nNonce: {}\nIssued At: {}",
            self.domain,
            self.statement,
            self.msg_chain,
            self.nonce,
            rfc3339(self.issued_at)
        );
        if let Some(e) = self.expires {
            m.push_str(&format!("\nExpiration Time: {}", rfc3339(e)));
        }
        m
    }

    fn json(&self, address: &str, message: String, signature: String) -> Value {
        let mut v = json!({"address": address, "message": message, "signature": signature,
                           "chainId": self.json_chain});
        if let Some(t) = self.timestamp {
            v["timestamp"] = json!(t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64);
        }
        v
    }

    fn evm(&self, key: &SigningKey) -> Value {
        let address = address_of(key);
        let message = self.message("Ethereum", &address);
        let sig = sign_digest(key, &eip191_hash_message(&message));
        self.json(&address, message, format!("0x{}", hex::encode(sig)))
    }

    fn solana(&self, key: &ed25519_dalek::SigningKey) -> Value {
        let address = bs58::encode(key.verifying_key().as_bytes()).into_string();
        let message = self.message("Solana", &address);
        let sig = key.sign(message.as_bytes()).to_bytes();
        let mut v = self.json(&address, message, bs58::encode(sig).into_string());
        v["type"] = json!("ed25519");
        v
    }
}

async fn start(balances: &[(&str, f64)], policy: SiwxPolicy) -> MockServer {
    let mut config = MockConfig {
        siwx_policy: policy,
        ..MockConfig::default()
    };
    for (a, b) in balances {
        config.wallet_balances.insert((*a).to_owned(), *b);
    }
    MockServer::start(config).await.unwrap()
}

async fn balance(server: &MockServer, address: &str, header: &Value) -> common::Checked {
    check(
        "getX402Balance",
        client()
            .get(format!("{}/x402/balance/{address}", server.base_url()))
            .header("SIGN-IN-WITH-X", b64(header))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn assert_invalid_sign_in(r: &common::Checked, reason: &str) {
    assert_eq!(
        r.status,
        401,
        "{reason}: {}",
        String::from_utf8_lossy(&r.body)
    );
    let v = r.json();
    assert!(
        v["code"].as_str().unwrap().starts_with("X402_SIGN_IN_"),
        "{v}"
    );
    // The provider's code of each refusal this file provokes.
    for (words, code) in [
        ("wrong domain", "X402_SIGN_IN_DOMAIN_MISMATCH"),
        ("unsupported chain", "X402_SIGN_IN_UNSUPPORTED_CHAIN"),
        ("chain mismatch", "X402_SIGN_IN_CHAIN_MISMATCH"),
        ("nonce already used", "X402_SIGN_IN_NONCE_REUSED"),
        ("expired", "X402_SIGN_IN_EXPIRED"),
        ("in the future", "X402_SIGN_IN_FUTURE_TIMESTAMP"),
        ("Not Before", "X402_SIGN_IN_NOT_BEFORE"),
        (
            "does not match the address",
            "X402_SIGN_IN_INVALID_SIGNATURE",
        ),
        ("address differs", "X402_SIGN_IN_ADDRESS_MISMATCH"),
    ] {
        if reason.contains(words) {
            assert_eq!(v["code"], code, "{reason}: {v}");
        }
    }
    assert!(
        v["message"].as_str().unwrap().contains(reason),
        "expected {reason:?} in {v}"
    );
}

const GEN: &str = r#"{"model":"venice-sd35","prompt":"x","width":64,"height":64}"#;

#[tokio::test]
async fn paid_call_debits_model_price_and_nonces_are_single_use() {
    let key = evm_key(7);
    let addr = address_of(&key);
    let server = start(&[(&addr, 1.0)], SiwxPolicy::default()).await;
    let price = server
        .catalog()
        .get("venice-sd35")
        .unwrap()
        .price_usd(None, None);
    let body: Value = serde_json::from_str(GEN).unwrap();
    let send = |h: Value| {
        let url = format!("{}/image/generate", server.base_url());
        let body = body.clone();
        async move {
            check(
                "generateImage",
                client()
                    .post(url)
                    .header("SIGN-IN-WITH-X", b64(&h))
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let header = SignIn::new().evm(&key);
    let r = send(header.clone()).await;
    assert_eq!(r.status, 200);
    let left: f64 = r.header("x-balance-remaining").unwrap().parse().unwrap();
    assert!((left - (1.0 - price)).abs() < 1e-6, "{left}");
    // The same header again: replay.
    assert_invalid_sign_in(&send(header).await, "nonce already used");
    // A fresh one works and debits again.
    let r = send(SignIn::new().evm(&key)).await;
    let left2: f64 = r.header("x-balance-remaining").unwrap().parse().unwrap();
    assert!((left - left2 - price).abs() < 1e-6);
    assert!((server.wallet_balance(&addr) - left2).abs() < 1e-6);
}

#[tokio::test]
async fn bad_sign_ins_get_401_with_a_reason() {
    let key = evm_key(8);
    let addr = address_of(&key);
    let server = start(&[], SiwxPolicy::default()).await;
    let now = SystemTime::now();

    let mut old = SignIn::new();
    old.issued_at = now - Duration::from_secs(360);
    old.timestamp = Some(old.issued_at);
    old.expires = Some(now + Duration::from_secs(60));
    assert_invalid_sign_in(&balance(&server, &addr, &old.evm(&key)).await, "expired");

    let mut past = SignIn::new();
    past.expires = Some(now - Duration::from_secs(1));
    assert_invalid_sign_in(&balance(&server, &addr, &past.evm(&key)).await, "expired");

    let mut future = SignIn::new();
    future.issued_at = now + Duration::from_secs(120);
    future.timestamp = Some(future.issued_at);
    assert_invalid_sign_in(&balance(&server, &addr, &future.evm(&key)).await, "future");

    let mut ts = SignIn::new();
    ts.timestamp = Some(now - Duration::from_secs(90));
    assert_invalid_sign_in(&balance(&server, &addr, &ts.evm(&key)).await, "timestamp");

    let mut tampered = SignIn::new().evm(&key);
    tampered["message"] = json!(
        tampered["message"]
            .as_str()
            .unwrap()
            .replace("Sign in to Venice API", "Sign in to Venice APl")
    );
    assert_invalid_sign_in(&balance(&server, &addr, &tampered).await, "does not match");

    let other = address_of(&evm_key(9));
    let mut claimed = SignIn::new().evm(&key);
    claimed["address"] = json!(other);
    assert_invalid_sign_in(
        &balance(&server, &other, &claimed).await,
        "differs from the message",
    );

    let mut domain = SignIn::new();
    domain.domain = "evil.example".into();
    assert_invalid_sign_in(
        &balance(&server, &addr, &domain.evm(&key)).await,
        "wrong domain",
    );

    let mut chain = SignIn::new();
    chain.msg_chain = "1".into();
    chain.json_chain = json!(1);
    assert_invalid_sign_in(
        &balance(&server, &addr, &chain.evm(&key)).await,
        "unsupported chain",
    );

    let mut mismatch = SignIn::new();
    mismatch.json_chain = json!(1);
    assert_invalid_sign_in(
        &balance(&server, &addr, &mismatch.evm(&key)).await,
        "chain mismatch",
    );

    let r = check(
        "getX402Balance",
        client()
            .get(format!("{}/x402/balance/{addr}", server.base_url()))
            .header("SIGN-IN-WITH-X", "not base64!")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_invalid_sign_in(&r, "base64");
}

#[tokio::test]
async fn chain_id_forms_and_recovery_bytes_are_accepted() {
    let key = evm_key(10);
    let addr = address_of(&key);
    let server = start(&[(&addr, 2.5)], SiwxPolicy::default()).await;
    for form in [json!(8453), json!("8453"), json!("eip155:8453")] {
        let mut s = SignIn::new();
        s.json_chain = form.clone();
        let r = balance(&server, &addr, &s.evm(&key)).await;
        assert_eq!(r.status, 200, "{form}");
        assert_eq!(r.json()["data"]["balanceUsd"], json!(2.5));
    }
    // v as 0/1 (some wallets) instead of 27/28; no timestamp at all.
    let mut s = SignIn::new();
    s.timestamp = None;
    let mut h = s.evm(&key);
    let mut sig = hex::decode(&h["signature"].as_str().unwrap()[2..]).unwrap();
    sig[64] -= 27;
    h["signature"] = json!(format!("0x{}", hex::encode(sig)));
    assert_eq!(balance(&server, &addr, &h).await.status, 200);
}

#[tokio::test]
async fn domain_policy_is_explicit_and_configurable() {
    let key = evm_key(11);
    let addr = address_of(&key);
    let mut s = SignIn::new();
    // The provider's API backend, which venice-py signs for: accepted by default.
    s.domain = "outerface.venice.ai".into();
    let default = start(&[], SiwxPolicy::default()).await;
    // The legacy header name, as venice-py sends it.
    let r = check(
        "getX402Balance",
        client()
            .get(format!("{}/x402/balance/{addr}", default.base_url()))
            .header("X-Sign-In-With-X", b64(&s.evm(&key)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Any other domain stays refused, and the policy narrows to what a test asks.
    let mut evil = SignIn::new();
    evil.domain = "venice.ai.evil.example".into();
    assert_invalid_sign_in(
        &balance(&default, &addr, &evil.evm(&key)).await,
        "wrong domain",
    );
    let strict = start(
        &[],
        SiwxPolicy {
            domains: vec!["api.venice.ai".into()],
            ..SiwxPolicy::default()
        },
    )
    .await;
    let mut again = SignIn::new();
    again.domain = "outerface.venice.ai".into();
    assert_invalid_sign_in(
        &balance(&strict, &addr, &again.evm(&key)).await,
        "wrong domain",
    );
    assert_eq!(
        SiwxPolicy::default().domains,
        ["api.venice.ai", "venice.ai", "outerface.venice.ai"]
    );
    // The policy round-trips through the JSON config file.
    let json = serde_json::to_value(MockConfig::default()).unwrap();
    assert_eq!(json["siwx_policy"]["max_age_secs"], 300);
    let back: MockConfig = serde_json::from_value(json!({
        "siwx_policy": {"domains": ["outerface.venice.ai"]}
    }))
    .unwrap();
    assert_eq!(back.siwx_policy.domains, ["outerface.venice.ai"]);
    assert_eq!(back.siwx_policy.nonce_ttl_secs, 330);
}

#[tokio::test]
async fn solana_sign_in() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let addr = bs58::encode(key.verifying_key().as_bytes()).into_string();
    let server = start(&[(&addr, 1.25)], SiwxPolicy::default()).await;
    let mut s = SignIn::new();
    s.msg_chain = "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp".into();
    s.json_chain = json!("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp");
    let h = s.solana(&key);
    let r = balance(&server, &addr, &h).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["balanceUsd"], json!(1.25));
    // Base64 signature, new nonce.
    let mut s2 = s.clone();
    s2.nonce = "abcdef0123456789".into();
    let mut h2 = s2.solana(&key);
    let raw = bs58::decode(h2["signature"].as_str().unwrap())
        .into_vec()
        .unwrap();
    h2["signature"] = json!(base64::engine::general_purpose::STANDARD.encode(raw));
    assert_eq!(balance(&server, &addr, &h2).await.status, 200);
    // Tampered.
    let mut s3 = s.clone();
    s3.nonce = "1111111111111111".into();
    let mut h3 = s3.solana(&key);
    h3["message"] = json!(h3["message"].as_str().unwrap().replace("Venice", "Venlce"));
    assert_invalid_sign_in(&balance(&server, &addr, &h3).await, "does not match");
    // Wrong chain (devnet).
    let mut s4 = s.clone();
    s4.nonce = "2222222222222222".into();
    s4.msg_chain = "EtWTRABZaYq6iMfeYKouRu166VU2xqa1".into();
    s4.json_chain = json!("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1");
    assert_invalid_sign_in(
        &balance(&server, &addr, &s4.solana(&key)).await,
        "unsupported chain",
    );
}

sol! {
    struct TransferWithAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }
}

/// A payment for the mock's offer, bent by the caller.
#[derive(Clone)]
struct Payment {
    to: String,
    asset: String,
    value: u64,
    accepted_amount: u64,
    valid_after: u64,
    valid_before: u64,
    nonce: [u8; 32],
}

impl Payment {
    fn new(value: u64, nonce: u8) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Self {
            to: PAY_TO.into(),
            asset: USDC.into(),
            value,
            accepted_amount: value,
            valid_after: now - 600,
            valid_before: now + 300,
            nonce: [nonce; 32],
        }
    }

    fn header(&self, key: &SigningKey) -> String {
        let domain = Eip712Domain::new(
            Some("USD Coin".into()),
            Some("2".into()),
            Some(U256::from(8453)),
            Some(self.asset.parse().unwrap()),
            None,
        );
        let from = Address::from_private_key(key);
        let msg = TransferWithAuthorization {
            from,
            to: self.to.parse().unwrap(),
            value: U256::from(self.value),
            validAfter: U256::from(self.valid_after),
            validBefore: U256::from(self.valid_before),
            nonce: B256::from(self.nonce),
        };
        let sig = sign_digest(key, &msg.eip712_signing_hash(&domain));
        b64(&json!({
            "x402Version": 2,
            "accepted": {"scheme": "exact", "network": "eip155:8453", "asset": self.asset,
                         "amount": self.accepted_amount.to_string(), "payTo": self.to,
                         "maxTimeoutSeconds": 300, "extra": {"name": "USD Coin", "version": "2"}},
            "payload": {"signature": format!("0x{}", hex::encode(sig)), "authorization": {
                "from": from.to_checksum(None), "to": self.to, "value": self.value.to_string(),
                "validAfter": self.valid_after.to_string(),
                "validBefore": self.valid_before.to_string(),
                "nonce": format!("0x{}", hex::encode(self.nonce)),
            }}
        }))
    }
}

async fn top_up(server: &MockServer, header: Option<&str>) -> common::Checked {
    let mut rb = client().post(format!("{}/x402/top-up", server.base_url()));
    if let Some(h) = header {
        rb = rb.header("PAYMENT-SIGNATURE", h);
    }
    check("topUpX402Balance", rb.send().await.unwrap()).await
}

/// The provider's top-up validation codes (`error` of a 400).
pub(crate) const TOP_UP_CODES: &[&str] = &[
    "INVALID_PAYMENT_FORMAT",
    "INVALID_PAYMENT",
    "UNSUPPORTED_NETWORK",
    "INVALID_PAYMENT_RECIPIENT",
    "UNSUPPORTED_TOKEN",
    "UNSUPPORTED_SCHEME",
    "INVALID_AMOUNT",
    "INVALID_PAYMENT_PAYER",
    "AMOUNT_TOO_LOW",
    "AMOUNT_TOO_HIGH",
    "PAYMENT_VERIFICATION_FAILED",
];

fn assert_invalid_payment(r: &common::Checked, reason: &str) {
    let v = r.json();
    // A replayed payment is the provider's 409 (a settled payment is credited once).
    if reason.contains("already used") {
        assert_eq!(
            (r.status, v["error"].as_str()),
            (409, Some("PAYMENT_IN_PROGRESS")),
            "{v}"
        );
    } else {
        assert_eq!(r.status, 400, "{reason}");
        assert!(TOP_UP_CODES.contains(&v["error"].as_str().unwrap()), "{v}");
    }
    // The provider's closed x402 error shape: `error` is the code, no `code` field.
    assert!(v.get("code").is_none(), "{v}");
    assert!(
        v["details"]["reason"].as_str().unwrap().contains(reason),
        "expected {reason:?} in {v}"
    );
}

#[tokio::test]
async fn top_up_verifies_the_authorization() {
    let key = evm_key(12);
    let addr = address_of(&key);
    let server = start(&[], SiwxPolicy::default()).await;

    let mut p = Payment::new(5_000_000, 1);
    p.to = "0x000000000000000000000000000000000000dEaD".into();
    assert_invalid_payment(&top_up(&server, Some(&p.header(&key))).await, "payee");
    let mut p = Payment::new(5_000_000, 2);
    p.asset = "0x0000000000000000000000000000000000000001".into();
    assert_invalid_payment(&top_up(&server, Some(&p.header(&key))).await, "asset");
    let p = Payment::new(4_999_999, 3);
    assert_invalid_payment(&top_up(&server, Some(&p.header(&key))).await, "minimum");
    let mut p = Payment::new(6_000_000, 4);
    p.accepted_amount = 5_000_000;
    assert_invalid_payment(
        &top_up(&server, Some(&p.header(&key))).await,
        "accepted amount",
    );
    let mut p = Payment::new(5_000_000, 5);
    p.valid_before = p.valid_after + 10;
    assert_invalid_payment(&top_up(&server, Some(&p.header(&key))).await, "expired");
    let mut p = Payment::new(5_000_000, 6);
    p.valid_after += 1200;
    assert_invalid_payment(
        &top_up(&server, Some(&p.header(&key))).await,
        "not yet valid",
    );
    // Signed by another key but claiming `from` = addr.
    let good = Payment::new(7_000_000, 7).header(&key);
    let forged = Payment::new(7_000_000, 7).header(&evm_key(13));
    let mut v: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(&forged)
            .unwrap(),
    )
    .unwrap();
    v["payload"]["authorization"]["from"] = json!(addr);
    assert_invalid_payment(&top_up(&server, Some(&b64(&v))).await, "signature");
    assert_eq!(server.wallet_balance(&addr), 0.0, "nothing credited so far");

    let r = top_up(&server, Some(&good)).await;
    assert_eq!(r.status, 200);
    let data = &r.json()["data"];
    assert_eq!(data["amountCredited"], json!(7.0));
    assert_eq!(data["newBalance"], json!(7.0));
    assert!(r.header("payment-response").is_some());
    assert_invalid_payment(&top_up(&server, Some(&good)).await, "already used");
    assert_eq!(server.wallet_balance(&addr), 7.0);
}

#[tokio::test]
async fn wallet_402_then_top_up_then_success() {
    let key = evm_key(14);
    let addr = address_of(&key);
    let server = start(&[], SiwxPolicy::default()).await;
    let body: Value = serde_json::from_str(GEN).unwrap();
    let generate = |h: Value| {
        client()
            .post(format!("{}/image/generate", server.base_url()))
            .header("SIGN-IN-WITH-X", b64(&h))
            .json(&body)
            .send()
    };
    let r = check(
        "generateImage",
        generate(SignIn::new().evm(&key)).await.unwrap(),
    )
    .await;
    assert_eq!(r.status, 402);
    let v = r.json();
    assert_eq!(v["code"], "PAYMENT_REQUIRED");
    assert_eq!(v["reason"], "insufficient_balance");
    assert!(v["siwxChallenge"].is_object() && v["topUpInstructions"].is_object());
    let req: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(r.header("payment-required").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(req["accepts"][0]["payTo"], PAY_TO);
    // The provider's challenge: priced at the $10 suggestion, Solana as the bare
    // `solana`; the $5 minimum is in the body.
    let mut keys: Vec<&str> = req
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["accepts", "error", "extensions", "resource", "x402Version"]
    );
    assert_eq!(req["accepts"][0]["amount"], "10000000");
    assert_eq!(req["accepts"][1]["amount"], "10000000");
    assert_eq!(req["accepts"][1]["network"], "solana");
    assert_eq!(v["minimumTopUpUsd"], 5.0);
    assert_eq!(v["suggestedTopUpUsd"], 10.0);

    // Discovery without payment, then pay.
    let d = top_up(&server, None).await;
    assert_eq!(d.status, 402);
    assert_eq!(d.json()["accepts"][0]["amount"], "5000000");
    assert_eq!(
        top_up(&server, Some(&Payment::new(5_000_000, 20).header(&key)))
            .await
            .status,
        200
    );
    let r = check(
        "generateImage",
        generate(SignIn::new().evm(&key)).await.unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    let price = server
        .catalog()
        .get("venice-sd35")
        .unwrap()
        .price_usd(None, None);
    let left: f64 = r.header("x-balance-remaining").unwrap().parse().unwrap();
    assert!((left - (5.0 - price)).abs() < 1e-6);
    assert!((server.wallet_balance(&addr) - left).abs() < 1e-6);
}

#[tokio::test]
async fn a_diem_linked_wallet_spends_diem_and_shows_it() {
    let key = evm_key(15);
    let addr = address_of(&key);
    let mut config = MockConfig::default();
    config.wallet_balances.insert(addr.clone(), 20.0);
    config.diem_wallets.insert(addr.clone(), 0.001);
    let server = MockServer::start(config).await.unwrap();
    let r = balance(&server, &addr, &SignIn::new().evm(&key)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["diemBalanceUsd"], 0.001);
    // DIEM does not cover the image: a 402, although the USD credit would.
    let body: Value = serde_json::from_str(GEN).unwrap();
    let again = SignIn::new();
    let r = check(
        "generateImage",
        client()
            .post(format!("{}/image/generate", server.base_url()))
            .header("SIGN-IN-WITH-X", b64(&again.evm(&key)))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 402);
    assert_eq!(r.json()["code"], "PAYMENT_REQUIRED");
    assert_eq!(server.wallet_balance(&addr), 20.0);
}

#[tokio::test]
async fn top_up_faults_answer_with_the_providers_codes() {
    let key = evm_key(16);
    let server = start(&[], SiwxPolicy::default()).await;
    server.push_top_up_faults(vec![
        TopUpFault::SettlementTimeout { landed: true },
        TopUpFault::PaymentInProgress { landed: false },
        TopUpFault::SettlementFailed,
    ]);
    let addr = address_of(&key);
    for (seed, status, code) in [
        (30, 504, "SETTLEMENT_TIMEOUT"),
        (31, 409, "PAYMENT_IN_PROGRESS"),
        (32, 402, "SETTLEMENT_FAILED"),
    ] {
        let r = top_up(&server, Some(&Payment::new(5_000_000, seed).header(&key))).await;
        assert_eq!((r.status, r.json()["error"].clone()), (status, json!(code)));
    }
    assert_eq!(
        server.wallet_balance(&addr),
        5.0,
        "only the landed 504 credited"
    );
    // Above the provider's $10,000: AMOUNT_TOO_HIGH, nothing credited.
    let r = top_up(
        &server,
        Some(&Payment::new(20_000_000_000, 33).header(&key)),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (400, json!("AMOUNT_TOO_HIGH"))
    );
    assert_eq!(server.wallet_balance(&addr), 5.0);
}
