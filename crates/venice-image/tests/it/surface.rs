//! The request surface as the provider accepts it, end to end against the mock's default
//! configuration: prompt limits from the catalogue, uploads that fit (files as
//! `multipart/form-data`, JSON bodies checked against 35 MB before sending), the edit
//! rules of the edit catalogue, the content-policy 422, and every model of the catalogue
//! generating in its sizing mode.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use venice_image::models::SizingMode;
use venice_image::{
    AspectRatio, Auth, Client, EditRequest, Error, ErrorCode, GenerateRequest, ImageInput,
    MultiEditRequest, Resolution, RetryPolicy, Size, StyleReference, UpscaleRequest,
};
use venice_mock::catalog::CatalogModel;
use venice_mock::fixtures::padded_png;
use venice_mock::{DEFAULT_API_KEY, MockConfig, MockServer, RecordedRequest};

fn client_for(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .auth(Auth::api_key(DEFAULT_API_KEY))
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

async fn setup() -> (MockServer, Client) {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let client = client_for(&server);
    (server, client)
}

/// The requests the mock received on paths ending with `suffix`.
fn sent(server: &MockServer, suffix: &str) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(suffix))
        .collect()
}

fn is_form(r: &RecordedRequest) -> bool {
    r.header("content-type")
        .is_some_and(|c| c.starts_with("multipart/form-data; boundary="))
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn field(e: &Error) -> &str {
    match e {
        Error::Validation(v) => &v.field,
        other => panic!("not a validation error: {other:?}"),
    }
}

#[tokio::test]
async fn a_long_prompt_goes_to_a_model_that_allows_it_and_is_refused_for_one_that_does_not() {
    let (server, client) = setup().await;
    let prompt = "a harbour at dawn, ".repeat(527)[..10_000].to_owned();
    assert_eq!(prompt.chars().count(), 10_000);
    // nano-banana-pro allows 32,768 characters.
    let req = GenerateRequest::builder("nano-banana-pro", prompt.clone())
        .build()
        .unwrap();
    let out = client.generate(&req).await.unwrap();
    assert_eq!(out.images().len(), 1);
    let requests = sent(&server, "/image/generate");
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].body.as_ref().unwrap()["prompt"].as_str(),
        Some(prompt.as_str())
    );
    // venice-sd35 allows 1,500: refused before sending, naming the model's limit.
    let req = GenerateRequest::builder("venice-sd35", prompt)
        .build()
        .unwrap();
    let e = client.generate(&req).await.unwrap_err();
    assert_eq!(field(&e), "prompt");
    assert!(e.to_string().contains("at most 1500"), "{e}");
    assert_eq!(
        sent(&server, "/image/generate").len(),
        1,
        "nothing more was sent"
    );
}

#[tokio::test]
async fn large_files_go_as_multipart_and_fit_where_their_json_would_not() {
    let (server, client) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    // An upscale of a 24 MB PNG (33 MB as base64 JSON).
    let big = write(
        dir.path(),
        "big.png",
        &padded_png(300, 256, 24_000_000).unwrap(),
    );
    let req = UpscaleRequest::builder(ImageInput::from_path(&big).unwrap())
        .build()
        .unwrap();
    let out = client.upscale(&req).await.unwrap();
    assert_eq!((out.width(), out.height()), (600, 512));
    let up = sent(&server, "/image/upscale");
    assert!(is_form(&up[0]), "{:?}", up[0].header("content-type"));
    // A multi-edit with three 10 MB layers: 40 MB of JSON, 30 MB as a form.
    let layer = padded_png(256, 256, 10_000_000).unwrap();
    let paths: Vec<PathBuf> = (0..3)
        .map(|i| write(dir.path(), &format!("layer{i}.png"), &layer))
        .collect();
    let req = MultiEditRequest::builder("combine", ImageInput::from_path(&paths[0]).unwrap())
        .layers(paths[1..].iter().map(|p| ImageInput::from_path(p).unwrap()))
        .build()
        .unwrap();
    let out = client.multi_edit(&req).await.unwrap();
    assert_eq!((out.width(), out.height()), (256, 256));
    let multi = sent(&server, "/image/multi-edit");
    assert!(is_form(&multi[0]));
    assert_eq!(
        multi[0].body.as_ref().unwrap()["images"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // The same layers as caller-given base64 need a JSON body: 40 MB, refused before
    // anything is sent, naming the limit and the size.
    let b64 = base64_simd::STANDARD.encode_to_string(&layer);
    let req = MultiEditRequest::builder("combine", ImageInput::from_base64(b64.clone()).unwrap())
        .layers((0..2).map(|_| ImageInput::from_base64(b64.clone()).unwrap()))
        .build()
        .unwrap();
    let e = client.multi_edit(&req).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::Validation(_)), "{e:?}");
    assert!(
        text.contains("35000000") && text.contains("40000"),
        "{text}"
    );
    assert!(!e.may_have_been_charged());
    assert_eq!(
        sent(&server, "/image/multi-edit").len(),
        1,
        "nothing more was sent"
    );
}

