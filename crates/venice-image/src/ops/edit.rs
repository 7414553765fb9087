//! [`EditRequest`] (`POST /image/edit`) and [`MultiEditRequest`] (`POST /image/multi-edit`).

use std::fmt;
use std::str::FromStr;

use venice_openapi::{Uploads, types};

use super::input::{ImageInput, MAX_EDIT_INPUT_PIXELS, MIN_INPUT_PIXELS, unsent_image};
use crate::error::ValidationError;
use crate::image::Format;
use crate::sizing::{Quality, Resolution};
use crate::wire::{builder_error, convert};

/// Longest edit prompt the API accepts; each model may allow fewer
/// (`promptCharacterLimit` in the catalogue).
pub const MAX_EDIT_PROMPT_CHARS: usize = 32_768;

/// Output aspect ratio of an edit. `Auto` (or leaving it unset) lets the server pick the
/// supported ratio closest to the (first) input image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EditAspectRatio {
    /// Closest supported ratio to the input.
    Auto,
    /// `1:1`.
    Square,
    /// `3:2`.
    Landscape3x2,
    /// `16:9`.
    Landscape16x9,
    /// `21:9`.
    Landscape21x9,
    /// `9:16`.
    Portrait9x16,
    /// `2:3`.
    Portrait2x3,
    /// `3:4`.
    Portrait3x4,
    /// `4:5`.
    Portrait4x5,
}

impl EditAspectRatio {
    /// Every value, in the spec's order.
    pub const ALL: [EditAspectRatio; 9] = [
        Self::Auto,
        Self::Square,
        Self::Landscape3x2,
        Self::Landscape16x9,
        Self::Landscape21x9,
        Self::Portrait9x16,
        Self::Portrait2x3,
        Self::Portrait3x4,
        Self::Portrait4x5,
    ];

    /// The wire value (`auto`, `16:9`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Square => "1:1",
            Self::Landscape3x2 => "3:2",
            Self::Landscape16x9 => "16:9",
            Self::Landscape21x9 => "21:9",
            Self::Portrait9x16 => "9:16",
            Self::Portrait2x3 => "2:3",
            Self::Portrait3x4 => "3:4",
            Self::Portrait4x5 => "4:5",
        }
    }
}

impl fmt::Display for EditAspectRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EditAspectRatio {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                ValidationError::new(
                    "aspect_ratio",
                    format!(
                        "expected auto, 1:1, 3:2, 16:9, 21:9, 9:16, 2:3, 3:4 or 4:5, got {s:?}"
                    ),
                )
            })
    }
}

impl From<EditAspectRatio> for types::EditAspectRatio {
    fn from(r: EditAspectRatio) -> Self {
        match r {
            EditAspectRatio::Auto => Self::Auto,
            EditAspectRatio::Square => Self::X11,
            EditAspectRatio::Landscape3x2 => Self::X32,
            EditAspectRatio::Landscape16x9 => Self::X169,
            EditAspectRatio::Landscape21x9 => Self::X219,
            EditAspectRatio::Portrait9x16 => Self::X916,
            EditAspectRatio::Portrait2x3 => Self::X23,
            EditAspectRatio::Portrait3x4 => Self::X34,
            EditAspectRatio::Portrait4x5 => Self::X45,
        }
    }
}

fn check_prompt(prompt: &str) -> Result<(), ValidationError> {
    if prompt.trim().is_empty() {
        return Err(ValidationError::new("prompt", "must not be empty"));
    }
    let n = prompt.chars().count();
    if n > MAX_EDIT_PROMPT_CHARS {
        return Err(ValidationError::new(
            "prompt",
            format!("{n} characters; at most {MAX_EDIT_PROMPT_CHARS}"),
        ));
    }
    Ok(())
}

