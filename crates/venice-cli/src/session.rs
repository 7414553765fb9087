//! The client a command runs with: the real API, or the embedded mock with `--offline`.

use std::sync::Arc;

use venice_image::{Auth, Client, LocalEvmSigner, SiwxConfig, Wallet};
use venice_mock::{MockConfig, MockServer};

use crate::args::GlobalArgs;
use crate::exit::CliError;

/// USD credit of the ephemeral `--offline` wallet.
pub const OFFLINE_WALLET_USD: f64 = 10.0;

/// A configured client, plus the mock server it talks to in offline mode.
pub struct Session {
    /// The client.
    pub client: Client,
    /// Whether requests go to the embedded mock.
    pub offline: bool,
    /// With `--offline`: a client signed in with an ephemeral wallet whose mock
    /// balance is [`OFFLINE_WALLET_USD`].
    pub offline_wallet: Option<Client>,
    /// The wallet address of the credentials, when they are a wallet.
    pub wallet_address: Option<String>,
    // Kept alive for the whole command: dropping it stops the server.
    _mock: Option<MockServer>,
}

impl Session {
    /// Build the client from flags and the environment.
    pub async fn open(args: &GlobalArgs) -> Result<Session, CliError> {
        if args.offline {
            // A throwaway wallet with seeded mock credit, so wallet commands work offline.
            let signer = LocalEvmSigner::random().map_err(venice_image::Error::from)?;
            let mut config = MockConfig::default();
            config
                .wallet_balances
                .insert(signer.address().to_owned(), OFFLINE_WALLET_USD);
            let mock = MockServer::start(config)
                .await
                .map_err(|e| CliError::Other(format!("cannot start the embedded mock: {e}")))?;
            let client = Client::builder()
                .base_url(mock.base_url())
                .auth(Auth::api_key(venice_mock::DEFAULT_API_KEY))
                .model_validation(!args.no_validate)
                .build()?;
            let wallet_auth = Auth::wallet(Wallet::Evm(Arc::new(signer)), SiwxConfig::default())?;
            let wallet_address = wallet_auth.wallet_address();
            let offline_wallet = Client::builder()
                .base_url(mock.base_url())
                .auth(wallet_auth)
                .build()?;
            return Ok(Session {
                client,
                offline: true,
                offline_wallet: Some(offline_wallet),
                wallet_address,
                _mock: Some(mock),
            });
        }
        let auth = Auth::from_env().map_err(|e| match e {
            venice_image::Error::Config { what, source } => CliError::Usage(format!(
                "{what}{}; or pass --offline to run on the embedded mock server",
                source.map(|s| format!(": {s}")).unwrap_or_default()
            )),
            other => CliError::Client(other),
        })?;
        let wallet_address = auth.wallet_address();
        let mut builder = Client::builder()
            .auth(auth)
            .model_validation(!args.no_validate);
        if let Some(url) = &args.base_url {
            builder = builder.base_url(url.clone());
        }
        Ok(Session {
            client: builder.build()?,
            offline: false,
            offline_wallet: None,
            wallet_address,
            _mock: None,
        })
    }
}
