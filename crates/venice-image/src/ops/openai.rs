//! [`OpenAiGenerateRequest`]: the OpenAI-compatible `POST /images/generations`.

use venice_openapi::types;

use crate::error::ValidationError;
use crate::format::Format;
use crate::limits::MAX_OPENAI_PROMPT_CHARS;
use crate::wire::{Draft, check_prompt, convert, setters};

// The values of these fields are the spec's: the generated enums carry them (with
// `ALL`, `as_str`, `parse_ignore_case` and, for command lines, `clap::ValueEnum`), so
// a value added to the spec reaches this API by regeneration alone.

/// Output size of the OpenAI-compatible endpoint (`auto` is 1024x1024).
pub use types::SimpleGenerateImageRequestSize as OpenAiSize;

/// How the OpenAI-compatible endpoint returns the image (`b64_json` by default, or a
/// `data:` URL in `url`). Either way
/// [`Client::openai_generate`](crate::Client::openai_generate) decodes it.
pub use types::SimpleGenerateImageRequestResponseFormat as ResponseFormat;

/// Content moderation of the OpenAI-compatible endpoint (`auto`, the default, blurs
/// adult content; `low` does not).
pub use types::SimpleGenerateImageRequestModeration as Moderation;

/// OpenAI's `quality` (accepted by Venice for compatibility, not used).
pub use types::SimpleGenerateImageRequestQuality as OpenAiQuality;

/// OpenAI's `style` (accepted by Venice for compatibility, not used).
pub use types::SimpleGenerateImageRequestStyle as OpenAiStyle;

/// OpenAI's `background` (accepted by Venice for compatibility, not used).
pub use types::SimpleGenerateImageRequestBackground as OpenAiBackground;

/// A validated OpenAI-compatible generation. Venice returns one image per request (`n`
/// must be 1) and needs a model (without one it answers 400 "model is required"; an
/// unknown name falls back to its default model), so the model is a required argument.
/// The prompt is limited to 1,500 characters whatever the model. The fields OpenAI has
/// and Venice accepts without using them (`quality`, `style`, `background`,
/// `output_compression`, `user`) have setters too, so an OpenAI request can be replayed
/// as is.
///
/// ```
/// use venice_image::{Format, Moderation, OpenAiGenerateRequest, OpenAiSize, ResponseFormat};
///
/// let request = OpenAiGenerateRequest::builder("venice-sd35", "a lighthouse at dusk")
///     .size(OpenAiSize::X1024x1536)
///     .response_format(ResponseFormat::Url)
///     .output_format(Format::Png)
///     .moderation(Moderation::Low)
///     .build()?;
/// assert_eq!(request.prompt(), "a lighthouse at dusk");
/// # Ok::<(), venice_image::ValidationError>(())
/// ```
#[derive(Clone, Debug)]
pub struct OpenAiGenerateRequest {
    wire: types::SimpleGenerateImageRequest,
}

impl OpenAiGenerateRequest {
    /// A builder for `prompt` drawn by `model` (an image model ID; the catalogue's
    /// model with the `default` trait is the provider's default).
    pub fn builder(
        model: impl Into<String>,
        prompt: impl Into<String>,
    ) -> OpenAiGenerateRequestBuilder {
        let (model, prompt) = (model.into(), prompt.into());
        let wire = check_model(&model)
            .and_then(|()| check_prompt(&prompt, MAX_OPENAI_PROMPT_CHARS))
            .and_then(|()| {
                Ok(types::SimpleGenerateImageRequest::builder()
                    .model(convert::<types::SimpleGenerateImageRequestModel, _>(
                        "model", model,
                    )?)
                    .prompt(convert::<types::SimpleGenerateImageRequestPrompt, _>(
                        "prompt", prompt,
                    )?))
            });
        OpenAiGenerateRequestBuilder {
            wire: Draft::start(wire),
        }
    }

    /// The generated wire value sent as the body.
    pub(crate) fn wire(&self) -> &types::SimpleGenerateImageRequest {
        &self.wire
    }

    /// The prompt.
    pub fn prompt(&self) -> &str {
        &self.wire.prompt
    }

    /// The model (an unknown name falls back to the server's default model).
    pub fn model(&self) -> &str {
        self.wire.model.as_str()
    }

    /// The requested output format, when set (server default PNG).
    pub fn output_format(&self) -> Option<Format> {
        self.wire.output_format.map(Format::from)
    }

    /// The requested response format, when set (server default `b64_json`).
    pub fn response_format(&self) -> Option<ResponseFormat> {
        self.wire.response_format
    }

    /// The request body as JSON, exactly as sent.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.wire).unwrap_or_default()
    }
}

fn check_model(model: &str) -> Result<(), ValidationError> {
    if model.trim().is_empty() {
        return Err(ValidationError::new(
            "model",
            "must not be empty (the API answers 400 \"model is required\")",
        ));
    }
    Ok(())
}

/// Builder of [`OpenAiGenerateRequest`].
#[derive(Clone, Debug)]
#[must_use]
pub struct OpenAiGenerateRequestBuilder {
    wire: Draft<types::SimpleGenerateImageRequest>,
}

impl OpenAiGenerateRequestBuilder {
    /// Apply `set` to the wire value unless an earlier setter failed.
    fn set(
        mut self,
        set: impl FnOnce(&mut types::SimpleGenerateImageRequest) -> Result<(), ValidationError>,
    ) -> Self {
        self.wire = self.wire.set(set);
        self
    }

    /// Replace the image model ID.
    pub fn model(self, model: impl Into<String>) -> Self {
        let model = model.into();
        self.set(|w| {
            check_model(&model)?;
            w.model = convert("model", model)?;
            Ok(())
        })
    }

