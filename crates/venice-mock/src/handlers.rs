//! One handler per operation. Bodies arrive already validated against the spec's
//! request schema; handlers add the catalogue rules and produce replies.

use std::time::{Instant, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::catalog::{self, CatalogModel, ModelKind, SizingMode};
use crate::faults::TopUpFault;
use crate::images::{self, ImageKey, InputImageError, OutputFormat};
use crate::response::{ApiError, Reply};
use crate::shapes;
use crate::spec::{OperationMatch, query_pairs};
use crate::state::{AppState, Part, Receipt, rfc3339, unix_secs, wallet_key};
use crate::svm;
use crate::x402::{MIN_TOP_UP_USD, SUGGESTED_TOP_UP_USD};

/// Style names of `GET /image/styles`.
pub const STYLES: &[&str] = &[
    "3D Model",
    "Analog Film",
    "Anime",
    "Cinematic",
    "Comic Book",
    "Craft Clay",
    "Digital Art",
    "Enhance",
    "Fantasy Art",
    "Isometric Style",
    "Line Art",
    "Lowpoly",
    "Neon Punk",
    "Origami",
    "Photographic",
    "Pixel Art",
];

/// Everything a handler needs.
pub(crate) struct Ctx<'a> {
    pub state: &'a AppState,
    pub principal: Option<Principal>,
    pub body: Value,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The operation and its path parameters.
    pub operation: &'a OperationMatch<'static>,
}

fn s<'v>(body: &'v Value, key: &str) -> Option<&'v str> {
    body.get(key).and_then(Value::as_str)
}

fn b(body: &Value, key: &str) -> Option<bool> {
    body.get(key).and_then(Value::as_bool)
}

fn not_found(model: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        &format!("Model {model} not found"),
        Some("MODEL_NOT_FOUND"),
    )
}

/// An edit or multi-edit naming a model that is not an edit model: the provider's 400.
fn invalid_edit_model(model: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        &format!("Invalid model id: {model}"),
        Some("INVALID_MODEL"),
    )
}

/// The provider's content-policy refusal of an edit (422, no `code`).
fn content_policy() -> ApiError {
    ApiError::with_body(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({ "error": "Your prompt violates the content policy of Venice.ai or the model provider" }),
    )
}

/// Whether `host` is one the provider refuses to fetch (private, internal, metadata).
fn blocked_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return match ip {
            std::net::IpAddr::V4(v4) => {
                v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified()
            }
            std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.is_unspecified(),
        };
    }
    let host = host.to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host.ends_with(".internal")
}

/// The answer to an http(s) input of an edit or multi-edit: the provider fetches it; the
/// mock never goes to the network, so every URL is one it could not fetch (404, as the
/// provider answers an unreachable input), except hosts the provider blocks (400).
fn unfetchable_input(url: &str, field: &str) -> ApiError {
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .map(|authority| {
            authority
                .rsplit_once('@')
                .map_or(authority, |(_, h)| h)
                .rsplit_once(':')
                .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
                .map_or(authority, |(h, _)| h)
        })
        .unwrap_or_default();
    if blocked_host(host) {
        return ApiError::field(
            field,
            format!(
                "The image URL host {host} is not allowed (private, internal or metadata host)"
            ),
        );
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "Could not fetch the input image: the URL was not found or is not reachable \
         (venice-mock does not download URLs; send the image itself)",
        None,
    )
}

fn is_url(value: &str) -> bool {
    value.starts_with("http://") || value.starts_with("https://")
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("Inference processing failed: {e}"),
        Some("INFERENCE_FAILED"),
    )
}

/// Deterministic triggers: the word `nsfw` → blurred (in safe mode).
fn has_word(prompt: &str, word: &str) -> bool {
    prompt
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case(word))
}

fn content_flags(mut reply: Reply, prompt: &str, safe_mode: bool, blur: bool) -> Reply {
    if blur && safe_mode && has_word(prompt, "nsfw") {
        reply = reply.header("x-venice-is-blurred", "true");
    }
    if is_content_violation(prompt) {
        reply = reply.header("x-venice-is-content-violation", "true");
    }
    reply
}

/// Deterministic trigger of a content-policy violation: `forbidden-content` in the
/// prompt (a generation answers a flagged, uncharged 200; an edit a 422).
fn is_content_violation(prompt: &str) -> bool {
    prompt.to_ascii_lowercase().contains("forbidden-content")
}

/// Deterministic trigger of an edit the provider's own moderation blocks after the
/// model made it: `forbidden-output` in the prompt (422, charged).
/// Deterministic trigger of an inference that fails after its charge: `failing-inference`
/// in the prompt of a generation (500 `INFERENCE_FAILED`; the charge is refunded, a
/// REFUND row in a wallet's ledger).
fn is_failing_inference(prompt: &str) -> bool {
    prompt.to_ascii_lowercase().contains("failing-inference")
}

fn is_blocked_output(prompt: &str) -> bool {
    prompt.to_ascii_lowercase().contains("forbidden-output")
}

fn enhanced(reply: Reply, prompt: &str, enhance: bool) -> Reply {
    if enhance {
        let rewritten = format!("{prompt}, highly detailed");
        let encoded =
            percent_encoding::utf8_percent_encode(&rewritten, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        reply.header("x-venice-enhanced-prompt", encoded)
    } else {
        reply
    }
}

fn deprecation_headers(mut reply: Reply, model: &CatalogModel) -> Reply {
    if let Some(dep) = &model.deprecation {
        reply = reply
            .header(
                "x-venice-model-deprecation-warning",
                format!(
                    "Model {} is deprecated and will be removed on {}",
                    model.id, dep.removes_at
                ),
            )
            .header("x-venice-model-deprecation-date", &dep.removes_at)
            .header("x-venice-deprecated", "true");
        if let Some(r) = &dep.replacement_model_id {
            reply = reply.header("x-venice-deprecated-replacement", r);
        }
    }
    reply
}

/// The balance headers the provider sends on a served request (`x-venice-balance-usd`,
/// `x-venice-balance-diem`; it never sets the `X-Balance-Remaining` its spec lists):
/// what the caller has left after the request's charge, when the account has a limit.
pub(crate) fn balance_header(mut reply: Reply, receipt: &Receipt) -> Reply {
    if let Some(usd) = receipt.balance_usd {
        reply = reply.header("x-venice-balance-usd", format!("{usd:.6}"));
    }
    if let Some(diem) = receipt.balance_diem {
        reply = reply.header("x-venice-balance-diem", format!("{diem:.6}"));
    }
    reply
}

/// What a prompt rewrite (`enhance_prompt`) adds when one is produced
/// (`venice-image-generate`: "a $0.04 charge when a rewrite is produced"). The mock
/// always produces one, so it always charges it. Edits bill "extra credits" without a
/// published amount; the mock charges the same there.
pub const ENHANCE_PROMPT_USD: f64 = 0.04;

/// The `enhance_prompt` component of a charge, when the request asks for a rewrite.
fn enhance_part(body: &Value) -> Option<Part> {
    b(body, "enhance_prompt")
        .unwrap_or(false)
        .then(|| Part::new("enhance_prompt", ENHANCE_PROMPT_USD))
}

/// Runs the work after a charge; a failure returns what was charged (a REFUND row).
async fn refunded_on_error<T>(
    state: &AppState,
    receipt: &Receipt,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let out = work.await;
    if out.is_err() {
        state.refund(receipt);
    }
    out
}

fn random_seed(state: &AppState) -> i64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let h = images::fnv64(&[&nanos.to_le_bytes(), &state.next_id().to_le_bytes()]);
    i64::try_from(h % 999_999_999).unwrap_or(0)
}

