//! Wallet auth end to end: the facade signs, the mock verifies with its own code.
#![cfg(feature = "wallet")]
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use venice_image::payment::PaymentRequirementExt as _;
use venice_image::wallet::{AutoTopUp, Wallet, WalletError};
use venice_image::wallet::{SiwxConfig, signed_header};
use venice_image::{Auth, Client, Error, ErrorCode, GenerateRequest, PaymentRequiredKind, Size};
use venice_mock::{
    DefaultSiwxVerifier, MockConfig, MockServer, SiwxPolicy, SiwxVerifier, WalletIdentity,
};

const KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const ADDRESS: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

/// The mock's real verifier, remembering every header value it saw.
struct Recording {
    seen: Arc<Mutex<Vec<String>>>,
    inner: DefaultSiwxVerifier,
}

impl SiwxVerifier for Recording {
    fn verify(&self, header_value: &str) -> Result<WalletIdentity, String> {
        self.seen.lock().unwrap().push(header_value.to_owned());
        self.inner.verify(header_value)
    }
}

async fn mock(balance: f64) -> (MockServer, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut config = MockConfig::default();
    config.wallet_balances.insert(ADDRESS.to_owned(), balance);
    config.siwx_verifier = Some(Arc::new(Recording {
        seen: seen.clone(),
        inner: DefaultSiwxVerifier::new(SiwxPolicy::default()),
    }));
    (MockServer::start(config).await.unwrap(), seen)
}

fn client(server: &MockServer, auth: Auth) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .auth(auth)
        .build()
        .unwrap()
}

fn request() -> GenerateRequest {
    GenerateRequest::builder("venice-sd35", "a lighthouse")
        .size(Size::Pixels {
            width: 64,
            height: 64,
        })
        .build()
        .unwrap()
}

fn price(server: &MockServer) -> f64 {
    server
        .catalog()
        .get("venice-sd35")
        .unwrap()
        .price_usd(None, None)
}

fn sign_in_error(e: &Error) -> String {
    assert_eq!(e.status(), Some(401), "{e:?}");
    assert!(e.code().unwrap().is_sign_in(), "{e:?}");
    e.api_error().unwrap().body_excerpt().to_owned()
}

