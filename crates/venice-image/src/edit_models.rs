//! The edit model catalogue (`GET /models?type=inpaint`): [`EditModel`] and the edit
//! rules the provider enforces per model, checked before anything is uploaded.
//!
//! The rules (the provider's `venice-image-edit` documentation): the model must be an
//! edit model (else 400 "Invalid model id"); the prompt is limited by the model's
//! `promptCharacterLimit`; a multi-edit takes at most `maxInputImages` images (3 when
//! the catalogue gives none, 1 when `combineImages` is false); `aspect_ratio` must be one
//! of the model's `aspectRatios`; `resolution` must be one of its `resolutions` (a model
//! without them refuses it on `/image/edit` and silently drops it on
//! `/image/multi-edit`, which this client refuses too, rather than send a setting that
//! does nothing); `quality` (multi-edit) must be one of its `qualities`.

use crate::error::ValidationError;
use crate::limits::DEFAULT_MAX_INPUT_IMAGES;
use crate::models::{CatalogueModel, Inpaint, bound, check_listed};

/// An edit model of the catalogue ([`Client::edit_models`](crate::Client::edit_models)).
pub type EditModel = CatalogueModel<Inpaint>;

/// Which edit operation a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EditOperation {
    /// `/image/edit`: one image, `model`; a resolution the model lacks is a 400.
    Edit,
    /// `/image/multi-edit`: several images, `modelId`, `quality`.
    MultiEdit,
}

/// What the edit rules look at in a request.
#[derive(Clone, Debug)]
pub(crate) struct EditFacts<'a> {
    pub operation: EditOperation,
    pub prompt: &'a str,
    pub images: usize,
    pub aspect_ratio: Option<String>,
    pub resolution: Option<&'a str>,
    pub quality: Option<&'a str>,
}

fn rule(field: &'static str, text: String) -> ValidationError {
    ValidationError::new(field, text)
}

impl EditModel {
    /// Most images a multi-edit with this model takes: 1 when `combineImages` is false,
    /// else `maxInputImages`, else [`DEFAULT_MAX_INPUT_IMAGES`] (3).
    pub fn input_image_limit(&self) -> u32 {
        let c = self.constraints();
        if c.combine_images == Some(false) {
            return 1;
        }
        c.max_input_images.map_or(DEFAULT_MAX_INPUT_IMAGES, |n| {
            u32::try_from(n.get()).unwrap_or(u32::MAX)
        })
    }

    /// Check an edit or multi-edit against this model's constraints.
    pub(crate) fn check(&self, req: &EditFacts<'_>) -> Result<(), ValidationError> {
        let c = self.constraints();
        let id = self.id();
        if let Some(limit) = bound(c.prompt_character_limit) {
            let n = req.prompt.chars().count();
            if n > limit {
                return Err(rule(
                    "prompt",
                    format!("model {id} accepts at most {limit} characters, got {n}"),
                ));
            }
        }
        let (images_field, max) = match req.operation {
            EditOperation::Edit => ("image", 1),
            EditOperation::MultiEdit => ("images", self.input_image_limit()),
        };
        if req.images > max as usize {
            let why = if c.combine_images == Some(false) {
                " (it does not combine images)"
            } else {
                ""
            };
            return Err(rule(
                images_field,
                format!(
                    "model {id} takes at most {max} input image{}{why}, got {}",
                    if max == 1 { "" } else { "s" },
                    req.images
                ),
            ));
        }
        // A model that lists no aspect ratios takes any.
        if let Some(ar) = &req.aspect_ratio
            && !c.aspect_ratios.is_empty()
        {
            check_listed(id, "aspect_ratio", &c.aspect_ratios, ar, "")?;
        }
        if let Some(res) = req.resolution {
            let none = match req.operation {
                EditOperation::Edit => "no resolution (the server refuses one)",
                EditOperation::MultiEdit => "no resolution (the server would ignore it)",
            };
            check_listed(id, "resolution", &c.resolutions, res, none)?;
        }
        if let Some(q) = req.quality {
            check_listed(id, "quality", &c.qualities, q, "no quality setting")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use venice_openapi::types;

    fn models() -> Vec<EditModel> {
        let list: types::ModelList =
            serde_json::from_value(json!({"object": "list", "type": "inpaint", "data": [
                {"id": "six", "type": "inpaint", "object": "model", "owned_by": "venice.ai",
                 "model_spec": {"privacy": "private", "supportsOptimizePromptThinking": true,
                    "constraints": {"promptCharacterLimit": 1500, "aspectRatios": ["auto", "1:1"],
                        "combineImages": true, "maxInputImages": 6,
                        "resolutions": ["1K", "2K"], "qualities": ["low", "high"]}}},
                {"id": "one", "type": "inpaint", "object": "model", "owned_by": "venice.ai",
                 "model_spec": {"privacy": "private",
                    "constraints": {"aspectRatios": ["1:1"], "combineImages": false}}},
                {"id": "three", "type": "inpaint", "object": "model", "owned_by": "venice.ai",
                 "model_spec": {"privacy": "private", "constraints": {"combineImages": true}}},
                {"id": "img", "type": "image", "object": "model", "owned_by": "venice.ai",
                 "model_spec": {"privacy": "private"}}
            ]}))
            .unwrap();
        EditModel::from_list(list)
    }

    fn find<'a>(
        m: &'a [EditModel],
        id: &str,
        field: &'static str,
    ) -> Result<&'a EditModel, ValidationError> {
        EditModel::find(m, id, field)
    }

