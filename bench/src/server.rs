//! The benchmark server: `venice-mock` in bench payload mode, in its own process so
//! each client's peak RSS is its own.
//!
//! `bench-server IMAGE_BYTES [REQUESTS WINDOW_SECS [per-model]]` prints the base URL,
//! serves until its standard input closes, then prints `{"status_counts": {...}}`. With
//! `per-model` the limit applies to inference per key and model (as the provider's does,
//! and advertised by `/api_keys/rate_limits`), else to every request of the key.
//! `BENCH_MAX_BODY_BYTES` in the environment raises the JSON body limit (the upload rows
//! compare a 40 MB JSON body, past the provider's 35 MB, with its form).

use std::collections::BTreeMap;

use tokio::io::AsyncReadExt as _;
use venice_mock::{AccountConfig, MockConfig, MockServer, ModelRateLimits, RateLimitConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let image_bytes: u64 = args
        .first()
        .ok_or("usage: bench-server IMAGE_BYTES")?
        .parse()?;
    let rate_limit = match (args.get(1), args.get(2)) {
        (Some(r), Some(w)) => Some(RateLimitConfig {
            requests: r.parse()?,
            window: std::time::Duration::from_secs_f64(w.parse()?),
        }),
        _ => None,
    };
    let mut config = MockConfig {
        bench_image_bytes: Some(image_bytes),
        rate_limit,
        ..MockConfig::default()
    };
    if let Ok(limit) = std::env::var("BENCH_MAX_BODY_BYTES") {
        config.max_body_bytes = limit.parse()?;
    }
    if args.get(3).map(String::as_str) == Some("per-model")
        && let Some(limit) = config.rate_limit.take()
    {
        config.account = AccountConfig {
            model_rate_limits: Some(ModelRateLimits::new(limit.requests, limit.window)),
            ..AccountConfig::default()
        };
    }
    let server = MockServer::start(config).await?;
    println!("{}", server.base_url());
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    let mut counts = BTreeMap::<u16, u64>::new();
    for r in server.requests() {
        *counts.entry(r.status).or_default() += 1;
    }
    println!("{}", serde_json::json!({ "status_counts": counts }));
    Ok(())
}
