//! Paying as the provider bills (issue 25): top-ups from the right numbers, the balance
//! read before any automatic payment, DIEM-linked wallets, unsettled payments, and
//! EIP-1271 contract wallets. Every test runs against the mock's default configuration.
#![cfg(feature = "wallet")]
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use venice_image::async_trait;
use venice_image::payment::PaymentRequirementExt as _;
use venice_image::wallet::{
    AutoTopUp, EvmSigner, LocalEvmSigner, LocalSolanaSigner, SignerError, SolanaSigner, Wallet,
    WalletError,
};
use venice_image::{Auth, Client, Error, ErrorCode, GenerateRequest, Size};
use venice_mock::{MockConfig, MockServer, TopUpFault};

const KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const ADDRESS: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

/// An EVM signer that counts its calls: sign-ins (`sign_message`) and payments
/// (`sign_hash`).
struct Counting {
    key: LocalEvmSigner,
    sign_ins: AtomicUsize,
    payments: AtomicUsize,
}

#[async_trait]
impl EvmSigner for Counting {
    fn address(&self) -> &str {
        self.key.address()
    }

    async fn sign_message(&self, message: &[u8]) -> Result<[u8; 65], SignerError> {
        self.sign_ins.fetch_add(1, Ordering::SeqCst);
        self.key.sign_message(message).await
    }

    async fn sign_hash(&self, digest: &[u8; 32]) -> Result<[u8; 65], SignerError> {
        self.payments.fetch_add(1, Ordering::SeqCst);
        self.key.sign_hash(digest).await
    }
}

/// Delegates to a shared [`Counting`] (the client owns its signer).
struct Shared(Arc<Counting>);

#[async_trait]
impl EvmSigner for Shared {
    fn address(&self) -> &str {
        self.0.address()
    }

    async fn sign_message(&self, message: &[u8]) -> Result<[u8; 65], SignerError> {
        self.0.sign_message(message).await
    }

    async fn sign_hash(&self, digest: &[u8; 32]) -> Result<[u8; 65], SignerError> {
        self.0.sign_hash(digest).await
    }
}

fn counting() -> Arc<Counting> {
    Arc::new(Counting {
        key: LocalEvmSigner::from_hex(KEY).unwrap(),
        sign_ins: AtomicUsize::new(0),
        payments: AtomicUsize::new(0),
    })
}

/// A Solana signer that counts its transaction signatures.
struct CountingSolana {
    key: LocalSolanaSigner,
    payments: Arc<AtomicUsize>,
}

#[async_trait]
impl SolanaSigner for CountingSolana {
    fn address(&self) -> &str {
        self.key.address()
    }

    async fn sign_message(&self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        Ok(self.key.sign(message))
    }

    async fn sign_transaction(&self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        self.payments.fetch_add(1, Ordering::SeqCst);
        Ok(self.key.sign(message))
    }
}

async fn mock(config: MockConfig) -> MockServer {
    MockServer::start(config).await.unwrap()
}

fn empty_wallet() -> MockConfig {
    let mut config = MockConfig::default();
    config.wallet_balances.insert(ADDRESS.to_owned(), 0.0);
    config
}

fn client(server: &MockServer, signer: &Arc<Counting>, policy: Option<AutoTopUp>) -> Client {
    let mut b = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::wallet_with_signer(Wallet::evm_signer(Shared(
            signer.clone(),
        ))));
    if let Some(p) = policy {
        b = b.auto_top_up(p);
    }
    b.build().unwrap()
}

fn policy(amount_usd: f64, max_total_usd: f64) -> Option<AutoTopUp> {
    Some(AutoTopUp {
        amount_usd,
        max_total_usd,
    })
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

/// The top-ups that carried a payment, with their status.
fn paid_top_ups(server: &MockServer) -> Vec<u16> {
    server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/x402/top-up") && r.header("payment-signature").is_some())
        .map(|r| r.status)
        .collect()
}

fn balance_reads(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path.contains("/x402/balance/"))
        .count()
}

/// The credited amounts of the wallet's ledger (TOP_UP rows).
async fn credited(c: &Client) -> Vec<f64> {
    c.wallet_transactions(100, 0)
        .await
        .unwrap()
        .transactions
        .iter()
        .filter(|t| t.type_ == "TOP_UP")
        .map(|t| t.amount)
        .collect()
}

