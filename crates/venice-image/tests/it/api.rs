//! Integration tests against a small local axum server (127.0.0.1:0).
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use venice_image::{Auth, Client, Error, ErrorCode, Format, GenerateRequest, RetryPolicy, Size};

type Handler = dyn Fn(usize, &Value) -> Response + Send + Sync;

#[derive(Clone)]
struct Srv {
    handler: Arc<Handler>,
    seen: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
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

/// A valid RGB PNG of `w`x`h` grey pixels.
fn png(w: u32, h: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for _ in 0..h {
        raw.push(0u8);
        raw.extend(std::iter::repeat_n(128u8, (w * 3) as usize));
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&raw).unwrap();
    let idat = z.finish().unwrap();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &idat);
    chunk(b"IEND", &[]);
    out
}

fn b64(b: &[u8]) -> String {
    use base64_simd::STANDARD;
    STANDARD.encode_to_string(b)
}

fn catalogue() -> Value {
    json!({"object": "list", "type": "image", "data": [
        {"id": "px", "type": "image", "object": "model", "owned_by": "venice.ai",
         "model_spec": {"privacy": "private",
            "constraints": {"promptCharacterLimit": 1500, "widthHeightDivisor": 8},
            "pricing": {"generation": {"usd": 0.01, "diem": 0.1}}}}
    ]})
}

fn json_response(status: u16, body: Value, headers: &[(&str, &str)]) -> Response {
    let mut r = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Body::from(body.to_string())).unwrap()
}

async fn generate(State(s): State<Srv>, headers: HeaderMap, body: String) -> Response {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let n = {
        let mut seen = s.seen.lock().unwrap();
        seen.push((headers, v.clone()));
        seen.len()
    };
    (s.handler)(n, &v)
}

async fn start(
    handler: impl Fn(usize, &Value) -> Response + Send + Sync + 'static,
) -> (String, Srv) {
    let srv = Srv {
        handler: Arc::new(handler),
        seen: Arc::default(),
    };
    let app = Router::new()
        .route("/api/v1/image/generate", post(generate))
        .route(
            "/api/v1/models",
            get(|q: axum::extract::RawQuery| async move {
                assert_eq!(q.0.as_deref(), Some("type=image"));
                json_response(200, catalogue(), &[])
            }),
        )
        .route(
            "/api/v1/image/styles",
            get(|| async {
                json_response(
                    200,
                    json!({"object": "list", "data": ["3D Model", "Anime"]}),
                    &[],
                )
            }),
        )
        .with_state(srv.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/api/v1"), srv)
}

fn client(base: &str) -> Client {
    client_with(base, RetryPolicy::default())
}

fn client_with(base: &str, retry: RetryPolicy) -> Client {
    Client::builder()
        .base_url(base)
        .auth(Auth::api_key("test-key"))
        .retry(retry)
        .build()
        .unwrap()
}

fn req() -> GenerateRequest {
    GenerateRequest::builder("px", "a cat")
        .size(Size::Pixels {
            width: 64,
            height: 32,
        })
        .output_format(Format::Png)
        .build()
        .unwrap()
}

fn ok_json(images: usize) -> Response {
    let imgs: Vec<String> = (0..images).map(|i| b64(&png(16 + i as u32, 8))).collect();
    json_response(
        200,
        json!({"id": "gen-1", "images": imgs, "timing": {"total": 5, "inferenceDuration": 4,
               "inferencePreprocessingTime": 0, "inferenceQueueTime": 1}}),
        &[],
    )
}

#[tokio::test]
async fn json_generate_two_variants() {
    let (base, srv) = start(|_, _| ok_json(2)).await;
    let c = client(&base);
    let r = GenerateRequest::builder("px", "a cat")
        .size(Size::Pixels {
            width: 64,
            height: 32,
        })
        .variants(2)
        .seed(7)
        .build()
        .unwrap();
    let g = c.generate(&r).await.unwrap();
    assert_eq!(g.id(), "gen-1");
    assert_eq!(g.images().len(), 2);
    assert_eq!(g.timing().unwrap().total_ms(), 5.0);
    for (i, img) in g.images().iter().enumerate() {
        assert_eq!(img.format(), Format::Png);
        assert_eq!((img.width(), img.height()), (16 + i as u32, 8));
        assert_eq!(img.index(), i);
    }
    {
        let seen = srv.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].1, r.to_json());
        assert_eq!(seen[0].0["authorization"], "Bearer test-key");
        assert!(seen[0].0.contains_key("api-version"));
    }
    let dir = tempfile::tempdir().unwrap();
    let paths = g.save_all(dir.path()).await.unwrap();
    assert_eq!(paths[1], dir.path().join("gen-1-1.png"));
    assert_eq!(std::fs::read(&paths[0]).unwrap(), png(16, 8));
}

