//! Deterministic image synthesis, encoding (with optional EXIF), decoding of uploaded
//! images and the simple transforms behind edit, upscale and background removal.

use std::collections::{HashMap, VecDeque};
use std::io::Cursor;
use std::sync::Mutex;

use base64::Engine as _;
use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ExtendedColorType, ImageEncoder, RgbImage, Rgba, RgbaImage};

use crate::label::{self, Label};

/// Output format of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// WebP (lossless).
    Webp,
    /// PNG.
    Png,
    /// JPEG (quality 90).
    Jpeg,
}

impl OutputFormat {
    /// Parses `webp`, `png` or `jpeg`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webp" => Some(Self::Webp),
            "png" => Some(Self::Png),
            "jpeg" | "jpg" => Some(Self::Jpeg),
            _ => None,
        }
    }

    /// The MIME type, e.g. `image/webp`.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Webp => "image/webp",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
        }
    }
}

/// 64-bit FNV-1a over several parts (separated, so `("ab","c") != ("a","bc")`).
pub fn fnv64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(std::iter::once(&0xFFu8)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn colour(h: u64, shift: u32) -> [u8; 3] {
    let v = h.rotate_right(shift);
    [
        (v & 0xFF) as u8,
        ((v >> 8) & 0xFF) as u8,
        ((v >> 16) & 0xFF) as u8,
    ]
}

/// Renders the deterministic picture of (model, prompt, seed, variant): the
/// [`render_pattern`] with the request written over it (prompt, model, size, seed,
/// variant) in an embedded 8×8 bitmap font, white on a darkened panel at the top, so
/// an offline image says what was asked.
pub fn render(
    model: &str,
    prompt: &str,
    seed: i64,
    variant: u32,
    width: u32,
    height: u32,
) -> RgbImage {
    let mut img = render_pattern(model, prompt, seed, variant, width, height);
    let request = Label {
        prompt,
        model,
        seed,
        variant,
    };
    label::draw(&mut img, &request);
    img
}

/// The pattern alone, without the text: a two-colour gradient whose colours come from
/// a hash of the inputs, overlaid with a checker whose cell size and phase depend on
/// the variant. (The mock's images before the text was added; the benchmark compares
/// the two.)
pub fn render_pattern(
    model: &str,
    prompt: &str,
    seed: i64,
    variant: u32,
    width: u32,
    height: u32,
) -> RgbImage {
    let h = fnv64(&[
        model.as_bytes(),
        prompt.as_bytes(),
        &seed.to_le_bytes(),
        &variant.to_le_bytes(),
    ]);
    let a = colour(h, 0);
    let b = colour(h, 24);
    let cell = 4u32 << (variant % 4);
    let w = width.max(1);
    let ht = height.max(1);
    // Pixel (x, y), channel c: the gradient `(a[c]·(255−t) + b[c]·t) / 255` with
    // t = 255·x/w, plus s/4 with s = 255·y/h (wrapping), XOR 0x20 on the checker's even
    // cells. The gradient depends on x only: computed once per column, so a 16 MP image
    // is a few additions per pixel (this was a per-pixel closure, slow in debug builds).
    let gradient: Vec<[u16; 3]> = (0..width)
        .map(|x| {
            let t = (u64::from(x) * 255 / u64::from(w)) as u16;
            let mix = |ca: u8, cb: u8| (u16::from(ca) * (255 - t) + u16::from(cb) * t) / 255;
            [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])]
        })
        .collect();
    let mut raw = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        let s = ((u64::from(y) * 255 / u64::from(ht)) as u16) / 4;
        for (x, g) in (0u32..).zip(&gradient) {
            let flip = if ((x / cell) + (y / cell) + variant).is_multiple_of(2) {
                0x20
            } else {
                0
            };
            raw.extend_from_slice(&[
                ((g[0] + s) & 0xFF) as u8 ^ flip,
                ((g[1] + s) & 0xFF) as u8 ^ flip,
                ((g[2] + s) & 0xFF) as u8 ^ flip,
            ]);
        }
    }
    RgbImage::from_raw(width, height, raw).unwrap_or_else(|| RgbImage::new(width, height))
}

