//! The provider's limits that the request builders check before anything is sent, and
//! the client's size defaults: one place to read them, one name each.
//!
//! Sizes are the provider's documented "MB", read as SI megabytes (10^6 bytes): the
//! documentation (`venice-image-edit`, `venice-errors`) says "< 25 MB" and "over 35 MB"
//! and never MiB, and the decimal reading is the stricter one, so nothing this client
//! lets through is refused for its size. Prompt lengths are outer bounds: each model's
//! `promptCharacterLimit` in the catalogue is the real limit, checked before sending.
//!
//! A limit the spec states (a `maximum`, a `maxLength`…) is defined from the
//! generated [`venice_openapi::bounds`], so a spec change reaches it by regeneration;
//! the others (sizes, pixel counts) are the provider's documented figures.
//!
//! ```
//! use venice_image::limits;
//!
//! let prompt = "a lighthouse at dusk";
//! assert!(prompt.chars().count() <= limits::MAX_PROMPT_CHARS);
//! assert_eq!(limits::MAX_INPUT_IMAGE_BYTES, 25_000_000);
//! assert_eq!(limits::MAX_JSON_BODY_BYTES, 35_000_000);
//! ```

use venice_openapi::bounds;
use venice_openapi::types::EditAspectRatio;

/// `bound` as a `u8`; a spec bound that does not fit fails the build (these are
/// evaluated in constants).
const fn fit_u8(bound: i64) -> u8 {
    assert!(
        bound >= 0 && bound <= u8::MAX as i64,
        "spec bound out of range"
    );
    bound as u8
}

/// `bound` as a `u32`; a spec bound that does not fit fails the build.
const fn fit_u32(bound: i64) -> u32 {
    assert!(
        bound >= 0 && bound <= u32::MAX as i64,
        "spec bound out of range"
    );
    bound as u32
}

/// Longest prompt and negative prompt of `POST /image/generate` (characters): the
/// provider's ceiling. Each model allows its `promptCharacterLimit` (1,500 to 32,768
/// today), checked against the catalogue before sending.
pub const MAX_PROMPT_CHARS: usize = bounds::GENERATE_IMAGE_REQUEST_PROMPT_MAX_LENGTH;
const _: () = assert!(
    bounds::GENERATE_IMAGE_REQUEST_PROMPT_MAX_LENGTH
        == bounds::GENERATE_IMAGE_REQUEST_NEGATIVE_PROMPT_MAX_LENGTH
);
/// Longest prompt of an edit or multi-edit (characters); each model may allow fewer
/// (`promptCharacterLimit` of `GET /models?type=inpaint`, e.g. 1,500 for
/// `firered-image-edit`).
pub const MAX_EDIT_PROMPT_CHARS: usize = bounds::EDIT_IMAGE_REQUEST_PROMPT_MAX_LENGTH;
const _: () = assert!(
    bounds::EDIT_IMAGE_REQUEST_PROMPT_MAX_LENGTH
        == bounds::MULTI_EDIT_IMAGE_REQUEST_PROMPT_MAX_LENGTH
);
/// Longest prompt of the OpenAI-compatible `POST /images/generations` (characters),
/// whatever the model.
pub const MAX_OPENAI_PROMPT_CHARS: usize = bounds::SIMPLE_GENERATE_IMAGE_REQUEST_PROMPT_MAX_LENGTH;

/// Largest width or height of a pixel-sized generation.
pub const MAX_PIXEL_SIDE: u32 = fit_u32(bounds::GENERATE_IMAGE_REQUEST_WIDTH_MAX);
// One constant stands for both sides: the build fails if the spec's differ.
const _: () =
    assert!(bounds::GENERATE_IMAGE_REQUEST_WIDTH_MAX == bounds::GENERATE_IMAGE_REQUEST_HEIGHT_MAX);
/// Most images one generation returns (`variants`).
pub const MAX_VARIANTS: u8 = fit_u8(bounds::GENERATE_IMAGE_REQUEST_VARIANTS_MAX);
/// Largest absolute seed.
pub const MAX_SEED: i64 = bounds::GENERATE_IMAGE_REQUEST_SEED_MAX;
/// Largest CFG scale (the scale must be above 0).
pub const MAX_CFG_SCALE: f64 = bounds::GENERATE_IMAGE_REQUEST_CFG_SCALE_MAX;
/// Largest LoRA strength.
pub const MAX_LORA_STRENGTH: u8 = fit_u8(bounds::GENERATE_IMAGE_REQUEST_LORA_STRENGTH_MAX);

/// Largest decoded style-reference image (bytes): the provider's "< 8 MB".
pub const MAX_STYLE_REFERENCE_BYTES: usize = 8_000_000;
/// Smallest style-reference strength.
pub const MIN_STYLE_REFERENCE_STRENGTH: f64 = bounds::STYLE_REFERENCE_STRENGTH_MIN;
/// Largest style-reference strength.
pub const MAX_STYLE_REFERENCE_STRENGTH: f64 = bounds::STYLE_REFERENCE_STRENGTH_MAX;

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
/// The aspect ratios an edit or multi-edit can produce (besides `auto`): the spec's
/// `EditAspectRatio` values, in its order.
pub const EDIT_ASPECT_RATIOS: [&str; EditAspectRatio::ALL.len() - 1] = edit_ratios();

/// [`EDIT_ASPECT_RATIOS`] from the generated enum, `auto` left out.
const fn edit_ratios() -> [&'static str; EditAspectRatio::ALL.len() - 1] {
    let mut out = [""; EditAspectRatio::ALL.len() - 1];
    let (mut from, mut to) = (0, 0);
    while from < EditAspectRatio::ALL.len() {
        let ratio = &EditAspectRatio::ALL[from];
        if !matches!(ratio, EditAspectRatio::Auto) {
            out[to] = ratio.as_str();
            to += 1;
        }
        from += 1;
    }
    out
}

/// Smallest upscale factor.
pub const MIN_UPSCALE_SCALE: f64 = bounds::UPSCALE_IMAGE_REQUEST_SCALE_MIN;
/// Largest upscale factor.
pub const MAX_UPSCALE_SCALE: f64 = bounds::UPSCALE_IMAGE_REQUEST_SCALE_MAX;
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
