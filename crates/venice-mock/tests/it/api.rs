//! End-to-end tests of every operation with a plain reqwest client. Every response is
//! also checked with `venice_mock::spec::validate_response`.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use venice_mock::{MockConfig, MockServer, RateLimitConfig};

fn dims(bytes: &[u8]) -> (u32, u32, image::ImageFormat) {
    let format = image::guess_format(bytes).unwrap();
    let img = image::load_from_memory(bytes).unwrap();
    (img.width(), img.height(), format)
}

#[tokio::test]
async fn models_catalogue_and_filters() {
    let server = start().await;
    let c = client();
    let r = c
        .get(format!("{}/models?type=image", server.base_url()))
        .send()
        .await
        .unwrap();
    let r = check("listModels", r).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    for id in [
        "venice-sd35",
        "qwen-image-2",
        "nano-banana-pro",
        "gpt-image-2",
        "flux-dev-legacy",
    ] {
        assert!(ids.contains(&id), "{id} missing");
    }
    for m in v["data"].as_array().unwrap() {
        assert!(m["model_spec"]["pricing"]["upscale"]["2x"]["usd"].is_number());
        assert!(m["model_spec"]["pricing"]["upscale"]["4x"]["usd"].is_number());
    }
    let gpt = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "gpt-image-2")
        .unwrap();
    assert_eq!(
        gpt["model_spec"]["pricing"]["quality"]["2K"]["high"]["usd"],
        json!(0.5)
    );
    let legacy = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "flux-dev-legacy")
        .unwrap();
    assert_eq!(
        legacy["model_spec"]["deprecation"]["replacementModelId"],
        "venice-sd35"
    );

    for (ty, id) in [("inpaint", "firered-image-edit"), ("upscale", "upscaler")] {
        let r = c
            .get(format!("{}/models?type={ty}", server.base_url()))
            .send()
            .await
            .unwrap();
        let r = check("listModels", r).await;
        assert!(
            r.json()["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == id)
        );
    }
    let r = c
        .get(format!("{}/models?type=pictures", server.base_url()))
        .send()
        .await
        .unwrap();
    let r = check("listModels", r).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["details"]["type"]["_errors"].is_array());
}

#[tokio::test]
async fn styles_without_auth() {
    let server = start().await;
    let r = client()
        .get(format!("{}/image/styles", server.base_url()))
        .send()
        .await
        .unwrap();
    let r = check("listImageStyles", r).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    for s in [
        "3D Model",
        "Analog Film",
        "Anime",
        "Cinematic",
        "Comic Book",
    ] {
        assert!(v["data"].as_array().unwrap().contains(&json!(s)));
    }
    let r = client()
        .get(format!("{}/image/styles", server.base_url()))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(check("listImageStyles", r).await.status, 401);
}

#[tokio::test]
async fn generate_json_is_deterministic_and_sized() {
    let server = start().await;
    let body = json!({"model":"venice-sd35","prompt":"a red fox","width":256,"height":192,
        "format":"png","seed":42,"variants":2});
    let a = check(
        "generateImage",
        post(&server, "/image/generate", &body).await,
    )
    .await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert!(v["id"].as_str().unwrap().starts_with("generate-image-"));
    assert!(v["timing"]["total"].is_number());
    let imgs: Vec<Vec<u8>> = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| decode_b64(i.as_str().unwrap()))
        .collect();
    assert_eq!(imgs.len(), 2);
    assert_ne!(imgs[0], imgs[1], "variants must differ");
    for img in &imgs {
        assert_eq!(dims(img), (256, 192, image::ImageFormat::Png));
    }
    let b = check(
        "generateImage",
        post(&server, "/image/generate", &body).await,
    )
    .await;
    let again: Vec<Vec<u8>> = b.json()["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| decode_b64(i.as_str().unwrap()))
        .collect();
    assert_eq!(imgs, again, "same inputs, same bytes");
    let other = json!({"model":"venice-sd35","prompt":"a red fox","width":256,"height":192,"format":"png","seed":43});
    let c = check(
        "generateImage",
        post(&server, "/image/generate", &other).await,
    )
    .await;
    assert_ne!(decode_b64(c.json()["images"][0].as_str().unwrap()), imgs[0]);
}