/// A TIFF (EXIF) block with one `ImageDescription` tag. Non-ASCII characters become `?`.
pub fn exif_with_description(description: &str) -> Vec<u8> {
    let mut text: Vec<u8> = format!("venice-mock: {description}")
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c as u8
            } else {
                b'?'
            }
        })
        .collect();
    text.push(0);
    let count = u32::try_from(text.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(26 + text.len());
    out.extend_from_slice(b"II*\0");
    out.extend_from_slice(&8u32.to_le_bytes()); // IFD0 offset
    out.extend_from_slice(&1u16.to_le_bytes()); // one entry
    out.extend_from_slice(&0x010Eu16.to_le_bytes()); // ImageDescription
    out.extend_from_slice(&2u16.to_le_bytes()); // ASCII
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&26u32.to_le_bytes()); // value offset (text is > 4 bytes)
    out.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    out.extend_from_slice(&text);
    out
}

/// Encodes an image; with `exif`, embeds that TIFF block (JPEG APP1, PNG `eXIf`, WebP `EXIF`).
pub fn encode(
    img: &DynamicImage,
    format: OutputFormat,
    exif: Option<Vec<u8>>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let (w, h) = (img.width(), img.height());
    let err = |e: image::ImageError| e.to_string();
    match format {
        OutputFormat::Jpeg => {
            let rgb = img.to_rgb8();
            let mut enc = JpegEncoder::new_with_quality(&mut out, 90);
            if let Some(x) = exif {
                enc.set_exif_metadata(x).map_err(|e| e.to_string())?;
            }
            enc.write_image(rgb.as_raw(), w, h, ExtendedColorType::Rgb8)
                .map_err(err)?;
        }
        OutputFormat::Png => {
            let mut enc = PngEncoder::new(&mut out);
            if let Some(x) = exif {
                enc.set_exif_metadata(x).map_err(|e| e.to_string())?;
            }
            write_any(enc, img)?;
        }
        OutputFormat::Webp => {
            let mut enc = WebPEncoder::new_lossless(&mut out);
            if let Some(x) = exif {
                enc.set_exif_metadata(x).map_err(|e| e.to_string())?;
            }
            write_any(enc, img)?;
        }
    }
    Ok(out)
}

fn write_any(enc: impl ImageEncoder, img: &DynamicImage) -> Result<(), String> {
    let (w, h) = (img.width(), img.height());
    // 8-bit RGB(A) is written as it is; other pixel types are converted first.
    let res = match img {
        DynamicImage::ImageRgb8(b) => enc.write_image(b.as_raw(), w, h, ExtendedColorType::Rgb8),
        DynamicImage::ImageRgba8(b) => enc.write_image(b.as_raw(), w, h, ExtendedColorType::Rgba8),
        _ if img.color().has_alpha() => {
            enc.write_image(img.to_rgba8().as_raw(), w, h, ExtendedColorType::Rgba8)
        }
        _ => enc.write_image(img.to_rgb8().as_raw(), w, h, ExtendedColorType::Rgb8),
    };
    res.map_err(|e| e.to_string())
}

/// Why an uploaded image was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputImageError {
    /// Not base64, or not a decodable image.
    Corrupted(String),
    /// Larger than the byte limit.
    TooLarge,
    /// Fewer pixels than required.
    TooSmall,
    /// More pixels than the operation accepts (read from the header, before decoding).
    TooManyPixels {
        /// Width × height of the input.
        pixels: u64,
        /// The operation's maximum.
        max: u64,
    },
    /// An http(s) URL: the mock never fetches from the network.
    UrlNotSupported,
}

/// Most bytes of an uploaded image (25 MB).
pub const MAX_INPUT_BYTES: usize = 25 * 1024 * 1024;

/// Most pixels of an image to edit or multi-edit (upstream: 33,177,600).
pub const MAX_EDIT_INPUT_PIXELS: u64 = 33_177_600;

/// Decodes a base64 (or `data:` URL) image, enforcing the byte limit and a pixel minimum.
pub fn decode_input(value: &str, min_pixels: u64) -> Result<DynamicImage, InputImageError> {
    decode_input_within(value, min_pixels, None)
}

