//! Cost estimates of the paid operations besides `generate` (whose estimate the library
//! makes), from the prices in the provider's catalogue, and the `--max-cost` check that
//! refuses a request above its cap before anything is sent.
//!
//! The prices are read from the catalogue's generated wire types (`pricing.upscale`,
//! `pricing.inpaint`, `pricing.inputImages`, `pricing.resolutions`, `pricing.quality`,
//! `pricing.generation`), so a renamed field is a compile error here, not a silent zero.

use serde::Serialize;
use venice_image::models::{Cost, CostLine};
use venice_image::raw::types::{Model, ModelPricing, ModelTypeFilter, Price};
use venice_image::{Client, GenerateRequest, OpenAiGenerateRequest};

use crate::exit::CliError;

/// The model a background removal is charged as: the provider's catalogue lists the
/// remover as this image model (the endpoint itself takes no model), and the mock
/// charges the same.
pub const BACKGROUND_REMOVAL_MODEL: &str = "bria-bg-remover";

/// The edit model the server uses when a request names none.
pub const DEFAULT_EDIT_MODEL: &str = "firered-image-edit";

/// An estimate: what the request should cost, which catalogue entry priced it, and one
/// line per charge the provider documents (each shown by `--dry-run`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Estimate {
    /// Estimated USD: the known lines, an "up to" one at its upper bound.
    pub usd: f64,
    /// The catalogue entry and price used (`upscaler 4x`, `firered-image-edit 1K`…).
    pub priced_as: String,
    /// Every charge: the model's price first, then add-ons (an unpublished one with no
    /// amount).
    pub lines: Vec<CostLine>,
}

impl Estimate {
    /// An estimate of `lines`, named `priced_as`.
    pub fn of_lines(priced_as: String, lines: Vec<CostLine>) -> Self {
        Self {
            usd: lines.iter().filter_map(CostLine::usd).sum(),
            priced_as,
            lines,
        }
    }

    /// The library's estimate of a generation.
    pub fn of_cost(cost: &Cost, priced_as: String) -> Self {
        Self::of_lines(priced_as, cost.lines().to_vec())
    }

    /// The first charge without a published amount, if any.
    pub fn unknown(&self) -> Option<&CostLine> {
        self.lines.iter().find(|l| l.usd().is_none())
    }
}

/// What to price.
#[derive(Debug, Clone, Copy)]
pub enum Priced<'a> {
    /// An upscale by this factor (`2x` up to 2, else `4x`, as the provider charges).
    Upscale {
        /// Scale factor asked for.
        scale: f64,
        /// The scale the 16 MP output cap leaves, when the input's size is known: the
        /// provider bills this one.
        effective: Option<f64>,
    },
    /// An edit or multi-edit.
    Edit {
        /// Edit model (server default when `None`).
        model: Option<&'a str>,
        /// Resolution tier (default: the model's, else 1K).
        resolution: Option<&'a str>,
        /// Quality (multi-edit; default: the model's).
        quality: Option<&'a str>,
        /// The input images of a multi-edit (base and layers), `None` for an edit: a
        /// multi-edit's images beyond the model's included count are charged per image
        /// (`pricing.inputImages`); an edit is one image (with `included: 0` it pays
        /// that one too).
        images: usize,
        /// `enhance_prompt`: edits bill "extra credits" for a rewrite without publishing
        /// the amount, so the line is unknown.
        enhance: bool,
    },
    /// A background removal.
    RemoveBackground,
}

/// Read the models of one type through the generated client (a public operation: no
/// credentials are spent).
async fn models_of(client: &Client, kind: ModelTypeFilter) -> Result<Vec<Model>, CliError> {
    let list = client
        .send_raw(|raw| async move { raw.list_models().type_(kind).send().await })
        .await?;
    Ok(list.into_inner().data)
}

fn unpriced(what: impl std::fmt::Display) -> CliError {
    CliError::Other(format!("the catalogue has no price for {what}"))
}