    setters! {
        /// Output size (server default `auto`, i.e. 1024x1024).
        size(OpenAiSize) => size;
        /// `b64_json` or `url` (a data URL); decoded the same either way.
        response_format(ResponseFormat) => response_format;
        /// Output image format (server default PNG).
        output_format(Format) => output_format;
        /// Moderation (server default `auto`: safe mode on).
        moderation(Moderation) => moderation;
        /// OpenAI's `quality` (accepted, not used by Venice).
        quality(OpenAiQuality) => quality;
        /// OpenAI's `style` (accepted, not used by Venice).
        style(OpenAiStyle) => style;
        /// OpenAI's `background` (accepted, not used by Venice).
        background(OpenAiBackground) => background;
        /// OpenAI's end-user identifier (accepted, not used by Venice).
        user(impl Into<String>) => user;
    }

    /// Number of images: Venice returns one per request, so only 1 is accepted (server
    /// default 1); any other value fails [`build`](Self::build).
    pub fn n(self, n: u8) -> Self {
        self.set(|w| {
            if n != 1 {
                return Err(ValidationError::new(
                    "n",
                    format!("must be 1 (Venice returns one image per request), got {n}"),
                ));
            }
            w.n = std::num::NonZeroU64::new(1);
            Ok(())
        })
    }

    /// OpenAI's `output_compression`, 0..=100 (accepted, not used by Venice).
    pub fn output_compression(self, compression: u8) -> Self {
        self.set(|w| {
            if compression > 100 {
                return Err(ValidationError::new(
                    "output_compression",
                    format!("must be in 0..=100, got {compression}"),
                ));
            }
            w.output_compression = Some(i64::from(compression));
            Ok(())
        })
    }

    /// Check the rules: a non-empty prompt of at most 1,500 characters.
    pub fn build(self) -> Result<OpenAiGenerateRequest, ValidationError> {
        Ok(OpenAiGenerateRequest {
            wire: self.wire.finish()?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wire_values() {
        for s in OpenAiSize::ALL {
            assert_eq!(s.as_str().parse::<OpenAiSize>().unwrap(), *s);
        }
        assert!("100x100".parse::<OpenAiSize>().is_err());
        let r = OpenAiGenerateRequest::builder("m", "p")
            .size(OpenAiSize::X512x512)
            .response_format(ResponseFormat::Url)
            .output_format(Format::Webp)
            .moderation(Moderation::Low)
            .build()
            .unwrap();
        assert_eq!(
            r.to_json(),
            serde_json::json!({"model": "m", "prompt": "p", "size": "512x512", "response_format": "url",
                               "output_format": "webp", "moderation": "low"})
        );
        assert!(
            OpenAiGenerateRequest::builder("m", "x".repeat(1501))
                .build()
                .is_err()
        );
        let r = OpenAiGenerateRequest::builder("m", "p")
            .n(1)
            .quality(OpenAiQuality::Hd)
            .style(OpenAiStyle::Vivid)
            .background(OpenAiBackground::Opaque)
            .output_compression(80)
            .user("u")
            .build()
            .unwrap();
        assert_eq!(
            r.to_json(),
            serde_json::json!({"model": "m", "prompt": "p", "n": 1, "quality": "hd", "style": "vivid",
                               "background": "opaque", "output_compression": 80, "user": "u"})
        );
        let n2 = OpenAiGenerateRequest::builder("m", "p")
            .n(2)
            .build()
            .unwrap_err();
        assert_eq!(n2.field, "n");
        for blank in ["", "  "] {
            let e = OpenAiGenerateRequest::builder(blank, "p")
                .build()
                .unwrap_err();
            assert_eq!(e.field, "model");
            let e = OpenAiGenerateRequest::builder("m", "p")
                .model(blank)
                .build()
                .unwrap_err();
            assert_eq!(e.field, "model");
        }
        let r = OpenAiGenerateRequest::builder("m", "p")
            .model("z-image-turbo")
            .build()
            .unwrap();
        assert_eq!(r.model(), "z-image-turbo");
        let c = OpenAiGenerateRequest::builder("m", "p")
            .output_compression(101)
            .build()
            .unwrap_err();
        assert_eq!(c.field, "output_compression");
        for q in OpenAiQuality::ALL {
            assert!(
                OpenAiGenerateRequest::builder("m", "p")
                    .quality(*q)
                    .build()
                    .is_ok()
            );
        }
        for s in OpenAiStyle::ALL {
            assert!(
                OpenAiGenerateRequest::builder("m", "p")
                    .style(*s)
                    .build()
                    .is_ok()
            );
        }
        for b in OpenAiBackground::ALL {
            assert!(
                OpenAiGenerateRequest::builder("m", "p")
                    .background(*b)
                    .build()
                    .is_ok()
            );
        }
    }

    #[test]
    fn every_value_is_one_the_spec_accepts() {
        // A value dropped from the spec's enum fails here, not on the wire.
        for size in OpenAiSize::ALL {
            let r = OpenAiGenerateRequest::builder("m", "p").size(*size).build();
            assert!(r.is_ok(), "{size}: {r:?}");
        }
        for format in ResponseFormat::ALL {
            let r = OpenAiGenerateRequest::builder("m", "p")
                .response_format(*format)
                .build()
                .unwrap();
            assert_eq!(r.response_format(), Some(*format));
        }
        for moderation in Moderation::ALL {
            let r = OpenAiGenerateRequest::builder("m", "p")
                .moderation(*moderation)
                .build();
            assert!(r.is_ok(), "{moderation}: {r:?}");
        }
    }
}
