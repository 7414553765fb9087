//! One benchmark client process: `bench-client KIND URL CALLS VARIANTS [DIR]`.
//!
//! Makes one untimed warm-up operation (connection, catalogue), then CALLS timed
//! operations, keeping each operation's decoded images alive until it ends, and prints
//! one JSON line: per-call microseconds, decoded bytes per call, and the process's peak
//! RSS (`VmHWM`).
//!
//! The upload kinds (`upscale-form`, `upscale-json`, `multi-edit-form`,
//! `multi-edit-json`) send the files the harness wrote to DIR (`big.png`, 24 MB;
//! `layer0.png`…`layer2.png`, 10 MB each): `-form` is the facade (`multipart/form-data`,
//! files streamed from disk), `-json` the generated client with a JSON body whose base64
//! is streamed from the same files (how the facade sent uploads before).

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


/// An upload operation of the benchmark.
enum Upload {
    Upscale(venice_image::UpscaleRequest),
    MultiEdit(venice_image::MultiEditRequest),
}

enum Runner {
    Facade(venice_image::Client, venice_image::GenerateRequest),
    UploadForm(venice_image::Client, Upload),
    UploadJson {
        http: reqwest::Client,
        url: String,
        files: Vec<std::path::PathBuf>,
    },
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
        let files = |names: &[&str]| -> Result<Vec<std::path::PathBuf>, BoxError> {
            let dir = out.as_deref().ok_or("upload kinds need DIR")?;
            Ok(names
                .iter()
                .map(|n| std::path::Path::new(dir).join(n))
                .collect())
        };
        let layers = ["layer0.png", "layer1.png", "layer2.png"];
        Ok(match kind {
            "facade" => Runner::Facade(facade()?, req),
            "upscale-form" => {
                let path = files(&["big.png"])?.remove(0);
                let req =
                    venice_image::UpscaleRequest::builder(venice_image::ImageInput::from_path(
                        path,
                    )?)
                    .build()?;
                Runner::UploadForm(facade()?, Upload::Upscale(req))
            }
            "multi-edit-form" => {
                let mut inputs = files(&layers)?
                    .into_iter()
                    .map(venice_image::ImageInput::from_path)
                    .collect::<Result<Vec<_>, _>>()?;
                let base = inputs.remove(0);
                let req = venice_image::MultiEditRequest::builder("bench", base)
                    .layers(inputs)
                    .build()?;
                Runner::UploadForm(facade()?, Upload::MultiEdit(req))
            }
            "upscale-json" | "multi-edit-json" => {
                let mut headers = reqwest::header::HeaderMap::new();
                headers.insert(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {KEY}").parse()?,
                );
                Runner::UploadJson {
                    http: reqwest::Client::builder()
                        .default_headers(headers)
                        .build()?,
                    url: url.to_owned(),
                    files: if kind == "upscale-json" {
                        files(&["big.png"])?
                    } else {
                        files(&layers)?
                    },
                }
            }
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
            Runner::UploadForm(client, upload) => {
                let image = match upload {
                    Upload::Upscale(req) => client.upscale(req).await?,
                    Upload::MultiEdit(req) => client.multi_edit(req).await?,
                };
                Ok(image.bytes().len() as u64)
            }
            Runner::UploadJson { http, url, files } => {
                use venice_image::raw::{ClientState, UploadSource, Uploads, types};
                let mut uploads = Uploads::new();
                let mut fields = Vec::with_capacity(files.len());
                for path in files {
                    let len = std::fs::metadata(path)?.len();
                    fields.push(uploads.add_as(
                        UploadSource::File {
                            path: path.clone(),
                            len,
                        },
                        "image/png",
                    )?);
                }
                // Past the provider's 35 MB too (three 10 MB layers are 40 MB of JSON):
                // this row measures the encoding, the bench server takes it.
                let state = ClientState::anonymous()
                    .max_json_body_bytes(u64::MAX)
                    .uploads(uploads);
                let raw = venice_image::raw::Client::new_with_client(url, http.clone(), state);
                let answer = if fields.len() == 1 {
                    raw.upscale_image()
                        .body(types::UpscaleImageRequest::builder().image(fields[0].as_str()))
                        .send()
                        .await
                } else {
                    raw.multi_edit_image()
                        .body(
                            types::MultiEditImageRequest::builder()
                                .prompt("bench")
                                .images(
                                    fields
                                        .iter()
                                        .map(|f| f.parse())
                                        .collect::<Result<Vec<_>, _>>()?,
                                ),
                        )
                        .send()
                        .await
                }
                .map_err(|e| format!("{e}"))?;
                let mut n = 0u64;
                let mut stream = answer.into_inner_stream();
                while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
                    n += chunk?.len() as u64;
                }
                Ok(n)
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
