//! Cassettes dropped into `tests/cassettes/` are contract tests: each is checked against
//! the spec (`venice_mock::check`; drift fails unless `accepted-drift.json` accepts it
//! with a reason), and each recorded response is decoded by the facade: the recorded
//! request is sent again through `Client::send_raw` and the operation's generated
//! builder to a replay of the cassette, so the answer goes through the facade's
//! transport, hooks and typed errors, then its image and generation decoders. A user's
//! scrubbed recording of a provider bug becomes a regression test by adding one file.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::path::PathBuf;

use common::client;
use serde::Deserialize;
use venice_image::{Auth, Client, Error, Image};
use venice_mock::MockServer;
use venice_mock::cassette::{Cassette, Exchange, header};
use venice_mock::check::{Drift, DriftKind};
use venice_openapi::types;

fn folder() -> PathBuf {
    contract_tests::workspace_root().join("tests/cassettes")
}

/// Every `*.cassette` of the folder, sorted.
fn cassettes() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(folder())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cassette"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "tests/cassettes/ holds no cassette");
    out
}

/// One accepted difference between a recording and the spec.
#[derive(Debug, Deserialize)]
struct Accepted {
    /// The cassette file name it applies to (`None`: any).
    #[serde(default)]
    cassette: Option<String>,
    /// The drift kind (`undocumented_header`, `unknown_field`, …).
    kind: String,
    /// The finding's detail, exactly.
    detail: String,
    /// The response statuses it applies to (empty: any).
    #[serde(default)]
    statuses: Vec<u16>,
    /// Why it is accepted for now.
    reason: String,
}

fn kind_name(kind: DriftKind) -> String {
    serde_json::to_value(kind)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

impl Accepted {
    fn covers(&self, cassette: &str, d: &Drift) -> bool {
        self.cassette.as_deref().is_none_or(|c| c == cassette)
            && self.kind == kind_name(d.kind)
            && self.detail == d.detail
            && (self.statuses.is_empty() || d.status.is_some_and(|s| self.statuses.contains(&s)))
    }
}

#[test]
fn every_cassette_agrees_with_the_spec_or_its_drift_is_accepted() {
    let accepted: Vec<Accepted> = serde_json::from_str(
        &std::fs::read_to_string(folder().join("accepted-drift.json")).unwrap(),
    )
    .unwrap();
    let mut used = vec![false; accepted.len()];
    let mut report = Vec::new();
    for path in cassettes() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let cassette = Cassette::open(&path).unwrap();
        assert!(!cassette.exchanges.is_empty(), "{name} has no exchanges");
        let drift = venice_mock::check::check(&cassette);
        for d in &drift.drift {
            match accepted.iter().position(|a| a.covers(&name, d)) {
                Some(i) => used[i] = true,
                None => report.push(format!(
                    "{name} line {} ({} {} → {:?}): {}: {}",
                    d.line, d.method, d.path, d.status, d.kind, d.detail
                )),
            }
        }
    }
    for (a, used) in accepted.iter().zip(used) {
        assert!(!a.reason.trim().is_empty(), "{a:?} gives no reason");
        if !used {
            report.push(format!(
                "stale entry in accepted-drift.json (nothing matches it): {a:?}"
            ));
        }
    }
    assert!(
        report.is_empty(),
        "drift between tests/cassettes/ and openapi/venice-image.yaml (fix the spec, or accept \
         it with a reason in tests/cassettes/accepted-drift.json):\n  {}",
        report.join("\n  ")
    );
}

/// The status a facade call ended with, and the decoded body of a success.
enum Outcome {
    Success(u16, Option<Vec<u8>>),
    Failure(Error),
}

async fn outcome<T>(
    result: Result<venice_openapi::ResponseValue<T>, Error>,
    bytes_of: impl AsyncFnOnce(T) -> Vec<u8>,
) -> Outcome {
    match result {
        Ok(rv) => {
            let status = rv.status().as_u16();
            let inner = rv.into_inner();
            Outcome::Success(status, Some(bytes_of(inner).await))
        }
        Err(e) => Outcome::Failure(e),
    }
}

async fn stream_bytes(stream: venice_openapi::ByteStream) -> Vec<u8> {
    use futures::TryStreamExt as _;
    let mut out = Vec::new();
    let mut s = stream.into_inner();
    while let Some(chunk) = s.try_next().await.unwrap() {
        out.extend_from_slice(&chunk);
    }
    out
}

fn json_of<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> T {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!("{what}: the recorded body does not parse as the request type: {e}")
    })
}

