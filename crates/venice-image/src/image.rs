//! Generated images: [`Format`], [`GeneratedImage`], [`BinaryImage`], dimension
//! sniffing and atomic saving.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use tokio::io::AsyncWriteExt;

use crate::error::ValidationError;
use crate::error::{Error, Result};
use crate::meta::ResponseMeta;

/// Image file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// WebP (the server default).
    Webp,
}

impl Format {
    /// File extension without the dot (`jpg`, `png`, `webp`).
    pub fn extension(&self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
        }
    }

    /// MIME type (`image/jpeg`, ...).
    pub fn mime(&self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
        }
    }

    /// The wire value of the request's `format` field.
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Webp => "webp",
        }
    }

    /// Guess the format from the first bytes of an image.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Format::Webp)
        } else {
            None
        }
    }

    /// The format named by a MIME type such as `image/png; charset=binary`.
    pub fn from_mime(mime: &str) -> Option<Format> {
        let essence = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "image/jpeg" | "image/jpg" => Some(Format::Jpeg),
            "image/png" => Some(Format::Png),
            "image/webp" => Some(Format::Webp),
            _ => None,
        }
    }

    fn matches_extension(&self, ext: &str) -> bool {
        let ext = ext.to_ascii_lowercase();
        match self {
            Format::Jpeg => ext == "jpg" || ext == "jpeg",
            Format::Png => ext == "png",
            Format::Webp => ext == "webp",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = ValidationError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => Ok(Format::Jpeg),
            "png" => Ok(Format::Png),
            "webp" => Ok(Format::Webp),
            _ => Err(ValidationError::new(
                "format",
                format!("expected jpeg, png or webp, got {s:?}"),
            )),
        }
    }
}

/// Width and height read from an image header, or `None` when the header is not a
/// PNG, JPEG or WebP header this parser understands.
/// Pixel width and height read from the header of PNG, JPEG or WebP bytes (`None` when
/// the format is not recognised or the header is cut short). Never panics.
pub fn sniff_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    match Format::sniff(b)? {
        Format::Png => {
            // signature (8) + length (4) + "IHDR" (4) + width (4) + height (4)
            if b.len() < 24 || &b[12..16] != b"IHDR" {
                return None;
            }
            Some((be32(&b[16..20])?, be32(&b[20..24])?))
        }
        Format::Jpeg => jpeg_dimensions(b),
        Format::Webp => webp_dimensions(b),
    }
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(0..4)?.try_into().ok()?))
}

fn jpeg_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xD8 || marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            i += 2; // standalone markers
            continue;
        }
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        if len < 2 {
            return None;
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            // len(2) precision(1) height(2) width(2)
            let seg = b.get(i + 4..i + 9)?;
            let h = u16::from_be_bytes([seg[1], seg[2]]) as u32;
            let w = u16::from_be_bytes([seg[3], seg[4]]) as u32;
            return Some((w, h));
        }
        if marker == 0xDA || marker == 0xD9 {
            return None; // start of scan / end of image before any frame header
        }
        i += 2 + len;
    }
    None
}

fn webp_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    let chunk = b.get(12..16)?;
    let le24 = |s: &[u8]| u32::from(s[0]) | (u32::from(s[1]) << 8) | (u32::from(s[2]) << 16);
    match chunk {
        b"VP8 " => {
            // chunk header (8) + frame tag (3) + start code 9d 01 2a (3) + w (2) + h (2)
            let d = b.get(20..30)?;
            if d[3..6] != [0x9d, 0x01, 0x2a] {
                return None;
            }
            let w = u32::from(u16::from_le_bytes([d[6], d[7]]) & 0x3FFF);
            let h = u32::from(u16::from_le_bytes([d[8], d[9]]) & 0x3FFF);
            Some((w, h))
        }
        b"VP8L" => {
            let d = b.get(20..25)?;
            if d[0] != 0x2f {
                return None;
            }
            let bits = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            let d = b.get(24..30)?;
            Some((le24(&d[0..3]) + 1, le24(&d[3..6]) + 1))
        }
        _ => None,
    }
}

/// One decoded image of a JSON-mode [`Generation`](crate::Generation).
#[derive(Clone)]
pub struct GeneratedImage {
    /// Format, sniffed from the bytes (falling back to the requested format).
    pub format: Format,
    /// The encoded image file.
    pub bytes: Bytes,
    /// Width in pixels read from the header (0 when the header is not understood).
    pub width: u32,
    /// Height in pixels read from the header (0 when the header is not understood).
    pub height: u32,
    /// Position of this image in the response (0-based).
    pub index: usize,
    pub(crate) generation_id: String,
}

impl fmt::Debug for GeneratedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedImage")
            .field("format", &self.format)
            .field("len", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("index", &self.index)
            .finish()
    }
}

