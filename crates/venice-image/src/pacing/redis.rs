//! Pacing shared by every process of an API key through Redis (feature `redis`).
//!
//! The budget of each (key, model) lives in Redis and changes only inside `budget.lua`, one
//! atomic script per booking or answer, timed by the Redis server's clock. Keys are
//! `venice:{<key id>}:<model>:{state,answers,inflight,day}`: the key id is a hash of the API
//! key (never the key), in braces so a Redis Cluster keeps one key's budgets in one slot;
//! every key expires soon after the window it describes.
//!
//! Redis is optional at run time: when a call fails the caller falls back to local pacing,
//! the outage is logged once, and Redis is tried again after
//! [`RedisOptions::reconnect_after`].

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Script, ScriptInvocation};

use crate::rate_headers::RateLimit;

/// Where the shared budgets live and how patiently to talk to them (feature `redis`).
///
/// The URL may hold a password; it is parsed once and never logged or shown by `Debug`.
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[derive(Clone)]
pub struct RedisOptions {
    url: String,
    timeout: Duration,
    reconnect_after: Duration,
    linger: Duration,
    slot_lease: Duration,
}

impl fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &"[REDACTED]")
            .field("timeout", &self.timeout)
            .field("reconnect_after", &self.reconnect_after)
            .field("linger", &self.linger)
            .field("slot_lease", &self.slot_lease)
            .finish()
    }
}

impl RedisOptions {
    /// Options for the Redis at `url` (`redis://[:password@]host[:port][/db]`; plain TCP
    /// or a Unix socket, no TLS).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            timeout: Duration::from_millis(250),
            reconnect_after: Duration::from_secs(1),
            linger: Duration::from_secs(60),
            slot_lease: Duration::from_secs(5),
        }
    }

    /// Longest wait to connect or for one answer before pacing locally (default 250 ms).
    /// Every request waits for one script call, so keep it short.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// After Redis failed, how long to pace locally before trying it again (default 1 s).
    pub fn reconnect_after(mut self, after: Duration) -> Self {
        self.reconnect_after = after;
        self
    }

    /// How long a wallet's in-flight slot is held in Redis without being renewed (default
    /// 5 s; the holder renews it every third of that while its request runs, so a
    /// request of any length keeps it). A process that dies holding slots gives them back
    /// within this time.
    pub fn slot_lease(mut self, lease: Duration) -> Self {
        self.slot_lease = lease.max(Duration::from_millis(30));
        self
    }

    /// The lease of a wallet's in-flight slot.
    pub(crate) fn lease(&self) -> Duration {
        self.slot_lease
    }

    /// How long a budget's keys outlive the window they describe (default 60 s, the
    /// provider's window). Longer keeps learned limits through idle spells; shorter
    /// frees memory sooner. What a crashed process booked never outlives the window
    /// after the one it booked in, whatever this says.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger.max(Duration::from_millis(1));
        self
    }
}

/// A short, stable identifier of an API key for naming shared state: the first 16 hex
/// digits of SHA-256 over a fixed label and the key. The key itself never leaves the
/// process; from the id it cannot be recovered. Feature `redis`.
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub fn key_id(api_key: &str) -> String {
    let mut input = Vec::with_capacity(api_key.len() + 24);
    input.extend_from_slice(b"venice-image pacing v1\0");
    input.extend_from_slice(api_key.as_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA256, &input);
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The Lua side of the budget (see `budget.lua`).
const SCRIPT: &str = include_str!("budget.lua");

/// One call of the script.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op<'a> {
    /// Book a request; the limits are what this process knows, for a fresh state.
    Reserve {
        per_window: Option<u64>,
        per_day: Option<u64>,
    },
    /// An answer arrived (`seq`: booked in Redis).
    Complete {
        seq: Option<u64>,
        rate_limit: Option<&'a RateLimit>,
    },
    /// A 429 (`seq`: booked in Redis).
    Hold {
        seq: Option<u64>,
        retry_after: Option<Duration>,
    },
    /// A booked request was never sent.
    Release { seq: u64 },
    /// Limits known up front.
    Seed {
        per_window: Option<u64>,
        per_day: Option<u64>,
    },
}

/// What a script call answered: booked as `seq`, told to wait, or done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    Booked(u64),
    Wait(Duration),
    Done,
}

