//! Command line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use venice_image::raw::{bounds, types};
use venice_image::{
    Format, Moderation, OpenAiBackground, OpenAiQuality, OpenAiSize, OpenAiStyle, ResponseFormat,
    limits,
};

// Help texts take their numbers and value lists from the spec's generated vocabulary
// (through the library's `limits`), so a spec change reaches `--help` by regeneration.

/// The wire values of `all`, comma-separated.
fn listed<T>(all: &[T], wire: impl Fn(&T) -> &'static str) -> String {
    all.iter().map(wire).collect::<Vec<_>>().join(", ")
}

/// Generate images with Venice.ai.
#[derive(Debug, Parser)]
#[command(name = "venice-image", version, about, long_about = None)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Run against an embedded mock server (no network, no credentials).
    #[arg(long, global = true)]
    pub offline: bool,
    /// API base URL (default: VENICE_BASE_URL or https://api.venice.ai/api/v1).
    // The comment is `--help` text too, where a URL is printed as written.
    #[allow(rustdoc::bare_urls)]
    #[arg(long, global = true, env = "VENICE_BASE_URL", hide_env_values = true)]
    pub base_url: Option<String>,
    /// Show details (error causes, retries).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Skip the model-catalogue check before sending.
    #[arg(long, global = true)]
    pub no_validate: bool,
    /// Refuse to send when the model catalogue cannot be read (by default a warning,
    /// and the request goes out unchecked).
    #[arg(long, global = true, conflicts_with = "no_validate")]
    pub strict_validate: bool,
    /// Wallet: when a request is refused for lack of credit, top up this many USD (at
    /// least the server's minimum) and retry it once.
    #[arg(long, global = true, value_name = "USD")]
    pub auto_top_up: Option<f64>,
    /// Wallet: the most USD `--auto-top-up` may spend in this command (default: one
    /// top-up of the --auto-top-up amount).
    #[arg(long, global = true, value_name = "USD", requires = "auto_top_up")]
    pub max_top_up: Option<f64>,
    /// Record this command's traffic (scrubbed of credentials) to a cassette FILE, for
    /// `venice-mock replay` / `check` or a bug report.
    #[arg(long, global = true, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    // Generate one image (or up to MAX_VARIANTS variants) from a prompt.
    #[command(about = format!(
        "Generate one image (or up to {} variants) from a prompt",
        limits::MAX_VARIANTS
    ))]
    Generate(Box<GenerateArgs>),
    /// Run many generation jobs from a JSONL file, resumably.
    Batch(Box<BatchArgs>),
    /// List image models with their sizing mode, limits and price.
    Models(ModelsArgs),
    /// List image style presets.
    Styles(ListArgs),
    /// Upscale an image 2x to 4x (PNG).
    Upscale(Box<UpscaleArgs>),
    /// Edit an image as a prompt says.
    Edit(Box<EditArgs>),
    /// Edit with several images, the base first.
    MultiEdit(Box<MultiEditArgs>),
    /// Remove the background (PNG with transparency).
    RemoveBg(Box<RemoveBgArgs>),
    /// Show the x402 wallet balance (wallet credentials, or --offline for an ephemeral wallet).
    Balance(BalanceArgs),
    /// Show the API key's balance, tier and the rate limits of the image models.
    Account(ListArgs),
    /// Add USD credit to the x402 wallet (USDC on Base or Solana), after showing the
    /// payment and asking.
    TopUp(TopUpArgs),
    /// Generate through the OpenAI-compatible endpoint (one image).
    Openai(Box<OpenAiArgs>),
    /// Write DIR/index.html, a contact sheet of the images and sidecars in DIR (no
    /// network, no credentials).
    Sheet(SheetArgs),
}