/// Decodes a base64 (or `data:` URL) image, enforcing the byte limit and the pixel range.
/// The pixel count is read from the header first, so an oversized image (or a
/// decompression bomb) is refused without allocating its pixels.
pub fn decode_input_within(
    value: &str,
    min_pixels: u64,
    max_pixels: Option<u64>,
) -> Result<DynamicImage, InputImageError> {
    if value.starts_with("http://") || value.starts_with("https://") {
        return Err(InputImageError::UrlNotSupported);
    }
    let data = match value.split_once(";base64,") {
        Some((prefix, rest)) if prefix.starts_with("data:") => rest,
        _ => value,
    };
    if data.len() / 4 * 3 > MAX_INPUT_BYTES + 3 {
        return Err(InputImageError::TooLarge);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(data.trim()))
        .map_err(|e| InputImageError::Corrupted(format!("invalid base64: {e}")))?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(InputImageError::TooLarge);
    }
    let reader = || {
        image::ImageReader::new(Cursor::new(&bytes))
            .with_guessed_format()
            .map_err(|e| InputImageError::Corrupted(e.to_string()))
    };
    let (w, h) = reader()?
        .into_dimensions()
        .map_err(|e| InputImageError::Corrupted(e.to_string()))?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels < min_pixels {
        return Err(InputImageError::TooSmall);
    }
    if let Some(max) = max_pixels
        && pixels > max
    {
        return Err(InputImageError::TooManyPixels { pixels, max });
    }
    reader()?
        .decode()
        .map_err(|e| InputImageError::Corrupted(e.to_string()))
}

/// The deterministic "edit": invert (odd prompt hash) and tint by the prompt hash.
pub fn edit(img: &DynamicImage, prompt: &str) -> DynamicImage {
    let h = fnv64(&[prompt.as_bytes()]);
    let tint = colour(h, 8);
    let invert = h & 1 == 1;
    let mut rgb = img.to_rgb8();
    for px in rgb.pixels_mut() {
        for (c, t) in px.0.iter_mut().zip(tint) {
            let v = if invert { 255 - *c } else { *c };
            *c = ((u16::from(v) * 3 + u16::from(t)) / 4) as u8;
        }
    }
    DynamicImage::ImageRgb8(rgb)
}

/// Blends the other images of a multi-edit onto the base, then edits.
pub fn multi_edit(base: &DynamicImage, layers: &[DynamicImage], prompt: &str) -> DynamicImage {
    let mut rgb = base.to_rgb8();
    let (w, h) = rgb.dimensions();
    for layer in layers {
        let resized = layer
            .resize_exact(w, h, image::imageops::FilterType::Nearest)
            .to_rgb8();
        for (p, q) in rgb.pixels_mut().zip(resized.pixels()) {
            for (a, b) in p.0.iter_mut().zip(q.0) {
                *a = ((u16::from(*a) + u16::from(b)) / 2) as u8;
            }
        }
    }
    edit(&DynamicImage::ImageRgb8(rgb), prompt)
}

/// Centre-crops to an aspect ratio `(a, b)`.
pub fn crop_to_ratio(img: &DynamicImage, ratio: (u32, u32)) -> DynamicImage {
    let (w, h) = (u64::from(img.width()), u64::from(img.height()));
    let (a, b) = (u64::from(ratio.0), u64::from(ratio.1));
    // Largest w' x h' with w'/h' = a/b inside w x h.
    let (nw, nh) = if w * b > h * a {
        (h * a / b, h)
    } else {
        (w, w * b / a)
    };
    let nw = u32::try_from(nw.max(1)).unwrap_or(1);
    let nh = u32::try_from(nh.max(1)).unwrap_or(1);
    let x = (img.width() - nw.min(img.width())) / 2;
    let y = (img.height() - nh.min(img.height())) / 2;
    img.crop_imm(x, y, nw, nh)
}

/// Largest output of an upscale, in pixels.
pub const MAX_UPSCALE_PIXELS: u64 = 16_777_216;

/// The scale an upscale by `scale` really applies: reduced so the output stays within
/// [`MAX_UPSCALE_PIXELS`], never below 1. The provider bills this one.
pub fn effective_upscale(width: u32, height: u32, scale: f64) -> f64 {
    let pixels = f64::from(width) * f64::from(height);
    let max_scale = (MAX_UPSCALE_PIXELS as f64 / pixels).sqrt();
    scale.min(max_scale).max(1.0)
}

/// Output size of an upscale by `scale`, reduced so it stays within [`MAX_UPSCALE_PIXELS`].
pub fn upscale_size(width: u32, height: u32, scale: f64) -> (u32, u32) {
    let s = effective_upscale(width, height, scale);
    let nw = (f64::from(width) * s).floor().max(1.0);
    let nh = (f64::from(height) * s).floor().max(1.0);
    (nw as u32, nh as u32)
}

