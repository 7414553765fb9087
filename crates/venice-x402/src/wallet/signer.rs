//! The signer seam: [`EvmSigner`] and [`SolanaSigner`] hold a key somewhere (process
//! memory, a KMS, an HSM, a hardware wallet, a signing service) and sign what the client
//! asks; the client never needs the key.
//!
//! Every signature a signer returns is checked here against its address before it is
//! used, so a misconfigured remote signer (another key, a truncated answer) fails with a
//! clear [`WalletError::Signer`] instead of a 401 or a rejected payment later.

use std::future::Future;
use std::time::Duration;

use alloy_primitives::{Address, B256, Signature, eip191_hash_message};
use ed25519_dalek::{Verifier as _, VerifyingKey};

use crate::error::{SignerError, WalletError};

/// Holds an EVM (secp256k1) key and signs with it: the in-memory
/// [`LocalEvmSigner`](super::LocalEvmSigner), or a KMS, an HSM, a hardware wallet or a
/// remote signing service behind the same two calls.
///
/// Signatures are 65 bytes `r ‖ s ‖ v` (`v` ∈ {27, 28}, or {0, 1}). Implementations
/// must not put key material in their errors or logs.
///
/// ```
/// use venice_x402::async_trait;
/// use venice_x402::{EvmSigner, LocalEvmSigner, SignerError};
///
/// /// A signer that asks a KMS (here: a local key standing in for it).
/// struct Kms {
///     key: LocalEvmSigner,
/// }
///
/// #[async_trait]
/// impl EvmSigner for Kms {
///     fn address(&self) -> &str {
///         self.key.address()
///     }
///
///     async fn sign_message(&self, message: &[u8]) -> Result<[u8; 65], SignerError> {
///         // e.g. `kms.sign(key_id, eip191_hash(message)).await`
///         self.key.sign_message(message).await
///     }
///
///     async fn sign_hash(&self, digest: &[u8; 32]) -> Result<[u8; 65], SignerError> {
///         self.key.sign_hash(digest).await
///     }
/// }
/// ```
#[venice_openapi::async_trait]
pub trait EvmSigner: Send + Sync {
    /// The EIP-55 checksummed address of the key.
    fn address(&self) -> &str;

    /// EIP-191 `personal_sign` of `message` (a Sign-In-With-X text): the signature of
    /// `keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ message)`.
    async fn sign_message(&self, message: &[u8]) -> Result<[u8; 65], SignerError>;

    /// The signature of a 32-byte digest: the EIP-712 signing hash of a top-up's
    /// `TransferWithAuthorization` (USDC on Base).
    async fn sign_hash(&self, digest: &[u8; 32]) -> Result<[u8; 65], SignerError>;

    /// Whether [`address`](Self::address) is a smart-contract wallet (EIP-1271, e.g. a
    /// Safe or a Coinbase Smart Wallet) rather than the key's own address. Its sign-in
    /// signature is [`sign_in_signature`](Self::sign_in_signature), checked by the
    /// provider through the contract's `isValidSignature`, so the client does not
    /// recover it; it cannot top up (the provider settles EIP-3009 authorizations of a
    /// key's address). Default: `false`.
    fn is_contract(&self) -> bool {
        false
    }

    /// The signature bytes of a Sign-In-With-X `message`, of any length: for a contract
    /// wallet what its `isValidSignature` accepts (e.g. an owner's EIP-191 signature, or
    /// a wallet-specific encoding). Default: [`sign_message`](Self::sign_message)'s 65
    /// bytes.
    async fn sign_in_signature(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.sign_message(message).await.map(|s| s.to_vec())
    }
}

/// Holds a Solana (Ed25519) key and signs with it: the in-memory
/// [`LocalSolanaSigner`](super::LocalSolanaSigner), or a KMS, an HSM, a hardware wallet
/// or a remote signing service behind the same two calls.
///
/// The two calls are apart, as wallets keep them, so a signer can apply its own policy
/// to transactions (a top-up's transaction moves USDC) and not to sign-in messages.
#[venice_openapi::async_trait]
pub trait SolanaSigner: Send + Sync {
    /// The base58 public key (the wallet address).
    fn address(&self) -> &str;

    /// The Ed25519 signature of an off-chain message (a Sign-In-With-Solana text).
    async fn sign_message(&self, message: &[u8]) -> Result<[u8; 64], SignerError>;

