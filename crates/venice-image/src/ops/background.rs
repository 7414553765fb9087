//! [`RemoveBackgroundRequest`]: `POST /image/background-remove`.

use venice_openapi::{Uploads, types};

use super::input::ImageInput;
use crate::error::ValidationError;
use crate::wire::convert;

/// A background removal: the image (file, bytes, base64 or URL). The answer is always
/// a PNG with an alpha channel. There are no pixel limits, only the 25 MB one, which
/// [`ImageInput`] checked already, and no options yet; the builder keeps the shape of
/// every other operation (and is where an option the provider adds will go).
///
/// ```
/// use venice_image::{ImageInput, RemoveBackgroundRequest};
///
/// let request = RemoveBackgroundRequest::builder(ImageInput::from_url("https://example.com/product.jpg")?)
///     .build()?;
/// assert!(request.image().is_url());
/// # Ok::<(), venice_image::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RemoveBackgroundRequest {
    pub(crate) image: ImageInput,
}

/// Builder of [`RemoveBackgroundRequest`].
#[derive(Clone, Debug)]
#[must_use]
pub struct RemoveBackgroundRequestBuilder {
    image: ImageInput,
}

impl RemoveBackgroundRequestBuilder {
    /// The request (no rule can fail today: the input was checked when it was made).
    pub fn build(self) -> Result<RemoveBackgroundRequest, ValidationError> {
        Ok(RemoveBackgroundRequest { image: self.image })
    }
}

impl RemoveBackgroundRequest {
    /// A builder for removing the background of `image`.
    pub fn builder(image: ImageInput) -> RemoveBackgroundRequestBuilder {
        RemoveBackgroundRequestBuilder { image }
    }

    /// The input image.
    pub fn image(&self) -> &ImageInput {
        &self.image
    }

    /// The body to send: a URL goes in `image_url`, data in `image` (registered in
    /// `uploads`).
    pub(crate) fn wire_for(
        &self,
        uploads: &mut Uploads,
    ) -> Result<types::BackgroundRemoveImageRequest, ValidationError> {
        let value = self.image.wire_value(uploads)?;
        // From the default: a field the spec adds later stays unset instead of breaking
        // this code.
        let mut wire = types::BackgroundRemoveImageRequest::default();
        if self.image.is_url() {
            wire.image_url = Some(value);
        } else {
            wire.image = Some(convert("image", value)?);
        }
        Ok(wire)
    }
}
