//! The client a command runs with: the real API, or the embedded mock with `--offline`.

use std::sync::Arc;

use venice_image::pacing::{Pacer, RedisOptions};
use venice_image::wallet::{LocalEvmSigner, SiwxConfig, Wallet};
use venice_image::{Auth, Client, ClientBuilder};
use venice_mock::{MockConfig, MockServer};

use crate::args::GlobalArgs;
use crate::exit::CliError;

/// USD credit of the ephemeral `--offline` wallet.
pub const OFFLINE_WALLET_USD: f64 = 10.0;

/// How a command paces its image requests (`batch` does; one-off commands do not).
#[derive(Debug, Clone, Default)]
pub enum Pacing {
    /// No pacing.
    #[default]
    Off,
    /// A budget per model in this process.
    Local,
    /// Budgets shared with every process using the same credentials through the Redis
    /// at this URL (falls back to local pacing while it is unreachable).
    Redis(String),
}

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
    /// The credentials authenticate one request only (a static `SIGN-IN-WITH-X` value).
    pub single_use: bool,
    // Kept alive for the whole command: dropping it stops the server.
    _mock: Option<MockServer>,
}

impl Session {
    /// Whether [`client`](Self::client) signs in with a wallet (offline, the client
    /// uses the mock's API key and the ephemeral wallet is `offline_wallet`).
    pub fn client_is_wallet(&self) -> bool {
        !self.offline && self.wallet_address.is_some()
    }

    /// Build the client from flags and the environment, pacing its image requests as
    /// `pacing` says.
    pub async fn open(args: &GlobalArgs, pacing: &Pacing) -> Result<Session, CliError> {
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
            let client = paced(
                Client::builder()
                    .base_url(mock.base_url())
                    .auth(Auth::api_key(venice_mock::DEFAULT_API_KEY))
                    .model_validation(!args.no_validate),
                pacing,
                venice_mock::DEFAULT_API_KEY,
            )?
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
                single_use: false,
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
        let single_use = auth.is_single_use();
        // The rate limits are per API key, or per wallet: that names the shared budgets
        // (hashed; the key itself never reaches Redis).
        let identity = match &wallet_address {
            // EVM addresses compare case-insensitively; Solana's base58 does not.
            Some(address) if address.starts_with("0x") => address.to_lowercase(),
            Some(address) => address.clone(),
            None => std::env::var("VENICE_API_KEY")
                .map(|k| k.trim().to_owned())
                .unwrap_or_default(),
        };
        let mut builder = paced(
            Client::builder()
                .auth(auth)
                .model_validation(!args.no_validate),
            pacing,
            &identity,
        )?;
        if let Some(url) = &args.base_url {
            builder = builder.base_url(url.clone());
        }
        Ok(Session {
            client: builder.build()?,
            offline: false,
            offline_wallet: None,
            wallet_address,
            single_use,
            _mock: None,
        })
    }
}

/// `builder` with the pacer `pacing` asks for, shared under `identity`.
fn paced(
    builder: ClientBuilder,
    pacing: &Pacing,
    identity: &str,
) -> Result<ClientBuilder, CliError> {
    Ok(match pacing {
        Pacing::Off => builder,
        Pacing::Local => builder.pacing(Pacer::local()),
        Pacing::Redis(url) => {
            let pacer = Pacer::with_redis(identity, RedisOptions::new(url.clone()))
                .map_err(|e| CliError::Usage(format!("--pacing-redis: {e}")))?;
            builder.pacing(pacer)
        }
    })
}
