//! The client a command runs with: the real API, or the embedded mock with `--offline`.

use std::sync::Arc;

use crate::args::GlobalArgs;
use crate::credentials;
use crate::embedded::{OfflineServer, Recorder};
use crate::exit::CliError;
use crate::precheck::ModelCheck;
use venice_image::pacing::{Pacer, RedisOptions};
use venice_image::wallet::{AutoTopUp, LocalEvmSigner, SiwxConfig, Wallet};
use venice_image::{Auth, Client, ClientBuilder};

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
    /// The wallet holds a key that can sign payments (not a static header), and it
    /// is a Solana wallet (`Some(true)`) or an EVM one (`Some(false)`).
    pub paying_wallet: Option<bool>,
    /// The catalogue check before each generation (`--no-validate`,
    /// `--strict-validate`).
    pub models: Arc<ModelCheck>,
    /// The `--auto-top-up` policy in force, if any.
    pub auto_top_up: Option<AutoTopUp>,
    /// With `--record FILE`: the recorder every request goes through.
    recorder: Option<Recorder>,
    // Kept alive for the whole command: dropping it stops the server.
    _mock: Option<OfflineServer>,
}

/// With `--record FILE`, a recorder forwarding to `upstream`, scrubbing the
/// credentials of the environment besides what the traffic reveals.
async fn recorder(args: &GlobalArgs, upstream: &str) -> Result<Option<Recorder>, CliError> {
    let Some(path) = &args.record else {
        return Ok(None);
    };
    Recorder::start(path, upstream).await.map(Some)
}

impl Session {
    /// Whether [`client`](Self::client) signs in with a wallet (offline, the client
    /// uses the mock's API key and the ephemeral wallet is `offline_wallet`).
    pub fn client_is_wallet(&self) -> bool {
        !self.offline && self.wallet_address.is_some()
    }

    /// Build the client from flags and the environment, pacing its image requests as
    /// `pacing` says. A `public` command (the catalogue and the styles, which the spec
    /// lets anyone read) runs without credentials when none are set.
    pub async fn open(
        args: &GlobalArgs,
        pacing: &Pacing,
        public: bool,
    ) -> Result<Session, CliError> {
        let models = Arc::new(ModelCheck::new(args));
        let auto_top_up = auto_top_up(args)?;
        if args.offline {
            // A throwaway wallet with seeded mock credit, so wallet commands work offline.
            let signer = LocalEvmSigner::random().map_err(venice_image::Error::from)?;
            let mock = crate::embedded::start_offline(signer.address(), OFFLINE_WALLET_USD).await?;
            let recorder = recorder(args, &mock.base_url).await?;
            let base_url = recorder
                .as_ref()
                .map_or_else(|| mock.base_url.clone(), Recorder::base_url);
            let client = paced(
                Client::builder()
                    .base_url(base_url.clone())
                    .auth(Auth::api_key(mock.api_key))
                    // The CLI checks the catalogue itself (`ModelCheck`), visibly.
                    .model_validation(false),
                pacing,
                mock.api_key,
            )?
            .build()?;
            let wallet_auth = Auth::wallet(Wallet::Evm(Arc::new(signer)), SiwxConfig::default())?;
            let wallet_address = wallet_auth.wallet_address();
            let mut wallet_builder = Client::builder()
                .base_url(base_url)
                .auth(wallet_auth)
                .model_validation(false);
            if let Some(policy) = auto_top_up {
                wallet_builder = wallet_builder.auto_top_up(policy);
            }
            let offline_wallet = wallet_builder.build()?;
            return Ok(Session {
                client,
                offline: true,
                offline_wallet: Some(offline_wallet),
                wallet_address,
                single_use: false,
                paying_wallet: Some(false),
                models,
                auto_top_up,
                recorder,
                _mock: Some(mock),
            });
        }
        let in_use = credentials::check_env()?;
        let base_url = match &args.base_url {
            Some(url) => Some(credentials::checked("--base-url / VENICE_BASE_URL", url)?),
            None => None,
        };
        let auth = if public && in_use.is_none() {
            Ok(Auth::None)
        } else {
            Auth::from_env()
        };
        let auth = auth.map_err(|e| match e {
            venice_image::Error::Config { what, source } => CliError::Usage(format!(
                "{what}{}; or pass --offline to run on the embedded mock server",
                source.map(|s| format!(": {s}")).unwrap_or_default()
            )),
            other => CliError::Client(other),
        })?;
        let wallet_address = auth.wallet_address();
        let single_use = auth.is_single_use();
        let paying_wallet = match &auth {
            Auth::Wallet(w) => Some(matches!(w.wallet(), Wallet::Solana(_))),
            _ => None,
        };
        if auto_top_up.is_some() && paying_wallet.is_none() {
            return Err(CliError::Usage(
                "--auto-top-up pays from a wallet and needs VENICE_WALLET_PRIVATE_KEY or \
                 VENICE_SOLANA_KEYPAIR (an API key's balance is topped up at \
                 https://venice.ai/settings/api; a VENICE_SIWX_HEADER value cannot sign a payment)"
                    .into(),
            ));
        }
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
            Client::builder().auth(auth).model_validation(false),
            pacing,
            &identity,
        )?;
        let upstream = base_url.unwrap_or_else(|| venice_image::DEFAULT_BASE_URL.to_owned());
        let recorder = recorder(args, &upstream).await?;
        builder = builder.base_url(
            recorder
                .as_ref()
                .map_or_else(|| upstream.clone(), Recorder::base_url),
        );
        if let Some(url) = credentials::read("VENICE_SOLANA_RPC_URL")? {
            builder = builder.solana_rpc_url(url);
        }
        if let Some(policy) = auto_top_up {
            builder = builder.auto_top_up(policy);
        }
        Ok(Session {
            client: builder.build()?,
            offline: false,
            offline_wallet: None,
            wallet_address,
            single_use,
            paying_wallet,
            models,
            auto_top_up,
            recorder,
            _mock: None,
        })
    }
}

