//! `cargo xtask package-check`: what a release would upload builds, tests and works for a
//! user, with no registry involved.
//!
//! 1. A scratch copy of the tracked files under `target/package-check/workspace`, with
//!    `publish = false` turned into `publish = true` in `[workspace.package]` (the one edit
//!    a release makes; the real tree keeps `false`, so `cargo publish` refuses every crate,
//!    from CI too).
//! 2. `cargo package` of the published crates there: the `.crate` tarballs (with their
//!    lockfiles, internal dependencies resolved to the packaged versions).
//! 3. The tarballs unpacked under `target/package-check/crates`, in a workspace of their
//!    own that `[patch]`es the crates.io names to them, and `cargo test` there: every
//!    target of every packaged crate builds from its tarball alone, and its unit tests
//!    and doctests (the README's among them) pass. The integration tests are built, not
//!    run: the workspace's `cargo test` runs the same files.
//! 4. A new crate in that workspace, depending on `venice-image` and `venice-mock` by
//!    version only, whose `main.rs` is the first Rust block of the packaged
//!    `venice-image` README: it is built and run, and the four images it saves must be
//!    four files in a directory that did not exist before.
//!
//! It starts with `cargo fetch --locked` of the workspace (every dependency of the lock
//! file, dev-dependencies included, for the host), so that everything after it can run
//! `--offline` on a machine that has never built or tested the workspace: the scratch
//! copy and the unpacked crates use the same lock file. It builds into the workspace's
//! target directory (`CARGO_TARGET_DIR` or `target/`), so registry dependencies
//! compiled by the normal build are reused.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::scratch::{copy_workspace, run};
use xtask::copies::PACKAGED_CRATES;

/// The `[workspace.package]` line the scratch copy changes, and what it becomes.
const PUBLISH_FALSE: &str = "publish = false\n";
const PUBLISH_TRUE: &str = "publish = true\n";