async fn produce(state: &AppState, key: ImageKey) -> Result<Bytes, ApiError> {
    if let Some(hit) = state.cache.get(&key) {
        return Ok(hit);
    }
    let k = key.clone();
    let bytes = tokio::task::spawn_blocking(move || k.produce())
        .await
        .map_err(internal)?
        .map_err(internal)?;
    state.cache.put(key, bytes.clone());
    Ok(bytes)
}

/// Resolves the output size of a generate request against the model's sizing mode.
fn resolve_size(
    model: &CatalogModel,
    body: &Value,
) -> Result<(u32, u32, Option<String>), ApiError> {
    let c = &model.constraints;
    let width = body.get("width").and_then(Value::as_u64);
    let height = body.get("height").and_then(Value::as_u64);
    let ratio = s(body, "aspect_ratio");
    let resolution = s(body, "resolution");
    match model.sizing_mode() {
        // The provider does not validate `aspect_ratio` on /image/generate and drops
        // `resolution` on models without tiers: a pixel model ignores both.
        SizingMode::Pixels => {
            // `widthHeightDivisor` is advice: the provider does not validate it.
            let w = u32::try_from(width.unwrap_or(1024)).unwrap_or(u32::MAX);
            let h = u32::try_from(height.unwrap_or(1024)).unwrap_or(u32::MAX);
            Ok((w, h, None))
        }
        mode => {
            // Aspect-ratio models ignore width/height (many clients always send them),
            // except the few that refuse them.
            if model.refuses_pixel_size() {
                for field in ["width", "height"] {
                    if body.get(field).is_some() {
                        return Err(ApiError::field(
                            field,
                            format!(
                                "Model {} is sized by aspect_ratio: {field} is not accepted",
                                model.id
                            ),
                        ));
                    }
                }
            }
            // An aspect ratio the model does not list falls back to its default (the
            // provider does not validate it on /image/generate).
            let ratios = c.aspect_ratios.clone().unwrap_or_default();
            let default_ratio = c
                .default_aspect_ratio
                .clone()
                .unwrap_or_else(|| "1:1".to_owned());
            let ratio = ratio
                .map(str::to_owned)
                .filter(|r| ratios.contains(r))
                .unwrap_or(default_ratio);
            let tier = if mode == SizingMode::AspectRatio {
                // Dropped on models without tiers.
                "1K".to_owned()
            } else {
                let tiers = c.resolutions.clone().unwrap_or_default();
                let tier = resolution
                    .map(str::to_owned)
                    .or_else(|| c.default_resolution.clone())
                    .unwrap_or_else(|| "1K".to_owned());
                if !tiers.contains(&tier) {
                    return Err(ApiError::field(
                        "resolution",
                        format!(
                            "resolution must be one of {} for model {}",
                            tiers.join(", "),
                            model.id
                        ),
                    ));
                }
                tier
            };
            let long = catalog::tier_long_side(&tier).unwrap_or(1024);
            let parsed = catalog::parse_ratio(&ratio).ok_or_else(|| {
                ApiError::field("aspect_ratio", "aspect_ratio must look like 16:9")
            })?;
            let (w, h) = catalog::size_for_ratio(parsed, long);
            Ok((w, h, Some(tier)))
        }
    }
}

/// The `quality` of a generation or multi-edit: ignored by models without qualities,
/// a 400 when the model does not list it.
fn model_quality<'b>(model: &CatalogModel, body: &'b Value) -> Result<Option<&'b str>, ApiError> {
    match (s(body, "quality"), &model.constraints.qualities) {
        (Some(q), Some(list)) if !list.iter().any(|x| x == q) => Err(ApiError::field(
            "quality",
            format!(
                "quality must be one of {} for model {}",
                list.join(", "),
                model.id
            ),
        )),
        (Some(q), Some(_)) => Ok(Some(q)),
        _ => Ok(None),
    }
}

