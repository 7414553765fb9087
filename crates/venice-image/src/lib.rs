//! Ergonomic, typed client for the Venice.ai image API.
//!
//! Built on the generated low-level client [`venice_openapi`] (re-exported as
//! [`raw`]): this crate adds typed requests with validation, per-request auth,
//! retries that never repeat a charged request by default, one response decoder and
//! image saving.
//!
//! ```no_run
//! use venice_image::{AspectRatio, Client, GenerateRequest, Resolution, Size};
//!
//! # async fn run() -> venice_image::Result<()> {
//! let client = Client::from_env()?;
//! let req = GenerateRequest::builder("nano-banana-pro", "a watercolor harbor")
//!     .size(Size::Tiered { aspect_ratio: AspectRatio::new(16, 9)?, resolution: Resolution::TwoK })
//!     .build()?;
//! let generation = client.generate(&req).await?;
//! generation.save_all(".")?;
//! # Ok(())
//! # }
//! ```
//!
//! Features: TLS via rustls with the ring provider, gzip and brotli response
//! decoding (always on); `wallet`: x402 wallet auth (Sign-In-With-X for EVM and
//! Solana keys, in memory or behind your own signer; top-ups in USDC on Base or Solana,
//! auto top-up) in the `wallet` module; `redis`: rate-limit
//! pacing shared by many processes through Redis ([`pacing::Pacer::with_redis`]).

mod account;
mod account_ops;
mod auth;
mod client;
mod decode;
mod env;
mod error;
mod fuzzing;
mod generate;
mod image;
mod meta;
mod models;
mod ops;
pub mod pacing;
mod payment;
mod retry;
mod sizing;
#[cfg(feature = "wallet")]
mod solana_rpc;
#[cfg(feature = "wallet")]
mod topup;
mod transport;
#[cfg(feature = "wallet")]
pub mod wallet;
#[cfg(feature = "wallet")]
mod wallet_ops;
mod wire;

pub use venice_openapi as raw;

pub use account::{AccountBalance, AccountLimits, ModelLimits};
pub use auth::Auth;
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL};
pub use decode::{DEFAULT_MAX_RESPONSE_BYTES, Timing};
pub use error::{
    ApiError, Error, ErrorCode, PaymentRequired, Result, TimeoutPhase, ValidationError,
};
#[doc(hidden)]
pub use fuzzing::__fuzz;
pub use generate::{
    GenerateRequest, GenerateRequestBuilder, MAX_PROMPT_CHARS, MAX_SEED, MAX_STYLE_REFERENCE_BYTES,
    StyleReference,
};
pub use image::{BinaryImage, Format, GeneratedImage, Generation, sniff_dimensions};
pub use meta::{Deprecation, RateLimit, ResponseMeta};
pub use models::{
    Cost, ImageModel, ModelConstraints, ModelDeprecation, ModelPricing, Price, SizingMode,
};
pub use ops::{
    EditAspectRatio, EditRequest, EditRequestBuilder, ImageInput, ImageOutput,
    MAX_EDIT_INPUT_PIXELS, MAX_EDIT_PROMPT_CHARS, MAX_INPUT_IMAGE_BYTES, MAX_OPENAI_PROMPT_CHARS,
    MAX_UPSCALE_CREATIVITY, MAX_UPSCALE_OUTPUT_PIXELS, MAX_UPSCALE_SCALE, MIN_INPUT_PIXELS,
    MIN_UPSCALE_SCALE, Moderation, MultiEditRequest, MultiEditRequestBuilder, OpenAiImageRequest,
    OpenAiImageRequestBuilder, OpenAiSize, RemoveBackgroundRequest, ResponseFormat, UpscaleRequest,
    UpscaleRequestBuilder,
};
pub use payment::{
    BASE_NETWORK, PaymentExtra, PaymentOption, PaymentRequiredKind, PaymentRequirements,
};
pub use retry::RetryPolicy;
pub use sizing::{AspectRatio, Quality, Resolution, Size};
pub use venice_openapi::{AuthContext, AuthError, RequestAuth, Scheme, async_trait};
#[cfg(feature = "wallet")]
pub use wallet::{
    AutoTopUp, EvmSigner, LocalEvmSigner, LocalSolanaSigner, SignerError, SiwxConfig, SolanaSigner,
    SvmError, TopUpReceipt, Wallet, WalletAuth, WalletBalance, WalletError, WalletTransaction,
    WalletTransactions,
};

/// Internals exposed for the Criterion benchmarks and the benchmark harness only: not
/// part of the API, no stability promise.
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
