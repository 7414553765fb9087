//! Benchmark payload mode ([`MockConfig::bench_image_bytes`](crate::MockConfig)).
//!
//! Client benchmarks must measure the client, not the server: in this mode every
//! generated PNG is one pre-generated image of random-noise pixels stored without
//! compression (so neither PNG nor HTTP compression shrinks it), and each JSON image
//! response is serialized once per shape and then served from memory, uncompressed.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Mutex;

use base64::Engine as _;
use bytes::Bytes;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

/// Width of the noise image; the height follows from the byte target.
const NOISE_WIDTH: u32 = 1024;

/// A valid RGB PNG of random noise of about `target` bytes (at least 1 row).
pub fn noise_png(target: u64) -> Result<Bytes, String> {
    let row = u64::from(NOISE_WIDTH) * 3 + 1;
    let height = u32::try_from(target.div_ceil(row).max(1)).map_err(|e| e.to_string())?;
    let len = usize::try_from(u64::from(NOISE_WIDTH) * 3 * u64::from(height))
        .map_err(|e| e.to_string())?;
    // xorshift64*: deterministic, fast, incompressible enough for deflate.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut pixels = Vec::with_capacity(len + 8);
    while pixels.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        pixels.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    pixels.truncate(len);
    let mut out = Cursor::new(Vec::with_capacity(len + 4096));
    PngEncoder::new_with_quality(
        &mut out,
        CompressionType::Uncompressed,
        FilterType::NoFilter,
    )
    .write_image(&pixels, NOISE_WIDTH, height, ExtendedColorType::Rgb8)
    .map_err(|e| e.to_string())?;
    Ok(Bytes::from(out.into_inner()))
}

/// The pre-generated image and the response bodies built from it.
#[derive(Debug)]
pub(crate) struct BenchPayload {
    pub png: Bytes,
    b64: String,
    bodies: Mutex<HashMap<(bool, u32), Bytes>>,
}

impl BenchPayload {
    pub fn new(target: u64) -> Result<Self, String> {
        let png = noise_png(target)?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
        Ok(Self {
            png,
            b64,
            bodies: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self, key: (bool, u32), build: impl FnOnce(&str) -> String) -> Bytes {
        let mut bodies = match self.bodies.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        bodies
            .entry(key)
            .or_insert_with(|| Bytes::from(build(&self.b64)))
            .clone()
    }

    /// `GenerateImageResponse` with `variants` copies of the image.
    pub fn generate_json(&self, variants: u32) -> Bytes {
        self.cached((false, variants), |b64| {
            let mut s = String::with_capacity((b64.len() + 3) * variants as usize + 256);
            s.push_str(r#"{"id":"generate-image-bench","images":["#);
            for i in 0..variants {
                if i > 0 {
                    s.push(',');
                }
                s.push('"');
                s.push_str(b64);
                s.push('"');
            }
            s.push_str(
                r#"],"timing":{"inferenceDuration":0,"inferencePreprocessingTime":0,"inferenceQueueTime":0,"total":0},"request":null}"#,
            );
            s
        })
    }

    /// `SimpleGenerateImageResponse` with one image (`n` is capped at 1 upstream).
    pub fn openai_json(&self, data_url: bool) -> Bytes {
        self.cached((true, u32::from(data_url)), |b64| {
            let created = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let item = if data_url {
                format!(r#"{{"url":"data:image/png;base64,{b64}"}}"#)
            } else {
                format!(r#"{{"b64_json":"{b64}"}}"#)
            };
            format!(r#"{{"created":{created},"data":[{item}]}}"#)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn noise_png_is_valid_and_about_the_size() {
        let png = noise_png(200_000).unwrap();
        assert!(
            png.len() as u64 >= 200_000 && png.len() < 210_000,
            "{}",
            png.len()
        );
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!(img.width(), NOISE_WIDTH);
        let p = BenchPayload::new(1000).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&p.generate_json(3)).unwrap();
        assert_eq!(v["images"].as_array().unwrap().len(), 3);
        let v: serde_json::Value = serde_json::from_slice(&p.openai_json(false)).unwrap();
        assert!(v["data"][0]["b64_json"].is_string());
    }
}
