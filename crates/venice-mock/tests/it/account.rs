//! The account operations (`GET /billing/balance`, `GET /api_keys/rate_limits`) served
//! from the config, and the per-model limits they advertise, enforced.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::{Value, json};
use venice_mock::{AccountConfig, DEFAULT_ADMIN_API_KEY, MockConfig, MockServer, ModelRateLimits};

/// The balance needs an ADMIN key; [`KEY`] is an INFERENCE key.
const ADMIN: &str = DEFAULT_ADMIN_API_KEY;

async fn get(server: &MockServer, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut r = client().get(format!("{}{path}", server.base_url()));
    if let Some(key) = key {
        r = r.bearer_auth(key);
    }
    r.send().await.unwrap()
}

fn limits_of<'a>(v: &'a Value, model: &str) -> &'a Value {
    v["data"]["rateLimits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["apiModelId"] == model)
        .unwrap_or_else(|| panic!("{model} not listed"))
}

#[tokio::test]
async fn balance_and_limits_come_from_the_config() {
    let mut limits = ModelRateLimits::new(10, Duration::from_secs(2));
    limits.per_day = Some(500);
    limits.overrides.insert("qwen-image-2".to_owned(), 4);
    let server = MockServer::start(MockConfig {
        api_key_balance: Some(12.5),
        account: AccountConfig {
            tier: "paid".to_owned(),
            diem_balance: Some(0.02),
            diem_epoch_allocation: 1.0,
            key_expiration: None,
            model_rate_limits: Some(limits),
        },
        ..MockConfig::default()
    })
    .await
    .unwrap();

    let r = check(
        "getBillingBalance",
        get(&server, "/billing/balance", Some(ADMIN)).await,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"canConsume": true, "consumptionCurrency": "DIEM",
               "balances": {"diem": 0.02, "usd": 12.5, "bundledCredits": null,
                            "earnedCredits": null},
               "diemEpochAllocation": 1.0})
    );

    let r = check(
        "getApiKeyRateLimits",
        get(&server, "/api_keys/rate_limits", Some(KEY)).await,
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        v["data"]["apiTier"],
        json!({"id": "paid", "isCharged": true})
    );
    assert_eq!(
        v["data"]["balances"],
        json!({"USD": 12.5, "DIEM": 0.02, "BUNDLED_CREDITS": 0})
    );
    assert_eq!(v["data"]["accessPermitted"], true);
    assert_eq!(v["data"]["keyExpiration"], Value::Null);
    assert!(
        v["data"]["nextEpochBegins"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00.000Z")
    );
    assert_eq!(
        limits_of(&v, "venice-sd35")["rateLimits"],
        json!([{"amount": 10, "type": "RPM"}, {"amount": 500, "type": "RPD"}])
    );
    assert_eq!(
        limits_of(&v, "qwen-image-2")["rateLimits"][0],
        json!({"amount": 4, "type": "RPM"})
    );
    // Every model of the catalogue is listed (image, edit, upscale).
    for id in ["firered-image-edit", "upscaler"] {
        limits_of(&v, id);
    }

    // A $0.01 generation is paid from DIEM first (0.02 → 0.01), then USD stays.
    let body = json!({"model":"venice-sd35","prompt":"x","width":64,"height":64});
    assert_eq!(post(&server, "/image/generate", &body).await.status(), 200);
    let r = get(&server, "/billing/balance", Some(ADMIN)).await;
    let v: Value = r.json().await.unwrap();
    assert!(
        (v["balances"]["diem"].as_f64().unwrap() - 0.01).abs() < 1e-9,
        "{v}"
    );
    assert_eq!(v["balances"]["usd"], 12.5);
}

