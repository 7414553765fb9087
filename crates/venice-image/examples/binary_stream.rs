//! Stream a binary image straight to disk.

use venice_image::{Client, Format, GenerateRequest};

#[tokio::main]
async fn main() -> venice_image::Result<()> {
    let client = Client::from_env()?;
    let req = GenerateRequest::builder("z-image-turbo", "a paper crane, studio light")
        .format(Format::Webp)
        .build()?;
    let image = client.generate_binary(&req).await?;
    if image.meta.is_blurred {
        eprintln!("note: the image was blurred by safe mode");
    }
    let path = image.save_to(".").await?;
    println!("{}", path.display());
    Ok(())
}
