//! The generated low-level client on its own, against `venice-mock`: all 13 operations,
//! with an API key and with a wallet, each asserting a typed result or a typed error.
//! This is what a user of `venice-openapi` without the facade gets.
#![allow(clippy::unwrap_used, missing_docs)]

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::SystemTime;

use futures_util_free::collect;
use venice_image::payment::PaymentRequirementExt as _;
use venice_image::wallet::{SiwxConfig, Wallet, WalletAuth, payment_payload, sign_authorization};
use venice_mock::{MockConfig, MockServer};
use venice_openapi::{Client, ClientState, Error, RequestAuth, ResponseValue, types};

const KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const ADDRESS: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

/// Reading a byte stream without another dependency.
mod futures_util_free {
    use venice_openapi::ByteStream;

    pub async fn collect(stream: ByteStream) -> Vec<u8> {
        let mut stream = stream.into_inner();
        let mut out = Vec::new();
        while let Some(chunk) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }
}

fn client(server: &MockServer, auth: Option<Arc<dyn RequestAuth>>) -> Client {
    let state = match auth {
        Some(a) => ClientState::with_auth(a),
        None => ClientState::anonymous(),
    };
    Client::new(&server.base_url(), state)
}

fn bearer() -> Arc<dyn RequestAuth> {
    struct Bearer;
    #[venice_openapi::async_trait]
    impl RequestAuth for Bearer {
        fn scheme(&self) -> venice_openapi::Scheme {
            venice_openapi::Scheme::Bearer
        }
        async fn authorize(
            &self,
            request: &mut venice_openapi::reqwest::Request,
            _ctx: &venice_openapi::AuthContext<'_>,
        ) -> Result<(), venice_openapi::AuthError> {
            let value = format!("Bearer {}", venice_mock::DEFAULT_ADMIN_API_KEY);
            request.headers_mut().insert(
                venice_openapi::reqwest::header::AUTHORIZATION,
                value.parse().unwrap(),
            );
            Ok(())
        }
    }
    Arc::new(Bearer)
}

fn wallet() -> Arc<dyn RequestAuth> {
    Arc::new(WalletAuth::new(Wallet::evm(KEY).unwrap(), SiwxConfig::default()).unwrap())
}

fn status_of<T>(r: &Result<T, Error<types::VeniceError>>) -> Option<u16> {
    match r {
        Err(Error::ErrorResponse(rv)) => Some(rv.status().as_u16()),
        Err(Error::UnexpectedResponse(r)) => Some(r.status().as_u16()),
        _ => None,
    }
}

fn error_body<T>(r: Result<T, Error<types::VeniceError>>) -> (u16, types::VeniceError) {
    match r {
        Err(Error::ErrorResponse(rv)) => (rv.status().as_u16(), rv.into_inner()),
        Err(other) => panic!("expected a typed error response, got {other:?}"),
        Ok(_) => panic!("expected a typed error response, got a success"),
    }
}

fn generate_request(binary: bool) -> types::GenerateImageRequest {
    types::GenerateImageRequest::builder()
        .model("venice-sd35")
        .prompt("a lighthouse")
        .width(NonZeroU64::new(256).unwrap())
        .height(NonZeroU64::new(256).unwrap())
        .format(types::GenerateImageRequestFormat::Png)
        .return_binary(binary)
        .try_into()
        .unwrap()
}

/// A real 256x256 PNG from the mock, as base64 (an input for the image operations).
async fn input_image(c: &Client) -> String {
    let png = collect(
        c.generate_image()
            .body(generate_request(true))
            .send()
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert!(png.starts_with(b"\x89PNG"));
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, png)
}

/// One JSON-RPC call: the latest Solana blockhash.
fn rpc_request() -> types::CryptoRpcRequest {
    serde_json::from_value(serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "getLatestBlockhash",
        "params": [{"commitment": "finalized"}]
    }))
    .unwrap()
}

fn is_png(v: &ResponseValue<venice_openapi::ByteStream>) -> bool {
    v.headers()
        .get("content-type")
        .is_some_and(|t| t.to_str().unwrap_or("").starts_with("image/png"))
}

