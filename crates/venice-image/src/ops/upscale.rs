//! [`UpscaleRequest`]: `POST /image/upscale`.

use venice_openapi::{Uploads, types};

use super::input::{ImageInput, unsent_image};
use crate::error::ValidationError;
use crate::limits::{
    MAX_UPSCALE_CREATIVITY, MAX_UPSCALE_OUTPUT_PIXELS, MAX_UPSCALE_SCALE, MIN_INPUT_PIXELS,
    MIN_UPSCALE_SCALE,
};
use crate::wire::{Draft, convert, getters, setters};

/// A validated upscale request: the image (file, bytes or base64; not a URL), the
/// scale factor and how much detail the upscaler may invent.
///
/// The output has `scale` times the input's width and height (rounded down), unless
/// that exceeds 16,777,216 pixels: then the server lowers the scale to fit.
///
/// ```
/// use venice_image::{ImageInput, UpscaleRequest};
///
/// # fn demo(png: Vec<u8>) -> venice_image::Result<()> {
/// let request = UpscaleRequest::builder(ImageInput::from_bytes(png)?)
///     .scale(4.0)
///     .creativity(0.015)
///     .build()?;
/// assert_eq!(request.scale(), Some(4.0));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct UpscaleRequest {
    image: ImageInput,
    /// The wire body; its `image` is put in per call ([`Self::wire_for`]).
    wire: types::UpscaleImageRequest,
}

impl UpscaleRequest {
    /// A builder for upscaling `image`.
    pub fn builder(image: ImageInput) -> UpscaleRequestBuilder {
        let wire = types::UpscaleImageRequest::builder()
            .image(unsent_image::<types::UpscaleImageRequestImage>());
        UpscaleRequestBuilder {
            image,
            wire: Draft::start(Ok(wire)),
        }
    }

    /// The body to send, with the image registered in `uploads`.
    pub(crate) fn wire_for(
        &self,
        uploads: &mut Uploads,
    ) -> Result<types::UpscaleImageRequest, ValidationError> {
        let mut wire = self.wire.clone();
        wire.image = convert("image", self.image.wire_value(uploads)?)?;
        Ok(wire)
    }

    /// The input image.
    pub fn image(&self) -> &ImageInput {
        &self.image
    }

    getters! {
        /// The scale factor, when set (server default 2).
        scale: f64;
        /// The creativity, when set (server default 0.01).
        creativity: f64;
    }

    /// The scale the server applies, when the input's dimensions are known: the one
    /// asked for, lowered so the output stays within 16,777,216 pixels (never below 1).
    /// The provider bills this one: a 4x clamped to 2x or less is charged as a 2x.
    pub fn effective_scale(&self) -> Option<f64> {
        let (w, h) = self.image.dimensions()?;
        let scale = self.wire.scale.unwrap_or(MIN_UPSCALE_SCALE);
        let pixels = f64::from(w) * f64::from(h);
        let fit = (MAX_UPSCALE_OUTPUT_PIXELS as f64 / pixels).sqrt();
        Some(scale.min(fit).max(1.0))
    }

    /// The output size the server aims for, when the input's dimensions are known:
    /// `scale` × each side, lowered to stay within 16,777,216 pixels.
    pub fn expected_output(&self) -> Option<(u32, u32)> {
        let (w, h) = self.image.dimensions()?;
        let s = self.effective_scale()?;
        Some((
            (f64::from(w) * s).floor() as u32,
            (f64::from(h) * s).floor() as u32,
        ))
    }
}

/// Builder of [`UpscaleRequest`]; [`build`](Self::build) checks the rules.
#[derive(Clone, Debug)]
#[must_use]
pub struct UpscaleRequestBuilder {
    image: ImageInput,
    wire: Draft<types::UpscaleImageRequest>,
}

impl UpscaleRequestBuilder {
    setters! {
        /// Scale factor in `[2, 4]` (server default 2). Upstream documents 2 and 4; the
        /// schema allows any number in between.
        scale(f64) => scale;
        /// Detail the upscaler adds, `[0, 0.02]` (server default 0.01).
        creativity(f64) => creativity;
    }

    /// Check the rules: scale in `[2, 4]`, creativity in `[0, 0.02]`, the image not a
    /// URL and, when its header was readable, at least 65,536 pixels.
    pub fn build(self) -> Result<UpscaleRequest, ValidationError> {
        let wire = self.wire.finish()?;
        if let Some(s) = wire.scale
            && !(MIN_UPSCALE_SCALE..=MAX_UPSCALE_SCALE).contains(&s)
        {
            return Err(ValidationError::new(
                "scale",
                format!("must be in [2, 4], got {s}"),
            ));
        }
        if let Some(c) = wire.creativity
            && !(0.0..=MAX_UPSCALE_CREATIVITY).contains(&c)
        {
            return Err(ValidationError::new(
                "creativity",
                format!("must be in [0, 0.02], got {c}"),
            ));
        }
        self.image.require_data("image", "upscale")?;
        self.image.check_pixels("image", MIN_INPUT_PIXELS, None)?;
        Ok(UpscaleRequest {
            image: self.image,
            wire,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::format::tests::png_header;

    fn input(w: u32, h: u32) -> ImageInput {
        ImageInput::from_bytes(png_header(w, h)).unwrap()
    }

    #[test]
    fn rules() {
        for bad in [1.0, 4.5, f64::NAN] {
            let e = UpscaleRequest::builder(input(256, 256))
                .scale(bad)
                .build()
                .unwrap_err();
            assert_eq!(e.field, "scale");
        }
        let e = UpscaleRequest::builder(input(256, 256))
            .creativity(0.5)
            .build()
            .unwrap_err();
        assert_eq!(e.field, "creativity");
        let e = UpscaleRequest::builder(input(255, 256))
            .build()
            .unwrap_err();
        assert!(e.rule.contains("65536"), "{e}");
        let url = ImageInput::from_url("https://x.test/a.png").unwrap();
        assert!(UpscaleRequest::builder(url).build().is_err());
    }

    #[test]
    fn expected_output_is_capped() {
        let r = UpscaleRequest::builder(input(300, 256))
            .scale(4.0)
            .build()
            .unwrap();
        assert_eq!(r.expected_output(), Some((1200, 1024)));
        let r = UpscaleRequest::builder(input(4000, 3000))
            .scale(4.0)
            .build()
            .unwrap();
        let (w, h) = r.expected_output().unwrap();
        assert!(u64::from(w) * u64::from(h) <= 16_777_216);
    }
}
