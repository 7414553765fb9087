//! Saving images: which file a path names, and writing it atomically; an existing file
//! is never replaced unless the caller says so ([`IfExists::Replace`]).
//!
//! A path names a directory when it is an existing directory or ends with a path
//! separator (`out/`); the directory is created when missing and the file is named by
//! the image (`<id>-<index>.<ext>`), with `-2`, `-3`... added when that name is taken.
//! Any other path names the file itself: its extension is set to the format's, missing
//! parent directories are created, and an existing file is an error (`AlreadyExists`).
//!
//! The bytes go to a `.partial` file beside the target, are fsynced, and are then
//! hard-linked to the final name, which fails instead of overwriting. On file systems
//! without hard links the final name is checked, then renamed into place. Replacing
//! renames the `.partial` file over the final name, so a reader sees the old file or
//! the new one, never a half-written one.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};
use crate::format::Format;

/// Most `-N` suffixes tried in a directory before giving up.
const MAX_SUFFIX: u32 = 10_000;

/// What saving does when the file it would write is already there.
///
/// ```no_run
/// # async fn run(image: venice_image::Image) -> venice_image::Result<()> {
/// use venice_image::IfExists;
///
/// // A thumbnail service that regenerates its files says so.
/// image.save_with("thumbs/pixels.png", IfExists::Replace).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IfExists {
    /// Never touch an existing file (the default, and what `save` does): a file path
    /// that is taken fails with [`Error::Io`] (`ErrorKind::AlreadyExists`); in a
    /// directory the next free name (`-2`, `-3`...) is taken.
    #[default]
    Fail,
    /// Replace the file atomically (write beside it, then rename over it): a reader
    /// sees the old file or the new one. In a directory, the image's own file name
    /// is replaced instead of a `-2`... name being taken.
    Replace,
}

/// Where an image goes.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The directory, or the file.
    path: PathBuf,
    /// `path` is a directory: the file is named `<stem>.<ext>` inside it.
    dir: bool,
    stem: String,
    ext: &'static str,
    if_exists: IfExists,
}

impl Target {
    /// The target of saving an image named `stem` in `format` to `path`.
    pub(crate) fn new(path: &Path, stem: &str, format: Format) -> Self {
        let dir = path.as_os_str().is_empty() || path.is_dir() || ends_with_separator(path);
        let path = if path.as_os_str().is_empty() {
            PathBuf::from(".")
        } else if dir {
            path.to_path_buf()
        } else {
            let ok = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| format.matches_extension(e));
            if ok {
                path.to_path_buf()
            } else {
                path.with_extension(format.extension())
            }
        };
        Self {
            path,
            dir,
            stem: stem.to_owned(),
            ext: format.extension(),
            if_exists: IfExists::Fail,
        }
    }

    /// The same target, with `if_exists` deciding what happens to a file already there.
    pub(crate) fn if_exists(mut self, if_exists: IfExists) -> Self {
        self.if_exists = if_exists;
        self
    }

    /// A directory target, whatever is at `dir` now.
    pub(crate) fn dir(dir: &Path, stem: &str, format: Format) -> Self {
        let mut t = Self::new(dir, stem, format);
        t.path = dir.to_path_buf();
        t.dir = true;
        t
    }

    /// The file names to try, in order.
    fn candidates(&self) -> impl Iterator<Item = PathBuf> + '_ {
        let n = if self.dir { MAX_SUFFIX } else { 1 };
        (1..=n).map(move |i| {
            if !self.dir {
                self.path.clone()
            } else if i == 1 {
                self.path.join(format!("{}.{}", self.stem, self.ext))
            } else {
                self.path.join(format!("{}-{i}.{}", self.stem, self.ext))
            }
        })
    }

    /// The first candidate (what the `.partial` file is named after).
    fn first(&self) -> PathBuf {
        self.candidates()
            .next()
            .unwrap_or_else(|| self.path.clone())
    }

    /// Create the directory the file goes into.
    fn prepare(&self) -> Result<()> {
        let dir = if self.dir {
            Some(self.path.as_path())
        } else {
            self.path.parent().filter(|p| !p.as_os_str().is_empty())
        };
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        Ok(())
    }

    /// Link the finished `partial` file to the first free candidate and remove it (or,
    /// when replacing, rename it over the first candidate).
    fn place(&self, partial: &Path) -> Result<PathBuf> {
        if self.if_exists == IfExists::Replace {
            let target = self.first();
            return match std::fs::rename(partial, &target) {
                Ok(()) => Ok(target),
                Err(e) => {
                    let _ = std::fs::remove_file(partial);
                    Err(io_err(&target)(e))
                }
            };
        }
        let result = (|| {
            for candidate in self.candidates() {
                match link_new(partial, &candidate) {
                    Ok(()) => return Ok(candidate),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && self.dir => continue,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return Err(Error::Io {
                            path: candidate,
                            source: io::Error::new(
                                io::ErrorKind::AlreadyExists,
                                "a file is already there; saving never overwrites",
                            ),
                        });
                    }
                    Err(e) => return Err(io_err(&candidate)(e)),
                }
            }
            Err(Error::Io {
                path: self.path.clone(),
                source: io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{MAX_SUFFIX} files named {}-N already exist", self.stem),
                ),
            })
        })();
        let _ = std::fs::remove_file(partial);
        result
    }
}

