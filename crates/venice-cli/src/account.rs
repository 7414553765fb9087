//! `venice-image account`: what the API key can read about its account. The rate limits
//! and what the key may spend (`GET /api_keys/rate_limits`) work with any key; the
//! account's balance (`GET /billing/balance`) needs an ADMIN key, and an ordinary
//! (INFERENCE) key is told so, not failed.

use std::process::ExitCode;

use venice_image::account::{AccountBalance, AccountLimits, ModelLimits};

use crate::args::ListArgs;
use crate::exit::CliError;
use crate::session::Session;
use crate::ui::pretty;

/// What the account balance read gave: the balance, or why it is not shown.
enum BalanceRead {
    Read(AccountBalance),
    NeedsAdminKey,
}

/// `venice-image account`.
pub async fn account(session: &Session, args: ListArgs) -> Result<ExitCode, CliError> {
    if session.client_is_wallet() {
        return Err(CliError::Usage(
            "`account` shows an API key's balance, tier and rate limits and needs \
             VENICE_API_KEY; for a wallet's credit use `venice-image balance`"
                .into(),
        ));
    }
    let limits = session.client.account_limits().await?;
    let balance = match session.client.account_balance().await {
        Ok(b) => BalanceRead::Read(b),
        Err(e) if e.is_admin_key_required() => BalanceRead::NeedsAdminKey,
        Err(e) => return Err(e.into()),
    };
    // The limits of the image models: those the catalogue lists (all, if it cannot be
    // read: the limits are still worth showing).
    let models: Vec<ModelLimits<'_>> = match session.client.image_models().await {
        Ok(catalogue) => limits
            .models()
            .filter(|m| catalogue.iter().any(|c| c.id() == m.model()))
            .collect(),
        Err(e) => {
            eprintln!("warning: cannot read the model catalogue ({e}); showing every model");
            limits.models().collect()
        }
    };
    if args.json {
        let (balance_json, needs_admin) = match &balance {
            BalanceRead::Read(b) => (
                serde_json::json!({
                    "can_consume": b.can_consume,
                    "consumption_currency": b.consumption_currency,
                    "usd": b.balances.usd,
                    "diem": b.balances.diem,
                    "bundled_credits": b.balances.bundled_credits,
                    "earned_credits": b.balances.earned_credits,
                    "diem_epoch_allocation": b.diem_epoch_allocation,
                }),
                false,
            ),
            BalanceRead::NeedsAdminKey => (serde_json::Value::Null, true),
        };
        println!(
            "{}",
            pretty(&serde_json::json!({
                "tier": limits.api_tier.id,
                "is_charged": limits.api_tier.is_charged,
                "access_permitted": limits.access_permitted,
                "key_can_spend": {
                    "usd": limits.balances.usd,
                    "diem": limits.balances.diem,
                    "bundled_credits": limits.balances.bundled_credits,
                },
                "balance": balance_json,
                "balance_needs_admin_key": needs_admin,
                "key_expiration": limits.key_expiration,
                "next_epoch_begins": limits.next_epoch_begins,
                "image_models": models.iter().map(|m| serde_json::json!({
                    "model": m.model(),
                    "requests_per_minute": m.requests_per_minute(),
                    "requests_per_day": m.requests_per_day(),
                    "tokens_per_minute": m.tokens_per_minute(),
                })).collect::<Vec<_>>(),
                "offline": session.offline,
            }))
        );
        return Ok(ExitCode::SUCCESS);
    }
    print_text(session, &balance, &limits, &models);
    Ok(ExitCode::SUCCESS)
}

fn money(parts: &[(&str, Option<f64>)]) -> String {
    let shown: Vec<String> = parts
        .iter()
        .filter_map(|(name, v)| v.map(|v| format!("{name} ${v:.4}")))
        .collect();
    if shown.is_empty() {
        "not reported".to_owned()
    } else {
        shown.join(" · ")
    }
}

fn print_text(
    session: &Session,
    balance: &BalanceRead,
    limits: &AccountLimits,
    models: &[ModelLimits<'_>],
) {
    if session.offline {
        println!("(offline: the embedded mock's account; not a real balance)");
    }
    let charged = if limits.api_tier.is_charged {
        "paid per request"
    } else {
        "not charged"
    };
    println!("tier     {} ({charged})", limits.api_tier.id);
    println!(
        "key      may spend {}",
        money(&[
            ("USD", limits.balances.usd),
            ("DIEM", limits.balances.diem),
            ("bundled credits", limits.balances.bundled_credits),
        ])
    );
    match balance {
        BalanceRead::Read(b) => {
            let mut line = money(&[
                ("USD", b.balances.usd),
                ("earned credits", b.balances.earned_credits),
                ("bundled credits", b.balances.bundled_credits),
            ]);
            if let Some(diem) = b.balances.diem {
                line.push_str(&format!(
                    " · DIEM {diem:.4} of {:.4} this epoch",
                    b.diem_epoch_allocation
                ));
            }
            println!("balance  {line}");
        }
        BalanceRead::NeedsAdminKey => println!(
            "balance  not shown: the account balance needs an ADMIN API key (this is an \
             INFERENCE key); the line above is what this key may spend"
        ),
    }
    let status = if limits.access_permitted {
        match balance {
            BalanceRead::Read(b) => match &b.consumption_currency {
                Some(c) => format!("can pay for requests (from {c})"),
                None => "can pay for requests".to_owned(),
            },
            BalanceRead::NeedsAdminKey => "can pay for requests".to_owned(),
        }
    } else {
        "cannot pay for requests: add funds or raise the key's spend limit at \
         https://venice.ai/settings/api"
            .to_owned()
    };
    println!("status   {status}");
    println!(
        "expiry   {}; next epoch {}",
        limits
            .key_expiration
            .as_ref()
            .map_or_else(|| "never expires".to_owned(), |e| format!("expires {e}")),
        limits.next_epoch_begins
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
