//! Test images of an exact byte size, for tests of upload limits (the provider's 25 MB
//! per file, 35 MB per JSON body) that need real, decodable images without megapixels
//! to process.

use std::io::Cursor;

/// A private ancillary PNG chunk type (lower-case first and second letters: decoders
/// skip it; upper-case third: the reserved bit is clear).
const PADDING_CHUNK: &[u8; 4] = b"vpAd";

/// A valid `width`×`height` PNG of exactly `total` bytes: a small gradient followed by a
/// private ancillary chunk of zeros that every decoder skips, so a 24 MB upload decodes
/// as quickly as a tiny image. `None` when `total` is smaller than the image itself.
///
/// ```
/// let png = venice_mock::fixtures::padded_png(256, 256, 1_000_000).unwrap();
/// assert_eq!(png.len(), 1_000_000);
/// let img = image::load_from_memory(&png).unwrap();
/// assert_eq!((img.width(), img.height()), (256, 256));
/// ```
pub fn padded_png(width: u32, height: u32, total: usize) -> Option<Vec<u8>> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    });
    let mut png = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut png, image::ImageFormat::Png)
        .ok()?;
    let png = png.into_inner();
    // The IEND chunk is the last 12 bytes; the padding goes just before it.
    let (body, iend) = png.split_at(png.len().checked_sub(12)?);
    let data_len = total.checked_sub(png.len() + 12)?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(body);
    out.extend_from_slice(&u32::try_from(data_len).ok()?.to_be_bytes());
    out.extend_from_slice(PADDING_CHUNK);
    let mut crc = crc32fast::Hasher::new();
    crc.update(PADDING_CHUNK);
    let zeros = vec![0u8; 64 * 1024];
    let mut left = data_len;
    while left > 0 {
        let n = left.min(zeros.len());
        crc.update(&zeros[..n]);
        out.extend_from_slice(&zeros[..n]);
        left -= n;
    }
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out.extend_from_slice(iend);
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exact_sizes_decode() {
        for total in [400_000, 25_000_000] {
            let png = padded_png(300, 200, total).unwrap();
            assert_eq!(png.len(), total);
            let img = image::load_from_memory(&png).unwrap();
            assert_eq!((img.width(), img.height()), (300, 200));
        }
        assert!(padded_png(300, 200, 100).is_none());
    }
}
