//! [`LocalEvmSigner`]: a secp256k1 private key in process memory that signs EIP-191
//! messages and EIP-712 digests, through alloy's primitives and RustCrypto's `k256`; the
//! in-memory implementation of [`EvmSigner`].

use std::fmt;

use alloy_primitives::{Address, B256, Signature, eip191_hash_message, hex};
use k256::ecdsa::SigningKey;
use zeroize::Zeroizing;

use super::{EvmSigner, SignerError, WalletError};

/// An EVM private key held in process memory: the [`EvmSigner`] of
/// the client's `Auth::evm_wallet`. The key is zeroized on drop
/// (`k256::SigningKey` does it) and never printed: `Debug` shows the address only. To
/// keep the key out of the process, implement [`EvmSigner`] over a KMS or a signing
/// service instead.
#[derive(Clone)]
pub struct LocalEvmSigner {
    key: SigningKey,
    checksummed: String,
}

impl fmt::Debug for LocalEvmSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEvmSigner")
            .field("address", &self.checksummed)
            .finish_non_exhaustive()
    }
}

impl LocalEvmSigner {
    /// A signer from a hex private key (64 hex digits, `0x` optional).
    pub fn from_hex(private_key: &str) -> Result<Self, WalletError> {
        let s = private_key.trim();
        let s = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        if s.len() != 64 {
            return Err(WalletError::InvalidKey(
                "an EVM private key is 64 hex digits (32 bytes)",
            ));
        }
        let bytes = Zeroizing::new(
            hex::decode(s)
                .map_err(|_| WalletError::InvalidKey("the EVM private key is not valid hex"))?,
        );
        Self::from_bytes(&bytes)
    }

    /// A signer from 32 raw private-key bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WalletError> {
        let key = SigningKey::from_slice(bytes).map_err(|_| {
            WalletError::InvalidKey("not a valid secp256k1 private key (zero or above the order)")
        })?;
        let checksummed = Address::from_private_key(&key).to_checksum(None);
        Ok(Self { key, checksummed })
    }

    /// A new random key (e.g. an ephemeral wallet for the offline mock).
    pub fn random() -> Result<Self, WalletError> {
        // The bytes are a secret until the key owns them.
        let bytes = Zeroizing::new(
            B256::try_random()
                .map_err(|e| WalletError::Signing(format!("no system randomness: {e}")))?
                .0,
        );
        Self::from_bytes(bytes.as_slice())
    }

    /// The EIP-55 checksummed address.
    pub fn address(&self) -> &str {
        &self.checksummed
    }

    /// Sign a 32-byte prehash; `r ‖ s ‖ v` with `v` ∈ {27, 28} (low `s`).
    fn sign_prehash(&self, hash: &[u8; 32]) -> Result<[u8; 65], SignerError> {
        let (sig, recid) = self
            .key
            .sign_prehash_recoverable(hash)
            .map_err(|e| SignerError::with_source("ECDSA signing failed", e))?;
        Ok(Signature::from_signature_and_parity(sig, recid.is_y_odd()).as_bytes())
    }
}

#[venice_openapi::async_trait]
impl EvmSigner for LocalEvmSigner {
    fn address(&self) -> &str {
        &self.checksummed
    }

    async fn sign_message(&self, message: &[u8]) -> Result<[u8; 65], SignerError> {
        self.sign_prehash(&eip191_hash_message(message).0)
    }

    async fn sign_hash(&self, digest: &[u8; 32]) -> Result<[u8; 65], SignerError> {
        self.sign_prehash(digest)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEY1: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

    // Vector 1 (web3.js `accounts.sign` documentation).
    #[tokio::test]
    async fn eip191_vector() {
        let s = LocalEvmSigner::from_hex(KEY1).unwrap();
        assert_eq!(s.address(), "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
        assert_eq!(
            hex::encode(eip191_hash_message(b"Some data")),
            "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"
        );
        assert_eq!(
            hex::encode(s.sign_message(b"Some data").await.unwrap()),
            "b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c"
        );
    }

    // Vector 2: private key 1.
    #[test]
    fn key_one_address() {
        let s = LocalEvmSigner::from_hex(&format!("{:064x}", 1)).unwrap();
        assert_eq!(s.address(), "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
    }

    #[test]
    fn bad_keys_and_debug() {
        for bad in [
            "",
            "0x12",
            &"g".repeat(64),
            &"0".repeat(64),
            &"f".repeat(64),
        ] {
            let e = LocalEvmSigner::from_hex(bad).unwrap_err().to_string();
            assert!(!e.is_empty());
        }
        let s = LocalEvmSigner::from_hex(KEY1).unwrap();
        let d = format!("{s:?}");
        assert!(
            d.contains("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"),
            "{d}"
        );
        assert!(!d.to_lowercase().contains(&KEY1[2..12]), "{d}");
        let r = LocalEvmSigner::random().unwrap();
        assert_ne!(r.address(), s.address());
    }
}
