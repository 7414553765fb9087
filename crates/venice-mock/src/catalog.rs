//! The model catalogue served by `GET /models`, with per-model constraints, pricing and
//! the sizing rules that `/image/generate` enforces.
//!
//! # Built-in models
//!
//! By default the mock serves every image, edit (inpaint) and upscale model the provider
//! publishes or documents: the 38 + 21 + 1 of its published catalogue
//! (`static-models.json`: ids, names, privacy, traits, prices) and the models its
//! documentation of the live API names since (`gpt-image-2-5-flare`,
//! `gpt-image-2-5-sunburst`, `ideogram-v4-5`, `muse-image` and their edit models), in the
//! mock's own form in `data/catalog.yaml`, where every row names its source. The published
//! catalogue has no constraints: where the documentation (veniceai/skills
//! `venice-image-generate` and `venice-image-edit` @ 73c0bf79) states one, the row carries
//! it; elsewhere a sizing profile derives it (each model validates against the provider's
//! `ModelResponse` schema, required fields included):
//!
//! | model | sizing | constraints |
//! |---|---|---|
//! | priced per resolution tier (`nano-banana-pro`, `gpt-image-2`, `grok-imagine-image`…) | `aspect_ratio` + `resolution` | `resolutions` = the priced tiers, default `1K`; `qualities` when priced per quality (default `medium`; `high` on the new GPT Image 2.5 and Ideogram V4.5 rows, as documented) |
//! | flat price, hosted by Venice (`venice-sd35`, `z-image-turbo`, `lustify-*`, `chroma`…) | pixels (`width`/`height`) | `widthHeightDivisor` 16 (`venice-sd35`, `z-image-turbo`) or 8 |
//! | other flat-priced third-party models (`flux-2-pro`, `qwen-image-2`, `seedream-v4`, `recraft-v4`…) | `aspect_ratio` only (tier 1K) | `aspectRatios`, default `1:1` |
//! | edit models | `aspect_ratio` (`auto` or one of the edit ratios; the documented exceptions) | `combineImages` (false on `luma-uni-1-edit`), `maxInputImages` 6 on the documented current models (absent elsewhere: the provider's rule is 3), prompt ≤ 32,768 (1,500 on `firered-image-edit`) |
//!
//! Style references are on `krea-v2-large`/`-medium` (3, strength honoured) and
//! `luma-uni-1`/`-max` (3, strength ignored); `supportsWebSearch` on `nano-banana-2`/`-pro`
//! (prompt 32,768); `supportsOptimizePromptThinking` on `seedream-v5-pro`, `qwen-image-3`.
//! A price the documentation does not give is served as none (never invented) and not
//! charged. Every image model also carries `promptCharacterLimit`, `steps` and
//! `widthHeightDivisor` (the provider requires them in all sizing modes). One model is not
//! the provider's: `flux-dev-legacy` (pixels, divisor 8), deprecated in favour of
//! `venice-sd35`, the deterministic trigger of the deprecation headers.
//!
//! [`MockConfig::catalogue`](crate::MockConfig) replaces all of this with a `/models`
//! response captured from the real API ([`Catalog::from_models_response`]): its entries
//! are served verbatim, and their constraints drive the same rules.
//!
//! # Sizing
//!
//! | request | output pixels |
//! |---|---|
//! | pixel model, nothing sent | 1024 × 1024 |
//! | pixel model, `width`/`height` | exactly as sent (`widthHeightDivisor` is advice: not validated, as by the provider) |
//! | aspect model, tier `1K` / `2K` / `4K` | long side 1024 / 2048 / 4096 |
//! | aspect-only model | tier `1K` |
//! | short side | long side × ratio, rounded to a multiple of 16 (at least 16) |
//! | no `aspect_ratio`, or one the model does not list | the model's `defaultAspectRatio` (else `1:1`) |
//! | `width`/`height` on an aspect-ratio model | ignored (400 on `qwen-image`, `qwen-image-3`, `qwen-image-3-pro`) |
//! | `aspect_ratio`/`resolution` on a model that does not take it | ignored |

