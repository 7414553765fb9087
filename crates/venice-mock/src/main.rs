//! `venice-mock`: run the mock server from the command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use venice_mock::{MockConfig, MockServer};

/// Spec-faithful Venice.ai image API mock server.
#[derive(Debug, Parser)]
#[command(name = "venice-mock", version, about)]
struct Args {
    /// Port to listen on (0 = a random free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// JSON file with a `MockConfig`.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str::<MockConfig>(&text)
                .with_context(|| format!("parsing {}", path.display()))?
        }
        None => MockConfig::default(),
    };
    let server = MockServer::start_on(config, SocketAddr::new(args.host, args.port)).await?;
    println!("{}", server.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
