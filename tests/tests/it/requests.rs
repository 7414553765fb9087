//! Requests: every request the facade lets a user build is a valid `GenerateImageRequest`
//! of `openapi/venice-image.yaml`, and the facade's client-side validation agrees with the
//! spec's JSON Schema on generated raw inputs (valid and invalid).
//!
//! The schema is never re-typed here: [`venice_mock::spec::request_validator`] compiles it
//! from the spec file (OAS 3.0 → JSON Schema: `nullable`, boolean `exclusiveMinimum`,
//! `deprecated` handled by [`venice_mock::spec::to_json_schema`]).
//!
//! Case counts (`ProptestConfig::with_cases`): 2,000 typed requests, 10,000 raw inputs for
//! the differential property, 2,000 mutations of valid requests.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use venice_image::{
    AspectRatio, Format, GenerateRequest, Quality, Resolution, Size, StyleReference,
    ValidationError,
};
use venice_mock::spec::{Issue, SchemaValidator, request_validator};

fn validator() -> &'static SchemaValidator {
    request_validator("generateImage").expect("generateImage has a JSON request schema")
}

// ---------------------------------------------------------------------------------------
// 1. Typed requests: whatever the builder accepts validates against the spec.
// ---------------------------------------------------------------------------------------

fn prompt_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z0-9 ,.é🦀]{1,40}",
        1 => (32_700usize..=32_768, any::<bool>())
            .prop_map(|(n, wide)| if wide { "é".repeat(n) } else { "a".repeat(n) }),
    ]
}

fn ratio() -> impl Strategy<Value = AspectRatio> {
    (1u16..=999, 1u16..=999).prop_map(|(w, h)| AspectRatio::new(w, h).unwrap())
}

fn typed_size() -> impl Strategy<Value = Size> {
    prop_oneof![
        (1u32..=1280, 1u32..=1280).prop_map(|(width, height)| Size::Pixels { width, height }),
        ratio().prop_map(Size::AspectRatio),
        (
            ratio(),
            prop_oneof![
                Just(Resolution::OneK),
                Just(Resolution::TwoK),
                Just(Resolution::FourK)
            ]
        )
            .prop_map(|(aspect_ratio, resolution)| Size::Tiered {
                aspect_ratio,
                resolution
            }),
    ]
}

fn typed_reference() -> impl Strategy<Value = StyleReference> {
    (
        prop_oneof![
            "https://[a-z]{1,10}\\.example/[a-z]{0,8}\\.png"
                .prop_map(|u| StyleReference::from_url(u).unwrap()),
            proptest::collection::vec(any::<u8>(), 1..64)
                .prop_map(|b| StyleReference::from_bytes(b).unwrap()),
            "[A-Za-z0-9+/]{4,40}"
                .prop_map(
                    |b| StyleReference::from_base64(format!("data:image/png;base64,{b}")).unwrap()
                ),
        ],
        proptest::option::of(0.1f64..=1.0),
    )
        .prop_map(|(r, s)| match s {
            Some(s) => r.with_strength(s),
            None => r,
        })
}

