//! Fault injection: a queue of faults consumed by the next paid requests, and an optional
//! seeded random mix, so failures are on demand and reproducible.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One injected failure. Faults apply to paid operations only (generate, OpenAI
/// generations, upscale, edit, multi-edit, background removal), after authentication
/// and body validation, before anything is charged.
///
/// Timing: every fault answers at once except [`Fault::Latency`];
/// [`Fault::Status429`] and [`Fault::Status503`] advise `Retry-After:`
/// [`FaultPlan::retry_after`] (1 s by default), so a "fails, then succeeds" test
/// waits about a second per fault; [`Fault::Overloaded`] advises the provider's 30 s
/// ([`FaultPlan::overloaded_retry_after`], shortened by tests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// 500 `{"error":"Inference processing failed","code":"INFERENCE_FAILED"}`.
    Status500,
    /// 503 `MODEL_AT_CAPACITY` with `Retry-After` = [`FaultPlan::retry_after`].
    Status503,
    /// 429 `RATE_LIMIT_EXCEEDED` with `Retry-After` = [`FaultPlan::retry_after`],
    /// `x-ratelimit-remaining-requests: 0` and `x-ratelimit-reset-requests` (Unix
    /// milliseconds) at the same instant (not the end of the real rate-limit window).
    Status429,
    /// The provider's overloaded model: 429 `{"error": "The model is currently
    /// overloaded. Please try again later."}` with `Retry-After` =
    /// [`FaultPlan::overloaded_retry_after`] (30 s by default) and no rate-limit header.
    Overloaded,
    /// Waits this long (JSON: milliseconds) and then answers normally.
    Latency(#[serde(with = "crate::serde_duration::millis")] Duration),
    /// Closes the TCP connection without any response.
    ResetConnection,
    /// Sends the real response with a `Content-Length` larger than the bytes sent (half
    /// the body), then closes the connection after 50 ms.
    TruncatedBody,
    /// 200 `application/json` whose body is not JSON.
    MalformedJson,
    /// 200 with `Content-Type: text/html`.
    WrongContentType,
}

/// One injected failure of `POST /x402/top-up` with a payment (queued in
/// [`FaultPlan::top_up`]), answered after the payment verified, as the provider's
/// settlement answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TopUpFault {
    /// 504 `SETTLEMENT_TIMEOUT`; `landed`: the transfer settled anyway and the wallet is
    /// credited (the provider's "the transfer may still land").
    SettlementTimeout {
        /// Whether the wallet is credited despite the 504.
        landed: bool,
    },
    /// 409 `PAYMENT_IN_PROGRESS` (a resubmission while settling); `landed` as above.
    PaymentInProgress {
        /// Whether the wallet is credited despite the 409.
        landed: bool,
    },
    /// 402 `SETTLEMENT_FAILED`: nothing credited.
    SettlementFailed,
}

/// Probabilities of each fault per paid request, drawn from a seeded generator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultMix {
    /// Seed of the generator: the same seed gives the same fault sequence.
    pub seed: u64,
    /// Probability of [`Fault::Status500`].
    pub status500: f64,
    /// Probability of [`Fault::Status503`].
    pub status503: f64,
    /// Probability of [`Fault::Status429`].
    pub status429: f64,
    /// Probability of [`Fault::Overloaded`].
    pub overloaded: f64,
    /// Probability of [`Fault::Latency`].
    pub latency: f64,
    /// Delay of a latency fault in milliseconds.
    pub latency_ms: u64,
    /// Probability of [`Fault::ResetConnection`].
    pub reset_connection: f64,
    /// Probability of [`Fault::TruncatedBody`].
    pub truncated_body: f64,
    /// Probability of [`Fault::MalformedJson`].
    pub malformed_json: f64,
    /// Probability of [`Fault::WrongContentType`].
    pub wrong_content_type: f64,
}

