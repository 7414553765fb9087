//! The image operations end to end against `venice-mock`: output sizes, formats, alpha,
//! the provider's error codes as typed errors, retries, and — the contract part — every
//! request the facade sent validates against the spec's request schema, and every
//! image it returned is a documented response of its operation.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Cursor;
use std::path::Path;
use std::time::Duration;

use venice_image::{
    Auth, Client, EditAspectRatio, EditRequest, Error, ErrorCode, Format, Image, ImageInput,
    Moderation, MultiEditRequest, OpenAiGenerateRequest, OpenAiSize, RemoveBackgroundRequest,
    Resolution, Response, ResponseFormat, RetryPolicy, UpscaleRequest,
};
use venice_mock::{DEFAULT_API_KEY, Fault, MockConfig, MockServer};

async fn setup() -> (MockServer, Client) {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let client = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::api_key(DEFAULT_API_KEY))
        .retry(
            RetryPolicy::builder()
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_secs(2))
                .build(),
        )
        .build()
        .unwrap();
    (server, client)
}

/// A real image: a gradient with a flat border (background removal keys on the corner).
fn picture(w: u32, h: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        if x < w / 8 || y < h / 8 || x >= w - w / 8 || y >= h - h / 8 {
            image::Rgb([250, 250, 250])
        } else {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        }
    });
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

/// A JPEG whose frame header sits behind 320 KiB of APP15 padding, so the client's
/// header probe cannot see its size and only the server can judge it. `claim` rewrites
/// the frame size to test the server's limits.
fn jpeg_with_hidden_size(w: u32, h: u32, claim: Option<(u16, u16)>) -> Vec<u8> {
    let jpeg = picture(w, h, image::ImageFormat::Jpeg);
    let mut out = jpeg[..2].to_vec();
    for _ in 0..5 {
        out.extend_from_slice(&[0xFF, 0xEF, 0xFF, 0xFF]);
        out.extend(std::iter::repeat_n(0u8, 0xFFFF - 2));
    }
    let mut rest = jpeg[2..].to_vec();
    if let Some((cw, ch)) = claim {
        let sof = rest.windows(2).position(|p| p == [0xFF, 0xC0]).unwrap();
        rest[sof + 5..sof + 7].copy_from_slice(&ch.to_be_bytes());
        rest[sof + 7..sof + 9].copy_from_slice(&cw.to_be_bytes());
    }
    out.extend_from_slice(&rest);
    out
}

fn operation_of(path: &str) -> &'static str {
    match path.trim_start_matches("/api/v1") {
        "/image/upscale" => "upscaleImage",
        "/image/edit" => "editImage",
        "/image/multi-edit" => "multiEditImage",
        "/image/background-remove" => "backgroundRemoveImage",
        "/images/generations" => "simpleGenerateImage",
        other => panic!("unexpected request to {other}"),
    }
}

/// Every request the mock recorded is valid against the spec's request schema (a form is
/// recorded as its JSON equivalent, files as base64) and went as JSON or as a form.
fn assert_requests_follow_spec(server: &MockServer) {
    // The catalogue reads (`GET /models`, for the edit rules) have no body.
    let requests: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(!requests.is_empty());
    for r in requests {
        let op = operation_of(&r.path);
        let body = r
            .body
            .as_ref()
            .unwrap_or_else(|| panic!("{op}: body is not JSON"));
        let validator = venice_mock::spec::request_validator(op).unwrap();
        if let Err(issues) = validator.validate(body) {
            panic!("{op} request does not follow the spec: {issues:?}");
        }
        let ct = r.header("content-type").unwrap_or_default();
        assert!(
            ct == "application/json" || ct.starts_with("multipart/form-data; boundary="),
            "{op}: {ct}"
        );
    }
}

/// The image returned is a documented 200 response of `op`.
fn assert_documented(op: &str, out: &Response<Image>) {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        out.meta().content_type().unwrap().parse().unwrap(),
    );
    if let Err(problems) = venice_mock::spec::validate_response(op, 200, &headers, out.bytes()) {
        panic!("{op} response does not follow the spec: {problems:?}");
    }
}

fn decoded(out: &Image) -> image::DynamicImage {
    image::load_from_memory(out.bytes()).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[tokio::test]
async fn upscale_streams_a_file_and_returns_the_exact_size() {
    let (server, client) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "in.png",
        &picture(300, 256, image::ImageFormat::Png),
    );
    for (scale, want) in [(2.0, (600, 512)), (4.0, (1200, 1024))] {
        let req = UpscaleRequest::builder(ImageInput::from_path(&path).unwrap())
            .scale(scale)
            .creativity(0.01)
            .build()
            .unwrap();
        assert_eq!(req.expected_output(), Some(want));
        let out = client.upscale(&req).await.unwrap();
        assert_eq!((out.width(), out.height()), want);
        assert_eq!(out.format(), Format::Png);
        assert_eq!(
            (decoded(&out).width(), decoded(&out).height()),
            want,
            "header and pixels agree"
        );
        assert_documented("upscaleImage", &out);
        let saved = out
            .save(dir.path().join(format!("up-{scale}")))
            .await
            .unwrap();
        assert_eq!(saved.extension().unwrap(), "png");
    }
    // The file went out as a form's file part, byte for byte (the mock records a form as
    // its JSON equivalent, files as base64).
    let request = &server.requests()[0];
    assert!(
        request
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data")
    );
    let sent = request.body.clone().unwrap();
    let b64 = sent["image"].as_str().unwrap();
    assert_eq!(
        base64_simd::STANDARD.decode_to_vec(b64).unwrap(),
        std::fs::read(&path).unwrap()
    );
    assert_requests_follow_spec(&server);
}