use std::collections::BTreeMap;
use std::sync::LazyLock;

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
    /// Any other type of a captured catalogue (text, video…): listed, never used.
    #[serde(other)]
    Other,
}

impl ModelKind {
    /// The `type` string of the spec (`other` for [`ModelKind::Other`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Inpaint => "inpaint",
            Self::Upscale => "upscale",
            Self::Other => "other",
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

/// Price of input images beyond those included (edit models).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputImagePrices {
    /// Input images included in the base price.
    pub included: u32,
    /// Price of each additional input image.
    pub additional: Price,
}

/// Pricing of a model, shaped like the spec's `ModelPricing`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pricing {
    /// Flat price per image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<Price>,
    /// Price per edit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inpaint: Option<Price>,
    /// Price per resolution tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolutions: Option<BTreeMap<String, Price>>,
    /// Price per resolution tier and quality.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<BTreeMap<String, BTreeMap<String, Price>>>,
    /// Price of additional input images (edit models).
    #[serde(rename = "inputImages", skip_serializing_if = "Option::is_none")]
    pub input_images: Option<InputImagePrices>,
    /// Upscale prices (always present on image models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upscale: Option<UpscalePrices>,
}

/// Inference steps constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Steps {
    /// Default steps.
    pub default: u32,
    /// Maximum steps.
    pub max: u32,
}

/// Request constraints, shaped like the spec's `ImageModelConstraints` (image models)
/// and the provider's inpaint constraints (edit models).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Constraints {
    /// Longest accepted prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_character_limit: Option<u32>,
    /// Width and height divisor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width_height_divisor: Option<u32>,
    /// Steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Steps>,
    /// Accepted aspect ratios (aspect-sized and edit models).
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
    /// Whether a style reference's `strength` is honoured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_style_reference_strength: Option<bool>,
    /// Edit models: accepts several input images (`false`: exactly one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub combine_images: Option<bool>,
    /// Edit models: most input images (absent: 3 when `combine_images`).
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

