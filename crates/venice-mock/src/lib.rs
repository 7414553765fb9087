//! Spec-faithful, embeddable Venice.ai image API server for offline use and contract tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), venice_mock::MockError> {
//! use venice_mock::{DEFAULT_API_KEY, MockConfig, MockServer};
//!
//! let server = MockServer::start(MockConfig::default()).await?;
//! let url = format!("{}/image/generate", server.base_url());
//! // POST {"model":"venice-sd35","prompt":"a cat","width":256,"height":256}
//! // (any model of the provider's catalogue works: GET /models?type=image lists them)
//! // with `Authorization: Bearer venice-mock-key`, then inspect `server.requests()`.
//! # let _ = (url, DEFAULT_API_KEY);
//! # Ok(()) }
//! ```
//!
//! # Behaviour
//!
//! * Serves every operation of `openapi/venice-image.yaml` under `/api/v1`, routed by
//!   the `operationId` the spec matches ([`spec::match_operation`]); request bodies
//!   (JSON, and `multipart/form-data` where the spec lists it) are validated against
//!   the spec's own schemas ([`spec`]), giving 400 in the provider's validation shape;
//!   wrong `Content-Type` → 415, malformed JSON or multipart → 400, oversized body →
//!   413 once the upload has been read, unknown path → JSON 404, wrong method → JSON
//!   405. A body the request was refused before reading is read to its end first, so a
//!   client still uploading sees the answer, not a reset connection.
//! * Auth, per the operation's `security` in the spec: `Authorization: Bearer <key>`
//!   ([`DEFAULT_API_KEY`] by default) or `SIGN-IN-WITH-X` through a pluggable
//!   [`SiwxVerifier`], by default the real [`DefaultSiwxVerifier`] (EIP-4361 / SIWS
//!   messages, EIP-191 recovery or Ed25519, domain/chain/lifetime policy in
//!   [`SiwxPolicy`], nonces burned). `/models` and `/image/styles` accept anonymous
//!   requests (a wrong key is still a 401).
//! * x402: wallet credit debited by the model price (`X-Balance-Remaining`), 402 with
//!   `accepts`/`PAYMENT-REQUIRED` (a Base and a Solana USDC entry), and top-ups verified
//!   by [`DefaultPaymentVerifier`] (EIP-712 `TransferWithAuthorization` recovery, payee,
//!   asset, amount, window) or, for a Solana `accepted.network`, by
//!   [`svm::SvmPaymentVerifier`] (its own decoding of the v0 transaction: fee payer, the
//!   four instructions, mint, amount, token accounts, Ed25519 signature, a blockhash the
//!   mock issued, no replay; a rejection's slug is in the 400's `details.reason`).
//! * The crypto RPC proxy for `solana-mainnet` (`getLatestBlockhash` from the blockhash
//!   store the Solana verifier trusts, `getAccountInfo` of the USDC mint), billed per
//!   credit as the provider bills it (`X-Venice-RPC-Credits`, `X-Venice-RPC-Cost-USD`, a
//!   wallet's credit debited, `Idempotency-Key` replays); see the `crypto_rpc` module.
//! * Images are real and deterministic for (model, prompt, seed, variant) at the exact
//!   size in the requested format (webp default). EXIF (`ImageDescription` = prompt) is
//!   embedded with `embed_exif_metadata`.
//! * Deterministic content triggers: the word `nsfw` with safe mode on (the default) →
//!   `x-venice-is-blurred: true`; the text `forbidden-content` →
//!   `x-venice-is-content-violation: true`. `enhance_prompt` → `x-venice-enhanced-prompt`
//!   (URL-encoded prompt + `, highly detailed`).
//! * Image operations do real image processing: upscale resizes to exactly `scale` ×
//!   each side (lowered to stay within 16,777,216 pixels); edit and multi-edit apply a
//!   deterministic transform of (input, prompt), cropped to `aspect_ratio`, in the
//!   requested `output_format`; background removal answers an RGBA PNG. Input images are
//!   checked like the provider does: over 25 MB → 413 `IMAGE_TOO_LARGE`, fewer than
//!   65,536 pixels → 400 `IMAGE_TOO_SMALL`, more than the operation's maximum (read from
//!   the header, before decoding) → 400 `IMAGE_TOO_LARGE`, undecodable → 400
//!   `CORRUPTED_IMAGE`; nothing is charged for a refused input.
//! * Rate limiting per key ([`RateLimitConfig`]) and, for inference, per key and model
//!   ([`ModelRateLimits`]: requests per window, per UTC day); `GET /api_keys/rate_limits`
//!   advertises exactly the limits enforced and `GET /billing/balance` the account's
//!   balances ([`AccountConfig`]; DIEM is spent before USD). Faults on demand ([`Fault`],
//!   [`FaultMix`]), an in-memory balance ledger (API key and x402 wallets).
//!
//! The catalogue and the sizing table (tier → pixels) are documented in [`catalog`].
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
/// Benchmark payload mode: test/bench internals behind the private `__internal` feature,
/// not part of the API.
#[cfg(feature = "__internal")]
#[doc(hidden)]
pub mod bench;
#[cfg(not(feature = "__internal"))]
#[path = "bench_off.rs"]
mod bench;
mod body;
pub mod cassette;
pub mod catalog;
pub mod check;
mod config;
pub mod contract;
mod crypto_rpc;
mod error_budget;
mod faults;
pub mod fixtures;
mod form;
#[cfg(feature = "__internal")]
mod fuzzing;
mod handlers;
pub mod images;
mod label;
mod listen;
mod log;
pub mod matching;
mod ratelimit;
#[cfg(feature = "record")]
#[cfg_attr(docsrs, doc(cfg(feature = "record")))]
pub mod record;
pub mod replay;
mod response;
mod route_limits;
mod router;
pub mod scrub;
mod serde_duration;
mod server;
mod shapes;
pub mod shrink;
pub mod spec;
mod state;
pub mod svm;
pub mod timeshift;
mod wallet_inflight;
pub mod x402;

pub use auth::Principal;
pub use catalog::{Catalog, CatalogModel, Constraints, Deprecation, ModelKind, Price, Pricing};
pub use config::{
    AccountConfig, DEFAULT_API_KEY, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_UPLOAD_FILE_BYTES,
    ErrorBudgetConfig, MockConfig, MockError, ModelRateLimits, RateLimitConfig, RouteLimits,
};
pub use contract::{ContractReport, Violation};
pub use faults::{Fault, FaultMix, FaultPlan, TopUpFault};
#[cfg(feature = "__internal")]
#[doc(hidden)]
pub use fuzzing::__fuzz;
pub use handlers::{BACKGROUND_REMOVE_USD, STYLES};
pub use log::{REDACTED, REDACTED_HEADERS, RecordedRequest};
pub use serde_duration::{millis as duration_millis, secs as duration_secs};
pub use server::{LimitStats, MockServer};
pub use x402::{
    DefaultPaymentVerifier, DefaultSiwxVerifier, PaymentPolicy, PaymentVerifier, SiwxPolicy,
    SiwxVerifier, VerifiedPayment, WalletIdentity,
};

/// The README's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