/// A request built only from in-range values: the builder must accept it.
fn typed_request() -> impl Strategy<Value = GenerateRequest> {
    let head = (
        "[a-z0-9-]{1,20}",
        prompt_text(),
        proptest::option::of(prompt_text()),
        proptest::option::of(typed_size()),
        proptest::option::of(prop_oneof![
            Just(Quality::Low),
            Just(Quality::Medium),
            Just(Quality::High)
        ]),
        proptest::option::of(prop_oneof![
            Just(Format::Jpeg),
            Just(Format::Png),
            Just(Format::Webp)
        ]),
        proptest::option::of(1u8..=4),
        proptest::option::of(any::<bool>()),
    );
    let tail = (
        proptest::option::of(-999_999_999i64..=999_999_999),
        proptest::option::of(prop_oneof![Just(20.0), 1e-9f64..=20.0]),
        proptest::option::of(0u32..=1000),
        proptest::option::of("[A-Za-z0-9 ]{0,20}"),
        proptest::option::of(0u8..=100),
        proptest::collection::vec(proptest::option::of(any::<bool>()), 6),
        proptest::collection::vec(typed_reference(), 0..3),
    );
    (head, tail).prop_map(
        |(
            (model, prompt, negative, size, quality, format, variants, binary),
            (seed, cfg, steps, preset, lora, flags, refs),
        )| {
            let mut b = GenerateRequest::builder(model, prompt);
            if let Some(v) = negative {
                b = b.negative_prompt(v);
            }
            if let Some(v) = size {
                b = b.size(v);
            }
            if let Some(v) = quality {
                b = b.quality(v);
            }
            if let Some(v) = format {
                b = b.output_format(v);
            }
            // Binary responses carry one image: keep the pair consistent.
            let binary = binary.filter(|on| !(*on && variants.is_some_and(|v| v > 1)));
            if let Some(v) = variants {
                b = b.variants(v);
            }
            if let Some(v) = binary {
                b = b.return_binary(v);
            }
            if let Some(v) = seed {
                b = b.seed(v);
            }
            if let Some(v) = cfg {
                b = b.cfg_scale(v);
            }
            if let Some(v) = steps {
                b = b.steps(v);
            }
            if let Some(v) = preset {
                b = b.style_preset(v);
            }
            if let Some(v) = lora {
                b = b.lora_strength(v);
            }
            let setters: [fn(
                venice_image::GenerateRequestBuilder,
                bool,
            ) -> venice_image::GenerateRequestBuilder; 6] = [
                |b, v| b.safe_mode(v),
                |b, v| b.hide_watermark(v),
                |b, v| b.embed_exif_metadata(v),
                |b, v| b.enable_web_search(v),
                |b, v| b.enhance_prompt(v),
                |b, v| b.disable_prompt_optimization_thinking(v),
            ];
            for (set, flag) in setters.iter().zip(flags) {
                if let Some(v) = flag {
                    b = set(b, v);
                }
            }
            for r in refs {
                b = b.style_reference(r);
            }
            b.build()
                .unwrap_or_else(|e| panic!("in-range request rejected: {e}"))
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every in-range request builds, validates against the spec, and round-trips through
    /// the generated (progenitor) request type unchanged.
    #[test]
    fn built_requests_validate_against_the_spec(req in typed_request()) {
        let body = req.to_json();
        if let Err(issues) = validator().validate(&body) {
            panic!("built request does not validate: {issues:?}\n{body:#}");
        }
        let generated: venice_openapi::types::GenerateImageRequest =
            serde_json::from_value(body.clone()).unwrap();
        prop_assert_eq!(serde_json::to_value(generated).unwrap(), body);
    }
}

// ---------------------------------------------------------------------------------------
// 2. Differential: facade validation vs JSON Schema on raw inputs.
// ---------------------------------------------------------------------------------------

/// Sizing as a user would type it; the facade only takes width and height together and
/// a resolution only with a ratio (its `Size` enum cannot say anything else).
#[derive(Debug, Clone)]
enum RawSize {
    Pixels(i64, i64),
    Aspect(String),
    Tiered(String, String),
}

/// One raw input: the values a user hands to the builder, in-range or not.
#[derive(Debug, Clone)]
struct Raw {
    model: String,
    prompt: String,
    negative_prompt: Option<String>,
    size: Option<RawSize>,
    quality: Option<String>,
    format: Option<String>,
    variants: Option<i64>,
    return_binary: Option<bool>,
    seed: Option<i64>,
    cfg_scale: Option<f64>,
    steps: Option<i64>,
    style_preset: Option<String>,
    lora_strength: Option<i64>,
    flags: Vec<Option<bool>>,
    style_references: Vec<(String, Option<f64>)>,
}

const FLAG_NAMES: [&str; 6] = [
    "safe_mode",
    "hide_watermark",
    "embed_exif_metadata",
    "enable_web_search",
    "enhance_prompt",
    "disable_prompt_optimization_thinking",
];

impl Raw {
    /// The JSON a client would send for these raw values, untouched.
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("model".into(), json!(self.model));
        m.insert("prompt".into(), json!(self.prompt));
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v);
            }
        };
        put(
            "negative_prompt",
            self.negative_prompt.as_ref().map(|v| json!(v)),
        );
        match &self.size {
            Some(RawSize::Pixels(w, h)) => {
                put("width", Some(json!(w)));
                put("height", Some(json!(h)));
            }
            Some(RawSize::Aspect(a)) => put("aspect_ratio", Some(json!(a))),
            Some(RawSize::Tiered(a, r)) => {
                put("aspect_ratio", Some(json!(a)));
                put("resolution", Some(json!(r)));
            }
            None => {}
        }
        put("quality", self.quality.as_ref().map(|v| json!(v)));
        put("format", self.format.as_ref().map(|v| json!(v)));
        put("variants", self.variants.map(|v| json!(v)));
        put("return_binary", self.return_binary.map(|v| json!(v)));
        put("seed", self.seed.map(|v| json!(v)));
        put("cfg_scale", self.cfg_scale.map(|v| json!(v)));
        put("steps", self.steps.map(|v| json!(v)));
        put("style_preset", self.style_preset.as_ref().map(|v| json!(v)));
        put("lora_strength", self.lora_strength.map(|v| json!(v)));
        for (name, flag) in FLAG_NAMES.iter().zip(&self.flags) {
            put(name, flag.map(Value::Bool));
        }
        if !self.style_references.is_empty() {
            let refs: Vec<Value> = self
                .style_references
                .iter()
                .map(|(image, strength)| match strength {
                    Some(s) => json!({"image": image, "strength": s}),
                    None => json!({"image": image}),
                })
                .collect();
            put("style_references", Some(Value::Array(refs)));
        }
        Value::Object(m)
    }

    /// Drives the builder from the raw values. `Err` names the field that was refused,
    /// either by `build()` or because the facade's types cannot hold the value.
    fn build(&self) -> Result<GenerateRequest, ValidationError> {
        let unrepresentable =
            |field: &'static str| ValidationError::new(field, "not representable by the facade");
        let mut b = GenerateRequest::builder(self.model.clone(), self.prompt.clone());
        if let Some(v) = &self.negative_prompt {
            b = b.negative_prompt(v.clone());
        }
        match &self.size {
            Some(RawSize::Pixels(w, h)) => {
                let width = u32::try_from(*w).map_err(|_| unrepresentable("width"))?;
                let height = u32::try_from(*h).map_err(|_| unrepresentable("height"))?;
                b = b.size(Size::Pixels { width, height });
            }
            Some(RawSize::Aspect(a)) => b = b.size(Size::AspectRatio(a.parse()?)),
            Some(RawSize::Tiered(a, r)) => {
                b = b.size(Size::Tiered {
                    aspect_ratio: a.parse()?,
                    resolution: r.parse()?,
                });
            }
            None => {}
        }
        if let Some(v) = &self.quality {
            b = b.quality(v.parse()?);
        }
        if let Some(v) = &self.format {
            b = b.output_format(v.parse()?);
        }
        if let Some(v) = self.variants {
            b = b.variants(u8::try_from(v).map_err(|_| unrepresentable("variants"))?);
        }
        if let Some(v) = self.return_binary {
            b = b.return_binary(v);
        }
        if let Some(v) = self.seed {
            b = b.seed(v);
        }
        if let Some(v) = self.cfg_scale {
            b = b.cfg_scale(v);
        }
        if let Some(v) = self.steps {
            b = b.steps(u32::try_from(v).map_err(|_| unrepresentable("steps"))?);
        }
        if let Some(v) = &self.style_preset {
            b = b.style_preset(v.clone());
        }
        if let Some(v) = self.lora_strength {
            b = b.lora_strength(u8::try_from(v).map_err(|_| unrepresentable("lora_strength"))?);
        }
        let setters: [fn(
            venice_image::GenerateRequestBuilder,
            bool,
        ) -> venice_image::GenerateRequestBuilder; 6] = [
            |b, v| b.safe_mode(v),
            |b, v| b.hide_watermark(v),
            |b, v| b.embed_exif_metadata(v),
            |b, v| b.enable_web_search(v),
            |b, v| b.enhance_prompt(v),
            |b, v| b.disable_prompt_optimization_thinking(v),
        ];
        for (set, flag) in setters.iter().zip(&self.flags) {
            if let Some(v) = flag {
                b = set(b, *v);
            }
        }
        for (image, strength) in &self.style_references {
            // Anything with a scheme is a URL to the facade; the rest is base64 data.
            let r = if image.contains("://") {
                StyleReference::from_url(image.clone())
            } else {
                StyleReference::from_base64(image.clone())
            };
            // The constructors check the image; the builder checks the strength.
            let r = match r {
                Ok(r) => r,
                Err(venice_image::Error::Validation(v)) => return Err(v),
                Err(e) => panic!("not a validation error: {e}"),
            };
            b = b.style_reference(match strength {
                Some(s) => r.with_strength(*s),
                None => r,
            });
        }
        b.build()
    }
}

