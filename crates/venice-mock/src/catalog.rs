//! The model catalogue served by `GET /models`, with per-model constraints, pricing and
//! the sizing rules that `/image/generate` enforces.
//!
//! # Built-in models
//!
//! | id | type | sizing | price (USD) |
//! |---|---|---|---|
//! | `venice-sd35` | image | pixels, divisor 16, ≤1280, prompt ≤1500 | 0.01 |
//! | `qwen-image-2` | image | aspect ratio only (1K) | 0.05 |
//! | `nano-banana-pro` | image | aspect ratio + 1K/2K/4K, ≤4 style references | 0.18 / 0.23 / 0.35 |
//! | `gpt-image-2` | image | aspect ratio + 1K/2K/4K + low/medium/high | per tier and quality |
//! | `flux-dev-legacy` | image | pixels, divisor 8, **deprecated** → `venice-sd35` | 0.01 |
//! | `firered-image-edit` | inpaint | edit, ≤3 input images | 0.04 |
//! | `qwen-image-2-edit` | inpaint | edit, ≤3 input images | 0.05 |
//! | `upscaler` | upscale | 2x / 4x | 0.02 / 0.08 |
//!
//! # Sizing
//!
//! | request | output pixels |
//! |---|---|
//! | pixel model, nothing sent | 1024 × 1024 |
//! | pixel model, `width`/`height` | exactly as sent (each divisible by `widthHeightDivisor`) |
//! | aspect model, tier `1K` / `2K` / `4K` | long side 1024 / 2048 / 4096 |
//! | aspect-only model | tier `1K` |
//! | short side | long side × ratio, rounded to a multiple of 16 (at least 16) |
//! | no `aspect_ratio` | the model's `defaultAspectRatio` (else `1:1`) |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a catalogue model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Text-to-image (`/image/generate`).
    Image,
    /// Image editing (`/image/edit`, `/image/multi-edit`).
    Inpaint,
    /// Upscaling (`/image/upscale`).
    Upscale,
}

impl ModelKind {
    /// The `type` string of the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Inpaint => "inpaint",
            Self::Upscale => "upscale",
        }
    }
}

/// A price in USD and DIEM.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// USD.
    pub usd: f64,
    /// DIEM.
    pub diem: f64,
}

impl Price {
    /// The same amount in USD and DIEM.
    pub const fn usd(usd: f64) -> Self {
        Self { usd, diem: usd }
    }
}

/// Upscale prices (`2x`, `4x`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UpscalePrices {
    /// Price of a 2x upscale.
    #[serde(rename = "2x")]
    pub x2: Price,
    /// Price of a 4x upscale.
    #[serde(rename = "4x")]
    pub x4: Price,
}

impl Default for UpscalePrices {
    fn default() -> Self {
        Self {
            x2: Price::usd(0.02),
            x4: Price::usd(0.08),
        }
    }
}

/// Pricing of a model, shaped like the spec's `ModelPricing`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pricing {
    /// Flat price per image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<Price>,
    /// Price per resolution tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolutions: Option<BTreeMap<String, Price>>,
    /// Price per resolution tier and quality.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<BTreeMap<String, BTreeMap<String, Price>>>,
    /// Upscale prices (always present on image models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upscale: Option<UpscalePrices>,
    /// Price per edit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inpaint: Option<Price>,
}

/// Inference steps constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Steps {
    /// Default steps.
    pub default: u32,
    /// Maximum steps.
    pub max: u32,
}

/// Request constraints, shaped like the spec's `ImageModelConstraints`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Constraints {
    /// Longest accepted prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_character_limit: Option<u32>,
    /// Width and height divisor (pixel-sized models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width_height_divisor: Option<u32>,
    /// Steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Steps>,
    /// Accepted aspect ratios (aspect-sized models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aspect_ratios: Option<Vec<String>>,
    /// Default aspect ratio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_aspect_ratio: Option<String>,
    /// Accepted resolution tiers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolutions: Option<Vec<String>>,
    /// Default resolution tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_resolution: Option<String>,
    /// Accepted qualities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualities: Option<Vec<String>>,
    /// Default quality.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_quality: Option<String>,
    /// Most style references.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_style_references: Option<u32>,
    /// Edit models: accepts several input images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub combine_images: Option<bool>,
    /// Edit models: most input images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_input_images: Option<u32>,
}

