//! Every body the mock emits validates against **both** our spec and the provider's
//! published spec (`../shared/upstream/venice-openapi.yaml`, read at test time), for
//! the operation and status that produced it; the built-in catalogue validates model by
//! model against the provider's `ModelResponse` and represents every sizing mode.
//!
//! The mock is driven with plain reqwest (no decompression: the bytes checked are the
//! bytes on the wire). Statuses the provider does not document for an operation must be
//! one of those openapi/README.md lists with a reason ([`UNDOCUMENTED_UPSTREAM`]); the
//! provider's inference 402 is a `oneOf` no real body can satisfy (the insufficient-
//! credit body matches both branches), so it is checked as the `anyOf` it means.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use base64::Engine as _;
use contract_tests::upstream_spec_path;
use serde_json::{Value, json};
use venice_mock::spec::{Spec, validate_response};
use venice_mock::{
    DEFAULT_API_KEY, Fault, MockConfig, MockServer, PaymentVerifier, RateLimitConfig, SiwxVerifier,
    VerifiedPayment, WalletIdentity,
};

const WALLET: &str = "0x1111111111111111111111111111111111111111";
const POOR_WALLET: &str = "0x3333333333333333333333333333333333333333";

/// (operationId, status) the provider does not document, each listed in
/// openapi/README.md with its reason.
const UNDOCUMENTED_UPSTREAM: &[(&str, u16)] = &[
    ("listModels", 400),
    ("listModels", 429),
    ("listImageStyles", 429),
    ("generateImage", 404),
    ("editImage", 404),
    ("multiEditImage", 404),
    ("editImage", 422),
    ("multiEditImage", 422),
    ("generateImage", 413),
    ("simpleGenerateImage", 413),
    ("upscaleImage", 413),
    ("editImage", 413),
    ("multiEditImage", 413),
    ("backgroundRemoveImage", 413),
    // A request without credentials: the x402 discovery 402 (venice-billing,
    // venice-api-keys @ 73c0bf79), not in the provider's spec of these operations.
    ("getBillingBalance", 402),
    ("getApiKeyRateLimits", 402),
    // The same on the wallet routes, with an empty `accepts` (venice-x402 @ 738669f5).
    ("getX402Balance", 402),
    ("getX402Transactions", 402),
];

/// Operations whose 402 upstream is `oneOf[StandardError, X402InferencePaymentRequired]`.
const INFERENCE: &[&str] = &[
    "generateImage",
    "simpleGenerateImage",
    "upscaleImage",
    "editImage",
    "multiEditImage",
    "backgroundRemoveImage",
];

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