fn check_prompt(model: &CatalogModel, body: &Value) -> Result<(), ApiError> {
    if let Some(limit) = model.constraints.prompt_character_limit {
        for field in ["prompt", "negative_prompt"] {
            if let Some(text) = s(body, field)
                && text.chars().count() > limit as usize
            {
                return Err(ApiError::field(
                    field,
                    format!(
                        "{field} must be at most {limit} characters for model {}",
                        model.id
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A `POST /image/generate` body, read once and checked against its model.
struct GenerateBody<'b> {
    prompt: &'b str,
    width: u32,
    height: u32,
    /// The price tier the size falls in, when the model prices by tier.
    tier: Option<String>,
    quality: Option<&'b str>,
    style_references: usize,
    variants: u32,
    binary: bool,
    format: OutputFormat,
    /// Absent: a random seed, drawn when the image is made.
    seed: Option<i64>,
    exif: bool,
    safe_mode: bool,
    enhance: bool,
}

impl<'b> GenerateBody<'b> {
    /// Read `body` for `model`, refusing what the model does not accept, in the
    /// provider's order of checks.
    fn read(model: &CatalogModel, body: &'b Value) -> Result<GenerateBody<'b>, ApiError> {
        check_prompt(model, body)?;
        check_style_preset(body)?;
        let (width, height, tier) = resolve_size(model, body)?;
        let quality = model_quality(model, body)?;
        let style_references = check_style_references(model, body)?;
        let variants = body.get("variants").and_then(Value::as_u64).unwrap_or(1);
        let variants = u32::try_from(variants).unwrap_or(1);
        let binary = b(body, "return_binary").unwrap_or(false);
        if binary && variants > 1 {
            return Err(ApiError::field(
                "variants",
                "variants must be 1 when return_binary is true",
            ));
        }
        Ok(GenerateBody {
            prompt: s(body, "prompt").unwrap_or_default(),
            width,
            height,
            tier,
            quality,
            style_references,
            variants,
            binary,
            format: s(body, "format")
                .and_then(OutputFormat::parse)
                .unwrap_or(OutputFormat::Webp),
            seed: body.get("seed").and_then(Value::as_i64),
            exif: b(body, "embed_exif_metadata").unwrap_or(false),
            safe_mode: b(body, "safe_mode").unwrap_or(true),
            enhance: b(body, "enhance_prompt").unwrap_or(false),
        })
    }
}

/// `style_preset` must be a name of `GET /image/styles`, as written (venice-image-generate).
fn check_style_preset(body: &Value) -> Result<(), ApiError> {
    match s(body, "style_preset") {
        Some(preset) if !STYLES.contains(&preset) => Err(ApiError::field(
            "style_preset",
            format!("style_preset must be one of the names of GET /image/styles, got {preset:.40}"),
        )),
        _ => Ok(()),
    }
}

/// How many style references the body sends, refused when the model takes none or fewer.
fn check_style_references(model: &CatalogModel, body: &Value) -> Result<usize, ApiError> {
    let refs = body
        .get("style_references")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if refs == 0 {
        return Ok(0);
    }
    if !model.supports_style_references {
        return Err(ApiError::field(
            "style_references",
            format!("Model {} does not support style references", model.id),
        ));
    }
    let max = model.constraints.max_style_references.unwrap_or(0) as usize;
    if refs > max {
        return Err(ApiError::field(
            "style_references",
            format!(
                "At most {max} style references are accepted by model {}",
                model.id
            ),
        ));
    }
    Ok(refs)
}

/// What a generation is charged, part by part; a blocked image is not charged (the
/// answer is still a 200, flagged).
fn generate_parts(model: &CatalogModel, req: &GenerateBody<'_>, body: &Value) -> Vec<Part> {
    if is_content_violation(req.prompt) {
        return Vec::new();
    }
    let mut parts = vec![Part::new(
        "model",
        model.price_usd(req.tier.as_deref(), req.quality) * f64::from(req.variants),
    )];
    parts.extend(enhance_part(body));
    if req.style_references > 0
        && let Some(usd) = model.style_reference_surcharge_usd
    {
        parts.push(Part::new("style_references", usd));
    }
    parts
}

/// `POST /image/generate`.
pub(crate) async fn generate(ctx: Ctx<'_>) -> Result<Reply, ApiError> {
    let started = Instant::now();
    let body = &ctx.body;
    let model_id = s(body, "model").unwrap_or_default();
    let model = ctx
        .state
        .catalog
        .get(model_id)
        .filter(|m| m.kind == ModelKind::Image)
        .ok_or_else(|| not_found(model_id))?;
    let req = GenerateBody::read(model, body)?;
    let parts = generate_parts(model, &req, body);
    let request_id = ctx.state.request_id("generate-image");
    let receipt = ctx
        .state
        .charge(ctx.principal.as_ref(), request_id, &model.id, &parts)?;
    refunded_on_error(
        ctx.state,
        &receipt,
        serve_generate(&ctx, model, &req, &receipt, started),
    )
    .await
}

/// The work of a generation after its charge.
async fn serve_generate(
    ctx: &Ctx<'_>,
    model: &CatalogModel,
    req: &GenerateBody<'_>,
    receipt: &Receipt,
    started: Instant,
) -> Result<Reply, ApiError> {
    if is_failing_inference(req.prompt) {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Inference failed",
            Some("INFERENCE_FAILED"),
        ));
    }
    if let Some(bench) = ctx
        .state
        .bench
        .as_ref()
        .filter(|_| req.format == OutputFormat::Png)
    {
        let reply = if req.binary {
            Reply::binary(req.format.mime(), bench.png.clone())
        } else {
            let mut r = Reply::json(StatusCode::OK, &Value::Null);
            r.body = bench.generate_json(req.variants);
            r.compressible = false;
            r
        };
        let reply = content_flags(reply, req.prompt, req.safe_mode, true);
        let reply = deprecation_headers(reply, model);
        return Ok(balance_header(reply, receipt));
    }
    let seed = req.seed.unwrap_or_else(|| random_seed(ctx.state));
    let images = produce_variants(ctx.state, model, req, seed).await?;
    let reply = if req.binary {
        Reply::binary(
            req.format.mime(),
            images.into_iter().next().unwrap_or_default(),
        )
    } else {
        generate_json(&ctx.body, &images, seed, receipt, started)
    };
    let reply = content_flags(reply, req.prompt, req.safe_mode, true);
    let reply = enhanced(reply, req.prompt, req.enhance);
    let reply = deprecation_headers(reply, model);
    Ok(balance_header(reply, receipt))
}

/// Make (or take from the cache) each variant's image.
async fn produce_variants(
    state: &AppState,
    model: &CatalogModel,
    req: &GenerateBody<'_>,
    seed: i64,
) -> Result<Vec<Bytes>, ApiError> {
    let mut images = Vec::with_capacity(req.variants as usize);
    for variant in 0..req.variants {
        let key = ImageKey {
            model: model.id.clone(),
            prompt: req.prompt.to_owned(),
            seed,
            variant,
            format: req.format,
            width: req.width,
            height: req.height,
            exif: req.exif,
        };
        images.push(produce(state, key).await?);
    }
    Ok(images)
}

/// The JSON answer: the images in base64, the timing, and the request echoed with the
/// seed used.
fn generate_json(
    body: &Value,
    images: &[Bytes],
    seed: i64,
    receipt: &Receipt,
    started: Instant,
) -> Reply {
    let encoded: Vec<String> = images
        .iter()
        .map(|i| base64::engine::general_purpose::STANDARD.encode(i))
        .collect();
    let mut request = body.clone();
    request["seed"] = json!(seed);
    let total = started.elapsed().as_secs_f64() * 1000.0;
    Reply::json(
        StatusCode::OK,
        &json!({
            "id": receipt.request_id,
            "images": encoded,
            "timing": {
                "inferenceDuration": total * 0.9,
                "inferencePreprocessingTime": total * 0.05,
                "inferenceQueueTime": total * 0.05,
                "total": total,
            },
            "request": request,
        }),
    )
}

/// `POST /images/generations` (OpenAI-compatible).
pub(crate) async fn simple_generate(ctx: Ctx<'_>) -> Result<Reply, ApiError> {
    let body = &ctx.body;
    let requested = s(body, "model").unwrap_or("default");
    let model = ctx
        .state
        .catalog
        .get(requested)
        .filter(|m| m.kind == ModelKind::Image)
        .or_else(|| ctx.state.catalog.default_image_model())
        .ok_or_else(|| not_found(requested))?;
    let (width, height) = match s(body, "size").unwrap_or("auto") {
        "256x256" => (256, 256),
        "512x512" => (512, 512),
        "1536x1024" => (1536, 1024),
        "1024x1536" => (1024, 1536),
        "1792x1024" => (1792, 1024),
        "1024x1792" => (1024, 1792),
        _ => (1024, 1024),
    };
    let format = s(body, "output_format")
        .and_then(OutputFormat::parse)
        .unwrap_or(OutputFormat::Png);
    let prompt = s(body, "prompt").unwrap_or_default();
    let receipt = ctx.state.charge(
        ctx.principal.as_ref(),
        ctx.state.request_id("generate-image"),
        &model.id,
        &[Part::new("model", model.price_usd(None, None))],
    )?;
    let safe_mode = s(body, "moderation") != Some("low");
    if let Some(bench) = ctx
        .state
        .bench
        .as_ref()
        .filter(|_| format == OutputFormat::Png)
    {
        let mut reply = Reply::json(StatusCode::OK, &Value::Null);
        reply.body = bench.openai_json(s(body, "response_format") == Some("url"));
        reply.compressible = false;
        let reply = content_flags(reply, prompt, safe_mode, true);
        let reply = deprecation_headers(reply, model);
        return Ok(balance_header(reply, &receipt));
    }
    let key = ImageKey {
        model: model.id.clone(),
        prompt: prompt.to_owned(),
        seed: 0,
        variant: 0,
        format,
        width,
        height,
        exif: false,
    };
    let bytes = refunded_on_error(ctx.state, &receipt, produce(ctx.state, key)).await?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let item = if s(body, "response_format") == Some("url") {
        json!({ "url": format!("data:{};base64,{b64}", format.mime()) })
    } else {
        json!({ "b64_json": b64 })
    };
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let reply = Reply::json(
        StatusCode::OK,
        &json!({ "created": created, "data": [item] }),
    );
    let reply = content_flags(reply, prompt, safe_mode, true);
    let reply = deprecation_headers(reply, model);
    Ok(balance_header(reply, &receipt))
}

/// `GET /image/styles`.
pub(crate) fn styles() -> Reply {
    Reply::json(StatusCode::OK, &json!({ "data": STYLES, "object": "list" }))
}

/// Values of the `type` filter of `GET /models` (the provider's).
const MODEL_TYPES: &[&str] = &[
    "asr",
    "embedding",
    "image",
    "music",
    "text",
    "tts",
    "upscale",
    "inpaint",
    "video",
    "all",
    "code",
];

/// `GET /models`: like the provider, no `type` lists text models (none in the built-in
/// catalogue, so an empty list), `all` lists every model, any other known type lists
/// that type; an unknown type is a 400.
pub(crate) fn models(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let pairs = query_pairs(ctx.query);
    let filter = pairs
        .iter()
        .find(|(k, _)| k == "type")
        .map_or("text", |(_, v)| v.as_str());
    if !MODEL_TYPES.contains(&filter) {
        let expected: Vec<String> = MODEL_TYPES.iter().map(|t| format!("'{t}'")).collect();
        return Err(ApiError::validation(&[crate::spec::Issue {
            code: "invalid_enum_value".to_owned(),
            message: format!(
                "Invalid enum value. Expected {}, received '{filter}'",
                expected.join(" | ")
            ),
            path: vec![json!("type")],
        }]));
    }
    let data: Vec<Value> = ctx
        .state
        .catalog
        .listed_as(filter)
        .map(CatalogModel::to_json)
        .collect();
    Ok(Reply::json(
        StatusCode::OK,
        &json!({ "data": data, "object": "list", "type": filter }),
    ))
}

fn input_error(e: InputImageError, field: &str) -> ApiError {
    match e {
        InputImageError::Corrupted(msg) => ApiError::with_body(
            StatusCode::BAD_REQUEST,
            &json!({ "error": format!("The image could not be decoded: {msg}"), "code": "CORRUPTED_IMAGE",
                     "details": { "_errors": [], field: { "_errors": ["The image could not be decoded"] } } }),
        ),
        InputImageError::TooSmall => ApiError::new(
            StatusCode::BAD_REQUEST,
            "The image must have at least 65536 pixels",
            Some("IMAGE_TOO_SMALL"),
        ),
        InputImageError::TooManyPixels { pixels, max } => ApiError::new(
            StatusCode::BAD_REQUEST,
            &format!("The image has {pixels} pixels; at most {max} are accepted"),
            Some("IMAGE_TOO_LARGE"),
        ),
        InputImageError::TooLarge => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The image must be smaller than 25 MB",
            Some("IMAGE_TOO_LARGE"),
        ),
        InputImageError::UrlNotSupported => {
            ApiError::field(field, "venice-mock does not fetch image URLs; send base64")
        }
    }
}

async fn decode(
    value: String,
    min_pixels: u64,
    max_pixels: u64,
    field: &'static str,
) -> Result<image::DynamicImage, ApiError> {
    tokio::task::spawn_blocking(move || {
        images::decode_input_within(&value, min_pixels, Some(max_pixels))
    })
    .await
    .map_err(internal)?
    .map_err(|e| input_error(e, field))
}

async fn encode(img: image::DynamicImage, format: OutputFormat) -> Result<Bytes, ApiError> {
    tokio::task::spawn_blocking(move || images::encode(&img, format, None))
        .await
        .map_err(internal)?
        .map(Bytes::from)
        .map_err(internal)
}

/// `POST /image/upscale`. Billed at the effective scale: a 4x that the 16 MP output cap
/// reduces to 2x or less is charged as a 2x (`venice-image-edit`).
pub(crate) async fn upscale(ctx: Ctx<'_>) -> Result<Reply, ApiError> {
    let body = &ctx.body;
    let scale = body.get("scale").and_then(Value::as_f64).unwrap_or(2.0);
    let model = ctx.state.catalog.of_kind(Some(ModelKind::Upscale)).next();
    let prices = model.and_then(|m| m.pricing.upscale).unwrap_or_default();
    let model_id = model.map_or("upscaler", |m| m.id.as_str());
    let img = decode(
        s(body, "image").unwrap_or_default().to_owned(),
        65_536,
        // An input at or above the output cap cannot be made larger.
        images::MAX_UPSCALE_PIXELS,
        "image",
    )
    .await?;
    let effective = images::effective_upscale(img.width(), img.height(), scale);
    let price = if effective <= 2.0 {
        prices.x2.usd
    } else {
        prices.x4.usd
    };
    let receipt = ctx.state.charge(
        ctx.principal.as_ref(),
        ctx.state.request_id("upscale"),
        model_id,
        &[Part::new("upscale", price)],
    )?;
    let work = async {
        let out = tokio::task::spawn_blocking(move || images::upscale(&img, scale))
            .await
            .map_err(internal)?;
        encode(out, OutputFormat::Png).await
    };
    let bytes = refunded_on_error(ctx.state, &receipt, work).await?;
    Ok(balance_header(Reply::binary("image/png", bytes), &receipt))
}

fn edit_model<'a>(ctx: &'a Ctx<'_>, requested: &str) -> Result<&'a CatalogModel, ApiError> {
    ctx.state
        .catalog
        .get(requested)
        .filter(|m| m.kind == ModelKind::Inpaint)
        .ok_or_else(|| invalid_edit_model(requested))
}

fn edit_format(body: &Value) -> OutputFormat {
    s(body, "output_format")
        .and_then(OutputFormat::parse)
        .unwrap_or(match s(body, "resolution") {
            Some("2K" | "4K") => OutputFormat::Jpeg,
            _ => OutputFormat::Png,
        })
}

fn finish_edit(
    ctx: &Ctx<'_>,
    model: &CatalogModel,
    bytes: Bytes,
    format: OutputFormat,
    receipt: &Receipt,
) -> Reply {
    let prompt = s(&ctx.body, "prompt").unwrap_or_default();
    let reply = Reply::binary(format.mime(), bytes)
        .header("x-venice-model-id", &model.id)
        .header("x-venice-model-name", &model.name);
    let reply = content_flags(reply, prompt, true, false);
    let reply = enhanced(
        reply,
        prompt,
        b(&ctx.body, "enhance_prompt").unwrap_or(false),
    );
    let reply = deprecation_headers(reply, model);
    balance_header(reply, receipt)
}

fn apply_ratio(img: image::DynamicImage, body: &Value) -> image::DynamicImage {
    match s(body, "aspect_ratio")
        .filter(|r| *r != "auto")
        .and_then(catalog::parse_ratio)
    {
        Some(r) => images::crop_to_ratio(&img, r),
        None => img,
    }
}

/// The `aspect_ratio` of an edit, checked against the model's list.
fn check_edit_ratio(model: &CatalogModel, body: &Value) -> Result<(), ApiError> {
    if let (Some(ratio), Some(list)) = (s(body, "aspect_ratio"), &model.constraints.aspect_ratios)
        && !list.iter().any(|r| r == ratio)
    {
        return Err(ApiError::field(
            "aspect_ratio",
            format!(
                "aspect_ratio must be one of {} for model {}",
                list.join(", "),
                model.id
            ),
        ));
    }
    Ok(())
}

/// The tier of an edit: one the model lists, else a 400; a model without tiers refuses
/// one on `/image/edit` (`strict`) and drops it on `/image/multi-edit`.
fn edit_resolution<'b>(
    model: &CatalogModel,
    body: &'b Value,
    strict: bool,
) -> Result<Option<&'b str>, ApiError> {
    let Some(res) = s(body, "resolution") else {
        return Ok(None);
    };
    match &model.constraints.resolutions {
        Some(list) if list.iter().any(|r| r == res) => Ok(Some(res)),
        Some(list) => Err(ApiError::field(
            "resolution",
            format!(
                "resolution must be one of {} for model {}",
                list.join(", "),
                model.id
            ),
        )),
        None if strict => Err(ApiError::field(
            "resolution",
            format!("Model {} does not support resolution", model.id),
        )),
        None => Ok(None),
    }
}

/// The inputs of an edit: an http(s) URL is an input the mock cannot fetch.
fn check_edit_inputs<'b>(
    inputs: impl IntoIterator<Item = &'b str>,
    field: &str,
) -> Result<(), ApiError> {
    match inputs.into_iter().find(|v| is_url(v)) {
        Some(url) => Err(unfetchable_input(url, field)),
        None => Ok(()),
    }
}

/// The components of an edit's charge: the model's price at the tier and quality, the
/// input images beyond those the price includes (`pricing.inputImages`; with `included`
/// 0 even a single-image edit pays one), and a prompt rewrite.
fn edit_parts(
    model: &CatalogModel,
    body: &Value,
    resolution: Option<&str>,
    quality: Option<&str>,
    images: usize,
) -> Vec<Part> {
    let mut parts = vec![Part::new("model", model.price_usd(resolution, quality))];
    let extra = model.input_images_usd(images);
    if extra > 0.0 {
        parts.push(Part::new("input_images", extra));
    }
    parts.extend(enhance_part(body));
    parts
}

/// `POST /image/edit`.
pub(crate) async fn edit(ctx: Ctx<'_>) -> Result<Reply, ApiError> {
    let body = &ctx.body;
    let requested = s(body, "model")
        .or_else(|| s(body, "modelId"))
        .unwrap_or(DEFAULT_EDIT_MODEL);
    let model = edit_model(&ctx, requested)?;
    check_prompt(model, body)?;
    check_edit_ratio(model, body)?;
    let resolution = edit_resolution(model, body, true)?;
    let image = s(body, "image").unwrap_or_default();
    check_edit_inputs([image], "image")?;
    let img = decode(
        image.to_owned(),
        65_536,
        images::MAX_EDIT_INPUT_PIXELS,
        "image",
    )
    .await?;
    let prompt = s(body, "prompt").unwrap_or_default().to_owned();
    if is_content_violation(&prompt) {
        return Err(content_policy());
    }
    let receipt = ctx.state.charge(
        ctx.principal.as_ref(),
        ctx.state.request_id("edit"),
        &model.id,
        &edit_parts(model, body, resolution, None, 1),
    )?;
    // The provider's own moderation blocked what the model made: charged, not refunded.
    if is_blocked_output(&prompt) {
        return Err(content_policy());
    }
    let format = edit_format(body);
    let work = async {
        let img = apply_ratio(img, body);
        let out = tokio::task::spawn_blocking(move || images::edit(&img, &prompt))
            .await
            .map_err(internal)?;
        encode(out, format).await
    };
    let bytes = refunded_on_error(ctx.state, &receipt, work).await?;
    Ok(finish_edit(&ctx, model, bytes, format, &receipt))
}

/// `POST /image/multi-edit`.
pub(crate) async fn multi_edit(ctx: Ctx<'_>) -> Result<Reply, ApiError> {
    let body = &ctx.body;
    let requested = s(body, "modelId").unwrap_or(DEFAULT_EDIT_MODEL);
    let model = edit_model(&ctx, requested)?;
    check_prompt(model, body)?;
    check_edit_ratio(model, body)?;
    let inputs: Vec<String> = body
        .get("images")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let max = model.input_image_limit() as usize;
    if inputs.len() > max {
        return Err(ApiError::field(
            "images",
            format!("At most {max} images are accepted by model {}", model.id),
        ));
    }
    let resolution = edit_resolution(model, body, false)?;
    let quality = model_quality(model, body)?;
    check_edit_inputs(inputs.iter().map(String::as_str), "images")?;
    let mut decoded = Vec::with_capacity(inputs.len());
    for input in inputs {
        decoded.push(decode(input, 65_536, images::MAX_EDIT_INPUT_PIXELS, "images").await?);
    }
    let prompt = s(body, "prompt").unwrap_or_default().to_owned();
    if is_content_violation(&prompt) {
        return Err(content_policy());
    }
    let mut iter = decoded.into_iter();
    let base = iter
        .next()
        .ok_or_else(|| ApiError::field("images", "At least one image is required"))?;
    let layers: Vec<_> = iter.collect();
    let receipt = ctx.state.charge(
        ctx.principal.as_ref(),
        ctx.state.request_id("multi-edit"),
        &model.id,
        &edit_parts(model, body, resolution, quality, 1 + layers.len()),
    )?;
    if is_blocked_output(&prompt) {
        return Err(content_policy());
    }
    let format = edit_format(body);
    let work = async {
        let base = apply_ratio(base, body);
        let out = tokio::task::spawn_blocking(move || images::multi_edit(&base, &layers, &prompt))
            .await
            .map_err(internal)?;
        encode(out, format).await
    };
    let bytes = refunded_on_error(ctx.state, &receipt, work).await?;
    Ok(finish_edit(&ctx, model, bytes, format, &receipt))
}

/// Price of a background removal in USD, when the catalogue has no
/// `bria-bg-remover` (the built-in one prices it the same).
pub const BACKGROUND_REMOVE_USD: f64 = 0.03;

/// The catalogue model a background removal is charged as.
const BACKGROUND_REMOVE_MODEL: &str = "bria-bg-remover";

/// The model of an edit or multi-edit that names none.
const DEFAULT_EDIT_MODEL: &str = "firered-image-edit";

/// `POST /image/background-remove`.
pub(crate) async fn background_remove(ctx: Ctx<'_>) -> Result<Reply, ApiError> {
    let body = &ctx.body;
    let form = crate::body::media_type(ctx.headers).as_deref() == Some(crate::body::MULTIPART);
    if form && body.get("image_url").is_some() {
        // The provider's multipart schema is one required file in `image`.
        return Err(ApiError::field(
            "image_url",
            "image_url is not accepted in multipart/form-data; send the file in `image`",
        ));
    }
    let image = match (s(body, "image"), s(body, "image_url")) {
        (Some(i), None) => i.to_owned(),
        (None, Some(_)) => {
            return Err(ApiError::field(
                "image_url",
                "venice-mock does not fetch image URLs; send base64 in `image`",
            ));
        }
        _ => {
            return Err(ApiError::field(
                "image",
                "Exactly one of image or image_url is required",
            ));
        }
    };
    // Upstream states no pixel limit here; the edit limit keeps the mock's memory
    // bounded against decompression bombs.
    let img = decode(image, 1, images::MAX_EDIT_INPUT_PIXELS, "image").await?;
    let (price, model_id) = ctx
        .state
        .catalog
        .get(BACKGROUND_REMOVE_MODEL)
        .map_or((BACKGROUND_REMOVE_USD, BACKGROUND_REMOVE_MODEL), |m| {
            (m.price_usd(None, None), m.id.as_str())
        });
    let receipt = ctx.state.charge(
        ctx.principal.as_ref(),
        ctx.state.request_id("background-remove"),
        model_id,
        &[Part::new("model", price)],
    )?;
    let work = async {
        let out = tokio::task::spawn_blocking(move || images::remove_background(&img))
            .await
            .map_err(internal)?;
        encode(out, OutputFormat::Png).await
    };
    let bytes = refunded_on_error(ctx.state, &receipt, work).await?;
    Ok(balance_header(Reply::binary("image/png", bytes), &receipt))
}

fn check_wallet(ctx: &Ctx<'_>, wallet: &str) -> Result<(), ApiError> {
    let valid_evm = wallet.len() == 42
        && wallet.starts_with("0x")
        && wallet[2..].chars().all(|c| c.is_ascii_hexdigit());
    let valid_sol = (32..=44).contains(&wallet.len())
        && wallet
            .chars()
            .all(|c| c.is_ascii_alphanumeric() && !"0OIl".contains(c));
    if !valid_evm && !valid_sol {
        return Err(ApiError::field("walletAddress", "Invalid wallet address"));
    }
    match &ctx.principal {
        Some(Principal::Wallet(id)) if wallet_key(&id.address) == wallet_key(wallet) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "The signed-in wallet does not match the requested wallet",
            Some("FORBIDDEN"),
        )),
    }
}

