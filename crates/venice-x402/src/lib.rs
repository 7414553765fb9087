//! x402 wallets and payments for the Venice.ai API: Sign-In-With-X, payment
//! requirements, USDC top-ups on Base (EIP-3009) and on Solana, signers and the top-up
//! policy.
//!
//! The wire types are the generated ones of [`venice_openapi`] (the spec is the single
//! source): a 402's accepted payment is [`X402PaymentRequirement`], read through
//! [`PaymentRequirementExt`]; the payment sent in `PAYMENT-SIGNATURE` is
//! [`X402PaymentPayload`](venice_openapi::types::X402PaymentPayload); the sign-in in
//! `SIGN-IN-WITH-X` is [`SiwxPayload`](venice_openapi::types::SiwxPayload).
//!
//! Nothing here sends a request: the client (`venice-image`, feature `wallet`) reads
//! balances, asks for chain data and submits payments through the generated client;
//! this crate signs, builds and decides.
//!
//! ```
//! use venice_x402::{LocalEvmSigner, SiwxConfig, Wallet, WalletAuth};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), venice_x402::WalletError> {
//! let wallet = Wallet::evm_signer(LocalEvmSigner::random()?);
//! let auth = WalletAuth::new(wallet, SiwxConfig::default())?;
//! // A fresh header (new nonce) for every request.
//! assert_ne!(auth.header().await?, auth.header().await?);
//! # Ok(()) }
//! ```
//!
//! # Keys
//!
//! A wallet is a signer: [`EvmSigner`] or [`SolanaSigner`]. [`LocalEvmSigner`] and
//! [`LocalSolanaSigner`] hold the key in process memory (zeroized on drop, never
//! printed); to keep keys in a KMS, an HSM, a hardware wallet or a signing service,
//! implement one of the traits over it. Only signatures are ever asked for (of SIWX
//! messages, EIP-712 digests and Solana transaction messages), and each one is checked
//! against the signer's address.
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

mod credit;
mod error;
pub mod payment;
pub mod topup;
mod wallet;

pub use credit::{TopUpReceipt, WalletBalance, WalletTransaction, WalletTransactions};
pub use error::{SignerError, SvmError, WalletError};
pub use payment::{PaymentRequirementExt, PaymentRequirements, X402PaymentRequirement};
pub use topup::AutoTopUp;
/// The attribute that implements [`EvmSigner`] and [`SolanaSigner`] (async methods).
pub use venice_openapi::async_trait;
pub use wallet::svm;
pub use wallet::{
    EvmSigner, LocalEvmSigner, LocalSolanaSigner, PAYMENT_SIGNATURE_HEADER, SIWX_HEADER,
    SOLANA_MAINNET, SignedAuthorization, SiwxConfig, SiwxMessage, SolanaSigner, StaticSiwx,
    TransferWithAuthorization, Wallet, WalletAuth, header_address, payment_payload,
    sign_authorization, signed_header,
};
