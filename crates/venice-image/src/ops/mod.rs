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
//! Input images travel as JSON strings (see [`ImageInput`] and the body module for why
//! JSON and not multipart).

mod background;
mod body;
mod edit;
mod input;
mod openai;
mod upscale;

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use tracing::{Instrument, field};

pub use background::RemoveBackgroundRequest;
pub(crate) use body::OpBody;
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

use self::body::Part;
use crate::client::{Client, Op};
use crate::decode;
use crate::error::{Error, Result};
use crate::image::{Format, GeneratedImage, Generation};
use crate::meta::ResponseMeta;

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

/// `{"<key>": <image or [images]>, <rest...>}` as body parts.
fn json_body(
    key: &str,
    images: &[&ImageInput],
    array: bool,
    rest: &impl Serialize,
) -> Result<OpBody> {
    let rest = serde_json::to_vec(rest).map_err(|e| Error::decode("request JSON", e))?;
    let mut head = b"{".to_vec();
    serde_json::to_writer(&mut head, key).map_err(|e| Error::decode("request JSON", e))?;
    head.push(b':');
    if array {
        head.push(b'[');
    }
    let mut parts = vec![Part::Raw(head.into())];
    for (i, image) in images.iter().enumerate() {
        if i > 0 {
            parts.push(Part::Raw(Bytes::from_static(b",")));
        }
        image.json_parts(&mut parts);
    }
    let mut tail = Vec::with_capacity(rest.len() + 2);
    if array {
        tail.push(b']');
    }
    match rest.get(1..) {
        // `rest` is an object: splice its members after the image.
        Some(members) if rest.len() > 2 => {
            tail.push(b',');
            tail.extend_from_slice(members);
        }
        _ => tail.push(b'}'),
    }
    parts.push(Part::Raw(tail.into()));
    Ok(OpBody::Parts(parts.into()))
}

#[derive(Serialize)]
struct Empty {}

impl Client {
    async fn image_op(
        &self,
        id: &'static str,
        path: &'static str,
        body: OpBody,
        fallback: Format,
    ) -> Result<ImageOutput> {
        let span = tracing::info_span!(
            "venice.image_op",
            operation = id,
            status = field::Empty,
            attempt = field::Empty
        );
        async {
            let start = Instant::now();
            let op = Op {
                id,
                method: reqwest::Method::POST,
                path,
                query: &[],
                body: Some(body),
                accept: "image/png, image/jpeg, image/webp, application/json;q=0.5",
            };
            let response = self.execute(&op).await?;
            let status = response.status().as_u16();
            let meta = ResponseMeta::from_headers(status, response.headers());
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            if content_type.to_ascii_lowercase().contains("json") {
                return Err(Error::Decode {
                    what: format!("{id} image (server sent {content_type})"),
                    source: None,
                });
            }
            let bytes = decode::read_body_max(response, self.response_cap()).await?;
            if bytes.is_empty() {
                return Err(Error::Decode {
                    what: format!("{id} image (empty body)"),
                    source: None,
                });
            }
            let fallback = Format::from_mime(&content_type).unwrap_or(fallback);
            let name = meta.request_id.clone().unwrap_or_else(|| id.to_owned());
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
        let body = json_body("image", &[&req.image], false, &req.fields)?;
        self.image_op("upscale_image", "/image/upscale", body, Format::Png)
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
        let body = json_body("image", &[&req.image], false, &req.rest())?;
        let fallback = req.output_format().unwrap_or(Format::Png);
        self.image_op("edit_image", "/image/edit", body, fallback)
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
        let images: Vec<&ImageInput> = req.images.iter().collect();
        let body = json_body("images", &images, true, &req.rest())?;
        let fallback = req.output_format().unwrap_or(Format::Png);
        self.image_op("multi_edit_image", "/image/multi-edit", body, fallback)
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
        let body = json_body(req.key(), &[&req.image], false, &Empty {})?;
        self.image_op(
            "background_remove_image",
            "/image/background-remove",
            body,
            Format::Png,
        )
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
            let body = serde_json::to_vec(req).map_err(|e| Error::decode("request JSON", e))?;
            let op = Op {
                id: "simple_generate_image",
                method: reqwest::Method::POST,
                path: "/images/generations",
                query: &[],
                body: Some(body.into()),
                accept: "application/json",
            };
            let response = self.execute(&op).await?;
            let meta = ResponseMeta::from_headers(response.status().as_u16(), response.headers());
            let body = decode::read_body_max(response, self.response_cap()).await?;
            let fallback = req.output_format().unwrap_or(Format::Png);
            let (created, images) = decode_openai(&body, fallback)?;
            drop(body);
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
fn decode_openai(body: &[u8], fallback: Format) -> Result<(i64, Vec<(Bytes, Format)>)> {
    #[derive(Deserialize)]
    struct Response<'a> {
        #[serde(default)]
        created: i64,
        #[serde(borrow)]
        data: Vec<Item<'a>>,
    }
    #[derive(Deserialize)]
    struct Item<'a> {
        #[serde(borrow, default)]
        b64_json: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        url: Option<Cow<'a, str>>,
    }
    let parsed: Response<'_> =
        serde_json::from_slice(body).map_err(|e| Error::decode("OpenAI images response", e))?;
    if parsed.data.is_empty() {
        return Err(Error::Decode {
            what: "OpenAI images response (no images)".into(),
            source: None,
        });
    }
    let mut out = Vec::with_capacity(parsed.data.len());
    for (i, item) in parsed.data.iter().enumerate() {
        let (b64, format) = match (&item.b64_json, &item.url) {
            (Some(b), _) => (b.as_ref(), fallback),
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
    Ok((parsed.created, out))
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
    fn json_body_splices_fields() {
        let img = ImageInput::from_bytes(b"abc").unwrap();
        let url = ImageInput::from_url("https://x.test/a\"b.png").unwrap();
        for (rest, want) in [
            (
                serde_json::json!({"scale": 2}),
                serde_json::json!({"images": ["YWJj", "https://x.test/a%22b.png"], "scale": 2}),
            ),
            (
                serde_json::json!({}),
                serde_json::json!({"images": ["YWJj", "https://x.test/a%22b.png"]}),
            ),
        ] {
            let OpBody::Parts(parts) = json_body("images", &[&img, &url], true, &rest).unwrap()
            else {
                panic!("parts expected")
            };
            let joined: Vec<u8> = parts
                .iter()
                .flat_map(|p| match p {
                    Part::Raw(b) => b.to_vec(),
                    Part::FileBase64 { .. } => unreachable!(),
                })
                .collect();
            let v: serde_json::Value = serde_json::from_slice(&joined).unwrap();
            assert_eq!(v, want);
        }
    }

    #[test]
    fn openai_decoding() {
        let body = br#"{"created": 5, "data": [{"b64_json": "YWJj"}, {"url": "data:image\/webp;base64,YWJj"}]}"#;
        let (created, images) = decode_openai(body, Format::Png).unwrap();
        assert_eq!(created, 5);
        assert_eq!(images[0], (Bytes::from_static(b"abc"), Format::Png));
        assert_eq!(images[1].1, Format::Webp);
        for bad in [
            &br#"{"created": 1, "data": []}"#[..],
            br#"{"created": 1, "data": [{"url": "https://x/y.png"}]}"#,
            br#"{"created": 1, "data": [{"b64_json": "!!"}]}"#,
        ] {
            assert!(matches!(
                decode_openai(bad, Format::Png),
                Err(Error::Decode { .. })
            ));
        }
    }
}
