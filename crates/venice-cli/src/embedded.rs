//! The mock server inside the binary: `--offline` runs commands against it (feature
//! `offline`), `--record FILE` sends them through its recording forwarder (feature
//! `record`). Both features are on by default; a build without them says so when the
//! flag is used, and is the only place the CLI names `venice-mock`.

use std::path::Path;

use crate::exit::CliError;

/// The embedded mock, kept alive for the whole command (dropping it stops the server).
#[cfg_attr(not(feature = "offline"), allow(dead_code))]
pub struct OfflineServer {
    #[cfg(feature = "offline")]
    _mock: venice_mock::MockServer,
    /// Where it listens.
    pub base_url: String,
    /// The API key it accepts.
    pub api_key: &'static str,
}

/// Start the embedded mock with `usd` of credit on `wallet` (an EVM address).
#[cfg(feature = "offline")]
pub async fn start_offline(wallet: &str, usd: f64) -> Result<OfflineServer, CliError> {
    let mut config = venice_mock::MockConfig::default();
    config.wallet_balances.insert(wallet.to_owned(), usd);
    let mock = venice_mock::MockServer::start(config)
        .await
        .map_err(|e| CliError::Other(format!("cannot start the embedded mock: {e}")))?;
    Ok(OfflineServer {
        base_url: mock.base_url(),
        _mock: mock,
        api_key: venice_mock::DEFAULT_API_KEY,
    })
}

/// Without the `offline` feature: a usage error saying how to get it.
#[cfg(not(feature = "offline"))]
pub async fn start_offline(_wallet: &str, _usd: f64) -> Result<OfflineServer, CliError> {
    Err(CliError::Usage(
        "--offline needs the embedded mock server, and this venice-image was built without \
         it: rebuild with the `offline` feature (on by default; e.g. `cargo install \
         venice-cli --features offline`)"
            .to_owned(),
    ))
}

/// A running `--record` forwarder.
pub struct Recorder {
    #[cfg(feature = "record")]
    inner: venice_mock::record::Recorder,
    // Without the feature no recorder exists.
    #[cfg(not(feature = "record"))]
    inner: std::convert::Infallible,
}

/// What a recording wrote.
#[cfg_attr(not(feature = "record"), allow(dead_code))]
pub struct Recorded {
    /// Exchanges written.
    pub exchanges: u64,
    /// The cassette file.
    pub cassette: std::path::PathBuf,
}

impl Recorder {
    /// Start a recorder forwarding to `upstream` into `path`, scrubbing the
    /// credentials of the environment besides what the traffic reveals.
    #[cfg(feature = "record")]
    pub async fn start(path: &Path, upstream: &str) -> Result<Recorder, CliError> {
        use venice_mock::record::RecordOptions;
        use venice_mock::scrub::Secrets;
        let options = RecordOptions::new(upstream, path).secrets(Secrets::from_env());
        venice_mock::MockServer::record(options)
            .await
            .map(|inner| Recorder { inner })
            .map_err(|e| CliError::Io(format!("--record {}: {e}", path.display())))
    }

    /// Without the `record` feature: a usage error saying how to get it.
    #[cfg(not(feature = "record"))]
    pub async fn start(_path: &Path, _upstream: &str) -> Result<Recorder, CliError> {
        Err(CliError::Usage(
            "--record needs the embedded recording forwarder, and this venice-image was built \
             without it: rebuild with the `record` feature (on by default)"
                .to_owned(),
        ))
    }

    /// Where the client sends its requests.
    pub fn base_url(&self) -> String {
        #[cfg(feature = "record")]
        return self.inner.base_url();
        #[cfg(not(feature = "record"))]
        match self.inner {}
    }

    /// Wait for the last exchanges to be written.
    pub async fn finish(self) -> Result<Recorded, CliError> {
        #[cfg(feature = "record")]
        {
            let summary = self
                .inner
                .finish()
                .await
                .map_err(|e| CliError::Io(format!("--record: {e}")))?;
            Ok(Recorded {
                exchanges: summary.exchanges,
                cassette: summary.cassette,
            })
        }
        #[cfg(not(feature = "record"))]
        match self.inner {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "offline")]
    #[tokio::test]
    async fn the_offline_server_starts_with_the_wallet_funded() {
        let server = start_offline("0x2c7536e3605d9c16a7a3d7b1898e529396a65c23", 10.0)
            .await
            .expect("embedded mock");
        assert!(server.base_url.starts_with("http://127.0.0.1:"));
        assert!(!server.api_key.is_empty());
    }

    #[cfg(not(feature = "offline"))]
    #[tokio::test]
    async fn without_the_feature_offline_says_which_feature_it_needs() {
        let Err(CliError::Usage(message)) = start_offline("0x0", 10.0).await else {
            panic!("--offline without the feature must be a usage error");
        };
        assert!(message.contains("--offline") && message.contains("`offline` feature"));
    }

    #[cfg(not(feature = "record"))]
    #[tokio::test]
    async fn without_the_feature_record_says_which_feature_it_needs() {
        let path = Path::new("out.jsonl");
        let Err(CliError::Usage(message)) = Recorder::start(path, "http://127.0.0.1:9").await
        else {
            panic!("--record without the feature must be a usage error");
        };
        assert!(message.contains("--record") && message.contains("`record` feature"));
    }
}
