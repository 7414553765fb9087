//! The image operations besides text-to-image: upscale, edit, multi-edit, background
//! removal and the OpenAI-compatible `/images/generations`.
//!
//! Each goes the same way as [`Client::generate`]: a builder validates before any
//! network call (including the provider's size limits on input images), the request
//! goes through the client's retry policy and auth hook, and the one response decoder
//! turns error statuses into [`Error`]s. These operations are charged, so the default
//! [`RetryPolicy`](crate::RetryPolicy) never repeats one that may have run (only 429,
//! 503 and connections that never reached the server are retried).
//!
//! Input images travel as JSON strings: the generated request type carries a
//! placeholder and the generated client's hook streams the file or bytes in its place
//! (see `venice_openapi::Uploads`), so memory stays flat whatever the image size. JSON
//! rather than multipart because it is the one body type that carries every input kind
//! (base64, data URI, URL) and the one progenitor generates.

mod background;
mod edit;
mod input;
mod openai;
mod upscale;

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{Instrument, field};
use venice_openapi::{ByteStream, ResponseValue, Uploads, types};

pub use background::RemoveBackgroundRequest;
pub use edit::{
    EditAspectRatio, EditRequest, EditRequestBuilder, MAX_EDIT_PROMPT_CHARS, MultiEditRequest,
    MultiEditRequestBuilder,
};
pub use input::{
    ImageInput, MAX_EDIT_INPUT_PIXELS, MAX_INPUT_IMAGE_BYTES, MAX_UPSCALE_OUTPUT_PIXELS,
    MIN_INPUT_PIXELS,
};
pub use openai::{
    MAX_OPENAI_PROMPT_CHARS, Moderation, OpenAiImageRequest, OpenAiImageRequestBuilder, OpenAiSize,
    ResponseFormat,
};
pub use upscale::{
    MAX_UPSCALE_CREATIVITY, MAX_UPSCALE_SCALE, MIN_UPSCALE_SCALE, UpscaleRequest,
    UpscaleRequestBuilder,
};

use crate::client::{Client, content_type};
use crate::decode::{self, RawError};
use crate::error::{Error, Result};
use crate::image::{Format, GeneratedImage, Generation};
use crate::meta::ResponseMeta;
use crate::transport::Call;

/// The image an operation answered with (upscale, edit, multi-edit, background
/// removal): the bytes, their format and dimensions read from the image itself, the
/// server's `Content-Type` and the response metadata.
#[derive(Clone)]
pub struct ImageOutput {
    /// The image (format sniffed from the bytes, else from `Content-Type`).
    pub image: GeneratedImage,
    /// The `Content-Type` the server sent.
    pub content_type: String,
    /// Metadata from the response headers.
    pub meta: ResponseMeta,
    /// Wall time of the call, including retries and reading the body.
    pub elapsed: Duration,
}

impl fmt::Debug for ImageOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageOutput")
            .field("image", &self.image)
            .field("content_type", &self.content_type)
            .field("meta", &self.meta)
            .field("elapsed", &self.elapsed)
            .finish()
    }
}

impl ImageOutput {
    /// Pixel width (0 when the header was not understood).
    pub fn width(&self) -> u32 {
        self.image.width
    }

    /// Pixel height (0 when the header was not understood).
    pub fn height(&self) -> u32 {
        self.image.height
    }

    /// The image format.
    pub fn format(&self) -> Format {
        self.image.format
    }

    /// Whether the image has an alpha channel, read from its header: PNG colour types
    /// with alpha or a `tRNS` chunk, WebP's alpha flag; JPEG never. `None` when the
    /// header is not understood.
    pub fn has_alpha(&self) -> Option<bool> {
        has_alpha(&self.image.bytes)
    }

    /// Write the image atomically; see [`GeneratedImage::save`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<PathBuf> {
        self.image.save(path)
    }
}

