//! Pacing: start requests only when the server's rate limit has a slot for them, instead
//! of earning 429s.
//!
//! A [`Pacer`] keeps one budget per model for one API key. Before each request take a
//! [`Permit`] with [`Pacer::acquire`] (it waits for a slot); when the answer arrives hand
//! its `x-ratelimit-*` headers ([`crate::ResponseMeta::rate_limit`]) to
//! [`Permit::observe`], or report a 429 with [`Permit::rate_limited`]. Limits known up
//! front (the account's list) go to [`Pacer::seed_limits`], so pacing starts right
//! instead of learning the limit from the first answers.
//!
//! The budget books every request it starts in the server's current window (identified by
//! its reset time), so answers arriving out of order cost no slot; it bounds what others
//! sharing the key use from the server's counts in settled answers; and after a 429 it
//! holds every start until the reset.
//!
//! By default the budgets live in this process ([`Pacer::local`]). With the `redis`
//! feature, [`Pacer::with_redis`] shares them between every process and machine using the
//! key, so together they stay under the limit; when Redis is unreachable each process
//! paces alone (with a warning) and goes back to Redis when it returns. `PACING.md` in
//! this crate explains what is shared, clock skew, failure modes and scaling.
//!
//! ```no_run
//! use venice_image::{Client, GenerateRequest, Error};
//! use venice_image::pacing::Pacer;
//!
//! # async fn run(client: Client, req: GenerateRequest) -> venice_image::Result<()> {
//! let pacer = Pacer::local(); // cheap to clone: share one per API key
//! let permit = pacer.acquire(req.model()).await;
//! match client.generate(&req).await {
//!     Ok(generation) => permit.observe(generation.meta().rate_limit()).await,
//!     Err(Error::RateLimited { retry_after, .. }) => permit.rate_limited(retry_after).await,
//!     Err(_) => permit.observe(None).await,
//! }
//! # Ok(())
//! # }
//! ```
#![cfg_attr(
    not(feature = "redis"),
    doc = "",
    doc = "[`Pacer::with_redis`]: https://docs.rs/venice-image/latest/venice_image/pacing/struct.Pacer.html#method.with_redis"
)]

mod budget;
mod local;
#[cfg(feature = "redis")]
pub(crate) mod redis;
#[cfg(all(test, feature = "redis"))]
pub(crate) mod redis_server;
#[cfg(test)]
mod scenarios;
mod timing;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::account::AccountLimits;
use crate::rate_headers::RateLimit;
use local::LocalBudgets;

#[cfg(feature = "redis")]
pub use self::redis::{RedisOptions, key_id};

/// Paces the requests of one API key, per model. Cheap to clone (clones share the
/// budgets); `Send + Sync`.
#[derive(Clone)]
pub struct Pacer {
    inner: Arc<Inner>,
}

struct Inner {
    local: LocalBudgets,
    #[cfg(feature = "redis")]
    shared: Option<self::redis::RedisBudgets>,
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pacer")
            .field("shared", &self.is_shared())
            .finish_non_exhaustive()
    }
}

