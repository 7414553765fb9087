//! The provider's limits that the request builders check before anything is sent, and
//! the client's size defaults: one place to read them, one name each.
//!
//! ```
//! use venice_image::limits;
//!
//! let prompt = "a lighthouse at dusk";
//! assert!(prompt.chars().count() <= limits::MAX_PROMPT_CHARS);
//! assert_eq!(limits::MAX_INPUT_IMAGE_BYTES, 25 * 1024 * 1024);
//! ```

/// Longest prompt and negative prompt of `POST /image/generate` (characters); each model
/// may allow fewer (`promptCharacterLimit` in the catalogue).
pub const MAX_PROMPT_CHARS: usize = 7500;
/// Longest prompt of an edit or multi-edit (characters); each model may allow fewer.
pub const MAX_EDIT_PROMPT_CHARS: usize = 32_768;
/// Longest prompt of the OpenAI-compatible `POST /images/generations` (characters).
pub const MAX_OPENAI_PROMPT_CHARS: usize = 1500;

/// Largest width or height of a pixel-sized generation.
pub const MAX_PIXEL_SIDE: u32 = 1280;
/// Most images one generation returns (`variants`).
pub const MAX_VARIANTS: u8 = 4;
/// Largest absolute seed.
pub const MAX_SEED: i64 = 999_999_999;
/// Largest CFG scale (the scale must be above 0).
pub const MAX_CFG_SCALE: f64 = 20.0;
/// Largest LoRA strength.
pub const MAX_LORA_STRENGTH: u8 = 100;

/// Largest decoded style-reference image (bytes).
pub const MAX_STYLE_REFERENCE_BYTES: usize = 8 * 1024 * 1024;
/// Smallest style-reference strength.
pub const MIN_STYLE_REFERENCE_STRENGTH: f64 = 0.1;
/// Largest style-reference strength.
pub const MAX_STYLE_REFERENCE_STRENGTH: f64 = 1.0;

/// Largest input image of upscale, edit, multi-edit and background removal, in bytes
/// (upstream: "less than 25MB").
pub const MAX_INPUT_IMAGE_BYTES: u64 = 25 * 1024 * 1024;
/// Fewest pixels (width × height) of an image to upscale, edit or multi-edit.
pub const MIN_INPUT_PIXELS: u64 = 65_536;
/// Most pixels (width × height) of an image to edit or multi-edit.
pub const MAX_EDIT_INPUT_PIXELS: u64 = 33_177_600;
/// The aspect ratios an edit or multi-edit can produce (besides `auto`).
pub const EDIT_ASPECT_RATIOS: [&str; 8] =
    ["1:1", "3:2", "16:9", "21:9", "9:16", "2:3", "3:4", "4:5"];

/// Smallest upscale factor.
pub const MIN_UPSCALE_SCALE: f64 = 2.0;
/// Largest upscale factor.
pub const MAX_UPSCALE_SCALE: f64 = 4.0;
/// Largest upscale `creativity`; the server clamps larger values to it.
pub const MAX_UPSCALE_CREATIVITY: f64 = 0.02;
/// Most pixels of an upscaled image; the server lowers the scale to stay within it.
pub const MAX_UPSCALE_OUTPUT_PIXELS: u64 = 16_777_216;

/// Most bytes of an error body an [`ApiError`](crate::ApiError) keeps
/// ([`ApiError::body_excerpt`](crate::ApiError::body_excerpt)): 64 KiB, as many as the
/// client reads of an error body, so a page or message of ordinary size is kept whole.
pub const MAX_ERROR_BODY_EXCERPT: usize = venice_openapi::MAX_ERROR_BODY;

/// Default of [`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes):
/// 1 GiB, counted after decompression. Four 16 MP PNGs of pure noise are about 200 MB,
/// 270 MB as base64 JSON; real responses are far smaller.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = venice_openapi::DEFAULT_MAX_RESPONSE_BYTES;
