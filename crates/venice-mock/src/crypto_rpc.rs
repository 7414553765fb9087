//! The provider's crypto RPC proxy (`listCryptoRpcNetworks`, `cryptoRpcProxy`) as far as
//! a Solana top-up needs it: `solana-mainnet` is answered by [`SolanaRpc`] from the
//! blockhash store the Solana verifier trusts and the policy's mint.
//!
//! Billing follows the provider (its spec: "bill per credit"): every answer carries
//! `X-Venice-RPC-Credits` (30 per Solana call, 5 per item answered with a JSON-RPC error)
//! and `X-Venice-RPC-Cost-USD` (credits × [`USD_PER_CREDIT`], 8 decimals), and the cost is
//! debited like an inference charge: from a wallet's x402 credit (`x-venice-balance-usd`;
//! a wallet without enough credit gets the usual 402) or from the API-key balance when
//! one is configured. An `Idempotency-Key` replays the cached answer of the same body
//! (`Idempotent-Replayed: true`, nothing billed) and refuses another body under that key.

use std::time::SystemTime;

use http::StatusCode;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::handlers::{Ctx, balance_header};
use crate::response::{ApiError, Reply};
use crate::svm::{SolanaRpc, USD_PER_CREDIT};

/// The network slug the mock serves.
pub(crate) const SOLANA_MAINNET_SLUG: &str = "solana-mainnet";

/// Every slug `listCryptoRpcNetworks` lists: those the mock can answer (the provider
/// lists about 25 chains; a slug the mock does not serve would only fail later).
const NETWORKS: &[&str] = &[SOLANA_MAINNET_SLUG];

/// `GET /crypto/rpc/networks`.
pub(crate) fn networks() -> Reply {
    Reply::json(StatusCode::OK, &json!({ "networks": NETWORKS }))
}

/// Whether `key` matches the spec's `^[A-Za-z0-9_-]{1,255}$`.
fn valid_idempotency_key(key: &str) -> bool {
    (1..=255).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Who the idempotency cache keys an answer to.
fn caller(principal: Option<&Principal>) -> String {
    match principal {
        Some(Principal::ApiKey(k)) => format!("key:{k}"),
        Some(Principal::Wallet(w)) => format!("wallet:{}", crate::state::wallet_key(&w.address)),
        None => "anonymous".to_owned(),
    }
}

fn billed(reply: Reply, credits: u64) -> Reply {
    reply
        .header("x-venice-rpc-credits", credits.to_string())
        .header(
            "x-venice-rpc-cost-usd",
            format!("{:.8}", credits as f64 * USD_PER_CREDIT),
        )
}

/// `POST /crypto/rpc/{network}`.
pub(crate) fn proxy(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let network = ctx.operation.path_param("network").unwrap_or_default();
    if network != SOLANA_MAINNET_SLUG {
        return Err(ApiError::field(
            "network",
            format!(
                "Unsupported network {network:?}; supported: {}",
                NETWORKS.join(", ")
            ),
        ));
    }
    // As the provider: an empty batch is an invalid request (400), not a JSON-RPC error
    // answer, whose `id: null` its 200 schema does not allow.
    if ctx.body.as_array().is_some_and(Vec::is_empty) {
        return Err(ApiError::field(
            "body",
            "An empty batch is not a request: send 1 to 100 JSON-RPC requests",
        ));
    }
    // An `id` is echoed; one that is not a string or a 64-bit integer (e.g. 1e22, which
    // JSON allows as an integer) could only come back as a float, which the provider's
    // answer schema does not allow: refuse it (another schemathesis finding).
    let items = ctx
        .body
        .as_array()
        .map_or_else(|| vec![&ctx.body], |b| b.iter().collect());
    let fits = |id: &Value| id.is_string() || id.as_i64().is_some() || id.as_u64().is_some();
    if items
        .iter()
        .any(|r| r.get("id").is_some_and(|id| !fits(id)))
    {
        return Err(ApiError::field(
            "id",
            "A JSON-RPC id must be a string or an integer within 64 bits",
        ));
    }
    let key = match ctx.headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if valid_idempotency_key(k) => Some(k),
            _ => {
                return Err(ApiError::field(
                    "Idempotency-Key",
                    "Idempotency-Key must match ^[A-Za-z0-9_-]{1,255}$",
                ));
            }
        },
    };
    let now = SystemTime::now();
    let who = caller(ctx.principal.as_ref());
    if let Some(key) = key
        && let Some(cached) = ctx.state.cached_rpc(&who, key, now)
    {
        if cached.request != ctx.body {
            return Err(ApiError::field(
                "Idempotency-Key",
                "Idempotency-Key was already used with a different request body",
            ));
        }
        let reply = billed(
            Reply::json(StatusCode::OK, &cached.response),
            cached.credits,
        )
        .header("idempotent-replayed", "true");
        return Ok(reply);
    }
    let Some(mint) = &ctx.state.mint else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The Solana RPC route is not configured",
            None,
        ));
    };
    let answer = SolanaRpc {
        blockhashes: &ctx.state.blockhashes,
        mint,
    }
    .answer(&ctx.body, now);
    let receipt = ctx.state.charge_above(
        ctx.principal.as_ref(),
        ctx.state.request_id("rpc"),
        network,
        &[crate::state::Part::new("rpc", answer.cost_usd())],
        answer.cost_usd(),
    )?;
    if let Some(key) = key {
        ctx.state.cache_rpc(
            &who,
            key,
            ctx.body.clone(),
            answer.body.clone(),
            answer.credits,
        );
    }
    Ok(balance_header(
        billed(Reply::json(StatusCode::OK, &answer.body), answer.credits),
        &receipt,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys() {
        for ok in ["a", "A-b_9", &"k".repeat(255)] {
            assert!(valid_idempotency_key(ok), "{ok}");
        }
        for bad in ["", "a b", "é", "a/b", &"k".repeat(256)] {
            assert!(!valid_idempotency_key(bad), "{bad}");
        }
    }
}
