//! Conversions between the facade's value types and the generated wire types, in one
//! place, and [`Draft`], the one mechanism every request builder is made of.

use std::fmt::Display;

use venice_openapi::types;

use crate::error::ValidationError;
use crate::format::Format;
use crate::sizing::Quality;

/// Convert `value` to the wire type of `field` through the generated type's `TryFrom`
/// (the spec's constraints), or a validation error naming `field`: the field is known
/// where the value is set, so no error text has to be read back.
pub(crate) fn convert<T, V>(field: &'static str, value: V) -> Result<T, ValidationError>
where
    V: TryInto<T>,
    V::Error: Display,
{
    value
        .try_into()
        .map_err(|e| ValidationError::new(field, e.to_string()))
}

/// The rule of a prompt that the operation needs and limits to `max` characters.
pub(crate) fn check_prompt(prompt: &str, max: usize) -> Result<(), ValidationError> {
    if prompt.trim().is_empty() {
        return Err(ValidationError::new("prompt", "must not be empty"));
    }
    let n = prompt.chars().count();
    if n > max {
        return Err(ValidationError::new(
            "prompt",
            format!("{n} characters; at most {max}"),
        ));
    }
    Ok(())
}

/// A request body being built: the generated wire value, or the first rule a setter
/// broke. Setters never fail (a builder chains), `build` reports the error.
#[derive(Clone, Debug)]
pub(crate) struct Draft<T>(Result<T, ValidationError>);

impl<T> Draft<T> {
    /// A draft from a generated builder given every required field, each converted
    /// with [`convert`] first (so what is left to fail is a field this crate forgot,
    /// reported against the whole request).
    pub(crate) fn start<B>(builder: Result<B, ValidationError>) -> Self
    where
        B: TryInto<T>,
        B::Error: Display,
    {
        Self(builder.and_then(|b| convert("request", b)))
    }

    /// Apply `set` to the wire value unless an earlier setter failed.
    pub(crate) fn set(mut self, set: impl FnOnce(&mut T) -> Result<(), ValidationError>) -> Self {
        if let Ok(wire) = &mut self.0
            && let Err(e) = set(wire)
        {
            self.0 = Err(e);
        }
        self
    }

    /// The wire value, or the first broken rule.
    pub(crate) fn finish(self) -> Result<T, ValidationError> {
        self.0
    }
}

/// Setters of a builder whose `wire` is a [`Draft`]: each stores its argument in one
/// optional wire field through [`convert`], errors named after the setter.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($ty:ty) => $field:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.wire = self.wire.set(|w| {
                w.$field = Some($crate::wire::convert(stringify!($name), value)?);
                Ok(())
            });
            self
        }
    )*};
}
pub(crate) use setters;

/// Getters of optional `Copy` wire fields, each named after its field.
macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Option<$ty> {
            self.wire.$name
        }
    )*};
}
pub(crate) use getters;

/// `From` both ways between a facade enum and a generated one with the same values.
/// Both matches are exhaustive, so a value added to either side stops the build here.
macro_rules! same_values {
    ($($ours:ident <=> $wire:ident { $($value:ident),* })*) => {$(
        impl From<$ours> for types::$wire {
            fn from(v: $ours) -> Self {
                match v {
                    $($ours::$value => Self::$value,)*
                }
            }
        }

        impl From<types::$wire> for $ours {
            fn from(v: types::$wire) -> Self {
                match v {
                    $(types::$wire::$value => Self::$value,)*
                }
            }
        }
    )*};
}

same_values! {
    Format <=> GenerateImageRequestFormat { Jpeg, Png, Webp }
    Format <=> ImageFormat { Jpeg, Png, Webp }
    Quality <=> ImageQuality { Low, Medium, High }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_keeps_the_first_error_and_names_its_field() {
        let d: Draft<types::UpscaleImageRequest> = Draft::start(convert("image", "x").map(
            |i: types::UpscaleImageRequestImage| types::UpscaleImageRequest::builder().image(i),
        ));
        let d = d
            .set(|w| {
                w.scale = Some(2.0);
                Ok(())
            })
            .set(|_| Err(ValidationError::new("scale", "first")))
            .set(|_| Err(ValidationError::new("creativity", "second")));
        let e = d.finish().unwrap_err();
        assert_eq!((e.field.as_ref(), e.rule.as_str()), ("scale", "first"));
        // A generated constrained type refuses through its TryFrom, named by the caller.
        let e = convert::<types::EditImageRequestPrompt, _>("prompt", "").unwrap_err();
        assert_eq!(e.field, "prompt");
        assert!(!e.rule.is_empty());
        // A generated builder missing a required field is reported against the request.
        let e =
            Draft::<types::UpscaleImageRequest>::start(Ok(types::UpscaleImageRequest::builder()))
                .finish()
                .unwrap_err();
        assert_eq!(e.field, "request");
    }
}
