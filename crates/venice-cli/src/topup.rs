//! `venice-image top-up USD`: add credit to the x402 wallet. Shows the payment it will
//! sign (amount, asset, network, payee) and asks on the terminal before signing,
//! unless `--yes`; without a terminal and without `--yes` it refuses.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use venice_image::payment::{
    PaymentRequirementExt as _, PaymentRequirements, X402PaymentRequirement,
};

use crate::args::TopUpArgs;
use crate::exit::CliError;
use crate::session::{OFFLINE_WALLET_USD, Session};
use crate::ui::pretty;

/// The provider's largest top-up (`AMOUNT_TOO_HIGH` above), in USD.
const MAX_TOP_UP_USD: f64 = 10_000.0;

/// Run `top-up`.
pub async fn run(session: &Session, args: TopUpArgs) -> Result<ExitCode, CliError> {
    let Some(solana) = session.paying_wallet else {
        return Err(CliError::Usage(
            "`top-up` pays from a wallet and needs VENICE_WALLET_PRIVATE_KEY or \
             VENICE_SOLANA_KEYPAIR (an API key is topped up at https://venice.ai/settings/api; \
             a VENICE_SIWX_HEADER value cannot sign a payment), or --offline"
                .into(),
        ));
    };
    if !(args.usd.is_finite() && args.usd > 0.0) {
        return Err(CliError::Usage(format!(
            "the top-up amount must be a positive number of USD, got {}",
            args.usd
        )));
    }
    if args.usd > MAX_TOP_UP_USD {
        return Err(CliError::Usage(format!(
            "${} is above the provider's maximum top-up of ${MAX_TOP_UP_USD}; nothing was signed",
            args.usd
        )));
    }
    let client = session.wallet_client();
    let requirements = client.payment_requirements().await?;
    let option = pick(&requirements, solana)?;
    if let Some(minimum) = option.amount_usd()
        && args.usd + 1e-9 < minimum
    {
        return Err(CliError::Usage(format!(
            "${} is below the server's minimum top-up of ${minimum}; nothing was signed",
            args.usd
        )));
    }
    let wallet = session.wallet_address.as_deref().unwrap_or("");
    eprint!("{}", describe(args.usd, wallet, option, session.offline));
    confirm(args.yes)?;
    let receipt = client.top_up_with(args.usd, &requirements).await?;
    if args.json {
        println!(
            "{}",
            pretty(&serde_json::json!({
                "wallet": receipt.wallet_address(),
                "amount_credited_usd": receipt.amount_credited_usd(),
                "new_balance_usd": receipt.new_balance_usd(),
                "payment_id": receipt.payment_id(),
                "network": option.network,
                "offline_ephemeral_wallet": session.offline,
            }))
        );
    } else {
        println!(
            "topped up ${:.2}: balance ${:.6} (payment {})",
            receipt.amount_credited_usd(),
            receipt.new_balance_usd(),
            receipt.payment_id()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The option the wallet's chain pays.
fn pick(
    requirements: &PaymentRequirements,
    solana: bool,
) -> Result<&X402PaymentRequirement, CliError> {
    let option = if solana {
        requirements.solana_option()
    } else {
        requirements.base_option()
    };
    option.ok_or_else(|| {
        let offered: Vec<&str> = requirements
            .accepts()
            .iter()
            .map(|o| o.network.as_str())
            .collect();
        CliError::Client(venice_image::Error::from(
            venice_image::wallet::WalletError::Payment(format!(
                "the server accepts no {} payment (offered: {}); nothing was signed",
                if solana {
                    "Solana USDC"
                } else {
                    "USDC on Base"
                },
                if offered.is_empty() {
                    "none".to_owned()
                } else {
                    offered.join(", ")
                }
            )),
        ))
    })
}

/// What will be signed, for a person to check.
fn describe(usd: f64, wallet: &str, option: &X402PaymentRequirement, offline: bool) -> String {
    let network = match option.network.as_str() {
        "eip155:8453" | "base" => format!("{} (Base)", option.network),
        n if option.is_solana() => format!("{n} (Solana)"),
        n => n.to_owned(),
    };
    let token = option
        .token_name()
        .filter(|n| !n.is_empty())
        .unwrap_or("USDC");
    let mut text = String::new();
    if offline {
        text.push_str(&format!(
            "(offline: an ephemeral wallet on the embedded mock, seeded with \
             ${OFFLINE_WALLET_USD:.2}; no real money moves)\n"
        ));
    }
    text.push_str(&format!(
        "top-up: pay {usd:.6} {token} (${usd:.2} of credit)\n  \
         from     {wallet}\n  \
         to       {}\n  \
         asset    {}\n  \
         network  {network}\n  \
         scheme   {}\n",
        option.pay_to, option.asset, option.scheme,
    ));
    if let Some(min) = option.amount_usd() {
        text.push_str(&format!("  minimum  ${min:.2}\n"));
    }
    text
}

/// Ask before signing, unless `yes`.
fn confirm(yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::Usage(
            "not signing without confirmation: stdin is not a terminal; pass --yes to sign \
             this payment"
                .into(),
        ));
    }
    eprint!("sign and send this payment? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::Usage(format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(CliError::Usage(
            "top-up not confirmed; nothing was signed".into(),
        ))
    }
}
