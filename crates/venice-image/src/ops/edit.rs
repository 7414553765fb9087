//! [`EditRequest`] (`POST /image/edit`) and [`MultiEditRequest`] (`POST /image/multi-edit`).

use std::fmt;
use std::str::FromStr;

use venice_openapi::{Uploads, types};

use super::input::{ImageInput, unsent_image};
use crate::error::ValidationError;
use crate::format::Format;
use crate::limits::{
    EDIT_ASPECT_RATIOS, MAX_EDIT_INPUT_PIXELS, MAX_EDIT_PROMPT_CHARS, MIN_INPUT_PIXELS,
};
use crate::sizing::{AspectRatio, Quality, Resolution};
use crate::wire::{Draft, check_prompt, convert, setters};

/// Output aspect ratio of an edit or multi-edit: `Auto` (the default when unset) lets
/// the server pick the supported ratio closest to the (first) input image; a ratio
/// must be one of [`EDIT_ASPECT_RATIOS`](crate::limits::EDIT_ASPECT_RATIOS), which the
/// builder checks.
///
/// An [`AspectRatio`] converts into it, so the same value sizes a generation and an
/// edit:
///
/// ```
/// use venice_image::{AspectRatio, EditAspectRatio};
///
/// let wide = AspectRatio::new(16, 9)?;
/// assert_eq!(EditAspectRatio::from(wide).to_string(), "16:9");
/// assert_eq!("auto".parse::<EditAspectRatio>()?, EditAspectRatio::Auto);
/// assert_eq!("16:9".parse::<EditAspectRatio>()?.aspect_ratio(), Some(wide));
/// # Ok::<(), venice_image::ValidationError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EditAspectRatio {
    /// Closest supported ratio to the input.
    Auto,
    /// This ratio.
    Ratio(AspectRatio),
}

impl EditAspectRatio {
    /// The ratio, or `None` for `Auto`.
    pub fn aspect_ratio(&self) -> Option<AspectRatio> {
        match self {
            Self::Auto => None,
            Self::Ratio(r) => Some(*r),
        }
    }

    /// Whether the API accepts this value.
    pub fn is_supported(&self) -> bool {
        match self {
            Self::Auto => true,
            Self::Ratio(r) => EDIT_ASPECT_RATIOS.contains(&r.to_string().as_str()),
        }
    }
}

impl From<AspectRatio> for EditAspectRatio {
    fn from(r: AspectRatio) -> Self {
        Self::Ratio(r)
    }
}

impl fmt::Display for EditAspectRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Ratio(r) => write!(f, "{r}"),
        }
    }
}

impl FromStr for EditAspectRatio {
    type Err = ValidationError;

    /// Parses `auto` or a `W:H` ratio (whether the API supports it is checked by the
    /// builder).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        s.parse().map(Self::Ratio)
    }
}

/// The wire value, or a validation error naming the supported ratios.
fn edit_aspect_ratio(value: EditAspectRatio) -> Result<types::EditAspectRatio, ValidationError> {
    let unsupported = || {
        ValidationError::new(
            "aspect_ratio",
            format!(
                "expected auto or one of {}, got {value}",
                EDIT_ASPECT_RATIOS.join(", ")
            ),
        )
    };
    if !value.is_supported() {
        return Err(unsupported());
    }
    value.to_string().parse().map_err(|_| unsupported())
}

/// The getters edit and multi-edit share (fields of their `wire`).
macro_rules! edit_getters {
    () => {
        /// The requested aspect ratio, when set.
        pub fn aspect_ratio(&self) -> Option<EditAspectRatio> {
            self.wire
                .aspect_ratio
                .and_then(|r| r.to_string().parse().ok())
        }

        /// The requested resolution tier, when set (as sent, e.g. `2K`).
        pub fn resolution(&self) -> Option<&str> {
            self.wire.resolution.as_deref().map(String::as_str)
        }
    };
}