/// Faults configured up front.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultPlan {
    /// Faults for the next paid requests, in order.
    pub queue: Vec<Fault>,
    /// A random mix applied once the queue is empty.
    pub mix: Option<FaultMix>,
    /// Faults for the next paid top-ups (`POST /x402/top-up` with a verified
    /// payment), in order.
    pub top_up: Vec<TopUpFault>,
    /// `Retry-After` of [`Fault::Status429`] and [`Fault::Status503`] (JSON: seconds,
    /// rounded up to whole seconds on the wire; default 1).
    #[serde(with = "crate::serde_duration::secs")]
    pub retry_after: Duration,
    /// `Retry-After` of [`Fault::Overloaded`] (JSON: seconds, rounded up to whole
    /// seconds on the wire; default the provider's 30).
    #[serde(with = "crate::serde_duration::secs")]
    pub overloaded_retry_after: Duration,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            queue: Vec::new(),
            mix: None,
            top_up: Vec::new(),
            retry_after: Duration::from_secs(1),
            overloaded_retry_after: Duration::from_secs(30),
        }
    }
}

/// Runtime fault state.
#[derive(Debug, Default)]
pub struct FaultInjector {
    queue: Mutex<VecDeque<Fault>>,
    mix: Mutex<Option<(FaultMix, u64)>>,
    top_up: Mutex<VecDeque<TopUpFault>>,
    retry_after: Duration,
    overloaded_retry_after: Duration,
}

fn splitmix(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

impl FaultInjector {
    /// State from a plan.
    pub fn new(plan: &FaultPlan) -> Self {
        let this = Self {
            retry_after: plan.retry_after,
            overloaded_retry_after: plan.overloaded_retry_after,
            ..Self::default()
        };
        this.push(plan.queue.clone());
        this.set_mix(plan.mix.clone());
        this.push_top_up(plan.top_up.clone());
        this
    }

    /// `Retry-After` of the 429 and 503 faults.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// `Retry-After` of the overloaded-model fault.
    pub fn overloaded_retry_after(&self) -> Duration {
        self.overloaded_retry_after
    }

    /// Appends faults to the queue.
    pub fn push(&self, faults: Vec<Fault>) {
        if let Ok(mut q) = self.queue.lock() {
            q.extend(faults);
        }
    }

    /// Appends top-up faults to their queue.
    pub fn push_top_up(&self, faults: Vec<TopUpFault>) {
        if let Ok(mut q) = self.top_up.lock() {
            q.extend(faults);
        }
    }

    /// The fault for the next paid top-up, if any.
    pub fn next_top_up(&self) -> Option<TopUpFault> {
        self.top_up.lock().ok().and_then(|mut q| q.pop_front())
    }

    /// Replaces the random mix (`None` turns it off).
    pub fn set_mix(&self, mix: Option<FaultMix>) {
        if let Ok(mut m) = self.mix.lock() {
            *m = mix.map(|mix| {
                let seed = mix.seed;
                (mix, seed)
            });
        }
    }

    /// The fault for the next paid request, if any.
    pub fn next(&self) -> Option<Fault> {
        if let Some(f) = self.queue.lock().ok().and_then(|mut q| q.pop_front()) {
            return Some(f);
        }
        let mut guard = self.mix.lock().ok()?;
        let (mix, state) = guard.as_mut()?;
        let mut roll = splitmix(state);
        let table = [
            (mix.status500, Fault::Status500),
            (mix.status503, Fault::Status503),
            (mix.status429, Fault::Status429),
            (mix.overloaded, Fault::Overloaded),
            (
                mix.latency,
                Fault::Latency(Duration::from_millis(mix.latency_ms)),
            ),
            (mix.reset_connection, Fault::ResetConnection),
            (mix.truncated_body, Fault::TruncatedBody),
            (mix.malformed_json, Fault::MalformedJson),
            (mix.wrong_content_type, Fault::WrongContentType),
        ];
        for (p, fault) in table {
            if roll < p {
                return Some(fault);
            }
            roll -= p;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_is_reproducible() {
        let mix = FaultMix {
            seed: 7,
            status500: 0.3,
            status503: 0.3,
            ..FaultMix::default()
        };
        let run = || {
            let f = FaultInjector::new(&FaultPlan {
                mix: Some(mix.clone()),
                ..FaultPlan::default()
            });
            (0..50).map(|_| f.next()).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
        assert!(run().iter().any(Option::is_some));
    }
}
