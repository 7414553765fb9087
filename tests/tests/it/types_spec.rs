//! Types ↔ spec: the `schemars` schema of every generated type in
//! `venice_openapi::types` matches its component schema in `openapi/venice-image.yaml`:
//! same properties, required sets, types, nullability, enum values, `$ref` targets and
//! bounds. A stale regeneration or a hand edit of `generated.rs` fails here.
//!
//! The test walks the **spec's** `components.schemas`, so a new schema without a
//! generated type (or without an entry in [`generated_schemas`]) fails instead of being
//! skipped. typify drops most validation keywords when it renders types (lengths,
//! patterns, numeric maxima: they are enforced by the facade and by the mock's schema
//! validation instead); those losses are listed in [`BOUNDS_NOT_RENDERED`] and the list
//! must stay exact, so a bound that appears, disappears or changes is noticed.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use contract_tests::our_spec_value;
use serde_json::Value;

macro_rules! generated {
    ($($name:ident),* $(,)?) => {
        /// Component name → the generated type's schemars root schema (as JSON).
        fn generated_schemas() -> BTreeMap<&'static str, Value> {
            let mut m = BTreeMap::new();
            $(m.insert(
                stringify!($name),
                serde_json::to_value(schemars::schema_for!(venice_openapi::types::$name)).unwrap(),
            );)*
            m
        }
    };
}

generated![
    VeniceError,
    ValidationIssue,
    X402Resource,
    X402PaymentRequirement,
    X402TopUpInstructions,
    X402PaymentRequired,
    X402PaymentPayload,
    X402ExactPayload,
    X402ExactEvmPayload,
    X402Eip3009Authorization,
    X402ExactSvmPayload,
    X402SettlementResponse,
    SiwxPayload,
    SiwxChainId,
    SiwxChallenge,
    SiwxChallengeInfo,
    SiwxSupportedChain,
    ImageFormat,
    ImageQuality,
    EditAspectRatio,
    StyleReference,
    GenerateImageRequest,
    GenerateImageResult,
    GenerateImageResponse,
    GenerateImageTiming,
    SimpleGenerateImageRequest,
    SimpleGenerateImageResponse,
    SimpleGeneratedImage,
    ImageStylesResponse,
    ModelTypeFilter,
    ModelList,
    Model,
    ModelSpec,
    ImageModelConstraints,
    StepsConstraint,
    Price,
    InputImagePrices,
    QualityPrices,
    UpscalePrices,
    ModelPricing,
    ModelDeprecation,
    UpscaleImageRequest,
    EditImageRequest,
    MultiEditImageRequest,
    BackgroundRemoveImageRequest,
    BillingBalanceResponse,
    BillingBalances,
    ApiKeyRateLimitsResponse,
    ApiKeyRateLimits,
    ApiTier,
    ApiKeyBalances,
    ModelRateLimits,
    RateLimitAmount,
    X402BalanceResponse,
    X402Balance,
    X402TopUpResponse,
    X402TopUp,
    X402TransactionsResponse,
    X402TransactionPage,
    X402Transaction,
    X402Pagination,
    X402TopUpErrorCode,
    X402SignInErrorCode,
    X402RequestErrorCode,
    CryptoRpcNetworks,
    JsonRpcId,
    JsonRpcRequest,
    CryptoRpcRequest,
    JsonRpcError,
    JsonRpcResponse,
    CryptoRpcResponse,
];

/// Schemas progenitor renders as something other than an object or enum, compared by
/// hand below.
const RENDERED_DIFFERENTLY: &[(&str, &str)] = &[(
    "GenerateImageResult",
    "oneOf[GenerateImageResponse, binary] becomes an untagged enum; checked in \
     generate_image_result_is_an_untagged_union",
)];

