//! The low-level client is usable on its own: constructing it never panics, even in a
//! process where nothing installed a rustls crypto provider first (this test binary
//! holds this one test, so nothing did).
#![allow(clippy::unwrap_used, missing_docs)]

use venice_openapi::{Client, ClientState};

#[test]
fn new_never_panics_without_a_preinstalled_crypto_provider() {
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
