//! Streaming decoder of a JSON generation body.
//!
//! A 4-variant response of large images is tens to hundreds of MB of base64 JSON.
//! Holding the body, then the decoded bytes, costs 2.3× the image bytes of memory and
//! a page fault for every page of the body on every call. This decoder instead consumes
//! the body chunk by chunk as it arrives: the base64 text of each string of the
//! top-level `images` array is decoded straight into one output buffer (sized from
//! `Content-Length`, so untouched slack never becomes resident), and everything else
//! is copied into a small "skeleton" (the body with each image string emptied) that
//! `serde_json` then parses for `id`, `timing` and the overall validity of the JSON.
//! Peak memory is the decoded bytes plus a chunk and the skeleton.

use std::borrow::Cow;
use std::ops::Range;

use base64_simd::{Out, STANDARD, STANDARD_NO_PAD};
use bytes::Bytes;
use serde::Deserialize;

use super::{DecodedGeneration, Timing};
use crate::error::{Error, Result};

/// Deeper nesting than this is not a generation body (serde_json stops at 128 too).
const MAX_DEPTH: usize = 256;
/// Largest output buffer allocated up front from a size hint; beyond, it grows.
const MAX_PREALLOC: usize = 768 * 1024 * 1024;
/// First growth step when the body length is unknown (compressed or chunked bodies).
const MIN_GROWTH: usize = 256 * 1024;

/// The skeleton: streamed image strings are empty here, others (a top-level key
/// spelled with escapes) keep their text and are decoded from it.
#[derive(Deserialize)]
struct WireGeneration<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    images: Vec<Cow<'a, str>>,
    #[serde(default)]
    timing: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Between tokens: punctuation, numbers, literals, whitespace.
    Structure,
    /// Inside a string copied to the skeleton (`key`: an object key at depth 1).
    Copy { key: bool, escaped: bool },
    /// Inside a string of the top-level `images` array.
    Image,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading the first bytes to see whether a `data:` URL prefix is present.
    Prefix,
    /// Inside a `data:…;base64,` prefix, up to its comma.
    SkipToComma,
    /// Base64 text.
    Body,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// After a backslash.
    Backslash,
    /// After `\u` and `got` hex digits with value `value`.
    Unicode {
        got: u8,
        value: u32,
    },
}

/// Decoding state of the image string being read.
#[derive(Debug)]
struct ImageState {
    phase: Phase,
    prefix: [u8; 5],
    prefix_len: usize,
    escape: Escape,
    carry: [u8; 4],
    carry_len: usize,
    /// A padded quad was decoded: it must have been the last.
    padded: bool,
    start: usize,
}

impl ImageState {
    fn new(start: usize) -> Self {
        Self {
            phase: Phase::Prefix,
            prefix: [0; 5],
            prefix_len: 0,
            escape: Escape::None,
            carry: [0; 4],
            carry_len: 0,
            padded: false,
            start,
        }
    }
}

/// Incremental decoder of a `POST /image/generate` JSON body: [`feed`](Self::feed)
/// chunks in order, then [`finish`](Self::finish).
#[derive(Debug)]
pub struct GenerationDecoder {
    skeleton: Vec<u8>,
    stack: Vec<u8>,
    mode: Mode,
    /// At depth 1 of an object, the next string is a key.
    expect_key: bool,
    key: [u8; 7],
    key_len: usize,
    /// The value being read at depth 1 belongs to the key `images`.
    images_value: bool,
    /// Inside the top-level `images` array.
    in_images: bool,
    image: ImageState,
    out: Vec<u8>,
    pos: usize,
    ranges: Vec<Range<usize>>,
}

fn b64_error(index: usize, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::decode(format!("base64 of image {index}"), e)
}

fn invalid(what: impl Into<String>) -> Error {
    Error::Decode {
        what: what.into(),
        source: None,
    }
}

