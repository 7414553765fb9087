//! The benchmark server: `venice-mock` in bench payload mode, in its own process so
//! each client's peak RSS is its own.
//!
//! `bench-server IMAGE_BYTES [REQUESTS WINDOW_SECS [per-model]] [wallet=ADDRESS]
//! [latency=MS]` prints the base URL, serves until its standard input closes, then prints
//! `{"status_counts": {...}, "limit_stats": {...}}`. With `per-model` the limit applies to
//! inference per key and model (as the provider's does, and advertised by
//! `/api_keys/rate_limits`), else to every request of the key. `wallet=` funds a wallet;
//! `latency=` makes every paid request take that long (so requests overlap);
//! `max_body=BYTES` raises the JSON body limit (the upload rows compare a 40 MB JSON body,
//! past the provider's 35 MB, with its form). The
//! provider's other limits (the error budget, five requests in flight per wallet) are the
//! mock's defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use venice_mock::{
    AccountConfig, FaultMix, MockConfig, MockServer, ModelRateLimits, RateLimitConfig,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let (options, args): (Vec<String>, Vec<String>) =
        all.into_iter().partition(|a| a.contains('='));
    let image_bytes: u64 = args
        .first()
        .ok_or("usage: bench-server IMAGE_BYTES")?
        .parse()?;
    let rate_limit = match (args.get(1), args.get(2)) {
        (Some(r), Some(w)) => Some(RateLimitConfig {
            requests: r.parse()?,
            window: Duration::from_secs_f64(w.parse()?),
        }),
        _ => None,
    };
    let mut config = MockConfig {
        bench_image_bytes: Some(image_bytes),
        rate_limit,
        ..MockConfig::default()
    };
    if args.get(3).map(String::as_str) == Some("per-model")
        && let Some(limit) = config.rate_limit.take()
    {
        config.account = AccountConfig {
            model_rate_limits: Some(ModelRateLimits::new(limit.requests, limit.window)),
            ..AccountConfig::default()
        };
    }
    let mut latency_ms = None;
    for option in &options {
        match option.split_once('=') {
            Some(("wallet", address)) => {
                config.wallet_balances.insert(address.to_owned(), 1_000_000.0);
            }
            Some(("latency", ms)) => latency_ms = Some(ms.parse::<u64>()?),
            Some(("max_body", bytes)) => config.max_body_bytes = bytes.parse()?,
            _ => return Err(format!("unknown option {option}").into()),
        }
    }
    let server = MockServer::start(config).await?;
    if let Some(ms) = latency_ms {
        server.set_fault_rate(FaultMix {
            latency: 1.0,
            latency_ms: ms,
            ..FaultMix::default()
        });
    }
    println!("{}", server.base_url());
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    let mut counts = BTreeMap::<u16, u64>::new();
    for r in server.requests() {
        *counts.entry(r.status).or_default() += 1;
    }
    println!(
        "{}",
        serde_json::json!({ "status_counts": counts, "limit_stats": server.limit_stats() })
    );
    Ok(())
}
