//! Routing: the spec decides which operation a method and path select
//! ([`crate::spec::match_operation`]); this module holds the per-operation policy read
//! from the spec (credentials from `security`, paid = charged inference, body media
//! types from `requestBody`) and the one table from `operationId` to handler. Then the
//! request pipeline: route → rate limit → auth → body → faults → handler.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::Value;

use crate::auth::{self, Principal};
use crate::body::{self, BodyIn};
use crate::crypto_rpc;
use crate::faults::Fault;
use crate::handlers::{self, Ctx};
use crate::ratelimit::RateDecision;
use crate::response::{ApiError, Delivery, Reply};
use crate::spec::{self, OperationMatch, RouteMiss};
use crate::state::AppState;

/// Most files of one `multipart/form-data` body (the provider's transport limit).
const MAX_FORM_FILES: usize = 10;

/// How an operation authenticates, from its `security` requirements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMode {
    /// `security: []`: no credentials (a key or wallet sent anyway is not checked).
    None,
    /// An empty requirement `{}` among others: anonymous, or a valid Bearer key (the
    /// only other scheme these operations list; a `SIGN-IN-WITH-X` header is not a
    /// credential here and is neither verified nor its nonce burned).
    Optional,
    /// A Bearer key or a wallet.
    Required,
    /// Only the `SIGN-IN-WITH-X` scheme.
    Wallet,
    /// Only a Bearer key (the account operations: a wallet has no API-key account).
    Key,
}

/// What the pipeline needs to know of an operation, read from the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Credentials.
    pub auth: AuthMode,
    /// Charged inference: documents a 402 and needs credentials. Faults apply here.
    pub paid: bool,
    /// Takes a request body.
    pub has_body: bool,
}

fn policy_of(op: &Value) -> Policy {
    let doc = spec::document();
    let requirements: Vec<&serde_json::Map<String, Value>> = op
        .get("security")
        .or_else(|| doc.get("security"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let is_wallet_scheme = |name: &String| {
        doc.pointer(&format!("/components/securitySchemes/{name}"))
            .and_then(|s| s.get("type"))
            .and_then(Value::as_str)
            == Some("apiKey")
    };
    let lists_wallet = requirements.iter().any(|r| r.keys().any(is_wallet_scheme));
    // `security: []` or only `{}` (e.g. `listCryptoRpcNetworks`): public, no scheme at all.
    let auth = if requirements.iter().all(|r| r.is_empty()) {
        AuthMode::None
    } else if requirements.iter().any(|r| r.is_empty()) && !lists_wallet {
        AuthMode::Optional
    } else if requirements.iter().all(|r| r.keys().all(is_wallet_scheme)) {
        AuthMode::Wallet
    } else if !lists_wallet {
        AuthMode::Key
    } else {
        AuthMode::Required
    };
    let documents_402 = op.pointer("/responses/402").is_some();
    Policy {
        auth,
        paid: documents_402 && auth == AuthMode::Required,
        has_body: op.get("requestBody").is_some(),
    }
}

static POLICIES: LazyLock<HashMap<&'static str, Policy>> = LazyLock::new(|| {
    spec::operation_ids()
        .into_iter()
        .filter_map(|id| Some((id, policy_of(spec::embedded().operation(id)?))))
        .collect()
});

/// The policy of an operation of the spec (`None` for an unknown `operationId`).
pub(crate) fn policy(operation_id: &str) -> Option<&'static Policy> {
    POLICIES.get(operation_id)
}

/// The operation of a request, or its JSON 404 / 405.
pub(crate) fn route(method: &Method, path: &str) -> Result<OperationMatch<'static>, ApiError> {
    spec::match_operation(method.as_str(), path).map_err(|miss| match miss {
        RouteMiss::NotFound => ApiError::new(StatusCode::NOT_FOUND, "Not found", Some("NOT_FOUND")),
        RouteMiss::MethodNotAllowed(allowed) => {
            let allowed = allowed.join(", ");
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("Method {method} is not allowed; use {allowed}"),
                Some("METHOD_NOT_ALLOWED"),
            )
            .header("allow", allowed)
        }
    })
}

/// The one table from `operationId` to handler.
async fn dispatch(ctx: Ctx<'_>) -> Result<Reply, ApiError> {
    match ctx.operation.operation_id {
        "generateImage" => handlers::generate(ctx).await,
        "simpleGenerateImage" => handlers::simple_generate(ctx).await,
        "listImageStyles" => Ok(handlers::styles()),
        "listModels" => handlers::models(&ctx),
        "upscaleImage" => handlers::upscale(ctx).await,
        "editImage" => handlers::edit(ctx).await,
        "multiEditImage" => handlers::multi_edit(ctx).await,
        "backgroundRemoveImage" => handlers::background_remove(ctx).await,
        "getX402Balance" => handlers::balance(&ctx),
        "getX402Transactions" => handlers::transactions(&ctx),
        "topUpX402Balance" => handlers::top_up(&ctx),
        "listCryptoRpcNetworks" => Ok(crypto_rpc::networks()),
        "cryptoRpcProxy" => crypto_rpc::proxy(&ctx),
        "getBillingBalance" => Ok(handlers::billing_balance(&ctx)),
        "getApiKeyRateLimits" => Ok(handlers::api_key_rate_limits(&ctx)),
        other => Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            &format!("venice-mock does not implement {other}"),
            Some("NOT_IMPLEMENTED"),
        )),
    }
}

