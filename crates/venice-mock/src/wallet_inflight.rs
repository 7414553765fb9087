//! The provider's cap on requests in flight per wallet: at most `limit` requests signed by
//! one wallet are served at once on the inference and RPC routes; one more is answered 429
//! `X402_CONCURRENCY_LIMIT` (no rate-limit header). The peak of requests that arrived
//! while others of the same wallet were in flight (refused ones included) is recorded, so
//! a test can read how many a client tried to run at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::StatusCode;

use crate::response::ApiError;

/// Requests in flight per wallet.
#[derive(Debug, Default)]
pub(crate) struct WalletInFlight {
    limit: Option<usize>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    peak: AtomicUsize,
    refused: AtomicU64,
}

/// A request of a wallet being served; the count drops when it is dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    counts: Arc<Mutex<HashMap<String, usize>>>,
    wallet: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock()
            && let Some(n) = counts.get_mut(&self.wallet)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.wallet);
            }
        }
    }
}

impl WalletInFlight {
    /// The cap (`None`: no cap; the peak is still recorded).
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// A request of `wallet` (its normalised address) arrives: in flight until the guard
    /// is dropped, or refused when the wallet already has `limit` requests in flight.
    pub(crate) fn enter(&self, wallet: &str) -> Result<InFlight, ApiError> {
        let wallet = wallet.to_owned();
        let limit = self.limit.unwrap_or(usize::MAX);
        let Ok(mut counts) = self.counts.lock() else {
            return Err(refusal(limit));
        };
        let n = counts.get(&wallet).copied().unwrap_or(0);
        self.peak.fetch_max(n + 1, Ordering::Relaxed);
        if n >= limit {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(refusal(limit));
        }
        counts.insert(wallet.clone(), n + 1);
        Ok(InFlight {
            counts: Arc::clone(&self.counts),
            wallet,
        })
    }

    /// The most requests of one wallet that were in flight at once, counting the
    /// refused one that arrived over the cap.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// The most requests one wallet has in flight now.
    pub(crate) fn now(&self) -> usize {
        self.counts
            .lock()
            .map(|c| c.values().copied().max().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Requests refused with `X402_CONCURRENCY_LIMIT`.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

fn refusal(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "Too many concurrent requests for this wallet: at most {limit} may be in flight at once. Wait for one to finish."
        ),
        Some("X402_CONCURRENCY_LIMIT"),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_request_over_the_cap_is_refused_and_counted_in_the_peak() {
        let w = WalletInFlight::new(Some(2));
        let a = w.enter("0xab").unwrap();
        let _b = w.enter("0xab").unwrap();
        let refused = w.enter("0xab").unwrap_err();
        assert_eq!(refused.0.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!((w.peak(), w.refused()), (3, 1));
        // Another wallet has its own count; a finished request frees its place.
        let _c = w.enter("0xcd").unwrap();
        drop(a);
        let _d = w.enter("0xab").unwrap();
        assert_eq!(w.refused(), 1);
    }
}
