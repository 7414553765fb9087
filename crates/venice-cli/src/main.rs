//! `venice-image`: generate images with Venice.ai from the command line.
//!
//! Exit codes: 0 ok, 2 usage or validation, 3 API error (or a blurred result with
//! `--fail-on-blurred`), 4 payment required, 5 partial batch failure.

mod account;
mod args;
mod batch;
mod catalog;
mod cost;
mod exit;
mod generate;
mod inputs;
mod job;
mod openai;
mod ops;
mod output;
mod overwrite;
mod preview;
mod session;
mod style;
mod ui;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::exit::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbose = cli.global.verbose;
    // The library reports what it works around (Redis unreachable for shared pacing, a
    // catalogue that cannot be read) as tracing warnings: show them on stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
        .without_time()
        .with_target(false)
        .with_ansi(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            err.report(verbose);
            ExitCode::from(err.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let pacing = match &cli.command {
        Command::Batch(args) => batch::pacing(args),
        _ => session::Pacing::Off,
    };
    let session = session::Session::open(&cli.global, &pacing).await?;
    match cli.command {
        Command::Generate(args) => generate::run(&session, *args).await,
        Command::Batch(args) => batch::run(&session, *args).await,
        Command::Models(args) => catalog::models(&session, args).await,
        Command::Styles(args) => catalog::styles(&session, args).await,
        Command::Balance(args) => catalog::balance(&session, args).await,
        Command::Account(args) => account::account(&session, args).await,
        Command::Upscale(args) => ops::upscale(&session, *args).await,
        Command::Edit(args) => ops::edit(&session, *args).await,
        Command::MultiEdit(args) => ops::multi_edit(&session, *args).await,
        Command::RemoveBg(args) => ops::remove_bg(&session, *args).await,
        Command::Openai(args) => openai::run(&session, *args).await,
    }
}