/// The setters edit and multi-edit share: the same wire fields in both bodies.
macro_rules! edit_setters {
    ($wire:ty) => {
        /// Apply `set` to the wire value unless an earlier setter failed.
        fn set(mut self, set: impl FnOnce(&mut $wire) -> Result<(), ValidationError>) -> Self {
            self.wire = self.wire.set(set);
            self
        }

        /// Output aspect ratio: `auto` (the default: inferred from the input) or one of
        /// [`EDIT_ASPECT_RATIOS`](crate::limits::EDIT_ASPECT_RATIOS); takes an
        /// [`AspectRatio`] too.
        pub fn aspect_ratio(self, value: impl Into<EditAspectRatio>) -> Self {
            let value = value.into();
            self.set(|w| {
                w.aspect_ratio = Some(edit_aspect_ratio(value)?);
                Ok(())
            })
        }

        /// Resolution tier (server default 1K; supported tiers vary by model).
        pub fn resolution(self, value: Resolution) -> Self {
            self.set(|w| {
                w.resolution = Some(convert("resolution", value.as_str())?);
                Ok(())
            })
        }

        setters! {
            /// Output format (server default: PNG at 1K, JPEG at 2K and 4K).
            output_format(Format) => output_format;
            /// Blur adult content (server default true).
            safe_mode(bool) => safe_mode;
            /// Let the server rewrite the prompt from the image first (extra charge); the
            /// rewrite comes back in [`ResponseMeta::enhanced_prompt`](crate::ResponseMeta).
            enhance_prompt(bool) => enhance_prompt;
            /// Skip the model's prompt-optimisation thinking step (models that support it).
            disable_prompt_optimization_thinking(bool) => disable_prompt_optimization_thinking;
        }
    };
}

/// A validated edit: one image (file, bytes, base64 or URL) changed as the prompt says.
///
/// ```
/// use venice_image::{AspectRatio, EditRequest, Format, ImageInput};
///
/// let request = EditRequest::builder(
///         "change the sky to a sunrise",
///         ImageInput::from_url("https://example.com/harbour.jpg")?,
///     )
///     .model("qwen-edit-uncensored")
///     .aspect_ratio(AspectRatio::new(16, 9)?)
///     .output_format(Format::Webp)
///     .build()?;
/// assert_eq!(request.model(), Some("qwen-edit-uncensored"));
/// # Ok::<(), venice_image::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct EditRequest {
    image: ImageInput,
    /// The wire body; its `image` is put in per call ([`Self::wire_for`]).
    wire: types::EditImageRequest,
}

impl EditRequest {
    /// A builder for editing `image` as `prompt` says.
    pub fn builder(prompt: impl Into<String>, image: ImageInput) -> EditRequestBuilder {
        let prompt = prompt.into();
        let wire = check_prompt(&prompt, MAX_EDIT_PROMPT_CHARS).and_then(|()| {
            Ok(types::EditImageRequest::builder()
                .prompt(convert::<types::EditImageRequestPrompt, _>(
                    "prompt", prompt,
                )?)
                .image(unsent_image::<types::EditImageRequestImage>()))
        });
        EditRequestBuilder {
            image,
            wire: Draft::start(wire),
        }
    }

    /// The edit model, when set (server default `firered-image-edit`).
    pub fn model(&self) -> Option<&str> {
        self.wire.model.as_deref().map(String::as_str)
    }

    /// The prompt.
    pub fn prompt(&self) -> &str {
        &self.wire.prompt
    }

    /// The requested output format, when set.
    pub fn output_format(&self) -> Option<Format> {
        self.wire.output_format.map(Format::from)
    }

    /// The input image.
    pub fn image(&self) -> &ImageInput {
        &self.image
    }

    edit_getters!();

    /// The body to send, with the image registered in `uploads`.
    pub(crate) fn wire_for(
        &self,
        uploads: &mut Uploads,
    ) -> Result<types::EditImageRequest, ValidationError> {
        let mut wire = self.wire.clone();
        wire.image = convert("image", self.image.wire_value(uploads)?)?;
        Ok(wire)
    }
}

/// Builder of [`EditRequest`].
#[derive(Clone, Debug)]
#[must_use]
pub struct EditRequestBuilder {
    image: ImageInput,
    wire: Draft<types::EditImageRequest>,
}

impl EditRequestBuilder {
    /// Edit model ID (`GET /models?type=inpaint`; server default `firered-image-edit`).
    pub fn model(self, model: impl Into<String>) -> Self {
        let model = model.into();
        self.set(|w| {
            if model.trim().is_empty() {
                return Err(ValidationError::new("model", "must not be empty"));
            }
            w.model = Some(convert("model", model)?);
            Ok(())
        })
    }