/// Alpha channel presence from the header of PNG, WebP or JPEG bytes.
fn has_alpha(b: &[u8]) -> Option<bool> {
    match Format::sniff(b)? {
        Format::Jpeg => Some(false),
        Format::Png => {
            let colour_type = *b.get(25)?;
            if matches!(colour_type, 4 | 6) {
                return Some(true);
            }
            // Walk the chunks before the image data for a transparency chunk.
            let mut at = 8usize;
            while let Some(head) = b.get(at..at + 8) {
                let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
                match &head[4..8] {
                    b"tRNS" => return Some(true),
                    b"IDAT" | b"IEND" => return Some(false),
                    _ => at = at.checked_add(12)?.checked_add(len)?,
                }
            }
            None
        }
        Format::Webp => match b.get(12..16)? {
            b"VP8X" => Some(b.get(20)? & 0x10 != 0),
            // Lossless: the alpha hint is bit 4 of the byte after the 14-bit sizes.
            b"VP8L" => Some(b.get(24)? & 0x10 != 0),
            _ => Some(false),
        },
    }
}

impl Client {
    /// Send an image operation and read its image answer: `send` issues the request
    /// through the generated client of `call`, once per attempt.
    async fn image_op<F, Fut>(
        &self,
        operation: &'static str,
        call: &Call,
        fallback: Format,
        send: F,
    ) -> Result<ImageOutput>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<ResponseValue<ByteStream>, RawError>>,
    {
        let span = tracing::info_span!(
            "venice.image_op",
            operation,
            status = field::Empty,
            attempt = field::Empty
        );
        async {
            let start = Instant::now();
            let response = self.send(call, send).await?;
            let status = response.status().as_u16();
            let meta = ResponseMeta::from_headers(status, response.headers());
            let content_type = content_type(response.headers());
            if content_type.to_ascii_lowercase().contains("json") {
                return Err(Error::Decode {
                    what: format!("{operation} image (server sent {content_type})"),
                    source: None,
                });
            }
            let declared = decode::declared_length(response.headers());
            let bytes = decode::read_stream(response.into_inner(), declared).await?;
            if bytes.is_empty() {
                return Err(Error::Decode {
                    what: format!("{operation} image (empty body)"),
                    source: None,
                });
            }
            let fallback = Format::from_mime(&content_type).unwrap_or(fallback);
            let name = meta
                .request_id
                .clone()
                .unwrap_or_else(|| operation.to_owned());
            Ok(ImageOutput {
                image: GeneratedImage::new(bytes.into(), fallback, 0, &name),
                content_type,
                meta,
                elapsed: start.elapsed(),
            })
        }
        .instrument(span)
        .await
    }

    /// Upscale an image (`POST /image/upscale`); the answer is a PNG of `scale` times
    /// the input's size (lowered by the server to stay within 16,777,216 pixels).
    ///
    /// ```no_run
    /// use venice_image::{Client, ImageInput, UpscaleRequest};
    ///
    /// # async fn run() -> venice_image::Result<()> {
    /// let client = Client::from_env()?;
    /// let request = UpscaleRequest::builder(ImageInput::from_path("photo.jpg")?)
    ///     .scale(2.0)
    ///     .build()?;
    /// let out = client.upscale(&request).await?;
    /// println!("{}x{} -> {}", out.width(), out.height(), out.save("photo-2x.png")?.display());
    /// # Ok(()) }
    /// ```
    pub async fn upscale(&self, req: &UpscaleRequest) -> Result<ImageOutput> {
        let mut uploads = Uploads::new();
        let wire = req.wire_for(&mut uploads)?;
        // The upscaler is implicit: its budget is named after the operation.
        let call = self.call(uploads).paced("upscale_image");
        self.image_op("upscale_image", &call, Format::Png, || {
            call.raw().upscale_image().body(wire.clone()).send()
        })
        .await
    }

