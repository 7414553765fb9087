//! Routing: the spec decides which operation a method and path select
//! ([`crate::spec::match_operation`]); this module holds the per-operation policy read
//! from the spec (credentials from `security`, paid = charged inference, body media
//! types from `requestBody`) and the one table from `operationId` to handler. Then the
//! request pipeline: route → key-wide limit → auth → route limit → body → error budget →
//! wallet in-flight cap → model limit → faults → handler, and the limits' headers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::Value;

use crate::auth::{self, Principal};
use crate::body::{self, BodyIn};
use crate::crypto_rpc;
use crate::error_budget::{self, Bucket};
use crate::faults::Fault;
use crate::handlers::{self, Ctx};
use crate::ratelimit::RateDecision;
use crate::response::{ApiError, Delivery, Reply};
use crate::spec::{self, OperationMatch, RouteMiss};
use crate::state::{AppState, wallet_key};
use crate::wallet_inflight::InFlight;

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
    /// Needs an ADMIN key (`x-venice-admin-key: true` in the spec): an INFERENCE key is
    /// answered 401 "Admin API key required".
    pub admin: bool,
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
        admin: op.get("x-venice-admin-key").and_then(Value::as_bool) == Some(true),
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

/// The 429 of a model's (or the key-wide) request window: "Rate limit exceeded", no
/// `Retry-After` (the provider's may carry none): the window's headers say when it
/// resets, in Unix milliseconds.
pub(crate) fn rate_limited() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded",
        Some("RATE_LIMIT_EXCEEDED"),
    )
}

/// Rate-limit headers of a 429 fault: nothing left until `retry_after` from now (the
/// real window's reset would tell a client to wait up to a whole window).
fn fault_429(retry_after: Duration, limit: u32) -> ApiError {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let secs = secs.max(1);
    let reset_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + u128::from(secs) * 1000;
    rate_limited()
        .header("retry-after", secs.to_string())
        .header("x-ratelimit-limit-requests", limit.to_string())
        .header("x-ratelimit-remaining-requests", "0")
        .header("x-ratelimit-reset-requests", reset_ms.to_string())
}

/// The provider's overloaded model: `Retry-After` in seconds, the provider's message.
fn overloaded(retry_after: Duration) -> ApiError {
    let secs = (retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "The model is currently overloaded. Please try again later.",
        None,
    )
    .header("retry-after", secs.to_string())
}

/// A request body not read yet; whatever is left is drained after the answer.
pub(crate) struct BodySlot<B>(pub Option<B>);

/// What the pipeline learnt of a request that its answer's headers and the limits need.
#[derive(Debug, Default)]
pub(crate) struct Ticket {
    /// The request window the answer describes (inference operations only: the key-wide
    /// window, replaced by the model's once the request counts against it).
    decision: Option<RateDecision>,
    /// The error-budget bucket of a credentialed request.
    bucket: Option<Bucket>,
    /// The answer is judged by the error budget (false for what is refused before the
    /// budget is looked at, and for the lockout itself).
    budgeted: bool,
    /// An answer of a limiter that sends no rate-limit header of any kind.
    bare: bool,
    /// The wallet's place among its requests in flight, held until the answer is ready.
    _in_flight: Option<InFlight>,
}

/// One request, answered: the key-wide limit, the pipeline, then the limits' bookkeeping
/// and headers (the model window, the error budget).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn answer<B: BodyIn>(
    state: &AppState,
    headers: &HeaderMap,
    slot: &mut BodySlot<B>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    peer: IpAddr,
    recorded_body: &mut Option<Value>,
) -> Reply {
    let mut ticket = Ticket::default();
    let mut reply = match pipeline(
        state,
        headers,
        slot,
        method,
        path,
        query,
        peer,
        &mut ticket,
        recorded_body,
    )
    .await
    {
        Ok(r) => r,
        Err(ApiError(r)) => *r,
    };
    settle(state, &ticket, &mut reply);
    reply
}

/// Count a budgeted failure and put the limits' headers on the answer.
fn settle(state: &AppState, ticket: &Ticket, reply: &mut Reply) {
    if ticket.bare {
        return;
    }
    if let Some(bucket) = &ticket.bucket {
        let now = SystemTime::now();
        if ticket.budgeted && error_budget::counts(reply) {
            state.error_budget.fail(bucket, now);
        }
        if !reply.headers.contains_key("x-ratelimit-resets")
            && let Some(budget) = state.error_budget.state(bucket, now)
        {
            error_budget::headers(reply, budget);
        }
    }
    if let Some(d) = &ticket.decision {
        rate_headers(reply, d);
    }
}

/// Refuse a request of a locked bucket, or judge its refusal `e` by the budget.
fn judged(state: &AppState, ticket: &mut Ticket, e: ApiError) -> ApiError {
    if let Some(locked) = locked(state, ticket) {
        return locked;
    }
    ticket.budgeted = true;
    e
}

