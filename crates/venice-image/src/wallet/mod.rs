//! x402 wallet auth (feature `wallet`): Sign-In-With-X headers signed per request by
//! an EVM or Solana key, and top-ups: EIP-3009 USDC on Base, or a USDC transfer on
//! Solana.
//!
//! ```no_run
//! use venice_image::{Auth, Client};
//!
//! # async fn run() -> venice_image::Result<()> {
//! let client = Client::builder()
//!     .auth(Auth::evm_wallet("0x…64 hex digits…")?)
//!     .build()?;
//! println!("credit: ${:.2}", client.wallet_balance().await?.balance_usd());
//! let receipt = client.top_up(5.0).await?; // signs a USDC authorization on Base
//! println!("new balance: ${:.2}", receipt.new_balance_usd());
//! # Ok(()) }
//! ```
//!
//! Each request gets a fresh header with a new nonce (the server burns nonces), so a
//! retried request is signed again.
//!
//! # Keys
//!
//! A wallet is a signer: [`EvmSigner`] or [`SolanaSigner`]. [`LocalEvmSigner`] and
//! [`LocalSolanaSigner`] hold the key in process memory (zeroized on drop, never
//! printed); to keep keys in a KMS, an HSM, a hardware wallet or a signing service,
//! implement one of the traits over it and sign in with
//! [`Auth::wallet_with_signer`](crate::Auth::wallet_with_signer). The client only ever
//! asks for signatures (of SIWX messages, EIP-712 digests and Solana transaction
//! messages) and checks each one against the signer's address.
//!
//! A signer that fails or does not answer within
//! [`SiwxConfig::signer_timeout`] fails the call without sending it:
//! [`Error::Auth`](crate::Error::Auth) when it was signing a request's
//! `SIGN-IN-WITH-X` header (the auth hook's error, like any credential failure),
//! [`Error::Wallet`](crate::Error::Wallet) with [`WalletError::Signer`] or
//! [`WalletError::SignerTimeout`] when it was signing a top-up payment (no payment was
//! sent, so nothing is charged). The signer's own error is in the source chain.
//!
//! # Solana top-up
//!
//! [`Client::top_up`](crate::Client::top_up) with a Solana wallet builds the x402
//! `exact` payment on Solana: a v0 transaction (compute budget, USDC `TransferChecked`
//! between the associated token accounts, memo) with the provider's facilitator as fee
//! payer, signed by the wallet only. It refuses to sign for another network than Solana
//! mainnet, another mint than USDC, or more than the amount asked. The recent blockhash
//! and the mint's token program come from a Solana JSON-RPC endpoint: the provider's
//! proxy (`cryptoRpcProxy`, network `solana-mainnet`, billed per credit from the
//! wallet's credit, so a wallet with none cannot use it), or your own endpoint set with
//! [`ClientBuilder::solana_rpc_url`](crate::ClientBuilder::solana_rpc_url) or
//! `VENICE_SOLANA_RPC_URL` (read by [`Client::from_env`](crate::Client::from_env)).

mod evm;
mod signer;
#[cfg(test)]
mod signer_tests;
mod siwx;
mod solana;
pub(crate) mod svm;
mod x402;

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use venice_openapi::{AuthContext, AuthError, RequestAuth, Scheme};

pub use crate::error::{SignerError, SvmError, WalletError};
pub use evm::LocalEvmSigner;
pub use signer::{EvmSigner, SolanaSigner};
pub(crate) use signer::{solana_transaction as sign_solana_transaction, with_timeout};
pub use siwx::{SOLANA_MAINNET, SiwxConfig, SiwxMessage, signed_header};
pub use solana::LocalSolanaSigner;
pub use x402::{
    SignedAuthorization, TransferWithAuthorization, payment_payload, sign_authorization,
};

/// The canonical header name of Sign-In-With-X.
pub const SIWX_HEADER: &str = "sign-in-with-x";
/// The canonical header name of an x402 payment.
pub const PAYMENT_SIGNATURE_HEADER: &str = "payment-signature";

/// A wallet: an EVM or Solana signer. Cheap to clone; `Debug` shows the address only.
#[derive(Clone)]
#[non_exhaustive]
pub enum Wallet {
    /// An EVM (Base) wallet.
    Evm(Arc<dyn EvmSigner>),
    /// A Solana wallet.
    Solana(Arc<dyn SolanaSigner>),
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wallet::Evm(s) => write!(f, "Wallet::Evm({})", s.address()),
            Wallet::Solana(s) => write!(f, "Wallet::Solana({})", s.address()),
        }
    }
}