#[tokio::test]
async fn every_operation_with_an_api_key() {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let c = client(&server, Some(bearer()));

    // 1. generate (JSON)
    let g = c
        .generate_image()
        .body(generate_request(false))
        .send()
        .await
        .unwrap();
    let body: types::GenerateImageResponse =
        serde_json::from_slice(&collect(g.into_inner()).await).unwrap();
    assert_eq!(body.images.len(), 1);
    // (binary)
    let image = input_image(&c).await;

    // 2. OpenAI-compatible generation
    let o = c
        .simple_generate_image()
        .body(
            types::SimpleGenerateImageRequest::builder()
                .model("z-image-turbo")
                .prompt("a lighthouse")
                .response_format(types::SimpleGenerateImageRequestResponseFormat::B64Json),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(o.data.len(), 1);
    assert!(o.data[0].b64_json.is_some());

    // 3. styles, 4. models
    assert!(!c.list_image_styles().send().await.unwrap().data.is_empty());
    let models = c
        .list_models()
        .type_(types::ModelTypeFilter::Image)
        .send()
        .await
        .unwrap();
    assert!(models.data.iter().any(|m| m.id == "venice-sd35"));

    // 5. upscale, 6. edit, 7. multi-edit, 8. background removal: PNG bodies.
    let up = c
        .upscale_image()
        .body(
            types::UpscaleImageRequest::builder()
                .image(image.as_str())
                .scale(2.0),
        )
        .send()
        .await
        .unwrap();
    assert!(is_png(&up));
    let edit = c
        .edit_image()
        .body(
            types::EditImageRequest::builder()
                .prompt("make it blue")
                .image(image.as_str())
                .output_format(types::ImageFormat::Png),
        )
        .send()
        .await
        .unwrap();
    assert!(is_png(&edit));
    let multi = c
        .multi_edit_image()
        .body(
            types::MultiEditImageRequest::builder()
                .prompt("combine")
                .images(vec![image.as_str().try_into().unwrap(); 2])
                .output_format(types::ImageFormat::Png),
        )
        .send()
        .await
        .unwrap();
    assert!(is_png(&multi));
    let bg = c
        .background_remove_image()
        .body(
            types::BackgroundRemoveImageRequest::builder()
                .image(Some(image.as_str().try_into().unwrap())),
        )
        .send()
        .await
        .unwrap();
    assert!(is_png(&bg));

    // 9. balance and 11. transactions take only a wallet signature: refused before
    // sending, as a typed hook error, not a 401 from the server.
    for r in [
        c.get_x402_balance()
            .wallet_address(ADDRESS)
            .send()
            .await
            .map(|_| ()),
        c.get_x402_transactions()
            .wallet_address(ADDRESS)
            .send()
            .await
            .map(|_| ()),
    ] {
        match r {
            Err(Error::Custom(msg)) => assert!(msg.contains("SIGN-IN-WITH-X"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }
    // 10. top-up without payment: the typed x402 discovery 402.
    let (status, discovery) = error_body(c.top_up_x402_balance().send().await);
    assert_eq!(status, 402);
    assert!(!discovery.accepts.is_empty());
    // 12. and 13. the account of the key: typed balance and per-model limits.
    let balance = c.get_billing_balance().send().await.unwrap();
    assert!(balance.can_consume);
    assert_eq!(
        balance.balances.usd, None,
        "the default mock's USD is unlimited"
    );
    let limits = c.get_api_key_rate_limits().send().await.unwrap();
    assert_eq!(limits.data.api_tier.id, "paid");
    let sd = limits
        .data
        .rate_limits
        .iter()
        .find(|m| m.api_model_id.as_deref() == Some("venice-sd35"))
        .unwrap();
    assert_eq!(sd.rate_limits[0].type_, "RPM");

    // 12. the crypto RPC networks (public), 13. the RPC proxy: typed JSON-RPC answers.
    let networks = c.list_crypto_rpc_networks().send().await.unwrap();
    assert!(networks.networks.iter().any(|n| n == "solana-mainnet"));
    let answer = c
        .crypto_rpc_proxy()
        .network("solana-mainnet")
        .idempotency_key("raw-client-1")
        .body(rpc_request())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-venice-rpc-credits"], "30");
    match answer.into_inner() {
        types::CryptoRpcResponse::JsonRpcResponse(r) => {
            assert!(r.result.unwrap()["value"]["blockhash"].is_string());
        }
        other => panic!("{other:?}"),
    }
    let (status, _) = error_body(
        c.crypto_rpc_proxy()
            .network("no-such-chain")
            .body(rpc_request())
            .send()
            .await,
    );
    assert_eq!(status, 400);

    // Typed errors keep their status: an unknown model.
    let mut bad = generate_request(false);
    bad.model = "no-such-model".into();
    let r = c.generate_image().body(bad).send().await;
    assert_eq!(status_of(&r), Some(404));
    let (_, e) = error_body(r);
    assert_eq!(e.code.as_deref(), Some("MODEL_NOT_FOUND"));
    // Without credentials: 401, typed.
    let anonymous = client(&server, None);
    let (status, _) = error_body(
        anonymous
            .generate_image()
            .body(generate_request(false))
            .send()
            .await,
    );
    // No credentials at all: the provider's x402 discovery 402, not a 401.
    assert_eq!(status, 402);
    // Public operations work anonymously.
    assert!(anonymous.list_image_styles().send().await.is_ok());
}

#[tokio::test]
async fn every_operation_with_a_wallet() {
    let mut config = MockConfig::default();
    config.wallet_balances.insert(ADDRESS.to_owned(), 1.0);
    let server = MockServer::start(config).await.unwrap();
    let c = client(&server, Some(wallet()));

    // Paid operations, each signed afresh (the mock burns every nonce).
    let g = c
        .generate_image()
        .body(generate_request(false))
        .send()
        .await
        .unwrap();
    assert!(g.headers().contains_key("x-venice-balance-usd"));
    let image = input_image(&c).await;
    assert_eq!(
        c.simple_generate_image()
            .body(
                types::SimpleGenerateImageRequest::builder()
                    .model("z-image-turbo")
                    .prompt("p")
            )
            .send()
            .await
            .unwrap()
            .data
            .len(),
        1
    );
    assert!(is_png(
        &c.upscale_image()
            .body(types::UpscaleImageRequest::builder().image(image.as_str()))
            .send()
            .await
            .unwrap()
    ));
    assert!(is_png(
        &c.edit_image()
            .body(
                types::EditImageRequest::builder()
                    .prompt("p")
                    .image(image.as_str())
                    .output_format(types::ImageFormat::Png)
            )
            .send()
            .await
            .unwrap()
    ));
    assert!(is_png(
        &c.multi_edit_image()
            .body(
                types::MultiEditImageRequest::builder()
                    .prompt("p")
                    .images(vec![image.as_str().try_into().unwrap()])
                    .output_format(types::ImageFormat::Png)
            )
            .send()
            .await
            .unwrap()
    ));
    assert!(is_png(
        &c.background_remove_image()
            .body(
                types::BackgroundRemoveImageRequest::builder()
                    .image(Some(image.as_str().try_into().unwrap()))
            )
            .send()
            .await
            .unwrap()
    ));
    // Public operations: sent without a signature (no nonce spent).
    assert!(c.list_image_styles().send().await.is_ok());
    assert!(c.list_models().send().await.is_ok());

    // The RPC proxy bills the wallet's credit; the network list is public.
    assert!(c.list_crypto_rpc_networks().send().await.is_ok());
    let rpc = c
        .crypto_rpc_proxy()
        .network("solana-mainnet")
        .body(rpc_request())
        .send()
        .await
        .unwrap();
    assert!(rpc.headers().contains_key("x-venice-balance-usd"));

    // Wallet operations.
    let balance = c
        .get_x402_balance()
        .wallet_address(ADDRESS)
        .send()
        .await
        .unwrap();
    assert!(balance.data.balance_usd < 1.0, "charges were debited");
    let page = c
        .get_x402_transactions()
        .wallet_address(ADDRESS)
        .limit(NonZeroU64::new(50).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.data.transactions.len(), 8, "one charge per paid call");
    // The account operations take an API key only: refused before sending.
    for r in [
        c.get_billing_balance().send().await.map(|_| ()),
        c.get_api_key_rate_limits().send().await.map(|_| ()),
    ] {
        match r {
            Err(Error::Custom(msg)) => assert!(msg.contains("authentication failed"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }

    // Top-up: discovery, then a signed EIP-3009 payment for the accepted option.
    let (_, discovery) = error_body(c.top_up_x402_balance().send().await);
    let option = discovery.accepts[0].clone();
    let Wallet::Evm(signer) = Wallet::evm(KEY).unwrap() else {
        unreachable!()
    };
    let value = option.amount_units().unwrap();
    let auth = sign_authorization(signer.as_ref(), &option, value, SystemTime::now(), [7; 32])
        .await
        .unwrap();
    let payload = payment_payload(&option, &auth, None);
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        serde_json::to_vec(&payload).unwrap(),
    );
    let receipt = c
        .top_up_x402_balance()
        .payment_signature(header.as_str())
        .send()
        .await
        .unwrap();
    assert!(receipt.data.amount_credited >= 5.0);
    // The same authorization again: the provider's 409 `PAYMENT_IN_PROGRESS` (a settled
    // payment is credited once).
    let (status, e) = error_body(
        c.top_up_x402_balance()
            .payment_signature(header.as_str())
            .send()
            .await,
    );
    assert_eq!(status, 409, "{e:?}");
    assert_eq!(e.error.as_deref(), Some("PAYMENT_IN_PROGRESS"));
    assert_eq!(
        server.wallet_balance(ADDRESS),
        balance.data.balance_usd + receipt.data.amount_credited
    );
}

#[tokio::test]
async fn a_non_json_error_page_is_a_typed_error_with_its_status_and_headers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
            let head = format!(
                "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\nretry-after: 7\r\n\
                 x-request-id: req-42\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                page.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(page.as_bytes()).await;
        }
    });
    let c = Client::new(&url, ClientState::with_auth(bearer()));
    let r = c.list_image_styles().send().await;
    // `list_image_styles` lists no 502: every error status is decoded all the same.
    let Err(Error::ErrorResponse(response)) = r else {
        panic!("expected the 502 as a typed error response, got {r:?}")
    };
    assert_eq!(response.status().as_u16(), 502);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(response.headers()["x-request-id"], "req-42");
    // The headers are the server's: the type of what it sent, not of the JSON made of it.
    assert_eq!(response.headers()["content-type"], "text/html");
    let e = response.into_inner();
    assert_eq!(e.message.as_deref(), Some("502 Bad Gateway"));
    let described = &e.details[venice_openapi::NON_JSON_BODY];
    assert_eq!(described["contentType"], "text/html");
    assert!(described["body"].as_str().unwrap().contains("nginx"));

    // A status the operation lists (500 on generate) is decoded into `VeniceError` too.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 5\r\nconnection: close\r\n\r\noops!")
                .await;
        }
    });
    let c = Client::new(&url, ClientState::with_auth(bearer()));
    let (status, e) = error_body(
        c.generate_image()
            .body(generate_request(false))
            .send()
            .await,
    );
    assert_eq!(status, 500);
    assert_eq!(e.message.as_deref(), Some("oops!"));
}

