//! The wire vocabulary written beside the client (`vocab.rs`): every spec enum is a
//! generated string enum with its values in order, and the bounds are read from the spec.
//! (Here rather than beside `vocab`: these need the client `codegen` generates, and
//! `codegen` calls `vocab`.)
#![allow(clippy::unwrap_used)]

use openapiv3::{OpenAPI, ReferenceOr, SchemaKind, Type};
use xtask::vocab::{bounds, string_enums};

/// Every string enum of the spec (a component or a property's inline enum).
fn spec_enums(spec: &OpenAPI) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut visit = |at: String, schema: &openapiv3::Schema| {
        if let SchemaKind::Type(Type::String(t)) = &schema.schema_kind
            && !t.enumeration.is_empty()
        {
            out.push((at, t.enumeration.iter().flatten().cloned().collect()));
        }
    };
    for (name, schema) in &spec.components.as_ref().unwrap().schemas {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        visit(name.clone(), schema);
        if let SchemaKind::Type(Type::Object(o)) = &schema.schema_kind {
            for (prop, p) in &o.properties {
                if let ReferenceOr::Item(p) = p {
                    visit(format!("{name}.{prop}"), p);
                }
            }
        }
    }
    out
}

#[test]
fn every_spec_enum_is_a_generated_string_enum_with_its_values_in_order() {
    let spec = xtask::spec::load(&xtask::spec_path(&xtask::workspace_root())).unwrap();
    let client = xtask::codegen::generate(&spec).unwrap();
    let generated: Vec<Vec<String>> = string_enums(&syn::parse_file(&client).unwrap())
        .into_iter()
        .map(|e| e.values.into_iter().map(|(_, v)| v).collect())
        .collect();
    let spec_enums = spec_enums(&spec);
    assert!(spec_enums.len() >= 15, "{spec_enums:?}");
    for (at, values) in spec_enums {
        assert!(
            generated.contains(&values),
            "{at}: {values:?} has no generated enum"
        );
    }
}

#[test]
fn reads_the_enums_and_bounds_of_our_spec() {
    let spec = xtask::spec::load(&xtask::spec_path(&xtask::workspace_root())).unwrap();
    let client = xtask::codegen::generate(&spec).unwrap();
    let enums = string_enums(&syn::parse_file(&client).unwrap());
    let size = enums
        .iter()
        .find(|e| e.name == "SimpleGenerateImageRequestSize")
        .unwrap();
    assert_eq!(size.values[0], ("Auto".to_owned(), "auto".to_owned()));
    assert_eq!(size.values.len(), 8);
    assert!(enums.iter().all(|e| e.name != "GenerateImageResult"));
    let bounds = bounds(&spec);
    let find = |n: &str| bounds.iter().find(|b| b.name == n).unwrap();
    assert_eq!(find("GENERATE_IMAGE_REQUEST_VARIANTS_MAX").value, "4");
    assert_eq!(
        find("GENERATE_IMAGE_REQUEST_CFG_SCALE_MIN_EXCLUSIVE").ty,
        "f64"
    );
    assert_eq!(
        find("SIMPLE_GENERATE_IMAGE_REQUEST_PROMPT_MAX_LENGTH").value,
        "1500"
    );
}
