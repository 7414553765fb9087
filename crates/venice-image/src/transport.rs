//! The transport under every operation: a generated client per call (with the call's
//! uploads and an auth wrapper that keeps the typed cause of a failed signature and, for a
//! wallet, takes one of its in-flight slots for the exchange it signs) and the one retry
//! loop, which rebuilds and re-sends the request through the generated builder on every
//! attempt so that credentials are signed afresh each time. Before each attempt it keeps
//! out of a known error-budget lockout and, with a [`Pacer`], waits for a rate-limit slot
//! (the server counts every attempt); each answer goes to the pacer and the error budget
//! ([`crate::bookkeeping`]).

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use reqwest::header::HeaderMap;
use venice_openapi::{
    AuthContext, AuthError, ByteStream, ClientState, RequestAuth, ResponseValue, Scheme, Uploads,
};

use crate::bookkeeping;
use crate::decode::{self, RawError};
use crate::error::{Error, Lockout, Result};
use crate::error_budget::{self, Bucket, LockoutPolicy};
use crate::inflight::{WalletSlot, WalletSlots};
use crate::meta::balance_remaining;
use crate::pacing::Pacer;
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
    /// Last `x-venice-balance-usd` seen.
    last_balance: Mutex<Option<f64>>,
    limits: Limits,
}

/// The client-side limits every call keeps to.
pub(crate) struct Limits {
    /// Paces the calls that name a rate-limit budget.
    pub pacer: Option<Pacer>,
    /// The error-budget bucket of the credentials for requests naming no model (`None`
    /// without credentials: nothing counts).
    pub bucket: Option<Bucket>,
    /// What to do before a request into a known lockout.
    pub on_lockout: LockoutPolicy,
    /// The wallet's in-flight slots, when the credentials sign with a wallet.
    pub wallet_slots: Option<WalletSlots>,
}

/// One call: the generated client it sends through.
pub(crate) struct Call {
    raw: venice_openapi::Client,
    auth: Option<Arc<Recording>>,
    /// The budget (model) each attempt takes a slot of, when the client paces.
    pace: Option<String>,
    /// The error-budget bucket of the call.
    bucket: Option<Bucket>,
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

    /// Count the call's failures in the error budget of `model` and the OpenAI `user`
    /// (by default: the credentials' bucket of requests naming no model, which multipart
    /// uploads and bodies without a model share).
    pub(crate) fn budgeted(mut self, model: Option<&str>, user: Option<&str>) -> Call {
        self.bucket = self.bucket.map(|b| b.narrowed(model, user));
        self
    }
}

/// Wraps the client's credentials for one call: keeps the typed cause of a failure
/// (the generated hooks can only pass on a message) and whether it signed anything, and
/// takes a wallet slot for each exchange it signs with the wallet.
struct Recording {
    inner: Arc<dyn RequestAuth>,
    failure: Mutex<Option<AuthError>>,
    used: AtomicBool,
    slots: Option<WalletSlots>,
    /// The slot of the exchange under way, until the transport takes it back.
    held: Mutex<Option<WalletSlot>>,
}