#[tokio::test]
async fn metadata_headers() {
    let (base, _srv) = start(|_, _| {
        let mut r = ok_json(1);
        let h = r.headers_mut();
        for (k, v) in [
            ("x-venice-is-blurred", "true"),
            ("x-venice-is-content-violation", "true"),
            ("x-venice-model-deprecation-warning", "retiring soon"),
            ("x-venice-model-deprecation-date", "2030-01-01T00:00:00Z"),
            ("x-venice-deprecated", "true"),
            ("x-venice-deprecated-replacement", "px2"),
            ("x-venice-balance-usd", "4.230000"),
            ("x-ratelimit-limit-requests", "20"),
            ("x-ratelimit-remaining-requests", "3"),
            ("x-ratelimit-reset-requests", "2000000000"),
            ("x-venice-enhanced-prompt", "a%20fluffy%20cat%20%26%20moon"),
            ("x-venice-model-id", "px"),
        ] {
            h.insert(k, v.parse().unwrap());
        }
        r
    })
    .await;
    let g = client(&base).generate(&req()).await.unwrap();
    let m = &g.meta();
    assert_eq!(m.status(), 200);
    assert!(m.is_blurred() && m.is_content_violation());
    let d = m.deprecation().unwrap();
    assert!(d.is_deprecated());
    assert_eq!(d.replacement(), Some("px2"));
    assert_eq!(d.warning(), Some("retiring soon"));
    assert_eq!(m.balance_remaining_usd(), Some(4.23));
    let rl = m.rate_limit().unwrap();
    assert_eq!((rl.limit(), rl.remaining()), (Some(20), Some(3)));
    assert!(rl.reset_at().is_some());
    assert_eq!(m.enhanced_prompt(), Some("a fluffy cat & moon"));
    assert_eq!(m.model_id(), Some("px"));
}

#[tokio::test]
async fn gzip_json_is_decoded() {
    let (base, srv) = start(|_, _| {
        let body = json!({"id": "gz", "images": [b64(&png(4, 4))]}).to_string();
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(body.as_bytes()).unwrap();
        Response::builder()
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(Body::from(z.finish().unwrap()))
            .unwrap()
    })
    .await;
    let g = client(&base).generate(&req()).await.unwrap();
    assert_eq!(g.id(), "gz");
    assert_eq!((g.images()[0].width(), g.images()[0].height()), (4, 4));
    let seen = srv.seen.lock().unwrap();
    let ae = seen[0].0["accept-encoding"].to_str().unwrap().to_owned();
    assert!(ae.contains("gzip") && ae.contains("br"), "{ae}");
}

#[tokio::test]
async fn binary_streams_to_disk() {
    let image = png(300, 200);
    let expected = image.clone();
    let (base, srv) = start(move |_, _| {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            image.chunks(1000).map(|c| Ok(c.to_vec())).collect();
        Response::builder()
            .header("content-type", "image/png")
            .header("x-request-id", "req-42")
            .body(Body::from_stream(futures::stream::iter(chunks)))
            .unwrap()
    })
    .await;
    let c = client(&base);
    let r = GenerateRequest::builder("px", "a cat")
        .output_format(Format::Png)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bin = c.generate_binary(&r).await.unwrap();
    assert_eq!(bin.format(), Format::Png);
    assert_eq!(bin.meta().request_id(), Some("req-42"));
    let p = bin.save(dir.path()).await.unwrap();
    assert_eq!(p, dir.path().join("req-42.png"));
    assert_eq!(std::fs::read(&p).unwrap(), expected);
    let p = c
        .generate_binary(&r)
        .await
        .unwrap()
        .save(dir.path().join("out.webp"))
        .await
        .unwrap();
    assert_eq!(p, dir.path().join("out.png"));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let b = c
        .generate_binary(&r)
        .await
        .unwrap()
        .into_image()
        .await
        .unwrap();
    assert_eq!(&b.bytes()[..], &expected[..]);
    let seen = srv.seen.lock().unwrap();
    assert!(
        seen.iter()
            .all(|(_, body)| body["return_binary"] == json!(true))
    );
    assert!(
        seen.iter()
            .all(|(h, _)| h["authorization"] == "Bearer test-key")
    );
}