/// Upscales with nearest-neighbour sampling (fast and deterministic).
pub fn upscale(img: &DynamicImage, scale: f64) -> DynamicImage {
    let (w, h) = upscale_size(img.width(), img.height(), scale);
    nearest(img, w, h)
        .unwrap_or_else(|| img.resize_exact(w, h, image::imageops::FilterType::Nearest))
}

/// Source index of each of `to` output pixels along an axis of `from` pixels: the pixel
/// under the output pixel's centre, computed exactly as `image`'s `Nearest` filter does
/// (in `f32`), so [`nearest`] gives the same pixels as `resize_exact`.
fn nearest_map(from: u32, to: u32) -> Vec<usize> {
    let ratio = from as f32 / to as f32;
    (0..to)
        .map(|o| {
            let x = ((o as f32 + 0.5) * ratio).floor() as i64;
            x.clamp(0, i64::from(from) - 1) as usize
        })
        .collect()
}

/// `resize_exact(w, h, Nearest)` of an 8-bit image, by copying pixels and whole rows:
/// `image`'s generic resampler goes through `f32` per channel, which took seconds for a
/// 16 MP upscale in unoptimised builds. `None` for other pixel types (or a shrink).
fn nearest(img: &DynamicImage, w: u32, h: u32) -> Option<DynamicImage> {
    let (sw, sh) = (img.width(), img.height());
    if sw == 0 || sh == 0 || w < sw || h < sh {
        return None;
    }
    let bpp = match img {
        DynamicImage::ImageLuma8(_) => 1,
        DynamicImage::ImageLumaA8(_) => 2,
        DynamicImage::ImageRgb8(_) => 3,
        DynamicImage::ImageRgba8(_) => 4,
        _ => return None,
    };
    let src = img.as_bytes();
    let (xs, ys) = (nearest_map(sw, w), nearest_map(sh, h));
    let row_len = w as usize * bpp;
    let mut out = Vec::with_capacity(row_len * h as usize);
    let mut last: Option<(usize, usize)> = None;
    for &sy in &ys {
        match last {
            // The same source row as the previous output row: copy that row.
            Some((prev, start)) if prev == sy => out.extend_from_within(start..start + row_len),
            _ => {
                let start = out.len();
                let row = &src[sy * sw as usize * bpp..][..sw as usize * bpp];
                for &sx in &xs {
                    out.extend_from_slice(&row[sx * bpp..sx * bpp + bpp]);
                }
                last = Some((sy, start));
            }
        }
    }
    Some(match bpp {
        1 => DynamicImage::ImageLuma8(image::ImageBuffer::from_raw(w, h, out)?),
        2 => DynamicImage::ImageLumaA8(image::ImageBuffer::from_raw(w, h, out)?),
        3 => DynamicImage::ImageRgb8(image::ImageBuffer::from_raw(w, h, out)?),
        _ => DynamicImage::ImageRgba8(image::ImageBuffer::from_raw(w, h, out)?),
    })
}

/// Cuts out the background: pixels close to the top-left corner colour become
/// transparent.
pub fn remove_background(img: &DynamicImage) -> DynamicImage {
    let rgba = img.to_rgba8();
    let corner = rgba.get_pixel(0, 0).0;
    let out = RgbaImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let dist: u32 = (0..3).map(|i| u32::from(p[i].abs_diff(corner[i]))).sum();
        Rgba([p[0], p[1], p[2], if dist <= 48 { 0 } else { 255 }])
    });
    DynamicImage::ImageRgba8(out)
}

/// Cache key of a generated image.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageKey {
    /// Model.
    pub model: String,
    /// Prompt.
    pub prompt: String,
    /// Seed.
    pub seed: i64,
    /// Variant index.
    pub variant: u32,
    /// Format.
    pub format: OutputFormat,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Whether EXIF is embedded.
    pub exif: bool,
}

impl ImageKey {
    /// Renders and encodes the image this key describes.
    pub fn produce(&self) -> Result<Bytes, String> {
        let img = render(
            &self.model,
            &self.prompt,
            self.seed,
            self.variant,
            self.width,
            self.height,
        );
        let exif = self.exif.then(|| exif_with_description(&self.prompt));
        encode(&DynamicImage::ImageRgb8(img), self.format, exif).map(Bytes::from)
    }
}

