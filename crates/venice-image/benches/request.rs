//! Micro-benchmarks of the request builder, its validation and serialization
//! (`cargo bench -p venice-image --bench request`).
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

criterion_group!(benches, request);
criterion_main!(benches);