#[tokio::test]
async fn account_operations_take_only_an_api_key() {
    let server = MockServer::start(with_wallets(MockConfig::default()))
        .await
        .unwrap();
    for (id, path) in [
        ("getBillingBalance", "/billing/balance"),
        ("getApiKeyRateLimits", "/api_keys/rate_limits"),
    ] {
        // No credentials at all: the x402 discovery with `authOptions`, not a 401
        // (venice-billing, venice-api-keys), also on these Bearer-only routes.
        let r = check(id, get(&server, path, None).await).await;
        assert_eq!(r.status, 402, "{path} anonymous");
        assert!(
            r.json()["authOptions"]["apiKey"]["header"].is_string(),
            "{path}"
        );
        assert!(
            r.json()["accepts"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        );
        assert!(r.json().get("code").is_none(), "{path}");
        let r = check(id, get(&server, path, Some("wrong")).await).await;
        assert_eq!(r.status, 401, "{path} wrong key");
        // A wallet has no API-key account: its header is not a credential here.
        let r = client()
            .get(format!("{}{path}", server.base_url()))
            .header("SIGN-IN-WITH-X", WALLET)
            .send()
            .await
            .unwrap();
        assert_eq!(check(id, r).await.status, 401, "{path} wallet");
    }
    // Without per-model limits or a USD balance: the key-wide limit is advertised for
    // every model and the unlimited USD balance is null.
    let v = check(
        "getApiKeyRateLimits",
        get(&server, "/api_keys/rate_limits", Some(KEY)).await,
    )
    .await
    .json();
    assert_eq!(
        limits_of(&v, "venice-sd35")["rateLimits"],
        json!([{"amount": 10_000, "type": "RPM"}])
    );
    let v = check(
        "getBillingBalance",
        get(&server, "/billing/balance", Some(ADMIN)).await,
    )
    .await
    .json();
    assert_eq!(v["balances"]["usd"], Value::Null);
    assert_eq!(v["canConsume"], true);
}

/// Sleep until just after a multiple of `window` since the Unix epoch.
async fn align(window: Duration) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let left = window.as_millis() - now.as_millis() % window.as_millis();
    tokio::time::sleep(Duration::from_millis(left as u64 + 20)).await;
}

#[tokio::test]
async fn per_model_limits_are_enforced_per_key_and_model() {
    let window = Duration::from_secs(2);
    let server = MockServer::start(MockConfig {
        rate_limit: None,
        account: AccountConfig {
            model_rate_limits: Some(ModelRateLimits::new(3, window)),
            ..AccountConfig::default()
        },
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let gen_body = |model: &str| json!({"model": model, "prompt": "x", "width": 64, "height": 64});
    align(window).await;
    for left in ["2", "1", "0"] {
        let r = check(
            "generateImage",
            post(&server, "/image/generate", &gen_body("venice-sd35")).await,
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-limit-requests"), Some("3"));
        assert_eq!(r.header("x-ratelimit-remaining-requests"), Some(left));
    }
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &gen_body("venice-sd35")).await,
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["code"], "RATE_LIMIT_EXCEEDED");
    let reset: u64 = r
        .header("x-ratelimit-reset-requests")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(reset % 2, 0, "windows are aligned to the epoch");
    // Another model has its own window; the catalogue is not limited per model.
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &gen_body("z-image-turbo")).await,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-remaining-requests"), Some("2"));
    let r = check(
        "listModels",
        get(&server, "/models?type=image", Some(KEY)).await,
    )
    .await;
    assert_eq!(r.status, 200);
    // The OpenAI-compatible route counts under the model that serves it.
    let r = client()
        .post(format!("{}/images/generations", server.base_url()))
        .bearer_auth(KEY)
        .json(&json!({"model": "venice-sd35", "prompt": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(check("simpleGenerateImage", r).await.status, 429);
    // A new window opens with the full quota.
    align(window).await;
    let r = post(&server, "/image/generate", &gen_body("venice-sd35")).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_balance_needs_an_admin_key_and_the_rate_limits_any_key() {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    // The default key is an INFERENCE key, the kind an app uses.
    let r = check(
        "getBillingBalance",
        get(&server, "/billing/balance", Some(KEY)).await,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json(), json!({"error": "Admin API key required"}));
    let r = check(
        "getApiKeyRateLimits",
        get(&server, "/api_keys/rate_limits", Some(KEY)).await,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = check(
        "getBillingBalance",
        get(&server, "/billing/balance", Some(ADMIN)).await,
    )
    .await;
    assert_eq!(r.status, 200);
    // An ADMIN key also serves inference.
    let body = json!({"model":"venice-sd35","prompt":"x","width":64,"height":64});
    let r = client()
        .post(format!("{}/image/generate", server.base_url()))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