fn private() -> String {
    "private".to_owned()
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
    /// `private` (zero retention) or `anonymized`.
    #[serde(default = "private")]
    pub privacy: String,
    /// Traits (e.g. `default`, `fastest`).
    #[serde(default)]
    pub traits: Vec<String>,
    /// Classified as uncensored.
    #[serde(default)]
    pub uncensored: bool,
    /// Accepts `style_references`.
    #[serde(default)]
    pub supports_style_references: bool,
    /// Honours `enable_web_search` (image models).
    #[serde(default)]
    pub supports_web_search: bool,
    /// Honours `disable_prompt_optimization_thinking`.
    #[serde(default)]
    pub supports_optimize_prompt_thinking: bool,
    /// Constraints.
    #[serde(default)]
    pub constraints: Constraints,
    /// Pricing.
    #[serde(default)]
    pub pricing: Pricing,
    /// Deprecation schedule.
    #[serde(default)]
    pub deprecation: Option<Deprecation>,
    /// The provider's own JSON of this model, when it came from a captured `/models`
    /// response: served verbatim.
    #[serde(skip)]
    pub captured: Option<Value>,
    /// What the model charges when `style_references` are used, on top of its price: the
    /// provider bills one (Krea V2, `venice-image-generate`) but publishes neither the
    /// amount nor any `/models` field for it, so this is the mock's stand-in and is never
    /// served in the catalogue. `None`: no surcharge.
    #[serde(skip)]
    pub style_reference_surcharge_usd: Option<f64>,
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

/// When the built-in models were released on the mock (Unix seconds).
const CREATED: u64 = 1_735_689_600;

/// The aspect-ratio models that refuse `width`/`height` with a 400 instead of ignoring
/// them (`venice-image-generate`, veniceai/skills @ 73c0bf79).
pub const REFUSE_PIXEL_SIZE: &[&str] = &["qwen-image", "qwen-image-3", "qwen-image-3-pro"];

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

    /// Whether the model refuses `width`/`height` (see [`REFUSE_PIXEL_SIZE`]); every
    /// other aspect-ratio model ignores them.
    pub fn refuses_pixel_size(&self) -> bool {
        REFUSE_PIXEL_SIZE.contains(&self.id.as_str())
    }

    /// Most input images of a multi-edit: 1 when `combineImages` is false, else
    /// `maxInputImages`, else 3 (the provider's rule).
    pub fn input_image_limit(&self) -> u32 {
        if self.constraints.combine_images == Some(false) {
            return 1;
        }
        self.constraints.max_input_images.unwrap_or(3)
    }

    /// The `type` string this model is listed under.
    pub fn type_str(&self) -> &str {
        match (&self.captured, self.kind) {
            (Some(raw), _) => raw.get("type").and_then(Value::as_str).unwrap_or("other"),
            (None, kind) => kind.as_str(),
        }
    }

    /// The model as the provider's `ModelResponse` JSON object.
    pub fn to_json(&self) -> Value {
        if let Some(raw) = &self.captured {
            return raw.clone();
        }
        let mut spec = json!({
            "name": self.name,
            "privacy": self.privacy,
            "offline": false,
            "traits": self.traits,
        });
        // A model without any known price is listed without `pricing` (as the provider
        // lists unpriced models), not with an empty object.
        if self.pricing != Pricing::default() {
            spec["pricing"] = json!(self.pricing);
        }
        if self.kind != ModelKind::Upscale {
            spec["constraints"] = json!(self.constraints);
        }
        if self.kind == ModelKind::Image {
            spec["supportsStyleReferences"] = json!(self.supports_style_references);
            spec["supportsWebSearch"] = json!(self.supports_web_search);
        }
        if matches!(self.kind, ModelKind::Image | ModelKind::Inpaint) {
            spec["supportsOptimizePromptThinking"] = json!(self.supports_optimize_prompt_thinking);
        }
        if self.uncensored {
            spec["uncensored"] = json!(true);
        }
        if let Some(dep) = &self.deprecation {
            spec["deprecation"] = json!(dep);
        }
        json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "object": "model",
            "owned_by": "venice.ai",
            "created": CREATED,
            "model_spec": spec,
        })
    }

    /// USD price of one image at this tier and quality (per quality, else per tier,
    /// else the flat `generation` or edit price).
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

    /// USD surcharge for `images` input images of an edit (those beyond the included
    /// count are priced per image).
    pub fn input_images_usd(&self, images: usize) -> f64 {
        self.pricing.input_images.map_or(0.0, |p| {
            let extra = images.saturating_sub(p.included as usize);
            p.additional.usd * extra as f64
        })
    }

    /// Parses one entry of a `/models` response (the provider's `ModelResponse`).
    pub fn from_models_entry(entry: &Value) -> Result<Self, String> {
        let id = entry
            .get("id")
            .and_then(Value::as_str)
            .ok_or("a model has no string `id`")?;
        let kind = entry
            .get("type")
            .and_then(Value::as_str)
            .map(|t| serde_json::from_value(json!(t)).unwrap_or(ModelKind::Other))
            .ok_or_else(|| format!("model {id} has no string `type`"))?;
        let spec = entry.get("model_spec").cloned().unwrap_or(Value::Null);
        let part = |key: &str| integral(spec.get(key).cloned().unwrap_or(Value::Null));
        // The provider lists edit and upscale models without `constraints`.
        let constraints: Constraints = if kind == ModelKind::Other || part("constraints").is_null()
        {
            Constraints::default()
        } else {
            serde_json::from_value(part("constraints"))
                .map_err(|e| format!("model {id}: constraints: {e}"))?
        };
        // A model without a price (free, internal, or not documented) has no `pricing`.
        let pricing: Pricing = if kind == ModelKind::Other || part("pricing").is_null() {
            Pricing::default()
        } else {
            serde_json::from_value(part("pricing"))
                .map_err(|e| format!("model {id}: pricing: {e}"))?
        };
        let deprecation = match spec.get("deprecation") {
            None | Some(Value::Null) => None,
            Some(d) => Some(
                serde_json::from_value(d.clone())
                    .map_err(|e| format!("model {id}: deprecation: {e}"))?,
            ),
        };
        let strings = |key: &str| -> Vec<String> {
            spec.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Self {
            id: id.to_owned(),
            kind,
            name: spec
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(id)
                .to_owned(),
            privacy: spec
                .get("privacy")
                .and_then(Value::as_str)
                .unwrap_or("private")
                .to_owned(),
            traits: strings("traits"),
            uncensored: spec.get("uncensored").and_then(Value::as_bool) == Some(true),
            supports_style_references: spec.get("supportsStyleReferences").and_then(Value::as_bool)
                == Some(true),
            supports_web_search: spec.get("supportsWebSearch").and_then(Value::as_bool)
                == Some(true),
            supports_optimize_prompt_thinking: spec
                .get("supportsOptimizePromptThinking")
                .and_then(Value::as_bool)
                == Some(true),
            constraints,
            pricing,
            deprecation,
            captured: Some(entry.clone()),
            style_reference_surcharge_usd: None,
        })
    }
}

