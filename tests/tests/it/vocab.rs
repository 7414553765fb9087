//! The facade's value enums are the spec's, both ways: each one's `ALL` is exactly its
//! spec enum, in order (a value the spec adds or drops shows here), and every spec value
//! parses to a facade value that goes out as itself. The spec is read as data.
#![allow(clippy::unwrap_used)]

use contract_tests::our_spec_value;
use serde_json::Value;
use venice_image::{
    Moderation, OpenAiBackground, OpenAiQuality, OpenAiSize, OpenAiStyle, ResponseFormat,
};

fn spec_enum(spec: &Value, schema: &str, property: &str) -> Vec<String> {
    spec["components"]["schemas"][schema]["properties"][property]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{schema}.{property} has no enum"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// `ALL` as wire values, and each spec value parsed and written back.
fn both_ways<T: Copy + PartialEq + std::fmt::Debug>(
    spec: &[String],
    all: &[T],
    as_str: fn(&T) -> &'static str,
    parse: fn(&str) -> Option<T>,
) {
    let facade: Vec<&str> = all.iter().map(as_str).collect();
    assert_eq!(facade, spec, "facade ALL vs spec");
    for value in spec {
        let parsed = parse(value).unwrap_or_else(|| panic!("{value} does not parse"));
        assert_eq!(as_str(&parsed), value);
        assert!(all.contains(&parsed));
        let upper = parse(&format!(" {} ", value.to_ascii_uppercase())).unwrap();
        assert_eq!(upper, parsed, "parse_ignore_case");
    }
}

#[test]
fn the_openai_value_enums_are_the_spec_enums_both_ways() {
    let spec = our_spec_value().unwrap();
    let s = |p| spec_enum(&spec, "SimpleGenerateImageRequest", p);
    both_ways(
        &s("size"),
        OpenAiSize::ALL,
        OpenAiSize::as_str,
        OpenAiSize::parse_ignore_case,
    );
    both_ways(
        &s("response_format"),
        ResponseFormat::ALL,
        ResponseFormat::as_str,
        ResponseFormat::parse_ignore_case,
    );
    both_ways(
        &s("moderation"),
        Moderation::ALL,
        Moderation::as_str,
        Moderation::parse_ignore_case,
    );
    both_ways(
        &s("quality"),
        OpenAiQuality::ALL,
        OpenAiQuality::as_str,
        OpenAiQuality::parse_ignore_case,
    );
    both_ways(
        &s("style"),
        OpenAiStyle::ALL,
        OpenAiStyle::as_str,
        OpenAiStyle::parse_ignore_case,
    );
    both_ways(
        &s("background"),
        OpenAiBackground::ALL,
        OpenAiBackground::as_str,
        OpenAiBackground::parse_ignore_case,
    );
    assert_eq!(OpenAiSize::parse_ignore_case("100x100"), None);
}

/// Every spec value goes out on the wire as itself through the facade's builder.
#[test]
fn every_spec_size_reaches_the_request_body() {
    let spec = our_spec_value().unwrap();
    for value in spec_enum(&spec, "SimpleGenerateImageRequest", "size") {
        let size = OpenAiSize::parse_ignore_case(&value).unwrap();
        let request = venice_image::OpenAiGenerateRequest::builder("m", "p")
            .size(size)
            .build()
            .unwrap();
        assert_eq!(request.to_json()["size"], value.as_str());
    }
}

/// The `limits` that restate a spec bound have the spec's value.
#[test]
fn limits_are_the_spec_bounds() {
    use venice_image::limits;
    let spec = our_spec_value().unwrap();
    let prop =
        |schema: &str, p: &str| spec["components"]["schemas"][schema]["properties"][p].clone();
    let g = |p: &str| prop("GenerateImageRequest", p);
    assert_eq!(g("variants")["maximum"], u64::from(limits::MAX_VARIANTS));
    assert_eq!(g("width")["maximum"], u64::from(limits::MAX_PIXEL_SIDE));
    assert_eq!(g("prompt")["maxLength"], limits::MAX_PROMPT_CHARS as u64);
    assert_eq!(g("seed")["maximum"], limits::MAX_SEED);
    assert_eq!(
        g("cfg_scale")["maximum"].as_f64(),
        Some(limits::MAX_CFG_SCALE)
    );
    assert_eq!(
        g("lora_strength")["maximum"],
        u64::from(limits::MAX_LORA_STRENGTH)
    );
    assert_eq!(
        prop("SimpleGenerateImageRequest", "prompt")["maxLength"],
        limits::MAX_OPENAI_PROMPT_CHARS as u64
    );
    assert_eq!(
        prop("EditImageRequest", "prompt")["maxLength"],
        limits::MAX_EDIT_PROMPT_CHARS as u64
    );
    assert_eq!(
        prop("UpscaleImageRequest", "scale")["maximum"].as_f64(),
        Some(limits::MAX_UPSCALE_SCALE)
    );
    assert_eq!(
        prop("StyleReference", "strength")["minimum"].as_f64(),
        Some(limits::MIN_STYLE_REFERENCE_STRENGTH)
    );
}
