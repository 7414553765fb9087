//! The mock bills as the provider bills (`venice-billing`, `venice-image-generate`,
//! `venice-image-edit` @ 73c0bf79): the $0.10 admission floor, one CHARGE row per
//! component under the request's id, the clamped last charge, REFUND rows, the ledger's
//! order and page size, the provider's default qualities, the upscale billed at its
//! effective scale, and the balance headers. Every answer is checked against our spec.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use common::*;
use serde_json::{Value, json};
use venice_mock::{MockConfig, MockServer};

async fn wallet_server(balance: f64) -> MockServer {
    let mut config = with_wallets(MockConfig::default());
    config.wallet_balances.insert(WALLET.to_owned(), balance);
    MockServer::start(config).await.unwrap()
}

async fn paid(server: &MockServer, op: &str, path: &str, body: &Value) -> Checked {
    check(
        op,
        client()
            .post(format!("{}{path}", server.base_url()))
            .header("SIGN-IN-WITH-X", WALLET)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn ledger(server: &MockServer, query: &str) -> Checked {
    check(
        "getX402Transactions",
        client()
            .get(format!(
                "{}/x402/transactions/{WALLET}{query}",
                server.base_url()
            ))
            .header("SIGN-IN-WITH-X", WALLET)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn rows(page: &Checked) -> Vec<Value> {
    page.json()["data"]["transactions"]
        .as_array()
        .unwrap()
        .clone()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn each_component_is_a_charge_row_under_the_request_id() {
    let server = wallet_server(5.0).await;
    // krea-v2-large $0.07 + enhance_prompt $0.04 + the Krea style-reference surcharge.
    let body = json!({"model": "krea-v2-large", "prompt": "a lighthouse", "enhance_prompt": true,
        "style_references": [{"image": input_png(256, 256)}]});
    let r = paid(&server, "generateImage", "/image/generate", &body).await;
    assert_eq!(r.status, 200);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let surcharge = server
        .catalog()
        .get("krea-v2-large")
        .unwrap()
        .style_reference_surcharge_usd
        .unwrap();
    let charges: Vec<f64> = rows(&ledger(&server, "").await)
        .iter()
        .filter(|t| t["type"] == "CHARGE")
        .inspect(|t| assert_eq!(t["requestId"], id.as_str(), "{t}"))
        .inspect(|t| assert_eq!(t["modelId"], "krea-v2-large"))
        .map(|t| -t["amount"].as_f64().unwrap())
        .collect();
    // Newest first: the surcharge, the rewrite, the model.
    assert_eq!(charges.len(), 3, "{charges:?}");
    assert!(close(charges[0], surcharge), "{charges:?}");
    assert!(close(charges[1], 0.04), "{charges:?}");
    assert!(close(charges[2], 0.07), "{charges:?}");
    let left: f64 = r.header("x-venice-balance-usd").unwrap().parse().unwrap();
    assert!(close(left, 5.0 - 0.11 - surcharge), "{left}");
    assert!(r.header("x-balance-remaining").is_none());
}

#[tokio::test]
async fn the_provider_default_quality_is_billed() {
    let server = wallet_server(5.0).await;
    let body = json!({"model": "gpt-image-2", "prompt": "x", "aspect_ratio": "1:1"});
    assert_eq!(
        paid(&server, "generateImage", "/image/generate", &body)
            .await
            .status,
        200
    );
    let t = &rows(&ledger(&server, "").await)[0];
    // gpt-image-2 at 1K, defaultQuality high: $0.26, as live (not medium's $0.07).
    assert!(close(-t["amount"].as_f64().unwrap(), 0.26), "{t}");
}

#[tokio::test]
async fn below_the_admission_floor_is_refused_and_the_last_charge_is_clamped() {
    let server = wallet_server(0.12).await;
    // nano-banana-pro 1K costs $0.18; $0.12 is above the $0.10 floor: served, and it
    // takes what remains. (Any tier above the balance shows the clamp; 1K renders a
    // sixteenth of 4K's pixels.)
    let body = json!({"model": "nano-banana-pro", "prompt": "x", "aspect_ratio": "1:1",
        "resolution": "1K"});
    let r = paid(&server, "generateImage", "/image/generate", &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-venice-balance-usd"), Some("0.000000"));
    let t = &rows(&ledger(&server, "").await)[0];
    assert!(close(t["amount"].as_f64().unwrap(), -0.12), "{t}");
    assert_eq!(t["balanceAfter"], 0.0);
    assert!(close(server.wallet_balance(WALLET), 0.0));
    // Now below the floor: the wallet 402, even for a $0.01 image.
    let cheap = json!({"model": "venice-sd35", "prompt": "x", "width": 256, "height": 256});
    let r = paid(&server, "generateImage", "/image/generate", &cheap).await;
    assert_eq!(r.status, 402);
    assert_eq!(r.json()["code"], "PAYMENT_REQUIRED");
    assert_eq!(r.json()["minimumBalanceUsd"], 0.1);
}

#[tokio::test]
async fn a_failed_charged_request_is_refunded_in_one_row() {
    let server = wallet_server(1.0).await;
    let body =
        json!({"model": "qwen-image", "prompt": "failing-inference", "enhance_prompt": true});
    let r = paid(&server, "generateImage", "/image/generate", &body).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["code"], "INFERENCE_FAILED");
    let all = rows(&ledger(&server, "").await);
    let kinds: Vec<&str> = all.iter().map(|t| t["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["REFUND", "CHARGE", "CHARGE"]);
    let id = &all[0]["requestId"];
    assert!(all.iter().all(|t| &t["requestId"] == id));
    assert!(close(all[0]["amount"].as_f64().unwrap(), 0.03 + 0.04));
    assert!(close(server.wallet_balance(WALLET), 1.0));
}

#[tokio::test]
async fn an_upscale_is_billed_at_the_scale_the_output_cap_leaves() {
    let server = wallet_server(5.0).await;
    let prices = server
        .catalog()
        .get("upscaler")
        .unwrap()
        .pricing
        .upscale
        .unwrap();
    // 2048x2048 (4.2 MP) at 4x would be 67 MP: clamped to 2x (16.8 MP), billed as 2x.
    let big = json!({"image": input_png(2048, 2048), "scale": 4});
    assert_eq!(
        paid(&server, "upscaleImage", "/image/upscale", &big)
            .await
            .status,
        200
    );
    let small = json!({"image": input_png(256, 256), "scale": 4});
    assert_eq!(
        paid(&server, "upscaleImage", "/image/upscale", &small)
            .await
            .status,
        200
    );
    let all = rows(&ledger(&server, "").await);
    assert!(close(-all[0]["amount"].as_f64().unwrap(), prices.x4.usd));
    assert!(close(-all[1]["amount"].as_f64().unwrap(), prices.x2.usd));
}

#[tokio::test]
async fn a_single_image_edit_pays_its_image_when_none_is_included() {
    let server = wallet_server(5.0).await;
    let model = server.catalog().get("qwen-image-3-edit").unwrap().clone();
    let extra = model.pricing.input_images.unwrap();
    assert_eq!(extra.included, 0);
    let body = json!({"model": model.id, "prompt": "x", "image": input_png(256, 256)});
    assert_eq!(
        paid(&server, "editImage", "/image/edit", &body)
            .await
            .status,
        200
    );
    let charges: Vec<f64> = rows(&ledger(&server, "").await)
        .iter()
        .map(|t| -t["amount"].as_f64().unwrap())
        .collect();
    assert_eq!(charges.len(), 2, "{charges:?}");
    assert!(close(charges[0], extra.additional.usd), "{charges:?}");
    assert!(
        close(charges[1], model.price_usd(None, None)),
        "{charges:?}"
    );
}

#[tokio::test]
async fn the_ledger_is_newest_first_and_pages_1_to_100() {
    let server = wallet_server(5.0).await;
    let body = json!({"model": "venice-sd35", "prompt": "x", "width": 256, "height": 256});
    for _ in 0..3 {
        paid(&server, "generateImage", "/image/generate", &body).await;
    }
    let all = rows(&ledger(&server, "").await);
    let after: Vec<f64> = all
        .iter()
        .map(|t| t["balanceAfter"].as_f64().unwrap())
        .collect();
    assert!(after.windows(2).all(|w| w[0] < w[1]), "{after:?}");
    assert_eq!(rows(&ledger(&server, "?limit=1").await).len(), 1);
    for bad in ["?limit=0", "?limit=101"] {
        assert_eq!(ledger(&server, bad).await.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn an_api_key_without_funds_gets_the_codeless_402() {
    let server = MockServer::start(MockConfig {
        api_key_balance: Some(0.05),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let body = json!({"model": "venice-sd35", "prompt": "x", "width": 256, "height": 256});
    let r = check(
        "generateImage",
        client()
            .post(format!("{}/image/generate", server.base_url()))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 402);
    assert_eq!(
        r.json(),
        json!({"error": "Insufficient USD or Diem balance to complete request"})
    );
}
