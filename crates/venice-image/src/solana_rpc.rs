//! The chain data of a Solana top-up (feature `wallet`): a recent blockhash and the USDC
//! mint's token program and decimals, read with one JSON-RPC batch
//! (`getLatestBlockhash`, `getAccountInfo`).
//!
//! Two endpoints:
//! - the provider's proxy, through the generated client (`cryptoRpcProxy`, network
//!   [`SOLANA_MAINNET_SLUG`]) with the client's credentials, its retry policy and an
//!   `Idempotency-Key`, so that a retried call replays the answer instead of being billed
//!   again;
//! - the user's own endpoint (`VENICE_SOLANA_RPC_URL`,
//!   [`ClientBuilder::solana_rpc_url`](crate::ClientBuilder::solana_rpc_url)): a plain
//!   JSON-RPC POST to exactly the URL given. It is not a Venice API operation, so it is
//!   the one request not built by the generated client; it carries no Venice credentials
//!   (the endpoint is a third party), and its URL, which may hold a provider key, is never
//!   put in errors or logs.

use serde_json::Value;
use venice_openapi::{Uploads, types};
use venice_x402::svm::{self, ChainData};

use crate::error::{Error, SvmError, WalletError};
use crate::transport::Transport;

/// The provider's slug of Solana mainnet for its RPC proxy.
pub(crate) const SOLANA_MAINNET_SLUG: &str = "solana-mainnet";
/// Largest JSON-RPC answer read from a user's endpoint (the two answers are ~1 KB).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Where the chain data comes from.
#[derive(Clone, Copy)]
pub(crate) enum Endpoint<'a> {
    /// The provider's proxy.
    Venice,
    /// The user's JSON-RPC URL.
    Url(&'a reqwest::Url),
}

fn rpc_error(
    what: impl Into<String>,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> WalletError {
    WalletError::SolanaRpc {
        what: what.into(),
        source: source.into(),
    }
}

/// Read the chain data from `endpoint`.
pub(crate) async fn chain_data(
    transport: &Transport,
    endpoint: Endpoint<'_>,
) -> Result<ChainData, WalletError> {
    let answers = match endpoint {
        Endpoint::Venice => through_proxy(transport).await?,
        Endpoint::Url(url) => from_url(transport.http(), url).await?,
    };
    svm::chain_data_from_answers(&answers).map_err(|e| {
        rpc_error(
            "the Solana RPC endpoint did not give the top-up's chain data",
            e,
        )
    })
}

/// Through `POST /crypto/rpc/solana-mainnet` of the generated client.
async fn through_proxy(transport: &Transport) -> Result<Vec<Value>, WalletError> {
    let body: types::CryptoRpcRequest = serde_json::from_value(svm::chain_data_request())
        .map_err(|e| rpc_error("could not build the Solana RPC request", e))?;
    let key = svm::idempotency_key()?;
    let call = transport.call(Uploads::new());
    let response = transport
        .run(&call, || {
            call.raw()
                .crypto_rpc_proxy()
                .network(SOLANA_MAINNET_SLUG)
                .idempotency_key(key.as_str())
                .body(body.clone())
                .send()
        })
        .await
        .map_err(|e| {
            let what = if matches!(e, Error::PaymentRequired { .. }) {
                "the provider's Solana RPC proxy refused the top-up's chain data for lack of \
                 credit (it bills per call): set VENICE_SOLANA_RPC_URL \
                 (ClientBuilder::solana_rpc_url) to a Solana RPC endpoint of your own"
            } else {
                "could not read the top-up's chain data (recent blockhash, USDC mint) from \
                 the provider's Solana RPC proxy"
            };
            rpc_error(what, e)
        })?;
    match response.into_inner() {
        types::CryptoRpcResponse::Array(items) => items
            .into_iter()
            .map(|item| {
                serde_json::to_value(item)
                    .map_err(|e| rpc_error("could not read the Solana RPC answer", e))
            })
            .collect(),
        types::CryptoRpcResponse::JsonRpcResponse(one) => {
            let error = one.error.and_then(|e| serde_json::to_value(e).ok());
            Err(rpc_error(
                "the provider's Solana RPC proxy refused the batch",
                svm::whole_batch_error(error.as_ref()),
            ))
        }
    }
}

/// A plain JSON-RPC POST to the user's endpoint.
async fn from_url(http: &reqwest::Client, url: &reqwest::Url) -> Result<Vec<Value>, WalletError> {
    let failed = "could not read the top-up's chain data from the Solana RPC endpoint \
                  (VENICE_SOLANA_RPC_URL)";
    // reqwest's errors print the URL, which may carry the endpoint's API key.
    let mut response = http
        .post(url.clone())
        .json(&svm::chain_data_request())
        .send()
        .await
        .map_err(|e| rpc_error(failed, e.without_url()))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| rpc_error(failed, e.without_url()))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(rpc_error(
                failed,
                SvmError::RpcMalformed("the answer is larger than 1 MiB"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        return Err(rpc_error(
            format!("{failed}: HTTP {status}"),
            SvmError::RpcMalformed("the endpoint did not answer 2xx"),
        ));
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(one) => Err(rpc_error(failed, svm::whole_batch_error(one.get("error")))),
        Err(e) => Err(rpc_error(failed, e)),
    }
}
