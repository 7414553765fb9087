//! The low-level client is usable on its own: constructing it never panics, even in a
//! process where nothing installed a rustls crypto provider first (this test binary
//! holds only these tests, and the one that needs a fresh process runs in its own).
#![allow(clippy::unwrap_used, missing_docs)]

use venice_openapi::{Client, ClientState};

/// Set in the child process that [`own_http_client_never_panics_in_a_fresh_process`]
/// starts.
const CHILD: &str = "VENICE_OPENAPI_CONSTRUCT_CHILD";

#[test]
fn new_never_panics_without_a_preinstalled_crypto_provider() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    // No other test of this process installs one.
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let client = Client::new("https://api.venice.ai/api/v1", ClientState::anonymous());
    assert_eq!(
        venice_openapi::ClientInfo::baseurl(&client),
        "https://api.venice.ai/api/v1"
    );
    assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    // `Default` goes through the same constructor.
    let _ = Client::new("https://example.com", ClientState::default());
}

/// A user's own HTTP client for `Client::new_with_client`, built in a process where
/// nothing installed a crypto provider: `http_client_builder()` installs one, so the
/// plain reqwest `build()` that would panic does not.
#[test]
fn own_http_client_never_panics_in_a_fresh_process() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_builds_its_own_http_client",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

/// Runs only as the child of the test above (a fresh process).
#[test]
fn child_builds_its_own_http_client() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let http = venice_openapi::http_client_builder().build().unwrap();
    let client = Client::new_with_client(
        "https://api.venice.ai/api/v1",
        http,
        ClientState::anonymous(),
    );
    assert_eq!(
        venice_openapi::ClientInfo::baseurl(&client),
        "https://api.venice.ai/api/v1"
    );
}
