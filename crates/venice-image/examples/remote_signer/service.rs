//! A small signing service over HTTP, the shape a KMS, an HSM gateway or a wallet's
//! signing API has, and the client-side signers that call it: [`RemoteEvmSigner`] and
//! [`RemoteSolanaSigner`] implement the library's signer traits with one HTTP call per
//! signature. The keys live in the service only.
//!
//! Protocol (JSON, bytes in base64): `GET /{evm,solana}/address` → `{address}`;
//! `POST /evm/sign-message`, `/evm/sign-hash`, `/solana/sign-message`,
//! `/solana/sign-transaction` with `{bytes}` → `{signature}`; `PUT /mode` with
//! `{mode: "sign" | "fail" | "hang"}` makes it answer, refuse (503) or never answer, to
//! show what a client sees when a signer is down.
//!
//! Shared by `examples/remote_signer.rs` and `tests/remote_signer.rs`.

// The example uses part of this module, the tests all of it. A poisoned lock or a
// failed admin call is a bug of this demo service: it may panic.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};
use venice_image::async_trait;
use venice_image::wallet::{
    EvmSigner, LocalEvmSigner, LocalSolanaSigner, SignerError, SolanaSigner,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// How the service answers signing requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Sign.
    Sign,
    /// Refuse with 503.
    Fail,
    /// Never answer.
    Hang,
}

struct Keys {
    evm: LocalEvmSigner,
    solana: LocalSolanaSigner,
    mode: Mutex<Mode>,
    signatures: Mutex<Vec<&'static str>>,
}

/// A running signing service on 127.0.0.1.
pub struct SigningService {
    url: String,
    keys: Arc<Keys>,
}

type Reply = Result<Json<Value>, (StatusCode, Json<Value>)>;

fn bytes_of(body: &Value) -> Result<Vec<u8>, (StatusCode, Json<Value>)> {
    body.get("bytes")
        .and_then(Value::as_str)
        .and_then(|b| B64.decode(b).ok())
        .ok_or((
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "`bytes` must be base64"})),
        ))
}

/// Apply the mode and record the call: `Err` is the refusal to send.
async fn gate(keys: &Keys, what: &'static str) -> Result<(), (StatusCode, Json<Value>)> {
    let mode = *keys.mode.lock().unwrap();
    match mode {
        Mode::Fail => {
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": "HSM unavailable"})),
            ));
        }
        Mode::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
        Mode::Sign => {}
    }
    keys.signatures.lock().unwrap().push(what);
    Ok(())
}

fn signed(signature: Result<Vec<u8>, SignerError>) -> Reply {
    let signature = signature.map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": e.to_string() })),
        )
    })?;
    Ok(Json(json!({ "signature": B64.encode(signature) })))
}

