//! `cargo xtask spec-diff`: a changed upstream is reported with the right keys and a
//! non-zero exit; the real upstream passes with the committed deviations file.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use xtask::spec_diff::{diff, load_deviations, read_spec};
use xtask::{deviations_path, spec_path, workspace_root};

fn upstream_path() -> Option<PathBuf> {
    let p = std::env::var("VENICE_UPSTREAM_SPEC")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("../shared/upstream/venice-openapi.yaml"));
    p.exists().then_some(p)
}

fn ours() -> Value {
    read_spec(&spec_path(&workspace_root()).to_string_lossy()).unwrap()
}

fn committed_deviations() -> Vec<xtask::spec_diff::Deviation> {
    load_deviations(&std::fs::read_to_string(deviations_path(&workspace_root())).unwrap()).unwrap()
}

#[test]
fn identical_specs_have_no_differences() {
    let report = diff(&ours(), &ours(), &[]);
    assert_eq!(report.operations.len(), 15);
    assert!(report.differences.is_empty(), "{}", report.render(true));
}

#[test]
fn a_changed_upstream_is_reported_with_stable_keys() {
    let mine = ours();
    let mut theirs = mine.clone();
    let req = &mut theirs["components"]["schemas"]["GenerateImageRequest"];
    req["properties"]["format"]["enum"] = json!(["jpeg", "png", "webp", "avif"]);
    req["properties"]["width"]["maximum"] = json!(2048);
    req["properties"].as_object_mut().unwrap().remove("seed");
    req["properties"]["fps"] = json!({"type": "integer"});
    theirs["paths"]["/models"]["get"]["responses"]
        .as_object_mut()
        .unwrap()
        .remove("429");
    theirs["paths"]["/image/styles"]["get"]["responses"]["200"]["headers"]
        .as_object_mut()
        .unwrap()
        .insert("x-new-header".into(), json!({"schema": {"type": "string"}}));
    let report = diff(&mine, &theirs, &[]);
    let keys: Vec<&str> = report.unlisted().map(|d| d.key.as_str()).collect();
    for want in [
        "generateImage.request.body.format.enum",
        "generateImage.request.body.width.maximum",
        "generateImage.request.body.seed.added",
        "generateImage.request.body.fps.removed",
        "listModels.response.429.added",
        "listImageStyles.response.200.header.x-new-header.removed",
    ] {
        assert!(keys.contains(&want), "{want} missing from {keys:#?}");
    }
    assert_eq!(keys.len(), 6, "{keys:#?}");
    let text = report.render(false);
    assert!(
        text.contains("✗ generateImage.request.body.width.maximum: upstream 2048 | ours 1280"),
        "{text}"
    );
    assert!(!report.is_clean());

    // Listed differences pass; a listing that matches nothing is stale.
    let devs = load_deviations(
        r#"
[[deviation]]
key = "generateImage.request.body.*"
reason = "test"
[[deviation]]
key = "list*.response.*"
reason = "test"
[[deviation]]
key = "nothing.matches.this"
reason = "test"
"#,
    )
    .unwrap();
    let report = diff(&mine, &theirs, &devs);
    assert!(report.is_clean(), "{}", report.render(true));
    assert_eq!(report.stale, vec!["nothing.matches.this".to_owned()]);
    assert!(load_deviations("[[deviation]]\nkey = \"a\"\nreason = \" \"\n").is_err());
}

#[test]
fn the_real_upstream_differs_only_by_listed_deviations() {
    let Some(path) = upstream_path() else {
        eprintln!("SKIPPED: ../shared/upstream/venice-openapi.yaml not found");
        return;
    };
    let theirs = read_spec(&path.to_string_lossy()).unwrap();
    let report = diff(&ours(), &theirs, &committed_deviations());
    assert!(report.is_clean(), "{}", report.render(false));
    assert!(report.stale.is_empty(), "stale entries: {:?}", report.stale);
    assert!(report.operations.iter().all(|o| o.3.is_some()));
}

#[test]
fn the_command_exits_non_zero_on_an_unlisted_difference() {
    let Some(path) = upstream_path() else {
        eprintln!("SKIPPED: ../shared/upstream/venice-openapi.yaml not found");
        return;
    };
    let bin = env!("CARGO_BIN_EXE_xtask");
    let ok = Command::new(bin)
        .args(["spec-diff", "--upstream"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let mut theirs = read_spec(&path.to_string_lossy()).unwrap();
    theirs["components"]["schemas"]["GenerateImageRequest"]["properties"]["variants"]["maximum"] =
        json!(8);
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("upstream.json");
    std::fs::write(&changed, serde_json::to_vec(&theirs).unwrap()).unwrap();
    let bad = Command::new(bin)
        .args(["spec-diff", "--upstream"])
        .arg(&changed)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(
        stdout.contains("✗ generateImage.request.body.variants.maximum: upstream 8 | ours 4"),
        "{stdout}"
    );
}

#[test]
fn a_cassette_is_another_source_of_upstream_differences() {
    use venice_mock::cassette::{
        Body, CassetteWriter, Exchange, Header, Message, Response, rfc3339,
    };
    use xtask::cassette_diff::cassette_differences;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.cassette");
    let mut w =
        CassetteWriter::create(&path, &Header::new("https://api.venice.ai/api/v1")).unwrap();
    let styles = serde_json::to_vec(&json!({"data": ["3D Model"], "object": "list"})).unwrap();
    w.append(&Exchange {
        seq: 0,
        at: rfc3339(std::time::SystemTime::now()),
        duration_ms: 1,
        request: Message {
            method: "GET".into(),
            path: "/api/v1/image/styles".into(),
            query: None,
            headers: vec![],
            body: None,
        },
        response: Some(Response {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-venice-new".into(), "1".into()),
            ],
            body: Some(Body::inline(&styles, true)),
        }),
        error: None,
    })
    .unwrap();
    let mut used = vec![];
    let found = cassette_differences(&path, &[], &mut used).unwrap();
    let keys: Vec<&str> = found.iter().map(|(d, _)| d.key.as_str()).collect();
    assert!(
        keys.contains(&"listImageStyles.response.200.header.x-venice-new.removed"),
        "{keys:?}"
    );
    assert!(found.iter().all(|(_, r)| r.is_none()));
    let accept = load_deviations(
        "[[deviation]]\nkey = \"listImageStyles.response.200.header.x-venice-new.removed\"\nreason = \"seen live, documented next release\"\n",
    )
    .unwrap();
    let mut used = vec![false];
    let found = cassette_differences(&path, &accept, &mut used).unwrap();
    assert!(used[0]);
    assert!(
        found
            .iter()
            .any(|(d, r)| d.key.ends_with("x-venice-new.removed") && r.is_some())
    );
    // The command fails on it, naming the key.
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["spec-diff", "--cassette"])
            .arg(&path)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("x-venice-new.removed"));
}