/// Every `operationId` [`dispatch`] serves (checked against the spec by a test).
#[cfg(test)]
const SERVED: &[&str] = &[
    "generateImage",
    "simpleGenerateImage",
    "listImageStyles",
    "listModels",
    "upscaleImage",
    "editImage",
    "multiEditImage",
    "backgroundRemoveImage",
    "getX402Balance",
    "getX402Transactions",
    "topUpX402Balance",
    "listCryptoRpcNetworks",
    "cryptoRpcProxy",
    "getBillingBalance",
    "getApiKeyRateLimits",
];

pub(crate) fn rate_limited(retry_after: u64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded",
        Some("RATE_LIMIT_EXCEEDED"),
    )
    .header("retry-after", retry_after.to_string())
}

/// Rate-limit headers of a 429 fault: nothing left until `retry_after` from now (the
/// real window's reset would tell a client to wait up to a whole window).
fn fault_429(retry_after: Duration, limit: u32) -> ApiError {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let secs = secs.max(1);
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        + secs;
    rate_limited(secs)
        .header("x-ratelimit-limit-requests", limit.to_string())
        .header("x-ratelimit-remaining-requests", "0")
        .header("x-ratelimit-reset-requests", reset.to_string())
}

/// A request body not read yet; whatever is left is drained after the answer.
pub(crate) struct BodySlot<B>(pub Option<B>);

/// One request through the pipeline. `slot` still holds the body when the request was
/// refused before reading it; `decision` (the key-wide one) is replaced by the model's
/// when an inference request counts against a per-model limit.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn pipeline<B: BodyIn>(
    state: &AppState,
    headers: &HeaderMap,
    slot: &mut BodySlot<B>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    decision: &mut RateDecision,
    recorded_body: &mut Option<Value>,
) -> Result<Reply, ApiError> {
    let operation = route(method, path)?;
    let policy = policy(operation.operation_id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Not found", Some("NOT_FOUND")))?;
    if !decision.allowed {
        return Err(rate_limited(decision.retry_after));
    }
    let principal: Option<Principal> = match policy.auth {
        AuthMode::None => None,
        AuthMode::Optional => auth::authenticate_optional_bearer(&state.config, headers)?,
        AuthMode::Required => Some(auth::authenticate(&state.config, headers)?),
        AuthMode::Wallet => Some(Principal::Wallet(auth::authenticate_wallet(
            &state.config,
            headers,
        )?)),
        AuthMode::Key => Some(auth::authenticate_key(&state.config, headers)?),
    };
    if policy.paid && handlers::payment_header(headers).is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            &format!(
                "Payment headers are only accepted by {}",
                crate::shapes::top_up_route()
            ),
            Some("PAYMENT_HEADER_NOT_ACCEPTED"),
        ));
    }
    let body = match (policy.has_body, slot.0.take()) {
        (true, Some(b)) => {
            body::read(
                headers,
                b,
                body::Limits {
                    json: state.config.max_body_bytes,
                    file: state.config.max_upload_file_bytes,
                    files: MAX_FORM_FILES,
                },
                operation.operation_id,
                recorded_body,
            )
            .await?
        }
        (false, Some(b)) => {
            body::read_unused(headers, b, state.config.max_body_bytes).await?;
            Value::Null
        }
        (_, None) => Value::Null,
    };
    // Inference also counts against the limit of the model that serves it; its window
    // is then what the rate-limit headers describe.
    if policy.paid
        && let Some(limiter) = &state.model_limiter
        && let Some(model) = handlers::served_model(state, operation.operation_id, &body)
    {
        *decision = limiter.check(&auth::rate_key(headers), &model);
        if !decision.allowed {
            return Err(rate_limited(decision.retry_after));
        }
    }
    let fault = if policy.paid {
        state.faults.next()
    } else {
        None
    };
    match &fault {
        Some(Fault::Latency(d)) => tokio::time::sleep(*d).await,
        Some(Fault::Status500) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Inference processing failed",
                Some("INFERENCE_FAILED"),
            ));
        }
        Some(Fault::Status503) => {
            let secs = state.faults.retry_after().as_secs().max(1);
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The model is at capacity. Please try again later.",
                Some("MODEL_AT_CAPACITY"),
            )
            .header("retry-after", secs.to_string()));
        }
        Some(Fault::Status429) => {
            return Err(fault_429(state.faults.retry_after(), decision.limit));
        }
        Some(Fault::ResetConnection) => {
            let mut r = Reply::json(StatusCode::OK, &Value::Null);
            r.delivery = Delivery::Reset;
            return Ok(r);
        }
        Some(Fault::MalformedJson) => {
            let mut r = Reply::json(StatusCode::OK, &Value::Null);
            r.body = Bytes::from_static(b"{\"id\": \"generate-image-0\", \"images\": [\"iVBOR");
            r.compressible = false;
            return Ok(r);
        }
        Some(Fault::WrongContentType) => {
            return Ok(Reply::binary(
                "text/html",
                Bytes::from_static(b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
            ));
        }
        Some(Fault::TruncatedBody) | None => {}
    }
    let ctx = Ctx {
        state,
        principal,
        body,
        query,
        headers,
        operation: &operation,
    };
    let mut reply = dispatch(ctx).await?;
    if fault == Some(Fault::TruncatedBody) {
        reply.delivery = Delivery::Truncated;
    }
    Ok(reply)
}

