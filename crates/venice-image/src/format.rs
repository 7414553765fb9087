//! Image formats: [`Format`], and what the header of PNG, JPEG or WebP bytes says
//! (format, dimensions, alpha channel) without decoding the image.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::ValidationError;

/// Image file format: of a request's output, of an input image, of a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// WebP (the server default).
    Webp,
}

impl Format {
    /// Every format the API produces.
    pub const ALL: [Format; 3] = [Format::Jpeg, Format::Png, Format::Webp];

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

    /// Whether `ext` (without the dot, any case) is an extension of this format.
    pub(crate) fn matches_extension(&self, ext: &str) -> bool {
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

impl Serialize for Format {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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

/// Pixel width and height read from the header of PNG, JPEG or WebP bytes (`None` when
/// the format is not recognised or the header is cut short). Never panics.
pub(crate) fn sniff_dimensions(b: &[u8]) -> Option<(u32, u32)> {
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

/// Alpha channel presence from the header of PNG, WebP or JPEG bytes.
pub(crate) fn has_alpha(b: &[u8]) -> Option<bool> {
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
    fn alpha_from_headers() {
        assert_eq!(has_alpha(&png_header(2, 2)), Some(true));
        assert_eq!(has_alpha(&jpeg_header(2, 2)), Some(false));
        assert_eq!(has_alpha(b"nope"), None);
    }
}
