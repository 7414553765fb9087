//! The source code keeps the project's two structural rules, checked by reading it:
//!
//! 1. **The spec is the single source.** No API path (nor an HTTP method call that would
//!    build a request by hand) appears in the library or CLI code outside the generated
//!    client: requests go through `venice-openapi`'s generated builders, whose paths come
//!    from `openapi/venice-image.yaml`. The path prefixes checked are read from the spec.
//!    The mock's recording forwarder is checked too, with its one documented exemption.
//! 2. **Modules form layers.** Inside each crate no two top-level modules depend on each
//!    other, directly or through others (a `crate::name` reference is an edge).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without `#[cfg(test)]` modules (tests may
/// spell paths: they fail loudly when the spec changes, which is what we want).
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<i32> = None;
    let mut depth = 0i32;
    let mut pending_test = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if skip_depth.is_none() && trimmed.starts_with("#[cfg(test)]") {
            pending_test = true;
            continue;
        }
        let opens = line.matches('{').count() as i32;
        let closes = line.matches('}').count() as i32;
        if pending_test && opens > 0 {
            skip_depth = Some(depth);
            pending_test = false;
        }
        depth += opens - closes;
        if let Some(d) = skip_depth {
            if depth <= d {
                skip_depth = None;
            }
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The first path segments of the spec's operations (`image`, `images`, `models`, …).
fn spec_prefixes() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("openapi/venice-image.yaml")).expect("spec");
    let spec: serde_json::Value = serde_yaml::from_str(&text).expect("spec parses");
    spec["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .filter_map(|p| {
            p.trim_start_matches('/')
                .split('/')
                .next()
                .map(str::to_owned)
        })
        .collect()
}

/// Lines of `code` that spell an API path or build a request by hand.
fn violations(code: &str, prefixes: &BTreeSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    for line in code.lines() {
        for prefix in prefixes {
            let needle = format!("/{prefix}");
            for (at, _) in line.match_indices(&needle) {
                let before = line[..at].chars().next_back();
                let after = line[at + needle.len()..].chars().next();
                // In a string: right after its quote, a `{}` base URL or `/api/v1`.
                let starts = matches!(before, Some('"' | '}')) || line[..at].ends_with("/api/v1");
                if starts && matches!(after, Some('/' | '"' | '?' | '{')) {
                    found.push(line.trim().to_owned());
                }
            }
        }
        for call in [
            ".request(",
            ".post(",
            ".put(",
            ".delete(",
            ".patch(",
            // `.get(` alone is every map's lookup: a GET is caught on a reqwest client.
            "client().get(",
            "Client::new().get(",
            "reqwest::get(",
            "Method::POST",
            "Method::GET",
        ] {
            if line.contains(call) {
                found.push(line.trim().to_owned());
            }
        }
    }
    found
}

/// Requests that are not Venice API operations and so cannot go through the generated
/// client: `(file, exact line, why)`. Each line must exist exactly as written (a stale
/// entry fails), and only that line of that file is exempt; its file is still checked
/// for API paths.
const NOT_VENICE_REQUESTS: &[(&str, &str, &str)] = &[
    (
        "crates/venice-image/src/solana_rpc.rs",
        ".post(url.clone())",
        "a JSON-RPC POST to the user's own Solana node (VENICE_SOLANA_RPC_URL), to exactly the \
         URL the user gave: a third-party host, no Venice path, no Venice credentials",
    ),
    (
        "crates/venice-mock/src/record/mod.rs",
        "let mut upstream = shared.client.request(parts.method.clone(), url);",
        "the recording forwarder (`venice-mock record`, `venice-image --record`): it forwards \
         opaque requests, method, path and headers as the client sent them, to the one upstream \
         it was given; it knows no API path and adds no credentials",
    ),
];

/// Code outside the client crates that sends requests and is held to the same rule.
const ALSO_CHECKED: &[&str] = &["crates/venice-mock/src/record"];