/// `sheet`.
#[derive(Debug, Args)]
pub struct SheetArgs {
    /// The directory: the --out of generate, batch, edit, upscale… (runs of several
    /// commands may share it).
    pub dir: PathBuf,
    /// Inline the thumbnails in index.html, so the one file can be mailed (the
    /// originals stay links into DIR).
    #[arg(long)]
    pub embed: bool,
    /// Open the sheet with the system viewer (or VENICE_IMAGE_OPENER).
    #[arg(long)]
    pub open: bool,
    /// Print the sheet's path and totals as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `openai`: every field of the OpenAI-compatible request.
#[derive(Debug, Args)]
pub struct OpenAiArgs {
    // What to draw (at most MAX_OPENAI_PROMPT_CHARS characters).
    #[arg(help = format!("What to draw (at most {} characters)", limits::MAX_OPENAI_PROMPT_CHARS))]
    pub prompt: String,
    /// Image model ID (default: the catalogue's model with the `default` trait, which the
    /// request then names: the server needs one).
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    /// Size (server default auto, i.e. 1024x1024).
    #[arg(long, value_enum, ignore_case = true)]
    pub size: Option<OpenAiSize>,
    // Output format (server default png).
    #[arg(long, help = format!("Output format ({}; server default png)", listed(&Format::ALL, Format::as_str)))]
    pub output_format: Option<String>,
    /// How the image comes back (server default b64_json; url is a data URL); both are
    /// saved the same.
    #[arg(long, value_enum, ignore_case = true)]
    pub response_format: Option<ResponseFormat>,
    /// Moderation: auto (safe mode on, the default) or low (off).
    #[arg(long, value_enum, ignore_case = true)]
    pub moderation: Option<Moderation>,
    /// Number of images; Venice returns one, so only 1 is accepted.
    #[arg(long = "n", value_name = "N", allow_negative_numbers = true)]
    pub n: Option<i64>,
    /// OpenAI's quality (accepted, not used).
    #[arg(long, value_enum, ignore_case = true)]
    pub quality: Option<OpenAiQuality>,
    /// OpenAI's style (accepted, not used).
    #[arg(long, value_enum, ignore_case = true)]
    pub style: Option<OpenAiStyle>,
    /// OpenAI's background (accepted, not used).
    #[arg(long, value_enum, ignore_case = true)]
    pub background: Option<OpenAiBackground>,
    // OpenAI's output compression (accepted, not used).
    #[arg(long, allow_negative_numbers = true, help = format!(
        "OpenAI's output compression, {}-{} (accepted, not used)",
        bounds::SIMPLE_GENERATE_IMAGE_REQUEST_OUTPUT_COMPRESSION_MIN,
        bounds::SIMPLE_GENERATE_IMAGE_REQUEST_OUTPUT_COMPRESSION_MAX
    ))]
    pub output_compression: Option<i64>,
    /// OpenAI's end-user identifier (accepted, not used).
    #[arg(long)]
    pub user: Option<String>,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Options of `balance`.
#[derive(Debug, Args, Clone)]
pub struct BalanceArgs {
    /// Also list the newest N ledger entries (1-100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub transactions: Option<u32>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The `--safe-mode` / `--no-safe-mode` pair, shared by `generate` and the edit commands.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct SafeModeArgs {
    /// Blur adult content (the server default).
    #[arg(long, conflicts_with = "no_safe_mode")]
    pub safe_mode: bool,
    /// Do not blur adult content.
    #[arg(long)]
    pub no_safe_mode: bool,
}

