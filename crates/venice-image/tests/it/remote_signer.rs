//! Keys that never enter the client: a signing service in ANOTHER PROCESS holds them
//! (this test binary re-run as a child, see [`signing_service_process`]); the client
//! signs SIWX headers, an EVM top-up and a Solana top-up through it over HTTP, and
//! nothing the client process produces (Debug, errors, logs at TRACE, what the mock
//! received) holds key material. Then: a signer that fails or hangs surfaces as
//! `Error::Auth` (SIWX) or a wallet error (top-up), with its cause as source, and
//! nothing is sent.
#![cfg(feature = "wallet")]
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common::log_capture;
#[path = "../../examples/remote_signer/service.rs"]
mod service;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use log_capture::init_tracing;
use service::{Mode, RemoteEvmSigner, RemoteSolanaSigner, SigningService, set_mode};
use venice_image::wallet::{LocalEvmSigner, LocalSolanaSigner, SiwxConfig, Wallet, WalletError};
use venice_image::{Auth, Client, Error, GenerateRequest, Size};
use venice_mock::{MockConfig, MockServer};

/// EIP-191 vector key (x402-facts vector 1) and RFC 8032 TEST 1 secret: known here only
/// to look for them in the client's output; the client is never given them.
const EVM_KEY: &str = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const EVM_ADDRESS: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
const SOLANA_SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const SOLANA_ADDRESS: &str = "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z";

const CHILD_ENV: &str = "VENICE_TEST_SIGNING_SERVICE";

/// Not a test: the body of the child process that runs the signing service. The keys
/// reach it through its environment and exist in that process only.
#[test]
#[ignore = "helper run as a child process by the other tests of this file"]
fn signing_service_process() {
    let Ok(keys) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (evm, solana) = keys.split_once(':').unwrap();
    let evm = LocalEvmSigner::from_hex(evm).unwrap();
    let solana = LocalSolanaSigner::from_bytes(&hex(solana)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let service = SigningService::start(evm, solana).await.unwrap();
        println!("SIGNER_URL={}", service.url());
        std::io::stdout().flush().unwrap();
        // Serve until the parent closes our stdin (or dies).
        tokio::task::spawn_blocking(|| std::io::stdin().lines().count())
            .await
            .unwrap();
    });
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The signing service in a child process; killed on drop.
struct ServiceProcess {
    child: Child,
    url: String,
}

