//! What a person can do about an error: one hint per cause.

use venice_image::wallet::WalletError;
use venice_image::{Error, ErrorCode, PaymentRequiredKind, RateLimitKind};

use crate::exit::CliError;

/// What the hint may say about the run: the credentials kind and the server.
#[derive(Debug, Clone, Default)]
pub struct HintContext {
    /// The credentials are a wallet (or the command used the offline wallet).
    pub wallet: bool,
    /// The credentials are a single-use `SIGN-IN-WITH-X` value.
    pub single_use: bool,
    /// The base URL requests went to.
    pub base_url: String,
    /// The command sends input images as URLs the server fetches (edit, multi-edit).
    pub input_urls: bool,
    /// The command is an edit or multi-edit (its models are the edit models).
    pub edit: bool,
}

/// The hint for `err`, if there is one worth printing.
pub fn hint(err: &CliError, ctx: &HintContext) -> Option<String> {
    match err {
        CliError::Funds(_) if ctx.wallet => Some(top_up_hint(None)),
        CliError::Io(_) => Some(
            "check that --out names a directory (or a file path) you can write to, and that \
             no regular file stands where a directory is needed"
                .into(),
        ),
        CliError::Catalogue(e) => client_hint(e, ctx)
            .or_else(|| Some("or pass --no-validate to send without the check".into())),
        CliError::Client(e) => client_hint(e, ctx),
        _ => None,
    }
}

fn rate_limit_hint(kind: RateLimitKind, wait: Option<std::time::Duration>) -> String {
    let wait = wait.map_or_else(String::new, |d| {
        format!(
            " (the server asked to wait {:.0} s)",
            d.as_secs_f64().ceil()
        )
    });
    match kind {
        RateLimitKind::Overloaded => format!(
            "the model is overloaded, a limit of the provider's, not of your account{wait}: try \
             again then, or pick another model"
        ),
        RateLimitKind::ModelWindow => format!(
            "the model's requests per minute for this key are used up{wait}: wait for the \
             window's reset; `batch` paces itself to the account's limits (`venice-image \
             account` lists them)"
        ),
        RateLimitKind::CryptoRpc => {
            format!("the crypto RPC proxy allows 100 requests a minute{wait}: wait for its reset")
        }
        _ => format!(
            "this route allows only a few requests a minute (top-up 10 per IP, balance 30 and \
             transactions 20 per wallet){wait}: wait a minute and try again"
        ),
    }
}

fn top_up_hint(amount: Option<f64>) -> String {
    let amount = amount.map_or_else(|| "USD".to_owned(), |a| format!("{a}"));
    format!(
        "top up the wallet with `venice-image top-up {amount}`, or pass `--auto-top-up USD \
         --max-top-up USD` to top up when a request needs it"
    )
}

fn wrong_url(ctx: &HintContext) -> String {
    format!(
        "the server at {} has no such endpoint: check --base-url / VENICE_BASE_URL (it \
         ends in /api/v1), or this server does not offer the operation",
        if ctx.base_url.is_empty() {
            "the base URL"
        } else {
            &ctx.base_url
        }
    )
}

fn client_hint(e: &Error, ctx: &HintContext) -> Option<String> {
    match e {
        Error::PaymentRequired { kind, error } => Some(match kind {
            // An API key's 402 (no `code`): the account cannot pay, or the key's own spend
            // limit is used up. A wallet top-up does not help.
            PaymentRequiredKind::AccountBalance if !ctx.wallet => {
                "the API key's account cannot pay for this request: add funds, or raise the \
                 key's spend limit, at https://venice.ai/settings/api (`venice-image account` \
                 shows what the key may spend)"
                    .into()
            }
            _ => top_up_hint(
                error
                    .suggested_top_up_usd
                    .or(error.minimum_top_up_usd)
                    .filter(|a| a.is_finite() && *a > 0.0),
            ),
        }),
        Error::RateLimited {
            kind, retry_after, ..
        } => Some(rate_limit_hint(*kind, *retry_after)),
        Error::ErrorBudgetExhausted(_) => Some(
            "more than 50 requests of this key (or of this machine's wallets) for this model \
             failed within 30 s, so the provider refuses all of them for 30 s: fix what fails \
             (-v shows each answer), then try again"
                .into(),
        ),
        Error::Api {
            code: ErrorCode::X402ConcurrencyLimit,
            ..
        } => Some(
            "the wallet already has 5 requests in flight (the provider's cap; another program \
             is using it): wait for them to finish, or let the programs share the cap through \
             --pacing-redis"
                .into(),
        ),
        Error::Wallet(w) => wallet_hint(w),
        Error::Validation(_) => {
            Some("see `venice-image models` for each model's sizes, ratios and limits".into())
        }
        Error::Timeout { .. } | Error::Transport(_) => Some(format!(
            "check your network and --base-url / VENICE_BASE_URL ({}), or use --offline for \
             the embedded mock",
            ctx.base_url
        )),
        Error::Io { .. } => hint(&CliError::Io(String::new()), ctx),
        Error::Auth(_) if ctx.single_use => Some(
            "a VENICE_SIWX_HEADER value signs in for one request only; for commands that \
             send several, set VENICE_WALLET_PRIVATE_KEY or VENICE_SOLANA_KEYPAIR instead"
                .into(),
        ),
        _ if e.code().is_some_and(ErrorCode::is_sign_in) => Some(sign_in_hint(e.code())),
        _ if e.code().is_some_and(|c| payment_hint(c).is_some()) => e.code().and_then(payment_hint),
        _ => match (e.status(), e.code()) {
            (_, Some(ErrorCode::ModelNotFound | ErrorCode::InvalidModel)) if ctx.edit => Some(
                "the edit models are those of type inpaint in `venice-image models --json --as-sent`"
                    .into(),
            ),
            (_, Some(ErrorCode::ModelNotFound | ErrorCode::InvalidModel)) => {
                Some("list the image models with `venice-image models`".into())
            }
            // An edit's 404 is an input the provider could not fetch, not a wrong URL.
            (Some(404), _) if ctx.input_urls => Some(
                "the server could not fetch an input image: check that each image URL is \
                 public and reachable from Venice's network, or pass the file instead"
                    .into(),
            ),
            (Some(404 | 405), _) => Some(wrong_url(ctx)),
            (_, Some(ErrorCode::AuthenticationFailed)) if ctx.wallet => Some(
                "the server refused the wallet sign-in: check the wallet variable and the \
                 machine's clock"
                    .into(),
            ),
            (_, Some(ErrorCode::AuthenticationFailed)) => {
                Some("check VENICE_API_KEY (or pass --offline)".into())
            }
            (_, Some(ErrorCode::ModelAtCapacity)) => {
                Some("the model is busy; try again shortly or pick another".into())
            }
            _ => None,
        },
    }
}