/// Turns numbers with no fraction (`25.0`) into integers, so integer fields of a
/// captured catalogue parse whichever way the JSON wrote them.
fn integral(value: Value) -> Value {
    match value {
        Value::Number(n) if n.as_u64().is_none() && n.as_i64().is_none() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => {
                json!(f as u64)
            }
            _ => Value::Number(n),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(integral).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, integral(v))).collect()),
        other => other,
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

/// Aspect ratios of aspect-sized image models.
const RATIOS: &[&str] = &[
    "1:1", "3:2", "2:3", "4:3", "3:4", "16:9", "9:16", "21:9", "4:5", "5:4",
];

/// Aspect ratios of edit models (the provider's edit `aspect_ratio` values).
const EDIT_RATIOS: &[&str] = &[
    "auto", "1:1", "3:2", "16:9", "21:9", "9:16", "2:3", "3:4", "4:5",
];

/// A sizing profile of `data/catalog.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    #[serde(default)]
    sizing: Option<String>,
    #[serde(default)]
    divisor: Option<u32>,
    prompt: u32,
    #[serde(default)]
    steps: Option<[u32; 2]>,
}

/// A price of `data/catalog.yaml`: a number, or `unknown` where the provider's
/// documentation gives none (the model is then served without a price, never an
/// invented one, and charged nothing).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum Usd {
    Known(f64),
    Unknown(UnknownPrice),
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum UnknownPrice {
    #[serde(rename = "unknown")]
    Unknown,
}

/// One model row of `data/catalog.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    #[serde(default)]
    kind: Option<ModelKind>,
    id: String,
    name: String,
    privacy: String,
    /// Where the row's facts come from.
    source: String,
    #[serde(default)]
    profile: Option<String>,
    usd: Option<Usd>,
    #[serde(default)]
    tiers: Option<BTreeMap<String, f64>>,
    #[serde(default)]
    quality: Option<BTreeMap<String, BTreeMap<String, f64>>>,
    /// Tiers of a model whose prices are unknown.
    #[serde(default)]
    resolutions: Option<Vec<String>>,
    /// Qualities of a model whose prices are unknown.
    #[serde(default)]
    qualities: Option<Vec<String>>,
    #[serde(default)]
    default_quality: Option<String>,
    #[serde(default)]
    prompt: Option<u32>,
    #[serde(default)]
    ratios: Option<Vec<String>>,
    #[serde(default)]
    max_images: Option<u32>,
    #[serde(default)]
    combine: Option<bool>,
    #[serde(default)]
    extra_images: Option<ExtraImages>,
    #[serde(default)]
    upscale: Option<[f64; 2]>,
    #[serde(default)]
    traits: Vec<String>,
    #[serde(default)]
    uncensored: bool,
    #[serde(default)]
    style_references: Option<u32>,
    #[serde(default)]
    style_strength: Option<bool>,
    /// The mock's stand-in for an unpublished style-reference surcharge (USD).
    #[serde(default)]
    style_surcharge: Option<f64>,
    #[serde(default)]
    web_search: bool,
    #[serde(default)]
    prompt_thinking: bool,
    #[serde(default)]
    deprecation: Option<Deprecation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtraImages {
    included: u32,
    usd: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    profiles: BTreeMap<String, Profile>,
    image: Vec<Row>,
    inpaint: Vec<Row>,
    upscale: Vec<Row>,
    mock_only: Vec<Row>,
}