impl Recording {
    fn take_slot(&self) -> Option<WalletSlot> {
        self.held.lock().ok()?.take()
    }
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
        // The slot is taken before the signature, so a long wait does not age it.
        if self.inner.scheme() == Scheme::Siwx
            && let Some(slots) = &self.slots
        {
            let slot = slots.acquire().await;
            if let Ok(mut held) = self.held.lock() {
                *held = Some(slot);
            }
        }
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
        limits: Limits,
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
            limits,
        }
    }

    /// The pacer of the client, if it paces.
    pub(crate) fn pacer(&self) -> Option<&Pacer> {
        self.limits.pacer.as_ref()
    }

    /// The wallet's in-flight slots, when the client signs with a wallet.
    pub(crate) fn wallet_slots(&self) -> Option<&WalletSlots> {
        self.limits.wallet_slots.as_ref()
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
                slots: self.limits.wallet_slots.clone(),
                held: Mutex::new(None),
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
            bucket: self.limits.bucket.clone(),
        }
    }

    /// Send through `call` with the client's retry policy: `send` builds and sends the
    /// request with the generated builder, once per attempt.
    pub(crate) async fn run<T, F, Fut>(&self, call: &Call, send: F) -> Result<ResponseValue<T>>
    where
        T: 'static,
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
        T: 'static,
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
        T: 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<ResponseValue<T>, RawError>>,
    {
        let span = tracing::Span::current();
        let mut attempt = 1u32;
        let mut busy: Option<(Instant, u32)> = None;
        loop {
            span.record("attempt", attempt);
            self.keep_out_of_lockout(call).await?;
            let permit = match (&self.limits.pacer, &call.pace) {
                (Some(pacer), Some(model)) => Some(pacer.acquire(model).await),
                _ => None,
            };
            let sent = send().await;
            // The exchange is over once the answer is read, or its body stream dropped.
            let slot = call.auth.as_ref().and_then(|a| a.take_slot());
            let mut err = match sent {
                Ok(mut value) => {
                    span.record("status", value.status().as_u16());
                    self.note_balance(value.headers());
                    bookkeeping::served(call.bucket.as_ref(), permit, value.headers()).await;
                    if let Some(slot) = slot {
                        hold_until_read(&mut value, slot);
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
                    let mut err = decode::from_raw(e).await;
                    if let Error::PaymentRequired { kind, error } = &mut err {
                        *kind = error.kind_for(call.auth.as_ref().map(|a| a.scheme()));
                    }
                    bookkeeping::refused(
                        call.bucket.as_ref(),
                        self.limits.pacer.as_ref(),
                        permit,
                        &err,
                        never_sent,
                    )
                    .await;
                    err
                }
            };
            drop(slot);
            if let (Error::ErrorBudgetExhausted(lockout), Some(bucket)) = (&mut err, &call.bucket) {
                lockout.model = bucket.model().map(str::to_owned);
            }
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
            let busy_wallet = retry::is_busy_wallet(&err);
            let delay = if busy_wallet {
                // Another program holds the wallet's slots: a short wait, no attempt used.
                let (since, refusals) = busy.get_or_insert((Instant::now(), 0));
                *refusals += 1;
                if since.elapsed() >= policy.busy_wallet_wait() {
                    return Err(err);
                }
                policy.busy_delay(*refusals, retry::random_unit())
            } else {
                let Some(delay) =
                    policy.delay(attempt, retry::server_hint(&err), retry::random_unit())
                else {
                    return Err(err);
                };
                delay
            };
            tracing::info!(
                attempt,
                status = err.status(),
                error = %err,
                delay_ms = delay.as_millis() as u64,
                "retrying"
            );
            tokio::time::sleep(delay).await;
            if !busy_wallet {
                attempt += 1;
            }
        }
    }

    /// Before an attempt into a bucket the client knows is locked out: wait until the
    /// lockout ends, or fail fast, as the client's [`LockoutPolicy`] says.
    async fn keep_out_of_lockout(&self, call: &Call) -> Result<()> {
        let Some(bucket) = &call.bucket else {
            return Ok(());
        };
        let now = SystemTime::now();
        let Some(until) = error_budget::locked_until(bucket, now) else {
            return Ok(());
        };
        let wait = until.duration_since(now).unwrap_or_default();
        match self.limits.on_lockout {
            LockoutPolicy::FailFast => Err(Error::ErrorBudgetExhausted(Box::new(Lockout {
                model: bucket.model().map(str::to_owned),
                retry_after: Some(wait),
                answer: None,
            }))),
            LockoutPolicy::Wait => {
                tracing::info!(
                    reason = "error budget exhausted",
                    model = bucket.model().unwrap_or(""),
                    delay_ms = wait.as_millis() as u64,
                    "paused"
                );
                tokio::time::sleep(wait).await;
                Ok(())
            }
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

/// Keep the wallet slot of an answer whose body is streamed until the stream ends or is
/// dropped (other answers were read whole already: the slot goes back now).
fn hold_until_read<T: 'static>(value: &mut ResponseValue<T>, slot: WalletSlot) {
    let inner: &mut dyn Any = &mut **value;
    if let Some(stream) = inner.downcast_mut::<ByteStream>() {
        let body = std::mem::replace(stream, ByteStream::new(Box::pin(futures::stream::empty())));
        *stream = ByteStream::new(Box::pin(bookkeeping::SlotHeld::new(
            body.into_inner(),
            slot,
        )));
    }
}
