//! Shared server state: configuration, catalogue, limiter, faults, log, cache and the
//! in-memory ledger of balances (charges and credits).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::bench::BenchPayload;
use crate::catalog::Catalog;
use crate::config::MockConfig;
use crate::error_budget::ErrorBudget;
use crate::faults::FaultInjector;
use crate::images::ImageCache;
use crate::log::RequestLog;
use crate::ratelimit::{ModelLimiter, RateLimiter};
use crate::response::ApiError;
use crate::route_limits::RouteLimiters;
use crate::svm::{MintAccount, RecentBlockhashes, SvmPaymentVerifier};
use crate::wallet_inflight::WalletInFlight;
use crate::x402::{DefaultPaymentVerifier, DefaultSiwxVerifier};

/// How long an `Idempotency-Key` answer of the RPC proxy is replayed (the provider's 24 h).
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);
/// Most idempotent answers remembered; expired ones are dropped past it.
const IDEMPOTENCY_CAPACITY: usize = 4096;

/// A cached answer of the RPC proxy under one idempotency key.
#[derive(Debug, Clone)]
pub(crate) struct CachedRpc {
    /// The request body it answered (another body under the same key is a 400).
    pub request: Value,
    /// The answer.
    pub response: Value,
    /// Credits billed for it.
    pub credits: u64,
    at: SystemTime,
}

pub(crate) struct AppState {
    pub config: MockConfig,
    pub catalog: Catalog,
    pub limiter: RateLimiter,
    /// Per-(key, model) limits of inference, when configured.
    pub model_limiter: Option<ModelLimiter>,
    /// The error budget of every (credential, model, user) bucket.
    pub error_budget: ErrorBudget,
    /// Requests in flight per wallet.
    pub wallet_in_flight: WalletInFlight,
    /// The x402 routes' and the crypto RPC proxy's own limiters.
    pub route_limits: RouteLimiters,
    pub faults: FaultInjector,
    pub log: RequestLog,
    pub cache: ImageCache,
    pub bench: Option<BenchPayload>,
    /// Blockhashes issued by `getLatestBlockhash` and accepted in Solana payments.
    pub blockhashes: Arc<RecentBlockhashes>,
    /// Verifies Solana top-ups (the EVM ones go to `config.payment_verifier`).
    pub svm_verifier: SvmPaymentVerifier,
    /// The USDC mint the Solana RPC route serves (`None` only for a policy that
    /// `MockServer::start` refuses).
    pub mint: Option<MintAccount>,
    rpc_answers: Mutex<HashMap<(String, String), CachedRpc>>,
    wallets: Mutex<HashMap<String, f64>>,
    /// DIEM (USD) of DIEM-linked wallets, by `wallet_key`.
    diem_wallets: Mutex<HashMap<String, f64>>,
    api_balance: Mutex<Option<f64>>,
    diem_balance: Mutex<Option<f64>>,
    ledger: Mutex<HashMap<String, Vec<Value>>>,
    counter: AtomicU64,
}

/// Normalizes a wallet address (EVM addresses compare case-insensitively).
pub(crate) fn wallet_key(address: &str) -> String {
    if address.starts_with("0x") || address.starts_with("0X") {
        address.to_ascii_lowercase()
    } else {
        address.to_owned()
    }
}

pub(crate) fn now_rfc3339() -> String {
    rfc3339(unix_secs())
}

