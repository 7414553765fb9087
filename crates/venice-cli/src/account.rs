//! `venice-image account`: the API key's balance, tier and the rate limits of the image
//! models.

use std::process::ExitCode;

use venice_image::account::{AccountBalance, AccountLimits, ModelLimits};

use crate::args::ListArgs;
use crate::exit::CliError;
use crate::session::Session;
use crate::ui::pretty;

/// `venice-image account`.
pub async fn account(session: &Session, args: ListArgs) -> Result<ExitCode, CliError> {
    if session.client_is_wallet() {
        return Err(CliError::Usage(
            "`account` shows an API key's balance, tier and rate limits and needs \
             VENICE_API_KEY; for a wallet's credit use `venice-image balance`"
                .into(),
        ));
    }
    let balance = session.client.account_balance().await?;
    let limits = session.client.account_limits().await?;
    // The limits of the image models: those the catalogue lists (all, if it cannot be
    // read: the limits are still worth showing).
    let models: Vec<&ModelLimits> = match session.client.image_models().await {
        Ok(catalogue) => limits
            .models()
            .iter()
            .filter(|m| catalogue.iter().any(|c| c.id() == m.model()))
            .collect(),
        Err(e) => {
            eprintln!("warning: cannot read the model catalogue ({e}); showing every model");
            limits.models().iter().collect()
        }
    };
    if args.json {
        println!(
            "{}",
            pretty(&serde_json::json!({
                "tier": limits.tier(),
                "is_charged": limits.is_charged(),
                "access_permitted": limits.is_access_permitted(),
                "balance": balance,
                "key_expiration": limits.key_expiration(),
                "next_epoch_begins": limits.next_epoch_begins(),
                "image_models": models,
                "offline": session.offline,
            }))
        );
        return Ok(ExitCode::SUCCESS);
    }
    print_text(session, &balance, &limits, &models);
    Ok(ExitCode::SUCCESS)
}

fn print_text(
    session: &Session,
    balance: &AccountBalance,
    limits: &AccountLimits,
    models: &[&ModelLimits],
) {
    if session.offline {
        println!("(offline: the embedded mock's account; not a real balance)");
    }
    let charged = if limits.is_charged() {
        "paid per request"
    } else {
        "not charged"
    };
    println!("tier     {} ({charged})", limits.tier());
    let mut parts = Vec::new();
    if let Some(usd) = balance.usd() {
        parts.push(format!("USD ${usd:.4}"));
    }
    if let Some(diem) = balance.diem() {
        parts.push(format!(
            "DIEM {diem:.4} of {:.4} this epoch",
            balance.diem_epoch_allocation()
        ));
    }
    if parts.is_empty() {
        parts.push("not reported".to_owned());
    }
    println!("balance  {}", parts.join(" · "));
    let status = match (balance.can_consume(), balance.consumption_currency()) {
        (true, Some(c)) => format!("can pay for requests (from {c})"),
        (true, None) => "can pay for requests".to_owned(),
        (false, _) => {
            "cannot pay for requests: top up at https://venice.ai/settings/api".to_owned()
        }
    };
    println!("status   {status}");
    println!(
        "key      {}; next epoch {}",
        limits
            .key_expiration()
            .map_or_else(|| "never expires".to_owned(), |e| format!("expires {e}")),
        limits.next_epoch_begins()
    );
    println!();
    println!("{:<28} {:>8} {:>8}", "IMAGE MODEL", "RPM", "RPD");
    let count = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    for m in models {
        println!(
            "{:<28} {:>8} {:>8}",
            m.model(),
            count(m.requests_per_minute()),
            count(m.requests_per_day())
        );
    }
}
