//! Results: [`Image`] (every image any operation returns), [`Generation`] (the images
//! of a generation) and [`ImageStream`] (a binary answer not read yet), with saving.

use std::fmt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::decode::Timing;
use crate::error::{Error, Result, ValidationError};
use crate::format::{Format, has_alpha, sniff_dimensions};
use crate::meta::Response;
use crate::save::{self, IfExists, Target};

/// An image the API answered with, whatever the operation: the encoded file, its
/// format and dimensions read from the image header, and its position in the answer.
///
/// ```
/// use venice_image::{Format, Image};
///
/// # fn png() -> Vec<u8> {
/// #     let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
/// #     v.extend_from_slice(&[0, 0, 2, 0, 0, 0, 1, 0, 8, 6, 0, 0, 0]);
/// #     v
/// # }
/// let image = Image::from_bytes(png())?;
/// assert_eq!((image.format(), image.width(), image.height()), (Format::Png, 512, 256));
/// assert_eq!(image.has_alpha(), Some(true));
/// # Ok::<(), venice_image::Error>(())
/// ```
#[derive(Clone)]
pub struct Image {
    bytes: Bytes,
    format: Format,
    width: u32,
    height: u32,
    index: usize,
    /// The generation id or request id that names the file in a directory.
    id: String,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("format", &self.format)
            .field("len", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("index", &self.index)
            .finish()
    }
}

impl Image {
    /// Image number `index` of the answer `id`: the format is sniffed from the bytes
    /// (else `fallback`), the dimensions read from the header.
    pub(crate) fn new(bytes: Bytes, fallback: Format, index: usize, id: &str) -> Self {
        let format = Format::sniff(&bytes).unwrap_or(fallback);
        let (width, height) = sniff_dimensions(&bytes).unwrap_or((0, 0));
        Self {
            bytes,
            format,
            width,
            height,
            index,
            id: id.to_owned(),
        }
    }

    /// An image from encoded PNG, JPEG or WebP bytes (to save it, or to read its
    /// header). Fails with [`Error::Validation`] when the bytes are none of these.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Result<Self> {
        let bytes = bytes.into();
        let Some(format) = Format::sniff(&bytes) else {
            return Err(Error::Validation(ValidationError::new(
                "image",
                "not a PNG, JPEG or WebP image",
            )));
        };
        Ok(Self::new(bytes, format, 0, "image"))
    }

    /// The encoded image file.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The encoded image file, without copying.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// The format, sniffed from the bytes (else the one the server announced or the
    /// request asked for).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Width in pixels from the header (0 when the header is not understood).
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels from the header (0 when the header is not understood).
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Position of this image in the answer (0-based).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether the image has an alpha channel, read from its header: PNG colour types
    /// with alpha or a `tRNS` chunk, WebP's alpha flag; JPEG never. `None` when the
    /// header is not understood.
    pub fn has_alpha(&self) -> Option<bool> {
        has_alpha(&self.bytes)
    }

    /// The file name used when saving into a directory: `<id>-<index>.<ext>`, where
    /// `id` is the generation id or request id (unsafe characters replaced by `_`).
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.stem(), self.format.extension())
    }

    fn stem(&self) -> String {
        format!("{}-{}", safe_stem(&self.id, "image"), self.index)
    }

    /// Write the image and return its path: atomically (a `.partial` file, fsync,
    /// link), never over an existing file, creating missing directories.
    ///
    /// `path` is a directory when it exists as one or ends with `/`: the file is then
    /// [`file_name`](Self::file_name) inside it (`-2`, `-3`... added when taken). Any
    /// other path is the file itself, with its extension set to the format's; if a
    /// file is there already the call fails with [`Error::Io`]
    /// (`ErrorKind::AlreadyExists`) and the file is left as it was (to replace it, use
    /// [`save_with`](Self::save_with) and [`IfExists::Replace`]). Runs the blocking file
    /// work on Tokio's blocking pool.
    pub async fn save(&self, path: impl AsRef<Path>) -> Result<PathBuf> {
        self.save_with(path, IfExists::Fail).await
    }

    /// [`save`](Self::save), with `if_exists` deciding what happens to a file already
    /// there: [`IfExists::Replace`] replaces it atomically.
    pub async fn save_with(&self, path: impl AsRef<Path>, if_exists: IfExists) -> Result<PathBuf> {
        let target = Target::new(path.as_ref(), &self.stem(), self.format).if_exists(if_exists);
        save::write(target, self.bytes.clone()).await
    }
}