fn query(exchange: &Exchange, name: &str) -> Option<String> {
    venice_mock::spec::query_pairs(exchange.request.query.as_deref())
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Sends the recorded request of `exchange` again through the facade.
async fn resend(clients: &Clients, cassette: &Cassette, exchange: &Exchange) -> (String, Outcome) {
    let request = &exchange.request;
    let body = match &request.body {
        Some(b) => b.load(cassette.dir()).unwrap().to_vec(),
        None => Vec::new(),
    };
    let matched = venice_mock::spec::match_operation(&request.method, &request.path).unwrap();
    let op = matched.operation_id.to_owned();
    let path_param = |name: &str| matched.path_param(name).unwrap().to_owned();
    let headers = &request.headers;
    let c = if header(headers, "sign-in-with-x").is_some() {
        &clients.wallet
    } else if header(headers, "authorization").is_some() {
        &clients.api
    } else {
        &clients.anonymous
    };
    let multipart = header(headers, "content-type").is_some_and(|v| v.starts_with("multipart/"));
    if multipart {
        // The facade's uploads are JSON: a recorded form is sent as recorded.
        let r = reqwest::Client::new()
            .request(
                request.method.parse().unwrap(),
                format!("http://{}{}", clients.addr, request.path),
            )
            .header("authorization", "Bearer replay")
            .header("content-type", header(headers, "content-type").unwrap())
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let bytes = r.bytes().await.unwrap().to_vec();
        return (op, Outcome::Success(status, Some(bytes)));
    }
    let result = match op.as_str() {
        "generateImage" => {
            let b: types::GenerateImageRequest = json_of(&body, &op);
            outcome(
                c.send_raw(|raw| {
                    let b = b.clone();
                    async move { raw.generate_image().body(b).send().await }
                })
                .await,
                stream_bytes,
            )
            .await
        }
        "simpleGenerateImage" => {
            let b: types::SimpleGenerateImageRequest = json_of(&body, &op);
            outcome(
                c.send_raw(|raw| {
                    let b = b.clone();
                    async move { raw.simple_generate_image().body(b).send().await }
                })
                .await,
                async |v| serde_json::to_vec(&v).unwrap(),
            )
            .await
        }
        "upscaleImage" => {
            let b: types::UpscaleImageRequest = json_of(&body, &op);
            outcome(
                c.send_raw(|raw| {
                    let b = b.clone();
                    async move { raw.upscale_image().body(b).send().await }
                })
                .await,
                stream_bytes,
            )
            .await
        }
        "editImage" => {
            let b: types::EditImageRequest = json_of(&body, &op);
            outcome(
                c.send_raw(|raw| {
                    let b = b.clone();
                    async move { raw.edit_image().body(b).send().await }
                })
                .await,
                stream_bytes,
            )
            .await
        }
        "multiEditImage" => {
            let b: types::MultiEditImageRequest = json_of(&body, &op);
            outcome(
                c.send_raw(|raw| {
                    let b = b.clone();
                    async move { raw.multi_edit_image().body(b).send().await }
                })
                .await,
                stream_bytes,
            )
            .await
        }
        "backgroundRemoveImage" => {
            let b: types::BackgroundRemoveImageRequest = json_of(&body, &op);
            outcome(
                c.send_raw(|raw| {
                    let b = b.clone();
                    async move { raw.background_remove_image().body(b).send().await }
                })
                .await,
                stream_bytes,
            )
            .await
        }
        "listImageStyles" => {
            outcome(
                c.send_raw(|raw| async move { raw.list_image_styles().send().await })
                    .await,
                async |v| serde_json::to_vec(&v).unwrap(),
            )
            .await
        }
        "listModels" => {
            let kind = query(exchange, "type");
            outcome(
                c.send_raw(|raw| {
                    let kind = kind.clone();
                    async move {
                        match kind {
                            Some(k) => raw.list_models().type_(k.as_str()).send().await,
                            None => raw.list_models().send().await,
                        }
                    }
                })
                .await,
                async |v| serde_json::to_vec(&v).unwrap(),
            )
            .await
        }
        "getX402Balance" => {
            let wallet = path_param("walletAddress");
            outcome(
                c.send_raw(|raw| {
                    let w = wallet.clone();
                    async move {
                        raw.get_x402_balance()
                            .wallet_address(w.as_str())
                            .send()
                            .await
                    }
                })
                .await,
                async |v| serde_json::to_vec(&v).unwrap(),
            )
            .await
        }
        "getX402Transactions" => {
            let wallet = path_param("walletAddress");
            let limit =
                query(exchange, "limit").map(|l| l.parse::<std::num::NonZeroU64>().unwrap());
            let offset = query(exchange, "offset").map(|o| o.parse::<u64>().unwrap());
            outcome(
                c.send_raw(|raw| {
                    let w = wallet.clone();
                    async move {
                        let mut b = raw.get_x402_transactions().wallet_address(w.as_str());
                        if let Some(l) = limit {
                            b = b.limit(l);
                        }
                        if let Some(o) = offset {
                            b = b.offset(o);
                        }
                        b.send().await
                    }
                })
                .await,
                async |v| serde_json::to_vec(&v).unwrap(),
            )
            .await
        }
        "topUpX402Balance" => {
            let payment = header(headers, "payment-signature").map(str::to_owned);
            outcome(
                c.send_raw(|raw| {
                    let p = payment.clone();
                    async move {
                        match p {
                            Some(p) => raw.top_up_x402_balance().payment_signature(p).send().await,
                            None => raw.top_up_x402_balance().send().await,
                        }
                    }
                })
                .await,
                async |v| serde_json::to_vec(&v).unwrap(),
            )
            .await
        }
        "listCryptoRpcNetworks" => {
            outcome(
                c.send_raw(|raw| async move { raw.list_crypto_rpc_networks().send().await })
                    .await,
                async |v| serde_json::to_vec(&v).unwrap(),
            )
            .await
        }
        "cryptoRpcProxy" => {
            let b: types::CryptoRpcRequest = json_of(&body, &op);
            let network = path_param("network");
            let key = header(headers, "idempotency-key").map(str::to_owned);
            outcome(
                c.send_raw(|raw| {
                    let (b, n, k) = (b.clone(), network.clone(), key.clone());
                    async move {
                        let mut r = raw.crypto_rpc_proxy().network(n.as_str()).body(b);
                        if let Some(k) = k {
                            r = r.idempotency_key(k);
                        }
                        r.send().await
                    }
                })
                .await,
                async |v| serde_json::to_vec(&v).unwrap(),
            )
            .await
        }
        "getBillingBalance" => {
            outcome(
                c.send_raw(|raw| async move { raw.get_billing_balance().send().await })
                    .await,
                async |v| serde_json::to_vec(&v).unwrap(),
            )
            .await
        }
        "getApiKeyRateLimits" => {
            outcome(
                c.send_raw(|raw| async move { raw.get_api_key_rate_limits().send().await })
                    .await,
                async |v| serde_json::to_vec(&v).unwrap(),
            )
            .await
        }
        other => panic!("no facade call for {other}: add one to tests/tests/it/cassettes.rs"),
    };
    (op, result)
}

struct Clients {
    addr: std::net::SocketAddr,
    api: Client,
    wallet: Client,
    anonymous: Client,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recorded_response_decodes_through_the_facade() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    for path in cassettes() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let cassette = Cassette::open(&path).unwrap();
        let replay = MockServer::replay(&path).await.unwrap();
        let base = replay.base_url();
        // Credentials are matched by kind, never verified: any key and any wallet do.
        let clients = Clients {
            addr: replay.addr(),
            api: client(&base, Auth::api_key("replay")),
            wallet: client(
                &base,
                Auth::evm_wallet(
                    "0x0000000000000000000000000000000000000000000000000000000000000001",
                )
                .unwrap(),
            ),
            anonymous: client(&base, Auth::None),
        };
        // In the order the requests were made (lines are in completion order).
        let mut exchanges: Vec<&Exchange> = cassette.exchanges.iter().collect();
        exchanges.sort_by_key(|e| e.seq);
        for exchange in exchanges {
            let (op, outcome) = resend(&clients, &cassette, exchange).await;
            let what = format!("{name} seq {} ({op})", exchange.seq);
            let Some(recorded) = &exchange.response else {
                let Outcome::Failure(e) = outcome else {
                    panic!("{what}: answered")
                };
                assert_eq!(e.status(), Some(502), "{what}: {e:?}");
                continue;
            };
            let content_type = header(&recorded.headers, "content-type").unwrap_or_default();
            match outcome {
                Outcome::Success(status, body) => {
                    assert_eq!(status, recorded.status, "{what}");
                    let body = body.unwrap_or_default();
                    if content_type.starts_with("image/") {
                        let image = Image::from_bytes(body.clone()).unwrap_or_else(|e| {
                            panic!("{what}: the facade cannot read the image: {e}")
                        });
                        assert!(image.width() > 0 && image.height() > 0, "{what}");
                    } else if op == "generateImage" {
                        let decoded = venice_image::__fuzz::decode_generation(&body)
                            .unwrap_or_else(|e| {
                                panic!("{what}: the facade cannot decode the generation: {e}")
                            });
                        assert!(!decoded.images.is_empty(), "{what}");
                    }
                }
                Outcome::Failure(e) => {
                    assert!(
                        recorded.status >= 400,
                        "{what}: a recorded {} failed in the facade: {e:?}",
                        recorded.status
                    );
                    assert_eq!(e.status(), Some(recorded.status), "{what}: {e:?}");
                    match recorded.status {
                        402 => assert!(matches!(e, Error::PaymentRequired { .. }), "{what}: {e:?}"),
                        429 => assert!(matches!(e, Error::RateLimited { .. }), "{what}: {e:?}"),
                        _ => {}
                    }
                }
            }
        }
        replay.assert_all_used();
    }
}