#[tokio::test]
async fn error_classes() {
    let header = b64(json!({"x402Version": 2, "accepts": [{"scheme": "exact"}]})
        .to_string()
        .as_bytes());
    let (base, srv) = start(move |_, body| {
        match body["prompt"].as_str().unwrap() {
            "400" => json_response(400, json!({"error": "Invalid request", "details": {"prompt": {"_errors": ["bad"]}}}), &[]),
            "401" => json_response(401, json!({"error": "Authentication failed"}), &[]),
            "402" => json_response(
                402,
                json!({"error": "Payment required", "code": "PAYMENT_REQUIRED", "reason": "insufficient_balance",
                       "currentBalanceUsd": 0.0}),
                &[("payment-required", header.as_str())],
            ),
            "404" => json_response(404, json!({"error": "Model not found", "code": "MODEL_NOT_FOUND"}), &[]),
            "html" => Response::builder()
                .status(502)
                .header("content-type", "text/html; charset=utf-8")
                .header("server", "nginx")
                .body(Body::from("<html>bad gateway</html>"))
                .unwrap(),
            "bare404" => Response::builder().status(404).body(Body::empty()).unwrap(),
            _ => json_response(500, json!({}), &[]),
        }
    })
    .await;
    let c = client(&base);
    let r = |p: &str| GenerateRequest::builder("px", p).build().unwrap();
    let e = c.generate(&r("400")).await.unwrap_err();
    assert!(
        matches!(&e, Error::Api { error: a, .. } if a.details().as_ref().unwrap()["prompt"]["_errors"][0] == "bad")
    );
    assert_eq!(e.code(), Some(&ErrorCode::InvalidRequest));
    let e = c.generate(&r("401")).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(401), Some(&ErrorCode::AuthenticationFailed))
    );
    let e = c.generate(&r("402")).await.unwrap_err();
    let Error::PaymentRequired { error: p, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(p.reason.as_deref(), Some("insufficient_balance"));
    assert_eq!(p.payment_required_header().unwrap().x402_version, 2);
    let e = c.generate(&r("404")).await.unwrap_err();
    assert_eq!(e.code(), Some(&ErrorCode::ModelNotFound));
    let e = c.generate(&r("html")).await.unwrap_err();
    assert_eq!(e.status(), Some(502));
    assert!(
        e.api_error()
            .unwrap()
            .body_excerpt()
            .contains("bad gateway")
    );
    // The metadata says what the server sent (not the JSON the client made of it), and
    // every header is kept.
    let api = e.api_error().unwrap();
    assert_eq!(api.meta().content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(api.headers()["server"], "nginx");
    assert_eq!(api.meta().headers()["server"], "nginx");
    // A 404 without a code (a wrong base URL) matches plainly and says so.
    let e = c.generate(&r("bare404")).await.unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Api {
                status: 404,
                code: ErrorCode::NoCode,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "API error 404: Not Found");
    // none of these were retried
    assert_eq!(srv.seen.lock().unwrap().len(), 6);
}

#[tokio::test]
async fn rate_limit_retry_after_then_success() {
    let (base, srv) = start(|n, _| {
        if n == 1 {
            json_response(
                429,
                json!({"error": "slow", "code": "RATE_LIMIT_EXCEEDED"}),
                &[("retry-after", "1")],
            )
        } else {
            ok_json(1)
        }
    })
    .await;
    let t = Instant::now();
    let g = client(&base).generate(&req()).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(g.images().len(), 1);
    let seen = srv.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    // auth re-applied on every attempt
    assert!(
        seen.iter()
            .all(|(h, _)| h["authorization"] == "Bearer test-key")
    );
}

#[tokio::test]
async fn insufficient_balance_429_not_retried() {
    let (base, srv) = start(|_, _| {
        json_response(
            429,
            json!({"code": "INSUFFICIENT_BALANCE"}),
            &[("retry-after", "0")],
        )
    })
    .await;
    let e = client(&base).generate(&req()).await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }));
    assert_eq!(srv.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn server_errors_retried_only_when_opted_in() {
    let handler = |n: usize, _: &Value| {
        if n % 2 == 1 {
            json_response(
                500,
                json!({"error": "boom", "code": "INFERENCE_FAILED"}),
                &[],
            )
        } else {
            ok_json(1)
        }
    };
    let (base, srv) = start(handler).await;
    let e = client(&base).generate(&req()).await.unwrap_err();
    assert_eq!(e.code(), Some(&ErrorCode::InferenceFailed));
    assert_eq!(srv.seen.lock().unwrap().len(), 1);

    let (base, srv) = start(handler).await;
    let policy = RetryPolicy::builder()
        .retry_server_errors(true)
        .base_delay(Duration::from_millis(10))
        .build();
    client_with(&base, policy).generate(&req()).await.unwrap();
    assert_eq!(srv.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn unavailable_503_retried_until_attempts_run_out() {
    let (base, srv) = start(|_, _| {
        json_response(
            503,
            json!({"code": "MODEL_AT_CAPACITY"}),
            &[("retry-after", "0")],
        )
    })
    .await;
    let e = client(&base).generate(&req()).await.unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(srv.seen.lock().unwrap().len(), 3);

    let (base, srv) = start(|n, _| {
        if n < 3 {
            json_response(503, json!({}), &[])
        } else {
            ok_json(1)
        }
    })
    .await;
    let policy = RetryPolicy::builder()
        .base_delay(Duration::from_millis(5))
        .build();
    client_with(&base, policy).generate(&req()).await.unwrap();
    assert_eq!(srv.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn connection_refused_is_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = Client::builder()
        .base_url(format!("http://{addr}/api/v1"))
        .model_validation(false)
        .retry(
            RetryPolicy::builder()
                .base_delay(Duration::from_millis(1))
                .build(),
        )
        .build()
        .unwrap();
    let e = c.generate(&req()).await.unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn catalogue_validation_cost_and_styles() {
    let (base, srv) = start(|_, _| ok_json(1)).await;
    let c = client(&base);
    let models = c.image_models().await.unwrap();
    assert_eq!(models[0].id(), "px");
    let unknown = GenerateRequest::builder("nope", "x").build().unwrap();
    let e = c.generate(&unknown).await.unwrap_err();
    assert!(
        matches!(&e, Error::Validation(v) if v.field == "model"),
        "{e:?}"
    );
    // Over the model's promptCharacterLimit (1,500), within the provider's 32,768.
    let bad = GenerateRequest::builder("px", "x".repeat(1501))
        .build()
        .unwrap();
    assert!(
        matches!(c.validate_for_model(&bad).await, Err(Error::Validation(v)) if v.field == "prompt")
    );
    // Off the divisor (8) is sent: the provider does not validate it.
    let off = GenerateRequest::builder("px", "x")
        .size(Size::Pixels {
            width: 63,
            height: 64,
        })
        .build()
        .unwrap();
    assert!(c.validate_for_model(&off).await.is_ok());
    assert_eq!(
        srv.seen.lock().unwrap().len(),
        0,
        "invalid requests are never sent"
    );
    let cost = c
        .estimate_cost(
            &GenerateRequest::builder("px", "x")
                .variants(4)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(cost.images(), 4);
    assert!((cost.total_usd() - 0.04).abs() < 1e-9);
    assert_eq!(c.image_styles().await.unwrap(), vec!["3D Model", "Anime"]);
    assert_eq!(c.refresh_image_models().await.unwrap().len(), 1);
    // validation can be switched off
    let off = Client::builder()
        .base_url(&base)
        .model_validation(false)
        .build()
        .unwrap();
    off.generate(&unknown).await.unwrap();
    let seen = srv.seen.lock().unwrap();
    assert!(!seen[0].0.contains_key("authorization"));
}
