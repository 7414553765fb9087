//! The errors of wallets and payments: [`WalletError`], [`SignerError`] (what a signer
//! returns) and [`SvmError`] (why a Solana payment cannot be built). Texts never contain
//! key material.

use std::borrow::Cow;

/// A boxed error cause.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Wallet failures. Texts never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalletError {
    /// The key could not be read.
    #[error("invalid wallet key: {0}")]
    InvalidKey(&'static str),
    /// The SIWX configuration breaks the message grammar.
    #[error("invalid SIWX configuration: {0}")]
    InvalidConfig(&'static str),
    /// Signing failed (no randomness, clock before 1970, ...).
    #[error("signing failed: {0}")]
    Signing(String),
    /// The payment cannot be built (no usable option, bad amount, ...).
    #[error("cannot pay: {0}")]
    Payment(String),
    /// The credentials cannot do this (e.g. top up with a static header).
    #[error("{0}")]
    Unsupported(&'static str),
    /// The wallet's signer failed (a remote signer that refused, could not be reached,
    /// or returned a signature that is not its key's); the cause is the source.
    #[error("the wallet's signer failed")]
    Signer(#[source] SignerError),
    /// A top-up above the provider's maximum ($10,000) or the caller's cap: refused
    /// before anything was signed.
    #[error("cannot pay: ${amount_usd} is above the {limit} of ${maximum_usd}")]
    AmountTooHigh {
        /// USD asked.
        amount_usd: f64,
        /// The maximum in force, USD.
        maximum_usd: f64,
        /// Whose maximum: `maximum top-up` (the provider's) or `auto top-up cap`.
        limit: &'static str,
    },
    /// A top-up below the provider's minimum (from discovery or `minimumTopUpUsd`):
    /// refused before anything was signed.
    #[error("cannot pay: ${amount_usd} is below the minimum top-up of ${minimum_usd}")]
    AmountTooLow {
        /// USD asked.
        amount_usd: f64,
        /// The provider's minimum, USD.
        minimum_usd: f64,
    },
    /// The wallet is linked to a Venice account with staked DIEM, which the provider
    /// spends first: its 402 is not fixed by a top-up, so none was made.
    #[error(
        "a top-up cannot help: this wallet is linked to a Venice account with staked DIEM, \
         which is spent first (DIEM balance ${diem_balance_usd}); nothing was paid"
    )]
    DiemFirst {
        /// The DIEM balance (`diemBalanceUsd`) in USD.
        diem_balance_usd: f64,
    },
    /// A smart-contract (EIP-1271) wallet cannot top up: the provider settles EIP-3009
    /// authorizations recovered to an externally owned account, so nothing was signed.
    #[error("cannot pay: {0} is a smart-contract wallet; top it up from the account that owns it")]
    ContractWallet(String),
    /// The wallet's signer did not answer in time
    /// ([`SiwxConfig::signer_timeout`](crate::SiwxConfig::signer_timeout)).
    #[error("the wallet's signer did not answer within {after:?}")]
    SignerTimeout {
        /// How long the client waited.
        after: std::time::Duration,
    },
    /// A Solana top-up cannot be paid as required: the client refused to sign (wrong
    /// network, mint or scheme, an amount over the caller's cap, a fee payer that is the
    /// wallet...) or could not build the transaction; the reason is the source.
    #[error("cannot pay on Solana")]
    Solana(#[source] SvmError),
    /// The chain data of a Solana top-up (a recent blockhash, the USDC mint) could not be
    /// read from the Solana JSON-RPC endpoint; nothing was signed.
    #[error("{what}")]
    SolanaRpc {
        /// What failed and what to do (never the endpoint URL: it may hold an API key).
        what: String,
        /// The cause: the API error of the provider's proxy, a transport error, or a
        /// JSON-RPC error ([`SvmError::Rpc`]).
        #[source]
        source: BoxError,
    },
}

impl From<SvmError> for WalletError {
    fn from(e: SvmError) -> Self {
        WalletError::Solana(e)
    }
}

/// A signer could not sign: what implementations of
/// [`EvmSigner`](crate::EvmSigner) and [`SolanaSigner`](crate::SolanaSigner)
/// return. The message never contains key material; the cause (an HTTP error of a remote
/// signer, a KMS error...) is the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SignerError {
    message: Cow<'static, str>,
    #[source]
    source: Option<BoxError>,
}

impl SignerError {
    /// An error without an underlying cause.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by `source`.
    pub fn with_source(
        message: impl Into<Cow<'static, str>>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

/// Why a Solana payment cannot be built or its chain data read.
/// Texts hold addresses and amounts, never key material or signatures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SvmError {
    /// The requirement's scheme is not `exact`.
    #[error("unsupported payment scheme {0:?} (only `exact`)")]
    WrongScheme(String),
    /// The network is not Solana mainnet.
    #[error("refusing to pay on network {0:?}: only Solana mainnet")]
    WrongNetwork(String),
    /// The asset is not the USDC mint.
    #[error(
        "refusing to pay asset {0:?}: only the USDC mint EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    )]
    WrongAsset(String),
    /// The amount is missing, zero, or not a u64.
    #[error("invalid payment amount {0:?}")]
    InvalidAmount(String),
    /// The requirement asks for more than the caller allows.
    #[error("the requirement asks {amount} units, above the cap of {cap}")]
    AmountOverCap {
        /// Units asked.
        amount: u64,
        /// Units allowed.
        cap: u64,
    },
    /// `extra.feePayer` is missing.
    #[error("the Solana requirement has no extra.feePayer")]
    MissingFeePayer,
    /// A field is not a base58 32-byte address.
    #[error("{field} is not a Solana address: {value:?}")]
    InvalidAddress {
        /// Which field.
        field: &'static str,
        /// What was given.
        value: String,
    },
    /// `extra.memo` is longer than 256 bytes.
    #[error("extra.memo holds {0} bytes, at most 256 are allowed")]
    MemoTooLong(usize),
    /// The requirement is not shaped as an x402 `accepts` entry.
    #[error("malformed payment requirement: {0}")]
    InvalidRequirement(&'static str),
    /// The paying wallet is the fee payer: the facilitator would sign our transfer.
    #[error("the wallet is the requirement's fee payer")]
    OwnerIsFeePayer,
    /// The paying wallet is the receiver.
    #[error("the wallet is the requirement's payTo")]
    OwnerIsPayTo,
    /// The mint's decimals are not USDC's (6).
    #[error("the mint has {0} decimals, USDC has 6")]
    UnexpectedDecimals(u8),
    /// The mint's owner is neither SPL Token nor Token-2022.
    #[error("the mint is owned by {0}, not a token program")]
    UnknownTokenProgram(String),
    /// No bump gives an off-curve address (never happens for real inputs).
    #[error("no program address for these seeds")]
    NoProgramAddress,
    /// The signature does not verify for the wallet over the message.
    #[error("the signature does not verify for the wallet over the transaction message")]
    BadSignature,
    /// No system randomness for the memo nonce.
    #[error("no system randomness: {0}")]
    Randomness(String),
    /// The JSON-RPC endpoint answered an error object.
    #[error("Solana RPC error {code}: {message}")]
    Rpc {
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The JSON-RPC answer does not have the expected shape.
    #[error("malformed Solana RPC answer: {0}")]
    RpcMalformed(&'static str),
    /// `getAccountInfo` found no account at the mint address.
    #[error("the mint account does not exist")]
    MintNotFound,
    /// The mint account data is shorter than a mint (82 bytes).
    #[error("the mint account holds {0} bytes, a mint needs 82")]
    MintTooShort(usize),
    /// The mint account is not initialized.
    #[error("the mint account is not initialized")]
    MintNotInitialized,
}
