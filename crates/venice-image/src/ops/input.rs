//! [`ImageInput`]: an image sent to an operation (file, bytes, base64 or URL), with the
//! provider's size limits checked before anything is uploaded.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use venice_openapi::{UploadSource, Uploads};

use crate::error::ValidationError;
use crate::error::{Error, Result};
use crate::format::{Format, sniff_dimensions};
use crate::limits::MAX_INPUT_IMAGE_BYTES;

/// Bytes read from the start of a file to find its dimensions (JPEG headers can sit
/// behind large EXIF blocks; when they are further in, the server decides).
const HEADER_PROBE: usize = 256 * 1024;

#[derive(Clone)]
enum Source {
    /// A file read while the request is sent.
    Path { path: PathBuf, len: u64 },
    /// Bytes in memory, shared by every attempt.
    Bytes(Bytes),
    /// Base64 text as the caller gave it (raw or a data URI).
    Base64 { text: Bytes, decoded_len: u64 },
    /// An http(s) URL the server fetches.
    Url(String),
}

/// An input image of [`Client::upscale`](crate::Client::upscale),
/// [`Client::edit`](crate::Client::edit), [`Client::multi_edit`](crate::Client::multi_edit)
/// or [`Client::remove_background`](crate::Client::remove_background).
///
/// Every constructor checks the 25 MB limit
/// ([`MAX_INPUT_IMAGE_BYTES`](crate::limits::MAX_INPUT_IMAGE_BYTES), 25,000,000 bytes)
/// and reads the image's dimensions from its header when it can, so the per-operation
/// pixel limits are checked by the request builders before any upload.
///
/// How it travels: when every image of a request is a file ([`from_path`](Self::from_path))
/// or bytes ([`from_bytes`](Self::from_bytes)), the request goes as
/// `multipart/form-data` and each image is a file part sent as it is, a file streamed
/// from disk while the request is sent (flat memory, no base64). A URL, or base64 given
/// by the caller, goes in a JSON body (the file or bytes of that request base64-encoded
/// while they are sent); a JSON body over 35 MB
/// ([`MAX_JSON_BODY_BYTES`](crate::limits::MAX_JSON_BODY_BYTES)) is refused before
/// anything is sent. `Debug` shows the kind and size, never the content or a URL's path
/// and query (which may carry a signed token).
///
/// ```
/// use venice_image::ImageInput;
///
/// let url = ImageInput::from_url("https://example.com/cat.png")?;
/// assert!(url.is_url());
/// assert!(ImageInput::from_url("file:///etc/passwd").is_err());
/// # Ok::<(), venice_image::Error>(())
/// ```
#[derive(Clone)]
pub struct ImageInput {
    source: Source,
    dimensions: Option<(u32, u32)>,
    format: Option<Format>,
}

impl fmt::Debug for ImageInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ImageInput");
        match &self.source {
            Source::Path { path, len } => d.field("path", path).field("bytes", len),
            Source::Bytes(b) => d.field("kind", &"bytes").field("bytes", &b.len()),
            Source::Base64 { decoded_len, .. } => {
                d.field("kind", &"base64").field("bytes", decoded_len)
            }
            Source::Url(u) => d.field("url_host", &url_host(u)),
        };
        d.field("dimensions", &self.dimensions)
            .field("format", &self.format)
            .finish()
    }
}