/// What to do about a wallet error the client raised itself (nothing was paid).
fn wallet_hint(e: &WalletError) -> Option<String> {
    Some(match e {
        WalletError::DiemFirst { .. } => "the wallet spends its linked account's staked DIEM \
             first: wait for the DIEM to renew, or sign in with another wallet or an API key"
            .into(),
        WalletError::AmountTooHigh { .. } => "pay at most $10,000 per top-up (and within \
             --max-top-up); split a larger amount into several top-ups"
            .into(),
        WalletError::AmountTooLow { minimum_usd, .. } => {
            format!("top up at least ${minimum_usd} (the provider's minimum)")
        }
        WalletError::ContractWallet(_) => "top up from an ordinary (key) wallet, e.g. the \
             smart wallet's owner; the smart wallet can still sign in and spend its credit"
            .into(),
        _ => return None,
    })
}

/// What to do when the provider refused the wallet's sign-in.
fn sign_in_hint(code: Option<&ErrorCode>) -> String {
    match code {
        Some(
            ErrorCode::X402SignInExpired
            | ErrorCode::X402SignInFutureTimestamp
            | ErrorCode::X402SignInNotBefore
            | ErrorCode::X402SignInTimestampMismatch,
        ) => "the sign-in's time was refused: set the machine's clock right (NTP) and try again"
            .into(),
        Some(ErrorCode::X402SignInNonceReused) => "each request needs a new sign-in: use a \
             wallet variable (VENICE_WALLET_PRIVATE_KEY, VENICE_SOLANA_KEYPAIR) rather than a \
             fixed VENICE_SIWX_HEADER"
            .into(),
        Some(
            ErrorCode::X402SignInUnsupportedChain
            | ErrorCode::X402SignInChainMismatch
            | ErrorCode::X402SignInInvalidChainId,
        ) => "sign in on Base (chain 8453) or Solana mainnet".into(),
        Some(ErrorCode::X402SignInDomainMismatch) => {
            "sign the message for the domain api.venice.ai".into()
        }
        Some(ErrorCode::X402SignInInvalidSignature | ErrorCode::X402SignInInvalidWallet) => {
            "the signature does not prove the wallet: check the wallet variable (a smart \
             wallet must be deployed and accept its owner's signature)"
                .into()
        }
        _ => "the wallet's sign-in header is malformed: sign with a wallet variable \
              (VENICE_WALLET_PRIVATE_KEY, VENICE_SOLANA_KEYPAIR) or a current client"
            .into(),
    }
}

/// What to do about a top-up or payment code.
fn payment_hint(code: &ErrorCode) -> Option<String> {
    Some(match code {
        ErrorCode::SettlementTimeout | ErrorCode::PaymentInProgress => "the payment may still \
             land: check `venice-image balance` before paying again"
            .into(),
        ErrorCode::SettlementFailed => "the transfer failed and nothing was credited: check \
             the wallet's USDC (and that it can pay on the chosen network), then try again"
            .into(),
        ErrorCode::X402NotConfigured => {
            "the provider cannot take payments right now; try again later".into()
        }
        ErrorCode::AmountTooLow => "top up at least the minimum ($5)".into(),
        ErrorCode::AmountTooHigh => "top up at most $10,000 at a time".into(),
        ErrorCode::InvalidPaymentFormat
        | ErrorCode::InvalidPayment
        | ErrorCode::UnsupportedNetwork
        | ErrorCode::InvalidPaymentRecipient
        | ErrorCode::UnsupportedToken
        | ErrorCode::UnsupportedScheme
        | ErrorCode::InvalidAmount
        | ErrorCode::InvalidPaymentPayer
        | ErrorCode::PaymentVerificationFailed => "the provider refused the payment and \
             nothing was charged: run `venice-image top-up USD` again (it signs a fresh \
             payment); if it keeps failing, update venice-image"
            .into(),
        ErrorCode::PaymentHeaderNotAccepted => "payments go to `venice-image top-up`, not \
             with an image request"
            .into(),
        _ => return None,
    })
}
