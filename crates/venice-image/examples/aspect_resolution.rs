//! Generate with an aspect ratio and a resolution tier, after checking the model
//! and estimating the cost.
//!
//! `cargo run -p venice-image --example aspect_resolution` (offline on the embedded
//! mock; with `VENICE_API_KEY` set, the real API).

mod common;

use venice_image::{AspectRatio, GenerateRequest, Resolution, Size};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client, _mock) = common::client().await?;
    let req = GenerateRequest::builder("nano-banana-pro", "a watercolor map of Venice")
        .size(Size::Tiered {
            aspect_ratio: AspectRatio::new(16, 9)?,
            resolution: Resolution::TwoK,
        })
        .build()?;
    client.validate_for_model(&req).await?;
    let cost = client.estimate_cost(&req).await?;
    println!(
        "estimated ${:.4} for {} image(s)",
        cost.total_usd(),
        cost.images()
    );
    let generation = client.generate(&req).await?;
    for image in generation.images() {
        let path = image.save(common::out_dir()).await?;
        println!("{}x{} -> {}", image.width(), image.height(), path.display());
    }
    Ok(())
}