impl SafeModeArgs {
    /// What to send: `None` leaves the server default (blurring on).
    pub fn choice(self) -> Option<bool> {
        match (self.safe_mode, self.no_safe_mode) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

/// Fields of one generation, shared by `generate` and batch jobs.
#[derive(Debug, Args, Clone, Default)]
pub struct JobArgs {
    /// Image model ID (see `venice-image models`).
    #[arg(long, short = 'm', default_value = "venice-sd35")]
    pub model: String,
    /// Pixel size WIDTHxHEIGHT, for pixel-sized models.
    #[arg(long, conflicts_with = "aspect")]
    pub size: Option<String>,
    /// Aspect ratio W:H, for aspect-ratio models.
    #[arg(long)]
    pub aspect: Option<String>,
    /// Resolution tier (1K, 2K, 4K), with --aspect.
    #[arg(long, requires = "aspect")]
    pub resolution: Option<String>,
    // Quality, for models that offer it.
    #[arg(long, help = format!(
        "Quality ({}), for models that offer it",
        listed(types::ImageQuality::ALL, types::ImageQuality::as_str)
    ))]
    pub quality: Option<String>,
    // Output format.
    #[arg(long, help = format!("Output format ({})", listed(&Format::ALL, Format::as_str)))]
    pub format: Option<String>,
    // Number of images.
    #[arg(long, help = format!("Number of images (1-{})", limits::MAX_VARIANTS))]
    pub variants: Option<u8>,
    /// Seed for reproducible output.
    #[arg(long, allow_hyphen_values = true)]
    pub seed: Option<i64>,
    /// What should not be in the image.
    #[arg(long)]
    pub negative: Option<String>,
    /// Style preset (see `venice-image styles`).
    #[arg(long)]
    pub style: Option<String>,
    // CFG scale, above 0 and at most MAX_CFG_SCALE.
    #[arg(long, allow_negative_numbers = true, help = format!("CFG scale (0, {}]", limits::MAX_CFG_SCALE))]
    pub cfg_scale: Option<f64>,
    /// `--safe-mode` / `--no-safe-mode`.
    #[command(flatten)]
    pub safe_mode: SafeModeArgs,
    /// Ask to hide the Venice watermark.
    #[arg(long)]
    pub hide_watermark: bool,
    /// Embed the generation parameters in the image's EXIF metadata.
    #[arg(long)]
    pub exif: bool,
    /// Let the server rewrite the prompt first (extra charge).
    #[arg(long)]
    pub enhance_prompt: bool,
    /// Let the model search the web (extra charge; some models).
    #[arg(long)]
    pub web_search: bool,
    /// Request fields beyond the common ones.
    #[command(flatten)]
    pub more: MoreJobArgs,
}

/// The less common fields of a generation (steps, LoRA, style references...).
#[derive(Debug, Args, Clone, Default)]
pub struct MoreJobArgs {
    /// Inference steps (the catalogue gives each model's maximum).
    #[arg(long, allow_negative_numbers = true)]
    pub steps: Option<i64>,
    // LoRA strength.
    #[arg(long, allow_negative_numbers = true, help = format!("LoRA strength, 0 to {}", limits::MAX_LORA_STRENGTH))]
    pub lora_strength: Option<i64>,
    /// Skip the model's prompt-optimisation thinking step.
    #[arg(long)]
    pub disable_prompt_optimization_thinking: bool,
    // An image guiding the style, optionally with its strength.
    #[arg(long = "style-reference", value_name = "PATH_OR_URL[::STRENGTH]", help = format!(
        "An image guiding the style: a PNG/JPEG/WebP file, an http(s) URL or a data URI, \
         optionally `::STRENGTH` ({} to {}). Repeat for more (up to the model's \
         `maxStyleReferences`)",
        limits::MIN_STYLE_REFERENCE_STRENGTH,
        limits::MAX_STYLE_REFERENCE_STRENGTH
    ))]
    pub style_references: Vec<String>,
}