/// The new crate whose `main.rs` is the README example.
const CONSUMER: &str = "venice-consumer";
/// Images the README example saves (its `variants`).
const README_IMAGES: usize = 4;
/// The directory, under the temporary directory, the README example saves into.
const README_DIR: &str = "venice-image-readme";

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn step(started: Instant, what: &str) {
    println!(
        "\n== package-check: {what} ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
}

/// Run the check for the workspace at `root`.
pub fn check(root: &Path) -> Result<()> {
    let started = Instant::now();
    let target_dir = target_dir(root);
    let base = target_dir.join("package-check");

    step(started, "cargo fetch (the steps below run offline)");
    run(&mut fetch(root, host_triple().as_deref()))?;

    step(started, "scratch copy with publishing allowed");
    let ws = base.join("workspace");
    copy_workspace(root, &ws)?;
    allow_publishing(&ws.join("Cargo.toml"))?;

    step(started, "cargo package");
    let names: Vec<String> = PACKAGED_CRATES
        .iter()
        .map(|p| p.trim_start_matches("crates/").to_owned())
        .collect();
    let mut package = Command::new(cargo());
    package
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target_dir)
        .args(["package", "--offline", "--no-verify", "--allow-dirty"]);
    for name in &names {
        package.args(["-p", name]);
    }
    run(&mut package)?;

    step(started, "unpack the tarballs into their own workspace");
    let check = base.join("check");
    if check.exists() {
        std::fs::remove_dir_all(&check)?;
    }
    let unpacked = check.join("crates");
    std::fs::create_dir_all(&unpacked)?;
    let mut members = Vec::new();
    for name in &names {
        let version = package_version(&ws.join("crates").join(name).join("Cargo.toml"))?;
        let krate = target_dir
            .join("package")
            .join(format!("{name}-{version}.crate"));
        run(Command::new("tar")
            .arg("-xzf")
            .arg(&krate)
            .arg("-C")
            .arg(&unpacked))?;
        members.push((name.clone(), format!("crates/{name}-{version}")));
    }
    write_consumer(&check, &unpacked, &members)?;
    std::fs::write(
        check.join("Cargo.toml"),
        check_manifest(&members, &std::fs::read_to_string(root.join("Cargo.toml"))?),
    )?;
    // The workspace's versions, so that the check builds what CI built.
    std::fs::copy(root.join("Cargo.lock"), check.join("Cargo.lock"))?;

    step(
        started,
        "the packaged crates (all features): every target builds, unit tests and doctests run",
    );
    // Integration tests are built here from the tarballs (so a file missing from a package
    // fails the check), but run by the workspace's own `cargo test` on the same files:
    // running them twice doubled this check's time and found nothing the first run did not.
    // `build --all-targets` builds the test targets as `cargo test` does and the plain
    // binaries too (the consumer's among them), with dev-dependencies' features unified
    // as in the test runs below, which therefore reuse its artifacts.
    let packaged = |args: &[&str]| {
        run(Command::new(cargo())
            .current_dir(&check)
            .env("CARGO_TARGET_DIR", &target_dir)
            .args(["--offline"])
            .args(args)
            .args(["--workspace", "--all-features"]))
    };
    packaged(&["build", "--all-targets"])?;
    packaged(&["test", "--lib", "--bins"])?;
    packaged(&["test", "--doc"])?;

    step(
        started,
        "the README example of the packaged venice-image, as a new crate",
    );
    let tmp = base.join("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    // The binary the workspace build above made: `cargo run -p venice-consumer` would
    // resolve features for the consumer alone and build much of the graph again.
    run(Command::new(
        target_dir
            .join("debug")
            .join(format!("{CONSUMER}{}", std::env::consts::EXE_SUFFIX)),
    )
    .current_dir(&check)
    .env("TMPDIR", &tmp))?;
    let saved = tmp.join(README_DIR);
    let files = std::fs::read_dir(&saved)
        .with_context(|| format!("the README example saved nothing in {}", saved.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .count();
    if files != README_IMAGES {
        bail!(
            "the README example saved {files} files in {}, expected {README_IMAGES}",
            saved.display()
        );
    }
    step(
        started,
        &format!("ok: {README_IMAGES} images saved by the README example into a new directory"),
    );
    Ok(())
}

/// The build's target directory: `CARGO_TARGET_DIR` when set (relative to `root`, as
/// cargo takes it), else `root/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| if d.is_absolute() { d } else { root.join(d) })
        .unwrap_or_else(|| root.join("target"))
}

/// `cargo fetch --locked` of the workspace at `root`, for `host` when known: it brings
/// every registry dependency (dev-dependencies too) into the cargo home, which the
/// `--offline` steps need on a machine that has not built the workspace yet.
fn fetch(root: &Path, host: Option<&str>) -> Command {
    let mut fetch = Command::new(cargo());
    fetch.current_dir(root).args(["fetch", "--locked"]);
    if let Some(host) = host {
        fetch.args(["--target", host]);
    }
    fetch
}

/// The host's target triple (`rustc -vV`), so that `fetch` skips other platforms'
/// dependencies.
fn host_triple() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output().ok()?;
    String::from_utf8(out.stdout)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_owned())
}

/// Turn `publish = false` into `publish = true` in `[workspace.package]` of the manifest
/// at `path` (the crates inherit it).
fn allow_publishing(path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let section = text
        .find("[workspace.package]")
        .context("no [workspace.package] in the root manifest")?;
    let end = text[section + 1..]
        .find("\n[")
        .map_or(text.len(), |i| section + 1 + i);
    let Some(at) = text[section..end].find(PUBLISH_FALSE) else {
        bail!("[workspace.package] has no `{}`", PUBLISH_FALSE.trim());
    };
    let at = section + at;
    let edited = format!(
        "{}{PUBLISH_TRUE}{}",
        &text[..at],
        &text[at + PUBLISH_FALSE.len()..]
    );
    std::fs::write(path, edited)?;
    Ok(())
}

/// The `version` of the package manifest at `path`.
fn package_version(path: &Path) -> Result<String> {
    let manifest: toml::Table = std::fs::read_to_string(path)?.parse()?;
    manifest
        .get("package")
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .with_context(|| format!("no package.version in {}", path.display()))
}

