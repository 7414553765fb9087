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
//! Input images: the generated request type carries a placeholder and the generated
//! client's hook streams the file or bytes in its place (see `venice_openapi::Uploads`),
//! so memory stays flat whatever the image size. When every image of a request is a
//! file or bytes (and there are at most [`MAX_FORM_FILES`]), the body goes as
//! `multipart/form-data`, the form the provider takes for all four upload operations:
//! each image a file part sent as it is, so a 25 MB image is 25 MB on the wire, not the
//! 33 MB of its base64, and three 10 MB layers fit where their 40 MB of JSON would be
//! refused (the provider's JSON limit is 35 MB). A URL or caller-given base64 needs a
//! JSON body; that body is checked against the 35 MB before anything is sent.
//!
//! Edits and multi-edits are also checked against the edit model catalogue
//! (`Client::edit_models`) before any upload: the model, its prompt limit, its
//! input-image limit, ratios, tiers and qualities.

mod background;
mod catalogue;
mod edit;
mod input;
mod openai;
mod upscale;

use std::future::Future;
use std::time::Instant;

use bytes::Bytes;
use tracing::{Instrument, field};
use venice_openapi::{ByteStream, ResponseValue, Uploads, types};

pub use background::{RemoveBackgroundRequest, RemoveBackgroundRequestBuilder};
pub use edit::{
    EditAspectRatio, EditRequest, EditRequestBuilder, MultiEditRequest, MultiEditRequestBuilder,
};
pub use input::ImageInput;
pub use openai::{
    Moderation, OpenAiBackground, OpenAiGenerateRequest, OpenAiGenerateRequestBuilder,
    OpenAiQuality, OpenAiSize, OpenAiStyle, ResponseFormat,
};
pub use upscale::{UpscaleRequest, UpscaleRequestBuilder};

use crate::client::{Client, content_type};
use crate::decode::{self, RawError};
use crate::edit_models::{EditFacts, EditOperation};
use crate::error::{Error, Result};
use crate::format::Format;
use crate::image::{Generation, Image};
use crate::limits::MAX_FORM_FILES;
use crate::meta::{Response, ResponseMeta};
use crate::transport::Call;

/// The uploads of a request with these input images: a form when every one is a file or
/// bytes (and a form may carry them all), else a JSON body.
fn uploads_for<'a>(images: impl IntoIterator<Item = &'a ImageInput>) -> Uploads {
    let images: Vec<_> = images.into_iter().collect();
    if images.len() <= MAX_FORM_FILES && images.iter().all(|i| i.is_file_data()) {
        Uploads::multipart()
    } else {
        Uploads::new()
    }
}

