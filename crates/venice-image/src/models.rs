//! The image model catalogue: [`ImageModel`], model-aware validation and
//! [`Cost`] estimates.

use std::collections::BTreeMap;

use serde::Serialize;
use venice_openapi::types;

use crate::error::ValidationError;
use crate::error::{Error, Result};
use crate::generate::GenerateRequest;
use crate::sizing::Size;

/// How a model chooses its output size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SizingMode {
    /// `width`/`height`, best as multiples of `divisor` (the provider does not enforce
    /// it; the client warns).
    Pixels {
        /// Width and height must be multiples of this.
        divisor: u32,
    },
    /// `aspect_ratio` alone.
    AspectRatio,
    /// `aspect_ratio` with a `resolution` tier.
    AspectRatioAndResolution,
}

/// Request constraints of an image model.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ModelConstraints {
    pub(crate) prompt_character_limit: Option<u32>,
    pub(crate) width_height_divisor: Option<u32>,
    pub(crate) aspect_ratios: Vec<String>,
    pub(crate) default_aspect_ratio: Option<String>,
    pub(crate) resolutions: Vec<String>,
    pub(crate) default_resolution: Option<String>,
    pub(crate) qualities: Vec<String>,
    pub(crate) default_quality: Option<String>,
    pub(crate) max_style_references: Option<u32>,
    pub(crate) supports_style_reference_strength: bool,
    #[serde(serialize_with = "serialize_steps")]
    pub(crate) steps: Option<(u32, u32)>,
}

fn serialize_steps<S: serde::Serializer>(
    steps: &Option<(u32, u32)>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Steps {
        default: u32,
        max: u32,
    }
    steps
        .map(|(default, max)| Steps { default, max })
        .serialize(s)
}

impl ModelConstraints {
    /// Longest accepted prompt (characters).
    pub fn prompt_character_limit(&self) -> Option<u32> {
        self.prompt_character_limit
    }

    /// Width and height work best as multiples of this (pixel models; not enforced).
    pub fn width_height_divisor(&self) -> Option<u32> {
        self.width_height_divisor
    }

    /// Accepted aspect ratios (`16:9`, ...).
    pub fn aspect_ratios(&self) -> &[String] {
        &self.aspect_ratios
    }

    /// Aspect ratio used when none is sent.
    pub fn default_aspect_ratio(&self) -> Option<&str> {
        self.default_aspect_ratio.as_deref()
    }

    /// Accepted resolution tiers (`1K`, ...).
    pub fn resolutions(&self) -> &[String] {
        &self.resolutions
    }

    /// Tier used when none is sent.
    pub fn default_resolution(&self) -> Option<&str> {
        self.default_resolution.as_deref()
    }

    /// Accepted qualities (`low`, ...).
    pub fn qualities(&self) -> &[String] {
        &self.qualities
    }

    /// Quality used when none is sent.
    pub fn default_quality(&self) -> Option<&str> {
        self.default_quality.as_deref()
    }

    /// Most style references accepted.
    pub fn max_style_references(&self) -> Option<u32> {
        self.max_style_references
    }

    /// Whether style reference strength is honoured.
    pub fn supports_style_reference_strength(&self) -> bool {
        self.supports_style_reference_strength
    }

    /// Default and maximum steps.
    pub fn steps(&self) -> Option<(u32, u32)> {
        self.steps
    }
}

/// A price in USD and DIEM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Price {
    pub(crate) usd: f64,
    pub(crate) diem: f64,
}

impl Price {
    /// USD.
    pub fn usd(&self) -> f64 {
        self.usd
    }

    /// DIEM.
    pub fn diem(&self) -> f64 {
        self.diem
    }
}

/// Prices of an image model, per generated image.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ModelPricing {
    pub(crate) generation: Option<Price>,
    pub(crate) resolutions: BTreeMap<String, Price>,
    pub(crate) quality: BTreeMap<String, BTreeMap<String, Price>>,
}

