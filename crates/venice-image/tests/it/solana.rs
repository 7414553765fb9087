//! Solana top-ups end to end: the facade builds and signs the USDC transfer, the mock
//! decodes and verifies it with its own code (`venice_mock::svm`).
//!
//! Covers: 402 → top-up → paid request (balance falls by the model price); what the
//! client refuses to sign before fetching any chain data (wrong network, mint, an
//! amount over the caller's cap, a fee payer or receiver that is the wallet); what the
//! mock rejects in a client-built payment bent after signing (replayed signature,
//! reused blockhash, amount, mint, network, fee payer, signature); a wallet with no
//! credit paying the chain data through its own RPC endpoint; auto top-up.
#![cfg(feature = "wallet")]
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};
use venice_image::payment::PaymentRequirementExt as _;
use venice_image::wallet::{
    AutoTopUp, LocalSolanaSigner, SignerError, SolanaSigner, SvmError, Wallet, WalletError,
};
use venice_image::{Auth, Client, Error, GenerateRequest, PaymentRequiredKind, Size, async_trait};
use venice_mock::svm::{
    DEFAULT_FEE_PAYER, DEFAULT_PAY_TO, SOLANA_MAINNET_NETWORK, SvmPaymentPolicy,
};
use venice_mock::{MockConfig, MockServer, RecordedRequest};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A Solana wallet whose transaction signatures are recorded, to bend them afterwards.
struct Recording {
    key: LocalSolanaSigner,
    signed: Mutex<Vec<(Vec<u8>, [u8; 64])>>,
}

#[async_trait]
impl SolanaSigner for Recording {
    fn address(&self) -> &str {
        self.key.address()
    }

    async fn sign_message(&self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        Ok(self.key.sign(message))
    }

    async fn sign_transaction(&self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        let signature = self.key.sign(message);
        self.signed
            .lock()
            .unwrap()
            .push((message.to_vec(), signature));
        Ok(signature)
    }
}

fn recording(seed: u8) -> Arc<Recording> {
    Arc::new(Recording {
        key: LocalSolanaSigner::from_bytes(&[seed; 32]).unwrap(),
        signed: Mutex::new(Vec::new()),
    })
}

async fn mock(wallet: &str, credit: f64, policy: SvmPaymentPolicy) -> MockServer {
    let mut config = MockConfig::default();
    config.wallet_balances.insert(wallet.to_owned(), credit);
    config.svm_payment_policy = policy;
    MockServer::start(config).await.unwrap()
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

fn client(server: &MockServer, wallet: Wallet) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .auth(Auth::wallet_with_signer(wallet))
        .build()
        .unwrap()
}

fn operations(server: &MockServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r: &RecordedRequest| {
            let paid = r.header("payment-signature").is_some();
            format!(
                "{} {}{}",
                r.method,
                r.path,
                if paid { " +payment" } else { "" }
            )
        })
        .collect()
}

/// One Solana top-up costs two RPC calls of 30 credits at about $7e-7.
const RPC_COST_USD: f64 = 60.0 * 7e-7;

