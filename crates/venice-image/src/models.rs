//! The model catalogue: [`ImageModel`] and [`EditModel`](crate::edit_models::EditModel)
//! are entries of the generated `types::Model` ([`CatalogueModel`]), with model-aware
//! validation and [`Cost`] estimates.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::LazyLock;

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

mod sealed {
    pub trait Sealed {}
}

/// The kind of a [`CatalogueModel`]: which `type` of catalogue entry it is.
pub trait ModelKind: sealed::Sealed {
    /// The catalogue's `type` of these models.
    const TYPE: &'static str;
    /// What the models are called in messages, and where a user lists them.
    const NAME: &'static str;
    /// Where a user lists them.
    const LISTED_BY: &'static str;
}

/// Image models (`GET /models?type=image`): [`ImageModel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Image {}

/// Edit models (`GET /models?type=inpaint`): [`EditModel`](crate::edit_models::EditModel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inpaint {}

impl sealed::Sealed for Image {}
impl sealed::Sealed for Inpaint {}

impl ModelKind for Image {
    const TYPE: &'static str = "image";
    const NAME: &'static str = "image";
    const LISTED_BY: &'static str = "Client::image_models";
}

impl ModelKind for Inpaint {
    const TYPE: &'static str = "inpaint";
    const NAME: &'static str = "edit";
    const LISTED_BY: &'static str = "Client::edit_models, GET /models?type=inpaint";
}

/// A model of the catalogue: the generated entry as the server sent it
/// (`venice_openapi::types::Model`, its fields reachable through `Deref`:
/// `model.model_spec.traits`, …), of one [`ModelKind`]. Serialises as the catalogue
/// entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct CatalogueModel<K> {
    model: types::Model,
    #[serde(skip)]
    kind: PhantomData<K>,
}

/// An image model of the catalogue ([`Client::image_models`](crate::Client::image_models)).
pub type ImageModel = CatalogueModel<Image>;

static NO_CONSTRAINTS: LazyLock<types::ImageModelConstraints> = LazyLock::new(Default::default);
static NO_PRICING: LazyLock<types::ModelPricing> = LazyLock::new(Default::default);

impl<K> Deref for CatalogueModel<K> {
    type Target = types::Model;

    fn deref(&self) -> &types::Model {
        &self.model
    }
}

impl<K: ModelKind> CatalogueModel<K> {
    /// The models of this kind in a `GET /models` answer (entries of other types are
    /// skipped).
    pub(crate) fn from_list(list: types::ModelList) -> Vec<Self> {
        list.data
            .into_iter()
            .filter(|m| !m.id.is_empty() && m.type_ == K::TYPE)
            .map(|model| Self {
                model,
                kind: PhantomData,
            })
            .collect()
    }

    /// The model `id` of `models`, or the validation error of `field` the provider's
    /// 400 "Invalid model id" would be.
    pub(crate) fn find<'a>(
        models: &'a [Self],
        id: &str,
        field: &'static str,
    ) -> std::result::Result<&'a Self, ValidationError> {
        models.iter().find(|m| m.id == id).ok_or_else(|| {
            ValidationError::new(
                field,
                format!("unknown {} model {id:?} (see {})", K::NAME, K::LISTED_BY),
            )
        })
    }

    /// The generated catalogue entry.
    pub fn into_inner(self) -> types::Model {
        self.model
    }

    /// Model ID (the `model` of a request).
    pub fn id(&self) -> &str {
        &self.model.id
    }

    /// Display name (the ID when the catalogue has none).
    pub fn name(&self) -> &str {
        self.model_spec.name.as_deref().unwrap_or(&self.model.id)
    }

    /// Request constraints (all unset when the catalogue gives none).
    pub fn constraints(&self) -> &types::ImageModelConstraints {
        self.model_spec
            .constraints
            .as_ref()
            .unwrap_or(&NO_CONSTRAINTS)
    }

    /// Prices (all unset when the catalogue gives none).
    pub fn pricing(&self) -> &types::ModelPricing {
        self.model_spec.pricing.as_ref().unwrap_or(&NO_PRICING)
    }

    /// Retirement schedule, if any.
    pub fn deprecation(&self) -> Option<&types::ModelDeprecation> {
        self.model_spec.deprecation.as_ref()
    }

    /// Whether the model is offline now.
    pub fn is_offline(&self) -> bool {
        self.model_spec.offline == Some(true)
    }
}

