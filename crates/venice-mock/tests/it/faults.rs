//! Every fault kind, observed by a plain reqwest client.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use venice_mock::{Fault, FaultMix, FaultPlan, MockConfig, MockServer};

fn body() -> serde_json::Value {
    json!({"model":"venice-sd35","prompt":"fault","width":64,"height":64,"seed":5})
}

#[tokio::test]
async fn status_faults() {
    let server = start().await;
    server.push_faults(vec![Fault::Status500, Fault::Status503, Fault::Status429]);
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body()).await,
    )
    .await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.json(),
        json!({"error":"Inference processing failed","code":"INFERENCE_FAILED"})
    );
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body()).await,
    )
    .await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["code"], "MODEL_AT_CAPACITY");
    assert_eq!(r.header("retry-after"), Some("1"));
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body()).await,
    )
    .await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    // Queue consumed: back to normal; free endpoints never consume faults.
    server.push_faults(vec![Fault::Status500]);
    let r = client()
        .get(format!("{}/models?type=image", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body()).await,
    )
    .await;
    assert_eq!(r.status, 500);
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body()).await,
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn latency_fault() {
    let server = start().await;
    server.push_faults(vec![Fault::Latency(Duration::from_millis(300))]);
    let t = Instant::now();
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body()).await,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn reset_connection_fault() {
    let server = start().await;
    server.push_faults(vec![Fault::ResetConnection]);
    let err = client()
        .post(format!("{}/image/generate", server.base_url()))
        .bearer_auth(KEY)
        .json(&body())
        .send()
        .await
        .unwrap_err();
    assert!(
        err.is_request() || err.is_connect() || err.to_string().contains("connection"),
        "{err:?}"
    );
    assert_eq!(server.requests().last().unwrap().status, 0);
    // The server keeps serving.
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &body()).await,
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn truncated_body_fault() {
    let server = start().await;
    server.push_faults(vec![Fault::TruncatedBody]);
    let r = post(&server, "/image/generate", &body()).await;
    assert_eq!(r.status(), 200);
    let declared = r.content_length().unwrap();
    assert!(declared > 0);
    assert!(
        r.bytes().await.is_err(),
        "a truncated body must fail to read"
    );
}

#[tokio::test]
async fn malformed_json_and_wrong_content_type() {
    let server = start().await;
    server.push_faults(vec![Fault::MalformedJson, Fault::WrongContentType]);
    let r = post(&server, "/image/generate", &body()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_err());
    assert!(venice_mock::spec::validate_response("generateImage", 200, &headers, &bytes).is_err());
    let r = post(&server, "/image/generate", &body()).await;
    assert_eq!(r.headers()["content-type"], "text/html");
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    assert!(venice_mock::spec::validate_response("generateImage", 200, &headers, &bytes).is_err());
}

#[tokio::test]
async fn seeded_mix_is_reproducible_and_configurable() {
    let mix = FaultMix {
        seed: 99,
        status500: 0.5,
        ..FaultMix::default()
    };
    let run = |server: MockServer| async move {
        let mut statuses = Vec::new();
        for _ in 0..8 {
            statuses.push(
                check(
                    "generateImage",
                    post(&server, "/image/generate", &body()).await,
                )
                .await
                .status,
            );
        }
        statuses
    };
    let config = MockConfig {
        faults: FaultPlan {
            mix: Some(mix.clone()),
            ..FaultPlan::default()
        },
        ..MockConfig::default()
    };
    let a = run(MockServer::start(config).await.unwrap()).await;
    let server = start().await;
    server.set_fault_rate(mix);
    let b = run(server).await;
    assert_eq!(a, b);
    assert!(a.contains(&500) && a.contains(&200), "{a:?}");
}

#[test]
fn config_round_trips_through_json() {
    let text = r#"{"api_keys":["k"],"rate_limit":{"requests":5,"window":1.5},
        "faults":{"queue":["Status500",{"Latency":20}],"retry_after":3}}"#;
    let config: MockConfig = serde_json::from_str(text).unwrap();
    assert_eq!(config.faults.retry_after, Duration::from_secs(3));
    let default: MockConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(default.faults.retry_after, Duration::from_secs(1));
    assert_eq!(
        config.rate_limit.unwrap().window,
        Duration::from_millis(1500)
    );
    assert_eq!(
        config.faults.queue[1],
        Fault::Latency(Duration::from_millis(20))
    );
    assert!(serde_json::to_string(&config).is_ok());
}
