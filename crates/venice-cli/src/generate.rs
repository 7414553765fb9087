//! `venice-image generate`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use venice_image::models::Cost;
use venice_image::{Format, GenerateRequest, Generation, Image, Response, ResponseMeta};

use crate::args::GenerateArgs;
use crate::cost::{self, Estimate};
use crate::exit::CliError;
use crate::job::JobSpec;
use crate::output::{self, ImageCost, Sidecar, Target};
use crate::session::Session;
use crate::ui::{pretty, spinner, warn_about};
use crate::{overwrite, preview};

/// One image written to disk.
#[derive(Debug, Clone, Serialize)]
pub struct SavedImage {
    /// Image path.
    pub path: PathBuf,
    /// Sidecar path.
    pub sidecar: PathBuf,
    /// Pixel width, when known.
    pub width: Option<u32>,
    /// Pixel height, when known.
    pub height: Option<u32>,
    /// Format.
    pub format: String,
    /// Request ID (response header, else the JSON `id`).
    pub request_id: Option<String>,
}

/// Run `generate`.
pub async fn run(session: &Session, args: GenerateArgs) -> Result<ExitCode, CliError> {
    let spec = JobSpec::from_args(args.prompt.clone(), &args.job);
    let request = spec.to_request(args.binary)?;
    let client = &session.client;
    session.models.check(client, &request).await?;

    if let Some(style) = &spec.style {
        crate::style::check(client, style).await?;
    }
    if args.dry_run || args.run.max_cost.is_some() {
        client.validate_for_model(&request).await?;
    }
    if args.dry_run {
        let cost = client.estimate_cost(&request).await?;
        let out = serde_json::json!({
            "dry_run": true,
            "offline": session.offline,
            "endpoint": crate::ui::endpoint(client, "generate_image"),
            "request": abbreviated(request.to_json()),
            "estimated_cost_usd": cost.total_usd(),
            "estimate_complete": cost.is_complete(),
            "estimate_lines": cost.lines(),
            "images": cost.images(),
            "usd_per_image": cost.usd_per_image(),
        });
        println!("{}", pretty(&out));
        cost::check_cap(Some(&estimate_of(&cost, &spec)), args.run.max_cost)?;
        return Ok(ExitCode::SUCCESS);
    }

    // Priced before sending (from the cached catalogue): the cap checks it and the
    // sidecars record it; a request the catalogue cannot price records no cost.
    let estimate = match client.estimate_cost(&request).await {
        Ok(cost) => Some(cost),
        Err(e) if args.run.max_cost.is_some() => return Err(e.into()),
        Err(_) => None,
    };
    if let Some(cost) = &estimate {
        cost::check_cap(Some(&estimate_of(cost, &spec)), args.run.max_cost)?;
    }
    let estimate = estimate.map(|c| c.total_usd());
    let target = Target::from_out(&args.out);
    let ext = request.output_format().unwrap_or(Format::Webp).extension();
    let count = usize::from(request.variants().unwrap_or(1));
    overwrite::check_free(&target, count, ext, args.run.force)?;
    target.prepare()?;
    let base = match spec.seed {
        Some(seed) => format!("{}-{seed}", output::slug(&spec.prompt, 40)),
        None => output::slug(&spec.prompt, 40),
    };
    let stem = target.unique_stem(&base);
    let spinner = spinner(&format!("generating with {}", spec.model()));
    let started = std::time::Instant::now();
    let saved = if args.binary {
        let result = client.generate_binary(&request).await;
        spinner.finish_and_clear();
        let image = result?;
        let meta = image.meta().clone();
        let ext = image.format().extension();
        let path = target.image_path(&stem, 0, 1, ext);
        let if_exists = overwrite::make_room(&path, args.run.force)?;
        let path = image.save_with(&path, if_exists).await?;
        let (width, height) = dimensions_of(&path);
        let saved = write_sidecar(
            &spec,
            &request,
            &meta,
            None,
            SidecarImage {
                path,
                index: 0,
                width,
                height,
                format: ext,
                elapsed: started.elapsed(),
                server_total_ms: None,
                request_id: None,
                cost: estimate.map(|usd| image_cost(usd, 1, &request)),
            },
        )?;
        warn_about(&meta);
        (vec![saved], meta)
    } else {
        let result = client.generate(&request).await;
        spinner.finish_and_clear();
        let generation = result?;
        let saved = save_generation(
            &generation,
            &target,
            &stem,
            &spec,
            &request,
            None,
            args.run.force,
            estimate,
        )
        .await?;
        warn_about(generation.meta());
        (saved, generation.meta().clone())
    };
    let (images, meta) = saved;

    if args.json {
        let out = serde_json::json!({
            "model": spec.model(),
            "request_id": images.first().and_then(|i| i.request_id.clone()),
            "images": images,
            "blurred": meta.is_blurred(),
            "content_violation": meta.is_content_violation(),
            "elapsed_ms": started.elapsed().as_millis(),
            "offline": session.offline,
        });
        println!("{}", pretty(&out));
    } else {
        for img in &images {
            println!("{}", img.path.display());
        }
    }
    if args.run.open {
        let paths: Vec<PathBuf> = images.iter().map(|i| i.path.clone()).collect();
        preview::open(&paths);
    }
    if args.fail_on_blurred && meta.is_blurred() {
        return Err(CliError::Refused(
            "the server blurred the result (safe mode) and --fail-on-blurred is set".into(),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Save every image of a generation with its sidecar; `cost` is the request's
/// estimated USD (each sidecar records its image's share).
#[allow(clippy::too_many_arguments)]
pub async fn save_generation(
    generation: &Response<Generation>,
    target: &Target,
    stem: &str,
    spec: &JobSpec,
    request: &GenerateRequest,
    job: Option<&str>,
    force: bool,
    cost: Option<f64>,
) -> Result<Vec<SavedImage>, CliError> {
    let count = generation.images().len();
    let mut saved = Vec::with_capacity(count);
    for image in generation.images() {
        let ext = image.format().extension();
        let path = target.image_path(stem, image.index(), count, ext);
        let if_exists = overwrite::make_room(&path, force)?;
        let path = image.save_with(&path, if_exists).await?;
        saved.push(write_sidecar(
            spec,
            request,
            generation.meta(),
            job,
            SidecarImage {
                path,
                index: image.index(),
                width: Some(image.width()),
                height: Some(image.height()),
                format: ext,
                elapsed: generation.elapsed(),
                server_total_ms: generation.timing().map(|t| t.total_ms()),
                request_id: Some(generation.id().to_owned()),
                cost: cost.map(|usd| image_cost(usd, count, request)),
            },
        )?);
    }
    Ok(saved)
}

/// Facts about one saved image that go into its sidecar.
pub struct SidecarImage {
    path: PathBuf,
    index: usize,
    width: Option<u32>,
    height: Option<u32>,
    format: &'static str,
    elapsed: Duration,
    server_total_ms: Option<f64>,
    request_id: Option<String>,
    cost: Option<ImageCost>,
}

/// One image's share of a generation estimated at `total_usd` for `images` images.
fn image_cost(total_usd: f64, images: usize, request: &GenerateRequest) -> ImageCost {
    ImageCost::estimated(total_usd, images, format!("{} x{images}", request.model()))
}

fn write_sidecar(
    spec: &JobSpec,
    request: &GenerateRequest,
    meta: &ResponseMeta,
    job: Option<&str>,
    image: SidecarImage,
) -> Result<SavedImage, CliError> {
    let request_id = meta
        .request_id()
        .map(str::to_owned)
        .or_else(|| image.request_id.clone());
    let sidecar = Sidecar {
        image: image
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        job: job.map(str::to_string),
        model: request.model().to_string(),
        prompt: request.prompt().to_string(),
        negative_prompt: spec.negative.clone(),
        seed: request.seed(),
        sizing: request
            .size()
            .map_or_else(|| "default".to_string(), |s| s.to_string()),
        format: image.format.to_string(),
        variant: image.index,
        width: image.width,
        height: image.height,
        request_id,
        elapsed_ms: image.elapsed.as_millis(),
        server_total_ms: image.server_total_ms,
        blurred: meta.is_blurred(),
        content_violation: meta.is_content_violation(),
        enhanced_prompt: meta.enhanced_prompt().map(str::to_owned),
        cost: image.cost,
        created_unix: output::now_unix(),
    };
    let sidecar_path = output::sidecar_path(&image.path);
    output::write_json_atomic(&sidecar_path, &sidecar)?;
    Ok(SavedImage {
        path: image.path,
        sidecar: sidecar_path,
        width: image.width,
        height: image.height,
        format: image.format.to_string(),
        request_id: sidecar.request_id.clone(),
    })
}

/// The request as printed by `--dry-run`: a style reference's base64 is shown by its
/// length, not pasted (up to 8 MB each).
fn abbreviated(mut request: serde_json::Value) -> serde_json::Value {
    if let Some(refs) = request
        .get_mut("style_references")
        .and_then(|r| r.as_array_mut())
    {
        for r in refs {
            if let Some(image) = r.get_mut("image")
                && let Some(text) = image.as_str()
                && !text.starts_with("http://")
                && !text.starts_with("https://")
            {
                *image = serde_json::json!(format!("<base64, {} characters>", text.len()));
            }
        }
    }
    request
}

fn estimate_of(cost: &Cost, spec: &JobSpec) -> Estimate {
    Estimate::of_cost(cost, format!("{} x{}", spec.model(), cost.images()))
}

fn dimensions_of(path: &std::path::Path) -> (Option<u32>, Option<u32>) {
    let Ok(bytes) = std::fs::read(path) else {
        return (None, None);
    };
    match Image::from_bytes(bytes) {
        Ok(image) => (Some(image.width()), Some(image.height())),
        Err(_) => (None, None),
    }
}