fn key_match<'m, V>(map: &'m std::collections::HashMap<String, V>, key: &str) -> Option<&'m V> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The price of one edit with `pricing` at `tier` and `quality`: per quality, else per
/// tier, else the flat edit price.
fn edit_price(pricing: &ModelPricing, tier: &str, quality: Option<&str>) -> Option<Price> {
    let by_quality = quality.and_then(|q| {
        let levels = key_match(&pricing.quality, tier)?;
        match q.to_ascii_lowercase().as_str() {
            "low" => levels.low.clone(),
            "medium" => levels.medium.clone(),
            "high" => levels.high.clone(),
            _ => None,
        }
    });
    by_quality
        .or_else(|| key_match(&pricing.resolutions, tier).cloned())
        .or_else(|| pricing.inpaint.clone())
        .or_else(|| pricing.generation.clone())
}

/// Price `what` from `models` (the catalogue entries of the right type).
pub fn price(models: &[Model], what: Priced<'_>) -> Result<Estimate, CliError> {
    match what {
        Priced::Upscale { scale, effective } => {
            let billed = effective.unwrap_or(scale);
            let factor = if billed <= 2.0 { "2x" } else { "4x" };
            let (id, prices) = models
                .iter()
                .find_map(|m| Some((&m.id, m.model_spec.pricing.as_ref()?.upscale.as_ref()?)))
                .ok_or_else(|| unpriced("an upscale"))?;
            let price = if factor == "2x" {
                &prices.x2x
            } else {
                &prices.x4x
            };
            let what = if billed < scale && (scale <= 2.0) != (billed <= 2.0) {
                format!("{id} {factor} (a {scale}x clamped by the 16 MP output cap)")
            } else {
                format!("{id} {factor}")
            };
            Ok(Estimate::of_lines(
                format!("{id} {factor}"),
                vec![CostLine::known(what, price.usd)],
            ))
        }
        Priced::Edit {
            model,
            resolution,
            quality,
            images,
            enhance,
        } => {
            let id = model.unwrap_or(DEFAULT_EDIT_MODEL);
            let m = models.iter().find(|m| m.id == id).ok_or_else(|| {
                CliError::Usage(format!(
                    "unknown edit model {id:?}; list them with `venice-image models --json --as-sent` (type inpaint)"
                ))
            })?;
            let constraints = m.model_spec.constraints.as_ref();
            let tier = resolution
                .map(str::to_owned)
                .or_else(|| constraints.and_then(|c| c.default_resolution.clone()))
                .unwrap_or_else(|| "1K".to_owned());
            let quality = quality
                .map(str::to_owned)
                .or_else(|| constraints.and_then(|c| c.default_quality.clone()));
            let pricing = m.model_spec.pricing.as_ref();
            let price = pricing
                .and_then(|p| edit_price(p, &tier, quality.as_deref()))
                .ok_or_else(|| unpriced(format!("model {id} at {tier}")))?;
            let mut lines = vec![CostLine::known(
                match &quality {
                    Some(q) if pricing.is_some_and(|p| !p.quality.is_empty()) => {
                        format!("{id} {tier} {q}")
                    }
                    _ => format!("{id} {tier}"),
                },
                price.usd,
            )];
            if let Some(p) = pricing.and_then(|p| p.input_images.as_ref()) {
                // `included` is a JSON number; a negative or fractional one counts as
                // its whole part, never below zero.
                let included = p.included.max(0.0) as usize;
                let extra = images.saturating_sub(included);
                if extra > 0 {
                    let what = match (extra, included) {
                        (1, 0) => "1 input image (none included in the price)".to_owned(),
                        (1, _) => "1 extra input image".to_owned(),
                        (n, _) => format!("{n} extra input images"),
                    };
                    lines.push(CostLine::known(what, p.additional.usd * extra as f64));
                }
            }
            if enhance {
                lines.push(CostLine::unknown(
                    "enhance_prompt (an edit's rewrite; the provider does not publish its price)",
                ));
            }
            let extra = images.saturating_sub(
                pricing
                    .and_then(|p| p.input_images.as_ref())
                    .map_or(usize::MAX, |p| p.included.max(0.0) as usize),
            );
            let priced_as = match extra {
                0 => format!("{id} {tier}"),
                1 => format!("{id} {tier} + 1 extra input image"),
                n => format!("{id} {tier} + {n} extra input images"),
            };
            Ok(Estimate::of_lines(priced_as, lines))
        }
        Priced::RemoveBackground => {
            let price = models
                .iter()
                .find(|m| m.id == BACKGROUND_REMOVAL_MODEL)
                .and_then(|m| m.model_spec.pricing.as_ref()?.generation.clone())
                .ok_or_else(|| {
                    unpriced(format!("a background removal ({BACKGROUND_REMOVAL_MODEL})"))
                })?;
            Ok(Estimate::of_lines(
                BACKGROUND_REMOVAL_MODEL.to_owned(),
                vec![CostLine::known(BACKGROUND_REMOVAL_MODEL, price.usd)],
            ))
        }
    }
}

