//! Server configuration: accounts, limits, faults, extra models and pluggable verifiers.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogModel};
use crate::faults::FaultPlan;
use crate::svm::{RecentBlockhashes, SvmPaymentPolicy};
use crate::x402::{PaymentPolicy, PaymentVerifier, SiwxPolicy, SiwxVerifier};

/// The Bearer API key accepted by [`MockConfig::default`].
pub const DEFAULT_API_KEY: &str = "venice-mock-key";

/// Default largest accepted JSON request body: the provider's 35 MB (413 above).
pub const DEFAULT_MAX_BODY_BYTES: usize = 35_000_000;
/// Default largest file of a `multipart/form-data` body: the provider's 25 MB (413 above).
pub const DEFAULT_MAX_UPLOAD_FILE_BYTES: usize = 25_000_000;

/// A fixed-window rate limit applied per API key (or wallet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitConfig {
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length (in JSON: seconds as a number).
    #[serde(with = "crate::serde_duration::secs")]
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

/// The provider's error budget: more than [`failures`](Self::failures) failed requests
/// (any 4xx but 429) in [`window`](Self::window) per bucket (API key, or the caller's IP
/// for wallets; model; OpenAI `user`) lock that bucket for a window: every request in it
/// is answered 429 "Too many failed attempts (> 50) …". The provider's numbers are 50 per
/// 30 s ([`ErrorBudgetConfig::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBudgetConfig {
    /// Failed requests a bucket may have per window; one more locks it.
    pub failures: u32,
    /// Window length, and how long a lockout lasts (in JSON: seconds as a number).
    #[serde(with = "crate::serde_duration::secs")]
    pub window: Duration,
}

impl Default for ErrorBudgetConfig {
    fn default() -> Self {
        Self {
            failures: 50,
            window: Duration::from_secs(30),
        }
    }
}

/// The provider's per-route limiters, which answer 429 without rate-limit headers
/// (`{"error": "Rate limit exceeded. Please try again later."}`), except the crypto RPC
/// proxy's per-minute cap, whose 429 carries `X-RateLimit-Limit`, `-Remaining` and
/// `-Reset` (Unix seconds). `None` turns one off; [`RouteLimits::none`] turns all off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteLimits {
    /// `POST /x402/top-up`, per IP (the provider's: 10 per minute).
    pub top_up: Option<RateLimitConfig>,
    /// `GET /x402/balance/{wallet}`, per wallet (30 per minute).
    pub balance: Option<RateLimitConfig>,
    /// `GET /x402/transactions/{wallet}`, per wallet (20 per minute).
    pub transactions: Option<RateLimitConfig>,
    /// `POST /crypto/rpc/{network}`, per API key or wallet (100 per minute).
    pub crypto_rpc: Option<RateLimitConfig>,
}

impl RouteLimits {
    /// No per-route limiter at all.
    pub fn none() -> Self {
        Self {
            top_up: None,
            balance: None,
            transactions: None,
            crypto_rpc: None,
        }
    }
}

impl Default for RouteLimits {
    fn default() -> Self {
        let per_minute = |requests| {
            Some(RateLimitConfig {
                requests,
                window: Duration::from_secs(60),
            })
        };
        Self {
            top_up: per_minute(10),
            balance: per_minute(30),
            transactions: per_minute(20),
            crypto_rpc: per_minute(100),
        }
    }
}

/// Per-model request limits of the inference operations (generate, OpenAI generations,
/// edit, multi-edit, upscale, background removal), counted per API key (or wallet) and
/// model, and advertised by `GET /api_keys/rate_limits` exactly as enforced.
///
/// The provider's window is a minute (`RPM`); here it is [`window`](Self::window), so tests
/// can scale it down (e.g. 10 requests per 2 s): the advertised `RPM` amount is then
/// "requests per window". Windows are aligned to the Unix epoch, like the key-wide
/// limiter's. `RPD` counts per UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRateLimits {
    /// Requests per window and model (advertised as `RPM`).
    pub requests: u32,
    /// Window length (in JSON: seconds as a number); the provider's is 60 s.
    #[serde(with = "crate::serde_duration::secs")]
    pub window: Duration,
    /// Requests per UTC day and model (advertised as `RPD`); `None`: no daily limit.
    #[serde(default)]
    pub per_day: Option<u32>,
    /// Models whose requests per window differ from [`requests`](Self::requests).
    #[serde(default)]
    pub overrides: BTreeMap<String, u32>,
}