impl GeneratedImage {
    pub(crate) fn new(bytes: Bytes, fallback: Format, index: usize, generation_id: &str) -> Self {
        let format = Format::sniff(&bytes).unwrap_or(fallback);
        let (width, height) = sniff_dimensions(&bytes).unwrap_or((0, 0));
        Self {
            format,
            bytes,
            width,
            height,
            index,
            generation_id: generation_id.to_owned(),
        }
    }

    /// The file name used when saving into a directory: `<id>-<index>.<ext>`.
    pub fn file_name(&self) -> String {
        let id: String = self
            .generation_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let id = if id.is_empty() {
            "image".to_owned()
        } else {
            id
        };
        format!("{id}-{}.{}", self.index, self.format.extension())
    }

    /// Write the image atomically (temporary file in the same directory, fsync,
    /// rename) and return the final path.
    ///
    /// If `path` is an existing directory, the file is named `<id>-<index>.<ext>`
    /// inside it. Otherwise `path` is the file; a missing or wrong extension is
    /// replaced by the one matching [`format`](Self::format).
    ///
    /// This does blocking file I/O; in async code call it from
    /// `tokio::task::spawn_blocking` for large batches.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<PathBuf> {
        let target = resolve_target(path.as_ref(), self.format, || self.file_name());
        write_atomic(&target, &self.bytes)?;
        Ok(target)
    }
}