fn ends_with_separator(path: &Path) -> bool {
    path.as_os_str()
        .to_string_lossy()
        .chars()
        .last()
        .is_some_and(std::path::is_separator)
}

/// Give `partial` the name `target` unless something is there already.
fn link_new(partial: &Path, target: &Path) -> io::Result<()> {
    match std::fs::hard_link(partial, target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        // No hard links on this file system: check, then rename (a race with another
        // writer of the same name is possible here, nowhere else).
        Err(_) if target.symlink_metadata().is_ok() => {
            Err(io::Error::from(io::ErrorKind::AlreadyExists))
        }
        Err(_) => std::fs::rename(partial, target),
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `<target>.<pid>-<n>.partial`: unique per process and call, and removed by the
/// CLI's `batch --resume` when a crash left it behind.
fn partial_path(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut name = target
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(
        ".{}-{}.partial",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    target.with_file_name(name)
}

/// Write `bytes` to `target` (blocking file I/O).
pub(crate) fn write_blocking(target: &Target, bytes: &[u8]) -> Result<PathBuf> {
    target.prepare()?;
    let partial = partial_path(&target.first());
    let written = (|| {
        let mut f = std::fs::File::create(&partial).map_err(io_err(&partial))?;
        f.write_all(bytes).map_err(io_err(&partial))?;
        f.sync_all().map_err(io_err(&partial))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    target.place(&partial)
}

/// Run blocking file work on Tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    what: &Path,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Io {
            path: what.to_path_buf(),
            source: io::Error::other(e),
        })?
}

/// Write `bytes` to `target` off the async runtime.
pub(crate) async fn write(target: Target, bytes: Bytes) -> Result<PathBuf> {
    let path = target.path.clone();
    blocking(&path, move || write_blocking(&target, &bytes)).await
}

/// Stream `body` to `target`: chunks are written as they arrive.
pub(crate) async fn write_stream<S>(target: Target, body: S) -> Result<PathBuf>
where
    S: Stream<Item = std::result::Result<Bytes, reqwest::Error>> + Unpin,
{
    let path = target.path.clone();
    let target = blocking(&path, move || target.prepare().map(|()| target)).await?;
    let partial = partial_path(&target.first());
    let mut body = body;
    let written = async {
        let mut file = tokio::fs::File::create(&partial)
            .await
            .map_err(io_err(&partial))?;
        while let Some(chunk) = body.try_next().await.map_err(Error::from_body_read)? {
            file.write_all(&chunk).await.map_err(io_err(&partial))?;
        }
        file.flush().await.map_err(io_err(&partial))?;
        file.sync_all().await.map_err(io_err(&partial))
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e);
    }
    blocking(&path, move || target.place(&partial)).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_a_directory_or_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let t = Target::new(d, "gen-0", Format::Png);
        assert!(t.dir);
        let slash = d.join("new").to_string_lossy().into_owned() + "/";
        assert!(Target::new(Path::new(&slash), "x", Format::Png).dir);
        let f = Target::new(&d.join("cat.jpg"), "x", Format::Png);
        assert!(!f.dir);
        assert_eq!(f.path, d.join("cat.png"));
        assert_eq!(
            Target::new(&d.join("x.PNG"), "x", Format::Png).path,
            d.join("x.PNG")
        );
        assert_eq!(
            Target::new(&d.join("dog"), "x", Format::Webp).path,
            d.join("dog.webp")
        );
        assert_eq!(
            Target::new(&d.join("a.jpeg"), "x", Format::Jpeg).path,
            d.join("a.jpeg")
        );
        assert!(Target::new(Path::new(""), "x", Format::Png).dir);
    }

    #[test]
    fn never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let file = Target::new(&dir.path().join("a.png"), "x", Format::Png);
        assert_eq!(
            write_blocking(&file, b"one").unwrap(),
            dir.path().join("a.png")
        );
        let e = write_blocking(&file, b"two").unwrap_err();
        match e {
            Error::Io { path, source } => {
                assert_eq!(path, dir.path().join("a.png"));
                assert_eq!(source.kind(), io::ErrorKind::AlreadyExists);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read(dir.path().join("a.png")).unwrap(), b"one");
        // In a directory the next free name is taken.
        let in_dir = Target::new(dir.path(), "gen-0", Format::Png);
        let p1 = write_blocking(&in_dir, b"1").unwrap();
        let p2 = write_blocking(&in_dir, b"2").unwrap();
        assert_eq!(p1, dir.path().join("gen-0.png"));
        assert_eq!(p2, dir.path().join("gen-0-2.png"));
        assert_eq!(std::fs::read(p1).unwrap(), b"1");
        // No .partial file is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".partial")), "{names:?}");
        assert_eq!(names.len(), 3);
    }

    #[test]
    fn replaces_only_when_asked_and_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pixels.png");
        let keep = Target::new(&path, "x", Format::Png);
        write_blocking(&keep, b"old").unwrap();
        let replace = Target::new(&path, "x", Format::Png).if_exists(IfExists::Replace);
        assert_eq!(write_blocking(&replace, b"new").unwrap(), path);
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        // The default still refuses, and says why in its message.
        let e = write_blocking(&keep, b"third").unwrap_err();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let text = e.to_string();
        assert!(
            text.contains("pixels.png") && text.contains("never overwrites"),
            "{text}"
        );
        // In a directory, the image's own name is replaced; no `-2` appears.
        let in_dir = Target::new(dir.path(), "gen-0", Format::Png).if_exists(IfExists::Replace);
        write_blocking(&in_dir, b"1").unwrap();
        assert_eq!(
            write_blocking(&in_dir, b"2").unwrap(),
            dir.path().join("gen-0.png")
        );
        assert_eq!(std::fs::read(dir.path().join("gen-0.png")).unwrap(), b"2");
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["gen-0.png", "pixels.png"]);
    }

    #[test]
    fn io_errors_name_their_cause() {
        let e = Error::Io {
            path: PathBuf::from("thumbs/pixels.png"),
            source: io::Error::new(io::ErrorKind::PermissionDenied, "permission denied"),
        };
        assert_eq!(
            e.to_string(),
            "I/O error on thumbs/pixels.png: permission denied"
        );
    }

    #[test]
    fn creates_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let nested = Target::new(&dir.path().join("a/b/c.png"), "x", Format::Png);
        assert_eq!(
            write_blocking(&nested, b"x").unwrap(),
            dir.path().join("a/b/c.png")
        );
        let new_dir = Target::dir(&dir.path().join("fresh"), "gen-1", Format::Webp);
        assert_eq!(
            write_blocking(&new_dir, b"x").unwrap(),
            dir.path().join("fresh/gen-1.webp")
        );
        // A directory target that is a file cannot be created.
        std::fs::write(dir.path().join("file"), b"x").unwrap();
        let blocked = Target::dir(&dir.path().join("file"), "g", Format::Png);
        assert!(matches!(
            write_blocking(&blocked, b"x"),
            Err(Error::Io { .. })
        ));
    }
}
