//! `cargo xtask` entry point.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
mod bench;

use xtask::{codegen, generated_path, spec, spec_path, workspace_root};

#[derive(Parser)]
#[command(about = "Venice image workspace automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate crates/venice-openapi/src/generated.rs from openapi/venice-image.yaml.
    Generate,
    /// Fail when the spec is broken or the committed generated code is stale.
    Check,
    /// Run the side-by-side benchmarks (release builds, loopback mock) and write
    /// BENCHMARKS.md.
    Bench {
        /// Fewer rounds and calls (about half the time).
        #[arg(long)]
        quick: bool,
        /// Skip the Python `openai` SDK client.
        #[arg(long)]
        no_python: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate => generate(),
        Command::Check => check(),
        Command::Bench { quick, no_python } => bench::bench(&workspace_root(), quick, no_python),
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
    let code = codegen::generate(&spec)?;
    let out = generated_path(&root);
    let unchanged = std::fs::read_to_string(&out).is_ok_and(|old| old == code);
    if unchanged {
        println!("{} is up to date", out.display());
    } else {
        std::fs::write(&out, &code).with_context(|| format!("writing {}", out.display()))?;
        println!("wrote {} ({} lines)", out.display(), code.lines().count());
    }
    Ok(())
}

fn check() -> Result<()> {
    let root = workspace_root();
    let spec = spec::load(&spec_path(&root))?;
    let ops = spec.operations().count();
    let code = codegen::generate(&spec)?;
    let out = generated_path(&root);
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
    println!("spec ok ({ops} operations); generated code is up to date");
    Ok(())
}