/// Rules where the facade is stricter than the spec **by design**, as (field prefix,
/// does the rule apply to this input, why). A facade rejection the schema accepts must be
/// explained by one of these.
type StricterRule = (&'static str, fn(&Raw) -> bool, &'static str);

const STRICTER_BY_DESIGN: &[StricterRule] = &[
    (
        "model",
        |r| r.model.trim().is_empty(),
        "a blank model id can never name a model (the server answers 404); the spec types it as a free string",
    ),
    (
        "variants",
        |r| r.return_binary == Some(true) && r.variants.is_some_and(|v| v > 1),
        "a binary response carries one image; the spec states it only in prose",
    ),
    (
        "steps",
        |r| {
            r.steps
                .is_some_and(|s| !(0..=i64::from(i32::MAX)).contains(&s))
        },
        "steps is a count (u32, at most i32::MAX); the spec gives no bounds (ignored by current models)",
    ),
    (
        "resolution",
        |r| {
            matches!(&r.size, Some(RawSize::Tiered(_, res))
                if res.parse::<Resolution>().is_err())
        },
        "the tiers are 1K, 2K and 4K (a closed Rust enum); the spec leaves `resolution` an open string for new tiers",
    ),
    (
        "style_references",
        |r| {
            r.style_references.iter().any(|(image, _)| {
                if image.contains("://") {
                    !(image.starts_with("http://") || image.starts_with("https://"))
                } else {
                    let data = image
                        .strip_prefix("data:")
                        .map_or(image.as_str(), |d| d.split_once(',').map_or("", |(_, x)| x));
                    data.trim_end_matches('=').is_empty()
                }
            })
        },
        "the server fetches only http(s) URLs and needs image data; the spec only asks for a non-empty string",
    ),
];