/// The wallet of the path (`walletAddress`).
fn path_wallet<'a>(ctx: &'a Ctx<'_>) -> &'a str {
    ctx.operation
        .path_param("walletAddress")
        .unwrap_or_default()
}

/// `GET /x402/balance/{walletAddress}`.
pub(crate) fn balance(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let wallet = path_wallet(ctx);
    check_wallet(ctx, wallet)?;
    let bal = ctx.state.wallet_balance(wallet);
    let diem = ctx.state.wallet_diem(wallet);
    let mut data = json!({
        "walletAddress": wallet_key(wallet),
        "balanceUsd": bal,
        "canConsume": bal > 0.0 || diem.is_some_and(|d| d > 0.0),
        "minimumTopUpUsd": MIN_TOP_UP_USD,
        "suggestedTopUpUsd": SUGGESTED_TOP_UP_USD,
    });
    if let Some(d) = diem {
        data["diemBalanceUsd"] = json!(d);
    }
    Ok(Reply::json(
        StatusCode::OK,
        &json!({ "success": true, "data": data }),
    ))
}

/// `GET /x402/transactions/{walletAddress}`.
pub(crate) fn transactions(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let wallet = path_wallet(ctx);
    check_wallet(ctx, wallet)?;
    let pairs = query_pairs(ctx.query);
    let get = |name: &str, default: u64, min: u64, max: u64| -> Result<u64, ApiError> {
        match pairs.iter().find(|(k, _)| k == name) {
            None => Ok(default),
            Some((_, v)) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::field(name, format!("{name} must be an integer in {min}..={max}"))
                }),
        }
    };
    let limit = get("limit", 50, 1, 100)?;
    let offset = get("offset", 0, 0, u64::MAX)?;
    let all = ctx.state.ledger(wallet);
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(all.len());
    let end = start
        .saturating_add(usize::try_from(limit).unwrap_or(50))
        .min(all.len());
    Ok(Reply::json(
        StatusCode::OK,
        &json!({ "success": true, "data": {
            "walletAddress": wallet_key(wallet),
            "currentBalance": ctx.state.wallet_balance(wallet),
            "transactions": &all[start..end],
            "pagination": { "limit": limit, "offset": offset, "hasMore": end < all.len() },
        }}),
    ))
}