impl SigningService {
    /// Start a service holding these keys (moved in: the caller keeps no copy).
    pub async fn start(evm: LocalEvmSigner, solana: LocalSolanaSigner) -> std::io::Result<Self> {
        let keys = Arc::new(Keys {
            evm,
            solana,
            mode: Mutex::new(Mode::Sign),
            signatures: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route(
                "/evm/address",
                get(|State(k): State<Arc<Keys>>| async move {
                    Json(json!({ "address": k.evm.address() }))
                }),
            )
            .route(
                "/solana/address",
                get(|State(k): State<Arc<Keys>>| async move {
                    Json(json!({ "address": k.solana.address() }))
                }),
            )
            .route(
                "/evm/sign-message",
                post(
                    |State(k): State<Arc<Keys>>, Json(b): Json<Value>| async move {
                        let bytes = bytes_of(&b)?;
                        gate(&k, "evm/sign-message").await?;
                        signed(k.evm.sign_message(&bytes).await.map(|s| s.to_vec()))
                    },
                ),
            )
            .route(
                "/evm/sign-hash",
                post(
                    |State(k): State<Arc<Keys>>, Json(b): Json<Value>| async move {
                        let bytes = bytes_of(&b)?;
                        let digest: [u8; 32] = bytes.try_into().map_err(|_| {
                            (
                                StatusCode::BAD_REQUEST,
                                Json(json!({"error": "a digest is 32 bytes"})),
                            )
                        })?;
                        gate(&k, "evm/sign-hash").await?;
                        signed(k.evm.sign_hash(&digest).await.map(|s| s.to_vec()))
                    },
                ),
            )
            .route(
                "/solana/sign-message",
                post(
                    |State(k): State<Arc<Keys>>, Json(b): Json<Value>| async move {
                        let bytes = bytes_of(&b)?;
                        gate(&k, "solana/sign-message").await?;
                        signed(k.solana.sign_message(&bytes).await.map(|s| s.to_vec()))
                    },
                ),
            )
            .route(
                "/solana/sign-transaction",
                post(
                    |State(k): State<Arc<Keys>>, Json(b): Json<Value>| async move {
                        let bytes = bytes_of(&b)?;
                        // A real service would decode the transaction and apply a policy
                        // (e.g. only USDC transfers to the provider, under a daily cap).
                        gate(&k, "solana/sign-transaction").await?;
                        signed(k.solana.sign_transaction(&bytes).await.map(|s| s.to_vec()))
                    },
                ),
            )
            .route(
                "/mode",
                put(
                    |State(k): State<Arc<Keys>>, Json(b): Json<Value>| async move {
                        let mode = match b.get("mode").and_then(Value::as_str) {
                            Some("sign") => Mode::Sign,
                            Some("fail") => Mode::Fail,
                            Some("hang") => Mode::Hang,
                            _ => return StatusCode::BAD_REQUEST,
                        };
                        *k.mode.lock().unwrap() = mode;
                        StatusCode::NO_CONTENT
                    },
                ),
            )
            .with_state(keys.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, keys })
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The signing calls answered so far, e.g. `evm/sign-hash`.
    pub fn signatures(&self) -> Vec<&'static str> {
        self.keys.signatures.lock().unwrap().clone()
    }
}

/// Switch the service at `url` to `mode` (over HTTP: it may run in another process).
pub async fn set_mode(url: &str, mode: Mode) {
    let mode = match mode {
        Mode::Sign => "sign",
        Mode::Fail => "fail",
        Mode::Hang => "hang",
    };
    let status = http()
        .put(format!("{url}/mode"))
        .json(&json!({ "mode": mode }))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// One signing call: POST `bytes`, read back `signature`.
async fn remote_sign<const N: usize>(
    http: &reqwest::Client,
    url: String,
    bytes: &[u8],
) -> Result<[u8; N], SignerError> {
    let response = http
        .post(url)
        .json(&json!({ "bytes": B64.encode(bytes) }))
        .send()
        .await
        .map_err(|e| SignerError::with_source("the signing service is unreachable", e))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| SignerError::with_source("the signing service sent no JSON", e))?;
    if !status.is_success() {
        let why = body["error"].as_str().unwrap_or("no reason").to_owned();
        return Err(SignerError::with_source(
            format!("the signing service refused ({status})"),
            why,
        ));
    }
    body["signature"]
        .as_str()
        .and_then(|s| B64.decode(s).ok())
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or_else(|| SignerError::new("the signing service sent a malformed signature"))
}

async fn remote_address(http: &reqwest::Client, url: String) -> Result<String, SignerError> {
    let body: Value = http
        .get(url)
        .send()
        .await
        .map_err(|e| SignerError::with_source("the signing service is unreachable", e))?
        .json()
        .await
        .map_err(|e| SignerError::with_source("the signing service sent no JSON", e))?;
    body["address"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| SignerError::new("the signing service sent no address"))
}

/// An [`EvmSigner`] whose key is in a signing service.
#[derive(Debug)]
pub struct RemoteEvmSigner {
    http: reqwest::Client,
    base: String,
    address: String,
}

impl RemoteEvmSigner {
    /// Ask the service at `base` for its EVM address.
    pub async fn connect(base: &str) -> Result<Self, SignerError> {
        let http = http();
        let address = remote_address(&http, format!("{base}/evm/address")).await?;
        Ok(Self {
            http,
            base: base.to_owned(),
            address,
        })
    }
}

#[async_trait]
impl EvmSigner for RemoteEvmSigner {
    fn address(&self) -> &str {
        &self.address
    }

    async fn sign_message(&self, message: &[u8]) -> Result<[u8; 65], SignerError> {
        remote_sign(
            &self.http,
            format!("{}/evm/sign-message", self.base),
            message,
        )
        .await
    }

    async fn sign_hash(&self, digest: &[u8; 32]) -> Result<[u8; 65], SignerError> {
        remote_sign(&self.http, format!("{}/evm/sign-hash", self.base), digest).await
    }
}

/// A [`SolanaSigner`] whose key is in a signing service.
#[derive(Debug)]
pub struct RemoteSolanaSigner {
    http: reqwest::Client,
    base: String,
    address: String,
}

impl RemoteSolanaSigner {
    /// Ask the service at `base` for its Solana address.
    pub async fn connect(base: &str) -> Result<Self, SignerError> {
        let http = http();
        let address = remote_address(&http, format!("{base}/solana/address")).await?;
        Ok(Self {
            http,
            base: base.to_owned(),
            address,
        })
    }
}

#[async_trait]
impl SolanaSigner for RemoteSolanaSigner {
    fn address(&self) -> &str {
        &self.address
    }

    async fn sign_message(&self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        remote_sign(
            &self.http,
            format!("{}/solana/sign-message", self.base),
            message,
        )
        .await
    }

    async fn sign_transaction(&self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        remote_sign(
            &self.http,
            format!("{}/solana/sign-transaction", self.base),
            message,
        )
        .await
    }
}