/// `BodyCopy` keeps a success body exactly as sent, beside the typed decoding: the bytes
/// of `GET /models` equal a plain GET's, hold what the typed `ModelList` leaves out, and
/// each response replaces the previous copy.
#[tokio::test]
async fn a_body_copy_keeps_the_answer_as_sent() {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let copy = venice_openapi::BodyCopy::new();
    let client = Client::new(
        &server.base_url(),
        ClientState::anonymous().copy_body(copy.clone()),
    );
    let typed = client
        .list_models()
        .type_(types::ModelTypeFilter::All)
        .send()
        .await
        .unwrap()
        .into_inner();
    let bytes = copy.take();
    let plain = venice_openapi::reqwest::get(format!("{}/models?type=all", server.base_url()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes, plain.to_vec(), "the copy is the body as sent");
    let raw: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let retyped = serde_json::to_value(&typed).unwrap();
    assert_eq!(raw["data"].as_array().unwrap().len(), typed.data.len());
    assert_ne!(
        raw, retyped,
        "the typed list drops fields the spec does not model"
    );

    let styles = client
        .list_image_styles()
        .send()
        .await
        .unwrap()
        .into_inner();
    let again: serde_json::Value = serde_json::from_slice(&copy.take()).unwrap();
    assert_eq!(
        again["data"].as_array().unwrap().len(),
        styles.data.len(),
        "the next response replaced the copy"
    );
    assert!(copy.take().is_empty(), "take empties the copy");
}
