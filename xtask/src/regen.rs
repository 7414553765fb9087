//! `cargo xtask prove-regeneration`: show, in a scratch copy of the workspace, that a
//! spec change reaches the wire through regeneration alone.
//!
//! 1. Rename `/image/upscale` to `/image/upscale-v2` in the spec and regenerate: the
//!    facade's `Client::upscale` must send to the new path with no other edit.
//! 2. Add an optional `enhance` field to `UpscaleImageRequest` and regenerate: one
//!    setter on the facade's builder must put it on the wire.
//!
//! 3. Add a value (`2048x2048`) to the OpenAI-compatible `size` enum and regenerate:
//!    the facade's `OpenAiSize` must list and parse it, a request with it must carry it,
//!    and the CLI's `openai --help` must offer it for `--size`, with no other edit.
//!
//! The first two and the facade's part of the third are checked by a test written into
//! the copy, which captures the request the facade sends to a loopback server; the
//! CLI's part by running the copy's binary. The copy lives under `target/regen-proof` and
//! builds into the workspace's own `target/` (dependencies are shared; only the copied
//! workspace crates are built again).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

const OLD_PATH: &str = "  /image/upscale:\n";
const NEW_PATH: &str = "  /image/upscale-v2:\n";
const FIELD_ANCHOR: &str = "        creativity:\n          type: number\n          nullable: true\n          description: How much detail and texture the upscaler adds";
const FIELD: &str = "        enhance:\n          type: boolean\n          description: Added by `cargo xtask prove-regeneration`.\n";
const SIZE_ENUM: &str =
    "enum: [auto, 256x256, 512x512, 1024x1024, 1536x1024, 1024x1536, 1792x1024, 1024x1792]";
const NEW_SIZE: &str = "2048x2048";
/// The CLI's binary target.
const CLI_BIN: &str = "venice-image";
const SETTER_ANCHOR: &str = "    setters! {\n";
const SETTER: &str = "        /// Added by `cargo xtask prove-regeneration`: the one edit a new field needs.\n        enhance(bool) => enhance;\n";

const PROOF_TEST: &str = r#"//! Written by `cargo xtask prove-regeneration`.
#![allow(clippy::unwrap_used, missing_docs)]

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use venice_image::{Auth, Client, ImageInput, UpscaleRequest};

#[tokio::test]
async fn the_regenerated_path_and_field_reach_the_wire() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 65536];
        // Read the head, then exactly `content-length` bytes of body.
        let done = |seen: &[u8]| {
            let text = String::from_utf8_lossy(seen);
            let Some(end) = text.find("\r\n\r\n") else { return false };
            let len: usize = text[..end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                .unwrap_or(0);
            seen.len() >= end + 4 + len
        };
        while !done(&seen) {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 { break; }
            seen.extend_from_slice(&buf[..n]);
        }
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
        String::from_utf8_lossy(&seen).into_owned()
    });
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend_from_slice(&512u32.to_be_bytes());
    png.extend_from_slice(&512u32.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    let client = Client::builder().base_url(url).auth(Auth::api_key("k")).build().unwrap();
    let request = UpscaleRequest::builder(ImageInput::from_bytes(png).unwrap())
        .enhance(true)
        .build()
        .unwrap();
    let _ = client.upscale(&request).await;
    let seen = server.await.unwrap();
    let first_line = seen.lines().next().unwrap_or("");
    println!("request line: {first_line}");
    assert_eq!(first_line, "POST /api/v1/image/upscale-v2 HTTP/1.1");
    let body = &seen[seen.find("\r\n\r\n").unwrap() + 4..];
    println!("body: {}", &body[..body.len().min(120)]);
    // An image given as bytes goes as multipart/form-data: the seam lays every field of
    // the generated body out as a part, the new one included.
    if seen.to_ascii_lowercase().contains("content-type: multipart/form-data") {
        assert!(body.contains("name=\"enhance\"\r\n\r\ntrue\r\n"), "{body}");
    } else {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["enhance"], true);
    }
}

#[test]
fn the_new_enum_value_reaches_the_facade() {
    use venice_image::{OpenAiGenerateRequest, OpenAiSize};
    let size = OpenAiSize::parse_ignore_case("2048x2048").expect("the new value parses");
    assert!(OpenAiSize::ALL.contains(&size), "{:?}", OpenAiSize::ALL);
    let request = OpenAiGenerateRequest::builder("m", "p").size(size).build().unwrap();
    println!("facade: {}", request.to_json());
    assert_eq!(request.to_json()["size"], "2048x2048");
}
"#;

fn replace_once(text: &str, from: &str, to: &str, what: &str) -> Result<String> {
    if text.matches(from).count() != 1 {
        bail!("{what}: the anchor is not in the file exactly once; update xtask/src/regen.rs");
    }
    Ok(text.replacen(from, to, 1))
}