#[tokio::test]
async fn the_challenge_is_priced_at_the_suggestion_and_is_no_minimum() {
    let server = mock(empty_wallet()).await;
    let signer = counting();
    let c = client(&server, &signer, None);
    let err = c.generate(&request()).await.unwrap_err();
    let Error::PaymentRequired { error: p, .. } = &err else {
        panic!("{err:?}")
    };
    let challenge = p.requirements().unwrap();
    assert!(!challenge.priced_at_minimum());
    assert_eq!(challenge.base_option().unwrap().amount_usd(), Some(10.0));
    assert_eq!(challenge.solana_option().unwrap().network, "solana");
    assert_eq!(p.minimum_top_up_usd, Some(5.0));
    // Paying $5 from the challenge's options: the challenge's $10 is not a floor.
    let receipt = c.top_up_with(5.0, &challenge).await.unwrap();
    assert_eq!(receipt.amount_credited_usd(), 5.0);
    // Discovery is priced at the minimum, and that is a floor.
    let discovered = c.payment_requirements().await.unwrap();
    assert!(discovered.priced_at_minimum());
    let before = signer.payments.load(Ordering::SeqCst);
    let err = c.top_up_with(4.0, &discovered).await.unwrap_err();
    assert!(
        matches!(err, Error::Wallet(WalletError::AmountTooLow { minimum_usd, .. }) if minimum_usd == 5.0),
        "{err:?}"
    );
    assert_eq!(signer.payments.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn auto_top_up_5_on_an_empty_evm_wallet_pays_exactly_5_once() {
    let server = mock(empty_wallet()).await;
    let signer = counting();
    let c = client(&server, &signer, policy(5.0, 50.0));
    c.generate(&request()).await.unwrap();
    assert_eq!(paid_top_ups(&server), [200]);
    assert_eq!(signer.payments.load(Ordering::SeqCst), 1);
    assert_eq!(c.auto_top_up_spent_usd(), 5.0);
    assert_eq!(credited(&c).await, [5.0]);
}

#[tokio::test]
async fn auto_top_up_5_on_an_empty_solana_wallet_pays_exactly_5_once() {
    let key = LocalSolanaSigner::from_bytes(&[31; 32]).unwrap();
    let address = key.address().to_owned();
    let payments = Arc::new(AtomicUsize::new(0));
    let mut config = MockConfig::default();
    config.wallet_balances.insert(address.clone(), 0.0);
    let server = mock(config).await;
    // An empty wallet cannot pay the provider's billed RPC proxy: its own endpoint.
    let (rpc, _) = crate::solana::users_rpc_node(server.base_url()).await;
    let c = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::wallet_with_signer(Wallet::solana_signer(
            CountingSolana {
                key,
                payments: payments.clone(),
            },
        )))
        .solana_rpc_url(&rpc)
        .auto_top_up(AutoTopUp {
            amount_usd: 5.0,
            max_total_usd: 50.0,
        })
        .build()
        .unwrap();
    c.generate(&request()).await.unwrap();
    assert_eq!(paid_top_ups(&server), [200]);
    assert_eq!(payments.load(Ordering::SeqCst), 1);
    assert_eq!(credited(&c).await, [5.0]);
}

#[tokio::test]
async fn a_top_up_above_10000_makes_no_signer_call() {
    let server = mock(empty_wallet()).await;
    let signer = counting();
    let c = client(&server, &signer, None);
    let err = c.top_up(20_000.0).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Wallet(WalletError::AmountTooHigh { maximum_usd, .. }) if maximum_usd == 10_000.0
        ),
        "{err:?}"
    );
    assert_eq!(signer.payments.load(Ordering::SeqCst), 0);
    assert_eq!(signer.sign_ins.load(Ordering::SeqCst), 0);
    assert!(server.requests().is_empty(), "nothing sent");
}

#[tokio::test]
async fn a_diem_wallet_is_never_topped_up() {
    let mut config = empty_wallet();
    config.diem_wallets.insert(ADDRESS.to_owned(), 0.001);
    let server = mock(config).await;
    let signer = counting();
    let c = client(&server, &signer, policy(5.0, 50.0));
    let err = c.generate(&request()).await.unwrap_err();
    assert!(
        matches!(err, Error::Wallet(WalletError::DiemFirst { diem_balance_usd }) if diem_balance_usd == 0.001),
        "{err:?}"
    );
    assert!(err.to_string().contains("wallet error") || err.to_string().contains("top-up"));
    assert_eq!(signer.payments.load(Ordering::SeqCst), 0);
    assert!(paid_top_ups(&server).is_empty());
    assert_eq!(balance_reads(&server), 1);
    assert_eq!(c.auto_top_up_spent_usd(), 0.0);
}

#[tokio::test]
async fn a_settlement_timeout_that_landed_is_not_paid_twice() {
    let server = mock(empty_wallet()).await;
    server.push_top_up_faults(vec![TopUpFault::SettlementTimeout { landed: true }]);
    let signer = counting();
    let c = client(&server, &signer, policy(5.0, 50.0));
    // 402 → balance read → payment → 504 (landed) → balance read → retry → served.
    c.generate(&request()).await.unwrap();
    assert_eq!(paid_top_ups(&server), [504]);
    assert_eq!(signer.payments.load(Ordering::SeqCst), 1);
    let reads_after_the_504 = server
        .requests()
        .iter()
        .skip_while(|r| !r.path.ends_with("/x402/top-up") || r.status != 504)
        .filter(|r| r.path.contains("/x402/balance/"))
        .count();
    assert_eq!(reads_after_the_504, 1);
    // The next 402 (the credit spent) reads the balance before signing anything new.
    assert_eq!(credited(&c).await, [5.0]);
}

