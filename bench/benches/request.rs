//! Micro-benchmarks of the request builder, its validation and serialization, and of a
//! wallet's in-flight slot (`cargo bench --manifest-path bench/Cargo.toml --bench request`).
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use venice_image::{AspectRatio, Format, GenerateRequest, Resolution, Size};

fn build() -> GenerateRequest {
    GenerateRequest::builder("nano-banana-pro", "a lighthouse at dusk, oil on canvas")
        .size(Size::Tiered {
            aspect_ratio: AspectRatio::new(16, 9).unwrap(),
            resolution: Resolution::TwoK,
        })
        .output_format(Format::Png)
        .variants(4)
        .seed(42)
        .negative_prompt("blurry")
        .build()
        .unwrap()
}

fn request(c: &mut Criterion) {
    c.bench_function("request/build_and_validate", |b| b.iter(build));
    let req = build();
    c.bench_function("request/serialize", |b| {
        b.iter(|| venice_image::__bench::request_body(&req).unwrap())
    });
}

/// What the wallet's in-flight cap costs a call: one slot taken and given back.
fn limits(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let slots = venice_image::inflight::WalletSlots::new(5);
    c.bench_function("limits/wallet_slot_acquire_release", |b| {
        b.iter(|| drop(rt.block_on(slots.acquire())))
    });
}

criterion_group!(benches, request, limits);
criterion_main!(benches);
