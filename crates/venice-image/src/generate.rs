//! The generate request: [`GenerateRequest`], its builder and [`StyleReference`].
//!
//! The request *is* the generated wire type (`venice_openapi::types::GenerateImageRequest`):
//! the builder's setters are the one hand-written list of its fields, the body sent is
//! the generated type's serialisation, and a field added to the spec is one setter away.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU64;
use std::path::Path;

use venice_openapi::types;

use crate::error::{Error, Result, ValidationError};
use crate::format::Format;
use crate::limits::{
    MAX_CFG_SCALE, MAX_LORA_STRENGTH, MAX_PIXEL_SIDE, MAX_PROMPT_CHARS, MAX_SEED,
    MAX_STYLE_REFERENCE_BYTES, MAX_STYLE_REFERENCE_STRENGTH, MAX_VARIANTS,
    MIN_STYLE_REFERENCE_STRENGTH,
};
use crate::sizing::{AspectRatio, Quality, Resolution, Size};
use crate::wire::{Draft, convert, getters, setters};

/// An image that guides the style of the output, with an optional strength.
///
/// Built like an [`ImageInput`](crate::ImageInput): `from_path`, `from_bytes`,
/// `from_base64` or `from_url`, each checking the image before anything is sent (an
/// http(s) URL; at most [`MAX_STYLE_REFERENCE_BYTES`] of image data).
///
/// ```
/// use venice_image::StyleReference;
///
/// let reference = StyleReference::from_url("https://example.com/style.png")?.with_strength(0.7);
/// assert_eq!(reference.strength(), Some(0.7));
/// # Ok::<(), venice_image::Error>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct StyleReference {
    /// Base64 (raw or data URI) or an http(s) URL.
    image: String,
    is_url: bool,
    strength: Option<f64>,
}

impl fmt::Debug for StyleReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("StyleReference");
        if self.is_url {
            d.field("url", &self.image);
        } else {
            d.field("base64_len", &self.image.len());
        }
        d.field("strength", &self.strength).finish()
    }
}

fn style_error(rule: impl Into<String>) -> Error {
    Error::Validation(ValidationError::new("style_references[].image", rule))
}

fn check_style_size(decoded: u64) -> Result<()> {
    if decoded == 0 {
        return Err(style_error("must not be empty"));
    }
    if decoded > MAX_STYLE_REFERENCE_BYTES as u64 {
        return Err(style_error(format!(
            "decoded image must be at most 8 MB, got {decoded} bytes"
        )));
    }
    Ok(())
}

