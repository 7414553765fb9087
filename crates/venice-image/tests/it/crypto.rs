//! A user's own `reqwest::Client`, built in a process where nothing installed a rustls
//! crypto provider yet, never panics when it is built the way the docs show: after
//! `Client::builder()` (which installs one) or from `raw::http_client_builder()`. Each
//! case runs in a fresh child process, since the provider is process-wide.
#![allow(clippy::unwrap_used)]

use venice_image::{Auth, Client};

/// Set in the child processes the parent test starts.
const CHILD: &str = "VENICE_IMAGE_CRYPTO_CHILD";

fn run_child(test: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{test}: {text}");
    assert!(text.contains("1 passed"), "{test}: {text}");
}

#[test]
fn own_http_clients_never_panic_in_a_fresh_process() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    run_child("crypto::child_http_client_after_client_builder");
    run_child("crypto::child_raw_client_from_http_client_builder");
}

/// Child: `Client::builder().http_client(reqwest::Client::builder().build()?)`.
#[test]
fn child_http_client_after_client_builder() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let client = Client::builder()
        .auth(Auth::api_key("k"))
        .http_client(
            venice_image::raw::reqwest::Client::builder()
                .build()
                .unwrap(),
        )
        .build();
    assert!(client.is_ok());
}

/// Child: `raw::Client::new_with_client(url, raw::http_client_builder().build()?, …)`.
#[test]
fn child_raw_client_from_http_client_builder() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let http = venice_image::raw::http_client_builder().build().unwrap();
    let _client = venice_image::raw::Client::new_with_client(
        "https://api.venice.ai/api/v1",
        http,
        venice_image::raw::ClientState::anonymous(),
    );
}
