//! Spec-faithful, embeddable Venice.ai image API server for offline use and contract tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), venice_mock::MockError> {
//! use venice_mock::{DEFAULT_API_KEY, MockConfig, MockServer};
//!
//! let server = MockServer::start(MockConfig::default()).await?;
//! let url = format!("{}/image/generate", server.base_url());
//! // POST {"model":"venice-sd35","prompt":"a cat","width":256,"height":256}
//! // with `Authorization: Bearer venice-mock-key`, then inspect `server.requests()`.
//! # let _ = (url, DEFAULT_API_KEY);
//! # Ok(()) }
//! ```
//!
//! # Behaviour
//!
//! * Serves every operation of `openapi/venice-image.yaml` under `/api/v1`; request
//!   bodies are validated against the spec's own schemas ([`spec`]), giving 400 in the
//!   provider's validation shape; wrong `Content-Type` → 415, malformed JSON → 400,
//!   oversized body → 413, unknown path → JSON 404, wrong method → JSON 405.
//! * Auth: `Authorization: Bearer <key>` ([`DEFAULT_API_KEY`] by default) or
//!   `SIGN-IN-WITH-X` through a pluggable [`SiwxVerifier`]. `/models` needs none,
//!   `/image/styles` accepts none.
//! * Images are real and deterministic for (model, prompt, seed, variant) at the exact
//!   size in the requested format (webp default). EXIF (`ImageDescription` = prompt) is
//!   embedded with `embed_exif_metadata`.
//! * Deterministic content triggers: the word `nsfw` with safe mode on (the default) →
//!   `x-venice-is-blurred: true`; the text `forbidden-content` →
//!   `x-venice-is-content-violation: true`. `enhance_prompt` → `x-venice-enhanced-prompt`
//!   (URL-encoded prompt + `, highly detailed`).
//! * Rate limiting per key ([`RateLimitConfig`]), faults on demand ([`Fault`],
//!   [`FaultMix`]), an in-memory balance ledger (API key and x402 wallets).
//!
//! The catalogue and the sizing table (tier → pixels) are documented in [`catalog`].

mod auth;
pub mod catalog;
mod config;
mod faults;
mod fuzzing;
mod handlers;
pub mod images;
mod log;
mod ratelimit;
mod response;
mod routes;
mod server;
pub mod spec;
mod state;

pub use auth::Principal;
pub use catalog::{Catalog, CatalogModel, Constraints, Deprecation, ModelKind, Price, Pricing};
pub use config::{
    DEFAULT_API_KEY, DEFAULT_MAX_BODY_BYTES, MockConfig, MockError, PaymentVerifier,
    RateLimitConfig, SiwxVerifier, VerifiedPayment, WalletIdentity, duration_millis, duration_secs,
};
pub use faults::{Fault, FaultMix, FaultPlan};
#[doc(hidden)]
pub use fuzzing::__fuzz;
pub use handlers::{BACKGROUND_REMOVE_USD, STYLES};
pub use log::{REDACTED, REDACTED_HEADERS, RecordedRequest};
pub use server::MockServer;