/// The x402 payment header (canonical or legacy names).
pub(crate) fn payment_header(headers: &HeaderMap) -> Option<&str> {
    ["payment-signature", "x-402-payment", "x-payment"]
        .iter()
        .find_map(|n| headers.get(*n))
        .and_then(|v| v.to_str().ok())
}

/// The provider's largest top-up in USD (`AMOUNT_TOO_HIGH` above).
const MAX_TOP_UP_USD: f64 = 10_000.0;

/// The status of a top-up error code, as the provider answers it.
fn top_up_status(code: &str) -> StatusCode {
    match code {
        "PAYMENT_IN_PROGRESS" => StatusCode::CONFLICT,
        "SETTLEMENT_FAILED" => StatusCode::PAYMENT_REQUIRED,
        "SETTLEMENT_TIMEOUT" => StatusCode::GATEWAY_TIMEOUT,
        "X402_NOT_CONFIGURED" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The provider's top-up code of a rejected EVM payment, from the built-in verifier's
/// reasons (a replayed authorization is the provider's 409: a settled payment is
/// credited once).
fn evm_code(reason: &str) -> &'static str {
    let has = |w: &str| reason.contains(w);
    if has("already used") {
        "PAYMENT_IN_PROGRESS"
    } else if has("scheme") {
        "UNSUPPORTED_SCHEME"
    } else if has("network") {
        "UNSUPPORTED_NETWORK"
    } else if has("asset") {
        "UNSUPPORTED_TOKEN"
    } else if has("payee") {
        "INVALID_PAYMENT_RECIPIENT"
    } else if has("below the minimum") {
        "AMOUNT_TOO_LOW"
    } else if has("too large") {
        "AMOUNT_TOO_HIGH"
    } else if has("differs from the accepted amount") {
        "INVALID_AMOUNT"
    } else if has("does not match `from`") {
        "PAYMENT_VERIFICATION_FAILED"
    } else if has("valid") || has("expired") {
        "INVALID_PAYMENT"
    } else {
        "INVALID_PAYMENT_FORMAT"
    }
}

/// The provider's top-up code of a rejected Solana payment.
fn svm_code(r: &svm::SvmRejection) -> &'static str {
    use svm::SvmRejection as R;
    match r {
        R::ReplayedSignature | R::ReplayedBlockhash => "PAYMENT_IN_PROGRESS",
        R::WrongScheme => "UNSUPPORTED_SCHEME",
        R::WrongNetwork(_) => "UNSUPPORTED_NETWORK",
        R::WrongMint => "UNSUPPORTED_TOKEN",
        R::WrongPayTo | R::WrongDestination => "INVALID_PAYMENT_RECIPIENT",
        R::AmountBelowMinimum { .. } => "AMOUNT_TOO_LOW",
        R::AmountMismatch { .. } => "INVALID_AMOUNT",
        R::WrongSource => "INVALID_PAYMENT_PAYER",
        R::BadSignature => "PAYMENT_VERIFICATION_FAILED",
        R::ForeignFeePayer | R::UnknownBlockhash => "INVALID_PAYMENT",
        _ => "INVALID_PAYMENT_FORMAT",
    }
}