impl GenerationDecoder {
    /// A decoder expecting about `body_len` bytes of JSON (`None` when unknown): the
    /// output buffer is reserved as zeroed memory of 3/4 of that, which the OS maps
    /// lazily, so the slack for JSON punctuation never becomes resident.
    pub fn new(body_len: Option<u64>) -> Self {
        let hint = body_len
            .map(|n| usize::try_from(n / 4 * 3 + 3).unwrap_or(MAX_PREALLOC))
            .unwrap_or(0)
            .min(MAX_PREALLOC);
        Self {
            skeleton: Vec::with_capacity(1024),
            stack: Vec::with_capacity(8),
            mode: Mode::Structure,
            expect_key: false,
            key: [0; 7],
            key_len: 0,
            images_value: false,
            in_images: false,
            image: ImageState::new(0),
            out: vec![0; hint],
            pos: 0,
            ranges: Vec::new(),
        }
    }

    /// Consume the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        let mut i = 0;
        while i < chunk.len() {
            i = match self.mode {
                Mode::Structure => self.structure(chunk, i)?,
                Mode::Copy { .. } => self.copy_string(chunk, i),
                Mode::Image => self.image_string(chunk, i)?,
            };
        }
        Ok(())
    }

    /// Parse the skeleton and hand out the images (slices of one shared buffer).
    pub fn finish(self) -> Result<DecodedGeneration> {
        let wire: WireGeneration<'_> = serde_json::from_slice(&self.skeleton)
            .map_err(|e| Error::decode("generation JSON", e))?;
        if self.mode != Mode::Structure {
            return Err(invalid("generation JSON (body ended inside a string)"));
        }
        let images = if self.ranges.is_empty() {
            // `images` was spelled with escapes, so the strings are in the skeleton.
            let mut images = Vec::with_capacity(wire.images.len());
            for (i, b64) in wire.images.iter().enumerate() {
                let bytes = STANDARD
                    .decode_to_vec(strip_data_uri(b64).as_bytes())
                    .map_err(|e| b64_error(i, e))?;
                images.push(Bytes::from(bytes));
            }
            images
        } else if self.ranges.len() == wire.images.len() {
            let mut out = self.out;
            out.truncate(self.pos);
            let buf = Bytes::from(out);
            self.ranges.into_iter().map(|r| buf.slice(r)).collect()
        } else {
            return Err(invalid("generation JSON (inconsistent images array)"));
        };
        Ok(DecodedGeneration {
            id: wire.id.map(Cow::into_owned).unwrap_or_default(),
            timing: wire.timing.and_then(Timing::from_wire),
            images,
        })
    }

    /// A decode error naming the image being read and `why`.
    fn bad_image(&self, why: &str) -> Error {
        invalid(format!("base64 of image {} ({why})", self.ranges.len()))
    }

    fn at_top_object(&self) -> bool {
        self.stack.len() == 1 && self.stack[0] == b'{'
    }

    fn structure(&mut self, chunk: &[u8], mut i: usize) -> Result<usize> {
        while i < chunk.len() {
            let c = chunk[i];
            i += 1;
            self.skeleton.push(c);
            match c {
                b'"' => {
                    if self.in_images && self.stack.len() == 2 {
                        self.mode = Mode::Image;
                        self.image = ImageState::new(self.pos);
                    } else {
                        let key = self.at_top_object() && self.expect_key;
                        if key {
                            self.key_len = 0;
                        }
                        self.mode = Mode::Copy {
                            key,
                            escaped: false,
                        };
                    }
                    return Ok(i);
                }
                b'{' | b'[' => {
                    if c == b'[' && self.at_top_object() && self.images_value {
                        self.in_images = true;
                    }
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(invalid("generation JSON (nested too deeply)"));
                    }
                    self.stack.push(c);
                    if self.at_top_object() {
                        self.expect_key = true;
                    }
                }
                b'}' | b']' => {
                    self.stack.pop();
                    if self.stack.len() == 1 {
                        self.in_images = false;
                    }
                }
                b',' if self.at_top_object() => {
                    self.expect_key = true;
                    self.images_value = false;
                }
                b':' if self.at_top_object() => self.expect_key = false,
                _ => {}
            }
        }
        Ok(i)
    }

    fn copy_string(&mut self, chunk: &[u8], mut i: usize) -> usize {
        let Mode::Copy { key, mut escaped } = self.mode else {
            return i;
        };
        let start = i;
        while i < chunk.len() {
            if escaped {
                escaped = false;
                i += 1;
                continue;
            }
            match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                None => i = chunk.len(),
                Some(j) if chunk[i + j] == b'\\' => {
                    escaped = true;
                    i += j + 1;
                }
                Some(j) => {
                    i += j + 1;
                    let text = &chunk[start..i];
                    self.skeleton.extend_from_slice(text);
                    if key {
                        self.push_key(&text[..text.len() - 1]);
                        self.images_value = &self.key[..self.key_len] == b"images";
                    }
                    self.mode = Mode::Structure;
                    return i;
                }
            }
        }
        self.skeleton.extend_from_slice(&chunk[start..]);
        if key {
            self.push_key(&chunk[start..]);
        }
        self.mode = Mode::Copy { key, escaped };
        i
    }

    /// Keep the first bytes of a key: only `images` matters (one byte more marks a
    /// longer key).
    fn push_key(&mut self, text: &[u8]) {
        let room = self.key.len() - self.key_len;
        let n = room.min(text.len());
        self.key[self.key_len..self.key_len + n].copy_from_slice(&text[..n]);
        self.key_len += n;
    }

    fn image_string(&mut self, chunk: &[u8], mut i: usize) -> Result<usize> {
        while i < chunk.len() {
            if self.image.escape != Escape::None {
                self.escaped_byte(chunk[i])?;
                i += 1;
                continue;
            }
            if self.image.phase == Phase::Body {
                // The hot path: a run of base64 text decoded straight from the chunk.
                let rest = &chunk[i..];
                let run = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                self.feed_b64(&rest[..run])?;
                i += run;
                if i == chunk.len() {
                    break;
                }
            }
            let c = chunk[i];
            i += 1;
            match c {
                b'"' => {
                    self.end_image()?;
                    self.skeleton.push(b'"');
                    self.mode = Mode::Structure;
                    return Ok(i);
                }
                b'\\' => self.image.escape = Escape::Backslash,
                _ => self.text_byte(c)?,
            }
        }
        Ok(i)
    }

    fn escaped_byte(&mut self, c: u8) -> Result<()> {
        match self.image.escape {
            Escape::None => self.text_byte(c),
            Escape::Backslash => {
                self.image.escape = Escape::None;
                match c {
                    b'u' => {
                        self.image.escape = Escape::Unicode { got: 0, value: 0 };
                        Ok(())
                    }
                    // Line breaks of MIME-style base64 carry no data.
                    b'n' | b'r' => Ok(()),
                    // `\/` is how some encoders write `/`; `\"`, `\\`, `\b`, `\f`, `\t`
                    // are not base64 and fail in the decoder.
                    _ => self.text_byte(c),
                }
            }
            Escape::Unicode { got, value } => {
                let digit = char::from(c)
                    .to_digit(16)
                    .ok_or_else(|| invalid("generation JSON (bad \\u escape)"))?;
                let value = value * 16 + digit;
                if got + 1 < 4 {
                    self.image.escape = Escape::Unicode {
                        got: got + 1,
                        value,
                    };
                    return Ok(());
                }
                self.image.escape = Escape::None;
                match u8::try_from(value) {
                    Ok(b) if b.is_ascii() => self.text_byte(b),
                    _ => Err(self.bad_image("non-ASCII character")),
                }
            }
        }
    }

    /// One unescaped byte of the image string, outside the hot path.
    fn text_byte(&mut self, c: u8) -> Result<()> {
        let img = &mut self.image;
        match img.phase {
            Phase::Prefix => {
                img.prefix[img.prefix_len] = c;
                img.prefix_len += 1;
                let p = &img.prefix[..img.prefix_len];
                if p == b"data:" {
                    img.phase = Phase::SkipToComma;
                } else if !b"data:".starts_with(p) {
                    return self.prefix_was_base64();
                }
                Ok(())
            }
            Phase::SkipToComma => {
                if c == b',' {
                    img.phase = Phase::Body;
                }
                Ok(())
            }
            Phase::Body => self.feed_b64(&[c]),
        }
    }

    /// The bytes read while looking for a `data:` prefix were base64 after all.
    fn prefix_was_base64(&mut self) -> Result<()> {
        self.image.phase = Phase::Body;
        let (prefix, n) = (self.image.prefix, self.image.prefix_len);
        self.feed_b64(&prefix[..n])
    }

    fn end_image(&mut self) -> Result<()> {
        match self.image.phase {
            Phase::Prefix => self.prefix_was_base64()?,
            Phase::SkipToComma => {
                return Err(self.bad_image("data URL without a comma"));
            }
            Phase::Body => {}
        }
        if self.image.escape != Escape::None {
            return Err(invalid("generation JSON (unterminated escape)"));
        }
        if self.image.carry_len > 0 {
            if self.image.padded {
                return Err(self.bad_image("data after padding"));
            }
            let carry = self.image.carry;
            let n = self.image.carry_len;
            self.image.carry_len = 0;
            self.decode_block(&carry[..n], true)?;
        }
        self.ranges.push(self.image.start..self.pos);
        Ok(())
    }

    /// Feed base64 text: whole quads are decoded at once, a tail of fewer than four
    /// bytes waits for the next chunk.
    fn feed_b64(&mut self, mut data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.image.padded {
            return Err(self.bad_image("data after padding"));
        }
        if self.image.carry_len > 0 {
            let have = self.image.carry_len;
            let take = (4 - have).min(data.len());
            self.image.carry[have..have + take].copy_from_slice(&data[..take]);
            self.image.carry_len += take;
            data = &data[take..];
            if self.image.carry_len < 4 {
                return Ok(());
            }
            let quad = self.image.carry;
            self.image.carry_len = 0;
            self.decode_block(&quad, false)?;
            if !data.is_empty() && self.image.padded {
                return Err(self.bad_image("data after padding"));
            }
        }
        let whole = data.len() / 4 * 4;
        if whole > 0 {
            self.decode_block(&data[..whole], false)?;
        }
        let tail = &data[whole..];
        if !tail.is_empty() {
            if self.image.padded {
                return Err(self.bad_image("data after padding"));
            }
            self.image.carry[..tail.len()].copy_from_slice(tail);
            self.image.carry_len = tail.len();
        }
        Ok(())
    }

    fn decode_block(&mut self, src: &[u8], last: bool) -> Result<()> {
        let need = src.len().div_ceil(4) * 3;
        if self.pos + need > self.out.len() {
            // Only bodies of unknown length get here: zero-filled growth (`resize`
            // cannot leave memory uninitialised without `unsafe`).
            let grown = (self.out.len() * 2).max(self.pos + need).max(MIN_GROWTH);
            self.out.resize(grown, 0);
        }
        let engine = if last && !src.len().is_multiple_of(4) {
            &STANDARD_NO_PAD
        } else {
            &STANDARD
        };
        let index = self.ranges.len();
        let dst = Out::from_slice(&mut self.out[self.pos..self.pos + need]);
        let written = engine
            .decode(src, dst)
            .map_err(|e| b64_error(index, e))?
            .len();
        self.pos += written;
        if src.last() == Some(&b'=') {
            self.image.padded = true;
        }
        Ok(())
    }
}

