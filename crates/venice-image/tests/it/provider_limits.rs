//! The provider's limits, survived by the client against the mock's default behaviour
//! (shortened where the provider waits 30 s): millisecond window resets, the overloaded
//! model's `Retry-After`, the error budget's lockout, five requests in flight per wallet.
#![cfg(feature = "wallet")]
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use venice_image::{
    Auth, Client, Error, ErrorCode, GenerateRequest, LockoutPolicy, RateLimitKind, RetryPolicy,
    Size,
};
use venice_mock::{
    AccountConfig, DEFAULT_API_KEY, ErrorBudgetConfig, Fault, FaultPlan, MockConfig, MockServer,
    ModelRateLimits,
};

use crate::common::mock_log;
use mock_log::generate_statuses;

/// Test vector 1 of x402-facts.md: a throwaway key.
const WALLET_KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const WALLET: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

fn request(prompt: &str) -> GenerateRequest {
    GenerateRequest::builder("venice-sd35", prompt)
        .size(Size::Pixels {
            width: 64,
            height: 64,
        })
        .build()
        .unwrap()
}

/// A request the server refuses with 400 (a style preset that is not a style name; a
/// quality for a model that takes none is ignored, as the provider ignores it).
fn refused(prompt: &str) -> GenerateRequest {
    GenerateRequest::builder("venice-sd35", prompt)
        .size(Size::Pixels {
            width: 64,
            height: 64,
        })
        .style_preset("No Such Style")
        .build()
        .unwrap()
}

fn client(server: &MockServer, retry: RetryPolicy) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .auth(Auth::api_key(DEFAULT_API_KEY))
        .retry(retry)
        .model_validation(false)
        .build()
        .unwrap()
}