    edit_setters!(types::EditImageRequest);

    /// Check the rules: a non-empty prompt of at most 32,768 characters, a non-empty
    /// model name, and an image of 65,536 to 33,177,600 pixels when its header was
    /// readable.
    pub fn build(self) -> Result<EditRequest, ValidationError> {
        let wire = self.wire.finish()?;
        self.image
            .check_pixels("image", MIN_INPUT_PIXELS, Some(MAX_EDIT_INPUT_PIXELS))?;
        Ok(EditRequest {
            image: self.image,
            wire,
        })
    }
}

/// A validated multi-edit: a base image plus layers (masks, overlays, references),
/// composed as the prompt says. The most images a model takes is its
/// `maxInputImages` in the catalogue (3 when it gives none, 1 when `combineImages` is
/// false), checked with the model's other edit rules before anything is uploaded
/// ([`Client::edit_models`](crate::Client::edit_models)).
///
/// ```
/// use venice_image::{ImageInput, MultiEditRequest, Quality};
///
/// # fn demo(base: Vec<u8>, logo: Vec<u8>) -> venice_image::Result<()> {
/// let request = MultiEditRequest::builder("put the logo on the mug", ImageInput::from_bytes(base)?)
///     .layer(ImageInput::from_bytes(logo)?)
///     .quality(Quality::High)
///     .build()?;
/// assert_eq!(request.images().len(), 2);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct MultiEditRequest {
    images: Vec<ImageInput>,
    /// The wire body; its `images` are put in per call ([`Self::wire_for`]).
    wire: types::MultiEditImageRequest,
}

impl MultiEditRequest {
    /// A builder for editing `base` as `prompt` says; add layers with
    /// [`layer`](MultiEditRequestBuilder::layer).
    pub fn builder(prompt: impl Into<String>, base: ImageInput) -> MultiEditRequestBuilder {
        let prompt = prompt.into();
        let wire = check_prompt(&prompt, MAX_EDIT_PROMPT_CHARS).and_then(|()| {
            Ok(types::MultiEditImageRequest::builder()
                .prompt(convert::<types::MultiEditImageRequestPrompt, _>(
                    "prompt", prompt,
                )?)
                .images(Vec::<types::MultiEditImageRequestImagesItem>::new()))
        });
        MultiEditRequestBuilder {
            images: vec![base],
            wire: Draft::start(wire),
        }
    }

    /// The images: the base, then the layers.
    pub fn images(&self) -> &[ImageInput] {
        &self.images
    }

    /// The edit model, when set (server default `firered-image-edit`).
    pub fn model(&self) -> Option<&str> {
        self.wire.model_id.as_deref().map(String::as_str)
    }

    /// The prompt.
    pub fn prompt(&self) -> &str {
        &self.wire.prompt
    }

    /// The requested output format, when set.
    pub fn output_format(&self) -> Option<Format> {
        self.wire.output_format.map(Format::from)
    }

    edit_getters!();

    /// The requested quality, when set.
    pub fn quality(&self) -> Option<Quality> {
        self.wire.quality.and_then(|q| q.to_string().parse().ok())
    }

    /// The body to send, with the images registered in `uploads`.
    pub(crate) fn wire_for(
        &self,
        uploads: &mut Uploads,
    ) -> Result<types::MultiEditImageRequest, ValidationError> {
        let mut wire = self.wire.clone();
        wire.images = self
            .images
            .iter()
            .map(|i| convert("images[]", i.wire_value(uploads)?))
            .collect::<Result<_, _>>()?;
        Ok(wire)
    }
}

/// Builder of [`MultiEditRequest`].
#[derive(Clone, Debug)]
#[must_use]
pub struct MultiEditRequestBuilder {
    images: Vec<ImageInput>,
    wire: Draft<types::MultiEditImageRequest>,
}

impl MultiEditRequestBuilder {
    /// Add a layer (mask, overlay, reference) on top of the base and the layers
    /// before it.
    pub fn layer(mut self, image: ImageInput) -> Self {
        self.images.push(image);
        self
    }