    /// Edit an image as a prompt says (`POST /image/edit`); the answer is in the
    /// requested output format.
    ///
    /// ```no_run
    /// use venice_image::{Client, EditRequest, Format, ImageInput};
    ///
    /// # async fn run() -> venice_image::Result<()> {
    /// let client = Client::from_env()?;
    /// let request = EditRequest::builder("remove the tree", ImageInput::from_path("garden.png")?)
    ///     .output_format(Format::Png)
    ///     .build()?;
    /// client.edit(&request).await?.save("garden-edited.png")?;
    /// # Ok(()) }
    /// ```
    pub async fn edit(&self, req: &EditRequest) -> Result<ImageOutput> {
        let mut uploads = Uploads::new();
        let wire = req.wire_for(&mut uploads)?;
        let call = self
            .call(uploads)
            .paced(req.model().unwrap_or("edit_image"));
        let fallback = req.output_format().unwrap_or(Format::Png);
        self.image_op("edit_image", &call, fallback, || {
            call.raw().edit_image().body(wire.clone()).send()
        })
        .await
    }

    /// Edit with several images, base first (`POST /image/multi-edit`).
    ///
    /// ```no_run
    /// use venice_image::{Client, ImageInput, MultiEditRequest};
    ///
    /// # async fn run() -> venice_image::Result<()> {
    /// let client = Client::from_env()?;
    /// let request = MultiEditRequest::builder("put the logo on the mug")
    ///     .image(ImageInput::from_path("mug.png")?)
    ///     .image(ImageInput::from_path("logo.png")?)
    ///     .build()?;
    /// client.multi_edit(&request).await?.save("mug-with-logo.png")?;
    /// # Ok(()) }
    /// ```
    pub async fn multi_edit(&self, req: &MultiEditRequest) -> Result<ImageOutput> {
        let mut uploads = Uploads::new();
        let wire = req.wire_for(&mut uploads)?;
        let call = self
            .call(uploads)
            .paced(req.model().unwrap_or("multi_edit_image"));
        let fallback = req.output_format().unwrap_or(Format::Png);
        self.image_op("multi_edit_image", &call, fallback, || {
            call.raw().multi_edit_image().body(wire.clone()).send()
        })
        .await
    }

    /// Remove the background (`POST /image/background-remove`); the answer is a PNG
    /// with an alpha channel.
    ///
    /// ```no_run
    /// use venice_image::{Client, ImageInput, RemoveBackgroundRequest};
    ///
    /// # async fn run() -> venice_image::Result<()> {
    /// let client = Client::from_env()?;
    /// let request = RemoveBackgroundRequest::new(ImageInput::from_path("product.jpg")?);
    /// let out = client.remove_background(&request).await?;
    /// assert_eq!(out.has_alpha(), Some(true));
    /// out.save("product.png")?;
    /// # Ok(()) }
    /// ```
    pub async fn remove_background(&self, req: &RemoveBackgroundRequest) -> Result<ImageOutput> {
        let mut uploads = Uploads::new();
        let wire = req.wire_for(&mut uploads)?;
        let call = self.call(uploads).paced("background_remove_image");
        self.image_op("background_remove_image", &call, Format::Png, || {
            call.raw()
                .background_remove_image()
                .body(wire.clone())
                .send()
        })
        .await
    }

    /// Generate one image through the OpenAI-compatible `POST /images/generations`.
    /// Both response formats (`b64_json` and a `data:` URL) are decoded into the
    /// returned [`Generation`], whose `id` is the request id (or `openai-<created>`).
    ///
    /// ```no_run
    /// use venice_image::{Client, OpenAiImageRequest, OpenAiSize};
    ///
    /// # async fn run() -> venice_image::Result<()> {
    /// let client = Client::from_env()?;
    /// let request = OpenAiImageRequest::builder("a lighthouse at dusk")
    ///     .size(OpenAiSize::S1024x1024)
    ///     .build()?;
    /// let generation = client.openai_generations(&request).await?;
    /// generation.save_all(".")?;
    /// # Ok(()) }
    /// ```
    pub async fn openai_generations(&self, req: &OpenAiImageRequest) -> Result<Generation> {
        let span = tracing::info_span!(
            "venice.image_op",
            operation = "simple_generate_image",
            status = field::Empty,
            attempt = field::Empty
        );
        async {
            let start = Instant::now();
            let call = self
                .call(Uploads::new())
                .paced(req.model().unwrap_or("simple_generate_image"));
            let response = self
                .send(&call, || {
                    call.raw()
                        .simple_generate_image()
                        .body(req.wire().clone())
                        .send()
                })
                .await?;
            let meta = ResponseMeta::from_headers(response.status().as_u16(), response.headers());
            let fallback = req.output_format().unwrap_or(Format::Png);
            let (created, images) = decode_openai(response.into_inner(), fallback)?;
            let id = meta
                .request_id
                .clone()
                .unwrap_or_else(|| format!("openai-{created}"));
            let images = images
                .into_iter()
                .enumerate()
                .map(|(i, (bytes, format))| GeneratedImage::new(bytes, format, i, &id))
                .collect();
            Ok(Generation {
                id,
                timing: None,
                images,
                meta,
                elapsed: start.elapsed(),
            })
        }
        .instrument(span)
        .await
    }
}