impl ModelPricing {
    /// Flat price per image.
    pub fn generation(&self) -> Option<Price> {
        self.generation
    }

    /// Price per resolution tier (replaces [`generation`](Self::generation)).
    pub fn resolutions(&self) -> &BTreeMap<String, Price> {
        &self.resolutions
    }

    /// Price per resolution tier, then quality.
    pub fn quality(&self) -> &BTreeMap<String, BTreeMap<String, Price>> {
        &self.quality
    }
}

/// Retirement schedule of a model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ModelDeprecation {
    pub(crate) date: Option<String>,
    pub(crate) removes_at: Option<String>,
    pub(crate) starts_at: Option<String>,
    pub(crate) replacement_model_id: Option<String>,
    pub(crate) auto_remap: bool,
}

impl ModelDeprecation {
    /// Sunset instant, as sent.
    pub fn date(&self) -> Option<&str> {
        self.date.as_deref()
    }

    /// When the model leaves the listing, as sent.
    pub fn removes_at(&self) -> Option<&str> {
        self.removes_at.as_deref()
    }

    /// When deprecation warnings start, as sent.
    pub fn starts_at(&self) -> Option<&str> {
        self.starts_at.as_deref()
    }

    /// The model to migrate to.
    pub fn replacement_model_id(&self) -> Option<&str> {
        self.replacement_model_id.as_deref()
    }

    /// Whether requests may be remapped to the replacement.
    pub fn auto_remap(&self) -> bool {
        self.auto_remap
    }
}

/// An image model of the catalogue ([`Client::image_models`](crate::Client::image_models)).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ImageModel {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) sizing: SizingMode,
    pub(crate) constraints: ModelConstraints,
    pub(crate) pricing: ModelPricing,
    pub(crate) deprecation: Option<ModelDeprecation>,
    pub(crate) offline: bool,
    pub(crate) supports_style_references: bool,
    pub(crate) supports_web_search: bool,
    pub(crate) supports_optimize_prompt_thinking: bool,
    pub(crate) region_restrictions: Vec<String>,
    pub(crate) traits: Vec<String>,
}

impl ImageModel {
    /// Model ID (the `model` of a request).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Display name (the ID when the catalogue has none).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Description.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// How the model is sized.
    pub fn sizing(&self) -> SizingMode {
        self.sizing
    }

    /// Request constraints.
    pub fn constraints(&self) -> &ModelConstraints {
        &self.constraints
    }

    /// Prices.
    pub fn pricing(&self) -> &ModelPricing {
        &self.pricing
    }

    /// Retirement schedule, if any.
    pub fn deprecation(&self) -> Option<&ModelDeprecation> {
        self.deprecation.as_ref()
    }

    /// Whether the model is offline now.
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// Whether the model accepts style references.
    pub fn supports_style_references(&self) -> bool {
        self.supports_style_references
    }

    /// Whether `enable_web_search` does anything on this model.
    pub fn supports_web_search(&self) -> bool {
        self.supports_web_search
    }

    /// Whether `disable_prompt_optimization_thinking` does anything on this model.
    pub fn supports_optimize_prompt_thinking(&self) -> bool {
        self.supports_optimize_prompt_thinking
    }

    /// Country codes from which the model is blocked (403); empty when unrestricted.
    pub fn region_restrictions(&self) -> &[String] {
        &self.region_restrictions
    }

    /// Traits such as `default`.
    pub fn traits(&self) -> &[String] {
        &self.traits
    }
}

fn to_u32(v: Option<i64>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v.max(0)).ok())
}

fn price(p: &types::Price) -> Price {
    Price {
        usd: p.usd,
        diem: p.diem,
    }
}

