//! The provider's per-route limiters ([`RouteLimits`]): `POST /x402/top-up` per IP,
//! `GET /x402/balance` and `GET /x402/transactions` per wallet, answering 429 `{"error":
//! "Rate limit exceeded. Please try again later."}` without any rate-limit header; and the
//! crypto RPC proxy's per-minute cap per user, whose 429 carries `X-RateLimit-Limit`,
//! `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix **seconds**, unlike the model
//! limits' milliseconds) and a `customMessage` naming the cap.

use std::net::IpAddr;

use http::StatusCode;
use serde_json::json;

use crate::config::{RateLimitConfig, RouteLimits};
use crate::ratelimit::RateLimiter;
use crate::response::ApiError;

/// One limiter per limited route.
#[derive(Debug)]
pub(crate) struct RouteLimiters {
    top_up: Option<RateLimiter>,
    balance: Option<RateLimiter>,
    transactions: Option<RateLimiter>,
    crypto_rpc: Option<RateLimiter>,
}

fn limiter(config: Option<RateLimitConfig>) -> Option<RateLimiter> {
    config.map(|c| RateLimiter::new(Some(c)))
}

impl RouteLimiters {
    pub(crate) fn new(limits: RouteLimits) -> Self {
        Self {
            top_up: limiter(limits.top_up),
            balance: limiter(limits.balance),
            transactions: limiter(limits.transactions),
            crypto_rpc: limiter(limits.crypto_rpc),
        }
    }

    /// Counts a request of `operation_id` by `caller` (the API key or wallet, normalised)
    /// against its route's limiter, if it has one.
    pub(crate) fn check(
        &self,
        operation_id: &str,
        caller: Option<String>,
        peer: IpAddr,
    ) -> Result<(), ApiError> {
        let (limiter, name) = match operation_id {
            "topUpX402Balance" => (&self.top_up, Some(format!("ip:{peer}"))),
            "getX402Balance" => (&self.balance, caller),
            "getX402Transactions" => (&self.transactions, caller),
            "cryptoRpcProxy" => (&self.crypto_rpc, caller),
            _ => return Ok(()),
        };
        let (Some(limiter), Some(name)) = (limiter, name) else {
            return Ok(());
        };
        let d = limiter.check(&name);
        if d.allowed {
            return Ok(());
        }
        // Header names are case-insensitive: these are the proxy's `X-RateLimit-*`.
        if operation_id == "cryptoRpcProxy" {
            return Err(ApiError::with_body(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({
                    "error": "Rate limit exceeded",
                    "customMessage": format!("Requests per minute exceeded ({} per window)", d.limit),
                }),
            )
            .header("x-ratelimit-limit", d.limit.to_string())
            .header("x-ratelimit-remaining", d.remaining.to_string())
            .header("x-ratelimit-reset", d.reset_unix.to_string()));
        }
        Err(ApiError::with_body(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({ "error": "Rate limit exceeded. Please try again later." }),
        ))
    }
}
