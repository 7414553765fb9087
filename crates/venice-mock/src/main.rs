//! `venice-mock`: run the mock server from the command line, or record, replay and
//! check cassettes of real traffic.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args as ClapArgs, Parser, Subcommand};
use venice_mock::{Catalog, MockConfig, MockServer};

/// Spec-faithful Venice.ai image API mock server.
#[derive(Debug, Parser)]
#[command(name = "venice-mock", version, about)]
struct Args {
    /// Port to listen on (0 = a random free port).
    #[arg(long, default_value_t = 0, global = true)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1", global = true)]
    host: std::net::IpAddr,
    /// JSON file with a `MockConfig`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A `/models` response captured from the real API (e.g. `GET /models?type=all`),
    /// served instead of the built-in catalogue.
    #[arg(long, value_name = "FILE")]
    catalogue: Option<PathBuf>,
    /// A DIEM-linked wallet, `ADDRESS=USD` (repeatable): the wallet spends that much DIEM
    /// first, and its 402 afterwards is not fixed by a top-up.
    #[arg(long, value_name = "ADDRESS=USD", value_parser = parse_diem_wallet)]
    diem_wallet: Vec<(String, f64)>,
    /// Record, replay or check a cassette instead of serving the mock.
    #[command(subcommand)]
    command: Option<Cassettes>,
}

#[derive(Debug, Subcommand)]
enum Cassettes {
    /// Forward to an upstream and record the traffic to a cassette (feature `record`);
    /// prints the base URL to point a client at, stops on Ctrl-C.
    Record(RecordArgs),
    /// Serve the answers of a cassette; prints the base URL, stops on Ctrl-C.
    Replay(ReplayArgs),
    /// Check every exchange of a cassette against the spec; exit 1 when there is drift.
    Check(CheckArgs),
}

#[derive(Debug, ClapArgs)]
struct RecordArgs {
    /// The upstream base URL (HTTPS or HTTP).
    #[arg(long, default_value = "https://api.venice.ai/api/v1")]
    upstream: String,
    /// The cassette file to write (its large bodies go to `<FILE>.d/`).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace image payloads by small images of the same format and aspect.
    #[arg(long)]
    shrink_images: bool,
    /// Replace wallet addresses everywhere (headers, bodies, paths) by stand-ins.
    #[arg(long)]
    redact_wallets: bool,
    /// Also scrub the value of this environment variable (repeatable); the values of
    /// VENICE_API_KEY, VENICE_WALLET_PRIVATE_KEY, VENICE_SOLANA_KEYPAIR and
    /// VENICE_SIWX_HEADER are always scrubbed.
    #[arg(long, value_name = "VAR")]
    secret_env: Vec<String>,
    /// Trust this PEM root certificate for the upstream besides the system's.
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
struct ReplayArgs {
    /// The cassette to serve.
    cassette: PathBuf,
}

#[derive(Debug, ClapArgs)]
struct CheckArgs {
    /// The cassette to check.
    cassette: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let addr = SocketAddr::new(args.host, args.port);
    let result = match args.command {
        None => serve(args.config, args.catalogue, args.diem_wallet, addr).await,
        Some(Cassettes::Record(r)) => record(r, addr).await,
        Some(Cassettes::Replay(r)) => replay(r, addr).await,
        Some(Cassettes::Check(c)) => return check(&c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("venice-mock: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `ADDRESS=USD` of `--diem-wallet`.
fn parse_diem_wallet(s: &str) -> Result<(String, f64), String> {
    let (address, usd) = s
        .split_once('=')
        .ok_or_else(|| format!("expected ADDRESS=USD, got {s:?}"))?;
    let usd: f64 = usd
        .parse()
        .ok()
        .filter(|u: &f64| u.is_finite() && *u >= 0.0)
        .ok_or_else(|| format!("{usd:?} is not a non-negative number of USD"))?;
    Ok((address.trim().to_owned(), usd))
}

async fn serve(
    config: Option<PathBuf>,
    catalogue: Option<PathBuf>,
    diem_wallets: Vec<(String, f64)>,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    let mut config = match &config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str::<MockConfig>(&text)
                .with_context(|| format!("parsing {}", path.display()))?
        }
        None => MockConfig::default(),
    };
    if let Some(path) = &catalogue {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let response: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("parsing {} as JSON", path.display()))?;
        let catalogue = Catalog::from_models_response(&response)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("reading the models of {}", path.display()))?;
        config.catalogue = Some(catalogue);
    }
    config.diem_wallets.extend(diem_wallets);
    let server = MockServer::start_on(config, addr).await?;
    println!("{}", server.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}

#[cfg(feature = "record")]
async fn record(args: RecordArgs, addr: SocketAddr) -> anyhow::Result<()> {
    use venice_mock::record::RecordOptions;
    use venice_mock::scrub::Secrets;

    let mut secrets = Secrets::from_env();
    for name in &args.secret_env {
        let value = std::env::var(name)
            .with_context(|| format!("--secret-env {name}: the variable is not set"))?;
        secrets.add(value.trim());
    }
    let mut options = RecordOptions::new(&args.upstream, &args.out)
        .listen(addr)
        .secrets(secrets)
        .shrink_images(args.shrink_images)
        .redact_wallets(args.redact_wallets);
    if let Some(path) = &args.ca_cert {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        options = options.root_certificate_pem(pem);
    }
    let recorder = MockServer::record(options).await?;
    println!("{}", recorder.base_url());
    eprintln!(
        "recording traffic to {} into {}; Ctrl-C to stop",
        args.upstream,
        args.out.display()
    );
    tokio::signal::ctrl_c().await?;
    let summary = recorder.finish().await?;
    eprintln!(
        "{} exchange(s) recorded in {}",
        summary.exchanges,
        summary.cassette.display()
    );
    Ok(())
}

#[cfg(not(feature = "record"))]
async fn record(_: RecordArgs, _: SocketAddr) -> anyhow::Result<()> {
    anyhow::bail!(
        "this venice-mock was built without the `record` feature; build it with \
         `cargo install --path crates/venice-mock --features record` (or `cargo run -p \
         venice-mock --features record -- record …`)"
    )
}

async fn replay(args: ReplayArgs, addr: SocketAddr) -> anyhow::Result<()> {
    let cassette = venice_mock::cassette::Cassette::open(&args.cassette)?;
    let server = venice_mock::replay::ReplayServer::start(cassette, addr).await?;
    println!("{}", server.base_url());
    tokio::signal::ctrl_c().await?;
    for miss in server.misses() {
        eprintln!("miss: {}", miss.error);
    }
    let unused = server.unused();
    if !unused.is_empty() {
        eprintln!("unused exchanges (seq): {unused:?}");
    }
    Ok(())
}

fn check(args: &CheckArgs) -> ExitCode {
    let cassette = match venice_mock::cassette::Cassette::open(&args.cassette) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("venice-mock: {e}");
            return ExitCode::from(2);
        }
    };
    let report = venice_mock::check::check(&cassette);
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("venice-mock: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{report}");
    }
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diem_wallet_flag() {
        let args = Args::try_parse_from([
            "venice-mock",
            "--diem-wallet",
            "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23=0.05",
        ])
        .map_err(|e| e.to_string());
        assert_eq!(
            args.map(|a| a.diem_wallet),
            Ok(vec![(
                "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23".to_owned(),
                0.05
            )])
        );
        assert!(parse_diem_wallet("0xabc").is_err());
        assert!(parse_diem_wallet("0xabc=-1").is_err());
    }
}