/// Sets the rate-limit headers of a decision, unless the reply set its own (a 429
/// fault advertises its own reset).
pub(crate) fn rate_headers(reply: &mut Reply, d: &RateDecision) {
    let h = &mut reply.headers;
    if h.contains_key("x-ratelimit-reset-requests") {
        return;
    }
    h.insert("x-ratelimit-limit-requests", HeaderValue::from(d.limit));
    h.insert(
        "x-ratelimit-remaining-requests",
        HeaderValue::from(d.remaining),
    );
    h.insert(
        "x-ratelimit-reset-requests",
        HeaderValue::from(d.reset_unix),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_the_spec_has_a_handler_and_a_policy() {
        let mut ids = spec::operation_ids();
        ids.sort_unstable();
        let mut served = SERVED.to_vec();
        served.sort_unstable();
        assert_eq!(ids, served);
        for id in ids {
            assert!(policy(id).is_some(), "{id}");
        }
    }

    #[test]
    fn policies_follow_the_spec_security() {
        let p = |id| policy(id).cloned();
        assert_eq!(
            p("generateImage"),
            Some(Policy {
                auth: AuthMode::Required,
                paid: true,
                has_body: true
            })
        );
        assert_eq!(
            p("listModels"),
            Some(Policy {
                auth: AuthMode::Optional,
                paid: false,
                has_body: false
            })
        );
        assert_eq!(p("getX402Balance").map(|p| p.auth), Some(AuthMode::Wallet));
        assert_eq!(
            p("listCryptoRpcNetworks").map(|p| p.auth),
            Some(AuthMode::None)
        );
        assert_eq!(
            p("cryptoRpcProxy"),
            Some(Policy {
                auth: AuthMode::Required,
                paid: true,
                has_body: true
            })
        );
        assert_eq!(
            p("getBillingBalance"),
            Some(Policy {
                auth: AuthMode::Key,
                paid: false,
                has_body: false
            })
        );
        assert_eq!(
            p("getApiKeyRateLimits").map(|p| p.auth),
            Some(AuthMode::Key)
        );
        assert_eq!(
            p("topUpX402Balance"),
            Some(Policy {
                auth: AuthMode::None,
                paid: false,
                has_body: false
            })
        );
    }

    #[test]
    fn traversal_and_wrong_methods() {
        let base = spec::embedded().base_path().to_owned();
        let ok = route(&Method::GET, &format!("{base}/models"));
        assert_eq!(ok.map(|m| m.operation_id).ok(), Some("listModels"));
        for path in [
            format!("{base}/x402/balance/../../models"),
            format!("{base}/x402/balance/%2e%2e/%2E%2E/models"),
            format!("{base}//models"),
            format!("{base}/x402/balance/a%2Fb"),
            "/models".to_owned(),
        ] {
            let ApiError(reply) = route(&Method::GET, &path)
                .err()
                .unwrap_or_else(|| ApiError::new(StatusCode::OK, "matched", None));
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        }
        let ApiError(reply) = route(&Method::DELETE, &format!("{base}/models"))
            .err()
            .unwrap_or_else(|| ApiError::new(StatusCode::OK, "matched", None));
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            reply.headers.get("allow").map(|v| v.as_bytes()),
            Some(&b"GET"[..])
        );
        let wallet = route(&Method::GET, &format!("{base}/x402/balance/0xAbC"));
        assert_eq!(
            wallet
                .ok()
                .and_then(|m| m.path_param("walletAddress").map(str::to_owned)),
            Some("0xAbC".to_owned())
        );
    }
}
