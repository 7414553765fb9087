//! Conversions between the facade's value types and the generated wire types, in one
//! place, and the mapping of generated conversion errors to [`ValidationError`]s.

use std::fmt::Display;

use venice_openapi::types;

use crate::error::ValidationError;
use crate::format::Format;
use crate::sizing::Quality;

/// Convert `value` to the wire type of `field`, or a validation error naming `field`.
pub(crate) fn convert<T, V>(field: &'static str, value: V) -> Result<T, ValidationError>
where
    V: TryInto<T>,
    V::Error: Display,
{
    value
        .try_into()
        .map_err(|e| ValidationError::new(field, e.to_string()))
}

/// A generated builder's error (`error converting supplied value for <field>: <why>`
/// or `no value supplied for <field>`) as a validation error naming the field.
pub(crate) fn builder_error(e: impl Display) -> ValidationError {
    let text = e.to_string();
    let parsed = text
        .strip_prefix("error converting supplied value for ")
        .and_then(|rest| rest.split_once(": "))
        .map(|(field, rule)| (field.to_owned(), rule.to_owned()))
        .or_else(|| {
            text.strip_prefix("no value supplied for ")
                .map(|field| (field.to_owned(), "is required".to_owned()))
        });
    match parsed {
        Some((field, rule)) => ValidationError::new(field, rule),
        None => ValidationError::new("request", text),
    }
}

impl From<Format> for types::GenerateImageRequestFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Jpeg => Self::Jpeg,
            Format::Png => Self::Png,
            Format::Webp => Self::Webp,
        }
    }
}

impl From<types::GenerateImageRequestFormat> for Format {
    fn from(f: types::GenerateImageRequestFormat) -> Self {
        match f {
            types::GenerateImageRequestFormat::Jpeg => Format::Jpeg,
            types::GenerateImageRequestFormat::Png => Format::Png,
            types::GenerateImageRequestFormat::Webp => Format::Webp,
        }
    }
}

impl From<Format> for types::ImageFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Jpeg => Self::Jpeg,
            Format::Png => Self::Png,
            Format::Webp => Self::Webp,
        }
    }
}

impl From<types::ImageFormat> for Format {
    fn from(f: types::ImageFormat) -> Self {
        match f {
            types::ImageFormat::Jpeg => Format::Jpeg,
            types::ImageFormat::Png => Format::Png,
            types::ImageFormat::Webp => Format::Webp,
        }
    }
}

impl From<Quality> for types::ImageQuality {
    fn from(q: Quality) -> Self {
        match q {
            Quality::Low => Self::Low,
            Quality::Medium => Self::Medium,
            Quality::High => Self::High,
        }
    }
}

impl From<types::ImageQuality> for Quality {
    fn from(q: types::ImageQuality) -> Self {
        match q {
            types::ImageQuality::Low => Quality::Low,
            types::ImageQuality::Medium => Quality::Medium,
            types::ImageQuality::High => Quality::High,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_errors_name_their_field() {
        let e =
            builder_error("error converting supplied value for prompt: shorter than 1 characters");
        assert_eq!(e.field, "prompt");
        assert_eq!(e.rule, "shorter than 1 characters");
        assert_eq!(builder_error("no value supplied for model").field, "model");
        assert_eq!(builder_error("odd").field, "request");
    }
}