/// `id` with every character but ASCII letters, digits, `-` and `_` replaced by `_`
/// (`fallback` when empty), so that it is safe as a file name.
fn safe_stem(id: &str, fallback: &str) -> String {
    let s: String = id.chars().map(|c| if safe(c) { c } else { '_' }).collect();
    if s.is_empty() { fallback.to_owned() } else { s }
}

/// Whether `c` may stand in a file name as it is.
fn safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The images of a generation ([`Client::generate`](crate::Client::generate),
/// [`Client::openai_generate`](crate::Client::openai_generate)), one per variant.
#[derive(Clone, Debug)]
pub struct Generation {
    id: String,
    timing: Option<Timing>,
    images: Vec<Image>,
}

impl Generation {
    pub(crate) fn new(id: String, timing: Option<Timing>, images: Vec<Image>) -> Self {
        Self { id, timing, images }
    }

    /// The generation id from the body (the request id, or `openai-<created>`, for
    /// the OpenAI-compatible endpoint).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Server timing, when sent.
    pub fn timing(&self) -> Option<&Timing> {
        self.timing.as_ref()
    }

    /// The images, in order.
    pub fn images(&self) -> &[Image] {
        &self.images
    }

    /// The images, without copying.
    pub fn into_images(self) -> Vec<Image> {
        self.images
    }

    /// Save every image into the directory `dir` (created when missing) as
    /// [`Image::file_name`], never over an existing file (`-2`, `-3`... added when a
    /// name is taken), and return the paths in image order. Four variants give four
    /// files.
    pub async fn save_all(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        self.save_all_with(dir, IfExists::Fail).await
    }

    /// [`save_all`](Self::save_all), with `if_exists` deciding what happens to a file
    /// already there: [`IfExists::Replace`] replaces `<id>-<index>.<ext>` atomically.
    pub async fn save_all_with(
        &self,
        dir: impl AsRef<Path>,
        if_exists: IfExists,
    ) -> Result<Vec<PathBuf>> {
        let dir = dir.as_ref().to_path_buf();
        let jobs: Vec<(Target, Bytes)> = self
            .images
            .iter()
            .map(|i| {
                let target = Target::dir(&dir, &i.stem(), i.format).if_exists(if_exists);
                (target, i.bytes.clone())
            })
            .collect();
        save::blocking(&dir, move || {
            jobs.iter()
                .map(|(target, bytes)| save::write_blocking(target, bytes))
                .collect()
        })
        .await
    }
}

/// A binary answer ([`Client::generate_binary`](crate::Client::generate_binary)) whose
/// body has not been read: stream it to disk with [`save`](Self::save), or read it
/// with [`into_image`](Self::into_image).
pub struct ImageStream {
    format: Format,
    content_length: Option<u64>,
    /// The request id (or a timestamp) that names the file in a directory.
    id: String,
    body: venice_openapi::ByteStream,
}

impl fmt::Debug for ImageStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageStream")
            .field("format", &self.format)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

impl ImageStream {
    pub(crate) fn new(
        format: Format,
        content_length: Option<u64>,
        request_id: Option<&str>,
        body: venice_openapi::ByteStream,
    ) -> Self {
        let id = request_id
            .filter(|s| !s.is_empty() && s.chars().all(safe))
            .map(str::to_owned)
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                format!("venice-{}", now.as_millis())
            });
        Self {
            format,
            content_length,
            id,
            body,
        }
    }

    /// The format from the response `Content-Type` (else the requested format).
    pub fn format(&self) -> Format {
        self.format
    }

    /// The body length the server announced, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// Read the whole image into memory.
    pub async fn into_image(self) -> Result<Image> {
        let bytes = crate::decode::read_stream(self.body, self.content_length).await?;
        Ok(Image::new(bytes.into(), self.format, 0, &self.id))
    }

    /// Stream the image to disk as it arrives and return its path, with the rules of
    /// [`Image::save`] (in a directory the file is named after the request id). Only
    /// the last chunk is in memory.
    pub async fn save(self, path: impl AsRef<Path>) -> Result<PathBuf> {
        self.save_with(path, IfExists::Fail).await
    }

    /// [`save`](Self::save), with `if_exists` deciding what happens to a file already
    /// there: [`IfExists::Replace`] replaces it atomically once the whole body is on disk.
    pub async fn save_with(self, path: impl AsRef<Path>, if_exists: IfExists) -> Result<PathBuf> {
        let target = Target::new(path.as_ref(), &self.id, self.format).if_exists(if_exists);
        save::write_stream(target, self.body.into_inner()).await
    }
}