/// The image models of a `GET /models` answer. Entries of other types are skipped.
pub(crate) fn from_wire(list: types::ModelList) -> Vec<ImageModel> {
    list.data
        .into_iter()
        .filter(|m| !m.id.is_empty() && m.type_ == "image")
        .map(|m| {
            let s = m.model_spec;
            let c = s.constraints.unwrap_or_default();
            let sizing = if !c.aspect_ratios.is_empty() {
                if c.resolutions.is_empty() {
                    SizingMode::AspectRatio
                } else {
                    SizingMode::AspectRatioAndResolution
                }
            } else {
                SizingMode::Pixels {
                    divisor: to_u32(c.width_height_divisor)
                        .filter(|d| *d > 0)
                        .unwrap_or(1),
                }
            };
            let pricing = s.pricing.unwrap_or_default();
            ImageModel {
                name: s.name.unwrap_or_else(|| m.id.clone()),
                id: m.id,
                description: s.description,
                sizing,
                constraints: ModelConstraints {
                    prompt_character_limit: to_u32(c.prompt_character_limit),
                    width_height_divisor: to_u32(c.width_height_divisor),
                    aspect_ratios: c.aspect_ratios,
                    default_aspect_ratio: c.default_aspect_ratio,
                    resolutions: c.resolutions,
                    default_resolution: c.default_resolution,
                    qualities: c.qualities,
                    default_quality: c.default_quality,
                    max_style_references: to_u32(c.max_style_references),
                    supports_style_reference_strength: c
                        .supports_style_reference_strength
                        .unwrap_or(false),
                    steps: c
                        .steps
                        .and_then(|st| Some((to_u32(Some(st.default))?, to_u32(Some(st.max))?))),
                },
                pricing: ModelPricing {
                    generation: pricing.generation.as_ref().map(price),
                    resolutions: pricing
                        .resolutions
                        .iter()
                        .map(|(k, v)| (k.clone(), price(v)))
                        .collect(),
                    quality: pricing
                        .quality
                        .iter()
                        .map(|(tier, q)| {
                            let levels =
                                [("low", &q.low), ("medium", &q.medium), ("high", &q.high)]
                                    .into_iter()
                                    .filter_map(|(name, p)| {
                                        Some((name.to_owned(), price(p.as_ref()?)))
                                    })
                                    .collect();
                            (tier.clone(), levels)
                        })
                        .collect(),
                },
                deprecation: s.deprecation.map(|d| ModelDeprecation {
                    date: Some(d.date),
                    removes_at: Some(d.removes_at),
                    starts_at: d.starts_at,
                    replacement_model_id: d.replacement_model_id,
                    auto_remap: d.auto_remap,
                }),
                offline: s.offline.unwrap_or(false),
                supports_style_references: s.supports_style_references.unwrap_or(false),
                supports_web_search: s.supports_web_search.unwrap_or(false),
                supports_optimize_prompt_thinking: s
                    .supports_optimize_prompt_thinking
                    .unwrap_or(false),
                region_restrictions: s.region_restrictions,
                traits: s.traits,
            }
        })
        .collect()
}

/// Parse a `GET /models?type=image` body (as the generated type) into image models.
#[cfg(test)]
pub(crate) fn parse_catalogue(body: &[u8]) -> Result<Vec<ImageModel>> {
    let list: types::ModelList =
        serde_json::from_slice(body).map_err(|e| Error::decode("model list", e))?;
    Ok(from_wire(list))
}

/// What a prompt rewrite (`enhance_prompt`) adds to a generation when one is produced:
/// "a $0.04 charge when a rewrite is produced" (veniceai/skills `venice-image-generate` @
/// 73c0bf79). The catalogue has no field for it, so it is the one price this crate holds;
/// an estimate counts it at this upper bound.
pub const ENHANCE_PROMPT_MAX_USD: f64 = 0.04;

/// One charge of an estimate: the model's price, or an add-on the provider bills beside it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CostLine {
    pub(crate) what: String,
    pub(crate) usd: Option<f64>,
    pub(crate) up_to: bool,
}

