//! The facade under the mock's fault modes: which failures are retried, how often, how
//! long it waits, and that a request that may have been charged is sent once unless the
//! policy opts in. Each test reads the mock's request log to count what reached the server.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use venice_image::{
    Auth, Client, Error, ErrorCode, GenerateRequest, RetryPolicy, RetryPolicyBuilder, Size,
};
use venice_mock::{DEFAULT_API_KEY, Fault, FaultMix, MockConfig, MockServer, RateLimitConfig};

/// A mock whose rate-limit window is 1 s, so a 429 fault says `Retry-After: 1`
/// (the 503 fault always says 1).
async fn mock() -> MockServer {
    MockServer::start(MockConfig {
        rate_limit: Some(RateLimitConfig {
            requests: 1_000_000,
            window: Duration::from_secs(1),
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

fn client(server: &MockServer, policy: RetryPolicy) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .auth(Auth::api_key(DEFAULT_API_KEY))
        .retry(policy)
        .timeout(Duration::from_secs(10))
        .model_validation(false)
        .build()
        .unwrap()
}

/// Fast backoff so only server hints cost real time.
fn policy() -> RetryPolicyBuilder {
    RetryPolicy::builder()
        .max_attempts(3)
        .base_delay(Duration::from_millis(20))
        .max_delay(Duration::from_secs(5))
        .jitter(false)
        .retry_server_errors(false)
}

fn request(prompt: &str) -> GenerateRequest {
    GenerateRequest::builder("venice-sd35", prompt)
        .size(Size::Pixels {
            width: 64,
            height: 64,
        })
        .seed(1)
        .build()
        .unwrap()
}

/// Statuses the mock answered to `POST /image/generate`, per prompt, in order
/// (0 = connection closed without an answer).
fn attempts(server: &MockServer) -> HashMap<String, Vec<u16>> {
    let mut map: HashMap<String, Vec<u16>> = HashMap::new();
    for r in server.requests() {
        if r.method == "POST" && r.path.ends_with("/image/generate") {
            let prompt = r
                .body
                .as_ref()
                .and_then(|b| b["prompt"].as_str())
                .unwrap_or_default()
                .to_owned();
            map.entry(prompt).or_default().push(r.status);
        }
    }
    map
}

/// Whether an answer means the request reached inference and may have been charged.
fn maybe_charged(status: u16) -> bool {
    !matches!(status, 429 | 503)
}

#[tokio::test]
async fn retryable_faults_are_retried_after_the_server_hint() {
    let server = mock().await;
    server.push_faults(vec![Fault::Status503, Fault::Status429]);
    let c = client(&server, policy().build());
    let t = Instant::now();
    let g = c.generate(&request("hint")).await.unwrap();
    let elapsed = t.elapsed();
    assert_eq!(g.images().len(), 1);
    assert_eq!(attempts(&server)["hint"], vec![503, 429, 200]);
    // Two waits of `Retry-After: 1`, not the 20 + 40 ms backoff of the policy.
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(4000), "{elapsed:?}");
}

#[tokio::test]
async fn retries_stop_at_max_attempts() {
    let server = mock().await;
    server.push_faults(vec![Fault::Status503; 4]);
    let c = client(&server, policy().max_attempts(2).build());
    let e = c.generate(&request("capped")).await.unwrap_err();
    assert_eq!(e.status(), Some(503), "{e}");
    assert_eq!(e.code(), Some(&ErrorCode::ModelAtCapacity));
    assert_eq!(attempts(&server)["capped"], vec![503, 503]);
    let none = client(&server, RetryPolicy::none());
    none.generate(&request("none")).await.unwrap_err();
    assert_eq!(attempts(&server)["none"], vec![503]);
}

#[tokio::test]
async fn a_hint_above_max_delay_is_not_waited_for() {
    // A 429 fault advising 60 s, above max_delay (5 s).
    let server = MockServer::start(MockConfig {
        faults: venice_mock::FaultPlan {
            retry_after: Duration::from_secs(60),
            ..venice_mock::FaultPlan::default()
        },
        ..MockConfig::default()
    })
    .await
    .unwrap();
    server.push_faults(vec![Fault::Status429]);
    let c = client(&server, policy().build());
    let t = Instant::now();
    let e = c.generate(&request("long wait")).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let Error::RateLimited { retry_after, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(
        retry_after.unwrap() > Duration::from_secs(5),
        "{retry_after:?}"
    );
    assert_eq!(attempts(&server)["long wait"], vec![429]);
}

#[tokio::test]
async fn possibly_charged_failures_are_sent_once_by_default() {
    let server = mock().await;
    let c = client(&server, policy().build());
    type Expect = fn(&Error) -> bool;
    let cases: [(Fault, Expect, u16); 5] = [
        (Fault::Status500, |e| e.status() == Some(500), 500),
        (
            Fault::ResetConnection,
            |e| matches!(e, Error::Transport(_)),
            0,
        ),
        (
            Fault::TruncatedBody,
            |e| matches!(e, Error::Transport(_) | Error::Decode { .. }),
            200,
        ),
        (
            Fault::MalformedJson,
            |e| matches!(e, Error::Decode { .. }),
            200,
        ),
        (
            Fault::WrongContentType,
            |e| matches!(e, Error::Decode { .. }),
            200,
        ),
    ];
    for (fault, expected, status) in cases {
        let prompt = format!("{fault:?}");
        server.push_faults(vec![fault]);
        let e = c.generate(&request(&prompt)).await.unwrap_err();
        assert!(expected(&e), "{prompt}: {e:?}");
        assert_eq!(attempts(&server)[&prompt], vec![status], "{prompt}");
    }
    // The client is still usable afterwards.
    c.generate(&request("after")).await.unwrap();
}

#[tokio::test]
async fn server_errors_are_retried_only_when_opted_in() {
    // The default 60 s window: the rate-limit reset must not count as a hint for a 500.
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let c = client(&server, policy().retry_server_errors(true).build());
    let t = Instant::now();
    server.push_faults(vec![Fault::Status500]);
    c.generate(&request("500 then ok")).await.unwrap();
    assert_eq!(attempts(&server)["500 then ok"], vec![500, 200]);
    server.push_faults(vec![Fault::ResetConnection]);
    c.generate(&request("reset then ok")).await.unwrap();
    assert_eq!(attempts(&server)["reset then ok"], vec![0, 200]);
    // Backoff of the policy (20 ms, no jitter), not the ~60 s window reset.
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // A 200 whose body broke was answered, hence charged: never re-sent.
    server.push_faults(vec![Fault::TruncatedBody]);
    c.generate(&request("truncated")).await.unwrap_err();
    assert_eq!(attempts(&server)["truncated"], vec![200]);
    server.push_faults(vec![Fault::MalformedJson]);
    c.generate(&request("malformed")).await.unwrap_err();
    assert_eq!(attempts(&server)["malformed"], vec![200]);
}

#[tokio::test]
async fn insufficient_balance_is_never_retried() {
    let server = MockServer::start(MockConfig {
        api_key_balance: Some(0.0),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let c = client(&server, policy().retry_server_errors(true).build());
    let e = c.generate(&request("broke")).await.unwrap_err();
    // The provider's API-key 402 has no `code`: typed as the account's balance.
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
    assert_eq!(attempts(&server)["broke"], vec![402]);
}

#[tokio::test]
async fn connection_failures_back_off_per_policy() {
    // A port with nothing listening: every attempt fails to connect (never sent).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let build = |p: RetryPolicy| {
        Client::builder()
            .base_url(format!("http://127.0.0.1:{port}/api/v1"))
            .auth(Auth::api_key(DEFAULT_API_KEY))
            .retry(p)
            .model_validation(false)
            .build()
            .unwrap()
    };
    let p = policy().base_delay(Duration::from_millis(150)).build();
    let t = Instant::now();
    let e = build(p.clone()).generate(&request("x")).await.unwrap_err();
    let elapsed = t.elapsed();
    assert!(matches!(&e, Error::Transport(t) if t.is_connect()), "{e:?}");
    // 3 attempts: waits of 150 ms then 300 ms (no jitter).
    assert!(elapsed >= Duration::from_millis(450), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    // Full jitter never waits longer than the backoff cap.
    let t = Instant::now();
    build(
        policy()
            .base_delay(Duration::from_millis(150))
            .jitter(true)
            .build(),
    )
    .generate(&request("x"))
    .await
    .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
}

/// Many calls under a seeded mix of every fault: each call is answered at most
/// `max_attempts` times, retries only follow 429/503, at most one answer may have been
/// charged and it is the last; success means exactly one charged answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_under_a_fault_mix_follows_the_policy() {
    let server = mock().await;
    server.set_fault_rate(FaultMix {
        seed: 0x5eed,
        status500: 0.06,
        status503: 0.08,
        status429: 0.08,
        overloaded: 0.0,
        latency: 0.10,
        latency_ms: 15,
        reset_connection: 0.05,
        truncated_body: 0.05,
        malformed_json: 0.05,
        wrong_content_type: 0.03,
    });
    let c = client(&server, policy().build());
    let n = 120;
    let results = futures::future::join_all((0..n).map(|i| {
        let c = c.clone();
        async move { (i, c.generate(&request(&format!("mix {i}"))).await) }
    }))
    .await;
    let log = attempts(&server);
    let (mut ok, mut failed) = (0, 0);
    for (i, result) in results {
        let seen = &log[&format!("mix {i}")];
        assert!(!seen.is_empty() && seen.len() <= 3, "call {i}: {seen:?}");
        let charged = seen.iter().filter(|s| maybe_charged(**s)).count();
        assert!(charged <= 1, "call {i} may be charged twice: {seen:?}");
        if charged == 1 {
            assert!(
                maybe_charged(*seen.last().unwrap()),
                "call {i} retried after a charged answer: {seen:?}"
            );
        }
        match result {
            Ok(g) => {
                ok += 1;
                assert_eq!(charged, 1, "call {i}: {seen:?}");
                assert_eq!(*seen.last().unwrap(), 200);
                assert_eq!(g.images().len(), 1);
            }
            Err(e) => {
                failed += 1;
                let last = *seen.last().unwrap();
                match last {
                    429 | 503 => {
                        assert!(e.is_retryable(), "call {i}: {e:?}");
                        assert_eq!(seen.len(), 3, "call {i} gave up early: {seen:?}");
                    }
                    500 => assert_eq!(e.status(), Some(500), "call {i}"),
                    0 => assert!(matches!(e, Error::Transport(_)), "call {i}: {e:?}"),
                    200 => assert!(
                        matches!(e, Error::Transport(_) | Error::Decode { .. }),
                        "call {i}: {e:?}"
                    ),
                    other => panic!("call {i}: unexpected status {other}"),
                }
            }
        }
    }
    assert_eq!(ok + failed, n);
    assert!(ok > n / 2 && failed > 0, "ok {ok}, failed {failed}");
}