#[tokio::test]
async fn payment_required_then_solana_top_up_then_the_paid_request() {
    let signer = recording(21);
    let address = signer.address().to_owned();
    let server = mock(&address, 0.001, SvmPaymentPolicy::default()).await;
    let c = client(&server, Wallet::Solana(signer.clone()));

    // Too little credit for the image (but enough for the RPC proxy).
    let err = c.generate(&request()).await.unwrap_err();
    let Error::PaymentRequired { kind, error: p } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*kind, PaymentRequiredKind::WalletCredit);
    let offered = p.requirements().unwrap();
    let option = offered.solana_option().unwrap();
    // The challenge's Solana option: the bare `solana`, priced at the $10 suggestion.
    assert_eq!(option.network, "solana");
    assert_eq!(option.amount_usd(), Some(10.0));
    assert_eq!(option.fee_payer(), Some(DEFAULT_FEE_PAYER));

    let receipt = c.top_up(5.0).await.unwrap();
    assert_eq!(receipt.wallet_address(), address);
    assert_eq!(receipt.amount_credited_usd(), 5.0);
    assert!((receipt.new_balance_usd() - (0.001 - RPC_COST_USD + 5.0)).abs() < 1e-9);
    let settlement = receipt.settlement().unwrap();
    assert_eq!(settlement.network.as_deref(), Some(SOLANA_MAINNET_NETWORK));
    assert_eq!(settlement.payer.as_deref(), Some(address.as_str()));
    // On Solana the transaction id is the wallet's signature.
    let (_, signature) = signer.signed.lock().unwrap()[0];
    assert_eq!(
        settlement.transaction.as_deref().unwrap(),
        bs58::encode(signature).into_string()
    );

    let g = c.generate(&request()).await.unwrap();
    let left = g.meta().balance_remaining_usd().unwrap();
    assert!((left - (receipt.new_balance_usd() - price(&server))).abs() < 1e-9);
    assert_eq!(c.last_balance_usd(), Some(left));
    assert!((server.wallet_balance(&address) - left).abs() < 1e-9);

    // What went over the wire: the chain data through the proxy, then the payment.
    let ops = operations(&server);
    let from_topup: Vec<&str> = ops
        .iter()
        .skip_while(|o| !o.contains("/x402/top-up"))
        .map(String::as_str)
        .collect();
    assert!(from_topup[0].ends_with("/x402/top-up"), "{ops:?}");
    assert!(
        from_topup[1].ends_with("/crypto/rpc/solana-mainnet"),
        "{ops:?}"
    );
    assert!(from_topup[2].ends_with("/x402/top-up +payment"), "{ops:?}");
    let rpc = server
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/crypto/rpc/solana-mainnet"))
        .unwrap();
    assert!(rpc.header("idempotency-key").is_some());
    let methods: Vec<&str> = rpc
        .body
        .as_ref()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["getLatestBlockhash", "getAccountInfo"]);
}

/// A case name, a policy whose offer the client must refuse, and the expected reason.
type Refusal = (&'static str, SvmPaymentPolicy, fn(&SvmError) -> bool);

fn refused_offers(wallet: &str) -> Vec<Refusal> {
    let p = SvmPaymentPolicy::default;
    vec![
        (
            "devnet",
            SvmPaymentPolicy {
                networks: vec!["solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1".into()],
                ..p()
            },
            |e| matches!(e, SvmError::WrongNetwork(n) if n.ends_with("qa1")),
        ),
        (
            "another mint",
            SvmPaymentPolicy {
                mint: DEFAULT_PAY_TO.into(),
                ..p()
            },
            |e| matches!(e, SvmError::WrongAsset(_)),
        ),
        (
            "the wallet as fee payer",
            SvmPaymentPolicy {
                fee_payer: wallet.to_owned(),
                ..p()
            },
            |e| matches!(e, SvmError::OwnerIsFeePayer),
        ),
        (
            "the wallet as receiver",
            SvmPaymentPolicy {
                pay_to: wallet.to_owned(),
                ..p()
            },
            |e| matches!(e, SvmError::OwnerIsPayTo),
        ),
    ]
}

#[tokio::test]
async fn the_client_refuses_to_sign_what_it_can_judge() {
    let signer = recording(22);
    let address = signer.address().to_owned();
    for (case, policy, expected) in refused_offers(&address) {
        let server = mock(&address, 1.0, policy).await;
        let c = client(&server, Wallet::Solana(signer.clone()));
        let err = c.top_up(5.0).await.unwrap_err();
        match &err {
            Error::Wallet(WalletError::Solana(e)) if expected(e) => {}
            other => panic!("{case}: {other:?}"),
        }
        // Refused before any chain data was bought or anything signed or sent.
        assert_eq!(operations(&server), ["POST /api/v1/x402/top-up"], "{case}");
        assert!(signer.signed.lock().unwrap().is_empty(), "{case}");
        assert_eq!(server.wallet_balance(&address), 1.0, "{case}");
    }
    // A discovered minimum above the caller's amount: refused as too low, unsigned.
    let server = mock(
        &address,
        1.0,
        SvmPaymentPolicy {
            min_amount: 50_000_000,
            ..SvmPaymentPolicy::default()
        },
    )
    .await;
    let err = client(&server, Wallet::Solana(signer.clone()))
        .top_up(5.0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Wallet(WalletError::AmountTooLow { minimum_usd, .. }) if minimum_usd == 50.0),
        "{err:?}"
    );
    assert!(signer.signed.lock().unwrap().is_empty());
}

/// The wallet-signed transaction: `[2 signatures][fee payer slot: zeros][wallet][message]`.
fn transaction(message: &[u8], signature: &[u8; 64]) -> Vec<u8> {
    let mut tx = vec![2];
    tx.extend_from_slice(&[0; 64]);
    tx.extend_from_slice(signature);
    tx.extend_from_slice(message);
    tx
}

