//! An existing file at `--out`: the library's `save` never overwrites, so the CLI
//! refuses before sending (nothing is paid for an image that could not be saved), and
//! `--force` saves with `IfExists::Replace`: the new file is renamed over the old one,
//! so an interrupted run leaves the old image, never none.

use std::path::Path;

use venice_image::IfExists;

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

/// How to save the new image at `path`: with `force`, replacing whatever is there;
/// without, a file that appeared since [`check_free`] is refused rather than
/// overwritten.
pub fn make_room(path: &Path, force: bool) -> Result<IfExists, CliError> {
    if force {
        return Ok(IfExists::Replace);
    }
    if path.exists() {
        return Err(CliError::Io(format!(
            "{} appeared while the request ran; not overwritten",
            path.display()
        )));
    }
    Ok(IfExists::Fail)
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
        // Forced: the old file stays until the new one is renamed over it.
        assert_eq!(make_room(&file, true).expect("forced"), IfExists::Replace);
        assert!(file.exists());
        let free = dir.path().join("free.png");
        assert_eq!(make_room(&free, false).expect("free"), IfExists::Fail);
        assert!(check_free(&Target::Dir(dir.path().into()), 1, "png", false).is_ok());
    }
}
