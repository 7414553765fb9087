//! Micro-benchmarks of the JSON generation decoder
//! (`cargo bench --manifest-path bench/Cargo.toml --bench decode`).
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use venice_image::__bench::{GenerationDecoder, decode_generation};

/// A generation body with `variants` images of `len` pseudo-random bytes.
fn body(len: usize, variants: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let b64 = base64_simd::STANDARD.encode_to_string(&bytes);
    let images: Vec<&str> = (0..variants).map(|_| b64.as_str()).collect();
    serde_json::to_vec(&serde_json::json!({
        "id": "g", "images": images,
        "timing": {"inferenceDuration": 1, "inferencePreprocessingTime": 0, "inferenceQueueTime": 0, "total": 1}
    }))
    .unwrap()
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode_generation");
    for (label, len, variants) in [
        ("1KiB", 1024, 1),
        ("1.5MiB", 3 << 19, 1),
        ("6MiBx4", 6 << 20, 4),
    ] {
        let body = body(len, variants);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(BenchmarkId::new("whole", label), &body, |b, body| {
            b.iter(|| decode_generation(body).unwrap())
        });
        // The network path: the same body in 64 KiB socket-sized chunks.
        g.bench_with_input(BenchmarkId::new("chunks64k", label), &body, |b, body| {
            b.iter(|| {
                let mut d = GenerationDecoder::new(Some(body.len() as u64));
                for chunk in body.chunks(64 * 1024) {
                    d.feed(chunk).unwrap();
                }
                d.finish().unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
