//! `multipart/form-data` on upscale, edit, multi-edit and background removal: the
//! provider's field names, the same validation and error bodies as JSON, malformed
//! bodies answered 400, and uploads the mock refuses read to their end first (never a
//! reset mid-upload).
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::time::Duration;

use common::{KEY, check, client, decode_b64, input_png, start};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use venice_mock::{MockConfig, MockServer};

const BOUNDARY: &str = "venice-mock-test-boundary";

/// One part of a form: (name, file name, bytes).
type Part<'a> = (&'a str, Option<&'a str>, Vec<u8>);

fn form(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, file, data) in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(f) => out.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: image/png\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => out.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn png(width: u32, height: u32) -> Vec<u8> {
    decode_b64(&input_png(width, height))
}

async fn send(
    server: &MockServer,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    client()
        .post(format!("{}{path}", server.base_url()))
        .bearer_auth(KEY)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn multipart() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

fn dims(bytes: &[u8]) -> (u32, u32, image::ImageFormat) {
    let format = image::guess_format(bytes).unwrap();
    let img = image::load_from_memory(bytes).unwrap();
    (img.width(), img.height(), format)
}

#[tokio::test]
async fn every_upload_operation_takes_a_form() {
    let server = start().await;
    let r = check(
        "upscaleImage",
        send(
            &server,
            "/image/upscale",
            &multipart(),
            form(&[
                ("image", Some("a.png"), png(300, 256)),
                ("scale", None, b"2".to_vec()),
            ]),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(dims(&r.body), (600, 512, image::ImageFormat::Png));

    let r = check(
        "editImage",
        send(
            &server,
            "/image/edit",
            &multipart(),
            form(&[
                ("image", Some("a.png"), png(320, 256)),
                ("prompt", None, b"make it blue".to_vec()),
                ("model", None, b"qwen-image-2-edit".to_vec()),
                ("output_format", None, b"webp".to_vec()),
                ("safe_mode", None, b"false".to_vec()),
            ]),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-venice-model-id"), Some("qwen-image-2-edit"));
    assert_eq!(dims(&r.body), (320, 256, image::ImageFormat::WebP));

    let r = check(
        "multiEditImage",
        send(
            &server,
            "/image/multi-edit",
            &multipart(),
            form(&[
                ("prompt", None, b"blend".to_vec()),
                ("images", Some("a.png"), png(256, 256)),
                ("images", Some("b.png"), png(256, 256)),
            ]),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(dims(&r.body), (256, 256, image::ImageFormat::Png));

    let r = check(
        "backgroundRemoveImage",
        send(
            &server,
            "/image/background-remove",
            &multipart(),
            form(&[("image", Some("a.png"), png(256, 256))]),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 200);
    let img = image::load_from_memory(&r.body).unwrap();
    assert!(img.color().has_alpha());

    // The form is what the request log and the contract check see (files as base64).
    let log = server.requests();
    let upscale = log.iter().find(|r| r.path.ends_with("/upscale")).unwrap();
    assert_eq!(upscale.body.as_ref().unwrap()["scale"], 2.0);
    assert!(upscale.body.as_ref().unwrap()["image"].is_string());
    server.assert_requests_conform();
}

/// The 400 of a malformed or incomplete form: the validation shape, naming the field
/// (or `_errors` at the root for framing errors).
fn assert_bad_request(r: &common::Checked, field: &str) {
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let v: Value = r.json();
    assert_eq!(v["error"], "Invalid request", "{v}");
    let errors = if field.is_empty() {
        &v["details"]["_errors"]
    } else {
        &v["details"][field]["_errors"]
    };
    assert!(!errors.as_array().unwrap().is_empty(), "{v}");
}

#[tokio::test]
async fn malformed_forms_are_answered_400() {
    let server = start().await;
    let good = || form(&[("image", Some("a.png"), png(256, 256))]);
    // No boundary parameter.
    let r = check(
        "upscaleImage",
        send(&server, "/image/upscale", "multipart/form-data", good()).await,
    )
    .await;
    assert_bad_request(&r, "");
    // A boundary that is not the one the body uses.
    let r = check(
        "upscaleImage",
        send(
            &server,
            "/image/upscale",
            "multipart/form-data; boundary=other",
            good(),
        )
        .await,
    )
    .await;
    assert_bad_request(&r, "");
    // A truncated part (the closing boundary never comes).
    let mut truncated = good();
    truncated.truncate(truncated.len() / 2);
    let r = check(
        "upscaleImage",
        send(&server, "/image/upscale", &multipart(), truncated).await,
    )
    .await;
    assert_bad_request(&r, "");
    // A required field missing: the same message as the JSON form.
    let r = check(
        "editImage",
        send(
            &server,
            "/image/edit",
            &multipart(),
            form(&[("image", Some("a.png"), png(256, 256))]),
        )
        .await,
    )
    .await;
    assert_bad_request(&r, "prompt");
    // A field the schema does not know, and a text field of the wrong type.
    let r = check(
        "upscaleImage",
        send(
            &server,
            "/image/upscale",
            &multipart(),
            form(&[
                ("image", Some("a.png"), png(256, 256)),
                ("scale", None, b"big".to_vec()),
            ]),
        )
        .await,
    )
    .await;
    assert_bad_request(&r, "scale");
    let r = check(
        "upscaleImage",
        send(
            &server,
            "/image/upscale",
            &multipart(),
            form(&[
                ("image", Some("a.png"), png(256, 256)),
                ("colour", None, b"red".to_vec()),
            ]),
        )
        .await,
    )
    .await;
    assert_bad_request(&r, "");
    // Bytes that are no image: the provider's CORRUPTED_IMAGE, as for JSON.
    let r = check(
        "backgroundRemoveImage",
        send(
            &server,
            "/image/background-remove",
            &multipart(),
            form(&[("image", Some("a.png"), b"not an image".to_vec())]),
        )
        .await,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, "CORRUPTED_IMAGE".into())
    );
    // Nothing was charged or logged as conforming.
    assert!(!server.contract_report().is_conforming());
}

/// Sends a whole request over raw TCP and returns the status line; fails if writing
/// the body fails (the server reset the connection mid-upload).
async fn raw_upload(server: &MockServer, head: &str, body: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(64 * 1024) {
        s.write_all(chunk)
            .await
            .expect("the upload was cut off before the server answered");
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn oversized_and_refused_uploads_are_read_before_the_answer() {
    let server = MockServer::start(MockConfig {
        max_body_bytes: 64 * 1024,
        max_upload_file_bytes: 64 * 1024,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let path = format!("{}/image/upscale", server.base_url());
    let path = path.trim_start_matches(&format!("http://{}", server.addr()));
    let big = form(&[("image", Some("a.png"), vec![7u8; 24 * 1024 * 1024])]);
    let head = |content_type: &str, auth: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{auth}\
             content-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            big.len()
        )
    };
    let bearer = format!("authorization: Bearer {KEY}\r\n");
    // Over the limit: 413 once the 24 MiB are in (more than the socket buffers hold).
    let status = raw_upload(&server, &head(&multipart(), &bearer), &big).await;
    assert!(status.contains(" 413 "), "{status}");
    // Refused for other reasons before reading: still read to the end.
    let status = raw_upload(&server, &head("text/plain", &bearer), &big).await;
    assert!(status.contains(" 415 "), "{status}");
    // Without credentials: the x402 discovery 402.
    let status = raw_upload(&server, &head(&multipart(), ""), &big).await;
    assert!(status.contains(" 402 "), "{status}");
    // Chunked, without a declared length.
    let mut chunked = Vec::new();
    for piece in big.chunks(100_000) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{bearer}\
         content-type: {}\r\ntransfer-encoding: chunked\r\n\r\n",
        multipart()
    );
    let status = raw_upload(&server, &head, &chunked).await;
    assert!(status.contains(" 413 "), "{status}");
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [413, 415, 402, 413]);
}

/// The provider's body limits, both sides of each (`venice-errors`: "JSON body over 35 MB"
/// and "a multipart file over 25 MB" are 413; read as SI megabytes, so 25 MiB is over).
#[tokio::test]
async fn json_bodies_over_35_mb_and_form_files_over_25_mb_are_413() {
    let server = start().await;
    // A JSON body of exactly `len` bytes (a long style preset: a 400, not a 413, when
    // the size is accepted).
    let json_of = |len: usize| {
        let head = br#"{"model":"venice-sd35","prompt":"p","style_preset":""#;
        let tail = br#""}"#;
        let mut body = head.to_vec();
        body.resize(len - tail.len(), b'a');
        body.extend_from_slice(tail);
        body
    };
    let r = check(
        "generateImage",
        send(
            &server,
            "/image/generate",
            "application/json",
            json_of(35_000_000),
        )
        .await,
    )
    .await;
    assert_eq!(
        r.status, 400,
        "35,000,000 bytes are accepted (then refused for the preset)"
    );
    let r = check(
        "generateImage",
        send(
            &server,
            "/image/generate",
            "application/json",
            json_of(35_000_001),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.json(),
        serde_json::json!({"code": "PAYLOAD_TOO_LARGE", "error": "Request body exceeds the maximum allowed size."})
    );

    let upscale = |bytes: usize| {
        let png = venice_mock::fixtures::padded_png(300, 256, bytes).unwrap();
        form(&[
            ("image", Some("a.png"), png),
            ("scale", None, b"2".to_vec()),
        ])
    };
    let r = check(
        "upscaleImage",
        send(&server, "/image/upscale", &multipart(), upscale(25_000_000)).await,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(dims(&r.body), (600, 512, image::ImageFormat::Png));
    for over in [25_000_001, 25 * 1024 * 1024] {
        let r = check(
            "upscaleImage",
            send(&server, "/image/upscale", &multipart(), upscale(over)).await,
        )
        .await;
        assert_eq!(r.status, 413, "{over}");
        assert_eq!(
            r.json(),
            serde_json::json!({"code": "PAYLOAD_TOO_LARGE", "error": "File exceeds the maximum allowed size of 25 MB."})
        );
    }
    // A form carries at most 10 files.
    let small = png(256, 256);
    let mut parts: Vec<Part<'_>> = vec![("prompt", None, b"many".to_vec())];
    parts.extend((0..11).map(|_| ("images", Some("x.png"), small.clone())));
    let r = check(
        "multiEditImage",
        send(&server, "/image/multi-edit", &multipart(), form(&parts)).await,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("at most 10 files"));
}

/// The multipart background removal takes a file in `image` and no `image_url`.
#[tokio::test]
async fn a_form_background_removal_takes_no_url() {
    let server = start().await;
    let r = check(
        "backgroundRemoveImage",
        send(
            &server,
            "/image/background-remove",
            &multipart(),
            form(&[("image_url", None, b"https://example.com/a.png".to_vec())]),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 400);
}