/// `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to draw.
    pub prompt: String,
    /// Generation options.
    #[command(flatten)]
    pub job: JobArgs,
    /// Ask for the binary image and stream it to disk (one variant).
    #[arg(long)]
    pub binary: bool,
    /// Output directory, or a file path for a single image.
    #[arg(long, short = 'o', default_value = ".")]
    pub out: PathBuf,
    /// Print one JSON object instead of paths.
    #[arg(long)]
    pub json: bool,
    /// Print the request and its estimated cost without sending it.
    #[arg(long)]
    pub dry_run: bool,
    /// Exit with code 3 when the server blurred the result.
    #[arg(long)]
    pub fail_on_blurred: bool,
    /// Cost cap, overwriting and preview.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// JSONL file: one job per line (same fields as `generate`, plus optional `id`).
    pub jobs: PathBuf,
    /// Output directory (holds the images, sidecars and `manifest.jsonl`).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Jobs in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Continue an interrupted batch: skip jobs already saved. Failed jobs are re-run,
    /// except those that may already have been charged (see `--retry-charged`).
    #[arg(long)]
    pub resume: bool,
    /// With `--resume`, also re-run failed jobs that may already have been charged (a
    /// 500/504, a timeout or a broken or undecodable 200 response): they may be paid twice.
    #[arg(long, requires = "resume")]
    pub retry_charged: bool,
    /// Stop starting jobs before the estimated spend would exceed this many USD.
    #[arg(long)]
    pub max_cost: Option<f64>,
    /// Start even when the estimated cost of the jobs to run exceeds the balance (checked
    /// before the first request: `/billing/balance` for an API key, the x402 balance for
    /// a wallet).
    #[arg(long)]
    pub ignore_balance: bool,
    /// Share the rate-limit budget with every batch (or service) using the same
    /// credentials through this Redis (`redis://[:password@]host:port[/db]`), so that
    /// together they stay under the limits. Unreachable: each paces alone, with a warning.
    #[arg(
        long,
        env = "VENICE_PACING_REDIS",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub pacing_redis: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write OUT/index.html, a contact sheet of the batch, and keep it current while
    /// the batch runs (it reloads itself; see `venice-image sheet`).
    #[arg(long)]
    pub sheet: bool,
}

/// `models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// `--json`.
    #[command(flatten)]
    pub list: ListArgs,
    /// With --json: print the whole catalogue (every model type) byte for byte as the
    /// server sent it, e.g. to serve it with `venice-mock --catalogue FILE`.
    #[arg(long)]
    pub as_sent: bool,
}

/// `models`, `styles`, `account`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safe_mode_of(args: &[&str]) -> Option<bool> {
        let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{e}"));
        match cli.command {
            Command::Generate(g) => g.job.safe_mode.choice(),
            Command::Edit(e) => e.options.safe_mode.choice(),
            _ => panic!("unexpected command"),
        }
    }

    #[test]
    fn safe_mode_flags_are_tri_state_and_exclusive() {
        assert_eq!(safe_mode_of(&["venice-image", "generate", "p"]), None);
        let g = ["venice-image", "generate", "p", "--safe-mode"];
        assert_eq!(safe_mode_of(&g), Some(true));
        let g = ["venice-image", "generate", "p", "--no-safe-mode"];
        assert_eq!(safe_mode_of(&g), Some(false));
        assert_eq!(safe_mode_of(&["venice-image", "edit", "p", "in.png"]), None);
        for both in [
            [
                "venice-image",
                "generate",
                "p",
                "--no-safe-mode",
                "--safe-mode",
            ],
            ["venice-image", "edit", "p", "--safe-mode", "--no-safe-mode"],
        ] {
            let e = Cli::try_parse_from(both).expect_err("contradictory");
            assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        }
    }

    #[test]
    fn negative_numbers_parse_without_an_equals_sign() {
        let cli = Cli::try_parse_from(["venice-image", "generate", "p", "--cfg-scale", "-1"])
            .unwrap_or_else(|e| panic!("{e}"));
        let Command::Generate(g) = cli.command else {
            panic!("unexpected command")
        };
        assert_eq!(g.job.cfg_scale, Some(-1.0));
        let cli = Cli::try_parse_from(["venice-image", "generate", "p", "--steps", "-2"])
            .unwrap_or_else(|e| panic!("{e}"));
        let Command::Generate(g) = cli.command else {
            panic!("unexpected command")
        };
        assert_eq!(g.job.more.steps, Some(-2));
    }
}

