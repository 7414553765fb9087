//! The image operations (upscale, edit, multi-edit, background removal, OpenAI-compatible
//! generation) against the rules: exact output sizes, requested formats,
//! deterministic transforms, alpha channels and the provider's input error codes. Every
//! response is checked against the spec.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use base64::Engine as _;
use common::*;
use serde_json::json;

fn decode(bytes: &[u8]) -> (u32, u32, image::ImageFormat, image::DynamicImage) {
    let format = image::guess_format(bytes).unwrap();
    let img = image::load_from_memory(bytes).unwrap();
    (img.width(), img.height(), format, img)
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose IHDR claims `w`x`h`, followed by an IDAT of garbage: only a server that
/// reads the header before decoding answers with a size error instead of a decode error.
fn png_header_only(w: u32, h: u32) -> String {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        v.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        v.extend_from_slice(&c);
        v.extend_from_slice(&crc32(&c).to_be_bytes());
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", b"not zlib data");
    base64::engine::general_purpose::STANDARD.encode(v)
}

#[tokio::test]
async fn upscale_sizes_are_exact_and_png() {
    let server = start().await;
    let img = input_png(300, 256);
    for (scale, want) in [(2.0, (600, 512)), (3.0, (900, 768)), (4.0, (1200, 1024))] {
        let r = check(
            "upscaleImage",
            post(
                &server,
                "/image/upscale",
                &json!({"image": img, "scale": scale, "creativity": 0.02}),
            )
            .await,
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("image/png"));
        let (w, h, f, _) = decode(&r.body);
        assert_eq!(
            ((w, h), f),
            (want, image::ImageFormat::Png),
            "scale {scale}"
        );
    }
    // A data URI is accepted like raw base64.
    let r = check(
        "upscaleImage",
        post(
            &server,
            "/image/upscale",
            &json!({"image": format!("data:image/png;base64,{img}")}),
        )
        .await,
    )
    .await;
    assert_eq!(decode(&r.body).0, 600);
}

#[tokio::test]
async fn input_errors_carry_provider_codes() {
    let server = start().await;
    let cases = [
        (
            "upscaleImage",
            "/image/upscale",
            json!({"image": input_png(255, 256)}),
            400,
            "IMAGE_TOO_SMALL",
        ),
        (
            "editImage",
            "/image/edit",
            json!({"image": input_png(100, 100), "prompt": "x"}),
            400,
            "IMAGE_TOO_SMALL",
        ),
        (
            "multiEditImage",
            "/image/multi-edit",
            json!({"images": [input_png(256, 256), input_png(10, 10)], "prompt": "x"}),
            400,
            "IMAGE_TOO_SMALL",
        ),
        (
            "editImage",
            "/image/edit",
            json!({"image": png_header_only(8000, 5000), "prompt": "x"}),
            400,
            "IMAGE_TOO_LARGE",
        ),
        (
            "upscaleImage",
            "/image/upscale",
            json!({"image": png_header_only(5000, 5000)}),
            400,
            "IMAGE_TOO_LARGE",
        ),
        (
            "editImage",
            "/image/edit",
            json!({"image": png_header_only(512, 512), "prompt": "x"}),
            400,
            "CORRUPTED_IMAGE",
        ),
        (
            "backgroundRemoveImage",
            "/image/background-remove",
            json!({"image": "bm90IGFuIGltYWdl"}),
            400,
            "CORRUPTED_IMAGE",
        ),
        (
            "multiEditImage",
            "/image/multi-edit",
            json!({"images": ["%%%"], "prompt": "x"}),
            400,
            "CORRUPTED_IMAGE",
        ),
    ];
    for (op, path, body, status, code) in cases {
        let r = check(op, post(&server, path, &body).await).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (status, Some(code)),
            "{op} {code}"
        );
    }
    // Over 25 MB of image bytes: 413 IMAGE_TOO_LARGE, before any decoding.
    let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 25 * 1024 * 1024 + 1]);
    let r = check(
        "backgroundRemoveImage",
        post(&server, "/image/background-remove", &json!({"image": big})).await,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (413, Some("IMAGE_TOO_LARGE"))
    );
    // Nothing was charged for refused inputs: every request above failed before billing.
    assert!(server.requests().iter().all(|r| r.status != 200));
}

