//! `models`, `styles` and `balance`.

use std::process::ExitCode;

use venice_image::limits::MAX_PIXEL_SIDE;
use venice_image::models::{ImageModel, SizingMode};

use std::io::Write;

use venice_image::Client;
use venice_image::raw::types::ModelTypeFilter;
use venice_image::raw::{BodyCopy, ClientInfo};

use crate::args::{BalanceArgs, ListArgs, ModelsArgs};
use crate::exit::CliError;
use crate::session::{OFFLINE_WALLET_USD, Session};
use crate::ui::pretty;

/// `venice-image models`.
pub async fn models(session: &Session, args: ModelsArgs) -> Result<ExitCode, CliError> {
    if args.as_sent {
        let body = catalogue_as_sent(&session.client).await?;
        let mut stdout = std::io::stdout().lock();
        return match stdout.write_all(&body).and_then(|()| stdout.flush()) {
            // A reader that stopped early (`| head`) is not a failure.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Io(format!(
                "cannot write the catalogue to standard output: {e}"
            ))),
            _ => Ok(ExitCode::SUCCESS),
        };
    }
    let args = args.list;
    let models = session.client.image_models().await?;
    if args.json {
        let rows: Vec<_> = models.iter().map(model_json).collect();
        println!("{}", pretty(&serde_json::Value::Array(rows)));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:<28} {:>7} {:<22} PRICE (USD/image)",
        "MODEL", "SIZING", "PROMPT", "OPTIONS"
    );
    for m in models.iter() {
        let mut line = format!(
            "{:<24} {:<28} {:>7} {:<22} {}",
            m.id(),
            sizing(m),
            m.constraints()
                .prompt_character_limit
                .map_or_else(|| "-".into(), |n| n.to_string()),
            options(m),
            price(m)
        );
        if let Some(d) = &m.deprecation() {
            line.push_str(&format!(
                "  [deprecated{}]",
                d.replacement_model_id
                    .as_ref()
                    .map(|r| format!(" → {r}"))
                    .unwrap_or_default()
            ));
        }
        println!("{}", line.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

/// The body of `GET /models?type=all` exactly as the server sent it: the generated
/// builder sends the request (the spec's path, the client's hooks, retries and typed
/// errors) and decodes it, and a [`BodyCopy`] keeps the bytes, fields our spec does not
/// model included. The operation is public, so no credentials are sent.
async fn catalogue_as_sent(client: &Client) -> Result<Vec<u8>, CliError> {
    let copy = BodyCopy::new();
    client
        .send_raw(|raw| {
            let state = raw.inner().clone().copy_body(copy.clone());
            let copying = venice_image::raw::Client::new_with_client(
                raw.baseurl(),
                raw.client().clone(),
                state,
            );
            async move {
                copying
                    .list_models()
                    .type_(ModelTypeFilter::All)
                    .send()
                    .await
            }
        })
        .await?;
    Ok(copy.take())
}

fn sizing(m: &ImageModel) -> String {
    match m.sizing() {
        SizingMode::Pixels { divisor } => format!("pixels (÷{divisor}, ≤{MAX_PIXEL_SIDE})"),
        SizingMode::AspectRatio => format!("aspect {}", m.constraints().aspect_ratios.join(",")),
        SizingMode::AspectRatioAndResolution => {
            format!("aspect+tier {}", m.constraints().resolutions.join(","))
        }
        other => format!("{other:?}"),
    }
}

fn options(m: &ImageModel) -> String {
    let mut parts = Vec::new();
    let c = m.constraints();
    if !c.qualities.is_empty() {
        parts.push(format!("quality {}", c.qualities.join("/")));
    }
    if let Some(n) = c.max_style_references {
        parts.push(format!("{n} style refs"));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

fn price(m: &ImageModel) -> String {
    let p = m.pricing();
    if let Some(g) = &p.generation {
        return format!("{:.3}", g.usd);
    }
    // The map's order is arbitrary; tiers read best in order.
    let mut tiers: Vec<(&String, f64)> = p.resolutions.iter().map(|(t, p)| (t, p.usd)).collect();
    tiers.sort_by(|a, b| a.0.cmp(b.0));
    let tiers: Vec<String> = tiers
        .into_iter()
        .map(|(tier, usd)| format!("{tier} {usd:.2}"))
        .collect();
    if tiers.is_empty() {
        "-".into()
    } else {
        tiers.join(" · ")
    }
}

fn model_json(m: &ImageModel) -> serde_json::Value {
    serde_json::json!({
        "id": m.id(),
        "name": m.name(),
        "sizing": sizing(m),
        "prompt_limit": m.constraints().prompt_character_limit,
        "aspect_ratios": m.constraints().aspect_ratios,
        "resolutions": m.constraints().resolutions,
        "qualities": m.constraints().qualities,
        "max_style_references": m.constraints().max_style_references,
        "price": price(m),
        "deprecated": m.deprecation().is_some(),
    })
}

/// `venice-image styles`.
pub async fn styles(session: &Session, args: ListArgs) -> Result<ExitCode, CliError> {
    let styles = session.client.image_styles().await?;
    if args.json {
        println!("{}", pretty(&serde_json::json!(styles)));
    } else {
        for s in styles {
            println!("{s}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `venice-image balance`: the x402 wallet balance (and optionally the ledger).
pub async fn balance(session: &Session, args: BalanceArgs) -> Result<ExitCode, CliError> {
    let client = session.offline_wallet.as_ref().unwrap_or(&session.client);
    if session.wallet_address.is_none() {
        return Err(CliError::Usage(
            "`balance` shows an x402 wallet balance and needs wallet credentials: set \
             VENICE_WALLET_PRIVATE_KEY, VENICE_SOLANA_KEYPAIR or VENICE_SIWX_HEADER instead of \
             VENICE_API_KEY (API-key balances are shown at https://venice.ai/settings/api), \
             or pass --offline"
                .into(),
        ));
    }
    let balance = client.wallet_balance().await?;
    let transactions = match args.transactions {
        Some(n) => Some(client.wallet_transactions(n, 0).await?),
        None => None,
    };
    if args.json {
        let txs = transactions.as_ref().map(|t| {
            t.transactions
                .iter()
                .map(|x| {
                    serde_json::json!({
                        "id": x.id, "type": x.type_, "amount_usd": x.amount,
                        "balance_after_usd": x.balance_after, "created_at": x.created_at,
                        "model": x.model_id, "request_id": x.request_id,
                    })
                })
                .collect::<Vec<_>>()
        });
        println!(
            "{}",
            pretty(&serde_json::json!({
                "wallet": balance.wallet_address,
                "balance_usd": balance.balance_usd,
                "can_consume": balance.can_consume,
                "minimum_top_up_usd": balance.minimum_top_up_usd,
                "offline_ephemeral_wallet": session.offline,
                "transactions": txs,
            }))
        );
        return Ok(ExitCode::SUCCESS);
    }
    if session.offline {
        println!(
            "(offline: an ephemeral wallet on the embedded mock, seeded with ${OFFLINE_WALLET_USD:.2}; not a real balance)"
        );
    }
    println!("wallet   {}", balance.wallet_address);
    println!("balance  ${:.6}", balance.balance_usd);
    println!(
        "status   {}",
        if balance.can_consume {
            "can pay for requests"
        } else {
            "top up needed: `venice-image top-up USD`"
        }
    );
    if let Some(t) = transactions {
        println!();
        if t.transactions.is_empty() {
            println!("no transactions");
        }
        for x in &t.transactions {
            println!(
                "{}  {:<8} {:>+12.6}  -> ${:.6}  {}",
                x.created_at,
                x.type_,
                x.amount,
                x.balance_after,
                x.model_id.as_deref().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