/// `POST /x402/top-up`: without a payment header the x402 discovery 402; with one,
/// the verified payment is credited. A payment whose `accepted.network` is Solana goes
/// to the Solana verifier ([`crate::svm::SvmPaymentVerifier`]), any other to the
/// configured EVM verifier.
pub(crate) fn top_up(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let policy = &ctx.state.config.payment_policy;
    let Some(payment) = payment_header(ctx.headers) else {
        return Err(shapes::discovery_402(
            policy,
            &ctx.state.config.svm_payment_policy,
        ));
    };
    let rejected = |code: &str, message: &str, reason: &str| {
        shapes::x402_error(
            top_up_status(code),
            code,
            &format!("Invalid payment: {message}"),
            reason,
        )
    };
    let (wallet, amount_usd, network, transaction) =
        if svm::payment_network(payment).is_some_and(|n| svm::is_solana_network(&n)) {
            let paid = ctx
                .state
                .svm_verifier
                .verify_at(payment, SystemTime::now())
                .map_err(|r| rejected(svm_code(&r), &r.to_string(), r.reason()))?;
            (paid.wallet, paid.amount_usd, paid.network, paid.signature)
        } else {
            let Some(verifier) = &ctx.state.config.payment_verifier else {
                return Err(shapes::x402_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "X402_NOT_CONFIGURED",
                    "Payment verification is not configured in this mock",
                    "no_verifier",
                ));
            };
            let paid = verifier
                .verify(payment)
                .map_err(|reason| rejected(evm_code(&reason), &reason, &reason))?;
            (
                paid.wallet,
                paid.amount_usd,
                format!("eip155:{}", policy.chain_id),
                String::new(),
            )
        };
    if amount_usd > MAX_TOP_UP_USD {
        return Err(rejected(
            "AMOUNT_TOO_HIGH",
            &format!("${amount_usd} is above the maximum top-up of ${MAX_TOP_UP_USD}"),
            "amount_above_maximum",
        ));
    }
    match ctx.state.faults.next_top_up() {
        None => {}
        Some(TopUpFault::SettlementFailed) => {
            return Err(shapes::x402_error(
                StatusCode::PAYMENT_REQUIRED,
                "SETTLEMENT_FAILED",
                "The payment could not be settled",
                "settlement_failed",
            ));
        }
        Some(TopUpFault::SettlementTimeout { landed }) => {
            if landed {
                ctx.state.credit(&wallet, amount_usd);
            }
            return Err(shapes::x402_error(
                StatusCode::GATEWAY_TIMEOUT,
                "SETTLEMENT_TIMEOUT",
                "Settlement did not finish in time; the transfer may still land: check the balance before paying again",
                "settlement_timeout",
            ));
        }
        Some(TopUpFault::PaymentInProgress { landed }) => {
            if landed {
                ctx.state.credit(&wallet, amount_usd);
            }
            return Err(shapes::x402_error(
                StatusCode::CONFLICT,
                "PAYMENT_IN_PROGRESS",
                "This payment is already being settled",
                "payment_in_progress",
            ));
        }
    }
    let new_balance = ctx.state.credit(&wallet, amount_usd);
    let payment_id = format!("pay-{}", ctx.state.next_id());
    // An EVM settlement's transaction hash is made up from the payment id; a Solana
    // one is the wallet's signature, which is the transaction id on that chain.
    let transaction = if transaction.is_empty() {
        format!("0x{:064x}", images::fnv64(&[payment_id.as_bytes()]))
    } else {
        transaction
    };
    let settlement = json!({
        "success": true,
        "network": network,
        "payer": wallet,
        "transaction": transaction,
    });
    Ok(Reply::json(
        StatusCode::OK,
        &json!({ "success": true, "data": {
            "walletAddress": wallet_key(&wallet),
            "amountCredited": amount_usd,
            "newBalance": new_balance,
            "paymentId": payment_id,
        }}),
    )
    .header("payment-response", shapes::b64_json(&settlement)))
}

