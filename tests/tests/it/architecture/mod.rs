//! The source code keeps the project's structural rules, checked by parsing it (`syn`):
//!
//! 1. **Modules form layers** ([`graph`]): in every crate (facade, generated client's
//!    hooks, mock, CLI, xtask, this crate's library) no two sibling modules import each
//!    other, directly or through others, counting test modules, `use` groups, `pub use`
//!    re-exports and paths written in expressions and macro arguments.
//! 2. **The spec is the single source** ([`requests`]): no API path and no hand-built
//!    request outside the generated client, in the facade, the generated client's hooks,
//!    the CLI and the mock's recording forwarder (its one documented exemption below).
//! 3. **The spec's vocabulary is not re-read by hand** ([`json_keys`]): a ratchet on
//!    camelCase spec field names in JSON-key positions in the facade, `venice-x402` and
//!    the CLI.
//! 4. **Floors**: the facade never names the mock; `venice-x402` (wallets and payments)
//!    sits below the facade and beside the mock: it names neither.
//!
//! Each rule's evasions are planted below as fixtures parsed by the same checker.

mod graph;
mod json_keys;
mod requests;
mod source;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use requests::{Finding, SpecPaths};
use source::Crate;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn spec() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("openapi/venice-image.yaml")).expect("spec");
    serde_yaml::from_str(&text).expect("spec parses")
}

/// The crate whose sources are in `dir` (`src/lib.rs`, else `src/main.rs`), without the
/// generated client (`generated.rs`: declared, not read).
fn load(dir: &str) -> Crate {
    let src = root().join(dir).join("src");
    let lib = src.join("lib.rs");
    let root_file = if lib.is_file() {
        lib
    } else {
        src.join("main.rs")
    };
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let shown = |p: &Path| p.strip_prefix(root()).unwrap_or(p).display().to_string();
    source::load(dir, &root_file, &read, &shown, &["generated.rs"])
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
}

/// Every crate of the workspace that has code.
const CRATES: &[&str] = &[
    "crates/venice-openapi",
    "crates/venice-image",
    "crates/venice-x402",
    "crates/venice-mock",
    "crates/venice-cli",
    "xtask",
    "tests",
];

#[test]
fn modules_form_layers_in_every_crate() {
    let mut report = Vec::new();
    for dir in CRATES {
        let krate = load(dir);
        assert!(
            krate.files.len() > 1 || *dir == "tests",
            "{dir}: files not found"
        );
        let index = graph::Index::of(&krate);
        if *dir == "crates/venice-image" {
            // The checker sees the real tree: known edges, through a re-export
            // (`crate::Error` -> `error`) and a plain `use crate::error::…`.
            let edges = index.edges();
            for (from, to) in [("decode", "error"), ("fuzzing", "error")] {
                assert!(
                    edges
                        .iter()
                        .any(|e| e.parent.is_empty() && e.from == from && e.to == to),
                    "edge {from} -> {to} not found"
                );
            }
        }
        for cycle in graph::cycles(&index) {
            report.push(format!("{dir}: {cycle}"));
        }
    }
    assert!(
        report.is_empty(),
        "module cycles (put what both need in a module below them; test support that \
         needs the layers above belongs in tests/ or a dev-only crate):\n  {}",
        report.join("\n  ")
    );
}

fn cycles_of(files: &[(&str, &str)]) -> Vec<String> {
    graph::cycles(&graph::Index::of(&source::from_fixtures(files)))
}