impl Wallet {
    /// An EVM wallet from a hex private key, held in memory ([`LocalEvmSigner`]).
    pub fn evm(private_key: &str) -> Result<Self, WalletError> {
        Ok(Wallet::Evm(Arc::new(LocalEvmSigner::from_hex(
            private_key,
        )?)))
    }

    /// A Solana wallet from a keypair string (see [`LocalSolanaSigner::parse`]), held
    /// in memory.
    pub fn solana(keypair: &str) -> Result<Self, WalletError> {
        Ok(Wallet::Solana(Arc::new(LocalSolanaSigner::parse(keypair)?)))
    }

    /// An EVM wallet whose key stays in `signer` (a KMS, a signing service...).
    pub fn evm_signer(signer: impl EvmSigner + 'static) -> Self {
        Wallet::Evm(Arc::new(signer))
    }

    /// A Solana wallet whose key stays in `signer` (a KMS, a signing service...).
    pub fn solana_signer(signer: impl SolanaSigner + 'static) -> Self {
        Wallet::Solana(Arc::new(signer))
    }

    /// The address (EIP-55 or base58).
    pub fn address(&self) -> &str {
        match self {
            Wallet::Evm(s) => s.address(),
            Wallet::Solana(s) => s.address(),
        }
    }
}

/// Signs a fresh `SIGN-IN-WITH-X` header for every request attempt.
#[derive(Clone, Debug)]
pub struct WalletAuth {
    wallet: Wallet,
    config: SiwxConfig,
}

impl WalletAuth {
    /// Authenticate as `wallet`; fails when `config` breaks the message grammar.
    pub fn new(wallet: Wallet, config: SiwxConfig) -> Result<Self, WalletError> {
        config.validate()?;
        Ok(Self { wallet, config })
    }

    /// Authenticate as `wallet` with the default configuration (always valid).
    pub(crate) fn with_default_config(wallet: Wallet) -> Self {
        Self {
            wallet,
            config: SiwxConfig::default(),
        }
    }

    /// The wallet.
    pub fn wallet(&self) -> &Wallet {
        &self.wallet
    }

    /// The sign-in configuration.
    pub fn config(&self) -> &SiwxConfig {
        &self.config
    }

    /// A new header value: current time, new random nonce; fails with
    /// [`WalletError::SignerTimeout`] when the signer takes longer than
    /// [`SiwxConfig::signer_timeout`].
    pub async fn header(&self) -> Result<String, WalletError> {
        let nonce = siwx::random_nonce()?;
        with_timeout(
            self.config.signer_timeout,
            signed_header(&self.wallet, &self.config, SystemTime::now(), &nonce),
        )
        .await
    }
}

fn insert_sensitive(request: &mut reqwest::Request, value: &str) -> Result<(), AuthError> {
    let mut v = HeaderValue::from_str(value).map_err(|e| {
        AuthError::with_source("the SIGN-IN-WITH-X value is not a valid header value", e)
    })?;
    v.set_sensitive(true);
    request
        .headers_mut()
        .insert(HeaderName::from_static(SIWX_HEADER), v);
    Ok(())
}

#[venice_openapi::async_trait]
impl RequestAuth for WalletAuth {
    fn scheme(&self) -> Scheme {
        Scheme::Siwx
    }

    async fn authorize(
        &self,
        request: &mut reqwest::Request,
        _ctx: &AuthContext<'_>,
    ) -> Result<(), AuthError> {
        // A signer failure stays the typed source (WalletError → SignerError → its
        // cause), so `Error::Auth` says which signer failed and why.
        let header = self
            .header()
            .await
            .map_err(|e| AuthError::with_source("could not sign the SIGN-IN-WITH-X header", e))?;
        insert_sensitive(request, &header)
    }
}

/// A `SIGN-IN-WITH-X` value signed elsewhere: sent once, then refused (its nonce is
/// burned by the server on first use).
pub(crate) struct StaticSiwx {
    value: SecretString,
    used: AtomicBool,
}

impl StaticSiwx {
    pub(crate) fn new(value: SecretString) -> Self {
        Self {
            value,
            used: AtomicBool::new(false),
        }
    }
}

#[venice_openapi::async_trait]
impl RequestAuth for StaticSiwx {
    fn scheme(&self) -> Scheme {
        Scheme::Siwx
    }

    async fn authorize(
        &self,
        request: &mut reqwest::Request,
        _ctx: &AuthContext<'_>,
    ) -> Result<(), AuthError> {
        if self.used.swap(true, Ordering::SeqCst) {
            return Err(AuthError::new(
                "the SIGN-IN-WITH-X header given as a value (VENICE_SIWX_HEADER / Auth::siwx_header) \
                 was already sent once and its nonce is spent: sign a new header per request, or \
                 use wallet credentials",
            ));
        }
        insert_sensitive(request, self.value.expose_secret().trim())
    }
}