impl CostLine {
    /// A charge of `usd`.
    pub fn known(what: impl Into<String>, usd: f64) -> Self {
        Self {
            what: what.into(),
            usd: Some(usd),
            up_to: false,
        }
    }

    /// A charge of at most `usd`, billed only when something happens (a rewrite is
    /// produced); counted at `usd`.
    pub fn up_to(what: impl Into<String>, usd: f64) -> Self {
        Self {
            what: what.into(),
            usd: Some(usd),
            up_to: true,
        }
    }

    /// A charge the provider bills but does not publish: unknown, never zero.
    pub fn unknown(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            usd: None,
            up_to: false,
        }
    }

    /// What is charged, e.g. `gpt-image-2 1K high x1` or `enhance_prompt`.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The amount in USD (the upper bound of an "up to" charge); `None`: unknown.
    pub fn usd(&self) -> Option<f64> {
        self.usd
    }

    /// Whether the charge may not happen (billed only when a rewrite is produced);
    /// [`usd`](Self::usd) is then its upper bound.
    pub fn is_up_to(&self) -> bool {
        self.up_to
    }
}

/// Estimated cost of a request ([`Client::estimate_cost`](crate::Client::estimate_cost)):
/// one [`CostLine`] per charge the provider documents (the model's price, an
/// `enhance_prompt` rewrite at its upper bound, an unpublished style-reference surcharge
/// as unknown).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Cost {
    pub(crate) usd_per_image: f64,
    pub(crate) images: u32,
    pub(crate) total_usd: f64,
    pub(crate) lines: Vec<CostLine>,
}

impl Cost {
    /// Price of one image in USD (the model's price; add-ons are in
    /// [`lines`](Self::lines)).
    pub fn usd_per_image(&self) -> f64 {
        self.usd_per_image
    }

    /// Number of images the request produces.
    pub fn images(&self) -> u32 {
        self.images
    }

    /// The sum of the known lines ("up to" ones at their upper bound). When
    /// [`is_complete`](Self::is_complete) is false the real cost may be higher.
    pub fn total_usd(&self) -> f64 {
        self.total_usd
    }

    /// Every charge of the request, the model's price first.
    pub fn lines(&self) -> &[CostLine] {
        &self.lines
    }

    /// Whether every line has a known amount (no unpublished surcharge).
    pub fn is_complete(&self) -> bool {
        self.lines.iter().all(|l| l.usd.is_some())
    }
}

/// Find `id` in the catalogue, or a validation error for field `model`.
pub(crate) fn find<'a>(models: &'a [ImageModel], id: &str) -> Result<&'a ImageModel> {
    models.iter().find(|m| m.id == id).ok_or_else(|| {
        Error::Validation(ValidationError::new(
            "model",
            format!("unknown image model {id:?} (see Client::image_models)"),
        ))
    })
}

fn fail(field: &'static str, rule: String) -> Result<()> {
    Err(Error::Validation(ValidationError::new(field, rule)))
}