/// The model whose error budget an upload's failures count in: a form cannot name its
/// model in time, so the provider counts it in the credentials' bucket (`None`).
fn budget_model<'m>(uploads: &Uploads, model: Option<&'m str>) -> Option<&'m str> {
    model.filter(|_| !uploads.is_multipart())
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
    ) -> Result<Response<Image>>
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
                return Err(Error::undecodable(format!(
                    "{operation} image (server sent {content_type})"
                )));
            }
            let declared = decode::declared_length(response.headers());
            let bytes = decode::read_stream(response.into_inner(), declared).await?;
            if bytes.is_empty() {
                return Err(Error::undecodable(format!(
                    "{operation} image (empty body)"
                )));
            }
            let fallback = Format::from_mime(&content_type).unwrap_or(fallback);
            let name = meta
                .request_id
                .clone()
                .unwrap_or_else(|| operation.to_owned());
            let image = Image::new(bytes.into(), fallback, 0, &name);
            Ok(Response::new(image, meta, start.elapsed()))
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
    /// println!("{}x{} -> {}", out.width(), out.height(), out.save("photo-2x.png").await?.display());
    /// # Ok(()) }
    /// ```
    pub async fn upscale(&self, req: &UpscaleRequest) -> Result<Response<Image>> {
        let mut uploads = uploads_for([req.image()]);
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
    /// client.edit(&request).await?.save("garden-edited.png").await?;
    /// # Ok(()) }
    /// ```
    pub async fn edit(&self, req: &EditRequest) -> Result<Response<Image>> {
        let facts = EditFacts {
            operation: EditOperation::Edit,
            prompt: req.prompt(),
            images: 1,
            aspect_ratio: req.aspect_ratio().map(|r| r.to_string()),
            resolution: req.resolution(),
            quality: None,
        };
        self.edit_preflight(req.model(), "model", &facts).await?;
        let mut uploads = uploads_for([req.image()]);
        let wire = req.wire_for(&mut uploads)?;
        let bucket_model = budget_model(&uploads, req.model());
        let call = self
            .call(uploads)
            .paced(req.model().unwrap_or("edit_image"))
            .budgeted(bucket_model, None);
        let fallback = req.output_format().unwrap_or(Format::Png);
        self.image_op("edit_image", &call, fallback, || {
            call.raw().edit_image().body(wire.clone()).send()
        })
        .await
    }

    /// Edit a base image with layers (`POST /image/multi-edit`).
    ///
    /// ```no_run
    /// use venice_image::{Client, ImageInput, MultiEditRequest};
    ///
    /// # async fn run() -> venice_image::Result<()> {
    /// let client = Client::from_env()?;
    /// let request = MultiEditRequest::builder("put the logo on the mug", ImageInput::from_path("mug.png")?)
    ///     .layer(ImageInput::from_path("logo.png")?)
    ///     .build()?;
    /// client.multi_edit(&request).await?.save("mug-with-logo.png").await?;
    /// # Ok(()) }
    /// ```
    pub async fn multi_edit(&self, req: &MultiEditRequest) -> Result<Response<Image>> {
        let quality = req.quality();
        let facts = EditFacts {
            operation: EditOperation::MultiEdit,
            prompt: req.prompt(),
            images: req.images().len(),
            aspect_ratio: req.aspect_ratio().map(|r| r.to_string()),
            resolution: req.resolution(),
            quality: quality.as_ref().map(|q| q.as_str()),
        };
        self.edit_preflight(req.model(), "modelId", &facts).await?;
        let mut uploads = uploads_for(req.images());
        let wire = req.wire_for(&mut uploads)?;
        let bucket_model = budget_model(&uploads, req.model());
        let call = self
            .call(uploads)
            .paced(req.model().unwrap_or("multi_edit_image"))
            .budgeted(bucket_model, None);
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
    /// let request = RemoveBackgroundRequest::builder(ImageInput::from_path("product.jpg")?).build()?;
    /// let out = client.remove_background(&request).await?;
    /// assert_eq!(out.has_alpha(), Some(true));
    /// out.save("product.png").await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove_background(
        &self,
        req: &RemoveBackgroundRequest,
    ) -> Result<Response<Image>> {
        let mut uploads = uploads_for([req.image()]);
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
    /// returned [`Generation`], whose id is the request id (or `openai-<created>`).
    ///
    /// ```no_run
    /// use venice_image::{Client, OpenAiGenerateRequest, OpenAiSize};
    ///
    /// # async fn run() -> venice_image::Result<()> {
    /// let client = Client::from_env()?;
    /// let request = OpenAiGenerateRequest::builder("z-image-turbo", "a lighthouse at dusk")
    ///     .size(OpenAiSize::X1024x1024)
    ///     .build()?;
    /// let generation = client.openai_generate(&request).await?;
    /// generation.save_all("out").await?;
    /// # Ok(()) }
    /// ```
    pub async fn openai_generate(
        &self,
        req: &OpenAiGenerateRequest,
    ) -> Result<Response<Generation>> {
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
                .paced(req.model())
                .budgeted(Some(req.model()), req.wire().user.as_deref());
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
                .map(|(i, (bytes, format))| Image::new(bytes, format, i, &id))
                .collect();
            let generation = Generation::new(id, None, images);
            Ok(Response::new(generation, meta, start.elapsed()))
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
        return Err(Error::undecodable("OpenAI images response (no images)"));
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
                    return Err(Error::undecodable(format!(
                        "OpenAI image {i}: `url` is not a base64 data URL"
                    )));
                };
                (data, Format::from_mime(prefix).unwrap_or(fallback))
            }
            (None, None) => {
                return Err(Error::undecodable(format!(
                    "OpenAI image {i}: neither b64_json nor url"
                )));
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