/// Run the proof; prints what the facade sent.
pub fn prove(root: &Path) -> Result<()> {
    let base = root.join("target").join("regen-proof");
    let ws = base.join("workspace");
    crate::scratch::copy_workspace(root, &ws)?;

    let spec_path = crate::spec_path(&ws);
    let spec = std::fs::read_to_string(&spec_path)?;
    let spec = replace_once(&spec, OLD_PATH, NEW_PATH, "rename the upscale path")?;
    let spec = replace_once(
        &spec,
        FIELD_ANCHOR,
        &format!("{FIELD}{FIELD_ANCHOR}"),
        "add a field",
    )?;
    let spec = replace_once(
        &spec,
        SIZE_ENUM,
        &format!("{}, {NEW_SIZE}]", SIZE_ENUM.trim_end_matches(']')),
        "add an enum value",
    )?;
    std::fs::write(&spec_path, spec)?;
    let edited = crate::spec::parse(&std::fs::read_to_string(&spec_path)?)?;
    for (out, code) in crate::codegen::generate_files(&ws, &edited)? {
        std::fs::write(out, code)?;
    }
    println!(
        "regenerated the client from the edited spec (path renamed, field added, size {NEW_SIZE} added)"
    );

    let upscale = ws.join("crates/venice-image/src/ops/upscale.rs");
    let text = std::fs::read_to_string(&upscale)?;
    std::fs::write(
        &upscale,
        replace_once(
            &text,
            SETTER_ANCHOR,
            &format!("{SETTER_ANCHOR}{SETTER}"),
            "add the setter",
        )?,
    )?;
    std::fs::write(
        ws.join("crates/venice-image/tests/regen_proof.rs"),
        PROOF_TEST,
    )?;
    println!("added one setter (UpscaleRequestBuilder::enhance) and the proof test; no other edit");

    // One build of the proof test and the CLI's binary, with features resolved as `cargo
    // test --workspace` resolves them (dev-dependencies included), so its dependency
    // builds are reused; `cargo run -p venice-cli` would resolve them for the CLI alone.
    let cli = build_copy(root, &ws)?;
    let status = cargo_in_copy(root, &ws)
        .args(["test", "--workspace", "--test", "regen_proof"])
        .args(["--", "--nocapture"])
        .status()
        .context("running the proof test")?;
    if !status.success() {
        bail!("the facade did not send the regenerated path or field, or lacks the new size");
    }
    println!("proved: the renamed path, the new field and the new size reached the facade");

    let out = Command::new(&cli)
        .args(["openai", "--help"])
        .output()
        .with_context(|| format!("running the copy's CLI ({})", cli.display()))?;
    let help = String::from_utf8_lossy(&out.stdout);
    let values = size_values(&help);
    println!(
        "CLI `openai --help`, --size: {}",
        values.unwrap_or("(none)")
    );
    if !out.status.success() || !values.is_some_and(|v| v.split(", ").any(|v| v == NEW_SIZE)) {
        bail!(
            "the CLI's `openai --help` does not offer --size {NEW_SIZE}:\n{help}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!("proved: the new size reached the CLI's --help");
    Ok(())
}

/// Build the copy's proof test and CLI binary; the binary's path, as cargo reports it.
fn build_copy(root: &Path, ws: &Path) -> Result<std::path::PathBuf> {
    let out = cargo_in_copy(root, ws)
        .args([
            "build",
            "--workspace",
            "--test",
            "regen_proof",
            "--bin",
            CLI_BIN,
        ])
        .args(["--message-format", "json-render-diagnostics"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("building the copy")?;
    if !out.status.success() {
        bail!("the copy with the regenerated client does not build");
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == CLI_BIN)
        .and_then(|m| m["executable"].as_str().map(std::path::PathBuf::from))
        .context("cargo built no CLI binary")
}

/// `cargo` run in the copy `ws`, building into the workspace's `target/`.
fn cargo_in_copy(root: &Path, ws: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(ws)
        .env("CARGO_TARGET_DIR", crate::package::target_dir(root));
    // Cargo names a workspace crate's artifacts by its path relative to the workspace
    // root, which the copy shares with the real workspace: a different profile setting
    // for the copied crates gives them their own artifacts (dependencies stay shared).
    for krate in [
        "venice-openapi",
        "venice-image",
        "venice-mock",
        "venice-cli",
    ] {
        command.args([
            "--config",
            &format!("profile.dev.package.{krate}.codegen-units=7"),
        ]);
    }
    command
}

/// The `[possible values: …]` of `--size` in an `openai --help` output.
fn size_values(help: &str) -> Option<&str> {
    let rest = &help[help.find("--size <")?..];
    let next_flag = rest[2..].find("\n      --").map_or(rest.len(), |i| i + 2);
    let rest = &rest[..next_flag];
    let list = rest.split_once("[possible values: ")?.1;
    Some(&list[..list.find(']')?])
}