/// The check workspace: the unpacked crates and the consumer, crates.io names patched to
/// the unpacked sources, and the workspace's dev profile (so builds are shared).
fn check_manifest(members: &[(String, String)], root_manifest: &str) -> String {
    let mut out = String::from(
        "# Written by `cargo xtask package-check`: the packaged crates, unpacked.\n\
         [workspace]\nresolver = \"3\"\nmembers = [\n",
    );
    for (_, dir) in members {
        out.push_str(&format!("    \"{dir}\",\n"));
    }
    out.push_str("    \"consumer\",\n]\n\n[patch.crates-io]\n");
    for (name, dir) in members {
        out.push_str(&format!("{name} = {{ path = \"{dir}\" }}\n"));
    }
    if let Some(at) = root_manifest.find("[profile.") {
        out.push('\n');
        out.push_str(&root_manifest[at..]);
    }
    out
}

/// The first ```` ```rust ```` block of `readme` (rustdoc's hidden `# ` lines shown).
pub fn first_rust_block(readme: &str) -> Option<String> {
    let mut lines = readme.lines();
    lines.find(|l| l.trim() == "```rust")?;
    let mut code = String::new();
    for line in lines {
        if line.trim() == "```" {
            return Some(code);
        }
        let line = match line.strip_prefix("# ") {
            Some(hidden) => hidden,
            None if line == "#" => "",
            None => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    None
}

/// A new binary crate whose `main.rs` is the README example of the packaged facade.
fn write_consumer(check: &Path, unpacked: &Path, members: &[(String, String)]) -> Result<()> {
    let version = |name: &str| -> Result<String> {
        let dir = members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.rsplit_once('-').map_or("", |(_, v)| v).to_owned())
            .context("missing crate")?;
        Ok(dir)
    };
    let facade_dir: PathBuf = unpacked.join(format!("venice-image-{}", version("venice-image")?));
    let readme = std::fs::read_to_string(facade_dir.join("README.md"))
        .context("the packaged venice-image has no README.md")?;
    let main = first_rust_block(&readme).context("no ```rust block in the README")?;
    let consumer = check.join("consumer");
    std::fs::create_dir_all(consumer.join("src"))?;
    std::fs::write(
        consumer.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{CONSUMER}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
             publish = false\n\n[dependencies]\n\
             venice-image = \"{}\"\nvenice-mock = \"{}\"\n\
             tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n",
            version("venice-image")?,
            version("venice-mock")?,
        ),
    )?;
    std::fs::write(consumer.join("src").join("main.rs"), main)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check runs `--offline` after this: it must fetch, with the lock file as it is.
    #[test]
    fn fetches_the_locked_dependencies_for_the_host_first() {
        let root = Path::new("/some/workspace");
        let cmd = fetch(root, Some("x86_64-unknown-linux-gnu"));
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            ["fetch", "--locked", "--target", "x86_64-unknown-linux-gnu"]
        );
        assert_eq!(cmd.get_current_dir(), Some(root));
        let any: Vec<_> = fetch(root, None).get_args().map(|a| a.to_owned()).collect();
        assert_eq!(any, ["fetch", "--locked"]);
        assert!(host_triple().is_some_and(|h| h.contains('-')));
    }

    #[test]
    fn extracts_the_first_rust_block() {
        let md = "# x\n```toml\na = 1\n```\n```rust\nfn main() {\n# let hidden = 1;\n}\n```\n```rust\nno\n```\n";
        assert_eq!(
            first_rust_block(md).as_deref(),
            Some("fn main() {\nlet hidden = 1;\n}\n")
        );
        assert_eq!(first_rust_block("```rust,no_run\nx\n```\n"), None);
    }

    #[test]
    fn allows_publishing_in_the_workspace_package_only() {
        let dir = std::env::temp_dir().join(format!("xtask-pkg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let p = dir.join("Cargo.toml");
        std::fs::write(
            &p,
            "[workspace]\n\n[workspace.package]\nedition = \"2024\"\npublish = false\n\n[workspace.dependencies]\nx = \"1\"\n",
        )
        .ok();
        allow_publishing(&p).ok();
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        assert!(
            !text.contains("publish = false") && text.contains("publish = true"),
            "{text}"
        );
        assert!(text.contains("[workspace.dependencies]"));
        assert!(
            allow_publishing(&p).is_err(),
            "a second run finds nothing to change"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