/// Decode an OpenAI images response: `created` and each image's bytes with the format
/// named by its data URL (else `fallback`).
fn decode_openai(
    response: types::SimpleGenerateImageResponse,
    fallback: Format,
) -> Result<(i64, Vec<(Bytes, Format)>)> {
    if response.data.is_empty() {
        return Err(Error::Decode {
            what: "OpenAI images response (no images)".into(),
            source: None,
        });
    }
    let mut out = Vec::with_capacity(response.data.len());
    for (i, item) in response.data.iter().enumerate() {
        let (b64, format) = match (&item.b64_json, &item.url) {
            (Some(b), _) => (b.as_str(), fallback),
            (None, Some(url)) => {
                let Some((prefix, data)) = url
                    .strip_prefix("data:")
                    .and_then(|rest| rest.split_once(";base64,"))
                else {
                    return Err(Error::Decode {
                        what: format!("OpenAI image {i}: `url` is not a base64 data URL"),
                        source: None,
                    });
                };
                (data, Format::from_mime(prefix).unwrap_or(fallback))
            }
            (None, None) => {
                return Err(Error::Decode {
                    what: format!("OpenAI image {i}: neither b64_json nor url"),
                    source: None,
                });
            }
        };
        let bytes = base64_simd::STANDARD
            .decode_to_vec(b64)
            .map_err(|e| Error::decode(format!("base64 of OpenAI image {i}"), e))?;
        out.push((Bytes::from(bytes), format));
    }
    Ok((response.created, out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::image::tests::png_header;

    #[test]
    fn alpha_from_headers() {
        assert_eq!(has_alpha(&png_header(4, 4)), Some(true)); // colour type 6
        let mut rgb = png_header(4, 4);
        rgb[25] = 2;
        // IHDR chunk then an IDAT header: no tRNS.
        rgb.extend_from_slice(&0u32.to_be_bytes());
        rgb.extend_from_slice(b"IDAT");
        assert_eq!(has_alpha(&rgb), Some(false));
        assert_eq!(has_alpha(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(false));
        assert_eq!(has_alpha(b"GIF89a"), None);
    }

    #[test]
    fn openai_decoding() {
        let parse = |body: &[u8]| -> types::SimpleGenerateImageResponse {
            serde_json::from_slice(body).unwrap()
        };
        let body = br#"{"created": 5, "data": [{"b64_json": "YWJj"}, {"url": "data:image\/webp;base64,YWJj"}]}"#;
        let (created, images) = decode_openai(parse(body), Format::Png).unwrap();
        assert_eq!(created, 5);
        assert_eq!(images[0], (Bytes::from_static(b"abc"), Format::Png));
        assert_eq!(images[1].1, Format::Webp);
        for bad in [
            &br#"{"created": 1, "data": []}"#[..],
            br#"{"created": 1, "data": [{"url": "https://x/y.png"}]}"#,
            br#"{"created": 1, "data": [{"b64_json": "!!"}]}"#,
        ] {
            assert!(matches!(
                decode_openai(parse(bad), Format::Png),
                Err(Error::Decode { .. })
            ));
        }
    }
}