#[tokio::test]
async fn fresh_header_per_request_and_balance_tracking() {
    let (server, seen) = mock(1.0).await;
    let c = client(&server, Auth::evm_wallet(KEY).unwrap());
    let b = c.wallet_balance().await.unwrap();
    assert_eq!(b.wallet_address.to_lowercase(), ADDRESS.to_lowercase());
    assert_eq!(b.balance_usd, 1.0);
    let g1 = c.generate(&request()).await.unwrap();
    let g2 = c.generate(&request()).await.unwrap();
    let p = price(&server);
    assert!((g1.meta().balance_remaining_usd().unwrap() - (1.0 - p)).abs() < 1e-6);
    assert!((g2.meta().balance_remaining_usd().unwrap() - (1.0 - 2.0 * p)).abs() < 1e-6);
    assert!((c.last_balance_usd().unwrap() - (1.0 - 2.0 * p)).abs() < 1e-6);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        3,
        "balance + two generations were authenticated"
    );
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        seen.len(),
        "every request carried a new header"
    );
    // Different nonces, not just different timestamps.
    let nonces: Vec<String> = seen
        .iter()
        .map(|h| {
            let v: Value =
                serde_json::from_slice(&base64_simd::STANDARD.decode_to_vec(h).unwrap()).unwrap();
            let m = v["message"].as_str().unwrap().to_owned();
            m.lines()
                .find_map(|l| l.strip_prefix("Nonce: "))
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(nonces.iter().all(|n| n.len() == 16));
    assert_ne!(nonces[0], nonces[1]);
    let txs = c.wallet_transactions(10, 0).await.unwrap();
    assert_eq!(txs.transactions.len(), 2);
    assert_eq!(txs.transactions[0].type_, "CHARGE");
    assert_eq!(txs.transactions[0].model_id.as_deref(), Some("venice-sd35"));
}

#[tokio::test]
async fn replayed_expired_tampered_and_foreign_headers_are_rejected() {
    let (server, _) = mock(1.0).await;
    let wallet = Wallet::evm(KEY).unwrap();
    let config = SiwxConfig::default();

    // Replayed: a static header works once.
    let header = signed_header(&wallet, &config, SystemTime::now(), "00000000deadbeef")
        .await
        .unwrap();
    let c = client(&server, Auth::siwx_header(header.clone()));
    assert_eq!(c.wallet_balance().await.unwrap().balance_usd, 1.0);
    // The client never sends it twice...
    assert!(matches!(
        c.wallet_balance().await.unwrap_err(),
        Error::Auth(_)
    ));
    // ...and the server rejects it when another client replays it.
    let replay = client(&server, Auth::siwx_header(header));
    let body = sign_in_error(&replay.wallet_balance().await.unwrap_err());
    assert!(body.contains("nonce already used"), "{body}");

    // Expired: issued six minutes ago.
    let old = SystemTime::now() - Duration::from_secs(360);
    let header = signed_header(&wallet, &config, old, "00000000deadbee1")
        .await
        .unwrap();
    let body = sign_in_error(
        &client(&server, Auth::siwx_header(header))
            .generate(&request())
            .await
            .unwrap_err(),
    );
    assert!(body.contains("expired"), "{body}");

    // Tampered: the message changed after signing.
    let header = signed_header(&wallet, &config, SystemTime::now(), "00000000deadbee2")
        .await
        .unwrap();
    let mut v: Value =
        serde_json::from_slice(&base64_simd::STANDARD.decode_to_vec(&header).unwrap()).unwrap();
    v["message"] = Value::String(
        v["message"]
            .as_str()
            .unwrap()
            .replace("Venice API", "Venice APl"),
    );
    let tampered = base64_simd::STANDARD.encode_to_string(v.to_string());
    let body = sign_in_error(
        &client(&server, Auth::siwx_header(tampered))
            .wallet_balance()
            .await
            .unwrap_err(),
    );
    assert!(body.contains("does not match"), "{body}");

    // Signed for another domain.
    let evil = Auth::wallet(wallet.clone(), SiwxConfig::default().domain("evil.example")).unwrap();
    let body = sign_in_error(&client(&server, evil).wallet_balance().await.unwrap_err());
    assert!(body.contains("wrong domain"), "{body}");
    assert_eq!(server.wallet_balance(ADDRESS), 1.0, "nothing was charged");
}

#[tokio::test]
async fn payment_required_then_top_up_then_success() {
    let (server, _) = mock(0.0).await;
    let c = client(&server, Auth::evm_wallet(KEY).unwrap());
    let err = c.generate(&request()).await.unwrap_err();
    let Error::PaymentRequired { error: p, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(p.kind(), PaymentRequiredKind::WalletCredit);
    assert_eq!(*p.api_error().code(), ErrorCode::PaymentRequired);
    let req = p.requirements().unwrap();
    let base = req.base_option().unwrap();
    // The challenge is priced at the $10 suggestion; the minimum is `minimumTopUpUsd`.
    assert_eq!(base.amount_usd(), Some(10.0));
    assert_eq!(p.minimum_top_up_usd, Some(5.0));
    assert!(p.payment_required_header().is_some());

    let discovered = c.payment_requirements().await.unwrap();
    assert_eq!(discovered.base_option().unwrap().amount_usd(), Some(5.0));
    assert!(matches!(
        c.top_up(4.0).await,
        Err(Error::Wallet(WalletError::AmountTooLow { .. }))
    ));
    let receipt = c.top_up(5.0).await.unwrap();
    assert_eq!(receipt.amount_credited_usd(), 5.0);
    assert_eq!(receipt.new_balance_usd(), 5.0);
    assert_eq!(
        receipt
            .settlement()
            .unwrap()
            .payer
            .as_deref()
            .unwrap()
            .to_lowercase(),
        ADDRESS.to_lowercase()
    );
    assert_eq!(c.last_balance_usd(), Some(5.0));

    let g = c.generate(&request()).await.unwrap();
    let left = g.meta().balance_remaining_usd().unwrap();
    assert!((left - (5.0 - price(&server))).abs() < 1e-6, "{left}");
    let txs = c.wallet_transactions(10, 0).await.unwrap();
    let kinds: Vec<&str> = txs.transactions.iter().map(|t| t.type_.as_str()).collect();
    assert_eq!(kinds, ["CHARGE", "TOP_UP"]);
}

#[tokio::test]
async fn auto_top_up_within_the_cap_then_retry() {
    let (server, seen) = mock(0.0).await;
    let c = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::evm_wallet(KEY).unwrap())
        .auto_top_up(AutoTopUp {
            amount_usd: 5.0,
            max_total_usd: 5.0,
        })
        .build()
        .unwrap();
    let g = c.generate(&request()).await.unwrap();
    let p = price(&server);
    assert!((g.meta().balance_remaining_usd().unwrap() - (5.0 - p)).abs() < 1e-6);
    assert_eq!(c.auto_top_up_spent_usd(), 5.0);
    assert_eq!(
        seen.lock().unwrap().len(),
        3,
        "the 402, the balance read before paying and the retry, each signed"
    );

    // Cap reached: drain the wallet, the next 402 comes back as is.
    let mut config = MockConfig::default();
    config.wallet_balances.insert(ADDRESS.to_owned(), 0.0);
    let empty = MockServer::start(config).await.unwrap();
    let capped = Client::builder()
        .base_url(empty.base_url())
        .auth(Auth::evm_wallet(KEY).unwrap())
        .auto_top_up(AutoTopUp {
            amount_usd: 5.0,
            max_total_usd: 4.0,
        })
        .build()
        .unwrap();
    let err = capped.generate(&request()).await.unwrap_err();
    assert!(matches!(err, Error::PaymentRequired { .. }), "{err:?}");
    assert_eq!(capped.auto_top_up_spent_usd(), 0.0);
    assert_eq!(empty.wallet_balance(ADDRESS), 0.0);
}

#[tokio::test]
async fn solana_wallet_signs_in_and_tops_up() {
    let key = ed25519_dalek_key();
    let auth = Auth::solana_wallet(&key).unwrap();
    let address = auth.wallet_address().unwrap();
    let mut config = MockConfig::default();
    config.wallet_balances.insert(address.clone(), 3.0);
    let server = MockServer::start(config).await.unwrap();
    let c = client(&server, auth);
    assert_eq!(c.wallet_balance().await.unwrap().balance_usd, 3.0);
    let g = c.generate(&request()).await.unwrap();
    let left = g.meta().balance_remaining_usd().unwrap();
    assert!(left < 3.0);
    // USDC on Solana, chain data through the provider's proxy (billed from the credit);
    // tests/solana.rs covers the details.
    let receipt = c.top_up(5.0).await.unwrap();
    assert_eq!(receipt.amount_credited_usd(), 5.0);
    assert!(
        receipt.new_balance_usd() > left + 5.0 - 0.001,
        "{receipt:?}"
    );
    assert_eq!(server.wallet_balance(&address), receipt.new_balance_usd());
    let d = format!("{c:?}");
    assert!(d.contains(&address) && !d.contains(&key), "{d}");
}

/// A base58 32-byte Solana secret.
fn ed25519_dalek_key() -> String {
    bs58::encode([9u8; 32]).into_string()
}
