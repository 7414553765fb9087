//! The generate request: [`GenerateRequest`], its builder, [`StyleReference`] and
//! [`ValidationError`].

use std::borrow::Cow;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::image::Format;
use crate::sizing::{Quality, Size};

/// Longest prompt and negative prompt accepted by the API (characters).
pub const MAX_PROMPT_CHARS: usize = 7500;
/// Largest decoded style-reference image (bytes).
pub const MAX_STYLE_REFERENCE_BYTES: usize = 8 * 1024 * 1024;
/// Largest absolute seed.
pub const MAX_SEED: i64 = 999_999_999;

/// A request rule that was broken: which field, and what the rule is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {rule}")]
pub struct ValidationError {
    /// The request field (wire name), e.g. `width` or `style_references[0].strength`.
    pub field: Cow<'static, str>,
    /// The rule, e.g. `must be in 1..=1280, got 2000`.
    pub rule: String,
}

impl ValidationError {
    /// A new error for `field`.
    pub fn new(field: impl Into<Cow<'static, str>>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

#[derive(Clone, PartialEq)]
enum RefImage {
    /// Base64 (raw or data URI) with the decoded length estimate.
    Base64(String),
    /// An http(s) URL.
    Url(String),
}

/// An image that guides the style of the output.
#[derive(Clone, PartialEq)]
pub struct StyleReference {
    image: RefImage,
    strength: Option<f64>,
}

impl fmt::Debug for StyleReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("StyleReference");
        match &self.image {
            RefImage::Base64(s) => d.field("base64_len", &s.len()),
            RefImage::Url(u) => d.field("url", u),
        };
        d.field("strength", &self.strength).finish()
    }
}