impl ImageModel {
    /// Check `req` against this model's constraints.
    pub fn validate(&self, req: &GenerateRequest) -> Result<()> {
        let c = &self.constraints;
        let id = &self.id;
        match (req.size(), self.sizing) {
            (None, _) => {}
            (Some(Size::Pixels { width, height }), SizingMode::Pixels { divisor }) => {
                // The divisor is advice: the provider does not validate it
                // (venice-image-generate), so an off-divisor size is sent, with a warning.
                for (field, v) in [("width", width), ("height", height)] {
                    if divisor > 1 && v % divisor != 0 {
                        tracing::warn!(
                            model = %id,
                            field,
                            value = v,
                            divisor,
                            "size is not a multiple of the model's widthHeightDivisor; the server may adjust it"
                        );
                    }
                }
            }
            (
                Some(Size::AspectRatio(ar)),
                SizingMode::AspectRatio | SizingMode::AspectRatioAndResolution,
            )
            | (
                Some(Size::Tiered {
                    aspect_ratio: ar, ..
                }),
                SizingMode::AspectRatioAndResolution,
            ) => {
                let ar = ar.to_string();
                if !c.aspect_ratios.contains(&ar) {
                    return fail(
                        "aspect_ratio",
                        format!(
                            "model {id} accepts {}, got {ar}",
                            c.aspect_ratios.join(", ")
                        ),
                    );
                }
                if let Some(Size::Tiered { resolution, .. }) = req.size()
                    && !c
                        .resolutions
                        .iter()
                        .any(|r| r.eq_ignore_ascii_case(resolution.as_str()))
                {
                    return fail(
                        "resolution",
                        format!(
                            "model {id} accepts {}, got {resolution}",
                            c.resolutions.join(", ")
                        ),
                    );
                }
            }
            (Some(size), mode) => {
                let wants = match mode {
                    SizingMode::Pixels { .. } => "width/height (Size::Pixels)",
                    SizingMode::AspectRatio => "an aspect ratio (Size::AspectRatio)",
                    SizingMode::AspectRatioAndResolution => {
                        "an aspect ratio with a resolution tier (Size::Tiered or Size::AspectRatio)"
                    }
                };
                return fail(
                    "size",
                    format!("model {id} is sized by {wants}, got {size}"),
                );
            }
        }
        if let Some(limit) = c.prompt_character_limit {
            let n = req.prompt().chars().count();
            if n > limit as usize {
                return fail(
                    "prompt",
                    format!("model {id} accepts at most {limit} characters, got {n}"),
                );
            }
            if let Some(neg) = req.negative_prompt() {
                let n = neg.chars().count();
                if n > limit as usize {
                    return fail(
                        "negative_prompt",
                        format!("model {id} accepts at most {limit} characters, got {n}"),
                    );
                }
            }
        }
        if let Some(q) = req.quality()
            && !c
                .qualities
                .iter()
                .any(|x| x.eq_ignore_ascii_case(q.as_str()))
        {
            let accepted = if c.qualities.is_empty() {
                "no quality setting".to_owned()
            } else {
                c.qualities.join(", ")
            };
            return fail("quality", format!("model {id} accepts {accepted}, got {q}"));
        }
        let refs = req.style_reference_count();
        if refs > 0 {
            let max = if self.supports_style_references || c.max_style_references.is_some() {
                c.max_style_references.unwrap_or(u32::MAX)
            } else {
                0
            };
            if refs > max as usize {
                return fail(
                    "style_references",
                    format!("model {id} accepts at most {max} style references, got {refs}"),
                );
            }
        }
        if let (Some(steps), Some((_, max))) = (req.steps(), c.steps)
            && max > 0
            && steps > max
        {
            return fail(
                "steps",
                format!("model {id} accepts at most {max} steps, got {steps}"),
            );
        }
        Ok(())
    }