/// Spec bounds typify does not carry into the generated types' schemas, as
/// `Schema.property.keyword` (`Schema.keyword` for the root, `Schema.property[].keyword`
/// for array items). Enforced at run time by the facade and by the mock's validation.
const BOUNDS_NOT_RENDERED: &[&str] = &[
    "ApiKeyRateLimits.keyExpiration.required",
    "BackgroundRemoveImageRequest.image.minLength",
    "BackgroundRemoveImageRequest.image_url.format",
    "BillingBalanceResponse.consumptionCurrency.required",
    "BillingBalances.diem.required",
    "BillingBalances.usd.required",
    "EditImageRequest.image.minLength",
    "EditImageRequest.model.minLength",
    "EditImageRequest.modelId.minLength",
    "EditImageRequest.prompt.maxLength",
    "EditImageRequest.prompt.minLength",
    "EditImageRequest.resolution.maxLength",
    "EditImageRequest.resolution.minLength",
    "GenerateImageRequest.aspect_ratio.pattern",
    "GenerateImageRequest.cfg_scale.exclusiveMinimum",
    "GenerateImageRequest.cfg_scale.maximum",
    "GenerateImageRequest.cfg_scale.minimum",
    "GenerateImageRequest.height.maximum",
    "GenerateImageRequest.lora_strength.maximum",
    "GenerateImageRequest.lora_strength.minimum",
    "GenerateImageRequest.negative_prompt.maxLength",
    "GenerateImageRequest.prompt.maxLength",
    "GenerateImageRequest.prompt.minLength",
    "GenerateImageRequest.seed.maximum",
    "GenerateImageRequest.seed.minimum",
    "GenerateImageRequest.variants.maximum",
    "GenerateImageRequest.width.maximum",
    "MultiEditImageRequest.images.minItems",
    "MultiEditImageRequest.images[].minLength",
    "MultiEditImageRequest.modelId.minLength",
    "MultiEditImageRequest.prompt.maxLength",
    "MultiEditImageRequest.prompt.minLength",
    "MultiEditImageRequest.resolution.maxLength",
    "MultiEditImageRequest.resolution.minLength",
    "SimpleGenerateImageRequest.model.minLength",
    "SimpleGenerateImageRequest.n.maximum",
    "SimpleGenerateImageRequest.output_compression.maximum",
    "SimpleGenerateImageRequest.output_compression.minimum",
    "SimpleGenerateImageRequest.prompt.maxLength",
    "SimpleGenerateImageRequest.prompt.minLength",
    "SimpleGeneratedImage.minProperties",
    "StyleReference.image.minLength",
    "StyleReference.strength.maximum",
    "StyleReference.strength.minimum",
    "UpscaleImageRequest.image.minLength",
    "UpscaleImageRequest.scale.maximum",
    "UpscaleImageRequest.scale.minimum",
    "X402Transaction.modelId.required",
    "X402Transaction.requestId.required",
];

const BOUND_KEYWORDS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "pattern",
    "format",
];

struct Cmp<'a> {
    spec: &'a Value,
    root: &'a Value,
    problems: Vec<String>,
    lost: BTreeSet<String>,
}

fn spec_ref_name(v: &Value) -> Option<&str> {
    v.get("$ref")?
        .as_str()?
        .strip_prefix("#/components/schemas/")
}

fn gen_ref_name(v: &Value) -> Option<&str> {
    v.get("$ref")?.as_str()?.strip_prefix("#/definitions/")
}