#[tokio::test]
async fn edit_honours_format_ratio_and_inputs() {
    let (server, client) = setup().await;
    let png = picture(320, 256, image::ImageFormat::Png);
    let b64 = base64_simd::STANDARD.encode_to_string(&png);
    let inputs = [
        ImageInput::from_bytes(&png).unwrap(),
        ImageInput::from_base64(b64.clone()).unwrap(),
        ImageInput::from_base64(format!("data:image/png;base64,{b64}")).unwrap(),
    ];
    let mut outputs = Vec::new();
    for (input, format) in inputs
        .into_iter()
        .zip([Format::Png, Format::Jpeg, Format::Webp])
    {
        let req = EditRequest::builder("make it dusk", input)
            .output_format(format)
            .safe_mode(false)
            .build()
            .unwrap();
        let out = client.edit(&req).await.unwrap();
        assert_eq!(out.format(), format);
        assert_eq!(out.meta().content_type(), Some(format.mime()));
        assert_eq!((out.width(), out.height()), (320, 256));
        assert_eq!(out.meta().model_id(), Some("firered-image-edit"));
        assert_documented("editImage", &out);
        outputs.push(out);
    }
    // Same input and prompt, same result (the mock's transform is deterministic).
    let again = client
        .edit(
            &EditRequest::builder("make it dusk", ImageInput::from_bytes(&png).unwrap())
                .output_format(Format::Png)
                .safe_mode(false)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(again.bytes(), outputs[0].bytes());
    let square = client
        .edit(
            &EditRequest::builder("square", ImageInput::from_bytes(&png).unwrap())
                .model("nano-banana-pro-edit")
                .aspect_ratio(EditAspectRatio::Ratio("1:1".parse().unwrap()))
                .resolution(Resolution::TwoK)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!((square.width(), square.height()), (256, 256));
    assert_eq!(square.format(), Format::Jpeg, "2K without a format is JPEG");
    assert_requests_follow_spec(&server);
}

#[tokio::test]
async fn multi_edit_sends_every_image() {
    let (server, client) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let base = write(
        dir.path(),
        "base.webp",
        &picture(256, 256, image::ImageFormat::WebP),
    );
    let layer = picture(400, 300, image::ImageFormat::Png);
    let req = MultiEditRequest::builder(
        "put the layer on the base",
        ImageInput::from_path(&base).unwrap(),
    )
    .layer(ImageInput::from_bytes(&layer).unwrap())
    .model("qwen-image-2-edit")
    .output_format(Format::Webp)
    .build()
    .unwrap();
    let out = client.multi_edit(&req).await.unwrap();
    assert_eq!(
        (out.width(), out.height(), out.format()),
        (256, 256, Format::Webp)
    );
    assert_eq!(out.meta().model_id(), Some("qwen-image-2-edit"));
    assert_documented("multiEditImage", &out);
    let upload = server
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/image/multi-edit"))
        .unwrap();
    assert!(
        upload
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data")
    );
    let sent = upload.body.clone().unwrap();
    assert_eq!(sent["images"].as_array().unwrap().len(), 2);
    assert_eq!(sent["modelId"], "qwen-image-2-edit");
    // More images than the model takes (3: qwen-image-2-edit lists no maxInputImages):
    // refused before any upload, from the catalogue.
    let four = MultiEditRequest::builder("too many", ImageInput::from_bytes(&layer).unwrap())
        .model("qwen-image-2-edit")
        .layers((0..3).map(|_| ImageInput::from_bytes(&layer).unwrap()))
        .build()
        .unwrap();
    let sent_before = server.requests().len();
    let err = client.multi_edit(&four).await.unwrap_err();
    assert!(
        matches!(&err, Error::Validation(v) if v.field == "modelId" || v.field == "images"),
        "{err:?}"
    );
    let after: Vec<_> = server.requests()[sent_before..]
        .iter()
        .filter(|r| r.path.ends_with("/image/multi-edit"))
        .cloned()
        .collect();
    assert!(after.is_empty(), "nothing was uploaded");
    assert_requests_follow_spec(&server);
}

#[tokio::test]
async fn background_removal_has_alpha() {
    let (server, client) = setup().await;
    let jpeg = picture(200, 160, image::ImageFormat::Jpeg);
    let out = client
        .remove_background(
            &RemoveBackgroundRequest::builder(ImageInput::from_bytes(&jpeg).unwrap())
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        (out.format(), out.meta().content_type()),
        (Format::Png, Some("image/png"))
    );
    assert_eq!((out.width(), out.height()), (200, 160));
    assert_eq!(out.has_alpha(), Some(true));
    let img = decoded(&out);
    assert!(img.color().has_alpha());
    let rgba = img.to_rgba8();
    assert_eq!(rgba.get_pixel(0, 0).0[3], 0, "the flat border is cut out");
    assert_eq!(rgba.get_pixel(100, 80).0[3], 255, "the subject stays");
    assert_documented("backgroundRemoveImage", &out);
    // A URL goes in `image_url` (the mock does not fetch: its 400 comes back typed).
    let url = RemoveBackgroundRequest::builder(
        ImageInput::from_url("https://example.com/a.png").unwrap(),
    )
    .build()
    .unwrap();
    let err = client.remove_background(&url).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    let last = server.requests().pop().unwrap().body.unwrap();
    assert_eq!(
        last,
        serde_json::json!({"image_url": "https://example.com/a.png"})
    );
    assert_requests_follow_spec(&server);
}

#[tokio::test]
async fn openai_generate_decode_both_response_formats() {
    let (server, client) = setup().await;
    let b64 = client
        .openai_generate(
            &OpenAiGenerateRequest::builder("z-image-turbo", "a lighthouse")
                .size(OpenAiSize::X512x512)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(b64.images().len(), 1);
    let img = &b64.images()[0];
    assert_eq!(
        (img.width(), img.height(), img.format()),
        (512, 512, Format::Png)
    );
    let url = client
        .openai_generate(
            &OpenAiGenerateRequest::builder("z-image-turbo", "a lighthouse")
                .size(OpenAiSize::X1024x1536)
                .response_format(ResponseFormat::Url)
                .output_format(Format::Webp)
                .moderation(Moderation::Low)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let img = &url.images()[0];
    assert_eq!(
        (img.width(), img.height(), img.format()),
        (1024, 1536, Format::Webp)
    );
    assert!(!url.id().is_empty());
    assert_requests_follow_spec(&server);
}

#[tokio::test]
async fn limits_are_checked_before_upload() {
    let (server, client) = setup().await;
    let small = picture(200, 200, image::ImageFormat::Png);
    let err = UpscaleRequest::builder(ImageInput::from_bytes(&small).unwrap())
        .build()
        .unwrap_err();
    assert!(err.rule.contains("65536"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.png");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(venice_image::limits::MAX_INPUT_IMAGE_BYTES + 1)
        .unwrap();
    assert!(matches!(
        ImageInput::from_path(&big),
        Err(Error::Validation(_))
    ));
    let url = ImageInput::from_url("https://example.com/x.png").unwrap();
    assert_eq!(
        UpscaleRequest::builder(url).build().unwrap_err().field,
        "image"
    );
    let _ = client;
    assert!(server.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn server_side_input_errors_are_typed() {
    let (server, client) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    // Sizes the client cannot see (frame header past its probe) reach the server.
    let tiny = write(
        dir.path(),
        "tiny.jpg",
        &jpeg_with_hidden_size(100, 100, None),
    );
    let input = ImageInput::from_path(&tiny).unwrap();
    assert_eq!(input.dimensions(), None);
    let err = client
        .upscale(&UpscaleRequest::builder(input).build().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api { error: a, .. } if *a.code() == ErrorCode::ImageTooSmall),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(400));

    let huge = jpeg_with_hidden_size(64, 64, Some((8000, 5000)));
    let input = ImageInput::from_base64(base64_simd::STANDARD.encode_to_string(&huge)).unwrap();
    let err = client
        .edit(&EditRequest::builder("x", input).build().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::ImageTooLarge), "{err:?}");

    let corrupt = ImageInput::from_bytes(b"definitely not an image").unwrap();
    let err = client
        .remove_background(&RemoveBackgroundRequest::builder(corrupt).build().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api { error: a, .. } if *a.code() == ErrorCode::CorruptedImage),
        "{err:?}"
    );
    assert_requests_follow_spec(&server);
}

#[tokio::test]
async fn retries_follow_the_policy_and_resend_the_file() {
    let (server, client) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "in.png",
        &picture(256, 256, image::ImageFormat::Png),
    );
    let req = UpscaleRequest::builder(ImageInput::from_path(&path).unwrap())
        .build()
        .unwrap();
    // 503 cannot have been charged: retried, and the file is streamed again.
    server.push_faults(vec![Fault::Status503]);
    let out = client.upscale(&req).await.unwrap();
    assert_eq!((out.width(), out.height()), (512, 512));
    let recorded = server.requests();
    assert_eq!(
        recorded.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 200]
    );
    assert_eq!(recorded[0].body, recorded[1].body);
    // 500 may have been charged: not repeated under the default policy.
    server.clear_requests();
    server.push_faults(vec![Fault::Status500]);
    let err = client.upscale(&req).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(server.requests().len(), 1);
}