fn junk_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:@ ]{0,6}"
}

fn raw_ratio() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => (1u32..=999, 1u32..=999).prop_map(|(w, h)| format!("{w}:{h}")),
        2 => (0u32..=1200, 0u32..=1200).prop_map(|(w, h)| format!("{w}:{h}")),
        1 => "[0-9]{1,4}[:/x][0-9]{0,4}",
        1 => junk_text(),
    ]
}

fn raw_int(valid: std::ops::RangeInclusive<i64>, edges: Vec<i64>) -> impl Strategy<Value = i64> {
    let (lo, hi) = (*valid.start(), *valid.end());
    prop_oneof![
        12 => valid,
        2 => proptest::sample::select(
            [edges, vec![lo - 1, lo, hi, hi + 1]].concat()
        ),
        1 => any::<i64>(),
    ]
}

fn raw_enum(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        12 => proptest::sample::select(values).prop_map(str::to_owned),
        1 => junk_text(),
    ]
}

fn raw_reference() -> impl Strategy<Value = (String, Option<f64>)> {
    (
        prop_oneof![
            4 => "https?://[a-z]{1,8}/[a-z]{0,4}",
            1 => "(ftp|file|s3)://[a-z]{1,8}",
            4 => "[A-Za-z0-9+/]{0,12}={0,2}",
            2 => "data:image/png;base64,[A-Za-z0-9]{0,8}",
        ],
        proptest::option::of(prop_oneof![
            6 => 0.1f64..=1.0,
            1 =>
            proptest::sample::select(vec![0.0, 0.05, 0.1, 1.0, 1.0001, 2.0, -0.5]),
        ]),
    )
}

