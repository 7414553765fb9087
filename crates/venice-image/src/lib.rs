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
//! decoding (always on).

mod auth;
mod client;
mod decode;
mod error;
mod fuzzing;
mod generate;
mod image;
mod meta;
mod models;
mod retry;
mod sizing;

pub use venice_openapi as raw;

pub use auth::Auth;
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL};
pub use decode::Timing;
pub use error::{ApiError, Error, ErrorCode, PaymentRequired, Result};
#[doc(hidden)]
pub use fuzzing::__fuzz;
pub use generate::{
    GenerateRequest, GenerateRequestBuilder, MAX_PROMPT_CHARS, MAX_SEED, MAX_STYLE_REFERENCE_BYTES,
    StyleReference, ValidationError,
};
pub use image::{BinaryImage, Format, GeneratedImage, Generation, sniff_dimensions};
pub use meta::{Deprecation, RateLimit, ResponseMeta};
pub use models::{
    Cost, ImageModel, ModelConstraints, ModelDeprecation, ModelPricing, Price, SizingMode,
};
pub use retry::RetryPolicy;
pub use sizing::{AspectRatio, Quality, Resolution, Size};
pub use venice_openapi::RequestAuth;