/// Estimate `what` from the server's catalogue.
pub async fn estimate(client: &Client, what: Priced<'_>) -> Result<Estimate, CliError> {
    let kind = match what {
        Priced::Upscale { .. } => ModelTypeFilter::Upscale,
        Priced::Edit { .. } => ModelTypeFilter::Inpaint,
        Priced::RemoveBackground => ModelTypeFilter::Image,
    };
    price(&models_of(client, kind).await?, what)
}

/// Estimate an OpenAI-compatible generation: one image of the model asked for, or of the
/// catalogue's default image model when none is named or the name is unknown (the server
/// falls back the same way).
pub async fn estimate_openai(
    client: &Client,
    request: &OpenAiGenerateRequest,
) -> Result<Estimate, CliError> {
    let models = client.image_models().await?;
    // An unknown name falls back to the provider's default model, and is priced so.
    let id = Some(request.model())
        .filter(|m| models.iter().any(|x| x.id() == *m))
        .or_else(|| {
            models
                .iter()
                .find(|m| m.model_spec.traits.iter().any(|t| t == "default"))
                .map(|m| m.id())
        })
        .ok_or_else(|| unpriced("the default image model"))?
        .to_owned();
    let probe = GenerateRequest::builder(id.clone(), request.prompt())
        .build()
        .map_err(venice_image::Error::from)?;
    let cost = client.estimate_cost(&probe).await?;
    Ok(Estimate::of_cost(&cost, id))
}