impl Cmp<'_> {
    /// Strips schemars' `Option` wrapper: returns the inner schema and whether `null`
    /// was allowed.
    fn unwrap_null(g: &Value) -> (Value, bool) {
        let mut g = g.clone();
        let mut null = false;
        if let Some(types) = g.get("type").and_then(Value::as_array).cloned() {
            let rest: Vec<Value> = types.into_iter().filter(|t| t != "null").collect();
            null = rest.len() < g["type"].as_array().map_or(0, Vec::len);
            g["type"] = if rest.len() == 1 {
                rest[0].clone()
            } else {
                Value::Array(rest)
            };
        }
        if let Some(any) = g.get("anyOf").and_then(Value::as_array).cloned()
            && any.len() == 2
            && let Some(pos) = any
                .iter()
                .position(|s| s.get("type") == Some(&"null".into()))
        {
            null = true;
            let mut inner = any[1 - pos].clone();
            if let (Some(d), Some(obj)) = (g.get("description"), inner.as_object_mut()) {
                obj.entry("description").or_insert(d.clone());
            }
            g = inner;
        }
        (g, null)
    }

    /// A generated `$ref` to a typify newtype (not a spec component) is read inline.
    fn inline<'v>(&'v self, g: &'v Value) -> &'v Value {
        match gen_ref_name(g) {
            Some(name) if self.spec["components"]["schemas"].get(name).is_none() => {
                &self.root["definitions"][name]
            }
            _ => g,
        }
    }

    fn compare(&mut self, at: &str, s: &Value, g: &Value, required: bool) {
        let (g, null) = Self::unwrap_null(g);
        let g = self.inline(&g).clone();
        let nullable = s.get("nullable").and_then(Value::as_bool) == Some(true);
        // An untyped schema is `serde_json::Value`, which holds null already.
        let untyped = s.get("type").is_none() && s.get("$ref").is_none();
        if nullable && !null && !untyped {
            self.problems
                .push(format!("{at}: nullable in the spec, not in the type"));
        }
        if required && !nullable && null {
            self.problems.push(format!(
                "{at}: required and not nullable, but the type allows null"
            ));
        }
        if let Some(name) = spec_ref_name(s) {
            if gen_ref_name(&g) != Some(name) {
                self.problems
                    .push(format!("{at}: spec refers to {name}, type is {g}"));
            }
            return;
        }
        let s_type = s.get("type");
        let g_type = g.get("type");
        if s_type != g_type {
            self.problems.push(format!(
                "{at}: type {s_type:?} in the spec, {g_type:?} in the type"
            ));
        }
        if let Some(s_enum) = s.get("enum") {
            let g_enum = self.inline(&g).get("enum").cloned();
            if Some(s_enum) != g_enum.as_ref() {
                self.problems.push(format!(
                    "{at}: enum {s_enum} in the spec, {g_enum:?} in the type"
                ));
            }
        }
        for kw in BOUND_KEYWORDS {
            let sv = s.get(*kw);
            let gv = g.get(*kw);
            match (sv, gv) {
                (None, None) => {}
                // Formats schemars adds for Rust integer/float widths are not spec bounds.
                (None, Some(Value::String(f)))
                    if *kw == "format"
                        && ["int64", "uint64", "double", "uint"].contains(&f.as_str()) => {}
                // `minimum: 0` of an unsigned type or `minimum: 1` of a NonZero type must
                // be what the spec says (exclusiveMinimum 0 on an integer is minimum 1).
                (_, Some(gv)) if *kw == "minimum" => {
                    let excl = s.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true);
                    let want = sv
                        .and_then(Value::as_f64)
                        .map(|m| if excl { m + 1.0 } else { m });
                    if want != gv.as_f64() {
                        self.problems.push(format!(
                            "{at}: minimum {want:?} in the spec, {gv} in the type"
                        ));
                    } else if excl {
                        self.lost
                            .insert(format!("{at}.exclusiveMinimum-as-minimum"));
                    }
                }
                (Some(_), None) if *kw == "exclusiveMinimum" && g.get("minimum").is_some() => {}
                (Some(_), None) => {
                    self.lost.insert(format!("{at}.{kw}"));
                }
                (sv, gv)
                    if sv.and_then(Value::as_f64).is_some()
                        && sv.and_then(Value::as_f64) == gv.and_then(Value::as_f64) => {}
                (sv, gv) if sv == gv => {}
                (sv, gv) => self
                    .problems
                    .push(format!("{at}: {kw} {sv:?} in the spec, {gv:?} in the type")),
            }
        }
        if s.get("type") == Some(&"array".into()) {
            let gi = g.get("items").cloned().unwrap_or(Value::Null);
            self.compare(&format!("{at}[]"), &s["items"], &gi, true);
        }
        if s.get("properties").is_some() || s.get("type") == Some(&"object".into()) {
            self.compare_object(at, s, &g);
        }
    }

    fn compare_object(&mut self, at: &str, s: &Value, g: &Value) {
        let empty = serde_json::Map::new();
        let sp = s
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let gp = g
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let names = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<BTreeSet<_>>();
        if names(sp) != names(gp) {
            self.problems.push(format!(
                "{at}: properties {:?} in the spec, {:?} in the type",
                names(sp),
                names(gp)
            ));
        }
        let req = |v: &Value| -> BTreeSet<String> {
            v.get("required")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        // typify makes a required *nullable* property an `Option` with a serde default,
        // which schemars lists as optional: recorded as a rendering loss.
        let nullable =
            |n: &String| sp.get(n).and_then(|p| p.get("nullable")) == Some(&Value::Bool(true));
        for n in req(s).difference(&req(g)).filter(|n| nullable(n)) {
            self.lost.insert(format!("{at}.{n}.required"));
        }
        let strict = |set: BTreeSet<String>| {
            set.into_iter()
                .filter(|n| !nullable(n))
                .collect::<BTreeSet<_>>()
        };
        if strict(req(s)) != strict(req(g)) {
            self.problems.push(format!(
                "{at}: required {:?} in the spec, {:?} in the type",
                req(s),
                req(g)
            ));
        }
        let closed = |v: &Value| v.get("additionalProperties") == Some(&Value::Bool(false));
        if closed(s) != closed(g) {
            self.problems
                .push(format!("{at}: additionalProperties: false differs"));
        }
        let required = req(s);
        for (name, sv) in sp {
            if let Some(gv) = gp.get(name) {
                let sv = sv.clone();
                let gv = gv.clone();
                self.compare(&format!("{at}.{name}"), &sv, &gv, required.contains(name));
            }
        }
    }
}