impl ModelRateLimits {
    /// `requests` per `window` for every model, no daily limit.
    pub fn new(requests: u32, window: Duration) -> Self {
        Self {
            requests,
            window,
            per_day: None,
            overrides: BTreeMap::new(),
        }
    }

    /// Requests per window of `model`.
    pub fn requests_of(&self, model: &str) -> u32 {
        self.overrides.get(model).copied().unwrap_or(self.requests)
    }
}

/// The account behind the API keys: what `GET /billing/balance` and `GET
/// /api_keys/rate_limits` report (the USD balance is [`MockConfig::api_key_balance`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountConfig {
    /// API tier id (`paid`).
    pub tier: String,
    /// DIEM left in the current epoch; `None`: not staking. Paid requests spend DIEM
    /// first when it covers the price, then USD.
    pub diem_balance: Option<f64>,
    /// DIEM allocated per epoch.
    pub diem_epoch_allocation: f64,
    /// When the key expires (as the provider writes it); `None`: never.
    pub key_expiration: Option<String>,
    /// Per-model limits of the inference operations; `None`: none beyond the key-wide
    /// [`MockConfig::rate_limit`], which is then what every model advertises.
    pub model_rate_limits: Option<ModelRateLimits>,
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            tier: "paid".to_owned(),
            diem_balance: None,
            diem_epoch_allocation: 0.0,
            key_expiration: None,
            model_rate_limits: None,
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
    /// USD balance shared by API-key accounts; `None` means unlimited (reported as `null`
    /// by `GET /billing/balance`).
    pub api_key_balance: Option<f64>,
    /// Tier, DIEM and per-model rate limits of the API keys' account.
    pub account: AccountConfig,
    /// Initial USD credit of wallets (address → balance), for SIWX-authenticated calls.
    pub wallet_balances: HashMap<String, f64>,
    /// DIEM-linked wallets (address → DIEM in USD): EVM wallets linked to an account
    /// with staked DIEM, which the provider spends first. Their paid calls take DIEM
    /// only; once it does not cover a price they get the wallet 402, which no top-up
    /// fixes, and `GET /x402/balance` shows `diemBalanceUsd` (CLI: `--diem-wallet`).
    pub diem_wallets: HashMap<String, f64>,
    /// Key-wide rate limit of every request; `None` disables it (headers are still
    /// sent). Inference requests also count against
    /// [`AccountConfig::model_rate_limits`] when set.
    pub rate_limit: Option<RateLimitConfig>,
    /// Faults to inject into paid requests.
    pub faults: FaultPlan,
    /// The error budget (the provider's 50 failures per 30 s per bucket); `None` turns it
    /// off (fuzzers and `cargo xtask conformance`, which send thousands of failing
    /// requests on purpose).
    pub error_budget: Option<ErrorBudgetConfig>,
    /// Requests one wallet may have in flight on the inference and RPC routes (the
    /// provider's 5); one more is answered 429 `X402_CONCURRENCY_LIMIT`. `None`: no cap.
    pub wallet_max_in_flight: Option<usize>,
    /// The per-route limiters of the x402 and crypto RPC routes.
    pub route_limits: RouteLimits,
    /// The catalogue to serve instead of the built-in one: a `/models` response
    /// captured from the real API (JSON: that response, e.g. from
    /// `GET /models?type=all`), so tests run against exactly the models an account
    /// sees. `None` serves the provider's published catalogue (see [`crate::catalog`]).
    pub catalogue: Option<Catalog>,
    /// Models added to the catalogue (same id replaces a model).
    pub extra_models: Vec<CatalogModel>,
    /// Largest accepted JSON request body in bytes (413 above; the provider's 35 MB).
    pub max_body_bytes: usize,
    /// Largest file of a `multipart/form-data` body in bytes (413 above; the provider's
    /// 25 MB). A form is read up to 10 such files plus
    /// [`max_body_bytes`](Self::max_body_bytes) of fields.
    pub max_upload_file_bytes: usize,
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
    /// The Solana top-up the mock offers and verifies (mint, payTo, fee payer, minimum);
    /// also the mint `POST /crypto/rpc/solana-mainnet` serves. Solana payments go to
    /// [`crate::svm::SvmPaymentVerifier`] with this policy, whatever
    /// [`payment_verifier`](Self::payment_verifier) is.
    pub svm_payment_policy: SvmPaymentPolicy,
    /// Verifier of `SIGN-IN-WITH-X` headers; `None` uses
    /// [`crate::x402::DefaultSiwxVerifier`] with [`siwx_policy`](Self::siwx_policy).
    #[serde(skip)]
    pub siwx_verifier: Option<Arc<dyn SiwxVerifier>>,
    /// Verifier of x402 payments for `/x402/top-up`; `None` uses
    /// [`crate::x402::DefaultPaymentVerifier`] with
    /// [`payment_policy`](Self::payment_policy).
    #[serde(skip)]
    pub payment_verifier: Option<Arc<dyn PaymentVerifier>>,
    /// The blockhashes the Solana RPC route issues and the Solana verifier accepts (one
    /// store shared by both); `None` makes a fresh [`RecentBlockhashes`]. Give one to
    /// insert fixed blockhashes, e.g. to submit known-answer transactions.
    #[serde(skip)]
    pub solana_blockhashes: Option<Arc<RecentBlockhashes>>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            api_keys: vec![DEFAULT_API_KEY.to_owned()],
            api_key_balance: None,
            account: AccountConfig::default(),
            wallet_balances: HashMap::new(),
            diem_wallets: HashMap::new(),
            rate_limit: Some(RateLimitConfig::default()),
            faults: FaultPlan::default(),
            error_budget: Some(ErrorBudgetConfig::default()),
            wallet_max_in_flight: Some(5),
            route_limits: RouteLimits::default(),
            catalogue: None,
            extra_models: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_upload_file_bytes: DEFAULT_MAX_UPLOAD_FILE_BYTES,
            siwx_policy: SiwxPolicy::default(),
            payment_policy: PaymentPolicy::default(),
            svm_payment_policy: SvmPaymentPolicy::default(),
            bench_image_bytes: None,
            siwx_verifier: None,
            payment_verifier: None,
            solana_blockhashes: None,
        }
    }
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockConfig")
            .field("api_keys", &self.api_keys.len())
            .field("api_key_balance", &self.api_key_balance)
            .field("account", &self.account)
            .field("wallet_balances", &self.wallet_balances)
            .field("diem_wallets", &self.diem_wallets)
            .field("rate_limit", &self.rate_limit)
            .field("faults", &self.faults)
            .field("error_budget", &self.error_budget)
            .field("wallet_max_in_flight", &self.wallet_max_in_flight)
            .field("route_limits", &self.route_limits)
            .field(
                "catalogue",
                &self.catalogue.as_ref().map(|c| c.models().len()),
            )
            .field("extra_models", &self.extra_models.len())
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_upload_file_bytes", &self.max_upload_file_bytes)
            .field("siwx_policy", &self.siwx_policy)
            .field("payment_policy", &self.payment_policy)
            .field("svm_payment_policy", &self.svm_payment_policy)
            .field("bench_image_bytes", &self.bench_image_bytes)
            .field("siwx_verifier", &self.siwx_verifier.is_some())
            .field("payment_verifier", &self.payment_verifier.is_some())
            .field("solana_blockhashes", &self.solana_blockhashes.is_some())
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
