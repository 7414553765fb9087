//! `--open`: show the saved image(s) in the system's image viewer.
//!
//! The viewer is started with `std::process::Command` (no dependency): `xdg-open` on
//! Linux and the BSDs, `open` on macOS, `cmd /C start` on Windows; `VENICE_IMAGE_OPENER`
//! names another program (`feh`, `imv`, `eog`…; run with the image path as its one
//! argument). A viewer that cannot be started is a warning: the image is saved either way.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable naming the program that opens an image.
pub const OPENER_VAR: &str = "VENICE_IMAGE_OPENER";

/// The command that opens `path`: `override_program` when set (and not blank), else the
/// platform's opener.
pub fn command(path: &Path, override_program: Option<OsString>) -> Command {
    if let Some(program) = override_program.filter(|p| !p.to_string_lossy().trim().is_empty()) {
        let mut c = Command::new(program);
        c.arg(path);
        return c;
    }
    platform_command(path)
}

#[cfg(target_os = "macos")]
fn platform_command(path: &Path) -> Command {
    let mut c = Command::new("open");
    c.arg(path);
    c
}

#[cfg(windows)]
fn platform_command(path: &Path) -> Command {
    // `start` is a shell built-in; its first quoted argument is a window title.
    let mut c = Command::new("cmd");
    c.args(["/C", "start", ""]).arg(path);
    c
}

#[cfg(not(any(target_os = "macos", windows)))]
fn platform_command(path: &Path) -> Command {
    let mut c = Command::new("xdg-open");
    c.arg(path);
    c
}

/// Open each of `paths`; failures are reported as warnings on stderr.
pub fn open(paths: &[PathBuf]) {
    for path in paths {
        // An absolute path: the viewer may resolve relative ones from elsewhere.
        let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        let mut cmd = command(&path, std::env::var_os(OPENER_VAR));
        // The openers hand the file to the viewer and return at once; waiting for them
        // keeps the viewer's exit status for the warning below.
        match cmd.status() {
            Ok(status) if status.success() => {}
            Ok(status) => eprintln!(
                "warning: could not open {} ({:?} exited with {status})",
                path.display(),
                cmd.get_program()
            ),
            Err(e) => eprintln!(
                "warning: could not open {} ({:?}: {e}); set {OPENER_VAR} to your image viewer",
                path.display(),
                cmd.get_program()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_override_wins_and_a_blank_one_is_ignored() {
        let p = Path::new("/tmp/a b.png");
        let c = command(p, Some("feh".into()));
        assert_eq!(c.get_program(), "feh");
        assert_eq!(c.get_args().collect::<Vec<_>>(), vec![p.as_os_str()]);
        let c = command(p, Some("  ".into()));
        let expected = if cfg!(target_os = "macos") {
            "open"
        } else if cfg!(windows) {
            "cmd"
        } else {
            "xdg-open"
        };
        assert_eq!(c.get_program(), expected);
        assert_eq!(c.get_args().last(), Some(p.as_os_str()));
    }
}
