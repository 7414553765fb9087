//! The provider's cap on requests in flight per wallet: [`WalletSlots`].
//!
//! The provider serves at most five requests signed by one wallet at a time, across every
//! process and machine that uses it; the sixth gets 429 `X402_CONCURRENCY_LIMIT`. A client
//! signing with a wallet takes one of its wallet's slots for each HTTP exchange it signs
//! (taken just before the signature, given back when the answer is read, or its body
//! stream dropped), and never holds one across a retry wait, a top-up or a balance read:
//! five requests waiting on 402s cannot block the payment that would unblock them.
//!
//! Slots live in this process ([`WalletSlots::new`]), or, when the client paces through
//! Redis ([`Pacer::with_redis`][crate::pacing::Pacer::with_redis]), in the same Redis,
//! shared by every process of the wallet: each slot is a lease that its holder renews
//! while its request runs (so a 300 s request keeps it) and that runs out within
//! [`RedisOptions::slot_lease`][crate::pacing::RedisOptions::slot_lease] when its holder
//! dies. While Redis is unreachable each process keeps to the cap on its own.
//!
//! ```
//! use venice_image::inflight::WalletSlots;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let slots = WalletSlots::new(5); // clones share the slots
//! let first = slots.acquire().await;
//! assert_eq!(slots.in_flight(), 1);
//! drop(first); // the exchange is over
//! assert_eq!(slots.in_flight(), 0);
//! # }
//! ```
#![cfg_attr(
    not(feature = "redis"),
    doc = "",
    doc = "[crate::pacing::Pacer::with_redis]: https://docs.rs/venice-image/latest/venice_image/pacing/struct.Pacer.html#method.with_redis",
    doc = "[crate::pacing::RedisOptions::slot_lease]: https://docs.rs/venice-image/latest/venice_image/pacing/struct.RedisOptions.html#method.slot_lease"
)]

#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The provider's cap: requests one wallet may have in flight.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 5;

/// The in-flight slots of one wallet. Cheap to clone (clones share the slots); share one
/// among every client of a wallet in a process
/// ([`ClientBuilder::wallet_slots`](crate::ClientBuilder::wallet_slots)).
#[derive(Clone)]
pub struct WalletSlots {
    inner: Arc<Inner>,
}

struct Inner {
    max: usize,
    /// This process's share: never more than `max` at once, Redis or not.
    local: Arc<Semaphore>,
    #[cfg(feature = "redis")]
    shared: Option<self::redis::SharedSlots>,
}

impl fmt::Debug for WalletSlots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WalletSlots")
            .field("max_in_flight", &self.inner.max)
            .field("in_flight", &self.in_flight())
            .field("shared", &self.is_shared())
            .finish()
    }
}

impl WalletSlots {
    /// `max_in_flight` slots (at least 1) in this process.
    pub fn new(max_in_flight: usize) -> WalletSlots {
        let max = max_in_flight.max(1);
        WalletSlots {
            inner: Arc::new(Inner {
                max,
                local: Arc::new(Semaphore::new(max)),
                #[cfg(feature = "redis")]
                shared: None,
            }),
        }
    }

    /// `max_in_flight` slots shared with every process of the wallet through the Redis
    /// `pacer` paces with (feature `redis`); in this process only when the pacer is local.
    /// The slots are named after the identity the pacer was made with (the wallet's
    /// address).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn shared(pacer: &crate::pacing::Pacer, max_in_flight: usize) -> WalletSlots {
        let max = max_in_flight.max(1);
        WalletSlots {
            inner: Arc::new(Inner {
                max,
                local: Arc::new(Semaphore::new(max)),
                shared: self::redis::SharedSlots::new(pacer),
            }),
        }
    }

    /// The most requests in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.inner.max
    }

    /// Slots this process holds now.
    pub fn in_flight(&self) -> usize {
        self.inner.max - self.inner.local.available_permits()
    }

    /// Whether the slots are shared through Redis (even while it is unreachable).
    pub fn is_shared(&self) -> bool {
        #[cfg(feature = "redis")]
        return self.inner.shared.is_some();
        #[cfg(not(feature = "redis"))]
        false
    }

    /// Wait for a slot and take it; it is given back when the returned value is dropped.
    pub async fn acquire(&self) -> WalletSlot {
        WalletSlot {
            _local: Arc::clone(&self.inner.local).acquire_owned().await.ok(),
            #[cfg(feature = "redis")]
            _shared: match &self.inner.shared {
                Some(shared) => shared.take(self.inner.max).await,
                None => None,
            },
        }
    }
}

/// One slot of a wallet, held for one HTTP exchange; given back when dropped.
#[must_use = "the slot is given back when dropped"]
pub struct WalletSlot {
    _local: Option<OwnedSemaphorePermit>,
    #[cfg(feature = "redis")]
    _shared: Option<self::redis::Lease>,
}

impl fmt::Debug for WalletSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WalletSlot").finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_sixth_waits_for_one_of_five_to_finish() {
        let slots = WalletSlots::new(5);
        let held: Vec<WalletSlot> =
            futures::future::join_all((0..5).map(|_| slots.acquire())).await;
        assert_eq!(slots.in_flight(), 5);
        let sixth = tokio::time::timeout(Duration::from_millis(50), slots.acquire()).await;
        assert!(sixth.is_err(), "a sixth slot was handed out");
        drop(held);
        let _sixth = slots.acquire().await;
        assert_eq!(slots.in_flight(), 1);
        assert_eq!(WalletSlots::new(0).max_in_flight(), 1);
    }
}