    fn facts(operation: EditOperation, images: usize) -> EditFacts<'static> {
        EditFacts {
            operation,
            prompt: "p",
            images,
            aspect_ratio: None,
            resolution: None,
            quality: None,
        }
    }

    #[test]
    fn input_image_limits_follow_the_catalogue() {
        let m = models();
        assert_eq!(m.len(), 3);
        let limit = |id| find(&m, id, "modelId").unwrap().input_image_limit();
        assert_eq!((limit("six"), limit("one"), limit("three")), (6, 1, 3));
        let six = find(&m, "six", "modelId").unwrap();
        assert_eq!(six.model_spec.supports_optimize_prompt_thinking, Some(true));
        assert!(six.check(&facts(EditOperation::MultiEdit, 6)).is_ok());
        let e = six.check(&facts(EditOperation::MultiEdit, 7)).unwrap_err();
        assert_eq!(e.field, "images");
        let one = find(&m, "one", "modelId").unwrap();
        let e = one.check(&facts(EditOperation::MultiEdit, 2)).unwrap_err();
        assert!(e.rule.contains("does not combine"), "{e}");
        assert!(one.check(&facts(EditOperation::Edit, 1)).is_ok());
        assert_eq!(find(&m, "img", "model").unwrap_err().field, "model");
    }

    #[test]
    fn prompt_ratio_resolution_and_quality() {
        let m = models();
        let six = find(&m, "six", "modelId").unwrap();
        let long = "x".repeat(1501);
        let f = EditFacts {
            prompt: &long,
            ..facts(EditOperation::Edit, 1)
        };
        assert_eq!(six.check(&f).unwrap_err().field, "prompt");
        let f = EditFacts {
            aspect_ratio: Some("16:9".into()),
            ..facts(EditOperation::Edit, 1)
        };
        assert_eq!(six.check(&f).unwrap_err().field, "aspect_ratio");
        let f = EditFacts {
            resolution: Some("4K"),
            quality: Some("high"),
            ..facts(EditOperation::MultiEdit, 2)
        };
        assert_eq!(six.check(&f).unwrap_err().field, "resolution");
        let f = EditFacts {
            resolution: Some("2k"),
            quality: Some("medium"),
            ..facts(EditOperation::MultiEdit, 2)
        };
        assert_eq!(six.check(&f).unwrap_err().field, "quality");
        let one = find(&m, "one", "model").unwrap();
        let f = EditFacts {
            resolution: Some("1K"),
            ..facts(EditOperation::Edit, 1)
        };
        let e = one.check(&f).unwrap_err();
        assert!(e.rule.contains("refuses"), "{e}");
        let f = EditFacts {
            aspect_ratio: Some("auto".into()),
            ..facts(EditOperation::Edit, 1)
        };
        assert_eq!(one.check(&f).unwrap_err().field, "aspect_ratio");
    }
}
