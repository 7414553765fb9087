//! Thumbnails: a small JPEG (PNG when the image has transparency) of each image in the
//! sheet's folder, made on all cores and kept while newer than its image, so refreshing
//! the sheet of a running batch only makes the new ones. An image no larger than a
//! thumbnail is its own thumbnail.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, ExtendedColorType, ImageEncoder, ImageReader};

use super::model::{FILES_DIR, JOBS_FILE};

/// Longest side of a thumbnail in pixels (about twice a tile's width, for sharp
/// thumbnails on high-density screens).
pub const SIDE: u32 = 400;
/// JPEG quality of the thumbnails.
const JPEG_QUALITY: u8 = 80;

/// The thumbnail of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumb {
    /// Its path relative to the directory, as segments (`["sheet", "a-0.png.jpg"]`, or
    /// the image itself).
    pub path: Vec<String>,
    /// Its pixel size.
    pub size: (u32, u32),
    /// The pixel size of the image it shows.
    pub original: (u32, u32),
}

impl Thumb {
    /// The MIME type of the thumbnail file, from its extension.
    pub fn mime(&self) -> &'static str {
        let name = self.path.last().map(String::as_str).unwrap_or("");
        match Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => "image/png",
            Some("webp") => "image/webp",
            _ => "image/jpeg",
        }
    }
}

/// Make or reuse the thumbnails of `images` (file names in `dir`), in order; an image
/// that cannot be read gets the reason instead. Thumbnails of images no longer listed
/// are removed.
pub fn make_all(dir: &Path, images: &[String]) -> std::io::Result<Vec<Result<Thumb, String>>> {
    let folder = dir.join(FILES_DIR);
    std::fs::create_dir_all(&folder)?;
    let results: Vec<Mutex<Option<Result<Thumb, String>>>> =
        images.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(images.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(name) = images.get(i) else {
                        break;
                    };
                    let made = thumbnail(dir, &folder, name);
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(made);
                    }
                }
            });
        }
    });
    let results: Vec<Result<Thumb, String>> = results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err("not made".to_owned()))
        })
        .collect();
    prune(&folder, &results);
    Ok(results)
}

fn dimensions(path: &Path) -> Result<(u32, u32), String> {
    ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .into_dimensions()
        .map_err(|e| e.to_string())
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn thumbnail(dir: &Path, folder: &Path, name: &str) -> Result<Thumb, String> {
    let source = dir.join(name);
    let original = dimensions(&source)?;
    if original.0 <= SIDE && original.1 <= SIDE {
        return Ok(Thumb {
            path: vec![name.to_owned()],
            size: original,
            original,
        });
    }
    let source_time = modified(&source);
    for ext in ["jpg", "png"] {
        let file = format!("{name}.{ext}");
        let path = folder.join(&file);
        if modified(&path).is_some_and(|t| Some(t) >= source_time)
            && let Ok(size) = dimensions(&path)
        {
            return Ok(Thumb {
                path: vec![FILES_DIR.to_owned(), file],
                size,
                original,
            });
        }
    }
    let image = ImageReader::open(&source)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .decode()
        .map_err(|e| e.to_string())?;
    let small = image.thumbnail(SIDE, SIDE);
    let (file, bytes) = encode(name, &small)?;
    let path = folder.join(&file);
    write_atomic(&path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Thumb {
        path: vec![FILES_DIR.to_owned(), file],
        size: (small.width(), small.height()),
        original,
    })
}

/// The thumbnail's file name and bytes: JPEG, or PNG to keep transparency.
fn encode(name: &str, small: &DynamicImage) -> Result<(String, Vec<u8>), String> {
    let mut bytes = Vec::new();
    let (w, h) = (small.width(), small.height());
    if small.color().has_alpha() {
        PngEncoder::new(&mut bytes)
            .write_image(small.to_rgba8().as_raw(), w, h, ExtendedColorType::Rgba8)
            .map_err(|e| e.to_string())?;
        Ok((format!("{name}.png"), bytes))
    } else {
        JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
            .write_image(small.to_rgb8().as_raw(), w, h, ExtendedColorType::Rgb8)
            .map_err(|e| e.to_string())?;
        Ok((format!("{name}.jpg"), bytes))
    }
}

/// Write through a temporary file and a rename: a browser reloading the sheet of a
/// running batch never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Remove the folder's files that are neither a current thumbnail nor the job list.
fn prune(folder: &Path, results: &[Result<Thumb, String>]) {
    let keep: Vec<&str> = results
        .iter()
        .flatten()
        .filter(|t| t.path.len() == 2)
        .map(|t| t.path[1].as_str())
        .collect();
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name != JOBS_FILE && !keep.contains(&name.as_ref()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn save(dir: &Path, name: &str, img: DynamicImage) {
        img.save(dir.join(name)).unwrap();
    }

    #[test]
    fn thumbnails_are_small_kept_while_fresh_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        save(d, "big.png", DynamicImage::new_rgb8(1200, 600));
        save(d, "alpha.png", DynamicImage::new_rgba8(900, 900));
        save(d, "small.webp", DynamicImage::new_rgb8(64, 32));
        std::fs::write(d.join("broken.jpeg"), b"not an image").unwrap();
        std::fs::create_dir_all(d.join(FILES_DIR)).unwrap();
        std::fs::write(d.join(FILES_DIR).join("gone.png.jpg"), b"stale").unwrap();
        std::fs::write(d.join(FILES_DIR).join(JOBS_FILE), b"[]").unwrap();
        let names: Vec<String> = ["big.png", "alpha.png", "small.webp", "broken.jpeg"]
            .map(String::from)
            .to_vec();
        let made = make_all(d, &names).unwrap();
        let big = made[0].as_ref().unwrap();
        assert_eq!(big.path, ["sheet", "big.png.jpg"]);
        assert_eq!((big.size, big.original), ((400, 200), (1200, 600)));
        assert_eq!(big.mime(), "image/jpeg");
        let alpha = made[1].as_ref().unwrap();
        assert_eq!(alpha.path, ["sheet", "alpha.png.png"]);
        assert_eq!(alpha.mime(), "image/png");
        let small = made[2].as_ref().unwrap();
        assert_eq!(
            (small.path.as_slice(), small.size),
            (["small.webp".to_owned()].as_slice(), (64, 32))
        );
        assert!(made[3].is_err());
        let folder = d.join(FILES_DIR);
        assert!(!folder.join("gone.png.jpg").exists(), "pruned");
        assert!(folder.join(JOBS_FILE).exists(), "the job list is kept");
        // A fresh thumbnail is reused, not made again.
        let before = modified(&folder.join("big.png.jpg"));
        let again = make_all(d, &names).unwrap();
        assert_eq!(again[0], made[0]);
        assert_eq!(modified(&folder.join("big.png.jpg")), before);
    }
}