fn header(accepted: &Value, tx: &[u8]) -> String {
    B64.encode(
        json!({"x402Version": 2, "accepted": accepted, "payload": {"transaction": B64.encode(tx)}})
            .to_string(),
    )
}

/// Static key `i` of a v0 message (`0x80`, 3 header bytes, 1 length byte, keys).
fn key_range(i: usize) -> std::ops::Range<usize> {
    5 + 32 * i..5 + 32 * (i + 1)
}

async fn submit(server: &MockServer, header: &str) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::Client::new()
        .post(format!("{}/x402/top-up", server.base_url()))
        .header("PAYMENT-SIGNATURE", header)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn payments_bent_after_signing_are_rejected_by_the_mock() {
    let signer = recording(23);
    let address = signer.address().to_owned();
    let server = mock(&address, 1.0, SvmPaymentPolicy::default()).await;
    let c = client(&server, Wallet::Solana(signer.clone()));
    c.top_up(5.0).await.unwrap();
    let credited = server.wallet_balance(&address);
    let (message, signature) = signer.signed.lock().unwrap()[0].clone();
    let accepted = SvmPaymentPolicy::default().requirement(5_000_000);
    let resign = |m: &[u8]| transaction(m, &signer.key.sign(m));
    let rejected = async |header: String, reason: &str, words: &str| {
        let (status, body) = submit(&server, &header).await;
        // A replay is the provider's 409 (a settled payment is credited once).
        let expected = if reason == "replayed_transaction" {
            409
        } else {
            400
        };
        assert_eq!(status, expected, "{reason}: {body}");
        assert_eq!(body["details"]["reason"], reason, "{body}");
        assert!(body["message"].as_str().unwrap().contains(words), "{body}");
    };

    // The very payment again.
    rejected(
        header(&accepted, &transaction(&message, &signature)),
        "replayed_transaction",
        "signature already used",
    )
    .await;
    // A new transaction (other memo, signed again) on the same blockhash.
    let mut other_memo = message.clone();
    let last = other_memo.len() - 2; // the memo's last byte, before the lookup-table count
    other_memo[last] ^= 1;
    rejected(
        header(&accepted, &resign(&other_memo)),
        "replayed_transaction",
        "blockhash already used",
    )
    .await;
    // Credit claimed above what the transfer moves.
    let mut more = accepted.clone();
    more["amount"] = json!("50000000");
    rejected(
        header(&more, &transaction(&message, &signature)),
        "amount_mismatch",
        "50000000",
    )
    .await;
    // Amount bytes changed without the wallet's signature.
    let mut bytes = message.clone();
    let at = bytes
        .windows(10)
        .position(|w| w[0] == 12 && w[1..9] == 5_000_000u64.to_le_bytes() && w[9] == 6)
        .unwrap();
    bytes[at + 1..at + 9].copy_from_slice(&50_000_000u64.to_le_bytes());
    rejected(
        header(&more, &transaction(&bytes, &signature)),
        "invalid_signature",
        "signature",
    )
    .await;
    // Another network in `accepted`.
    let mut devnet = accepted.clone();
    devnet["network"] = json!("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1");
    rejected(
        header(&devnet, &transaction(&message, &signature)),
        "network_mismatch",
        "network",
    )
    .await;
    // Another mint in the transfer, signed by the wallet.
    let usdc = bs58::decode(venice_mock::svm::USDC_MINT)
        .into_vec()
        .unwrap();
    let mint_at = (0..8).find(|i| message[key_range(*i)] == usdc[..]).unwrap();
    let mut other_mint = message.clone();
    other_mint[key_range(mint_at)].copy_from_slice(&[7; 32]);
    rejected(
        header(&accepted, &resign(&other_mint)),
        "mint_mismatch",
        "mint",
    )
    .await;
    // Another fee payer than the facilitator, signed by the wallet.
    let mut foreign = message.clone();
    foreign[key_range(0)].copy_from_slice(&[9; 32]);
    rejected(
        header(&accepted, &resign(&foreign)),
        "fee_payer_mismatch",
        "fee payer",
    )
    .await;
    assert_eq!(server.wallet_balance(&address), credited, "credited once");
}

