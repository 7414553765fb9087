//! The Solana JSON-RPC subset a top-up needs, as the provider's proxy
//! (`POST /crypto/rpc/solana-mainnet`) would answer it: `getLatestBlockhash` (a fresh
//! blockhash from [`RecentBlockhashes`]) and `getAccountInfo` (the USDC mint).
//!
//! Billing: the provider charges 30 credits per Solana call and 5 for an answer that
//! is a JSON-RPC error (about $7e-7 a credit); [`RpcAnswer::credits`] counts them the
//! same way so a handler can send `X-Venice-RPC-Credits`, and decide whether to debit.

use std::time::SystemTime;

use base64::Engine as _;
use serde_json::{Value, json};

use super::blockhash::RecentBlockhashes;
use super::wire::Address;

/// Credits of a successful Solana call (base 30 × standard tier 1).
pub const CREDITS_PER_CALL: u64 = 30;
/// Credits of a call answered with a JSON-RPC error.
pub const CREDITS_PER_ERROR: u64 = 5;
/// USD per credit, as the provider documents it (approximate).
pub const USD_PER_CREDIT: f64 = 7e-7;
/// Most items in a batch.
pub const MAX_BATCH: usize = 100;
/// Size of an SPL mint account.
pub const MINT_ACCOUNT_LEN: usize = 82;
/// Rent-exempt balance of an 82-byte account, in lamports.
const MINT_RENT_LAMPORTS: u64 = 1_461_600;
/// The `apiVersion` reported in answer contexts.
const API_VERSION: &str = "2.2.0";

/// The mint account the proxy serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintAccount {
    /// The mint address.
    pub address: Address,
    /// Its owner: the token program.
    pub owner: Address,
    /// Decimals (6 for USDC).
    pub decimals: u8,
    /// Total supply in units.
    pub supply: u64,
}

impl MintAccount {
    /// The 82-byte SPL mint layout: no mint or freeze authority (`COption` tag 0),
    /// supply, decimals at byte 44, initialized at byte 45.
    pub fn data(&self) -> [u8; MINT_ACCOUNT_LEN] {
        let mut d = [0u8; MINT_ACCOUNT_LEN];
        d[36..44].copy_from_slice(&self.supply.to_le_bytes());
        d[44] = self.decimals;
        d[45] = 1;
        d
    }
}

/// A JSON-RPC answer and what the provider would bill for it.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcAnswer {
    /// The response body (object, or array for a batch).
    pub body: Value,
    /// Credits used (see the module docs).
    pub credits: u64,
}

impl RpcAnswer {
    /// The USD cost of [`credits`](Self::credits).
    pub fn cost_usd(&self) -> f64 {
        self.credits as f64 * USD_PER_CREDIT
    }
}

/// Answers Solana JSON-RPC requests from issued blockhashes and one mint account.
#[derive(Debug)]
pub struct SolanaRpc<'a> {
    /// Where fresh blockhashes come from (the verifier's store).
    pub blockhashes: &'a RecentBlockhashes,
    /// The mint `getAccountInfo` knows.
    pub mint: &'a MintAccount,
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn context(slot: u64) -> Value {
    json!({"slot": slot, "apiVersion": API_VERSION})
}

impl SolanaRpc<'_> {
    /// Answer a request body: one JSON-RPC object, or a batch (array) of them.
    pub fn answer(&self, request: &Value, now: SystemTime) -> RpcAnswer {
        let Some(batch) = request.as_array() else {
            let body = self.answer_one(request, now);
            return RpcAnswer {
                credits: credits(&body),
                body,
            };
        };
        if batch.is_empty() || batch.len() > MAX_BATCH {
            let body = error(Value::Null, -32600, "Invalid Request: batch size");
            return RpcAnswer {
                credits: credits(&body),
                body,
            };
        }
        let items: Vec<Value> = batch.iter().map(|r| self.answer_one(r, now)).collect();
        RpcAnswer {
            credits: items.iter().map(credits).sum(),
            body: Value::Array(items),
        }
    }

    fn answer_one(&self, request: &Value, now: SystemTime) -> Value {
        let mut answer = self.answer_item(request, now);
        // A request without an `id` gets an answer without one: the provider's schema
        // allows an integer or string `id`, or none, never `null` (schemathesis found it).
        if request.get("id").is_none()
            && let Some(a) = answer.as_object_mut()
        {
            a.remove("id");
        }
        answer
    }

    fn answer_item(&self, request: &Value, now: SystemTime) -> Value {
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let (Some(method), true) = (
            request.get("method").and_then(Value::as_str),
            request.get("jsonrpc").is_none_or(|v| v == "2.0"),
        ) else {
            return error(id, -32600, "Invalid Request");
        };
        let params = request.get("params").unwrap_or(&Value::Null);
        if !(params.is_null() || params.is_array()) {
            return error(id, -32602, "Invalid params: params must be an array");
        }
        let result = match method {
            "getLatestBlockhash" => self.latest_blockhash(now),
            "getAccountInfo" => self.account_info(params),
            _ => return error(id, -32601, "Method not found"),
        };
        match result {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(message) => error(id, -32602, &format!("Invalid params: {message}")),
        }
    }

    fn latest_blockhash(&self, now: SystemTime) -> Result<Value, String> {
        let b = self.blockhashes.issue(now)?;
        Ok(json!({
            "context": context(b.slot),
            "value": {"blockhash": b.base58(), "lastValidBlockHeight": b.last_valid_block_height},
        }))
    }

    fn account_info(&self, params: &Value) -> Result<Value, String> {
        let address = params
            .get(0)
            .and_then(Value::as_str)
            .ok_or("the first parameter must be an address")?;
        let address: Address = bs58::decode(address)
            .into_vec()
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("invalid address")?;
        let encoding = params
            .get(1)
            .and_then(|c| c.get("encoding"))
            .and_then(Value::as_str)
            .unwrap_or("base58");
        let ctx = context(FIRST_CONTEXT_SLOT);
        if address != self.mint.address {
            return Ok(json!({"context": ctx, "value": null}));
        }
        let data = self.mint.data();
        let data = match encoding {
            "base64" => json!([
                base64::engine::general_purpose::STANDARD.encode(data),
                "base64"
            ]),
            "base58" => json!([bs58::encode(data).into_string(), "base58"]),
            other => return Err(format!("encoding {other:?} is not served by the mock")),
        };
        Ok(json!({
            "context": ctx,
            "value": {
                "data": data,
                "executable": false,
                "lamports": MINT_RENT_LAMPORTS,
                "owner": bs58::encode(self.mint.owner).into_string(),
                "rentEpoch": u64::MAX,
                "space": MINT_ACCOUNT_LEN,
            },
        }))
    }
}

/// The slot account reads report (the mint never changes).
const FIRST_CONTEXT_SLOT: u64 = 300_000_000;

fn credits(item: &Value) -> u64 {
    if item.get("error").is_some() {
        CREDITS_PER_ERROR
    } else {
        CREDITS_PER_CALL
    }
}
