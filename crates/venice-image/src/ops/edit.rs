//! [`EditRequest`] (`POST /image/edit`) and [`MultiEditRequest`] (`POST /image/multi-edit`).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::input::{ImageInput, MAX_EDIT_INPUT_PIXELS, MIN_INPUT_PIXELS};
use crate::generate::ValidationError;
use crate::image::Format;
use crate::sizing::{Quality, Resolution};

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

impl Serialize for EditAspectRatio {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

fn wire<T: fmt::Display, S: serde::Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// Options shared by edit and multi-edit (everything but the images and the model key).
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct EditFields {
    prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    aspect_ratio: Option<EditAspectRatio>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "wire")]
    resolution: Option<Resolution>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "wire")]
    quality: Option<Quality>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "wire")]
    output_format: Option<Format>,
    #[serde(skip_serializing_if = "Option::is_none")]
    safe_mode: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enhance_prompt: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disable_prompt_optimization_thinking: Option<bool>,
}

impl EditFields {
    fn check(&self) -> Result<(), ValidationError> {
        if self.prompt.trim().is_empty() {
            return Err(ValidationError::new("prompt", "must not be empty"));
        }
        let n = self.prompt.chars().count();
        if n > MAX_EDIT_PROMPT_CHARS {
            return Err(ValidationError::new(
                "prompt",
                format!("{n} characters; at most {MAX_EDIT_PROMPT_CHARS}"),
            ));
        }
        Ok(())
    }
}

/// The JSON fields besides the image(s): the model under `key`, then the options.
#[derive(Serialize)]
pub(crate) struct WithModel<'a> {
    #[serde(flatten)]
    pub model: std::collections::BTreeMap<&'static str, &'a str>,
    #[serde(flatten)]
    pub fields: &'a EditFields,
}

fn model_map<'a>(
    key: &'static str,
    model: Option<&'a str>,
) -> std::collections::BTreeMap<&'static str, &'a str> {
    model.map(|m| (key, m)).into_iter().collect()
}

macro_rules! edit_setters {
    () => {
        /// Output aspect ratio (default: inferred from the input).
        pub fn aspect_ratio(mut self, value: EditAspectRatio) -> Self {
            self.fields.aspect_ratio = Some(value);
            self
        }

        /// Resolution tier (server default 1K; supported tiers vary by model).
        pub fn resolution(mut self, value: Resolution) -> Self {
            self.fields.resolution = Some(value);
            self
        }

        /// Output format (server default: PNG at 1K, JPEG at 2K and 4K).
        pub fn output_format(mut self, value: Format) -> Self {
            self.fields.output_format = Some(value);
            self
        }

        /// Blur adult content (server default true).
        pub fn safe_mode(mut self, value: bool) -> Self {
            self.fields.safe_mode = Some(value);
            self
        }

        /// Let the server rewrite the prompt from the image first (extra charge); the
        /// rewrite comes back in [`ResponseMeta::enhanced_prompt`](crate::ResponseMeta).
        pub fn enhance_prompt(mut self, value: bool) -> Self {
            self.fields.enhance_prompt = Some(value);
            self
        }

        /// Skip the model's prompt-optimisation thinking step (models that support it).
        pub fn disable_prompt_optimization_thinking(mut self, value: bool) -> Self {
            self.fields.disable_prompt_optimization_thinking = Some(value);
            self
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
    pub(crate) image: ImageInput,
    pub(crate) model: Option<String>,
    pub(crate) fields: EditFields,
}

impl EditRequest {
    /// A builder for editing `image` as `prompt` says.
    pub fn builder(prompt: impl Into<String>, image: ImageInput) -> EditRequestBuilder {
        EditRequestBuilder {
            image,
            model: None,
            fields: EditFields {
                prompt: prompt.into(),
                ..EditFields::default()
            },
        }
    }

    /// The edit model, when set (server default `firered-image-edit`).
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The prompt.
    pub fn prompt(&self) -> &str {
        &self.fields.prompt
    }

    /// The requested output format, when set.
    pub fn output_format(&self) -> Option<Format> {
        self.fields.output_format
    }

    /// The input image.
    pub fn image(&self) -> &ImageInput {
        &self.image
    }

    pub(crate) fn rest(&self) -> WithModel<'_> {
        WithModel {
            model: model_map("model", self.model.as_deref()),
            fields: &self.fields,
        }
    }
}

/// Builder of [`EditRequest`].
#[derive(Clone, Debug)]
#[must_use]
pub struct EditRequestBuilder {
    image: ImageInput,
    model: Option<String>,
    fields: EditFields,
}

impl EditRequestBuilder {
    /// Edit model ID (`GET /models?type=inpaint`; server default `firered-image-edit`).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    edit_setters!();

    /// Check the rules: a non-empty prompt of at most 32,768 characters, a non-empty
    /// model name, and an image of 65,536 to 33,177,600 pixels when its header was
    /// readable.
    pub fn build(self) -> Result<EditRequest, ValidationError> {
        self.fields.check()?;
        if self.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err(ValidationError::new("model", "must not be empty"));
        }
        self.image
            .check_pixels("image", MIN_INPUT_PIXELS, Some(MAX_EDIT_INPUT_PIXELS))?;
        Ok(EditRequest {
            image: self.image,
            model: self.model,
            fields: self.fields,
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
    pub(crate) images: Vec<ImageInput>,
    pub(crate) model: Option<String>,
    pub(crate) fields: EditFields,
}

impl MultiEditRequest {
    /// A builder; add the base image first with [`image`](MultiEditRequestBuilder::image).
    pub fn builder(prompt: impl Into<String>) -> MultiEditRequestBuilder {
        MultiEditRequestBuilder {
            images: Vec::new(),
            model: None,
            fields: EditFields {
                prompt: prompt.into(),
                ..EditFields::default()
            },
        }
    }

    /// The images, base first.
    pub fn images(&self) -> &[ImageInput] {
        &self.images
    }

    /// The edit model, when set (server default `firered-image-edit`).
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The prompt.
    pub fn prompt(&self) -> &str {
        &self.fields.prompt
    }

    /// The requested output format, when set.
    pub fn output_format(&self) -> Option<Format> {
        self.fields.output_format
    }

    pub(crate) fn rest(&self) -> WithModel<'_> {
        // Multi-edit names the model `modelId` (edit uses `model`).
        WithModel {
            model: model_map("modelId", self.model.as_deref()),
            fields: &self.fields,
        }
    }
}

/// Builder of [`MultiEditRequest`].
#[derive(Clone, Debug)]
#[must_use]
pub struct MultiEditRequestBuilder {
    images: Vec<ImageInput>,
    model: Option<String>,
    fields: EditFields,
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

    /// Edit model ID (server default `firered-image-edit`).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Output quality (models that offer it; higher costs more).
    pub fn quality(mut self, value: Quality) -> Self {
        self.fields.quality = Some(value);
        self
    }

    edit_setters!();

    /// Check the rules: at least one image, each of 65,536 to 33,177,600 pixels when its
    /// header was readable, and the prompt rules of [`EditRequestBuilder::build`].
    pub fn build(self) -> Result<MultiEditRequest, ValidationError> {
        self.fields.check()?;
        if self.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err(ValidationError::new("modelId", "must not be empty"));
        }
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
            model: self.model,
            fields: self.fields,
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
        let v = serde_json::to_value(r.rest()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"modelId": "m", "prompt": "x", "resolution": "2K", "output_format": "jpeg"})
        );
        let r = EditRequest::builder("x", img()).model("m").build().unwrap();
        assert_eq!(serde_json::to_value(r.rest()).unwrap()["model"], "m");
    }
}
