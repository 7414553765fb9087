//! The client a command runs with: the real API, or the embedded mock with `--offline`.

use venice_image::{Auth, Client};
use venice_mock::{MockConfig, MockServer};

use crate::args::GlobalArgs;
use crate::exit::CliError;

/// A configured client, plus the mock server it talks to in offline mode.
pub struct Session {
    /// The client.
    pub client: Client,
    /// Whether requests go to the embedded mock.
    pub offline: bool,
    // Kept alive for the whole command: dropping it stops the server.
    _mock: Option<MockServer>,
}

impl Session {
    /// Build the client from flags and the environment.
    pub async fn open(args: &GlobalArgs) -> Result<Session, CliError> {
        if args.offline {
            let mock = MockServer::start(MockConfig::default())
                .await
                .map_err(|e| CliError::Other(format!("cannot start the embedded mock: {e}")))?;
            let client = Client::builder()
                .base_url(mock.base_url())
                .auth(Auth::api_key(venice_mock::DEFAULT_API_KEY))
                .model_validation(!args.no_validate)
                .build()?;
            return Ok(Session {
                client,
                offline: true,
                _mock: Some(mock),
            });
        }
        let key = std::env::var("VENICE_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty());
        let Some(key) = key else {
            return Err(CliError::Usage(
                "no credentials: set VENICE_API_KEY to use the Venice API, \
                 or pass --offline to run on the embedded mock server"
                    .into(),
            ));
        };
        let mut builder = Client::builder()
            .auth(Auth::api_key(key))
            .model_validation(!args.no_validate);
        if let Some(url) = &args.base_url {
            builder = builder.base_url(url.clone());
        }
        Ok(Session {
            client: builder.build()?,
            offline: false,
            _mock: None,
        })
    }
}
