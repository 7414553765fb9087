//! An existing file at `--out`: the library's `save` never overwrites, so the CLI
//! refuses before sending (nothing is paid for an image that could not be saved), and
//! `--force` removes the old file just before the new one is linked into place.

use std::path::Path;

use crate::exit::CliError;
use crate::output::Target;

/// Refuse before sending when `--out` names a file (`count` images of extension `ext`)
/// that already exists, unless `force`. Directory targets pick free names themselves.
pub fn check_free(target: &Target, count: usize, ext: &str, force: bool) -> Result<(), CliError> {
    if force || matches!(target, Target::Dir(_)) {
        return Ok(());
    }
    match (0..count.max(1))
        .map(|i| target.image_path("", i, count, ext))
        .find(|p| p.exists())
    {
        None => Ok(()),
        Some(p) => Err(refusal(&p)),
    }
}

fn refusal(path: &Path) -> CliError {
    CliError::Usage(format!(
        "{} already exists; pass --force to replace it, or choose another --out (nothing was sent)",
        path.display()
    ))
}

/// Clear `path` for the new image: with `force`, remove the file there; without, a
/// file that appeared since [`check_free`] is refused rather than overwritten.
pub fn make_room(path: &Path, force: bool) -> Result<(), CliError> {
    if !path.exists() {
        return Ok(());
    }
    if !force {
        return Err(CliError::Io(format!(
            "{} appeared while the request ran; not overwritten",
            path.display()
        )));
    }
    std::fs::remove_file(path)
        .map_err(|e| CliError::Io(format!("cannot replace {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_file_is_refused_unless_forced() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("cat.png");
        let target = Target::File(file.clone());
        assert!(check_free(&target, 1, "png", false).is_ok());
        std::fs::write(&file, b"old").expect("write");
        let e = check_free(&target, 1, "png", false).expect_err("exists");
        assert!(
            e.to_string().starts_with(&file.display().to_string()),
            "{e}"
        );
        assert_eq!(e.exit_code(), crate::exit::USAGE);
        assert!(check_free(&target, 1, "png", true).is_ok());
        // The format decides the extension: cat.webp is free although cat.png is not.
        assert!(check_free(&target, 1, "webp", false).is_ok());
        let two = Target::File(dir.path().join("cat.jpg"));
        std::fs::write(dir.path().join("cat-1.png"), b"old").expect("write");
        assert!(check_free(&two, 2, "png", false).is_err());
        assert!(make_room(&file, false).is_err());
        make_room(&file, true).expect("removed");
        assert!(!file.exists());
        assert!(check_free(&Target::Dir(dir.path().into()), 1, "png", false).is_ok());
    }
}