pub(super) fn strip_data_uri(s: &str) -> &str {
    match s.strip_prefix("data:") {
        Some(rest) => rest.split_once(',').map_or(s, |(_, d)| d),
        None => s,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn decode_in_pieces(body: &[u8], piece: usize, hint: bool) -> Result<DecodedGeneration> {
        let mut d = GenerationDecoder::new(hint.then_some(body.len() as u64));
        for chunk in body.chunks(piece.max(1)) {
            d.feed(chunk)?;
        }
        d.finish()
    }

    fn images_of(body: &[u8]) -> Vec<Vec<u8>> {
        let whole = decode_in_pieces(body, body.len(), true).unwrap();
        let want: Vec<Vec<u8>> = whole.images.iter().map(|b| b.to_vec()).collect();
        for piece in 1..=9 {
            for hint in [true, false] {
                let d = decode_in_pieces(body, piece, hint).unwrap();
                let got: Vec<Vec<u8>> = d.images.iter().map(|b| b.to_vec()).collect();
                assert_eq!(got, want, "piece {piece} hint {hint}");
                assert_eq!(d.id, whole.id);
            }
        }
        want
    }

    fn b64(b: &[u8]) -> String {
        STANDARD.encode_to_string(b)
    }

    #[test]
    fn any_chunking_gives_the_same_images() {
        let a: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let body = format!(
            r#"{{"id":"g\"1","request":{{"images":["x"],"p":"a\\"}},"images":["{}","{}","data:image/png;base64,{}",""],"timing":{{"total":3}}}}"#,
            b64(&a),
            b64(b"hi"),
            b64(b"abc")
        );
        let imgs = images_of(body.as_bytes());
        assert_eq!(imgs, vec![a, b"hi".to_vec(), b"abc".to_vec(), Vec::new()]);
        let d = decode_generation_of(body.as_bytes());
        assert_eq!(d.id, "g\"1");
        assert_eq!(d.timing.unwrap().total_ms, 3.0);
    }

    fn decode_generation_of(body: &[u8]) -> DecodedGeneration {
        decode_in_pieces(body, body.len(), true).unwrap()
    }

    #[test]
    fn escapes_in_image_strings() {
        // `\/` and `\u002F` are `/`; `\n` line breaks are skipped.
        let raw = [0xffu8, 0xff, 0xfe, 1, 2, 3];
        let text = b64(&raw);
        assert!(text.contains('/'), "{text}");
        let escaped = text.replace('/', "\\/");
        let unicode = text.replace('/', "\\u002F");
        let broken = format!("{}\\n{}", &text[..4], &text[4..]);
        for s in [escaped, unicode, broken] {
            let body = format!(r#"{{"images":["{s}"]}}"#);
            assert_eq!(images_of(body.as_bytes()), vec![raw.to_vec()], "{s}");
        }
    }

    #[test]
    fn escaped_key_falls_back_to_the_skeleton() {
        let body = format!(r#"{{"id":"x","imag\u0065s":["{}"]}}"#, b64(b"fallback"));
        assert_eq!(images_of(body.as_bytes()), vec![b"fallback".to_vec()]);
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        let body = r#"{"images":["aGk"]}"#;
        assert_eq!(images_of(body.as_bytes()), vec![b"hi".to_vec()]);
    }

    #[test]
    fn invalid_bodies_are_errors() {
        let bad: &[&str] = &[
            r#"{"images":["aGk=aGk="]}"#,
            r#"{"images":["aGk=", 5]}"#,
            r#"{"images":["a"]}"#,
            r#"{"images":["**"]}"#,
            r#"{"images":["\u00e9AAA"]}"#,
            r#"{"images":["data:image/png;base64"]}"#,
            r#"{"images":["aGk="#,
            r#"{"images":["aGk="]"#,
            r#"{"images":["aGk="]} x"#,
            r#"["aGk="]"#,
            r#"{"id":"x"}"#,
            "",
            "not json",
        ];
        for body in bad {
            for piece in [1, 3, 64] {
                let r = decode_in_pieces(body.as_bytes(), piece, true);
                assert!(matches!(r, Err(Error::Decode { .. })), "{body} {piece}");
            }
        }
        let deep = "[".repeat(10_000);
        assert!(decode_in_pieces(deep.as_bytes(), 100, false).is_err());
    }

    #[test]
    fn images_share_one_exactly_filled_buffer() {
        let body = format!(r#"{{"images":["{}","{}"]}}"#, b64(&[7; 300]), b64(&[9; 5]));
        let d = decode_generation_of(body.as_bytes());
        assert_eq!(d.images[0].len(), 300);
        assert_eq!(&d.images[1][..], &[9; 5]);
    }
}
