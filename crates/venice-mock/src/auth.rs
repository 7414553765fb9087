//! Authentication: Bearer API keys and Sign-In-With-X through the pluggable verifier.

use http::{HeaderMap, StatusCode};

use crate::config::MockConfig;
use crate::response::ApiError;
use crate::x402::WalletIdentity;

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A Bearer API key.
    ApiKey(String),
    /// A wallet proven by `SIGN-IN-WITH-X`.
    Wallet(WalletIdentity),
}

/// The `SIGN-IN-WITH-X` header value (canonical or legacy name): `None` when absent,
/// `Some(Err)` (401 `X402_SIGN_IN_INVALID_PAYLOAD`) when present but not readable text.
///
/// An unreadable header must not count as absent: the request would then fall back to
/// a Bearer key sent beside it, so a client whose wallet header is corrupted would be
/// served (and charged) on another credential instead of being told.
pub fn siwx_header(headers: &HeaderMap) -> Option<Result<&str, ApiError>> {
    headers
        .get("sign-in-with-x")
        .or_else(|| headers.get("x-sign-in-with-x"))
        .map(|v| {
            v.to_str().map_err(|_| {
                invalid_sign_in("the SIGN-IN-WITH-X header is not visible ASCII (base64 JSON)")
            })
        })
}

/// The Bearer token of `Authorization`.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn auth_failed() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "Authentication failed", None)
}

/// The provider's `X402_SIGN_IN_*` code of a rejected sign-in, from the built-in
/// verifier's reasons (a plugged-in verifier's unknown reasons are `INVALID_MESSAGE`).
pub fn sign_in_code(reason: &str) -> &'static str {
    let has = |w: &str| reason.contains(w);
    if has("base64") || has("header has no") || has("visible ASCII") || has("is required") {
        "X402_SIGN_IN_INVALID_PAYLOAD"
    } else if has("malformed message") || has("message has no") || has("duplicate field") {
        "X402_SIGN_IN_PARSE_ERROR"
    } else if has("nonce already used") {
        "X402_SIGN_IN_NONCE_REUSED"
    } else if has("nonce") {
        "X402_SIGN_IN_MISSING_NONCE"
    } else if has("domain") {
        "X402_SIGN_IN_DOMAIN_MISMATCH"
    } else if has("address differs") {
        "X402_SIGN_IN_ADDRESS_MISMATCH"
    } else if has("chain mismatch") {
        "X402_SIGN_IN_CHAIN_MISMATCH"
    } else if has("unsupported chain") {
        "X402_SIGN_IN_UNSUPPORTED_CHAIN"
    } else if has("chain") {
        "X402_SIGN_IN_INVALID_CHAIN_ID"
    } else if has("expired") {
        "X402_SIGN_IN_EXPIRED"
    } else if has("in the future") {
        "X402_SIGN_IN_FUTURE_TIMESTAMP"
    } else if has("Not Before") {
        "X402_SIGN_IN_NOT_BEFORE"
    } else if has("timestamp") {
        "X402_SIGN_IN_TIMESTAMP_MISMATCH"
    } else if has("not an EVM address") || has("Solana address") || has("not an address") {
        "X402_SIGN_IN_INVALID_WALLET"
    } else if has("signature") {
        "X402_SIGN_IN_INVALID_SIGNATURE"
    } else {
        "X402_SIGN_IN_INVALID_MESSAGE"
    }
}

fn invalid_sign_in(message: &str) -> ApiError {
    ApiError::with_body(
        StatusCode::UNAUTHORIZED,
        &serde_json::json!({
            "error": format!("Invalid Sign-In-With-X header: {message}"),
            "code": sign_in_code(message),
            "message": message,
        }),
    )
}

/// Verifies a SIWX header through the configured verifier.
pub fn verify_siwx(config: &MockConfig, value: &str) -> Result<WalletIdentity, ApiError> {
    match &config.siwx_verifier {
        Some(v) => v.verify(value).map_err(|e| invalid_sign_in(&e)),
        None => Err(invalid_sign_in("no Sign-In-With-X verifier is configured")),
    }
}

/// Authenticates a paid request: SIWX when that header is present, else a Bearer key.
pub fn authenticate(config: &MockConfig, headers: &HeaderMap) -> Result<Principal, ApiError> {
    if let Some(value) = siwx_header(headers) {
        return verify_siwx(config, value?).map(Principal::Wallet);
    }
    authenticate_key(config, headers)
}

/// Bearer auth only (the account operations): a wallet header is no credential there.
pub fn authenticate_key(config: &MockConfig, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = bearer(headers).ok_or_else(auth_failed)?;
    if config.api_keys.iter().any(|k| k == token) {
        Ok(Principal::ApiKey(token.to_owned()))
    } else {
        Err(auth_failed())
    }
}

/// Optional Bearer auth (`/models`, `/image/styles`): nothing sent is fine, a wrong key
/// is a 401. A `SIGN-IN-WITH-X` header is not a credential of these operations: ignored.
pub fn authenticate_optional_bearer(
    config: &MockConfig,
    headers: &HeaderMap,
) -> Result<Option<Principal>, ApiError> {
    if !headers.contains_key(http::header::AUTHORIZATION) {
        return Ok(None);
    }
    let token = bearer(headers).ok_or_else(auth_failed)?;
    if config.api_keys.iter().any(|k| k == token) {
        Ok(Some(Principal::ApiKey(token.to_owned())))
    } else {
        Err(auth_failed())
    }
}

/// Requires a wallet (x402 routes).
pub fn authenticate_wallet(
    config: &MockConfig,
    headers: &HeaderMap,
) -> Result<WalletIdentity, ApiError> {
    match siwx_header(headers) {
        Some(value) => verify_siwx(config, value?),
        None => Err(invalid_sign_in("a SIGN-IN-WITH-X header is required")),
    }
}

/// The key requests are rate-limited under (not verified; a hash-free prefix is enough).
pub fn rate_key(headers: &HeaderMap) -> String {
    if let Some(token) = bearer(headers) {
        format!("key:{token}")
    } else if let Some(Ok(siwx)) = siwx_header(headers) {
        format!("siwx:{}", siwx.chars().take(64).collect::<String>())
    } else {
        // Also an unreadable SIWX header: it is answered 401 before any work.
        "anonymous".to_owned()
    }
}
