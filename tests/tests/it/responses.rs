//! Responses: everything the mock emits, for every operation of the spec, validates
//! against the spec (status documented for the operation, headers, media type, body), and
//! the facade decodes it (success → value, error → the right typed `Error`).
//!
//! The mock is driven over real HTTP with raw reqwest (no automatic decompression, so the
//! bytes checked are the bytes on the wire) with valid and invalid requests, missing and
//! wrong credentials, unknown models, exhausted rate limits and balances, and each
//! [`Fault`] that yields an HTTP response. Faults that deliberately break the contract
//! (`MalformedJson`, `WrongContentType`) must be *rejected* by the validator: they are the
//! known-bad responses that prove it can fail.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64::Engine as _;
use http::HeaderMap;
use serde_json::{Value, json};
use venice_image::{Client, Error, ErrorCode, Format, GenerateRequest, RetryPolicy, Size};
use venice_mock::spec::{operation_ids, validate_response};
use venice_mock::{
    DEFAULT_API_KEY, Fault, MockConfig, MockServer, PaymentVerifier, RateLimitConfig, SiwxVerifier,
    VerifiedPayment, WalletIdentity,
};

const WALLET: &str = "0x1111111111111111111111111111111111111111";
const OTHER_WALLET: &str = "0x2222222222222222222222222222222222222222";

/// Trusts `wallet:<address>` headers: the cryptography is tested elsewhere; here only the
/// shape of the answers matters.
struct TrustingSiwx;
impl SiwxVerifier for TrustingSiwx {
    fn verify(&self, header_value: &str) -> Result<WalletIdentity, String> {
        header_value
            .strip_prefix("wallet:")
            .map(|address| WalletIdentity {
                address: address.to_owned(),
                chain_id: "eip155:8453".to_owned(),
            })
            .ok_or_else(|| "not a test wallet header".to_owned())
    }
}

/// Accepts `pay:<usd>` as a payment for [`WALLET`].
struct TrustingPayments;
impl PaymentVerifier for TrustingPayments {
    fn verify(&self, header_value: &str) -> Result<VerifiedPayment, String> {
        let usd = header_value
            .strip_prefix("pay:")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| "not a test payment".to_owned())?;
        Ok(VerifiedPayment {
            wallet: WALLET.to_owned(),
            amount_usd: usd,
        })
    }
}

fn config() -> MockConfig {
    MockConfig {
        siwx_verifier: Some(Arc::new(TrustingSiwx)),
        payment_verifier: Some(Arc::new(TrustingPayments)),
        wallet_balances: [(WALLET.to_owned(), 10.0)].into_iter().collect(),
        max_body_bytes: 2 * 1024 * 1024,
        ..MockConfig::default()
    }
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap()
}

/// What a scenario must produce.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// A response of this status that validates against the spec.
    Valid(u16),
    /// A response that the validator must reject (a deliberately broken fault).
    Invalid,
    /// No usable response (connection reset, truncated body).
    Broken,
}

struct Scenario {
    name: String,
    op: &'static str,
    method: reqwest::Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    fault: Option<Fault>,
    expect: Expect,
}

fn bearer() -> (&'static str, String) {
    ("authorization", format!("Bearer {DEFAULT_API_KEY}"))
}

fn json_ct() -> (&'static str, String) {
    ("content-type", "application/json".to_owned())
}

fn post(name: &str, op: &'static str, path: &str, body: &Value, expect: Expect) -> Scenario {
    Scenario {
        name: name.to_owned(),
        op,
        method: reqwest::Method::POST,
        path: path.to_owned(),
        headers: vec![bearer(), json_ct()],
        body: Some(serde_json::to_vec(body).unwrap()),
        fault: None,
        expect,
    }
}

fn get(name: &str, op: &'static str, path: &str, expect: Expect) -> Scenario {
    Scenario {
        name: name.to_owned(),
        op,
        method: reqwest::Method::GET,
        path: path.to_owned(),
        headers: vec![bearer()],
        body: None,
        fault: None,
        expect,
    }
}