#[test]
fn the_cycle_check_follows_every_kind_of_edge() {
    // Each case: a crate with exactly one cycle, made by the edge named.
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "crate:: in a use",
            &[
                ("lib.rs", "mod a; mod b;"),
                ("a.rs", "use crate::b::B; pub struct A;"),
                ("b.rs", "use crate::a::A; pub struct B;"),
            ],
        ),
        (
            "a use group",
            &[
                ("lib.rs", "mod a; mod b; mod c;"),
                ("a.rs", "use crate::{c::C, b::{self, B}}; pub struct A;"),
                ("b.rs", "pub struct B;"),
                ("c.rs", "pub fn c() -> crate::a::A { crate::a::A }"),
            ],
        ),
        (
            "a root re-export (pub use) followed to its module",
            &[
                ("lib.rs", "mod a; mod b; pub use a::A; pub use b::B;"),
                ("a.rs", "pub struct A(crate::B);"),
                ("b.rs", "pub fn f(_: crate::A) {}"),
            ],
        ),
        (
            "super:: between siblings below the root",
            &[
                ("lib.rs", "mod p;"),
                ("p/mod.rs", "mod x; mod y;"),
                ("p/x.rs", "pub const X: u8 = super::y::Y;"),
                (
                    "p/y.rs",
                    "pub const Y: u8 = 1; fn f() -> u8 { super::x::X }",
                ),
            ],
        ),
        (
            "a path in an expression",
            &[
                ("lib.rs", "mod a; mod b;"),
                ("a.rs", "pub fn a() { let _ = crate::b::b(); }"),
                ("b.rs", "pub fn b() { crate::a::a() }"),
            ],
        ),
        (
            "a path in a macro argument",
            &[
                ("lib.rs", "mod a; mod b;"),
                ("a.rs", "pub fn a() { assert!(crate::b::b()); }"),
                ("b.rs", "pub fn b() -> bool { crate::a::a(); true }"),
            ],
        ),
        (
            "an inline test module",
            &[
                ("lib.rs", "mod error; mod decode;"),
                (
                    "error.rs",
                    "pub struct E; #[cfg(test)] mod tests { use crate::decode::d; }",
                ),
                ("decode.rs", "use crate::error::E; pub fn d() {}"),
            ],
        ),
        (
            "a test module in its own file (after a one-line #[cfg(test)] mod x;)",
            &[
                ("lib.rs", "mod budget; mod scenarios;"),
                (
                    "budget.rs",
                    "#[cfg(test)] mod tests; pub const MAX: u8 = 1;",
                ),
                ("budget/tests.rs", "use crate::scenarios::run;"),
                ("scenarios.rs", "use super::budget::MAX; pub fn run() {}"),
            ],
        ),
        (
            "control: no cycle",
            &[
                ("lib.rs", "mod a; mod b;"),
                ("a.rs", "pub fn a() {}"),
                ("b.rs", "pub fn b() {}"),
                ("a/inner.rs", ""),
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (i, (name, files)) in cases.iter().enumerate() {
        let found = cycles_of(files);
        // The last case is the control: no cycle.
        let expected = usize::from(i + 1 != cases.len());
        if found.len() != expected {
            wrong.push(format!("{name}: {found:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "cases the checker got wrong:\n  {}",
        wrong.join("\n  ")
    );
    // A module using its parent or its own children is containment, not a layer.
    assert!(
        cycles_of(&[
            ("lib.rs", "mod p; pub use p::q::Q; pub struct R;"),
            ("p.rs", "pub mod q; use q::Q; pub fn f(_: crate::R) {}"),
            ("p/q.rs", "pub struct Q; fn g() { super::f(crate::R) }"),
        ])
        .is_empty()
    );
    // The report names the references that make the cycle.
    let report = cycles_of(cases[0].1).join("");
    assert!(report.contains("a names crate::b::B"), "{report}");
}

#[test]
fn the_facade_never_names_the_mock() {
    use quote::ToTokens;
    // Code, doc comments and doctests alike: the facade's `src` is what users build.
    let named: Vec<String> = load("crates/venice-image")
        .files
        .iter()
        .filter(|f| f.ast.to_token_stream().to_string().contains("venice_mock"))
        .map(|f| f.rel.clone())
        .collect();
    assert!(
        named.is_empty(),
        "the facade's src names venice_mock: {named:?}"
    );
}

#[test]
fn x402_never_names_the_facade_or_the_mock() {
    use quote::ToTokens;
    let upward = ["venice_image", "venice_mock"];
    let named: Vec<String> = load("crates/venice-x402")
        .files
        .iter()
        .filter(|f| {
            let text = f.ast.to_token_stream().to_string();
            upward.iter().any(|u| text.contains(u))
        })
        .map(|f| f.rel.clone())
        .collect();
    assert!(
        named.is_empty(),
        "venice-x402's src names a crate above it: {named:?}"
    );
    let manifest = std::fs::read_to_string(root().join("crates/venice-x402/Cargo.toml"))
        .expect("venice-x402 manifest");
    // A dependency is a `name = …` or `name.workspace = …` line in any section.
    for line in manifest.lines().map(str::trim) {
        for krate in ["venice-image", "venice-mock"] {
            assert!(
                !(line.starts_with(krate)
                    && line[krate.len()..].trim_start().starts_with(['=', '.'])),
                "venice-x402 depends on {krate}: {line}"
            );
        }
    }
}

/// Requests that are not Venice API operations or do not build one: `(file, function,
/// finding prefix, why)`. Each must match a finding (a stale entry fails).
const EXEMPT: &[(&str, &str, &str, &str)] = &[
    (
        "crates/venice-openapi/src/hooks.rs",
        "exec",
        "hand-built request: .execute(..)",
        "the generated client's `exec` hook: it sends the request the generated operation \
         built (path, method and body from the spec); it builds none itself",
    ),
    (
        "crates/venice-image/src/solana_rpc.rs",
        "from_url",
        "hand-built request: .post(..)",
        "a JSON-RPC POST to the user's own Solana node (VENICE_SOLANA_RPC_URL), to exactly the \
         URL the user gave: a third-party host, no Venice path, no Venice credentials",
    ),
    (
        "crates/venice-mock/src/record/mod.rs",
        "forward",
        "hand-built request: .request(..)",
        "the recording forwarder (`venice-mock record`, `venice-image --record`, [replay]): it \
         forwards opaque requests, method, path and headers as the client sent them, to the \
         one upstream it was given; it knows no API path and adds no credentials",
    ),
];

/// Files checked for the request rule.
fn request_rule_files() -> Vec<source::SourceFile> {
    let mut files = Vec::new();
    for dir in [
        "crates/venice-image",
        "crates/venice-x402",
        "crates/venice-openapi",
        "crates/venice-cli",
    ] {
        files.extend(load(dir).files);
    }
    // The mock answers requests; only its recording forwarder sends them.
    files.extend(
        load("crates/venice-mock")
            .files
            .into_iter()
            .filter(|f| f.module.first().is_some_and(|m| m == "record")),
    );
    files
}

#[test]
fn no_api_path_or_hand_built_request_outside_the_generated_client() {
    let spec_paths = SpecPaths::from_spec(&spec());
    assert!(spec_paths.prefixes.contains("image") && spec_paths.prefixes.contains("x402"));
    let mut findings: Vec<Finding> = request_rule_files()
        .iter()
        .flat_map(|f| requests::check_file(f, &spec_paths))
        .collect();
    let mut report = Vec::new();
    for (file, function, what, why) in EXEMPT {
        assert!(!why.is_empty());
        let before = findings.len();
        findings
            .retain(|f| !(f.file == *file && f.function == *function && f.what.starts_with(what)));
        if findings.len() == before {
            report.push(format!("stale exemption: {file} `{function}` {what}"));
        }
    }
    report.extend(findings.iter().map(ToString::to_string));
    assert!(
        report.is_empty(),
        "API paths or hand-built requests outside the generated client (go through \
         venice-openapi's generated builders instead):\n  {}",
        report.join("\n  ")
    );
}

fn findings_in(code: &str) -> Vec<Finding> {
    let krate = source::from_fixtures(&[("lib.rs", code)]);
    let spec_paths = SpecPaths::from_spec(&spec());
    krate
        .files
        .iter()
        .flat_map(|f| requests::check_file(f, &spec_paths))
        .collect()
}

#[test]
fn the_request_check_catches_every_planted_evasion() {
    // Each fixture is one evasion; each must be found.
    let planted: &[(&str, &str)] = &[
        (
            "a GET on a field holding the HTTP client",
            "impl C { fn f(&self, url: Url) { self.http.get(url); } }",
        ),
        (
            "a GET on the generated client's reqwest client",
            "fn f(raw: &Raw, url: String) { raw.client().get(url); }",
        ),
        (
            "a hand-made Request executed",
            "async fn f(c: &reqwest::Client, u: Url) { c.execute(Request::new(Method::GET, u)).await; }",
        ),
        (
            "a Request built alone",
            "fn f(u: Url) -> reqwest::Request { reqwest::Request::new(m, u) }",
        ),
        ("a POST", "fn f(c: &Client, url: &str) { c.post(url); }"),
        (
            "a request(method, url)",
            "fn f(c: &Client, url: &str) { c.request(m, url); }",
        ),
        (
            "Url::join with a spec path",
            "fn f(base: &Url) { base.join(\"image/generate\"); }",
        ),
        (
            "Url::join with a spec path, as a path call",
            "fn f(base: &Url) { Url::join(base, \"image/generate\"); }",
        ),
        (
            "path segments pushed by hand",
            "fn f(mut u: Url) { u.path_segments_mut().unwrap().push(\"image\").push(\"generate\"); }",
        ),
        ("a path set by hand", "fn f(mut u: Url) { u.set_path(p); }"),
        (
            "a path without its leading slash",
            "const P: &str = \"image/generate\";",
        ),
        (
            "a path with its slash",
            "const P: &str = \"/image/generate\";",
        ),
        (
            "a path after a base-URL placeholder",
            "fn f(b: &str) -> String { format!(\"{}/image/generate\", b) }",
        ),
        (
            "a path after a named placeholder",
            "fn f(base: &str) -> String { format!(\"{base}/models\") }",
        ),
        (
            "a path after the API prefix",
            "const U: &str = \"https://x.test/api/v1/image/upscale\";",
        ),
        (
            "concat! of the prefix and a path",
            "const U: &str = concat!(\"/api/v1\", \"/image\");",
        ),
        (
            "concat! of pieces of a path",
            "const U: &str = concat!(\"/ima\", \"ge/generate\");",
        ),
        (
            "reqwest::get",
            "async fn f(u: &str) { reqwest::get(u).await; }",
        ),
        ("a method constant", "fn f() -> Method { Method::POST }"),
        (
            "a request inside a macro argument",
            "fn f(c: &Client, u: &str) { drop(vec![c.post(u)]); }",
        ),
        (
            "code compiled into the library with a feature, under cfg(any(test, ..))",
            "#[cfg(any(test, feature = \"x\"))]\nfn f(c: &Client) { c.post(u); }",
        ),
        (
            "an item right after a one-line #[cfg(test)] mod x;",
            "#[cfg(test)] mod tests;\nfn sneaky(c: &Client) { c.post(\"/image/edit\"); }",
        ),
    ];
    let mut missed = Vec::new();
    for (name, code) in planted {
        if findings_in(code).is_empty() {
            missed.push(*name);
        }
    }
    assert!(
        missed.is_empty(),
        "evasions the checker let through: {missed:?}"
    );
    // What is allowed: test code, comments and docs, content types, map lookups.
    let allowed = r#"
        //! POST "/image/generate" in a doc comment.
        /// See `/image/edit`.
        fn fine(m: &HashMap<String, u8>) -> Option<&u8> {
            let _ = "image/png";
            let _ = "https://api.venice.ai/api/v1";
            m.get("key")
        }
        #[cfg(test)]
        mod tests {
            fn spelled() { let _ = "/image/generate"; c.post(u); }
        }
        #[test]
        fn also_spelled() { let _ = "/image/generate"; }
        #[cfg(all(test, feature = "redis"))]
        mod redis_tests { fn spelled() { let _ = "/image/generate"; } }
    "#;
    let found = findings_in(allowed);
    assert!(found.is_empty(), "{found:?}");
}

/// No camelCase spec field name in a JSON-key position in the facade, venice-x402 and
/// the CLI: the ratchet that counted them down reached 0, so any one is a failure.
#[test]
fn spec_field_names_are_not_read_by_hand_ratchet() {
    let fields = json_keys::camel_fields(&spec());
    assert!(fields.contains("currentBalanceUsd"), "{fields:?}");
    let mut found = Vec::new();
    for dir in [
        "crates/venice-image",
        "crates/venice-x402",
        "crates/venice-cli",
    ] {
        for f in load(dir).files {
            found.extend(json_keys::check_file(&f, &fields));
        }
    }
    let list: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        found.is_empty(),
        "{} spec field names read by key; decode into the generated types instead:\n  {}",
        found.len(),
        list.join("\n  ")
    );
}

#[test]
fn the_json_key_check_catches_every_position() {
    let fields: BTreeSet<String> = ["currentBalanceUsd".to_owned()].into();
    let planted = [
        "fn f(v: &Value) { let _ = &v[\"currentBalanceUsd\"]; }",
        "fn f(v: &Value) { let _ = v.get(\"currentBalanceUsd\"); }",
        "fn f() -> Value { json!({\"currentBalanceUsd\": 1.0}) }",
        "fn f(v: &Value) { assert!(v[\"currentBalanceUsd\"].is_null()); }",
    ];
    for code in planted {
        let krate = source::from_fixtures(&[("lib.rs", code)]);
        let found = json_keys::check_file(&krate.files[0], &fields);
        assert_eq!(found.len(), 1, "{code}: {found:?}");
    }
    let fine = "fn f(v: &Value) { let _ = v.get(\"other\"); let _ = \"currentBalanceUsd\"; }";
    let krate = source::from_fixtures(&[("lib.rs", fine)]);
    assert!(json_keys::check_file(&krate.files[0], &fields).is_empty());
}