/// The address inside a `SIGN-IN-WITH-X` value.
pub(crate) fn header_address(value: &str) -> Option<String> {
    siwx::header_address(value)
}

/// A wallet's x402 credit (`GET /x402/balance/{wallet}`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct WalletBalance {
    pub(crate) wallet_address: String,
    pub(crate) balance_usd: f64,
    pub(crate) can_consume: bool,
    pub(crate) minimum_top_up_usd: Option<f64>,
    pub(crate) suggested_top_up_usd: Option<f64>,
    pub(crate) diem_balance_usd: Option<f64>,
}

impl WalletBalance {
    /// The wallet, as the server normalizes it.
    pub fn wallet_address(&self) -> &str {
        &self.wallet_address
    }

    /// Credit in USD.
    pub fn balance_usd(&self) -> f64 {
        self.balance_usd
    }

    /// Whether paid endpoints can be used now.
    pub fn can_consume(&self) -> bool {
        self.can_consume
    }

    /// Minimum top-up in USD.
    pub fn minimum_top_up_usd(&self) -> Option<f64> {
        self.minimum_top_up_usd
    }

    /// Suggested top-up in USD.
    pub fn suggested_top_up_usd(&self) -> Option<f64> {
        self.suggested_top_up_usd
    }

    /// DIEM balance of a linked Venice user, in USD.
    pub fn diem_balance_usd(&self) -> Option<f64> {
        self.diem_balance_usd
    }
}

/// A page of a wallet's ledger (`GET /x402/transactions/{wallet}`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct WalletTransactions {
    pub(crate) wallet_address: String,
    pub(crate) current_balance_usd: f64,
    pub(crate) transactions: Vec<WalletTransaction>,
    pub(crate) limit: u64,
    pub(crate) offset: u64,
    pub(crate) has_more: bool,
}

impl WalletTransactions {
    /// The wallet, as the server normalizes it.
    pub fn wallet_address(&self) -> &str {
        &self.wallet_address
    }

    /// Current credit in USD.
    pub fn current_balance_usd(&self) -> f64 {
        self.current_balance_usd
    }

    /// Entries, newest first.
    pub fn transactions(&self) -> &[WalletTransaction] {
        &self.transactions
    }

    /// Page size.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Entries skipped.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether more entries follow.
    pub fn has_more(&self) -> bool {
        self.has_more
    }
}

/// One ledger entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct WalletTransaction {
    pub(crate) id: String,
    pub(crate) amount_usd: f64,
    pub(crate) balance_after_usd: f64,
    pub(crate) kind: String,
    pub(crate) created_at: String,
    pub(crate) request_id: Option<String>,
    pub(crate) model_id: Option<String>,
}

impl WalletTransaction {
    /// Entry id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Signed amount in USD (top-ups positive, charges negative).
    pub fn amount_usd(&self) -> f64 {
        self.amount_usd
    }

    /// Balance after this entry, in USD.
    pub fn balance_after_usd(&self) -> f64 {
        self.balance_after_usd
    }

    /// `TOP_UP`, `CHARGE` or `REFUND`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// When (RFC 3339).
    pub fn created_at(&self) -> &str {
        &self.created_at
    }

    /// Request that caused a charge.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Model that caused a charge.
    pub fn model_id(&self) -> Option<&str> {
        self.model_id.as_deref()
    }
}

/// What a top-up credited (`POST /x402/top-up`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TopUpReceipt {
    pub(crate) wallet_address: String,
    pub(crate) amount_credited_usd: f64,
    pub(crate) new_balance_usd: f64,
    pub(crate) payment_id: String,
    pub(crate) settlement: Option<serde_json::Value>,
}

impl TopUpReceipt {
    /// The credited wallet.
    pub fn wallet_address(&self) -> &str {
        &self.wallet_address
    }

    /// USD credited.
    pub fn amount_credited_usd(&self) -> f64 {
        self.amount_credited_usd
    }

    /// Balance after the top-up, in USD.
    pub fn new_balance_usd(&self) -> f64 {
        self.new_balance_usd
    }

    /// Payment id.
    pub fn payment_id(&self) -> &str {
        &self.payment_id
    }

    /// The decoded `PAYMENT-RESPONSE` header (settlement: network, payer, transaction).
    pub fn settlement(&self) -> Option<&serde_json::Value> {
        self.settlement.as_ref()
    }
}

/// Automatic top-up when a wallet call gets a 402 (off unless set on the builder).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoTopUp {
    /// USD per top-up (raised to the server's minimum when below it).
    pub amount_usd: f64,
    /// Most USD this client may top up automatically over its lifetime.
    pub max_total_usd: f64,
}