impl Scenario {
    fn headers(mut self, h: Vec<(&'static str, String)>) -> Self {
        self.headers = h;
        self
    }
    fn raw_body(mut self, b: &[u8]) -> Self {
        self.body = Some(b.to_vec());
        self
    }
    fn fault(mut self, f: Fault, expect: Expect) -> Self {
        self.name = format!("{} + {f:?}", self.name);
        self.fault = Some(f);
        self.expect = expect;
        self
    }
}

/// Statuses seen per operation, for the coverage summary.
type Coverage = BTreeMap<&'static str, BTreeSet<u16>>;

async fn run(server: &MockServer, s: Scenario, coverage: &mut Coverage) {
    if let Some(f) = s.fault.clone() {
        server.push_faults(vec![f]);
    }
    let mut req = http().request(s.method.clone(), format!("{}{}", server.base_url(), s.path));
    for (k, v) in &s.headers {
        req = req.header(*k, v);
    }
    if let Some(b) = &s.body {
        req = req.body(b.clone());
    }
    let response = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(s.expect, Expect::Broken, "{}: no response: {e}", s.name);
            return;
        }
    };
    let status = response.status().as_u16();
    let headers: HeaderMap = response.headers().clone();
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            assert_eq!(s.expect, Expect::Broken, "{}: body broke: {e}", s.name);
            return;
        }
    };
    let verdict = validate_response(s.op, status, &headers, &body);
    match s.expect {
        Expect::Valid(want) => {
            assert_eq!(
                status,
                want,
                "{}: unexpected status; body {}",
                s.name,
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
            if let Err(problems) = verdict {
                panic!(
                    "{} ({} {status}): the mock's response breaks the spec:\n  {}",
                    s.name,
                    s.op,
                    problems.join("\n  ")
                );
            }
            coverage.entry(s.op).or_default().insert(status);
        }
        Expect::Invalid => {
            assert!(
                verdict.is_err(),
                "{}: a deliberately broken response passed validation",
                s.name
            );
        }
        Expect::Broken => panic!("{}: expected no usable response, got {status}", s.name),
    }
}

/// A real PNG of 256x256 (65,536 pixels, the smallest the edit operations take), made by
/// the mock itself so the test needs no image library.
async fn input_png(server: &MockServer) -> String {
    let body = json!({"model":"venice-sd35","prompt":"input","width":256,"height":256,
        "format":"png","return_binary":true});
    let bytes = http()
        .post(format!("{}/image/generate", server.base_url()))
        .bearer_auth(DEFAULT_API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG"),
        "the mock did not return a PNG"
    );
    base64::engine::general_purpose::STANDARD.encode(&bytes)
}

