//! `venice-image upscale | edit | multi-edit | remove-bg`: the image operations, with the
//! conventions of `generate` (atomic writes, a JSON sidecar per image, `--json`,
//! `--dry-run`, `--offline`, exit codes 0/2/3/4).

use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

use serde::Serialize;
use venice_image::{
    EditAspectRatio, EditRequest, Error, Format, Image, ImageInput, MultiEditRequest, Quality,
    RemoveBackgroundRequest, Resolution, Response, UpscaleRequest, ValidationError,
};

use crate::cost::{self, Priced};
use crate::inputs::image_input as input;

use crate::args::{EditArgs, EditOptions, MultiEditArgs, OutputArgs, RemoveBgArgs, UpscaleArgs};
use crate::exit::CliError;
use crate::output::{self, ImageCost, Target};
use crate::session::Session;
use crate::ui::{endpoint, pretty, spinner, warn_about};
use crate::{overwrite, preview};

/// What the sidecar and `--json` say about an input (never a URL's path or query).
fn describe(arg: &str, image: &ImageInput) -> serde_json::Value {
    let source = if image.is_url() {
        let host = arg
            .split("://")
            .nth(1)
            .and_then(|r| r.split(['/', '?', '#']).next());
        format!("url:{}", host.unwrap_or(""))
    } else if arg.trim_start().to_ascii_lowercase().starts_with("data:") {
        "base64".to_string()
    } else {
        arg.to_string()
    };
    serde_json::json!({
        "source": source,
        "bytes": image.byte_len(),
        "width": image.dimensions().map(|d| d.0),
        "height": image.dimensions().map(|d| d.1),
    })
}

fn parse<T: FromStr<Err = ValidationError>>(value: Option<&str>) -> Result<Option<T>, CliError> {
    value
        .map(|v| v.parse::<T>().map_err(|e| CliError::Client(Error::from(e))))
        .transpose()
}

/// The sidecar of an operation's image.
#[derive(Debug, Serialize)]
struct OpSidecar<'a> {
    image: String,
    operation: &'a str,
    model: Option<&'a str>,
    prompt: Option<&'a str>,
    inputs: &'a [serde_json::Value],
    options: &'a serde_json::Value,
    format: &'a str,
    content_type: Option<&'a str>,
    width: u32,
    height: u32,
    has_alpha: Option<bool>,
    request_id: Option<&'a str>,
    elapsed_ms: u128,
    blurred: bool,
    content_violation: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    enhanced_prompt: Option<&'a str>,
    cost: Option<ImageCost>,
    created_unix: u64,
}

/// A described request, ready to print (`--dry-run`) or to record in the sidecar.
struct Plan<'a> {
    operation: &'static str,
    /// The generated operation id; method and path come from the spec's table.
    operation_id: &'static str,
    model: Option<&'a str>,
    prompt: Option<&'a str>,
    inputs: Vec<serde_json::Value>,
    options: serde_json::Value,
    stem: String,
    /// How the catalogue prices it.
    priced: Priced<'a>,
    /// The format the answer should have (to refuse an existing `--out` before paying).
    expected: Format,
}

fn stem_of(arg: &str, suffix: &str) -> String {
    let base = Path::new(arg)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|_| !arg.contains("://") && !arg.starts_with("data:"))
        .unwrap_or_else(|| "image".to_string());
    format!("{}-{suffix}", output::slug(&base, 40))
}

