//! Errors of the command line, their exit codes and the hint printed with them.

use std::fmt;

use venice_image::{Error, ErrorCode};

/// Exit code: usage or validation error.
pub const USAGE: u8 = 2;
/// Exit code: the API answered with an error (or the result was refused by a flag).
pub const API: u8 = 3;
/// Exit code: payment required.
pub const PAYMENT: u8 = 4;
/// Exit code: some jobs of a batch failed or were skipped.
pub const PARTIAL: u8 = 5;

/// A failure the CLI reports as one line, a hint and an exit code.
#[derive(Debug)]
pub enum CliError {
    /// Bad arguments, a bad jobs file, or a request that fails validation.
    Usage(String),
    /// An error from the client library.
    Client(Error),
    /// Local I/O or anything else, with a message.
    Other(String),
    /// A result refused by a policy flag (e.g. `--fail-on-blurred`).
    Refused(String),
    /// The balance cannot pay for what was asked (checked before sending).
    Funds(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => USAGE,
            CliError::Refused(_) => API,
            CliError::Funds(_) => PAYMENT,
            CliError::Other(_) => 1,
            CliError::Client(e) => client_exit_code(e),
        }
    }

    /// Print the error: one line, a hint when there is one, the cause chain with `-v`.
    pub fn report(&self, verbose: bool) {
        eprintln!("error: {self}");
        if let Some(hint) = self.hint() {
            eprintln!("hint: {hint}");
        }
        if verbose {
            if let CliError::Client(e) = self {
                let mut source = std::error::Error::source(e);
                while let Some(cause) = source {
                    eprintln!("  caused by: {cause}");
                    source = cause.source();
                }
                eprintln!("  details: {e:?}");
            }
        } else if matches!(self, CliError::Client(_)) {
            eprintln!("(run with -v for details)");
        }
    }

    fn hint(&self) -> Option<String> {
        let CliError::Client(e) = self else {
            return None;
        };
        match e {
            Error::PaymentRequired { .. } => Some(
                "top up your balance at https://venice.ai/settings/api (API key), or \
                 POST /x402/top-up with a signed USDC payment (wallet)"
                    .into(),
            ),
            Error::RateLimited { .. } => {
                Some("slow down: lower --concurrency or wait for the rate-limit window".into())
            }
            Error::Validation(_) => {
                Some("see `venice-image models` for each model's sizes, ratios and limits".into())
            }
            Error::Timeout { .. } | Error::Transport(_) => {
                Some("check your network, or use --offline for the embedded mock".into())
            }
            _ => match e.code() {
                Some(ErrorCode::ModelNotFound) | Some(ErrorCode::InvalidModel) => {
                    Some("list the image models with `venice-image models`".into())
                }
                Some(ErrorCode::AuthenticationFailed) => {
                    Some("check VENICE_API_KEY (or pass --offline)".into())
                }
                Some(ErrorCode::ModelAtCapacity) => {
                    Some("the model is busy; try again shortly or pick another".into())
                }
                _ => None,
            },
        }
    }
}

/// Exit code of a client error.
pub fn client_exit_code(e: &Error) -> u8 {
    match e {
        Error::Validation(_) | Error::Config { .. } => USAGE,
        Error::PaymentRequired { .. } => PAYMENT,
        _ if e.status() == Some(402) => PAYMENT,
        _ => API,
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Other(m) | CliError::Refused(m) | CliError::Funds(m) => {
                f.write_str(m)
            }
            CliError::Client(e) => write!(f, "{e}"),
        }
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Client(e)
    }
}
