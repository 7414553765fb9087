//! `--shrink-images`: image payloads (base64 strings in JSON, whole binary bodies,
//! multipart files) replaced by small images of the same format and aspect, each
//! noted with its original format, size, length and SHA-256 ([`ImageNote`]) so that a
//! replay still matches requests by the original image.
//!
//! The small image is a thumbnail of the original (at most [`SHRUNK_MAX_SIDE`] pixels a
//! side) when the original has at most [`THUMBNAIL_MAX_PIXELS`]; a larger one becomes a
//! flat grey image of the same aspect, so shrinking never needs more memory than
//! decoding a 16 MP image. GIFs are kept (no GIF encoder is compiled in).
// Shrinking happens while recording; replay only reads the notes.
#![cfg_attr(not(feature = "record"), allow(dead_code))]

use std::io::Cursor;

use base64::Engine as _;
use image::{DynamicImage, ImageFormat};
use serde_json::Value;

use crate::cassette::{ImageNote, sha256_hex};
use crate::form;
use crate::spec::sniff_image;

/// Longest side of a shrunk image, in pixels.
pub const SHRUNK_MAX_SIDE: u32 = 16;

/// Largest original (in pixels) that is decoded for a thumbnail.
pub const THUMBNAIL_MAX_PIXELS: u64 = 16_777_216;

/// Shortest JSON string looked at as a possible base64 image.
const MIN_BASE64_IMAGE: usize = 64;

/// The format and dimensions of an image, read from its header.
fn probe(bytes: &[u8]) -> Option<(&'static str, u32, u32)> {
    let format = sniff_image(bytes)?;
    let (w, h) = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()?;
    Some((format, w, h))
}

/// What identifies an image payload: format, size, length and hash (`at` is set by the
/// caller).
pub(crate) fn note(at: &str, bytes: &[u8]) -> Option<ImageNote> {
    let (format, width, height) = probe(bytes)?;
    Some(ImageNote {
        at: at.to_owned(),
        format: format.to_owned(),
        width,
        height,
        bytes: bytes.len() as u64,
        sha256: sha256_hex(bytes),
    })
}

/// `(w, h)` scaled to fit a `max`-pixel square, at least 1 pixel a side.
fn fit(w: u32, h: u32, max: u32) -> (u32, u32) {
    let long = w.max(h).max(1);
    if long <= max {
        return (w.max(1), h.max(1));
    }
    let scale = |side: u32| ((u64::from(side) * u64::from(max)).div_ceil(u64::from(long))) as u32;
    (scale(w).max(1), scale(h).max(1))
}

/// A small image standing for `bytes`, and its note; `None` when `bytes` is no image
/// this can re-encode.
pub(crate) fn small_image(bytes: &[u8], at: &str) -> Option<(Vec<u8>, ImageNote)> {
    let note = note(at, bytes)?;
    let format = match note.format.as_str() {
        "png" => ImageFormat::Png,
        "jpeg" => ImageFormat::Jpeg,
        "webp" => ImageFormat::WebP,
        _ => return None,
    };
    let (tw, th) = fit(note.width, note.height, SHRUNK_MAX_SIDE);
    let pixels = u64::from(note.width) * u64::from(note.height);
    let thumb = (pixels <= THUMBNAIL_MAX_PIXELS)
        .then(|| image::load_from_memory_with_format(bytes, format).ok())
        .flatten()
        .map(|img| img.thumbnail_exact(tw, th));
    let thumb = thumb.unwrap_or_else(|| {
        DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            tw,
            th,
            image::Rgb([128, 128, 128]),
        ))
    });
    let thumb = match format {
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(thumb.to_rgb8()),
        _ if thumb.color().has_alpha() => DynamicImage::ImageRgba8(thumb.to_rgba8()),
        _ => DynamicImage::ImageRgb8(thumb.to_rgb8()),
    };
    let mut out = Cursor::new(Vec::new());
    thumb.write_to(&mut out, format).ok()?;
    Some((out.into_inner(), note))
}

/// Splits a `data:image/…;base64,` prefix off a string.
pub(crate) fn split_data_uri(s: &str) -> (&str, &str) {
    if s.starts_with("data:")
        && let Some(comma) = s.find(',')
        && s[..comma].ends_with(";base64")
    {
        return s.split_at(comma + 1);
    }
    ("", s)
}

/// The decoded bytes of a JSON string that is a base64 image (or a data URI of one).
pub(crate) fn base64_image(s: &str) -> Option<Vec<u8>> {
    if s.len() < MIN_BASE64_IMAGE {
        return None;
    }
    let (_, data) = split_data_uri(s);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    sniff_image(&bytes).map(|_| bytes)
}

