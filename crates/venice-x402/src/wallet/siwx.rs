//! Sign-In-With-X: the EIP-4361 (SIWE) and Solana (SIWS / CAIP-122) messages, byte
//! exact, and the base64 JSON `SIGN-IN-WITH-X` header.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::{FixedBytes, hex};
use base64_simd::STANDARD as B64;
use venice_openapi::types::{SiwxChainId, SiwxPayload};

use super::{Wallet, WalletError, signer};

/// Solana mainnet's CAIP-2 chain reference (genesis hash prefix).
pub const SOLANA_MAINNET: &str = "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp";

/// What a wallet signs in to: the fields of the SIWX message that are not per request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SiwxConfig {
    /// The domain asking for the sign-in (default `api.venice.ai`).
    pub domain: String,
    /// The URI of the message (default `https://api.venice.ai`).
    pub uri: String,
    /// The statement; printable ASCII only, one line (default `Sign in to Venice API`).
    pub statement: String,
    /// How long a header stays valid (default 5 minutes: the server refuses older
    /// `Issued At` values whatever the expiration says).
    pub ttl: Duration,
    /// EVM chain id (default 8453, Base).
    pub evm_chain_id: u64,
    /// Longest wait for the wallet's signer, per signature (default 30 s): a remote
    /// signer that hangs fails the call (a SIWX header: the client's auth error; a
    /// top-up: [`WalletError::SignerTimeout`]) instead of hanging it.
    pub signer_timeout: Duration,
}

impl Default for SiwxConfig {
    fn default() -> Self {
        Self {
            domain: "api.venice.ai".into(),
            uri: "https://api.venice.ai".into(),
            statement: "Sign in to Venice API".into(),
            ttl: Duration::from_secs(300),
            evm_chain_id: 8453,
            signer_timeout: Duration::from_secs(30),
        }
    }
}

impl SiwxConfig {
    /// Set the domain.
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = domain.into();
        self
    }

    /// Set the URI.
    #[must_use]
    pub fn uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = uri.into();
        self
    }

    /// Set the statement.
    #[must_use]
    pub fn statement(mut self, statement: impl Into<String>) -> Self {
        self.statement = statement.into();
        self
    }

    /// Set the lifetime of a header.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Set the longest wait for the signer per signature.
    #[must_use]
    pub fn signer_timeout(mut self, timeout: Duration) -> Self {
        self.signer_timeout = timeout;
        self
    }

    /// Check the fields against the EIP-4361 grammar (strict servers reject the rest).
    pub fn validate(&self) -> Result<(), WalletError> {
        let printable = |s: &str| !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !printable(&self.statement) {
            return Err(WalletError::InvalidConfig(
                "the SIWX statement must be non-empty printable ASCII on one line",
            ));
        }
        if !printable(&self.domain) || self.domain.contains(' ') {
            return Err(WalletError::InvalidConfig(
                "the SIWX domain must be a host name",
            ));
        }
        if !printable(&self.uri) || self.uri.contains(' ') || !self.uri.contains(':') {
            return Err(WalletError::InvalidConfig(
                "the SIWX URI must be an absolute URI",
            ));
        }
        if self.ttl.is_zero() {
            return Err(WalletError::InvalidConfig(
                "the SIWX lifetime must be positive",
            ));
        }
        if self.signer_timeout.is_zero() {
            return Err(WalletError::InvalidConfig(
                "the signer timeout must be positive",
            ));
        }
        Ok(())
    }
}

/// The fields of one sign-in message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiwxMessage {
    /// Requesting domain.
    pub domain: String,
    /// `Ethereum` or `Solana`.
    pub account_kind: &'static str,
    /// The wallet address (EIP-55 or base58).
    pub address: String,
    /// Statement (always sent: without it the Solana layout is ambiguous).
    pub statement: String,
    /// URI.
    pub uri: String,
    /// Version (`1`).
    pub version: String,
    /// Chain ID as written in the message (`8453`, or the Solana reference).
    pub chain_id: String,
    /// Nonce.
    pub nonce: String,
    /// Issued At (RFC 3339).
    pub issued_at: String,
    /// Expiration Time (RFC 3339), if any.
    pub expiration_time: Option<String>,
}

impl std::fmt::Display for SiwxMessage {
    /// The message text: lines joined by `\n`, no trailing newline.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} wants you to sign in with your {} account:\n{}\n\n{}\n\nURI: {}\nVersion: {}\nChain ID: {}\nNonce: {}\nIssued At: {}",
            self.domain,
            self.account_kind,
            self.address,
            self.statement,
            self.uri,
            self.version,
            self.chain_id,
            self.nonce,
            self.issued_at
        )?;
        if let Some(exp) = &self.expiration_time {
            write!(f, "\nExpiration Time: {exp}")?;
        }
        Ok(())
    }
}

