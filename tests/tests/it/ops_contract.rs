//! The image operations besides generate (upscale, edit, multi-edit, background removal,
//! the OpenAI-compatible generations) keep the provider's contract: every upstream
//! request property with the same bounds, enums and defaults (ours as
//! `x-venice-default`), the same required fields, the same success media types and every
//! upstream status. Documented deviations (`openapi/README.md`) are the only exceptions.

use contract_tests::{our_spec_value, upstream_spec_path};
use serde_json::Value;

const OPERATIONS: &[(&str, &str)] = &[
    ("/image/upscale", "upscaleImage"),
    ("/image/edit", "editImage"),
    ("/image/multi-edit", "multiEditImage"),
    ("/image/background-remove", "backgroundRemoveImage"),
    ("/images/generations", "simpleGenerateImage"),
];

/// Image fields: upstream `anyOf` of file / string / uri, ours a JSON string (deviation).
const IMAGE_FIELDS: &[&str] = &["image", "images", "image_url"];
/// Model IDs: upstream closes them with an enum, ours are open strings (deviation).
const OPEN_MODEL_FIELDS: &[&str] = &["model", "modelId"];
/// Fields our spec requires because the provider's live API does, although its spec does
/// not (openapi/upstream-deviations.toml, "The provider's live behaviour"): the OpenAI
/// endpoint answers 400 "model is required" without one, so its documented default
/// (`"default"`) is never applied.
const REQUIRED_LIVE: &[(&str, &str)] = &[("simpleGenerateImage", "model")];

fn upstream() -> Option<Value> {
    let Some(path) = upstream_spec_path() else {
        eprintln!(
            "SKIPPED: the provider's spec is not at ../shared/upstream/venice-openapi.yaml \
             (set VENICE_UPSTREAM_SPEC)"
        );
        return None;
    };
    Some(
        serde_yaml::from_str(&std::fs::read_to_string(path).expect("read upstream"))
            .expect("parses"),
    )
}

fn deref<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            deref(spec, spec.pointer(pointer).unwrap_or(&Value::Null))
        }
        None => v,
    }
}

/// The JSON request schema's properties and required list, merging `allOf`.
fn request_shape(spec: &Value, path: &str) -> (serde_json::Map<String, Value>, Vec<String>) {
    let body = deref(spec, &spec["paths"][path]["post"]["requestBody"]);
    let schema = deref(spec, &body["content"]["application/json"]["schema"]);
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    let parts: Vec<&Value> = match schema.get("allOf").and_then(Value::as_array) {
        Some(all) => all.iter().map(|s| deref(spec, s)).collect(),
        None => vec![schema],
    };
    for part in parts {
        if let Some(p) = part["properties"].as_object() {
            for (k, v) in p {
                // `allOf` adds constraints: merge a property's keywords, not replace it.
                let entry = props
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                // Keywords beside a `$ref` (ours: `x-venice-default`) count as well.
                for from in [deref(spec, v), v] {
                    if let (Some(into), Some(from)) = (entry.as_object_mut(), from.as_object()) {
                        for (kk, vv) in from.iter().filter(|(kk, _)| *kk != "$ref") {
                            into.insert(kk.clone(), vv.clone());
                        }
                    }
                }
            }
        }
        if let Some(r) = part["required"].as_array() {
            required.extend(r.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    }
    required.sort();
    (props, required)
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| !x.is_null())
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn request_properties_bounds_enums_and_defaults_match_upstream() {
    let Some(up) = upstream() else { return };
    let ours = our_spec_value().expect("our spec parses");
    for (path, id) in OPERATIONS {
        assert_eq!(ours["paths"][path]["post"]["operationId"], *id);
        let (up_props, up_required) = request_shape(&up, path);
        let (our_props, mut our_required) = request_shape(&ours, path);
        our_required.retain(|f| !REQUIRED_LIVE.contains(&(*id, f.as_str())));
        assert_eq!(our_required, up_required, "{id}: required fields");
        for (name, u) in &up_props {
            let o = our_props
                .get(name)
                .unwrap_or_else(|| panic!("{id}: property {name} is missing"));
            if IMAGE_FIELDS.contains(&name.as_str()) {
                continue;
            }
            let required_live = REQUIRED_LIVE.contains(&(*id, name.as_str()));
            for bound in ["minimum", "maximum", "minLength", "maxLength", "minItems"] {
                // A field required live is non-empty too ("" is the same 400).
                if required_live && bound == "minLength" {
                    continue;
                }
                assert_eq!(o.get(bound), u.get(bound), "{id}.{name}: {bound}");
            }
            if !OPEN_MODEL_FIELDS.contains(&name.as_str()) {
                assert_eq!(
                    strings(&o["enum"]),
                    strings(&u["enum"]),
                    "{id}.{name}: enum"
                );
            }
            if let Some(default) = u.get("default").filter(|_| !required_live) {
                assert_eq!(
                    o.get("default"),
                    None,
                    "{id}.{name}: defaults stay out of the generator's view"
                );
                assert_eq!(
                    o.get("x-venice-default"),
                    Some(default),
                    "{id}.{name}: x-venice-default"
                );
            }
        }
    }
}

#[test]
fn success_media_types_and_statuses_cover_upstream() {
    let Some(up) = upstream() else { return };
    let ours = our_spec_value().expect("our spec parses");
    for (path, id) in OPERATIONS {
        let u = &up["paths"][path]["post"]["responses"];
        let o = &ours["paths"][path]["post"]["responses"];
        let media = |r: &Value| -> Vec<String> {
            let mut m: Vec<String> = deref(if r == u { &up } else { &ours }, &r["200"])["content"]
                .as_object()
                .map(|c| c.keys().cloned().collect())
                .unwrap_or_default();
            m.sort();
            m
        };
        assert_eq!(media(o), media(u), "{id}: 200 media types");
        for status in u.as_object().expect("responses").keys() {
            assert!(
                o.get(status).is_some(),
                "{id}: status {status} is not documented"
            );
        }
    }
}