/// Every string of a JSON value with its JSON pointer.
pub(crate) fn strings<'v>(value: &'v Value, pointer: String, out: &mut Vec<(String, &'v str)>) {
    match value {
        Value::String(s) => out.push((pointer, s)),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                strings(v, format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let k = k.replace('~', "~0").replace('/', "~1");
                strings(v, format!("{pointer}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// A JSON body with its base64 images shrunk (the text is edited in place, so
/// everything else keeps its bytes); `None` when nothing was shrunk.
pub(crate) fn shrink_json(body: &[u8]) -> Option<(Vec<u8>, Vec<ImageNote>)> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let mut text = std::str::from_utf8(body).ok()?.to_owned();
    let mut found = Vec::new();
    strings(&value, String::new(), &mut found);
    let mut notes = Vec::new();
    for (pointer, s) in found {
        let Some(bytes) = base64_image(s) else {
            continue;
        };
        let Some((small, note)) = small_image(&bytes, &pointer) else {
            continue;
        };
        let (prefix, _) = split_data_uri(s);
        let old = format!("\"{s}\"");
        let Some(at) = text.find(&old) else { continue };
        let new = format!(
            "\"{prefix}{}\"",
            base64::engine::general_purpose::STANDARD.encode(small)
        );
        text.replace_range(at..at + old.len(), &new);
        notes.push(note);
    }
    (!notes.is_empty()).then(|| (text.into_bytes(), notes))
}

/// A multipart body with its image parts shrunk (notes at `part:<name>#<n>`, the n-th
/// part of that name); `None` when nothing was shrunk.
pub(crate) fn shrink_form(content_type: &str, body: &[u8]) -> Option<(Vec<u8>, Vec<ImageNote>)> {
    let boundary = form::boundary(content_type)?;
    let mut parts = form::parse(&boundary, bytes::Bytes::copy_from_slice(body))?;
    let mut notes = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let names: Vec<String> = parts.iter().map(|p| p.name.clone()).collect();
    for (part, name) in parts.iter_mut().zip(&names) {
        let n = seen.iter().filter(|s| **s == name.as_str()).count();
        seen.push(name);
        if let Some((small, note)) = small_image(&part.data, &format!("part:{name}#{n}")) {
            part.data = bytes::Bytes::from(small);
            notes.push(note);
        }
    }
    (!notes.is_empty()).then(|| (form::write(&boundary, &parts), notes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(img)
            .write_to(&mut out, ImageFormat::Png)
            .unwrap();
        out.into_inner()
    }

    #[test]
    fn a_small_image_keeps_format_and_aspect() {
        let original = png(640, 320);
        let (small, note) = small_image(&original, "").unwrap();
        assert_eq!(
            (note.format.as_str(), note.width, note.height),
            ("png", 640, 320)
        );
        assert_eq!(note.bytes, original.len() as u64);
        let (format, w, h) = probe(&small).unwrap();
        assert_eq!((format, w, h), ("png", 16, 8));
        assert!(small.len() < 1024, "{}", small.len());
        assert!(small_image(b"not an image at all", "").is_none());
    }

    #[test]
    fn json_images_are_shrunk_in_place() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(png(100, 50));
        let body = format!(
            r#"{{"id":"x","images":["{b64}"],"data":[{{"b64_json":"data:image/png;base64,{b64}"}}]}}"#
        );
        let (out, notes) = shrink_json(body.as_bytes()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(r#"{"id":"x","images":[""#));
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].at, "/data/0/b64_json");
        assert_eq!(notes[1].at, "/images/0");
        let v: Value = serde_json::from_str(&text).unwrap();
        let small = base64_image(v["images"][0].as_str().unwrap()).unwrap();
        assert_eq!(probe(&small).unwrap(), ("png", 16, 8));
        assert!(
            v["data"][0]["b64_json"]
                .as_str()
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
        assert!(shrink_json(br#"{"a":"b"}"#).is_none());
    }

    #[test]
    fn form_files_are_shrunk() {
        let image = png(64, 64);
        let mut body =
            b"--b\r\ncontent-disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n"
                .to_vec();
        body.extend_from_slice(&image);
        body.extend_from_slice(
            b"\r\n--b\r\ncontent-disposition: form-data; name=\"prompt\"\r\n\r\nhi\r\n--b--\r\n",
        );
        let (out, notes) = shrink_form("multipart/form-data; boundary=b", &body).unwrap();
        assert_eq!(notes[0].at, "part:image#0");
        assert_eq!(notes[0].sha256, sha256_hex(&image));
        let parts = form::parse("b", bytes::Bytes::from(out)).unwrap();
        assert_eq!(probe(&parts[0].data).unwrap(), ("png", 16, 16));
        assert_eq!(parts[1].data, &b"hi"[..]);
    }
}
