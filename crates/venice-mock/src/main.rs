//! `venice-mock`: run the mock server from the command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use venice_mock::{Catalog, MockConfig, MockServer};

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
    /// A `/models` response captured from the real API (e.g. `GET /models?type=all`),
    /// served instead of the built-in catalogue.
    #[arg(long, value_name = "FILE")]
    catalogue: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str::<MockConfig>(&text)
                .with_context(|| format!("parsing {}", path.display()))?
        }
        None => MockConfig::default(),
    };
    if let Some(path) = &args.catalogue {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let response: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("parsing {} as JSON", path.display()))?;
        let catalogue = Catalog::from_models_response(&response)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("reading the models of {}", path.display()))?;
        config.catalogue = Some(catalogue);
    }
    let server = MockServer::start_on(config, SocketAddr::new(args.host, args.port)).await?;
    println!("{}", server.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
