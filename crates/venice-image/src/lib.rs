//! Ergonomic, typed client for the Venice.ai image API.
//!
//! Built on the generated low-level client [`venice_openapi`] (re-exported as
//! [`raw`]): this crate adds typed requests with validation, per-request auth,
//! retries that never repeat a charged request by default, one response decoder and
//! image saving that never overwrites.
//!
//! ```no_run
//! use venice_image::{Auth, Client, GenerateRequest, Size};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let (url, key) = ("https://api.venice.ai/api/v1", "your-api-key");
//! // Client::from_env() reads VENICE_API_KEY (and VENICE_BASE_URL); here the mock.
//! let client = Client::builder().base_url(url).auth(Auth::api_key(key)).build()?;
//! let request = GenerateRequest::builder("venice-sd35", "a watercolor harbor")
//!     .size(Size::Pixels { width: 512, height: 512 })
//!     .variants(2)
//!     .build()?;
//! let generation = client.generate(&request).await?;
//! assert_eq!(generation.images().len(), 2);
//! println!("request {:?}", generation.meta().request_id());
//! let dir = std::env::temp_dir().join("venice-image-doc");
//! for path in generation.save_all(&dir).await? {
//!     println!("saved {}", path.display());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The naming rules every operation follows (builders, results, saving, errors) are in
//! the crate's README, section "API conventions".
//!
//! Features: TLS via rustls with the ring provider, gzip and brotli response
//! decoding (always on); `wallet`: x402 wallet auth (Sign-In-With-X for EVM and
//! Solana keys, in memory or behind your own signer; top-ups in USDC on Base or Solana,
//! auto top-up) in the [`wallet`] module; `redis`: rate-limit pacing shared by many
//! processes through Redis ([`pacing::Pacer::with_redis`]).
#![cfg_attr(docsrs, feature(doc_cfg))]
// Links to items of features that are off point to the docs.rs page (all features), so
// the docs build without warnings with any set of features.
#![cfg_attr(
    not(feature = "wallet"),
    doc = "",
    doc = "[`wallet`]: https://docs.rs/venice-image/latest/venice_image/wallet/index.html"
)]
#![cfg_attr(
    not(feature = "redis"),
    doc = "",
    doc = "[`pacing::Pacer::with_redis`]: https://docs.rs/venice-image/latest/venice_image/pacing/struct.Pacer.html#method.with_redis"
)]

pub mod account;
mod account_ops;
mod auth;
mod bookkeeping;
mod client;
mod decode;
pub mod edit_models;
mod env;
mod error;
mod error_budget;
mod format;
#[cfg(feature = "__internal")]
mod fuzzing;
mod generate;
mod image;
pub mod inflight;
pub mod limits;
mod meta;
pub mod models;
mod ops;
pub mod pacing;
#[cfg(feature = "wallet")]
#[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
pub use venice_x402::payment;
mod rate_headers;
mod retry;
mod save;
mod sizing;
#[cfg(feature = "wallet")]
mod solana_rpc;
#[cfg(feature = "wallet")]
mod topup;
mod transport;
#[cfg(feature = "wallet")]
#[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
pub mod wallet;
#[cfg(feature = "wallet")]
mod wallet_ops;
mod wire;

pub use venice_openapi as raw;

pub use auth::Auth;
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL};
pub use decode::Timing;
pub use error::{
    ApiError, Error, ErrorCode, Lockout, PaymentRequired, PaymentRequiredKind, RateLimitKind,
    Result, TimeoutPhase, ValidationError,
};
pub use error_budget::LockoutPolicy;
pub use format::Format;
#[cfg(feature = "__internal")]
#[doc(hidden)]
pub use fuzzing::__fuzz;
pub use generate::{GenerateRequest, GenerateRequestBuilder, StyleReference};
pub use image::{Generation, Image, ImageStream};
pub use meta::{Deprecation, Response, ResponseMeta};
pub use ops::{
    EditAspectRatio, EditRequest, EditRequestBuilder, ImageInput, Moderation, MultiEditRequest,
    MultiEditRequestBuilder, OpenAiBackground, OpenAiGenerateRequest, OpenAiGenerateRequestBuilder,
    OpenAiQuality, OpenAiSize, OpenAiStyle, RemoveBackgroundRequest,
    RemoveBackgroundRequestBuilder, ResponseFormat, UpscaleRequest, UpscaleRequestBuilder,
};
pub use rate_headers::{ErrorBudget, RateLimit};
pub use retry::{RetryPolicy, RetryPolicyBuilder};
pub use save::IfExists;
pub use sizing::{AspectRatio, Quality, Resolution, Size};
pub use venice_openapi::{AuthContext, AuthError, RequestAuth, Scheme, async_trait};

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

/// Internals exposed for the Criterion benchmarks and the benchmark harness only
/// (private feature `__internal`): not part of the API, no stability promise.
#[cfg(feature = "__internal")]
#[doc(hidden)]
pub mod __bench {
    pub use crate::decode::{DecodedGeneration, GenerationDecoder};

    /// Decode a whole JSON generation body the way the client does.
    pub fn decode_generation(body: &[u8]) -> crate::Result<DecodedGeneration> {
        crate::decode::decode_generation(body)
    }

    /// The request body the client sends for `req`.
    pub fn request_body(req: &crate::GenerateRequest) -> crate::Result<Vec<u8>> {
        serde_json::to_vec(req.wire()).map_err(|e| crate::Error::decode("request JSON", e))
    }
}
