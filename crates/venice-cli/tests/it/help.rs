//! `--help` shows the spec's vocabulary: every value of the generated enums the
//! arguments take, and the bounds from the library's constants, so a value or bound
//! changed in the spec reaches the help by regeneration alone (`cargo xtask
//! prove-regeneration` checks that end to end). The arguments parse the wire values in
//! any case, as the library's parsers always did.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;
use venice_image::raw::types;
use venice_image::{
    Moderation, OpenAiBackground, OpenAiQuality, OpenAiSize, OpenAiStyle, ResponseFormat, limits,
};

fn help(args: &[&str]) -> String {
    let (code, stdout, stderr) = run(bin().args(args).arg("--help"));
    assert_eq!(code, 0, "{stderr}");
    stdout
}

/// The `[possible values: …]` of `--flag` in `help`.
fn possible_values(help: &str, flag: &str) -> Vec<String> {
    let at = help
        .find(&format!("{flag} <"))
        .unwrap_or_else(|| panic!("{flag} in {help}"));
    let rest = &help[at..];
    let list = rest
        .split_once("[possible values: ")
        .unwrap_or_else(|| panic!("{flag} lists no values"))
        .1;
    let list = &list[..list.find(']').unwrap()];
    list.split(", ").map(str::to_owned).collect()
}

fn wire<T>(all: &[T], as_str: fn(&T) -> &'static str) -> Vec<String> {
    all.iter().map(|v| as_str(v).to_owned()).collect()
}

#[test]
fn openai_help_lists_every_value_of_the_generated_enums() {
    let h = help(&["openai"]);
    assert_eq!(
        possible_values(&h, "--size"),
        wire(OpenAiSize::ALL, OpenAiSize::as_str)
    );
    assert_eq!(
        possible_values(&h, "--response-format"),
        wire(ResponseFormat::ALL, ResponseFormat::as_str)
    );
    assert_eq!(
        possible_values(&h, "--moderation"),
        wire(Moderation::ALL, Moderation::as_str)
    );
    assert_eq!(
        possible_values(&h, "--quality"),
        wire(OpenAiQuality::ALL, OpenAiQuality::as_str)
    );
    assert_eq!(
        possible_values(&h, "--style"),
        wire(OpenAiStyle::ALL, OpenAiStyle::as_str)
    );
    assert_eq!(
        possible_values(&h, "--background"),
        wire(OpenAiBackground::ALL, OpenAiBackground::as_str)
    );
    assert!(h.contains(&format!(
        "at most {} characters",
        limits::MAX_OPENAI_PROMPT_CHARS
    )));
    assert!(h.contains(&format!(
        "output compression, {}-{}",
        venice_image::raw::bounds::SIMPLE_GENERATE_IMAGE_REQUEST_OUTPUT_COMPRESSION_MIN,
        venice_image::raw::bounds::SIMPLE_GENERATE_IMAGE_REQUEST_OUTPUT_COMPRESSION_MAX
    )));
}

#[test]
fn other_help_texts_take_their_bounds_and_lists_from_the_spec() {
    let g = help(&["generate"]);
    assert!(
        g.contains(&format!("Number of images (1-{})", limits::MAX_VARIANTS)),
        "{g}"
    );
    assert!(
        g.contains(&format!("CFG scale (0, {}]", limits::MAX_CFG_SCALE)),
        "{g}"
    );
    assert!(
        g.contains(&format!(
            "LoRA strength, 0 to {}",
            limits::MAX_LORA_STRENGTH
        )),
        "{g}"
    );
    let qualities = wire(types::ImageQuality::ALL, types::ImageQuality::as_str).join(", ");
    assert!(g.contains(&format!("Quality ({qualities})")), "{g}");
    let top = help(&[]);
    assert!(
        top.contains(&format!("up to {} variants", limits::MAX_VARIANTS)),
        "{top}"
    );
    let u = help(&["upscale"]);
    assert!(
        u.contains(&format!(
            "Scale factor, {} to {}",
            limits::MIN_UPSCALE_SCALE,
            limits::MAX_UPSCALE_SCALE
        )),
        "{u}"
    );
    let e = help(&["edit"]);
    let ratios = wire(types::EditAspectRatio::ALL, types::EditAspectRatio::as_str).join(", ");
    assert!(e.contains(&format!("Output aspect ratio: {ratios}")), "{e}");
}

#[test]
fn enum_arguments_parse_any_case_and_refuse_other_values() {
    let rt = rt();
    let server = rt
        .block_on(venice_mock::MockServer::start(
            venice_mock::MockConfig::default(),
        ))
        .unwrap();
    let (code, stdout, stderr) = run(against(&server).args([
        "openai",
        "a fox",
        "-m",
        "venice-sd35",
        "--size",
        "512X512",
        "--response-format",
        "URL",
        "--dry-run",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["request"]["size"], "512x512", "{v}");
    assert_eq!(v["request"]["response_format"], "url", "{v}");
    let (code, _, stderr) = run(against(&server).args(["openai", "a fox", "--size", "100x100"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("invalid value '100x100' for '--size <SIZE>'"),
        "{stderr}"
    );
    drop(rt);
}
