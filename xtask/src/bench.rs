//! `cargo xtask bench`: build the benchmark crate (`bench/`, outside the workspace so
//! its peer clients never slow the normal build) and the CLI in release, then run the
//! harness, which writes `BENCHMARKS.md`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Build and run the benchmark harness; `only` names a single section to run (it is then
/// printed, and BENCHMARKS.md is left alone).
pub fn bench(root: &Path, quick: bool, no_python: bool, only: Option<&str>) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Both builds and the binaries run below must agree on the target directory: the
    // one cargo uses (`CARGO_TARGET_DIR`, relative to the workspace) or `target/`.
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    };
    run(Command::new(&cargo)
        .current_dir(root)
        .args(["build", "--release", "-p", "venice-cli"]))?;
    run(Command::new(&cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--manifest-path",
            "bench/Cargo.toml",
            "--target-dir",
        ])
        .arg(&target))?;
    let release = target.join("release");
    let mut harness = Command::new(release.join("bench-harness"));
    harness
        .current_dir(root)
        .arg("--workspace")
        .arg(root)
        .arg("--cli")
        .arg(release.join("venice-image"));
    if quick {
        harness.arg("--quick");
    }
    if no_python {
        harness.arg("--no-python");
    }
    if let Some(section) = only {
        harness.arg("--only").arg(section);
    }
    run(&mut harness)
}