#[tokio::test]
async fn generate_binary_formats() {
    let server = start().await;
    for (format, expected, mime) in [
        (None, image::ImageFormat::WebP, "image/webp"),
        (Some("png"), image::ImageFormat::Png, "image/png"),
        (Some("jpeg"), image::ImageFormat::Jpeg, "image/jpeg"),
    ] {
        let mut body = json!({"model":"venice-sd35","prompt":"x","width":128,"height":64,"return_binary":true,"seed":1});
        if let Some(f) = format {
            body["format"] = json!(f);
        }
        let r = check(
            "generateImage",
            post(&server, "/image/generate", &body).await,
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some(mime));
        assert!(r.header("content-encoding").is_none());
        assert_eq!(dims(&r.body), (128, 64, expected));
    }
}

#[tokio::test]
async fn generate_aspect_models_and_exif() {
    let server = start().await;
    let body = json!({"model":"qwen-image-2","prompt":"wide","aspect_ratio":"16:9","format":"jpeg","return_binary":true,"seed":3});
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body).await,
    )
    .await;
    assert_eq!(dims(&r.body), (1024, 576, image::ImageFormat::Jpeg));
    let body = json!({"model":"gpt-image-2","prompt":"tall","aspect_ratio":"9:16","resolution":"1K","quality":"low",
        "format":"jpeg","return_binary":true,"seed":3,"embed_exif_metadata":true});
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body).await,
    )
    .await;
    assert_eq!(dims(&r.body), (576, 1024, image::ImageFormat::Jpeg));
    assert!(r.body.windows(6).any(|w| w == b"Exif\0\0"));
    assert!(r.body.windows(4).any(|w| w == b"tall"));
    let body = json!({"model":"venice-sd35","prompt":"exif me","width":64,"height":64,"format":"png","return_binary":true,"embed_exif_metadata":true});
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body).await,
    )
    .await;
    assert!(r.body.windows(4).any(|w| w == b"eXIf"));
    assert!(r.body.windows(7).any(|w| w == b"exif me"));
}

#[tokio::test]
async fn generate_rejections_name_the_field() {
    let server = start().await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"model":"qwen-image","prompt":"x","width":512,"height":512}),
            400,
            "width",
        ),
        (
            json!({"model":"qwen-image-3","prompt":"x","height":512}),
            400,
            "height",
        ),
        (
            json!({"model":"venice-sd35","prompt":"x","width":2048,"height":256}),
            400,
            "width",
        ),
        (
            json!({"model":"venice-sd35","prompt":"x","width":"wide"}),
            400,
            "width",
        ),
        (
            json!({"model":"nano-banana-pro","prompt":"x","resolution":"8K"}),
            400,
            "resolution",
        ),
        (
            json!({"model":"grok-imagine-image-2-0","prompt":"x","quality":"high"}),
            400,
            "quality",
        ),
        (
            json!({"model":"venice-sd35","prompt":"x".repeat(1501),"width":64,"height":64}),
            400,
            "prompt",
        ),
        (
            json!({"model":"krea-v2-large","prompt":"x","style_references":[{"image":"a"},{"image":"a"},{"image":"a"},{"image":"a"}]}),
            400,
            "style_references",
        ),
        (
            json!({"model":"venice-sd35","prompt":"x","width":64,"height":64,"style_references":[{"image":"a"}]}),
            400,
            "style_references",
        ),
        (
            json!({"model":"venice-sd35","prompt":"x","width":64,"height":64,"variants":2,"return_binary":true}),
            400,
            "variants",
        ),
        (
            json!({"model":"venice-sd35","prompt":"x","unknown_field":1}),
            400,
            "_errors",
        ),
        (json!({"model":"venice-sd35"}), 400, "prompt"),
    ];
    for (body, status, field) in cases {
        let r = check(
            "generateImage",
            post(&server, "/image/generate", &body).await,
        )
        .await;
        assert_eq!(r.status, status, "{body}");
        let v = r.json();
        assert_eq!(v["error"], "Invalid request", "{body}");
        let errors = &v["details"][field]["_errors"];
        if field == "_errors" {
            assert!(!v["issues"].as_array().unwrap().is_empty());
        } else {
            assert!(!errors.as_array().unwrap().is_empty(), "{body} -> {v}");
        }
    }
    let r = check(
        "generateImage",
        post(
            &server,
            "/image/generate",
            &json!({"model":"nope","prompt":"x"}),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "MODEL_NOT_FOUND");
}