/// The model an inference request is served by, as its per-model rate limit counts it:
/// the model it names, or the operation's default (the default image model for an
/// unknown OpenAI-compatible model; the upscaler; the background remover).
pub(crate) fn served_model(state: &AppState, operation_id: &str, body: &Value) -> Option<String> {
    let named = s(body, "model").or_else(|| s(body, "modelId"));
    let model = match operation_id {
        "generateImage" => named?.to_owned(),
        "simpleGenerateImage" => named
            .and_then(|m| state.catalog.get(m))
            .filter(|m| m.kind == ModelKind::Image)
            .or_else(|| state.catalog.default_image_model())?
            .id
            .clone(),
        "editImage" | "multiEditImage" => named.unwrap_or(DEFAULT_EDIT_MODEL).to_owned(),
        "upscaleImage" => state
            .catalog
            .of_kind(Some(ModelKind::Upscale))
            .next()
            .map_or("upscaler", |m| m.id.as_str())
            .to_owned(),
        "backgroundRemoveImage" => BACKGROUND_REMOVE_MODEL.to_owned(),
        _ => return None,
    };
    Some(model)
}

/// `GET /billing/balance` (ADMIN keys only; the router answers an INFERENCE key 401):
/// the API-key account's balances as `venice-billing` documents them. An unlimited USD
/// balance (no [`MockConfig::api_key_balance`](crate::MockConfig)) is reported as `null`;
/// the mock's account has no earned or bundled credits (`null`: not positive).
pub(crate) fn billing_balance(ctx: &Ctx<'_>) -> Reply {
    let (usd, diem) = ctx.state.api_balances();
    let positive = |v: Option<f64>| v.filter(|v| *v > 0.0);
    let spendable = diem.unwrap_or(0.0).max(0.0) + usd.map_or(f64::INFINITY, |u| u.max(0.0));
    let currency = if positive(diem).is_some() {
        Some("DIEM")
    } else if usd.is_none_or(|u| u > 0.0) {
        Some("USD")
    } else {
        None
    };
    Reply::json(
        StatusCode::OK,
        &json!({
            "canConsume": spendable + 1e-9 >= crate::state::ADMISSION_FLOOR_USD,
            "consumptionCurrency": currency,
            "balances": {
                "diem": diem,
                "usd": positive(usd),
                "bundledCredits": null,
                "earnedCredits": null,
            },
            "diemEpochAllocation": ctx.state.config.account.diem_epoch_allocation,
        }),
    )
}

