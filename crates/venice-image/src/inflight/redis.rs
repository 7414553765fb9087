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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use crate::inflight::WalletSlots;
    use crate::pacing::redis_server::RedisServer;
    use crate::pacing::{Pacer, RedisOptions};

    const WALLET: &str = "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23";

    /// The slots of one "process": its own pacer, connection and local semaphore.
    fn process(server: &RedisServer, lease: Duration) -> WalletSlots {
        let options = RedisOptions::new(server.url()).slot_lease(lease);
        let pacer = Pacer::with_redis(WALLET, options).unwrap();
        let slots = WalletSlots::shared(&pacer, 5);
        assert!(slots.is_shared());
        slots
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs redis-server"]
    async fn three_processes_share_five_slots() {
        let server = RedisServer::start();
        let processes: Vec<WalletSlots> = (0..3)
            .map(|_| process(&server, Duration::from_secs(5)))
            .collect();
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..45 {
            let slots = processes[i % 3].clone();
            let (now, peak) = (Arc::clone(&now), Arc::clone(&peak));
            tasks.spawn(async move {
                let slot = slots.acquire().await;
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(15)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                drop(slot);
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs redis-server"]
    async fn a_dead_holders_slots_come_back_within_the_lease() {
        let server = RedisServer::start();
        // Long enough that a loaded CI machine's scheduling noise (a Redis connect, a
        // runtime start) stays well inside the margins below.
        let lease = Duration::from_millis(1500);
        // A "process" takes three slots and dies: no renewal, no release.
        let url = server.url();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let options = RedisOptions::new(url).slot_lease(lease);
                let slots = WalletSlots::shared(&Pacer::with_redis(WALLET, options).unwrap(), 5);
                for _ in 0..3 {
                    std::mem::forget(slots.acquire().await);
                }
            });
            rt.shutdown_background();
        })
        .join()
        .unwrap();
        let died = Instant::now();
        let survivor = process(&server, lease);
        let free: Vec<_> = futures::future::join_all((0..2).map(|_| survivor.acquire())).await;
        assert!(died.elapsed() < lease / 2, "the two free slots waited");
        let back: Vec<_> = futures::future::join_all((0..3).map(|_| survivor.acquire())).await;
        let waited = died.elapsed();
        println!("the dead holder's slots came back after {waited:?} (lease {lease:?})");
        assert!(
            waited >= lease / 2 && waited <= lease + lease / 2,
            "{waited:?}"
        );
        drop((free, back));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs redis-server"]
    async fn a_request_longer_than_the_lease_keeps_its_slot() {
        let server = RedisServer::start();
        let lease = Duration::from_millis(300);
        let long = process(&server, lease);
        let other = process(&server, lease);
        let held = long.acquire().await;
        let four: Vec<_> = futures::future::join_all((0..4).map(|_| other.acquire())).await;
        // Four lease lengths later the long request still holds its slot: no fifth.
        let fifth = tokio::time::timeout(lease * 4, other.acquire()).await;
        assert!(fifth.is_err(), "the renewed slot was handed out");
        drop(held);
        let fifth = tokio::time::timeout(Duration::from_secs(1), other.acquire()).await;
        assert!(fifth.is_ok(), "the released slot did not come back");
        drop(four);
    }

    #[tokio::test]
    async fn without_redis_each_process_keeps_to_the_cap_alone() {
        // Nothing listens there: the slots fall back to this process's own five.
        let options = RedisOptions::new("redis://127.0.0.1:9").timeout(Duration::from_millis(50));
        let slots = WalletSlots::shared(&Pacer::with_redis(WALLET, options).unwrap(), 5);
        let held: Vec<_> = futures::future::join_all((0..5).map(|_| slots.acquire())).await;
        assert_eq!(slots.in_flight(), 5);
        assert!(
            tokio::time::timeout(Duration::from_millis(100), slots.acquire())
                .await
                .is_err()
        );
        drop(held);
    }
}