/// What the provider ignores on `/image/generate` (venice-image-generate): width/height
/// on aspect-ratio models (many clients always send them), an aspect ratio or tier on a
/// model that does not take it, an unlisted aspect ratio (the default instead), a
/// quality on a model without qualities, and sizes off the divisor.
#[tokio::test]
async fn generate_ignores_what_the_provider_ignores() {
    let server = start().await;
    let cases: Vec<(Value, (u32, u32))> = vec![
        (
            json!({"model":"qwen-image-2","prompt":"x","width":512,"height":512}),
            (1024, 1024),
        ),
        (
            json!({"model":"qwen-image-2","prompt":"x","width":512,"height":512,"aspect_ratio":"16:9"}),
            (1024, 576),
        ),
        (
            json!({"model":"venice-sd35","prompt":"x","aspect_ratio":"16:9","resolution":"2K","width":512,"height":256}),
            (512, 256),
        ),
        (
            json!({"model":"qwen-image-2","prompt":"x","aspect_ratio":"7:3"}),
            (1024, 1024),
        ),
        (
            json!({"model":"qwen-image-2","prompt":"x","resolution":"2K"}),
            (1024, 1024),
        ),
        (
            json!({"model":"venice-sd35","prompt":"x","width":256,"height":256,"quality":"high"}),
            (256, 256),
        ),
        (
            json!({"model":"venice-sd35","prompt":"x","width":250,"height":256}),
            (250, 256),
        ),
    ];
    for (body, size) in cases {
        let mut body = body;
        body["format"] = json!("png");
        let r = check(
            "generateImage",
            post(&server, "/image/generate", &body).await,
        )
        .await;
        assert_eq!(
            r.status,
            200,
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let png = decode_b64(r.json()["images"][0].as_str().unwrap());
        let (w, h, _) = dims(&png);
        assert_eq!((w, h), size, "{body}");
    }
}

#[tokio::test]
async fn generate_headers() {
    let server = start().await;
    let body = json!({"model":"venice-sd35","prompt":"an nsfw forbidden-content scene","width":64,"height":64,"enhance_prompt":true,"seed":1});
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body).await,
    )
    .await;
    assert_eq!(r.header("x-venice-is-blurred"), Some("true"));
    assert_eq!(r.header("x-venice-is-content-violation"), Some("true"));
    let enhanced = r.header("x-venice-enhanced-prompt").unwrap();
    assert!(enhanced.contains("highly%20detailed"));
    let body =
        json!({"model":"venice-sd35","prompt":"nsfw","width":64,"height":64,"safe_mode":false});
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body).await,
    )
    .await;
    assert!(r.header("x-venice-is-blurred").is_none());
    let body = json!({"model":"flux-dev-legacy","prompt":"old","width":64,"height":64});
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body).await,
    )
    .await;
    assert_eq!(r.header("x-venice-deprecated"), Some("true"));
    assert_eq!(
        r.header("x-venice-deprecated-replacement"),
        Some("venice-sd35")
    );
    assert!(r.header("x-venice-model-deprecation-warning").is_some());
    assert!(r.header("x-venice-model-deprecation-date").is_some());
}

#[tokio::test]
async fn compression_only_when_asked() {
    let server = start().await;
    let raw = client_builder().gzip(false).brotli(false).build().unwrap();
    let body = json!({"model":"venice-sd35","prompt":"zip","width":64,"height":64});
    for enc in ["gzip", "br"] {
        let r = raw
            .post(format!("{}/image/generate", server.base_url()))
            .bearer_auth(KEY)
            .header("accept-encoding", enc)
            .json(&body)
            .send()
            .await
            .unwrap();
        let r = check("generateImage", r).await;
        assert_eq!(r.header("content-encoding"), Some(enc));
    }
    let r = raw
        .post(format!("{}/image/generate", server.base_url()))
        .bearer_auth(KEY)
        .header("accept-encoding", "gzip")
        .json(&json!({"model":"venice-sd35","prompt":"zip","width":64,"height":64,"return_binary":true}))
        .send()
        .await
        .unwrap();
    let r = check("generateImage", r).await;
    assert!(r.header("content-encoding").is_none());
}

