//! [`LocalSolanaSigner`]: an Ed25519 keypair in process memory (via `ed25519-dalek`)
//! with a base58 address; the in-memory implementation of [`SolanaSigner`].

use std::fmt;

use ed25519_dalek::{Signer as _, SigningKey};
use zeroize::Zeroizing;

use super::{SignerError, SolanaSigner, WalletError};

/// A Solana keypair held in process memory: the [`SolanaSigner`] of
/// the client's `Auth::solana_wallet`. The secret is zeroized on drop
/// (`ed25519_dalek::SigningKey` does it) and never printed: `Debug` shows the address
/// only. To keep the key out of the process, implement [`SolanaSigner`] over a KMS or a
/// signing service instead.
#[derive(Clone)]
pub struct LocalSolanaSigner {
    key: SigningKey,
    address: String,
}

impl fmt::Debug for LocalSolanaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSolanaSigner")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl LocalSolanaSigner {
    /// A signer from a keypair string: base58 of the 64-byte keypair (secret ‖ public,
    /// as wallets export it) or of the 32-byte secret, or the JSON byte array of a
    /// `solana-keygen` file (`[12, 34, …]`).
    pub fn parse(keypair: &str) -> Result<Self, WalletError> {
        let s = keypair.trim();
        let bytes: Zeroizing<Vec<u8>> =
            if s.starts_with('[') {
                Zeroizing::new(serde_json::from_str::<Vec<u8>>(s).map_err(|_| {
                    WalletError::InvalidKey("a Solana keypair JSON array holds numbers 0-255")
                })?)
            } else {
                Zeroizing::new(bs58::decode(s).into_vec().map_err(|_| {
                    WalletError::InvalidKey("the Solana keypair is not valid base58")
                })?)
            };
        Self::from_bytes(&bytes)
    }

    /// A signer from 64 bytes (secret ‖ public; the public half must match) or a
    /// 32-byte secret.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WalletError> {
        let secret: &[u8; 32] = bytes
            .get(..32)
            .and_then(|s| s.try_into().ok())
            .filter(|_| bytes.len() == 32 || bytes.len() == 64)
            .ok_or(WalletError::InvalidKey(
                "a Solana keypair is 64 bytes (or a 32-byte secret)",
            ))?;
        let key = SigningKey::from_bytes(secret);
        if bytes.len() == 64 && key.verifying_key().as_bytes()[..] != bytes[32..] {
            return Err(WalletError::InvalidKey(
                "the public half of the Solana keypair does not match its secret",
            ));
        }
        let address = bs58::encode(key.verifying_key().as_bytes()).into_string();
        Ok(Self { key, address })
    }

    /// A new random keypair (e.g. an ephemeral wallet for the offline mock).
    pub fn random() -> Result<Self, WalletError> {
        // The bytes are a secret until the key owns them.
        let secret = Zeroizing::new(
            alloy_primitives::B256::try_random()
                .map_err(|e| WalletError::Signing(format!("no system randomness: {e}")))?
                .0,
        );
        Self::from_bytes(secret.as_slice())
    }

    /// The base58 public key (the wallet address).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

#[venice_openapi::async_trait]
impl SolanaSigner for LocalSolanaSigner {
    fn address(&self) -> &str {
        &self.address
    }

    async fn sign_message(&self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        Ok(self.sign(message))
    }

    async fn sign_transaction(&self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        Ok(self.sign(message))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloy_primitives::hex;

    const SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    // Vector 6: RFC 8032 §7.1 TEST 1.
    #[test]
    fn rfc8032_test1() {
        let secret = hex::decode(SECRET).unwrap();
        let s = LocalSolanaSigner::from_bytes(&secret).unwrap();
        assert_eq!(s.address(), "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z");
        assert_eq!(
            hex::encode(bs58::decode(s.address()).into_vec().unwrap()),
            PUBLIC
        );
        assert_eq!(
            hex::encode(s.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn keypair_forms() {
        let mut pair = hex::decode(SECRET).unwrap();
        pair.extend(hex::decode(PUBLIC).unwrap());
        let b58 = bs58::encode(&pair).into_string();
        let a = LocalSolanaSigner::parse(&b58).unwrap();
        let json = serde_json::to_string(&pair).unwrap();
        let b = LocalSolanaSigner::parse(&json).unwrap();
        let c = LocalSolanaSigner::parse(&bs58::encode(&pair[..32]).into_string()).unwrap();
        assert_eq!(a.address(), b.address());
        assert_eq!(a.address(), c.address());
        pair[40] ^= 1;
        assert!(LocalSolanaSigner::parse(&bs58::encode(&pair).into_string()).is_err());
        assert!(LocalSolanaSigner::parse("0OIl").is_err());
        assert!(LocalSolanaSigner::parse("abc").is_err());
        let d = format!("{a:?}");
        assert!(d.contains("FVen3X669"), "{d}");
        assert_ne!(
            LocalSolanaSigner::random().unwrap().address(),
            LocalSolanaSigner::random().unwrap().address()
        );
        assert!(!d.contains(&b58[..12]), "{d}");
    }
}
