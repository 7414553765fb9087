//! The catalogue check before a generation is paid for: the request against its
//! model's limits. A catalogue that cannot be read is a visible warning (once per
//! command), or with `--strict-validate` an error before anything is spent.

use std::sync::atomic::{AtomicBool, Ordering};

use venice_image::{Client, GenerateRequest};

use crate::args::GlobalArgs;
use crate::exit::CliError;
use crate::report::client_line;

/// How strictly the catalogue is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `--no-validate`.
    Off,
    /// Default: an unreadable catalogue is a warning.
    Warn,
    /// `--strict-validate`: an unreadable catalogue is an error.
    Strict,
}

/// The check, shared by the jobs of a command.
#[derive(Debug)]
pub struct ModelCheck {
    mode: Mode,
    warned: AtomicBool,
}

impl ModelCheck {
    /// The check the global flags ask for.
    pub fn new(args: &GlobalArgs) -> Self {
        let mode = if args.no_validate {
            Mode::Off
        } else if args.strict_validate {
            Mode::Strict
        } else {
            Mode::Warn
        };
        ModelCheck {
            mode,
            warned: AtomicBool::new(false),
        }
    }

    /// Check `request` against the catalogue of `client` (read once and cached by the
    /// client).
    pub async fn check(&self, client: &Client, request: &GenerateRequest) -> Result<(), CliError> {
        if self.catalogue(client).await? {
            client.validate_for_model(request).await?;
        }
        Ok(())
    }

    /// Read the catalogue of `client`: `Ok(true)` when it can be checked against,
    /// `Ok(false)` when the check is off or (with a warning) impossible.
    pub async fn catalogue(&self, client: &Client) -> Result<bool, CliError> {
        // Once found unreadable, not asked again (each try is a request).
        if self.mode == Mode::Off || self.warned.load(Ordering::SeqCst) {
            return Ok(false);
        }
        match client.image_models().await {
            Ok(_) => Ok(true),
            // A timeout has already spent the time the user gave the command.
            Err(e) if e.is_timeout() => Err(CliError::Client(e)),
            Err(e) if self.mode == Mode::Strict => Err(CliError::Catalogue(e)),
            Err(e) => {
                if !self.warned.swap(true, Ordering::SeqCst) {
                    eprintln!(
                        "warning: cannot read the model catalogue ({}); sending without \
                         checking the request against the model's limits \
                         (--strict-validate refuses instead)",
                        client_line(&e)
                    );
                }
                Ok(false)
            }
        }
    }
}