#[tokio::test]
async fn edit_honours_format_and_is_deterministic() {
    let server = start().await;
    let img = input_png(320, 256);
    let mut by_prompt = Vec::new();
    for (format, want) in [
        ("png", image::ImageFormat::Png),
        ("jpeg", image::ImageFormat::Jpeg),
        ("webp", image::ImageFormat::WebP),
    ] {
        let body = json!({"image": img, "prompt": "sunrise", "output_format": format});
        let a = check("editImage", post(&server, "/image/edit", &body).await).await;
        let b = check("editImage", post(&server, "/image/edit", &body).await).await;
        assert_eq!(a.body, b.body, "same input, same output");
        assert_eq!(
            a.header("content-type"),
            Some(format!("image/{format}").as_str())
        );
        let (w, h, f, _) = decode(&a.body);
        assert_eq!((w, h, f), (320, 256, want));
        if format == "png" {
            by_prompt.push(a.body.clone());
        }
    }
    // Another prompt is another transform; the default at 2K is JPEG.
    let r = check(
        "editImage",
        post(
            &server,
            "/image/edit",
            &json!({"image": img, "prompt": "sunset", "output_format": "png"}),
        )
        .await,
    )
    .await;
    assert_ne!(r.body, by_prompt[0]);
    let r = check(
        "editImage",
        post(
            &server,
            "/image/edit",
            &json!({"image": img, "prompt": "x", "resolution": "2K", "model": "nano-banana-pro-edit"}),
        )
        .await,
    )
    .await;
    assert_eq!(decode(&r.body).2, image::ImageFormat::Jpeg);
    // Ratios crop the centre to the requested shape.
    let r = check(
        "editImage",
        post(
            &server,
            "/image/edit",
            &json!({"image": img, "prompt": "x", "aspect_ratio": "1:1"}),
        )
        .await,
    )
    .await;
    assert_eq!(decode(&r.body).0..=decode(&r.body).1, 256..=256);
}

#[tokio::test]
async fn multi_edit_uses_the_layers() {
    let server = start().await;
    let base = input_png(256, 256);
    let solo = check(
        "multiEditImage",
        post(
            &server,
            "/image/multi-edit",
            &json!({"images": [base], "prompt": "p", "output_format": "png"}),
        )
        .await,
    )
    .await;
    let layered = check(
        "multiEditImage",
        post(
            &server,
            "/image/multi-edit",
            &json!({"images": [base, input_png(512, 300)], "prompt": "p", "output_format": "png"}),
        )
        .await,
    )
    .await;
    assert_ne!(solo.body, layered.body, "the layer changes the result");
    let (w, h, f, _) = decode(&layered.body);
    assert_eq!(
        (w, h, f),
        (256, 256, image::ImageFormat::Png),
        "size of the base image"
    );
}

#[tokio::test]
async fn background_removal_returns_rgba_png() {
    let server = start().await;
    let r = check(
        "backgroundRemoveImage",
        post(
            &server,
            "/image/background-remove",
            &json!({"image": input_png(64, 48)}),
        )
        .await,
    )
    .await;
    assert_eq!(r.header("content-type"), Some("image/png"));
    let (w, h, f, img) = decode(&r.body);
    assert_eq!((w, h, f), (64, 48, image::ImageFormat::Png));
    assert!(img.color().has_alpha(), "{:?}", img.color());
    let rgba = img.to_rgba8();
    assert!(rgba.pixels().any(|p| p.0[3] == 0) && rgba.pixels().any(|p| p.0[3] == 255));
    let r = check(
        "backgroundRemoveImage",
        post(
            &server,
            "/image/background-remove",
            &json!({"image": input_png(64, 48), "image_url": "https://x.test/a.png"}),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn openai_generation_honours_size_and_output_format() {
    // `n` above 1 is covered in api.rs (`details.n._errors`).
    let server = start().await;
    let r = check(
        "simpleGenerateImage",
        post(
            &server,
            "/images/generations",
            &json!({"model": "z-image-turbo", "prompt": "cat", "n": 1, "size": "512x512", "output_format": "jpeg"}),
        )
        .await,
    )
    .await;
    let bytes = decode_b64(r.json()["data"][0]["b64_json"].as_str().unwrap());
    let (w, h, f, _) = decode(&bytes);
    assert_eq!((w, h, f), (512, 512, image::ImageFormat::Jpeg));
}
