//! Key material never shows up in `Debug`, `Display`, error source chains, or tracing
//! output at TRACE level (all targets, `log` records included), for successful and
//! failing calls: 401, 402, 429 retried, 500, reset connection, refused connection,
//! timeout, malformed body, and a key that cannot be sent as a header.
//!
//! The scenarios are driven by [`Credentials`]; with the `wallet` feature the EVM and
//! Solana wallet clients run them too (plus top-ups), and a static `Auth::siwx_header`
//! is checked for Debug/errors. Signed SIWX headers are short-lived bearer credentials,
//! not keys: they must not appear at INFO or above (what is logged below is printed).
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use venice_image::{Auth, Client, ClientBuilder, GenerateRequest, RetryPolicy, Size};
use venice_mock::{Fault, MockConfig, MockServer};

use crate::common::log_capture;

use log_capture::{captured, init_tracing};

/// The secret and fragments of it that must not appear either: every 10-character
/// window of it (a prefix, a distinctive suffix, a middle part) and its base64 (as a
/// header encoder might write it).
fn fragments(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let chars: Vec<char> = secret.chars().collect();
    let mut f: Vec<String> = chars
        .windows(10.min(chars.len()))
        .map(|w| w.iter().collect())
        .collect();
    f.push(base64::engine::general_purpose::STANDARD.encode(secret));
    f
}

/// The first secret fragment found in `text`.
fn leak(text: &str, secrets: &[String]) -> Option<String> {
    secrets
        .iter()
        .flat_map(|s| fragments(s))
        .find(|f| text.contains(f.as_str()))
}

/// Every rendering of an error a caller or a logger might produce.
fn renderings(e: &dyn std::error::Error) -> Vec<String> {
    let mut out = vec![e.to_string(), format!("{e:?}"), format!("{e:#?}")];
    let mut source = e.source();
    while let Some(s) = source {
        out.push(s.to_string());
        out.push(format!("{s:?}"));
        source = s.source();
    }
    out
}

/// How a kind of client authenticates, and the mock set-ups that accept it.
struct Credentials {
    /// Adds valid credentials to a builder.
    valid: Box<dyn Fn(ClientBuilder) -> ClientBuilder>,
    /// Adds credentials the mock rejects (401).
    invalid: Box<dyn Fn(ClientBuilder) -> ClientBuilder>,
    /// Adds credentials that cannot be sent at all (e.g. a key with a newline), if any.
    unsendable: Option<Box<dyn Fn(ClientBuilder) -> ClientBuilder>>,
    /// A mock config that accepts `valid`.
    config: MockConfig,
    /// A mock config that accepts `valid` but has no credit (402).
    broke: MockConfig,
    /// Key material that must never appear.
    secrets: Vec<String>,
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

fn builder(url: &str) -> ClientBuilder {
    Client::builder()
        .base_url(url)
        .timeout(Duration::from_millis(400))
        .retry(
            RetryPolicy::builder()
                .base_delay(Duration::from_millis(10))
                .build(),
        )
}

/// Runs every scenario and returns what a caller could print or log about it.
async fn exercise(creds: &Credentials) -> Vec<String> {
    init_tracing();
    let mut texts = Vec::new();
    let server = MockServer::start(creds.config.clone()).await.unwrap();
    let b = (creds.valid)(builder(&server.base_url()));
    texts.push(format!("{b:?}"));
    let c = b.build().unwrap();
    texts.push(format!("{c:?}"));

    // Success (with the catalogue check), and the result's Debug.
    let g = c.generate(&request()).await.unwrap();
    texts.push(format!("{g:?}"));
    // Retried 429 then success: the retry is logged.
    server.push_faults(vec![Fault::Status429]);
    let _ = c.generate(&request()).await;
    // Failures that reach the server.
    for fault in [
        Fault::Status500,
        Fault::ResetConnection,
        Fault::TruncatedBody,
        Fault::MalformedJson,
        Fault::WrongContentType,
        Fault::Latency(Duration::from_secs(2)),
    ] {
        server.push_faults(vec![fault.clone()]);
        let e = c.generate(&request()).await.unwrap_err();
        texts.extend(renderings(&e));
    }
    // Binary mode errors too.
    server.push_faults(vec![Fault::Status500]);
    texts.extend(renderings(
        &c.generate_binary(&request()).await.unwrap_err(),
    ));

    // 401 with credentials the server rejects.
    let bad = (creds.invalid)(builder(&server.base_url()))
        .build()
        .unwrap();
    texts.push(format!("{bad:?}"));
    let e = bad.generate(&request()).await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
    texts.extend(renderings(&e));

    // 402 without credit.
    let broke = MockServer::start(creds.broke.clone()).await.unwrap();
    let e = (creds.valid)(builder(&broke.base_url()))
        .build()
        .unwrap()
        .generate(&request())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(402), "{e}");
    texts.extend(renderings(&e));