impl StyleReference {
    /// An image file, read into memory here (it is sent inside the JSON body). Fails
    /// with [`Error::Io`] when it cannot be read and [`Error::Validation`] when it is
    /// empty or larger than [`MAX_STYLE_REFERENCE_BYTES`] (checked from the metadata
    /// before reading). This does blocking file I/O.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        check_style_size(std::fs::metadata(path).map_err(io)?.len())?;
        Self::from_bytes(std::fs::read(path).map_err(io)?)
    }

    /// An image in memory (encoded to base64 once, here).
    pub fn from_bytes(bytes: impl AsRef<[u8]>) -> Result<Self> {
        let bytes = bytes.as_ref();
        check_style_size(bytes.len() as u64)?;
        Ok(Self {
            image: base64_simd::STANDARD.encode_to_string(bytes),
            is_url: false,
            strength: None,
        })
    }

    /// Base64 image data, raw or as a `data:` URI.
    pub fn from_base64(data: impl Into<String>) -> Result<Self> {
        let image: String = data.into();
        let payload = match image.strip_prefix("data:") {
            Some(rest) => rest.split_once(',').map(|(_, d)| d).unwrap_or(""),
            None => image.as_str(),
        };
        let payload = payload.trim_end_matches('=');
        if payload.is_empty() {
            return Err(style_error("must not be empty"));
        }
        let decoded = payload.len() / 4 * 3 + (payload.len() % 4).saturating_sub(1);
        check_style_size((decoded as u64).max(1))?;
        Ok(Self {
            image,
            is_url: false,
            strength: None,
        })
    }

    /// An http(s) URL the server fetches.
    pub fn from_url(url: impl Into<String>) -> Result<Self> {
        let image: String = url.into();
        if !(image.starts_with("http://") || image.starts_with("https://")) {
            return Err(style_error("URL must start with http:// or https://"));
        }
        Ok(Self {
            image,
            is_url: true,
            strength: None,
        })
    }

    /// This reference with a strength: how strongly it guides the output, in
    /// [`MIN_STYLE_REFERENCE_STRENGTH`]`..=`[`MAX_STYLE_REFERENCE_STRENGTH`] (server
    /// default 0.5); checked by [`GenerateRequestBuilder::build`].
    pub fn with_strength(mut self, strength: f64) -> Self {
        self.strength = Some(strength);
        self
    }

    /// The strength, if set.
    pub fn strength(&self) -> Option<f64> {
        self.strength
    }

    /// Whether the server fetches this image from a URL.
    pub fn is_url(&self) -> bool {
        self.is_url
    }

    /// The wire value of `image`: the URL, or the base64 text.
    pub fn image(&self) -> &str {
        &self.image
    }

    fn validate(&self, i: usize) -> Result<(), ValidationError> {
        if let Some(s) = self.strength
            && !(s.is_finite()
                && (MIN_STYLE_REFERENCE_STRENGTH..=MAX_STYLE_REFERENCE_STRENGTH).contains(&s))
        {
            return Err(ValidationError::new(
                format!("style_references[{i}].strength"),
                format!("must be in 0.1..=1, got {s}"),
            ));
        }
        Ok(())
    }

    fn to_wire(&self, i: usize) -> Result<types::StyleReference, ValidationError> {
        self.validate(i)?;
        Ok(types::StyleReference {
            image: convert("style_references[].image", self.image.as_str())?,
            strength: self.strength,
        })
    }
}

/// A validated body of `POST /image/generate`.
///
/// Serialises to exactly the wire JSON: only the fields that were set, never a
/// default.
///
/// ```
/// use venice_image::{AspectRatio, Format, GenerateRequest, Size};
///
/// let req = GenerateRequest::builder("flux-2-max", "a lighthouse at dusk")
///     .size(Size::AspectRatio(AspectRatio::new(16, 9)?))
///     .output_format(Format::Png)
///     .variants(2)
///     .build()?;
/// assert_eq!(
///     req.to_json(),
///     serde_json::json!({
///         "model": "flux-2-max",
///         "prompt": "a lighthouse at dusk",
///         "aspect_ratio": "16:9",
///         "format": "png",
///         "variants": 2
///     })
/// );
/// # Ok::<(), venice_image::ValidationError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateRequest {
    wire: types::GenerateImageRequest,
}

impl GenerateRequest {
    /// Start a request for `model` drawing `prompt`.
    pub fn builder(model: impl Into<String>, prompt: impl Into<String>) -> GenerateRequestBuilder {
        let model = model.into();
        let prompt = prompt.into();
        let wire = check_prompt("prompt", &prompt, 1).and_then(|()| {
            Ok(types::GenerateImageRequest::builder()
                .model(model)
                .prompt(convert::<types::GenerateImageRequestPrompt, _>(
                    "prompt", prompt,
                )?))
        });
        GenerateRequestBuilder {
            wire: Draft::start(wire),
        }
    }

    /// The generated wire value sent as the body.
    pub(crate) fn wire(&self) -> &types::GenerateImageRequest {
        &self.wire
    }

    /// The model ID.
    pub fn model(&self) -> &str {
        &self.wire.model
    }

    /// The prompt.
    pub fn prompt(&self) -> &str {
        &self.wire.prompt
    }

    /// The negative prompt, if set.
    pub fn negative_prompt(&self) -> Option<&str> {
        self.wire.negative_prompt.as_deref().map(String::as_str)
    }

    /// The style preset, if set.
    pub fn style_preset(&self) -> Option<&str> {
        self.wire.style_preset.as_deref()
    }

