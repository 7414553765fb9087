//! `venice-image sheet DIR` and `batch --sheet`: a contact sheet of an output directory,
//! `DIR/index.html`, with a thumbnail per image in `DIR/sheet/`.
//!
//! - [`model`] reads the directory (sidecars, batch manifest, job list) into tiles;
//! - [`thumbs`] makes the thumbnails;
//! - [`html`] writes the page, with [`escape`] for every string in it;
//! - [`live`] keeps the sheet of a running batch current.

mod escape;
mod html;
mod live;
mod model;
mod thumbs;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use live::Live;
pub use model::JobSummary;
use model::Totals;

use crate::args::SheetArgs;
use crate::exit::CliError;
use crate::preview;
use crate::ui::pretty;

/// The page's name inside the directory.
pub const INDEX: &str = "index.html";

/// How a sheet is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Inline the thumbnails (`--embed`).
    pub embed: bool,
    /// A batch is running: the page reloads itself and says so.
    pub live: bool,
}

/// A written sheet.
#[derive(Debug)]
pub struct Written {
    /// The page.
    pub path: PathBuf,
    /// Its totals.
    pub totals: Totals,
    /// What could not be shown in full (unreadable sidecars, images without a preview).
    pub warnings: Vec<String>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |e| CliError::Io(format!("{}: {e}", path.display()))
}

/// Write the sheet of `dir` (blocking: reads every sidecar, decodes new images).
pub fn write(dir: &Path, options: Options) -> Result<Written, CliError> {
    let path = dir.join(INDEX);
    // Someone's own index.html is not ours to replace.
    let marker = format!("content=\"{}\"", html::GENERATOR);
    match std::fs::read(&path) {
        Ok(existing)
            if !existing
                .windows(marker.len())
                .any(|w| w == marker.as_bytes()) =>
        {
            return Err(CliError::Usage(format!(
                "{} exists and was not written by `venice-image sheet`; move it away first",
                path.display()
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&path)(e)),
    }
    let mut sheet = model::read(dir).map_err(io(dir))?;
    if sheet.tiles.is_empty() && !options.live {
        return Err(CliError::Usage(format!(
            "{} holds no images, sidecars or batch manifest to show",
            dir.display()
        )));
    }
    let mut warnings: Vec<String> = sheet
        .unreadable
        .iter()
        .map(|(name, why)| format!("cannot read the sidecar {name}: {why}"))
        .collect();
    let images: Vec<String> = sheet.tiles.iter().filter_map(|t| t.image.clone()).collect();
    let made = thumbs::make_all(dir, &images).map_err(io(&dir.join(model::FILES_DIR)))?;
    let mut previews = Vec::with_capacity(made.len());
    let with_image = sheet.tiles.iter_mut().filter(|t| t.image.is_some());
    for ((tile, name), thumb) in with_image.zip(&images).zip(made) {
        let preview = match thumb {
            Ok(thumb) => {
                tile.dimensions = tile.dimensions.or(Some(thumb.original));
                let embedded = if options.embed {
                    let file = thumb.path.iter().fold(dir.to_path_buf(), |p, s| p.join(s));
                    Some(std::fs::read(&file).map_err(io(&file))?)
                } else {
                    None
                };
                html::Preview::of(&thumb, embedded.as_deref())
            }
            Err(why) => {
                warnings.push(format!("no preview of {name}: {why}"));
                html::Preview::None(why)
            }
        };
        previews.push(preview);
    }
    let title = std::path::absolute(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string());
    let written = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let page = html::render(
        &sheet,
        &previews,
        &html::Page {
            title: &title,
            live: options.live,
            written: &written,
        },
    );
    thumbs::write_atomic(&path, page.as_bytes()).map_err(io(&path))?;
    Ok(Written {
        path,
        totals: sheet.totals,
        warnings,
    })
}

/// Run `sheet`.
pub async fn run(args: SheetArgs) -> Result<ExitCode, CliError> {
    if !args.dir.is_dir() {
        return Err(CliError::Usage(format!(
            "{} is not a directory",
            args.dir.display()
        )));
    }
    let dir = args.dir.clone();
    let options = Options {
        embed: args.embed,
        live: false,
    };
    let written = tokio::task::spawn_blocking(move || write(&dir, options))
        .await
        .map_err(|e| CliError::Other(format!("the sheet writer stopped: {e}")))??;
    for w in &written.warnings {
        eprintln!("warning: {w}");
    }
    if args.json {
        let v = serde_json::json!({ "sheet": written.path, "totals": written.totals });
        println!("{}", pretty(&v));
    } else {
        println!("{}", written.path.display());
    }
    if args.open {
        preview::open(std::slice::from_ref(&written.path));
    }
    Ok(ExitCode::SUCCESS)
}
