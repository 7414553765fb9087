//! `venice-image openai`: the OpenAI-compatible `/images/generations`, every field of
//! its request, with the conventions of the other commands (`--dry-run` with the
//! estimated cost, `--max-cost`, a JSON sidecar, `--json`, `--force`, `--open`).
//!
//! The provider needs a model there (400 "model is required" without one): without
//! `--model` the request names the catalogue's model with the `default` trait, which is
//! the model the provider falls back to, and `--dry-run` shows it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

use venice_image::{Error, Format, OpenAiGenerateRequest, ValidationError};

use crate::args::OpenAiArgs;
use crate::cost;
use crate::exit::CliError;
use crate::output::{self, ImageCost, Target};
use crate::session::Session;
use crate::ui::{endpoint, pretty, spinner, warn_about};
use crate::{overwrite, preview};

fn parse<T: FromStr<Err = ValidationError>>(value: Option<&str>) -> Result<Option<T>, CliError> {
    value
        .map(|v| v.parse::<T>().map_err(|e| CliError::Client(Error::from(e))))
        .transpose()
}

/// A number the request's type cannot hold, reported like the library's checks.
fn out_of_range(field: &'static str, rule: &str, got: i64) -> CliError {
    CliError::Client(Error::Validation(ValidationError::new(
        field,
        format!("{rule}, got {got}"),
    )))
}

/// The spec's range of `output_compression`, as the library words it.
fn compression_rule() -> String {
    use venice_image::raw::bounds;
    format!(
        "must be in {}..={}",
        bounds::SIMPLE_GENERATE_IMAGE_REQUEST_OUTPUT_COMPRESSION_MIN,
        bounds::SIMPLE_GENERATE_IMAGE_REQUEST_OUTPUT_COMPRESSION_MAX
    )
}

/// The model of the request: `--model`, else the catalogue's default image model.
async fn model(session: &Session, a: &OpenAiArgs) -> Result<String, CliError> {
    if let Some(m) = &a.model {
        return Ok(m.clone());
    }
    let models = session.client.image_models().await.map_err(|e| {
        CliError::Usage(format!(
            "no --model given and the catalogue's default image model could not be read \
             ({e}); pass --model"
        ))
    })?;
    models
        .iter()
        .find(|m| m.model_spec.traits.iter().any(|t| t == "default"))
        .map(|m| m.id().to_owned())
        .ok_or_else(|| {
            CliError::Usage(
                "no --model given and the catalogue names no default image model; pass --model"
                    .into(),
            )
        })
}

/// The validated request the flags describe, for `model`.
pub fn request(a: &OpenAiArgs, model: String) -> Result<OpenAiGenerateRequest, CliError> {
    let mut b = OpenAiGenerateRequest::builder(model, a.prompt.clone());
    if let Some(v) = a.size {
        b = b.size(v);
    }
    if let Some(v) = parse::<Format>(a.output_format.as_deref())? {
        b = b.output_format(v);
    }
    if let Some(v) = a.response_format {
        b = b.response_format(v);
    }
    if let Some(v) = a.moderation {
        b = b.moderation(v);
    }
    if let Some(n) = a.n {
        let n = u8::try_from(n).map_err(|_| out_of_range("n", "must be 1", n))?;
        b = b.n(n);
    }
    if let Some(v) = a.quality {
        b = b.quality(v);
    }
    if let Some(v) = a.style {
        b = b.style(v);
    }
    if let Some(v) = a.background {
        b = b.background(v);
    }
    if let Some(c) = a.output_compression {
        let c = u8::try_from(c)
            .map_err(|_| out_of_range("output_compression", &compression_rule(), c))?;
        b = b.output_compression(c);
    }
    if let Some(u) = &a.user {
        b = b.user(u.clone());
    }
    Ok(b.build().map_err(Error::from)?)
}

/// Run `openai`.
pub async fn run(session: &Session, args: OpenAiArgs) -> Result<ExitCode, CliError> {
    let model = model(session, &args).await?;
    let request = request(&args, model)?;
    let out = &args.output;
    let client = &session.client;
    let estimate = if out.dry_run || out.run.max_cost.is_some() {
        Some(cost::estimate_openai(client, &request).await?)
    } else {
        None
    };
    if out.dry_run {
        let v = serde_json::json!({
            "dry_run": true,
            "offline": session.offline,
            "operation": "openai",
            "endpoint": endpoint(client, "simple_generate_image"),
            "request": request.to_json(),
            "estimated_cost_usd": estimate.as_ref().map(|e| e.usd),
            "priced_as": estimate.as_ref().map(|e| e.priced_as.as_str()),
        });
        println!("{}", pretty(&v));
        return cost::check_cap(estimate.as_ref(), out.run.max_cost).map(|()| ExitCode::SUCCESS);
    }
    cost::check_cap(estimate.as_ref(), out.run.max_cost)?;
    let target = Target::from_out(&out.out);
    let ext = request.output_format().unwrap_or(Format::Png).extension();
    overwrite::check_free(&target, 1, ext, out.run.force)?;
    target.prepare()?;
    let stem = target.unique_stem(&output::slug(request.prompt(), 40));
    let started = Instant::now();
    let bar = spinner(&format!(
        "openai via {}",
        endpoint(client, "simple_generate_image")
    ));
    // Priced while the request runs when nobody asked before (for the sidecar).
    let timed = async {
        let result = client.openai_generate(&request).await;
        (result, started.elapsed())
    };
    let ((result, elapsed), estimate) = match estimate {
        Some(e) => (timed.await, Some(e)),
        None => {
            let (timed, priced) = tokio::join!(timed, cost::estimate_openai(client, &request));
            (timed, priced.ok())
        }
    };
    bar.finish_and_clear();
    let generation = result?;
    let meta = generation.meta();
    let count = generation.images().len();
    let mut saved: Vec<PathBuf> = Vec::with_capacity(count);
    let mut described = Vec::with_capacity(count);
    for image in generation.images() {
        let path = target.image_path(&stem, image.index(), count, image.format().extension());
        let if_exists = overwrite::make_room(&path, out.run.force)?;
        let path = image.save_with(&path, if_exists).await?;
        let sidecar = serde_json::json!({
            "image": path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "operation": "openai",
            "model": request.model(),
            "prompt": request.prompt(),
            "request": request.to_json(),
            "format": image.format().as_str(),
            "width": image.width(),
            "height": image.height(),
            "request_id": meta.request_id(),
            "elapsed_ms": elapsed.as_millis(),
            "blurred": meta.is_blurred(),
            "content_violation": meta.is_content_violation(),
            "cost": estimate.as_ref().map(|e| ImageCost::estimated(e.usd, count, e.priced_as.clone())),
            "created_unix": output::now_unix(),
        });
        let sidecar_path = output::sidecar_path(&path);
        output::write_json_atomic(&sidecar_path, &sidecar)?;
        described.push(serde_json::json!({
            "path": path, "sidecar": sidecar_path, "width": image.width(),
            "height": image.height(), "format": image.format().as_str(),
        }));
        saved.push(path);
    }
    warn_about(meta);
    if out.json {
        let v = serde_json::json!({
            "operation": "openai",
            "images": described,
            "request_id": meta.request_id(),
            "blurred": meta.is_blurred(),
            "content_violation": meta.is_content_violation(),
            "elapsed_ms": elapsed.as_millis(),
            "offline": session.offline,
        });
        println!("{}", pretty(&v));
    } else {
        for p in &saved {
            println!("{}", p.display());
        }
    }
    if out.run.open {
        preview::open(&saved);
    }
    Ok(ExitCode::SUCCESS)
}