    /// Estimate the cost of `req` from this model's pricing.
    pub fn estimate_cost(&self, req: &GenerateRequest) -> Result<Cost> {
        let c = &self.constraints;
        let p = &self.pricing;
        let tier = match req.size() {
            Some(Size::Tiered { resolution, .. }) => resolution.as_str().to_owned(),
            _ => c
                .default_resolution
                .clone()
                .unwrap_or_else(|| "1K".to_owned()),
        };
        let lookup = |m: &BTreeMap<String, Price>, k: &str| {
            m.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| *v)
        };
        let quality = (!p.quality.is_empty()).then(|| {
            req.quality()
                .map(|q| q.as_str().to_owned())
                .or_else(|| c.default_quality.clone())
                .unwrap_or_else(|| "medium".to_owned())
        });
        let price = if let Some(q) = &quality {
            p.quality
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&tier))
                .and_then(|(_, qs)| lookup(qs, q))
        } else if !p.resolutions.is_empty() {
            lookup(&p.resolutions, &tier)
        } else {
            p.generation
        };
        let price = price.ok_or_else(|| {
            Error::Validation(ValidationError::new(
                "model",
                format!(
                    "the catalogue has no price for model {} at this size/quality",
                    self.id
                ),
            ))
        })?;
        let images = req.image_count();
        let mut lines = vec![CostLine::known(
            match &quality {
                Some(q) => format!("{} {tier} {q} x{images}", self.id),
                None => format!("{} {tier} x{images}", self.id),
            },
            price.usd * f64::from(images),
        )];
        if req.enhance_prompt() == Some(true) {
            lines.push(CostLine::up_to(
                "enhance_prompt (when a rewrite is produced)",
                ENHANCE_PROMPT_MAX_USD,
            ));
        }
        if req.style_reference_count() > 0 {
            // Billed by some models (Krea V2) and itemized by none in the catalogue.
            lines.push(CostLine::unknown(
                "style references (a surcharge the provider does not publish)",
            ));
        }
        Ok(Cost {
            usd_per_image: price.usd,
            images,
            total_usd: lines.iter().filter_map(|l| l.usd).sum(),
            lines,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::generate::StyleReference;
    use crate::sizing::{AspectRatio, Quality, Resolution};
    use serde_json::json;

    pub(crate) fn catalogue_json() -> serde_json::Value {
        json!({"object": "list", "type": "image", "data": [
            {"id": "px", "type": "image", "object": "model", "owned_by": "venice.ai",
             "model_spec": {"name": "Pixel", "privacy": "private",
                "constraints": {"promptCharacterLimit": 100, "widthHeightDivisor": 16,
                                "steps": {"default": 8, "max": 30}},
                "pricing": {"generation": {"usd": 0.01, "diem": 0.1}}}},
            {"id": "ar", "type": "image", "object": "model", "owned_by": "venice.ai",
             "model_spec": {"privacy": "private", "supportsStyleReferences": true,
                "constraints": {"aspectRatios": ["1:1", "16:9"], "maxStyleReferences": 1,
                                "qualities": ["low", "high"], "defaultQuality": "low"},
                "pricing": {"generation": {"usd": 0.02, "diem": 0.2},
                            "quality": {"1K": {"low": {"usd": 0.03, "diem": 0}, "high": {"usd": 0.05, "diem": 0}}}},
                "deprecation": {"autoRemap": true, "date": "2030-01-01", "removesAt": "2030-01-01"}}},
            {"id": "tier", "type": "image", "object": "model", "owned_by": "venice.ai",
             "model_spec": {"privacy": "private", "newField": 1, "supportsWebSearch": true,
                "supportsOptimizePromptThinking": true, "regionRestrictions": ["XX"],
                "constraints": {"aspectRatios": ["1:1"], "resolutions": ["1K", "2K"], "defaultResolution": "1K"},
                "pricing": {"resolutions": {"1K": {"usd": 0.1, "diem": 1}, "2K": {"usd": 0.2, "diem": 2}}}}},
            {"id": "txt", "type": "text", "object": "model", "owned_by": "venice.ai", "model_spec": {"privacy": "private"}}
        ]})
    }

    fn models() -> Vec<ImageModel> {
        parse_catalogue(catalogue_json().to_string().as_bytes()).unwrap()
    }

    fn field(r: Result<()>) -> String {
        match r {
            Err(Error::Validation(v)) => v.field.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_modes() {
        let m = models();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].sizing, SizingMode::Pixels { divisor: 16 });
        assert_eq!(m[0].name, "Pixel");
        assert_eq!(m[0].constraints.steps, Some((8, 30)));
        assert_eq!(m[1].sizing, SizingMode::AspectRatio);
        assert!(m[1].deprecation.as_ref().unwrap().auto_remap);
        assert_eq!(m[2].sizing, SizingMode::AspectRatioAndResolution);
        assert_eq!(m[2].name, "tier");
        assert!(m[2].supports_web_search() && m[2].supports_optimize_prompt_thinking());
        assert_eq!(m[2].region_restrictions(), ["XX"]);
        assert!(!m[0].supports_web_search() && m[0].region_restrictions().is_empty());
        assert!(parse_catalogue(b"\"x\"").is_err());
    }

    #[test]
    fn catalogue_and_cost_serialise() {
        let m = models();
        let v = serde_json::to_value(&m[0]).unwrap();
        assert_eq!(v["id"], "px");
        assert_eq!(v["sizing"], json!({"mode": "pixels", "divisor": 16}));
        assert_eq!(v["constraints"]["steps"], json!({"default": 8, "max": 30}));
        assert_eq!(
            v["pricing"]["generation"],
            json!({"usd": 0.01, "diem": 0.1})
        );
        let v = serde_json::to_value(&m[2]).unwrap();
        assert_eq!(v["sizing"], json!({"mode": "aspect_ratio_and_resolution"}));
        let cost = find(&m, "px")
            .unwrap()
            .estimate_cost(
                &GenerateRequest::builder("px", "p")
                    .variants(2)
                    .build()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(
            serde_json::to_value(cost).unwrap(),
            json!({"usd_per_image": 0.01, "images": 2, "total_usd": 0.02,
                   "lines": [{"what": "px 1K x2", "usd": 0.02, "up_to": false}]})
        );
    }

    #[test]
    fn an_estimate_has_a_line_per_documented_charge() {
        let m = models();
        let ar = find(&m, "ar").unwrap();
        let req = GenerateRequest::builder("ar", "p")
            .enhance_prompt(true)
            .style_reference(StyleReference::from_url("https://a").unwrap())
            .build()
            .unwrap();
        let cost = ar.estimate_cost(&req).unwrap();
        let lines = cost.lines();
        assert_eq!(lines.len(), 3, "{lines:?}");
        // The model at its default quality, then the rewrite at its upper bound, then the
        // unpublished style-reference surcharge as unknown (never zero).
        assert_eq!(lines[0].what(), "ar 1K low x1");
        assert_eq!(lines[0].usd(), Some(0.03));
        assert!(lines[1].is_up_to());
        assert_eq!(lines[1].usd(), Some(ENHANCE_PROMPT_MAX_USD));
        assert_eq!(lines[2].usd(), None);
        assert!(!cost.is_complete());
        assert!((cost.total_usd() - 0.07).abs() < 1e-9);
    }

    #[test]
    fn model_rules() {
        let m = models();
        let b = |model: &str| GenerateRequest::builder(model, "p");
        let px = find(&m, "px").unwrap();
        assert!(
            px.validate(
                &b("px")
                    .size(Size::Pixels {
                        width: 512,
                        height: 512
                    })
                    .build()
                    .unwrap()
            )
            .is_ok()
        );
        // Off the divisor: sent (the provider does not validate it).
        assert!(
            px.validate(
                &b("px")
                    .size(Size::Pixels {
                        width: 500,
                        height: 512
                    })
                    .build()
                    .unwrap()
            )
            .is_ok()
        );
        let ar169 = Size::AspectRatio(AspectRatio::new(16, 9).unwrap());
        assert_eq!(
            field(px.validate(&b("px").size(ar169).build().unwrap())),
            "size"
        );
        assert_eq!(
            field(
                px.validate(
                    &GenerateRequest::builder("px", "x".repeat(101))
                        .build()
                        .unwrap()
                )
            ),
            "prompt"
        );
        assert_eq!(
            field(px.validate(&b("px").negative_prompt("x".repeat(101)).build().unwrap())),
            "negative_prompt"
        );
        assert_eq!(
            field(px.validate(&b("px").quality(Quality::High).build().unwrap())),
            "quality"
        );
        assert_eq!(
            field(px.validate(&b("px").steps(31).build().unwrap())),
            "steps"
        );
        assert_eq!(
            field(
                px.validate(
                    &b("px")
                        .style_reference(StyleReference::from_url("https://a").unwrap())
                        .build()
                        .unwrap()
                )
            ),
            "style_references"
        );

        let ar = find(&m, "ar").unwrap();
        assert!(
            ar.validate(&b("ar").size(ar169).quality(Quality::High).build().unwrap())
                .is_ok()
        );
        let r43 = Size::AspectRatio(AspectRatio::new(4, 3).unwrap());
        assert_eq!(
            field(ar.validate(&b("ar").size(r43).build().unwrap())),
            "aspect_ratio"
        );
        assert_eq!(
            field(ar.validate(&b("ar").quality(Quality::Medium).build().unwrap())),
            "quality"
        );
        let tiered = Size::Tiered {
            aspect_ratio: AspectRatio::new(1, 1).unwrap(),
            resolution: Resolution::OneK,
        };
        assert_eq!(
            field(ar.validate(&b("ar").size(tiered).build().unwrap())),
            "size"
        );
        let one = b("ar")
            .style_reference(StyleReference::from_url("https://a").unwrap())
            .build()
            .unwrap();
        assert!(ar.validate(&one).is_ok());
        let two = b("ar")
            .style_reference(StyleReference::from_url("https://a").unwrap())
            .style_reference(StyleReference::from_url("https://b").unwrap())
            .build()
            .unwrap();
        assert_eq!(field(ar.validate(&two)), "style_references");

        let t = find(&m, "tier").unwrap();
        assert!(t.validate(&b("tier").size(tiered).build().unwrap()).is_ok());
        let t4k = Size::Tiered {
            aspect_ratio: AspectRatio::new(1, 1).unwrap(),
            resolution: Resolution::FourK,
        };
        assert_eq!(
            field(t.validate(&b("tier").size(t4k).build().unwrap())),
            "resolution"
        );
        assert!(
            t.validate(
                &b("tier")
                    .size(Size::AspectRatio(AspectRatio::new(1, 1).unwrap()))
                    .build()
                    .unwrap()
            )
            .is_ok()
        );

        assert_eq!(field(find(&m, "nope").map(|_| ())), "model");
    }

    #[test]
    fn costs() {
        let m = models();
        let b = |model: &str| GenerateRequest::builder(model, "p");
        let c = find(&m, "px")
            .unwrap()
            .estimate_cost(&b("px").variants(3).build().unwrap())
            .unwrap();
        assert_eq!(c.images, 3);
        assert!((c.total_usd - 0.03).abs() < 1e-9);
        let ar = find(&m, "ar").unwrap();
        assert_eq!(
            ar.estimate_cost(&b("ar").build().unwrap())
                .unwrap()
                .usd_per_image,
            0.03
        );
        assert_eq!(
            ar.estimate_cost(&b("ar").quality(Quality::High).build().unwrap())
                .unwrap()
                .usd_per_image,
            0.05
        );
        let t = find(&m, "tier").unwrap();
        let t2k = Size::Tiered {
            aspect_ratio: AspectRatio::new(1, 1).unwrap(),
            resolution: Resolution::TwoK,
        };
        assert_eq!(
            t.estimate_cost(&b("tier").size(t2k).build().unwrap())
                .unwrap()
                .usd_per_image,
            0.2
        );
        assert_eq!(
            t.estimate_cost(&b("tier").build().unwrap())
                .unwrap()
                .usd_per_image,
            0.1
        );
        let t4k = Size::Tiered {
            aspect_ratio: AspectRatio::new(1, 1).unwrap(),
            resolution: Resolution::FourK,
        };
        assert!(
            t.estimate_cost(&b("tier").size(t4k).build().unwrap())
                .is_err()
        );
    }
}
