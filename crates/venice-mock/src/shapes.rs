//! Bodies whose exact shape the provider documents as closed objects (x402 discovery,
//! wallet without credit, x402 errors). Built in one place so that the shape tests and
//! every handler agree, and so that no field the provider's schema forbids slips in.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use http::StatusCode;
use serde_json::{Value, json};

use crate::response::ApiError;
use crate::svm::SvmPaymentPolicy;
use crate::x402::{MIN_TOP_UP_USD, PaymentPolicy, SUGGESTED_TOP_UP_USD};

/// The `operationId` of the top-up operation, named in payment instructions.
const TOP_UP_OPERATION: &str = "topUpX402Balance";

/// Base64 of a JSON value (for `PAYMENT-REQUIRED` / `PAYMENT-RESPONSE`).
pub(crate) fn b64_json(value: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

/// `METHOD /api/v1/…` of the top-up operation, read from the spec.
pub(crate) fn top_up_route() -> String {
    crate::spec::embedded()
        .operation_route(TOP_UP_OPERATION)
        .map(|(method, path)| format!("{method} {path}"))
        .unwrap_or_default()
}

/// The one `accepts` entry the mock offers: the `exact` scheme on the policy's chain.
fn accepts_entry(policy: &PaymentPolicy) -> Value {
    json!({
        "scheme": "exact",
        "network": format!("eip155:{}", policy.chain_id),
        "amount": policy.min_amount.to_string(),
        "asset": policy.asset,
        "payTo": policy.pay_to,
        "maxTimeoutSeconds": 300,
        "extra": { "name": policy.token_name, "version": policy.token_version },
    })
}

/// The x402 discovery body (the 402 of `POST /x402/top-up` without payment, and the
/// `PAYMENT-REQUIRED` header everywhere): exactly `{x402Version, accepts}`, with the
/// Base entry and the Solana entry (as the provider: "Base and Solana USDC payment
/// options").
pub(crate) fn payment_requirements(policy: &PaymentPolicy, svm: &SvmPaymentPolicy) -> Value {
    json!({
        "x402Version": 2,
        "accepts": [accepts_entry(policy), svm.requirement(svm.min_amount)],
    })
}

/// The discovery 402 with its `PAYMENT-REQUIRED` header.
pub(crate) fn discovery_402(policy: &PaymentPolicy, svm: &SvmPaymentPolicy) -> ApiError {
    let body = payment_requirements(policy, svm);
    ApiError::with_body(StatusCode::PAYMENT_REQUIRED, &body)
        .header("payment-required", b64_json(&body))
}

/// The 402 of a request without any credentials on an operation that needs them (also
/// the Bearer-only ones): x402 discovery plus `authOptions`, never a 401
/// (`venice-x402`, `venice-billing`, `venice-api-keys`). The provider's
/// `X402InferencePaymentRequired` first branch: `{x402Version, error, resource, accepts,
/// authOptions}`, the requirements also in `PAYMENT-REQUIRED`.
pub(crate) fn credentials_required(
    policy: &PaymentPolicy,
    svm: &SvmPaymentPolicy,
    path: &str,
    priced: bool,
) -> ApiError {
    let mut requirements = payment_requirements(policy, svm);
    // The wallet routes answer with no payment options: only the sign-in matters there
    // (`venice-x402`).
    if !priced {
        requirements["accepts"] = json!([]);
    }
    let resource = json!({
        "url": format!("https://api.venice.ai{path}"),
        "description": "Venice API",
        "mimeType": "application/json",
    });
    let body = json!({
        "x402Version": requirements["x402Version"],
        "error": "Payment required",
        "resource": resource,
        "accepts": requirements["accepts"],
        "authOptions": {
            "apiKey": {
                "header": "Authorization: Bearer YOUR_API_KEY",
                "getKey": "https://venice.ai/settings/api",
                "docs": "https://docs.venice.ai/api-reference",
            },
            "x402Wallet": {
                "header": "SIGN-IN-WITH-X",
                "legacyHeader": "X-Sign-In-With-X",
                "topUp": top_up_route(),
                "docs": "https://docs.venice.ai/api-reference/endpoint/x402/top-up",
            },
        },
    });
    let mut header = requirements;
    header["resource"] = resource;
    ApiError::with_body(StatusCode::PAYMENT_REQUIRED, &body)
        .header("payment-required", b64_json(&header))
}

/// An x402 error of the top-up operation: `{error: CODE, message, details}`, the closed
/// shape the provider documents for its 400 and 500 (no `code` field).
pub(crate) fn x402_error(status: StatusCode, code: &str, message: &str, reason: &str) -> ApiError {
    ApiError::with_body(
        status,
        &json!({ "error": code, "message": message, "details": { "reason": reason } }),
    )
}

/// The 402 of a paid call by a wallet without enough credit: the provider's closed
/// insufficient-balance shape, plus the discovery body in `PAYMENT-REQUIRED`.
pub(crate) fn wallet_without_credit(
    policy: &PaymentPolicy,
    svm: &SvmPaymentPolicy,
    current: f64,
    needed: f64,
    nonce: &str,
) -> ApiError {
    let route = top_up_route();
    let now = SystemTime::now();
    let stamp = |t: SystemTime| humantime::format_rfc3339_millis(t).to_string();
    let body = json!({
        "error": "Payment required",
        "code": "PAYMENT_REQUIRED",
        "reason": "insufficient_balance",
        "message": format!("Wallet credit is too low for this request; top up with {route}."),
        "currentBalanceUsd": current,
        "minimumBalanceUsd": needed,
        "minimumTopUpUsd": MIN_TOP_UP_USD,
        "suggestedTopUpUsd": SUGGESTED_TOP_UP_USD,
        "supportedTokens": ["USDC"],
        "supportedChains": ["base", "solana"],
        "topUpInstructions": {
            "step1": format!("{route} with no payment header to get payment requirements"),
            "step2": "Choose a payment option from accepts and sign a USDC transfer authorization",
            "step3": format!("{route} with the signed PAYMENT-SIGNATURE header"),
            "receiverWallet": policy.pay_to,
            "tokenAddress": policy.asset,
            "tokenDecimals": 6,
            "network": format!("eip155:{}", policy.chain_id),
            "minimumAmountUsd": MIN_TOP_UP_USD,
        },
        "siwxChallenge": {
            "info": {
                "domain": "api.venice.ai",
                "uri": "https://api.venice.ai",
                "version": "1",
                "nonce": nonce,
                "issuedAt": stamp(now),
                "expirationTime": stamp(now + Duration::from_secs(300)),
                "statement": "Sign in to Venice AI",
            },
            "supportedChains": [
                { "chainId": "eip155:8453", "type": "eip191" },
                { "chainId": "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "type": "ed25519" },
            ],
        },
    });
    ApiError::with_body(StatusCode::PAYMENT_REQUIRED, &body)
        .header("payment-required", b64_json(&challenge(policy, svm)))
}

/// The `PAYMENT-REQUIRED` header of a wallet's insufficient-credit 402, as the provider
/// sends it: `{x402Version, error, resource, accepts, extensions}`, each option priced
/// at the $10 suggestion (not the $5 minimum, which discovery and `minimumTopUpUsd`
/// give), Solana's network the bare `solana`.
pub(crate) fn challenge(policy: &PaymentPolicy, svm: &SvmPaymentPolicy) -> Value {
    let units = (SUGGESTED_TOP_UP_USD * 1e6).round() as u64;
    let mut base = accepts_entry(policy);
    base["amount"] = json!(units.to_string());
    let mut solana = svm.requirement(units);
    solana["network"] = json!("solana");
    json!({
        "x402Version": 2,
        "error": "Payment required",
        "resource": {
            "url": "https://api.venice.ai/api/v1",
            "description": "Venice API credit",
            "mimeType": "application/json",
        },
        "accepts": [base, solana],
        "extensions": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        k.sort_unstable();
        k
    }

    #[test]
    fn discovery_has_only_the_documented_fields() {
        let body = payment_requirements(&PaymentPolicy::default(), &SvmPaymentPolicy::default());
        assert_eq!(keys(&body), ["accepts", "x402Version"]);
        for entry in [&body["accepts"][0], &body["accepts"][1]] {
            assert_eq!(
                keys(entry),
                [
                    "amount",
                    "asset",
                    "extra",
                    "maxTimeoutSeconds",
                    "network",
                    "payTo",
                    "scheme"
                ]
            );
            assert_eq!(entry["amount"], "5000000");
        }
        assert_eq!(body["accepts"][0]["network"], "eip155:8453");
        assert_eq!(
            body["accepts"][1]["network"],
            crate::svm::SOLANA_MAINNET_NETWORK
        );
        assert_eq!(
            body["accepts"][1]["extra"]["feePayer"],
            crate::svm::DEFAULT_FEE_PAYER
        );
    }

    #[test]
    fn x402_errors_carry_no_code_field() {
        let ApiError(reply) = x402_error(StatusCode::BAD_REQUEST, "INVALID_PAYMENT", "m", "r");
        let body: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        assert_eq!(keys(&body), ["details", "error", "message"]);
        assert_eq!(body["error"], "INVALID_PAYMENT");
    }

    #[test]
    fn instructions_name_the_top_up_route_from_the_spec() {
        assert!(
            top_up_route().starts_with("POST /api/v1/"),
            "{}",
            top_up_route()
        );
    }
}