#[test]
fn generated_types_match_the_spec_components() {
    let spec = our_spec_value().unwrap();
    let generated = generated_schemas();
    let components = spec["components"]["schemas"].as_object().unwrap();
    let mut problems = Vec::new();
    let mut lost = BTreeSet::new();
    let mut compared = 0;
    for (name, schema) in components {
        if RENDERED_DIFFERENTLY.iter().any(|(n, _)| n == name) {
            continue;
        }
        let Some(root) = generated.get(name.as_str()) else {
            problems.push(format!(
                "{name}: in the spec but not checked here (no generated type, or add it to generated![])"
            ));
            continue;
        };
        let mut cmp = Cmp {
            spec: &spec,
            root,
            problems: Vec::new(),
            lost: BTreeSet::new(),
        };
        cmp.compare(name, schema, root, true);
        problems.extend(cmp.problems);
        lost.extend(cmp.lost.into_iter().filter(|l| !l.ends_with("-as-minimum")));
        compared += 1;
    }
    for name in generated.keys() {
        if !components.contains_key(*name) {
            problems.push(format!("{name}: checked here but no longer in the spec"));
        }
    }
    let listed: BTreeSet<String> = BOUNDS_NOT_RENDERED
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for l in lost.difference(&listed) {
        problems.push(format!("{l}: a spec bound the generated type does not carry (list it in BOUNDS_NOT_RENDERED if typify cannot render it)"));
    }
    for l in listed.difference(&lost) {
        problems.push(format!(
            "{l}: listed in BOUNDS_NOT_RENDERED but no longer lost (remove it)"
        ));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
    assert_eq!(compared + RENDERED_DIFFERENTLY.len(), components.len());
    eprintln!(
        "{compared} component schemas match their generated types ({} bounds enforced at run time only)",
        lost.len()
    );
}

#[test]
fn generate_image_result_is_an_untagged_union() {
    let g = serde_json::to_value(schemars::schema_for!(
        venice_openapi::types::GenerateImageResult
    ))
    .unwrap();
    let branches = g["anyOf"]
        .as_array()
        .expect("untagged enum renders as anyOf");
    assert_eq!(branches.len(), 2, "{g}");
    assert!(
        branches
            .iter()
            .any(|b| gen_ref_name(b) == Some("GenerateImageResponse")),
        "{g}"
    );
    assert!(branches.iter().any(|b| b["type"] == "string"), "{g}");
    let spec = our_spec_value().unwrap();
    let one_of = spec["components"]["schemas"]["GenerateImageResult"]["oneOf"]
        .as_array()
        .unwrap();
    assert_eq!(one_of.len(), 2);
}

/// The comparison is not vacuous: a hand-edited copy of a component is caught.
#[test]
fn a_drifted_component_is_reported() {
    let mut spec = our_spec_value().unwrap();
    let generated = generated_schemas();
    let s = &mut spec["components"]["schemas"]["GenerateImageRequest"];
    s["properties"]["format"]["enum"] = serde_json::json!(["jpeg", "png", "webp", "avif"]);
    s["required"] = serde_json::json!(["model"]);
    s["properties"]["new_field"] = serde_json::json!({"type": "string"});
    s["properties"]["variants"]["type"] = "number".into();
    let schema = s.clone();
    let root = &generated["GenerateImageRequest"];
    let mut cmp = Cmp {
        spec: &spec,
        root,
        problems: Vec::new(),
        lost: BTreeSet::new(),
    };
    cmp.compare("GenerateImageRequest", &schema, root, true);
    let all = cmp.problems.join("\n");
    for needle in ["avif", "required", "new_field", "variants: type"] {
        assert!(all.contains(needle), "{needle} not reported in:\n{all}");
    }
}

/// Every wallet code our spec documents (its x402 code enums, read as data) is an
/// `ErrorCode` variant of the facade; the one the provider never sends is not.
#[test]
fn the_spec_wallet_codes_are_variants() {
    use venice_image::ErrorCode;
    let spec = our_spec_value().unwrap();
    let schemas = &spec["components"]["schemas"];
    let mut n = 0;
    for name in [
        "X402TopUpErrorCode",
        "X402SignInErrorCode",
        "X402RequestErrorCode",
    ] {
        for code in schemas[name]["enum"].as_array().unwrap() {
            let code = code.as_str().unwrap();
            let parsed: ErrorCode = code.parse().unwrap();
            assert!(!matches!(parsed, ErrorCode::Unknown(_)), "{code}");
            assert_eq!(parsed.as_str(), code);
            n += 1;
        }
    }
    assert_eq!(n, 34);
    assert!(matches!(
        "X402_INVALID_SIGN_IN".parse::<ErrorCode>().unwrap(),
        ErrorCode::Unknown(_)
    ));
    assert!(ErrorCode::X402SignInNonceReused.is_sign_in());
    assert!(!ErrorCode::PaymentRequired.is_sign_in());
}
