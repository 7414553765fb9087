//! x402 wallet auth (feature `wallet`): Sign-In-With-X headers signed per request by
//! an EVM or Solana key, and top-ups: EIP-3009 USDC on Base, or a USDC transfer on
//! Solana. The wallets, signers and payments are the crate `venice-x402`, re-exported
//! here; the client sends what they sign.
//!
//! ```no_run
//! use venice_image::{Auth, Client};
//!
//! # async fn run() -> venice_image::Result<()> {
//! let client = Client::builder()
//!     .auth(Auth::evm_wallet("0x…64 hex digits…")?)
//!     .build()?;
//! println!("credit: ${:.2}", client.wallet_balance().await?.balance_usd);
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

pub use venice_x402::{
    AutoTopUp, EvmSigner, LocalEvmSigner, LocalSolanaSigner, PAYMENT_SIGNATURE_HEADER, SIWX_HEADER,
    SOLANA_MAINNET, SignedAuthorization, SignerError, SiwxConfig, SiwxMessage, SolanaSigner,
    SvmError, TopUpReceipt, TransferWithAuthorization, Wallet, WalletAuth, WalletBalance,
    WalletError, WalletTransaction, WalletTransactions, payment_payload, sign_authorization,
    signed_header,
};
