//! Project automation for the Venice image workspace.
//!
//! `cargo xtask generate` regenerates `crates/venice-openapi/src/generated.rs` and its
//! wire vocabulary `vocab.rs` ([`vocab`]) from `openapi/venice-image.yaml`; `cargo xtask check` fails when the spec is broken or the
//! committed code is stale; `cargo xtask spec-diff --upstream PATH_OR_URL` compares our
//! spec with the provider's (see [`spec_diff`]), and with `--cassette FILE` with a
//! recording of real traffic ([`cassette_diff`]). Both live in this library so tests can run them on a
//! mutated spec in a temporary directory. Both also keep the copies that packaged crates
//! need ([`copies`]: the spec inside the mock's package, the license files).

pub mod cassette_diff;
pub mod codegen;
pub mod copies;
pub mod operations;
pub mod spec;
pub mod spec_diff;
pub mod vocab;

use std::path::{Path, PathBuf};

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Path of our spec inside a workspace root.
pub fn spec_path(root: &Path) -> PathBuf {
    root.join("openapi").join("venice-image.yaml")
}

/// Path of the generated client source inside a workspace root.
pub fn generated_path(root: &Path) -> PathBuf {
    root.join("crates")
        .join("venice-openapi")
        .join("src")
        .join("generated.rs")
}

/// Path of the generated wire vocabulary inside a workspace root.
pub fn vocab_path(root: &Path) -> PathBuf {
    root.join("crates")
        .join("venice-openapi")
        .join("src")
        .join("vocab.rs")
}

/// Path of the accepted upstream deviations inside a workspace root.
pub fn deviations_path(root: &Path) -> PathBuf {
    root.join("openapi").join("upstream-deviations.toml")
}
