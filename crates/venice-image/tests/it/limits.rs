//! The response-size cap: decompression bombs and oversized bodies fail with a typed
//! error before memory runs out.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Write;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::post;
use venice_image::{Auth, Client, Error, GenerateRequest, Size};

async fn serve(make: fn() -> Response) -> String {
    let app = Router::new().route(
        "/api/v1/image/generate",
        post(move || async move { make() }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/api/v1")
}

fn client(base: &str, max: u64) -> Client {
    Client::builder()
        .base_url(base)
        .auth(Auth::api_key("k"))
        .model_validation(false)
        .max_response_bytes(max)
        .build()
        .unwrap()
}

fn req() -> GenerateRequest {
    GenerateRequest::builder("m", "p")
        .size(Size::Pixels {
            width: 64,
            height: 64,
        })
        .build()
        .unwrap()
}

/// 24 MiB of `A` inside a JSON string, gzipped to about 24 KiB.
fn gzip_bomb() -> Response {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(br#"{"id":"bomb","images":[""#).unwrap();
    let block = vec![b'A'; 1 << 20];
    for _ in 0..24 {
        z.write_all(&block).unwrap();
    }
    z.write_all(br#""]}"#).unwrap();
    Response::builder()
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Body::from(z.finish().unwrap()))
        .unwrap()
}

fn two_mib_json() -> Response {
    let body = format!(r#"{{"id":"big","images":["{}"]}}"#, "A".repeat(2 << 20));
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn gzip_bomb_is_rejected_by_decompressed_size() {
    let base = serve(gzip_bomb).await;
    let e = client(&base, 8 << 20).generate(&req()).await.unwrap_err();
    assert!(
        matches!(e, Error::ResponseTooLarge { limit, declared: None } if limit == 8 << 20),
        "{e:?}"
    );
    assert!(e.to_string().contains("8388608"), "{e}");
    // Under a cap that fits, the same body decodes (18 MiB decoded).
    let g = client(&base, 32 << 20).generate(&req()).await.unwrap();
    assert_eq!(g.images()[0].bytes().len(), 18 << 20);
}

#[tokio::test]
async fn content_length_above_the_cap_is_rejected() {
    let base = serve(two_mib_json).await;
    let e = client(&base, 1 << 20).generate(&req()).await.unwrap_err();
    let Error::ResponseTooLarge { limit, declared } = e else {
        panic!("{e:?}")
    };
    assert_eq!(limit, 1 << 20);
    assert!(declared.unwrap() > 2 << 20);
    assert!(client(&base, 4 << 20).generate(&req()).await.is_ok());
}

#[test]
fn default_cap_is_one_gib() {
    assert_eq!(venice_image::limits::DEFAULT_MAX_RESPONSE_BYTES, 1 << 30);
}