    /// How many style references the request carries.
    pub fn style_reference_count(&self) -> usize {
        self.wire.style_references.len()
    }

    /// Whether the binary image is requested instead of JSON (`false` when unset).
    pub fn return_binary(&self) -> bool {
        self.wire.return_binary.unwrap_or(false)
    }

    /// Number of images the call returns (`variants`, 1 when unset).
    pub fn image_count(&self) -> u32 {
        self.variants().map_or(1, u32::from)
    }

    /// The size, if set.
    pub fn size(&self) -> Option<Size> {
        let w = &self.wire;
        if let (Some(width), Some(height)) = (w.width, w.height) {
            return Some(Size::Pixels {
                width: u32::try_from(width.get()).unwrap_or(u32::MAX),
                height: u32::try_from(height.get()).unwrap_or(u32::MAX),
            });
        }
        let aspect_ratio: AspectRatio = w.aspect_ratio.as_deref()?.parse().ok()?;
        Some(
            match w.resolution.as_deref().map(str::parse::<Resolution>) {
                Some(Ok(resolution)) => Size::Tiered {
                    aspect_ratio,
                    resolution,
                },
                _ => Size::AspectRatio(aspect_ratio),
            },
        )
    }

    /// The output format (wire field `format`), if set (the server defaults to WebP).
    pub fn output_format(&self) -> Option<Format> {
        self.wire.format.map(Format::from)
    }

    /// The quality tier, if set.
    pub fn quality(&self) -> Option<Quality> {
        self.wire.quality.map(Quality::from)
    }

    /// The number of variants, if set.
    pub fn variants(&self) -> Option<u8> {
        self.wire
            .variants
            .map(|v| u8::try_from(v.get()).unwrap_or(u8::MAX))
    }

    /// The number of steps, if set.
    pub fn steps(&self) -> Option<u32> {
        self.wire.steps.and_then(|s| u32::try_from(s).ok())
    }

    /// The LoRA strength, if set.
    pub fn lora_strength(&self) -> Option<u8> {
        self.wire.lora_strength.and_then(|s| u8::try_from(s).ok())
    }

    getters! {
        /// The seed, if set.
        seed: i64;
        /// The CFG scale, if set.
        cfg_scale: f64;
        /// Safe mode, if set.
        safe_mode: bool;
        /// Hide watermark, if set.
        hide_watermark: bool;
        /// Embed EXIF metadata, if set.
        embed_exif_metadata: bool;
        /// Web search, if set.
        enable_web_search: bool;
        /// Prompt enhancement, if set.
        enhance_prompt: bool;
        /// Disable prompt-optimisation thinking, if set.
        disable_prompt_optimization_thinking: bool;
    }

