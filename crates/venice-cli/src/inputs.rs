//! Images given on the command line (operation inputs and style references): read,
//! sniffed by their first bytes and refused before anything is uploaded when they are
//! not an image the provider accepts (PNG, JPEG or WebP).

use std::io::Read;
use std::path::Path;

use venice_image::{Error, Format, ImageInput, StyleReference};

use crate::exit::CliError;

/// How an argument names an image.
enum Kind {
    Url,
    DataUri,
    Path,
}

fn kind(arg: &str) -> Kind {
    let lower = arg.trim_start().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Kind::Url
    } else if lower.starts_with("data:") {
        Kind::DataUri
    } else {
        Kind::Path
    }
}

/// The refusal of an input that is not PNG, JPEG or WebP. `shown` names it: the file
/// name as given, or "the base64 image".
fn not_an_image(shown: &str) -> CliError {
    CliError::Usage(format!(
        "{shown} is not a PNG, JPEG or WebP image (checked by its first bytes); nothing was uploaded"
    ))
}

/// A missing or unreadable file is a usage error naming the file, not an API one.
fn io_to_usage(e: Error) -> CliError {
    match e {
        Error::Io { path, source } => {
            CliError::Usage(format!("cannot read {}: {source}", path.display()))
        }
        other => CliError::Client(other),
    }
}

/// Read an operation input: an http(s) URL (the server fetches it), a data URI, or a
/// file path. Files and data URIs must be PNG, JPEG or WebP.
pub fn image_input(arg: &str) -> Result<ImageInput, CliError> {
    match kind(arg) {
        Kind::Url => Ok(ImageInput::from_url(arg)?),
        Kind::DataUri => {
            let image = ImageInput::from_base64(arg)?;
            match image.format() {
                Some(_) => Ok(image),
                None => Err(not_an_image("the base64 image")),
            }
        }
        Kind::Path => {
            let image = ImageInput::from_path(arg).map_err(io_to_usage)?;
            match image.format() {
                Some(_) => Ok(image),
                None => Err(not_an_image(arg)),
            }
        }
    }
}

/// Split `PATH_OR_URL[::STRENGTH]`: the part after the last `::` is a strength only
/// when it reads as a number (an IPv6 URL such as `http://[::1]/a.png` keeps its `::`).
pub fn split_strength(arg: &str) -> Result<(&str, Option<f64>), CliError> {
    match arg.rsplit_once("::") {
        Some((image, strength)) if !image.is_empty() => match strength.trim().parse::<f64>() {
            Ok(s) => Ok((image, Some(s))),
            Err(_) if strength.chars().all(|c| c.is_ascii_digit() || c == '.') => {
                Err(CliError::Usage(format!(
                    "--style-reference {arg}: the strength after `::` must be a number"
                )))
            }
            Err(_) => Ok((arg, None)),
        },
        _ => Ok((arg, None)),
    }
}

/// `arg` (`PATH_OR_URL[::STRENGTH]`) with a relative file path taken from `dir` (a jobs
/// file's directory), so a jobs file and its reference images can move together and run
/// from any current directory. URLs, data URIs and absolute paths are kept.
pub fn style_reference_from(arg: &str, dir: &Path) -> String {
    let image = split_strength(arg).map_or(arg, |(image, _)| image);
    if !matches!(kind(image), Kind::Path) || Path::new(image).is_absolute() {
        return arg.to_owned();
    }
    // `image` is a prefix of `arg`: the rest is the `::STRENGTH` suffix, if any.
    format!("{}{}", dir.join(image).display(), &arg[image.len()..])
}

/// The format of a file from its first bytes, or `None` when it is none of the three.
fn sniff_file(path: &Path) -> Result<Option<Format>, CliError> {
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => {
                return Err(CliError::Usage(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        }
    }
    Ok(Format::sniff(&head[..n]))
}

/// A `--style-reference` value (`PATH_OR_URL[::STRENGTH]`): a file is sniffed and sent
/// inside the JSON body as base64, as the library does; a URL is fetched by the server.
pub fn style_reference(arg: &str) -> Result<StyleReference, CliError> {
    let (image, strength) = split_strength(arg)?;
    let reference = match kind(image) {
        Kind::Url => StyleReference::from_url(image.trim())?,
        Kind::DataUri => StyleReference::from_base64(image)?,
        Kind::Path => {
            if sniff_file(Path::new(image))?.is_none() {
                return Err(not_an_image(image));
            }
            StyleReference::from_path(image).map_err(io_to_usage)?
        }
    };
    Ok(match strength {
        Some(s) => reference.with_strength(s),
        None => reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_file_references_are_relative_to_its_directory() {
        let dir = Path::new("jobs");
        assert_eq!(style_reference_from("a.png::0.7", dir), "jobs/a.png::0.7");
        assert_eq!(style_reference_from("img/a.png", dir), "jobs/img/a.png");
        assert_eq!(style_reference_from("/abs/a.png::1", dir), "/abs/a.png::1");
        let url = "https://example.com/a.png::0.5";
        assert_eq!(style_reference_from(url, dir), url);
        assert_eq!(style_reference_from("a.png", Path::new("")), "a.png");
    }

    #[test]
    fn strengths_split_off_only_when_numeric() {
        assert!(matches!(split_strength("a.png::0.7"), Ok(("a.png", Some(s))) if s == 0.7));
        assert!(matches!(split_strength("a.png"), Ok(("a.png", None))));
        assert!(matches!(
            split_strength("http://[::1]/a.png"),
            Ok(("http://[::1]/a.png", None))
        ));
        assert!(matches!(
            split_strength("http://[::1]/a.png::1"),
            Ok(("http://[::1]/a.png", Some(s))) if s == 1.0
        ));
        assert!(split_strength("a.png::0.7.1").is_err());
    }

    #[test]
    fn a_text_file_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("notes.txt");
        std::fs::write(&p, b"this is not an image!!\n").expect("write");
        let arg = p.to_str().expect("utf-8");
        let e = image_input(arg).expect_err("not an image");
        assert_eq!(e.exit_code(), crate::exit::USAGE);
        assert!(e.to_string().starts_with(arg), "{e}");
        let e = style_reference(&format!("{arg}::0.5")).expect_err("not an image");
        assert!(e.to_string().starts_with(arg), "{e}");
    }
}