/// Where and how results are reported; shared by the image operations.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Output directory, or a file path.
    #[arg(long, short = 'o', default_value = ".")]
    pub out: PathBuf,
    /// Print one JSON object instead of the path.
    #[arg(long)]
    pub json: bool,
    /// Check the inputs and print the request and its estimated cost without sending it.
    #[arg(long)]
    pub dry_run: bool,
    /// Cost cap, overwriting and preview.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Options of every command that pays for one image request.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Refuse (before sending) when the estimated cost is above this many USD.
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
    /// Replace an existing file at --out (refused otherwise).
    #[arg(long)]
    pub force: bool,
    /// Open the saved image(s) with the system viewer (or VENICE_IMAGE_OPENER).
    #[arg(long)]
    pub open: bool,
}

/// `upscale`.
#[derive(Debug, Args)]
pub struct UpscaleArgs {
    /// Image file or base64 / data URI (URLs are not accepted by upscale).
    pub image: String,
    // Scale factor.
    #[arg(long, default_value_t = limits::MIN_UPSCALE_SCALE, help = format!(
        "Scale factor, {} to {}",
        limits::MIN_UPSCALE_SCALE,
        limits::MAX_UPSCALE_SCALE
    ))]
    pub scale: f64,
    // Detail the upscaler adds.
    #[arg(long, help = format!(
        "Detail the upscaler adds, 0 to {} (server default 0.01)",
        limits::MAX_UPSCALE_CREATIVITY
    ))]
    pub creativity: Option<f64>,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Options of `edit` and `multi-edit`.
#[derive(Debug, Args, Clone)]
pub struct EditOptions {
    /// Edit model ID (server default firered-image-edit; `venice-image models` lists
    /// generation models, edit models are of type inpaint).
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    // Output aspect ratio.
    #[arg(long, help = format!(
        "Output aspect ratio: {}",
        listed(types::EditAspectRatio::ALL, types::EditAspectRatio::as_str)
    ))]
    pub aspect: Option<String>,
    /// Resolution tier (1K, 2K, 4K).
    #[arg(long)]
    pub resolution: Option<String>,
    // Output format.
    #[arg(long, help = format!("Output format ({})", listed(&Format::ALL, Format::as_str)))]
    pub format: Option<String>,
    /// `--safe-mode` / `--no-safe-mode`.
    #[command(flatten)]
    pub safe_mode: SafeModeArgs,
    /// Let the server rewrite the prompt from the image first (extra charge).
    #[arg(long)]
    pub enhance_prompt: bool,
    /// Skip the model's prompt-optimisation thinking step (models that support it).
    #[arg(long)]
    pub disable_prompt_optimization_thinking: bool,
}

/// `edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// What to change.
    pub prompt: String,
    /// Image file, http(s) URL, or base64 / data URI.
    pub image: String,
    /// Edit options.
    #[command(flatten)]
    pub options: EditOptions,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `multi-edit`.
#[derive(Debug, Args)]
pub struct MultiEditArgs {
    /// What to change.
    pub prompt: String,
    /// Images (files, URLs or base64), the base first.
    #[arg(required = true)]
    pub images: Vec<String>,
    // Output quality, for models that offer it.
    #[arg(long, help = format!(
        "Output quality ({}), for models that offer it",
        listed(types::ImageQuality::ALL, types::ImageQuality::as_str)
    ))]
    pub quality: Option<String>,
    /// Edit options.
    #[command(flatten)]
    pub options: EditOptions,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `remove-bg`.
#[derive(Debug, Args)]
pub struct RemoveBgArgs {
    /// Image file, http(s) URL, or base64 / data URI.
    pub image: String,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `top-up`.
#[derive(Debug, Args)]
pub struct TopUpArgs {
    /// USD to add (at least the server's minimum top-up, $5 on Venice).
    #[arg(value_name = "USD")]
    pub usd: f64,
    /// Sign without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the receipt as JSON.
    #[arg(long)]
    pub json: bool,
}
