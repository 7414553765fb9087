//! What every example starts with: the real API when `VENICE_API_KEY` is set (and
//! `VENICE_BASE_URL`, optionally), otherwise `venice-mock` started in-process on
//! 127.0.0.1, so each example runs offline with no credentials.

use venice_image::{Auth, Client};
use venice_mock::{DEFAULT_API_KEY, MockConfig, MockServer};

/// The client, and the mock it talks to when offline (keep it alive while in use).
pub async fn client() -> Result<(Client, Option<MockServer>), Box<dyn std::error::Error>> {
    if std::env::var_os("VENICE_API_KEY").is_some() {
        return Ok((Client::from_env()?, None));
    }
    let server = MockServer::start(MockConfig::default()).await?;
    eprintln!(
        "offline: venice-mock at {} (set VENICE_API_KEY for the real API)",
        server.base_url()
    );
    let client = Client::builder()
        .base_url(server.base_url())
        .auth(Auth::api_key(DEFAULT_API_KEY))
        .build()?;
    Ok((client, Some(server)))
}

/// Where the examples write images: `$VENICE_OUT`, else `out`. The trailing `/` makes
/// it a directory for `save` even before it exists (it is created then).
#[allow(dead_code)] // not every example saves
pub fn out_dir() -> String {
    let dir = std::env::var("VENICE_OUT").unwrap_or_else(|_| "out".to_owned());
    format!("{}/", dir.trim_end_matches('/'))
}