#[test]
fn no_api_path_or_hand_built_request_outside_the_generated_client() {
    let prefixes = spec_prefixes();
    assert!(
        prefixes.contains("image") && prefixes.contains("x402"),
        "{prefixes:?}"
    );
    let mut files = Vec::new();
    for dir in [
        "crates/venice-image/src",
        "crates/venice-cli/src",
        "crates/venice-openapi/src",
    ] {
        rust_files(&root().join(dir), &mut files);
    }
    for dir in ALSO_CHECKED {
        rust_files(&root().join(dir), &mut files);
    }
    let mut report: Vec<String> = NOT_VENICE_REQUESTS
        .iter()
        .filter(|(f, _, why)| !root().join(f).is_file() || why.is_empty())
        .map(|(f, _, _)| format!("{f}: NOT_VENICE_REQUESTS names a missing file"))
        .collect();
    for file in files {
        // Generated code, and files that are whole test modules.
        if file.ends_with("generated.rs") || file.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        let rel = file
            .strip_prefix(root())
            .unwrap_or(&file)
            .display()
            .to_string();
        let mut exempt: Vec<&str> = NOT_VENICE_REQUESTS
            .iter()
            .filter(|(f, _, _)| *f == rel)
            .map(|(_, line, _)| *line)
            .collect();
        for v in violations(&code_of(&text), &prefixes) {
            if let Some(i) = exempt.iter().position(|line| *line == v) {
                exempt.remove(i);
                continue;
            }
            report.push(format!("{rel}: {v}"));
        }
        for stale in exempt {
            report.push(format!(
                "{rel}: stale NOT_VENICE_REQUESTS entry {stale:?} (no such line any more)"
            ));
        }
    }
    assert!(
        report.is_empty(),
        "API paths or hand-built requests outside the generated client (go through \
         venice-openapi's generated builders instead):\n  {}",
        report.join("\n  ")
    );
}

#[test]
fn the_literal_check_catches_a_hand_written_path() {
    let prefixes = spec_prefixes();
    let planted = r#"
        fn sneaky(c: &reqwest::Client) {
            let url = format!("{}/image/generate", base);
            c.post(url);
        }
        fn sneaky_get(raw: &venice_openapi::Client, url: String) {
            let _ = raw.client().get(url);
        }
        #[cfg(test)]
        mod tests {
            fn fine() { let _ = "/image/generate"; }
        }
    "#;
    let found = violations(&code_of(planted), &prefixes);
    assert_eq!(found.len(), 3, "{found:?}");
    // A path in a comment or a test module is allowed.
    assert!(violations(&code_of("// POST \"/image/edit\"\n"), &prefixes).is_empty());
}

/// Edges `module -> module` between the top-level modules of the crate at `src`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let top = |file: &Path| -> Option<String> {
        let rel = file.strip_prefix(src).ok()?;
        let first = rel
            .components()
            .next()?
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        Some(first.trim_end_matches(".rs").to_owned())
    };
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| top(f))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(from) = top(file) else { continue };
        if from == "lib" || from == "main" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(file).expect("read"));
        let mut refs = BTreeSet::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                refs.insert(name);
            }
            // `use crate::{a, b::c}` lists several modules.
            if let Some(list) = rest.strip_prefix('{') {
                let end = list.find('}').unwrap_or(list.len());
                for item in list[..end].split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    refs.insert(name);
                }
            }
        }
        let entry = graph.entry(from.clone()).or_default();
        for r in refs {
            if r != from && modules.contains(&r) {
                entry.insert(r);
            }
        }
    }
    graph
}

/// A cycle in `graph`, if any, as the list of modules along it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node.as_str()) {
            let mut stack = Vec::new();
            if let Some(c) = visit(node, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn modules_form_layers_in_every_crate() {
    let mut report = Vec::new();
    for krate in [
        "crates/venice-openapi/src",
        "crates/venice-image/src",
        "crates/venice-mock/src",
        "crates/venice-cli/src",
        "xtask/src",
    ] {
        let graph = module_graph(&root().join(krate));
        if let Some(cycle) = find_cycle(&graph) {
            report.push(format!("{krate}: {}", cycle.join(" -> ")));
        }
    }
    assert!(
        report.is_empty(),
        "module cycles (put what both need in a module below them):\n  {}",
        report.join("\n  ")
    );
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert!(find_cycle(&g).is_none());
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&g).expect("cycle"), ["a", "b", "c", "a"]);
}
