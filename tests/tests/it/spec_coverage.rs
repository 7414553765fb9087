//! Our spec covers the operations we promise, and its `GenerateImageRequest` keeps every
//! property of the provider's with the same type and bounds.

use contract_tests::{our_spec_value, upstream_spec_path};
use serde_json::Value;

const OPERATIONS: &[(&str, &str, &str)] = &[
    ("post", "/image/generate", "generateImage"),
    ("post", "/images/generations", "simpleGenerateImage"),
    ("get", "/image/styles", "listImageStyles"),
    ("get", "/models", "listModels"),
    ("post", "/image/upscale", "upscaleImage"),
    ("post", "/image/edit", "editImage"),
    ("post", "/image/multi-edit", "multiEditImage"),
    ("post", "/image/background-remove", "backgroundRemoveImage"),
    ("get", "/x402/balance/{walletAddress}", "getX402Balance"),
    ("post", "/x402/top-up", "topUpX402Balance"),
    (
        "get",
        "/x402/transactions/{walletAddress}",
        "getX402Transactions",
    ),
    ("get", "/crypto/rpc/networks", "listCryptoRpcNetworks"),
    ("post", "/crypto/rpc/{network}", "cryptoRpcProxy"),
    ("get", "/billing/balance", "getBillingBalance"),
    ("get", "/api_keys/rate_limits", "getApiKeyRateLimits"),
];

#[test]
fn every_promised_operation_is_present_with_its_operation_id() {
    let spec = our_spec_value().expect("spec parses");
    for (method, path, id) in OPERATIONS {
        let op = &spec["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is missing");
        assert_eq!(op["operationId"], *id, "{method} {path}");
    }
    let count: usize = spec["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|p| p.as_object().map_or(0, |m| m.len()))
        .sum();
    assert_eq!(count, OPERATIONS.len(), "unexpected extra operations");
}

#[test]
fn security_schemes_and_server_are_declared() {
    let spec = our_spec_value().expect("spec parses");
    assert_eq!(spec["servers"][0]["url"], "https://api.venice.ai/api/v1");
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["BearerAuth"]["scheme"], "bearer");
    assert_eq!(schemes["siwx"]["in"], "header");
    assert_eq!(schemes["siwx"]["name"], "SIGN-IN-WITH-X");
}

#[test]
fn aspect_ratios_stay_strings() {
    // The YAML 1.1 base-60 trap: unquoted 16:9 would be the integer 969.
    let spec = our_spec_value().expect("spec parses");
    let ratios = spec["components"]["schemas"]["EditAspectRatio"]["enum"]
        .as_array()
        .expect("enum");
    assert!(ratios.iter().all(Value::is_string), "{ratios:?}");
    assert!(ratios.contains(&Value::from("16:9")));
}

/// Follow a local `$ref` once.
fn deref<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &spec["components"]["schemas"][name]
        }
        None => v,
    }
}

/// The JSON type of a property, reading through `anyOf` of one type (as upstream writes
/// its image fields).
fn json_type(spec: &Value, v: &Value) -> Option<String> {
    let v = deref(spec, v);
    if let Some(t) = v.get("type").and_then(Value::as_str) {
        return Some(t.to_string());
    }
    let alts = v.get("anyOf").and_then(Value::as_array)?;
    let mut types: Vec<String> = alts.iter().filter_map(|a| json_type(spec, a)).collect();
    types.dedup();
    (types.len() == 1).then(|| types.remove(0))
}

const BOUNDS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "enum",
    "nullable",
    "deprecated",
];

#[test]
fn generate_request_keeps_every_upstream_property_type_and_bound() {
    let Some(path) = upstream_spec_path() else {
        eprintln!(
            "SKIPPED: the provider's spec is not at ../shared/upstream/venice-openapi.yaml \
             (set VENICE_UPSTREAM_SPEC to point at a copy)"
        );
        return;
    };
    let upstream: Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).expect("read upstream"))
            .expect("upstream parses");
    let ours = our_spec_value().expect("spec parses");
    let theirs = &upstream["components"]["schemas"]["GenerateImageRequest"];
    let mine = &ours["components"]["schemas"]["GenerateImageRequest"];
    let their_props = theirs["properties"]
        .as_object()
        .expect("upstream properties");
    assert!(their_props.len() >= 20, "upstream schema looks truncated");
    let mut compared = 0;
    for (name, their) in their_props {
        let my = &mine["properties"][name];
        assert!(
            my.is_object(),
            "property `{name}` is missing from our GenerateImageRequest"
        );
        let my = deref(&ours, my);
        assert_eq!(
            json_type(&upstream, their),
            json_type(&ours, my),
            "type of `{name}`"
        );
        for bound in BOUNDS {
            // The provider's live limit on prompts is per model, up to 32,768
            // (openapi/upstream-deviations.toml, "The provider's live behaviour").
            if *bound == "maxLength" && matches!(name.as_str(), "prompt" | "negative_prompt") {
                assert_eq!(their.get(*bound), Some(&Value::from(7500)));
                assert_eq!(my.get(*bound), Some(&Value::from(32_768)), "{name}");
                continue;
            }
            assert_eq!(
                their.get(*bound),
                my.get(*bound),
                "`{bound}` of `{name}` differs from upstream"
            );
        }
        // Defaults are documented as x-venice-default (a `default` would make the
        // generated client send them): same value, other key.
        assert_eq!(
            their.get("default"),
            my.get("x-venice-default"),
            "default of `{name}`"
        );
        assert!(
            my.get("default").is_none(),
            "`{name}` must not carry `default`"
        );
        compared += 1;
    }
    assert_eq!(theirs["required"], mine["required"], "required set");
    assert_eq!(compared, their_props.len());
}
