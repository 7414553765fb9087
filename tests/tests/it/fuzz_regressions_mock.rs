//! Replays the committed inputs of the `mock_request` and `siwx_header` fuzz targets
//! (seeds and minimised crashers under `fuzz/regressions/<target>/`) through the same
//! entry points, so a fixed finding stays fixed in CI without nightly or cargo-fuzz.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;

use venice_mock::__fuzz::{Outcome, check_request, siwx_fuzz_now, siwx_input};

fn inputs() -> Vec<(String, Vec<u8>)> {
    inputs_of("mock_request")
}

fn inputs_of(target: &str) -> Vec<(String, Vec<u8>)> {
    contract_tests::fuzz_regressions(target)
        .unwrap_or_else(|e| panic!("fuzz/regressions/{target}: {e}"))
}

#[test]
fn every_committed_input_keeps_the_invariants() {
    let inputs = inputs();
    assert!(inputs.len() >= 10, "corpus missing");
    for (name, data) in &inputs {
        if let Err(broken) = check_request(data) {
            panic!("{name}: {broken}");
        }
    }
}

#[test]
fn the_harness_routes_authenticates_and_stops_at_the_charge() {
    let outcome = |name: &str| {
        let data = std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../fuzz/regressions/mock_request")
                .join(name),
        )
        .unwrap();
        check_request(&data).unwrap().unwrap()
    };
    let op = Some("generateImage");
    // Valid key and body: validated, then refused at the charge (negative balance).
    assert_eq!(
        outcome("seed-generate"),
        Outcome {
            operation: op,
            status: 402
        }
    );
    assert_eq!(
        outcome("seed-generate-noauth"),
        // No credentials: the provider's x402 discovery 402, not a 401.
        Outcome {
            operation: op,
            status: 402
        }
    );
    assert_eq!(outcome("seed-models").status, 200);
    assert_eq!(
        outcome("seed-traversal"),
        Outcome {
            operation: None,
            status: 404
        }
    );
    assert_eq!(outcome("seed-method").status, 405);
    // Not a request hyper would pass on.
    assert_eq!(check_request(b"GET \x00 \n\n"), Ok(None));
}

#[test]
fn siwx_inputs_keep_the_invariants_and_valid_seeds_verify() {
    let inputs = inputs_of("siwx_header");
    assert!(inputs.len() >= 8, "siwx corpus missing");
    for (name, data) in &inputs {
        match siwx_input(data) {
            Err(broken) => panic!("{name}: {broken}"),
            // The `valid-*` seeds are real EVM / Solana sign-ins at `siwx_fuzz_now`, so
            // the fuzzer starts past the signature check; every other input is refused.
            Ok(accepted) => assert_eq!(accepted, name.starts_with("valid-"), "{name}"),
        }
    }
}

/// Writes the `siwx_header` seeds: `cargo test -p contract-tests --test it --
/// --ignored fuzz_regressions_mock::write_siwx_seeds`. Signed with fixed test keys at the fixed instant the
/// harness verifies at, so they stay valid.
#[test]
#[ignore = "regenerates fuzz/regressions/siwx_header"]
fn write_siwx_seeds() {
    use alloy_primitives::{Address, eip191_hash_message, hex};
    use ed25519_dalek::Signer as _;
    use serde_json::json;

    let issued = siwx_fuzz_now() - std::time::Duration::from_secs(60);
    let ms = issued
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let at = humantime::format_rfc3339_millis(issued).to_string();
    let exp = humantime::format_rfc3339_millis(issued + std::time::Duration::from_secs(300));
    let message = |domain: &str, kind: &str, address: &str, chain: &str, nonce: &str| {
        format!(
            "{domain} wants you to sign in with your {kind} account:\n{address}\n\nSign in to Venice API\n\nURI: https://api.venice.ai\nVersion: 1\nChain ID: {chain}\nNonce: {nonce}\nIssued At: {at}\nExpiration Time: {exp}"
        )
    };
    let evm = k256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
    let evm_addr = Address::from_private_key(&evm).to_checksum(None);
    let evm_header = |domain: &str, chain: &str, json_chain: serde_json::Value| {
        let m = message(domain, "Ethereum", &evm_addr, chain, "a1b2c3d4e5f60718");
        let (sig, rec) = evm
            .sign_prehash_recoverable(eip191_hash_message(&m).as_slice())
            .unwrap();
        let mut raw = sig.to_bytes().to_vec();
        raw.push(27 + rec.to_byte());
        json!({"address": evm_addr, "message": m, "signature": format!("0x{}", hex::encode(raw)),
               "chainId": json_chain, "timestamp": ms})
    };
    let sol = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let sol_addr = bs58::encode(sol.verifying_key().as_bytes()).into_string();
    let mainnet = "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp";
    let sol_msg = message(
        "api.venice.ai",
        "Solana",
        &sol_addr,
        mainnet,
        "0f1e2d3c4b5a6978",
    );
    let sol_sig = sol.sign(sol_msg.as_bytes()).to_bytes();
    let sol_header = json!({"address": sol_addr, "message": sol_msg,
        "signature": bs58::encode(sol_sig).into_string(),
        "chainId": format!("solana:{mainnet}"), "type": "ed25519", "timestamp": ms});
    let mut sol_b64 = sol_header.clone();
    {
        use base64::Engine as _;
        sol_b64["signature"] = json!(base64::engine::general_purpose::STANDARD.encode(sol_sig));
    }
    let valid_evm = evm_header("api.venice.ai", "8453", json!(8453));
    let mut tampered = valid_evm.clone();
    tampered["message"] = json!(
        tampered["message"]
            .as_str()
            .unwrap()
            .replace("Venice", "Venlce")
    );
    let raw_b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(valid_evm.to_string())
    };
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("valid-evm.json", valid_evm.to_string().into_bytes()),
        (
            "valid-evm-caip2-chain.json",
            evm_header("venice.ai", "eip155:8453", json!("eip155:8453"))
                .to_string()
                .into_bytes(),
        ),
        ("valid-solana.json", sol_header.to_string().into_bytes()),
        (
            "valid-solana-b64-signature.json",
            sol_b64.to_string().into_bytes(),
        ),
        ("valid-evm-raw-base64", raw_b64.into_bytes()),
        ("seed-evm-tampered.json", tampered.to_string().into_bytes()),
        (
            "seed-evm-wrong-domain.json",
            evm_header("evil.example", "8453", json!(8453))
                .to_string()
                .into_bytes(),
        ),
        (
            "seed-evm-wrong-chain.json",
            evm_header("api.venice.ai", "1", json!(1))
                .to_string()
                .into_bytes(),
        ),
        ("seed-not-base64", b"not base64 !!".to_vec()),
        ("seed-empty-object.json", b"{}".to_vec()),
        ("seed-message-only", sol_msg.into_bytes()),
    ];
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/siwx_header");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in seeds {
        std::fs::write(dir.join(name), data).unwrap();
    }
}
