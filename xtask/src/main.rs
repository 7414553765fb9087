//! `cargo xtask` entry point.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod bench;
mod conformance;
mod loc;
mod package;
mod public_api;
mod regen;
mod scratch;

use xtask::{
    cassette_diff, codegen, copies, deviations_path, spec, spec_diff, spec_path, workspace_root,
};

#[derive(Parser)]
#[command(about = "Venice image workspace automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate crates/venice-openapi/src/generated.rs and vocab.rs from openapi/venice-image.yaml
    /// and refresh the copies packaged crates carry (the spec in venice-mock, licenses).
    Generate,
    /// Fail when the spec is broken, the committed generated code is stale or a packaged
    /// copy (spec, license) differs from its source.
    Check,
    /// Compare our spec with the provider's for the operations we cover; fail on any
    /// difference not accepted in openapi/upstream-deviations.toml.
    SpecDiff {
        /// The provider's spec: a path or an http(s) URL.
        #[arg(long, required_unless_present = "cassette")]
        upstream: Option<String>,
        /// A recording of real traffic (`venice-mock record`, `venice-image --record`)
        /// as another source of what upstream does (repeatable).
        #[arg(long, value_name = "FILE")]
        cassette: Vec<std::path::PathBuf>,
        /// Also list the accepted differences with their reasons.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Re-record the suite's own cassette (tests/cassettes/mock-suite.cassette) from
    /// the mock: runs the ignored test `record_the_suite_cassette`.
    Cassette,
    /// In a scratch copy, rename an operation's path, add a field and an enum value in
    /// the spec, regenerate, add one setter, and check the facade sends the path and
    /// field and both the facade and the CLI's --help offer the new value.
    ProveRegeneration,
    /// Package the published crates as a release would (in a scratch copy with
    /// publishing allowed), then build and test the unpacked tarballs and run the
    /// packaged README example as a new crate depending on them.
    PackageCheck,
    /// Run the side-by-side benchmarks (release builds, loopback mock) and write
    /// BENCHMARKS.md.
    Bench {
        /// Fewer rounds and calls (about half the time).
        #[arg(long)]
        quick: bool,
        /// Skip the Python `openai` SDK client.
        #[arg(long)]
        no_python: bool,
        /// Run one section only and print it instead of writing BENCHMARKS.md.
        #[arg(long, value_parser = ["batch", "recording", "mock-images"])]
        only: Option<String>,
    },
    /// List the public API of the library crates (rustdoc JSON); with `--since REV`,
    /// show what was removed and added since that commit and fail when CHANGELOG.md
    /// does not name a removed item.
    PublicApi {
        /// The commit to compare with.
        #[arg(long, value_name = "REV")]
        since: Option<String>,
    },
    /// Non-test code lines of each crate's `src` (parsed with `syn`: `#[cfg(test)]` code,
    /// files only test modules reach, blank lines and comments do not count).
    Loc {
        /// Read the files at this commit (`git show`, no checkout) instead of the work tree.
        #[arg(long)]
        rev: Option<String>,
        /// Also print each file's count.
        #[arg(long)]
        files: bool,
        /// Crate directories relative to the workspace root (default: every `crates/*`).
        #[arg(value_name = "CRATE_DIR")]
        crates: Vec<String>,
    },
    /// Run third-party Python clients (openai, venice-py) against a started mock;
    /// installs them into target/conformance-venv.
    Conformance {
        /// Also fuzz the mock with schemathesis and the provider's spec.
        #[arg(long)]
        schemathesis: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate => generate(),
        Command::Check => check(),
        Command::SpecDiff {
            upstream,
            cassette,
            verbose,
        } => spec_diff_cmd(upstream.as_deref(), &cassette, verbose),
        Command::Cassette => record_suite_cassette(),
        Command::ProveRegeneration => regen::prove(&workspace_root()),
        Command::PackageCheck => package::check(&workspace_root()),
        Command::Bench {
            quick,
            no_python,
            only,
        } => bench::bench(&workspace_root(), quick, no_python, only.as_deref()),
        Command::PublicApi { since } => public_api::run(&workspace_root(), since.as_deref()),
        Command::Loc { rev, files, crates } => {
            loc::run(&workspace_root(), rev.as_deref(), &crates, files)
        }
        Command::Conformance { schemathesis } => {
            conformance::conformance(&workspace_root(), schemathesis)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn generate() -> Result<()> {
    let root = workspace_root();
    let spec = spec::load(&spec_path(&root))?;
    for (out, code) in codegen::generate_files(&root, &spec)? {
        let unchanged = std::fs::read_to_string(&out).is_ok_and(|old| old == code);
        if unchanged {
            println!("{} is up to date", out.display());
        } else {
            std::fs::write(&out, &code).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {} ({} lines)", out.display(), code.lines().count());
        }
    }
    for copy in copies::sync(&root)? {
        println!("wrote {copy}");
    }
    Ok(())
}

fn check() -> Result<()> {
    let root = workspace_root();
    let spec = spec::load(&spec_path(&root))?;
    let ops = spec.operations().count();
    for (out, code) in codegen::generate_files(&root, &spec)? {
        let committed =
            std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
        if committed != code {
            anyhow::bail!(
                "{} is stale: the spec changed but the code was not regenerated.\n{}\n\
                 Run `cargo xtask generate` and commit the result.",
                out.display(),
                codegen::diff_summary(&committed, &code, 10)
            );
        }
    }
    let stale = copies::stale(&root)?;
    if !stale.is_empty() {
        anyhow::bail!(
            "packaged copies differ from their source:\n  {}\n\
             Run `cargo xtask generate` and commit the result.",
            stale.join("\n  ")
        );
    }
    println!("spec ok ({ops} operations); generated code and packaged copies are up to date");
    Ok(())
}

fn spec_diff_cmd(
    upstream: Option<&str>,
    cassettes: &[std::path::PathBuf],
    verbose: bool,
) -> Result<()> {
    let root = workspace_root();
    let dev_path = deviations_path(&root);
    let text = std::fs::read_to_string(&dev_path)
        .with_context(|| format!("reading {}", dev_path.display()))?;
    let deviations = spec_diff::load_deviations(&text)?;
    let mut unlisted = 0;
    if let Some(upstream) = upstream {
        let ours = spec_diff::read_spec(&spec_path(&root).to_string_lossy())?;
        let theirs = spec_diff::read_spec(upstream)?;
        let report = spec_diff::diff(&ours, &theirs, &deviations);
        print!("{}", report.render(verbose));
        unlisted += report.unlisted().count();
    }
    for path in cassettes {
        let mut used = vec![false; deviations.len()];
        let found = cassette_diff::cassette_differences(path, &deviations, &mut used)?;
        let missing = found.iter().filter(|(_, r)| r.is_none()).count();
        println!(
            "\ncassette {}: {} differences from our spec, {} accepted, {missing} NOT LISTED",
            path.display(),
            found.len(),
            found.len() - missing
        );
        for (d, reason) in &found {
            match reason {
                None => println!("  ✗ {}: seen {}", d.key, d.upstream),
                Some(r) if verbose => println!("  ✓ {}: seen {}  ({r})", d.key, d.upstream),
                Some(_) => {}
            }
        }
        unlisted += missing;
    }
    if unlisted > 0 {
        anyhow::bail!(
            "{unlisted} differences from upstream are not listed in {}: update openapi/venice-image.yaml \
             (then `cargo xtask generate` and `cargo xtask check`) or add a deviation with its reason",
            dev_path.display()
        );
    }
    Ok(())
}

/// `cargo xtask cassette`: the one command that re-records the suite's cassette.
fn record_suite_cassette() -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "test",
            "-p",
            "contract-tests",
            "--test",
            "it",
            "--",
            "--ignored",
            "--exact",
            "recording::record_the_suite_cassette",
        ])
        .status()
        .context("running cargo test")?;
    if !status.success() {
        anyhow::bail!("recording the suite cassette failed ({status})");
    }
    println!("re-recorded tests/cassettes/mock-suite.cassette; review `git diff` and commit it");
    Ok(())
}
