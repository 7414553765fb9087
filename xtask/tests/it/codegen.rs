//! `generate` is deterministic, `check` notices a stale file, and the shape rules catch
//! the specs progenitor cannot generate.

use xtask::{codegen, generated_path, spec, spec_path, workspace_root};

fn our_spec_text() -> String {
    std::fs::read_to_string(spec_path(&workspace_root())).expect("read spec")
}

#[test]
fn committed_code_matches_the_spec() {
    let spec = spec::load(&spec_path(&workspace_root())).expect("spec parses");
    let code = codegen::generate(&spec).expect("generates");
    let committed = std::fs::read_to_string(generated_path(&workspace_root())).expect("read");
    assert!(
        committed == code,
        "generated.rs is stale; run `cargo xtask generate`\n{}",
        codegen::diff_summary(&committed, &code, 5)
    );
}

#[test]
fn generating_twice_gives_identical_output() {
    let spec = spec::parse(&our_spec_text()).expect("spec parses");
    let a = codegen::generate(&spec).expect("first");
    let b = codegen::generate(&spec).expect("second");
    assert_eq!(a, b);
    assert!(a.starts_with(codegen::HEADER), "header comment is missing");
}

#[test]
fn editing_one_field_makes_the_committed_code_stale_until_regenerated() {
    let text = our_spec_text();
    let mutated = text.replacen(
        "        lora_strength:\n          type: integer\n          minimum: 0\n          maximum: 100\n",
        "        lora_strength:\n          type: number\n          minimum: 0\n          maximum: 100\n",
        1,
    );
    assert_ne!(mutated, text, "the mutation must apply");

    // Regenerate into a scratch workspace, the way `generate` writes the real one.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = generated_path(dir.path());
    std::fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    let committed = std::fs::read_to_string(generated_path(&workspace_root())).expect("read");
    std::fs::write(&out, &committed).expect("write");

    let spec = spec::parse(&mutated).expect("mutated spec parses");
    let fresh = codegen::generate(&spec).expect("generates");
    assert_ne!(fresh, committed, "check would pass on a stale file");
    assert!(
        fresh.contains("pub lora_strength: ::std::option::Option<f64>"),
        "the edited field type must reach the generated code"
    );
    std::fs::write(&out, &fresh).expect("write");
    let again = codegen::generate(&spec::parse(&mutated).expect("parse")).expect("gen");
    assert_eq!(std::fs::read_to_string(&out).expect("read"), again);
}

#[test]
fn a_spec_that_does_not_parse_is_an_error_not_a_panic() {
    let err = spec::parse("openapi: 3.0.3\ninfo: [not, a, map]\n").expect_err("must fail");
    assert!(format!("{err:#}").contains("not a valid OpenAPI"));
}

fn problems_after(from: &str, to: &str) -> Vec<String> {
    let text = our_spec_text();
    let mutated = text.replacen(from, to, 1);
    assert_ne!(mutated, text, "mutation did not apply: {from}");
    let spec = spec::parse(&mutated).expect("parses");
    spec::check_shape(&spec)
        .into_iter()
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn a_missing_operation_id_is_reported() {
    let problems = problems_after("      operationId: listImageStyles\n", "");
    assert_eq!(
        problems,
        vec!["GET /image/styles: no operationId".to_string()]
    );
    let spec =
        spec::parse(&our_spec_text().replacen("      operationId: listImageStyles\n", "", 1))
            .expect("parses");
    assert!(codegen::generate(&spec).is_err());
}

#[test]
fn mixing_json_with_images_in_one_success_is_reported() {
    let problems = problems_after(
        "          content:\n            \"*/*\":\n              schema:\n                $ref: \"#/components/schemas/GenerateImageResult\"\n",
        "          content:\n            application/json:\n              schema:\n                $ref: \"#/components/schemas/GenerateImageResponse\"\n            image/png:\n              schema: { type: string, format: binary }\n",
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("POST /image/generate: response 200: a response mixes"));
}

#[test]
fn two_error_schemas_in_one_operation_are_reported() {
    let problems = problems_after(
        "        \"404\": { $ref: \"#/components/responses/NotFound\" }\n        \"413\"",
        "        \"404\":\n          description: other\n          content:\n            application/json:\n              schema: { $ref: \"#/components/schemas/ValidationIssue\" }\n        \"413\"",
    );
    assert_eq!(
        problems,
        vec![
            "POST /image/generate: 2 different error body types; use one superset error schema"
                .to_string()
        ]
    );
}

#[test]
fn our_spec_has_no_shape_problems() {
    let spec = spec::parse(&our_spec_text()).expect("parses");
    assert_eq!(spec::check_shape(&spec), vec![]);
}