/// The provider's spec, or `None` (with a loud message) when `../shared` is absent.
fn provider() -> Option<Spec> {
    let Some(path) = upstream_spec_path() else {
        eprintln!(
            "\n*** SKIPPED: the provider's spec is not at ../shared/upstream/venice-openapi.yaml \
             (set VENICE_UPSTREAM_SPEC); the mock's bodies were NOT checked against it ***\n"
        );
        return None;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    Some(Spec::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn png_b64(width: u32, height: u32) -> String {
    let bytes = venice_mock::images::ImageKey {
        model: "in".into(),
        prompt: "in".into(),
        seed: 1,
        variant: 0,
        format: venice_mock::images::OutputFormat::Png,
        width,
        height,
        exif: false,
    }
    .produce()
    .unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One response, as sent.
struct Seen {
    operation: &'static str,
    label: String,
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

struct Driver {
    http: reqwest::Client,
    seen: Vec<Seen>,
}

impl Driver {
    fn new() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            http: reqwest::Client::builder()
                .no_gzip()
                .no_brotli()
                .build()
                .unwrap(),
            seen: Vec::new(),
        }
    }

    async fn send(&mut self, operation: &'static str, label: &str, rb: reqwest::RequestBuilder) {
        let r = rb.send().await.unwrap();
        self.seen.push(Seen {
            operation,
            label: label.to_owned(),
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.bytes().await.unwrap().to_vec(),
        });
    }
}

fn url(server: &MockServer, path: &str) -> String {
    format!("{}{path}", server.base_url())
}

/// Drives every operation through its success and error answers.
async fn drive() -> Vec<Seen> {
    let mut config = MockConfig {
        siwx_verifier: Some(Arc::new(TrustingSiwx)),
        payment_verifier: Some(Arc::new(TrustingPayments)),
        ..MockConfig::default()
    };
    config.wallet_balances.insert(WALLET.to_owned(), 5.0);
    config.account.diem_balance = Some(2.0);
    config.account.diem_epoch_allocation = 4.0;
    let server = MockServer::start(config).await.unwrap();
    let mut d = Driver::new();
    // An ADMIN key: it serves every operation, the balance included.
    let key = venice_mock::DEFAULT_ADMIN_API_KEY;
    let post = |d: &Driver, path: &str, body: Value| {
        d.http.post(url(&server, path)).bearer_auth(key).json(&body)
    };
    let gen_ok = json!({"model":"venice-sd35","prompt":"a lighthouse","width":256,"height":256});

    // Models and styles.
    for ty in ["image", "inpaint", "upscale", "all", "text", "video"] {
        let rb = d.http.get(url(&server, &format!("/models?type={ty}")));
        d.send("listModels", ty, rb).await;
    }
    let rb = d.http.get(url(&server, "/models"));
    d.send("listModels", "no type", rb).await;
    let rb = d.http.get(url(&server, "/models?type=pictures"));
    d.send("listModels", "bad type", rb).await;
    let rb = d.http.get(url(&server, "/image/styles"));
    d.send("listImageStyles", "anonymous", rb).await;
    let rb = d
        .http
        .get(url(&server, "/image/styles"))
        .bearer_auth("wrong");
    d.send("listImageStyles", "wrong key", rb).await;

    // The account of the key.
    for (op, path) in [
        ("getBillingBalance", "/billing/balance"),
        ("getApiKeyRateLimits", "/api_keys/rate_limits"),
    ] {
        let rb = d.http.get(url(&server, path)).bearer_auth(key);
        d.send(op, "key", rb).await;
        let rb = d.http.get(url(&server, path));
        d.send(op, "anonymous", rb).await;
    }
    // An INFERENCE key on the admin-only balance: 401 "Admin API key required".
    let rb = d
        .http
        .get(url(&server, "/billing/balance"))
        .bearer_auth(DEFAULT_API_KEY);
    d.send("getBillingBalance", "inference key", rb).await;
    let rb = d
        .http
        .get(url(&server, "/api_keys/rate_limits"))
        .bearer_auth("wrong");
    d.send("getApiKeyRateLimits", "wrong key", rb).await;

    // Generate: JSON, binary in each format, every sizing mode, triggers, errors.
    let cases = [
        ("pixels", gen_ok.clone()),
        (
            "variants",
            json!({"model":"z-image-turbo","prompt":"two","width":128,"height":128,"variants":2}),
        ),
        (
            "aspect",
            json!({"model":"qwen-image-2","prompt":"wide","aspect_ratio":"16:9"}),
        ),
        (
            "tiered",
            json!({"model":"nano-banana-pro","prompt":"wide","aspect_ratio":"16:9","resolution":"1K"}),
        ),
        (
            "quality",
            json!({"model":"gpt-image-2","prompt":"q","quality":"low"}),
        ),
        (
            "triggers",
            json!({"model":"venice-sd35","prompt":"nsfw forbidden-content","width":128,"height":128,"enhance_prompt":true}),
        ),
        (
            "deprecated",
            json!({"model":"flux-dev-legacy","prompt":"old","width":128,"height":128}),
        ),
        (
            "png",
            json!({"model":"venice-sd35","prompt":"b","width":64,"height":64,"return_binary":true,"format":"png"}),
        ),
        (
            "jpeg",
            json!({"model":"venice-sd35","prompt":"b","width":64,"height":64,"return_binary":true,"format":"jpeg"}),
        ),
        (
            "webp",
            json!({"model":"venice-sd35","prompt":"b","width":64,"height":64,"return_binary":true}),
        ),
        (
            "invalid",
            json!({"model":"venice-sd35","prompt":"p","width":0}),
        ),
        (
            "unknown model",
            json!({"model":"no-such-model","prompt":"p"}),
        ),
    ];
    for (label, body) in cases {
        let rb = post(&d, "/image/generate", body);
        d.send("generateImage", label, rb).await;
    }
    let rb = d.http.post(url(&server, "/image/generate")).json(&gen_ok);
    d.send("generateImage", "no key", rb).await;
    let rb = d
        .http
        .post(url(&server, "/image/generate"))
        .bearer_auth(key)
        .header("content-type", "text/plain")
        .body("x");
    d.send("generateImage", "wrong media", rb).await;
    let rb = d
        .http
        .post(url(&server, "/image/generate"))
        .header("sign-in-with-x", format!("wallet:{POOR_WALLET}"))
        .json(&gen_ok);
    d.send("generateImage", "wallet without credit", rb).await;
    let rb = d
        .http
        .post(url(&server, "/image/generate"))
        .header("sign-in-with-x", format!("wallet:{WALLET}"))
        .json(&gen_ok);
    d.send("generateImage", "wallet", rb).await;
    for fault in [Fault::Status500, Fault::Status503, Fault::Status429] {
        server.push_faults(vec![fault.clone()]);
        let rb = post(&d, "/image/generate", gen_ok.clone());
        d.send("generateImage", &format!("{fault:?}"), rb).await;
    }

    // OpenAI-compatible.
    for (label, body) in [
        (
            "b64",
            json!({"model":"z-image-turbo","prompt":"p","size":"256x256"}),
        ),
        (
            "url",
            json!({"model":"z-image-turbo","prompt":"p","size":"256x256","response_format":"url","output_format":"webp"}),
        ),
        ("n=2", json!({"model":"z-image-turbo","prompt":"p","n":2})),
        ("no model", json!({"prompt":"p"})),
    ] {
        let rb = post(&d, "/images/generations", body);
        d.send("simpleGenerateImage", label, rb).await;
    }

    // Upload operations.
    let img = png_b64(256, 256);
    let uploads = [
        (
            "upscaleImage",
            "/image/upscale",
            json!({"image": img, "scale": 2}),
        ),
        (
            "upscaleImage",
            "/image/upscale",
            json!({"image": png_b64(100, 100)}),
        ),
        (
            "editImage",
            "/image/edit",
            json!({"image": img, "prompt": "blue"}),
        ),
        (
            "editImage",
            "/image/edit",
            json!({"image": img, "prompt": "blue", "model": "nope"}),
        ),
        (
            "editImage",
            "/image/edit",
            json!({"image": "https://example.com/gone.png", "prompt": "blue"}),
        ),
        (
            "editImage",
            "/image/edit",
            json!({"image": img, "prompt": "forbidden-content"}),
        ),
        (
            "multiEditImage",
            "/image/multi-edit",
            json!({"images": [img], "prompt": "forbidden-content"}),
        ),
        (
            "multiEditImage",
            "/image/multi-edit",
            json!({"images": [img, img], "prompt": "mix", "output_format": "jpeg"}),
        ),
        (
            "backgroundRemoveImage",
            "/image/background-remove",
            json!({"image": img}),
        ),
        (
            "backgroundRemoveImage",
            "/image/background-remove",
            json!({"image": "bm90IGFuIGltYWdl"}),
        ),
    ];
    for (op, path, body) in uploads {
        let rb = post(&d, path, body);
        d.send(op, path, rb).await;
    }

    // x402.
    let rb = d
        .http
        .get(url(&server, &format!("/x402/balance/{WALLET}")))
        .header("sign-in-with-x", format!("wallet:{WALLET}"));
    d.send("getX402Balance", "ok", rb).await;
    let rb = d.http.get(url(&server, &format!("/x402/balance/{WALLET}")));
    d.send("getX402Balance", "unsigned", rb).await;
    let rb = d
        .http
        .get(url(&server, &format!("/x402/balance/{WALLET}")))
        .header("sign-in-with-x", format!("wallet:{POOR_WALLET}"));
    d.send("getX402Balance", "other wallet", rb).await;
    let rb = d
        .http
        .get(url(&server, "/x402/balance/not-a-wallet"))
        .header("sign-in-with-x", "wallet:not-a-wallet");
    d.send("getX402Balance", "bad address", rb).await;
    let rb = d
        .http
        .get(url(
            &server,
            &format!("/x402/transactions/{WALLET}?limit=5"),
        ))
        .header("sign-in-with-x", format!("wallet:{WALLET}"));
    d.send("getX402Transactions", "ok", rb).await;
    let rb = d
        .http
        .get(url(
            &server,
            &format!("/x402/transactions/{WALLET}?limit=500"),
        ))
        .header("sign-in-with-x", format!("wallet:{WALLET}"));
    d.send("getX402Transactions", "bad limit", rb).await;
    let rb = d.http.post(url(&server, "/x402/top-up"));
    d.send("topUpX402Balance", "discovery", rb).await;
    let rb = d.http.post(url(&server, "/x402/top-up")).json(&json!({}));
    d.send("topUpX402Balance", "discovery with {}", rb).await;
    let rb = d
        .http
        .post(url(&server, "/x402/top-up"))
        .header("payment-signature", "pay:5");
    d.send("topUpX402Balance", "paid", rb).await;
    let rb = d
        .http
        .post(url(&server, "/x402/top-up"))
        .header("payment-signature", "garbage");
    d.send("topUpX402Balance", "invalid payment", rb).await;

    // Rate limit and balance exhaustion on a second server.
    let limited = MockServer::start(MockConfig {
        rate_limit: Some(RateLimitConfig {
            requests: 1,
            window: std::time::Duration::from_secs(60),
        }),
        api_key_balance: Some(0.0),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let rb = d
        .http
        .post(url(&limited, "/image/generate"))
        .bearer_auth(key)
        .json(&gen_ok);
    d.send("generateImage", "api key without credit", rb).await;
    let rb = d
        .http
        .get(url(&limited, "/models?type=image"))
        .bearer_auth(key);
    d.send("listModels", "rate limited", rb).await;
    d.seen
}

/// The provider's operation at our operation's method and path.
fn upstream_operation<'a>(provider: &'a Spec, operation_id: &str) -> Option<&'a Value> {
    let ours = venice_mock::spec::embedded();
    let (method, path) = ours.operation_route(operation_id)?;
    let template = path.strip_prefix(ours.base_path())?;
    provider.operation_at(&method, template)
}

fn inference_402_matches_a_branch(provider: &Spec, body: &[u8]) -> Result<(), Vec<String>> {
    let value: Value = serde_json::from_slice(body).map_err(|e| vec![e.to_string()])?;
    let mut problems = Vec::new();
    for branch in ["StandardError", "X402InferencePaymentRequired"] {
        let schema = json!({ "$ref": format!("#/components/schemas/{branch}") });
        let v = provider
            .cached_validator(format!("branch:{branch}"), &schema)
            .unwrap();
        match v.validate(&value) {
            Ok(()) => return Ok(()),
            Err(issues) => problems.extend(issues.iter().map(|i| format!("{branch}: {i}"))),
        }
    }
    Err(problems)
}

#[tokio::test]
async fn every_emitted_body_validates_against_both_specs() {
    let Some(provider) = provider() else {
        return;
    };
    let seen = drive().await;
    let mut failures = Vec::new();
    let mut statuses = std::collections::BTreeSet::new();
    for s in &seen {
        statuses.insert((s.operation, s.status));
        let what = format!("{} [{}] {}", s.operation, s.label, s.status);
        if let Err(p) = validate_response(s.operation, s.status, &s.headers, &s.body) {
            failures.push(format!("{what}: ours: {p:?}"));
        }
        // Matched by method and path: the provider's styles operation has no id.
        let Some(op) = upstream_operation(&provider, s.operation) else {
            failures.push(format!("{what}: no such operation upstream"));
            continue;
        };
        let documented = op.pointer(&format!("/responses/{}", s.status)).is_some();
        if !documented {
            if !UNDOCUMENTED_UPSTREAM.contains(&(s.operation, s.status)) {
                failures.push(format!("{what}: undocumented upstream and not listed"));
            }
            continue;
        }
        let result = if s.status == 402 && INFERENCE.contains(&s.operation) {
            inference_402_matches_a_branch(&provider, &s.body)
        } else {
            provider.validate_operation_response(op, s.status, &s.headers, &s.body)
        };
        if let Err(p) = result {
            failures.push(format!(
                "{what}: provider's: {p:?}\n    body: {}",
                String::from_utf8_lossy(&s.body[..s.body.len().min(400)])
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The drive reached what it claims to cover.
    for expected in [
        ("generateImage", 200),
        ("generateImage", 402),
        ("generateImage", 429),
        ("generateImage", 503),
        ("topUpX402Balance", 402),
        ("topUpX402Balance", 400),
        ("topUpX402Balance", 200),
        ("getX402Balance", 403),
        ("getBillingBalance", 200),
        ("getBillingBalance", 401),
        ("getApiKeyRateLimits", 200),
        ("getApiKeyRateLimits", 401),
        ("listModels", 400),
        ("upscaleImage", 400),
    ] {
        assert!(statuses.contains(&expected), "{expected:?} not exercised");
    }
    assert!(seen.len() >= 50, "{}", seen.len());
}

/// The provider's inference 402 schema really is unsatisfiable for the wallet body (the
/// reason it is checked as `anyOf` above): if upstream fixes it, this fails and the
/// special case can go.
#[tokio::test]
async fn the_providers_inference_402_one_of_rejects_the_wallet_body() {
    let Some(provider) = provider() else {
        return;
    };
    let seen = drive().await;
    let wallet_402 = seen
        .iter()
        .find(|s| s.label == "wallet without credit")
        .unwrap();
    assert_eq!(wallet_402.status, 402);
    assert!(
        provider
            .validate_response("generateImage", 402, &wallet_402.headers, &wallet_402.body)
            .is_err()
    );
    inference_402_matches_a_branch(&provider, &wallet_402.body).unwrap();
}

#[tokio::test]
async fn every_built_in_model_validates_against_the_providers_model_response() {
    let Some(provider) = provider() else {
        return;
    };
    let list = all_models().await;
    let models = list["data"].as_array().unwrap();
    let schema = json!({"$ref": "#/components/schemas/ModelResponse"});
    let validator = provider.cached_validator("model".into(), &schema).unwrap();
    let mut bad = Vec::new();
    for m in models {
        if let Err(issues) = validator.validate(m) {
            bad.push(format!("{}: {issues:?}", m["id"]));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let count = |ty: &str| models.iter().filter(|m| m["type"] == ty).count();
    // The published 38 + 21 + 1, the 4 + 4 the provider documents since, plus the
    // mock-only deprecated model.
    assert_eq!(
        (count("image"), count("inpaint"), count("upscale")),
        (43, 25, 1)
    );
    // Each sizing mode is represented, and the image branch's required constraints are
    // present in all of them.
    let images: Vec<&Value> = models.iter().filter(|m| m["type"] == "image").collect();
    let mode = |m: &Value| {
        let c = &m["model_spec"]["constraints"];
        for key in ["promptCharacterLimit", "steps", "widthHeightDivisor"] {
            assert!(c.get(key).is_some(), "{} lacks {key}", m["id"]);
        }
        match (c.get("aspectRatios"), c.get("resolutions")) {
            (None, _) => "pixels",
            (Some(_), None) => "aspect_ratio",
            (Some(_), Some(_)) => "aspect_ratio+resolution",
        }
    };
    let modes: std::collections::BTreeSet<&str> = images.iter().map(|m| mode(m)).collect();
    assert_eq!(
        modes.into_iter().collect::<Vec<_>>(),
        ["aspect_ratio", "aspect_ratio+resolution", "pixels"]
    );
    // The provider's own example model and those our examples and docs use.
    for id in [
        "grok-imagine-image",
        "z-image-turbo",
        "flux-2-max",
        "nano-banana-pro",
        "venice-sd35",
    ] {
        assert!(models.iter().any(|m| m["id"] == id), "{id} missing");
    }
}

/// `GET /models?type=all` of a mock with the default configuration.
async fn all_models() -> Value {
    // `reqwest::get` needs a crypto provider; another test may or may not have installed
    // one first (tests run in any order).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    reqwest::get(format!("{}/models?type=all", server.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `a` and `b` are the same JSON, numbers within a relative 1e-9 (the published
/// catalogue writes `0.028060000000000005` where ours writes `0.02806`).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_json(v, w))
        }
        _ => a == b,
    }
}

/// The refreshed catalogue keeps every image, edit and upscale model of the provider's
/// published catalogue with its facts: type, name, privacy, traits, `uncensored` and
/// the whole `pricing` object.
#[tokio::test]
async fn the_built_in_catalogue_keeps_every_model_of_the_published_one() {
    let Some(snapshot) = contract_tests::upstream_models_snapshot() else {
        eprintln!("SKIPPED: ../shared/upstream/venice-models-snapshot.json not found");
        return;
    };
    let list = all_models().await;
    let ours = list["data"].as_array().unwrap();
    let published: Vec<&Value> = snapshot
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| matches!(m["type"].as_str(), Some("image" | "inpaint" | "upscale")))
        .collect();
    assert_eq!(published.len(), 60);
    let mut bad = Vec::new();
    for p in published {
        let id = &p["id"];
        let Some(o) = ours.iter().find(|o| o["id"] == *id) else {
            bad.push(format!("{id}: missing"));
            continue;
        };
        let (ps, os) = (&p["model_spec"], &o["model_spec"]);
        if o["type"] != p["type"] {
            bad.push(format!("{id}: type {} vs {}", o["type"], p["type"]));
        }
        for key in ["name", "privacy", "traits", "pricing"] {
            if !same_json(&os[key], &ps[key]) {
                bad.push(format!("{id}: {key} {} vs {}", os[key], ps[key]));
            }
        }
        if os.get("uncensored") != ps.get("uncensored") {
            bad.push(format!("{id}: uncensored"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
