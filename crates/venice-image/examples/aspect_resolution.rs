//! Generate with an aspect ratio and a resolution tier, after checking the model
//! and estimating the cost.

use venice_image::{AspectRatio, Client, GenerateRequest, Resolution, Size};

#[tokio::main]
async fn main() -> venice_image::Result<()> {
    let client = Client::from_env()?;
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
        cost.total_usd, cost.images
    );
    let generation = client.generate(&req).await?;
    for image in &generation.images {
        println!(
            "{}x{} -> {}",
            image.width,
            image.height,
            image.save(".")?.display()
        );
    }
    Ok(())
}