fn scenarios(png: &str) -> Vec<Scenario> {
    use Expect::{Broken, Invalid, Valid};
    let gen_ok = json!({"model":"venice-sd35","prompt":"a lighthouse","width":256,"height":256});
    let mut out = vec![
        // generateImage
        post(
            "generate json",
            "generateImage",
            "/image/generate",
            &gen_ok,
            Valid(200),
        ),
        post(
            "generate variants + gzip",
            "generateImage",
            "/image/generate",
            &json!({"model":"venice-sd35","prompt":"two","width":128,"height":128,"variants":2}),
            Valid(200),
        ),
        post(
            "generate blurred + enhanced + exif",
            "generateImage",
            "/image/generate",
            &json!({"model":"venice-sd35","prompt":"nsfw forbidden-content","width":128,
                "height":128,"enhance_prompt":true,"embed_exif_metadata":true,"format":"jpeg"}),
            Valid(200),
        ),
        post(
            "generate deprecated model",
            "generateImage",
            "/image/generate",
            &json!({"model":"flux-dev-legacy","prompt":"old","width":128,"height":128}),
            Valid(200),
        ),
        post(
            "generate tiered",
            "generateImage",
            "/image/generate",
            &json!({"model":"nano-banana-pro","prompt":"wide","aspect_ratio":"16:9","resolution":"1K"}),
            Valid(200),
        ),
        post(
            "generate out of range",
            "generateImage",
            "/image/generate",
            &json!({"model":"venice-sd35","prompt":"p","width":0}),
            Valid(400),
        ),
        post(
            "generate unknown field",
            "generateImage",
            "/image/generate",
            &json!({"model":"venice-sd35","prompt":"p","colour":"red"}),
            Valid(400),
        ),
        post(
            "generate wrong type",
            "generateImage",
            "/image/generate",
            &json!({"model":"venice-sd35","prompt":7}),
            Valid(400),
        ),
        post(
            "generate model-aware rule",
            "generateImage",
            "/image/generate",
            &json!({"model":"nano-banana-pro","prompt":"p","aspect_ratio":"1:1","resolution":"8K"}),
            Valid(400),
        ),
        post(
            "generate malformed json",
            "generateImage",
            "/image/generate",
            &json!({}),
            Valid(400),
        )
        .raw_body(b"{\"model\":"),
        post(
            "generate unknown model",
            "generateImage",
            "/image/generate",
            &json!({"model":"no-such-model","prompt":"p"}),
            Valid(404),
        ),
        post(
            "generate no auth",
            "generateImage",
            "/image/generate",
            &gen_ok,
            Valid(402),
        )
        .headers(vec![json_ct()]),
        post(
            "generate wrong key",
            "generateImage",
            "/image/generate",
            &gen_ok,
            Valid(401),
        )
        .headers(vec![("authorization", "Bearer nope".into()), json_ct()]),
        post(
            "generate text/plain",
            "generateImage",
            "/image/generate",
            &gen_ok,
            Valid(415),
        )
        .headers(vec![bearer(), ("content-type", "text/plain".into())]),
        // simpleGenerateImage
        post(
            "simple",
            "simpleGenerateImage",
            "/images/generations",
            &json!({"model":"z-image-turbo","prompt":"a fox","size":"256x256"}),
            Valid(200),
        ),
        post(
            "simple url",
            "simpleGenerateImage",
            "/images/generations",
            &json!({"model":"z-image-turbo","prompt":"a fox","size":"256x256","response_format":"url","n":null}),
            Valid(200),
        ),
        post(
            "simple n=2",
            "simpleGenerateImage",
            "/images/generations",
            &json!({"model":"z-image-turbo","prompt":"a fox","n":2}),
            Valid(400),
        ),
        post(
            "simple without a model",
            "simpleGenerateImage",
            "/images/generations",
            &json!({"prompt":"a fox"}),
            Valid(400),
        ),
        post(
            "simple no auth",
            "simpleGenerateImage",
            "/images/generations",
            &json!({"prompt":"a fox"}),
            Valid(402),
        )
        .headers(vec![json_ct()]),
        post(
            "simple text/plain",
            "simpleGenerateImage",
            "/images/generations",
            &json!({"prompt":"a fox"}),
            Valid(415),
        )
        .headers(vec![bearer(), ("content-type", "text/plain".into())]),
        // listCryptoRpcNetworks, cryptoRpcProxy
        get(
            "rpc networks",
            "listCryptoRpcNetworks",
            "/crypto/rpc/networks",
            Valid(200),
        )
        .headers(vec![]),
        post(
            "rpc blockhash",
            "cryptoRpcProxy",
            "/crypto/rpc/solana-mainnet",
            &json!({"jsonrpc":"2.0","id":1,"method":"getLatestBlockhash","params":[{"commitment":"finalized"}]}),
            Valid(200),
        ),
        post(
            "rpc batch with an unknown method",
            "cryptoRpcProxy",
            "/crypto/rpc/solana-mainnet",
            &json!([{"jsonrpc":"2.0","id":"a","method":"getAccountInfo",
                     "params":["EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",{"encoding":"base64"}]},
                    {"jsonrpc":"2.0","id":2,"method":"getSupply"}]),
            Valid(200),
        ),
        post(
            "rpc unknown network",
            "cryptoRpcProxy",
            "/crypto/rpc/no-such-chain",
            &json!({"jsonrpc":"2.0","id":1,"method":"getLatestBlockhash"}),
            Valid(400),
        ),
        post(
            "rpc anonymous",
            "cryptoRpcProxy",
            "/crypto/rpc/solana-mainnet",
            &json!({"jsonrpc":"2.0","id":1,"method":"getLatestBlockhash"}),
            Valid(402),
        )
        .headers(vec![json_ct()]),
        // listImageStyles
        get("styles", "listImageStyles", "/image/styles", Valid(200)),
        get(
            "styles anonymous",
            "listImageStyles",
            "/image/styles",
            Valid(200),
        )
        .headers(vec![]),
        get(
            "styles wrong key",
            "listImageStyles",
            "/image/styles",
            Valid(401),
        )
        .headers(vec![("authorization", "Bearer nope".into())]),
        // listModels
        get("models", "listModels", "/models", Valid(200)),
        get(
            "models image",
            "listModels",
            "/models?type=image",
            Valid(200),
        ),
        get(
            "models all gzip",
            "listModels",
            "/models?type=all",
            Valid(200),
        )
        .headers(vec![("accept-encoding", "gzip".into())]),
        get(
            "models br",
            "listModels",
            "/models?type=inpaint",
            Valid(200),
        )
        .headers(vec![("accept-encoding", "br".into())]),
        get(
            "models bad type",
            "listModels",
            "/models?type=bogus",
            Valid(400),
        ),
        // upscaleImage
        post(
            "upscale",
            "upscaleImage",
            "/image/upscale",
            &json!({"image": png, "scale": 2}),
            Valid(200),
        ),
        post(
            "upscale bad scale",
            "upscaleImage",
            "/image/upscale",
            &json!({"image": png, "scale": 8}),
            Valid(400),
        ),
        post(
            "upscale not an image",
            "upscaleImage",
            "/image/upscale",
            &json!({"image": "AAAA"}),
            Valid(400),
        ),
        post(
            "upscale no auth",
            "upscaleImage",
            "/image/upscale",
            &json!({"image": png}),
            Valid(402),
        )
        .headers(vec![json_ct()]),
        // editImage
        post(
            "edit",
            "editImage",
            "/image/edit",
            &json!({"image": png, "prompt":"make it blue"}),
            Valid(200),
        ),
        post(
            "edit ratio webp",
            "editImage",
            "/image/edit",
            &json!({"image": png, "prompt":"wide","aspect_ratio":"16:9","output_format":"webp"}),
            Valid(200),
        ),
        post(
            "edit unknown model",
            "editImage",
            "/image/edit",
            &json!({"image": png, "prompt":"p","model":"no-such-edit"}),
            Valid(400),
        ),
        post(
            "edit unfetchable input URL",
            "editImage",
            "/image/edit",
            &json!({"image": "https://example.com/gone.png", "prompt":"p"}),
            Valid(404),
        ),
        post(
            "edit content policy",
            "editImage",
            "/image/edit",
            &json!({"image": png, "prompt":"forbidden-content"}),
            Valid(422),
        ),
        post(
            "edit missing prompt",
            "editImage",
            "/image/edit",
            &json!({"image": png}),
            Valid(400),
        ),
        // multiEditImage
        post(
            "multi-edit",
            "multiEditImage",
            "/image/multi-edit",
            &json!({"images": [png, png], "prompt":"combine"}),
            Valid(200),
        ),
        post(
            "multi-edit empty",
            "multiEditImage",
            "/image/multi-edit",
            &json!({"images": [], "prompt":"combine"}),
            Valid(400),
        ),
        post(
            "multi-edit unknown model",
            "multiEditImage",
            "/image/multi-edit",
            &json!({"images": [png], "prompt":"p","modelId":"no-such-edit"}),
            Valid(400),
        ),
        post(
            "multi-edit content policy",
            "multiEditImage",
            "/image/multi-edit",
            &json!({"images": [png], "prompt":"forbidden-content"}),
            Valid(422),
        ),
        // backgroundRemoveImage
        post(
            "background-remove",
            "backgroundRemoveImage",
            "/image/background-remove",
            &json!({"image": png}),
            Valid(200),
        ),
        post(
            "background-remove both",
            "backgroundRemoveImage",
            "/image/background-remove",
            &json!({"image": png, "image_url": "https://example.com/a.png"}),
            Valid(400),
        ),
        post(
            "background-remove too large",
            "backgroundRemoveImage",
            "/image/background-remove",
            &json!({"image": "A".repeat(3 * 1024 * 1024)}),
            Valid(413),
        ),
        // getX402Balance
        get(
            "balance",
            "getX402Balance",
            &format!("/x402/balance/{WALLET}"),
            Valid(200),
        )
        .headers(vec![("sign-in-with-x", format!("wallet:{WALLET}"))]),
        get(
            "balance legacy header",
            "getX402Balance",
            &format!("/x402/balance/{WALLET}"),
            Valid(200),
        )
        .headers(vec![("x-sign-in-with-x", format!("wallet:{WALLET}"))]),
        get(
            "balance no siwx",
            "getX402Balance",
            &format!("/x402/balance/{WALLET}"),
            Valid(402),
        )
        .headers(vec![]),
        get(
            "balance other wallet",
            "getX402Balance",
            &format!("/x402/balance/{OTHER_WALLET}"),
            Valid(403),
        )
        .headers(vec![("sign-in-with-x", format!("wallet:{WALLET}"))]),
        get(
            "balance bad address",
            "getX402Balance",
            "/x402/balance/not-a-wallet",
            Valid(400),
        )
        .headers(vec![("sign-in-with-x", format!("wallet:{WALLET}"))]),
        // getBillingBalance, getApiKeyRateLimits: an API key only.
        get(
            "billing balance",
            "getBillingBalance",
            "/billing/balance",
            Valid(200),
        )
        .headers(vec![(
            "authorization",
            format!("Bearer {}", venice_mock::DEFAULT_ADMIN_API_KEY),
        )]),
        // An INFERENCE key: 401 "Admin API key required".
        get(
            "billing balance inference key",
            "getBillingBalance",
            "/billing/balance",
            Valid(401),
        ),
        get(
            "billing balance anonymous",
            "getBillingBalance",
            "/billing/balance",
            Valid(402),
        )
        .headers(vec![]),
        get(
            "billing balance wallet",
            "getBillingBalance",
            "/billing/balance",
            Valid(401),
        )
        .headers(vec![("sign-in-with-x", format!("wallet:{WALLET}"))]),
        get(
            "rate limits",
            "getApiKeyRateLimits",
            "/api_keys/rate_limits",
            Valid(200),
        ),
        get(
            "rate limits anonymous",
            "getApiKeyRateLimits",
            "/api_keys/rate_limits",
            Valid(402),
        )
        .headers(vec![]),
        // getX402Transactions
        get(
            "transactions",
            "getX402Transactions",
            &format!("/x402/transactions/{WALLET}?limit=5&offset=0"),
            Valid(200),
        )
        .headers(vec![("sign-in-with-x", format!("wallet:{WALLET}"))]),
        get(
            "transactions bad limit",
            "getX402Transactions",
            &format!("/x402/transactions/{WALLET}?limit=500"),
            Valid(400),
        )
        .headers(vec![("sign-in-with-x", format!("wallet:{WALLET}"))]),
        get(
            "transactions no siwx",
            "getX402Transactions",
            &format!("/x402/transactions/{WALLET}"),
            Valid(402),
        )
        .headers(vec![]),
        get(
            "transactions other wallet",
            "getX402Transactions",
            &format!("/x402/transactions/{OTHER_WALLET}"),
            Valid(403),
        )
        .headers(vec![("sign-in-with-x", format!("wallet:{WALLET}"))]),
        // topUpX402Balance
        Scenario {
            name: "top-up discovery".into(),
            op: "topUpX402Balance",
            method: reqwest::Method::POST,
            path: "/x402/top-up".into(),
            headers: vec![],
            body: None,
            fault: None,
            expect: Valid(402),
        },
        Scenario {
            name: "top-up paid".into(),
            op: "topUpX402Balance",
            method: reqwest::Method::POST,
            path: "/x402/top-up".into(),
            headers: vec![("payment-signature", "pay:5".into())],
            body: None,
            fault: None,
            expect: Valid(200),
        },
        Scenario {
            name: "top-up bad payment".into(),
            op: "topUpX402Balance",
            method: reqwest::Method::POST,
            path: "/x402/top-up".into(),
            headers: vec![("payment-signature", "garbage".into())],
            body: None,
            fault: None,
            expect: Valid(400),
        },
    ];
    // Every fault that yields an HTTP response, on every paid operation that takes it.
    let paid: [(&'static str, &str, Value); 6] = [
        ("generateImage", "/image/generate", gen_ok.clone()),
        (
            "simpleGenerateImage",
            "/images/generations",
            json!({"model":"z-image-turbo","prompt":"a fox","size":"256x256"}),
        ),
        ("upscaleImage", "/image/upscale", json!({"image": png})),
        (
            "editImage",
            "/image/edit",
            json!({"image": png, "prompt":"p"}),
        ),
        (
            "multiEditImage",
            "/image/multi-edit",
            json!({"images": [png], "prompt":"p"}),
        ),
        (
            "backgroundRemoveImage",
            "/image/background-remove",
            json!({"image": png}),
        ),
    ];
    for (op, path, body) in paid {
        for (fault, expect) in [
            (Fault::Status500, Valid(500)),
            (Fault::Status503, Valid(503)),
            (Fault::Status429, Valid(429)),
            (
                Fault::Latency(std::time::Duration::from_millis(1)),
                Valid(200),
            ),
            (Fault::MalformedJson, Invalid),
            (Fault::WrongContentType, Invalid),
            (Fault::TruncatedBody, Broken),
            (Fault::ResetConnection, Broken),
        ] {
            out.push(post(op, op, path, &body, Valid(200)).fault(fault, expect));
        }
    }
    // Binary generate in each format, and the gzip'd JSON.
    for format in ["webp", "png", "jpeg"] {
        out.push(post(
            &format!("generate binary {format}"),
            "generateImage",
            "/image/generate",
            &json!({"model":"venice-sd35","prompt":"b","width":64,"height":64,
                "format":format,"return_binary":true}),
            Valid(200),
        ));
    }
    let mut gz = post(
        "generate gzip",
        "generateImage",
        "/image/generate",
        &gen_ok,
        Valid(200),
    );
    gz.headers.push(("accept-encoding", "gzip, br".into()));
    out.push(gz);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_the_mock_emits_validates_against_the_spec() {
    let server = MockServer::start(config()).await.unwrap();
    let png = input_png(&server).await;
    let mut coverage = Coverage::new();
    let scenarios = scenarios(&png);
    let count = scenarios.len();
    for s in scenarios {
        run(&server, s, &mut coverage).await;
    }

    // Limits that need their own server: rate limit, empty balance, body limit.
    let limited = MockServer::start(MockConfig {
        rate_limit: Some(RateLimitConfig {
            requests: 1,
            window: std::time::Duration::from_secs(600),
        }),
        ..config()
    })
    .await
    .unwrap();
    // One request per window, shared by the key: the first passes, the rest are limited.
    let styles = || {
        get(
            "styles",
            "listImageStyles",
            "/image/styles",
            Expect::Valid(200),
        )
    };
    run(&limited, styles(), &mut coverage).await;
    let mut again = styles();
    again.expect = Expect::Valid(429);
    run(&limited, again, &mut coverage).await;
    let models = get("models", "listModels", "/models", Expect::Valid(429));
    run(&limited, models, &mut coverage).await;
    let networks = get(
        "rpc networks",
        "listCryptoRpcNetworks",
        "/crypto/rpc/networks",
        Expect::Valid(429),
    );
    run(&limited, networks, &mut coverage).await;
    let broke = MockServer::start(MockConfig {
        api_key_balance: Some(0.0),
        wallet_balances: Default::default(),
        ..config()
    })
    .await
    .unwrap();
    let gen_ok = json!({"model":"venice-sd35","prompt":"p","width":64,"height":64});
    for (op, path, body) in [
        ("generateImage", "/image/generate", gen_ok.clone()),
        (
            "simpleGenerateImage",
            "/images/generations",
            json!({"model":"z-image-turbo","prompt":"p"}),
        ),
        ("upscaleImage", "/image/upscale", json!({"image": png})),
        (
            "editImage",
            "/image/edit",
            json!({"image": png, "prompt":"p"}),
        ),
        (
            "multiEditImage",
            "/image/multi-edit",
            json!({"images": [png], "prompt":"p"}),
        ),
        (
            "backgroundRemoveImage",
            "/image/background-remove",
            json!({"image": png}),
        ),
        (
            "cryptoRpcProxy",
            "/crypto/rpc/solana-mainnet",
            json!({"jsonrpc":"2.0","id":1,"method":"getLatestBlockhash"}),
        ),
    ] {
        run(
            &broke,
            post(op, op, path, &body, Expect::Valid(402)),
            &mut coverage,
        )
        .await;
        // A wallet without credit gets the x402 402 shape.
        let wallet = post(op, op, path, &body, Expect::Valid(402)).headers(vec![
            json_ct(),
            ("sign-in-with-x", format!("wallet:{OTHER_WALLET}")),
        ]);
        run(&broke, wallet, &mut coverage).await;
    }

    // Every operation of the spec was exercised, with at least a success and an error.
    let summary: Vec<String> = coverage
        .iter()
        .map(|(op, statuses)| format!("{op}: {statuses:?}"))
        .collect();
    eprintln!(
        "{count}+ scenarios; statuses validated per operation:\n  {}",
        summary.join("\n  ")
    );
    for op in operation_ids() {
        let statuses = coverage
            .get(op)
            .unwrap_or_else(|| panic!("{op} never exercised"));
        assert!(statuses.contains(&200), "{op}: no success validated");
        assert!(
            statuses.iter().any(|s| *s >= 400),
            "{op}: no error validated"
        );
    }
    assert!(
        server.contract_report().violations.len() >= 10,
        "the bad requests above are reported"
    );
}

// ---------------------------------------------------------------------------------------
// Known-bad responses: the validator rejects each kind of breakage.
// ---------------------------------------------------------------------------------------

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, v.parse().unwrap());
    }
    h
}

