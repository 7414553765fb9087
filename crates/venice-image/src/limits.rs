//! The provider's limits that the request builders check before anything is sent, and
//! the client's size defaults: one place to read them, one name each.
//!
//! Sizes are the provider's documented "MB", read as SI megabytes (10^6 bytes): the
//! documentation (`venice-image-edit`, `venice-errors`) says "< 25 MB" and "over 35 MB"
//! and never MiB, and the decimal reading is the stricter one, so nothing this client
//! lets through is refused for its size. Prompt lengths are outer bounds: each model's
//! `promptCharacterLimit` in the catalogue is the real limit, checked before sending.
//!
//! ```
//! use venice_image::limits;
//!
//! let prompt = "a lighthouse at dusk";
//! assert!(prompt.chars().count() <= limits::MAX_PROMPT_CHARS);
//! assert_eq!(limits::MAX_INPUT_IMAGE_BYTES, 25_000_000);
//! assert_eq!(limits::MAX_JSON_BODY_BYTES, 35_000_000);
//! ```

/// Longest prompt and negative prompt of `POST /image/generate` (characters): the
/// provider's ceiling. Each model allows its `promptCharacterLimit` (1,500 to 32,768
/// today), checked against the catalogue before sending.
pub const MAX_PROMPT_CHARS: usize = 32_768;
/// Longest prompt of an edit or multi-edit (characters); each model may allow fewer
/// (`promptCharacterLimit` of `GET /models?type=inpaint`, e.g. 1,500 for
/// `firered-image-edit`).
pub const MAX_EDIT_PROMPT_CHARS: usize = 32_768;
/// Longest prompt of the OpenAI-compatible `POST /images/generations` (characters),
/// whatever the model.
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

/// Largest decoded style-reference image (bytes): the provider's "< 8 MB".
pub const MAX_STYLE_REFERENCE_BYTES: usize = 8_000_000;
/// Smallest style-reference strength.
pub const MIN_STYLE_REFERENCE_STRENGTH: f64 = 0.1;
/// Largest style-reference strength.
pub const MAX_STYLE_REFERENCE_STRENGTH: f64 = 1.0;

/// Largest input image of upscale, edit, multi-edit and background removal, in bytes:
/// the provider's "< 25 MB" (its 413 says "File exceeds the maximum allowed size of 25
/// MB"). Files are sent as `multipart/form-data` parts, so they are not inflated by
/// base64.
pub const MAX_INPUT_IMAGE_BYTES: u64 = 25_000_000;
/// Largest JSON request body the provider accepts (35 MB; 413 above). The client
/// refuses a larger body before sending (URLs and base64 given by the caller still go
/// as JSON; files go as multipart).
pub const MAX_JSON_BODY_BYTES: u64 = venice_openapi::MAX_JSON_BODY_BYTES;
/// Most files of one `multipart/form-data` body (the provider's transport limit).
pub const MAX_FORM_FILES: usize = 10;
/// Most input images of a multi-edit when the catalogue gives the model no
/// `maxInputImages` (and `combineImages` is not false).
pub const DEFAULT_MAX_INPUT_IMAGES: u32 = 3;
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