    /// The wire JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.wire).unwrap_or(serde_json::Value::Null)
    }

    /// This request with `return_binary` set to `value`.
    pub(crate) fn with_return_binary(&self, value: bool) -> Cow<'_, GenerateRequest> {
        if self.wire.return_binary == Some(value) {
            Cow::Borrowed(self)
        } else {
            let mut r = self.clone();
            r.wire.return_binary = Some(value);
            Cow::Owned(r)
        }
    }

    /// The rules that span fields or that the spec cannot state.
    fn validate(&self) -> Result<(), ValidationError> {
        let w = &self.wire;
        if w.model.trim().is_empty() {
            return Err(ValidationError::new("model", "must not be empty"));
        }
        if let Some(Size::Pixels { width, height }) = self.size() {
            for (field, v) in [("width", width), ("height", height)] {
                if !(1..=MAX_PIXEL_SIDE).contains(&v) {
                    return Err(ValidationError::new(
                        field,
                        format!("must be in 1..={MAX_PIXEL_SIDE}, got {v}"),
                    ));
                }
            }
        }
        if let Some(v) = self.variants() {
            if !(1..=MAX_VARIANTS).contains(&v) {
                return Err(ValidationError::new(
                    "variants",
                    format!("must be in 1..={MAX_VARIANTS}, got {v}"),
                ));
            }
            if v > 1 && self.return_binary() {
                return Err(ValidationError::new(
                    "variants",
                    "must be 1 when return_binary is true (binary responses carry one image)",
                ));
            }
        }
        if let Some(s) = w.seed
            && !(-MAX_SEED..=MAX_SEED).contains(&s)
        {
            return Err(ValidationError::new(
                "seed",
                format!("must be in -{MAX_SEED}..={MAX_SEED}, got {s}"),
            ));
        }
        if let Some(c) = w.cfg_scale
            && !(c.is_finite() && c > 0.0 && c <= MAX_CFG_SCALE)
        {
            return Err(ValidationError::new(
                "cfg_scale",
                format!("must be in (0, {MAX_CFG_SCALE}], got {c}"),
            ));
        }
        if let Some(l) = w.lora_strength
            && !(0..=i64::from(MAX_LORA_STRENGTH)).contains(&l)
        {
            return Err(ValidationError::new(
                "lora_strength",
                format!("must be in 0..={MAX_LORA_STRENGTH}, got {l}"),
            ));
        }
        if let Some(steps) = w.steps
            && !(0..=i64::from(i32::MAX)).contains(&steps)
        {
            return Err(ValidationError::new("steps", format!("too large: {steps}")));
        }
        Ok(())
    }
}

/// A prompt of at most [`MAX_PROMPT_CHARS`] characters and at least `min`.
fn check_prompt(field: &'static str, text: &str, min: usize) -> Result<(), ValidationError> {
    let n = text.chars().count();
    if n < min || n > MAX_PROMPT_CHARS {
        let range = if min == 0 {
            format!("at most {MAX_PROMPT_CHARS}")
        } else {
            format!("{min}..={MAX_PROMPT_CHARS}")
        };
        return Err(ValidationError::new(
            field,
            format!("must be {range} characters, got {n}"),
        ));
    }
    Ok(())
}

/// Builder of a [`GenerateRequest`]; setters never fail, [`build`](Self::build)
/// returns the first broken rule (a value that cannot be sent is reported as soon as
/// it is set, the rules spanning fields when building).
#[derive(Clone, Debug)]
#[must_use]
pub struct GenerateRequestBuilder {
    wire: Draft<types::GenerateImageRequest>,
}

impl GenerateRequestBuilder {
    /// Apply `set` to the wire value unless an earlier setter failed.
    fn set(
        mut self,
        set: impl FnOnce(&mut types::GenerateImageRequest) -> Result<(), ValidationError>,
    ) -> Self {
        self.wire = self.wire.set(set);
        self
    }

