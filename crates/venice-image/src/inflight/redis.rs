//! Wallet slots shared through the pacer's Redis (feature `redis`): one sorted set per
//! wallet, `venice:{<key id>}:wallet-slots`, of leases (holder token → end of lease, on the
//! Redis server's clock), changed only by `slots.lua`. A holder renews its lease every
//! third of it while its request runs and removes it when done; a lease nobody renews
//! (its process died) is dropped by the next caller after it ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::Script;

use crate::pacing::Pacer;

/// The Lua side (see `slots.lua`).
const SCRIPT: &str = include_str!("slots.lua");
/// The key of the wallet's slots, under the pacer's namespace.
const KEY: &str = "wallet-slots";
/// How often a caller asks again while every slot is held.
const POLL: Duration = Duration::from_millis(25);

/// The slots of one wallet in Redis.
pub(crate) struct SharedSlots {
    inner: Arc<Shared>,
}

struct Shared {
    pacer: Pacer,
    script: Script,
    lease: Duration,
}

impl Shared {
    /// One script call: 1 done, 0 refused; `None` when Redis cannot be reached.
    async fn run(&self, op: &str, token: &str, max: usize) -> Option<i64> {
        let redis = self.pacer.redis()?;
        let lease_ms = u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX);
        let args = [
            op.to_owned(),
            token.to_owned(),
            max.to_string(),
            lease_ms.to_string(),
        ];
        redis.eval::<i64>(&self.script, &[KEY], &args).await
    }
}

/// A holder token unique across processes: process id, a counter, the time.
fn token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{:x}-{n:x}-{nanos:x}", std::process::id())
}

impl SharedSlots {
    /// The slots behind `pacer`'s Redis; `None` when it paces locally.
    pub(crate) fn new(pacer: &Pacer) -> Option<SharedSlots> {
        let lease = pacer.redis()?.options().lease();
        Some(SharedSlots {
            inner: Arc::new(Shared {
                pacer: pacer.clone(),
                script: Script::new(SCRIPT),
                lease,
            }),
        })
    }

    /// Wait until one of the `max` slots is free and lease it; `None` when Redis cannot
    /// be reached (the process keeps to the cap on its own meanwhile; the outage is
    /// logged by the pacer's connection).
    pub(crate) async fn take(&self, max: usize) -> Option<Lease> {
        let token = token();
        loop {
            match self.inner.run("take", &token, max).await? {
                1 => return Some(Lease::start(Arc::clone(&self.inner), token, max)),
                _ => {
                    let jitter = crate::retry::random_unit();
                    tokio::time::sleep(POLL.mul_f64(0.5 + jitter)).await;
                }
            }
        }
    }
}

/// A leased slot, renewed until dropped.
pub(crate) struct Lease {
    shared: Arc<Shared>,
    token: String,
    renewal: tokio::task::JoinHandle<()>,
}

impl Lease {
    fn start(shared: Arc<Shared>, token: String, max: usize) -> Lease {
        let renewal = {
            let (shared, token) = (Arc::clone(&shared), token.clone());
            tokio::spawn(async move {
                let every = shared.lease / 3;
                loop {
                    tokio::time::sleep(every).await;
                    if shared.run("renew", &token, max).await == Some(0)
                        && shared.run("take", &token, max).await == Some(0)
                    {
                        // The lease ran out (a stall longer than the lease) and the slot
                        // went to another holder: the request still runs, one over.
                        tracing::warn!(
                            "wallet slots: a lease ran out while its request was running; \
                             the wallet may have one request too many in flight"
                        );
                    }
                }
            })
        };
        Lease {
            shared,
            token,
            renewal,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
        // Give the slot back now; without a runtime the lease runs out on its own.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let (shared, token) = (Arc::clone(&self.shared), std::mem::take(&mut self.token));
            handle.spawn(async move {
                shared.run("give", &token, 0).await;
            });
        }
    }
}