/// `GET /api_keys/rate_limits`: tier, balances and, for every model of the catalogue,
/// the limits the server enforces: the per-model limits when configured, else the
/// key-wide limit (every request counts against it, so no model can do more).
pub(crate) fn api_key_rate_limits(ctx: &Ctx<'_>) -> Reply {
    let config = &ctx.state.config;
    let account = &config.account;
    let (usd, diem) = ctx.state.api_balances();
    let mut balances = serde_json::Map::new();
    if let Some(usd) = usd {
        balances.insert("USD".into(), json!(usd.max(0.0)));
    }
    if let Some(diem) = diem {
        balances.insert("DIEM".into(), json!(diem.max(0.0)));
    }
    // USD-denominated, 0 when the plan has none (`venice-api-keys`).
    balances.insert("BUNDLED_CREDITS".into(), json!(0));
    let spendable = diem.unwrap_or(0.0).max(0.0) + usd.map_or(f64::INFINITY, |u| u.max(0.0));
    let limits_of = |model: &str| -> Vec<Value> {
        match (&account.model_rate_limits, &config.rate_limit) {
            (Some(m), _) => {
                let mut v = vec![json!({"amount": m.requests_of(model), "type": "RPM"})];
                if let Some(per_day) = m.per_day {
                    v.push(json!({"amount": per_day, "type": "RPD"}));
                }
                v
            }
            (None, Some(key_wide)) => vec![json!({"amount": key_wide.requests, "type": "RPM"})],
            (None, None) => Vec::new(),
        }
    };
    let models: Vec<Value> = ctx
        .state
        .catalog
        .models()
        .iter()
        .map(|m| json!({ "apiModelId": m.id, "rateLimits": limits_of(&m.id) }))
        .collect();
    let next_epoch = (unix_secs() / 86_400 + 1) * 86_400;
    Reply::json(
        StatusCode::OK,
        &json!({ "data": {
            // The real admission check: the $0.10 floor (`venice-billing`).
            "accessPermitted": spendable + 1e-9 >= crate::state::ADMISSION_FLOOR_USD,
            "apiTier": { "id": account.tier, "isCharged": true },
            "balances": balances,
            "keyExpiration": account.key_expiration,
            "nextEpochBegins": rfc3339(next_epoch),
            "rateLimits": models,
        }}),
    )
}
