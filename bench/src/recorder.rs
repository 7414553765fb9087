//! The recorder under benchmark: `bench-recorder UPSTREAM_URL CASSETTE [shrink]` runs
//! `venice_mock::record` in its own process (so its peak RSS is its own), prints the
//! base URL to use instead of the upstream, records until its standard input closes,
//! then prints `{"vm_hwm_kib": N, "exchanges": N, "bytes": N}` (`bytes`: the cassette and
//! its side files).

mod proc_status;

use std::io::Read as _;

use venice_mock::MockServer;
use venice_mock::record::RecordOptions;


fn size_of(path: &std::path::Path) -> u64 {
    let mut total = std::fs::metadata(path).map_or(0, |m| m.len());
    let side = path.with_file_name(format!(
        "{}.d",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    if let Ok(entries) = std::fs::read_dir(side) {
        for e in entries.flatten() {
            total += e.metadata().map_or(0, |m| m.len());
        }
    }
    total
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [upstream, cassette, rest @ ..] = args.as_slice() else {
        return Err("usage: bench-recorder UPSTREAM_URL CASSETTE [shrink]".into());
    };
    let shrink = rest.first().is_some_and(|a| a == "shrink");
    let recorder =
        MockServer::record(RecordOptions::new(upstream, cassette).shrink_images(shrink)).await?;
    println!("{}", recorder.base_url());
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await;
    let summary = recorder.finish().await?;
    println!(
        "{}",
        serde_json::json!({
            "vm_hwm_kib": proc_status::vm_hwm_kib(),
            "exchanges": summary.exchanges,
            "bytes": size_of(&summary.cassette),
        })
    );
    Ok(())
}
