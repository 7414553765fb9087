//! Generate two pixel-sized images and save them.
//!
//! `cargo run -p venice-image --example pixels` (offline on the embedded mock; with
//! `VENICE_API_KEY` set, the real API).

mod common;

use venice_image::{Format, GenerateRequest, Size};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client, _mock) = common::client().await?;
    let req = GenerateRequest::builder("venice-sd35", "a lighthouse on a cliff at dusk")
        .size(Size::Pixels {
            width: 1024,
            height: 768,
        })
        .output_format(Format::Png)
        .variants(2)
        .build()?;
    let generation = client.generate(&req).await?;
    for path in generation.save_all(common::out_dir()).await? {
        println!("{}", path.display());
    }
    Ok(())
}