/// A Solana node of the user's: here a relay to the mock's proxy (the only place that
/// issues blockhashes the mock accepts), holding its own API key. Records what the
/// client sent it.
pub(crate) async fn users_rpc_node(mock_url: String) -> (String, Arc<Mutex<Vec<HeaderMap>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let relay = move |State(seen): State<Arc<Mutex<Vec<HeaderMap>>>>,
                      headers: HeaderMap,
                      body: axum::Json<Value>| {
        let url = format!("{mock_url}/crypto/rpc/solana-mainnet");
        async move {
            seen.lock().unwrap().push(headers);
            let _ = rustls::crypto::ring::default_provider().install_default();
            let answer: Value = reqwest::Client::new()
                .post(url)
                .bearer_auth(venice_mock::DEFAULT_API_KEY)
                .json(&body.0)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            axum::Json(answer)
        }
    };
    let app = axum::Router::new()
        .route("/rpc", post(relay))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/rpc?api-key=node-secret-123",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn a_wallet_without_credit_reads_chain_data_from_its_own_endpoint() {
    let signer = recording(24);
    let address = signer.address().to_owned();
    let server = mock(&address, 0.0, SvmPaymentPolicy::default()).await;

    // Through the provider's proxy: the RPC calls are billed, and there is no credit.
    let err = client(&server, Wallet::Solana(signer.clone()))
        .top_up(5.0)
        .await
        .unwrap_err();
    let Error::Wallet(WalletError::SolanaRpc { what, source }) = &err else {
        panic!("{err:?}")
    };
    assert!(what.contains("VENICE_SOLANA_RPC_URL"), "{what}");
    assert!(
        matches!(
            source.downcast_ref::<Error>(),
            Some(Error::PaymentRequired { .. })
        ),
        "{source:?}"
    );
    assert!(signer.signed.lock().unwrap().is_empty());

    // Through the user's endpoint: a plain JSON-RPC POST, no Venice credentials.
    let (url, seen) = users_rpc_node(server.base_url()).await;
    let c = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::wallet_with_signer(Wallet::Solana(signer.clone())))
        .solana_rpc_url(&url)
        .build()
        .unwrap();
    let receipt = c.top_up(5.0).await.unwrap();
    assert_eq!(
        receipt.new_balance_usd(),
        5.0,
        "nothing billed to the wallet for RPC"
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "one batch");
        for name in ["authorization", "sign-in-with-x", "payment-signature"] {
            assert!(
                !seen[0].contains_key(name),
                "{name} leaked to a third party"
            );
        }
    }
    assert!(!format!("{c:?}").contains("node-secret"));

    // A dead endpoint: the error names the variable, never the URL (it holds a key).
    let dead = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::wallet_with_signer(Wallet::Solana(signer.clone())))
        .solana_rpc_url("http://127.0.0.1:1/rpc?api-key=node-secret-456")
        .build()
        .unwrap();
    let err = dead.top_up(5.0).await.unwrap_err();
    assert!(
        matches!(err, Error::Wallet(WalletError::SolanaRpc { .. })),
        "{err:?}"
    );
    let mut chain = format!("{err} {err:?}");
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&err);
    while let Some(c) = cause {
        chain.push_str(&format!(" | {c} {c:?}"));
        cause = c.source();
    }
    assert!(!chain.contains("node-secret"), "{chain}");
    assert!(chain.contains("VENICE_SOLANA_RPC_URL"), "{chain}");
    // Not an http(s) URL: refused when building.
    assert!(matches!(
        Client::builder().solana_rpc_url("ftp://x").build(),
        Err(Error::Config { .. })
    ));
}

#[tokio::test]
async fn auto_top_up_pays_on_solana_too() {
    let signer = recording(25);
    let address = signer.address().to_owned();
    let server = mock(&address, 0.001, SvmPaymentPolicy::default()).await;
    let c = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::wallet_with_signer(Wallet::Solana(signer.clone())))
        .auto_top_up(AutoTopUp {
            amount_usd: 5.0,
            max_total_usd: 20.0,
        })
        .build()
        .unwrap();
    let g = c.generate(&request()).await.unwrap();
    assert_eq!(c.auto_top_up_spent_usd(), 5.0);
    let expected = 0.001 - RPC_COST_USD + 5.0 - price(&server);
    assert!((g.meta().balance_remaining_usd().unwrap() - expected).abs() < 1e-9);
    assert_eq!(
        signer.signed.lock().unwrap().len(),
        1,
        "one transaction signed"
    );
    assert!(
        operations(&server)
            .iter()
            .any(|o| o.ends_with("/x402/top-up +payment"))
    );
}