#[test]
fn known_bad_responses_are_rejected() {
    let json_h = headers(&[("content-type", "application/json")]);
    let good = br#"{"id":"x","images":["AAAA"],"timing":{"inferenceDuration":1,"inferencePreprocessingTime":1,"inferenceQueueTime":1,"total":3}}"#;
    assert!(validate_response("generateImage", 200, &json_h, good).is_ok());
    let bad: Vec<(&str, &str, u16, HeaderMap, Vec<u8>)> = vec![
        ("missing required field", "generateImage", 200, json_h.clone(),
            br#"{"id":"x","images":[]}"#.to_vec()),
        ("wrong type", "generateImage", 200, json_h.clone(),
            br#"{"id":7,"images":[],"timing":{"inferenceDuration":1,"inferencePreprocessingTime":1,"inferenceQueueTime":1,"total":3}}"#.to_vec()),
        ("undocumented status", "generateImage", 418, json_h.clone(), b"{}".to_vec()),
        ("undocumented status on models", "listModels", 401, json_h.clone(), b"{}".to_vec()),
        ("wrong content type", "listImageStyles", 200,
            headers(&[("content-type", "text/html")]), b"<html></html>".to_vec()),
        ("missing content type", "listImageStyles", 200, HeaderMap::new(),
            br#"{"data":[],"object":"list"}"#.to_vec()),
        ("not JSON", "listImageStyles", 200, json_h.clone(), b"{\"data\":".to_vec()),
        ("image lies about its type", "generateImage", 200,
            headers(&[("content-type", "image/png")]), b"\xFF\xD8\xFFjpeg".to_vec()),
        ("header of the wrong type", "generateImage", 200,
            headers(&[("content-type", "application/json"), ("x-venice-is-blurred", "maybe")]),
            good.to_vec()),
        ("negative error-budget header", "listModels", 200,
            headers(&[("content-type", "application/json"), ("x-ratelimit-remaining", "-1")]),
            br#"{"data":[],"object":"list","type":"image"}"#.to_vec()),
        ("negative model-window header", "generateImage", 200,
            headers(&[("content-type", "application/json"), ("x-ratelimit-remaining-requests", "-1")]),
            good.to_vec()),
        ("fractional window reset", "generateImage", 200,
            headers(&[("content-type", "application/json"), ("x-ratelimit-reset-requests", "1.5")]),
            good.to_vec()),
        ("undocumented content encoding", "listModels", 200,
            headers(&[("content-type", "application/json"), ("content-encoding", "zstd")]),
            b"...".to_vec()),
        ("closed object with extra key", "getX402Transactions", 200, json_h.clone(),
            br#"{"success":true,"data":{"walletAddress":"w","currentBalance":1,"transactions":[],"pagination":{"limit":1,"offset":0,"hasMore":false,"extra":1}}}"#.to_vec()),
        ("error body of the wrong shape", "generateImage", 400, json_h.clone(),
            br#"{"error":{"nested":true}}"#.to_vec()),
        ("body on a binary op is JSON", "upscaleImage", 200, json_h.clone(), b"{}".to_vec()),
        ("unknown operation", "deleteEverything", 200, json_h, b"{}".to_vec()),
    ];
    for (what, op, status, h, body) in bad {
        assert!(
            validate_response(op, status, &h, &body).is_err(),
            "{what}: accepted by the validator"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The facade decodes what the mock emits.
// ---------------------------------------------------------------------------------------

fn client(server: &MockServer, key: &str) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .auth(venice_image::Auth::api_key(key))
        .retry(RetryPolicy::none())
        .model_validation(false)
        .build()
        .unwrap()
}

fn request(model: &str) -> GenerateRequest {
    GenerateRequest::builder(model, "a lighthouse")
        .size(Size::Pixels {
            width: 128,
            height: 128,
        })
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facade_decodes_every_response_it_has_a_method_for() {
    let server = MockServer::start(config()).await.unwrap();
    let c = client(&server, venice_mock::DEFAULT_ADMIN_API_KEY);

    // Successes.
    let g = c.generate(&request("venice-sd35")).await.unwrap();
    assert_eq!(g.images().len(), 1);
    let multi = GenerateRequest::builder("venice-sd35", "two")
        .size(Size::Pixels {
            width: 64,
            height: 64,
        })
        .variants(2)
        .output_format(Format::Png)
        .build()
        .unwrap();
    assert_eq!(c.generate(&multi).await.unwrap().images().len(), 2);
    let bin = c.generate_binary(&request("venice-sd35")).await.unwrap();
    assert!(!bin.into_image().await.unwrap().bytes().is_empty());
    assert!(!c.image_styles().await.unwrap().is_empty());
    assert!(!c.image_models().await.unwrap().is_empty());

    // Errors: the right variant, status and code.
    let e = client(&server, "wrong-key")
        .generate(&request("venice-sd35"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401), "{e:?}");
    let e = c.generate(&request("no-such-model")).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(404), Some(&ErrorCode::ModelNotFound)),
        "{e:?}"
    );
    // qwen-image-3 is one of the aspect-ratio models that refuse width/height (the
    // others ignore them).
    let tiered_on_pixels = GenerateRequest::builder("qwen-image-3", "p")
        .size(Size::Pixels {
            width: 100,
            height: 100,
        })
        .build()
        .unwrap();
    let e = c.generate(&tiered_on_pixels).await.unwrap_err();
    assert_eq!(e.status(), Some(400), "{e:?}");
    for (fault, status) in [(Fault::Status500, 500), (Fault::Status503, 503)] {
        server.push_faults(vec![fault]);
        let e = c.generate(&request("venice-sd35")).await.unwrap_err();
        assert!(matches!(e, Error::Api { .. }), "{e:?}");
        assert_eq!(e.status(), Some(status));
    }
    server.push_faults(vec![Fault::Status429]);
    let e = c.generate(&request("venice-sd35")).await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    for fault in [Fault::MalformedJson, Fault::WrongContentType] {
        server.push_faults(vec![fault.clone()]);
        let e = c.generate(&request("venice-sd35")).await.unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{fault:?}: {e:?}");
    }

    let broke = MockServer::start(MockConfig {
        api_key_balance: Some(0.0),
        ..config()
    })
    .await
    .unwrap();
    let e = client(&broke, DEFAULT_API_KEY)
        .generate(&request("venice-sd35"))
        .await
        .unwrap_err();
    // The provider's API-key 402 has no `code`: the account's balance.
    assert!(
        matches!(
            e,
            Error::PaymentRequired {
                kind: venice_image::PaymentRequiredKind::AccountBalance,
                ..
            }
        ),
        "{e:?}"
    );

    // Everything the facade sent conformed to the spec.
    server.assert_requests_conform();
}