fn rfc3339_millis(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// A fresh 16-hex-character nonce from the system's CSPRNG.
pub(crate) fn random_nonce() -> Result<String, WalletError> {
    let b = FixedBytes::<8>::try_random()
        .map_err(|e| WalletError::Signing(format!("no system randomness: {e}")))?;
    Ok(hex::encode(b))
}

/// Build a signed `SIGN-IN-WITH-X` header value for `wallet` at `now` with `nonce`: the
/// wallet's signer signs the message, and the signature is checked against its address.
pub async fn signed_header(
    wallet: &Wallet,
    config: &SiwxConfig,
    now: SystemTime,
    nonce: &str,
) -> Result<String, WalletError> {
    config.validate()?;
    let expires = now
        .checked_add(config.ttl)
        .ok_or(WalletError::InvalidConfig("the SIWX lifetime is too long"))?;
    let (account_kind, chain_id) = match wallet {
        Wallet::Evm(_) => ("Ethereum", config.evm_chain_id.to_string()),
        Wallet::Solana(_) => ("Solana", SOLANA_MAINNET.to_owned()),
    };
    let message = SiwxMessage {
        domain: config.domain.clone(),
        account_kind,
        address: wallet.address().to_owned(),
        statement: config.statement.clone(),
        uri: config.uri.clone(),
        version: "1".into(),
        chain_id,
        nonce: nonce.to_owned(),
        issued_at: rfc3339_millis(now),
        expiration_time: Some(rfc3339_millis(expires)),
    }
    .to_string();
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| WalletError::Signing("the system clock is before 1970".into()))?
        .as_millis() as i64;
    let payload =
        match wallet {
            Wallet::Evm(s) => {
                let sig = signer::evm_sign_in(s.as_ref(), message.as_bytes()).await?;
                SiwxPayload {
                    address: s.address().to_owned(),
                    message,
                    signature: format!("0x{}", hex::encode(sig)),
                    timestamp: Some(timestamp),
                    chain_id: SiwxChainId::Int64(i64::try_from(config.evm_chain_id).map_err(
                        |_| WalletError::InvalidConfig("the EVM chain id is out of range"),
                    )?),
                    type_: s.is_contract().then(|| "eip1271".to_owned()),
                }
            }
            Wallet::Solana(s) => {
                let sig = signer::solana_message(s.as_ref(), message.as_bytes()).await?;
                SiwxPayload {
                    address: s.address().to_owned(),
                    message,
                    signature: bs58::encode(sig).into_string(),
                    timestamp: Some(timestamp),
                    chain_id: SiwxChainId::String(format!("solana:{SOLANA_MAINNET}")),
                    type_: Some("ed25519".to_owned()),
                }
            }
        };
    let json = serde_json::to_vec(&payload)
        .map_err(|e| WalletError::Signing(format!("the SIWX payload is not JSON: {e}")))?;
    Ok(B64.encode_to_string(json))
}

