//! Wallets: an EVM or Solana [`Wallet`] over a signer, and the Sign-In-With-X header it
//! signs for every request ([`WalletAuth`], the generated client's auth hook).
//!
//! Each request gets a fresh header with a new nonce (the server burns nonces), so a
//! retried request is signed again.

mod evm;
mod signer;
#[cfg(test)]
mod signer_tests;
mod siwx;
mod solana;
pub mod svm;
mod x402;

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use std::sync::atomic::{AtomicBool, Ordering};

use secrecy::{ExposeSecret, SecretString};
use venice_openapi::reqwest;
use venice_openapi::reqwest::header::{HeaderName, HeaderValue};
use venice_openapi::{AuthContext, AuthError, RequestAuth, Scheme};

use crate::error::{SignerError, WalletError};
pub use evm::LocalEvmSigner;
pub(crate) use signer::solana_transaction as sign_solana_transaction;
pub(crate) use signer::with_timeout;
pub use signer::{EvmSigner, SolanaSigner};
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
    pub fn with_default_config(wallet: Wallet) -> Self {
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
pub struct StaticSiwx {
    value: SecretString,
    used: AtomicBool,
}

impl StaticSiwx {
    /// A header value signed elsewhere, sent once.
    pub fn new(value: SecretString) -> Self {
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
pub fn header_address(value: &str) -> Option<String> {
    siwx::header_address(value)
}