    /// Add several layers, in order.
    pub fn layers(mut self, images: impl IntoIterator<Item = ImageInput>) -> Self {
        self.images.extend(images);
        self
    }

    /// Edit model ID (server default `firered-image-edit`); sent as `modelId`.
    pub fn model(self, model: impl Into<String>) -> Self {
        let model = model.into();
        self.set(|w| {
            if model.trim().is_empty() {
                return Err(ValidationError::new("modelId", "must not be empty"));
            }
            w.model_id = Some(convert("modelId", model)?);
            Ok(())
        })
    }

    setters! {
        /// Output quality (models that offer it; higher costs more).
        quality(Quality) => quality;
    }

    edit_setters!(types::MultiEditImageRequest);

    /// Check the rules: each image of 65,536 to 33,177,600 pixels when its header was
    /// readable, and the prompt rules of [`EditRequestBuilder::build`].
    pub fn build(self) -> Result<MultiEditRequest, ValidationError> {
        let wire = self.wire.finish()?;
        for (i, image) in self.images.iter().enumerate() {
            image.check_pixels(
                &format!("images[{i}]"),
                MIN_INPUT_PIXELS,
                Some(MAX_EDIT_INPUT_PIXELS),
            )?;
        }
        Ok(MultiEditRequest {
            images: self.images,
            wire,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::format::tests::png_header;

    #[test]
    fn aspect_ratios() {
        for r in EDIT_ASPECT_RATIOS {
            let v: EditAspectRatio = r.parse().unwrap();
            assert!(v.is_supported());
            assert_eq!(v.to_string(), r);
            assert!(edit_aspect_ratio(v).is_ok());
        }
        assert_eq!(
            edit_aspect_ratio(EditAspectRatio::Auto).unwrap(),
            types::EditAspectRatio::Auto
        );
        let odd: EditAspectRatio = "5:4".parse().unwrap();
        assert!(!odd.is_supported());
        let img = ImageInput::from_bytes(png_header(512, 512)).unwrap();
        let e = EditRequest::builder("x", img)
            .aspect_ratio(AspectRatio::new(5, 4).unwrap())
            .build()
            .unwrap_err();
        assert_eq!(e.field, "aspect_ratio");
        assert!("wide".parse::<EditAspectRatio>().is_err());
    }

    #[test]
    fn rules_and_wire_fields() {
        let img = || ImageInput::from_bytes(png_header(512, 512)).unwrap();
        assert_eq!(
            EditRequest::builder(" ", img()).build().unwrap_err().field,
            "prompt"
        );
        let huge = ImageInput::from_bytes(png_header(8000, 5000)).unwrap();
        let e = EditRequest::builder("x", huge).build().unwrap_err();
        assert!(e.rule.contains("33177600"), "{e}");
        let tiny = ImageInput::from_bytes(png_header(10, 10)).unwrap();
        let e = MultiEditRequest::builder("x", img())
            .layer(tiny)
            .build()
            .unwrap_err();
        assert_eq!(e.field, "images[1]");

        let r = MultiEditRequest::builder("x", img())
            .model("m")
            .resolution(Resolution::TwoK)
            .output_format(Format::Jpeg)
            .build()
            .unwrap();
        let mut uploads = Uploads::new();
        let v = serde_json::to_value(r.wire_for(&mut uploads).unwrap()).unwrap();
        let placeholder = v["images"][0].as_str().unwrap().to_owned();
        assert!(placeholder.starts_with("venice-upload:"), "{placeholder}");
        assert_eq!(
            v,
            serde_json::json!({"images": [placeholder], "modelId": "m", "prompt": "x", "resolution": "2K", "output_format": "jpeg"})
        );
        let r = EditRequest::builder("x", img()).model("m").build().unwrap();
        let v = serde_json::to_value(r.wire_for(&mut uploads).unwrap()).unwrap();
        assert_eq!(v["model"], "m");
        let url = ImageInput::from_url("https://x.test/a.png").unwrap();
        let r = EditRequest::builder("x", url).build().unwrap();
        let v = serde_json::to_value(r.wire_for(&mut uploads).unwrap()).unwrap();
        assert_eq!(v["image"], "https://x.test/a.png");
    }
}