impl StyleReference {
    /// An image file's bytes (encoded to base64 once, here).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self {
            image: RefImage::Base64(base64_simd::STANDARD.encode_to_string(&bytes)),
            strength: None,
        }
    }

    /// An http(s) URL the server fetches.
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            image: RefImage::Url(url.into()),
            strength: None,
        }
    }

    /// Base64 image data, raw or as a `data:` URI.
    pub fn base64(data: impl Into<String>) -> Self {
        Self {
            image: RefImage::Base64(data.into()),
            strength: None,
        }
    }

    /// How strongly the reference guides the output (0.1..=1; server default 0.5).
    pub fn strength(mut self, strength: f64) -> Self {
        self.strength = Some(strength);
        self
    }

    /// The strength, if set.
    pub fn get_strength(&self) -> Option<f64> {
        self.strength
    }

    /// The wire value of `image`.
    pub fn image(&self) -> &str {
        match &self.image {
            RefImage::Base64(s) | RefImage::Url(s) => s,
        }
    }

    fn validate(&self, i: usize) -> Result<(), ValidationError> {
        let field = |name: &str| Cow::Owned(format!("style_references[{i}].{name}"));
        if let Some(s) = self.strength
            && !(s.is_finite() && (0.1..=1.0).contains(&s))
        {
            return Err(ValidationError::new(
                field("strength"),
                format!("must be in 0.1..=1, got {s}"),
            ));
        }
        match &self.image {
            RefImage::Url(u) => {
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    return Err(ValidationError::new(
                        field("image"),
                        "URL must start with http:// or https://",
                    ));
                }
            }
            RefImage::Base64(s) => {
                let data = match s.strip_prefix("data:") {
                    Some(rest) => rest.split_once(',').map(|(_, d)| d).unwrap_or(""),
                    None => s.as_str(),
                };
                let data = data.trim_end_matches('=');
                if data.is_empty() {
                    return Err(ValidationError::new(field("image"), "must not be empty"));
                }
                let decoded = data.len() / 4 * 3 + (data.len() % 4).saturating_sub(1);
                if decoded > MAX_STYLE_REFERENCE_BYTES {
                    return Err(ValidationError::new(
                        field("image"),
                        format!("decoded image must be at most 8 MB, got {decoded} bytes"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Serialize for StyleReference {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1 + usize::from(self.strength.is_some())))?;
        m.serialize_entry("image", self.image())?;
        if let Some(st) = self.strength {
            m.serialize_entry("strength", &st)?;
        }
        m.end()
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
///     .format(Format::Png)
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
    model: String,
    prompt: String,
    negative_prompt: Option<String>,
    size: Option<Size>,
    format: Option<Format>,
    quality: Option<Quality>,
    variants: Option<u8>,
    seed: Option<i64>,
    style_preset: Option<String>,
    cfg_scale: Option<f64>,
    steps: Option<u32>,
    lora_strength: Option<u8>,
    safe_mode: Option<bool>,
    hide_watermark: Option<bool>,
    embed_exif_metadata: Option<bool>,
    enable_web_search: Option<bool>,
    enhance_prompt: Option<bool>,
    disable_prompt_optimization_thinking: Option<bool>,
    style_references: Vec<StyleReference>,
    return_binary: Option<bool>,
}

macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident: $t:ty;)*) => {
        $($(#[$doc])* pub fn $name(&self) -> Option<$t> { self.$name })*
    };
}

impl GenerateRequest {
    /// Start a request for `model` drawing `prompt`.
    pub fn builder(model: impl Into<String>, prompt: impl Into<String>) -> GenerateRequestBuilder {
        GenerateRequestBuilder {
            req: GenerateRequest {
                model: model.into(),
                prompt: prompt.into(),
                negative_prompt: None,
                size: None,
                format: None,
                quality: None,
                variants: None,
                seed: None,
                style_preset: None,
                cfg_scale: None,
                steps: None,
                lora_strength: None,
                safe_mode: None,
                hide_watermark: None,
                embed_exif_metadata: None,
                enable_web_search: None,
                enhance_prompt: None,
                disable_prompt_optimization_thinking: None,
                style_references: Vec::new(),
                return_binary: None,
            },
            error: None,
        }
    }

    /// The model ID.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The prompt.
    pub fn prompt(&self) -> &str {
        &self.prompt
    }

    /// The negative prompt, if set.
    pub fn negative_prompt(&self) -> Option<&str> {
        self.negative_prompt.as_deref()
    }

    /// The style preset, if set.
    pub fn style_preset(&self) -> Option<&str> {
        self.style_preset.as_deref()
    }

    /// The style references.
    pub fn style_references(&self) -> &[StyleReference] {
        &self.style_references
    }

    /// Whether the raw image is requested instead of JSON (`false` when unset).
    pub fn return_binary(&self) -> bool {
        self.return_binary.unwrap_or(false)
    }

    /// Number of images the call returns (`variants`, 1 when unset).
    pub fn image_count(&self) -> u32 {
        u32::from(self.variants.unwrap_or(1))
    }

    getters! {
        /// The size, if set.
        size: Size;
        /// The output format, if set (the server defaults to WebP).
        format: Format;
        /// The quality tier, if set.
        quality: Quality;
        /// The number of variants, if set.
        variants: u8;
        /// The seed, if set.
        seed: i64;
        /// The CFG scale, if set.
        cfg_scale: f64;
        /// The number of steps, if set.
        steps: u32;
        /// The LoRA strength, if set.
        lora_strength: u8;
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
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// This request with `return_binary` set to `value`.
    pub(crate) fn with_return_binary(&self, value: bool) -> Cow<'_, GenerateRequest> {
        if self.return_binary == Some(value) {
            Cow::Borrowed(self)
        } else {
            let mut r = self.clone();
            r.return_binary = Some(value);
            Cow::Owned(r)
        }
    }

    fn validate(&self) -> Result<(), ValidationError> {
        if self.model.trim().is_empty() {
            return Err(ValidationError::new("model", "must not be empty"));
        }
        let n = self.prompt.chars().count();
        if !(1..=MAX_PROMPT_CHARS).contains(&n) {
            return Err(ValidationError::new(
                "prompt",
                format!("must be 1..={MAX_PROMPT_CHARS} characters, got {n}"),
            ));
        }
        if let Some(neg) = &self.negative_prompt {
            let n = neg.chars().count();
            if n > MAX_PROMPT_CHARS {
                return Err(ValidationError::new(
                    "negative_prompt",
                    format!("must be at most {MAX_PROMPT_CHARS} characters, got {n}"),
                ));
            }
        }
        match self.size {
            Some(Size::Pixels { width, height }) => {
                for (field, v) in [("width", width), ("height", height)] {
                    if !(1..=1280).contains(&v) {
                        return Err(ValidationError::new(
                            field,
                            format!("must be in 1..=1280, got {v}"),
                        ));
                    }
                }
            }
            Some(Size::AspectRatio(_) | Size::Tiered { .. }) | None => {}
        }
        if let Some(v) = self.variants {
            if !(1..=4).contains(&v) {
                return Err(ValidationError::new(
                    "variants",
                    format!("must be in 1..=4, got {v}"),
                ));
            }
            if v > 1 && self.return_binary() {
                return Err(ValidationError::new(
                    "variants",
                    "must be 1 when return_binary is true (binary responses carry one image)",
                ));
            }
        }
        if let Some(s) = self.seed
            && !(-MAX_SEED..=MAX_SEED).contains(&s)
        {
            return Err(ValidationError::new(
                "seed",
                format!("must be in -{MAX_SEED}..={MAX_SEED}, got {s}"),
            ));
        }
        if let Some(c) = self.cfg_scale
            && !(c.is_finite() && c > 0.0 && c <= 20.0)
        {
            return Err(ValidationError::new(
                "cfg_scale",
                format!("must be in (0, 20], got {c}"),
            ));
        }
        if let Some(l) = self.lora_strength
            && l > 100
        {
            return Err(ValidationError::new(
                "lora_strength",
                format!("must be in 0..=100, got {l}"),
            ));
        }
        if let Some(steps) = self.steps
            && i64::from(steps) > i64::from(i32::MAX)
        {
            return Err(ValidationError::new("steps", format!("too large: {steps}")));
        }
        for (i, r) in self.style_references.iter().enumerate() {
            r.validate(i)?;
        }
        Ok(())
    }
}

impl Serialize for GenerateRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("model", &self.model)?;
        m.serialize_entry("prompt", &self.prompt)?;
        if let Some(v) = &self.negative_prompt {
            m.serialize_entry("negative_prompt", v)?;
        }
        match &self.size {
            Some(Size::Pixels { width, height }) => {
                m.serialize_entry("width", width)?;
                m.serialize_entry("height", height)?;
            }
            Some(Size::AspectRatio(ar)) => m.serialize_entry("aspect_ratio", &ar.to_string())?,
            Some(Size::Tiered {
                aspect_ratio,
                resolution,
            }) => {
                m.serialize_entry("aspect_ratio", &aspect_ratio.to_string())?;
                m.serialize_entry("resolution", resolution.as_str())?;
            }
            None => {}
        }
        if let Some(q) = self.quality {
            m.serialize_entry("quality", q.as_str())?;
        }
        if let Some(f) = self.format {
            m.serialize_entry("format", f.as_str())?;
        }
        macro_rules! opt {
            ($($name:ident),*) => {$(
                if let Some(v) = &self.$name {
                    m.serialize_entry(stringify!($name), v)?;
                }
            )*};
        }
        opt!(
            variants,
            return_binary,
            seed,
            cfg_scale,
            steps,
            style_preset,
            lora_strength,
            safe_mode
        );
        opt!(
            hide_watermark,
            embed_exif_metadata,
            enable_web_search,
            enhance_prompt
        );
        opt!(disable_prompt_optimization_thinking);
        if !self.style_references.is_empty() {
            m.serialize_entry("style_references", &self.style_references)?;
        }
        m.end()
    }
}

/// Builder of a [`GenerateRequest`]; setters never fail, [`build`](Self::build)
/// checks every rule and reports the first broken one.
#[derive(Clone, Debug)]
#[must_use]
pub struct GenerateRequestBuilder {
    req: GenerateRequest,
    error: Option<ValidationError>,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $t:ty;)*) => {
        $($(#[$doc])* pub fn $name(mut self, value: $t) -> Self {
            self.req.$name = Some(value);
            self
        })*
    };
}