async fn finish<F>(
    session: &Session,
    out: &OutputArgs,
    plan: Plan<'_>,
    call: F,
) -> Result<ExitCode, CliError>
where
    F: std::future::Future<Output = venice_image::Result<Response<Image>>>,
{
    // Priced only when someone asked: a dry run shows it, a cap checks it.
    let estimate = if out.dry_run || out.run.max_cost.is_some() {
        match cost::estimate(&session.client, plan.priced).await {
            Ok(e) => Some(e),
            Err(e) if out.dry_run && out.run.max_cost.is_none() => {
                eprintln!("warning: no cost estimate: {e}");
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    if out.dry_run {
        let v = serde_json::json!({
            "dry_run": true,
            "offline": session.offline,
            "operation": plan.operation,
            "endpoint": endpoint(&session.client, plan.operation_id),
            "model": plan.model,
            "prompt": plan.prompt,
            "inputs": plan.inputs,
            "options": plan.options,
            "estimated_cost_usd": estimate.as_ref().map(|e| e.usd),
            "priced_as": estimate.as_ref().map(|e| e.priced_as.as_str()),
            "estimate_lines": estimate.as_ref().map(|e| &e.lines),
        });
        println!("{}", pretty(&v));
        return cost::check_cap(estimate.as_ref(), out.run.max_cost).map(|()| ExitCode::SUCCESS);
    }
    cost::check_cap(estimate.as_ref(), out.run.max_cost)?;
    let target = Target::from_out(&out.out);
    overwrite::check_free(&target, 1, plan.expected.extension(), out.run.force)?;
    target.prepare()?;
    let stem = target.unique_stem(&plan.stem);
    let started = Instant::now();
    let bar = spinner(&format!(
        "{} via {}",
        plan.operation,
        endpoint(&session.client, plan.operation_id)
    ));
    // The sidecar records the estimate; when nobody asked for it before sending, the
    // catalogue is read while the request runs (no added wait; unpriced: no cost).
    let timed = async {
        let result = call.await;
        (result, started.elapsed())
    };
    let ((result, elapsed), estimate) = match estimate {
        Some(e) => (timed.await, Some(e)),
        None => {
            let (timed, priced) = tokio::join!(timed, cost::estimate(&session.client, plan.priced));
            (timed, priced.ok())
        }
    };
    bar.finish_and_clear();
    let image = result?;
    let format = image.format();
    let path = target.image_path(&stem, 0, 1, format.extension());
    let if_exists = overwrite::make_room(&path, out.run.force)?;
    let path = image.save_with(path, if_exists).await?;
    let meta = image.meta();
    let sidecar = OpSidecar {
        image: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        operation: plan.operation,
        model: plan.model.or(meta.model_id()),
        prompt: plan.prompt,
        inputs: &plan.inputs,
        options: &plan.options,
        format: format.as_str(),
        content_type: meta.content_type(),
        width: image.width(),
        height: image.height(),
        has_alpha: image.has_alpha(),
        request_id: meta.request_id(),
        elapsed_ms: elapsed.as_millis(),
        blurred: meta.is_blurred(),
        content_violation: meta.is_content_violation(),
        enhanced_prompt: meta.enhanced_prompt(),
        cost: estimate.map(|e| ImageCost::estimated(e.usd, 1, e.priced_as)),
        created_unix: output::now_unix(),
    };
    let sidecar_path = output::sidecar_path(&path);
    output::write_json_atomic(&sidecar_path, &sidecar)?;
    warn_about(meta);
    if out.json {
        let v = serde_json::json!({
            "operation": plan.operation,
            "path": path,
            "sidecar": sidecar_path,
            "width": image.width(),
            "height": image.height(),
            "format": format.as_str(),
            "has_alpha": image.has_alpha(),
            "request_id": meta.request_id(),
            "blurred": meta.is_blurred(),
            "content_violation": meta.is_content_violation(),
            "elapsed_ms": elapsed.as_millis(),
            "offline": session.offline,
        });
        println!("{}", pretty(&v));
    } else {
        println!("{}", path.display());
    }
    if out.run.open {
        preview::open(std::slice::from_ref(&path));
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `upscale`.
pub async fn upscale(session: &Session, args: UpscaleArgs) -> Result<ExitCode, CliError> {
    let image = input(&args.image)?;
    let described = describe(&args.image, &image);
    let mut builder = UpscaleRequest::builder(image).scale(args.scale);
    if let Some(c) = args.creativity {
        builder = builder.creativity(c);
    }
    let request = builder.build().map_err(Error::from)?;
    let plan = Plan {
        operation: "upscale",
        operation_id: "upscale_image",
        model: None,
        prompt: None,
        inputs: vec![described],
        options: serde_json::json!({
            "scale": request.scale(),
            "creativity": request.creativity(),
            "expected_width": request.expected_output().map(|d| d.0),
            "expected_height": request.expected_output().map(|d| d.1),
        }),
        stem: stem_of(&args.image, &format!("x{}", args.scale)),
        priced: Priced::Upscale {
            scale: args.scale,
            effective: request.effective_scale(),
        },
        expected: Format::Png,
    };
    finish(
        session,
        &args.output,
        plan,
        session.client.upscale(&request),
    )
    .await
}

struct EditChoices {
    aspect: Option<EditAspectRatio>,
    resolution: Option<Resolution>,
    format: Option<Format>,
    safe_mode: Option<bool>,
    json: serde_json::Value,
}

fn edit_choices(o: &EditOptions) -> Result<EditChoices, CliError> {
    let aspect = parse::<EditAspectRatio>(o.aspect.as_deref())?;
    let resolution = parse::<Resolution>(o.resolution.as_deref())?;
    let format = parse::<Format>(o.format.as_deref())?;
    let safe_mode = o.safe_mode.choice();
    let json = serde_json::json!({
        "aspect_ratio": aspect.map(|a| a.to_string()),
        "resolution": resolution.map(|r| r.as_str()),
        "output_format": format.map(|f| f.as_str()),
        "safe_mode": safe_mode,
        "enhance_prompt": o.enhance_prompt,
        "disable_prompt_optimization_thinking": o.disable_prompt_optimization_thinking,
    });
    Ok(EditChoices {
        aspect,
        resolution,
        format,
        safe_mode,
        json,
    })
}

/// The format an edit answers with: the one asked for, else the server's default (PNG at
/// 1K, JPEG at 2K and 4K).
fn expected_edit_format(asked: Option<Format>, resolution: Option<&str>) -> Format {
    asked.unwrap_or(match resolution.map(str::to_ascii_uppercase).as_deref() {
        Some("2K" | "4K") => Format::Jpeg,
        _ => Format::Png,
    })
}

macro_rules! apply_edit_choices {
    ($builder:ident, $c:expr, $o:expr) => {{
        let mut b = $builder;
        if let Some(m) = &$o.model {
            b = b.model(m.clone());
        }
        if let Some(v) = $c.aspect {
            b = b.aspect_ratio(v);
        }
        if let Some(v) = $c.resolution {
            b = b.resolution(v);
        }
        if let Some(v) = $c.format {
            b = b.output_format(v);
        }
        if let Some(v) = $c.safe_mode {
            b = b.safe_mode(v);
        }
        if $o.enhance_prompt {
            b = b.enhance_prompt(true);
        }
        if $o.disable_prompt_optimization_thinking {
            b = b.disable_prompt_optimization_thinking(true);
        }
        b
    }};
}

/// Run `edit`.
pub async fn edit(session: &Session, args: EditArgs) -> Result<ExitCode, CliError> {
    let image = input(&args.image)?;
    let described = describe(&args.image, &image);
    let choices = edit_choices(&args.options)?;
    let builder = EditRequest::builder(args.prompt.clone(), image);
    let request = apply_edit_choices!(builder, choices, args.options)
        .build()
        .map_err(Error::from)?;
    let plan = Plan {
        operation: "edit",
        operation_id: "edit_image",
        model: args.options.model.as_deref(),
        prompt: Some(&args.prompt),
        inputs: vec![described],
        options: choices.json,
        stem: stem_of(&args.image, "edit"),
        priced: Priced::Edit {
            model: args.options.model.as_deref(),
            resolution: args.options.resolution.as_deref(),
            quality: None,
            images: 1,
            enhance: args.options.enhance_prompt,
        },
        expected: expected_edit_format(choices.format, args.options.resolution.as_deref()),
    };
    finish(session, &args.output, plan, session.client.edit(&request)).await
}

/// Run `multi-edit`.
pub async fn multi_edit(session: &Session, args: MultiEditArgs) -> Result<ExitCode, CliError> {
    let mut images = Vec::with_capacity(args.images.len());
    let mut described = Vec::with_capacity(args.images.len());
    for arg in &args.images {
        let image = input(arg)?;
        described.push(describe(arg, &image));
        images.push(image);
    }
    let mut choices = edit_choices(&args.options)?;
    let quality = parse::<Quality>(args.quality.as_deref())?;
    choices.json["quality"] = serde_json::json!(quality.map(|q| q.as_str()));
    let mut images = images.into_iter();
    let Some(base) = images.next() else {
        return Err(CliError::Usage("multi-edit needs a base image".into()));
    };
    let mut builder = MultiEditRequest::builder(args.prompt.clone(), base).layers(images);
    if let Some(q) = quality {
        builder = builder.quality(q);
    }
    let request = apply_edit_choices!(builder, choices, args.options)
        .build()
        .map_err(Error::from)?;
    let plan = Plan {
        operation: "multi-edit",
        operation_id: "multi_edit_image",
        model: args.options.model.as_deref(),
        prompt: Some(&args.prompt),
        inputs: described,
        options: choices.json,
        stem: stem_of(&args.images[0], "multi-edit"),
        priced: Priced::Edit {
            model: args.options.model.as_deref(),
            resolution: args.options.resolution.as_deref(),
            quality: args.quality.as_deref(),
            images: args.images.len(),
            enhance: args.options.enhance_prompt,
        },
        expected: expected_edit_format(choices.format, args.options.resolution.as_deref()),
    };
    finish(
        session,
        &args.output,
        plan,
        session.client.multi_edit(&request),
    )
    .await
}

/// Run `remove-bg`.
pub async fn remove_bg(session: &Session, args: RemoveBgArgs) -> Result<ExitCode, CliError> {
    let image = input(&args.image)?;
    let described = describe(&args.image, &image);
    let request = RemoveBackgroundRequest::builder(image)
        .build()
        .map_err(Error::from)?;
    let plan = Plan {
        operation: "remove-bg",
        operation_id: "background_remove_image",
        model: None,
        prompt: None,
        inputs: vec![described],
        options: serde_json::json!({}),
        stem: stem_of(&args.image, "nobg"),
        priced: Priced::RemoveBackground,
        expected: Format::Png,
    };
    finish(
        session,
        &args.output,
        plan,
        session.client.remove_background(&request),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_descriptions_hide_urls() {
        assert_eq!(stem_of("/tmp/My Photo.png", "edit"), "my-photo-edit");
        assert_eq!(stem_of("https://x.test/a.png?sig=1", "nobg"), "image-nobg");
        let url = ImageInput::from_url("https://cdn.test/p/a.png?sig=secret").expect("url");
        let d = describe("https://cdn.test/p/a.png?sig=secret", &url);
        assert_eq!(d["source"], "url:cdn.test");
    }
}