    /// Output size (pixels, aspect ratio, or aspect ratio with resolution tier).
    pub fn size(self, size: Size) -> Self {
        self.set(|w| {
            (w.width, w.height, w.aspect_ratio, w.resolution) = (None, None, None, None);
            match size {
                Size::Pixels { width, height } => {
                    let side = |field: &'static str, v: u32| {
                        NonZeroU64::new(u64::from(v)).ok_or_else(|| {
                            ValidationError::new(
                                field,
                                format!("must be in 1..={MAX_PIXEL_SIDE}, got {v}"),
                            )
                        })
                    };
                    w.width = Some(side("width", width)?);
                    w.height = Some(side("height", height)?);
                }
                Size::AspectRatio(ar) => {
                    w.aspect_ratio = Some(convert("aspect_ratio", ar.to_string())?);
                }
                Size::Tiered {
                    aspect_ratio,
                    resolution,
                } => {
                    w.aspect_ratio = Some(convert("aspect_ratio", aspect_ratio.to_string())?);
                    w.resolution = Some(resolution.as_str().to_owned());
                }
            }
            Ok(())
        })
    }

    /// Parse the size from text (`1024x768`, `16:9`, `16:9@2K`); a parse error is
    /// returned by [`build`](Self::build).
    pub fn size_str(self, value: &str) -> Self {
        match value.parse::<Size>() {
            Ok(s) => self.size(s),
            Err(e) => self.set(|_| Err(e)),
        }
    }

    /// Number of images, 1..=4 (server default 1; must be 1 with `return_binary`).
    pub fn variants(self, variants: u8) -> Self {
        self.set(|w| {
            w.variants = Some(NonZeroU64::new(u64::from(variants)).ok_or_else(|| {
                ValidationError::new(
                    "variants",
                    format!("must be in 1..={MAX_VARIANTS}, got {variants}"),
                )
            })?);
            Ok(())
        })
    }

    setters! {
        /// Output image format (wire field `format`; server default WebP).
        output_format(Format) => format;
        /// Quality tier (models with `qualities`).
        quality(Quality) => quality;
        /// Seed for reproducible output, within ±999,999,999 (omitted: random).
        seed(i64) => seed;
        /// How closely to follow the prompt, in (0, 20].
        cfg_scale(f64) => cfg_scale;
        /// Inference steps (ignored by current models).
        steps(u32) => steps;
        /// LoRA strength, 0..=100.
        lora_strength(u8) => lora_strength;
        /// Blur adult content (server default true).
        safe_mode(bool) => safe_mode;
        /// Ask to hide the watermark.
        hide_watermark(bool) => hide_watermark;
        /// Embed the generation parameters in EXIF.
        embed_exif_metadata(bool) => embed_exif_metadata;
        /// Let the model use web search (extra charge).
        enable_web_search(bool) => enable_web_search;
        /// Rewrite the prompt first (extra charge); see
        /// [`ResponseMeta::enhanced_prompt`](crate::ResponseMeta::enhanced_prompt).
        enhance_prompt(bool) => enhance_prompt;
        /// Skip the prompt-optimisation thinking step.
        disable_prompt_optimization_thinking(bool) => disable_prompt_optimization_thinking;
        /// Return the binary image instead of JSON (use
        /// [`Client::generate_binary`](crate::Client::generate_binary)).
        return_binary(bool) => return_binary;
        /// A style name from [`Client::image_styles`](crate::Client::image_styles).
        style_preset(impl Into<String>) => style_preset;
    }

    /// What not to draw (at most the model's `promptCharacterLimit`, like the prompt;
    /// 32,768 characters at most).
    pub fn negative_prompt(self, value: impl Into<String>) -> Self {
        let value = value.into();
        self.set(|w| {
            check_prompt("negative_prompt", &value, 0)?;
            w.negative_prompt = Some(convert("negative_prompt", value)?);
            Ok(())
        })
    }

    /// Add a style reference image (call again to add more).
    pub fn style_reference(self, value: StyleReference) -> Self {
        self.set(|w| {
            let index = w.style_references.len();
            w.style_references.push(value.to_wire(index)?);
            Ok(())
        })
    }

    /// Check every rule and return the request, or the first broken rule.
    pub fn build(self) -> Result<GenerateRequest, ValidationError> {
        let request = GenerateRequest {
            wire: self.wire.finish()?,
        };
        request.validate()?;
        Ok(request)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sizing::{AspectRatio, Resolution};
    use serde_json::json;

    fn b() -> GenerateRequestBuilder {
        GenerateRequest::builder("m", "p")
    }

    fn field_of(r: Result<GenerateRequest, ValidationError>) -> String {
        r.unwrap_err().field.into_owned()
    }

    #[test]
    fn minimal_serialises_only_required() {
        assert_eq!(
            b().build().unwrap().to_json(),
            json!({"model": "m", "prompt": "p"})
        );
    }

    #[test]
    fn size_variants_map_to_wire_fields() {
        let px = b()
            .size(Size::Pixels {
                width: 512,
                height: 768,
            })
            .build()
            .unwrap();
        assert_eq!(
            px.to_json(),
            json!({"model":"m","prompt":"p","width":512,"height":768})
        );
        let ar = b()
            .size(Size::AspectRatio(AspectRatio::new(16, 9).unwrap()))
            .build()
            .unwrap();
        assert_eq!(
            ar.to_json(),
            json!({"model":"m","prompt":"p","aspect_ratio":"16:9"})
        );
        let t = b()
            .size(Size::Tiered {
                aspect_ratio: AspectRatio::new(1, 1).unwrap(),
                resolution: Resolution::FourK,
            })
            .build()
            .unwrap();
        assert_eq!(
            t.to_json(),
            json!({"model":"m","prompt":"p","aspect_ratio":"1:1","resolution":"4K"})
        );
    }

    #[test]
    fn all_fields_serialise_and_match_generated_type() {
        let r = b()
            .negative_prompt("n")
            .size(Size::Pixels {
                width: 1024,
                height: 1024,
            })
            .output_format(Format::Jpeg)
            .quality(Quality::High)
            .variants(3)
            .seed(-5)
            .style_preset("3D Model")
            .cfg_scale(7.5)
            .steps(20)
            .lora_strength(50)
            .safe_mode(false)
            .hide_watermark(true)
            .embed_exif_metadata(true)
            .enable_web_search(false)
            .enhance_prompt(true)
            .disable_prompt_optimization_thinking(true)
            .style_reference(
                StyleReference::from_url("https://x/y.png")
                    .unwrap()
                    .with_strength(0.7),
            )
            .style_reference(StyleReference::from_bytes(vec![1, 2, 3]).unwrap())
            .return_binary(false)
            .build()
            .unwrap();
        let v = r.to_json();
        assert_eq!(
            v,
            json!({
                "model":"m","prompt":"p","negative_prompt":"n","width":1024,"height":1024,
                "format":"jpeg","quality":"high","variants":3,"seed":-5,"style_preset":"3D Model",
                "cfg_scale":7.5,"steps":20,"lora_strength":50,"safe_mode":false,"hide_watermark":true,
                "embed_exif_metadata":true,"enable_web_search":false,"enhance_prompt":true,
                "disable_prompt_optimization_thinking":true,"return_binary":false,
                "style_references":[{"image":"https://x/y.png","strength":0.7},{"image":"AQID"}]
            })
        );
        // The generated (spec) type accepts exactly this document.
        let g: venice_openapi::types::GenerateImageRequest =
            serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(g).unwrap(), v);
        assert_eq!(r.variants(), Some(3));
        assert_eq!(r.image_count(), 3);
        assert_eq!(r.output_format(), Some(Format::Jpeg));
        assert!(!r.return_binary());
    }

    #[test]
    fn prompt_rules() {
        assert_eq!(
            field_of(GenerateRequest::builder("m", "").build()),
            "prompt"
        );
        // The provider's ceiling; each model's own limit is checked against the
        // catalogue (models::tests).
        assert!(
            GenerateRequest::builder("m", "é".repeat(32_768))
                .build()
                .is_ok()
        );
        assert!(
            GenerateRequest::builder("m", "a".repeat(10_000))
                .build()
                .is_ok()
        );
        assert_eq!(
            field_of(GenerateRequest::builder("m", "a".repeat(32_769)).build()),
            "prompt"
        );
        assert_eq!(
            field_of(b().negative_prompt("a".repeat(32_769)).build()),
            "negative_prompt"
        );
        assert!(b().negative_prompt("a".repeat(32_768)).build().is_ok());
        assert_eq!(
            field_of(GenerateRequest::builder(" ", "p").build()),
            "model"
        );
    }

    #[test]
    fn dimension_rules() {
        assert_eq!(
            field_of(
                b().size(Size::Pixels {
                    width: 0,
                    height: 10
                })
                .build()
            ),
            "width"
        );
        assert_eq!(
            field_of(
                b().size(Size::Pixels {
                    width: 10,
                    height: 1281
                })
                .build()
            ),
            "height"
        );
        assert!(
            b().size(Size::Pixels {
                width: 1280,
                height: 1
            })
            .build()
            .is_ok()
        );
    }

    #[test]
    fn variants_rules() {
        assert_eq!(field_of(b().variants(0).build()), "variants");
        assert_eq!(field_of(b().variants(5).build()), "variants");
        assert!(b().variants(4).build().is_ok());
        let e = b().variants(2).return_binary(true).build().unwrap_err();
        assert_eq!(e.field, "variants");
        assert!(
            e.to_string()
                .starts_with("`variants`: must be 1 when return_binary")
        );
        assert!(b().variants(1).return_binary(true).build().is_ok());
    }

    #[test]
    fn numeric_rules() {
        assert!(b().seed(999_999_999).build().is_ok());
        assert!(b().seed(-999_999_999).build().is_ok());
        assert_eq!(field_of(b().seed(1_000_000_000).build()), "seed");
        assert_eq!(field_of(b().seed(-1_000_000_000).build()), "seed");
        assert_eq!(field_of(b().cfg_scale(0.0).build()), "cfg_scale");
        assert_eq!(field_of(b().cfg_scale(20.01).build()), "cfg_scale");
        assert_eq!(field_of(b().cfg_scale(f64::NAN).build()), "cfg_scale");
        assert_eq!(field_of(b().cfg_scale(f64::INFINITY).build()), "cfg_scale");
        assert!(b().cfg_scale(20.0).build().is_ok());
        assert_eq!(field_of(b().lora_strength(101).build()), "lora_strength");
        assert!(b().lora_strength(100).build().is_ok());
        assert!(b().steps(0).build().is_ok());
    }

    #[test]
    fn style_reference_rules() {
        let url = || StyleReference::from_url("https://a").unwrap();
        for bad in [0.05, 1.1, f64::NAN] {
            let e = b().style_reference(url().with_strength(bad)).build();
            assert_eq!(field_of(e), "style_references[0].strength");
        }
        let e = b()
            .style_reference(url())
            .style_reference(url().with_strength(2.0))
            .build();
        assert_eq!(field_of(e), "style_references[1].strength");
        assert!(
            b().style_reference(url().with_strength(0.1))
                .build()
                .is_ok()
        );
        // The image is checked by the constructors, before any builder.
        let image_field = |r: Result<StyleReference>| match r {
            Err(Error::Validation(v)) => v.field.into_owned(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            image_field(StyleReference::from_url("ftp://a")),
            "style_references[].image"
        );
        assert_eq!(
            image_field(StyleReference::from_base64("")),
            "style_references[].image"
        );
        assert_eq!(
            image_field(StyleReference::from_bytes(vec![
                0;
                MAX_STYLE_REFERENCE_BYTES
                    + 1
            ])),
            "style_references[].image"
        );
        let largest = StyleReference::from_bytes(vec![0; MAX_STYLE_REFERENCE_BYTES]).unwrap();
        assert!(b().style_reference(largest).build().is_ok());
        let ok = StyleReference::from_base64("data:image/png;base64,AQID").unwrap();
        assert!(!ok.is_url());
        assert!(b().style_reference(ok).build().is_ok());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("style.png");
        std::fs::write(&path, [1, 2, 3]).unwrap();
        assert_eq!(StyleReference::from_path(&path).unwrap().image(), "AQID");
        assert!(matches!(
            StyleReference::from_path(dir.path().join("missing.png")),
            Err(Error::Io { .. })
        ));
        let dbg = format!("{:?}", StyleReference::from_bytes(vec![0; 100]).unwrap());
        assert!(dbg.contains("base64_len"), "{dbg}");
    }

    #[test]
    fn parked_size_error() {
        let e = b().size_str("wide").build().unwrap_err();
        assert_eq!(e.field, "size");
        assert!(b().size_str("16:9@2K").build().is_ok());
    }

    #[test]
    fn display_names_field_and_rule() {
        let e = ValidationError::new("width", "must be in 1..=1280, got 0");
        assert_eq!(e.to_string(), "`width`: must be in 1..=1280, got 0");
    }

    #[test]
    fn with_return_binary() {
        let r = b().build().unwrap();
        let r2 = r.with_return_binary(true);
        assert!(r2.return_binary());
        assert_eq!(r2.to_json()["return_binary"], json!(true));
    }
}