fn raw_input() -> impl Strategy<Value = Raw> {
    let text = (
        prop_oneof![
            6 => "[a-z0-9-]{1,16}",
            1 => "[ ]{0,2}",
        ],
        prop_oneof![
            6 => "[a-zA-Z é🦀]{0,30}",
            1 => (7495usize..=7505, any::<bool>())
                .prop_map(|(n, wide)| if wide { "é".repeat(n) } else { "a".repeat(n) }),
        ],
        proptest::option::of(prop_oneof![
            6 => "[a-z ]{0,20}",
            1 => (7499usize..=7501).prop_map(|n| "n".repeat(n)),
        ]),
        proptest::option::of("[A-Za-z ]{0,12}"),
    );
    let sizing = (
        proptest::option::of(prop_oneof![
            (
                raw_int(1..=1280, vec![-1, 0, 2000]),
                raw_int(1..=1280, vec![0, 4096])
            )
                .prop_map(|(w, h)| RawSize::Pixels(w, h)),
            raw_ratio().prop_map(RawSize::Aspect),
            (raw_ratio(), raw_enum(&["1K", "2K", "4K"])).prop_map(|(a, r)| RawSize::Tiered(a, r)),
        ]),
        proptest::option::of(raw_enum(&["low", "medium", "high"])),
        proptest::option::of(raw_enum(&["jpeg", "png", "webp"])),
    );
    let numbers = (
        proptest::option::of(raw_int(1..=4, vec![0, 5, 255, 256])),
        proptest::option::of(any::<bool>()),
        proptest::option::of(raw_int(
            -999_999_999..=999_999_999,
            vec![-1_000_000_000, 1_000_000_000, 0],
        )),
        proptest::option::of(prop_oneof![
            12 => 1e-6f64..=20.0,
            2 => proptest::sample::select(vec![0.0, -0.0, 20.0, 20.000_001, 21.0, -1.0, 1e-300]),
            1 => -1e6f64..1e6,
        ]),
        proptest::option::of(raw_int(
            0..=50,
            vec![-1, i64::from(i32::MAX), i64::from(i32::MAX) + 1],
        )),
        proptest::option::of(raw_int(0..=100, vec![-1, 101, 255, 256])),
    );
    let rest = (
        proptest::collection::vec(proptest::option::of(any::<bool>()), 6),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => proptest::collection::vec(raw_reference(), 1..3),
        ],
    );
    (text, sizing, numbers, rest).prop_map(
        |(
            (model, prompt, negative_prompt, style_preset),
            (size, quality, format),
            (variants, return_binary, seed, cfg_scale, steps, lora_strength),
            (flags, style_references),
        )| Raw {
            model,
            prompt,
            negative_prompt,
            size,
            quality,
            format,
            variants,
            return_binary,
            seed,
            cfg_scale,
            steps,
            style_preset,
            lora_strength,
            flags,
            style_references,
        },
    )
}

static BOTH_ACCEPT: AtomicUsize = AtomicUsize::new(0);
static BOTH_REJECT: AtomicUsize = AtomicUsize::new(0);
static STRICTER: AtomicUsize = AtomicUsize::new(0);
static CANONICALIZED: AtomicUsize = AtomicUsize::new(0);

/// The top-level property names the issues point at.
fn issue_fields(issues: &[Issue]) -> Vec<String> {
    issues
        .iter()
        .filter_map(|i| i.path.first())
        .map(|p| p.as_str().unwrap_or_default().to_owned())
        .collect()
}