/// A catalogue number as a bound we can compare with (a negative one bounds nothing).
pub(crate) fn bound(v: Option<i64>) -> Option<usize> {
    v.and_then(|v| usize::try_from(v).ok())
}

/// Whether `value` is in `list`, ignoring ASCII case.
fn listed(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(value))
}

/// That `value` of `field` is one the model `id` lists in `accepted` (ignoring case),
/// else the error naming them (`none` when it lists none).
pub(crate) fn check_listed(
    id: &str,
    field: &'static str,
    accepted: &[String],
    value: &str,
    none: &str,
) -> std::result::Result<(), ValidationError> {
    if listed(accepted, value) {
        return Ok(());
    }
    let accepted = if accepted.is_empty() {
        none.to_owned()
    } else {
        accepted.join(", ")
    };
    Err(ValidationError::new(
        field,
        format!("model {id} accepts {accepted}, got {value}"),
    ))
}

/// Parse a `GET /models?type=image` body (as the generated type) into image models.
#[cfg(test)]
pub(crate) fn parse_catalogue(body: &[u8]) -> Result<Vec<ImageModel>> {
    let list: types::ModelList =
        serde_json::from_slice(body).map_err(|e| Error::decode("model list", e))?;
    Ok(ImageModel::from_list(list))
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

fn fail(field: &'static str, rule: String) -> Result<()> {
    Err(Error::Validation(ValidationError::new(field, rule)))
}

impl ImageModel {
    /// How the model is sized: by aspect ratio when it lists `aspectRatios` (with a
    /// tier when it lists resolutions too), else by pixels.
    pub fn sizing(&self) -> SizingMode {
        let c = self.constraints();
        match (c.aspect_ratios.is_empty(), c.resolutions.is_empty()) {
            (false, true) => SizingMode::AspectRatio,
            (false, false) => SizingMode::AspectRatioAndResolution,
            (true, _) => SizingMode::Pixels {
                divisor: c
                    .width_height_divisor
                    .and_then(|d| u32::try_from(d).ok())
                    .filter(|d| *d > 0)
                    .unwrap_or(1),
            },
        }
    }

    /// Check `req` against this model's constraints.
    pub fn validate(&self, req: &GenerateRequest) -> Result<()> {
        let c = self.constraints();
        let id = self.id();
        match (req.size(), self.sizing()) {
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
                // Sized by aspect ratio: the model lists them (and its tiers).
                check_listed(id, "aspect_ratio", &c.aspect_ratios, &ar.to_string(), "")?;
                if let Some(Size::Tiered { resolution, .. }) = req.size() {
                    check_listed(id, "resolution", &c.resolutions, resolution.as_str(), "")?;
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
        if let Some(limit) = bound(c.prompt_character_limit) {
            for (field, text) in [
                ("prompt", Some(req.prompt())),
                ("negative_prompt", req.negative_prompt()),
            ] {
                let n = text.map_or(0, |t| t.chars().count());
                if n > limit {
                    return fail(
                        field,
                        format!("model {id} accepts at most {limit} characters, got {n}"),
                    );
                }
            }
        }
        if let Some(q) = req.quality() {
            check_listed(
                id,
                "quality",
                &c.qualities,
                q.as_str(),
                "no quality setting",
            )?;
        }
        let refs = req.style_reference_count();
        if refs > 0 {
            let max = match bound(c.max_style_references) {
                Some(max) => max,
                None if self.model_spec.supports_style_references == Some(true) => usize::MAX,
                None => 0,
            };
            if refs > max {
                return fail(
                    "style_references",
                    format!("model {id} accepts at most {max} style references, got {refs}"),
                );
            }
        }
        if let (Some(steps), Some(max)) = (req.steps(), c.steps.as_ref().map(|s| s.max))
            && max > 0
            && i64::from(steps) > max
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
        let c = self.constraints();
        let p = self.pricing();
        let tier = match req.size() {
            Some(Size::Tiered { resolution, .. }) => resolution.as_str().to_owned(),
            _ => c
                .default_resolution
                .clone()
                .unwrap_or_else(|| "1K".to_owned()),
        };
        fn lookup<'a, V>(m: &'a std::collections::HashMap<String, V>, k: &str) -> Option<&'a V> {
            m.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        }
        let quality = (!p.quality.is_empty()).then(|| {
            req.quality()
                .map(|q| q.as_str().to_owned())
                .or_else(|| c.default_quality.clone())
                .unwrap_or_else(|| "medium".to_owned())
        });
        let price = if let Some(q) = &quality {
            lookup(&p.quality, &tier).and_then(|qs| match q.to_ascii_lowercase().as_str() {
                "low" => qs.low.as_ref(),
                "medium" => qs.medium.as_ref(),
                "high" => qs.high.as_ref(),
                _ => None,
            })
        } else if !p.resolutions.is_empty() {
            lookup(&p.resolutions, &tier)
        } else {
            p.generation.as_ref()
        };
        let usd = price.map(|p| p.usd).ok_or_else(|| {
            Error::Validation(ValidationError::new(
                "model",
                format!(
                    "the catalogue has no price for model {} at this size/quality",
                    self.id()
                ),
            ))
        })?;
        let images = req.image_count();
        let mut lines = vec![CostLine::known(
            match &quality {
                Some(q) => format!("{} {tier} {q} x{images}", self.id()),
                None => format!("{} {tier} x{images}", self.id()),
            },
            usd * f64::from(images),
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
            usd_per_image: usd,
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

    fn find_model<'a>(m: &'a [ImageModel], id: &str) -> Result<&'a ImageModel> {
        Ok(ImageModel::find(m, id, "model")?)
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
        assert_eq!(m[0].sizing(), SizingMode::Pixels { divisor: 16 });
        assert_eq!(m[0].name(), "Pixel");
        assert_eq!(m[0].constraints().steps.as_ref().map(|s| s.max), Some(30));
        assert_eq!(m[1].sizing(), SizingMode::AspectRatio);
        assert!(m[1].deprecation().unwrap().auto_remap);
        assert_eq!(m[2].sizing(), SizingMode::AspectRatioAndResolution);
        assert_eq!(m[2].name(), "tier");
        assert!(!m[2].is_offline());
        assert_eq!(m[2].model_spec.region_restrictions, ["XX"]);
        assert!(m[0].model_spec.region_restrictions.is_empty());
        assert!(parse_catalogue(b"\"x\"").is_err());
    }

    #[test]
    fn catalogue_and_cost_serialise() {
        let m = models();
        // A model serialises as the catalogue entry it was read from.
        let v = serde_json::to_value(&m[0]).unwrap();
        assert_eq!(v, catalogue_json()["data"][0]);
        let v = serde_json::to_value(m[2].sizing()).unwrap();
        assert_eq!(v, json!({"mode": "aspect_ratio_and_resolution"}));
        let cost = find_model(&m, "px")
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
        let ar = find_model(&m, "ar").unwrap();
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
        let px = find_model(&m, "px").unwrap();
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

        let ar = find_model(&m, "ar").unwrap();
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

        let t = find_model(&m, "tier").unwrap();
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

        assert_eq!(
            ImageModel::find(&m, "nope", "model").unwrap_err().field,
            "model"
        );
    }

    #[test]
    fn costs() {
        let m = models();
        let b = |model: &str| GenerateRequest::builder(model, "p");
        let c = find_model(&m, "px")
            .unwrap()
            .estimate_cost(&b("px").variants(3).build().unwrap())
            .unwrap();
        assert_eq!(c.images, 3);
        assert!((c.total_usd - 0.03).abs() < 1e-9);
        let ar = find_model(&m, "ar").unwrap();
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
        let t = find_model(&m, "tier").unwrap();
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