/// The `--auto-top-up` / `--max-top-up` policy, checked.
fn auto_top_up(args: &GlobalArgs) -> Result<Option<AutoTopUp>, CliError> {
    let Some(amount) = args.auto_top_up else {
        return Ok(None);
    };
    let max = args.max_top_up.unwrap_or(amount);
    if !(amount.is_finite() && amount > 0.0) {
        return Err(CliError::Usage(format!(
            "--auto-top-up must be a positive number of USD, got {amount}"
        )));
    }
    if !(max.is_finite() && max >= amount) {
        return Err(CliError::Usage(format!(
            "--max-top-up (${max}) must be at least --auto-top-up (${amount})"
        )));
    }
    Ok(Some(AutoTopUp {
        amount_usd: amount,
        max_total_usd: max,
    }))
}

impl Session {
    /// The client that pays from a wallet: the credentials' own, or the offline
    /// wallet's.
    pub fn wallet_client(&self) -> &Client {
        self.offline_wallet.as_ref().unwrap_or(&self.client)
    }

    /// With `--record FILE`: waits for the last exchanges to be written and says where.
    pub async fn finish_recording(self) -> Result<(), CliError> {
        let Some(recorder) = self.recorder else {
            return Ok(());
        };
        let summary = recorder.finish().await?;
        eprintln!(
            "recorded {} exchange(s) to {} (credentials scrubbed; check it with `venice-mock check`)",
            summary.exchanges,
            summary.cassette.display()
        );
        Ok(())
    }

    /// Say how much `--auto-top-up` added during the command (nothing when off).
    pub fn report_auto_top_up(&self) {
        let Some(policy) = self.auto_top_up else {
            return;
        };
        let spent = self.wallet_client().auto_top_up_spent_usd();
        if spent > 0.0 {
            eprintln!(
                "auto top-up: ${spent:.2} added to the wallet during this command (cap ${:.2})",
                policy.max_total_usd
            );
        }
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
