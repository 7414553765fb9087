//! Generate two pixel-sized images and save them.
//!
//! `VENICE_API_KEY=... [VENICE_BASE_URL=...] cargo run -p venice-image --example pixels`

use venice_image::{Client, Format, GenerateRequest, Size};

#[tokio::main]
async fn main() -> venice_image::Result<()> {
    let client = Client::from_env()?;
    let req = GenerateRequest::builder("z-image-turbo", "a lighthouse on a cliff at dusk")
        .size(Size::Pixels {
            width: 1024,
            height: 768,
        })
        .format(Format::Png)
        .variants(2)
        .build()?;
    let generation = client.generate(&req).await?;
    for path in generation.save_all(".")? {
        println!("{}", path.display());
    }
    Ok(())
}