/// Retirement schedule, shaped like the spec's `ModelDeprecation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deprecation {
    /// Requests may be remapped.
    pub auto_remap: bool,
    /// Sunset instant (RFC 3339).
    pub date: String,
    /// Removal instant (RFC 3339).
    pub removes_at: String,
    /// When warnings start (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// Model to migrate to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement_model_id: Option<String>,
}

/// One model of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogModel {
    /// Model ID.
    pub id: String,
    /// Model type.
    #[serde(rename = "type")]
    pub kind: ModelKind,
    /// Display name.
    pub name: String,
    /// Accepts `style_references`.
    #[serde(default)]
    pub supports_style_references: bool,
    /// Constraints.
    #[serde(default)]
    pub constraints: Constraints,
    /// Pricing.
    #[serde(default)]
    pub pricing: Pricing,
    /// Deprecation schedule.
    #[serde(default)]
    pub deprecation: Option<Deprecation>,
}

/// Output sizing mode of an image model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizingMode {
    /// `width`/`height` in pixels.
    Pixels,
    /// `aspect_ratio` only (tier 1K).
    AspectRatio,
    /// `aspect_ratio` plus `resolution`.
    AspectRatioAndResolution,
}

impl CatalogModel {
    /// The sizing mode implied by the constraints.
    pub fn sizing_mode(&self) -> SizingMode {
        match (
            &self.constraints.aspect_ratios,
            &self.constraints.resolutions,
        ) {
            (None, _) => SizingMode::Pixels,
            (Some(_), None) => SizingMode::AspectRatio,
            (Some(_), Some(_)) => SizingMode::AspectRatioAndResolution,
        }
    }

    /// The model as the spec's `Model` JSON object.
    pub fn to_json(&self) -> Value {
        let mut spec = json!({
            "name": self.name,
            "description": format!("{} (venice-mock)", self.name),
            "privacy": "private",
            "offline": false,
            "beta": false,
            "traits": [],
            "modelSource": "venice-mock",
            "constraints": self.constraints,
            "pricing": self.pricing,
        });
        if self.kind == ModelKind::Image {
            spec["supportsStyleReferences"] = json!(self.supports_style_references);
        }
        if let Some(dep) = &self.deprecation {
            spec["deprecation"] = json!(dep);
        }
        json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "object": "model",
            "owned_by": "venice.ai",
            "created": 1_735_689_600,
            "model_spec": spec,
        })
    }

    /// USD price of one image at this tier and quality (flat `generation`, else the tier,
    /// else the edit price).
    pub fn price_usd(&self, resolution: Option<&str>, quality: Option<&str>) -> f64 {
        let tier = resolution
            .or(self.constraints.default_resolution.as_deref())
            .unwrap_or("1K");
        let quality = quality.or(self.constraints.default_quality.as_deref());
        if let (Some(table), Some(q)) = (&self.pricing.quality, quality)
            && let Some(p) = table.get(tier).and_then(|t| t.get(q))
        {
            return p.usd;
        }
        if let Some(p) = self.pricing.resolutions.as_ref().and_then(|r| r.get(tier)) {
            return p.usd;
        }
        self.pricing
            .generation
            .or(self.pricing.inpaint)
            .map_or(0.0, |p| p.usd)
    }
}

/// The long side in pixels of a resolution tier (`1K` → 1024, `2K` → 2048, `4K` → 4096).
pub fn tier_long_side(tier: &str) -> Option<u32> {
    match tier {
        "1K" => Some(1024),
        "2K" => Some(2048),
        "4K" => Some(4096),
        _ => None,
    }
}