    // Nothing listening: a connect error (retried, then reported).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = (creds.valid)(builder(&format!("http://127.0.0.1:{port}/api/v1")))
        .build()
        .unwrap()
        .generate(&request())
        .await
        .unwrap_err();
    texts.extend(renderings(&e));

    // Credentials that cannot become a header.
    if let Some(unsendable) = &creds.unsendable {
        let c = unsendable(builder(&server.base_url())).build().unwrap();
        texts.push(format!("{c:?}"));
        let e = c.generate(&request()).await.unwrap_err();
        texts.extend(renderings(&e));
    }

    // The mock's own request log redacts what it received.
    texts.push(format!("{:?}", server.requests()));
    texts.push(format!("{:?}", broke.requests()));
    texts
}

async fn assert_no_leaks(creds: Credentials) {
    assert_no_leaks_with(creds, Vec::new()).await;
}

/// [`assert_no_leaks`], plus `extra` renderings the caller produced itself.
async fn assert_no_leaks_with(creds: Credentials, extra: Vec<String>) {
    let mut texts = exercise(&creds).await;
    texts.extend(extra);
    assert!(texts.len() > 20);
    for t in &texts {
        if let Some(secret) = leak(t, &creds.secrets) {
            panic!("secret {secret:?} leaked into: {t}");
        }
    }
    let log = captured();
    // The capture works and saw the calls at TRACE level.
    assert!(log.contains("venice.generate"), "no spans captured");
    assert!(log.contains("retrying"), "no retry event captured");
    if let Some(secret) = leak(&log, &creds.secrets) {
        let at = log.find(&secret).unwrap_or(0);
        panic!(
            "secret {secret:?} leaked into tracing output: …{}…",
            &log[at.saturating_sub(200)..(at + 200).min(log.len())]
        );
    }
}

