//! The provider's limits as the mock enforces them by default: the error budget (50
//! failures per 30 s per key and model, or per IP for wallets), five requests in flight
//! per wallet, the per-route limiters without rate-limit headers, the crypto RPC proxy's
//! own 429 (Unix seconds), the overloaded model's `Retry-After: 30`.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::{Value, json};
use venice_mock::{ErrorBudgetConfig, Fault, FaultPlan, MockConfig, MockServer};

/// A generation the schema refuses (width over 1280): a 400 that counts.
fn refused_generation(model: &str) -> Value {
    json!({"model": model, "prompt": "x", "width": 4000, "height": 64})
}

fn generation(model: &str) -> Value {
    json!({"model": model, "prompt": "x", "width": 64, "height": 64})
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

fn header_u128(r: &Checked, name: &str) -> u128 {
    r.header(name).unwrap().parse().unwrap()
}

#[tokio::test]
async fn more_than_fifty_failures_in_a_bucket_lock_it_with_the_providers_answer() {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    for i in 0..50 {
        let r = check(
            "generateImage",
            post(
                &server,
                "/image/generate",
                &refused_generation("venice-sd35"),
            )
            .await,
        )
        .await;
        assert_eq!(r.status, 400);
        // Every credentialed answer tells the budget left and its reset (Unix ms).
        assert_eq!(
            r.header("x-ratelimit-remaining"),
            Some(&*(49 - i).to_string())
        );
        let resets = header_u128(&r, "x-ratelimit-resets");
        assert!(resets > now_ms() && resets <= now_ms() + 30_000, "{resets}");
    }
    // What the provider refuses before the budget does not count: a wrong Content-Type,
    // a body that is not JSON, a request without credentials.
    let c = client();
    let url = format!("{}/image/generate", server.base_url());
    let r = c
        .post(&url)
        .bearer_auth(KEY)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let r = c
        .post(&url)
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .post(&url)
        .json(&refused_generation("venice-sd35"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert!(r.headers().get("x-ratelimit-resets").is_none());
    assert_eq!(server.limit_stats().budget_failures, 50);

    // The 51st failure locks the bucket: every request in it, valid or not, gets 429.
    let r = post(
        &server,
        "/image/generate",
        &refused_generation("venice-sd35"),
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &generation("venice-sd35")).await,
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json(),
        json!({"error": "Too many failed attempts (> 50) resulting in a non-success status code. Please wait 30 seconds and try again. See https://docs.venice.ai/api-reference/rate-limiting for more information."})
    );
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    let resets = header_u128(&r, "x-ratelimit-resets");
    assert!(resets > now_ms() + 29_000 && resets <= now_ms() + 30_000);
    assert_eq!(r.header("retry-after"), None);
    // A lockout is not a failure: it does not count.
    assert_eq!(server.limit_stats().budget_failures, 51);
    assert_eq!(server.limit_stats().lockouts, 1);
    // Another model of the key has its own budget.
    let r = post(&server, "/image/generate", &generation("z-image-turbo")).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_lockout_ends_with_its_window_and_wallets_share_the_hosts_bucket() {
    let window = Duration::from_millis(800);
    let server = MockServer::start(with_wallets(MockConfig {
        error_budget: Some(ErrorBudgetConfig {
            failures: 3,
            window,
        }),
        wallet_balances: [
            ("0x00000000000000000000000000000000000000a1".to_owned(), 5.0),
            ("0x00000000000000000000000000000000000000b2".to_owned(), 5.0),
        ]
        .into(),
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let c = client();
    let url = format!("{}/image/generate", server.base_url());
    let as_wallet = |wallet: &'static str, body: Value| {
        c.post(&url)
            .header("sign-in-with-x", wallet)
            .json(&body)
            .send()
    };
    // Four failures of one wallet lock the bucket of every wallet on this host.
    for _ in 0..4 {
        let r = as_wallet(
            "0x00000000000000000000000000000000000000a1",
            refused_generation("venice-sd35"),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 400);
    }
    let other = as_wallet(
        "0x00000000000000000000000000000000000000b2",
        generation("venice-sd35"),
    )
    .await
    .unwrap();
    assert_eq!(other.status(), 429);
    // An API key is its own bucket.
    let r = post(&server, "/image/generate", &generation("venice-sd35")).await;
    assert_eq!(r.status(), 200);
    // The lockout lasts one window.
    tokio::time::sleep(window + Duration::from_millis(100)).await;
    let r = as_wallet(
        "0x00000000000000000000000000000000000000b2",
        generation("venice-sd35"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "3");
}

#[tokio::test]
async fn the_openai_user_string_splits_the_budget_and_multipart_uploads_share_the_keys() {
    let server = MockServer::start(MockConfig {
        error_budget: Some(ErrorBudgetConfig {
            failures: 1,
            window: Duration::from_secs(30),
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let openai = |user: &str, size: &str| json!({"model": "venice-sd35", "prompt": "x", "size": size, "user": user});
    for _ in 0..2 {
        let r = post(&server, "/images/generations", &openai("alice", "13x13")).await;
        assert_eq!(r.status(), 400);
    }
    let alice = post(&server, "/images/generations", &openai("alice", "256x256")).await;
    assert_eq!(alice.status(), 429);
    let bob = post(&server, "/images/generations", &openai("bob", "256x256")).await;
    assert_eq!(bob.status(), 200);

    // Multipart uploads cannot name their model in time: two refused uploads lock the
    // key-wide bucket, whatever model they name; JSON requests naming a model do not
    // share it.
    let c = client();
    let upload = |model: &str| {
        let boundary = "limits-test-boundary";
        let mut body = Vec::new();
        for (name, value) in [("model", model), ("prompt", "x")] {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nnot an image\r\n--{boundary}--\r\n"
            )
            .as_bytes(),
        );
        c.post(format!("{}/image/edit", server.base_url()))
            .bearer_auth(KEY)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
    };
    for model in ["qwen-image", "flux-2-pro-edit"] {
        let r = upload(model).await.unwrap();
        assert!(
            r.status().is_client_error() && r.status() != 429,
            "{model}: {}",
            r.status()
        );
    }
    let r = upload("qwen-image").await.unwrap();
    assert_eq!(r.status(), 429);
    let r = post(&server, "/image/generate", &generation("venice-sd35")).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_wallet_gets_five_requests_in_flight_and_the_sixth_is_refused() {
    let wallet = "0x00000000000000000000000000000000000000c3";
    let server = MockServer::start(with_wallets(MockConfig {
        wallet_balances: [(wallet.to_owned(), 5.0)].into(),
        faults: FaultPlan {
            queue: vec![Fault::Latency(Duration::from_millis(600)); 5],
            ..FaultPlan::default()
        },
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let c = client();
    let url = format!("{}/image/generate", server.base_url());
    let send = || {
        c.post(&url)
            .header("sign-in-with-x", wallet)
            .json(&generation("venice-sd35"))
            .send()
    };
    let slow: Vec<_> = (0..5).map(|_| tokio::spawn(send())).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sixth = check_spec("generateImage", send().await.unwrap()).await;
    assert_eq!(sixth.status, 429);
    assert_eq!(sixth.json()["code"], "X402_CONCURRENCY_LIMIT");
    // Not a rate limit: no rate-limit header of any kind.
    for name in [
        "retry-after",
        "x-ratelimit-reset-requests",
        "x-ratelimit-remaining",
        "x-ratelimit-resets",
    ] {
        assert_eq!(sixth.header(name), None, "{name}");
    }
    for task in slow {
        assert_eq!(task.await.unwrap().unwrap().status(), 200);
    }
    let stats = server.limit_stats();
    assert_eq!(
        (stats.wallet_peak_in_flight, stats.concurrency_refusals),
        (6, 1)
    );
    // Done: the wallet has its five places back.
    assert_eq!(send().await.unwrap().status(), 200);
    // Refusals are not failures of the error budget.
    assert_eq!(stats.budget_failures, 0);
}

#[tokio::test]
async fn per_route_limiters_answer_429_without_rate_limit_headers() {
    let wallet = "0x00000000000000000000000000000000000000d4";
    let server = MockServer::start(with_wallets(MockConfig::default()))
        .await
        .unwrap();
    let c = client();
    let balance = format!("{}/x402/balance/{wallet}", server.base_url());
    for _ in 0..30 {
        let r = c
            .get(&balance)
            .header("sign-in-with-x", wallet)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = check_spec(
        "getX402Balance",
        c.get(&balance)
            .header("sign-in-with-x", wallet)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json(),
        json!({"error": "Rate limit exceeded. Please try again later."})
    );
    assert!(
        r.headers
            .keys()
            .all(|k| !k.as_str().starts_with("x-ratelimit") && k != "retry-after"),
        "{:?}",
        r.headers
    );
    // The limit is per wallet.
    let other = "0x00000000000000000000000000000000000000e5";
    let r = c
        .get(format!("{}/x402/balance/{other}", server.base_url()))
        .header("sign-in-with-x", other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The top-up's discovery: 10 per minute per IP.
    let top_up = format!("{}/x402/top-up", server.base_url());
    for _ in 0..10 {
        assert_eq!(c.post(&top_up).send().await.unwrap().status(), 402);
    }
    let r = check_spec("topUpX402Balance", c.post(&top_up).send().await.unwrap()).await;
    assert_eq!(r.status, 429);
    assert!(r.header("x-ratelimit-reset").is_none());
}

#[tokio::test]
async fn the_crypto_rpc_cap_answers_with_its_own_headers_in_unix_seconds() {
    let server = MockServer::start(MockConfig {
        route_limits: venice_mock::RouteLimits {
            crypto_rpc: Some(venice_mock::RateLimitConfig {
                requests: 2,
                window: Duration::from_secs(60),
            }),
            ..venice_mock::RouteLimits::default()
        },
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "getLatestBlockhash", "params": []});
    for _ in 0..2 {
        let r = post(&server, "/crypto/rpc/solana-mainnet", &call).await;
        assert_eq!(r.status(), 200);
    }
    let r = check_spec(
        "cryptoRpcProxy",
        post(&server, "/crypto/rpc/solana-mainnet", &call).await,
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"], "Rate limit exceeded");
    assert!(r.json()["customMessage"].is_string());
    assert_eq!(r.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    let reset: u128 = r.header("x-ratelimit-reset").unwrap().parse().unwrap();
    let now_s = now_ms() / 1000;
    assert!(
        reset > now_s && reset <= now_s + 61,
        "{reset} is Unix seconds"
    );
    // The error budget's own headers would reuse `x-ratelimit-remaining`: not on this
    // answer.
    assert_eq!(r.header("x-ratelimit-resets"), None);
}

#[tokio::test]
async fn an_overloaded_model_asks_for_thirty_seconds_unless_configured() {
    let server = start().await;
    server.push_faults(vec![Fault::Overloaded]);
    let r = check(
        "generateImage",
        post(&server, "/image/generate", &generation("venice-sd35")).await,
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("30"));
    assert_eq!(
        r.json()["error"],
        "The model is currently overloaded. Please try again later."
    );
    // The window was not used up: remaining is not 0.
    assert_ne!(r.header("x-ratelimit-remaining-requests"), Some("0"));

    let server = MockServer::start(MockConfig {
        faults: FaultPlan {
            queue: vec![Fault::Overloaded],
            overloaded_retry_after: Duration::from_secs(2),
            ..FaultPlan::default()
        },
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let r = post(&server, "/image/generate", &generation("venice-sd35")).await;
    assert_eq!(r.headers()["retry-after"], "2");
}