impl GenerateRequestBuilder {
    setters! {
        /// Output size (pixels, aspect ratio, or aspect ratio with resolution tier).
        size: Size;
        /// Output format (server default WebP).
        format: Format;
        /// Quality tier (models with `qualities`).
        quality: Quality;
        /// Number of images, 1..=4 (server default 1; must be 1 with `return_binary`).
        variants: u8;
        /// Seed for reproducible output, within ±999,999,999 (omitted: random).
        seed: i64;
        /// How closely to follow the prompt, in (0, 20].
        cfg_scale: f64;
        /// Inference steps (ignored by current models).
        steps: u32;
        /// LoRA strength, 0..=100.
        lora_strength: u8;
        /// Blur adult content (server default true).
        safe_mode: bool;
        /// Ask to hide the watermark.
        hide_watermark: bool;
        /// Embed the generation parameters in EXIF.
        embed_exif_metadata: bool;
        /// Let the model use web search (extra charge).
        enable_web_search: bool;
        /// Rewrite the prompt first (extra charge); see [`ResponseMeta::enhanced_prompt`](crate::ResponseMeta::enhanced_prompt).
        enhance_prompt: bool;
        /// Skip the prompt-optimisation thinking step.
        disable_prompt_optimization_thinking: bool;
        /// Return the raw image instead of JSON (use [`Client::generate_binary`](crate::Client::generate_binary)).
        return_binary: bool;
    }