#[test]
fn the_leak_check_detects_fragments() {
    let secrets = vec!["sk-canary-Q7vX2mP9rT4wZ8kL".to_owned()];
    assert!(leak("Bearer sk-canary-Q7vX2mP9rT4wZ8kL", &secrets).is_some());
    assert!(leak("…P9rT4wZ8kL", &secrets).is_some());
    assert!(leak("…vX2mP9rT4w…", &secrets).is_some());
    assert!(leak("sk-canary-Q7v…", &secrets).is_some());
    assert!(leak("c2stY2FuYXJ5LVE3dlgybVA5clQ0d1o4a0w=", &secrets).is_some());
    assert!(leak("Auth::ApiKey([REDACTED])", &secrets).is_none());
    init_tracing();
    tracing::trace!(target: "secrets::canary", "canary sk-canary-Q7vX2mP9rT4wZ8kL");
    assert!(leak(&captured(), &secrets).is_some(), "capture sees TRACE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_never_leaks() {
    const KEY: &str = "vk-live-3Fq9Zt7LmW2xR8cN5pJ4";
    const WRONG: &str = "vk-live-WRONG-h6Yd1Qs9Kb3Ve7Tg";
    const UNSENDABLE: &str = "vk-live-Ub8Nn2\nJr5Xa9Ce4Mw";
    let config = MockConfig {
        api_keys: vec![KEY.to_owned()],
        ..MockConfig::default()
    };
    assert_no_leaks(Credentials {
        valid: Box::new(|b| b.auth(Auth::api_key(KEY))),
        invalid: Box::new(|b| b.auth(Auth::api_key(WRONG))),
        unsendable: Some(Box::new(|b| b.auth(Auth::api_key(UNSENDABLE)))),
        broke: MockConfig {
            api_key_balance: Some(0.0),
            ..config.clone()
        },
        config,
        secrets: vec![
            KEY.to_owned(),
            WRONG.to_owned(),
            UNSENDABLE.to_owned(),
            "Ub8Nn2\nJr5Xa9Ce4Mw".to_owned(),
        ],
    })
    .await;
}

#[test]
fn from_env_errors_do_not_echo_the_environment() {
    // A base URL that fails to parse is echoed (it is not secret), the key is not.
    let e = Client::builder()
        .auth(Auth::api_key("vk-live-Env5Gh8Jk2Lm4Np6Qr"))
        .base_url("not a url")
        .build()
        .unwrap_err();
    let secrets = vec!["vk-live-Env5Gh8Jk2Lm4Np6Qr".to_owned()];
    for t in renderings(&e) {
        assert!(leak(&t, &secrets).is_none(), "{t}");
    }
}

/// Lines of the captured log at INFO, WARN or ERROR.
#[cfg(feature = "wallet")]
fn info_and_above(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            [" INFO ", " WARN ", " ERROR "]
                .iter()
                .any(|lvl| l.contains(lvl))
        })
        .collect()
}

#[cfg(feature = "wallet")]
mod wallet {
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    use venice_image::wallet::{SiwxConfig, signed_header};
    use venice_image::{Auth, wallet::Wallet};
    use venice_mock::{DefaultSiwxVerifier, SiwxPolicy, SiwxVerifier, WalletIdentity};

    use super::*;

    /// An EVM private key (hex) used nowhere else.
    const EVM_KEY: &str = "0x8f3a1c9e2b7d4f6a0c5e8b1d3f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a";
    /// Another, for the rejected (wrong domain) sign-ins.
    const EVM_OTHER: &str = "0x1d7e3b9f5a2c8e4b6d0f7a3c9e1b5d8f2a6c4e0b7d3f9a1c5e8b2d6f0a4c7e9b";

    /// The mock's verifier, remembering the headers it saw (to look for them in logs).
    struct Recording {
        seen: Arc<Mutex<Vec<String>>>,
        inner: DefaultSiwxVerifier,
    }

    impl SiwxVerifier for Recording {
        fn verify(&self, header_value: &str) -> Result<WalletIdentity, String> {
            self.seen.lock().unwrap().push(header_value.to_owned());
            self.inner.verify(header_value)
        }
    }

    fn configs(address: &str, seen: &Arc<Mutex<Vec<String>>>) -> (MockConfig, MockConfig) {
        let mut config = MockConfig {
            siwx_verifier: Some(Arc::new(Recording {
                seen: seen.clone(),
                inner: DefaultSiwxVerifier::new(SiwxPolicy::default()),
            })),
            ..MockConfig::default()
        };
        let mut broke = config.clone();
        config.wallet_balances.insert(address.to_owned(), 100.0);
        broke.wallet_balances.insert(address.to_owned(), 0.0);
        (config, broke)
    }

    /// Every secret form of a 32-byte key: hex (with and without `0x`, both cases),
    /// base58 and base64 of the bytes.
    fn key_forms(bytes: &[u8]) -> Vec<String> {
        use base64::Engine as _;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        vec![
            format!("0x{hex}"),
            hex.to_uppercase(),
            bs58::encode(bytes).into_string(),
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ]
    }

