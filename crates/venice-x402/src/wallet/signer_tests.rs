//! The signature checks of `signer` against real local signers (`evm`, `solana`): a
//! sibling test module, so `signer` itself stays below the signers it checks.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::signer::{evm_hash, evm_message, solana_message, solana_transaction, with_timeout};
use super::{EvmSigner, LocalEvmSigner, LocalSolanaSigner, SignerError, SolanaSigner, WalletError};

/// Signs with another key than the one it claims.
struct Impostor {
    claims: String,
    signs: LocalEvmSigner,
}

#[venice_openapi::async_trait]
impl EvmSigner for Impostor {
    fn address(&self) -> &str {
        &self.claims
    }
    async fn sign_message(&self, message: &[u8]) -> Result<[u8; 65], SignerError> {
        self.signs.sign_message(message).await
    }
    async fn sign_hash(&self, digest: &[u8; 32]) -> Result<[u8; 65], SignerError> {
        self.signs.sign_hash(digest).await
    }
}

struct SolanaImpostor {
    claims: String,
    signs: LocalSolanaSigner,
}

#[venice_openapi::async_trait]
impl SolanaSigner for SolanaImpostor {
    fn address(&self) -> &str {
        &self.claims
    }
    async fn sign_message(&self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        Ok(self.signs.sign(message))
    }
    async fn sign_transaction(&self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        Ok(self.signs.sign(message))
    }
}

#[tokio::test]
async fn signatures_are_checked_against_the_address() {
    let honest = LocalEvmSigner::random().unwrap();
    assert!(evm_message(&honest, b"hi").await.is_ok());
    assert!(evm_hash(&honest, &[7; 32]).await.is_ok());
    let impostor = Impostor {
        claims: honest.address().to_owned(),
        signs: LocalEvmSigner::random().unwrap(),
    };
    for r in [
        evm_message(&impostor, b"hi").await,
        evm_hash(&impostor, &[7; 32]).await,
    ] {
        assert!(matches!(r, Err(WalletError::Signer(_))), "{r:?}");
    }

    let honest = LocalSolanaSigner::from_bytes(&[3; 32]).unwrap();
    assert!(solana_message(&honest, b"hi").await.is_ok());
    assert!(solana_transaction(&honest, b"tx").await.is_ok());
    let impostor = SolanaImpostor {
        claims: honest.address().to_owned(),
        signs: LocalSolanaSigner::from_bytes(&[4; 32]).unwrap(),
    };
    assert!(matches!(
        solana_transaction(&impostor, b"tx").await,
        Err(WalletError::Signer(_))
    ));
    let nonsense = SolanaImpostor {
        claims: "not-base58-0OIl".into(),
        signs: LocalSolanaSigner::from_bytes(&[4; 32]).unwrap(),
    };
    assert!(matches!(
        solana_message(&nonsense, b"hi").await,
        Err(WalletError::Signer(_))
    ));
}

#[tokio::test]
async fn a_slow_signer_times_out() {
    let r: Result<(), _> = with_timeout(Duration::from_millis(20), async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(())
    })
    .await;
    assert!(
        matches!(r, Err(WalletError::SignerTimeout { after }) if after == Duration::from_millis(20))
    );
}