fn millis(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

fn opt(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// A model id as a key segment: unreserved characters kept, the rest `%XX`, so no model
/// name can reach into another's keys or a Cluster hash tag.
fn key_segment(model: &str) -> String {
    const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_');
    utf8_percent_encode(model, ESCAPED).to_string()
}

/// The budgets of one API key in Redis.
pub(crate) struct RedisBudgets {
    client: redis::Client,
    /// `venice:{<key id>}`.
    namespace: String,
    script: Script,
    options: RedisOptions,
    link: tokio::sync::Mutex<Link>,
}

impl fmt::Debug for RedisBudgets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBudgets")
            .field("namespace", &self.namespace)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The connection and what is known of Redis' health.
#[derive(Default)]
struct Link {
    conn: Option<MultiplexedConnection>,
    /// Redis failed; pace locally until this instant, then try again.
    retry_at: Option<Instant>,
    /// The outage was logged (once per outage).
    down: bool,
}

impl RedisBudgets {
    /// Budgets for `api_key` at the configured Redis; connects on first use.
    pub(crate) fn new(api_key: &str, options: RedisOptions) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(options.url.as_str())?;
        Ok(Self {
            client,
            namespace: format!("venice:{{{}}}", key_id(api_key)),
            script: Script::new(SCRIPT),
            options,
            link: tokio::sync::Mutex::new(Link::default()),
        })
    }

    /// Run one operation on `model`'s budget; `None` when Redis cannot be reached (the
    /// caller paces locally).
    pub(crate) async fn call(&self, model: &str, op: Op<'_>) -> Option<Reply> {
        let reply = self
            .invoke::<(i64, i64)>(self.invocation(model, op, None))
            .await?;
        Some(reply_of(op, reply))
    }

    /// Run another script on keys of this API key's namespace (`keys` are suffixes of
    /// `venice:{<key id>}:`); `None` when Redis cannot be reached, as for [`call`](Self::call).
    pub(crate) async fn eval<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[String],
    ) -> Option<T> {
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(format!("{}:{key}", self.namespace));
        }
        for arg in args {
            invocation.arg(arg);
        }
        self.invoke(invocation).await
    }

    /// One script call within the timeout; a failure marks Redis down (logged once).
    async fn invoke<T: redis::FromRedisValue>(
        &self,
        invocation: ScriptInvocation<'_>,
    ) -> Option<T> {
        let mut conn = self.connection().await?;
        match tokio::time::timeout(
            self.options.timeout,
            invocation.invoke_async::<T>(&mut conn),
        )
        .await
        {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                self.failed(&e.to_string()).await;
                None
            }
            Err(_) => {
                self.failed("no answer within the timeout").await;
                None
            }
        }
    }

    /// The options these budgets were made with.
    pub(crate) fn options(&self) -> &RedisOptions {
        &self.options
    }

    /// The script call for `op` on `model` (`now`: a fixed time instead of the server's,
    /// for tests).
    pub(crate) fn invocation<'s>(
        &'s self,
        model: &str,
        op: Op<'_>,
        now: Option<SystemTime>,
    ) -> ScriptInvocation<'s> {
        let prefix = format!("{}:{}", self.namespace, key_segment(model));
        let mut inv = self.script.prepare_invoke();
        for part in ["state", "answers", "inflight", "day"] {
            inv.key(format!("{prefix}:{part}"));
        }
        let (name, args) = match op {
            Op::Reserve {
                per_window,
                per_day,
            } => ("reserve", vec![opt(per_window), opt(per_day)]),
            Op::Seed {
                per_window,
                per_day,
            } => ("seed", vec![opt(per_window), opt(per_day)]),
            Op::Complete {
                seq,
                rate_limit: None,
            } => ("complete", vec![opt(seq), "0".into()]),
            Op::Complete {
                seq,
                rate_limit: Some(rl),
            } => {
                let known = [rl.limit(), rl.remaining(), rl.reset_at().map(millis)];
                let mut args = vec![opt(seq), "1".into()];
                args.extend(known.map(opt));
                ("complete", args)
            }
            Op::Hold { seq, retry_after } => {
                let ms = retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                ("hold", vec![opt(seq), opt(ms)])
            }
            Op::Release { seq } => ("release", vec![seq.to_string()]),
        };
        // Every script call: the operation, the time (empty: the server's), the linger,
        // then the operation's own arguments.
        inv.arg(name)
            .arg(opt(now.map(millis)))
            .arg(self.options.linger.as_millis().to_string())
            .arg(args);
        inv
    }

    /// The shared connection, (re)connecting when it is time to.
    async fn connection(&self) -> Option<MultiplexedConnection> {
        let mut link = self.link.lock().await;
        if let Some(conn) = &link.conn {
            return Some(conn.clone());
        }
        if link.retry_at.is_some_and(|at| Instant::now() < at) {
            return None;
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.options.timeout))
            .set_response_timeout(Some(self.options.timeout));
        let connected = tokio::time::timeout(
            self.options.timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await;
        match connected {
            Ok(Ok(conn)) => {
                if link.down {
                    tracing::info!("pacing: Redis is reachable again; sharing the rate limit");
                }
                *link = Link {
                    conn: Some(conn.clone()),
                    retry_at: None,
                    down: false,
                };
                Some(conn)
            }
            Ok(Err(e)) => {
                Self::mark_down(&mut link, &e.to_string(), self.options.reconnect_after);
                None
            }
            Err(_) => {
                Self::mark_down(
                    &mut link,
                    "no connection within the timeout",
                    self.options.reconnect_after,
                );
                None
            }
        }
    }

    async fn failed(&self, why: &str) {
        let mut link = self.link.lock().await;
        Self::mark_down(&mut link, why, self.options.reconnect_after);
    }

    fn mark_down(link: &mut Link, why: &str, reconnect_after: Duration) {
        link.conn = None;
        link.retry_at = Some(Instant::now() + reconnect_after);
        if !link.down {
            link.down = true;
            // Errors of the redis crate name the failure, never the URL or password.
            tracing::warn!(
                error = why,
                "pacing: Redis unavailable; pacing this process alone until it is back \
                 (other processes of the key are seen only through the server's counts)"
            );
        }
    }
}

fn reply_of(op: Op<'_>, (granted, value): (i64, i64)) -> Reply {
    match op {
        Op::Reserve { .. } if granted == 1 => Reply::Booked(u64::try_from(value).unwrap_or(0)),
        Op::Reserve { .. } => Reply::Wait(Duration::from_millis(u64::try_from(value).unwrap_or(0))),
        _ => Reply::Done,
    }
}

#[cfg(test)]
pub(crate) mod tests;