/// The lockout 429 when the request's bucket is locked.
fn locked(state: &AppState, ticket: &mut Ticket) -> Option<ApiError> {
    let bucket = ticket.bucket.as_ref()?;
    let budget = state.error_budget.state(bucket, SystemTime::now())?;
    budget.locked.then(|| {
        ticket.budgeted = false;
        state.error_budget.lockout(budget)
    })
}

/// One request through the pipeline. `slot` still holds the body when the request was
/// refused before reading it; `ticket` collects what the answer's bookkeeping needs.
#[allow(clippy::too_many_arguments)]
async fn pipeline<B: BodyIn>(
    state: &AppState,
    headers: &HeaderMap,
    slot: &mut BodySlot<B>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    peer: IpAddr,
    ticket: &mut Ticket,
    recorded_body: &mut Option<Value>,
) -> Result<Reply, ApiError> {
    let operation = route(method, path)?;
    let policy = policy(operation.operation_id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Not found", Some("NOT_FOUND")))?;
    let key_wide = state.limiter.check(&auth::rate_key(headers));
    if is_inference(policy, operation.operation_id) {
        ticket.decision = Some(key_wide);
    }
    if !key_wide.allowed {
        return Err(rate_limited());
    }
    let principal = admit_caller(
        state,
        headers,
        path,
        operation.operation_id,
        policy,
        peer,
        ticket,
    )?;
    let body = read_body(
        state,
        headers,
        slot.0.take(),
        policy.has_body,
        operation.operation_id,
        ticket,
        recorded_body,
    )
    .await?;
    admit_work(
        state,
        headers,
        operation.operation_id,
        policy,
        principal.as_ref(),
        &body,
        ticket,
    )?;
    let fault = if policy.paid {
        state.faults.next()
    } else {
        None
    };
    if let Some(reply) = apply_fault(state, ticket, key_wide, fault.as_ref()).await? {
        return Ok(reply);
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

/// Charged inference: what the model windows count (the crypto RPC proxy is charged,
/// but serves no model).
fn is_inference(policy: &Policy, operation_id: &str) -> bool {
    policy.paid && operation_id != "cryptoRpcProxy"
}

/// The caller, authenticated as the operation asks, within the route's own limit, and
/// not sending a payment where only the top-up takes one.
fn admit_caller(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    operation_id: &str,
    policy: &Policy,
    peer: IpAddr,
    ticket: &mut Ticket,
) -> Result<Option<Principal>, ApiError> {
    // Public operations are not the budget's; without credentials nothing counts.
    if policy.auth != AuthMode::None {
        ticket.bucket = Bucket::of_credentials(headers, peer);
    }
    if matches!(
        policy.auth,
        AuthMode::Required | AuthMode::Key | AuthMode::Wallet
    ) && auth::has_no_credentials(headers)
    {
        return Err(crate::shapes::credentials_required(
            &state.config.payment_policy,
            &state.config.svm_payment_policy,
            path,
            policy.auth != AuthMode::Wallet,
        ));
    }
    let principal = authenticate(state, headers, policy.auth, ticket)?;
    if policy.admin
        && let Some(Principal::ApiKey(key)) = &principal
        && !auth::is_admin_key(&state.config, key)
    {
        return Err(judged(state, ticket, auth::admin_key_required()));
    }
    let caller = principal.as_ref().map(|p| match p {
        Principal::ApiKey(k) => format!("key:{k}"),
        Principal::Wallet(w) => format!("wallet:{}", wallet_key(&w.address)),
    });
    if let Err(e) = state.route_limits.check(operation_id, caller, peer) {
        ticket.bare = true;
        return Err(e);
    }
    if policy.paid && handlers::payment_header(headers).is_some() {
        return Err(judged(
            state,
            ticket,
            ApiError::new(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Payment headers are only accepted by {}",
                    crate::shapes::top_up_route()
                ),
                Some("PAYMENT_HEADER_NOT_ACCEPTED"),
            ),
        ));
    }
    Ok(principal)
}

/// The request, now that its body names the model: outside a lockout of its bucket,
/// within the wallet's in-flight cap and the serving model's window.
fn admit_work(
    state: &AppState,
    headers: &HeaderMap,
    operation_id: &str,
    policy: &Policy,
    principal: Option<&Principal>,
    body: &Value,
    ticket: &mut Ticket,
) -> Result<(), ApiError> {
    narrow(ticket, headers, Some(body));
    if let Some(lockout) = locked(state, ticket) {
        return Err(lockout);
    }
    ticket.budgeted = true;
    if policy.paid
        && let Some(Principal::Wallet(wallet)) = principal
    {
        match state.wallet_in_flight.enter(&wallet_key(&wallet.address)) {
            Ok(guard) => ticket._in_flight = Some(guard),
            Err(e) => {
                ticket.bare = true;
                return Err(e);
            }
        }
    }
    // Inference also counts against the limit of the model that serves it; its window
    // is then what the rate-limit headers describe.
    if is_inference(policy, operation_id)
        && let Some(limiter) = &state.model_limiter
        && let Some(model) = handlers::served_model(state, operation_id, body)
    {
        let decision = limiter.check(&auth::rate_key(headers), &model);
        ticket.decision = Some(decision);
        if !decision.allowed {
            return Err(rate_limited());
        }
    }
    Ok(())
}

/// Who is calling, as the operation's `auth` mode asks; a refusal is judged by the
/// error budget.
fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    mode: AuthMode,
    ticket: &mut Ticket,
) -> Result<Option<Principal>, ApiError> {
    let judge = |ticket: &mut Ticket, e| judged(state, ticket, e);
    Ok(match mode {
        AuthMode::None => None,
        AuthMode::Optional => auth::authenticate_optional_bearer(&state.config, headers)
            .map_err(|e| judge(ticket, e))?,
        AuthMode::Required => {
            Some(auth::authenticate(&state.config, headers).map_err(|e| judge(ticket, e))?)
        }
        AuthMode::Wallet => Some(Principal::Wallet(
            auth::authenticate_wallet(&state.config, headers).map_err(|e| judge(ticket, e))?,
        )),
        AuthMode::Key => {
            Some(auth::authenticate_key(&state.config, headers).map_err(|e| judge(ticket, e))?)
        }
    })
}

/// The request body as JSON (`Null` when the operation takes none, after draining what
/// came): refusals of the media type, the JSON or the size come before the error
/// budget; the others count against the bucket the body names.
async fn read_body<B: BodyIn>(
    state: &AppState,
    headers: &HeaderMap,
    body: Option<B>,
    has_body: bool,
    operation_id: &str,
    ticket: &mut Ticket,
    recorded_body: &mut Option<Value>,
) -> Result<Value, ApiError> {
    match (has_body, body) {
        (true, Some(b)) => {
            let limits = body::Limits {
                json: state.config.max_body_bytes,
                file: state.config.max_upload_file_bytes,
                files: MAX_FORM_FILES,
            };
            match body::read(headers, b, limits, operation_id, recorded_body).await {
                Ok(body) => Ok(body),
                Err(e) if !error_budget::counts(&e.0) => Err(e),
                Err(e) => {
                    narrow(ticket, headers, recorded_body.as_ref());
                    Err(judged(state, ticket, e))
                }
            }
        }
        (false, Some(b)) => {
            body::read_unused(headers, b, state.config.max_body_bytes).await?;
            Ok(Value::Null)
        }
        (_, None) => Ok(Value::Null),
    }
}

/// What the planned fault does: wait, answer an error, or answer in its place (`Some`
/// reply); `None` lets the operation run.
async fn apply_fault(
    state: &AppState,
    ticket: &Ticket,
    key_wide: RateDecision,
    fault: Option<&Fault>,
) -> Result<Option<Reply>, ApiError> {
    match fault {
        Some(Fault::Latency(d)) => {
            tokio::time::sleep(*d).await;
            Ok(None)
        }
        Some(Fault::Status500) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Inference processing failed",
            Some("INFERENCE_FAILED"),
        )),
        Some(Fault::Status503) => {
            let secs = state.faults.retry_after().as_secs().max(1);
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The model is at capacity. Please try again later.",
                Some("MODEL_AT_CAPACITY"),
            )
            .header("retry-after", secs.to_string()))
        }
        Some(Fault::Status429) => {
            let limit = ticket.decision.map_or(key_wide.limit, |d| d.limit);
            Err(fault_429(state.faults.retry_after(), limit))
        }
        Some(Fault::Overloaded) => Err(overloaded(state.faults.overloaded_retry_after())),
        Some(Fault::ResetConnection) => {
            let mut r = Reply::json(StatusCode::OK, &Value::Null);
            r.delivery = Delivery::Reset;
            Ok(Some(r))
        }
        Some(Fault::MalformedJson) => {
            let mut r = Reply::json(StatusCode::OK, &Value::Null);
            r.body = Bytes::from_static(b"{\"id\": \"generate-image-0\", \"images\": [\"iVBOR");
            r.compressible = false;
            Ok(Some(r))
        }
        Some(Fault::WrongContentType) => Ok(Some(Reply::binary(
            "text/html",
            Bytes::from_static(b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
        ))),
        Some(Fault::TruncatedBody) | None => Ok(None),
    }
}

/// Narrow the ticket's bucket to the model and user the body names.
fn narrow(ticket: &mut Ticket, headers: &HeaderMap, body: Option<&Value>) {
    if let Some(body) = body {
        ticket.bucket = ticket.bucket.take().map(|b| b.narrowed(headers, body));
    }
}

/// Sets the model window's headers of a decision (reset in Unix milliseconds), unless
/// the reply set its own (a 429 fault advertises its own reset).
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
        HeaderValue::from(d.reset_unix_ms),
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
                has_body: true,
                admin: false
            })
        );
        assert_eq!(
            p("listModels"),
            Some(Policy {
                auth: AuthMode::Optional,
                paid: false,
                has_body: false,
                admin: false
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
                has_body: true,
                admin: false
            })
        );
        assert_eq!(
            p("getBillingBalance"),
            Some(Policy {
                auth: AuthMode::Key,
                paid: false,
                has_body: false,
                admin: true
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
                has_body: false,
                admin: false
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