    /// What not to draw (at most 7500 characters).
    pub fn negative_prompt(mut self, value: impl Into<String>) -> Self {
        self.req.negative_prompt = Some(value.into());
        self
    }

    /// A style name from [`Client::image_styles`](crate::Client::image_styles).
    pub fn style_preset(mut self, value: impl Into<String>) -> Self {
        self.req.style_preset = Some(value.into());
        self
    }

    /// Add a style reference image (call again to add more).
    pub fn style_reference(mut self, value: StyleReference) -> Self {
        self.req.style_references.push(value);
        self
    }

    /// Parse the size from text (`1024x768`, `16:9`, `16:9@2K`); a parse error is
    /// returned by [`build`](Self::build).
    pub fn size_str(mut self, value: &str) -> Self {
        match value.parse() {
            Ok(s) => self.req.size = Some(s),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Check every rule and return the request, or the first broken rule.
    pub fn build(self) -> Result<GenerateRequest, ValidationError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.req.validate()?;
        Ok(self.req)
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
            .format(Format::Jpeg)
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
            .style_reference(StyleReference::url("https://x/y.png").strength(0.7))
            .style_reference(StyleReference::from_bytes(vec![1, 2, 3]))
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
        assert_eq!(r.format(), Some(Format::Jpeg));
        assert!(!r.return_binary());
    }

    #[test]
    fn prompt_rules() {
        assert_eq!(
            field_of(GenerateRequest::builder("m", "").build()),
            "prompt"
        );
        assert!(
            GenerateRequest::builder("m", "é".repeat(7500))
                .build()
                .is_ok()
        );
        assert_eq!(
            field_of(GenerateRequest::builder("m", "a".repeat(7501)).build()),
            "prompt"
        );
        assert_eq!(
            field_of(b().negative_prompt("a".repeat(7501)).build()),
            "negative_prompt"
        );
        assert!(b().negative_prompt("a".repeat(7500)).build().is_ok());
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
        let e = b()
            .style_reference(StyleReference::url("https://a").strength(0.05))
            .build();
        assert_eq!(field_of(e), "style_references[0].strength");
        let e = b()
            .style_reference(StyleReference::url("https://a").strength(1.1))
            .build();
        assert_eq!(field_of(e), "style_references[0].strength");
        let e = b()
            .style_reference(StyleReference::url("https://a").strength(f64::NAN))
            .build();
        assert_eq!(field_of(e), "style_references[0].strength");
        assert!(
            b().style_reference(StyleReference::url("https://a").strength(0.1))
                .build()
                .is_ok()
        );
        let e = b().style_reference(StyleReference::url("ftp://a")).build();
        assert_eq!(field_of(e), "style_references[0].image");
        let e = b().style_reference(StyleReference::base64("")).build();
        assert_eq!(field_of(e), "style_references[0].image");
        assert!(
            b().style_reference(StyleReference::from_bytes(vec![
                0;
                MAX_STYLE_REFERENCE_BYTES
            ]))
            .build()
            .is_ok()
        );
        let e = b()
            .style_reference(StyleReference::url("https://a"))
            .style_reference(StyleReference::from_bytes(vec![
                0;
                MAX_STYLE_REFERENCE_BYTES
                    + 1
            ]))
            .build();
        assert_eq!(field_of(e), "style_references[1].image");
        let ok = StyleReference::base64("data:image/png;base64,AQID");
        assert!(b().style_reference(ok).build().is_ok());
        let dbg = format!("{:?}", StyleReference::from_bytes(vec![0; 100]));
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