/// Parses `"W:H"` into two positive integers.
pub fn parse_ratio(ratio: &str) -> Option<(u32, u32)> {
    let (a, b) = ratio.split_once(':')?;
    let a: u32 = a.parse().ok()?;
    let b: u32 = b.parse().ok()?;
    (a > 0 && b > 0).then_some((a, b))
}

/// Pixel size of an aspect ratio at a long side: the short side is long × ratio rounded to
/// a multiple of 16 (at least 16).
pub fn size_for_ratio(ratio: (u32, u32), long: u32) -> (u32, u32) {
    let (a, b) = ratio;
    let short = |num: u32, den: u32| -> u32 {
        let exact = f64::from(long) * f64::from(num) / f64::from(den);
        let rounded = (exact / 16.0).round() * 16.0;
        // Bounded by `long`, so the cast cannot truncate.
        (rounded.max(16.0) as u32).min(long)
    };
    if a >= b {
        (long, short(b, a))
    } else {
        (short(a, b), long)
    }
}

/// The model catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    models: Vec<CatalogModel>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn tiers(p1: f64, p2: f64, p4: f64) -> BTreeMap<String, Price> {
    BTreeMap::from([
        ("1K".to_owned(), Price::usd(p1)),
        ("2K".to_owned(), Price::usd(p2)),
        ("4K".to_owned(), Price::usd(p4)),
    ])
}

fn qualities(low: f64, medium: f64, high: f64) -> BTreeMap<String, Price> {
    BTreeMap::from([
        ("low".to_owned(), Price::usd(low)),
        ("medium".to_owned(), Price::usd(medium)),
        ("high".to_owned(), Price::usd(high)),
    ])
}

const RATIOS: &[&str] = &["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3"];

