//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;
use venice_mock::{DEFAULT_API_KEY, MockConfig, MockServer, SiwxVerifier, WalletIdentity};

pub const KEY: &str = DEFAULT_API_KEY;
pub const WALLET: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

/// A test verifier: the header value is the wallet address itself.
pub struct TrustingVerifier;

impl SiwxVerifier for TrustingVerifier {
    fn verify(&self, header_value: &str) -> Result<WalletIdentity, String> {
        if header_value.starts_with("0x") {
            Ok(WalletIdentity {
                address: header_value.to_owned(),
                chain_id: "eip155:8453".to_owned(),
            })
        } else {
            Err("bad signature".to_owned())
        }
    }
}

pub fn with_wallets(mut config: MockConfig) -> MockConfig {
    config.siwx_verifier = Some(Arc::new(TrustingVerifier));
    config
}

pub async fn start() -> MockServer {
    MockServer::start(MockConfig::default()).await.unwrap()
}

pub fn client() -> reqwest::Client {
    client_builder().build().unwrap()
}

/// `reqwest::Client::builder()` once rustls has a crypto provider: reqwest is built
/// without one, and a test run alone (nextest, a name filter) may be the process's first.
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A response read fully and checked against the spec.
pub struct Checked {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

impl Checked {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Reads a response and asserts that `validate_response` accepts it, and that the model
/// window's headers are there exactly on inference answers (reset in Unix milliseconds).
pub async fn check(operation_id: &str, response: reqwest::Response) -> Checked {
    let checked = check_spec(operation_id, response).await;
    let inference = [
        "generateImage",
        "simpleGenerateImage",
        "upscaleImage",
        "editImage",
        "multiEditImage",
        "backgroundRemoveImage",
    ]
    .contains(&operation_id);
    for name in [
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    ] {
        assert_eq!(
            checked.headers.contains_key(name),
            inference,
            "{name} on {operation_id} {}",
            checked.status
        );
    }
    if let Some(reset) = checked.header("x-ratelimit-reset-requests") {
        let ms: u64 = reset.parse().unwrap();
        assert!(ms >= 100_000_000_000, "reset {ms} is not Unix milliseconds");
    }
    checked
}

/// Reads a response and asserts that `validate_response` accepts it (for answers of a
/// limiter that sends no rate-limit header, which [`check`] would refuse).
pub async fn check_spec(operation_id: &str, response: reqwest::Response) -> Checked {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    if let Err(problems) =
        venice_mock::spec::validate_response(operation_id, status, &headers, &body)
    {
        panic!(
            "{operation_id} {status} does not match the spec: {problems:#?}\nbody: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
    }
    Checked {
        status,
        headers,
        body,
    }
}

pub async fn post(server: &MockServer, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", server.base_url()))
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A deterministic PNG input image, base64.
pub fn input_png(width: u32, height: u32) -> String {
    let img = venice_mock::images::render("input", "input", 1, 0, width, height);
    let bytes = venice_mock::images::encode(
        &image::DynamicImage::ImageRgb8(img),
        venice_mock::images::OutputFormat::Png,
        None,
    )
    .unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn decode_b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