/// The `address` of a SIWX header value (base64 JSON), without checking it.
pub(crate) fn header_address(value: &str) -> Option<String> {
    let bytes = B64
        .decode_to_vec(value.trim())
        .or_else(|_| base64_simd::URL_SAFE.decode_to_vec(value.trim()))
        .ok()?;
    serde_json::from_slice::<SiwxPayload>(&bytes)
        .ok()
        .map(|p| p.address)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wallet::{LocalEvmSigner, LocalSolanaSigner};
    use alloy_primitives::{Signature, eip191_hash_message};
    use std::sync::Arc;

    fn recover(message: &str, sig_hex: &str) -> String {
        let sig = Signature::from_raw(&hex::decode(sig_hex).unwrap()).unwrap();
        sig.recover_address_from_prehash(&eip191_hash_message(message))
            .unwrap()
            .to_checksum(None)
    }

    /// Vector 5: the reference SIWE suite's `verification_positive.json`. Our formatter
    /// must rebuild the signed bytes from the fields exactly, or recovery gives another
    /// address.
    #[test]
    fn siwe_reference_vectors() {
        let example = SiwxMessage {
            domain: "login.xyz".into(),
            account_kind: "Ethereum",
            address: "0x9D85ca56217D2bb651b00f15e694EB7E713637D4".into(),
            statement: "Sign-In With Ethereum Example Statement".into(),
            uri: "https://login.xyz".into(),
            version: "1".into(),
            chain_id: "1".into(),
            nonce: "bTyXgcQxn2htgkjJn".into(),
            issued_at: "2022-01-27T17:09:38.578Z".into(),
            expiration_time: Some("2100-01-07T14:31:43.952Z".into()),
        };
        assert_eq!(
            recover(
                &example.to_string(),
                "0xdc35c7f8ba2720df052e0092556456127f00f7707eaa8e3bbff7e56774e7f2e05a093cfc9e02964c33d86e8e066e221b7d153d27e5a2e97ccd5ca7d3f2ce06cb1b"
            ),
            example.address
        );
        let tally = SiwxMessage {
            domain: "www.tally.xyz".into(),
            address: "0xc95EB884FE852e241D409234bfC7045CB9E31BD7".into(),
            statement: "Sign in with Ethereum to Tally".into(),
            uri: "https://tally.xyz".into(),
            nonce: "15050747".into(),
            issued_at: "2022-06-30T14:08:51.382Z".into(),
            expiration_time: None,
            ..example
        };
        // v = 0x01 here: verifiers must accept v in {0, 1, 27, 28}.
        assert_eq!(
            recover(
                &tally.to_string(),
                "0x8c46b6eb8505939892d8e9b075f89f8277321b17b993151f37810cdda38cce6f4a85909d2b53e6a14629c74c0ac38bf4becde78ee5b2529812bf6cceaf7b2a2501"
            ),
            tally.address
        );
    }

    fn decode(h: &str) -> serde_json::Value {
        serde_json::from_slice(&B64.decode_to_vec(h).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn evm_header_layout_and_signature() {
        let signer = LocalEvmSigner::from_hex(
            "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
        )
        .unwrap();
        let w = Wallet::Evm(Arc::new(signer));
        let now = UNIX_EPOCH + Duration::from_millis(1_795_902_007_077);
        let h = signed_header(&w, &SiwxConfig::default(), now, "0123456789abcdef")
            .await
            .unwrap();
        let v = decode(&h);
        let msg = v["message"].as_str().unwrap();
        assert_eq!(
            msg,
            "api.venice.ai wants you to sign in with your Ethereum account:\n\
             0x2c7536E3605D9C16a7a3D7b1898e529396a65c23\n\n\
             Sign in to Venice API\n\n\
             URI: https://api.venice.ai\nVersion: 1\nChain ID: 8453\nNonce: 0123456789abcdef\n\
             Issued At: 2026-11-28T21:40:07.077Z\nExpiration Time: 2026-11-28T21:45:07.077Z"
        );
        assert_eq!(v["chainId"], 8453);
        assert_eq!(v["timestamp"], 1_795_902_007_077u64);
        assert!(v.get("type").is_none());
        assert_eq!(
            recover(msg, v["signature"].as_str().unwrap()),
            v["address"].as_str().unwrap()
        );
        assert_eq!(header_address(&h).as_deref(), v["address"].as_str());
    }

    #[tokio::test]
    async fn solana_header_verifies() {
        use ed25519_dalek::{Signature, Verifier, VerifyingKey};
        let w = Wallet::Solana(Arc::new(
            LocalSolanaSigner::from_bytes(
                &hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                    .unwrap(),
            )
            .unwrap(),
        ));
        let now = UNIX_EPOCH + Duration::from_secs(1_795_902_007);
        let h = signed_header(&w, &SiwxConfig::default(), now, "00000000000000ff")
            .await
            .unwrap();
        let v = decode(&h);
        let msg = v["message"].as_str().unwrap();
        assert!(msg.starts_with(
            "api.venice.ai wants you to sign in with your Solana account:\nFVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z\n\n"
        ));
        assert!(msg.contains("\nChain ID: 5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp\n"));
        assert_eq!(v["type"], "ed25519");
        assert_eq!(v["chainId"], "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp");
        let pk: [u8; 32] = bs58::decode(v["address"].as_str().unwrap())
            .into_vec()
            .unwrap()
            .try_into()
            .unwrap();
        let sig: [u8; 64] = bs58::decode(v["signature"].as_str().unwrap())
            .into_vec()
            .unwrap()
            .try_into()
            .unwrap();
        VerifyingKey::from_bytes(&pk)
            .unwrap()
            .verify(msg.as_bytes(), &Signature::from_bytes(&sig))
            .unwrap();
    }

    #[tokio::test]
    async fn config_rules() {
        assert!(SiwxConfig::default().validate().is_ok());
        let w = Wallet::Evm(Arc::new(LocalEvmSigner::random().unwrap()));
        for bad in [
            SiwxConfig::default().statement("Connexion à Venice"),
            SiwxConfig::default().statement("two\nlines"),
            SiwxConfig::default().statement(""),
            SiwxConfig::default().domain("a b"),
            SiwxConfig::default().uri("nouri"),
            SiwxConfig::default().ttl(Duration::ZERO),
            SiwxConfig::default().signer_timeout(Duration::ZERO),
        ] {
            assert!(matches!(
                signed_header(&w, &bad, SystemTime::now(), "0000000000000000").await,
                Err(WalletError::InvalidConfig(_))
            ));
        }
        let a = random_nonce().unwrap();
        assert_eq!(a.len(), 16);
        assert_ne!(a, random_nonce().unwrap());
    }
}