impl ServiceProcess {
    fn start() -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "remote_signer::signing_service_process",
                "--nocapture",
            ])
            .env(CHILD_ENV, format!("{EVM_KEY}:{SOLANA_SECRET}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let url = stdout
            .lines()
            .map(Result::unwrap)
            .find_map(|l| l.strip_prefix("SIGNER_URL=").map(str::to_owned))
            .expect("the child printed its URL");
        Self { child, url }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Key material in any form a log or a Debug could carry it: hex (either case, with or
/// without `0x`), base58, base64, every 12-character window of those.
fn key_fragments() -> Vec<String> {
    use base64::Engine as _;
    let mut forms = Vec::new();
    for secret in [EVM_KEY, SOLANA_SECRET] {
        let bytes = hex(secret);
        forms.push(secret.to_owned());
        forms.push(secret.to_uppercase());
        forms.push(bs58::encode(&bytes).into_string());
        forms.push(base64::engine::general_purpose::STANDARD.encode(&bytes));
    }
    // The Solana keypair form (secret ‖ public) as wallets export it.
    let mut pair = hex(SOLANA_SECRET);
    pair.extend(bs58::decode(SOLANA_ADDRESS).into_vec().unwrap());
    forms.push(bs58::encode(&pair).into_string());
    forms
        .iter()
        .flat_map(|f| {
            let c: Vec<char> = f.chars().collect();
            c.windows(12)
                .map(|w| w.iter().collect::<String>())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn assert_no_key(what: &str, text: &str) {
    if let Some(f) = key_fragments().iter().find(|f| text.contains(f.as_str())) {
        panic!("key material {f:?} in {what}");
    }
}

fn request() -> GenerateRequest {
    GenerateRequest::builder("venice-sd35", "a lighthouse")
        .size(Size::Pixels {
            width: 64,
            height: 64,
        })
        .build()
        .unwrap()
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = format!("{e} {e:?}");
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(&format!(" | {c}"));
        cause = c.source();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn siwx_and_top_ups_are_signed_by_a_service_in_another_process() {
    init_tracing();
    let service = ServiceProcess::start();
    let mut config = MockConfig::default();
    config
        .wallet_balances
        .insert(SOLANA_ADDRESS.to_owned(), 0.01);
    let server = MockServer::start(config).await.unwrap();

    let evm = RemoteEvmSigner::connect(&service.url).await.unwrap();
    assert_eq!(venice_image::wallet::EvmSigner::address(&evm), EVM_ADDRESS);
    let auth = Auth::wallet_with_signer(Wallet::evm_signer(evm));
    let c = Client::builder()
        .base_url(server.base_url())
        .auth(auth.clone())
        .build()
        .unwrap();
    // SIWX signed remotely, verified by the mock.
    assert_eq!(c.wallet_balance().await.unwrap().balance_usd, 0.0);
    let err = c.generate(&request()).await.unwrap_err();
    assert!(matches!(err, Error::PaymentRequired { .. }), "{err:?}");
    // The EIP-712 authorization signed remotely.
    let receipt = c.top_up(5.0).await.unwrap();
    assert_eq!(receipt.amount_credited_usd(), 5.0);
    let g = c.generate(&request()).await.unwrap();
    assert!(g.meta().balance_remaining_usd().unwrap() < 5.0);

    // A Solana wallet in the same service: SIWS and the top-up transaction.
    let solana = RemoteSolanaSigner::connect(&service.url).await.unwrap();
    let s = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::wallet_with_signer(Wallet::solana_signer(solana)))
        .build()
        .unwrap();
    let receipt = s.top_up(5.0).await.unwrap();
    assert_eq!(receipt.wallet_address(), SOLANA_ADDRESS);
    assert!((server.wallet_balance(SOLANA_ADDRESS) - receipt.new_balance_usd()).abs() < 1e-9);
    assert!(s.wallet_balance().await.unwrap().balance_usd > 5.0);

    // Nothing of the keys in what the client process produced or sent.
    assert_no_key("Debug of the client", &format!("{c:?} {auth:?} {s:?}"));
    assert_no_key("an error", &chain(&err));
    assert_no_key(
        "the mock's request log",
        &format!("{:?}", server.requests()),
    );
    let logs = log_capture::captured();
    assert!(logs.contains("x402 top-up"), "the capture works");
    assert_no_key("the logs", &logs);
}

/// A service in this process, switched between signing, failing and hanging.
async fn local_service() -> SigningService {
    SigningService::start(
        LocalEvmSigner::random().unwrap(),
        LocalSolanaSigner::random().unwrap(),
    )
    .await
    .unwrap()
}

fn wallet_requests(server: &MockServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|r| !r.path.ends_with("/models"))
        .map(|r| {
            let paid = r.header("payment-signature").is_some();
            format!("{}{}", r.path, if paid { " +payment" } else { "" })
        })
        .collect()
}

#[tokio::test]
async fn a_failing_signer_is_an_auth_error_or_a_wallet_error_with_its_cause() {
    let service = local_service().await;
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let evm = RemoteEvmSigner::connect(service.url()).await.unwrap();
    let c = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::wallet_with_signer(Wallet::evm_signer(evm)))
        .build()
        .unwrap();
    set_mode(service.url(), Mode::Fail).await;

    // Signing a request's SIWX header: Error::Auth, the service's refusal in the chain.
    let err = c.generate(&request()).await.unwrap_err();
    let Error::Auth(auth) = &err else {
        panic!("{err:?}")
    };
    let wallet = std::error::Error::source(auth)
        .and_then(|s| s.downcast_ref::<WalletError>())
        .expect("the wallet error is the source");
    assert!(matches!(wallet, WalletError::Signer(_)), "{wallet:?}");
    let text = chain(&err);
    assert!(
        text.contains("503") && text.contains("HSM unavailable"),
        "{text}"
    );
    assert!(
        wallet_requests(&server).is_empty(),
        "nothing sent: {:?}",
        wallet_requests(&server)
    );

    // Signing a top-up: a wallet error, no payment sent.
    let err = c.top_up(5.0).await.unwrap_err();
    assert!(
        matches!(err, Error::Wallet(WalletError::Signer(_))),
        "{err:?}"
    );
    assert!(chain(&err).contains("HSM unavailable"), "{}", chain(&err));
    assert_eq!(
        wallet_requests(&server),
        ["/api/v1/x402/top-up"],
        "discovery only"
    );

    // Back up: the same client works again.
    set_mode(service.url(), Mode::Sign).await;
    assert_eq!(c.wallet_balance().await.unwrap().balance_usd, 0.0);
}

#[tokio::test]
async fn a_hanging_signer_times_out() {
    let service = local_service().await;
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let timeout = Duration::from_millis(300);
    let config = SiwxConfig::default().signer_timeout(timeout);
    let evm = RemoteEvmSigner::connect(service.url()).await.unwrap();
    let solana = RemoteSolanaSigner::connect(service.url()).await.unwrap();
    let evm_client = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::wallet(Wallet::evm_signer(evm), config.clone()).unwrap())
        .build()
        .unwrap();
    let solana_client = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::wallet(Wallet::solana_signer(solana), config).unwrap())
        .build()
        .unwrap();
    set_mode(service.url(), Mode::Hang).await;

    let started = std::time::Instant::now();
    let err = evm_client.wallet_balance().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let Error::Auth(auth) = &err else {
        panic!("{err:?}")
    };
    let wallet = std::error::Error::source(auth)
        .and_then(|s| s.downcast_ref::<WalletError>())
        .unwrap();
    assert!(
        matches!(wallet, WalletError::SignerTimeout { after } if *after == timeout),
        "{wallet:?}"
    );
    // Signing a Base top-up: the wallet error itself.
    let err = evm_client.top_up(5.0).await.unwrap_err();
    assert!(
        matches!(err, Error::Wallet(WalletError::SignerTimeout { .. })),
        "{err:?}"
    );
    // A Solana top-up first reads chain data through the provider's proxy, an API call
    // whose SIWX header the hung signer never signs: the chain-data error, caused by
    // that Error::Auth.
    let err = solana_client.top_up(5.0).await.unwrap_err();
    let Error::Wallet(WalletError::SolanaRpc { source, .. }) = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(source.downcast_ref::<Error>(), Some(Error::Auth(_))),
        "{err:?}"
    );
    assert!(
        chain(&err).contains("did not answer within 300ms"),
        "{}",
        chain(&err)
    );
    assert!(
        !wallet_requests(&server)
            .iter()
            .any(|r| r.ends_with("+payment") || r.contains("/crypto/rpc/")),
        "nothing signed was sent: {:?}",
        wallet_requests(&server)
    );
}