/// A small bounded cache of encoded images (first in, first out).
#[derive(Debug)]
pub struct ImageCache {
    inner: Mutex<(HashMap<ImageKey, Bytes>, VecDeque<ImageKey>)>,
    capacity: usize,
}

impl ImageCache {
    /// A cache holding up to `capacity` images.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
            capacity,
        }
    }

    /// A cached image.
    pub fn get(&self, key: &ImageKey) -> Option<Bytes> {
        self.inner.lock().ok()?.0.get(key).cloned()
    }

    /// Stores an image, evicting the oldest when full.
    pub fn put(&self, key: ImageKey, value: Bytes) {
        let Ok(mut guard) = self.inner.lock() else {
            return;
        };
        let (map, order) = &mut *guard;
        if map.insert(key.clone(), value).is_none() {
            order.push_back(key);
        }
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use image::Rgb;

    #[test]
    fn formats_and_exif() {
        let img = DynamicImage::ImageRgb8(render("m", "p", 1, 0, 32, 16));
        for f in [OutputFormat::Png, OutputFormat::Jpeg, OutputFormat::Webp] {
            let bytes = encode(&img, f, Some(exif_with_description("a cat"))).unwrap();
            let back = image::load_from_memory(&bytes).unwrap();
            assert_eq!((back.width(), back.height()), (32, 16));
            assert!(bytes.windows(5).any(|w| w == b"a cat"));
        }
    }

    #[test]
    fn the_pattern_is_the_gradient_and_checker_it_always_was() {
        // The per-pixel formula the pattern was first written as.
        let reference = |variant: u32, width: u32, height: u32| {
            let h = fnv64(&[b"m", b"p", &7i64.to_le_bytes(), &variant.to_le_bytes()]);
            let (a, b) = (colour(h, 0), colour(h, 24));
            let cell = 4u32 << (variant % 4);
            RgbImage::from_fn(width, height, |x, y| {
                let t = (u64::from(x) * 255 / u64::from(width)) as u16;
                let s = (u64::from(y) * 255 / u64::from(height)) as u16;
                let mix = |ca: u8, cb: u8| -> u8 {
                    let v = (u16::from(ca) * (255 - t) + u16::from(cb) * t) / 255;
                    ((v + s / 4) & 0xFF) as u8
                };
                let mut px = [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])];
                if ((x / cell) + (y / cell) + variant).is_multiple_of(2) {
                    for c in &mut px {
                        *c ^= 0x20;
                    }
                }
                Rgb(px)
            })
        };
        for variant in 0..5 {
            for (w, h) in [(1, 1), (64, 64), (97, 33), (256, 300)] {
                assert_eq!(
                    render_pattern("m", "p", 7, variant, w, h),
                    reference(variant, w, h),
                    "variant {variant}, {w}x{h}"
                );
            }
        }
    }

    #[test]
    fn nearest_upscale_gives_the_pixels_of_resize_exact() {
        let rgb = DynamicImage::ImageRgb8(render("m", "p", 1, 3, 37, 23));
        let images = [
            rgb.clone(),
            DynamicImage::ImageRgba8(rgb.to_rgba8()),
            DynamicImage::ImageLuma8(rgb.to_luma8()),
            DynamicImage::ImageLumaA8(rgb.to_luma_alpha8()),
        ];
        for img in &images {
            for (w, h) in [
                (37, 23),
                (74, 46),
                (148, 92),
                (100, 61),
                (53, 97),
                (111, 24),
            ] {
                let fast = nearest(img, w, h).unwrap();
                let slow = img.resize_exact(w, h, image::imageops::FilterType::Nearest);
                assert_eq!(fast.color(), slow.color());
                assert_eq!(
                    fast.as_bytes(),
                    slow.as_bytes(),
                    "{:?} to {w}x{h}",
                    img.color()
                );
            }
        }
        // Other pixel types, and shrinking, take `image`'s way.
        assert!(nearest(&DynamicImage::ImageRgb16(rgb.to_rgb16()), 74, 46).is_none());
        assert!(nearest(&rgb, 20, 23).is_none());
    }

    #[test]
    fn upscale_is_capped() {
        assert_eq!(upscale_size(256, 256, 2.0), (512, 512));
        let (w, h) = upscale_size(4000, 3000, 4.0);
        assert!(u64::from(w) * u64::from(h) <= MAX_UPSCALE_PIXELS);
    }
}