fn resolve_target(path: &Path, format: Format, name: impl FnOnce() -> String) -> PathBuf {
    if path.is_dir() {
        return path.join(name());
    }
    let ok = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| format.matches_extension(e));
    if ok {
        path.to_path_buf()
    } else {
        path.with_extension(format.extension())
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn temp_path(target: &Path, suffix: &str) -> PathBuf {
    let mut name = target
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    target.with_file_name(name)
}

fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = temp_path(target, &format!(".{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, target).map_err(io_err(target))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A binary-mode response whose body has not been read yet: stream it to disk with
/// [`save_to`](Self::save_to) or collect it with [`bytes`](Self::bytes).
pub struct BinaryImage {
    /// Metadata from the response headers.
    pub meta: ResponseMeta,
    /// Format from the response `Content-Type` (falling back to the requested format).
    pub format: Format,
    /// Time from sending the (last) request to receiving the response headers.
    pub elapsed: Duration,
    pub(crate) content_length: Option<u64>,
    pub(crate) body: venice_openapi::ByteStream,
}

impl fmt::Debug for BinaryImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinaryImage")
            .field("meta", &self.meta)
            .field("format", &self.format)
            .field("elapsed", &self.elapsed)
            .finish_non_exhaustive()
    }
}

impl BinaryImage {
    /// The body length announced by the server, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// Read the whole image into memory.
    pub async fn bytes(self) -> Result<Bytes> {
        crate::decode::read_stream(self.body, self.content_length)
            .await
            .map(Bytes::from)
    }

    /// Stream the image to disk and return the final path.
    ///
    /// Chunks are written to `<path>.partial` as they arrive; after the last one the
    /// file is fsynced and renamed to `path`. If `path` is a directory, the file is
    /// named after the request id (or a timestamp) with the format's extension.
    /// A missing or wrong extension is fixed as in [`GeneratedImage::save`].
    pub async fn save_to(self, path: impl AsRef<Path>) -> Result<PathBuf> {
        let format = self.format;
        let name = || {
            let stem = self
                .meta
                .request_id
                .clone()
                .filter(|s| {
                    !s.is_empty()
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                })
                .unwrap_or_else(|| {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    format!("venice-{}", now.as_millis())
                });
            format!("{stem}.{}", format.extension())
        };
        let target = resolve_target(path.as_ref(), format, name);
        let partial = temp_path(&target, ".partial");
        let mut body = self.body.into_inner();
        let result = async {
            let mut file = tokio::fs::File::create(&partial)
                .await
                .map_err(io_err(&partial))?;
            while let Some(chunk) = body.try_next().await.map_err(Error::from_body_read)? {
                file.write_all(&chunk).await.map_err(io_err(&partial))?;
            }
            file.flush().await.map_err(io_err(&partial))?;
            file.sync_all().await.map_err(io_err(&partial))?;
            drop(file);
            tokio::fs::rename(&partial, &target)
                .await
                .map_err(io_err(&target))
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&partial).await;
        }
        result.map(|()| target)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// A PNG signature + IHDR chunk for `w`x`h` (not a decodable image, just a header).
    pub(crate) fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
        v.extend_from_slice(&13u32.to_be_bytes());
        v.extend_from_slice(b"IHDR");
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    fn jpeg_header(w: u16, h: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        // APP0 segment of length 16
        v.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10]);
        v.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        // SOF0
        v.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v
    }

    fn riff(chunk: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&((payload.len() + 12) as u32).to_le_bytes());
        v.extend_from_slice(b"WEBP");
        v.extend_from_slice(chunk);
        v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn sniff_png() {
        let b = png_header(640, 480);
        assert_eq!(Format::sniff(&b), Some(Format::Png));
        assert_eq!(sniff_dimensions(&b), Some((640, 480)));
        assert_eq!(sniff_dimensions(&b[..20]), None);
    }

    #[test]
    fn sniff_jpeg() {
        let b = jpeg_header(1280, 720);
        assert_eq!(Format::sniff(&b), Some(Format::Jpeg));
        assert_eq!(sniff_dimensions(&b), Some((1280, 720)));
        assert_eq!(sniff_dimensions(&b[..10]), None);
    }

    #[test]
    fn sniff_webp_variants() {
        // lossy VP8
        let mut p = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        p.extend_from_slice(&800u16.to_le_bytes());
        p.extend_from_slice(&600u16.to_le_bytes());
        let b = riff(b"VP8 ", &p);
        assert_eq!(Format::sniff(&b), Some(Format::Webp));
        assert_eq!(sniff_dimensions(&b), Some((800, 600)));
        // lossless VP8L: 14 bits (w-1), 14 bits (h-1)
        let bits: u32 = (1023 - 1) | ((511 - 1) << 14);
        let mut p = vec![0x2f];
        p.extend_from_slice(&bits.to_le_bytes());
        assert_eq!(sniff_dimensions(&riff(b"VP8L", &p)), Some((1023, 511)));
        // extended VP8X: flags(4) + 24-bit (w-1) + 24-bit (h-1)
        let mut p = vec![0, 0, 0, 0];
        p.extend_from_slice(&[0xFF, 0x03, 0x00]); // 1023 -> 1024
        p.extend_from_slice(&[0xFF, 0x02, 0x00]); // 767 -> 768
        assert_eq!(sniff_dimensions(&riff(b"VP8X", &p)), Some((1024, 768)));
    }

    #[test]
    fn sniff_garbage_never_panics() {
        for n in 0..40 {
            let b = vec![0xFFu8; n];
            let _ = sniff_dimensions(&b);
            let mut j = vec![0xFF, 0xD8];
            j.extend(std::iter::repeat_n(0xFF, n));
            let _ = sniff_dimensions(&j);
            let r = riff(b"VP8 ", &vec![0; n]);
            let _ = sniff_dimensions(&r[..r.len().min(20 + n / 2)]);
        }
        assert_eq!(Format::sniff(b"hello"), None);
    }

    #[test]
    fn format_strings() {
        assert_eq!("jpg".parse::<Format>().unwrap(), Format::Jpeg);
        assert_eq!(Format::Jpeg.extension(), "jpg");
        assert_eq!(Format::Webp.mime(), "image/webp");
        assert_eq!(Format::from_mime("image/png; q=1"), Some(Format::Png));
        assert!("gif".parse::<Format>().is_err());
    }

    #[test]
    fn save_to_dir_and_fixes_extension() {
        let dir = tempfile::tempdir().unwrap();
        let img = GeneratedImage::new(Bytes::from(png_header(2, 3)), Format::Webp, 1, "gen/1");
        assert_eq!(img.format, Format::Png);
        assert_eq!((img.width, img.height), (2, 3));
        let p = img.save(dir.path()).unwrap();
        assert_eq!(p, dir.path().join("gen_1-1.png"));
        assert_eq!(std::fs::read(&p).unwrap(), png_header(2, 3));
        let p = img.save(dir.path().join("cat.jpg")).unwrap();
        assert_eq!(p, dir.path().join("cat.png"));
        let p = img.save(dir.path().join("dog")).unwrap();
        assert_eq!(p, dir.path().join("dog.png"));
        let p = img.save(dir.path().join("x.PNG")).unwrap();
        assert_eq!(p, dir.path().join("x.PNG"));
        // no temporary files left behind
        let n = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(n, 4);
        let err = img.save(dir.path().join("missing/dir/a.png")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
    }
}

/// The result of a JSON-mode [`Client::generate`](crate::Client::generate).
#[derive(Clone, Debug)]
pub struct Generation {
    /// Request id from the body.
    pub id: String,
    /// Server timing, when sent.
    pub timing: Option<crate::decode::Timing>,
    /// The images, one per variant.
    pub images: Vec<GeneratedImage>,
    /// Metadata from the response headers.
    pub meta: ResponseMeta,
    /// Wall time of the call, including retries and decoding.
    pub elapsed: Duration,
}

impl Generation {
    /// Save every image into `dir` (named `<id>-<index>.<ext>`) and return the paths.
    pub fn save_all(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        self.images.iter().map(|i| i.save(dir.as_ref())).collect()
    }
}
