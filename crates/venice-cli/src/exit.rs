//! Errors of the command line and their exit codes (the table `EXIT_CODES`, which
//! `--help` and the README print).

use std::fmt;

use venice_image::Error;

/// Exit code: an unexpected failure inside the tool (e.g. the async runtime or the
/// embedded mock could not start).
pub const INTERNAL: u8 = 1;
/// Exit code: usage or validation error (bad flags, credentials, a request the rules
/// refuse, a payment not confirmed); nothing was sent.
pub const USAGE: u8 = 2;
/// Exit code: the API answered with an error, could not be reached or answered
/// something unreadable (or the result was refused by a flag).
pub const API: u8 = 3;
/// Exit code: payment required.
pub const PAYMENT: u8 = 4;
/// Exit code: some jobs of a batch failed or were skipped.
pub const PARTIAL: u8 = 5;
/// Exit code: a local file or directory could not be written (`--out`, the manifest).
pub const IO: u8 = 6;

/// Every exit code with what it means, in order: the one table `--help` and the README
/// show (a test compares them).
pub const EXIT_CODES: [(u8, &str); 7] = [
    (0, "success"),
    (
        INTERNAL,
        "internal error (the tool itself could not start or run)",
    ),
    (
        USAGE,
        "usage or validation error: bad flags or credentials, a request the rules refuse, \
         a payment not confirmed; nothing was sent",
    ),
    (
        API,
        "API error: the server answered an error, could not be reached or answered \
         something unreadable (also a blurred result with --fail-on-blurred, an unreadable \
         model catalogue with --strict-validate)",
    ),
    (PAYMENT, "payment required: not enough credit or balance"),
    (PARTIAL, "partial batch: some jobs failed or were skipped"),
    (
        IO,
        "local I/O error: an output file or directory could not be written",
    ),
];

/// The exit-code table as `--help` shows it (after the commands).
pub fn help_table() -> String {
    let mut out = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        out.push_str(&format!("  {code}  {meaning}\n"));
    }
    out
}

/// A failure the CLI reports as one line, a hint and an exit code.
#[derive(Debug)]
pub enum CliError {
    /// Bad arguments, a bad jobs file, or a request that fails validation.
    Usage(String),
    /// An error from the client library.
    Client(Error),
    /// An unexpected failure inside the tool, with a message.
    Other(String),
    /// A local file or directory could not be written.
    Io(String),
    /// A result refused by a policy flag (e.g. `--fail-on-blurred`).
    Refused(String),
    /// The balance cannot pay for what was asked (checked before sending).
    Funds(String),
    /// The model catalogue could not be read and `--strict-validate` asks for it.
    Catalogue(Error),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => USAGE,
            CliError::Refused(_) => API,
            CliError::Funds(_) => PAYMENT,
            CliError::Other(_) => INTERNAL,
            CliError::Io(_) => IO,
            CliError::Client(e) | CliError::Catalogue(e) => client_exit_code(e),
        }
    }

    /// The library error behind this one, if any.
    pub fn client(&self) -> Option<&Error> {
        match self {
            CliError::Client(e) | CliError::Catalogue(e) => Some(e),
            _ => None,
        }
    }
}

/// Exit code of a client error.
pub fn client_exit_code(e: &Error) -> u8 {
    match e {
        Error::Validation(_) | Error::Config { .. } => USAGE,
        Error::Io { .. } => IO,
        Error::PaymentRequired { .. } => PAYMENT,
        // A DIEM-linked wallet's 402 is a funds problem no top-up fixes.
        Error::Wallet(venice_image::wallet::WalletError::DiemFirst { .. }) => PAYMENT,
        _ if e.status() == Some(402) => PAYMENT,
        _ => API,
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m)
            | CliError::Other(m)
            | CliError::Io(m)
            | CliError::Refused(m)
            | CliError::Funds(m) => f.write_str(m),
            CliError::Client(e) => write!(f, "{e}"),
            CliError::Catalogue(e) => write!(
                f,
                "cannot read the model catalogue, and --strict-validate asks for it ({e}); nothing was sent"
            ),
        }
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Client(e)
    }
}