#[tokio::test]
async fn auth_failures() {
    let server = start().await;
    let url = format!("{}/image/generate", server.base_url());
    let body = json!({"model":"venice-sd35","prompt":"x"});
    // No credentials at all: the x402 discovery, not a 401.
    let r = check(
        "generateImage",
        client().post(&url).json(&body).send().await.unwrap(),
    )
    .await;
    assert_eq!(r.status, 402);
    assert!(r.json()["authOptions"]["x402Wallet"]["topUp"].is_string());
    assert!(r.header("payment-required").is_some());
    for req in [
        client().post(&url).bearer_auth("wrong").json(&body),
        client()
            .post(&url)
            .header("authorization", "Basic abc")
            .json(&body),
    ] {
        let r = check("generateImage", req.send().await.unwrap()).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.json(), json!({"error":"Authentication failed"}));
    }
    let r = client()
        .post(&url)
        .header("SIGN-IN-WITH-X", "abc")
        .json(&body)
        .send()
        .await
        .unwrap();
    let r = check("generateImage", r).await;
    assert_eq!(r.status, 401);
    assert!(
        r.json()["code"]
            .as_str()
            .unwrap()
            .starts_with("X402_SIGN_IN_")
    );
}

#[tokio::test]
async fn transport_level_errors_are_json() {
    let server = start().await;
    let url = format!("{}/image/generate", server.base_url());
    let r = client()
        .post(&url)
        .bearer_auth(KEY)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let r = check("generateImage", r).await;
    assert_eq!(r.status, 415);
    let r = client()
        .post(&url)
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{\"model\":")
        .send()
        .await
        .unwrap();
    let r = check("generateImage", r).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].is_string());

    let r = client().delete(&url).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].is_string());
    let r = client()
        .get(format!("{}/nothing/here", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/json");

    // 50 MB body → 413 JSON (Content-Length checked before reading).
    let big = vec![b' '; 50 * 1024 * 1024];
    let r = client()
        .post(&url)
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await;
    if let Ok(r) = r {
        let r = check("upscaleImage", r).await;
        assert_eq!(r.status, 413);
    }

    // Path traversal sent literally (reqwest would normalise it away).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(b"GET /api/v1/x402/balance/../../models?type=image HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
    assert!(!out.contains("venice-sd35"));
    // Encoded dots are refused too (reqwest itself would normalise `%2e%2e`).
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(b"GET /api/v1/x402/balance/%2e%2e/%2E%2E/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
}

#[tokio::test]
async fn rate_limit_429() {
    let config = MockConfig {
        rate_limit: Some(RateLimitConfig {
            requests: 2,
            window: Duration::from_secs(60),
        }),
        ..MockConfig::default()
    };
    let server = MockServer::start(config).await.unwrap();
    let body = json!({"model":"venice-sd35","prompt":"x","width":64,"height":64});
    for expected_remaining in ["1", "0"] {
        let r = check(
            "generateImage",
            post(&server, "/image/generate", &body).await,
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("x-ratelimit-remaining-requests"),
            Some(expected_remaining)
        );
        assert_eq!(r.header("x-ratelimit-limit-requests"), Some("2"));
    }
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body).await,
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json(),
        json!({"error":"Rate limit exceeded","code":"RATE_LIMIT_EXCEEDED"})
    );
    // As the provider's model limits: no `Retry-After`, the reset in Unix milliseconds,
    // within the window.
    assert_eq!(r.header("retry-after"), None);
    let reset: u128 = r
        .header("x-ratelimit-reset-requests")
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(reset > now && reset <= now + 60_000, "{reset} vs {now}");
}