/// The setters edit and multi-edit share: the same wire fields in both bodies.
macro_rules! edit_setters {
    ($wire:ty) => {
        /// Apply `set` to the wire value unless an earlier setter failed.
        fn set(mut self, set: impl FnOnce(&mut $wire) -> Result<(), ValidationError>) -> Self {
            if let Ok(wire) = &mut self.wire
                && let Err(e) = set(wire)
            {
                self.wire = Err(e);
            }
            self
        }

        /// Output aspect ratio (default: inferred from the input).
        pub fn aspect_ratio(self, value: EditAspectRatio) -> Self {
            self.set(|w| {
                w.aspect_ratio = Some(value.into());
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

        /// Output format (server default: PNG at 1K, JPEG at 2K and 4K).
        pub fn output_format(self, value: Format) -> Self {
            self.set(|w| {
                w.output_format = Some(value.into());
                Ok(())
            })
        }

        /// Blur adult content (server default true).
        pub fn safe_mode(self, value: bool) -> Self {
            self.set(|w| {
                w.safe_mode = Some(value);
                Ok(())
            })
        }

        /// Let the server rewrite the prompt from the image first (extra charge); the
        /// rewrite comes back in [`ResponseMeta::enhanced_prompt`](crate::ResponseMeta).
        pub fn enhance_prompt(self, value: bool) -> Self {
            self.set(|w| {
                w.enhance_prompt = Some(value);
                Ok(())
            })
        }

        /// Skip the model's prompt-optimisation thinking step (models that support it).
        pub fn disable_prompt_optimization_thinking(self, value: bool) -> Self {
            self.set(|w| {
                w.disable_prompt_optimization_thinking = Some(value);
                Ok(())
            })
        }
    };
}

/// A validated edit: one image (file, bytes, base64 or URL) changed as the prompt says.
///
/// ```
/// use venice_image::{EditAspectRatio, EditRequest, Format, ImageInput};
///
/// let request = EditRequest::builder(
///         "change the sky to a sunrise",
///         ImageInput::from_url("https://example.com/harbour.jpg")?,
///     )
///     .model("qwen-edit-uncensored")
///     .aspect_ratio(EditAspectRatio::Landscape16x9)
///     .output_format(Format::Webp)
///     .build()?;
/// assert_eq!(request.model(), Some("qwen-edit-uncensored"));
/// # Ok::<(), venice_image::ValidationError>(())
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
        let wire = check_prompt(&prompt).and_then(|()| {
            types::EditImageRequest::builder()
                .prompt(prompt)
                .image(unsent_image::<types::EditImageRequestImage>())
                .try_into()
                .map_err(builder_error)
        });
        EditRequestBuilder { image, wire }
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
    wire: Result<types::EditImageRequest, ValidationError>,
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
        let wire = self.wire?;
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
/// `maxInputImages` in the catalogue; the server enforces it.
///
/// ```
/// use venice_image::{ImageInput, MultiEditRequest, Quality};
///
/// # fn demo(base: Vec<u8>, logo: Vec<u8>) -> Result<(), venice_image::ValidationError> {
/// let request = MultiEditRequest::builder("put the logo on the mug")
///     .image(ImageInput::from_bytes(base)?)
///     .image(ImageInput::from_bytes(logo)?)
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
    /// A builder; add the base image first with [`image`](MultiEditRequestBuilder::image).
    pub fn builder(prompt: impl Into<String>) -> MultiEditRequestBuilder {
        let prompt = prompt.into();
        let wire = check_prompt(&prompt).and_then(|()| {
            types::MultiEditImageRequest::builder()
                .prompt(prompt)
                .images(Vec::<types::MultiEditImageRequestImagesItem>::new())
                .try_into()
                .map_err(builder_error)
        });
        MultiEditRequestBuilder {
            images: Vec::new(),
            wire,
        }
    }

    /// The images, base first.
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
    wire: Result<types::MultiEditImageRequest, ValidationError>,
}

impl MultiEditRequestBuilder {
    /// Add an image; the first one is the base.
    pub fn image(mut self, image: ImageInput) -> Self {
        self.images.push(image);
        self
    }

    /// Add several images, in order.
    pub fn images(mut self, images: impl IntoIterator<Item = ImageInput>) -> Self {
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

    /// Output quality (models that offer it; higher costs more).
    pub fn quality(self, value: Quality) -> Self {
        self.set(|w| {
            w.quality = Some(value.into());
            Ok(())
        })
    }

    edit_setters!(types::MultiEditImageRequest);

    /// Check the rules: at least one image, each of 65,536 to 33,177,600 pixels when its
    /// header was readable, and the prompt rules of [`EditRequestBuilder::build`].
    pub fn build(self) -> Result<MultiEditRequest, ValidationError> {
        let wire = self.wire?;
        if self.images.is_empty() {
            return Err(ValidationError::new(
                "images",
                "at least one image (the base) is required",
            ));
        }
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
    use crate::image::tests::png_header;

    #[test]
    fn aspect_ratio_roundtrip() {
        for r in EditAspectRatio::ALL {
            assert_eq!(r.as_str().parse::<EditAspectRatio>().unwrap(), r);
        }
        assert!("5:4".parse::<EditAspectRatio>().is_err());
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
        let e = MultiEditRequest::builder("x").build().unwrap_err();
        assert_eq!(e.field, "images");
        let tiny = ImageInput::from_bytes(png_header(10, 10)).unwrap();
        let e = MultiEditRequest::builder("x")
            .image(img())
            .image(tiny)
            .build()
            .unwrap_err();
        assert_eq!(e.field, "images[1]");

        let r = MultiEditRequest::builder("x")
            .image(img())
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
