//! What each answer teaches the client's limits: the model window (to the [`Pacer`]), the
//! error budget (to [`crate::error_budget`]), and when a wallet's in-flight slot goes back
//! ([`SlotHeld`]).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures::Stream;
use reqwest::header::HeaderMap;

use crate::error::{Error, RateLimitKind};
use crate::error_budget::{self, Bucket, Outcome};
use crate::inflight::WalletSlot;
use crate::pacing::{Pacer, Permit};
use crate::rate_headers;

/// A served answer (2xx) of `bucket`: the pacer learns the model window's headers.
pub(crate) async fn served(bucket: Option<&Bucket>, permit: Option<Permit>, headers: &HeaderMap) {
    if let Some(bucket) = bucket {
        error_budget::observe(
            bucket,
            Outcome::Answered { failed: false },
            SystemTime::now(),
        );
    }
    if let Some(permit) = permit {
        let model = rate_headers::read(headers, SystemTime::now()).model;
        permit.observe(model.as_ref()).await;
    }
}

/// A failed attempt of `bucket`. The budget counts what the provider counts; the pacer
/// holds the model's budget after a model-window 429 (after learning the window from its
/// headers), gets back the slot of an attempt that never left or that a lockout or a busy
/// wallet refused (those never reach the model's limiter), and counts any other answer
/// (or a request lost on the way) as a used slot.
pub(crate) async fn refused(
    bucket: Option<&Bucket>,
    pacer: Option<&Pacer>,
    permit: Option<Permit>,
    err: &Error,
    never_sent: bool,
) {
    if let Some(bucket) = bucket
        && !never_sent
    {
        let outcome = match err {
            Error::ErrorBudgetExhausted(lockout) => Some(Outcome::LockedOut(
                lockout.retry_after().unwrap_or(error_budget::WINDOW),
            )),
            e if e.api_error().is_some() => Some(Outcome::Answered { failed: counts(e) }),
            _ => None,
        };
        if let Some(outcome) = outcome {
            error_budget::observe(bucket, outcome, SystemTime::now());
        }
    }
    let (Some(pacer), Some(permit)) = (pacer, permit) else {
        return;
    };
    if never_sent
        || matches!(err, Error::ErrorBudgetExhausted(_))
        || crate::retry::is_busy_wallet(err)
    {
        return permit.release().await;
    }
    let rate_limit = err.api_error().and_then(|api| api.meta().rate_limit());
    match err {
        Error::RateLimited {
            retry_after,
            kind: RateLimitKind::ModelWindow,
            ..
        } => {
            if let Some(rl) = rate_limit {
                pacer.observe(permit.model(), rl).await;
            }
            permit.rate_limited(*retry_after).await;
        }
        _ => permit.observe(rate_limit).await,
    }
}

/// Whether an answer counts against the provider's error budget: any 4xx but 429, except
/// what the provider refuses before it looks at the budget (no credentials at all, a
/// wrong `Content-Type` or a body that is not JSON, a JSON body over 35 MB).
pub(crate) fn counts(err: &Error) -> bool {
    let Some(api) = err.api_error() else {
        return false;
    };
    let status = api.status();
    if !(400..500).contains(&status) || status == 429 {
        return false;
    }
    // The answer to a request without credentials is the x402 discovery object itself.
    // (the insufficient-credit 402 carries it only in its `PAYMENT-REQUIRED` header).
    if let Error::PaymentRequired { error, .. } = err
        && error.x402_version.is_some()
    {
        return false;
    }
    let message = api.message();
    !(status == 400
        && (message.starts_with("Invalid JSON") || message.contains("'Content-Type' must be"))
        || status == 413 && message.starts_with("Request body exceeds"))
}

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send + Sync>>;

/// A response body that holds its exchange's wallet slot until it ends, fails or is
/// dropped: the server counts the request in flight until it has sent the answer.
pub(crate) struct SlotHeld {
    body: Body,
    slot: Option<WalletSlot>,
}

impl SlotHeld {
    pub(crate) fn new(body: Body, slot: WalletSlot) -> Self {
        Self {
            body,
            slot: Some(slot),
        }
    }
}

impl Stream for SlotHeld {
    type Item = reqwest::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.body.as_mut().poll_next(cx);
        if matches!(next, Poll::Ready(None | Some(Err(_)))) {
            self.slot = None;
        }
        next
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Error {
        crate::decode::error_from_parts(status, &HeaderMap::new(), body.as_bytes())
    }

    #[test]
    fn what_counts_against_the_error_budget() {
        for (status, body, expected) in [
            (400, r#"{"error": "Invalid request parameters"}"#, true),
            (401, r#"{"error": "Authentication failed"}"#, true),
            (
                402,
                r#"{"error": "Insufficient USD or Diem balance"}"#,
                true,
            ),
            (403, r#"{"error": "blocked in your region"}"#, true),
            (404, r#"{"error": "Specified model not found"}"#, true),
            (422, r#"{"error": "Content policy violation"}"#, true),
            // Refused before the budget is looked at.
            (400, r#"{"error": "Invalid JSON request"}"#, false),
            (
                400,
                r#"{"error": "'Content-Type' must be 'application/json'"}"#,
                false,
            ),
            (
                413,
                r#"{"error": "Request body exceeds the maximum allowed size."}"#,
                false,
            ),
            (
                402,
                r#"{"x402Version": 2, "error": "Authentication required", "accepts": []}"#,
                false,
            ),
            (429, r#"{"error": "Rate limit exceeded"}"#, false),
            (500, r#"{"error": "Inference failed"}"#, false),
            (503, r#"{"error": "at capacity"}"#, false),
        ] {
            assert_eq!(counts(&answer(status, body)), expected, "{status} {body}");
        }
    }
}