fn check_agreement(raw: &Raw) {
    let wire = raw.to_json();
    let schema = validator().validate(&wire);
    match (raw.build(), schema) {
        (Ok(built), Ok(())) => {
            // The facade sends what it accepted, and that is valid too.
            let sent = built.to_json();
            if let Err(issues) = validator().validate(&sent) {
                panic!("facade sends an invalid body: {issues:?}\n{sent:#}");
            }
            BOTH_ACCEPT.fetch_add(1, Ordering::Relaxed);
        }
        (Err(_), Err(_)) => {
            BOTH_REJECT.fetch_add(1, Ordering::Relaxed);
        }
        (Err(e), Ok(())) => {
            let rule = STRICTER_BY_DESIGN
                .iter()
                .find(|(field, applies, _)| e.field.starts_with(field) && applies(raw));
            assert!(
                rule.is_some(),
                "the facade rejects what the spec accepts ({e}), and no stricter-by-design \
                 rule explains it:\n{raw:#?}\n{wire:#}"
            );
            STRICTER.fetch_add(1, Ordering::Relaxed);
        }
        (Ok(built), Err(issues)) => {
            // Allowed only when the facade's text parsers canonicalised the value (e.g.
            // `016:9` → `16:9`, `jpg` → `jpeg`): the body it *sends* differs from the raw
            // input in exactly the fields the schema objected to, and validates.
            let sent = built.to_json();
            let changed: Vec<String> = issue_fields(&issues)
                .into_iter()
                .filter(|f| sent.get(f) != wire.get(f))
                .collect();
            assert!(
                changed.len() == issue_fields(&issues).len() && validator().validate(&sent).is_ok(),
                "the facade accepts what the spec rejects: {issues:?}\n{raw:#?}\nsent: {sent:#}"
            );
            CANONICALIZED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[test]
fn facade_validation_agrees_with_the_schema_on_10000_raw_inputs() {
    let config = ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    runner
        .run(&raw_input(), |raw| {
            check_agreement(&raw);
            Ok(())
        })
        .unwrap();
    let counts = [
        BOTH_ACCEPT.load(Ordering::Relaxed),
        BOTH_REJECT.load(Ordering::Relaxed),
        STRICTER.load(Ordering::Relaxed),
        CANONICALIZED.load(Ordering::Relaxed),
    ];
    eprintln!(
        "differential: {} both accept, {} both reject, {} stricter by design, {} canonicalised",
        counts[0], counts[1], counts[2], counts[3]
    );
    // The generator must exercise both verdicts, or the agreement means nothing.
    let total: usize = counts.iter().sum();
    assert!(total >= 10_000, "{total}");
    assert!(counts[0] >= 1_000, "too few valid inputs: {counts:?}");
    assert!(counts[1] >= 1_000, "too few invalid inputs: {counts:?}");
}

// ---------------------------------------------------------------------------------------
// 3. Known-bad: the validators really reject broken requests.
// ---------------------------------------------------------------------------------------

#[test]
fn known_bad_requests_are_rejected_by_both_validators() {
    let base = || json!({"model": "venice-sd35", "prompt": "a cat"});
    assert!(validator().validate(&base()).is_ok());
    let bad: &[(&str, Value)] = &[
        ("width", json!(0)),
        ("width", json!(1281)),
        ("height", json!(-5)),
        ("width", json!(10.5)),
        ("cfg_scale", json!(0)),
        ("cfg_scale", json!(21)),
        ("prompt", json!("a".repeat(32_769))),
        ("prompt", json!("")),
        ("negative_prompt", json!("n".repeat(32_769))),
        ("variants", json!(5)),
        ("variants", json!(0)),
        ("seed", json!(1_000_000_000)),
        ("aspect_ratio", json!("16/9")),
        ("aspect_ratio", json!("0:1")),
        ("format", json!("gif")),
        ("quality", json!("ultra")),
        ("lora_strength", json!(101)),
        ("safe_mode", json!("yes")),
        ("style_references", json!([{"image": ""}])),
        (
            "style_references",
            json!([{"image": "https://a", "strength": 2}]),
        ),
        (
            "style_references",
            json!([{"image": "https://a", "extra": 1}]),
        ),
        ("bogus_field", json!(1)),
        ("model", json!(7)),
    ];
    for (field, value) in bad {
        let mut body = base();
        body[*field] = value.clone();
        let issues = validator()
            .validate(&body)
            .expect_err(&format!("{field} = {value} must be rejected by the schema"));
        assert!(
            issues
                .iter()
                .any(|i| i.path.first() == Some(&json!(field)) || i.code == "unrecognized_keys"),
            "{field}: {issues:?}"
        );
    }
    let missing = json!({"model": "m"});
    assert!(validator().validate(&missing).is_err());

    // The facade refuses the same values before sending anything.
    let b = || GenerateRequest::builder("venice-sd35", "a cat");
    let facade_bad = [
        b().size(Size::Pixels {
            width: 0,
            height: 10,
        })
        .build(),
        b().size(Size::Pixels {
            width: 10,
            height: 1281,
        })
        .build(),
        b().cfg_scale(0.0).build(),
        b().cfg_scale(21.0).build(),
        GenerateRequest::builder("m", "a".repeat(32_769)).build(),
        b().variants(5).build(),
        b().seed(1_000_000_000).build(),
        b().size_str("16/9").build(),
        b().lora_strength(101).build(),
        b().style_reference(
            StyleReference::from_url("https://a")
                .unwrap()
                .with_strength(2.0),
        )
        .build(),
    ];
    for (i, r) in facade_bad.into_iter().enumerate() {
        assert!(r.is_err(), "case {i} was accepted by the facade");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Breaking one field of a valid request always makes the schema reject it: the
    /// validator is not vacuous.
    #[test]
    fn mutating_a_valid_request_breaks_validation(
        req in typed_request(),
        mutation in 0usize..10,
    ) {
        let mut body = req.to_json();
        let (field, value) = match mutation {
            0 => ("width", json!(0)),
            1 => ("height", json!(1281)),
            2 => ("cfg_scale", json!(0.0)),
            3 => ("variants", json!(5)),
            4 => ("seed", json!(-1_000_000_000)),
            5 => ("prompt", json!("")),
            6 => ("aspect_ratio", json!("16x9")),
            7 => ("format", json!("bmp")),
            8 => ("lora_strength", json!(-1)),
            _ => ("unknown", json!(true)),
        };
        body[field] = value;
        prop_assert!(validator().validate(&body).is_err(), "{field} accepted: {body}");
    }
}