#[tokio::test]
async fn request_log_redacts_secrets() {
    let server = MockServer::start(with_wallets(MockConfig::default()))
        .await
        .unwrap();
    post(
        &server,
        "/image/generate",
        &json!({"model":"venice-sd35","prompt":"logged","width":64,"height":64}),
    )
    .await;
    client()
        .get(format!("{}/x402/balance/{WALLET}", server.base_url()))
        .header("SIGN-IN-WITH-X", WALLET)
        .header("X-Sign-In-With-X", WALLET)
        .send()
        .await
        .unwrap();
    client()
        .post(format!("{}/x402/top-up", server.base_url()))
        .header("PAYMENT-SIGNATURE", "secret-payment")
        .send()
        .await
        .unwrap();
    let log = server.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, "/api/v1/image/generate");
    assert_eq!(log[0].status, 200);
    assert_eq!(log[0].body.as_ref().unwrap()["prompt"], "logged");
    assert_eq!(log[0].header("authorization"), Some(venice_mock::REDACTED));
    assert_eq!(log[1].header("sign-in-with-x"), Some(venice_mock::REDACTED));
    assert_eq!(
        log[1].header("x-sign-in-with-x"),
        Some(venice_mock::REDACTED)
    );
    assert_eq!(
        log[2].header("payment-signature"),
        Some(venice_mock::REDACTED)
    );
    let dump = format!("{log:?}");
    assert!(!dump.contains(KEY) && !dump.contains("secret-payment"));
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn openai_compatible_generations() {
    let server = start().await;
    let r = check(
        "simpleGenerateImage",
        post(
            &server,
            "/images/generations",
            &json!({"model":"z-image-turbo","prompt":"cat","size":"256x256"}),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 200);
    let png = decode_b64(r.json()["data"][0]["b64_json"].as_str().unwrap());
    assert_eq!(dims(&png), (256, 256, image::ImageFormat::Png));
    // `model` is required in practice: the provider's plain 400, without and empty.
    for body in [json!({"prompt":"cat"}), json!({"prompt":"cat","model":""})] {
        let r = check(
            "simpleGenerateImage",
            post(&server, "/images/generations", &body).await,
        )
        .await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json(), json!({"error": "model is required"}));
    }
    let r = check(
        "simpleGenerateImage",
        post(
            &server,
            "/images/generations",
            &json!({"prompt":"cat","model":7}),
        )
        .await,
    )
    .await;
    assert_eq!(r.json(), json!({"error": "model must be a string"}));
    let r = check("simpleGenerateImage", post(&server, "/images/generations", &json!({"model":"z-image-turbo","prompt":"cat","size":"256x256","response_format":"url","output_format":"webp"})).await).await;
    assert!(
        r.json()["data"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/webp;base64,")
    );
    let r = check(
        "simpleGenerateImage",
        post(
            &server,
            "/images/generations",
            &json!({"model":"z-image-turbo","prompt":"cat","n":2}),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["details"]["n"]["_errors"].is_array());
}

#[tokio::test]
async fn upscale_operation() {
    let server = start().await;
    let r = check(
        "upscaleImage",
        post(
            &server,
            "/image/upscale",
            &json!({"image": input_png(256, 256), "scale": 2}),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(dims(&r.body), (512, 512, image::ImageFormat::Png));
    let r = check(
        "upscaleImage",
        post(
            &server,
            "/image/upscale",
            &json!({"image": input_png(100, 100)}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, json!("IMAGE_TOO_SMALL"))
    );
    let r = check(
        "upscaleImage",
        post(
            &server,
            "/image/upscale",
            &json!({"image": "bm90IGFuIGltYWdl"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, json!("CORRUPTED_IMAGE"))
    );
    let r = check(
        "upscaleImage",
        post(
            &server,
            "/image/upscale",
            &json!({"image": "x", "scale": 8}),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn edit_multi_edit_and_background_remove() {
    let server = start().await;
    let img = input_png(256, 256);
    let r = check(
        "editImage",
        post(
            &server,
            "/image/edit",
            &json!({"image": img, "prompt": "make it blue"}),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-venice-model-id"), Some("firered-image-edit"));
    assert_eq!(dims(&r.body), (256, 256, image::ImageFormat::Png));
    let again = check(
        "editImage",
        post(
            &server,
            "/image/edit",
            &json!({"image": img, "prompt": "make it blue"}),
        )
        .await,
    )
    .await;
    assert_eq!(r.body, again.body);
    let r = check("editImage", post(&server, "/image/edit", &json!({"image": img, "prompt": "wide", "aspect_ratio": "16:9", "output_format": "webp"})).await).await;
    let (w, h, f) = dims(&r.body);
    assert_eq!((w, f), (256, image::ImageFormat::WebP));
    assert_eq!(h, 144);
    let r = check(
        "editImage",
        post(
            &server,
            "/image/edit",
            &json!({"image": img, "prompt": "x", "model": "nope"}),
        )
        .await,
    )
    .await;
    // An unknown edit model is the provider's 400, not a 404.
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "INVALID_MODEL");

    let r = check("multiEditImage", post(&server, "/image/multi-edit", &json!({"images": [img, input_png(300, 300)], "prompt": "merge", "output_format": "jpeg"})).await).await;
    assert_eq!(dims(&r.body), (256, 256, image::ImageFormat::Jpeg));
    let r = check(
        "multiEditImage",
        post(
            &server,
            "/image/multi-edit",
            &json!({"images": [img, img, img, img, img, img, img], "prompt": "too many"}),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["details"]["images"]["_errors"].is_array());

    let r = check(
        "backgroundRemoveImage",
        post(&server, "/image/background-remove", &json!({"image": img})).await,
    )
    .await;
    let out = image::load_from_memory(&r.body).unwrap().to_rgba8();
    assert_eq!(out.get_pixel(0, 0).0[3], 0);
    assert!(out.pixels().any(|p| p.0[3] == 255));
    let r = check(
        "backgroundRemoveImage",
        post(&server, "/image/background-remove", &json!({})).await,
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn x402_wallet_flow() {
    struct Pay;
    impl venice_mock::PaymentVerifier for Pay {
        fn verify(&self, v: &str) -> Result<venice_mock::VerifiedPayment, String> {
            (v == "good")
                .then(|| venice_mock::VerifiedPayment {
                    wallet: WALLET.to_owned(),
                    amount_usd: 5.0,
                })
                .ok_or_else(|| "bad".to_owned())
        }
    }
    let mut config = with_wallets(MockConfig::default());
    config.payment_verifier = Some(std::sync::Arc::new(Pay));
    let server = MockServer::start(config).await.unwrap();
    let base = server.base_url();
    let c = client();

    // Discovery 402.
    let r = check(
        "topUpX402Balance",
        c.post(format!("{base}/x402/top-up")).send().await.unwrap(),
    )
    .await;
    assert_eq!(r.status, 402);
    let v = r.json();
    assert_eq!(v["x402Version"], 2);
    // The provider's closed discovery shape: no `error`, no `resource`.
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["accepts", "x402Version"]);
    assert_eq!(v["accepts"][0]["amount"], "5000000");
    assert_eq!(
        v["accepts"][0]["asset"],
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
    );
    let header: Value =
        serde_json::from_slice(&decode_b64(r.header("payment-required").unwrap())).unwrap();
    assert_eq!(header["accepts"], v["accepts"]);
    let r = check(
        "topUpX402Balance",
        c.post(format!("{base}/x402/top-up"))
            .header("PAYMENT-SIGNATURE", "bad")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400);

    // A wallet without credit gets the wallet 402.
    let gen_body = json!({"model":"venice-sd35","prompt":"x","width":64,"height":64});
    let r = check(
        "generateImage",
        c.post(format!("{base}/image/generate"))
            .header("SIGN-IN-WITH-X", WALLET)
            .json(&gen_body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 402);
    assert_eq!(r.json()["code"], "PAYMENT_REQUIRED");
    assert!(r.header("payment-required").is_some());

    let r = check(
        "topUpX402Balance",
        c.post(format!("{base}/x402/top-up"))
            .header("PAYMENT-SIGNATURE", "good")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["newBalance"], json!(5.0));
    assert!(r.header("payment-response").is_some());

    let r = check(
        "generateImage",
        c.post(format!("{base}/image/generate"))
            .header("X-Sign-In-With-X", WALLET)
            .json(&gen_body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-venice-balance-usd"), Some("4.990000"));

    let r = check(
        "getX402Balance",
        c.get(format!("{base}/x402/balance/{WALLET}"))
            .header("SIGN-IN-WITH-X", WALLET)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!((r.json()["data"]["balanceUsd"].as_f64().unwrap() - 4.99).abs() < 1e-9);
    let r = check(
        "getX402Transactions",
        c.get(format!("{base}/x402/transactions/{WALLET}?limit=1"))
            .header("SIGN-IN-WITH-X", WALLET)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let v = r.json();
    assert_eq!(v["data"]["transactions"][0]["type"], "CHARGE");
    assert_eq!(v["data"]["pagination"]["hasMore"], true);
    let r = check(
        "getX402Transactions",
        c.get(format!("{base}/x402/transactions/{WALLET}?limit=500"))
            .header("SIGN-IN-WITH-X", WALLET)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400);

    let other = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
    let r = check(
        "getX402Balance",
        c.get(format!("{base}/x402/balance/{other}"))
            .header("SIGN-IN-WITH-X", WALLET)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = check(
        "getX402Balance",
        c.get(format!("{base}/x402/balance/{WALLET}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // No credentials: the unpriced discovery, not a 401 (`venice-x402`).
    assert_eq!(r.status, 402);
    let r = check(
        "getX402Balance",
        c.get(format!("{base}/x402/balance/{WALLET}"))
            .header("SIGN-IN-WITH-X", "forged")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(
        r.json()["code"]
            .as_str()
            .unwrap()
            .starts_with("X402_SIGN_IN_")
    );
}

#[tokio::test]
async fn api_key_balance_runs_out() {
    let config = MockConfig {
        // $0.01 over the $0.10 admission floor: one $0.01 image, then refused.
        api_key_balance: Some(0.105),
        ..MockConfig::default()
    };
    let server = MockServer::start(config).await.unwrap();
    let gen_body = json!({"model":"venice-sd35","prompt":"x","width":64,"height":64});
    assert_eq!(
        check(
            "generateImage",
            post(&server, "/image/generate", &gen_body).await
        )
        .await
        .status,
        200
    );
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &gen_body).await,
    )
    .await;
    assert_eq!(r.status, 402);
    // The provider's API-key 402 has no `code` (venice-errors, venice-api-keys).
    assert_eq!(
        r.json(),
        json!({"error": "Insufficient USD or Diem balance to complete request"})
    );
    assert_eq!(r.header("x-venice-balance-usd"), None);
}

#[test]
fn validate_response_rejects_wrong_responses() {
    use venice_mock::spec::validate_response;
    let mut h = http::HeaderMap::new();
    h.insert("content-type", "application/json".parse().unwrap());
    let missing_images = br#"{"id":"x","timing":{"inferenceDuration":1,"inferencePreprocessingTime":1,"inferenceQueueTime":1,"total":1}}"#;
    let errs = validate_response("generateImage", 200, &h, missing_images).unwrap_err();
    assert!(errs.iter().any(|e| e.contains("images")), "{errs:?}");
    assert!(validate_response("generateImage", 418, &h, b"{}").is_err());
    assert!(validate_response("noSuchOperation", 200, &h, b"{}").is_err());
    assert!(validate_response("listModels", 200, &h, b"not json").is_err());
    let mut png_claim = http::HeaderMap::new();
    png_claim.insert("content-type", "image/png".parse().unwrap());
    assert!(validate_response("generateImage", 200, &png_claim, b"\xFF\xD8\xFF\xE0jpeg").is_err());
    let mut html = http::HeaderMap::new();
    html.insert("content-type", "text/html".parse().unwrap());
    assert!(validate_response("generateImage", 200, &html, b"<html>").is_err());
    let mut bad_bool = h.clone();
    bad_bool.insert("x-venice-is-blurred", "yes".parse().unwrap());
    let ok_body = br#"{"id":"x","images":[],"timing":{"inferenceDuration":1,"inferencePreprocessingTime":1,"inferenceQueueTime":1,"total":1}}"#;
    assert!(validate_response("generateImage", 200, &h, ok_body).is_ok());
    assert!(validate_response("generateImage", 200, &bad_bool, ok_body).is_err());
    let mut bad_int = h.clone();
    bad_int.insert("x-ratelimit-remaining-requests", "-3".parse().unwrap());
    assert!(validate_response("generateImage", 200, &bad_int, ok_body).is_err());
}