fn url_host(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The provider's size rule for an input image of `bytes` (decoded) bytes.
fn check_len(bytes: u64) -> Result<(), ValidationError> {
    let rule = if bytes == 0 {
        "image is empty".to_owned()
    } else if bytes > MAX_INPUT_IMAGE_BYTES {
        format!(
            "image is {bytes} bytes; the API accepts at most {MAX_INPUT_IMAGE_BYTES} bytes (25 MB)"
        )
    } else {
        return Ok(());
    };
    Err(ValidationError::new("image", rule))
}

impl ImageInput {
    /// An image file, streamed from disk when the request is sent (no copy in memory).
    ///
    /// Checks the size from the file's metadata and reads up to 256 KiB of its header
    /// for the dimensions, both before any upload. Fails with [`Error::Io`] when the file
    /// cannot be read and [`Error::Validation`] when it is empty or over 25 MB. The file
    /// must keep its size until the request is sent; a file that changes meanwhile fails
    /// the upload instead of sending a mix.
    ///
    /// This does a small blocking read.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        let len = meta.len();
        check_len(len)?;
        let mut head = Vec::with_capacity(HEADER_PROBE.min(len as usize));
        std::fs::File::open(path)
            .map_err(io)?
            .take(HEADER_PROBE as u64)
            .read_to_end(&mut head)
            .map_err(io)?;
        Ok(Self {
            source: Source::Path {
                path: path.to_path_buf(),
                len,
            },
            dimensions: sniff_dimensions(&head),
            format: Format::sniff(&head),
        })
    }

    /// An image in memory (PNG, JPEG, WebP, ...). It is copied once, here; the copy is
    /// shared by every request and retry that sends it.
    pub fn from_bytes(bytes: impl AsRef<[u8]>) -> Result<Self> {
        let bytes = Bytes::copy_from_slice(bytes.as_ref());
        check_len(bytes.len() as u64)?;
        Ok(Self {
            dimensions: sniff_dimensions(&bytes),
            format: Format::sniff(&bytes),
            source: Source::Bytes(bytes),
        })
    }

    /// An image already encoded as standard base64, raw or as a data URI
    /// (`data:image/png;base64,...`). Whitespace (line breaks of wrapped base64) is
    /// removed; anything else that is not base64 is refused here.
    pub fn from_base64(text: impl Into<String>) -> Result<Self> {
        Ok(Self::from_base64_text(text.into())?)
    }

    fn from_base64_text(text: String) -> Result<Self, ValidationError> {
        let mut text = text;
        if text.bytes().any(|b| b.is_ascii_whitespace()) {
            text.retain(|c| !c.is_ascii_whitespace());
        }
        let payload_start = match text.split_once(";base64,") {
            Some((prefix, _)) if prefix.starts_with("data:") => prefix.len() + ";base64,".len(),
            _ if text.starts_with("data:") => {
                return Err(ValidationError::new(
                    "image",
                    "a data URI must be base64 (data:<type>;base64,<data>)",
                ));
            }
            _ => 0,
        };
        let payload = &text.as_bytes()[payload_start..];
        let invalid =
            |_| ValidationError::new("image", "not valid base64 (standard alphabet, padded)");
        let decoded_len = base64_simd::STANDARD
            .decoded_length(payload)
            .map_err(invalid)? as u64;
        // The size first: a base64 text too large is refused without reading it all.
        check_len(decoded_len)?;
        base64_simd::STANDARD.check(payload).map_err(invalid)?;
        // Decode only a prefix for the header: whole 4-character groups.
        let probe = payload.len().min(HEADER_PROBE / 3 * 4) / 4 * 4;
        let head = base64_simd::STANDARD
            .decode_to_vec(&payload[..probe])
            .unwrap_or_default();
        Ok(Self {
            source: Source::Base64 {
                text: Bytes::from(text.into_bytes()),
                decoded_len,
            },
            dimensions: sniff_dimensions(&head),
            format: Format::sniff(&head),
        })
    }

    /// An image the server downloads: an absolute `http` or `https` URL. Accepted by
    /// edit, multi-edit and background removal; upscale needs the image itself.
    pub fn from_url(url: impl Into<String>) -> Result<Self> {
        let url: String = url.into();
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| ValidationError::new("image", format!("not a valid URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ValidationError::new(
                "image",
                "image URLs must be absolute http:// or https:// URLs",
            )
            .into());
        }
        Ok(Self {
            source: Source::Url(parsed.into()),
            dimensions: None,
            format: None,
        })
    }

    /// Width and height read from the image header, when known before sending.
    pub fn dimensions(&self) -> Option<(u32, u32)> {
        self.dimensions
    }

    /// Format read from the image header, when known before sending.
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// Size of the image in bytes (decoded), when known before sending.
    pub fn byte_len(&self) -> Option<u64> {
        match &self.source {
            Source::Path { len, .. } => Some(*len),
            Source::Bytes(b) => Some(b.len() as u64),
            Source::Base64 { decoded_len, .. } => Some(*decoded_len),
            Source::Url(_) => None,
        }
    }

    /// Whether the image is a file or bytes, which a `multipart/form-data` body carries
    /// as a file part (a URL or caller-given base64 needs a JSON body).
    pub fn is_file_data(&self) -> bool {
        matches!(self.source, Source::Path { .. } | Source::Bytes(_))
    }

    /// Whether the server fetches this image from a URL.
    pub fn is_url(&self) -> bool {
        matches!(self.source, Source::Url(_))
    }

    /// Refuse a URL where the operation needs the image itself.
    pub(crate) fn require_data(&self, field: &str, operation: &str) -> Result<(), ValidationError> {
        if self.is_url() {
            return Err(ValidationError::new(
                field.to_owned(),
                format!("{operation} does not accept image URLs; pass a file, bytes or base64"),
            ));
        }
        Ok(())
    }

    /// Check the pixel count against `[min, max]` when the dimensions are known.
    pub(crate) fn check_pixels(
        &self,
        field: &str,
        min: u64,
        max: Option<u64>,
    ) -> Result<(), ValidationError> {
        let Some((w, h)) = self.dimensions else {
            return Ok(());
        };
        let pixels = u64::from(w) * u64::from(h);
        if pixels < min {
            return Err(ValidationError::new(
                field.to_owned(),
                format!("image is {w}x{h} ({pixels} pixels); at least {min} pixels are required"),
            ));
        }
        if let Some(max) = max
            && pixels > max
        {
            return Err(ValidationError::new(
                field.to_owned(),
                format!("image is {w}x{h} ({pixels} pixels); at most {max} pixels are accepted"),
            ));
        }
        Ok(())
    }

    /// The value of this image's field: a URL as it is, data as the placeholder of an
    /// upload registered in `uploads` (streamed while the request is sent, base64 in
    /// JSON or a file part of a form).
    pub(crate) fn wire_value(&self, uploads: &mut Uploads) -> Result<String, ValidationError> {
        let source = match &self.source {
            Source::Url(u) => return Ok(u.clone()),
            Source::Path { path, len } => UploadSource::File {
                path: path.clone(),
                len: *len,
            },
            Source::Bytes(b) => UploadSource::Bytes(b.clone()),
            Source::Base64 { text, .. } => UploadSource::Text(text.clone()),
        };
        let media_type = self.format.map_or("application/octet-stream", |f| f.mime());
        uploads
            .add_as(source, media_type)
            .map_err(|e| ValidationError::new("image", e.to_string()))
    }
}