/// The bug: a window's reset in Unix milliseconds read as seconds put the reset in the
/// year ~58,000, so the first model-window 429 failed at once (the wait exceeded
/// `max_delay`). Read as milliseconds, it is waited for and the request is served.
#[tokio::test]
async fn a_model_window_429_is_waited_for_until_its_millisecond_reset() {
    let window = Duration::from_secs(2);
    let server = MockServer::start(MockConfig {
        account: AccountConfig {
            model_rate_limits: Some(ModelRateLimits::new(2, window)),
            ..AccountConfig::default()
        },
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let c = client(&server, RetryPolicy::default());
    let start = Instant::now();
    for i in 0..3 {
        c.generate(&request(&format!("job {i}"))).await.unwrap();
    }
    let statuses = generate_statuses(&server);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3);
    // At most one 429 per window the run crossed, each retried after the reset.
    assert!(
        statuses.iter().filter(|s| **s == 429).count() <= 1,
        "{statuses:?}"
    );
    assert!(start.elapsed() < window * 2, "{:?}", start.elapsed());
    // The 429 itself is typed: the window, with the wait until its reset.
    let c = client(&server, RetryPolicy::none());
    let e = loop {
        match c.generate(&request("more")).await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    let Error::RateLimited {
        kind: RateLimitKind::ModelWindow,
        retry_after: Some(wait),
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(*wait <= window, "{wait:?}");
    let rl = e.api_error().unwrap().meta().rate_limit().unwrap();
    assert_eq!(rl.remaining(), Some(0));
}

#[tokio::test]
async fn an_overloaded_model_is_waited_for_as_long_as_the_server_asks() {
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
    let start = Instant::now();
    client(&server, RetryPolicy::default())
        .generate(&request("busy model"))
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(generate_statuses(&server), [429, 200]);
    // The provider's 30 s is within the default cap of 60 s.
    assert!(RetryPolicy::default().max_delay() >= Duration::from_secs(60));

    // Above the cap, the error says how long the server asked for, and the cause.
    server.push_faults(vec![Fault::Overloaded]);
    let short = RetryPolicy::builder()
        .max_delay(Duration::from_secs(1))
        .build();
    let e = client(&server, short)
        .generate(&request("busy again"))
        .await
        .unwrap_err();
    let Error::RateLimited {
        kind: RateLimitKind::Overloaded,
        retry_after,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(*retry_after, Some(Duration::from_secs(2)));
    let text = e.to_string();
    assert!(
        text.contains("the model is overloaded") && text.contains("asked to wait 2 s"),
        "{text}"
    );
}

/// A mock whose error budget is 3 failures per `window` (the provider's 50 per 30 s).
async fn small_budget(window: Duration) -> MockServer {
    MockServer::start(MockConfig {
        error_budget: Some(ErrorBudgetConfig {
            failures: 3,
            window,
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_lockout_is_its_own_error_and_is_not_sent_into_again() {
    let window = Duration::from_millis(1500);
    let server = small_budget(window).await;
    let once = client(&server, RetryPolicy::none());
    for i in 0..4 {
        let e = once
            .generate(&refused(&format!("bad {i}")))
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(400), "{e:?}");
        // Every credentialed answer tells the budget left.
        let budget = e.api_error().unwrap().meta().error_budget().unwrap();
        assert_eq!(budget.remaining(), Some(3u64.saturating_sub(i + 1)));
    }
    // Locked: the next request, however valid, is refused by the server...
    let e = once.generate(&request("good")).await.unwrap_err();
    let Error::ErrorBudgetExhausted(lockout) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(lockout.model(), Some("venice-sd35"));
    assert!(lockout.retry_after().unwrap() <= window);
    assert_eq!(lockout.api_error().unwrap().status(), 429);
    assert!(e.is_retryable() && !e.may_have_been_charged());
    assert!(
        !matches!(e, Error::RateLimited { .. }),
        "a lockout is not a rate limit"
    );
    let sent = generate_statuses(&server).len();
    // ...and the client sends nothing more into it: fail fast...
    let fast = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::api_key(DEFAULT_API_KEY))
        .retry(RetryPolicy::none())
        .model_validation(false)
        .on_lockout(LockoutPolicy::FailFast)
        .build()
        .unwrap();
    let e = fast.generate(&request("good")).await.unwrap_err();
    let Error::ErrorBudgetExhausted(lockout) = &e else {
        panic!("{e:?}")
    };
    assert!(lockout.api_error().is_none(), "{e}");
    assert!(e.to_string().contains("not sent"), "{e}");
    assert_eq!(generate_statuses(&server).len(), sent);
    // ...or wait for the lockout's end (the default), then send once.
    let start = Instant::now();
    once.generate(&request("good")).await.unwrap();
    assert!(start.elapsed() >= window / 2, "{:?}", start.elapsed());
    assert_eq!(generate_statuses(&server).len(), sent + 1);
    assert_eq!(server.limit_stats().lockouts, 1);
}

#[tokio::test]
async fn a_lockout_answer_is_retried_after_its_end_when_the_policy_allows() {
    let window = Duration::from_millis(1200);
    let server = small_budget(window).await;
    let c = client(&server, RetryPolicy::none());
    for i in 0..4 {
        c.generate(&refused(&format!("bad {i}"))).await.unwrap_err();
    }
    // Another client of the key did not see those failures: its request meets the
    // lockout, which the default policy waits out and retries.
    let other = client(&server, RetryPolicy::default());
    let start = Instant::now();
    other.generate(&request("good")).await.unwrap();
    assert!(start.elapsed() >= window / 2);
    let statuses = generate_statuses(&server);
    assert_eq!(&statuses[statuses.len() - 2..], [429, 200], "{statuses:?}");
}

fn wallet_client(server: &MockServer, slots: Option<usize>) -> Client {
    let mut b = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::evm_wallet(WALLET_KEY).unwrap())
        .model_validation(false);
    if let Some(n) = slots {
        b = b.max_wallet_in_flight(n);
    }
    b.build().unwrap()
}

fn wallet_mock(faults: Vec<Fault>, cap: Option<usize>) -> MockConfig {
    MockConfig {
        wallet_balances: [(WALLET.to_owned(), 100.0)].into(),
        wallet_max_in_flight: cap,
        faults: FaultPlan {
            queue: faults,
            ..FaultPlan::default()
        },
        ..MockConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_never_has_more_than_five_requests_in_flight() {
    let server = MockServer::start(wallet_mock(
        vec![Fault::Latency(Duration::from_millis(300)); 12],
        Some(5),
    ))
    .await
    .unwrap();
    let c = wallet_client(&server, None);
    assert_eq!(c.wallet_slots().unwrap().max_in_flight(), 5);
    let results = futures::future::join_all((0..12).map(|i| {
        let c = c.clone();
        async move { c.generate(&request(&format!("wallet {i}"))).await }
    }))
    .await;
    for r in results {
        r.unwrap();
    }
    let stats = server.limit_stats();
    println!(
        "wallet: 12 calls at once, in-flight maximum {}, X402_CONCURRENCY_LIMIT {}",
        stats.wallet_peak_in_flight, stats.concurrency_refusals
    );
    assert_eq!(stats.wallet_peak_in_flight, 5);
    assert_eq!(stats.concurrency_refusals, 0);
    assert_eq!(c.wallet_slots().unwrap().in_flight(), 0);
    // API-key clients have no wallet slots.
    assert!(
        client(&server, RetryPolicy::none())
            .wallet_slots()
            .is_none()
    );
}

/// Another program holds the wallet's slots: the server refuses with 429
/// `X402_CONCURRENCY_LIMIT`, which the client sends again after short waits (not a rate
/// limit, no attempt used) until it is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_wallet_is_waited_for_and_never_reported_as_a_rate_limit() {
    let server = MockServer::start(wallet_mock(
        vec![Fault::Latency(Duration::from_millis(400)); 6],
        Some(2),
    ))
    .await
    .unwrap();
    let c = wallet_client(&server, None);
    let results = futures::future::join_all((0..6).map(|i| {
        let c = c.clone();
        async move { c.generate(&request(&format!("busy {i}"))).await }
    }))
    .await;
    for r in results {
        r.unwrap();
    }
    let stats = server.limit_stats();
    assert!(stats.concurrency_refusals > 0, "{stats:?}");
    // With no time to wait, the refusal is the error: a busy wallet, not a rate limit.
    server.push_faults(vec![Fault::Latency(Duration::from_millis(500)); 2]);
    let impatient = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::evm_wallet(WALLET_KEY).unwrap())
        .model_validation(false)
        .retry(
            RetryPolicy::builder()
                .busy_wallet_wait(Duration::ZERO)
                .build(),
        )
        .build()
        .unwrap();
    let slow = {
        let c = c.clone();
        tokio::spawn(async move {
            futures::future::join(c.generate(&request("a")), c.generate(&request("b"))).await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let e = impatient.generate(&request("third")).await.unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Api {
                status: 429,
                code: ErrorCode::X402ConcurrencyLimit,
                ..
            }
        ),
        "{e:?}"
    );
    let (a, b) = slow.await.unwrap();
    a.unwrap();
    b.unwrap();
}

/// A slot is held for one exchange only: five requests refused with 402 do not keep the
/// wallet's slots while the client tops up and sends them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_waiting_on_a_top_up_hold_no_slot() {
    let mut config = wallet_mock(Vec::new(), Some(5));
    config.wallet_balances.insert(WALLET.to_owned(), 0.0);
    let server = MockServer::start(config).await.unwrap();
    let c = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::evm_wallet(WALLET_KEY).unwrap())
        .model_validation(false)
        .auto_top_up(venice_image::wallet::AutoTopUp {
            amount_usd: 5.0,
            max_total_usd: 50.0,
        })
        .build()
        .unwrap();
    let all = futures::future::join_all((0..8).map(|i| {
        let c = c.clone();
        async move { c.generate(&request(&format!("paid {i}"))).await }
    }));
    let results = tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("the wallet's slots deadlocked the top-up");
    for r in results {
        r.unwrap();
    }
    assert!(c.auto_top_up_spent_usd() >= 5.0);
    let stats = server.limit_stats();
    assert!(stats.wallet_peak_in_flight <= 5, "{stats:?}");
    assert_eq!(stats.concurrency_refusals, 0);
    assert_eq!(c.wallet_slots().unwrap().in_flight(), 0);
}
