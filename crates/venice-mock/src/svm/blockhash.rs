//! Blockhashes the mock has issued: fake (32 random bytes) but well-formed, and only
//! valid for a while, as on chain.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use alloy_primitives::B256;

/// Which blockhashes a payment may use. The default is [`RecentBlockhashes`]; plug
/// another in to accept fixed ones in tests.
pub trait BlockhashStore: Send + Sync {
    /// Whether `blockhash` was issued and is still valid at `now`.
    fn is_recent(&self, blockhash: &[u8; 32], now: SystemTime) -> bool;
}

/// A blockhash handed out by `getLatestBlockhash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedBlockhash {
    /// The hash.
    pub hash: [u8; 32],
    /// The slot it is said to come from (counts up from a fixed start).
    pub slot: u64,
    /// `lastValidBlockHeight`: 150 blocks on, as on mainnet.
    pub last_valid_block_height: u64,
}

impl IssuedBlockhash {
    /// The hash in base58, as RPC answers carry it.
    pub fn base58(&self) -> String {
        bs58::encode(self.hash).into_string()
    }
}

/// Slot of the first issued blockhash: a plausible mainnet height.
const FIRST_SLOT: u64 = 300_000_000;
/// Blocks a blockhash stays valid on mainnet.
const VALID_BLOCKS: u64 = 150;
/// Most blockhashes remembered; the oldest is forgotten past it.
const CAPACITY: usize = 4096;

/// The default [`BlockhashStore`]: every `issue` makes a new random blockhash, valid
/// for `ttl` (90 s by default, about 150 slots).
#[derive(Debug)]
pub struct RecentBlockhashes {
    ttl: Duration,
    inner: Mutex<Issued>,
}

#[derive(Debug, Default)]
struct Issued {
    next_slot: u64,
    hashes: VecDeque<([u8; 32], SystemTime)>,
}

impl Default for RecentBlockhashes {
    fn default() -> Self {
        Self::new(Duration::from_secs(90))
    }
}

impl RecentBlockhashes {
    /// A store whose blockhashes stay valid for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Issued {
                next_slot: FIRST_SLOT,
                hashes: VecDeque::new(),
            }),
        }
    }

    /// How long an issued blockhash stays valid.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issue a new random blockhash at `now`.
    pub fn issue(&self, now: SystemTime) -> Result<IssuedBlockhash, String> {
        let hash = B256::try_random()
            .map_err(|e| format!("no system randomness: {e}"))?
            .0;
        Ok(self.insert(hash, now))
    }

    /// Record `hash` as issued at `now` (a fixed blockhash for tests).
    pub fn insert(&self, hash: [u8; 32], now: SystemTime) -> IssuedBlockhash {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let ttl = self.ttl;
        while g.hashes.len() >= CAPACITY
            || g.hashes
                .front()
                .is_some_and(|(_, at)| expired(*at, now, ttl))
        {
            g.hashes.pop_front();
        }
        g.hashes.push_back((hash, now));
        let slot = g.next_slot;
        g.next_slot += 1;
        IssuedBlockhash {
            hash,
            slot,
            last_valid_block_height: slot + VALID_BLOCKS,
        }
    }
}

fn expired(issued: SystemTime, now: SystemTime, ttl: Duration) -> bool {
    now.duration_since(issued).is_ok_and(|age| age > ttl)
}

impl BlockhashStore for RecentBlockhashes {
    fn is_recent(&self, blockhash: &[u8; 32], now: SystemTime) -> bool {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.hashes
            .iter()
            .any(|(h, at)| h == blockhash && !expired(*at, now, self.ttl))
    }
}
