//! [`RemoveBackgroundRequest`]: `POST /image/background-remove`.

use super::input::ImageInput;

/// A background removal: the image (file, bytes, base64 or URL). The answer is always
/// a PNG with an alpha channel. There are no pixel limits, only the 25 MB one, which
/// [`ImageInput`] checked already; so this needs no builder.
///
/// ```
/// use venice_image::{ImageInput, RemoveBackgroundRequest};
///
/// let request = RemoveBackgroundRequest::new(ImageInput::from_url("https://example.com/product.jpg")?);
/// assert!(request.image().is_url());
/// # Ok::<(), venice_image::ValidationError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RemoveBackgroundRequest {
    pub(crate) image: ImageInput,
}

impl RemoveBackgroundRequest {
    /// Remove the background of `image`.
    pub fn new(image: ImageInput) -> Self {
        Self { image }
    }

    /// The input image.
    pub fn image(&self) -> &ImageInput {
        &self.image
    }

    /// The JSON key of the image: URLs go in `image_url`, data in `image`.
    pub(crate) fn key(&self) -> &'static str {
        if self.image.is_url() {
            "image_url"
        } else {
            "image"
        }
    }
}

impl From<ImageInput> for RemoveBackgroundRequest {
    fn from(image: ImageInput) -> Self {
        Self::new(image)
    }
}