#[tokio::test]
async fn a_settlement_timeout_that_did_not_land_is_reported_and_not_repaid() {
    let server = mock(empty_wallet()).await;
    server.push_top_up_faults(vec![TopUpFault::SettlementTimeout { landed: false }]);
    let signer = counting();
    let c = client(&server, &signer, policy(5.0, 50.0));
    let err = c.generate(&request()).await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::SettlementTimeout), "{err:?}");
    assert_eq!(err.status(), Some(504));
    assert_eq!(signer.payments.load(Ordering::SeqCst), 1);
    assert_eq!(c.auto_top_up_spent_usd(), 5.0, "the money may be gone");
}

#[tokio::test]
async fn five_concurrent_402s_share_one_balance_read_and_one_payment() {
    let server = mock(empty_wallet()).await;
    let signer = counting();
    let c = client(&server, &signer, policy(5.0, 50.0));
    let req = request();
    let results = futures::future::join_all((0..5).map(|_| c.generate(&req))).await;
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(paid_top_ups(&server), [200]);
    assert_eq!(signer.payments.load(Ordering::SeqCst), 1);
    assert_eq!(balance_reads(&server), 1);
}

#[tokio::test]
async fn payment_codes_are_typed() {
    let server = mock(empty_wallet()).await;
    server.push_top_up_faults(vec![
        TopUpFault::SettlementFailed,
        TopUpFault::PaymentInProgress { landed: false },
    ]);
    let signer = counting();
    let c = client(&server, &signer, None);
    let e = c.top_up(5.0).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(402), Some(&ErrorCode::SettlementFailed))
    );
    let e = c.top_up(5.0).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(409), Some(&ErrorCode::PaymentInProgress))
    );
}

/// A smart-contract (EIP-1271) wallet whose single owner is the key of [`KEY`]: signs in
/// with the owner's EIP-191 signature, as single-owner smart accounts validate it.
struct Contract {
    owner: LocalEvmSigner,
    address: String,
    calls: Arc<AtomicUsize>,
}

const CONTRACT: &str = "0x00000000000000000000000000000000C0FFEE01";

#[async_trait]
impl EvmSigner for Contract {
    fn address(&self) -> &str {
        &self.address
    }

    async fn sign_message(&self, _message: &[u8]) -> Result<[u8; 65], SignerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(SignerError::new("a contract wallet has no key of its own"))
    }

    async fn sign_hash(&self, _digest: &[u8; 32]) -> Result<[u8; 65], SignerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(SignerError::new("a contract wallet has no key of its own"))
    }

    fn is_contract(&self) -> bool {
        true
    }

    async fn sign_in_signature(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.owner.sign_message(message).await?.to_vec())
    }
}

async fn contract_mock(owner: &str) -> MockServer {
    let mut config = MockConfig::default();
    config
        .siwx_policy
        .contract_wallets
        .insert(CONTRACT.to_owned(), owner.to_owned());
    config.wallet_balances.insert(CONTRACT.to_owned(), 3.0);
    mock(config).await
}

fn contract_client(server: &MockServer, calls: &Arc<AtomicUsize>) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .auth(Auth::wallet_with_signer(Wallet::evm_signer(Contract {
            owner: LocalEvmSigner::from_hex(KEY).unwrap(),
            address: CONTRACT.to_owned(),
            calls: calls.clone(),
        })))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_contract_wallet_signs_in_through_its_owner() {
    let server = contract_mock(ADDRESS).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = contract_client(&server, &calls);
    let balance = c.wallet_balance().await.unwrap();
    assert_eq!(balance.balance_usd, 3.0);
    assert_eq!(
        balance.wallet_address.to_lowercase(),
        CONTRACT.to_lowercase()
    );
    c.generate(&request()).await.unwrap();
    let siwx = server
        .requests()
        .iter()
        .find_map(|r| r.header("sign-in-with-x").map(str::to_owned));
    assert!(siwx.is_some());
    // A top-up is refused before any signer call: nothing shows the provider settles a
    // contract wallet's EIP-3009 authorization.
    let before = calls.load(Ordering::SeqCst);
    let err = c.top_up(5.0).await.unwrap_err();
    assert!(
        matches!(&err, Error::Wallet(WalletError::ContractWallet(a)) if a == CONTRACT),
        "{err:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn a_contract_wallet_with_another_owner_is_refused() {
    // The contract's owner is key 1's address, not the signer's.
    let server = contract_mock("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf").await;
    let calls = Arc::new(AtomicUsize::new(0));
    let c = contract_client(&server, &calls);
    let err = c.wallet_balance().await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err:?}");
    assert_eq!(
        err.code(),
        Some(&ErrorCode::X402SignInInvalidSignature),
        "{err:?}"
    );
}