/// Refuse `estimate` when it is above `max` (`--max-cost`); nothing has been sent yet.
pub fn check_cap(estimate: Option<&Estimate>, max: Option<f64>) -> Result<(), CliError> {
    let Some(max) = max else {
        return Ok(());
    };
    if let Some(line) = estimate.and_then(Estimate::unknown) {
        return Err(CliError::Usage(format!(
            "the estimate has a charge without a published price ({}), so --max-cost \
             ${max:.4} cannot be checked; nothing was sent",
            line.what()
        )));
    }
    match estimate {
        Some(e) if e.usd > max + 1e-9 => Err(CliError::Usage(format!(
            "the estimated cost, ${:.4} ({}), exceeds --max-cost ${max:.4}; nothing was sent",
            e.usd, e.priced_as
        ))),
        Some(_) => Ok(()),
        None => Err(CliError::Usage(format!(
            "the cost cannot be estimated from the catalogue, so --max-cost ${max:.4} cannot be \
             checked; nothing was sent"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models(json: serde_json::Value) -> Vec<Model> {
        let list: venice_image::raw::types::ModelList =
            serde_json::from_value(json!({"object": "list", "type": "all", "data": json}))
                .expect("catalogue parses");
        list.data
    }

    use serde_json::json;

    fn entry(id: &str, kind: &str, pricing: serde_json::Value) -> serde_json::Value {
        json!({"id": id, "type": kind, "object": "model", "owned_by": "venice.ai",
               "model_spec": {"privacy": "private", "pricing": pricing}})
    }

    #[test]
    fn upscale_is_priced_by_factor() {
        let m = models(json!([entry(
            "upscaler",
            "upscale",
            json!({
            "upscale": {"2x": {"usd": 0.02, "diem": 0}, "4x": {"usd": 0.08, "diem": 0}}})
        )]));
        let up = |scale, effective| Priced::Upscale { scale, effective };
        let two = price(&m, up(2.0, None)).expect("priced");
        assert_eq!((two.usd, two.priced_as.as_str()), (0.02, "upscaler 2x"));
        let three = price(&m, up(3.0, None)).expect("priced");
        assert_eq!((three.usd, three.priced_as.as_str()), (0.08, "upscaler 4x"));
        // A 4x the 16 MP cap clamps to 2x is billed as a 2x, and the line says why.
        let clamped = price(&m, up(4.0, Some(2.0))).expect("priced");
        assert_eq!(clamped.usd, 0.02);
        assert!(clamped.lines[0].what().contains("clamped"), "{clamped:?}");
        assert!(price(&[], up(2.0, None)).is_err());
    }

    #[test]
    fn edits_are_priced_by_quality_then_tier_then_flat() {
        let m = models(json!([
            entry(
                "flat",
                "inpaint",
                json!({"inpaint": {"usd": 0.04, "diem": 0}})
            ),
            entry(
                "tiered",
                "inpaint",
                json!({"inpaint": {"usd": 0.1, "diem": 0},
                "resolutions": {"1K": {"usd": 0.1, "diem": 0}, "2K": {"usd": 0.14, "diem": 0}},
                "quality": {"2K": {"low": {"usd": 0.03, "diem": 0}}}})
            ),
        ]));
        let e = |model, resolution, quality| {
            price(
                &m,
                Priced::Edit {
                    model: Some(model),
                    resolution,
                    quality,
                    images: 1,
                    enhance: false,
                },
            )
            .map(|e| e.usd)
        };
        assert_eq!(e("flat", Some("4K"), None).ok(), Some(0.04));
        assert_eq!(e("tiered", None, None).ok(), Some(0.1));
        assert_eq!(e("tiered", Some("2k"), None).ok(), Some(0.14));
        assert_eq!(e("tiered", Some("2K"), Some("low")).ok(), Some(0.03));
        assert!(matches!(e("nope", None, None), Err(CliError::Usage(_))));
    }

    #[test]
    fn a_single_image_edit_pays_its_image_when_none_is_included() {
        let m = models(json!([entry(
            "none-included",
            "inpaint",
            json!({"inpaint": {"usd": 0.04, "diem": 0},
                   "inputImages": {"included": 0, "additional": {"usd": 0.00345, "diem": 0}}})
        )]));
        let edit = Priced::Edit {
            model: Some("none-included"),
            resolution: None,
            quality: None,
            images: 1,
            enhance: false,
        };
        let e = price(&m, edit).expect("priced");
        assert_eq!(e.lines.len(), 2, "{e:?}");
        assert!((e.usd - 0.04345).abs() < 1e-12, "{e:?}");
    }

    #[test]
    fn input_images_beyond_the_included_ones_are_charged_each() {
        let m = models(json!([entry(
            "multi",
            "inpaint",
            json!({"inpaint": {"usd": 0.07, "diem": 0},
                   "inputImages": {"included": 1, "additional": {"usd": 0.0345, "diem": 0}}})
        )]));
        let e = |images| {
            price(
                &m,
                Priced::Edit {
                    model: Some("multi"),
                    resolution: None,
                    quality: None,
                    images,
                    enhance: false,
                },
            )
            .expect("priced")
        };
        assert_eq!(e(1).usd, 0.07);
        let edit = Priced::Edit {
            model: Some("multi"),
            resolution: None,
            quality: None,
            images: 1,
            enhance: true,
        };
        let enhanced = price(&m, edit).expect("priced");
        assert_eq!(enhanced.usd, 0.07, "an edit");
        // An edit's rewrite has no published price: unknown, and --max-cost refuses.
        assert!(
            enhanced
                .unknown()
                .is_some_and(|l| l.what().starts_with("enhance_prompt"))
        );
        assert!(check_cap(Some(&enhanced), Some(100.0)).is_err());
        assert_eq!(e(1).priced_as, "multi 1K");
        let three = e(3);
        assert!(
            (three.usd - (0.07 + 2.0 * 0.0345)).abs() < 1e-12,
            "{}",
            three.usd
        );
        assert_eq!(three.priced_as, "multi 1K + 2 extra input images");
    }

    #[test]
    fn the_cap_refuses_above_and_when_unknown() {
        let e = Estimate::of_lines(
            "upscaler 4x".into(),
            vec![CostLine::known("upscaler 4x", 0.08)],
        );
        assert!(check_cap(Some(&e), None).is_ok());
        assert!(check_cap(Some(&e), Some(0.08)).is_ok());
        let err = check_cap(Some(&e), Some(0.05)).expect_err("above");
        assert_eq!(
            err.to_string(),
            "the estimated cost, $0.0800 (upscaler 4x), exceeds --max-cost $0.0500; nothing was sent"
        );
        assert!(check_cap(None, Some(1.0)).is_err());
        assert!(check_cap(None, None).is_ok());
    }
}