impl Catalog {
    /// The built-in catalogue (see the module docs).
    pub fn builtin() -> Self {
        let flat = |usd: f64| Pricing {
            generation: Some(Price::usd(usd)),
            upscale: Some(UpscalePrices::default()),
            ..Pricing::default()
        };
        let pixel = |divisor: u32, limit: u32| Constraints {
            prompt_character_limit: Some(limit),
            width_height_divisor: Some(divisor),
            steps: Some(Steps {
                default: 25,
                max: 30,
            }),
            ..Constraints::default()
        };
        let edit = |id: &str, name: &str, usd: f64| CatalogModel {
            id: id.to_owned(),
            kind: ModelKind::Inpaint,
            name: name.to_owned(),
            supports_style_references: false,
            constraints: Constraints {
                prompt_character_limit: Some(32_768),
                combine_images: Some(true),
                max_input_images: Some(3),
                ..Constraints::default()
            },
            pricing: Pricing {
                inpaint: Some(Price::usd(usd)),
                ..Pricing::default()
            },
            deprecation: None,
        };
        let models = vec![
            CatalogModel {
                id: "venice-sd35".to_owned(),
                kind: ModelKind::Image,
                name: "Venice SD35".to_owned(),
                supports_style_references: false,
                constraints: pixel(16, 1500),
                pricing: flat(0.01),
                deprecation: None,
            },
            CatalogModel {
                id: "qwen-image-2".to_owned(),
                kind: ModelKind::Image,
                name: "Qwen Image 2".to_owned(),
                supports_style_references: false,
                constraints: Constraints {
                    prompt_character_limit: Some(7500),
                    aspect_ratios: Some(strings(RATIOS)),
                    default_aspect_ratio: Some("1:1".to_owned()),
                    ..Constraints::default()
                },
                pricing: flat(0.05),
                deprecation: None,
            },
            CatalogModel {
                id: "nano-banana-pro".to_owned(),
                kind: ModelKind::Image,
                name: "Nano Banana Pro".to_owned(),
                supports_style_references: true,
                constraints: Constraints {
                    prompt_character_limit: Some(7500),
                    aspect_ratios: Some(strings(RATIOS)),
                    default_aspect_ratio: Some("1:1".to_owned()),
                    resolutions: Some(strings(&["1K", "2K", "4K"])),
                    default_resolution: Some("1K".to_owned()),
                    max_style_references: Some(4),
                    ..Constraints::default()
                },
                pricing: Pricing {
                    resolutions: Some(tiers(0.18, 0.23, 0.35)),
                    upscale: Some(UpscalePrices::default()),
                    ..Pricing::default()
                },
                deprecation: None,
            },
            CatalogModel {
                id: "gpt-image-2".to_owned(),
                kind: ModelKind::Image,
                name: "GPT Image 2".to_owned(),
                supports_style_references: false,
                constraints: Constraints {
                    prompt_character_limit: Some(7500),
                    aspect_ratios: Some(strings(RATIOS)),
                    default_aspect_ratio: Some("1:1".to_owned()),
                    resolutions: Some(strings(&["1K", "2K", "4K"])),
                    default_resolution: Some("1K".to_owned()),
                    qualities: Some(strings(&["low", "medium", "high"])),
                    default_quality: Some("medium".to_owned()),
                    ..Constraints::default()
                },
                pricing: Pricing {
                    resolutions: Some(tiers(0.27, 0.51, 0.84)),
                    quality: Some(BTreeMap::from([
                        ("1K".to_owned(), qualities(0.02, 0.07, 0.26)),
                        ("2K".to_owned(), qualities(0.03, 0.13, 0.5)),
                        ("4K".to_owned(), qualities(0.05, 0.21, 0.83)),
                    ])),
                    upscale: Some(UpscalePrices::default()),
                    ..Pricing::default()
                },
                deprecation: None,
            },
            CatalogModel {
                id: "flux-dev-legacy".to_owned(),
                kind: ModelKind::Image,
                name: "FLUX Dev (legacy)".to_owned(),
                supports_style_references: false,
                constraints: pixel(8, 2048),
                pricing: flat(0.01),
                deprecation: Some(Deprecation {
                    auto_remap: false,
                    date: "2026-12-31T00:00:00.000Z".to_owned(),
                    removes_at: "2026-12-31T00:00:00.000Z".to_owned(),
                    starts_at: Some("2026-06-01T00:00:00.000Z".to_owned()),
                    replacement_model_id: Some("venice-sd35".to_owned()),
                }),
            },
            edit("firered-image-edit", "FireRed Image Edit", 0.04),
            edit("qwen-image-2-edit", "Qwen Image 2 Edit", 0.05),
            CatalogModel {
                id: "upscaler".to_owned(),
                kind: ModelKind::Upscale,
                name: "Upscaler".to_owned(),
                supports_style_references: false,
                constraints: Constraints::default(),
                pricing: flat(0.01),
                deprecation: None,
            },
        ];
        Self { models }
    }

    /// Adds (or replaces, by id) models.
    pub fn with_models(mut self, extra: impl IntoIterator<Item = CatalogModel>) -> Self {
        for model in extra {
            self.models.retain(|m| m.id != model.id);
            self.models.push(model);
        }
        self
    }

    /// A model by id.
    pub fn get(&self, id: &str) -> Option<&CatalogModel> {
        self.models.iter().find(|m| m.id == id)
    }

    /// All models.
    pub fn models(&self) -> &[CatalogModel] {
        &self.models
    }

    /// Models of one kind (`None` = all).
    pub fn of_kind(&self, kind: Option<ModelKind>) -> impl Iterator<Item = &CatalogModel> {
        self.models
            .iter()
            .filter(move |m| kind.is_none_or(|k| m.kind == k))
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Self::builtin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_sizes() {
        assert_eq!(size_for_ratio((16, 9), 1024), (1024, 576));
        assert_eq!(size_for_ratio((9, 16), 2048), (1152, 2048));
        assert_eq!(size_for_ratio((1, 1), 4096), (4096, 4096));
        assert_eq!(size_for_ratio((4, 3), 1024), (1024, 768));
        assert_eq!(size_for_ratio((2, 3), 1024), (688, 1024));
    }

    #[test]
    fn gpt_prices() {
        let c = Catalog::builtin();
        let m = c
            .get("gpt-image-2")
            .map(|m| m.price_usd(Some("2K"), Some("high")));
        assert_eq!(m, Some(0.5));
    }
}
