//! One generation job: its fields (from flags or a JSONL line) and the request it makes.

use serde::{Deserialize, Serialize};
use venice_image::limits::MAX_LORA_STRENGTH;
use venice_image::{
    AspectRatio, Format, GenerateRequest, Quality, Resolution, Size, ValidationError,
};

use crate::args::JobArgs;
use crate::exit::CliError;

/// The fields of one job, as written in a batch file (and derived from `generate` flags).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Optional stable job ID (batch only); defaults to the line number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What to draw.
    pub prompt: String,
    /// Model ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Pixel size `WxH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Aspect ratio `W:H`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect: Option<String>,
    /// Resolution tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// Quality tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    /// Output format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Number of images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<u8>,
    /// Seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Negative prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative: Option<String>,
    /// Style preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// CFG scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cfg_scale: Option<f64>,
    /// Safe mode on/off (server default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_mode: Option<bool>,
    /// Hide the watermark.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hide_watermark: bool,
    /// Embed EXIF metadata.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exif: bool,
    /// Enhance the prompt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enhance_prompt: bool,
    /// Web search.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub web_search: bool,
    /// Inference steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<i64>,
    /// LoRA strength (0-100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora_strength: Option<i64>,
    /// Skip the prompt-optimisation thinking step.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_prompt_optimization_thinking: bool,
    /// Style references, each `PATH_OR_URL[::STRENGTH]` as for `--style-reference`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub style_references: Vec<String>,
}

/// The model used when none is given.
pub const DEFAULT_MODEL: &str = "venice-sd35";

impl JobSpec {
    /// The job described by `generate` flags.
    pub fn from_args(prompt: String, a: &JobArgs) -> JobSpec {
        JobSpec {
            id: None,
            prompt,
            model: Some(a.model.clone()),
            size: a.size.clone(),
            aspect: a.aspect.clone(),
            resolution: a.resolution.clone(),
            quality: a.quality.clone(),
            format: a.format.clone(),
            variants: a.variants,
            seed: a.seed,
            negative: a.negative.clone(),
            style: a.style.clone(),
            cfg_scale: a.cfg_scale,
            safe_mode: a.safe_mode.choice(),
            hide_watermark: a.hide_watermark,
            exif: a.exif,
            enhance_prompt: a.enhance_prompt,
            web_search: a.web_search,
            steps: a.more.steps,
            lora_strength: a.more.lora_strength,
            disable_prompt_optimization_thinking: a.more.disable_prompt_optimization_thinking,
            style_references: a.more.style_references.clone(),
        }
    }

    /// Take the relative file paths of the style references from `dir` (the jobs file's
    /// directory; `generate` flags stay relative to the current directory).
    pub fn resolve_paths_from(&mut self, dir: &std::path::Path) {
        for r in &mut self.style_references {
            *r = crate::inputs::style_reference_from(r, dir);
        }
    }

    /// The model this job uses.
    pub fn model(&self) -> &str {
        self.model.as_deref().unwrap_or(DEFAULT_MODEL)
    }

    /// The sizing this job asks for, if any.
    pub fn sizing(&self) -> Result<Option<Size>, CliError> {
        match (&self.size, &self.aspect, &self.resolution) {
            (Some(_), Some(_), _) => Err(usage("give either a size or an aspect ratio, not both")),
            (None, None, Some(_)) => Err(usage("a resolution needs an aspect ratio")),
            (Some(size), None, _) => {
                let (w, h) = size
                    .split_once(['x', 'X'])
                    .ok_or_else(|| usage(format!("size `{size}` is not WIDTHxHEIGHT")))?;
                let parse = |s: &str| {
                    s.trim()
                        .parse::<u32>()
                        .map_err(|_| usage(format!("size `{size}` is not WIDTHxHEIGHT")))
                };
                Ok(Some(Size::Pixels {
                    width: parse(w)?,
                    height: parse(h)?,
                }))
            }
            (None, Some(aspect), res) => {
                let aspect_ratio: AspectRatio = aspect
                    .parse()
                    .map_err(|e| usage(format!("aspect ratio `{aspect}`: {e}")))?;
                match res {
                    None => Ok(Some(Size::AspectRatio(aspect_ratio))),
                    Some(r) => {
                        let resolution: Resolution = r
                            .parse()
                            .map_err(|e| usage(format!("resolution `{r}`: {e}")))?;
                        Ok(Some(Size::Tiered {
                            aspect_ratio,
                            resolution,
                        }))
                    }
                }
            }
            (None, None, None) => Ok(None),
        }
    }

