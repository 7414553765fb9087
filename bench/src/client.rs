//! One benchmark client process: `bench-client KIND URL CALLS VARIANTS [OUT_DIR]`.
//!
//! Makes one untimed warm-up operation (connection, catalogue), then CALLS timed
//! operations, keeping each operation's decoded images alive until it ends, and prints
//! one JSON line: per-call microseconds, decoded bytes per call, and the process's peak
//! RSS (`VmHWM`).

mod proc_status;

use std::time::Instant;

use base64::Engine as _;
use serde::Deserialize;

const KEY: &str = "venice-mock-key";
const MODEL: &str = "venice-sd35";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the hand-written baseline deserializes (serde derive, owned strings).
#[derive(Deserialize)]
struct Wire {
    #[allow(dead_code)]
    id: String,
    images: Vec<String>,
}

fn body(variants: u32, binary: bool) -> String {
    serde_json::json!({
        "model": MODEL, "prompt": "bench", "width": 1024, "height": 1024,
        "format": "png", "variants": variants, "return_binary": binary,
    })
    .to_string()
}


enum Runner {
    Facade(venice_image::Client, venice_image::GenerateRequest),
    FacadeBinary(venice_image::Client, venice_image::GenerateRequest, String),
    Baseline(reqwest::Client, String, String),
    Raw(reqwest::Client, String, String),
    AsyncOpenai(
        async_openai::Client<async_openai::config::OpenAIConfig>,
        u32,
    ),
}

impl Runner {
    fn new(kind: &str, url: &str, variants: u32, out: Option<String>) -> Result<Self, BoxError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let req = venice_image::GenerateRequest::builder(MODEL, "bench")
            .size(venice_image::Size::Pixels {
                width: 1024,
                height: 1024,
            })
            .output_format(venice_image::Format::Png)
            .variants(u8::try_from(variants)?)
            .build()?;
        let facade = || {
            venice_image::Client::builder()
                .base_url(url)
                .auth(venice_image::Auth::api_key(KEY))
                .build()
        };
        Ok(match kind {
            "facade" => Runner::Facade(facade()?, req),
            "facade-binary" => {
                let req = venice_image::GenerateRequest::builder(MODEL, "bench")
                    .size(venice_image::Size::Pixels {
                        width: 1024,
                        height: 1024,
                    })
                    .output_format(venice_image::Format::Png)
                    .build()?;
                Runner::FacadeBinary(facade()?, req, out.ok_or("facade-binary needs OUT_DIR")?)
            }
            "baseline" => Runner::Baseline(
                reqwest::Client::new(),
                format!("{url}/image/generate"),
                body(variants, false),
            ),
            "raw" => Runner::Raw(
                reqwest::Client::new(),
                format!("{url}/image/generate"),
                body(variants, false),
            ),
            "async-openai" => {
                let config = async_openai::config::OpenAIConfig::new()
                    .with_api_base(url)
                    .with_api_key(KEY);
                Runner::AsyncOpenai(async_openai::Client::with_config(config), variants)
            }
            other => return Err(format!("unknown client kind {other}").into()),
        })
    }

    /// One operation; returns the decoded bytes it produced (kept alive until now).
    async fn run(&self) -> Result<u64, BoxError> {
        match self {
            Runner::Facade(client, req) => {
                let g = client.generate(req).await?;
                Ok(g.images().iter().map(|i| i.bytes().len() as u64).sum())
            }
            Runner::FacadeBinary(client, req, dir) => {
                let img = client.generate_binary(req).await?;
                let path = img.save(format!("{dir}/bench.png")).await?;
                let len = std::fs::metadata(&path)?.len();
                std::fs::remove_file(&path)?;
                Ok(len)
            }
            Runner::Baseline(client, url, body) => {
                let bytes = client
                    .post(url)
                    .bearer_auth(KEY)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?
                    .error_for_status()?
                    .bytes()
                    .await?;
                let wire: Wire = serde_json::from_slice(&bytes)?;
                let mut images = Vec::with_capacity(wire.images.len());
                for b64 in &wire.images {
                    images.push(base64::engine::general_purpose::STANDARD.decode(b64)?);
                }
                Ok(images.iter().map(|i| i.len() as u64).sum())
            }
            Runner::Raw(client, url, body) => {
                let bytes = client
                    .post(url)
                    .bearer_auth(KEY)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?
                    .error_for_status()?
                    .bytes()
                    .await?;
                Ok(bytes.len() as u64)
            }
            Runner::AsyncOpenai(client, variants) => {
                use async_openai::types::images::{
                    CreateImageRequestArgs, Image, ImageModel, ImageResponseFormat, ImageSize,
                };
                // `n` is capped at 1 by the API: one request per variant, in sequence.
                let mut images = Vec::new();
                for _ in 0..*variants {
                    #[allow(deprecated)]
                    let request = CreateImageRequestArgs::default()
                        .prompt("bench")
                        .model(ImageModel::Other(MODEL.into()))
                        .n(1)
                        .size(ImageSize::S1024x1024)
                        .response_format(ImageResponseFormat::B64Json)
                        .build()?;
                    let response = client.images().generate(request).await?;
                    for image in response.data.iter() {
                        if let Image::B64Json { b64_json, .. } = &**image {
                            images.push(
                                base64::engine::general_purpose::STANDARD
                                    .decode(b64_json.as_str())?,
                            );
                        }
                    }
                }
                Ok(images.iter().map(|i| i.len() as u64).sum())
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, url, calls, variants, rest @ ..] = args.as_slice() else {
        return Err("usage: bench-client KIND URL CALLS VARIANTS [OUT_DIR]".into());
    };
    let calls: usize = calls.parse()?;
    let variants: u32 = variants.parse()?;
    let runner = Runner::new(kind, url, variants, rest.first().cloned())?;
    let decoded = runner.run().await?;
    let mut micros = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        let n = runner.run().await?;
        micros.push(start.elapsed().as_micros() as u64);
        if n != decoded {
            return Err(format!("decoded {n} bytes, warm-up decoded {decoded}").into());
        }
    }
    println!(
        "{}",
        serde_json::json!({"kind": kind, "micros": micros, "decoded_bytes": decoded, "vm_hwm_kib": proc_status::vm_hwm_kib()})
    );
    Ok(())
}
