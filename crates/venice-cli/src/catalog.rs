//! `models`, `styles` and `balance`.

use std::process::ExitCode;

use venice_image::{ImageModel, SizingMode};

use crate::args::ListArgs;
use crate::exit::CliError;
use crate::generate::pretty;
use crate::session::Session;

/// `venice-image models`.
pub async fn models(session: &Session, args: ListArgs) -> Result<ExitCode, CliError> {
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
            m.id,
            sizing(m),
            m.constraints
                .prompt_character_limit
                .map_or_else(|| "-".into(), |n| n.to_string()),
            options(m),
            price(m)
        );
        if let Some(d) = &m.deprecation {
            line.push_str(&format!(
                "  [deprecated{}]",
                d.replacement_model_id
                    .as_deref()
                    .map(|r| format!(" → {r}"))
                    .unwrap_or_default()
            ));
        }
        println!("{}", line.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

fn sizing(m: &ImageModel) -> String {
    match &m.sizing {
        SizingMode::Pixels { divisor } => format!("pixels (÷{divisor}, ≤1280)"),
        SizingMode::AspectRatio => format!("aspect {}", m.constraints.aspect_ratios.join(",")),
        SizingMode::AspectRatioAndResolution => {
            format!("aspect+tier {}", m.constraints.resolutions.join(","))
        }
    }
}

fn options(m: &ImageModel) -> String {
    let mut parts = Vec::new();
    if !m.constraints.qualities.is_empty() {
        parts.push(format!("quality {}", m.constraints.qualities.join("/")));
    }
    if let Some(n) = m.constraints.max_style_references {
        parts.push(format!("{n} style refs"));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

fn price(m: &ImageModel) -> String {
    let p = &m.pricing;
    if let Some(g) = &p.generation {
        return format!("{:.3}", g.usd);
    }
    let tiers: Vec<String> = p
        .resolutions
        .iter()
        .map(|(tier, price)| format!("{tier} {:.2}", price.usd))
        .collect();
    if tiers.is_empty() {
        "-".into()
    } else {
        tiers.join(" · ")
    }
}

fn model_json(m: &ImageModel) -> serde_json::Value {
    serde_json::json!({
        "id": m.id,
        "name": m.name,
        "sizing": sizing(m),
        "prompt_limit": m.constraints.prompt_character_limit,
        "aspect_ratios": m.constraints.aspect_ratios,
        "resolutions": m.constraints.resolutions,
        "qualities": m.constraints.qualities,
        "max_style_references": m.constraints.max_style_references,
        "price": price(m),
        "deprecated": m.deprecation.is_some(),
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

/// `venice-image balance`: the x402 wallet balance.
pub async fn balance(_session: &Session, _args: ListArgs) -> Result<ExitCode, CliError> {
    // Wallet (Sign-In-With-X) signing arrives with the x402 work; until then there is no
    // wallet to ask about, and saying so beats printing a made-up number.
    Err(CliError::Usage(
        "`balance` shows an x402 wallet balance and needs wallet credentials \
         (Sign-In-With-X), which this build does not support yet; API-key balances are \
         shown at https://venice.ai/settings/api"
            .into(),
    ))
}