/// What an image field of a stored wire request holds until the request is sent: the
/// real value (a URL, or an upload placeholder) is put in per call by
/// [`ImageInput::wire_value`].
pub(crate) fn unsent_image<T: std::str::FromStr>() -> T
where
    T::Err: std::fmt::Debug,
{
    // Every generated image type is a string of at least one character.
    match "unsent-image".parse() {
        Ok(v) => v,
        Err(e) => unreachable!("image field types accept any non-empty string: {e:?}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::format::tests::png_header;
    use crate::limits::MIN_INPUT_PIXELS;

    #[test]
    fn bytes_and_base64_agree() {
        let png = png_header(300, 200);
        let a = ImageInput::from_bytes(&png).unwrap();
        assert_eq!(a.dimensions(), Some((300, 200)));
        assert_eq!(a.format(), Some(Format::Png));
        let text = base64_simd::STANDARD.encode_to_string(&png);
        let b = ImageInput::from_base64(format!("data:image/png;base64,{text}")).unwrap();
        assert_eq!(b.dimensions(), Some((300, 200)));
        assert_eq!(b.byte_len(), Some(png.len() as u64));
        let wrapped: String = text
            .as_bytes()
            .chunks(10)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(
            ImageInput::from_base64(wrapped).unwrap().byte_len(),
            Some(png.len() as u64)
        );
    }

    #[test]
    fn refuses_bad_inputs_before_upload() {
        assert!(ImageInput::from_bytes([]).is_err());
        assert!(ImageInput::from_base64("not base64!").is_err());
        assert!(ImageInput::from_base64("data:image/png,abc").is_err());
        assert!(ImageInput::from_url("ftp://x/y.png").is_err());
        assert!(ImageInput::from_url("/relative.png").is_err());
        // 25 MB + 3 bytes of base64 'A's (decodes to zeros) is over the limit.
        let big = "A".repeat(((MAX_INPUT_IMAGE_BYTES + 3) / 3 * 4) as usize);
        let e = ImageInput::from_base64(big).unwrap_err();
        assert!(e.to_string().contains("at most"), "{e}");
    }

    #[test]
    fn from_path_checks_metadata_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.png");
        let f = std::fs::File::create(&p).unwrap();
        // A sparse file: the limit is checked from metadata, nothing is read.
        f.set_len(MAX_INPUT_IMAGE_BYTES + 1).unwrap();
        assert!(matches!(
            ImageInput::from_path(&p),
            Err(Error::Validation(_))
        ));
        assert!(matches!(
            ImageInput::from_path(dir.path().join("missing.png")),
            Err(Error::Io { .. })
        ));
        let small = dir.path().join("small.png");
        std::fs::write(&small, png_header(100, 100)).unwrap();
        let input = ImageInput::from_path(&small).unwrap();
        let e = input
            .check_pixels("image", MIN_INPUT_PIXELS, None)
            .unwrap_err();
        assert!(e.to_string().contains("10000 pixels"), "{e}");
    }

    #[test]
    fn every_image_field_type_takes_the_unsent_marker() {
        use venice_openapi::types;
        let _: types::UpscaleImageRequestImage = unsent_image();
        let _: types::EditImageRequestImage = unsent_image();
        let _: types::MultiEditImageRequestImagesItem = unsent_image();
        let _: types::BackgroundRemoveImageRequestImage = unsent_image();
    }

    #[test]
    fn debug_hides_content_and_url_path() {
        let i = ImageInput::from_url("https://cdn.example.com/a.png?sig=s3cr3t").unwrap();
        let d = format!("{i:?}");
        assert!(
            d.contains("cdn.example.com") && !d.contains("s3cr3t"),
            "{d}"
        );
        let b = ImageInput::from_bytes(b"hello world").unwrap();
        assert!(!format!("{b:?}").contains("hello"));
    }
}