    /// The Ed25519 signature of a serialized transaction message (a v0 message, its
    /// `0x80` version prefix included): a top-up's USDC transfer, of which the wallet is
    /// the second signer (the facilitator pays the fee and signs the first slot).
    async fn sign_transaction(&self, message: &[u8]) -> Result<[u8; 64], SignerError>;
}

/// Run a signer call under `timeout`.
pub(crate) async fn with_timeout<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, WalletError>>,
) -> Result<T, WalletError> {
    tokio::time::timeout(timeout, call)
        .await
        .unwrap_or(Err(WalletError::SignerTimeout { after: timeout }))
}

fn evm_address(signer: &dyn EvmSigner) -> Result<Address, WalletError> {
    signer.address().trim().parse().map_err(|_| {
        WalletError::Signer(SignerError::new(
            "the EVM signer's address is not an EVM address",
        ))
    })
}

fn check_evm(
    signer: &dyn EvmSigner,
    prehash: &B256,
    signature: [u8; 65],
) -> Result<[u8; 65], WalletError> {
    let expected = evm_address(signer)?;
    let recovered = Signature::from_raw(&signature)
        .ok()
        .and_then(|s| s.recover_address_from_prehash(prehash).ok());
    if recovered != Some(expected) {
        return Err(WalletError::Signer(SignerError::new(
            "the EVM signer returned a signature that does not recover to its address",
        )));
    }
    Ok(signature)
}

/// `signer`'s EIP-191 signature of `message`, checked against its address.
pub(crate) async fn evm_message(
    signer: &dyn EvmSigner,
    message: &[u8],
) -> Result<[u8; 65], WalletError> {
    let signature = signer
        .sign_message(message)
        .await
        .map_err(WalletError::Signer)?;
    check_evm(signer, &eip191_hash_message(message), signature)
}

/// `signer`'s Sign-In-With-X signature of `message`: a key's 65 bytes checked against
/// its address, or a contract wallet's bytes as they are (only the contract can judge
/// them, through EIP-1271 on chain).
pub(crate) async fn evm_sign_in(
    signer: &dyn EvmSigner,
    message: &[u8],
) -> Result<Vec<u8>, WalletError> {
    if !signer.is_contract() {
        return evm_message(signer, message).await.map(|s| s.to_vec());
    }
    evm_address(signer)?;
    let signature = signer
        .sign_in_signature(message)
        .await
        .map_err(WalletError::Signer)?;
    if signature.is_empty() {
        return Err(WalletError::Signer(SignerError::new(
            "the contract wallet's signer returned an empty signature",
        )));
    }
    Ok(signature)
}

/// `signer`'s signature of an EIP-712 `digest`, checked against its address.
pub(crate) async fn evm_hash(
    signer: &dyn EvmSigner,
    digest: &[u8; 32],
) -> Result<[u8; 65], WalletError> {
    let signature = signer
        .sign_hash(digest)
        .await
        .map_err(WalletError::Signer)?;
    check_evm(signer, &B256::from(*digest), signature)
}

fn check_solana(
    signer: &dyn SolanaSigner,
    message: &[u8],
    signature: [u8; 64],
) -> Result<[u8; 64], WalletError> {
    let key = bs58::decode(signer.address().trim())
        .into_vec()
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| {
            WalletError::Signer(SignerError::new(
                "the Solana signer's address is not an Ed25519 public key",
            ))
        })?;
    key.verify(message, &ed25519_dalek::Signature::from_bytes(&signature))
        .map_err(|_| {
            WalletError::Signer(SignerError::new(
                "the Solana signer returned a signature that does not verify for its address",
            ))
        })?;
    Ok(signature)
}

/// `signer`'s signature of an off-chain `message`, checked against its address.
pub(crate) async fn solana_message(
    signer: &dyn SolanaSigner,
    message: &[u8],
) -> Result<[u8; 64], WalletError> {
    let signature = signer
        .sign_message(message)
        .await
        .map_err(WalletError::Signer)?;
    check_solana(signer, message, signature)
}

/// `signer`'s signature of a transaction `message`, checked against its address.
pub(crate) async fn solana_transaction(
    signer: &dyn SolanaSigner,
    message: &[u8],
) -> Result<[u8; 64], WalletError> {
    let signature = signer
        .sign_transaction(message)
        .await
        .map_err(WalletError::Signer)?;
    check_solana(signer, message, signature)
}
