//! Helpers shared by the contract tests: where the spec and the upstream copy live.

use std::path::{Path, PathBuf};

/// Workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Our spec, parsed as plain YAML (for tests that walk it as data).
pub fn our_spec_value() -> anyhow::Result<serde_json::Value> {
    let path = workspace_root().join("openapi/venice-image.yaml");
    Ok(serde_yaml::from_str(&std::fs::read_to_string(path)?)?)
}

/// The provider's published spec from `../shared/upstream/`, when it is there.
/// `VENICE_UPSTREAM_SPEC` overrides the location.
pub fn upstream_spec_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("VENICE_UPSTREAM_SPEC") {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    let p = workspace_root().join("../shared/upstream/venice-openapi.yaml");
    p.exists().then_some(p)
}

/// The provider's published catalogue (`static-models.json`) from
/// `../shared/upstream/venice-models-snapshot.json`, when it is there.
pub fn upstream_models_snapshot() -> Option<serde_json::Value> {
    let p = workspace_root().join("../shared/upstream/venice-models-snapshot.json");
    let text = std::fs::read_to_string(p).ok()?;
    serde_json::from_str(&text).ok()
}

/// The committed inputs of one fuzz target (`fuzz/regressions/<target>/`: seeds and
/// minimised crashers) as `(file name, bytes)`, sorted by name, for the replay tests.
pub fn fuzz_regressions(target: &str) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let dir = workspace_root().join("fuzz/regressions").join(target);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((name, std::fs::read(&path)?));
    }
    out.sort();
    Ok(out)
}

/// The workspace README's code blocks, compiled as doctests of this crate (which has
/// every workspace crate as a dev-dependency).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod workspace_readme {}
