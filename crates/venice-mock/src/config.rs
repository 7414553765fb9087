//! Server configuration: accounts, limits, faults, extra models and pluggable verifiers.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::CatalogModel;
use crate::faults::FaultPlan;
use crate::x402::{PaymentPolicy, SiwxPolicy};

/// The Bearer API key accepted by [`MockConfig::default`].
pub const DEFAULT_API_KEY: &str = "venice-mock-key";

/// Default largest accepted request body (40 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 40 * 1024 * 1024;

/// Who a `SIGN-IN-WITH-X` header authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletIdentity {
    /// The wallet address (EVM `0x…` or Solana base58).
    pub address: String,
    /// The chain, e.g. `eip155:8453`.
    pub chain_id: String,
}

/// Verifies a `SIGN-IN-WITH-X` (or legacy `X-Sign-In-With-X`) header value.
///
/// The default is [`crate::x402::DefaultSiwxVerifier`] (real signature checks under
/// [`MockConfig::siwx_policy`]); plug another in, e.g. one that trusts the `address`
/// field, to test without signing.
pub trait SiwxVerifier: Send + Sync {
    /// Verifies the raw header value and returns the wallet it proves, or a reason.
    fn verify(&self, header_value: &str) -> Result<WalletIdentity, String>;
}

/// The outcome of a verified x402 payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiedPayment {
    /// The wallet to credit.
    pub wallet: String,
    /// The amount to credit in USD.
    pub amount_usd: f64,
}

/// Verifies a `PAYMENT-SIGNATURE` header value on `POST /x402/top-up`.
pub trait PaymentVerifier: Send + Sync {
    /// Verifies the raw header value and returns what to credit, or a reason.
    fn verify(&self, header_value: &str) -> Result<VerifiedPayment, String>;
}

/// A fixed-window rate limit applied per API key (or wallet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitConfig {
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length (in JSON: seconds as a number).
    #[serde(with = "crate::config::duration_secs")]
    pub window: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests: 10_000,
            window: Duration::from_secs(60),
        }
    }
}

/// Configuration of a [`crate::MockServer`]. Deserializable from JSON (the
/// verifiers are code and are skipped).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MockConfig {
    /// Accepted Bearer API keys.
    pub api_keys: Vec<String>,
    /// USD balance shared by API-key accounts; `None` means unlimited.
    pub api_key_balance: Option<f64>,
    /// Initial USD credit of wallets (address → balance), for SIWX-authenticated calls.
    pub wallet_balances: HashMap<String, f64>,
    /// Rate limit; `None` disables limiting (headers are still sent).
    pub rate_limit: Option<RateLimitConfig>,
    /// Faults to inject into paid requests.
    pub faults: FaultPlan,
    /// Models added to the built-in catalogue (same id replaces a built-in one).
    pub extra_models: Vec<CatalogModel>,
    /// Largest accepted request body in bytes (413 above).
    pub max_body_bytes: usize,
    /// Benchmark payload mode: when set, every PNG from `/image/generate` (JSON and
    /// binary) and `/images/generations` is one pre-generated random-noise PNG of about
    /// this many bytes (stored uncompressed, whatever the requested size), and JSON image
    /// responses are built once per shape, then served from memory without HTTP
    /// compression (id and timing repeat). Other formats are served as usual.
    /// Benchmark internals: needs the private `__internal` feature (the benchmark crate
    /// enables it) and is ignored without it.
    #[doc(hidden)]
    pub bench_image_bytes: Option<u64>,
    /// What the built-in Sign-In-With-X verifier accepts (domains, lifetime, chains).
    pub siwx_policy: SiwxPolicy,
    /// What the built-in payment verifier accepts (payee, asset, minimum).
    pub payment_policy: PaymentPolicy,
    /// Verifier of `SIGN-IN-WITH-X` headers; `None` uses
    /// [`crate::x402::DefaultSiwxVerifier`] with [`siwx_policy`](Self::siwx_policy).
    #[serde(skip)]
    pub siwx_verifier: Option<Arc<dyn SiwxVerifier>>,
    /// Verifier of x402 payments for `/x402/top-up`; `None` uses
    /// [`crate::x402::DefaultPaymentVerifier`] with
    /// [`payment_policy`](Self::payment_policy).
    #[serde(skip)]
    pub payment_verifier: Option<Arc<dyn PaymentVerifier>>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            api_keys: vec![DEFAULT_API_KEY.to_owned()],
            api_key_balance: None,
            wallet_balances: HashMap::new(),
            rate_limit: Some(RateLimitConfig::default()),
            faults: FaultPlan::default(),
            extra_models: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            siwx_policy: SiwxPolicy::default(),
            payment_policy: PaymentPolicy::default(),
            bench_image_bytes: None,
            siwx_verifier: None,
            payment_verifier: None,
        }
    }
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockConfig")
            .field("api_keys", &self.api_keys.len())
            .field("api_key_balance", &self.api_key_balance)
            .field("wallet_balances", &self.wallet_balances)
            .field("rate_limit", &self.rate_limit)
            .field("faults", &self.faults)
            .field("extra_models", &self.extra_models.len())
            .field("max_body_bytes", &self.max_body_bytes)
            .field("siwx_policy", &self.siwx_policy)
            .field("payment_policy", &self.payment_policy)
            .field("bench_image_bytes", &self.bench_image_bytes)
            .field("siwx_verifier", &self.siwx_verifier.is_some())
            .field("payment_verifier", &self.payment_verifier.is_some())
            .finish()
    }
}

/// Errors of starting or configuring the mock.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// Binding or accepting on the socket failed.
    #[error("mock server I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration is invalid.
    #[error("invalid mock configuration: {0}")]
    Config(String),
}

/// Serde helper: a [`Duration`] as a number of seconds (fractions allowed).
pub mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as seconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    /// Deserializes from seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// Serde helper: a [`Duration`] as a number of milliseconds.
pub mod duration_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as milliseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Deserializes from milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