/// The built-in catalogue's data, embedded at build time.
const CATALOG_YAML: &str = include_str!("../data/catalog.yaml");

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Row {
    fn into_model(
        self,
        kind: ModelKind,
        profiles: &BTreeMap<String, Profile>,
    ) -> Result<CatalogModel, String> {
        let kind = self.kind.unwrap_or(kind);
        let id = self.id;
        if self.source.trim().is_empty() {
            return Err(format!("{id}: no source"));
        }
        let unknown_price = matches!(self.usd, Some(Usd::Unknown(_)));
        let priced = matches!(self.usd, Some(Usd::Known(_)))
            || self.tiers.is_some()
            || self.quality.is_some();
        if unknown_price == priced {
            return Err(format!(
                "{id}: give prices (usd, tiers, quality) or `usd: unknown`, not both or neither"
            ));
        }
        let profile = match &self.profile {
            Some(name) => Some(
                profiles
                    .get(name)
                    .ok_or_else(|| format!("{id}: unknown profile {name}"))?,
            ),
            None => None,
        };
        let tiers: Option<Vec<String>> = self
            .tiers
            .as_ref()
            .map(|t| t.keys().cloned().collect())
            .or(self.resolutions.clone());
        let qualities: Option<Vec<String>> = self
            .quality
            .as_ref()
            .map(|q| {
                let mut names: Vec<String> = Vec::new();
                for name in ["low", "medium", "high"] {
                    if q.values().any(|per| per.contains_key(name)) {
                        names.push(name.to_owned());
                    }
                }
                names
            })
            .or(self.qualities.clone());
        let default_quality = self.default_quality.clone().or_else(|| {
            qualities.as_ref().map(|q| {
                if q.iter().any(|n| n == "medium") {
                    "medium".to_owned()
                } else {
                    q.first().cloned().unwrap_or_default()
                }
            })
        });
        let default_tier = tiers.as_ref().map(|_| "1K".to_owned());
        let mut constraints = Constraints::default();
        if let Some(p) = profile {
            constraints.prompt_character_limit = Some(self.prompt.unwrap_or(p.prompt));
            match kind {
                ModelKind::Image => {
                    constraints.width_height_divisor = p.divisor;
                    constraints.steps = p.steps.map(|[default, max]| Steps { default, max });
                    let ratios = self.ratios.clone().unwrap_or_else(|| strings(RATIOS));
                    match p.sizing.as_deref() {
                        Some("pixels") => {}
                        Some("aspect_ratio") => {
                            constraints.aspect_ratios = Some(ratios);
                            constraints.default_aspect_ratio = Some("1:1".to_owned());
                        }
                        Some("resolution") => {
                            constraints.aspect_ratios = Some(ratios);
                            constraints.default_aspect_ratio = Some("1:1".to_owned());
                            constraints.resolutions = tiers.clone();
                            constraints.default_resolution = default_tier.clone();
                            if constraints.resolutions.is_none() {
                                return Err(format!("{id}: resolution sizing without tiers"));
                            }
                        }
                        other => return Err(format!("{id}: unknown sizing {other:?}")),
                    }
                }
                ModelKind::Inpaint => {
                    constraints.aspect_ratios =
                        Some(self.ratios.clone().unwrap_or_else(|| strings(EDIT_RATIOS)));
                    constraints.combine_images = Some(self.combine.unwrap_or(true));
                    constraints.max_input_images = self.max_images;
                    constraints.resolutions = tiers.clone();
                    constraints.default_resolution = default_tier.clone();
                }
                ModelKind::Upscale | ModelKind::Other => {}
            }
            constraints.qualities = qualities;
            constraints.default_quality = default_quality;
            constraints.max_style_references = self.style_references;
            constraints.supports_style_reference_strength = self
                .style_references
                .map(|_| self.style_strength.unwrap_or(true));
        }
        let price_map = |m: &BTreeMap<String, f64>| -> BTreeMap<String, Price> {
            m.iter().map(|(k, v)| (k.clone(), Price::usd(*v))).collect()
        };
        let flat = match self.usd {
            Some(Usd::Known(usd)) => Some(Price::usd(usd)),
            _ => None,
        };
        let pricing = Pricing {
            generation: flat.filter(|_| kind != ModelKind::Inpaint),
            inpaint: flat.filter(|_| kind == ModelKind::Inpaint),
            resolutions: self.tiers.as_ref().map(price_map),
            quality: self.quality.as_ref().map(|q| {
                q.iter()
                    .map(|(t, per)| (t.clone(), price_map(per)))
                    .collect()
            }),
            input_images: self.extra_images.map(|e| InputImagePrices {
                included: e.included,
                additional: Price::usd(e.usd),
            }),
            upscale: match (kind, self.upscale) {
                (_, Some([x2, x4])) => Some(UpscalePrices {
                    x2: Price::usd(x2),
                    x4: Price::usd(x4),
                }),
                (ModelKind::Image, None) => Some(UpscalePrices::default()),
                _ => None,
            },
        };
        Ok(CatalogModel {
            id,
            kind,
            name: self.name,
            privacy: self.privacy,
            traits: self.traits,
            uncensored: self.uncensored,
            supports_style_references: self.style_references.is_some(),
            supports_web_search: self.web_search,
            supports_optimize_prompt_thinking: self.prompt_thinking,
            constraints,
            pricing,
            deprecation: self.deprecation,
            captured: None,
            style_reference_surcharge_usd: self.style_surcharge,
        })
    }
}