#[tokio::test]
async fn a_json_body_over_35_mb_is_refused_before_any_byte_is_sent() {
    // A model that takes four style references (none of the catalogue's does today), so
    // only the body's size stands in the way: four 8 MB references are 42.7 MB of JSON.
    let entry = serde_json::json!({"id": "four-refs", "type": "image", "object": "model",
        "owned_by": "venice.ai", "model_spec": {"name": "Four refs", "privacy": "private",
        "supportsStyleReferences": true,
        "constraints": {"promptCharacterLimit": 1500, "widthHeightDivisor": 16,
            "steps": {"default": 20, "max": 50}, "aspectRatios": ["1:1"],
            "maxStyleReferences": 4, "supportsStyleReferenceStrength": true},
        "pricing": {"generation": {"usd": 0.01, "diem": 0.01}}}});
    let server = MockServer::start(MockConfig {
        extra_models: vec![CatalogModel::from_models_entry(&entry).unwrap()],
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let client = client_for(&server);
    let reference = vec![7u8; venice_image::limits::MAX_STYLE_REFERENCE_BYTES];
    let mut b = GenerateRequest::builder("four-refs", "in this style");
    for _ in 0..4 {
        b = b.style_reference(StyleReference::from_bytes(&reference).unwrap());
    }
    let e = client.generate(&b.build().unwrap()).await.unwrap_err();
    assert!(matches!(e, Error::Validation(_)), "{e:?}");
    assert!(e.to_string().contains("35000000"), "{e}");
    assert!(sent(&server, "/image/generate").is_empty());
    // Three fit (32 MB).
    let mut b = GenerateRequest::builder("four-refs", "in this style");
    for _ in 0..3 {
        b = b.style_reference(StyleReference::from_bytes(&reference).unwrap());
    }
    client.generate(&b.build().unwrap()).await.unwrap();
    assert_eq!(sent(&server, "/image/generate").len(), 1);
}

#[tokio::test]
async fn input_image_limits_come_from_the_edit_catalogue() {
    let (server, client) = setup().await;
    let png = padded_png(256, 256, 200_000).unwrap();
    let six = |model: &str| {
        MultiEditRequest::builder("six layers", ImageInput::from_bytes(&png).unwrap())
            .layers((0..5).map(|_| ImageInput::from_bytes(&png).unwrap()))
            .model(model)
            .build()
            .unwrap()
    };
    // nano-banana-pro-edit takes 6 images.
    let out = client
        .multi_edit(&six("nano-banana-pro-edit"))
        .await
        .unwrap();
    assert_eq!(out.meta().model_id(), Some("nano-banana-pro-edit"));
    let multi = sent(&server, "/image/multi-edit");
    assert_eq!(
        multi[0].body.as_ref().unwrap()["images"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert!(is_form(&multi[0]));
    // luma-uni-1-edit takes one (combineImages false): refused before any upload.
    let e = client
        .multi_edit(&six("luma-uni-1-edit"))
        .await
        .unwrap_err();
    assert_eq!(field(&e), "images");
    assert!(e.to_string().contains("at most 1 input image"), "{e}");
    // An edit model the catalogue does not list (the provider's 400 "Invalid model id").
    let edit = EditRequest::builder("x", ImageInput::from_bytes(&png).unwrap())
        .model("no-such-edit")
        .build()
        .unwrap();
    assert_eq!(field(&client.edit(&edit).await.unwrap_err()), "model");
    // A resolution on a model without resolutions is a 400 on /image/edit.
    let edit = EditRequest::builder("x", ImageInput::from_bytes(&png).unwrap())
        .resolution(Resolution::TwoK)
        .build()
        .unwrap();
    assert_eq!(field(&client.edit(&edit).await.unwrap_err()), "resolution");
    // A prompt over firered-image-edit's 1,500 characters.
    let edit = EditRequest::builder("x".repeat(1501), ImageInput::from_bytes(&png).unwrap())
        .build()
        .unwrap();
    assert_eq!(field(&client.edit(&edit).await.unwrap_err()), "prompt");
    assert_eq!(sent(&server, "/image/multi-edit").len(), 1);
    assert!(sent(&server, "/image/edit").is_empty());

    // Without the catalogue check the server enforces the same rules.
    let unchecked = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::api_key(DEFAULT_API_KEY))
        .model_validation(false)
        .build()
        .unwrap();
    let e = unchecked
        .multi_edit(&six("luma-uni-1-edit"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e:?}");
    let edit = EditRequest::builder("x", ImageInput::from_bytes(&png).unwrap())
        .model("no-such-edit")
        .build()
        .unwrap();
    let e = unchecked.edit(&edit).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(400), Some(&ErrorCode::InvalidModel))
    );
    // A 404 on an edit is an input the server could not fetch.
    let url = EditRequest::builder(
        "x",
        ImageInput::from_url("https://example.com/gone.png").unwrap(),
    )
    .build()
    .unwrap();
    assert_eq!(unchecked.edit(&url).await.unwrap_err().status(), Some(404));
}

#[tokio::test]
async fn an_edit_content_violation_is_a_typed_422_and_charges_nothing() {
    let server = MockServer::start(MockConfig {
        api_key_balance: Some(5.0),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let client = client_for(&server);
    let usd = || async { client.account_limits().await.unwrap().balances.usd };
    let before = usd().await;
    let png = padded_png(256, 256, 200_000).unwrap();
    let edit = EditRequest::builder("forbidden-content", ImageInput::from_bytes(&png).unwrap())
        .build()
        .unwrap();
    let e = client.edit(&edit).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(422), Some(&ErrorCode::ContentPolicyViolation))
    );
    assert!(e.to_string().contains("content policy"), "{e}");
    assert_eq!(usd().await, before, "nothing was charged");
    // The provider does charge when its own moderation blocks an image the model
    // already made, with the same answer: so the error may have been charged.
    assert!(e.may_have_been_charged());
    let multi =
        MultiEditRequest::builder("forbidden-output", ImageInput::from_bytes(&png).unwrap())
            .build()
            .unwrap();
    let e = client.multi_edit(&multi).await.unwrap_err();
    assert_eq!(e.code(), Some(&ErrorCode::ContentPolicyViolation));
    assert!(
        usd().await.unwrap() < before.unwrap(),
        "charged after generation"
    );
}

#[tokio::test]
async fn every_model_of_the_catalogue_generates_in_its_sizing_mode() {
    let (_server, client) = setup().await;
    let models = client.image_models().await.unwrap();
    assert!(models.len() >= 43, "{}", models.len());
    let mut jobs = Vec::new();
    for m in models.iter() {
        let c = m.constraints();
        let ratio = |list: &[String]| -> AspectRatio {
            list.iter()
                .find(|r| *r == "16:9")
                .or(list.first())
                .unwrap()
                .parse()
                .unwrap()
        };
        let (size, want) = match m.sizing() {
            SizingMode::Pixels { .. } => (
                Size::Pixels {
                    width: 256,
                    height: 128,
                },
                (256, 128),
            ),
            SizingMode::AspectRatio => {
                let r = ratio(&c.aspect_ratios);
                (Size::AspectRatio(r), expected(r, 1024))
            }
            SizingMode::AspectRatioAndResolution => {
                let r = ratio(&c.aspect_ratios);
                (
                    Size::Tiered {
                        aspect_ratio: r,
                        resolution: Resolution::OneK,
                    },
                    expected(r, 1024),
                )
            }
            other => panic!("{other:?}"),
        };
        let req = GenerateRequest::builder(m.id(), "a lighthouse")
            .size(size)
            .build()
            .unwrap();
        let client = client.clone();
        let id = m.id().to_owned();
        jobs.push(tokio::spawn(async move {
            let out = client.generate(&req).await;
            (id, want, out)
        }));
    }
    for job in jobs {
        let (id, want, out) = job.await.unwrap();
        let out = out.unwrap_or_else(|e| panic!("{id}: {e}"));
        let img = &out.images()[0];
        assert_eq!((img.width(), img.height()), want, "{id}");
    }
}

/// The mock's size for a ratio at a long side: the short side rounded to 16.
fn expected(r: AspectRatio, long: u32) -> (u32, u32) {
    let (w, h) = (f64::from(r.width()), f64::from(r.height()));
    let short = |num: f64, den: f64| ((f64::from(long) * num / den / 16.0).round() * 16.0) as u32;
    if w >= h {
        (long, short(h, w))
    } else {
        (short(w, h), long)
    }
}
