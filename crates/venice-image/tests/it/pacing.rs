//! Pacing inside the client (`ClientBuilder::pacing`) and the account operations, against
//! the mock's per-model limits: a service gets pacing without the CLI.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use venice_image::pacing::Pacer;
use venice_image::{
    Auth, AuthContext, AuthError, Client, Error, GenerateRequest, RequestAuth, RetryPolicy, Scheme,
    Size, async_trait,
};
use venice_mock::{AccountConfig, DEFAULT_API_KEY, Fault, MockConfig, MockServer, ModelRateLimits};

use crate::common::mock_log;
use mock_log::generate_statuses;

/// A mock whose inference is limited to `requests` per `window` per model (windows
/// aligned to the Unix epoch); nothing else is limited.
async fn mock(requests: u32, window: Duration) -> MockServer {
    MockServer::start(MockConfig {
        rate_limit: None,
        api_key_balance: Some(3.5),
        account: AccountConfig {
            model_rate_limits: Some(ModelRateLimits::new(requests, window)),
            ..AccountConfig::default()
        },
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

fn client(server: &MockServer, pacer: Option<Pacer>, retry: RetryPolicy) -> Client {
    let mut b = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::api_key(DEFAULT_API_KEY))
        .retry(retry)
        .timeout(Duration::from_secs(10))
        .model_validation(false);
    if let Some(p) = pacer {
        b = b.pacing(p);
    }
    b.build().unwrap()
}

fn request(model: &str, job: usize) -> GenerateRequest {
    GenerateRequest::builder(model, format!("job {job}"))
        .size(Size::Pixels {
            width: 64,
            height: 64,
        })
        .seed(1)
        .build()
        .unwrap()
}

/// Sleep until just after the next multiple of `window` since the Unix epoch.
async fn align(window: Duration) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let left = window.as_millis() - now.as_millis() % window.as_millis();
    tokio::time::sleep(Duration::from_millis(left as u64 + 30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_sharing_a_pacer_get_no_429s_and_the_advertised_rate() {
    let window = Duration::from_secs(2);
    let server = mock(10, window).await;
    let pacer = Pacer::local();
    // Three "replicas" of a service: their own clients, one pacer, seeded from the
    // account's list. A 429 would surface (no retries) and fail the test.
    let replicas: Vec<Client> = (0..3)
        .map(|_| client(&server, Some(pacer.clone()), RetryPolicy::none()))
        .collect();
    let limits = replicas[0].account_limits().await.unwrap();
    assert_eq!(
        limits.model("venice-sd35").unwrap().requests_per_minute(),
        Some(10)
    );
    pacer.seed_account_limits(&limits).await;
    align(window).await;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for job in 0..40 {
        let c = replicas[job % 3].clone();
        // Two models, 20 jobs each: two windows' worth per model.
        let model = if job % 2 == 0 {
            "venice-sd35"
        } else {
            "z-image-turbo"
        };
        tasks.spawn(async move { c.generate(&request(model, job)).await.map(|_| ()) });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    let elapsed = start.elapsed();
    let statuses = generate_statuses(&server);
    assert_eq!(statuses.len(), 40, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // 20 per model at 10 per window: the second window's jobs start when it opens.
    assert!(
        elapsed >= window - Duration::from_millis(100),
        "{elapsed:?}"
    );
    assert!(
        elapsed < window * 2,
        "{elapsed:?} (slower than the advertised rate)"
    );
}

#[tokio::test]
async fn each_attempt_takes_a_slot_and_a_429_holds_every_start() {
    // A long window, and a start not near its end, so the two requests below share it.
    let window = Duration::from_secs(20);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    if window.as_millis() - now.as_millis() % window.as_millis() < 5_000 {
        align(window).await;
    }
    let server = mock(2, window).await;
    let pacer = Pacer::local();
    pacer.seed_limits("venice-sd35", Some(2), None).await;
    let retry = RetryPolicy::builder()
        .max_attempts(2)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_secs(2))
        .jitter(false)
        .retry_server_errors(false)
        .build();
    let c = client(&server, Some(pacer.clone()), retry);
    // A 503 then success: two attempts, two slots, both counted by the server.
    server.push_faults(vec![Fault::Status503]);
    c.generate(&request("venice-sd35", 0)).await.unwrap();
    assert_eq!(generate_statuses(&server), [503, 200]);
    let wait = pacer.try_acquire("venice-sd35").await.unwrap_err();
    assert!(wait > Duration::ZERO && wait <= window, "{wait:?}");
    // The catalogue is not paced.
    c.image_models().await.unwrap();

    // A 429 of another model holds that model's starts until the reset it names.
    let c = client(&server, Some(pacer.clone()), RetryPolicy::none());
    server.push_faults(vec![Fault::Status429]);
    let e = c.generate(&request("z-image-turbo", 1)).await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    let wait = pacer.try_acquire("z-image-turbo").await.unwrap_err();
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(2),
        "{wait:?}"
    );
}

struct FailingSigner;

#[async_trait]
impl RequestAuth for FailingSigner {
    fn scheme(&self) -> Scheme {
        Scheme::Bearer
    }

    async fn authorize(
        &self,
        _request: &mut reqwest::Request,
        _ctx: &AuthContext<'_>,
    ) -> Result<(), AuthError> {
        Err(AuthError::new("the signer is offline"))
    }
}

#[tokio::test]
async fn a_request_that_never_left_gives_its_slot_back() {
    let pacer = Pacer::local();
    pacer.seed_limits("venice-sd35", Some(1), None).await;
    let c = Client::builder()
        .base_url("http://127.0.0.1:9/api/v1")
        .auth(Auth::custom(Arc::new(FailingSigner)))
        .retry(RetryPolicy::none())
        .model_validation(false)
        .pacing(pacer.clone())
        .build()
        .unwrap();
    assert!(c.pacer().is_some_and(|p| !p.is_shared()));
    for _ in 0..3 {
        let e = c.generate(&request("venice-sd35", 0)).await.unwrap_err();
        assert!(matches!(e, Error::Auth(_)), "{e:?}");
    }
    // Signed nothing, sent nothing: the one slot is still free.
    let permit = pacer.try_acquire("venice-sd35").await.unwrap();
    permit.release().await;
    // Nobody listens on port 9: a refused connection never reached a server either.
    let c = Client::builder()
        .base_url("http://127.0.0.1:9/api/v1")
        .auth(Auth::api_key("k"))
        .retry(RetryPolicy::none())
        .model_validation(false)
        .pacing(pacer.clone())
        .build()
        .unwrap();
    let e = c.generate(&request("venice-sd35", 0)).await.unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert!(pacer.try_acquire("venice-sd35").await.is_ok());
}

#[tokio::test]
async fn account_operations_are_typed() {
    let server = mock(10, Duration::from_secs(60)).await;
    let c = client(&server, None, RetryPolicy::none());
    // The mock's default key is an INFERENCE key: the balance needs an ADMIN key.
    let e = c.account_balance().await.unwrap_err();
    assert!(e.is_admin_key_required(), "{e:?}");
    let c = venice_image::Client::builder()
        .base_url(server.base_url())
        .auth(venice_image::Auth::api_key(
            venice_mock::DEFAULT_ADMIN_API_KEY,
        ))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let balance = c.account_balance().await.unwrap();
    assert_eq!(balance.balances.usd, Some(3.5));
    assert_eq!(balance.balances.diem, None);
    assert!(balance.can_consume);
    assert_eq!(balance.consumption_currency.as_deref(), Some("USD"));
    assert_eq!(balance.spendable_usd(), Some(3.5));
    let limits = c.account_limits().await.unwrap();
    assert_eq!(limits.api_tier.id, "paid");
    assert!(limits.access_permitted && limits.api_tier.is_charged);
    assert_eq!(limits.balances.usd, Some(3.5));
    let sd = limits.model("venice-sd35").unwrap();
    assert_eq!(
        (sd.requests_per_minute(), sd.requests_per_day()),
        (Some(10), None)
    );
    // Serialised as the wire `data`, so tools read it with the generated type.
    let json = serde_json::to_value(&limits).unwrap();
    let back: venice_image::raw::types::ApiKeyRateLimits = serde_json::from_value(json).unwrap();
    assert_eq!(back, *limits);

    let wrong = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::api_key("wrong"))
        .build()
        .unwrap();
    let e = wrong.account_balance().await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e:?}");
    // No credentials: the provider's x402 discovery 402 (not a 401), typed as discovery.
    let anonymous = Client::builder()
        .base_url(server.base_url())
        .build()
        .unwrap();
    let e = anonymous.account_limits().await.unwrap_err();
    assert_eq!(e.status(), Some(402), "{e:?}");
    assert!(
        matches!(
            e,
            venice_image::Error::PaymentRequired {
                kind: venice_image::PaymentRequiredKind::Discovery,
                ..
            }
        ),
        "{e:?}"
    );
}