fn parse_builtin(text: &str) -> Result<Vec<CatalogModel>, String> {
    let file: CatalogFile = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let groups = [
        (ModelKind::Image, file.image),
        (ModelKind::Inpaint, file.inpaint),
        (ModelKind::Upscale, file.upscale),
        (ModelKind::Image, file.mock_only),
    ];
    let mut models = Vec::new();
    for (kind, rows) in groups {
        for row in rows {
            models.push(row.into_model(kind, &file.profiles)?);
        }
    }
    Ok(models)
}

static BUILTIN: LazyLock<Result<Vec<CatalogModel>, String>> =
    LazyLock::new(|| parse_builtin(CATALOG_YAML));

/// The model catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    models: Vec<CatalogModel>,
}

impl Catalog {
    /// The built-in catalogue (see the module docs). Empty only if the embedded data
    /// were broken, which the unit tests rule out.
    pub fn builtin() -> Self {
        Self {
            models: BUILTIN.as_ref().map(Clone::clone).unwrap_or_default(),
        }
    }

    /// A catalogue from a `/models` response captured from the real API: an object with
    /// `data` (as `GET /models?type=all` answers) or a bare array of models.
    pub fn from_models_response(response: &Value) -> Result<Self, String> {
        let entries = response
            .get("data")
            .unwrap_or(response)
            .as_array()
            .ok_or("a /models response is an object with a `data` array, or an array")?;
        let models = entries
            .iter()
            .map(CatalogModel::from_models_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { models })
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

    /// Models listed under a `type` filter of `GET /models` (`all` lists every model).
    pub fn listed_as<'a>(&'a self, filter: &'a str) -> impl Iterator<Item = &'a CatalogModel> {
        self.models
            .iter()
            .filter(move |m| filter == "all" || m.type_str() == filter)
    }

    /// The model a request without a known model falls back to: the image model with
    /// the `default` trait, else the first image model.
    pub fn default_image_model(&self) -> Option<&CatalogModel> {
        self.of_kind(Some(ModelKind::Image))
            .find(|m| m.traits.iter().any(|t| t == "default"))
            .or_else(|| self.of_kind(Some(ModelKind::Image)).next())
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Serialize for Catalog {
    /// As a `/models` response (`{"object":"list","data":[…]}`).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let data: Vec<Value> = self.models.iter().map(CatalogModel::to_json).collect();
        json!({ "object": "list", "type": "all", "data": data }).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Catalog {
    /// From a `/models` response (see [`Catalog::from_models_response`]).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Self::from_models_response(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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
    fn the_embedded_catalogue_parses_with_the_providers_counts() {
        let models = parse_builtin(CATALOG_YAML);
        let models = models.as_deref().unwrap_or_default();
        let count = |k| models.iter().filter(|m| m.kind == k).count();
        // The snapshot's 38 image, 21 edit and 1 upscale model, the 4 + 4 the provider
        // documents since (gpt-image-2-5-flare/-sunburst, ideogram-v4-5, muse-image and
        // their edits), and the mock-only deprecated one.
        assert_eq!(
            (
                count(ModelKind::Image),
                count(ModelKind::Inpaint),
                count(ModelKind::Upscale)
            ),
            (43, 25, 1)
        );
    }

    #[test]
    fn rows_without_a_source_or_with_two_price_kinds_are_refused() {
        let file = |row: &str| {
            format!(
                "profiles: {{r: {{sizing: aspect_ratio, divisor: 16, prompt: 10}}}}\n\
                 image: [{row}]\ninpaint: []\nupscale: []\nmock_only: []\n"
            )
        };
        let ok = "{id: a, name: A, privacy: private, profile: r, usd: unknown, source: x}";
        let m = parse_builtin(&file(ok)).unwrap();
        assert_eq!(m[0].pricing.generation, None);
        assert_eq!(m[0].price_usd(None, None), 0.0);
        for bad in [
            "{id: a, name: A, privacy: private, profile: r, usd: 0.1, source: ' '}",
            "{id: a, name: A, privacy: private, profile: r, usd: 0.1}",
            "{id: a, name: A, privacy: private, profile: r, source: x}",
            "{id: a, name: A, privacy: private, profile: r, usd: unknown, tiers: {1K: 0.1}, source: x}",
            "{id: a, name: A, privacy: private, profile: r, usd: maybe, source: x}",
        ] {
            assert!(parse_builtin(&file(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_documented_edit_and_style_rules_are_in_the_catalogue() {
        let c = Catalog::builtin();
        let m = |id: &str| c.get(id).unwrap();
        assert_eq!(m("firered-image-edit").input_image_limit(), 6);
        assert_eq!(
            m("firered-image-edit").constraints.prompt_character_limit,
            Some(1500)
        );
        assert_eq!(m("luma-uni-1-edit").input_image_limit(), 1);
        assert_eq!(m("qwen-edit-uncensored").input_image_limit(), 3);
        assert!(
            !m("gpt-image-2-edit")
                .constraints
                .aspect_ratios
                .as_ref()
                .unwrap()
                .contains(&"auto".to_owned())
        );
        assert_eq!(
            m("wan-2-7-pro-edit").constraints.aspect_ratios,
            Some(vec!["auto".to_owned()])
        );
        for id in [
            "krea-v2-large",
            "krea-v2-medium",
            "luma-uni-1",
            "luma-uni-1-max",
        ] {
            assert!(m(id).supports_style_references, "{id}");
            assert_eq!(m(id).constraints.max_style_references, Some(3), "{id}");
        }
        for id in ["nano-banana-2", "nano-banana-pro"] {
            assert!(!m(id).supports_style_references, "{id}");
            assert!(m(id).supports_web_search, "{id}");
            assert_eq!(m(id).constraints.prompt_character_limit, Some(32_768));
        }
        assert_eq!(
            m("luma-uni-1")
                .constraints
                .supports_style_reference_strength,
            Some(false)
        );
        assert!(m("seedream-v5-pro").supports_optimize_prompt_thinking);
        assert!(m("qwen-image-3").refuses_pixel_size());
        assert!(!m("qwen-image-2").refuses_pixel_size());
        let json = m("nano-banana-pro").to_json();
        assert_eq!(json["model_spec"]["supportsWebSearch"], true);
        // A price the documentation does not give is not served.
        let new = m("gpt-image-2-5-flare").to_json();
        assert!(new["model_spec"]["pricing"].get("resolutions").is_none());
        assert_eq!(
            new["model_spec"]["constraints"]["defaultQuality"],
            json!("high")
        );
    }

    #[test]
    fn every_sizing_mode_is_represented() {
        let c = Catalog::builtin();
        let mode = |id: &str| c.get(id).map(CatalogModel::sizing_mode);
        assert_eq!(mode("venice-sd35"), Some(SizingMode::Pixels));
        assert_eq!(mode("z-image-turbo"), Some(SizingMode::Pixels));
        assert_eq!(mode("flux-2-pro"), Some(SizingMode::AspectRatio));
        assert_eq!(mode("muse-image"), Some(SizingMode::AspectRatio));
        assert_eq!(
            mode("ideogram-v4-5"),
            Some(SizingMode::AspectRatioAndResolution)
        );
        assert_eq!(mode("qwen-image-2"), Some(SizingMode::AspectRatio));
        assert_eq!(
            mode("nano-banana-pro"),
            Some(SizingMode::AspectRatioAndResolution)
        );
        assert_eq!(
            mode("grok-imagine-image"),
            Some(SizingMode::AspectRatioAndResolution)
        );
    }

    #[test]
    fn prices_per_tier_quality_and_input_image() {
        let c = Catalog::builtin();
        let price = |id: &str, tier, q| c.get(id).map(|m| m.price_usd(tier, q));
        assert_eq!(price("gpt-image-2", Some("2K"), Some("high")), Some(0.5));
        // The provider's defaultQuality for GPT Image is high: $0.26 at 1K, as live.
        assert_eq!(price("gpt-image-2", None, None), Some(0.26));
        assert_eq!(price("gpt-image-2", None, Some("medium")), Some(0.07));
        assert_eq!(price("nano-banana-pro", Some("4K"), None), Some(0.35));
        assert_eq!(price("venice-sd35", None, None), Some(0.01));
        assert_eq!(price("firered-image-edit", None, None), Some(0.04));
        let extra = c.get("flux-2-max-edit").map(|m| m.input_images_usd(3));
        assert_eq!(extra, Some(0.0345 * 2.0));
    }

    #[test]
    fn image_models_carry_the_required_constraints() {
        for m in Catalog::builtin().of_kind(Some(ModelKind::Image)) {
            let c = &m.constraints;
            assert!(
                c.prompt_character_limit.is_some()
                    && c.steps.is_some()
                    && c.width_height_divisor.is_some(),
                "{}",
                m.id
            );
            assert!(m.pricing.upscale.is_some(), "{}", m.id);
        }
        let default = Catalog::builtin()
            .default_image_model()
            .map(|m| m.id.clone());
        assert_eq!(default.as_deref(), Some("z-image-turbo"));
    }

    #[test]
    fn a_captured_response_round_trips_and_is_served_verbatim() {
        let entry = json!({"id":"new-model","type":"image","object":"model","owned_by":"venice.ai",
            "model_spec":{"name":"New","privacy":"private","traits":["fastest"],
                "constraints":{"promptCharacterLimit":2048.0,"steps":{"default":20,"max":30},
                    "widthHeightDivisor":8,"aspectRatios":["1:1"],"resolutions":["1K","2K"]},
                "pricing":{"resolutions":{"1K":{"usd":0.1,"diem":0.1}},
                    "upscale":{"2x":{"usd":0.02,"diem":0.02},"4x":{"usd":0.08,"diem":0.08}}},
                "futureField":{"x":1}}});
        let text =
            json!({"object":"list","data":[entry, {"id":"llm","type":"text","model_spec":{}}]});
        let c = Catalog::from_models_response(&text);
        let c = c.as_ref().ok();
        let m = c.and_then(|c| c.get("new-model"));
        assert_eq!(
            m.map(|m| m.sizing_mode()),
            Some(SizingMode::AspectRatioAndResolution)
        );
        assert_eq!(
            m.and_then(|m| m.constraints.prompt_character_limit),
            Some(2048)
        );
        assert_eq!(m.map(CatalogModel::to_json), Some(entry));
        assert_eq!(c.map(|c| c.listed_as("text").count()), Some(1));
        assert!(Catalog::from_models_response(&json!({"data": 3})).is_err());
    }
}