    /// Build the validated request for this job.
    pub fn to_request(&self, binary: bool) -> Result<GenerateRequest, CliError> {
        let mut b = GenerateRequest::builder(self.model(), self.prompt.clone());
        if let Some(size) = self.sizing()? {
            b = b.size(size);
        }
        if let Some(q) = &self.quality {
            let q: Quality = q
                .parse()
                .map_err(|e| usage(format!("quality `{q}`: {e}")))?;
            b = b.quality(q);
        }
        if let Some(f) = &self.format {
            let f: Format = f.parse().map_err(|e| usage(format!("format `{f}`: {e}")))?;
            b = b.output_format(f);
        }
        if let Some(v) = self.variants {
            b = b.variants(v);
        }
        if let Some(s) = self.seed {
            b = b.seed(s);
        }
        if let Some(n) = &self.negative {
            b = b.negative_prompt(n.clone());
        }
        if let Some(s) = &self.style {
            b = b.style_preset(s.clone());
        }
        if let Some(c) = self.cfg_scale {
            b = b.cfg_scale(c);
        }
        if let Some(s) = self.safe_mode {
            b = b.safe_mode(s);
        }
        if self.hide_watermark {
            b = b.hide_watermark(true);
        }
        if self.exif {
            b = b.embed_exif_metadata(true);
        }
        if self.enhance_prompt {
            b = b.enhance_prompt(true);
        }
        if self.web_search {
            b = b.enable_web_search(true);
        }
        if let Some(steps) = self.steps {
            let steps = u32::try_from(steps)
                .map_err(|_| invalid("steps", format!("must be at least 0, got {steps}")))?;
            b = b.steps(steps);
        }
        if let Some(l) = self.lora_strength {
            let l = u8::try_from(l)
                .ok()
                .filter(|v| *v <= MAX_LORA_STRENGTH)
                .ok_or_else(|| {
                    invalid(
                        "lora_strength",
                        format!("must be in 0..={MAX_LORA_STRENGTH}, got {l}"),
                    )
                })?;
            b = b.lora_strength(l);
        }
        if self.disable_prompt_optimization_thinking {
            b = b.disable_prompt_optimization_thinking(true);
        }
        for r in &self.style_references {
            b = b.style_reference(crate::inputs::style_reference(r)?);
        }
        if binary {
            b = b.return_binary(true);
        }
        b.build()
            .map_err(|e| CliError::Client(venice_image::Error::Validation(e)))
    }
}

fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}

/// A value the library's types cannot hold, reported like the library's own checks.
fn invalid(field: &'static str, rule: String) -> CliError {
    CliError::Client(venice_image::Error::Validation(ValidationError::new(
        field, rule,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(json: &str) -> JobSpec {
        serde_json::from_str(json).expect("job parses")
    }

    #[test]
    fn size_and_aspect_are_exclusive() {
        let j = job(r#"{"prompt":"p","size":"512x512","aspect":"1:1"}"#);
        assert!(matches!(j.sizing(), Err(CliError::Usage(_))));
    }

    #[test]
    fn sizes_parse_into_the_three_modes() {
        let px = job(r#"{"prompt":"p","size":"1024x768"}"#)
            .sizing()
            .expect("ok");
        assert!(matches!(
            px,
            Some(Size::Pixels {
                width: 1024,
                height: 768
            })
        ));
        let ar = job(r#"{"prompt":"p","aspect":"16:9"}"#)
            .sizing()
            .expect("ok");
        assert!(matches!(ar, Some(Size::AspectRatio(_))));
        let t = job(r#"{"prompt":"p","aspect":"16:9","resolution":"2K"}"#)
            .sizing()
            .expect("ok");
        assert!(matches!(t, Some(Size::Tiered { .. })));
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_value() {
        let e = job(r#"{"prompt":"p","size":"big"}"#)
            .sizing()
            .expect_err("bad");
        assert!(e.to_string().contains("`big`"));
        let e = job(r#"{"prompt":"p","resolution":"2K"}"#)
            .sizing()
            .expect_err("bad");
        assert!(e.to_string().contains("aspect ratio"));
    }

    #[test]
    fn unknown_fields_in_a_job_line_are_rejected() {
        assert!(serde_json::from_str::<JobSpec>(r#"{"prompt":"p","colour":"red"}"#).is_err());
    }

    #[test]
    fn variants_over_four_fail_validation_with_exit_code_2() {
        let e = job(r#"{"prompt":"p","variants":5}"#)
            .to_request(false)
            .expect_err("invalid");
        assert_eq!(e.exit_code(), crate::exit::USAGE);
    }
}