impl Response<ImageStream> {
    /// [`ImageStream::save`] of the value.
    pub async fn save(self, path: impl AsRef<Path>) -> Result<PathBuf> {
        self.into_inner().save(path).await
    }

    /// [`ImageStream::save_with`] of the value.
    pub async fn save_with(self, path: impl AsRef<Path>, if_exists: IfExists) -> Result<PathBuf> {
        self.into_inner().save_with(path, if_exists).await
    }

    /// [`ImageStream::into_image`] of the value, keeping the metadata.
    pub async fn into_image(self) -> Result<Response<Image>> {
        let (stream, meta, elapsed) = self.into_parts();
        let image = stream.into_image().await?;
        Ok(Response::new(image, meta, elapsed))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::format::tests::png_header;

    #[tokio::test]
    async fn save_to_dir_and_fixes_extension() {
        let dir = tempfile::tempdir().unwrap();
        let img = Image::new(Bytes::from(png_header(2, 3)), Format::Webp, 1, "gen/1");
        assert_eq!(img.format(), Format::Png);
        assert_eq!((img.width(), img.height()), (2, 3));
        assert_eq!(img.file_name(), "gen_1-1.png");
        let p = img.save(dir.path()).await.unwrap();
        assert_eq!(p, dir.path().join("gen_1-1.png"));
        assert_eq!(std::fs::read(&p).unwrap(), png_header(2, 3));
        let p = img.save(dir.path().join("cat.jpg")).await.unwrap();
        assert_eq!(p, dir.path().join("cat.png"));
        let p = img.save(dir.path().join("dog")).await.unwrap();
        assert_eq!(p, dir.path().join("dog.png"));
        // Saving again to the same file refuses and keeps the file.
        let err = img.save(dir.path().join("dog.png")).await.unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        // Missing directories are created.
        let p = img
            .save(dir.path().join("missing/dir/a.png"))
            .await
            .unwrap();
        assert!(p.exists());
    }

    #[tokio::test]
    async fn four_variants_into_a_new_directory_are_four_files() {
        let dir = tempfile::tempdir().unwrap();
        let images = (0..4)
            .map(|i| {
                Image::new(
                    Bytes::from(png_header(8 + i, 8)),
                    Format::Png,
                    i as usize,
                    "gen-x",
                )
            })
            .collect();
        let generation = Generation::new("gen-x".into(), None, images);
        let out = dir.path().join("out");
        let paths = generation.save_all(&out).await.unwrap();
        assert_eq!(paths.len(), 4);
        for (i, p) in paths.iter().enumerate() {
            assert_eq!(p, &out.join(format!("gen-x-{i}.png")));
            assert_eq!(std::fs::read(p).unwrap(), png_header(8 + i as u32, 8));
        }
        // Image by image into "out2/" (a directory that does not exist yet): the same.
        let out2 = format!("{}/", dir.path().join("out2").display());
        let mut saved = Vec::new();
        for image in generation.images() {
            saved.push(image.save(&out2).await.unwrap());
        }
        saved.sort();
        saved.dedup();
        assert_eq!(saved.len(), 4);
        // Saving the same generation again keeps the first files and adds new names.
        let again = generation.save_all(&out).await.unwrap();
        assert_eq!(again[0], out.join("gen-x-0-2.png"));
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 8);
    }

    #[test]
    fn from_bytes_needs_an_image() {
        assert!(matches!(
            Image::from_bytes(&b"hello"[..]),
            Err(Error::Validation(_))
        ));
        let i = Image::from_bytes(png_header(4, 5)).unwrap();
        assert_eq!((i.width(), i.height(), i.index()), (4, 5, 0));
    }
}