    fn hex_bytes(key: &str) -> Vec<u8> {
        let h = key.trim_start_matches("0x");
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Top-ups and their failures: what a caller would print of them.
    async fn top_up_texts(auth: impl Fn() -> Auth, broke: &MockConfig) -> Vec<String> {
        let server = MockServer::start(broke.clone()).await.unwrap();
        let c = builder(&server.base_url()).auth(auth()).build().unwrap();
        let mut texts = Vec::new();
        // Below the minimum top-up (EVM) or unsupported (Solana): an error.
        match c.top_up(0.01).await {
            Ok(r) => texts.push(format!("{r:?}")),
            Err(e) => texts.extend(renderings(&e)),
        }
        // The real thing (EVM signs an EIP-3009 authorization), then the 402 is gone.
        match c.top_up(5.0).await {
            Ok(r) => {
                texts.push(format!("{r:?}"));
                texts.push(format!("{:?}", c.generate(&request()).await.unwrap()));
            }
            Err(e) => texts.extend(renderings(&e)),
        }
        match c.payment_requirements().await {
            Ok(r) => texts.push(format!("{r:?}")),
            Err(e) => texts.extend(renderings(&e)),
        }
        texts.push(format!("{c:?}"));
        texts.push(format!("{:?}", server.requests()));
        texts
    }

    /// Signed headers seen by the mock must not be logged at INFO or above; prints
    /// whether they appear at DEBUG/TRACE (the answer to "what is logged").
    fn assert_headers_not_at_info(seen: &Arc<Mutex<Vec<String>>>, what: &str) {
        let seen = seen.lock().unwrap().clone();
        assert!(!seen.is_empty(), "{what}: the mock saw no SIWX header");
        let log = captured();
        let loud = info_and_above(&log);
        for h in &seen {
            // A 40-character piece: the base64 of the JSON's start is shared by all.
            let piece = &h[h.len() / 2..h.len() / 2 + 40];
            if let Some(line) = loud.iter().find(|l| l.contains(piece)) {
                panic!("{what}: a signed SIWX header is logged at INFO+: {line}");
            }
        }
        let anywhere = seen
            .iter()
            .filter(|h| log.contains(&h[h.len() / 2..h.len() / 2 + 40]))
            .count();
        eprintln!(
            "{what}: {} signed headers sent, {anywhere} appear in the TRACE capture, 0 at INFO+",
            seen.len()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn evm_wallet_key_never_leaks() {
        let address = Auth::evm_wallet(EVM_KEY).unwrap().wallet_address().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (config, broke) = configs(&address, &seen);
        let extra = top_up_texts(|| Auth::evm_wallet(EVM_KEY).unwrap(), &broke).await;
        // The top-up succeeded (the Debug of the receipt is among the texts).
        assert!(
            extra.iter().any(|t| t.contains("TopUpReceipt")),
            "{extra:?}"
        );
        let mut secrets = vec![EVM_KEY.to_owned(), EVM_OTHER.to_owned()];
        secrets.extend(key_forms(&hex_bytes(EVM_KEY)));
        secrets.extend(key_forms(&hex_bytes(EVM_OTHER)));
        assert_no_leaks_with(
            Credentials {
                valid: Box::new(|b| b.auth(Auth::evm_wallet(EVM_KEY).unwrap())),
                // Signed for another domain: the mock answers 401.
                invalid: Box::new(|b| {
                    b.auth(
                        Auth::wallet(
                            Wallet::evm(EVM_OTHER).unwrap(),
                            SiwxConfig::default().domain("evil.example"),
                        )
                        .unwrap(),
                    )
                }),
                unsendable: None,
                config,
                broke,
                secrets,
            },
            extra,
        )
        .await;
        assert_headers_not_at_info(&seen, "EVM wallet");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn solana_wallet_keypair_never_leaks() {
        use ed25519_dalek::SigningKey;
        let secret = [0x5au8, 0x13, 0xc7, 0x29, 0x8e, 0x41, 0xf0, 0x6b]
            .repeat(4)
            .try_into()
            .unwrap();
        let key = SigningKey::from_bytes(&secret);
        let mut pair = secret.to_vec();
        pair.extend_from_slice(key.verifying_key().as_bytes());
        // The usual export: base58 of the 64-byte keypair.
        let keypair = bs58::encode(&pair).into_string();
        let other = bs58::encode([0xa4u8; 32]).into_string();
        let address = Auth::solana_wallet(&keypair)
            .unwrap()
            .wallet_address()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (config, broke) = configs(&address, &seen);
        let kp = keypair.clone();
        let extra = top_up_texts(move || Auth::solana_wallet(&kp).unwrap(), &broke).await;
        let mut secrets = vec![keypair.clone(), other.clone()];
        secrets.extend(key_forms(&secret));
        secrets.extend(key_forms(&[0xa4u8; 32]));
        let (kp, ot) = (keypair.clone(), other.clone());
        assert_no_leaks_with(
            Credentials {
                valid: Box::new(move |b| b.auth(Auth::solana_wallet(&kp).unwrap())),
                invalid: Box::new(move |b| {
                    b.auth(
                        Auth::wallet(
                            Wallet::solana(&ot).unwrap(),
                            SiwxConfig::default().domain("evil.example"),
                        )
                        .unwrap(),
                    )
                }),
                unsendable: None,
                config,
                broke,
                secrets,
            },
            extra,
        )
        .await;
        assert_headers_not_at_info(&seen, "Solana wallet");
    }

    /// A pre-signed header is a bearer credential for its lifetime: not in Debug,
    /// errors (success, replay 401, 402, unsendable) or INFO logs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn static_siwx_header_is_not_echoed() {
        init_tracing();
        let wallet = Wallet::evm(EVM_KEY).unwrap();
        let address = Auth::evm_wallet(EVM_KEY).unwrap().wallet_address().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (config, broke) = configs(&address, &seen);
        let config_siwx = SiwxConfig::default();
        let header = async |nonce: &str| {
            signed_header(&wallet, &config_siwx, SystemTime::now(), nonce)
                .await
                .unwrap()
        };
        let mut texts = Vec::new();
        let mut headers = Vec::new();
        let server = MockServer::start(config).await.unwrap();
        let h = header("5a1e0c3b9d7f2e4a").await;
        headers.push(h.clone());
        let b = builder(&server.base_url()).auth(Auth::siwx_header(h));
        texts.push(format!("{b:?}"));
        let c = b.build().unwrap();
        texts.push(format!("{c:?}"));
        texts.push(format!("{:?}", c.generate(&request()).await.unwrap()));
        // A second use is refused before anything is sent (its nonce is spent).
        let e = c.generate(&request()).await.unwrap_err();
        assert!(matches!(e, venice_image::Error::Auth(_)), "{e:?}");
        texts.extend(renderings(&e));
        // 402.
        let broke = MockServer::start(broke).await.unwrap();
        let h = header("5a1e0c3b9d7f2e4b").await;
        headers.push(h.clone());
        let e = builder(&broke.base_url())
            .auth(Auth::siwx_header(h))
            .build()
            .unwrap()
            .generate(&request())
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(402), "{e}");
        texts.extend(renderings(&e));
        // Cannot become a header.
        let bad = format!("{}\n{}", header("5a1e0c3b9d7f2e4c").await, "tail");
        headers.push(bad.clone());
        let c = builder(&server.base_url())
            .auth(Auth::siwx_header(bad))
            .build()
            .unwrap();
        texts.push(format!("{c:?}"));
        texts.extend(renderings(&c.generate(&request()).await.unwrap_err()));
        for t in &texts {
            for h in &headers {
                let piece = &h[h.len() / 2..h.len() / 2 + 40];
                assert!(!t.contains(piece), "a SIWX header leaked into: {t}");
            }
        }
        assert_headers_not_at_info(&seen, "static SIWX header");
        // The key that signed them never reached the client, nor the log.
        assert!(leak(&captured(), &[EVM_KEY.to_owned()]).is_none());
    }
}