/// Why a pacer could not be built (feature `redis`).
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PacingError {
    /// The Redis URL is not one the client understands (it is not repeated here: it may
    /// hold a password).
    #[error("invalid Redis URL for pacing")]
    InvalidRedisUrl(#[source] ::redis::RedisError),
}

impl Pacer {
    /// A pacer whose budgets live in this process: enough for one process per API key.
    pub fn local() -> Pacer {
        Pacer {
            inner: Arc::new(Inner {
                local: LocalBudgets::default(),
                #[cfg(feature = "redis")]
                shared: None,
            }),
        }
    }

    /// A pacer sharing the budgets of `api_key` with every process that uses the same key
    /// and Redis. The key only names the shared state through [`key_id`] (a hash); it is
    /// not kept. Nothing connects yet: an unreachable Redis means local pacing, not an
    /// error. Feature `redis`.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn with_redis(api_key: &str, options: RedisOptions) -> Result<Pacer, PacingError> {
        let shared = self::redis::RedisBudgets::new(api_key, options)
            .map_err(PacingError::InvalidRedisUrl)?;
        Ok(Pacer {
            inner: Arc::new(Inner {
                local: LocalBudgets::default(),
                shared: Some(shared),
            }),
        })
    }

    /// The Redis these budgets are shared through (the wallet's in-flight slots use it
    /// too).
    #[cfg(feature = "redis")]
    pub(crate) fn redis(&self) -> Option<&self::redis::RedisBudgets> {
        self.inner.shared.as_ref()
    }

    /// Whether budgets are shared through Redis (even while it is unreachable).
    pub fn is_shared(&self) -> bool {
        #[cfg(feature = "redis")]
        return self.inner.shared.is_some();
        #[cfg(not(feature = "redis"))]
        false
    }

    /// Wait until `model`'s budget has a slot and book it. Dropping the future never
    /// leaves a slot booked locally; a Redis booking under way at that moment costs one
    /// slot until the window after, at most.
    pub async fn acquire(&self, model: &str) -> Permit {
        loop {
            match self.try_acquire(model).await {
                Ok(permit) => return permit,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Book a slot of `model`'s budget now, or say how long to wait before asking again
    /// (at most two minutes: a long hold is asked again in steps). For callers that
    /// show the wait or give up instead of sleeping.
    pub async fn try_acquire(&self, model: &str) -> Result<Permit, Duration> {
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.inner.shared {
            let (per_window, per_day) = self.inner.local.limits(model);
            let op = self::redis::Op::Reserve {
                per_window,
                per_day,
            };
            match shared.call(model, op).await {
                Some(self::redis::Reply::Booked(seq)) => {
                    return Ok(self.permit(model, Booking::Shared(seq)));
                }
                Some(self::redis::Reply::Wait(wait)) => return Err(wait),
                Some(self::redis::Reply::Done) | None => {}
            }
        }
        let seq = self
            .inner
            .local
            .with(model, |b| b.reserve(SystemTime::now()))?;
        Ok(self.permit(model, Booking::Local(seq)))
    }

    /// Learn from the rate-limit headers of an answer to a request that did not go through
    /// a permit of this pacer (e.g. a catalogue call on the same key).
    pub async fn observe(&self, model: &str, rate_limit: &RateLimit) {
        self.answered(model, Booking::None, Some(rate_limit)).await;
    }

    /// A request of `model` that did not go through a permit was refused with a 429: hold
    /// every start until the window resets (or for `retry_after`, when the server said).
    pub async fn on_rate_limited(&self, model: &str, retry_after: Option<Duration>) {
        self.refused(model, Booking::None, retry_after).await;
    }

    /// Limits known before any answer, e.g. from the account's rate-limit list:
    /// `rpm` requests per window (the provider's window is a minute) and `rpd` per UTC day.
    /// The server's `x-ratelimit-limit-requests` replaces `rpm` once an answer carries it.
    /// The daily budget counts only the requests paced here (or, shared, by every process)
    /// since it was seeded.
    pub async fn seed_limits(&self, model: &str, rpm: Option<u64>, rpd: Option<u64>) {
        self.inner.local.with(model, |b| b.seed(rpm, rpd));
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.inner.shared {
            let op = self::redis::Op::Seed {
                per_window: rpm,
                per_day: rpd,
            };
            shared.call(model, op).await;
        }
    }

    /// Seed every model's limits from the account's list
    /// ([`Client::account_limits`](crate::Client::account_limits)), as
    /// [`seed_limits`](Self::seed_limits) would one by one. With Redis that is one call per
    /// model: a process that uses a few models seeds just those.
    pub async fn seed_account_limits(&self, limits: &AccountLimits) {
        for m in limits.models() {
            let (rpm, rpd) = (m.requests_per_minute(), m.requests_per_day());
            if rpm.is_some() || rpd.is_some() {
                self.seed_limits(m.model(), rpm, rpd).await;
            }
        }
    }

    fn permit(&self, model: &str, booking: Booking) -> Permit {
        Permit {
            pacer: self.clone(),
            model: model.to_owned(),
            booking,
        }
    }

    /// Every answer feeds both budgets: the one that booked the request with its
    /// sequence number, the other as a request paced elsewhere. So the local budget is
    /// current when Redis goes away, and Redis hears of requests paced locally meanwhile.
    async fn answered(&self, model: &str, booking: Booking, rate_limit: Option<&RateLimit>) {
        if booking.local().is_some() || rate_limit.is_some() {
            self.inner
                .local
                .with(model, |b| b.complete(booking.local(), rate_limit));
        }
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.inner.shared
            && (booking.shared().is_some() || rate_limit.is_some())
        {
            let op = self::redis::Op::Complete {
                seq: booking.shared(),
                rate_limit,
            };
            shared.call(model, op).await;
        }
    }

    async fn refused(&self, model: &str, booking: Booking, retry_after: Option<Duration>) {
        let now = SystemTime::now();
        self.inner
            .local
            .with(model, |b| b.rate_limited(booking.local(), retry_after, now));
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.inner.shared {
            let op = self::redis::Op::Hold {
                seq: booking.shared(),
                retry_after,
            };
            shared.call(model, op).await;
        }
    }

    async fn release(&self, model: &str, booking: Booking) {
        match booking {
            Booking::Local(seq) => self.inner.local.with(model, |b| b.release(seq)),
            #[cfg(feature = "redis")]
            Booking::Shared(seq) => {
                if let Some(shared) = &self.inner.shared {
                    shared.call(model, self::redis::Op::Release { seq }).await;
                }
            }
            Booking::None => {}
        }
    }
}

/// Where a permit's slot was booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Booking {
    /// In this process (alone, or while Redis is unreachable).
    Local(u64),
    /// In Redis.
    #[cfg(feature = "redis")]
    Shared(u64),
    /// Nowhere: the permit is spent, or the request was not paced here.
    None,
}

impl Booking {
    fn local(self) -> Option<u64> {
        match self {
            Booking::Local(seq) => Some(seq),
            _ => None,
        }
    }

    #[cfg(feature = "redis")]
    fn shared(self) -> Option<u64> {
        match self {
            Booking::Shared(seq) => Some(seq),
            _ => None,
        }
    }
}

/// One booked slot of a model's budget: send one request, then report its answer with
/// [`observe`](Permit::observe) or [`rate_limited`](Permit::rate_limited) (or give the slot
/// back with [`release`](Permit::release) if the request was never sent).
///
/// Dropped without a report, the slot stays booked for its window (the request may have
/// reached the server) and the answer counts as one without rate-limit headers.
#[must_use = "a permit books a slot; report the answer to it"]
pub struct Permit {
    pacer: Pacer,
    model: String,
    booking: Booking,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("model", &self.model)
            .field("booking", &self.booking)
            .finish()
    }
}

impl Permit {
    /// The model whose budget this permit is from.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The request got an answer (any status but 429): learn from its rate-limit headers
    /// (`None` when it had none, or failed without an answer).
    pub async fn observe(mut self, rate_limit: Option<&RateLimit>) {
        let booking = std::mem::replace(&mut self.booking, Booking::None);
        self.pacer.answered(&self.model, booking, rate_limit).await;
    }

    /// The request was refused with a 429: hold every start of this model until the window
    /// resets, or for `retry_after` when the server said.
    pub async fn rate_limited(mut self, retry_after: Option<Duration>) {
        let booking = std::mem::replace(&mut self.booking, Booking::None);
        self.pacer.refused(&self.model, booking, retry_after).await;
    }

    /// The request was never sent: give the slot back.
    pub async fn release(mut self) {
        let booking = std::mem::replace(&mut self.booking, Booking::None);
        self.pacer.release(&self.model, booking).await;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.booking, Booking::None) {
            Booking::None => {}
            Booking::Local(seq) => {
                (self.pacer.inner.local).with(&self.model, |b| b.complete(Some(seq), None))
            }
            #[cfg(feature = "redis")]
            booking @ Booking::Shared(_) => {
                // Tell Redis the request is over, so the booking is not carried into the
                // next window; without a runtime the next roll-over drops it anyway.
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    let (pacer, model) = (self.pacer.clone(), std::mem::take(&mut self.model));
                    handle.spawn(async move { pacer.answered(&model, booking, None).await });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
