//! Key material never shows up in `Debug`, `Display`, error source chains, or tracing
//! output at TRACE level (all targets, `log` records included), for successful and
//! failing calls: 401, 402, 429 retried, 500, reset connection, refused connection,
//! timeout, malformed body, and a key that cannot be sent as a header.
//!
//! The scenarios are driven by [`Credentials`], so the wallet client is one more test
//! function that fills it with SIWX credentials and a verifying mock.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Write;
use std::sync::{Mutex, Once};
use std::time::Duration;

use venice_image::{Auth, Client, ClientBuilder, GenerateRequest, RetryPolicy, Size};
use venice_mock::{Fault, MockConfig, MockServer};

/// Everything tracing wrote in this test binary.
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A global TRACE subscriber (every target; `log` records of reqwest and friends are
/// forwarded) writing into [`CAPTURED`].
fn init_tracing() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(|| Capture)
            .try_init()
            .unwrap();
    });
}

fn captured() -> String {
    String::from_utf8_lossy(&CAPTURED.lock().unwrap()).into_owned()
}

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
        .retry(RetryPolicy {
            base_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        })
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
    let texts = exercise(&creds).await;
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