pub(crate) fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// `secs` (Unix time) as an RFC 3339 UTC timestamp with milliseconds.
pub(crate) fn rfc3339(secs: u64) -> String {
    // Civil-from-days (Howard Hinnant), UTC.
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl AppState {
    pub fn new(mut config: MockConfig) -> Self {
        // Real verification unless the caller plugged in its own verifiers.
        if config.siwx_verifier.is_none() {
            config.siwx_verifier = Some(std::sync::Arc::new(DefaultSiwxVerifier::new(
                config.siwx_policy.clone(),
            )));
        }
        if config.payment_verifier.is_none() {
            config.payment_verifier = Some(std::sync::Arc::new(DefaultPaymentVerifier::new(
                config.payment_policy.clone(),
            )));
        }
        let catalog = config
            .catalogue
            .clone()
            .unwrap_or_else(Catalog::builtin)
            .with_models(config.extra_models.clone());
        let blockhashes = config
            .solana_blockhashes
            .clone()
            .unwrap_or_else(|| Arc::new(RecentBlockhashes::default()));
        let svm_verifier = SvmPaymentVerifier::new(
            config.svm_payment_policy.clone(),
            Arc::clone(&blockhashes) as Arc<dyn crate::svm::BlockhashStore>,
        );
        let wallets = config
            .wallet_balances
            .iter()
            .map(|(k, v)| (wallet_key(k), *v))
            .collect();
        let diem_wallets = config
            .diem_wallets
            .iter()
            .map(|(k, v)| (wallet_key(k), *v))
            .collect();
        Self {
            catalog,
            limiter: RateLimiter::new(config.rate_limit),
            model_limiter: config
                .account
                .model_rate_limits
                .clone()
                .map(ModelLimiter::new),
            error_budget: ErrorBudget::new(config.error_budget),
            wallet_in_flight: WalletInFlight::new(config.wallet_max_in_flight),
            route_limits: RouteLimiters::new(config.route_limits),
            faults: FaultInjector::new(&config.faults),
            log: RequestLog::default(),
            cache: ImageCache::new(256),
            bench: config
                .bench_image_bytes
                .and_then(|n| BenchPayload::new(n).ok()),
            mint: config.svm_payment_policy.mint_account().ok(),
            blockhashes,
            svm_verifier,
            rpc_answers: Mutex::new(HashMap::new()),
            wallets: Mutex::new(wallets),
            diem_wallets: Mutex::new(diem_wallets),
            api_balance: Mutex::new(config.api_key_balance),
            diem_balance: Mutex::new(config.account.diem_balance),
            ledger: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            config,
        }
    }

    /// The cached RPC answer of `key` for `caller`, if still fresh.
    pub fn cached_rpc(&self, caller: &str, key: &str, now: SystemTime) -> Option<CachedRpc> {
        let cache = self.rpc_answers.lock().ok()?;
        cache
            .get(&(caller.to_owned(), key.to_owned()))
            .filter(|c| {
                now.duration_since(c.at)
                    .is_ok_and(|age| age <= IDEMPOTENCY_TTL)
            })
            .cloned()
    }

    /// Remember the RPC answer of `key` for `caller`.
    pub fn cache_rpc(
        &self,
        caller: &str,
        key: &str,
        request: Value,
        response: Value,
        credits: u64,
    ) {
        let Ok(mut cache) = self.rpc_answers.lock() else {
            return;
        };
        let now = SystemTime::now();
        if cache.len() >= IDEMPOTENCY_CAPACITY {
            cache.retain(|_, c| {
                now.duration_since(c.at)
                    .is_ok_and(|age| age <= IDEMPOTENCY_TTL)
            });
        }
        if cache.len() < IDEMPOTENCY_CAPACITY {
            cache.insert(
                (caller.to_owned(), key.to_owned()),
                CachedRpc {
                    request,
                    response,
                    credits,
                    at: now,
                },
            );
        }
    }

    pub fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn wallet_balance(&self, address: &str) -> f64 {
        self.wallets
            .lock()
            .ok()
            .and_then(|w| w.get(&wallet_key(address)).copied())
            .unwrap_or(0.0)
    }

    /// The DIEM (USD) of a DIEM-linked wallet; `None` for other wallets.
    pub fn wallet_diem(&self, address: &str) -> Option<f64> {
        self.diem_wallets
            .lock()
            .ok()
            .and_then(|w| w.get(&wallet_key(address)).copied())
    }

    fn record(&self, address: &str, amount: f64, after: f64, kind: &str, model: Option<&str>) {
        let id = self.next_id();
        let entry = json!({
            "id": format!("tx-{id}"),
            "amount": amount,
            "balanceAfter": after,
            "type": kind,
            "createdAt": now_rfc3339(),
            "requestId": model.map(|_| format!("req-{id}")),
            "modelId": model,
        });
        if let Ok(mut l) = self.ledger.lock() {
            l.entry(wallet_key(address)).or_default().insert(0, entry);
        }
    }

    pub fn ledger(&self, address: &str) -> Vec<Value> {
        self.ledger
            .lock()
            .ok()
            .and_then(|l| l.get(&wallet_key(address)).cloned())
            .unwrap_or_default()
    }

    /// Credits a wallet and returns the new balance.
    pub fn credit(&self, address: &str, usd: f64) -> f64 {
        let after = match self.wallets.lock() {
            Ok(mut w) => {
                let b = w.entry(wallet_key(address)).or_insert(0.0);
                *b += usd;
                *b
            }
            Err(_) => 0.0,
        };
        self.record(address, usd, after, "TOP_UP", None);
        after
    }

    /// The API-key account's (USD, DIEM) balances; `None` USD means unlimited, `None`
    /// DIEM not staking.
    pub fn api_balances(&self) -> (Option<f64>, Option<f64>) {
        let usd = self.api_balance.lock().ok().and_then(|b| *b);
        let diem = self.diem_balance.lock().ok().and_then(|b| *b);
        (usd, diem)
    }

    /// Charges a paid call; returns the wallet's remaining balance for wallet callers.
    pub fn charge(
        &self,
        principal: Option<&Principal>,
        usd: f64,
        model: &str,
    ) -> Result<Option<f64>, ApiError> {
        match principal {
            None => Ok(None),
            Some(Principal::ApiKey(_)) => {
                // DIEM is spent first, when it covers the price.
                if let Ok(mut diem) = self.diem_balance.lock()
                    && let Some(d) = diem.as_mut()
                    && *d + 1e-9 >= usd
                {
                    *d -= usd;
                    return Ok(None);
                }
                let Ok(mut balance) = self.api_balance.lock() else {
                    return Ok(None);
                };
                match balance.as_mut() {
                    None => Ok(None),
                    Some(b) if *b + 1e-9 >= usd => {
                        *b -= usd;
                        Ok(None)
                    }
                    Some(_) => Err(ApiError::new(
                        StatusCode::PAYMENT_REQUIRED,
                        "Insufficient USD or Diem balance to complete request",
                        Some("INSUFFICIENT_BALANCE"),
                    )),
                }
            }
            Some(Principal::Wallet(id)) => {
                // A DIEM-linked wallet spends DIEM first, and its 402 once DIEM does not
                // cover the price is not fixed by a top-up (the provider's behaviour).
                if let Ok(mut diem) = self.diem_wallets.lock()
                    && let Some(d) = diem.get_mut(&wallet_key(&id.address))
                    && *d > 0.0
                {
                    if *d + 1e-9 >= usd {
                        *d -= usd;
                        drop(diem);
                        return Ok(Some(self.wallet_balance(&id.address)));
                    }
                    let nonce = format!(
                        "{:016x}",
                        self.next_id().wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    );
                    return Err(crate::shapes::wallet_without_credit(
                        &self.config.payment_policy,
                        &self.config.svm_payment_policy,
                        self.wallet_balance(&id.address),
                        usd,
                        &nonce,
                    ));
                }
                let after = {
                    let Ok(mut w) = self.wallets.lock() else {
                        return Ok(None);
                    };
                    let b = w.entry(wallet_key(&id.address)).or_insert(0.0);
                    if *b + 1e-9 < usd {
                        let current = *b;
                        drop(w);
                        let nonce = format!(
                            "{:016x}",
                            self.next_id().wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        );
                        return Err(crate::shapes::wallet_without_credit(
                            &self.config.payment_policy,
                            &self.config.svm_payment_policy,
                            current,
                            usd,
                            &nonce,
                        ));
                    }
                    *b -= usd;
                    *b
                };
                self.record(&id.address, -usd, after, "CHARGE", Some(model));
                Ok(Some(after))
            }
        }
    }
}
