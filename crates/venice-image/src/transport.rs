//! The transport under every operation: a generated client per call (with the call's
//! uploads and an auth wrapper that keeps the typed cause of a failed signature) and
//! the one retry loop, which rebuilds and re-sends the request through the generated
//! builder on every attempt so that credentials are signed afresh each time, and, with a
//! [`Pacer`], waits for a rate-limit slot before each attempt (the server counts every
//! attempt) and reports the answer to it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::header::HeaderMap;
use venice_openapi::{
    AuthContext, AuthError, ClientState, RequestAuth, ResponseValue, Scheme, Uploads,
};

use crate::decode::{self, RawError};
use crate::error::{Error, Result};
use crate::meta::{RateLimit, ResponseMeta, balance_remaining};
use crate::pacing::{Pacer, Permit};
use crate::retry::{self, RetryPolicy};

/// What every call shares: the HTTP client, base URL, credentials and policies.
pub(crate) struct Transport {
    base_url: String,
    http: reqwest::Client,
    state: ClientState,
    raw: venice_openapi::Client,
    retry: RetryPolicy,
    /// The credentials are a value that may be sent once (a static SIWX header).
    single_use_auth: bool,
    /// Last `X-Balance-Remaining` seen (USD).
    last_balance: Mutex<Option<f64>>,
    /// Paces the calls that name a rate-limit budget.
    pacer: Option<Pacer>,
}

/// One call: the generated client it sends through.
pub(crate) struct Call {
    raw: venice_openapi::Client,
    auth: Option<Arc<Recording>>,
    /// The budget (model) each attempt takes a slot of, when the client paces.
    pace: Option<String>,
}

impl Call {
    /// The generated client of this call.
    pub(crate) fn raw(&self) -> &venice_openapi::Client {
        &self.raw
    }

    /// Take a slot of `model`'s rate-limit budget before each attempt (when the client
    /// has a [`Pacer`]).
    pub(crate) fn paced(mut self, model: impl Into<String>) -> Call {
        self.pace = Some(model.into());
        self
    }
}

/// Wraps the client's credentials for one call: keeps the typed cause of a failure
/// (the generated hooks can only pass on a message) and whether it signed anything.
struct Recording {
    inner: Arc<dyn RequestAuth>,
    failure: Mutex<Option<AuthError>>,
    used: AtomicBool,
}

#[venice_openapi::async_trait]
impl RequestAuth for Recording {
    fn scheme(&self) -> Scheme {
        self.inner.scheme()
    }

    async fn authorize(
        &self,
        request: &mut reqwest::Request,
        ctx: &AuthContext<'_>,
    ) -> std::result::Result<(), AuthError> {
        self.used.store(true, Ordering::Relaxed);
        match self.inner.authorize(request, ctx).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let message = e.to_string();
                if let Ok(mut slot) = self.failure.lock() {
                    *slot = Some(e);
                }
                Err(AuthError::new(message))
            }
        }
    }
}

impl Transport {
    pub(crate) fn new(
        base_url: String,
        http: reqwest::Client,
        state: ClientState,
        retry: RetryPolicy,
        single_use_auth: bool,
        pacer: Option<Pacer>,
    ) -> Self {
        let raw = venice_openapi::Client::new_with_client(&base_url, http.clone(), state.clone());
        Self {
            base_url,
            http,
            state,
            raw,
            retry,
            single_use_auth,
            last_balance: Mutex::new(None),
            pacer,
        }
    }

