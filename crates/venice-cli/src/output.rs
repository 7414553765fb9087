//! Where results go: file names, sidecars, atomic writes.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::exit::CliError;

/// Where a command writes: a directory, or one file path (single image).
#[derive(Debug, Clone)]
pub enum Target {
    /// Write into this directory with generated names.
    Dir(PathBuf),
    /// Write this file (extension fixed to the image format); variants get `-N`.
    File(PathBuf),
}

impl Target {
    /// Interpret `--out`: an existing directory, a path ending in `/`, or a path without an
    /// extension is a directory; anything else is a file.
    pub fn from_out(out: &Path) -> Target {
        let text = out.to_string_lossy();
        if out.is_dir() || text.ends_with('/') || out.extension().is_none() {
            Target::Dir(out.to_path_buf())
        } else {
            Target::File(out.to_path_buf())
        }
    }

    /// The path for image `index` of `count`, named from `stem` in directory mode.
    pub fn image_path(&self, stem: &str, index: usize, count: usize, ext: &str) -> PathBuf {
        match self {
            Target::Dir(dir) => dir.join(format!("{stem}-{index}.{ext}")),
            Target::File(file) if count <= 1 => file.with_extension(ext),
            Target::File(file) => {
                let base = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| stem.to_string());
                file.with_file_name(format!("{base}-{index}.{ext}"))
            }
        }
    }

    /// A stem whose first image name is not taken yet in directory mode (`base`, then
    /// `base-2`, `base-3`…), so a second run never overwrites an earlier result.
    pub fn unique_stem(&self, base: &str) -> String {
        let Target::Dir(dir) = self else {
            return base.to_string();
        };
        let taken = |stem: &str| {
            std::fs::read_dir(dir).is_ok_and(|entries| {
                let prefix = format!("{stem}-0.");
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            })
        };
        let mut stem = base.to_string();
        let mut n = 2;
        while taken(&stem) {
            stem = format!("{base}-{n}");
            n += 1;
        }
        stem
    }

    /// Create the directory that will hold the files.
    pub fn prepare(&self) -> Result<(), CliError> {
        let dir = match self {
            Target::Dir(d) => d.clone(),
            Target::File(f) => f.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        if dir.as_os_str().is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::Io(format!("cannot create {}: {e}", dir.display())))
    }
}

/// A short file-name-safe stem from a prompt: lowercase words joined by `-`.
pub fn slug(prompt: &str, max: usize) -> String {
    let mut out = String::new();
    for c in prompt.chars() {
        if out.len() >= max {
            break;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "image".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The sidecar path of an image: `<image>.json`.
pub fn sidecar_path(image: &Path) -> PathBuf {
    let mut s = image.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// Write `value` as pretty JSON to `path` atomically: temp file, fsync, rename. A crash
/// leaves either the old file, or the new one, never half of one.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::Io(format!("cannot write {}: {e}", path.display()));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    let text = serde_json::to_vec_pretty(value)
        .map_err(|e| CliError::Other(format!("cannot encode {}: {e}", path.display())))?;
    f.write_all(&text).map_err(io)?;
    f.write_all(b"\n").map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

/// What a sidecar records about one saved image, so results are reproducible and auditable.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Sidecar {
    /// The image file this describes (file name only).
    pub image: String,
    /// Batch job ID, when from a batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Model ID.
    pub model: String,
    /// Prompt as sent.
    pub prompt: String,
    /// Negative prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    /// Seed sent (absent: the server picked one).
    pub seed: Option<i64>,
    /// Requested sizing (`1024x768`, `16:9`, `16:9@2K`, or `default`).
    pub sizing: String,
    /// Image format.
    pub format: String,
    /// Variant index.
    pub variant: usize,
    /// Pixel size of the saved image, when known.
    pub width: Option<u32>,
    /// Pixel height of the saved image, when known.
    pub height: Option<u32>,
    /// Request ID returned by the server.
    pub request_id: Option<String>,
    /// Wall time of the call in milliseconds.
    pub elapsed_ms: u128,
    /// Server-side total time in milliseconds, when reported.
    pub server_total_ms: Option<f64>,
    /// The server blurred the image (safe mode).
    pub blurred: bool,
    /// The image violates the terms of service.
    pub content_violation: bool,
    /// The rewritten prompt, when `enhance_prompt` was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enhanced_prompt: Option<String>,
    /// What this image cost (`null`: the catalogue could not price it; absent in
    /// sidecars written before costs were recorded).
    #[serde(default)]
    pub cost: Option<ImageCost>,
    /// Unix time the file was written.
    pub created_unix: u64,
}

/// What one image cost, as its sidecar records it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ImageCost {
    /// USD for this image (a request's price split evenly over its images).
    pub usd: f64,
    /// Whether `usd` is an estimate or what the provider reported charging.
    pub basis: CostBasis,
    /// What priced it: the catalogue entry and price used (`venice-sd35 x1`,
    /// `upscaler 2x`…).
    pub priced_as: String,
}

/// Where a recorded cost comes from.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CostBasis {
    /// Priced from the model catalogue before sending: the provider reports no charge
    /// per request, so this is what the CLI records today.
    Estimate,
    /// The charge the provider reported for the request.
    Charged,
}

impl ImageCost {
    /// Image `1 of images` of a request estimated at `total_usd`.
    pub fn estimated(total_usd: f64, images: usize, priced_as: impl Into<String>) -> ImageCost {
        ImageCost {
            usd: total_usd / images.max(1) as f64,
            basis: CostBasis::Estimate,
            priced_as: priced_as.into(),
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_and_safe() {
        assert_eq!(slug("A lighthouse, at dusk!", 40), "a-lighthouse-at-dusk");
        assert_eq!(slug("???", 40), "image");
        assert!(slug(&"word ".repeat(50), 20).len() <= 21);
    }

    #[test]
    fn a_path_with_an_extension_is_a_file_target() {
        let t = Target::from_out(Path::new("/tmp/nowhere-xyz/cat.png"));
        assert_eq!(
            t.image_path("s", 0, 1, "webp"),
            PathBuf::from("/tmp/nowhere-xyz/cat.webp")
        );
        assert_eq!(
            t.image_path("s", 1, 2, "png"),
            PathBuf::from("/tmp/nowhere-xyz/cat-1.png")
        );
        let d = Target::from_out(Path::new("/tmp/nowhere-xyz/out"));
        assert_eq!(
            d.image_path("stem", 2, 4, "jpeg"),
            PathBuf::from("/tmp/nowhere-xyz/out/stem-2.jpeg")
        );
    }

    #[test]
    fn atomic_json_leaves_no_partial_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("x.json");
        write_json_atomic(&p, &serde_json::json!({"a": 1})).expect("write");
        assert!(p.exists());
        assert!(!dir.path().join("x.json.partial").exists());
        assert_eq!(
            sidecar_path(Path::new("a/b.png")),
            PathBuf::from("a/b.png.json")
        );
    }
}
