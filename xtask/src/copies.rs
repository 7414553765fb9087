//! Files that packaged crates need from outside their own directory, kept as copies of
//! one source: a `.crate` holds only its own directory, so the mock embeds the spec
//! from a copy inside its package, and every published crate ships the license texts.
//! `cargo xtask generate` writes the copies; `cargo xtask check` fails when one drifts.

use std::path::Path;

use anyhow::{Context, Result};

/// The crates that are packaged (and get the license files).
pub const PACKAGED_CRATES: &[&str] = &[
    "crates/venice-openapi",
    "crates/venice-x402",
    "crates/venice-image",
    "crates/venice-mock",
    "crates/venice-cli",
];

/// `(source, copy)` pairs relative to the workspace root.
pub fn pairs() -> Vec<(String, String)> {
    let mut out = vec![(
        "openapi/venice-image.yaml".to_owned(),
        "crates/venice-mock/openapi/venice-image.yaml".to_owned(),
    )];
    for krate in PACKAGED_CRATES {
        for license in ["LICENSE-MIT", "LICENSE-APACHE"] {
            out.push((license.to_owned(), format!("{krate}/{license}")));
        }
    }
    out
}

/// Copies under `root` that differ from (or lack) their source.
pub fn stale(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (source, copy) in pairs() {
        let want =
            std::fs::read(root.join(&source)).with_context(|| format!("reading {source}"))?;
        if std::fs::read(root.join(&copy)).ok().as_deref() != Some(want.as_slice()) {
            out.push(format!("{copy} (copy of {source})"));
        }
    }
    Ok(out)
}

/// Write every stale copy; returns the copies written.
pub fn sync(root: &Path) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for (source, copy) in pairs() {
        let want =
            std::fs::read(root.join(&source)).with_context(|| format!("reading {source}"))?;
        let to = root.join(&copy);
        if std::fs::read(&to).ok().as_deref() != Some(want.as_slice()) {
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&to, &want).with_context(|| format!("writing {copy}"))?;
            written.push(copy);
        }
    }
    Ok(written)
}