    /// The pacer of the client, if it paces.
    pub(crate) fn pacer(&self) -> Option<&Pacer> {
        self.pacer.as_ref()
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The HTTP client (timeouts, TLS) every request goes through.
    #[cfg(feature = "wallet")]
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The generated client with the client's credentials and response cap.
    pub(crate) fn raw(&self) -> &venice_openapi::Client {
        &self.raw
    }

    /// A generated client for one call, streaming `uploads` into its bodies.
    pub(crate) fn call(&self, uploads: Uploads) -> Call {
        let auth = self.state.credentials().map(|inner| {
            Arc::new(Recording {
                inner: inner.clone(),
                failure: Mutex::new(None),
                used: AtomicBool::new(false),
            })
        });
        let state = self
            .state
            .clone()
            .auth(auth.clone().map(|a| a as Arc<dyn RequestAuth>))
            .uploads(uploads);
        Call {
            raw: venice_openapi::Client::new_with_client(&self.base_url, self.http.clone(), state),
            auth,
            pace: None,
        }
    }

    /// Send through `call` with the client's retry policy: `send` builds and sends the
    /// request with the generated builder, once per attempt.
    pub(crate) async fn run<T, F, Fut>(&self, call: &Call, send: F) -> Result<ResponseValue<T>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<ResponseValue<T>, RawError>>,
    {
        self.run_with(&self.retry, call, send).await
    }

    /// Send through `call` once, whatever the policy (a payment is never repeated
    /// automatically).
    #[cfg(feature = "wallet")]
    pub(crate) async fn run_once<T, F, Fut>(&self, call: &Call, send: F) -> Result<ResponseValue<T>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<ResponseValue<T>, RawError>>,
    {
        self.run_with(&RetryPolicy::none(), call, send).await
    }

    async fn run_with<T, F, Fut>(
        &self,
        policy: &RetryPolicy,
        call: &Call,
        send: F,
    ) -> Result<ResponseValue<T>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<ResponseValue<T>, RawError>>,
    {
        let span = tracing::Span::current();
        let mut attempt = 1u32;
        loop {
            span.record("attempt", attempt);
            let permit = match (&self.pacer, &call.pace) {
                (Some(pacer), Some(model)) => Some(pacer.acquire(model).await),
                _ => None,
            };
            let err = match send().await {
                Ok(value) => {
                    span.record("status", value.status().as_u16());
                    self.note_balance(value.headers());
                    if let Some(permit) = permit {
                        permit.observe(rate_limit(value.headers()).as_ref()).await;
                    }
                    return Ok(value);
                }
                Err(RawError::Custom(message)) => {
                    // Signing failed: nothing went out.
                    if let Some(permit) = permit {
                        permit.release().await;
                    }
                    Error::Auth(
                        call.auth
                            .as_ref()
                            .and_then(|a| a.failure.lock().ok()?.take())
                            .unwrap_or_else(|| AuthError::new(message)),
                    )
                }
                Err(e) => {
                    let never_sent = matches!(&e, RawError::InvalidRequest(_))
                        || matches!(&e, RawError::CommunicationError(c) if c.is_connect());
                    let err = decode::from_raw(e).await;
                    if let (Some(pacer), Some(permit)) = (&self.pacer, permit) {
                        report(pacer, permit, &err, never_sent).await;
                    }
                    err
                }
            };
            if let Some(api) = err.api_error() {
                span.record("status", api.status());
                if let Some(balance) = api.meta().balance_remaining_usd() {
                    self.set_balance(balance);
                }
            }
            // A single-use credential that went out cannot be sent again.
            let spent = self.single_use_auth
                && call
                    .auth
                    .as_ref()
                    .is_some_and(|a| a.used.load(Ordering::Relaxed));
            if spent || !policy.should_retry(&err) {
                return Err(err);
            }
            let Some(delay) = policy.delay(attempt, retry::server_hint(&err), retry::random_unit())
            else {
                return Err(err);
            };
            tracing::info!(
                attempt,
                status = err.status(),
                error = %err,
                delay_ms = delay.as_millis() as u64,
                "retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    fn note_balance(&self, headers: &HeaderMap) {
        if let Some(balance) = balance_remaining(headers) {
            self.set_balance(balance);
        }
    }

    pub(crate) fn set_balance(&self, usd: f64) {
        if let Ok(mut last) = self.last_balance.lock() {
            *last = Some(usd);
        }
    }

    pub(crate) fn last_balance(&self) -> Option<f64> {
        self.last_balance.lock().ok().and_then(|b| *b)
    }
}

/// The rate-limit headers of an answer.
fn rate_limit(headers: &HeaderMap) -> Option<RateLimit> {
    ResponseMeta::from_headers(0, headers).rate_limit().cloned()
}

/// Tell the pacer how a failed attempt ended: a 429 holds the budget until the reset
/// (after learning the window from its headers), an attempt that never left gives its
/// slot back, any other answer (or a request lost on the way) uses it.
async fn report(pacer: &Pacer, permit: Permit, err: &Error, never_sent: bool) {
    if never_sent {
        return permit.release().await;
    }
    let rate_limit = err.api_error().and_then(|api| api.meta().rate_limit());
    match err {
        Error::RateLimited { retry_after, .. } => {
            if let Some(rl) = rate_limit {
                pacer.observe(permit.model(), rl).await;
            }
            permit.rate_limited(*retry_after).await;
        }
        _ => permit.observe(rate_limit).await,
    }
}
