//! Stream a binary image straight to disk.
//!
//! `cargo run -p venice-image --example binary_stream` (offline on the embedded mock;
//! with `VENICE_API_KEY` set, the real API).

mod common;

use venice_image::{Format, GenerateRequest, Size};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client, _mock) = common::client().await?;
    let req = GenerateRequest::builder("venice-sd35", "a paper crane, studio light")
        .size(Size::Pixels {
            width: 768,
            height: 768,
        })
        .output_format(Format::Webp)
        .build()?;
    let image = client.generate_binary(&req).await?;
    if image.meta().is_blurred() {
        eprintln!("note: the image was blurred by safe mode");
    }
    // A directory (trailing `/`): the file is named after the request id.
    let path = image.save(common::out_dir()).await?;
    println!("{}", path.display());
    Ok(())
}
