//! `venice-image`: generate images with Venice.ai from the command line.
//!
//! Exit codes (the table `exit::EXIT_CODES`, printed at the end of `--help` and in the
//! README): 0 success, 1 internal error, 2 usage or validation (nothing sent), 3 API
//! error (or a blurred result with `--fail-on-blurred`, an unreadable catalogue with
//! `--strict-validate`), 4 payment required, 5 partial batch failure, 6 local I/O.

mod account;
mod args;
mod batch;
mod catalog;
mod cost;
mod credentials;
mod embedded;
mod exit;
mod generate;
mod hints;
mod inputs;
mod job;
mod openai;
mod ops;
mod output;
mod overwrite;
mod precheck;
mod preview;
mod report;
mod session;
mod sheet;
mod stop_rules;
mod style;
mod topup;
mod trace;
mod ui;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::args::{Cli, Command};
use crate::exit::CliError;
use crate::hints::HintContext;

fn main() -> ExitCode {
    quiet_broken_pipe();
    let matches = Cli::command().after_help(exit::help_table()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let verbose = cli.global.verbose;
    trace::init(verbose);
    let ctx = hint_context(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            report::report(&err, &ctx, verbose);
            ExitCode::from(err.exit_code())
        }
    }
}

/// A reader that goes away (`venice-image models | head -1`) ends the command quietly:
/// printing to a closed pipe makes `println!` panic, and this hook turns that one panic
/// into a silent exit (success: the reader has what it wanted).
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("failed printing to std") && text.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// What hints may say, known before the command runs.
fn hint_context(cli: &Cli) -> HintContext {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let wallet_command = matches!(cli.command, Command::Balance(_) | Command::TopUp(_));
    let is_url = |a: &String| {
        let a = a.trim_start().to_ascii_lowercase();
        a.starts_with("http://") || a.starts_with("https://")
    };
    let input_urls = match &cli.command {
        Command::Edit(args) => is_url(&args.image),
        Command::MultiEdit(args) => args.images.iter().any(is_url),
        _ => false,
    };
    HintContext {
        input_urls,
        edit: matches!(cli.command, Command::Edit(_) | Command::MultiEdit(_)),
        wallet: (cli.global.offline && wallet_command)
            || (!cli.global.offline && credentials::CREDENTIAL_VARS[1..].iter().any(|v| set(v))),
        single_use: !cli.global.offline && set("VENICE_SIWX_HEADER"),
        base_url: if cli.global.offline {
            "the embedded mock".to_owned()
        } else {
            cli.global
                .base_url
                .clone()
                .unwrap_or_else(|| venice_image::DEFAULT_BASE_URL.to_owned())
        },
    }
}

async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    // A sheet reads local files only: no session, no credentials, no server.
    let cli = match cli.command {
        Command::Sheet(args) => return sheet::run(args).await,
        command => Cli { command, ..cli },
    };
    let pacing = match &cli.command {
        Command::Batch(args) => batch::pacing(args),
        _ => session::Pacing::Off,
    };
    let public = matches!(cli.command, Command::Models(_) | Command::Styles(_));
    let session = session::Session::open(&cli.global, &pacing, public).await?;
    let result = match cli.command {
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
        Command::TopUp(args) => topup::run(&session, args).await,
        Command::Openai(args) => openai::run(&session, *args).await,
        // Returned above, before a session; the same call if that ever changes.
        Command::Sheet(args) => sheet::run(args).await,
    };
    session.report_auto_top_up();
    let recorded = session.finish_recording().await;
    let code = result?;
    recorded?;
    Ok(code)
}
