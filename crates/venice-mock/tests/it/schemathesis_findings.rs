//! Regressions of what `cargo xtask conformance --schemathesis` (the provider's spec
//! against the mock) found, one test each.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use common::{KEY, check, client, start};
use serde_json::{Value, json};

/// A POST without any body (no `Content-Type`) was a 415 naming a media type nobody
/// sent; a JSON server validates an empty object and names the missing fields.
#[tokio::test]
async fn a_missing_body_is_a_400_naming_the_required_fields() {
    let server = start().await;
    let r = check(
        "simpleGenerateImage",
        client()
            .post(format!("{}/images/generations", server.base_url()))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert!(
        !v["details"]["prompt"]["_errors"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{v}"
    );
    // A body of another media type is still a 415.
    let r = check(
        "simpleGenerateImage",
        client()
            .post(format!("{}/images/generations", server.base_url()))
            .bearer_auth(KEY)
            .header("content-type", "text/plain")
            .body("prompt=x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 415);
}

/// `POST /x402/top-up` ignored its body, so `\0` or `true` sent as JSON got the
/// discovery 402; the provider's optional body is a JSON object, and its 400 is the
/// closed x402 error shape (the first fix answered with a `code` field, which the
/// provider's schema forbids: also found by schemathesis).
#[tokio::test]
async fn the_top_up_body_must_be_a_json_object() {
    let server = start().await;
    let top_up = |body: &'static str| {
        client()
            .post(format!("{}/x402/top-up", server.base_url()))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for bad in ["\u{0}", "true", "[1]"] {
        let r = check("topUpX402Balance", top_up(bad).await.unwrap()).await;
        assert_eq!(r.status, 400, "{bad:?}");
        let v = r.json();
        let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["details", "error", "message"], "{v}");
        assert_eq!(v["error"], "INVALID_JSON");
    }
    // `{}` (what venice-py sends) and no body at all are the discovery 402.
    for ok in ["{}", ""] {
        let r = check("topUpX402Balance", top_up(ok).await.unwrap()).await;
        assert_eq!(r.status, 402, "{ok:?}");
    }
}

/// The provider marks OpenAI-compatible fields `nullable` beside an `enum`; its server
/// accepts null there (OpenAPI 3.0.3 readers such as schemathesis expect a 400): the
/// mock accepts it like the provider.
#[tokio::test]
async fn null_on_a_nullable_openai_field_is_accepted() {
    let server = start().await;
    let body = json!({"model": "z-image-turbo", "prompt": "p", "size": "256x256", "style": null, "quality": null,
                      "background": null, "moderation": null, "n": null});
    let r = check(
        "simpleGenerateImage",
        common::post(&server, "/images/generations", &body).await,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v: Value = r.json();
    assert!(v["data"][0]["b64_json"].is_string());
}
