//! [`OpenAiImageRequest`]: the OpenAI-compatible `POST /images/generations`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::generate::ValidationError;
use crate::image::Format;

/// Longest prompt of the OpenAI-compatible endpoint.
pub const MAX_OPENAI_PROMPT_CHARS: usize = 1500;

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal { $($(#[$vdoc:meta])* $variant:ident => $s:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in the spec's order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The wire value.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $s,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let t = s.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(t))
                    .ok_or_else(|| {
                        let all: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                        ValidationError::new($field, format!("expected one of {}, got {s:?}", all.join(", ")))
                    })
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Output size of the OpenAI-compatible endpoint.
    OpenAiSize, "size" {
        /// 1024x1024 (the server's choice).
        Auto => "auto",
        /// 256x256.
        S256x256 => "256x256",
        /// 512x512.
        S512x512 => "512x512",
        /// 1024x1024.
        S1024x1024 => "1024x1024",
        /// 1536x1024.
        S1536x1024 => "1536x1024",
        /// 1024x1536.
        S1024x1536 => "1024x1536",
        /// 1792x1024.
        S1792x1024 => "1792x1024",
        /// 1024x1792.
        S1024x1792 => "1024x1792",
    }
);

wire_enum!(
    /// How the OpenAI-compatible endpoint returns the image. Either way
    /// [`Client::openai_generations`](crate::Client::openai_generations) decodes it.
    ResponseFormat, "response_format" {
        /// Base64 in `b64_json` (the default).
        B64Json => "b64_json",
        /// A `data:` URL in `url`.
        Url => "url",
    }
);

wire_enum!(
    /// Content moderation of the OpenAI-compatible endpoint.
    Moderation, "moderation" {
        /// Safe mode on: adult content is blurred (the default).
        Auto => "auto",
        /// Safe mode off.
        Low => "low",
    }
);

/// A validated OpenAI-compatible generation. Venice returns one image per request
/// (OpenAI's `n` is always 1, so there is no setter for it); fields OpenAI has but
/// Venice ignores (`quality`, `style`, `background`, ...) are left out.
///
/// ```
/// use venice_image::{Format, Moderation, OpenAiImageRequest, OpenAiSize, ResponseFormat};
///
/// let request = OpenAiImageRequest::builder("a lighthouse at dusk")
///     .model("venice-sd35")
///     .size(OpenAiSize::S1024x1536)
///     .response_format(ResponseFormat::Url)
///     .output_format(Format::Png)
///     .moderation(Moderation::Low)
///     .build()?;
/// assert_eq!(request.prompt(), "a lighthouse at dusk");
/// # Ok::<(), venice_image::ValidationError>(())
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct OpenAiImageRequest {
    prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<OpenAiSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_format"
    )]
    output_format: Option<Format>,
    #[serde(skip_serializing_if = "Option::is_none")]
    moderation: Option<Moderation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
}

fn serialize_format<S: serde::Serializer>(v: &Option<Format>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(f) => s.serialize_str(f.as_str()),
        None => s.serialize_none(),
    }
}

impl OpenAiImageRequest {
    /// A builder for `prompt`.
    pub fn builder(prompt: impl Into<String>) -> OpenAiImageRequestBuilder {
        OpenAiImageRequestBuilder {
            inner: OpenAiImageRequest {
                prompt: prompt.into(),
                model: None,
                size: None,
                response_format: None,
                output_format: None,
                moderation: None,
                user: None,
            },
        }
    }

    /// The prompt.
    pub fn prompt(&self) -> &str {
        &self.prompt
    }

    /// The model, when set (unknown names fall back to the server's default model).
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The requested output format, when set (server default PNG).
    pub fn output_format(&self) -> Option<Format> {
        self.output_format
    }

    /// The requested response format, when set (server default `b64_json`).
    pub fn response_format(&self) -> Option<ResponseFormat> {
        self.response_format
    }

    /// The request body as JSON, exactly as sent.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Builder of [`OpenAiImageRequest`].
#[derive(Clone, Debug)]
#[must_use]
pub struct OpenAiImageRequestBuilder {
    inner: OpenAiImageRequest,
}

impl OpenAiImageRequestBuilder {
    /// Image model ID (server default: Venice's default image model).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.inner.model = Some(model.into());
        self
    }

    /// Output size (server default `auto`, i.e. 1024x1024).
    pub fn size(mut self, size: OpenAiSize) -> Self {
        self.inner.size = Some(size);
        self
    }

    /// `b64_json` or `url` (a data URL); decoded the same either way.
    pub fn response_format(mut self, format: ResponseFormat) -> Self {
        self.inner.response_format = Some(format);
        self
    }

    /// Output image format (server default PNG).
    pub fn output_format(mut self, format: Format) -> Self {
        self.inner.output_format = Some(format);
        self
    }

    /// Moderation (server default `auto`: safe mode on).
    pub fn moderation(mut self, moderation: Moderation) -> Self {
        self.inner.moderation = Some(moderation);
        self
    }

    /// OpenAI's end-user identifier (accepted, not used by Venice).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.inner.user = Some(user.into());
        self
    }

    /// Check the rules: a non-empty prompt of at most 1,500 characters.
    pub fn build(self) -> Result<OpenAiImageRequest, ValidationError> {
        let p = &self.inner.prompt;
        if p.trim().is_empty() {
            return Err(ValidationError::new("prompt", "must not be empty"));
        }
        let n = p.chars().count();
        if n > MAX_OPENAI_PROMPT_CHARS {
            return Err(ValidationError::new(
                "prompt",
                format!("{n} characters; at most {MAX_OPENAI_PROMPT_CHARS}"),
            ));
        }
        Ok(self.inner)
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
        let r = OpenAiImageRequest::builder("p")
            .size(OpenAiSize::S512x512)
            .response_format(ResponseFormat::Url)
            .output_format(Format::Webp)
            .moderation(Moderation::Low)
            .build()
            .unwrap();
        assert_eq!(
            r.to_json(),
            serde_json::json!({"prompt": "p", "size": "512x512", "response_format": "url",
                               "output_format": "webp", "moderation": "low"})
        );
        assert!(
            OpenAiImageRequest::builder("x".repeat(1501))
                .build()
                .is_err()
        );
    }
}
